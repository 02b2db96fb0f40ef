//! Accounting runs over HTTP: an officer submits a registry and activity data (CSV, Excel or
//! JSON files, or one JSON body) with a pinned edition or a date rule, and gets the stored run
//! with its provenance; readers list runs, read their totals and per-row results (each naming
//! its coefficient row, edition and content hash), find stale runs, and compare two editions'
//! impact on the same data.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use accounting::coefficient::CoefficientSet;
use accounting::engine::{OperationRatePolicy, Policy};
use accounting::render::{Precision, quantity};
use accounting::totals::Grouping;
use app::runs::RunInfo;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::editions::load;
use super::{bad_query, body_error, csv_response, require_reader, upload, wants_csv};
use crate::{ApiError, AppState};
use axum::extract::rejection::QueryRejection;

/// The run endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_run, list_runs))
        .routes(routes!(stale_runs))
        .routes(routes!(run))
        .routes(routes!(run_totals))
        .routes(routes!(run_results))
        .routes(routes!(impact))
}

/// The edition a run used: the factor every one of its results names.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunEditionDto {
    /// `set@N`, or the path of a coefficient folder for a run of files.
    name: String,
    set_id: String,
    edition: Option<u32>,
    /// SHA-256 of the edition's canonical content.
    content_hash: String,
}

/// One input of a run.
#[derive(Serialize, ToSchema)]
pub(crate) struct InputDto {
    /// `registry` or `activity`.
    role: &'static str,
    /// The file name of an upload, or the path of a file read by the command line.
    label: String,
    /// Whether the input was uploaded (then it cannot change, and is never reported stale).
    uploaded: bool,
    sha256: String,
}

/// Row counts of a run.
#[derive(Serialize, ToSchema)]
pub(crate) struct CountsDto {
    rows_read: u64,
    rows_accounted: u64,
    rows_excluded: u64,
    rows_unaccounted: u64,
}

/// A stored run with its provenance.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunDto {
    id: i64,
    edition: RunEditionDto,
    /// How the edition was named: `set@N`, `set@latest`, or `set` with a date and rule.
    selector: String,
    /// `effective` or `next-month` when resolved by date.
    rule: Option<String>,
    /// The accounting date when resolved by date.
    date: Option<String>,
    inputs: Vec<InputDto>,
    counts: CountsDto,
    region_level: String,
    industry_level: String,
    /// Grouping and policy as recorded.
    options: String,
    actor: String,
    started_at: String,
    finished_at: String,
    duration_ms: u64,
}

impl From<&RunInfo> for RunDto {
    fn from(r: &RunInfo) -> RunDto {
        let grouping = app::runs::run_grouping(r);
        let input = |role, path: &str, hash: &str| {
            let uploaded = path.strip_prefix(app::runs::UPLOAD_PREFIX);
            InputDto {
                role,
                label: uploaded.unwrap_or(path).to_string(),
                uploaded: uploaded.is_some(),
                sha256: hash.to_string(),
            }
        };
        RunDto {
            id: r.id,
            edition: RunEditionDto {
                name: match r.run.edition {
                    Some(e) => format!("{}@{e}", r.run.set_id),
                    None => r
                        .run
                        .coefficients_path
                        .clone()
                        .unwrap_or_else(|| r.run.selector.clone()),
                },
                set_id: r.run.set_id.clone(),
                edition: r.run.edition,
                content_hash: r.run.content_hash.clone(),
            },
            selector: r.run.selector.clone(),
            rule: r.run.rule.clone(),
            date: r.run.accounting_date.clone(),
            inputs: vec![
                input("registry", &r.run.registry_path, &r.run.registry_hash),
                input("activity", &r.run.activity_path, &r.run.activity_hash),
            ],
            counts: CountsDto {
                rows_read: r.counts.rows_read,
                rows_accounted: r.counts.rows_accounted,
                rows_excluded: r.counts.rows_excluded,
                rows_unaccounted: r.counts.rows_unaccounted,
            },
            region_level: grouping.region.as_str().to_string(),
            industry_level: grouping
                .industry
                .map(|l| l.as_str())
                .unwrap_or("all")
                .to_string(),
            options: r.run.options.clone(),
            actor: r.run.actor.clone(),
            started_at: r.run.started_at.clone(),
            finished_at: r.finished_at.clone(),
            duration_ms: r.elapsed_ms,
        }
    }
}

