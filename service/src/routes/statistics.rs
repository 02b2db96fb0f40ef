//! Statistics from stored runs: totals by year, pollutant, region level and industry level,
//! aggregated from a run's stored totals (levels as coarse as the run's or coarser) or from its
//! per-row results (finer levels), with the run's provenance.

use accounting::render::{Precision, quantity};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::runs::RunDto;
use super::{bad_query, require_reader};
use super::{csv_response, wants_csv};
use crate::{ApiError, AppState};
use axum::extract::rejection::QueryRejection;

/// The statistics endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(statistics))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatisticsQuery {
    /// The run; the most recent one by default.
    run: Option<i64>,
    /// Only this year.
    year: Option<u16>,
    /// Only this pollutant, by code (`SO2`) or name (`二氧化硫`).
    pollutant: Option<String>,
    /// `national`, `province`, `prefecture` or `county`; the run's own by default.
    region_level: Option<String>,
    /// `all`, `section`, `division`, `group` or `class`; the run's own by default.
    industry_level: Option<String>,
    /// `json` (default) or `csv` (also by `Accept: text/csv`).
    format: Option<String>,
}

/// One line of statistics; numbers are exact decimal strings.
#[derive(Serialize, ToSchema)]
struct LineDto {
    year: u16,
    /// `None` at national level.
    region_code: Option<String>,
    region_name: String,
    /// `None` for all industries.
    industry_code: Option<String>,
    industry_name: String,
    pollutant_code: String,
    pollutant: String,
    unit: String,
    generated: String,
    emitted: String,
    /// Results covered.
    rows: u64,
    flagged_rows: u64,
}

/// Statistics of one run.
#[derive(Serialize, ToSchema)]
struct StatisticsDto {
    /// The run aggregated, with its edition and content hash.
    run: RunDto,
    region_level: &'static str,
    industry_level: &'static str,
    /// `totals` (the run's stored totals) or `results` (its per-row results).
    source: &'static str,
    lines: Vec<LineDto>,
}

#[utoipa::path(
    get,
    path = "/api/v1/statistics",
    tag = "statistics",
    summary = "Totals of a stored run by year, pollutant, region level and industry level",
    description = "Aggregated with compensated sums from the run's stored totals when the levels asked are as coarse as the run's own or coarser, from its per-row results otherwise (streamed, in bounded memory). Sorted by year, region, industry and pollutant.",
    params(StatisticsQuery),
    responses(
        (status = 200, description = "The statistics with the run's provenance (JSON), or CSV", body = StatisticsDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run, or no run at all", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn statistics(
    State(state): State<AppState>,
    query: Result<Query<StatisticsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Query(query) = query.map_err(bad_query)?;
    let csv = wants_csv(query.format.as_deref(), &headers)?;
    let wanted = app::runs::StatisticsQuery {
        run: query.run,
        year: query.year,
        pollutant: query.pollutant,
        region_level: query
            .region_level
            .as_deref()
            .map(app::account::parse_region_level)
            .transpose()?,
        industry_level: query
            .industry_level
            .as_deref()
            .map(app::account::parse_industry_level)
            .transpose()?,
    };
    let stats = app::runs::statistics(&state.store, &state.reference, &wanted).await?;
    if csv {
        return Ok(csv_response(app::runs::statistics_csv(&stats)));
    }
    Ok(Json(StatisticsDto {
        run: RunDto::from(&stats.run),
        region_level: stats.grouping.region.as_str(),
        industry_level: stats.grouping.industry.map(|l| l.as_str()).unwrap_or("all"),
        source: stats.source.as_str(),
        lines: stats
            .lines
            .iter()
            .map(|l| LineDto {
                year: l.year,
                region_code: l.region.map(|r| r.to_string()),
                region_name: l.region_name.clone(),
                industry_code: l.industry.as_ref().map(|i| i.to_string()),
                industry_name: l.industry_name.clone(),
                pollutant_code: l.pollutant_code.clone(),
                pollutant: l.pollutant_name.clone(),
                unit: l.unit.clone(),
                generated: quantity(l.generated, Precision::Exact),
                emitted: quantity(l.emitted, Precision::Exact),
                rows: l.rows,
                flagged_rows: l.flagged_rows,
            })
            .collect(),
    })
    .into_response())
}
