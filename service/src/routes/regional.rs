//! Regional totals over HTTP, as `npsc regional-totals` makes them: the industrial key units'
//! current emission and the non-key estimate from two stored runs and a stored key-unit list,
//! and, with the uploaded category files, the domestic, agricultural, centralized and mobile
//! parts, per region, pollutant and category, with shares and the change against the base year.
//! Nothing is stored.
//!
//! Any token (reader and up): the answer reads stored runs and a stored list that every reader
//! may already see, combined with files the caller brings; like the total-load check it computes
//! and stores nothing, so it is not an officer's act. The key-unit list is always a stored
//! edition (`key-units@1`): a client never names a path on the server.

use accounting::codes::RegionLevel;
use accounting::render::Precision;
use app::categories::{CategoryFile, CategoryFiles};
use app::keyunits::EstimateSettings;
use app::reference_tables::TableChoice;
use app::tokens::Role;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{self, Output, ProvenanceLine, ViewDto};
use super::{csv_response, upload};
use crate::{ApiError, AppState};

/// The regional-totals endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(regional_totals))
}

/// Every view the answer can hold, in the order `app` makes them; the category views exist only
/// with their files.
const VIEWS: [&str; 9] = [
    "categories",
    "shares",
    "estimate",
    "totals",
    "domestic",
    "domestic_balance",
    "livestock",
    "plants",
    "mobile",
];

/// The form parts the endpoint reads.
const PARTS: [&str; 5] = [
    "source_coefficients",
    "domestic",
    "livestock",
    "plants",
    "mobile",
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RegionalQuery {
    /// The stored run of the base year (key and non-key units).
    base_run: i64,
    /// The base year, when the base run has several.
    base_year: Option<u16>,
    /// The stored run of the current year (its key units are used).
    run: i64,
    /// The current year, when the run has several.
    year: Option<u16>,
    /// The stored key-unit list: `key-units@1`, `key-units@latest` (default) or another table's
    /// selector.
    key_units: Option<String>,
    /// The level at which the key units' ratio is formed (the list's level by default).
    level: Option<String>,
    /// The level of the totals: `province` (default), `prefecture`, `county` or `national`.
    report_level: Option<String>,
    /// A factor applied to every non-key estimate; needs `adjustment_note`.
    adjustment: Option<f64>,
    /// Why the adjustment is made (kept in the provenance).
    adjustment_note: Option<String>,
    /// A stored reconciliation whose numbers of record (statistics rule) replace the
    /// enterprises' coefficient estimates in both years, where it has one.
    numbers_of_record: Option<i64>,
    /// `all` (default) or one of `categories`, `shares`, `estimate`, `totals`, `domestic`,
    /// `domestic_balance`, `livestock`, `plants`, `mobile`; CSV needs one.
    view: Option<String>,
    /// `json` (default), `csv` (one view; also `Accept: text/csv`) or `xlsx` (also the
    /// spreadsheet `Accept`).
    format: Option<String>,
}

/// Regional totals by category.
#[derive(Serialize, ToSchema)]
struct RegionalDto {
    /// The base run, the current run, the list, the levels, the category files with their
    /// SHA-256, the rules and the years, in the order of the workbook's provenance sheet.
    provenance: Vec<ProvenanceLine>,
    /// The views asked for. Numbers are exact decimal strings.
    views: Vec<ViewDto>,
}

fn level(text: Option<&str>, what: &str) -> Result<Option<RegionLevel>, ApiError> {
    text.map(|t| {
        RegionLevel::parse(t).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{what}: `{}` is not national, province, prefecture or county",
                t.chars().take(40).collect::<String>()
            ))
        })
    })
    .transpose()
}

