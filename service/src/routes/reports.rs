//! The statistician's report of a stored run over HTTP, as `npsc report --run N` makes it: the
//! sheets 按地区, 按行业, 按污染物 and 同比 with Chinese headers naming their units, as JSON, CSV of
//! one sheet or the Excel workbook with its provenance sheet; and the SVG charts (regional bars
//! of one pollutant in one year, year-over-year index lines).
//!
//! The charts are plain SVG text drawn by `app::report` (presentation attributes only: no script,
//! no style element, no external reference). They are served with a policy of their own
//! (`default-src 'none'`, sandboxed) and `nosniff`, so that opened directly they can run nothing.
//! A web page, whose policy allows images from its origin and `data:` only, fetches a chart with
//! its token and shows it as a `data:` image.

use accounting::codes::RegionCode;
use accounting::codes::{IndustryLevel, RegionLevel};
use app::report::StatisticsReport;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{self, Output, ProvenanceLine, ViewDto};
use super::{bad_query, csv_response, require_reader};
use crate::{ApiError, AppState};

/// The report endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_report))
        .routes(routes!(regional_chart))
        .routes(routes!(year_over_year_chart))
}

/// The sheets of the report, in the order `app` makes them (按地区, 按行业, 按污染物, 同比).
const VIEWS: [&str; 4] = ["by-region", "by-industry", "by-pollutant", "year-over-year"];

/// The policy of a chart: it may load nothing and run nothing, nor be framed.
const SVG_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Region and industry levels as `npsc report` takes them: province and all industries by
/// default.
fn levels(
    region: Option<&str>,
    industry: Option<&str>,
) -> Result<(RegionLevel, Option<IndustryLevel>), ApiError> {
    let region = match region {
        Some(text) => app::account::parse_region_level(text)?,
        None => RegionLevel::Province,
    };
    let industry = match industry {
        Some(text) => app::account::parse_industry_level(text)?,
        None => None,
    };
    Ok((region, industry))
}

