//! Permit execution reports (排污许可证执行报告): the actual emissions an enterprise reports per
//! outlet, pollutant and period, with the method behind each number, compared with the
//! coefficient estimates; the number of record under each regime's rule; and the measurement
//! model for the statistical reconciliation ([`crate::reconcile`]).
//!
//! Everything is compared per enterprise × pollutant × year (coefficient estimates are annual):
//! report lines are summed over outlets and over the quarters or months of the year. A year is
//! complete for an outlet when its lines cover all twelve months (an annual line, four quarters
//! or twelve months); an annual line wins over sub-annual lines of the same outlet.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes::{IndustryCode, Uscc};
use crate::pollutant::PollutantId;
use crate::reconcile::{Measurement, Method, Problem, RelativeUncertainty};

/// A reporting period: a year, a quarter or a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar year.
    Year(u16),
    /// A quarter (1–4) of a year.
    Quarter(u16, u8),
    /// A month (1–12) of a year.
    Month(u16, u8),
}

impl Period {
    /// Reads `2023`, `2023Q1` / `2023-Q1` / `2023年第1季度` / `2023年一季度`, `2023-03` /
    /// `2023/3` / `2023年3月` / `202303`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let bad = || {
            format!(
                "`{}` is not a period: write a year `2023`, a quarter `2023Q1` or a month `2023-03`",
                text.trim()
            )
        };
        let year_of = |digits: &str| -> Result<u16, String> {
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let year: u16 = digits.parse().map_err(|_| bad())?;
            if (1900..=2200).contains(&year) {
                Ok(year)
            } else {
                Err(format!("the year {year} is out of range (1900–2200)"))
            }
        };
        let small = |digits: &str, max: u8, what: &str| -> Result<u8, String> {
            let value: u8 = match digits {
                "一" => 1,
                "二" => 2,
                "三" => 3,
                "四" => 4,
                d => d.parse().map_err(|_| bad())?,
            };
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(format!(
                    "{what} {value} is out of range (1–{max}) in `{}`",
                    text.trim()
                ))
            }
        };
        let t = t.trim_end_matches('年');
        if t.len() == 4 {
            return Ok(Period::Year(year_of(t)?));
        }
        if let Some((year, rest)) = t.split_once('年') {
            let year = year_of(year)?;
            if let Some(q) = rest.strip_prefix('第').unwrap_or(rest).strip_suffix("季度") {
                return Ok(Period::Quarter(year, small(q, 4, "quarter")?));
            }
            if let Some(m) = rest.strip_suffix('月') {
                return Ok(Period::Month(year, small(m, 12, "month")?));
            }
            return Err(bad());
        }
        let (year, rest) = match t.find(['-', '/', 'Q', '.']) {
            Some(i) => (&t[..i], &t[i..]),
            // `202303`; only ASCII text can be cut at byte 4 (`氨氮` is six bytes too).
            None if t.len() == 6 && t.is_ascii() => (&t[..4], &t[4..]),
            None => return Err(bad()),
        };
        let year = year_of(year)?;
        let rest = rest.trim_start_matches(['-', '/', '.']);
        if let Some(q) = rest.strip_prefix('Q') {
            return Ok(Period::Quarter(year, small(q, 4, "quarter")?));
        }
        if !rest.is_empty() && rest.len() <= 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Period::Month(year, small(rest, 12, "month")?));
        }
        Err(bad())
    }

    /// The year the period lies in.
    pub fn year(self) -> u16 {
        match self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => y,
        }
    }

    /// The quarter a quarter or month lies in.
    pub fn quarter(self) -> Option<u8> {
        match self {
            Period::Year(_) => None,
            Period::Quarter(_, q) => Some(q),
            Period::Month(_, m) => Some((m - 1) / 3 + 1),
        }
    }

    /// `2023`, `2023Q1` or `2023-03`.
    pub fn label(self) -> String {
        match self {
            Period::Year(y) => format!("{y}"),
            Period::Quarter(y, q) => format!("{y}Q{q}"),
            Period::Month(y, m) => format!("{y}-{m:02}"),
        }
    }
}

/// The type of an outlet in the permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutletKind {
    /// 主要排放口: concentration and quantity limits; automatic monitoring usually required.
    Main,
    /// 一般排放口: concentration limits only.
    General,
    /// 其他排放口 / 无组织.
    Other,
}

impl OutletKind {
    /// Reads `main` / `主要排放口` / `主要`, `general` / `一般排放口` / `一般`, `other` / `其他`
    /// / `无组织`.
    pub fn parse(text: &str) -> Option<OutletKind> {
        match text.trim() {
            "main" | "主要排放口" | "主要" => Some(OutletKind::Main),
            "general" | "一般排放口" | "一般" => Some(OutletKind::General),
            "other" | "其他排放口" | "其他" | "无组织" | "无组织排放" => {
                Some(OutletKind::Other)
            }
            _ => None,
        }
    }

    /// The stable word.
    pub fn as_str(self) -> &'static str {
        match self {
            OutletKind::Main => "main",
            OutletKind::General => "general",
            OutletKind::Other => "other",
        }
    }
}

