//! The reconciliation use case: coefficient estimates of a registry + activity against the
//! permit execution reports of the same enterprises → the comparison report, the numbers of
//! record under the statistics, permit and tax rules, and the weighted least-squares
//! reconciliation per enterprise, pollutant and year.

use std::collections::BTreeMap;
use std::path::PathBuf;

use accounting::codes::{RegionCode, Uscc};
use accounting::coefficient::CoefficientSet;
use accounting::engine::Emission;
use accounting::permit::{
    Block, Comparison, Estimate, PunitiveRule, Record, RecordRule, ReportLine, Tolerances,
};
use accounting::pollutant::PollutantId;
use accounting::reconcile::{Options, Outcome, RelativeUncertainty};
use accounting::units::Unit;
use ingest::reference::Reference;
use ingest::{Issue, Issues, Location, Source};

use crate::AppError;
use crate::account::{AccountSettings, NoProgress, ResultSink};

/// What to reconcile, and how.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// The accounting inputs (registry, activity, policy); `results` is ignored.
    pub account: AccountSettings,
    /// The permit execution reports.
    pub reports: PathBuf,
    /// The comparison thresholds.
    pub tolerances: Tolerances,
    /// Relative standard deviations by method.
    pub uncertainty: RelativeUncertainty,
    /// Significance of the tests.
    pub options: Options,
    /// Where the permit rule's punitive accounting applies.
    pub punitive: PunitiveRule,
}

/// One reconciled block with its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The block (units, measurements, labels, lines left out).
    pub block: Block,
    /// What reconciling gave.
    pub outcome: Outcome,
}

/// Everything a reconciliation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileReport {
    /// The coefficient set used: id and content hash.
    pub set_id: String,
    /// Its content hash.
    pub content_hash: String,
    /// The unit of every pollutant's numbers (`吨` unless a pollutant's report unit is not a
    /// mass).
    pub units: BTreeMap<PollutantId, String>,
    /// Per enterprise, pollutant and year.
    pub comparisons: Vec<Comparison>,
    /// The numbers of record, rule by rule.
    pub records: Vec<Record>,
    /// The statistical reconciliation, per enterprise, pollutant and year with both sides.
    pub reconciled: Vec<Reconciled>,
    /// Activity rows read and accounted.
    pub rows_accounted: u64,
    /// Report lines read.
    pub report_lines: usize,
}

/// Pollutants whose report unit is a mass but which are flows, not pollutant quantities.
const FLOWS: [&str; 1] = ["WASTEWATER"];

/// Collects every accounted row's emissions as estimates, in tonnes.
struct EstimateSink<'r> {
    registry_industry: &'r BTreeMap<Uscc, accounting::codes::IndustryCode>,
    tonnes: Unit,
    estimates: Vec<Estimate>,
    set_label: String,
}

impl ResultSink for EstimateSink<'_> {
    fn accept(
        &mut self,
        item: &ingest::activity::ActivityItem<'_>,
        _region: RegionCode,
        emissions: &[Emission],
        set: &CoefficientSet,
        reference: &Reference,
    ) -> std::io::Result<()> {
        for e in emissions {
            let unit = &reference.pollutants.get(e.pollutant).report_unit;
            // Permit reports hold pollutant masses: flows (工业废气量 in 万标立方米, and
            // 工业废水量, a volume the census measures in tonnes) are not compared.
            let code = reference.pollutants.get(e.pollutant).code.as_str();
            if unit.conversion_to(&self.tonnes).is_err() || FLOWS.contains(&code) {
                continue;
            }
            let to_tonnes = |x: f64| unit.convert(x, &self.tonnes).unwrap_or(x);
            let industry = self
                .registry_industry
                .get(item.uscc)
                .cloned()
                .unwrap_or_else(|| item.row.industry.clone());
            self.estimates.push(Estimate {
                uscc: *item.uscc,
                industry,
                pollutant: e.pollutant,
                year: item.row.year,
                unit: item
                    .unit_id
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("activity row {}", item.row.row)),
                outlet_id: item.outlet_id.map(str::to_string),
                generated: to_tonnes(e.generated),
                emitted: to_tonnes(e.emitted),
                source: format!(
                    "activity row {} × {} coefficient row {}",
                    item.row.row,
                    self.set_label,
                    set.row(e.coefficient_row).origin.row
                ),
            });
        }
        Ok(())
    }
}

/// The report lines with their enterprises, and who is expected to report.
struct Prepared {
    lines: Vec<ReportLine>,
    /// Permit holders (from the registry).
    permit_holders: Vec<Uscc>,
    /// Every enterprise's industry (from the registry).
    industry: BTreeMap<Uscc, accounting::codes::IndustryCode>,
}