/// The report of stored run `id` at these levels.
async fn report(
    state: &AppState,
    id: i64,
    levels: (RegionLevel, Option<IndustryLevel>),
) -> Result<StatisticsReport, ApiError> {
    Ok(StatisticsReport::from_run(
        &state.store,
        &state.reference,
        id,
        levels.0,
        levels.1,
        vec![],
    )
    .await?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportQuery {
    /// `national`, `province` (default), `prefecture` or `county`: the rows of 按地区.
    region_level: Option<String>,
    /// `all` (default), `section`, `division`, `group` or `class`: the rows of 按行业.
    industry_level: Option<String>,
    /// The year of 同比 (against the year before); the latest by default.
    year: Option<u16>,
    /// `all` (default), `by-region`, `by-industry`, `by-pollutant` or `year-over-year`; CSV
    /// needs one.
    view: Option<String>,
    /// `json` (default), `csv` (one sheet; also `Accept: text/csv`) or `xlsx` (also `Accept:
    /// application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
    format: Option<String>,
}

/// The report's sheets.
#[derive(Serialize, ToSchema)]
struct ReportDto {
    run: i64,
    region_level: &'static str,
    industry_level: &'static str,
    /// The year of 同比.
    year: u16,
    /// The run, its edition and content hash, its inputs and their SHA-256, its options.
    provenance: Vec<ProvenanceLine>,
    /// 按地区, 按行业, 按污染物 and 同比 (or the one asked for): Chinese headers naming their
    /// units, numbers as decimal strings.
    views: Vec<ViewDto>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/report",
    tag = "statistics",
    summary = "The statistics report of a stored run: by region, by industry, by pollutant, year over year",
    description = "`npsc report --run N`: the run's totals (or its per-row results, for levels finer than the run's) summed by region at `region_level` (two columns per pollutant, e.g. `二氧化硫排放量（吨）`), by industry at `industry_level` (national), by pollutant (national, with 削减量 and 去除率（%）) and year over year (`year` against the year before, per region × pollutant, national first). JSON (every sheet, or `view`), CSV of one sheet, or the Excel workbook (`format=xlsx` or the spreadsheet `Accept`) with the provenance sheet.",
    params(("id" = i64, Path, description = "Run id"), ReportQuery),
    responses(
        (status = 200, description = "The report", content((ReportDto = "application/json"), (String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A malformed parameter, or a year the run does not hold", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run_report(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<ReportQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Path(id) = id.map_err(views::bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let output = views::output(query.format.as_deref(), &headers)?;
    let view = views::chosen(query.view.as_deref(), &VIEWS, output)?;
    let levels = levels(
        query.region_level.as_deref(),
        query.industry_level.as_deref(),
    )?;
    let report = report(&state, id, levels).await?;
    let year = report.current_year(query.year)?;
    Ok(match output {
        Output::Xlsx => {
            let bytes = views::blocking("the report", move || report.xlsx(year)).await?;
            views::xlsx_response(bytes, &format!("run-{id}-report.xlsx"))
        }
        Output::Csv => {
            let sheets = views::keep(report.sheets(year), view);
            let sheet = sheets
                .first()
                .ok_or_else(|| app::AppError::Internal("no sheet to send".to_string()))?;
            csv_response(app::sheet::render_csv(sheet)?)
        }
        Output::Json => Json(ReportDto {
            run: id,
            region_level: levels.0.as_str(),
            industry_level: levels.1.map_or("all", |l| l.as_str()),
            year,
            provenance: views::provenance(&report.provenance),
            views: views::view_dtos(views::keep(report.sheets(year), view)),
        })
        .into_response(),
    })
}

/// An SVG chart with its own policy.
fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CONTENT_SECURITY_POLICY, SVG_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        svg,
    )
        .into_response()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RegionalQuery {
    /// The pollutant, by code (`SO2`, the default) or name (`二氧化硫`).
    pollutant: Option<String>,
    /// The year; the latest by default.
    year: Option<u16>,
    /// `national`, `province` (default), `prefecture` or `county`: one bar per region.
    region_level: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/charts/regional",
    tag = "statistics",
    summary = "SVG bars of one pollutant's emitted quantity per region in one year",
    description = "The regional bars of `npsc report --svg-dir`: one bar per region at `region_level`, labelled with its value (three decimals) and name; the title and axis name the unit. `image/svg+xml`, with `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; sandbox`.",
    params(("id" = i64, Path, description = "Run id"), RegionalQuery),
    responses(
        (status = 200, description = "The chart", content(("image/svg+xml"))),
        (status = 400, description = "A malformed parameter, an unknown pollutant, or no total of it in the year", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn regional_chart(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<RegionalQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Path(id) = id.map_err(views::bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let name = query.pollutant.as_deref().unwrap_or("SO2");
    let pollutant = state.reference.pollutants.lookup(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "pollutant: `{}` is not a pollutant of npsc's list (a code such as `SO2` or a name such as `二氧化硫`)",
            name.chars().take(40).collect::<String>()
        ))
    })?;
    let levels = levels(query.region_level.as_deref(), None)?;
    let report = report(&state, id, levels).await?;
    let year = report.current_year(query.year)?;
    Ok(svg_response(report.regional_bars_svg(pollutant, year)?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct YearOverYearQuery {
    /// A region code at `region_level` (e.g. `130000`); national when omitted.
    region: Option<String>,
    /// `national`, `province` (default), `prefecture` or `county`.
    region_level: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/charts/year-over-year",
    tag = "statistics",
    summary = "SVG lines of each pollutant's emitted quantity across the run's years, as an index",
    description = "The year-over-year lines of `npsc report --svg-dir`: one line per pollutant as an index (the first year = 100) so that tonnes and 万标立方米 share the axis, points labelled with the values; national, or one region (`region`, a code at `region_level`). `image/svg+xml`, with `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; sandbox`.",
    params(("id" = i64, Path, description = "Run id"), YearOverYearQuery),
    responses(
        (status = 200, description = "The chart", content(("image/svg+xml"))),
        (status = 400, description = "A malformed parameter, or a region without totals at the level", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn year_over_year_chart(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<YearOverYearQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_reader(&state, &headers).await?;
    let Path(id) = id.map_err(views::bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let region = query
        .region
        .as_deref()
        .map(|text| {
            RegionCode::parse(text).map_err(|_| {
                ApiError::bad_request(format!(
                    "region: `{}` is not a six-digit region code",
                    text.chars().take(40).collect::<String>()
                ))
            })
        })
        .transpose()?;
    let levels = levels(query.region_level.as_deref(), None)?;
    let report = report(&state, id, levels).await?;
    Ok(svg_response(report.yoy_lines_svg(region)?))
}
