//! Reconciliations of permit-reported emissions over HTTP: an officer uploads a registry,
//! activity data and permit execution reports with a pinned edition or a date rule and the
//! thresholds of `npsc reconcile`, and gets the stored reconciliation with its provenance and
//! summary; readers list and read them, one view at a time (comparison, numbers of record,
//! reconciliation) as JSON or CSV, cells exactly as they were rendered and stored.

use accounting::engine::OperationRatePolicy;
use app::reconcile::{ReconcileParameters, ReconciliationInfo, ViewInfo};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::editions::load;
use super::{bad_query, require_reader, upload};
use crate::{ApiError, AppState};

/// The reconciliation endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_reconciliation, list_reconciliations))
        .routes(routes!(reconciliation))
        .routes(routes!(reconciliation_view))
}

/// The edition a reconciliation's estimates used.
#[derive(Serialize, ToSchema)]
struct EditionDto {
    /// `set@N`, or the path of a coefficient folder for a reconciliation of files.
    name: String,
    set_id: String,
    edition: Option<u32>,
    /// SHA-256 of the edition's canonical content.
    content_hash: String,
}

/// One input of a reconciliation.
#[derive(Serialize, ToSchema)]
struct InputDto {
    /// `registry`, `activity` or `reports`.
    role: &'static str,
    /// The file name of an upload, or the path of a file read by the command line.
    label: String,
    /// Whether the input was uploaded.
    uploaded: bool,
    sha256: String,
}

/// The counts of a reconciliation.
#[derive(Serialize, ToSchema)]
struct CountsDto {
    /// Activity rows accounted for the estimates.
    rows_accounted: u64,
    /// Permit report lines read.
    report_lines: u64,
    /// Enterprise-pollutant-years compared.
    comparisons: u64,
    /// Comparisons with an error flag.
    with_errors: u64,
    /// Comparisons with warnings only.
    with_warnings: u64,
    /// Enterprise-pollutant-years reconciled.
    reconciled: u64,
    /// Reconciled ones with a gross error.
    gross_errors: u64,
    /// Rank deficient, invalid input or not converged.
    not_reconcilable: u64,
}

/// A stored reconciliation with its provenance.
#[derive(Serialize, ToSchema)]
struct ReconciliationDto {
    id: i64,
    edition: EditionDto,
    /// How the edition was named: `set@N`, `set@latest`, or `set` with a date and rule.
    selector: String,
    /// `effective` or `next-month` when resolved by date.
    rule: Option<String>,
    /// The accounting date when resolved by date.
    date: Option<String>,
    inputs: Vec<InputDto>,
    /// Thresholds, standard deviations, significance and policy as recorded.
    options: String,
    /// One line: how many compared, with errors and warnings, reconciled.
    summary: String,
    counts: CountsDto,
    actor: String,
    started_at: String,
    duration_ms: u64,
}

impl From<&ReconciliationInfo> for ReconciliationDto {
    fn from(info: &ReconciliationInfo) -> ReconciliationDto {
        let r = &info.reconciliation;
        let c = &info.counts;
        let input = |role, path: &str, hash: &str| {
            let uploaded = path.strip_prefix(app::runs::UPLOAD_PREFIX);
            InputDto {
                role,
                label: uploaded.unwrap_or(path).to_string(),
                uploaded: uploaded.is_some(),
                sha256: hash.to_string(),
            }
        };
        ReconciliationDto {
            id: info.id,
            edition: EditionDto {
                name: match r.edition {
                    Some(e) => format!("{}@{e}", r.set_id),
                    None => r
                        .coefficients_path
                        .clone()
                        .unwrap_or_else(|| r.selector.clone()),
                },
                set_id: r.set_id.clone(),
                edition: r.edition,
                content_hash: r.content_hash.clone(),
            },
            selector: r.selector.clone(),
            rule: r.rule.clone(),
            date: r.accounting_date.clone(),
            inputs: vec![
                input("registry", &r.registry_path, &r.registry_hash),
                input("activity", &r.activity_path, &r.activity_hash),
                input("reports", &r.reports_path, &r.reports_hash),
            ],
            options: r.options.clone(),
            summary: r.summary.clone(),
            counts: CountsDto {
                rows_accounted: c.rows_accounted,
                report_lines: c.report_lines,
                comparisons: c.comparisons,
                with_errors: c.with_errors,
                with_warnings: c.with_warnings,
                reconciled: c.reconciled,
                gross_errors: c.gross_errors,
                not_reconcilable: c.not_reconcilable,
            },
            actor: r.actor.clone(),
            started_at: r.started_at.clone(),
            duration_ms: r.elapsed_ms,
        }
    }
}

/// A view of a stored reconciliation, without its rows.
#[derive(Serialize, ToSchema)]
struct ViewDto {
    /// `comparison`, `records` or `reconciliation`.
    name: String,
    title: String,
    columns: Vec<String>,
    rows: u64,
    /// Where to read its rows.
    href: String,
}

