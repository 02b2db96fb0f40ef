//! Reading permit execution reports (排污许可证执行报告): the actual emissions an enterprise
//! reports per outlet, pollutant and period, as [`PermitReport`] lines.
//!
//! The columns are those of [`schemas::PERMIT_REPORTS`]. Rules, each checked on every line and
//! every problem reported at once, located by file, sheet, row, column and value:
//!
//! - **Enterprise**: `uscc` (统一社会信用代码) and/or `permit_no` (排污许可证编号); at least one per
//!   line (`missing-enterprise`); a USCC must pass its GB 32100 check (`bad-uscc`). A permit
//!   number alone is resolved to an enterprise through the registry later, not here.
//! - **Pollutant**: any name or alias of the pollutant catalog (`unknown-pollutant`); it must be
//!   reported in a mass unit in the catalog: flows such as `工业废气量` (万标立方米) are not
//!   permit quantities (`not-a-mass-pollutant`).
//! - **Period**: a year, quarter or month as [`Period::parse`] reads it (`bad-period`). A cell
//!   that Excel turned into the first day of a month (`2023-03-01`, what Excel makes of a typed
//!   `2023-03`) is read as that month with a `period-from-date` warning.
//! - **Amounts** `reported` (实际排放量, required) and `permitted` (许可排放量, the annual permitted
//!   quantity, optional) are finite, non-negative numbers (`bad-number`, `negative-quantity`),
//!   converted to tonnes. The unit of each amount column is, in this order: a unit written in
//!   its header (`实际排放量(吨)`, `实际排放量（千克）`, `reported (kg)`), else the line's `unit`
//!   (单位) cell, else tonnes. Any mass unit npsc knows is accepted (`t`/`吨`, `kg`/`千克`/`公斤`,
//!   `g`/`克`, `万吨`); another unit is `unknown-unit`. The `unit` cell is first of all the unit
//!   of `reported`: when the `reported` header names a unit too and the two disagree, the line
//!   is `conflicting-unit` (a `permitted` header with its own unit, `许可排放量(吨)`, simply keeps
//!   it).
//! - **Method** (核算方法): `自动监测`, `手工监测`, `物料衡算`, `产排污系数`, `其他` or their stable
//!   English words ([`Method::parse`]; `unknown-method`).
//! - **Outlet type** (排放口类型, optional): `主要排放口`, `一般排放口`, `其他排放口`/`无组织`
//!   ([`OutletKind::parse`]; `unknown-outlet-kind`).
//! - **Capture rates** (有效数据捕集率) of automatic monitoring, per quarter: `capture_rate_q1`…
//!   `capture_rate_q4` (`有效数据捕集率(一季度)`…), and `capture_rate`, which applies to a
//!   quarterly or monthly line's own quarter (on a yearly line it is `capture-rate-needs-quarter`:
//!   give the quarterly columns instead; given together with its quarter's own column, the two
//!   must agree, else `conflicting-capture-rate`). **One rule reads every rate:** a value written
//!   with `%` (`92.5%`) is a percentage; otherwise a value above 1 is a percentage (`92.5`) and a
//!   value from 0 to 1 a fraction (`0.925`; so `1` is 100 %, never 1 %). The result must lie
//!   within 0–100 % (`bad-capture-rate`) and is kept as a fraction.
//! - **A capture rate on a line whose method is not automatic monitoring** is a *warning*
//!   (`capture-rate-not-monitoring`, at the first rate given), and every rate of the line is
//!   dropped unread: the reported amount is still
//!   usable, the rate means nothing for manual monitoring or a calculation, and keeping it would
//!   let a later check judge monitoring that did not take place.
//! - **Duplicates**: the same enterprise (USCC, else permit number, as written), outlet,
//!   pollutant and period on two lines is `duplicate-report` at the second, naming the first.
//! - **Permitted quantity**: it is annual; lines of one enterprise, outlet, pollutant and year
//!   (e.g. the four quarters) that repeat it must give the same value (`conflicting-permitted`).
//!
//! Lines with errors are left out; when any error was found the whole file is refused with all
//! the issues (warnings included), as the other readers do. The warnings of a good file are
//! returned with its lines by [`read_permit_reports_with_warnings`].

use std::collections::HashMap;

use accounting::activity::parse_plain_number;
use accounting::codes::Uscc;
use accounting::permit::{OutletKind, Period, PermitReport};
use accounting::pollutant::PollutantId;
use accounting::reconcile::Method;
use accounting::units::{Dimension, Ratio, Unit};

