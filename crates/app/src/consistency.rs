//! The "same numbers" check of one stored run: the statistics totals, the per-enterprise
//! results, the tax input built from them and the total-load ledger's regional totals must add
//! up to the same quantities per pollutant and year, and every path must name the run's edition
//! hash.
//!
//! For every enterprise × pollutant × year the per-row results are summed (the statistics
//! enterprise total). Then:
//! - **statistics**: the run's stored totals, summed over regions, equal the enterprise totals
//!   summed over enterprises, per pollutant and year;
//! - **tax**: the enterprise totals as numbers of record under the tax rule (coefficient basis,
//!   per outlet), turned into monthly emissions by [`crate::tax::from_records`] (twelfths, kg),
//!   sum back to the enterprise total for every taxable pollutant;
//! - **total-load ledger**: the province totals the ledger uses (the run's totals rolled up to
//!   provinces) equal the enterprise totals rolled up by the enterprises' regions.
//!
//! Agreement is within 1e-9 relative (the sums are taken in different orders).

use std::collections::BTreeMap;

use accounting::codes::Uscc;
use accounting::permit::{Basis, Record, RecordPart, RecordRule};
use ingest::reference::Reference;

use crate::AppError;
use crate::editions::Store;

/// One compared quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// `statistics`, `tax` or `ledger`.
    pub path: &'static str,
    /// What is compared, e.g. `2023 二氧化硫` or `2023 91130109MAK4GR6066 二氧化硫`.
    pub what: String,
    /// The enterprise-total side.
    pub expected: f64,
    /// The other path's value.
    pub found: f64,
    /// Whether they agree.
    pub agrees: bool,
}

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct Consistency {
    /// The run.
    pub run: i64,
    /// The edition hash every path used.
    pub content_hash: String,
    /// Every comparison.
    pub checks: Vec<Check>,
}

impl Consistency {
    /// Whether everything agrees.
    pub fn holds(&self) -> bool {
        self.checks.iter().all(|c| c.agrees)
    }

    /// A line per path: how many comparisons and how many disagree.
    pub fn summary(&self) -> String {
        let mut by_path: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for c in &self.checks {
            let entry = by_path.entry(c.path).or_default();
            entry.0 += 1;
            entry.1 += usize::from(!c.agrees);
        }
        let parts: Vec<String> = by_path
            .iter()
            .map(|(path, (n, bad))| format!("{path}: {n} compared, {bad} disagree"))
            .collect();
        format!(
            "run {} (edition sha256 {}): {}; {}",
            self.run,
            self.content_hash,
            parts.join("; "),
            if self.holds() {
                "the same numbers"
            } else {
                "NOT the same numbers"
            }
        )
    }
}

/// Both sides of a comparison, before summing: (from the enterprise results, from the other path).
type Sides = (Vec<f64>, Vec<f64>);

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn compensated(values: impl IntoIterator<Item = f64>) -> f64 {
    values
        .into_iter()
        .collect::<accounting::totals::CompensatedSum>()
        .value()
}

/// Checks stored run `run`.
pub async fn check(
    store: &Store,
    run: i64,
    reference: &Reference,
    tables: &crate::tax::TaxTables,
) -> Result<Consistency, AppError> {
    let info = store.run(run).await?;
    let results = store.run_results(run).await?;
    let totals = store.run_totals(run).await?;
    compare(
        run,
        info.run.content_hash,
        &results,
        &totals,
        reference,
        tables,
    )
}