/// Rows left out for one reason.
#[derive(Serialize, ToSchema)]
struct NoteGroupDto {
    code: &'static str,
    message: String,
    hint: Option<String>,
    rows: u64,
    /// The first few activity rows (1-based, as the file shows them).
    first_rows: Vec<u64>,
}

impl From<&app::account::NoteGroup> for NoteGroupDto {
    fn from(g: &app::account::NoteGroup) -> NoteGroupDto {
        NoteGroupDto {
            code: g.code,
            message: g.message.clone(),
            hint: g.hint.clone(),
            rows: g.rows,
            first_rows: g.first_rows.clone(),
        }
    }
}

/// What a run did with every activity row.
#[derive(Serialize, ToSchema)]
struct SummaryDto {
    rows_read: u64,
    rows_accounted: u64,
    rows_excluded: u64,
    rows_unaccounted: u64,
    /// Results (row × pollutant).
    results: u64,
    direct_fallbacks: u64,
    operation_rates_assumed: u64,
    unaccounted_groups: Vec<NoteGroupDto>,
    excluded_groups: Vec<NoteGroupDto>,
}

/// One total at the run's grouping; numbers are exact decimal strings.
#[derive(Serialize, ToSchema)]
struct TotalDto {
    year: u16,
    region_code: Option<String>,
    region_name: Option<String>,
    industry_code: Option<String>,
    industry_name: Option<String>,
    pollutant_code: String,
    pollutant: Option<String>,
    unit: String,
    generated: String,
    emitted: String,
    rows: u64,
    flagged_rows: u64,
}

/// The answer to a submitted run.
#[derive(Serialize, ToSchema)]
struct SubmittedRun {
    run: RunDto,
    summary: SummaryDto,
    totals: Vec<TotalDto>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RunQuery {
    /// Coefficient set id, e.g. `npsc1-excerpt`.
    set: String,
    /// A pinned edition: its number, or `latest`. Without it and without `at`: `latest`.
    edition: Option<String>,
    /// Accounting date (`YYYY-MM-DD`): the edition in force on it.
    at: Option<String>,
    /// `effective` (default) or `next-month` (a revision applies from the next month), with `at`.
    rule: Option<String>,
    /// `national`, `province` (default), `prefecture` or `county`.
    region_level: Option<String>,
    /// `all` (default), `section`, `division`, `group` or `class`.
    industry_level: Option<String>,
    /// `nominal` (default: a missing operation rate is 1) or `strict` (0).
    missing_operation_rate: Option<String>,
    /// Refuse the run (422, nothing stored) when any row matches no coefficient.
    #[serde(default)]
    deny_unaccounted: bool,
}

fn grouping(region: Option<&str>, industry: Option<&str>) -> Result<Grouping, ApiError> {
    Ok(Grouping {
        region: app::account::parse_region_level(region.unwrap_or("province"))?,
        industry: app::account::parse_industry_level(industry.unwrap_or("all"))?,
    })
}

/// An uploaded input owned by the handler.
struct Owned {
    label: String,
    bytes: Bytes,
}

impl Owned {
    fn upload(&self) -> app::upload::Upload<'_> {
        app::upload::Upload {
            label: &self.label,
            bytes: &self.bytes,
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/json") || v.contains("+json")
        })
}