/// One line of a permit execution report.
#[derive(Debug, Clone, PartialEq)]
pub struct PermitReport {
    /// Where the line came from (file and row), for provenance and messages.
    pub origin: String,
    /// The enterprise's USCC, when the report gives it.
    pub uscc: Option<Uscc>,
    /// The permit number, when the report gives it (resolved to a USCC through the registry).
    pub permit_no: Option<String>,
    /// The outlet (排放口编号), when reported per outlet.
    pub outlet_id: Option<String>,
    /// The outlet's type.
    pub outlet_kind: Option<OutletKind>,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The period the value covers.
    pub period: Period,
    /// Reported actual emissions, tonnes.
    pub reported_t: f64,
    /// How the value was obtained.
    pub method: Method,
    /// Valid-data capture rate of automatic monitoring per quarter (index 0 = Q1), as a
    /// fraction 0–1, where reported.
    pub capture_rates: [Option<f64>; 4],
    /// The permitted annual quantity (年许可排放量), tonnes, where the permit sets one.
    pub permitted_t: Option<f64>,
}

/// A report line with its enterprise resolved (a permit number looked up in the registry).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLine {
    /// The enterprise.
    pub uscc: Uscc,
    /// The line.
    pub report: PermitReport,
}

/// A coefficient estimate of one production unit (or activity row) for a year.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The enterprise.
    pub uscc: Uscc,
    /// Its industry (for the punitive rule's industries).
    pub industry: IndustryCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The production unit (`unit_id`), or a label of the activity row without one.
    pub unit: String,
    /// The outlet the unit discharges through, when the activity data says.
    pub outlet_id: Option<String>,
    /// Generated quantity, in the report unit (tonnes, or tonnes of water).
    pub generated: f64,
    /// Emitted quantity, in the report unit.
    pub emitted: f64,
    /// Where the number came from (activity row, coefficient row, edition).
    pub source: String,
}

/// Thresholds of the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Relative difference beyond which a report is flagged as a warning (default 20 %).
    pub warning: f64,
    /// Relative difference beyond which a report is flagged as an error (default 50 %).
    pub error: f64,
    /// Year-over-year change of the reported value beyond which it is flagged (default 20 %).
    pub year_over_year: f64,
    /// Lowest valid-data capture rate of automatic monitoring in a quarter (default 75 %).
    pub minimum_capture: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            warning: 0.20,
            error: 0.50,
            year_over_year: 0.20,
            minimum_capture: 0.75,
        }
    }
}

/// How serious a difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Beyond the warning tolerance.
    Warning,
    /// Beyond the error tolerance.
    Error,
}

impl Level {
    /// `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// A finding of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Flag {
    /// Reported below the estimate beyond a tolerance.
    UnderReported(Level),
    /// Reported above the estimate beyond a tolerance.
    OverReported(Level),
    /// The reported (and/or estimated) quantity is above the permitted annual quantity.
    ExceedsPermit {
        /// The reported total exceeds it.
        reported: bool,
        /// The coefficient estimate exceeds it.
        estimated: bool,
    },
    /// Activity (a positive estimate) but no report.
    MissingReport,
    /// A report but no activity.
    MissingActivity,
    /// The reported value changed by more than the tolerance against the previous year.
    YearOverYearJump {
        /// The previous year's reported value.
        previous: f64,
        /// The relative change.
        change: f64,
    },
    /// Automatic monitoring with a quarter under the minimum capture rate: not usable as
    /// monitoring data.
    MonitoringNotValid {
        /// The quarters under the minimum (1–4).
        quarters: Vec<u8>,
    },
    /// The report lines do not cover the whole year for every outlet.
    IncompleteReport {
        /// Outlets (or `enterprise`) with months missing.
        outlets: Vec<String>,
    },
}

impl Flag {
    /// The stable name of the flag.
    pub fn name(&self) -> &'static str {
        match self {
            Flag::UnderReported(_) => "under_reported",
            Flag::OverReported(_) => "over_reported",
            Flag::ExceedsPermit { .. } => "exceeds_permit",
            Flag::MissingReport => "missing_report",
            Flag::MissingActivity => "missing_activity",
            Flag::YearOverYearJump { .. } => "yoy_jump",
            Flag::MonitoringNotValid { .. } => "monitoring_not_valid",
            Flag::IncompleteReport { .. } => "incomplete_report",
        }
    }

    /// Error or warning: differences beyond the error tolerance, a permit exceeded and invalid
    /// monitoring are errors; the rest are warnings.
    pub fn level(&self) -> Level {
        match self {
            Flag::UnderReported(l) | Flag::OverReported(l) => *l,
            Flag::ExceedsPermit { .. } | Flag::MonitoringNotValid { .. } => Level::Error,
            _ => Level::Warning,
        }
    }
}

/// The comparison of one enterprise, pollutant and year.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The enterprise.
    pub uscc: Uscc,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The coefficient estimate (emitted), when there is activity.
    pub estimate: Option<f64>,
    /// The reported total, when there are reports.
    pub reported: Option<f64>,
    /// `reported − estimate`.
    pub difference: Option<f64>,
    /// `(reported − estimate) / estimate`, when the estimate is not zero.
    pub relative: Option<f64>,
    /// The permitted annual quantity (sum over outlets), where set.
    pub permitted: Option<f64>,
    /// The methods of the report lines, sorted.
    pub methods: Vec<Method>,
    /// The findings, in a fixed order.
    pub flags: Vec<Flag>,
    /// Where the reported lines came from.
    pub report_origins: Vec<String>,
    /// Where the estimates came from.
    pub estimate_sources: Vec<String>,
}

