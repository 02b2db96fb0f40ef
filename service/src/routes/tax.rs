//! The environmental protection tax over HTTP, as `npsc tax` computes it: an officer uploads a
//! registry and monitored monthly emissions, or names a stored reconciliation whose numbers of
//! record (tax rule) are taxed; the answer is the quarterly declaration (one line per
//! enterprise, month, outlet and item) and the totals per enterprise and quarter, as JSON (money
//! as strings with two decimals), CSV of one view, or the Excel workbook with Chinese headers and
//! the provenance sheet. Nothing is stored.
//!
//! Officers only: a tax figure is an assessment of a named enterprise, not a statistic; readers
//! see the inputs (runs, reconciliations) but not the assessment.

use accounting::tax::Rounding;
use app::tax::{CountOverrides, Declaration, Particulates, TaxSettings, TaxTables};
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
use super::{bad_query, caller, csv_response, require, upload};
use crate::{ApiError, AppState};

/// The tax endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit_tax))
        .routes(routes!(reconciliation_tax))
}

/// The views of a declaration, in the order `app` makes them.
const VIEWS: [&str; 2] = ["declaration", "totals"];

/// The tax reference tables (the law's pollution equivalents, the rates by region, medium, item
/// and date, the item counts by region and date) every tax answer and the consistency check use:
/// the one place that obtains them. Each is the latest published edition in the database, or the
/// bundled table when the database has none, as `npsc tax` and `npsc check-consistency` choose
/// them by default; the provenance names which.
pub(super) async fn tax_tables(state: &AppState) -> Result<TaxTables, ApiError> {
    Ok(app::reference_tables::tax_tables(
        Some(&state.store),
        &app::reference_tables::TaxTableChoices::default(),
        &app::ReadOptions::default(),
    )
    .await?)
}

/// A declaration with its provenance.
#[derive(Serialize, ToSchema)]
struct TaxDto {
    /// `N declaration lines, M enterprise-quarters, tax X yuan`.
    summary: String,
    /// The tax of every line, yuan, with two decimals.
    total_tax: String,
    /// Tables and their SHA-256, inputs, rounding, item counts, particulates mapping, allocation.
    provenance: Vec<ProvenanceLine>,
    /// `declaration` (quarter, month, uscc, enterprise, county_code, outlet_id, medium, item, kg,
    /// equivalent_kg, equivalents, rank, taxed, rate, share, tax, note) and `totals` (quarter,
    /// uscc, enterprise, air_tax, water_tax, tax; a last line `合计`), or the one asked for.
    views: Vec<ViewDto>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TaxQuery {
    /// `tax-per-item` (default: equivalents exact, each item's tax rounded to 0.01 yuan) or
    /// `equivalents-first` (equivalents rounded to 0.01 first).
    rounding: Option<String>,
    /// What 颗粒物 is taxed as: `烟尘` (default; also `soot`) or `一般性粉尘` (`dust`).
    particulates: Option<String>,
    /// Air items taxed per outlet in every region, instead of the item-count table's (the law:
    /// 3; a province may raise it, never lower it).
    air_items: Option<usize>,
    /// Water class I items taxed per outlet in every region (the law: 5).
    water_class_one_items: Option<usize>,
    /// Other water items taxed per outlet in every region (the law: 3).
    water_other_items: Option<usize>,
    /// `all` (default), `declaration` or `totals`; CSV needs one.
    view: Option<String>,
    /// `json` (default), `csv` (one view; also `Accept: text/csv`) or `xlsx` (also `Accept:
    /// application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RecordsTaxQuery {
    /// Only this year's numbers of record.
    year: Option<u16>,
    /// `tax-per-item` (default) or `equivalents-first`.
    rounding: Option<String>,
    /// What 颗粒物 is taxed as: `烟尘` (default) or `一般性粉尘`.
    particulates: Option<String>,
    /// Air items taxed per outlet in every region, instead of the item-count table's.
    air_items: Option<usize>,
    /// Water class I items taxed per outlet in every region.
    water_class_one_items: Option<usize>,
    /// Other water items taxed per outlet in every region.
    water_other_items: Option<usize>,
    /// `all` (default), `declaration` or `totals`; CSV needs one.
    view: Option<String>,
    /// `json` (default), `csv` or `xlsx` (also by `Accept`).
    format: Option<String>,
}

/// The choices of `npsc tax` (`--rounding`, `--particulates`, `--air-items`,
/// `--water-class-one-items`, `--water-other-items`); counts given replace the item-count table's
/// for every region and may not be below the law's.
fn settings(
    rounding: Option<&str>,
    particulates: Option<&str>,
    counts: [Option<usize>; 3],
) -> Result<TaxSettings, ApiError> {
    let counts = CountOverrides {
        air: counts[0],
        water_class_one: counts[1],
        water_other: counts[2],
    };
    counts.check()?;
    let rounding = match rounding {
        None | Some("tax-per-item") => Rounding::TaxPerItem,
        Some("equivalents-first") => Rounding::EquivalentsFirst,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "rounding: `{}` is neither `tax-per-item` nor `equivalents-first`",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let particulates = match particulates {
        None => Particulates::default(),
        Some(text) => Particulates::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "particulates: `{}` is not 烟尘 (soot) or 一般性粉尘 (dust)",
                text.chars().take(40).collect::<String>()
            ))
        })?,
    };
    Ok(TaxSettings {
        counts,
        rounding,
        particulates,
    })
}

