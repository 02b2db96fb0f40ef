//! Total-load control over HTTP, as `npsc quota --run N` computes it: a stored run's totals
//! against uploaded caps (per region × pollutant × year), progress against the reduction targets
//! and, given permit execution reports, the enterprises above their permitted quantity. Nothing
//! is stored.
//!
//! Any token (reader and up): the answer is a reading of a stored run that every reader may
//! already see, set against caps the caller brings; like the impact report it computes and
//! stores nothing, so it is not an officer's act.

use accounting::render::Precision;
use app::tokens::Role;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{self, Output, ProvenanceLine, ViewDto};
use super::{csv_response, upload};
use crate::{ApiError, AppState};

/// The total-load endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_quota))
}

/// The views of a total-load report, in the order `app` makes them.
const VIEWS: [&str; 3] = ["ledger", "progress", "permits"];

/// The base year of the targets when none is given (the 14th five-year plan's).
const BASE_YEAR: u16 = 2020;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QuotaQuery {
    /// The base year of the reduction targets (default 2020).
    base_year: Option<u16>,
    /// `all` (default), `ledger`, `progress` or `permits`; CSV needs one.
    view: Option<String>,
    /// `json` (default), `csv` (one view; also `Accept: text/csv`) or `xlsx` (also `Accept:
    /// application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
    format: Option<String>,
}

/// A total-load report of a stored run.
#[derive(Serialize, ToSchema)]
struct QuotaDto {
    /// The run whose totals were checked.
    run: i64,
    /// The edition's content hash the totals carry.
    content_hash: String,
    /// Caps exceeded, progress lines behind target, enterprises above their permitted quantity.
    summary: String,
    /// The run and its edition, the inputs as `upload:<file name>` with their SHA-256, the
    /// targets, the base year.
    provenance: Vec<ProvenanceLine>,
    /// `ledger` (total, cap, utilization, headroom per region × pollutant × year, tonnes),
    /// `progress` (against the reduction targets) and `permits` (enterprises above their
    /// permitted quantity; the sheet is named `above_permitted`), or the one asked for. Numbers
    /// are exact decimal strings.
    views: Vec<ViewDto>,
}

#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/quota",
    tag = "total-load",
    summary = "A stored run's totals against uploaded caps, progress against the reduction targets, enterprises above their permitted quantity",
    description = "`npsc quota --run N`. A multipart form with the part `caps` (行政区划代码, 污染物, 年份, 总量控制指标(吨); CSV or Excel, any region level: the run must be grouped at the caps' level or finer), optionally `targets` (污染物, 减排目标(%); the 14th five-year plan's when absent: COD and NH3-N −8 %, NOx and VOCs −10 % against 2020) and, for the enterprises above their permitted quantity, `registry` with `reports` (permit execution reports with 许可排放量), compared with the run's own per-row results. JSON (every view, or `view`), CSV of one view, or the workbook (`format=xlsx` or the spreadsheet `Accept`) with a provenance sheet. Nothing is stored. Bad input gets 422 with every located issue.",
    params(("id" = i64, Path, description = "Run id"), QuotaQuery),
    request_body(content(("multipart/form-data")), description = "The caps, and optionally the targets, the registry and the permit execution reports"),
    responses(
        (status = 200, description = "Ledger, progress and enterprises above their permitted quantity", content((QuotaDto = "application/json"), (String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A malformed parameter, a missing part, `registry` without `reports` (or the reverse), or a run grouped more coarsely than the caps", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The inputs have issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run_quota(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<QuotaQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (_, query, request) = upload::admit(&state, &headers, Role::Reader, query, request).await?;
    let checked = id.map_err(views::bad_path).and_then(|Path(id)| {
        let output = views::output(query.format.as_deref(), &headers)?;
        let view = views::chosen(query.view.as_deref(), &VIEWS, output)?;
        Ok((id, output, view))
    });
    let (id, output, view) = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(upload::refuse(request, e).await),
    };
    let mut parts = upload::read(&state, request, "file").await?;
    let caps = upload::take(&mut parts, "caps")?;
    let targets = views::take_optional(&mut parts, "targets");
    let permits = match (
        views::take_optional(&mut parts, "registry"),
        views::take_optional(&mut parts, "reports"),
    ) {
        (Some(registry), Some(reports)) => Some((registry, reports)),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "the enterprises above their permitted quantity need both the `registry` and \
                 the `reports` parts",
            ));
        }
    };
    let uploads = app::uploaded::QuotaUploads {
        caps: views::as_upload(&caps),
        targets: targets.as_ref().map(views::as_upload),
        permits: permits
            .as_ref()
            .map(|(registry, reports)| (views::as_upload(registry), views::as_upload(reports))),
        base_year: query.base_year.unwrap_or(BASE_YEAR),
    };
    let outcome = app::uploaded::quota_upload(&state.store, id, uploads, &state.reference).await?;
    let sheets = outcome.report.sheets(&state.reference, Precision::Exact);
    Ok(match output {
        Output::Xlsx => views::xlsx_response(
            app::sheet::render_xlsx(&sheets, &outcome.provenance)?,
            &format!("run-{id}-quota.xlsx"),
        ),
        Output::Csv => {
            let sheets = views::keep(sheets, view);
            let sheet = sheets
                .first()
                .ok_or_else(|| app::AppError::Internal("no view to send".to_string()))?;
            csv_response(app::sheet::render_csv(sheet)?)
        }
        Output::Json => Json(QuotaDto {
            run: id,
            content_hash: outcome.report.content_hash.clone(),
            summary: outcome.report.summary(),
            provenance: views::provenance(&outcome.provenance),
            views: views::view_dtos(views::keep(sheets, view)),
        })
        .into_response(),
    })
}