/// Which regime's rule picks the number of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordRule {
    /// Environmental statistics: valid automatic monitoring > manual monitoring > material
    /// balance / coefficient.
    Statistics,
    /// Permit accounting (HJ 942 principle, MEE explanation): online monitoring > manual
    /// monitoring > material balance / coefficient; where the required automatic monitoring of
    /// a main outlet is missing or not valid, the punitive rule (the coefficient method with
    /// the removal efficiency taken as zero, i.e. the generated quantity).
    Permit,
    /// Environmental protection tax, Article 10: ① automatic monitoring, ② data of a
    /// monitoring agency, ③ coefficients or material balance.
    Tax,
}

impl RecordRule {
    /// Every rule.
    pub const ALL: [RecordRule; 3] = [RecordRule::Statistics, RecordRule::Permit, RecordRule::Tax];

    /// `statistics`, `permit` or `tax`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordRule::Statistics => "statistics",
            RecordRule::Permit => "permit",
            RecordRule::Tax => "tax",
        }
    }

    /// Reads the stable word.
    pub fn parse(text: &str) -> Option<RecordRule> {
        RecordRule::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
    }
}

/// Where the permit rule's punitive accounting applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PunitiveRule {
    /// Industry code prefixes (digits, e.g. `44`, `3011`); empty means every industry.
    pub industries: Vec<String>,
}

impl PunitiveRule {
    fn applies_to(&self, industry: &IndustryCode) -> bool {
        self.industries.is_empty()
            || self
                .industries
                .iter()
                .any(|p| industry.digits().starts_with(p.as_str()))
    }
}

/// What a number of record rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Basis {
    /// Reported by this method.
    Reported(Method),
    /// The coefficient estimate of the edition used.
    CoefficientEstimate,
    /// The punitive rule: generated quantity (removal efficiency taken as zero).
    Punitive,
}

impl Basis {
    /// A stable label: `reported:automatic_monitoring`, `coefficient_estimate`, `punitive`.
    pub fn label(self) -> String {
        match self {
            Basis::Reported(m) => format!("reported:{}", m.as_str()),
            Basis::CoefficientEstimate => "coefficient_estimate".to_string(),
            Basis::Punitive => "punitive".to_string(),
        }
    }
}

/// The part of a number of record from one outlet (or the whole enterprise).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPart {
    /// The outlet, or `None` for the whole enterprise.
    pub outlet_id: Option<String>,
    /// The value.
    pub value: f64,
    /// What it rests on.
    pub basis: Basis,
    /// Why (the rule's step that chose it) and the rows it came from.
    pub source: String,
}

/// The number of record of one enterprise, pollutant and year under one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The enterprise.
    pub uscc: Uscc,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The rule.
    pub rule: RecordRule,
    /// The sum of the parts.
    pub value: f64,
    /// One part per outlet (or one for the enterprise).
    pub parts: Vec<RecordPart>,
}

type Key = (Uscc, PollutantId, u16);

/// Everything known about one enterprise, pollutant and year.
struct Group<'a> {
    estimates: Vec<&'a Estimate>,
    reports: Vec<&'a ReportLine>,
}

fn groups<'a>(estimates: &'a [Estimate], reports: &'a [ReportLine]) -> BTreeMap<Key, Group<'a>> {
    let mut out: BTreeMap<Key, Group<'a>> = BTreeMap::new();
    for e in estimates {
        out.entry((e.uscc, e.pollutant, e.year))
            .or_insert_with(|| Group {
                estimates: Vec::new(),
                reports: Vec::new(),
            })
            .estimates
            .push(e);
    }
    for r in reports {
        out.entry((r.uscc, r.report.pollutant, r.report.period.year()))
            .or_insert_with(|| Group {
                estimates: Vec::new(),
                reports: Vec::new(),
            })
            .reports
            .push(r);
    }
    out
}

/// The months (1–12) a period covers.
fn months(period: Period) -> Vec<u8> {
    match period {
        Period::Year(_) => (1..=12).collect(),
        Period::Quarter(_, q) => (3 * q - 2..=3 * q).collect(),
        Period::Month(_, m) => vec![m],
    }
}

/// The lines of one outlet that count: an annual line wins over sub-annual ones.
fn effective<'a>(lines: &[&'a ReportLine]) -> Vec<&'a ReportLine> {
    if lines
        .iter()
        .any(|l| matches!(l.report.period, Period::Year(_)))
    {
        lines
            .iter()
            .copied()
            .filter(|l| matches!(l.report.period, Period::Year(_)))
            .collect()
    } else {
        lines.to_vec()
    }
}

fn complete(lines: &[&ReportLine]) -> bool {
    let covered: BTreeSet<u8> = lines.iter().flat_map(|l| months(l.report.period)).collect();
    covered.len() == 12
}

/// The quarters of automatic-monitoring lines under the minimum capture rate.
fn invalid_quarters(lines: &[&ReportLine], minimum: f64) -> Vec<u8> {
    let mut quarters = BTreeSet::new();
    for line in lines {
        if line.report.method != Method::AutomaticMonitoring {
            continue;
        }
        let relevant: Vec<u8> = match line.report.period.quarter() {
            Some(q) => vec![q],
            None => vec![1, 2, 3, 4],
        };
        for q in relevant {
            if line.report.capture_rates[usize::from(q - 1)].is_some_and(|r| r < minimum) {
                quarters.insert(q);
            }
        }
    }
    quarters.into_iter().collect()
}

/// Report lines per outlet (`None` for lines without an outlet).
fn by_outlet<'a>(reports: &[&'a ReportLine]) -> BTreeMap<Option<String>, Vec<&'a ReportLine>> {
    let mut out: BTreeMap<Option<String>, Vec<&'a ReportLine>> = BTreeMap::new();
    for r in reports {
        out.entry(r.report.outlet_id.clone()).or_default().push(r);
    }
    out
}