use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::registry::parse_uscc;
use crate::schemas::{self, permit_reports as p};
use crate::table::{ReadOptions, Record, TableReader};
use crate::{Source, each_record};

/// Reads and validates permit execution report lines; every problem is reported. Warnings of a
/// file without errors are dropped; see [`read_permit_reports_with_warnings`] to keep them.
pub fn read_permit_reports(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Vec<PermitReport>, Issues> {
    read_permit_reports_with_warnings(source, reference, options).map(|(lines, _)| lines)
}

/// Like [`read_permit_reports`], returning the warnings of a good file with its lines.
pub fn read_permit_reports_with_warnings(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<(Vec<PermitReport>, Issues), Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut lines = Vec::new();
    let mut state = State::default();
    let opened = each_record(
        source,
        &schemas::PERMIT_REPORTS,
        options,
        &mut issues,
        |reader, record, issues| {
            if state.header_units.is_none() {
                state.header_units = Some(header_units(reader, issues));
            }
            if let Some(line) = read_line(reader, record, reference, &mut state, issues) {
                lines.push(line);
            }
        },
    );
    if opened.is_none() || issues.has_errors() {
        return Err(issues);
    }
    Ok((lines, issues))
}

/// What the reader remembers across lines.
#[derive(Default)]
struct State {
    /// The units written in the headers of `reported` and `permitted`: `None` before the first
    /// line; then per column, `Ok(None)` when the header names none, `Err(())` when it names a
    /// unit that is not a mass (already reported).
    header_units: Option<[Result<Option<HeaderUnit>, ()>; 2]>,
    /// First row of each (enterprise, outlet, pollutant, period).
    seen: HashMap<(String, String, PollutantId, Period), u64>,
    /// Permitted quantity (tonnes) and its first row per (enterprise, outlet, pollutant, year).
    permitted: HashMap<(String, String, PollutantId, u16), (f64, u64)>,
}

/// A unit written in a header: its text and its factor to tonnes.
#[derive(Debug, Clone)]
struct HeaderUnit {
    text: String,
    to_tonnes: Ratio,
}

/// The amount columns whose header may carry a unit.
const AMOUNTS: [usize; 2] = [p::REPORTED, p::PERMITTED];

/// The quarterly capture-rate columns, Q1 to Q4.
const QUARTER_RATES: [usize; 4] = [
    p::CAPTURE_RATE_Q1,
    p::CAPTURE_RATE_Q2,
    p::CAPTURE_RATE_Q3,
    p::CAPTURE_RATE_Q4,
];

/// Reads the unit notes of the amount headers (`实际排放量（千克）`).
fn header_units(reader: &TableReader, issues: &mut Issues) -> [Result<Option<HeaderUnit>, ()>; 2] {
    AMOUNTS.map(|field| {
        let Some(column) = reader.column(field) else {
            return Ok(None);
        };
        let Some(label) = reader.headers().get(column) else {
            return Ok(None);
        };
        let Some(note) = header_note(label) else {
            return Ok(None);
        };
        match mass_to_tonnes(&note) {
            Ok(to_tonnes) => Ok(Some(HeaderUnit {
                text: note,
                to_tonnes,
            })),
            Err(message) => {
                issues.push(
                    Issue::error(
                        reader.location(reader.header_row(), field),
                        "unknown-unit",
                        format!("the header names the unit `{note}`: {message}"),
                    )
                    .with_value(label.as_str())
                    .with_hint("write the amount in a mass unit, e.g. `实际排放量(吨)` or `实际排放量(千克)`"),
                );
                Err(())
            }
        }
    })
}

/// `实际排放量（千克）` → `千克`: the text of a final bracketed note, full-width brackets
/// accepted.
fn header_note(label: &str) -> Option<String> {
    let label: String = label
        .trim()
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .collect();
    let inner = label.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let note = inner[open + 1..].trim();
    (open > 0 && !note.is_empty()).then(|| note.to_string())
}

/// The factor from a mass unit to tonnes, or why the text is not one.
fn mass_to_tonnes(text: &str) -> Result<Ratio, String> {
    let unit = Unit::parse(text).map_err(|e| e.to_string())?;
    if unit.dimension() != Dimension::MASS {
        return Err(format!(
            "`{}` is not a mass unit (a {})",
            text.trim(),
            unit.dimension()
        ));
    }
    let tonne = Unit::parse("吨").map_err(|e| e.to_string())?;
    unit.conversion_to(&tonne).map_err(|e| e.to_string())
}

/// Reads one line; `None` when it has errors (all pushed).
fn read_line(
    reader: &TableReader,
    record: &Record,
    reference: &Reference,
    state: &mut State,
    issues: &mut Issues,
) -> Option<PermitReport> {
    let row = record.row();
    let at = |field| reader.location(row, field);
    let before = issues.error_count();
    let get = |field: usize| {
        if record.is_bad_cell(field) {
            None
        } else {
            record.get(field)
        }
    };
    let required = |field: usize, issues: &mut Issues| -> Option<&str> {
        let value = get(field);
        if value.is_none() && !record.is_bad_cell(field) {
            issues.push(Issue::error(
                at(field),
                "missing-value",
                "a value is required",
            ));
        }
        value
    };

    // Enterprise.
    let uscc_text = get(p::USCC);
    let permit_no = get(p::PERMIT_NO).map(str::to_string);
    let uscc = uscc_text.and_then(|text| {
        parse_uscc(text, at(p::USCC))
            .map_err(|issue| issues.push(issue))
            .ok()
    });
    if uscc_text.is_none()
        && permit_no.is_none()
        && !record.is_bad_cell(p::USCC)
        && !record.is_bad_cell(p::PERMIT_NO)
    {
        issues.push(
            Issue::error(
                at(p::USCC),
                "missing-enterprise",
                "the line names no enterprise: give its USCC or its permit number",
            )
            .with_hint("fill `统一社会信用代码` (uscc) or `排污许可证编号` (permit_no)"),
        );
    }

    // Outlet.
    let outlet_id = get(p::OUTLET_ID).map(str::to_string);
    let outlet_kind = get(p::OUTLET_KIND).and_then(|text| {
        let kind = OutletKind::parse(text);
        if kind.is_none() {
            issues.push(
                Issue::error(
                    at(p::OUTLET_KIND),
                    "unknown-outlet-kind",
                    "unknown outlet type",
                )
                .with_value(text)
                .with_hint(
                    "use 主要排放口, 一般排放口, 其他排放口 or 无组织 (main, general, other)",
                ),
            );
        }
        kind
    });

    // Pollutant.
    let pollutant = required(p::POLLUTANT, issues).and_then(|text| {
        let Some(id) = reference.pollutants.lookup(text) else {
            issues.push(
                Issue::error(at(p::POLLUTANT), "unknown-pollutant", "unknown pollutant")
                    .with_value(text)
                    .with_hint(
                        "pollutants are listed in datasets/reference/pollutants.csv with their \
                         accepted aliases",
                    ),
            );
            return None;
        };
        let def = reference.pollutants.get(id);
        if def.report_unit.dimension() != Dimension::MASS {
            issues.push(
                Issue::error(
                    at(p::POLLUTANT),
                    "not-a-mass-pollutant",
                    format!(
                        "`{}` is measured in {}, not as a mass: permit reports give pollutant \
                         masses",
                        def.name,
                        def.report_unit.symbol()
                    ),
                )
                .with_value(text),
            );
            return None;
        }
        Some(id)
    });

    // Period.
    let period = required(p::PERIOD, issues).and_then(|text| match Period::parse(text) {
        Ok(period) => Some(period),
        Err(message) => match month_from_date(text) {
            Some(period) => {
                issues.push(
                    Issue::warning(
                        at(p::PERIOD),
                        "period-from-date",
                        format!(
                            "the date `{text}` is read as the month {}",
                            period.label()
                        ),
                    )
                    .with_value(text)
                    .with_hint(
                        "Excel turns a typed `2023-03` into a date; format the column as text \
                         or write `2023年3月`",
                    ),
                );
                Some(period)
            }
            None => {
                issues.push(
                    Issue::error(at(p::PERIOD), "bad-period", message)
                        .with_value(text)
                        .with_hint("write `2023`, `2023Q1` / `2023年第1季度` or `2023-03` / `2023年3月`"),
                );
                None
            }
        },
    });

    // Units and amounts.
    let header_units = state.header_units.clone().unwrap_or([Ok(None), Ok(None)]);
    let row_unit = get(p::UNIT).and_then(|text| match mass_to_tonnes(text) {
        Ok(factor) => Some((text, factor)),
        Err(message) => {
            issues.push(
                Issue::error(at(p::UNIT), "unknown-unit", message)
                    .with_value(text)
                    .with_hint("use t / 吨, kg / 千克 or another mass unit"),
            );
            None
        }
    });
    let unit_bad = get(p::UNIT).is_some() && row_unit.is_none();
    let amount = |slot: usize, issues: &mut Issues| -> Option<f64> {
        let field = AMOUNTS[slot];
        let text = get(field)?;
        let factor = match &header_units[slot] {
            Err(()) => return None,
            Ok(Some(header)) => {
                if let Some((unit_text, factor)) = row_unit
                    && field == p::REPORTED
                    && factor != header.to_tonnes
                {
                    issues.push(
                        Issue::error(
                            at(p::UNIT),
                            "conflicting-unit",
                            format!(
                                "the unit `{unit_text}` contradicts the unit `{}` in the header \
                                 of `{}`",
                                header.text,
                                schemas::PERMIT_REPORTS.fields[field].name
                            ),
                        )
                        .with_value(unit_text)
                        .with_hint("keep the unit in one place: the header or the unit column"),
                    );
                    return None;
                }
                header.to_tonnes
            }
            Ok(None) if unit_bad => return None,
            Ok(None) => row_unit.map_or(Ratio::ONE, |(_, factor)| factor),
        };
        match parse_plain_number(text) {
            Some(v) if v >= 0.0 => Some(factor.apply(v)),
            Some(_) => {
                issues.push(
                    Issue::error(at(field), "negative-quantity", "must not be negative")
                        .with_value(text),
                );
                None
            }
            None => {
                issues.push(
                    Issue::error(at(field), "bad-number", "not a finite number")
                        .with_value(text)
                        .with_hint(
                            "write plain decimal numbers such as `1234.5`, without thousands \
                             separators",
                        ),
                );
                None
            }
        }
    };
    let reported = if get(p::REPORTED).is_none() {
        required(p::REPORTED, issues);
        None
    } else {
        amount(0, issues)
    };
    let permitted = amount(1, issues);

    // Method.
    let method = required(p::METHOD, issues).and_then(|text| {
        let method = Method::parse(text);
        if method.is_none() {
            issues.push(
                Issue::error(at(p::METHOD), "unknown-method", "unknown accounting method")
                    .with_value(text)
                    .with_hint("use 自动监测, 手工监测, 物料衡算, 产排污系数 or 其他"),
            );
        }
        method
    });

    // Capture rates.
    let rate_fields = [
        p::CAPTURE_RATE,
        QUARTER_RATES[0],
        QUARTER_RATES[1],
        QUARTER_RATES[2],
        QUARTER_RATES[3],
    ];
    let first_rate = rate_fields.into_iter().find(|&field| get(field).is_some());
    let capture_rates = match (method, first_rate) {
        (_, None) => [None; 4],
        (Some(method), Some(field)) if method != Method::AutomaticMonitoring => {
            issues.push(
                Issue::warning(
                    at(field),
                    "capture-rate-not-monitoring",
                    format!(
                        "a capture rate is given for a value obtained by {}, not by automatic \
                         monitoring: the rate is ignored",
                        method_name(method)
                    ),
                )
                .with_value(get(field).unwrap_or_default())
                .with_hint("capture rates belong to automatic monitoring (自动监测) only"),
            );
            [None; 4]
        }
        _ => capture_rates(&at, get, period, issues),
    };

    if issues.error_count() > before || record.is_bad() {
        return None;
    }
    let (Some(pollutant), Some(period), Some(reported_t), Some(method)) =
        (pollutant, period, reported, method)
    else {
        return None;
    };
    let enterprise = enterprise_key(uscc.as_ref(), permit_no.as_deref())?;
    let outlet = outlet_id.clone().unwrap_or_default();

    let key = (enterprise.clone(), outlet.clone(), pollutant, period);
    if let Some(&first) = state.seen.get(&key) {
        issues.push(
            Issue::error(
                Location {
                    column: None,
                    ..at(p::POLLUTANT)
                },
                "duplicate-report",
                format!(
                    "enterprise `{enterprise}`{}, {} and period {} are already reported at row \
                     {first}",
                    if outlet.is_empty() {
                        String::new()
                    } else {
                        format!(", outlet `{outlet}`")
                    },
                    reference.pollutants.get(pollutant).name,
                    period.label()
                ),
            )
            .with_hint("keep one line per enterprise, outlet, pollutant and period"),
        );
        return None;
    }
    state.seen.insert(key, row);
    if let Some(permitted_t) = permitted {
        let key = (enterprise.clone(), outlet, pollutant, period.year());
        match state.permitted.get(&key) {
            Some(&(first_value, first_row)) if first_value != permitted_t => {
                issues.push(
                    Issue::error(
                        at(p::PERMITTED),
                        "conflicting-permitted",
                        format!(
                            "the annual permitted quantity differs from the one at row \
                             {first_row} for the same enterprise, outlet, pollutant and year \
                             ({first_value} t)"
                        ),
                    )
                    .with_value(get(p::PERMITTED).unwrap_or_default())
                    .with_hint("许可排放量 is the year's quantity: repeat the same value on each line or give it once"),
                );
                return None;
            }
            Some(_) => {}
            None => {
                state.permitted.insert(key, (permitted_t, row));
            }
        }
    }
    Some(PermitReport {
        origin: origin(reader, row),
        uscc,
        permit_no,
        outlet_id,
        outlet_kind,
        pollutant,
        period,
        reported_t,
        method,
        capture_rates,
        permitted_t: permitted,
    })
}

/// `reports.csv, row 7` or `reports.xlsx, sheet `执行报告`, row 7`.
fn origin(reader: &TableReader, row: u64) -> String {
    Location {
        file: reader.file_name().to_string(),
        sheet: reader.sheet().map(str::to_string),
        row: Some(row),
        column: None,
    }
    .to_string()
}

/// The enterprise as written: its USCC, else its permit number.
fn enterprise_key(uscc: Option<&Uscc>, permit_no: Option<&str>) -> Option<String> {
    uscc.map(|u| u.as_str().to_string())
        .or_else(|| permit_no.map(str::to_string))
}

/// `2023-03-01` (Excel's date for a typed `2023-03`) → the month 2023-03.
fn month_from_date(text: &str) -> Option<Period> {
    let date = text.trim().strip_suffix(" 00:00:00").unwrap_or(text.trim());
    let month = date.strip_suffix("-01")?;
    if month.len() != 7 {
        return None;
    }
    match Period::parse(month).ok()? {
        period @ Period::Month(..) => Some(period),
        _ => None,
    }
}

/// The quarterly capture rates of an automatic-monitoring line: the four quarterly columns,
/// and `capture_rate` for a quarterly or monthly line's own quarter.
fn capture_rates<'r>(
    at: &dyn Fn(usize) -> Location,
    get: impl Fn(usize) -> Option<&'r str>,
    period: Option<Period>,
    issues: &mut Issues,
) -> [Option<f64>; 4] {
    let mut rates: [Option<(f64, usize)>; 4] = [None; 4];
    for (quarter, &field) in QUARTER_RATES.iter().enumerate() {
        if let Some(text) = get(field) {
            rates[quarter] = capture_rate(text, at(field), issues).map(|r| (r, field));
        }
    }
    if let Some(text) = get(p::CAPTURE_RATE)
        && let Some(rate) = capture_rate(text, at(p::CAPTURE_RATE), issues)
    {
        match period.and_then(Period::quarter) {
            Some(quarter) => {
                let slot = &mut rates[usize::from(quarter - 1)];
                match *slot {
                    Some((other, field)) if other != rate => issues.push(
                        Issue::error(
                            at(p::CAPTURE_RATE),
                            "conflicting-capture-rate",
                            format!(
                                "the capture rate of the line's quarter Q{quarter} is also given \
                                 as `{}` in `{}`",
                                get(field).unwrap_or_default(),
                                schemas::PERMIT_REPORTS.fields[field].name
                            ),
                        )
                        .with_value(text)
                        .with_hint("give the rate once"),
                    ),
                    _ => *slot = Some((rate, p::CAPTURE_RATE)),
                }
            }
            None if period.is_some() => issues.push(
                Issue::error(
                    at(p::CAPTURE_RATE),
                    "capture-rate-needs-quarter",
                    "a single capture rate on a yearly line does not say which quarter it is",
                )
                .with_value(text)
                .with_hint(
                    "give the quarterly rates in `有效数据捕集率(一季度)` … `有效数据捕集率(四季度)` \
                     (capture_rate_q1 … capture_rate_q4)",
                ),
            ),
            None => {}
        }
    }
    rates.map(|r| r.map(|(rate, _)| rate))
}

