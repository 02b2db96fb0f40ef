//! Total-load caps (总量控制指标) and reduction targets, CSV or Excel.
//!
//! Caps: `行政区划代码, 污染物, 年份, 总量控制指标(吨)`, one line per region (any level of GB/T
//! 2260), pollutant and year; the cap in tonnes (a header note other than `吨`/`t` is refused:
//! `unsupported-unit`). A second line for the same region, pollutant and year is
//! `duplicate-cap`.
//!
//! Targets: `污染物, 减排目标(%)`, one line per pollutant, a reduction in percent against the
//! base year (`8` for −8 %); a second line for a pollutant is `duplicate-target`.
//!
//! Every problem is located (file, row, column, value).

use std::collections::HashMap;

use accounting::codes::RegionCode;
use accounting::pollutant::PollutantId;
use accounting::quota::{Cap, Target};

use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::schemas::{self, caps as c, targets as t};
use crate::table::{ReadOptions, Record, TableReader};
use crate::{Source, each_record};

/// The header's parenthesised note, e.g. `吨` of `总量控制指标(吨)`.
fn header_note(reader: &TableReader, field: usize) -> Option<String> {
    let column = reader.column(field)?;
    let header = reader.headers().get(column)?.trim();
    let inner = header
        .strip_suffix(')')
        .or_else(|| header.strip_suffix('）'))?;
    let open = inner.rfind(['(', '（'])?;
    let note = inner[open..].trim_start_matches(['(', '（']).trim();
    Some(note.to_string())
}

fn check_tonnes(reader: &TableReader, field: usize, issues: &mut Issues) -> bool {
    match header_note(reader, field) {
        Some(note) if !matches!(note.as_str(), "吨" | "t" | "T") => {
            issues.push(
                Issue::error(
                    reader.location(reader.header_row(), field),
                    "unsupported-unit",
                    "caps are in tonnes",
                )
                .with_value(note)
                .with_hint("write the caps in tonnes, header `总量控制指标(吨)`"),
            );
            false
        }
        _ => true,
    }
}

fn cell(record: &Record, field: usize) -> Option<&str> {
    if record.is_bad_cell(field) {
        None
    } else {
        record.get(field).map(str::trim).filter(|s| !s.is_empty())
    }
}

fn required<'r>(
    reader: &TableReader,
    record: &'r Record,
    field: usize,
    issues: &mut Issues,
) -> Option<&'r str> {
    let value = cell(record, field);
    if value.is_none() && !record.is_bad_cell(field) {
        issues.push(Issue::error(
            reader.location(record.row(), field),
            "missing-value",
            "a value is required",
        ));
    }
    value
}

fn pollutant(
    reader: &TableReader,
    record: &Record,
    field: usize,
    reference: &Reference,
    issues: &mut Issues,
) -> Option<PollutantId> {
    let text = required(reader, record, field, issues)?;
    let id = reference.pollutants.lookup(text);
    if id.is_none() {
        issues.push(
            Issue::error(
                reader.location(record.row(), field),
                "unknown-pollutant",
                "not a pollutant of the reference list",
            )
            .with_value(text)
            .with_hint("use a name such as 化学需氧量, 氨氮, 氮氧化物 or 挥发性有机物"),
        );
    }
    id
}

fn number(location: Location, text: &str, what: &str, issues: &mut Issues) -> Option<f64> {
    match accounting::activity::parse_plain_number(text) {
        Some(v) if v >= 0.0 => Some(v),
        _ => {
            issues.push(
                Issue::error(
                    location,
                    "bad-number",
                    format!("{what} must be a finite number not below 0"),
                )
                .with_value(text)
                .with_hint("write a plain decimal number such as `1234.5`"),
            );
            None
        }
    }
}