fn reported_total(reports: &[&ReportLine]) -> f64 {
    by_outlet(reports)
        .values()
        .flat_map(|lines| effective(lines))
        .map(|l| l.report.reported_t)
        .sum()
}

/// Compares reports with estimates per enterprise, pollutant and year, sorted by enterprise,
/// pollutant and year. `missing_report` is raised only for the enterprises in `reporters`
/// (those that hold a permit or report anything): an enterprise without a permit has nothing
/// to report.
pub fn compare(
    estimates: &[Estimate],
    reports: &[ReportLine],
    tolerances: &Tolerances,
    reporters: &BTreeSet<Uscc>,
) -> Vec<Comparison> {
    let groups = groups(estimates, reports);
    let mut out = Vec::with_capacity(groups.len());
    for ((uscc, pollutant, year), group) in &groups {
        // An enterprise that neither holds a permit nor reports is not part of the comparison.
        if group.reports.is_empty() && !reporters.contains(uscc) {
            continue;
        }
        let estimate = (!group.estimates.is_empty())
            .then(|| group.estimates.iter().map(|e| e.emitted).sum::<f64>());
        let reported = (!group.reports.is_empty()).then(|| reported_total(&group.reports));
        let per_outlet = by_outlet(&group.reports);
        let permitted: Option<f64> = {
            let values: Vec<f64> = per_outlet
                .values()
                .filter_map(|lines| {
                    lines
                        .iter()
                        .filter_map(|l| l.report.permitted_t)
                        .max_by(f64::total_cmp)
                })
                .collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        let difference = match (reported, estimate) {
            (Some(r), Some(e)) => Some(r - e),
            _ => None,
        };
        let relative = match (difference, estimate) {
            (Some(d), Some(e)) if e != 0.0 => Some(d / e),
            _ => None,
        };
        let mut flags = Vec::new();
        if let Some(rel) = relative {
            if rel <= -tolerances.error {
                flags.push(Flag::UnderReported(Level::Error));
            } else if rel <= -tolerances.warning {
                flags.push(Flag::UnderReported(Level::Warning));
            } else if rel >= tolerances.error {
                flags.push(Flag::OverReported(Level::Error));
            } else if rel >= tolerances.warning {
                flags.push(Flag::OverReported(Level::Warning));
            }
        } else if let (Some(r), Some(0.0)) = (reported, estimate)
            && r > 0.0
        {
            flags.push(Flag::OverReported(Level::Error));
        }
        if let Some(limit) = permitted {
            let by_report = reported.is_some_and(|r| r > limit);
            let by_estimate = estimate.is_some_and(|e| e > limit);
            if by_report || by_estimate {
                flags.push(Flag::ExceedsPermit {
                    reported: by_report,
                    estimated: by_estimate,
                });
            }
        }
        if reported.is_none() && estimate.is_some_and(|e| e > 0.0) && reporters.contains(uscc) {
            flags.push(Flag::MissingReport);
        }
        if estimate.is_none() && reported.is_some() {
            flags.push(Flag::MissingActivity);
        }
        if let (Some(now), Some(previous)) = (
            reported,
            year.checked_sub(1)
                .and_then(|y| groups.get(&(*uscc, *pollutant, y)))
                .filter(|g| !g.reports.is_empty())
                .map(|g| reported_total(&g.reports)),
        ) && previous > 0.0
        {
            let change = (now - previous) / previous;
            if change.abs() > tolerances.year_over_year {
                flags.push(Flag::YearOverYearJump { previous, change });
            }
        }
        let invalid = invalid_quarters(&group.reports, tolerances.minimum_capture);
        if !invalid.is_empty() {
            flags.push(Flag::MonitoringNotValid { quarters: invalid });
        }
        let incomplete: Vec<String> = per_outlet
            .iter()
            .filter(|(_, lines)| !complete(&effective(lines)))
            .map(|(outlet, _)| outlet.clone().unwrap_or_else(|| "enterprise".to_string()))
            .collect();
        if !incomplete.is_empty() {
            flags.push(Flag::IncompleteReport {
                outlets: incomplete,
            });
        }
        let methods: BTreeSet<Method> = group.reports.iter().map(|r| r.report.method).collect();
        out.push(Comparison {
            uscc: *uscc,
            pollutant: *pollutant,
            year: *year,
            estimate,
            reported,
            difference,
            relative,
            permitted,
            methods: methods.into_iter().collect(),
            flags,
            report_origins: group
                .reports
                .iter()
                .map(|r| r.report.origin.clone())
                .collect(),
            estimate_sources: group.estimates.iter().map(|e| e.source.clone()).collect(),
        });
    }
    out
}

/// The candidates of one outlet (or of the whole enterprise).
struct Candidates<'a> {
    outlet_id: Option<String>,
    main: bool,
    lines: Vec<&'a ReportLine>,
    estimates: Vec<&'a Estimate>,
}