/// Reads the registry and the reports; resolves every line's enterprise.
fn prepare(settings: &ReconcileSettings, reference: &Reference) -> Result<Prepared, AppError> {
    let registry = ingest::registry::read_registry(
        Source::Path(&settings.account.registry),
        reference,
        &settings.account.read,
    )
    .map_err(|issues| AppError::input("the registry", issues))?;
    let mut by_permit: BTreeMap<String, Uscc> = BTreeMap::new();
    let mut industry: BTreeMap<Uscc, accounting::codes::IndustryCode> = BTreeMap::new();
    for e in registry.iter() {
        industry.insert(e.uscc, e.industry.clone());
        if let Some(p) = &e.permit_no {
            by_permit.insert(p.trim().to_uppercase(), e.uscc);
        }
    }
    let raw = ingest::permit::read_permit_reports(
        Source::Path(&settings.reports),
        reference,
        &settings.account.read,
    )
    .map_err(|issues| AppError::input("the permit reports", issues))?;
    // Every line needs its enterprise: the USCC, or the permit number through the registry.
    let mut issues = Issues::new();
    let mut lines = Vec::with_capacity(raw.len());
    let file = settings.reports.display().to_string();
    for report in raw {
        let by_number = report
            .permit_no
            .as_deref()
            .and_then(|p| by_permit.get(&p.trim().to_uppercase()).copied());
        let uscc = match (report.uscc, by_number) {
            (Some(u), Some(p)) if u != p => {
                issues.push(
                    Issue::error(
                        Location::file(&file),
                        "permit-mismatch",
                        format!(
                            "{}: the permit number belongs to {p} in the registry, not to {u}",
                            report.origin
                        ),
                    )
                    .with_value(report.permit_no.clone().unwrap_or_default()),
                );
                continue;
            }
            (Some(u), _) => u,
            (None, Some(p)) => p,
            (None, None) => {
                issues.push(
                    Issue::error(
                        Location::file(&file),
                        "unknown-permit",
                        format!(
                            "{}: no enterprise of the registry has this permit number",
                            report.origin
                        ),
                    )
                    .with_value(report.permit_no.clone().unwrap_or_default())
                    .with_hint(
                        "give the enterprise's USCC, or add the permit number to the registry",
                    ),
                );
                continue;
            }
        };
        lines.push(ReportLine { uscc, report });
    }
    if issues.has_errors() {
        return Err(AppError::input("the permit reports", issues));
    }

    Ok(Prepared {
        lines,
        permit_holders: by_permit.into_values().collect(),
        industry,
    })
}

/// Reconciles with a coefficient set already loaded: the estimates come from accounting the
/// settings' activity data afresh.
pub fn reconcile_with(
    set: &CoefficientSet,
    settings: &ReconcileSettings,
    reference: &Reference,
) -> Result<ReconcileReport, AppError> {
    let prepared = prepare(settings, reference)?;
    let set_label = format!(
        "{} ({})",
        set.meta().id,
        &set.content_hash().to_string()[..12]
    );
    let mut sink = EstimateSink {
        registry_industry: &prepared.industry,
        tonnes: tonnes()?,
        estimates: Vec::new(),
        set_label,
    };
    let mut account = settings.account.clone();
    account.results = None;
    let report =
        crate::account::account_into(set, &account, reference, &NoProgress, Some(&mut sink))?;
    Ok(finish(
        set.meta().id.clone(),
        set.content_hash().to_string(),
        sink.estimates,
        prepared,
        report.summary.rows_accounted,
        settings,
        reference,
    ))
}

fn tonnes() -> Result<Unit, AppError> {
    Unit::parse("吨").map_err(|e| AppError::Internal(e.to_string()))
}

/// Reconciles against the per-row results of stored run `run` instead of accounting afresh:
/// the estimates are exactly the run's (its edition, its inputs); `settings.account.activity`
/// and the coefficients are not read. Returns the run with the report.
pub async fn reconcile_run(
    store: &crate::editions::Store,
    run: i64,
    settings: &ReconcileSettings,
    reference: &Reference,
) -> Result<(crate::runs::RunInfo, ReconcileReport), AppError> {
    let info = store.run(run).await?;
    let results = store.run_results(run).await?;
    let prepared = prepare(settings, reference)?;
    let tonnes = tonnes()?;
    let label = format!(
        "run {run}: {}@{} ({})",
        info.run.set_id,
        info.run
            .edition
            .map_or_else(|| "file".to_string(), |e| e.to_string()),
        &info.run.content_hash[..12.min(info.run.content_hash.len())]
    );
    let mut estimates = Vec::with_capacity(results.len());
    for r in results {
        let pollutant = reference.pollutants.lookup(&r.pollutant).ok_or_else(|| {
            AppError::Internal(format!(
                "run {run} names an unknown pollutant `{}`",
                r.pollutant
            ))
        })?;
        let def = reference.pollutants.get(pollutant);
        if def.report_unit.conversion_to(&tonnes).is_err() || FLOWS.contains(&def.code.as_str()) {
            continue;
        }
        let uscc =
            Uscc::parse(&r.uscc).map_err(|e| AppError::Internal(format!("run {run}: {e}")))?;
        let industry = match prepared.industry.get(&uscc) {
            Some(i) => i.clone(),
            None => accounting::codes::IndustryCode::parse(&r.industry_code)
                .map_err(|e| AppError::Internal(format!("run {run}: {e}")))?,
        };
        let to_tonnes = |x: f64| def.report_unit.convert(x, &tonnes).unwrap_or(x);
        estimates.push(Estimate {
            uscc,
            industry,
            pollutant,
            year: r.year,
            unit: r
                .unit_id
                .clone()
                .unwrap_or_else(|| format!("activity row {}", r.activity_row)),
            outlet_id: r.outlet_id.clone(),
            generated: to_tonnes(r.generated),
            emitted: to_tonnes(r.emitted),
            source: format!(
                "activity row {} × {label} coefficient row {}",
                r.activity_row, r.coefficient_row
            ),
        });
    }
    let report = finish(
        info.run.set_id.clone(),
        info.run.content_hash.clone(),
        estimates,
        prepared,
        info.counts.rows_accounted,
        settings,
        reference,
    );
    Ok((info, report))
}

