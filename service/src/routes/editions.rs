//! Coefficient sets and editions: list, read (with filters, pagination, CSV or JSON and
//! immutable caching), resolve by date, diff, and the administrator's upload, publish and retire.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use accounting::coefficient::{CoefficientRow, CoefficientSet, Removal};
use accounting::render::{Precision, quantity};
use accounting::text::normalize_name;
use app::editions::{EditionInfo, EditionStatus, Selector};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Caller, caller, require, upload};
use crate::{ApiError, AppState};

/// Reading an edition: drafts need a token (any role); published and retired editions need one
/// unless anonymous reading is allowed.
fn may_read(state: &AppState, caller: &Caller, info: &EditionInfo) -> Result<(), ApiError> {
    if caller.is_some() || (state.anonymous_read && info.status != EditionStatus::Draft) {
        Ok(())
    } else if info.status == EditionStatus::Draft {
        Err(ApiError::unauthorized(format!(
            "{} is a draft: reading it needs a token",
            info.name()
        )))
    } else {
        Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ))
    }
}

/// The edition endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_editions))
        .routes(routes!(edition))
        .routes(routes!(coefficients))
        .routes(routes!(resolve))
        .routes(routes!(diff))
        .routes(routes!(upload_draft))
        .routes(routes!(publish))
        .routes(routes!(retire))
}

/// An edition as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct EditionDto {
    name: String,
    set_id: String,
    edition: u32,
    status: &'static str,
    title: String,
    effective_from: Option<String>,
    provenance: String,
    synthetic: bool,
    content_hash: String,
    row_count: u64,
    published_at: Option<String>,
    published_by: Option<String>,
    revision_note: Option<String>,
    retired_at: Option<String>,
    retire_note: Option<String>,
}

