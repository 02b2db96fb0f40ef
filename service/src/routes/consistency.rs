//! The "same numbers" check of a stored run over HTTP, as `npsc check-consistency RUN` makes it:
//! the run's statistics totals, the per-enterprise sums of its per-row results, the tax input
//! made from them and the province totals of the total-load ledger, compared per pollutant and
//! year (and per enterprise for the tax), all under the run's edition hash.

use accounting::render::{Precision, quantity};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::require_reader;
use super::tax::tax_tables;
use super::views;
use crate::{ApiError, AppState};

/// The consistency endpoint.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_consistency))
}

/// One compared quantity.
#[derive(Serialize, ToSchema)]
struct CheckDto {
    /// `statistics`, `tax` or `ledger`.
    path: &'static str,
    /// What is compared, e.g. `2023 二氧化硫` or `2023 91130109MAK4GR6066 二氧化硫`.
    what: String,
    /// The sum of the enterprise results (exact decimal string, the pollutant's report unit; kg
    /// on the tax path).
    expected: String,
    /// The other path's value.
    found: String,
    /// Within 1e-9 relative.
    agrees: bool,
}

/// The outcome of the check.
#[derive(Serialize, ToSchema)]
struct ConsistencyDto {
    run: i64,
    /// The edition hash every path used.
    content_hash: String,
    /// Whether every comparison agrees.
    holds: bool,
    /// Per path: how many compared, how many disagree; and the verdict.
    summary: String,
    /// Every comparison.
    checks: Vec<CheckDto>,
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/consistency",
    tag = "runs",
    summary = "Whether a run's statistics, tax input and total-load ledger are the same numbers",
    description = "`npsc check-consistency RUN`: the run's stored totals summed over regions against the enterprise totals of its per-row results (statistics), the enterprise totals turned into the tax input (numbers of record per outlet allocated to months in kg) and summed back (tax), and the province totals the ledger uses against the enterprise totals rolled up by region (ledger); agreement within 1e-9 relative. 200 whether or not it holds: `holds` says.",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "Every comparison and the verdict", body = ConsistencyDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such run", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn run_consistency(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
) -> Result<Json<ConsistencyDto>, ApiError> {
    require_reader(&state, &headers).await?;
    let Path(id) = id.map_err(views::bad_path)?;
    let tables = tax_tables(&state).await?;
    let report = app::consistency::check(&state.store, id, &state.reference, &tables).await?;
    Ok(Json(ConsistencyDto {
        run: report.run,
        content_hash: report.content_hash.clone(),
        holds: report.holds(),
        summary: report.summary(),
        checks: report
            .checks
            .iter()
            .map(|c| CheckDto {
                path: c.path,
                what: c.what.clone(),
                expected: quantity(c.expected, Precision::Exact),
                found: quantity(c.found, Precision::Exact),
                agrees: c.agrees,
            })
            .collect(),
    }))
}