/// The answer: the chosen views as JSON or CSV, or the workbook (both views with Chinese
/// headers and the provenance sheet).
fn respond(
    declaration: &Declaration,
    provenance: &[(String, String)],
    view: Option<usize>,
    output: Output,
    file_name: &str,
) -> Result<Response, ApiError> {
    Ok(match output {
        Output::Xlsx => {
            views::xlsx_response(app::tax::workbook(declaration, provenance)?, file_name)
        }
        Output::Csv => {
            let sheets = views::keep(declaration.sheets(), view);
            let sheet = sheets
                .first()
                .ok_or_else(|| app::AppError::Internal("no view to send".to_string()))?;
            csv_response(app::sheet::render_csv(sheet)?)
        }
        Output::Json => Json(TaxDto {
            summary: declaration.summary(),
            total_tax: app::tax::money(declaration.total()),
            provenance: views::provenance(provenance),
            views: views::view_dtos(views::keep(declaration.sheets(), view)),
        })
        .into_response(),
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/tax",
    tag = "tax",
    summary = "The environmental protection tax of uploaded monitored monthly emissions (officer)",
    description = "A multipart form with the parts `registry` (each enterprise's region selects its rates) and `emissions` (`uscc, outlet_id, pollutant, month` as `2024-03`, `kg`; optionally `concentration, standard, exceeded`), CSV or Excel, the format told by the file name or the part's content type: `npsc tax --emissions`. Per outlet and month: equivalents = kg ÷ the law's equivalent value; the top 3 air items, the top 5 water class I and top 3 other water items (only the largest of COD, BOD5, TOC); the rate of the enterprise's region in force on the month's first day; the Art. 13 reductions. Money is computed in decimals and sent as strings with two decimals. JSON (both views, or `view`), CSV of one view (`view=declaration|totals&format=csv`), or the workbook (`format=xlsx` or `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`) with Chinese headers and a provenance sheet (the tables' and inputs' SHA-256, rounding, item counts, particulates mapping). Nothing is stored. Bad input gets 422 with every located issue (file, row, column, value).",
    params(TaxQuery),
    request_body(content(("multipart/form-data")), description = "The registry and the monitored emissions"),
    responses(
        (status = 200, description = "The declaration and the quarterly totals", content((TaxDto = "application/json"), (String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A malformed or out-of-range parameter, or a missing part", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an officer's or an administrator's", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The inputs have issues (also: an enterprise not in the registry, a region without a rate); all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn submit_tax(
    State(state): State<AppState>,
    query: Result<Query<TaxQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (_, query, request) =
        upload::admit(&state, &headers, Role::Officer, query, request).await?;
    let checked = settings(
        query.rounding.as_deref(),
        query.particulates.as_deref(),
        [
            query.air_items,
            query.water_class_one_items,
            query.water_other_items,
        ],
    )
    .and_then(|s| {
        let output = views::output(query.format.as_deref(), &headers)?;
        let view = views::chosen(query.view.as_deref(), &VIEWS, output)?;
        Ok((s, output, view))
    });
    let (settings, output, view) = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(upload::refuse(request, e).await),
    };
    let mut parts = upload::read(&state, request, "file").await?;
    let registry = upload::take(&mut parts, "registry")?;
    let emissions = upload::take(&mut parts, "emissions")?;
    let tables = tax_tables(&state).await?;
    let reference = state.reference.clone();
    let outcome = views::blocking("the tax", move || {
        app::uploaded::tax_upload(
            views::as_upload(&registry),
            views::as_upload(&emissions),
            &reference,
            &tables,
            settings,
        )
    })
    .await?;
    respond(
        &outcome.declaration,
        &outcome.provenance,
        view,
        output,
        "tax.xlsx",
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/reconciliations/{id}/tax",
    tag = "tax",
    summary = "The environmental protection tax of a stored reconciliation's numbers of record (officer)",
    description = "The reconciliation's numbers of record under the tax rule (Art. 10: automatic monitoring, then monitoring-agency data, then coefficients or material balance), of `year` or every year, allocated to months in equal twelfths (no concentrations, so no Art. 13 reduction) and taxed per outlet with each enterprise's county from the stored registry: `npsc tax --reports`. A stored reconciliation keeps each number of record with the outlets it rests on but not each outlet's share: one resting on several outlets is taxed as one outlet named `DA001+DA002` (said in the provenance). Same options and formats as `POST /api/v1/tax`. Nothing is stored.",
    params(("id" = i64, Path, description = "Reconciliation id"), RecordsTaxQuery),
    responses(
        (status = 200, description = "The declaration and the quarterly totals", content((TaxDto = "application/json"), (String = "text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A malformed or out-of-range parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an officer's or an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such reconciliation", body = crate::error::ErrorBody),
        (status = 422, description = "An enterprise is not in the stored registry, or its region has no rate; every one is listed, located in the records view", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn reconciliation_tax(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    query: Result<Query<RecordsTaxQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&caller(&state, &headers).await?, Role::Officer)?;
    let Path(id) = id.map_err(views::bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let settings = settings(
        query.rounding.as_deref(),
        query.particulates.as_deref(),
        [
            query.air_items,
            query.water_class_one_items,
            query.water_other_items,
        ],
    )?;
    let output = views::output(query.format.as_deref(), &headers)?;
    let view = views::chosen(query.view.as_deref(), &VIEWS, output)?;
    let tables = tax_tables(&state).await?;
    let (_, outcome) = app::uploaded::tax_of_reconciliation(
        &state.store,
        id,
        query.year,
        &state.reference,
        &tables,
        settings,
    )
    .await?;
    respond(
        &outcome.declaration,
        &outcome.provenance,
        view,
        output,
        &format!("reconciliation-{id}-tax.xlsx"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_law_and_refuse_lower_counts() {
        let s = settings(None, None, [None; 3]).expect("defaults");
        assert_eq!(s, TaxSettings::default());
        let s = settings(
            Some("equivalents-first"),
            Some("一般性粉尘"),
            [Some(4), None, None],
        )
        .expect("raised");
        assert_eq!(s.rounding, Rounding::EquivalentsFirst);
        assert_eq!(s.particulates, Particulates::GeneralDust);
        assert_eq!(s.counts.air, Some(4));
        assert_eq!(s.counts.water_other, None);
        assert!(settings(None, None, [Some(2), None, None]).is_err());
        assert!(settings(None, None, [None, None, Some(2)]).is_err());
        assert!(settings(Some("nearest"), None, [None; 3]).is_err());
        assert!(settings(None, Some("颗粒物"), [None; 3]).is_err());
    }
}