fn views(id: i64, views: &[ViewInfo]) -> Vec<ViewDto> {
    views
        .iter()
        .map(|v| ViewDto {
            name: v.name.clone(),
            title: v.title.clone(),
            columns: v.header.clone(),
            rows: v.rows,
            href: format!("/api/v1/reconciliations/{id}/{}", v.name),
        })
        .collect()
}

/// A stored reconciliation and its views.
#[derive(Serialize, ToSchema)]
struct ShownReconciliation {
    reconciliation: ReconciliationDto,
    views: Vec<ViewDto>,
}

/// One view with its rows: one object per row, column → rendered cell (numbers as exact
/// decimal strings), as `npsc reconcile --format json` prints them.
#[derive(Serialize, ToSchema)]
struct ViewRows {
    reconciliation: ReconciliationDto,
    name: String,
    title: String,
    columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReconcileQuery {
    /// Coefficient set id, e.g. `npsc1-excerpt`.
    set: String,
    /// A pinned edition: its number, or `latest`. Without it and without `at`: `latest`.
    edition: Option<String>,
    /// Accounting date (`YYYY-MM-DD`): the edition in force on it.
    at: Option<String>,
    /// `effective` (default) or `next-month`, with `at`.
    rule: Option<String>,
    /// Relative difference flagged as a warning (default 0.2).
    warning: Option<f64>,
    /// Relative difference flagged as an error (default 0.5).
    error: Option<f64>,
    /// Year-over-year change of the reported value that is flagged (default 0.2).
    yoy: Option<f64>,
    /// Lowest valid-data capture rate of automatic monitoring in a quarter (default 0.75).
    minimum_capture: Option<f64>,
    /// Significance of the reconciliation's tests (default 0.05).
    alpha: Option<f64>,
    /// Relative standard deviation of automatic monitoring (default 0.05).
    rsd_automatic: Option<f64>,
    /// Relative standard deviation of manual monitoring (default 0.15).
    rsd_manual: Option<f64>,
    /// Relative standard deviation of material balance (default 0.2).
    rsd_balance: Option<f64>,
    /// Relative standard deviation of coefficient estimates (default 0.3).
    rsd_coefficient: Option<f64>,
    /// Relative standard deviation of other methods (default 0.5).
    rsd_other: Option<f64>,
    /// Industry code prefixes where the permit rule's punitive accounting applies, comma
    /// separated (e.g. `44,3011`); all industries when omitted.
    punitive_industries: Option<String>,
    /// `nominal` (default: a missing operation rate is 1) or `strict` (0).
    missing_operation_rate: Option<String>,
}

impl ReconcileQuery {
    fn parameters(&self) -> Result<ReconcileParameters, ApiError> {
        let d = ReconcileParameters::default();
        let parameters = ReconcileParameters {
            warning: self.warning.unwrap_or(d.warning),
            error: self.error.unwrap_or(d.error),
            yoy: self.yoy.unwrap_or(d.yoy),
            minimum_capture: self.minimum_capture.unwrap_or(d.minimum_capture),
            alpha: self.alpha.unwrap_or(d.alpha),
            rsd_automatic: self.rsd_automatic.unwrap_or(d.rsd_automatic),
            rsd_manual: self.rsd_manual.unwrap_or(d.rsd_manual),
            rsd_balance: self.rsd_balance.unwrap_or(d.rsd_balance),
            rsd_coefficient: self.rsd_coefficient.unwrap_or(d.rsd_coefficient),
            rsd_other: self.rsd_other.unwrap_or(d.rsd_other),
            punitive_industries: self
                .punitive_industries
                .as_deref()
                .map(|list| list.split(',').map(|c| c.trim().to_string()).collect())
                .unwrap_or_default(),
            missing_operation_rate: match self.missing_operation_rate.as_deref() {
                None => d.missing_operation_rate,
                Some(text) => OperationRatePolicy::parse(text).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "missing_operation_rate: `{text}` is neither `nominal` nor `strict`"
                    ))
                })?,
            },
        };
        parameters.check(app::reconcile::ParameterNames::Query)?;
        Ok(parameters)
    }
}

fn as_upload(part: &upload::Part) -> app::upload::Upload<'_> {
    app::upload::Upload {
        label: &part.file_name,
        bytes: &part.bytes,
    }
}