/// Compares, chooses the numbers of record and reconciles (pure).
fn finish(
    set_id: String,
    content_hash: String,
    estimates: Vec<Estimate>,
    prepared: Prepared,
    rows_accounted: u64,
    settings: &ReconcileSettings,
    reference: &Reference,
) -> ReconcileReport {
    let Prepared {
        lines,
        permit_holders,
        ..
    } = prepared;
    let tonnes = tonnes().ok();
    let mut units = BTreeMap::new();
    for id in estimates
        .iter()
        .map(|e| e.pollutant)
        .chain(lines.iter().map(|l| l.report.pollutant))
    {
        let unit = &reference.pollutants.get(id).report_unit;
        let shown = if tonnes
            .as_ref()
            .is_some_and(|t| unit.convert(1.0, t).is_ok())
        {
            "吨".to_string()
        } else {
            unit.symbol().to_string()
        };
        units.insert(id, shown);
    }
    // Who is expected to report: permit holders, and anyone who reported anything.
    let reporters: std::collections::BTreeSet<Uscc> = permit_holders
        .into_iter()
        .chain(lines.iter().map(|l| l.uscc))
        .collect();
    let comparisons =
        accounting::permit::compare(&estimates, &lines, &settings.tolerances, &reporters);
    let mut records = Vec::new();
    for rule in RecordRule::ALL {
        records.extend(accounting::permit::records(
            &estimates,
            &lines,
            rule,
            &settings.tolerances,
            &settings.punitive,
        ));
    }
    let reconciled = accounting::permit::blocks(
        &estimates,
        &lines,
        &settings.uncertainty,
        &settings.tolerances,
    )
    .into_iter()
    .map(|block| Reconciled {
        outcome: accounting::reconcile::reconcile(&block.problem, settings.options),
        block,
    })
    .collect();
    ReconcileReport {
        set_id,
        content_hash,
        units,
        comparisons,
        records,
        reconciled,
        rows_accounted,
        report_lines: lines.len(),
    }
}

use accounting::render::Precision;