/// Reads a capture rate by the one rule (see the module documentation) as a fraction.
fn capture_rate(text: &str, location: Location, issues: &mut Issues) -> Option<f64> {
    let (digits, percent) = match text.strip_suffix(['%', '％']) {
        Some(digits) => (digits, true),
        None => (text, false),
    };
    let fraction = parse_plain_number(digits).map(|v| {
        if percent || v > 1.0 {
            hundredth(digits, v)
        } else {
            v
        }
    });
    match fraction {
        Some(rate) if (0.0..=1.0).contains(&rate) => Some(rate),
        _ => {
            issues.push(
                Issue::error(
                    location,
                    "bad-capture-rate",
                    "a capture rate must be a percentage from 0 to 100 % (`92.5`, `92.5%`) or a \
                     fraction from 0 to 1 (`0.925`)",
                )
                .with_value(text),
            );
            None
        }
    }
}

/// `v / 100` as the nearest `f64` to the decimal written (`74.9` → `0.749`, where `74.9 / 100.0`
/// would give `0.7490000000000001`).
fn hundredth(digits: &str, v: f64) -> f64 {
    let digits = digits.trim();
    if digits.contains(['e', 'E']) {
        return v / 100.0;
    }
    format!("{digits}e-2").parse().unwrap_or(v / 100.0)
}