/// Reconciles uploaded inputs and stores the reconciliation (officer).
#[utoipa::path(
    post,
    path = "/api/v1/reconciliations",
    tag = "reconciliation",
    summary = "Reconcile permit execution reports with the coefficient estimates and store the result (officer)",
    description = "Inputs: a multipart form with the parts `registry`, `activity` and `reports` (CSV or Excel files, the format told by the file name or the part's content type). The edition is pinned (`edition=N` or `latest`) or resolved by date (`at` and `rule`); drafts are refused. Thresholds, relative standard deviations, significance and punitive industries are the options of `npsc reconcile`. The whole report is stored: provenance (the edition's content hash, the inputs as `upload:<file name>` with their SHA-256, the options) and every view's cells. All or nothing: bad input gets 422 with every located issue and nothing is stored.",
    params(ReconcileQuery),
    request_body(content(("multipart/form-data")), description = "The registry, the activity data and the permit execution reports"),
    responses(
        (status = 201, description = "The stored reconciliation with its provenance, summary and views", body = ShownReconciliation),
        (status = 400, description = "A malformed or out-of-range parameter, or a missing part", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an officer's or an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The inputs have issues; all of them are listed, located; nothing was stored", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn submit_reconciliation(
    State(state): State<AppState>,
    query: Result<Query<ReconcileQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (actor, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Officer, query, request).await?;
    let parameters = query.parameters()?;
    let edition = app::upload::EditionRequest {
        set: query.set.clone(),
        edition: query.edition.clone(),
        at: query.at.clone(),
        rule: query.rule.clone(),
    };
    let (info, provenance) = app::upload::resolve_edition(&state.store, &edition).await?;
    let mut parts = upload::read(&state, request, "file").await?;
    let registry = upload::take(&mut parts, "registry")?;
    let activity = upload::take(&mut parts, "activity")?;
    let reports = upload::take(&mut parts, "reports")?;
    let set = load(&state, &info).await?;
    let (stored, _report) = app::upload::reconcile_upload(
        &state.store,
        set,
        provenance,
        as_upload(&registry),
        as_upload(&activity),
        as_upload(&reports),
        parameters,
        state.reference.clone(),
        &actor,
    )
    .await?;
    let (stored, stored_views) = app::reconcile::show(&state.store, stored.id).await?;
    let body = ShownReconciliation {
        reconciliation: ReconciliationDto::from(&stored),
        views: views(stored.id, &stored_views),
    };
    let location = format!("/api/v1/reconciliations/{}", stored.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/reconciliations",
    tag = "reconciliation",
    summary = "List the stored reconciliations, newest first",
    responses(
        (status = 200, description = "The reconciliations", body = Vec<ReconciliationDto>),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn list_reconciliations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ReconciliationDto>>, ApiError> {
    require_reader(&state, &headers).await?;
    let list = app::reconcile::list(&state.store).await?;
    Ok(Json(list.iter().map(ReconciliationDto::from).collect()))
}

fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path parameter: {}", rejection.body_text()))
}

#[utoipa::path(
    get,
    path = "/api/v1/reconciliations/{id}",
    tag = "reconciliation",
    summary = "One stored reconciliation with its provenance, summary and views",
    params(("id" = i64, Path, description = "Reconciliation id")),
    responses(
        (status = 200, description = "The reconciliation", body = ShownReconciliation),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such reconciliation", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn reconciliation(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<ShownReconciliation>, ApiError> {
    require_reader(&state, &headers).await?;
    let Path(id) = id.map_err(bad_path)?;
    let (info, stored_views) = app::reconcile::show(&state.store, id).await?;
    Ok(Json(ShownReconciliation {
        reconciliation: ReconciliationDto::from(&info),
        views: views(id, &stored_views),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// `json` (default) or `csv` (also by `Accept: text/csv`).
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/reconciliations/{id}/{view}",
    tag = "reconciliation",
    summary = "One view of a stored reconciliation: comparison, records or reconciliation",
    description = "Every row of the view with its cells exactly as stored: numbers as exact decimal strings, flags and report rows as text. JSON gives one object per row (column → cell), the shape of `npsc reconcile --format json`; CSV (`?format=csv` or `Accept: text/csv`) the header and rows of `npsc reconcile --format csv`.",
    params(
        ("id" = i64, Path, description = "Reconciliation id"),
        ("view" = String, Path, description = "`comparison`, `records` or `reconciliation`"),
        FormatQuery,
    ),
    responses(
        (status = 200, description = "The view's rows (JSON), or CSV", body = ViewRows),
        (status = 400, description = "A malformed parameter or an unknown view", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such reconciliation", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn reconciliation_view(
    State(state): State<AppState>,
    path: Result<Path<(i64, String)>, PathRejection>,
    query: Result<Query<FormatQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Path((id, view)) = path.map_err(bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let csv = super::wants_csv(query.format.as_deref(), &headers)?;
    let (info, sheet) = app::reconcile::view(&state.store, id, &view).await?;
    if csv {
        return Ok(super::csv_response(app::sheet::render_csv(&sheet)?));
    }
    let rows = sheet
        .rows
        .into_iter()
        .map(|row| {
            sheet
                .header
                .iter()
                .cloned()
                .zip(row.into_iter().map(serde_json::Value::String))
                .collect()
        })
        .collect();
    Ok(Json(ViewRows {
        reconciliation: ReconciliationDto::from(&info),
        name: sheet.name,
        title: sheet.title,
        columns: sheet.header,
        rows,
    })
    .into_response())
}