impl From<&EditionInfo> for EditionDto {
    fn from(e: &EditionInfo) -> EditionDto {
        EditionDto {
            name: e.name(),
            set_id: e.set_id.clone(),
            edition: e.edition,
            status: e.status.as_str(),
            title: e.title.clone(),
            effective_from: e.effective_from.map(|d| d.to_string()),
            provenance: e.provenance.clone(),
            synthetic: e.synthetic,
            content_hash: e.content_hash.clone(),
            row_count: e.row_count,
            published_at: e.published_at.clone(),
            published_by: e.published_by.clone(),
            revision_note: e.revision_note.clone(),
            retired_at: e.retired_at.clone(),
            retire_note: e.retire_note.clone(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    set: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/editions",
    tag = "editions",
    summary = "List the editions of every set (or one set)",
    params(ListQuery),
    responses(
        (status = 200, description = "Editions, newest first per set", body = Vec<EditionDto>),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn list_editions(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<EditionDto>>, ApiError> {
    let caller = caller(&state, &headers).await?;
    let editions = app::editions::list(&state.store, query.set.as_deref()).await?;
    // Anonymous callers see what they may read.
    let visible: Vec<_> = editions
        .iter()
        .filter(|e| may_read(&state, &caller, e).is_ok())
        .map(EditionDto::from)
        .collect();
    if visible.is_empty() && caller.is_none() && !state.anonymous_read {
        return Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ));
    }
    Ok(Json(visible))
}

/// `N`, `latest` or `draft`.
fn selector(set: &str, edition: &str) -> Result<Selector, ApiError> {
    Ok(app::editions::selector(
        &format!("{set}@{edition}"),
        None,
        "effective",
    )?)
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/editions/{edition}",
    tag = "editions",
    summary = "One edition's metadata",
    params(
        ("set" = String, Path, description = "Coefficient set id, e.g. `npsc1-excerpt`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
    ),
    responses(
        (status = 200, description = "The edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn edition(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let info = app::editions::resolve(&state.store, &selector(&set, &edition)?).await?;
    may_read(&state, &caller, &info)?;
    state
        .metrics
        .editions_served
        .fetch_add(1, Ordering::Relaxed);
    // Metadata changes when an edition is retired, so it is revalidated, never cached as immutable.
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        Json(EditionDto::from(&info)),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ResolveQuery {
    at: Option<String>,
    rule: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/resolve",
    tag = "editions",
    summary = "The edition in force at a date",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ResolveQuery,
    ),
    responses(
        (status = 200, description = "The resolved edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn resolve(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<ResolveQuery>,
    headers: HeaderMap,
) -> Result<Json<EditionDto>, ApiError> {
    let caller = caller(&state, &headers).await?;
    let selector = app::editions::selector(
        &set,
        query.at.as_deref(),
        query.rule.as_deref().unwrap_or("effective"),
    )?;
    let info = app::editions::resolve(&state.store, &selector).await?;
    may_read(&state, &caller, &info)?;
    Ok(Json(EditionDto::from(&info)))
}

/// Loads an edition, from the cache when it is immutable.
async fn load(state: &AppState, info: &EditionInfo) -> Result<Arc<CoefficientSet>, ApiError> {
    let immutable = info.status != EditionStatus::Draft;
    if immutable
        && let Some(set) = state
            .editions
            .lock()
            .ok()
            .and_then(|cache| cache.get(&info.content_hash).cloned())
    {
        return Ok(set);
    }
    let selector = Selector::Fixed {
        set: info.set_id.clone(),
        edition: info.edition,
    };
    let (_, set) = app::editions::load(&state.store, &selector, &state.reference).await?;
    let set = Arc::new(set);
    if immutable && let Ok(mut cache) = state.editions.lock() {
        cache.insert(info.content_hash.clone(), set.clone());
    }
    Ok(set)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CoefficientQuery {
    industry: Option<String>,
    product: Option<String>,
    raw_material: Option<String>,
    process: Option<String>,
    pollutant: Option<String>,
    treatment: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
    format: Option<String>,
}

/// Most rows per page.
const MAX_PER_PAGE: usize = 1000;

#[derive(Serialize, ToSchema)]
struct CoefficientDto {
    table: String,
    row: u64,
    industry_code: String,
    section: Option<String>,
    product: String,
    raw_material: String,
    process: String,
    scale: String,
    pollutant: String,
    pollutant_code: String,
    unit: String,
    generation_coefficient: String,
    treatment: String,
    removal_efficiency: Option<String>,
    emission_coefficient: Option<String>,
    source: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct CoefficientPage {
    edition: EditionDto,
    total: usize,
    page: usize,
    per_page: usize,
    rows: Vec<CoefficientDto>,
}

fn matches(
    row: &CoefficientRow,
    query: &CoefficientQuery,
    state: &AppState,
) -> Result<bool, ApiError> {
    let same = |given: &Option<String>, actual: &str| {
        given
            .as_deref()
            .is_none_or(|g| normalize_name(g) == normalize_name(actual))
    };
    if let Some(industry) = query.industry.as_deref() {
        let code = accounting::codes::IndustryCode::parse(industry)
            .map_err(|e| ApiError::bad_request(format!("industry: {e}")))?;
        let digits = code.digits();
        let section_ok = code.section().is_none_or(|s| {
            state
                .reference
                .industries
                .get(&row.industry)
                .is_some_and(|i| i.section == s)
        });
        if !section_ok || !row.industry.digits().starts_with(digits) {
            return Ok(false);
        }
    }
    if let Some(pollutant) = query.pollutant.as_deref() {
        let id = state
            .reference
            .pollutants
            .lookup(pollutant)
            .ok_or_else(|| {
                ApiError::bad_request(format!("pollutant: unknown pollutant `{pollutant}`"))
            })?;
        if id != row.pollutant {
            return Ok(false);
        }
    }
    Ok(same(&query.product, &row.product)
        && same(&query.raw_material, &row.raw_material)
        && same(&query.process, &row.process)
        && same(&query.treatment, &row.treatment))
}

fn wants_csv(query: &CoefficientQuery, headers: &HeaderMap) -> Result<bool, ApiError> {
    match query.format.as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "format: `{other}` is neither `json` nor `csv`"
        ))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/editions/{edition}/coefficients",
    tag = "editions",
    summary = "An edition's coefficients, filtered and paged",
    description = "Published and retired editions are immutable: a numbered edition carries a strong `ETag` (its content hash plus the format) and `Cache-Control: public, max-age=31536000, immutable`. `latest` and drafts are `no-cache`. CSV by `Accept: text/csv` or `?format=csv`.",
    params(
        ("set" = String, Path, description = "Coefficient set id, e.g. `npsc1-excerpt`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
        CoefficientQuery,
    ),
    responses(
        (status = 200, description = "One page of coefficients (JSON), or the selected rows as CSV", body = CoefficientPage),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 304, description = "Not modified (`If-None-Match` matched the ETag)"),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn coefficients(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    Query(query): Query<CoefficientQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let selector = selector(&set, &edition)?;
    let info = app::editions::resolve(&state.store, &selector).await?;
    may_read(&state, &caller, &info)?;
    let csv = wants_csv(&query, &headers)?;
    // Immutable: a numbered edition that is published or retired. `latest` and drafts may change.
    let immutable =
        matches!(selector, Selector::Fixed { .. }) && info.status != EditionStatus::Draft;
    let etag = format!(
        "\"{}-{}\"",
        info.content_hash,
        if csv { "csv" } else { "json" }
    );
    let cache_headers = |response: &mut Response| {
        let h = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, value);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept"));
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut response);
        return Ok(response);
    }
    let loaded = load(&state, &info).await?;
    let mut selected = Vec::new();
    for row in loaded.rows() {
        if matches(row, &query, &state)? {
            selected.push(row);
        }
    }
    let per_page = query.per_page.unwrap_or(100).clamp(1, MAX_PER_PAGE);
    let page = query.page.unwrap_or(1).max(1);
    let total = selected.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let rows = &selected[start..end];
    state
        .metrics
        .editions_served
        .fetch_add(1, Ordering::Relaxed);
    let mut response = if csv {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            app::editions::rows_csv(rows.iter().copied(), &state.reference),
        )
            .into_response()
    } else {
        let dto = |row: &CoefficientRow| {
            let pollutant = state.reference.pollutants.get(row.pollutant);
            let (efficiency, emission) = match &row.removal {
                Removal::Efficiency { percent } => {
                    (Some(quantity(*percent, Precision::Exact)), None)
                }
                Removal::EmissionCoefficient(f) => (None, Some(f.text().to_string())),
                Removal::None => (None, None),
            };
            CoefficientDto {
                table: row.origin.table.clone(),
                row: row.origin.row,
                industry_code: row.industry.to_string(),
                section: row.section.clone(),
                product: row.product.clone(),
                raw_material: row.raw_material.clone(),
                process: row.process.clone(),
                scale: row.scale.label().to_string(),
                pollutant: pollutant.name.clone(),
                pollutant_code: pollutant.code.clone(),
                unit: row.unit.text(),
                generation_coefficient: row.generation.text().to_string(),
                treatment: row.treatment.clone(),
                removal_efficiency: efficiency,
                emission_coefficient: emission,
                source: row.note.clone(),
            }
        };
        Json(CoefficientPage {
            edition: EditionDto::from(&info),
            total,
            page,
            per_page,
            rows: rows.iter().map(|r| dto(r)).collect(),
        })
        .into_response()
    };
    cache_headers(&mut response);
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    from: String,
    to: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/diff",
    tag = "editions",
    summary = "Differences between two editions",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "Added, removed and changed rows with key migrations", body = Object),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn diff(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<DiffQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    for edition in [&query.from, &query.to] {
        let info = app::editions::resolve(&state.store, &selector(&set, edition)?).await?;
        may_read(&state, &caller, &info)?;
    }
    let read = app::ReadOptions::default();
    let old = app::editions::load_any(
        &state.store,
        &format!("{set}@{}", query.from),
        &state.reference,
        &read,
    )
    .await?;
    let new = app::editions::load_any(
        &state.store,
        &format!("{set}@{}", query.to),
        &state.reference,
        &read,
    )
    .await?;
    let diff = accounting::diff::diff(
        &old.set,
        &new.set,
        &state.reference.pollutants,
        &new.set.meta().key_migrations,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        app::editions::diff_json(&diff, &old, &new),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    title: Option<String>,
    effective_from: Option<String>,
    provenance: Option<String>,
    #[serde(default)]
    synthetic: bool,
}

/// Uploads a coefficient table (CSV, or Excel by its content type) as the set's draft.
#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/drafts",
    tag = "editions",
    summary = "Upload a coefficient table as the set's draft (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        UploadQuery,
    ),
    request_body(content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("multipart/form-data")), description = "The table as the raw body (CSV or Excel by `Content-Type`), or a multipart form with a `file` part"),
    responses(
        (status = 201, description = "The draft edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 409, description = "The set has a published edition with the same content", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The table has issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn upload_draft(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let actor = require(&caller(&state, &headers).await?, app::tokens::Role::Admin)?;
    let mut parts = upload::read(&state, request, "coefficients").await?;
    let part = if parts.len() == 1 {
        parts.remove(0)
    } else {
        upload::take(&mut parts, "file")?
    };
    let meta = app::editions::UploadMeta {
        set_id: set.clone(),
        title: query.title.unwrap_or_else(|| set.clone()),
        effective_from: query.effective_from,
        provenance: query.provenance.unwrap_or_default(),
        synthetic: query.synthetic,
    };
    let info = app::editions::import_upload(
        &state.store,
        meta,
        &part.file_name,
        &part.bytes,
        &state.reference,
        &actor,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(EditionDto::from(&info))).into_response())
}

#[derive(Deserialize, ToSchema)]
struct NoteBody {
    note: String,
}

/// The admin token's name and the `{"note": …}` body shared by publish and retire.
async fn admin_with_note(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(String, NoteBody), ApiError> {
    let actor = require(&caller(state, headers).await?, app::tokens::Role::Admin)?;
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("expected `{{\"note\": \"…\"}}`: {e}")))?;
    Ok((actor, body))
}

fn edition_number(edition: &str) -> Result<u32, ApiError> {
    edition
        .parse()
        .map_err(|_| ApiError::bad_request(format!("`{edition}` is not an edition number")))
}

#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/editions/{edition}/publish",
    tag = "editions",
    summary = "Publish a draft with a revision note (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ("edition" = u32, Path, description = "The draft's edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The published edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not a draft, or already published", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn publish(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<EditionDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let info = app::editions::publish(
        &state.store,
        &set,
        Some(edition_number(&edition)?),
        &body.note,
        &actor,
        &state.reference,
    )
    .await?;
    Ok(Json(EditionDto::from(&info)))
}

#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/editions/{edition}/retire",
    tag = "editions",
    summary = "Retire a published edition with a note (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ("edition" = u32, Path, description = "The edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The retired edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not published", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn retire(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<EditionDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let info = app::editions::retire(
        &state.store,
        &set,
        edition_number(&edition)?,
        &body.note,
        &actor,
    )
    .await?;
    Ok(Json(EditionDto::from(&info)))
}
