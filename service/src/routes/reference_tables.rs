//! Versioned reference tables (the tax's equivalents, rates and item counts): list, metadata,
//! the canonical CSV of an edition (immutable and cached like coefficient editions), and the
//! administrator's upload, publish and retire. Reading follows the coefficient editions' rule:
//! published and retired editions are readable without a token when anonymous reading is on,
//! drafts always need one.

use app::editions::EditionStatus;
use app::reference_tables::{ReferenceInfo, ReferenceKind};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::editions::{NoteBody, admin_with_note, edition_number};
use super::{Caller, caller, upload};
use crate::{ApiError, AppState};

/// The reference table endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tables))
        .routes(routes!(table_edition))
        .routes(routes!(table_content))
        .routes(routes!(upload_table_draft))
        .routes(routes!(publish_table))
        .routes(routes!(retire_table))
}

/// An edition of a reference table as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReferenceDto {
    name: String,
    table: String,
    edition: u32,
    kind: String,
    status: &'static str,
    content_hash: String,
    row_count: u64,
    imported_from: String,
    created_at: String,
    created_by: String,
    published_at: Option<String>,
    published_by: Option<String>,
    revision_note: Option<String>,
    retired_at: Option<String>,
    retire_note: Option<String>,
}

impl From<&ReferenceInfo> for ReferenceDto {
    fn from(e: &ReferenceInfo) -> ReferenceDto {
        ReferenceDto {
            name: e.label(),
            table: e.name.clone(),
            edition: e.edition,
            kind: e.kind.clone(),
            status: e.status.as_str(),
            content_hash: e.content_hash.clone(),
            row_count: e.row_count,
            imported_from: e.imported_from.clone(),
            created_at: e.created_at.clone(),
            created_by: e.created_by.clone(),
            published_at: e.published_at.clone(),
            published_by: e.published_by.clone(),
            revision_note: e.revision_note.clone(),
            retired_at: e.retired_at.clone(),
            retire_note: e.retire_note.clone(),
        }
    }
}

/// Drafts need a token; other editions need one unless anonymous reading is on.
fn may_read(state: &AppState, caller: &Caller, info: &ReferenceInfo) -> Result<(), ApiError> {
    if caller.is_some() || (state.anonymous_read && info.status != EditionStatus::Draft) {
        Ok(())
    } else if info.status == EditionStatus::Draft {
        Err(ApiError::unauthorized(format!(
            "{} is a draft: reading it needs a token",
            info.label()
        )))
    } else {
        Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this table's editions.
    table: Option<String>,
}

/// Every edition of every table (drafts only with a token).
#[utoipa::path(
    get,
    path = "/api/v1/reference-tables",
    tag = "reference tables",
    summary = "List the editions of the reference tables (tax equivalents, rates, item counts)",
    params(ListQuery),
    responses(
        (status = 200, description = "Editions by table and number", body = Vec<ReferenceDto>),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn list_tables(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<ReferenceDto>>, ApiError> {
    let caller = reader(&state, &headers).await?;
    let Query(query) = query.map_err(super::bad_query)?;
    let editions = app::reference_tables::list(&state.store, query.table.as_deref()).await?;
    Ok(Json(
        editions
            .iter()
            .filter(|e| caller.is_some() || e.status != EditionStatus::Draft)
            .map(ReferenceDto::from)
            .collect(),
    ))
}

/// The caller, refused at once when the service needs a token for everything and none came.
async fn reader(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let caller = caller(state, headers).await?;
    if caller.is_none() && !state.anonymous_read {
        return Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ));
    }
    Ok(caller)
}

/// `table@edition` of a path, resolved and checked against the caller.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    table: &str,
    edition: &str,
) -> Result<ReferenceInfo, ApiError> {
    let selector = format!("{table}@{edition}");
    let (info, _) = app::reference_tables::export(&state.store, &selector).await?;
    may_read(state, caller, &info)?;
    Ok(info)
}

