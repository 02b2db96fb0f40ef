//! The enterprise registry: search (readers; anonymous when anonymous reading is allowed), one
//! enterprise with its status history and field changes, and the administrator's registry
//! upload (a change set applied all-or-nothing, or a dry run) and hand-recorded status changes.
//!
//! Searching is done by the database with bound values (`app::registry::search`), so a national
//! registry is never loaded for a request; results are ordered by USCC.

use accounting::codes::{IndustryCode, RegionCode};
use app::registry::{ChangeSet, EnterpriseRecord, StoredEnterprise};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{bad_query, caller, require, require_reader, upload, wants_csv};
use crate::{ApiError, AppState};

/// The registry endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(enterprise))
        .routes(routes!(import))
        .routes(routes!(change_status))
}

/// An enterprise's current record.
#[derive(Serialize, ToSchema)]
struct EnterpriseDto {
    /// 统一社会信用代码.
    uscc: String,
    /// 单位名称, as written in the registry.
    name: String,
    /// GB/T 2260 code.
    region_code: String,
    /// Province / prefecture / county names, when the code is in the bundled list.
    region_name: Option<String>,
    /// GB/T 4754-2017 class with its section letter, e.g. `C1351`.
    industry_code: String,
    /// The class name, when known.
    industry_name: Option<String>,
    /// `operating`, `suspended`, `closed` or `deregistered`.
    status: &'static str,
    /// The status date, `2024-05-31`.
    status_date: Option<String>,
    /// 排污许可证编号.
    permit_no: Option<String>,
    /// When the enterprise was first imported (UTC).
    first_seen: String,
    /// When its record last changed (UTC).
    updated_at: String,
    /// Incremented by every change; give it back with a status change to make it conditional.
    revision: i64,
}

impl EnterpriseDto {
    fn new(e: &StoredEnterprise, state: &AppState) -> EnterpriseDto {
        EnterpriseDto {
            uscc: e.uscc.to_string(),
            name: e.name.clone(),
            region_code: e.region.to_string(),
            region_name: region_name(e.region, state),
            industry_code: e.industry.to_string(),
            industry_name: industry_name(&e.industry, state),
            status: e.status.as_str(),
            status_date: e.status_date.map(|d| d.to_string()),
            permit_no: e.permit_no.clone(),
            first_seen: e.first_seen.clone(),
            updated_at: e.updated_at.clone(),
            revision: e.revision,
        }
    }
}

fn region_name(code: RegionCode, state: &AppState) -> Option<String> {
    state.reference.regions.path_name(code)
}

fn industry_name(code: &IndustryCode, state: &AppState) -> Option<String> {
    state.reference.industries.get(code).map(|i| i.name.clone())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Part of the name (full-width/half-width, spaces and ASCII case do not matter), or the
    /// start of a USCC.
    q: Option<String>,
    /// GB/T 2260 code at any level: `44`/`440000` (province), `4401`/`440100` (prefecture),
    /// `440103` (county).
    region: Option<String>,
    /// GB/T 4754-2017 code at any level: `C`, `13`, `C13`, `135`, `1351`.
    industry: Option<String>,
    /// `operating`, `suspended`, `closed`, `deregistered` (or 运行, 停产, 关闭, 注销).
    status: Option<String>,
    /// Page number from 1 (default 1).
    page: Option<u64>,
    /// Enterprises per page, 1–1000 (default 100).
    per_page: Option<u64>,
    /// `json` (default) or `csv`; `Accept: text/csv` also gives CSV.
    format: Option<String>,
}

/// One page of enterprises.
#[derive(Serialize, ToSchema)]
struct EnterprisePage {
    /// How many enterprises match in all.
    total: u64,
    page: u64,
    per_page: u64,
    /// Ordered by USCC.
    enterprises: Vec<EnterpriseDto>,
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/enterprises",
    tag = "registry",
    summary = "Search the enterprise registry",
    description = "Every filter given must hold. Ordered by USCC; the total is also in `X-Total-Count`. CSV (`Accept: text/csv` or `?format=csv`) is the page in the registry file format, so it can be imported again.",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of enterprises (JSON), or the page as a registry CSV", body = EnterprisePage),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Query(query) = query.map_err(bad_query)?;
    let csv = wants_csv(query.format.as_deref(), &headers)?;
    let search = app::registry::Search {
        q: query.q,
        region: query.region,
        industry: query.industry,
        status: query.status,
    };
    let found = app::registry::search(
        &state.store,
        &search,
        query.page.unwrap_or(1),
        query.per_page.unwrap_or(100),
        &state.reference,
    )
    .await?;
    let mut response = if csv {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            app::registry::enterprises_csv(&found.enterprises),
        )
            .into_response()
    } else {
        Json(EnterprisePage {
            total: found.total,
            page: found.page,
            per_page: found.per_page,
            enterprises: found
                .enterprises
                .iter()
                .map(|e| EnterpriseDto::new(e, &state))
                .collect(),
        })
        .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept"));
    if let Ok(total) = HeaderValue::from_str(&found.total.to_string()) {
        h.insert("x-total-count", total);
    }
    Ok(response)
}