/// Splits a group by outlet when both sides name their outlets; otherwise one part for the
/// whole enterprise.
fn candidates<'a>(group: &Group<'a>) -> Vec<Candidates<'a>> {
    let outlets_named = group.reports.iter().all(|r| r.report.outlet_id.is_some())
        && group.estimates.iter().all(|e| e.outlet_id.is_some());
    if !outlets_named {
        return vec![Candidates {
            outlet_id: None,
            main: group
                .reports
                .iter()
                .any(|r| r.report.outlet_kind == Some(OutletKind::Main)),
            lines: group.reports.clone(),
            estimates: group.estimates.clone(),
        }];
    }
    let mut outlets: BTreeSet<String> = BTreeSet::new();
    outlets.extend(
        group
            .reports
            .iter()
            .filter_map(|r| r.report.outlet_id.clone()),
    );
    outlets.extend(group.estimates.iter().filter_map(|e| e.outlet_id.clone()));
    outlets
        .into_iter()
        .map(|outlet| {
            let lines: Vec<&ReportLine> = group
                .reports
                .iter()
                .copied()
                .filter(|r| r.report.outlet_id.as_deref() == Some(outlet.as_str()))
                .collect();
            Candidates {
                main: lines
                    .iter()
                    .any(|r| r.report.outlet_kind == Some(OutletKind::Main)),
                lines,
                estimates: group
                    .estimates
                    .iter()
                    .copied()
                    .filter(|e| e.outlet_id.as_deref() == Some(outlet.as_str()))
                    .collect(),
                outlet_id: Some(outlet),
            }
        })
        .collect()
}