/// `a.csv, row 3`, `a.csv, row 4` → `a.csv, rows 3, 4`: origins of one file said once.
fn compact_origins(origins: &[String]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for origin in origins {
        match origin.rsplit_once(", row ") {
            Some((file, row)) => match groups.iter_mut().find(|(f, _)| f == file) {
                Some((_, rows)) => rows.push(row.to_string()),
                None => groups.push((file.to_string(), vec![row.to_string()])),
            },
            None => groups.push((origin.clone(), Vec::new())),
        }
    }
    groups
        .into_iter()
        .map(|(file, rows)| match rows.len() {
            0 => file,
            1 => format!("{file}, row {}", rows[0]),
            _ => format!("{file}, rows {}", rows.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A relative difference as a percentage with one decimal, e.g. `-60.0%`.
fn percent(x: Option<f64>) -> String {
    x.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_default()
}

impl ReconcileReport {
    fn unit(&self, pollutant: PollutantId) -> &str {
        self.units.get(&pollutant).map_or("", String::as_str)
    }

    /// The comparison view: one row per enterprise, pollutant and year.
    pub fn comparison_sheet(
        &self,
        reference: &Reference,
        precision: Precision,
    ) -> crate::sheet::Sheet {
        let number = |x: f64| accounting::render::quantity(x, precision);
        let optional = |x: Option<f64>| x.map(number).unwrap_or_default();
        let mut sheet = crate::sheet::Sheet::new(
            "comparison",
            "对比 Reported vs estimated",
            &[
                "year",
                "uscc",
                "pollutant",
                "unit",
                "estimate",
                "reported",
                "difference",
                "relative",
                "permitted",
                "methods",
                "level",
                "flags",
                "report_rows",
            ],
        );
        for c in &self.comparisons {
            let level = c.flags.iter().map(|f| f.level()).max();
            let flags: Vec<String> = c
                .flags
                .iter()
                .map(|f| match f {
                    accounting::permit::Flag::UnderReported(l)
                    | accounting::permit::Flag::OverReported(l) => {
                        format!("{}:{}", f.name(), l.as_str())
                    }
                    accounting::permit::Flag::YearOverYearJump { change, .. } => {
                        format!("{}:{}", f.name(), percent(Some(*change)))
                    }
                    accounting::permit::Flag::MonitoringNotValid { quarters } => format!(
                        "{}:{}",
                        f.name(),
                        quarters
                            .iter()
                            .map(|q| format!("Q{q}"))
                            .collect::<Vec<_>>()
                            .join("+")
                    ),
                    accounting::permit::Flag::IncompleteReport { outlets } => {
                        format!("{}:{}", f.name(), outlets.join("+"))
                    }
                    accounting::permit::Flag::ExceedsPermit {
                        reported,
                        estimated,
                    } => format!(
                        "{}:{}",
                        f.name(),
                        match (reported, estimated) {
                            (true, true) => "reported+estimated",
                            (true, false) => "reported",
                            _ => "estimated",
                        }
                    ),
                    _ => f.name().to_string(),
                })
                .collect();
            sheet.push(vec![
                c.year.to_string(),
                c.uscc.to_string(),
                reference.pollutants.get(c.pollutant).name.clone(),
                self.unit(c.pollutant).to_string(),
                optional(c.estimate),
                optional(c.reported),
                optional(c.difference),
                percent(c.relative),
                optional(c.permitted),
                c.methods
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                level.map(|l| l.as_str()).unwrap_or("ok").to_string(),
                flags.join(" "),
                compact_origins(&c.report_origins),
            ]);
        }
        sheet
    }

    /// The numbers of record: one row per rule, enterprise, pollutant and year.
    pub fn records_sheet(
        &self,
        reference: &Reference,
        precision: Precision,
    ) -> crate::sheet::Sheet {
        let number = |x: f64| accounting::render::quantity(x, precision);
        let mut sheet = crate::sheet::Sheet::new(
            "records",
            "核定值 Numbers of record",
            &[
                "rule",
                "year",
                "uscc",
                "pollutant",
                "unit",
                "value",
                "basis",
                "source",
            ],
        );
        for r in &self.records {
            let basis: Vec<String> = r
                .parts
                .iter()
                .map(|p| match &p.outlet_id {
                    Some(o) => format!("{o}={}", p.basis.label()),
                    None => p.basis.label(),
                })
                .collect();
            sheet.push(vec![
                r.rule.as_str().to_string(),
                r.year.to_string(),
                r.uscc.to_string(),
                reference.pollutants.get(r.pollutant).name.clone(),
                self.unit(r.pollutant).to_string(),
                number(r.value),
                basis.join(" "),
                r.parts
                    .iter()
                    .map(|p| p.source.as_str())
                    .collect::<Vec<_>>()
                    .join(" | "),
            ]);
        }
        sheet
    }

    /// The reconciliation: one row per measurement, with its block's statistics.
    pub fn reconciliation_sheet(
        &self,
        reference: &Reference,
        precision: Precision,
    ) -> crate::sheet::Sheet {
        let number = |x: f64| accounting::render::quantity(x, precision);
        let mut sheet = crate::sheet::Sheet::new(
            "reconciliation",
            "数据校核 Reconciliation (weighted least squares)",
            &[
                "year",
                "uscc",
                "pollutant",
                "unit",
                "status",
                "measurement",
                "name",
                "method",
                "measured",
                "std_dev",
                "reconciled",
                "normalized_residual",
                "test",
                "chi_square",
                "degrees_of_freedom",
                "p_value",
                "global_test",
                "origin",
            ],
        );
        for r in &self.reconciled {
            let b = &r.block;
            let head = |status: String| {
                vec![
                    b.year.to_string(),
                    b.uscc.to_string(),
                    reference.pollutants.get(b.pollutant).name.clone(),
                    self.unit(b.pollutant).to_string(),
                    status,
                ]
            };
            match &r.outcome {
                Outcome::Reconciled(s) => {
                    for (i, (m, label)) in b.problem.measurements.iter().zip(&b.labels).enumerate()
                    {
                        let test = if s.suspect == Some(i) {
                            "gross_error:most_likely"
                        } else if s.gross_errors.contains(&i) {
                            "gross_error"
                        } else if s.normalized_residuals[i].is_none() {
                            "not_testable"
                        } else {
                            "ok"
                        };
                        let mut row = head("reconciled".to_string());
                        row.extend([
                            label.kind.to_string(),
                            label.name.clone(),
                            label.method.as_str().to_string(),
                            number(m.value),
                            number(m.std_dev),
                            number(s.adjusted[i]),
                            s.normalized_residuals[i]
                                .map(|z| format!("{z:.3}"))
                                .unwrap_or_default(),
                            test.to_string(),
                            format!("{:.4}", s.chi_square),
                            s.degrees_of_freedom.to_string(),
                            s.p_value.map(|p| format!("{p:.4}")).unwrap_or_default(),
                            match (s.p_value, s.global_test_failed) {
                                (None, _) => "no_redundancy",
                                (_, true) => "failed",
                                _ => "passed",
                            }
                            .to_string(),
                            compact_origins(
                                &label
                                    .origin
                                    .split("; ")
                                    .map(str::to_string)
                                    .collect::<Vec<_>>(),
                            ),
                        ]);
                        sheet.push(row);
                    }
                    for (j, unit) in b.units.iter().enumerate() {
                        let mut row = head("reconciled".to_string());
                        row.extend([
                            "unit".to_string(),
                            unit.clone(),
                            String::new(),
                            String::new(),
                            s.std_errors[j].map(number).unwrap_or_default(),
                            number(s.estimates[j]),
                            String::new(),
                            if s.at_zero.contains(&j) {
                                "held_at_zero"
                            } else {
                                ""
                            }
                            .to_string(),
                        ]);
                        sheet.push(row);
                    }
                }
                other => {
                    let status = match other {
                        Outcome::RankDeficient { unobservable, .. } => format!(
                            "rank_deficient: the measurements cannot separate {}",
                            unobservable
                                .iter()
                                .map(|&u| b.units[u].as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Outcome::InvalidInput {
                            measurement,
                            reason,
                        } => format!(
                            "invalid_input: {} {}: {reason}",
                            b.labels[*measurement].kind, b.labels[*measurement].name
                        ),
                        Outcome::NotConverged { iterations } => {
                            format!("not_converged after {iterations} iterations")
                        }
                        Outcome::Reconciled(_) => String::new(),
                    };
                    sheet.push(head(status));
                }
            }
            for note in &b.left_out {
                let mut row = head("left_out".to_string());
                row.extend(["report".to_string(), note.clone()]);
                sheet.push(row);
            }
        }
        sheet
    }

    /// Every view; `Precision::Exact` for files, a few decimals for people.
    pub fn sheets(&self, reference: &Reference, precision: Precision) -> Vec<crate::sheet::Sheet> {
        vec![
            self.comparison_sheet(reference, precision),
            self.records_sheet(reference, precision),
            self.reconciliation_sheet(reference, precision),
        ]
    }

    /// Counts for a summary line.
    pub fn summary(&self) -> String {
        let errors = self
            .comparisons
            .iter()
            .filter(|c| {
                c.flags
                    .iter()
                    .any(|f| f.level() == accounting::permit::Level::Error)
            })
            .count();
        let warnings = self
            .comparisons
            .iter()
            .filter(|c| !c.flags.is_empty())
            .count()
            - errors;
        let gross = self
            .reconciled
            .iter()
            .filter(|r| matches!(&r.outcome, Outcome::Reconciled(s) if !s.gross_errors.is_empty()))
            .count();
        let unsolved = self
            .reconciled
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Reconciled(_)))
            .count();
        format!(
            "{} enterprise-pollutant-years compared ({} with errors, {} with warnings only); {} reconciled, {} with a gross error, {} not reconcilable; coefficients {} ({})",
            self.comparisons.len(),
            errors,
            warnings,
            self.reconciled.len() - unsolved,
            gross,
            unsolved,
            self.set_id,
            &self.content_hash[..12.min(self.content_hash.len())]
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters as users give them, and stored reconciliations.

use std::sync::Arc;

use accounting::engine::{OperationRatePolicy, Policy};
use accounting::totals::Grouping;
use ingest::table::ReadOptions;

/// The current UTC time as stored (`Made::started_at`).
pub use store::now_utc;
pub use store::reconciliations::{
    NewReconciliation, ReconciliationCounts, ReconciliationInfo, StoredView, ViewInfo,
};

use crate::editions::Store;
use crate::runs::{Input, Provenance};

/// The names of the views, in their order.
pub const VIEWS: [&str; 3] = ["comparison", "records", "reconciliation"];

/// The parameters of a reconciliation as a person gives them (the options of `npsc reconcile`,
/// the query of `POST /api/v1/reconciliations`). `Default` is the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileParameters {
    /// Relative difference flagged as a warning.
    pub warning: f64,
    /// Relative difference flagged as an error.
    pub error: f64,
    /// Year-over-year change of the reported value that is flagged.
    pub yoy: f64,
    /// Lowest valid-data capture rate of automatic monitoring in a quarter.
    pub minimum_capture: f64,
    /// Significance of the reconciliation's tests.
    pub alpha: f64,
    /// Relative standard deviation of automatic monitoring.
    pub rsd_automatic: f64,
    /// Relative standard deviation of manual monitoring.
    pub rsd_manual: f64,
    /// Relative standard deviation of material balance.
    pub rsd_balance: f64,
    /// Relative standard deviation of coefficient estimates.
    pub rsd_coefficient: f64,
    /// Relative standard deviation of other methods.
    pub rsd_other: f64,
    /// Industry code prefixes where the permit rule's punitive accounting applies; all when
    /// empty.
    pub punitive_industries: Vec<String>,
    /// What k to assume when a treated row gives no operation rate.
    pub missing_operation_rate: OperationRatePolicy,
}

impl Default for ReconcileParameters {
    fn default() -> Self {
        ReconcileParameters {
            warning: 0.20,
            error: 0.50,
            yoy: 0.20,
            minimum_capture: 0.75,
            alpha: 0.05,
            rsd_automatic: 0.05,
            rsd_manual: 0.15,
            rsd_balance: 0.20,
            rsd_coefficient: 0.30,
            rsd_other: 0.50,
            punitive_industries: Vec::new(),
            missing_operation_rate: OperationRatePolicy::Nominal,
        }
    }
}

/// How a parameter is named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterNames {
    /// `--minimum-capture` (the command line).
    Flags,
    /// `minimum_capture` (a query string).
    Query,
}

impl ParameterNames {
    fn name(self, snake: &str) -> String {
        match self {
            ParameterNames::Flags => format!("--{}", snake.replace('_', "-")),
            ParameterNames::Query => snake.to_string(),
        }
    }
}

impl ReconcileParameters {
    /// Refuses values out of range (every fraction in (0, max]; the error threshold not below
    /// the warning one; industry prefixes of 1 to 4 digits), naming the parameter as `names`
    /// says.
    pub fn check(&self, names: ParameterNames) -> Result<(), AppError> {
        for (name, value, max) in [
            ("warning", self.warning, 10.0),
            ("error", self.error, 10.0),
            ("yoy", self.yoy, 10.0),
            ("minimum_capture", self.minimum_capture, 1.0),
            ("alpha", self.alpha, 0.5),
            ("rsd_automatic", self.rsd_automatic, 10.0),
            ("rsd_manual", self.rsd_manual, 10.0),
            ("rsd_balance", self.rsd_balance, 10.0),
            ("rsd_coefficient", self.rsd_coefficient, 10.0),
            ("rsd_other", self.rsd_other, 10.0),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= max) {
                return Err(AppError::Argument {
                    message: format!("{} {value} is out of range (0, {max}]", names.name(name)),
                    hint: Some("fractions are written as 0.2 for 20 %".to_string()),
                });
            }
        }
        if self.error < self.warning {
            return Err(AppError::Argument {
                message: format!(
                    "{} {} is below {} {}",
                    names.name("error"),
                    self.error,
                    names.name("warning"),
                    self.warning
                ),
                hint: None,
            });
        }
        for code in &self.punitive_industries {
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) || code.len() > 4 {
                return Err(AppError::Argument {
                    message: format!(
                        "{}: `{code}` is not an industry code prefix",
                        names.name("punitive_industries")
                    ),
                    hint: Some(
                        "give 1 to 4 digits of GB/T 4754-2017 codes, e.g. 44,3011".to_string(),
                    ),
                });
            }
        }
        Ok(())
    }

    /// The settings of a reconciliation of these files (`account.coefficients` left empty).
    pub fn settings(
        &self,
        registry: PathBuf,
        activity: PathBuf,
        reports: PathBuf,
        read: ReadOptions,
    ) -> ReconcileSettings {
        ReconcileSettings {
            account: AccountSettings {
                coefficients: PathBuf::new(),
                registry,
                activity,
                grouping: Grouping {
                    region: accounting::codes::RegionLevel::National,
                    industry: None,
                },
                policy: Policy {
                    missing_operation_rate: self.missing_operation_rate,
                },
                read,
                results: None,
                deny_unaccounted: false,
            },
            reports,
            tolerances: Tolerances {
                warning: self.warning,
                error: self.error,
                year_over_year: self.yoy,
                minimum_capture: self.minimum_capture,
            },
            uncertainty: RelativeUncertainty {
                automatic_monitoring: self.rsd_automatic,
                manual_monitoring: self.rsd_manual,
                material_balance: self.rsd_balance,
                coefficient: self.rsd_coefficient,
                other: self.rsd_other,
            },
            options: Options { alpha: self.alpha },
            punitive: PunitiveRule {
                industries: self.punitive_industries.clone(),
            },
        }
    }

    /// The parameters as recorded with a stored reconciliation: `name=value` pairs.
    pub fn options_text(&self) -> String {
        format!(
            "warning={}; error={}; yoy={}; minimum_capture={}; alpha={}; rsd_automatic={}; \
             rsd_manual={}; rsd_balance={}; rsd_coefficient={}; rsd_other={}; \
             punitive_industries={}; missing_operation_rate={}",
            self.warning,
            self.error,
            self.yoy,
            self.minimum_capture,
            self.alpha,
            self.rsd_automatic,
            self.rsd_manual,
            self.rsd_balance,
            self.rsd_coefficient,
            self.rsd_other,
            if self.punitive_industries.is_empty() {
                "all".to_string()
            } else {
                self.punitive_industries.join(",")
            },
            match self.missing_operation_rate {
                OperationRatePolicy::Nominal => "nominal",
                OperationRatePolicy::Strict => "strict",
            }
        )
    }
}

impl ReconcileReport {
    /// The counts behind [`ReconcileReport::summary`].
    pub fn counts(&self) -> ReconciliationCounts {
        let count = |n: usize| n as u64;
        let errors = self
            .comparisons
            .iter()
            .filter(|c| {
                c.flags
                    .iter()
                    .any(|f| f.level() == accounting::permit::Level::Error)
            })
            .count();
        let flagged = self
            .comparisons
            .iter()
            .filter(|c| !c.flags.is_empty())
            .count();
        let unsolved = self
            .reconciled
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Reconciled(_)))
            .count();
        ReconciliationCounts {
            rows_accounted: self.rows_accounted,
            report_lines: count(self.report_lines),
            comparisons: count(self.comparisons.len()),
            with_errors: count(errors),
            with_warnings: count(flagged - errors),
            reconciled: count(self.reconciled.len() - unsolved),
            gross_errors: count(
                self.reconciled
                    .iter()
                    .filter(|r| {
                        matches!(&r.outcome, Outcome::Reconciled(s) if !s.gross_errors.is_empty())
                    })
                    .count(),
            ),
            not_reconcilable: count(unsolved),
        }
    }

    /// Every view with exact numbers, as stored.
    pub fn stored_views(&self, reference: &Reference) -> Vec<StoredView> {
        self.sheets(reference, Precision::Exact)
            .into_iter()
            .map(|s| StoredView {
                name: s.name,
                title: s.title,
                header: s.header,
                rows: s.rows,
            })
            .collect()
    }
}

/// How a reconciliation to store was made.
#[derive(Debug, Clone)]
pub struct Made {
    /// How the coefficients were chosen.
    pub provenance: Provenance,
    /// The registry, activity and reports inputs, in that order.
    pub inputs: [Input; 3],
    /// The parameters.
    pub parameters: ReconcileParameters,
    /// Who.
    pub actor: String,
    /// UTC start time.
    pub started_at: String,
    /// Wall time until the report was complete.
    pub elapsed_ms: u64,
}

/// The registry, activity and reports files of `settings` as recorded: absolute path and
/// SHA-256.
pub fn file_inputs(settings: &ReconcileSettings) -> Result<[Input; 3], AppError> {
    let input = file_input;
    Ok([
        input(&settings.account.registry)?,
        input(&settings.account.activity)?,
        input(&settings.reports)?,
    ])
}

/// One input file as recorded: absolute path and SHA-256.
pub fn file_input(path: &std::path::Path) -> Result<Input, AppError> {
    Ok(Input {
        path: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        hash: crate::runs::file_hash(path)?,
    })
}

/// What a stored reconciliation holds, from its report (pure).
pub fn to_store(report: &ReconcileReport, made: &Made) -> NewReconciliation {
    let [registry, activity, reports] = made.inputs.clone();
    NewReconciliation {
        started_at: made.started_at.clone(),
        elapsed_ms: made.elapsed_ms,
        actor: made.actor.clone(),
        set_id: report.set_id.clone(),
        edition: made.provenance.edition,
        content_hash: report.content_hash.clone(),
        selector: made.provenance.selector.clone(),
        rule: made.provenance.rule.clone(),
        accounting_date: made.provenance.date.clone(),
        coefficients_path: made.provenance.coefficients_path.clone(),
        registry_path: registry.path,
        registry_hash: registry.hash,
        activity_path: activity.path,
        activity_hash: activity.hash,
        reports_path: reports.path,
        reports_hash: reports.hash,
        options: made.parameters.options_text(),
        summary: report.summary(),
    }
}

/// Stores a reconciliation report (every view, exact numbers) with its provenance, all or
/// nothing, with the audit entry naming `made.actor`.
pub async fn store(
    store: &Store,
    report: &ReconcileReport,
    made: &Made,
    reference: &Reference,
) -> Result<ReconciliationInfo, AppError> {
    store_views(store, report, made, &report.stored_views(reference)).await
}

async fn store_views(
    store: &Store,
    report: &ReconcileReport,
    made: &Made,
    views: &[StoredView],
) -> Result<ReconciliationInfo, AppError> {
    let id = store
        .store_reconciliation(&to_store(report, made), report.counts(), views)
        .await?;
    Ok(store.reconciliation(id).await?)
}

/// Reconciles the staged files of `settings` with `set` on a blocking thread, then stores the
/// result (see [`store`]) with every cell passed through `relabel` (which names staged files by
/// their labels).
pub(crate) async fn reconcile_and_store(
    db: &Store,
    set: Arc<CoefficientSet>,
    settings: ReconcileSettings,
    reference: Arc<Reference>,
    mut made: Made,
    relabel: &(dyn Fn(&str) -> String + Sync),
) -> Result<(ReconciliationInfo, ReconcileReport, Arc<Reference>), AppError> {
    let started = std::time::Instant::now();
    let (report, reference) = tokio::task::spawn_blocking(move || {
        let report = reconcile_with(&set, &settings, &reference)?;
        Ok::<_, AppError>((report, reference))
    })
    .await
    .map_err(|e| AppError::Internal(format!("the reconciliation thread failed: {e}")))??;
    made.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut views = report.stored_views(&reference);
    for view in &mut views {
        for cell in view.rows.iter_mut().flatten() {
            *cell = relabel(cell);
        }
    }
    let info = store_views(db, &report, &made, &views).await?;
    Ok((info, report, reference))
}

/// All stored reconciliations, newest first.
pub async fn list(store: &Store) -> Result<Vec<ReconciliationInfo>, AppError> {
    Ok(store.reconciliations().await?)
}

/// One stored reconciliation and its views (without their rows).
pub async fn show(store: &Store, id: i64) -> Result<(ReconciliationInfo, Vec<ViewInfo>), AppError> {
    let info = store.reconciliation(id).await?;
    let views = store.reconciliation_views(id).await?;
    Ok((info, views))
}

/// Checks a view name: one of [`VIEWS`].
pub fn check_view(view: &str) -> Result<(), AppError> {
    if VIEWS.contains(&view) {
        Ok(())
    } else {
        Err(AppError::Argument {
            message: format!("there is no view `{view}`"),
            hint: Some("the views are comparison, records and reconciliation".to_string()),
        })
    }
}

/// One view of a stored reconciliation with its rows, as a [`crate::sheet::Sheet`].
pub async fn view(
    store: &Store,
    id: i64,
    view: &str,
) -> Result<(ReconciliationInfo, crate::sheet::Sheet), AppError> {
    check_view(view)?;
    let info = store.reconciliation(id).await?;
    let stored = store.reconciliation_view(id, view).await?;
    Ok((
        info,
        crate::sheet::Sheet::with_rows(stored.name, stored.title, stored.header, stored.rows),
    ))
}

/// A stored reconciliation's provenance as key–value lines (for JSON exports and workbooks).
pub fn provenance(info: &ReconciliationInfo) -> Vec<(String, String)> {
    let r = &info.reconciliation;
    let c = &info.counts;
    let mut lines = vec![
        ("reconciliation".to_string(), info.id.to_string()),
        (
            "coefficients".to_string(),
            match r.edition {
                Some(e) => format!("{}@{e}", r.set_id),
                None => r
                    .coefficients_path
                    .clone()
                    .unwrap_or_else(|| r.selector.clone()),
            },
        ),
        ("selector".to_string(), r.selector.clone()),
        ("content_hash".to_string(), r.content_hash.clone()),
    ];
    if let (Some(rule), Some(date)) = (&r.rule, &r.accounting_date) {
        lines.push(("rule".to_string(), format!("{rule} {date}")));
    }
    lines.extend([
        ("registry".to_string(), r.registry_path.clone()),
        ("registry_sha256".to_string(), r.registry_hash.clone()),
        ("activity".to_string(), r.activity_path.clone()),
        ("activity_sha256".to_string(), r.activity_hash.clone()),
        ("reports".to_string(), r.reports_path.clone()),
        ("reports_sha256".to_string(), r.reports_hash.clone()),
        ("options".to_string(), r.options.clone()),
        (
            "counts".to_string(),
            format!(
                "{} activity rows accounted, {} report lines, {} compared, {} with errors, {} with warnings only, {} reconciled, {} with a gross error, {} not reconcilable",
                c.rows_accounted,
                c.report_lines,
                c.comparisons,
                c.with_errors,
                c.with_warnings,
                c.reconciled,
                c.gross_errors,
                c.not_reconcilable
            ),
        ),
        ("summary".to_string(), r.summary.clone()),
        ("actor".to_string(), r.actor.clone()),
        ("started_at".to_string(), r.started_at.clone()),
    ]);
    lines
}

/// How a stored view is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The view's header and rows.
    Csv,
    /// `{provenance…, "<view>": [ {column: cell}, … ]}`, the shape of `npsc reconcile --view
    /// <view> --format json`.
    Json,
}

/// One view of a stored reconciliation as CSV or JSON, cells exactly as stored.
pub async fn export(
    store: &Store,
    id: i64,
    view_name: &str,
    format: ExportFormat,
) -> Result<String, AppError> {
    let (info, sheet) = view(store, id, view_name).await?;
    match format {
        ExportFormat::Csv => crate::sheet::render_csv(&sheet),
        ExportFormat::Json => Ok(crate::sheet::render_json(&provenance(&info), &[sheet])),
    }
}
