//! Total-load control (总量控制): accounted totals against caps per region × pollutant × year,
//! progress against reduction targets, and enterprises above their permitted quantity.
//!
//! Totals come from accounting afresh (at county level, rolled up to each cap's region) or from
//! a stored run's totals (`--run N`; the run must be grouped at least as finely as the caps).
//! Enterprises above their permitted quantity need permit execution reports (their 许可排放量);
//! the accounted emission is the same per-enterprise estimate `npsc reconcile` compares.

use std::path::{Path, PathBuf};

use accounting::codes::{RegionCode, RegionLevel};
use accounting::coefficient::CoefficientSet;
use accounting::pollutant::PollutantId;
use accounting::quota::{self, Cap, Excess, LedgerLine, Permitted, ProgressLine, Target, Total};
use accounting::render::{Precision, quantity};
use accounting::units::Unit;
use ingest::Source;

use crate::account::NoProgress;
use crate::reconcile::{ReconcileParameters, ReconcileSettings};
use crate::sheet::Sheet;
use crate::{AppError, ReadOptions, Reference};

/// The files and choices of one total-load check.
#[derive(Debug, Clone)]
pub struct QuotaInputs {
    /// The enterprise registry.
    pub registry: PathBuf,
    /// The activity data (unused with a stored run).
    pub activity: PathBuf,
    /// The caps.
    pub caps: PathBuf,
    /// Reduction targets (the 14th five-year plan's when `None`).
    pub targets: Option<PathBuf>,
    /// Permit execution reports with permitted quantities, if any.
    pub reports: Option<PathBuf>,
    /// The base year of the targets.
    pub base_year: u16,
    /// Encoding and sheet options.
    pub read: ReadOptions,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaReport {
    /// The coefficient set (or run) used.
    pub set_id: String,
    /// Its content hash.
    pub content_hash: String,
    /// The base year.
    pub base_year: u16,
    /// Where the targets come from.
    pub targets_source: String,
    /// The targets.
    pub targets: Vec<Target>,
    /// One line per cap.
    pub ledger: Vec<LedgerLine>,
    /// Progress against the targets in the caps' regions.
    pub progress: Vec<ProgressLine>,
    /// Enterprise × pollutant × year with both an accounted emission and a permitted quantity.
    pub permitted_compared: usize,
    /// Those above the permitted quantity.
    pub excess: Vec<Excess>,
}

fn tonnes() -> Result<Unit, AppError> {
    Unit::parse("吨").map_err(|e| AppError::Internal(e.to_string()))
}

/// Reads the caps.
pub fn read_caps(
    path: &Path,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<Vec<Cap>, AppError> {
    ingest::quota::read_caps(Source::Path(path), reference, read)
        .map_err(|issues| AppError::input("the caps", issues))
}

/// Reads the targets file, or resolves the 14th five-year plan's table; with where they come from.
pub fn targets(
    path: Option<&Path>,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<(Vec<Target>, String), AppError> {
    match path {
        Some(path) => {
            let targets = ingest::quota::read_targets(Source::Path(path), reference, read)
                .map_err(|issues| AppError::input("the reduction targets", issues))?;
            Ok((targets, path.display().to_string()))
        }
        None => {
            let targets = quota::FOURTEENTH_PLAN_TARGETS
                .iter()
                .map(|&(name, reduction)| {
                    let pollutant = reference.pollutants.lookup(name).ok_or_else(|| {
                        AppError::Internal(format!("the reference lacks the pollutant {name}"))
                    })?;
                    Ok(Target {
                        pollutant,
                        reduction,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            Ok((
                targets,
                "14th five-year plan (国发〔2021〕33号): COD −8 %, NH3-N −8 %, NOx −10 %, VOCs −10 %"
                    .to_string(),
            ))
        }
    }
}

fn reconcile_settings(inputs: &QuotaInputs, reports: PathBuf) -> ReconcileSettings {
    let mut settings = ReconcileParameters::default().settings(
        inputs.registry.clone(),
        inputs.activity.clone(),
        reports,
        inputs.read.clone(),
    );
    settings.account.grouping.region = RegionLevel::County;
    settings.account.grouping.industry = None;
    settings.account.results = None;
    settings
}

fn permitted_lines(report: &crate::reconcile::ReconcileReport) -> Vec<Permitted> {
    report
        .comparisons
        .iter()
        .filter_map(|c| {
            Some(Permitted {
                uscc: c.uscc,
                pollutant: c.pollutant,
                year: c.year,
                accounted: c.estimate?,
                permitted: c.permitted?,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    set_id: String,
    content_hash: String,
    totals: Vec<Total>,
    permitted: Vec<Permitted>,
    caps: Vec<Cap>,
    targets: (Vec<Target>, String),
    base_year: u16,
) -> QuotaReport {
    let ledger = quota::ledger(&caps, &totals);
    let regions: Vec<RegionCode> = caps.iter().map(|c| c.region).collect();
    let progress = quota::progress(&regions, &totals, &targets.0, base_year);
    QuotaReport {
        set_id,
        content_hash,
        base_year,
        targets_source: targets.1,
        targets: targets.0,
        ledger,
        progress,
        permitted_compared: permitted.len(),
        excess: quota::above_permitted(&permitted),
    }
}

/// Accounts `inputs.activity` afresh with `set` (at county level) and checks it against the caps.
pub fn quota_with(
    set: &CoefficientSet,
    inputs: &QuotaInputs,
    reference: &Reference,
) -> Result<QuotaReport, AppError> {
    let caps = read_caps(&inputs.caps, reference, &inputs.read)?;
    let targets = targets(inputs.targets.as_deref(), reference, &inputs.read)?;
    let settings = reconcile_settings(inputs, PathBuf::new());
    let report = crate::account::account_with(set, &settings.account, reference, &NoProgress)?;
    let tonnes = tonnes()?;
    let mut totals = Vec::new();
    for line in &report.totals {
        let Some(region) = line.region else { continue };
        let unit = &reference.pollutants.get(line.pollutant).report_unit;
        if let Ok(t) = unit.convert(line.emitted, &tonnes) {
            totals.push(Total {
                region,
                pollutant: line.pollutant,
                year: line.year,
                tonnes: t,
            });
        }
    }
    let permitted = match &inputs.reports {
        Some(reports) => {
            let settings = reconcile_settings(inputs, reports.clone());
            permitted_lines(&crate::reconcile::reconcile_with(
                set, &settings, reference,
            )?)
        }
        None => Vec::new(),
    };
    Ok(finish(
        set.meta().id.clone(),
        set.content_hash().to_string(),
        totals,
        permitted,
        caps,
        targets,
        inputs.base_year,
    ))
}

/// Checks the totals of stored run `run` against the caps (`inputs.activity` is not read).
pub async fn quota_run(
    store: &crate::editions::Store,
    run: i64,
    inputs: &QuotaInputs,
    reference: &Reference,
) -> Result<(crate::runs::RunInfo, QuotaReport), AppError> {
    let caps = read_caps(&inputs.caps, reference, &inputs.read)?;
    let targets = targets(inputs.targets.as_deref(), reference, &inputs.read)?;
    let (info, records) = crate::runs::totals(store, run).await?;
    let level = crate::runs::run_grouping(&info).region;
    if let Some(finest) = caps.iter().map(|c| c.region.structural_level()).max()
        && level < finest
    {
        return Err(AppError::Argument {
            message: format!(
                "run {run} is grouped by {} but a cap is set for a {} region",
                level.as_str(),
                finest.as_str()
            ),
            hint: Some(format!(
                "account with --region-level {} (or finer) and store that run",
                finest.as_str()
            )),
        });
    }
    let tonnes = tonnes()?;
    let mut totals = Vec::new();
    for r in &records {
        let Some(code) = &r.region_code else { continue };
        let region =
            RegionCode::parse(code).map_err(|e| AppError::Internal(format!("run {run}: {e}")))?;
        let pollutant: PollutantId =
            reference.pollutants.lookup(&r.pollutant).ok_or_else(|| {
                AppError::Internal(format!(
                    "run {run} names an unknown pollutant `{}`",
                    r.pollutant
                ))
            })?;
        let Ok(unit) = Unit::parse(&r.unit) else {
            continue;
        };
        if let Ok(t) = unit.convert(r.emitted, &tonnes) {
            totals.push(Total {
                region,
                pollutant,
                year: r.year,
                tonnes: t,
            });
        }
    }
    let permitted = match &inputs.reports {
        Some(reports) => {
            let settings = reconcile_settings(inputs, reports.clone());
            let (_, report) =
                crate::reconcile::reconcile_run(store, run, &settings, reference).await?;
            permitted_lines(&report)
        }
        None => Vec::new(),
    };
    let report = finish(
        format!("run {run}: {}", info.run.set_id),
        info.run.content_hash.clone(),
        totals,
        permitted,
        caps,
        targets,
        inputs.base_year,
    );
    Ok((info, report))
}

fn region_name(reference: &Reference, code: RegionCode) -> String {
    reference
        .regions
        .name(code)
        .map_or_else(String::new, str::to_string)
}

fn opt(value: Option<f64>, precision: Precision) -> String {
    value.map_or_else(String::new, |v| quantity(v, precision))
}

fn percent(value: Option<f64>, precision: Precision) -> String {
    value.map_or_else(String::new, |v| quantity(v * 100.0, precision))
}

impl QuotaReport {
    /// The ledger: total, cap, utilization and headroom per region × pollutant × year.
    pub fn ledger_sheet(&self, reference: &Reference, precision: Precision) -> Sheet {
        let mut sheet = Sheet::new(
            "ledger",
            "总量台账 Total-load ledger (吨 t)",
            &[
                "year",
                "region_code",
                "region",
                "pollutant",
                "total_t",
                "cap_t",
                "utilization_pct",
                "headroom_t",
                "status",
            ],
        );
        for l in &self.ledger {
            sheet.push(vec![
                l.year.to_string(),
                l.region.to_string(),
                region_name(reference, l.region),
                reference.pollutants.get(l.pollutant).name.clone(),
                quantity(l.total.unwrap_or(0.0), precision),
                quantity(l.cap, precision),
                percent(l.utilization, precision),
                quantity(l.headroom, precision),
                if l.exceeded {
                    "exceeded".to_string()
                } else if l.total.is_none() {
                    "no_total".to_string()
                } else {
                    "within".to_string()
                },
            ]);
        }
        sheet
    }

    /// Progress against the reduction targets.
    pub fn progress_sheet(&self, reference: &Reference, precision: Precision) -> Sheet {
        let mut sheet = Sheet::new(
            "progress",
            "减排进度 Progress against the reduction targets (吨 t, %)",
            &[
                "region_code",
                "region",
                "pollutant",
                "base_year",
                "base_t",
                "year",
                "current_t",
                "allowed_t",
                "reduction_pct",
                "required_pct",
                "status",
            ],
        );
        for p in &self.progress {
            sheet.push(vec![
                p.region.to_string(),
                region_name(reference, p.region),
                reference.pollutants.get(p.pollutant).name.clone(),
                p.base_year.to_string(),
                opt(p.base, precision),
                p.year.to_string(),
                quantity(p.current, precision),
                opt(p.allowed, precision),
                percent(p.reduction, precision),
                quantity(p.required * 100.0, precision),
                match p.met {
                    Some(true) => "met",
                    Some(false) => "not_met",
                    None => "no_base",
                }
                .to_string(),
            ]);
        }
        sheet
    }

    /// Enterprises above their permitted quantity.
    pub fn permits_sheet(&self, reference: &Reference, precision: Precision) -> Sheet {
        let mut sheet = Sheet::new(
            "above_permitted",
            "超许可排放量企业 Enterprises above their permitted quantity (吨 t)",
            &[
                "uscc",
                "pollutant",
                "year",
                "accounted_t",
                "permitted_t",
                "excess_t",
                "ratio",
            ],
        );
        for e in &self.excess {
            sheet.push(vec![
                e.line.uscc.to_string(),
                reference.pollutants.get(e.line.pollutant).name.clone(),
                e.line.year.to_string(),
                quantity(e.line.accounted, precision),
                quantity(e.line.permitted, precision),
                quantity(e.excess, precision),
                opt(e.ratio, precision),
            ]);
        }
        sheet
    }

    /// Every view.
    pub fn sheets(&self, reference: &Reference, precision: Precision) -> Vec<Sheet> {
        vec![
            self.ledger_sheet(reference, precision),
            self.progress_sheet(reference, precision),
            self.permits_sheet(reference, precision),
        ]
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let exceeded = self.ledger.iter().filter(|l| l.exceeded).count();
        let not_met = self
            .progress
            .iter()
            .filter(|p| p.met == Some(false))
            .count();
        let no_base = self.progress.iter().filter(|p| p.met.is_none()).count();
        format!(
            "{} caps, {exceeded} exceeded; {} progress lines, {not_met} behind target, {no_base} \
             without a {} total; {} enterprise-pollutant-years with a permitted quantity, {} above it",
            self.ledger.len(),
            self.progress.len(),
            self.base_year,
            self.permitted_compared,
            self.excess.len()
        )
    }
}

/// A file's path and SHA-256 for the provenance.
pub fn input_hash(label: &str, path: &Path) -> Result<(String, String), AppError> {
    Ok((
        label.to_string(),
        format!(
            "{} (sha256 {})",
            path.display(),
            crate::runs::file_hash(path)?
        ),
    ))
}