/// [`check`] on a run's results and totals already loaded (pure but for the tax tables).
pub fn compare(
    run: i64,
    content_hash: String,
    results: &[store::runs::ResultRecord],
    totals: &[store::runs::TotalRecord],
    reference: &Reference,
    tables: &crate::tax::TaxTables,
) -> Result<Consistency, AppError> {
    // Enterprise totals and their per-outlet parts.
    type Key = (u16, String, String); // year, uscc, pollutant code
    let mut enterprise: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut outlets: BTreeMap<Key, BTreeMap<Option<String>, Vec<f64>>> = BTreeMap::new();
    let mut regions: BTreeMap<String, String> = BTreeMap::new();
    for r in results {
        let key = (r.year, r.uscc.clone(), r.pollutant.clone());
        enterprise.entry(key.clone()).or_default().push(r.emitted);
        outlets
            .entry(key)
            .or_default()
            .entry(r.outlet_id.clone())
            .or_default()
            .push(r.emitted);
        regions.insert(r.uscc.clone(), r.region_code.clone());
    }
    let enterprise: BTreeMap<Key, f64> = enterprise
        .into_iter()
        .map(|(k, v)| (k, compensated(v)))
        .collect();
    let name = |code: &str| {
        reference
            .pollutants
            .lookup(code)
            .map(|id| reference.pollutants.get(id).name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let mut checks = Vec::new();

    // Statistics: stored totals vs enterprise totals, per year and pollutant.
    let mut national: BTreeMap<(u16, String), Sides> = BTreeMap::new();
    for t in totals {
        national
            .entry((t.year, t.pollutant.clone()))
            .or_default()
            .1
            .push(t.emitted);
    }
    for ((year, _, pollutant), value) in &enterprise {
        national
            .entry((*year, pollutant.clone()))
            .or_default()
            .0
            .push(*value);
    }
    for ((year, pollutant), (from_enterprises, from_totals)) in national {
        let (expected, found) = (compensated(from_enterprises), compensated(from_totals));
        checks.push(Check {
            path: "statistics",
            what: format!("{year} {}", name(&pollutant)),
            expected,
            found,
            agrees: agree(expected, found),
        });
    }

    // Total-load ledger: province totals from the stored totals vs enterprises by region.
    let mut provinces: BTreeMap<(u16, String, String), Sides> = BTreeMap::new();
    let province = |code: &str| format!("{}0000", &code[..2.min(code.len())]);
    for t in totals {
        if let Some(region) = &t.region_code {
            provinces
                .entry((t.year, province(region), t.pollutant.clone()))
                .or_default()
                .1
                .push(t.emitted);
        }
    }
    if totals.iter().all(|t| t.region_code.is_some()) {
        for ((year, uscc, pollutant), value) in &enterprise {
            if let Some(region) = regions.get(uscc) {
                provinces
                    .entry((*year, province(region), pollutant.clone()))
                    .or_default()
                    .0
                    .push(*value);
            }
        }
        for ((year, province, pollutant), (from_enterprises, from_totals)) in provinces {
            let (expected, found) = (compensated(from_enterprises), compensated(from_totals));
            checks.push(Check {
                path: "ledger",
                what: format!("{year} {province} {}", name(&pollutant)),
                expected,
                found,
                agrees: agree(expected, found),
            });
        }
    }

    // Tax: the enterprise totals as numbers of record (per outlet), allocated to months in kg,
    // summed back per enterprise, pollutant and year.
    let mut records = Vec::new();
    for ((year, uscc, pollutant), parts) in &outlets {
        let (Ok(uscc), Some(pollutant)) =
            (Uscc::parse(uscc), reference.pollutants.lookup(pollutant))
        else {
            continue;
        };
        let parts: Vec<RecordPart> = parts
            .iter()
            .map(|(outlet, values)| RecordPart {
                outlet_id: outlet.clone(),
                value: compensated(values.iter().copied()),
                basis: Basis::CoefficientEstimate,
                source: format!("run {run}"),
            })
            .collect();
        records.push(Record {
            uscc,
            pollutant,
            year: *year,
            rule: RecordRule::Tax,
            value: parts.iter().map(|p| p.value).sum(),
            parts,
        });
    }
    let allocated = crate::tax::from_records(
        &records,
        None,
        reference,
        tables,
        ingest::tax::Particulates::default(),
    )?;
    let mut monthly: BTreeMap<(u16, String, String), Vec<f64>> = BTreeMap::new();
    for row in &allocated.rows {
        let kg: f64 = row.kg.to_string().parse().unwrap_or(f64::NAN);
        monthly
            .entry((row.month.0, row.uscc.to_string(), row.pollutant.clone()))
            .or_default()
            .push(kg);
    }
    let kg =
        accounting::units::Unit::parse("千克").map_err(|e| AppError::Internal(e.to_string()))?;
    for ((year, uscc, pollutant), value) in &enterprise {
        let Some(id) = reference.pollutants.lookup(pollutant) else {
            continue;
        };
        let def = reference.pollutants.get(id);
        let Some(months) = monthly.get(&(*year, uscc.clone(), def.name.clone())) else {
            continue; // not taxable (listed by the allocation as skipped)
        };
        let expected = def.report_unit.convert(*value, &kg).unwrap_or(f64::NAN);
        let found = compensated(months.iter().copied());
        checks.push(Check {
            path: "tax",
            what: format!("{year} {uscc} {}", def.name),
            expected,
            found,
            agrees: agree(expected, found),
        });
    }
    Ok(Consistency {
        run,
        content_hash,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample, stored as a run, holds; a total nudged by one part in a million does not,
    /// and the check names it on the statistics and the ledger paths.
    #[tokio::test]
    async fn the_sample_holds_and_a_changed_total_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
        let store = crate::editions::open(&url).await.expect("store");
        let reference = crate::reference::bundled().expect("reference");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let sample = root.join("datasets/sample-synthetic");
        let settings = crate::account::AccountSettings {
            coefficients: root.join("coefficients/npsc1-excerpt"),
            registry: sample.join("registry.csv"),
            activity: sample.join("activity.csv"),
            grouping: accounting::totals::Grouping {
                region: accounting::codes::RegionLevel::Province,
                industry: None,
            },
            policy: accounting::engine::Policy {
                missing_operation_rate: accounting::engine::OperationRatePolicy::Nominal,
            },
            read: crate::ReadOptions::default(),
            results: None,
            deny_unaccounted: false,
        };
        let set = crate::account::load_coefficients(&settings, &reference).expect("set");
        let provenance = crate::runs::Provenance {
            edition: None,
            selector: "excerpt".into(),
            rule: None,
            date: None,
            coefficients_path: None,
        };
        let (run, _) = crate::runs::account_and_store(
            &store,
            set,
            provenance,
            settings,
            reference.clone(),
            "test",
        )
        .await
        .expect("run");
        let tables =
            crate::tax::tables(None, None, &crate::ReadOptions::default()).expect("tables");
        let report = check(&store, run, &reference, &tables)
            .await
            .expect("check");
        assert!(report.holds(), "{}", report.summary());
        for path in ["statistics", "ledger", "tax"] {
            assert!(report.checks.iter().any(|c| c.path == path), "{path}");
        }
        let results = store.run_results(run).await.expect("results");
        let mut totals = store.run_totals(run).await.expect("totals");
        let nudged = totals
            .iter_mut()
            .find(|t| t.pollutant == "SO2" && t.year == 2023)
            .expect("an SO2 total");
        nudged.emitted *= 1.000_001;
        let report =
            compare(run, String::new(), &results, &totals, &reference, &tables).expect("compare");
        assert!(!report.holds());
        let bad: Vec<_> = report
            .checks
            .iter()
            .filter(|c| !c.agrees)
            .map(|c| (c.path, c.what.as_str()))
            .collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0], ("statistics", "2023 二氧化硫"));
        assert_eq!(bad[1].0, "ledger");
        assert!(report.summary().ends_with("NOT the same numbers"));
        store.close().await;
    }
}