/// One entry of the status history.
#[derive(Serialize, ToSchema)]
struct StatusEntryDto {
    status: &'static str,
    status_date: Option<String>,
    /// Why, e.g. `import registry-2024.csv`.
    reason: String,
    /// When it was recorded (UTC).
    recorded_at: String,
    /// The token (or CLI user) that recorded it.
    actor: String,
}

/// One recorded change of a field other than the status.
#[derive(Serialize, ToSchema)]
struct FieldChangeDto {
    /// `name`, `region_code`, `industry_code` or `permit_no`.
    field: String,
    old: Option<String>,
    new: Option<String>,
    reason: String,
    recorded_at: String,
    actor: String,
}

/// An enterprise with its status history and field changes, oldest first.
#[derive(Serialize, ToSchema)]
struct EnterpriseRecordDto {
    enterprise: EnterpriseDto,
    status_history: Vec<StatusEntryDto>,
    field_changes: Vec<FieldChangeDto>,
}

impl EnterpriseRecordDto {
    fn new(r: &EnterpriseRecord, state: &AppState) -> EnterpriseRecordDto {
        EnterpriseRecordDto {
            enterprise: EnterpriseDto::new(&r.enterprise, state),
            status_history: r
                .statuses
                .iter()
                .map(|s| StatusEntryDto {
                    status: s.status.as_str(),
                    status_date: s.status_date.map(|d| d.to_string()),
                    reason: s.reason.clone(),
                    recorded_at: s.recorded_at.clone(),
                    actor: s.actor.clone(),
                })
                .collect(),
            field_changes: r
                .changes
                .iter()
                .map(|c| FieldChangeDto {
                    field: c.field.clone(),
                    old: c.old.clone(),
                    new: c.new.clone(),
                    reason: c.reason.clone(),
                    recorded_at: c.recorded_at.clone(),
                    actor: c.actor.clone(),
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/enterprises/{uscc}",
    tag = "registry",
    summary = "One enterprise, its status history and field changes",
    params(("uscc" = String, Path, description = "Unified social credit code (18 characters, check digits verified)")),
    responses(
        (status = 200, description = "The enterprise", body = EnterpriseRecordDto),
        (status = 400, description = "Not a valid USCC (the message says why)", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "A valid USCC that is not in the registry", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn enterprise(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let record = app::registry::record(&state.store, &uscc).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        Json(EnterpriseRecordDto::new(&record, &state)),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// Only compute and return the change set; write nothing.
    #[serde(default)]
    dry_run: bool,
}

/// How many enterprises each part of a change set holds.
#[derive(Serialize, ToSchema)]
struct ChangeCounts {
    added: usize,
    changed: usize,
    /// Changed enterprises whose status or status date changes.
    status_changes: usize,
    /// Stored enterprises the file does not list (kept as they are, never closed).
    missing: usize,
    unchanged: usize,
}

/// An enterprise of the file that is not stored.
#[derive(Serialize, ToSchema)]
struct AddedDto {
    uscc: String,
    name: String,
    region_code: String,
    industry_code: String,
    status: &'static str,
    status_date: Option<String>,
    permit_no: Option<String>,
}

/// One field a file changes: stored value → the file's.
#[derive(Serialize, ToSchema)]
struct FieldDto {
    /// `name`, `region_code`, `industry_code`, `status`, `status_date` or `permit_no`.
    field: &'static str,
    old: Option<String>,
    new: Option<String>,
}

/// A stored enterprise the file changes.
#[derive(Serialize, ToSchema)]
struct ChangedDto {
    uscc: String,
    /// The stored name.
    name: String,
    /// Whether the status or its date changes (a status-history entry).
    status_changed: bool,
    fields: Vec<FieldDto>,
}

/// A stored enterprise the file does not list.
#[derive(Serialize, ToSchema)]
struct MissingDto {
    uscc: String,
    name: String,
    status: &'static str,
}

/// What a registry file changes, and whether it was written.
#[derive(Serialize, ToSchema)]
struct ImportReport {
    /// The file's label (the client's file name, reduced to a safe name).
    file: String,
    /// Whether this was a dry run.
    dry_run: bool,
    /// Whether the change set was written (in one transaction with its audit entry).
    applied: bool,
    /// The line the CLI prints: `1 added, 2 changed (1 status change), 1 not in the file, 27 unchanged`.
    summary: String,
    counts: ChangeCounts,
    /// By USCC.
    added: Vec<AddedDto>,
    /// By USCC.
    changed: Vec<ChangedDto>,
    /// By USCC.
    missing: Vec<MissingDto>,
}

fn report(file: String, dry_run: bool, applied: bool, set: &ChangeSet) -> ImportReport {
    ImportReport {
        file,
        dry_run,
        applied,
        summary: set.summary(),
        counts: ChangeCounts {
            added: set.added.len(),
            changed: set.changed.len(),
            status_changes: set.status_changes(),
            missing: set.missing.len(),
            unchanged: set.unchanged,
        },
        added: set
            .added
            .iter()
            .map(|e| AddedDto {
                uscc: e.uscc.to_string(),
                name: e.name.clone(),
                region_code: e.region.to_string(),
                industry_code: e.industry.to_string(),
                status: e.status.as_str(),
                status_date: e.status_date.map(|d| d.to_string()),
                permit_no: e.permit_no.clone(),
            })
            .collect(),
        changed: set
            .changed
            .iter()
            .map(|c| ChangedDto {
                uscc: c.before.uscc.to_string(),
                name: c.before.name.clone(),
                status_changed: c.status_changed(),
                fields: c
                    .fields
                    .iter()
                    .map(|f| FieldDto {
                        field: f.field,
                        old: f.old.clone(),
                        new: f.new.clone(),
                    })
                    .collect(),
            })
            .collect(),
        missing: set
            .missing
            .iter()
            .map(|e| MissingDto {
                uscc: e.uscc.to_string(),
                name: e.name.clone(),
                status: e.status.as_str(),
            })
            .collect(),
    }
}

/// Uploads a registry file and applies its change set (or, with `dry_run`, only returns it).
#[utoipa::path(
    post,
    path = "/api/v1/registry",
    tag = "registry",
    summary = "Upload a registry file: apply its change set, or a dry run (administrator)",
    description = "The file is compared with the stored registry: new enterprises, changed fields (old → new, with status-history entries for status changes) and stored enterprises the file does not list (reported, never closed). The change set is written in one transaction with one audit entry naming the token; a file with any bad cell changes nothing and gives 422 with every located issue.",
    params(ImportQuery),
    request_body(content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("multipart/form-data")), description = "The registry as the raw body (CSV or Excel by `Content-Type`), or a multipart form with a `file` part"),
    responses(
        (status = 200, description = "The change set, and whether it was written", body = ImportReport),
        (status = 400, description = "A malformed parameter or form", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 409, description = "The registry changed while the change set was being written; nothing was changed", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The file has issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn import(
    State(state): State<AppState>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    let (actor, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Admin, query, request).await?;
    let mut parts = upload::read(&state, request, "registry").await?;
    let part = if parts.len() == 1 {
        parts.remove(0)
    } else {
        upload::take(&mut parts, "file")?
    };
    let import = app::registry::import_upload(
        &state.store,
        &part.file_name,
        &part.bytes,
        &state.reference,
        !query.dry_run,
        &actor,
    )
    .await?;
    Ok(Json(report(
        part.file_name,
        query.dry_run,
        import.applied,
        &import.changes,
    )))
}

/// A status change recorded by hand.
#[derive(Deserialize, ToSchema)]
struct StatusBody {
    /// `operating`, `suspended`, `closed`, `deregistered` (or 运行, 停产, 关闭, 注销).
    status: String,
    /// The status date, `2024-05-31`.
    date: Option<String>,
    /// Why (required); recorded in the status history and the audit log.
    note: String,
    /// The `revision` the caller saw: when given and the record changed since, 409.
    revision: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/enterprises/{uscc}/status",
    tag = "registry",
    summary = "Record a status change with its date and a note (administrator)",
    params(("uscc" = String, Path, description = "Unified social credit code")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "The enterprise with its histories, after the change", body = EnterpriseRecordDto),
        (status = 400, description = "Not a valid USCC, status or date, or no note", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "A valid USCC that is not in the registry", body = crate::error::ErrorBody),
        (status = 409, description = "Already at that status and date, or changed since `revision`", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn change_status(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    headers: HeaderMap,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<EnterpriseRecordDto>, ApiError> {
    let actor = require(&caller(&state, &headers).await?, app::tokens::Role::Admin)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "expected `{{\"status\": \"closed\", \"date\": \"2024-05-31\", \"note\": \"…\"}}`: {}",
            e.body_text()
        ))
    })?;
    let update = app::registry::StatusUpdate {
        status: body.status,
        date: body.date,
        note: body.note,
        revision: body.revision,
    };
    app::registry::change_status(&state.store, &uscc, &update, &actor).await?;
    let record = app::registry::record(&state.store, &uscc).await?;
    Ok(Json(EnterpriseRecordDto::new(&record, &state)))
}
