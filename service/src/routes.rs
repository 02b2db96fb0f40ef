//! The routes of API v1 and the operational endpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use accounting::coefficient::{CoefficientRow, CoefficientSet, Removal};
use accounting::render::{Precision, quantity};
use accounting::text::normalize_name;
use app::editions::{EditionInfo, EditionStatus, Selector};
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

/// Who is calling: `None` for an anonymous request.
type Caller = Option<(String, app::tokens::Role)>;

/// Reads the `Authorization: Bearer` token. A token that is present but malformed, unknown or
/// revoked is refused outright rather than treated as anonymous.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    match app::tokens::verify(&state.store, token).await? {
        Some(caller) => Ok(Some(caller)),
        None => Err(ApiError::unauthorized("unknown or revoked token")),
    }
}

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

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/editions", get(list_editions))
        .route("/api/v1/sets/{set}/editions/{edition}", get(edition))
        .route(
            "/api/v1/sets/{set}/editions/{edition}/coefficients",
            get(coefficients),
        )
        .route("/api/v1/sets/{set}/resolve", get(resolve))
        .route("/api/v1/sets/{set}/diff", get(diff))
        .route("/api/v1/sets/{set}/drafts", post(upload_draft))
        .route(
            "/api/v1/sets/{set}/editions/{edition}/publish",
            post(publish),
        )
        .route("/api/v1/sets/{set}/editions/{edition}/retire", post(retire))
        .layer(DefaultBodyLimit::max(state.upload_limit_bytes))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state)
}

/// Request ids: a caller's `x-request-id` is kept (when it is short and printable), otherwise
/// one is made; it is logged with the request and returned in the response.
static NEXT_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{}-{}",
                std::process::id(),
                NEXT_REQUEST.fetch_add(1, Ordering::Relaxed)
            )
        });
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .record(&method, &route, response.status().as_u16(), seconds);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        ms = seconds * 1000.0,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    // A real query: a service whose database is gone is not healthy.
    app::editions::list(&state.store, Some("")).await?;
    Ok("ok\n")
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// An edition as the API shows it.
#[derive(Serialize)]
struct EditionDto {
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

#[derive(Deserialize)]
struct ListQuery {
    set: Option<String>,
}

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

#[derive(Deserialize)]
struct ResolveQuery {
    at: Option<String>,
    rule: Option<String>,
}

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

#[derive(Deserialize)]
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

#[derive(Serialize)]
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

#[derive(Serialize)]
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

#[derive(Deserialize)]
struct DiffQuery {
    from: String,
    to: String,
}

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

/// Requires a token with at least `role`: 401 without one, 403 with a weaker one.
fn require(caller: &Caller, role: app::tokens::Role) -> Result<String, ApiError> {
    match caller {
        None => Err(ApiError::unauthorized(format!(
            "this needs a token with the role `{}`",
            role.as_str()
        ))),
        Some((name, have)) if *have >= role => Ok(name.clone()),
        Some((name, have)) => Err(ApiError::forbidden(format!(
            "token `{name}` has the role `{}`; this needs `{}`",
            have.as_str(),
            role.as_str()
        ))),
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the upload is larger than the service accepts",
        )
    } else {
        ApiError::bad_request(format!("cannot read the request body: {rejection}"))
    }
}

#[derive(Deserialize)]
struct UploadQuery {
    title: Option<String>,
    effective_from: Option<String>,
    provenance: Option<String>,
    #[serde(default)]
    synthetic: bool,
}

/// Uploads a coefficient table (CSV, or Excel by its content type) as the set's draft.
async fn upload_draft(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let actor = require(&caller(&state, &headers).await?, app::tokens::Role::Admin)?;
    let body = body.map_err(body_error)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/csv");
    let file_name = if content_type.contains("spreadsheetml") {
        "upload.xlsx"
    } else if content_type.contains("ms-excel") {
        "upload.xls"
    } else if content_type.contains("opendocument") {
        "upload.ods"
    } else {
        "upload.csv"
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
        file_name,
        &body,
        &state.reference,
        &actor,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(EditionDto::from(&info))).into_response())
}

#[derive(Deserialize)]
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
