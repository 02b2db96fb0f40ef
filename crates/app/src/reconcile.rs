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

/// Reconciles with a coefficient set already loaded.
pub fn reconcile_with(
    set: &CoefficientSet,
    settings: &ReconcileSettings,
    reference: &Reference,
) -> Result<ReconcileReport, AppError> {
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

    let set_label = format!(
        "{} ({})",
        set.meta().id,
        &set.content_hash().to_string()[..12]
    );
    let mut sink = EstimateSink {
        registry_industry: &industry,
        tonnes: Unit::parse("吨").map_err(|e| AppError::Internal(e.to_string()))?,
        estimates: Vec::new(),
        set_label,
    };
    let mut account = settings.account.clone();
    account.results = None;
    let report =
        crate::account::account_into(set, &account, reference, &NoProgress, Some(&mut sink))?;
    let estimates = sink.estimates;

    let mut units = BTreeMap::new();
    for id in estimates
        .iter()
        .map(|e| e.pollutant)
        .chain(lines.iter().map(|l| l.report.pollutant))
    {
        let unit = &reference.pollutants.get(id).report_unit;
        let shown = if unit.convert(1.0, &sink.tonnes).is_ok() {
            "吨".to_string()
        } else {
            unit.symbol().to_string()
        };
        units.insert(id, shown);
    }
    // Who is expected to report: permit holders, and anyone who reported anything.
    let reporters: std::collections::BTreeSet<Uscc> = by_permit
        .values()
        .copied()
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
    Ok(ReconcileReport {
        set_id: set.meta().id.clone(),
        content_hash: set.content_hash().to_string(),
        units,
        comparisons,
        records,
        reconciled,
        rows_accounted: report.summary.rows_accounted,
        report_lines: lines.len(),
    })
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