/// The registry and activity of a request: multipart parts `registry` and `activity`, or a
/// JSON body `{"registry": [...], "activity": [...]}`.
async fn inputs(state: &AppState, request: Request) -> Result<(Owned, Owned), ApiError> {
    if is_json(request.headers()) {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_error)?;
        let mut body: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
            .map_err(|e| {
            ApiError::bad_request(format!(
                "expected `{{\"registry\": [...], \"activity\": [...]}}`: {e}"
            ))
        })?;
        let mut take = |name: &str| -> Result<Owned, ApiError> {
            let value = body.remove(name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the JSON body has no `{name}` (an array of objects, one per row)"
                ))
            })?;
            let bytes = serde_json::to_vec(&value)
                .map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))?;
            Ok(Owned {
                label: format!("{name}.json"),
                bytes: Bytes::from(bytes),
            })
        };
        let registry = take("registry")?;
        let activity = take("activity")?;
        if let Some(other) = body.keys().next() {
            return Err(ApiError::bad_request(format!(
                "unknown member `{other}` in the JSON body: it holds `registry` and `activity`"
            )));
        }
        return Ok((registry, activity));
    }
    let mut parts = upload::read(state, request, "file").await?;
    let registry = upload::take(&mut parts, "registry")?;
    let activity = upload::take(&mut parts, "activity")?;
    Ok((
        Owned {
            label: registry.file_name,
            bytes: registry.bytes,
        },
        Owned {
            label: activity.file_name,
            bytes: activity.bytes,
        },
    ))
}