/// The settings a query asks for, checked before any upload is read.
fn settings(
    query: &RegionalQuery,
) -> Result<(EstimateSettings, RegionLevel, Option<&'static str>), ApiError> {
    let key_units = query
        .key_units
        .as_deref()
        .unwrap_or("key-units@latest")
        .trim();
    if key_units.is_empty() || key_units.contains(['/', '\\']) {
        return Err(ApiError::bad_request(
            "key_units: name a stored key-unit list, e.g. `key-units@1`",
        ));
    }
    let adjustment = match (query.adjustment, &query.adjustment_note) {
        (Some(f), Some(note)) => Some((f, note.clone())),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "adjustment and adjustment_note go together",
            ));
        }
    };
    let view = match query.view.as_deref() {
        None | Some("all") => None,
        Some(name) => Some(*VIEWS.iter().find(|v| **v == name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "view: `{}` is not one of `all`, `{}`",
                name.chars().take(40).collect::<String>(),
                VIEWS.join("`, `")
            ))
        })?),
    };
    Ok((
        EstimateSettings {
            base_run: query.base_run,
            base_year: query.base_year,
            current_run: query.run,
            current_year: query.year,
            key_units: TableChoice::Stored(key_units.to_string()),
            level: level(query.level.as_deref(), "level")?,
            adjustment,
            numbers_of_record: query.numbers_of_record,
        },
        level(query.report_level.as_deref(), "report_level")?.unwrap_or(RegionLevel::Province),
        view,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/regional-totals",
    tag = "statistics",
    summary = "Regional totals by source category: industrial key units and the non-key estimate, domestic, agricultural, centralized and mobile",
    description = "`npsc regional-totals`. The industrial part comes from two stored runs (`base_run`, `run`) and a stored key-unit list (`key_units`, default `key-units@latest`): key = the key units' current emission, non-key = the non-key base × the key units' current/base ratio × the optional adjustment. An optional multipart form adds the other categories: `source_coefficients` (类别, 来源, 行政区划代码, 污染物, 单位, 产污系数, 排污系数, 去除效率; needed by the next two), `domestic` and `livestock` (年份, 行政区划代码, 来源, 活动水平, 计量单位, 天数, 参数, 养殖规模), `plants` (年份, 行政区划代码, 设施名称, 设施类型, 污染物, 处理水量, 进水浓度(mg/L), 出水浓度(mg/L), 生活污水比例) and `mobile` (年份, 行政区划代码, 来源, 污染物, 排放量); CSV or Excel. Every category is activity × coefficient through the engine's one arithmetic (monitoring as Q × C × 10⁻⁶; the wastewater plants' domestic removal comes off the domestic emission), mobile as supplied. JSON (every view, or `view`), CSV of one view, or the workbook with a provenance sheet. Nothing is stored. Bad input gets 422 with every located issue.",
    params(RegionalQuery),
    request_body(content(("multipart/form-data")), description = "Optional: the category files"),
    responses(
        (status = 200, description = "Totals by category, shares, the industrial estimate and the detail views", content((RegionalDto = "application/json"), (String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A malformed or missing parameter, an unknown part, a report level finer than the inputs, or domestic/livestock files without `source_coefficients`", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run or key-unit list", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The files have issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn regional_totals(
    State(state): State<AppState>,
    query: Result<Query<RegionalQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (_, query, request) = upload::admit(&state, &headers, Role::Reader, query, request).await?;
    let checked = settings(&query).and_then(|(settings, report_level, view)| {
        let output = views::output(query.format.as_deref(), &headers)?;
        if output == Output::Csv && view.is_none() {
            return Err(ApiError::bad_request(format!(
                "CSV holds one view: add `view={}`, or ask for `format=xlsx`",
                VIEWS.join("|")
            )));
        }
        Ok((settings, report_level, view, output))
    });
    let (settings, report_level, view, output) = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(upload::refuse(request, e).await),
    };
    let parts = upload::read(&state, request, "file").await?;
    let mut files = CategoryFiles::default();
    for part in &parts {
        let file = CategoryFile::upload(views::as_upload(part), &part.field);
        let slot = match part.field.as_str() {
            "source_coefficients" => &mut files.coefficients,
            "domestic" => &mut files.domestic,
            "livestock" => &mut files.livestock,
            "plants" => &mut files.plants,
            "mobile" => &mut files.mobile,
            // An empty raw body is no file at all.
            "file" if part.bytes.is_empty() => continue,
            other => {
                return Err(ApiError::bad_request(format!(
                    "the form has a part `{}`; the parts are `{}`",
                    other.chars().take(40).collect::<String>(),
                    PARTS.join("`, `")
                )));
            }
        };
        if slot.replace(file).is_some() {
            return Err(ApiError::bad_request(format!(
                "the form has two parts named `{}`",
                part.field
            )));
        }
    }
    let estimate = app::keyunits::estimate(
        &state.store,
        &settings,
        &state.reference,
        &app::ReadOptions::default(),
    )
    .await?;
    let reference = state.reference.clone();
    let (sheets, provenance) = views::blocking("the regional totals", move || {
        let categories = if files.is_empty() {
            None
        } else {
            Some(app::categories::categories(
                &estimate,
                &files,
                report_level,
                &reference,
                &app::ReadOptions::default(),
            )?)
        };
        app::categories::regional_views(
            &estimate,
            categories.as_ref().map(|(area, report)| (area, report)),
            report_level,
            &reference,
            Precision::Exact,
        )
    })
    .await?;
    let chosen = |sheets: Vec<app::sheet::Sheet>| -> Result<Vec<app::sheet::Sheet>, ApiError> {
        match view {
            None => Ok(sheets),
            Some(name) => {
                let kept: Vec<_> = sheets.into_iter().filter(|s| s.name == name).collect();
                if kept.is_empty() {
                    Err(ApiError::bad_request(format!(
                        "there is no `{name}` view without its file"
                    )))
                } else {
                    Ok(kept)
                }
            }
        }
    };
    Ok(match output {
        Output::Xlsx => views::xlsx_response(
            app::sheet::render_xlsx(&sheets, &provenance)?,
            "regional-totals.xlsx",
        ),
        Output::Csv => {
            let sheets = chosen(sheets)?;
            let sheet = sheets
                .first()
                .ok_or_else(|| app::AppError::Internal("no view to send".to_string()))?;
            csv_response(app::sheet::render_csv(sheet)?)
        }
        Output::Json => Json(RegionalDto {
            provenance: views::provenance(&provenance),
            views: views::view_dtos(chosen(sheets)?),
        })
        .into_response(),
    })
}