/// The Chinese name of a method, for messages.
fn method_name(method: Method) -> &'static str {
    match method {
        Method::AutomaticMonitoring => "自动监测 (automatic monitoring)",
        Method::ManualMonitoring => "手工监测 (manual monitoring)",
        Method::MaterialBalance => "物料衡算 (material balance)",
        Method::Coefficient => "产排污系数 (coefficients)",
        Method::Other => "其他 (other)",
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn reference() -> Reference {
        crate::reference::bundled_for_tests()
    }

    fn read(
        reference: &Reference,
        source: Source<'_>,
    ) -> Result<(Vec<PermitReport>, Issues), Issues> {
        read_permit_reports_with_warnings(source, reference, &ReadOptions::default())
    }

    fn read_bytes(
        reference: &Reference,
        name: &str,
        text: &str,
    ) -> Result<Vec<PermitReport>, Issues> {
        read_permit_reports(
            Source::Bytes {
                name,
                bytes: text.as_bytes(),
            },
            reference,
            &ReadOptions::default(),
        )
    }

    fn codes(issues: &Issues) -> Vec<(&'static str, Option<u64>)> {
        issues.iter().map(|i| (i.code, i.location.row)).collect()
    }

    fn without_origin(lines: &[PermitReport]) -> Vec<PermitReport> {
        lines
            .iter()
            .map(|line| PermitReport {
                origin: String::new(),
                ..line.clone()
            })
            .collect()
    }

    #[test]
    fn the_fixture_reads_with_units_rates_and_periods_as_written() {
        let reference = reference();
        let path = root().join("tests/fixtures/permit-reports.csv");
        let (lines, warnings) = read(&reference, Source::Path(&path))
            .unwrap_or_else(|issues| panic!("the fixture reads:\n{issues}"));
        assert_eq!(lines.len(), 7);
        let id = |name| reference.pollutants.lookup(name).expect("pollutant");
        let e13 = Uscc::parse("91130109MAK4GR6066").ok();

        let q1 = &lines[0];
        assert_eq!(q1.uscc, e13);
        assert_eq!(q1.permit_no.as_deref(), Some("91130109MAK4GR6066001P"));
        assert_eq!(q1.outlet_id.as_deref(), Some("DA001"));
        assert_eq!(q1.outlet_kind, Some(OutletKind::Main));
        assert_eq!(q1.pollutant, id("二氧化硫"));
        assert_eq!(q1.period, Period::Quarter(2023, 1));
        assert_eq!(q1.reported_t, 31.204);
        assert_eq!(q1.method, Method::AutomaticMonitoring);
        assert_eq!(q1.capture_rates, [Some(0.965), None, None, None]);
        assert_eq!(q1.permitted_t, Some(150.0));
        assert!(
            q1.origin.ends_with("permit-reports.csv, row 2"),
            "{}",
            q1.origin
        );

        // `0.948` is a fraction; `capture_rate` goes to the line's own quarter.
        assert_eq!(lines[1].period, Period::Quarter(2023, 2));
        assert_eq!(lines[1].capture_rates, [None, Some(0.948), None, None]);
        // 37040 千克 → 37.04 t; the four quarterly rates by the one rule.
        assert_eq!(lines[2].pollutant, id("氮氧化物"));
        assert_eq!(lines[2].reported_t, 37.04);
        assert_eq!(
            lines[2].capture_rates,
            [Some(0.971), Some(0.95), Some(0.93), Some(0.882)]
        );
        assert_eq!(lines[2].permitted_t, Some(60.0));
        // Permit number only; the manual line's capture rate is dropped with a warning.
        assert_eq!(lines[3].uscc, None);
        assert_eq!(
            lines[3].permit_no.as_deref(),
            Some("91152502MA2BPPBJ0K001P")
        );
        assert_eq!(lines[3].pollutant, id("化学需氧量"));
        assert_eq!(lines[3].method, Method::ManualMonitoring);
        assert_eq!(lines[3].capture_rates, [None; 4]);
        assert_eq!(codes(&warnings), [("capture-rate-not-monitoring", Some(5))]);
        assert!(!warnings.has_errors());
        // 160 kg in March.
        assert_eq!(lines[4].period, Period::Month(2023, 3));
        assert_eq!(lines[4].reported_t, 0.16);
        assert_eq!(lines[4].pollutant, id("氨氮"));
        // `一般` is a general outlet; coefficient method; USCC only.
        assert_eq!(lines[5].outlet_kind, Some(OutletKind::General));
        assert_eq!(lines[5].method, Method::Coefficient);
        assert_eq!(lines[5].permit_no, None);
        // No unit anywhere: tonnes; no outlet.
        assert_eq!(lines[6].reported_t, 72.5);
        assert_eq!(lines[6].method, Method::MaterialBalance);
        assert_eq!(
            (lines[6].outlet_id.as_ref(), lines[6].outlet_kind),
            (None, None)
        );
    }

    #[test]
    fn gbk_and_excel_twins_read_the_same_lines() {
        let reference = reference();
        let fixtures = root().join("tests/fixtures");
        let csv = fixtures.join("permit-reports.csv");
        let (utf8, _) = read(&reference, Source::Path(&csv)).expect("utf-8");
        for twin in ["permit-reports-gbk.csv", "permit-reports.xlsx"] {
            let path = fixtures.join(twin);
            let (lines, warnings) = read(&reference, Source::Path(&path))
                .unwrap_or_else(|issues| panic!("{twin} reads:\n{issues}"));
            assert_eq!(without_origin(&lines), without_origin(&utf8), "{twin}");
            assert_eq!(warnings.len(), 1, "{twin}: {warnings}");
        }
        // The workbook's lines are located on their sheet, below the title row.
        let path = fixtures.join("permit-reports.xlsx");
        let (lines, warnings) = read(&reference, Source::Path(&path)).expect("xlsx");
        assert!(
            lines[0].origin.ends_with("sheet `实际排放量`, row 3"),
            "{}",
            lines[0].origin
        );
        assert_eq!(
            warnings.iter().next().map(|w| w.location.to_string()),
            Some(format!(
                "{}, 实际排放量!J6 (有效数据捕集率)",
                path.display()
            ))
        );
    }

    #[test]
    fn capture_rates_follow_one_rule() {
        let mut issues = Issues::new();
        let at = Location::file("r.csv");
        for (text, expected) in [
            ("92.5", Some(0.925)),
            ("92.5%", Some(0.925)),
            ("92.5％", Some(0.925)),
            ("0.925", Some(0.925)),
            ("1", Some(1.0)),
            ("100", Some(1.0)),
            ("0", Some(0.0)),
            ("0.5%", Some(0.005)),
            ("100.1", None),
            ("101%", None),
            ("-5", None),
            ("NaN", None),
            ("九十", None),
        ] {
            assert_eq!(
                capture_rate(text, at.clone(), &mut issues),
                expected,
                "{text}"
            );
        }
        assert_eq!(issues.error_count(), 5);
        assert!(issues.iter().all(|i| i.code == "bad-capture-rate"));
    }

    #[test]
    fn english_headers_and_units_in_headers() {
        let reference = reference();
        let lines = read_bytes(
            &reference,
            "r.csv",
            "uscc,pollutant,period,reported (kg),method,capture_rate_q3,permitted(t)\n\
             91130109MAK4GR6066,SO2,2023Q3,1250,automatic_monitoring,74.9,150\n",
        )
        .unwrap_or_else(|issues| panic!("{issues}"));
        assert_eq!(lines[0].reported_t, 1.25);
        assert_eq!(lines[0].capture_rates, [None, None, Some(0.749), None]);
        assert_eq!(lines[0].permitted_t, Some(150.0));

        let lines = read_bytes(
            &reference,
            "r.csv",
            "排污许可证编号,污染物,时段,实际排放量（千克）,核算方法,许可排放量（万吨）\n\
             X001P,COD,2023,500,手工监测,0.0001\n",
        )
        .unwrap_or_else(|issues| panic!("{issues}"));
        assert_eq!(lines[0].reported_t, 0.5);
        assert_eq!(lines[0].permitted_t, Some(1.0));

        // A header naming a unit that is not a mass is refused at the header.
        let issues = read_bytes(
            &reference,
            "r.csv",
            "uscc,pollutant,period,实际排放量(立方米),method\n91130109MAK4GR6066,SO2,2023,1,其他\n",
        )
        .expect_err("not a mass");
        assert_eq!(codes(&issues), [("unknown-unit", Some(1))]);
    }

    #[test]
    fn a_yearly_capture_rate_and_a_conflicting_one_are_errors() {
        let reference = reference();
        let issues = read_bytes(
            &reference,
            "r.csv",
            "uscc,pollutant,period,reported,method,capture_rate,capture_rate_q2\n\
             91130109MAK4GR6066,SO2,2023,1,自动监测,95,\n\
             91130109MAK4GR6066,SO2,2023Q2,1,自动监测,95,0.95\n\
             91130109MAK4GR6066,NOx,2023-05,1,自动监测,95,90\n",
        )
        .expect_err("errors");
        assert_eq!(
            codes(&issues),
            [
                ("capture-rate-needs-quarter", Some(2)),
                ("conflicting-capture-rate", Some(4)),
            ]
        );
    }

    #[test]
    fn every_problem_of_a_bad_file_is_reported_at_once() {
        let reference = reference();
        let path = root().join("tests/fixtures/bad/permit-reports-bad.csv");
        let issues = read(&reference, Source::Path(&path)).expect_err("bad file");
        let mut found = codes(&issues);
        found.sort();
        let mut expected = vec![
            ("unknown-pollutant", Some(3)),
            ("bad-period", Some(4)),
            ("negative-quantity", Some(5)),
            ("bad-number", Some(6)),
            ("unknown-method", Some(7)),
            ("bad-capture-rate", Some(8)),
            ("capture-rate-not-monitoring", Some(9)),
            ("bad-uscc", Some(10)),
            ("missing-enterprise", Some(11)),
            ("duplicate-report", Some(12)),
            ("unknown-outlet-kind", Some(13)),
            ("conflicting-unit", Some(14)),
            ("capture-rate-needs-quarter", Some(15)),
            ("not-a-mass-pollutant", Some(16)),
            ("period-from-date", Some(17)),
            ("conflicting-permitted", Some(18)),
        ];
        expected.sort();
        assert_eq!(found, expected);
        assert_eq!((issues.error_count(), issues.warning_count()), (14, 2));
    }

    #[test]
    fn the_bundled_sample_reports_read_cleanly() {
        let reference = reference();
        let path = root().join("datasets/sample-synthetic/permit_reports.csv");
        let (lines, warnings) = read(&reference, Source::Path(&path))
            .unwrap_or_else(|issues| panic!("the sample reads:\n{issues}"));
        assert!(warnings.is_empty(), "{warnings}");
        assert!(lines.len() > 100, "{}", lines.len());
        assert!(
            lines
                .iter()
                .all(|l| l.uscc.is_some() || l.permit_no.is_some())
        );
        assert!(
            lines
                .iter()
                .any(|l| l.capture_rates.iter().flatten().any(|&r| r < 0.75))
        );
    }

    /// Found by the `csv_ingest` fuzz target: a six-byte period cell that is not ASCII (a
    /// pollutant's name, `氨氮`) panicked in `Period::parse`; it is a located `bad-period`.
    #[test]
    fn a_pollutant_name_in_the_period_column_is_a_bad_period() {
        let reference = reference();
        let text = "统一社会信用代码,污染物,核算时段,实际排放量,核算方法\n\
                    91130109MAK4GR6066,二氧化硫,氨氮,31.204,自动监测\n";
        let issues = read_bytes(&reference, "reports.csv", text).expect_err("a bad period");
        assert_eq!(codes(&issues), [("bad-period", Some(2))]);
        let issue = issues.iter().next().expect("one issue");
        assert_eq!(issue.location.column.as_deref(), Some("核算时段"));
        assert_eq!(issue.value.as_deref(), Some("氨氮"));
        assert_eq!(
            issue.message,
            "`氨氮` is not a period: write a year `2023`, a quarter `2023Q1` or a month `2023-03`"
        );
    }
}