/// Reads and validates caps; every problem is reported.
pub fn read_caps(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Vec<Cap>, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut caps = Vec::new();
    let mut seen: HashMap<(RegionCode, PollutantId, u16), u64> = HashMap::new();
    let mut unit_checked = false;
    let opened = each_record(
        source,
        &schemas::CAPS,
        options,
        &mut issues,
        |reader, record, issues| {
            if !unit_checked {
                unit_checked = true;
                check_tonnes(reader, c::CAP, issues);
            }
            let row = record.row();
            let at = |field| reader.location(row, field);
            let region =
                required(reader, record, c::REGION, issues).and_then(
                    |text| match RegionCode::parse(text) {
                        Ok(code) if reference.regions.get(code).is_some() => Some(code),
                        Ok(_) => {
                            issues.push(
                                Issue::error(
                                    at(c::REGION),
                                    "unknown-region",
                                    "not a region of GB/T 2260",
                                )
                                .with_value(text),
                            );
                            None
                        }
                        Err(e) => {
                            issues.push(
                                Issue::error(at(c::REGION), "bad-region", e.to_string())
                                    .with_value(text),
                            );
                            None
                        }
                    },
                );
            let pollutant = pollutant(reader, record, c::POLLUTANT, reference, issues);
            let year = required(reader, record, c::YEAR, issues).and_then(|text| {
                let year = text.trim_end_matches('年').parse::<u16>().ok();
                match year {
                    Some(y) if (1990..=2100).contains(&y) => Some(y),
                    _ => {
                        issues.push(
                            Issue::error(at(c::YEAR), "bad-year", "not a year from 1990 to 2100")
                                .with_value(text),
                        );
                        None
                    }
                }
            });
            let tonnes = required(reader, record, c::CAP, issues)
                .and_then(|text| number(at(c::CAP), text, "a cap", issues));
            let (Some(region), Some(pollutant), Some(year), Some(tonnes)) =
                (region, pollutant, year, tonnes)
            else {
                return;
            };
            if let Some(first) = seen.insert((region, pollutant, year), row) {
                issues.push(
                    Issue::error(
                        at(c::CAP),
                        "duplicate-cap",
                        format!("a second cap for {region}, this pollutant and {year} (first on row {first})"),
                    )
                    .with_hint("give one cap per region, pollutant and year"),
                );
                return;
            }
            caps.push(Cap {
                region,
                pollutant,
                year,
                tonnes,
            });
        },
    );
    if opened.is_none() || issues.has_errors() {
        return Err(issues);
    }
    if caps.is_empty() {
        issues.push(Issue::error(
            Location::file(source.name()),
            "empty-file",
            "the file holds no caps",
        ));
        return Err(issues);
    }
    Ok(caps)
}

/// Reads and validates reduction targets (percent in the file, fractions returned).
pub fn read_targets(
    source: Source<'_>,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<Vec<Target>, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut targets = Vec::new();
    let mut seen: HashMap<PollutantId, u64> = HashMap::new();
    let opened = each_record(
        source,
        &schemas::TARGETS,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let pollutant = pollutant(reader, record, t::POLLUTANT, reference, issues);
            let percent = required(reader, record, t::REDUCTION, issues).and_then(|text| {
                let v = number(
                    at(t::REDUCTION),
                    text.trim_end_matches('%'),
                    "a reduction",
                    issues,
                )?;
                if v > 100.0 {
                    issues.push(
                        Issue::error(
                            at(t::REDUCTION),
                            "bad-number",
                            "a reduction is a percentage from 0 to 100",
                        )
                        .with_value(text),
                    );
                    return None;
                }
                Some(v)
            });
            let (Some(pollutant), Some(percent)) = (pollutant, percent) else {
                return;
            };
            if let Some(first) = seen.insert(pollutant, row) {
                issues.push(Issue::error(
                    at(t::POLLUTANT),
                    "duplicate-target",
                    format!("a second target for this pollutant (first on row {first})"),
                ));
                return;
            }
            targets.push(Target {
                pollutant,
                reduction: percent / 100.0,
            });
        },
    );
    if opened.is_none() || issues.has_errors() {
        return Err(issues);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn reference() -> Reference {
        crate::reference::bundled_for_tests()
    }

    fn caps(text: &str) -> Result<Vec<Cap>, Issues> {
        read_caps(
            Source::Bytes {
                name: "caps.csv",
                bytes: text.as_bytes(),
            },
            &reference(),
            &ReadOptions::default(),
        )
    }

    #[test]
    fn caps_are_read_with_their_chinese_headers() {
        let read = caps("行政区划代码,污染物,年份,总量控制指标(吨)\n150000,COD,2022,600\n130000,氮氧化物,2023年,250.5\n")
            .expect("caps");
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].region.to_string(), "150000");
        assert_eq!(read[1].year, 2023);
        assert_eq!(read[1].tonnes, 250.5);
    }

    #[test]
    fn every_bad_cell_is_located() {
        let issues = caps(
            "行政区划代码,污染物,年份,总量控制指标(吨)\n159999,COD,2022,600\n150000,水银,20x,-1\n150000,COD,2022,1\n150000,化学需氧量,2022,2\n",
        )
        .expect_err("bad");
        let text = format!("{issues:?}");
        for code in [
            "unknown-region",
            "unknown-pollutant",
            "bad-year",
            "bad-number",
            "duplicate-cap",
        ] {
            assert!(text.contains(code), "{code}: {text}");
        }
        let issues = caps("行政区划代码,污染物,年份,总量控制指标(万吨)\n150000,COD,2022,6\n")
            .expect_err("unit");
        assert!(format!("{issues:?}").contains("unsupported-unit"));
    }
}