/// Accounts uploaded inputs and stores the run (officer).
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "runs",
    summary = "Account a registry and activity data and store the run (officer)",
    description = "Inputs: a multipart form with the parts `registry` and `activity` (CSV, Excel or JSON files, the format told by the file name or the part's content type), or a JSON body `{\"registry\": [...], \"activity\": [...]}` whose arrays hold one object per row, keyed by the same English or Chinese headers as the CSV formats. The edition is pinned (`edition=N` or `latest`) or resolved by date (`at` and `rule`); it is recorded with its content hash, and so are the inputs (`upload:<file name>` with their SHA-256). All or nothing: bad input gets 422 with every located issue and nothing is stored.",
    params(RunQuery),
    request_body(content(("multipart/form-data"), ("application/json")), description = "The registry and the activity data"),
    responses(
        (status = 201, description = "The stored run, its summary and its totals", body = SubmittedRun),
        (status = 400, description = "A malformed parameter or a missing part", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an officer's or an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The inputs have issues; all of them are listed, located; nothing was stored", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn submit_run(
    State(state): State<AppState>,
    query: Result<Query<RunQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (actor, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Officer, query, request).await?;
    let grouping = grouping(
        query.region_level.as_deref(),
        query.industry_level.as_deref(),
    )?;
    let missing_operation_rate = match query.missing_operation_rate.as_deref() {
        None | Some("nominal") => OperationRatePolicy::Nominal,
        Some("strict") => OperationRatePolicy::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "missing_operation_rate: `{other}` is neither `nominal` nor `strict`"
            )));
        }
    };
    let request_edition = app::upload::EditionRequest {
        set: query.set.clone(),
        edition: query.edition.clone(),
        at: query.at.clone(),
        rule: query.rule.clone(),
    };
    let (info, provenance) = app::upload::resolve_edition(&state.store, &request_edition).await?;
    let (registry, activity) = inputs(&state, request).await?;
    let set = load(&state, &info).await?;
    let settings = app::upload::UploadSettings {
        grouping,
        policy: Policy {
            missing_operation_rate,
        },
        deny_unaccounted: query.deny_unaccounted,
    };
    let outcome = app::upload::account_upload(
        &state.store,
        set,
        provenance,
        registry.upload(),
        activity.upload(),
        settings,
        state.reference.clone(),
        &actor,
    )
    .await;
    let (run, report) = match outcome {
        Ok(done) => done,
        Err(e) => {
            state.metrics.runs_rejected.fetch_add(1, Ordering::Relaxed);
            return Err(e.into());
        }
    };
    state.metrics.runs_stored.fetch_add(1, Ordering::Relaxed);
    let s = &report.summary;
    let body = SubmittedRun {
        run: RunDto::from(&run),
        summary: SummaryDto {
            rows_read: s.rows_read,
            rows_accounted: s.rows_accounted,
            rows_excluded: s.rows_excluded,
            rows_unaccounted: s.rows_unaccounted,
            results: s.results,
            direct_fallbacks: s.direct_fallbacks,
            operation_rates_assumed: s.operation_rates_assumed,
            unaccounted_groups: report
                .unaccounted_groups
                .iter()
                .map(NoteGroupDto::from)
                .collect(),
            excluded_groups: report
                .excluded_groups
                .iter()
                .map(NoteGroupDto::from)
                .collect(),
        },
        totals: report
            .totals
            .iter()
            .map(|t| TotalDto {
                year: t.year,
                region_code: t.region.map(|r| r.to_string()),
                region_name: Some(t.region_name.to_string()),
                industry_code: t.industry.as_ref().map(|i| i.to_string()),
                industry_name: Some(t.industry_name.to_string()),
                pollutant_code: t.pollutant_code.to_string(),
                pollutant: Some(t.pollutant_name.to_string()),
                unit: t.unit.to_string(),
                generated: quantity(t.generated, Precision::Exact),
                emitted: quantity(t.emitted, Precision::Exact),
                rows: t.rows,
                flagged_rows: t.flagged_rows,
            })
            .collect(),
    };
    let location = format!("/api/v1/runs/{}", run.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    summary = "List the stored runs, newest first",
    responses(
        (status = 200, description = "The runs", body = Vec<RunDto>),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn list_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<RunDto>>, ApiError> {
    require_reader(&state, &headers).await?;
    let runs = app::runs::list(&state.store).await?;
    Ok(Json(runs.iter().map(RunDto::from).collect()))
}

/// A run that no longer reflects the current editions or input files.
#[derive(Serialize, ToSchema)]
struct StaleDto {
    run: RunDto,
    reasons: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/stale",
    tag = "runs",
    summary = "The runs a newer edition (or a changed input file) makes out of date",
    description = "A run is stale when its selector would now resolve to another edition, or when an input file it read from disk changed or is gone. Uploaded inputs are kept only as their hash and cannot change, so nothing is said about them.",
    responses(
        (status = 200, description = "Stale runs with the reasons, newest first", body = Vec<StaleDto>),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn stale_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<StaleDto>>, ApiError> {
    require_reader(&state, &headers).await?;
    let stale = app::runs::stale(&state.store).await?;
    Ok(Json(
        stale
            .iter()
            .map(|s| StaleDto {
                run: RunDto::from(&s.run),
                reasons: s.reasons.clone(),
            })
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    summary = "One run with its provenance",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<RunDto>, ApiError> {
    require_reader(&state, &headers).await?;
    Ok(Json(RunDto::from(
        &app::runs::show(&state.store, id).await?,
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// `json` (default) or `csv` (also by `Accept: text/csv`).
    format: Option<String>,
}

/// A run's totals.
#[derive(Serialize, ToSchema)]
struct RunTotals {
    run: RunDto,
    totals: Vec<TotalDto>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/totals",
    tag = "runs",
    summary = "A run's totals, at the run's own grouping",
    params(("id" = i64, Path, description = "Run id"), FormatQuery),
    responses(
        (status = 200, description = "The totals (JSON), or CSV", body = RunTotals),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run_totals(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    query: Result<Query<FormatQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Query(query) = query.map_err(bad_query)?;
    if wants_csv(query.format.as_deref(), &headers)? {
        let permit = export_permit(&state).await?;
        let export = app::runs::export_totals(&state.store, id).await?;
        return streamed_csv(export.with_page(state.export_page), permit).await;
    }
    let (run, totals) = app::runs::totals(&state.store, id).await?;
    let reference = &state.reference;
    let totals = totals
        .into_iter()
        .map(|t| {
            let pollutant = reference
                .pollutants
                .lookup(&t.pollutant)
                .map(|p| reference.pollutants.get(p).name.clone());
            let region_name = t.region_code.as_deref().map(|code| {
                accounting::codes::RegionCode::parse(code)
                    .ok()
                    .and_then(|c| reference.regions.path_name(c))
                    .unwrap_or_default()
            });
            let industry_name = t.industry_code.as_deref().map(|code| {
                accounting::codes::IndustryCode::parse(code)
                    .ok()
                    .and_then(|c| reference.industries.get(&c).map(|i| i.name.clone()))
                    .unwrap_or_default()
            });
            TotalDto {
                year: t.year,
                region_name: Some(region_name.unwrap_or_else(|| "全国".to_string())),
                region_code: t.region_code,
                industry_name: Some(industry_name.unwrap_or_else(|| "全部行业".to_string())),
                industry_code: t.industry_code,
                pollutant_code: t.pollutant,
                pollutant,
                unit: t.unit,
                generated: quantity(t.generated, Precision::Exact),
                emitted: quantity(t.emitted, Precision::Exact),
                rows: t.rows,
                flagged_rows: t.flagged_rows,
            }
        })
        .collect();
    Ok(Json(RunTotals {
        run: RunDto::from(&run),
        totals,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ResultsQuery {
    /// Page, from 1.
    page: Option<u64>,
    /// Results per page (at most 1000; 100 by default).
    per_page: Option<u64>,
    /// `json` (default: one page) or `csv` (every result; also by `Accept: text/csv`).
    format: Option<String>,
}

/// The coefficient row a result used, with the edition it belongs to.
#[derive(Serialize, ToSchema)]
struct CoefficientRef {
    set_id: String,
    edition: Option<u32>,
    content_hash: String,
    /// The row of the coefficient table.
    row: u64,
}

/// One per-row result.
#[derive(Serialize, ToSchema)]
struct ResultDto {
    /// The activity row (1-based, as the file shows it; for JSON, the element).
    activity_row: u64,
    year: u16,
    uscc: String,
    region_code: String,
    industry_code: String,
    unit_id: Option<String>,
    outlet_id: Option<String>,
    pollutant_code: String,
    unit: String,
    generated: String,
    emitted: String,
    flags: Vec<String>,
    coefficient: CoefficientRef,
}

/// One page of a run's results.
#[derive(Serialize, ToSchema)]
struct ResultsPage {
    run: RunDto,
    total: u64,
    page: u64,
    per_page: u64,
    results: Vec<ResultDto>,
}

/// Most results per page.
const MAX_PER_PAGE: u64 = 1000;

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/results",
    tag = "runs",
    summary = "A run's per-row results, each naming its coefficient row, edition and content hash",
    params(("id" = i64, Path, description = "Run id"), ResultsQuery),
    responses(
        (status = 200, description = "One page of results (JSON), or every result as CSV", body = ResultsPage),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run_results(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    query: Result<Query<ResultsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Query(query) = query.map_err(bad_query)?;
    if wants_csv(query.format.as_deref(), &headers)? {
        let permit = export_permit(&state).await?;
        let export = app::runs::export_results(&state.store, id).await?;
        return streamed_csv(export.with_page(state.export_page), permit).await;
    }
    let per_page = query.per_page.unwrap_or(100).clamp(1, MAX_PER_PAGE);
    let page = query.page.unwrap_or(1).max(1);
    let (run, total, results) = app::runs::results_page(&state.store, id, page, per_page).await?;
    let reference = &state.reference;
    let results = results
        .into_iter()
        .map(|r| ResultDto {
            activity_row: r.activity_row,
            year: r.year,
            uscc: r.uscc,
            region_code: r.region_code,
            industry_code: r.industry_code,
            unit_id: r.unit_id,
            outlet_id: r.outlet_id,
            unit: reference
                .pollutants
                .lookup(&r.pollutant)
                .map(|p| reference.pollutants.get(p).report_unit.symbol().to_string())
                .unwrap_or_default(),
            pollutant_code: r.pollutant,
            generated: quantity(r.generated, Precision::Exact),
            emitted: quantity(r.emitted, Precision::Exact),
            flags: r
                .flags
                .split(';')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
            coefficient: CoefficientRef {
                set_id: run.run.set_id.clone(),
                edition: run.run.edition,
                content_hash: run.run.content_hash.clone(),
                row: r.coefficient_row,
            },
        })
        .collect();
    Ok(Json(ResultsPage {
        run: RunDto::from(&run),
        total,
        page,
        per_page,
        results,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImpactQuery {
    /// The old edition: a number or `latest`.
    from: String,
    /// The new edition: a number, `latest` or `draft`.
    to: String,
    /// `national`, `province` (default), `prefecture` or `county`.
    region_level: Option<String>,
    /// `all` (default), `section`, `division`, `group` or `class`.
    industry_level: Option<String>,
    /// `json` (default) or `csv` (also by `Accept: text/csv`).
    format: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/impact",
    tag = "runs",
    summary = "Impact of a new edition: the same registry and activity accounted under two editions",
    description = "Totals under both editions, largest change of emissions first; nothing is stored. Drafts need a token.",
    params(("set" = String, Path, description = "Coefficient set id"), ImpactQuery),
    request_body(content(("multipart/form-data"), ("application/json")), description = "The registry and the activity data, as for `POST /api/v1/runs`"),
    responses(
        (status = 200, description = "The impact report (JSON, or CSV)", body = Object),
        (status = 400, description = "A malformed parameter or a missing part", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The inputs have issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn impact(
    State(state): State<AppState>,
    Path(set): Path<String>,
    query: Result<Query<ImpactQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (_, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Reader, query, request).await?;
    let csv = wants_csv(query.format.as_deref(), &headers)?;
    let grouping = grouping(
        query.region_level.as_deref(),
        query.industry_level.as_deref(),
    )?;
    let (old_name, old) = impact_edition(&state, &set, &query.from).await?;
    let (new_name, new) = impact_edition(&state, &set, &query.to).await?;
    let (registry, activity) = inputs(&state, request).await?;
    let reference = state.reference.clone();
    let lines = tokio::task::spawn_blocking(move || {
        app::upload::impact_upload(
            &old,
            &new,
            registry.upload(),
            activity.upload(),
            grouping,
            &reference,
        )
    })
    .await
    .map_err(|e| ApiError::from(app::AppError::Internal(format!("impact failed: {e}"))))??;
    Ok(if csv {
        csv_response(app::editions::render_impact(
            &lines, &old_name, &new_name, true,
        ))
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            app::editions::impact_json(&lines, &old_name, &new_name),
        )
            .into_response()
    })
}

/// One edition of an impact report, with its name; drafts need a token.
/// An edition of the impact report (the caller holds a token: drafts may be compared too).
async fn impact_edition(
    state: &AppState,
    set: &str,
    edition: &str,
) -> Result<(String, Arc<CoefficientSet>), ApiError> {
    let selector = app::editions::selector(&format!("{set}@{edition}"), None, "effective")?;
    let info = app::editions::resolve(&state.store, &selector).await?;
    Ok((info.name(), load(state, &info).await?))
}

/// One of the permits for unpaged exports (see `AppState::exports`), held until the export's
/// body has been sent or dropped.
async fn export_permit(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.exports.clone().acquire_owned().await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is shutting down",
        )
    })
}

/// A body fed by a channel: the chunks of a streamed export.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(hyper::body::Frame::data)))
    }
}

/// A whole run's CSV as a streamed body: the first page is read before answering (so an
/// error there is still a proper error response); the rest is read a page at a time by a task
/// that waits for the client to take each chunk (one chunk buffered), so an export holds a
/// page or two however large the run. The export's permit goes with the task: it is released
/// when the export ends or the client goes away (the body is dropped, the task's next send
/// fails). An error after the first page can only cut the body short: it is logged and the
/// response ends with an error, which the client sees as an incomplete transfer.
async fn streamed_csv(
    mut export: app::runs::Export,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<Response, ApiError> {
    let first = export.next_chunk().await?.unwrap_or_default();
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    // The channel is empty and nobody else holds the sender: this cannot fail.
    let _ = sender.try_send(Ok(Bytes::from(first)));
    let run = export.run().id;
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let chunk = match export.next_chunk().await {
                Ok(Some(chunk)) => Ok(Bytes::from(chunk)),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(run, error = %e, "a run export failed after its first page");
                    Err(std::io::Error::other(e.to_string()))
                }
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        axum::body::Body::new(ChannelBody(receiver)),
    )
        .into_response())
}