fn rows(lines: &[&ReportLine]) -> String {
    lines
        .iter()
        .map(|l| l.report.origin.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The number of record of every enterprise, pollutant and year under `rule`, sorted.
pub fn records(
    estimates: &[Estimate],
    reports: &[ReportLine],
    rule: RecordRule,
    tolerances: &Tolerances,
    punitive: &PunitiveRule,
) -> Vec<Record> {
    let mut out = Vec::new();
    for ((uscc, pollutant, year), group) in groups(estimates, reports) {
        let mut parts = Vec::new();
        for c in candidates(&group) {
            let lines = by_outlet(&c.lines)
                .values()
                .flat_map(|l| effective(l))
                .collect::<Vec<_>>();
            let with = |method: Method| -> Vec<&ReportLine> {
                lines
                    .iter()
                    .copied()
                    .filter(|l| l.report.method == method)
                    .collect()
            };
            let usable = |chosen: &[&ReportLine]| !chosen.is_empty() && complete(chosen);
            let automatic = with(Method::AutomaticMonitoring);
            let automatic_valid = usable(&automatic)
                && invalid_quarters(&automatic, tolerances.minimum_capture).is_empty();
            let manual = with(Method::ManualMonitoring);
            let balance = with(Method::MaterialBalance);
            let sum =
                |chosen: &[&ReportLine]| chosen.iter().map(|l| l.report.reported_t).sum::<f64>();
            let estimate: f64 = c.estimates.iter().map(|e| e.emitted).sum();
            let generated: f64 = c.estimates.iter().map(|e| e.generated).sum();
            let sources = || {
                c.estimates
                    .iter()
                    .map(|e| e.source.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let punitive_applies = rule == RecordRule::Permit
                && c.main
                && !automatic_valid
                && c.estimates.iter().any(|e| punitive.applies_to(&e.industry));
            let step = |n: &str, what: &str| format!("{} rule step {n}: {what}", rule.as_str());
            let part = if automatic_valid {
                Some((
                    sum(&automatic),
                    Basis::Reported(Method::AutomaticMonitoring),
                    format!(
                        "{} ({})",
                        step("1", "valid automatic monitoring"),
                        rows(&automatic)
                    ),
                ))
            } else if punitive_applies && !c.estimates.is_empty() {
                let why = if automatic.is_empty() {
                    "the main outlet has no automatic monitoring"
                } else {
                    "the main outlet's automatic monitoring is not valid or not complete"
                };
                Some((
                    generated,
                    Basis::Punitive,
                    format!(
                        "permit punitive rule: {why}; generated quantity, removal efficiency taken as zero ({})",
                        sources()
                    ),
                ))
            } else if usable(&manual) {
                Some((
                    sum(&manual),
                    Basis::Reported(Method::ManualMonitoring),
                    format!("{} ({})", step("2", "manual monitoring"), rows(&manual)),
                ))
            } else if usable(&balance) {
                Some((
                    sum(&balance),
                    Basis::Reported(Method::MaterialBalance),
                    format!("{} ({})", step("3", "material balance"), rows(&balance)),
                ))
            } else if !c.estimates.is_empty() {
                Some((
                    estimate,
                    Basis::CoefficientEstimate,
                    format!("{} ({})", step("3", "coefficient estimate"), sources()),
                ))
            } else {
                None
            };
            if let Some((value, basis, source)) = part {
                parts.push(RecordPart {
                    outlet_id: c.outlet_id.clone(),
                    value,
                    basis,
                    source,
                });
            }
        }
        if !parts.is_empty() {
            out.push(Record {
                uscc,
                pollutant,
                year,
                rule,
                value: parts.iter().map(|p| p.value).sum(),
                parts,
            });
        }
    }
    out
}

/// One measurement of a reconciliation block, labelled for people.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementLabel {
    /// `estimate` or `report`.
    pub kind: &'static str,
    /// The unit (for estimates) or the outlet / `enterprise` (for reports).
    pub name: String,
    /// The method.
    pub method: Method,
    /// Where it came from.
    pub origin: String,
}

/// The reconciliation problem of one enterprise, pollutant and year: the unknowns are the
/// production units' true emissions, measured by their coefficient estimates and by the
/// complete annual reports of their outlets (or of the enterprise).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The enterprise.
    pub uscc: Uscc,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The year.
    pub year: u16,
    /// The units (one unknown each).
    pub units: Vec<String>,
    /// The problem.
    pub problem: Problem,
    /// A label per measurement.
    pub labels: Vec<MeasurementLabel>,
    /// Report lines left out, and why (incomplete year, invalid monitoring, outlet with no
    /// unit).
    pub left_out: Vec<String>,
}

/// Builds the reconciliation blocks. Measurement standard deviations come from their method's
/// relative uncertainty × the value, with a floor of 1 % of the block's largest value so that
/// a zero still carries weight.
pub fn blocks(
    estimates: &[Estimate],
    reports: &[ReportLine],
    uncertainty: &RelativeUncertainty,
    tolerances: &Tolerances,
) -> Vec<Block> {
    let mut out = Vec::new();
    for ((uscc, pollutant, year), group) in groups(estimates, reports) {
        if group.estimates.is_empty() || group.reports.is_empty() {
            continue;
        }
        // Unknowns: units in order of first appearance; several activity rows of one unit add.
        let mut units: Vec<String> = Vec::new();
        let mut unit_estimate: Vec<(f64, Vec<String>)> = Vec::new();
        let mut unit_outlets: Vec<BTreeSet<String>> = Vec::new();
        for e in &group.estimates {
            let i = match units.iter().position(|u| u == &e.unit) {
                Some(i) => i,
                None => {
                    units.push(e.unit.clone());
                    unit_estimate.push((0.0, Vec::new()));
                    unit_outlets.push(BTreeSet::new());
                    units.len() - 1
                }
            };
            unit_estimate[i].0 += e.emitted;
            unit_estimate[i].1.push(e.source.clone());
            if let Some(o) = &e.outlet_id {
                unit_outlets[i].insert(o.clone());
            }
        }
        let mut raw: Vec<(Vec<usize>, f64, Method, MeasurementLabel)> = Vec::new();
        for (i, (value, sources)) in unit_estimate.iter().enumerate() {
            raw.push((
                vec![i],
                *value,
                Method::Coefficient,
                MeasurementLabel {
                    kind: "estimate",
                    name: units[i].clone(),
                    method: Method::Coefficient,
                    origin: sources.join("; "),
                },
            ));
        }
        let mut left_out = Vec::new();
        for (outlet, lines) in by_outlet(&group.reports) {
            let lines = effective(&lines);
            let name = outlet.clone().unwrap_or_else(|| "enterprise".to_string());
            if !complete(&lines) {
                left_out.push(format!(
                    "{name}: the report does not cover the whole year ({})",
                    rows(&lines)
                ));
                continue;
            }
            if !invalid_quarters(&lines, tolerances.minimum_capture).is_empty() {
                left_out.push(format!(
                    "{name}: automatic monitoring not valid ({})",
                    rows(&lines)
                ));
                continue;
            }
            let behind: Vec<usize> = match &outlet {
                None => (0..units.len()).collect(),
                Some(o) => (0..units.len())
                    .filter(|&i| unit_outlets[i].contains(o))
                    .collect(),
            };
            if behind.is_empty() {
                left_out.push(format!(
                    "{name}: no production unit discharges through it ({})",
                    rows(&lines)
                ));
                continue;
            }
            // The weakest method of the lines decides the uncertainty.
            let method = lines
                .iter()
                .map(|l| l.report.method)
                .max_by_key(|m| Method::ALL.iter().position(|x| x == m))
                .unwrap_or(Method::Other);
            raw.push((
                behind,
                lines.iter().map(|l| l.report.reported_t).sum(),
                method,
                MeasurementLabel {
                    kind: "report",
                    name,
                    method,
                    origin: rows(&lines),
                },
            ));
        }
        let floor = 0.01 * raw.iter().map(|r| r.1.abs()).fold(0.0, f64::max);
        let floor = if floor > 0.0 { floor } else { 1e-9 };
        let mut measurements = Vec::new();
        let mut labels = Vec::new();
        for (unknowns, value, method, label) in raw {
            measurements.push(Measurement {
                unknowns,
                value,
                std_dev: uncertainty.std_dev(method, value, floor),
            });
            labels.push(label);
        }
        out.push(Block {
            uscc,
            pollutant,
            year,
            problem: Problem {
                unknowns: units.len(),
                measurements,
            },
            units,
            labels,
            left_out,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::reconcile::{Options, Outcome, reconcile};

    const A: &str = "91152502MA2BPPBJ0K";
    const SO2: PollutantId = PollutantId(3);

    fn uscc() -> Uscc {
        Uscc::parse(A).expect("uscc")
    }

    fn estimate(
        year: u16,
        unit: &str,
        outlet: Option<&str>,
        generated: f64,
        emitted: f64,
    ) -> Estimate {
        Estimate {
            uscc: uscc(),
            industry: IndustryCode::parse("4430").expect("industry"),
            pollutant: SO2,
            year,
            unit: unit.to_string(),
            outlet_id: outlet.map(str::to_string),
            generated,
            emitted,
            source: format!("activity {unit} {year}"),
        }
    }

    fn line(
        period: &str,
        outlet: Option<&str>,
        kind: Option<OutletKind>,
        value: f64,
        method: Method,
    ) -> ReportLine {
        ReportLine {
            uscc: uscc(),
            report: PermitReport {
                origin: format!("reports.csv row {period}/{}", outlet.unwrap_or("-")),
                uscc: Some(uscc()),
                permit_no: None,
                outlet_id: outlet.map(str::to_string),
                outlet_kind: kind,
                pollutant: SO2,
                period: Period::parse(period).expect("period"),
                reported_t: value,
                method,
                capture_rates: [None; 4],
                permitted_t: None,
            },
        }
    }

    fn quarters(year: u16, outlet: &str, values: [f64; 4], capture: [f64; 4]) -> Vec<ReportLine> {
        (0..4)
            .map(|q| {
                let mut l = line(
                    &format!("{year}Q{}", q + 1),
                    Some(outlet),
                    Some(OutletKind::Main),
                    values[q],
                    Method::AutomaticMonitoring,
                );
                l.report.capture_rates[q] = Some(capture[q]);
                l
            })
            .collect()
    }

    fn names(c: &Comparison) -> Vec<&'static str> {
        c.flags.iter().map(Flag::name).collect()
    }

    #[test]
    fn comparison_flags_each_rule() {
        let t = Tolerances::default();
        // 2022: estimate 100, four quarters of 20 → 80: −20 % is a warning (at the tolerance).
        // 2023: estimate 100, reported 40 → −60 %: an error; and −50 % against 2022's 80.
        let estimates = vec![
            estimate(2022, "U1", Some("DA001"), 300.0, 100.0),
            estimate(2023, "U1", Some("DA001"), 300.0, 100.0),
        ];
        let mut reports = quarters(2022, "DA001", [20.0; 4], [0.95; 4]);
        reports.extend(quarters(2023, "DA001", [10.0; 4], [0.95, 0.7, 0.95, 0.95]));
        reports[0].report.permitted_t = Some(70.0);
        let c = compare(&estimates, &reports, &t, &BTreeSet::from([uscc()]));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].reported, Some(80.0));
        assert_eq!(c[0].relative, Some(-0.2));
        assert_eq!(names(&c[0]), ["under_reported", "exceeds_permit"]);
        assert_eq!(c[0].flags[0], Flag::UnderReported(Level::Warning));
        assert_eq!(
            c[0].flags[1],
            Flag::ExceedsPermit {
                reported: true,
                estimated: true
            }
        );
        assert_eq!(c[1].flags[0], Flag::UnderReported(Level::Error));
        assert_eq!(
            c[1].flags[1],
            Flag::YearOverYearJump {
                previous: 80.0,
                change: -0.5
            }
        );
        assert_eq!(
            c[1].flags[2],
            Flag::MonitoringNotValid { quarters: vec![2] }
        );
        assert_eq!(c[1].methods, [Method::AutomaticMonitoring]);
    }

    #[test]
    fn missing_sides_and_incomplete_years() {
        let t = Tolerances::default();
        let estimates = vec![estimate(2022, "U1", None, 10.0, 5.0)];
        let reports = vec![
            line("2023Q1", None, None, 1.0, Method::ManualMonitoring),
            line("2023Q2", None, None, 1.0, Method::ManualMonitoring),
        ];
        let c = compare(&estimates, &reports, &t, &BTreeSet::from([uscc()]));
        assert_eq!(names(&c[0]), ["missing_report"]);
        assert_eq!(names(&c[1]), ["missing_activity", "incomplete_report"]);
        assert_eq!(c[1].reported, Some(2.0));
        // Without a permit there is nothing to report, and nothing to compare.
        let c = compare(&estimates, &reports, &t, &BTreeSet::new());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].year, 2023);
        // An annual line wins over quarterly lines of the same outlet.
        let reports = vec![
            line("2022", None, None, 6.0, Method::ManualMonitoring),
            line("2022Q1", None, None, 1.0, Method::ManualMonitoring),
        ];
        let c = compare(&estimates, &reports, &t, &BTreeSet::from([uscc()]));
        assert_eq!((c[0].reported, c[0].relative), (Some(6.0), Some(0.2)));
        assert_eq!(c[0].flags, [Flag::OverReported(Level::Warning)]);
    }

    #[test]
    fn number_of_record_under_each_rule() {
        let t = Tolerances::default();
        let p = PunitiveRule::default();
        let estimates = vec![
            estimate(2022, "U1", Some("DA001"), 300.0, 100.0),
            estimate(2022, "U2", Some("DW001"), 50.0, 20.0),
        ];
        // DA001: valid automatic monitoring 90; DW001: manual monitoring 25.
        let mut reports = quarters(2022, "DA001", [22.5; 4], [0.95; 4]);
        reports.push(line(
            "2022",
            Some("DW001"),
            Some(OutletKind::General),
            25.0,
            Method::ManualMonitoring,
        ));
        for rule in RecordRule::ALL {
            let r = &records(&estimates, &reports, rule, &t, &p)[0];
            assert_eq!(r.value, 115.0, "{rule:?}");
            assert_eq!(
                r.parts[0].basis,
                Basis::Reported(Method::AutomaticMonitoring)
            );
            assert_eq!(r.parts[1].basis, Basis::Reported(Method::ManualMonitoring));
        }
        // Q2 capture under 75 %: statistics and tax fall back to the coefficient estimate of
        // DA001 (no manual monitoring there); the permit rule is punitive: generated 300.
        reports[1].report.capture_rates[1] = Some(0.6);
        let value = |rule| records(&estimates, &reports, rule, &t, &p)[0].clone();
        assert_eq!(value(RecordRule::Statistics).value, 100.0 + 25.0);
        assert_eq!(
            value(RecordRule::Statistics).parts[0].basis,
            Basis::CoefficientEstimate
        );
        assert_eq!(value(RecordRule::Tax).value, 125.0);
        let permit = value(RecordRule::Permit);
        assert_eq!(permit.value, 300.0 + 25.0);
        assert_eq!(permit.parts[0].basis, Basis::Punitive);
        assert!(
            permit.parts[0].source.contains("not valid"),
            "{}",
            permit.parts[0].source
        );
        // Punitive only for the configured industries.
        let only_steel = PunitiveRule {
            industries: vec!["31".to_string()],
        };
        let permit = records(&estimates, &reports, RecordRule::Permit, &t, &only_steel)[0].clone();
        assert_eq!(permit.parts[0].basis, Basis::CoefficientEstimate);
        // A material balance report beats the coefficient estimate.
        let balance = vec![line("2022", None, None, 130.0, Method::MaterialBalance)];
        let r = records(&estimates, &balance, RecordRule::Statistics, &t, &p)[0].clone();
        assert_eq!(
            (r.value, r.parts[0].basis),
            (130.0, Basis::Reported(Method::MaterialBalance))
        );
        // Only estimates: the coefficient estimate is the number of record.
        let r = records(&estimates, &[], RecordRule::Tax, &t, &p)[0].clone();
        assert_eq!((r.value, r.parts.len()), (120.0, 2));
    }

    #[test]
    fn reconciliation_blocks_join_units_behind_outlets() {
        let t = Tolerances::default();
        let u = RelativeUncertainty::default();
        // Units U1 and U2 discharge through DA001 (automatic monitoring, 150); U3 through
        // DA002 whose year is incomplete and is left out.
        let estimates = vec![
            estimate(2022, "U1", Some("DA001"), 0.0, 80.0),
            estimate(2022, "U2", Some("DA001"), 0.0, 60.0),
            estimate(2022, "U3", Some("DA002"), 0.0, 50.0),
        ];
        let mut reports = quarters(2022, "DA001", [37.5; 4], [0.95; 4]);
        reports.push(line(
            "2022Q1",
            Some("DA002"),
            Some(OutletKind::Main),
            10.0,
            Method::AutomaticMonitoring,
        ));
        let b = &blocks(&estimates, &reports, &u, &t)[0];
        assert_eq!(b.units, ["U1", "U2", "U3"]);
        assert_eq!(b.problem.measurements.len(), 4);
        assert_eq!(b.problem.measurements[3].unknowns, [0, 1]);
        assert_eq!(b.problem.measurements[3].value, 150.0);
        assert!((b.problem.measurements[3].std_dev - 0.05 * 150.0).abs() < 1e-12);
        assert!((b.problem.measurements[0].std_dev - 0.30 * 80.0).abs() < 1e-12);
        assert_eq!(b.left_out.len(), 1);
        assert!(b.left_out[0].starts_with("DA002"));
        // The same numbers as the hand-computed plant in `reconcile`: x₀ = 80 + 10·576/956.25.
        let Outcome::Reconciled(s) = reconcile(&b.problem, Options::default()) else {
            panic!("reconciled");
        };
        assert!((s.estimates[0] - (80.0 + 10.0 * 576.0 / 956.25)).abs() < 1e-9);
        assert!(
            (s.estimates[2] - 50.0).abs() < 1e-9,
            "U3 is measured once: unchanged"
        );
    }

    #[test]
    fn periods_in_the_ways_people_write_them() {
        for (text, period) in [
            ("2023", Period::Year(2023)),
            ("2023年", Period::Year(2023)),
            ("2023Q1", Period::Quarter(2023, 1)),
            ("2023-q4", Period::Quarter(2023, 4)),
            ("2023年第2季度", Period::Quarter(2023, 2)),
            ("2023年三季度", Period::Quarter(2023, 3)),
            ("2023-03", Period::Month(2023, 3)),
            ("2023/3", Period::Month(2023, 3)),
            ("2023.12", Period::Month(2023, 12)),
            ("202311", Period::Month(2023, 11)),
            ("2023年11月", Period::Month(2023, 11)),
            (" 2023 Q2 ", Period::Quarter(2023, 2)),
        ] {
            assert_eq!(Period::parse(text), Ok(period), "{text}");
        }
        for text in [
            "",
            "23",
            "2023Q5",
            "2023-13",
            "2023-00",
            "abcd",
            "2023年第5季度",
            "1800",
            "2023-3-1",
        ] {
            assert!(Period::parse(text).is_err(), "{text}");
        }
        assert_eq!(Period::Month(2023, 8).quarter(), Some(3));
        assert_eq!(Period::Month(2023, 8).label(), "2023-08");
    }

    /// Found by the `csv_ingest` fuzz target: a six-byte text that is not ASCII (a pollutant in
    /// the period column) was cut at byte 4, inside `氮`, and panicked.
    #[test]
    fn a_six_byte_period_that_is_not_ascii_is_an_error() {
        let bad = |text: &str| {
            format!(
                "`{text}` is not a period: write a year `2023`, a quarter `2023Q1` or a month `2023-03`"
            )
        };
        assert_eq!(Period::parse("氨氮"), Err(bad("氨氮")));
        assert_eq!(Period::parse("2023é"), Err(bad("2023é")));
        assert_eq!(Period::parse("20é23"), Err(bad("20é23")));
        assert_eq!(Period::Quarter(2023, 1).label(), "2023Q1");
    }

    #[test]
    fn outlet_kinds() {
        assert_eq!(OutletKind::parse("主要排放口"), Some(OutletKind::Main));
        assert_eq!(OutletKind::parse("一般"), Some(OutletKind::General));
        assert_eq!(OutletKind::parse("无组织"), Some(OutletKind::Other));
        assert_eq!(OutletKind::parse("重点"), None);
    }
}