#[utoipa::path(
    get,
    path = "/api/v1/reference-tables/{table}/editions/{edition}",
    tag = "reference tables",
    summary = "One reference table edition's metadata",
    params(
        ("table" = String, Path, description = "Table name, e.g. `tax-rates`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
    ),
    responses(
        (status = 200, description = "The edition", body = ReferenceDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such table or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn table_edition(
    State(state): State<AppState>,
    Path((table, edition)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<ReferenceDto>, ApiError> {
    let caller = reader(&state, &headers).await?;
    let info = resolve(&state, &caller, &table, &edition).await?;
    Ok(Json(ReferenceDto::from(&info)))
}

#[utoipa::path(
    get,
    path = "/api/v1/reference-tables/{table}/editions/{edition}/content",
    tag = "reference tables",
    summary = "A reference table edition's canonical CSV",
    description = "The table as stored: UTF-8 CSV with the canonical English headers; its SHA-256 is the edition's content hash. A numbered published or retired edition carries a strong `ETag` and `Cache-Control: public, max-age=31536000, immutable`; `If-None-Match` gives 304. `latest` and drafts are `no-cache`.",
    params(
        ("table" = String, Path, description = "Table name, e.g. `tax-rates`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
    ),
    responses(
        (status = 200, description = "The canonical CSV", content_type = "text/csv"),
        (status = 304, description = "Not modified"),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such table or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn table_content(
    State(state): State<AppState>,
    Path((table, edition)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = reader(&state, &headers).await?;
    let info = resolve(&state, &caller, &table, &edition).await?;
    let immutable = info.status != EditionStatus::Draft && edition.parse::<u32>().is_ok();
    let etag = format!("\"{}\"", info.content_hash);
    if immutable
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    let (_, content) =
        app::reference_tables::export(&state.store, &format!("{}@{}", info.name, info.edition))
            .await?;
    let mut response = super::csv_response(content);
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if immutable && let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// What the table is: `tax-equivalents`, `tax-rates` or `tax-item-counts`.
    kind: String,
    /// Check only; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// The outcome of an upload.
#[derive(Serialize, ToSchema)]
struct UploadOutcome {
    /// The stored draft (absent for a dry run).
    draft: Option<ReferenceDto>,
    rows: u64,
    content_hash: String,
    /// The published edition with exactly this content, if any.
    same_as_published: Option<String>,
}

/// Uploads a table (CSV or Excel; raw body or multipart `file` part) as the draft of `table`.
#[utoipa::path(
    post,
    path = "/api/v1/reference-tables/{table}/drafts",
    tag = "reference tables",
    summary = "Upload a reference table as the table's draft (administrator)",
    params(
        ("table" = String, Path, description = "Table name, e.g. `tax-rates`"),
        UploadQuery,
    ),
    request_body(content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("multipart/form-data")), description = "The table as the raw body (CSV or Excel by `Content-Type`), or a multipart form with a `file` part"),
    responses(
        (status = 201, description = "The draft (or, for a dry run, 200 with no draft)", body = UploadOutcome),
        (status = 400, description = "A malformed parameter or an unknown kind", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 409, description = "The table holds another kind", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The table has issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn upload_table_draft(
    State(state): State<AppState>,
    Path(table): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (actor, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Admin, query, request).await?;
    let kind = match ReferenceKind::parse(&query.kind) {
        Ok(kind) => kind,
        Err(e) => return Err(upload::refuse(request, e.into()).await),
    };
    let mut parts = upload::read(&state, request, kind.as_str()).await?;
    let part = if parts.len() == 1 {
        parts.remove(0)
    } else {
        upload::take(&mut parts, "file")?
    };
    let imported = app::reference_tables::import(
        &state.store,
        kind,
        Some(&table),
        &part.file_name,
        &part.bytes,
        &app::ReadOptions::default(),
        &actor,
        query.dry_run,
    )
    .await?;
    let status = if imported.info.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let outcome = UploadOutcome {
        draft: imported.info.as_ref().map(ReferenceDto::from),
        rows: imported.rows,
        content_hash: imported.content_hash,
        same_as_published: imported.same_as_latest,
    };
    Ok((status, Json(outcome)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/reference-tables/{table}/editions/{edition}/publish",
    tag = "reference tables",
    summary = "Publish a reference table draft with a revision note (administrator)",
    params(
        ("table" = String, Path, description = "Table name"),
        ("edition" = u32, Path, description = "The draft's edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The published edition", body = ReferenceDto),
        (status = 400, description = "A malformed parameter or an empty note", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such table or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not a draft", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn publish_table(
    State(state): State<AppState>,
    Path((table, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<ReferenceDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let number = edition_number(&edition)?;
    let info = app::reference_tables::publish(
        &state.store,
        &table,
        Some(number),
        &body.note,
        &actor,
        &app::ReadOptions::default(),
    )
    .await?;
    Ok(Json(ReferenceDto::from(&info)))
}

#[utoipa::path(
    post,
    path = "/api/v1/reference-tables/{table}/editions/{edition}/retire",
    tag = "reference tables",
    summary = "Retire a published reference table edition with a note (administrator)",
    params(
        ("table" = String, Path, description = "Table name"),
        ("edition" = u32, Path, description = "The edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The retired edition", body = ReferenceDto),
        (status = 400, description = "A malformed parameter or an empty note", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such table or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not published", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn retire_table(
    State(state): State<AppState>,
    Path((table, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<ReferenceDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let number = edition_number(&edition)?;
    let info =
        app::reference_tables::retire(&state.store, &table, number, &body.note, &actor).await?;
    Ok(Json(ReferenceDto::from(&info)))
}
