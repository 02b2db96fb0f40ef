//! Reading the reference lists: GB/T 2260 regions, GB/T 4754-2017 industries, the pollutant list
//! and the tax law's pollution equivalents.

use std::collections::HashMap;

use accounting::codes::{IndustryRow, IndustryTable, RegionRow, RegionTable};
use accounting::pollutant::{Medium, PollutantCatalog, PollutantDef, TaxEquivalent};
use accounting::units::Unit;

use crate::issue::{Issue, Issues};
use crate::schemas::{self, equivalents as eq, pollutants as pol};
use crate::table::ReadOptions;
use crate::{Source, each_record};

/// The reference data every computation needs.
#[derive(Debug, Clone)]
pub struct Reference {
    /// GB/T 2260 regions.
    pub regions: RegionTable,
    /// GB/T 4754-2017 industries.
    pub industries: IndustryTable,
    /// Pollutants with their tax equivalents.
    pub pollutants: PollutantCatalog,
}

/// Where each reference list comes from.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceSources<'a> {
    /// `regions_gbt2260.csv`.
    pub regions: Source<'a>,
    /// `industries_gbt4754_2017.csv`.
    pub industries: Source<'a>,
    /// `pollutants.csv`.
    pub pollutants: Source<'a>,
    /// `pollution_equivalents.csv`.
    pub equivalents: Source<'a>,
}

/// Reads and validates all reference lists; every problem of every list is reported.
pub fn load(sources: ReferenceSources<'_>) -> Result<Reference, Issues> {
    let mut issues = Issues::new();
    let regions = read_code_list(sources.regions, &mut issues).map(|rows| {
        let (table, problems) = RegionTable::from_rows(rows.iter().map(|r| RegionRow {
            code: &r.1[0],
            name: &r.1[1],
            level: &r.1[2],
            parent: &r.1[3],
        }));
        push_table_problems(sources.regions, &rows, problems, &mut issues);
        table
    });
    let industries = read_code_list(sources.industries, &mut issues).map(|rows| {
        let (table, problems) = IndustryTable::from_rows(rows.iter().map(|r| IndustryRow {
            code: &r.1[0],
            name: &r.1[1],
            level: &r.1[2],
            parent: &r.1[3],
        }));
        push_table_problems(sources.industries, &rows, problems, &mut issues);
        table
    });
    let equivalents = read_equivalents(sources.equivalents, &mut issues);
    let pollutants = read_pollutants(sources.pollutants, &equivalents, &mut issues);
    match (regions, industries, pollutants) {
        (Some(regions), Some(industries), Some(pollutants)) if !issues.has_errors() => {
            Ok(Reference {
                regions,
                industries,
                pollutants,
            })
        }
        _ => Err(issues),
    }
}

type CodeListRow = (u64, [String; 4]);

fn read_code_list(source: Source<'_>, issues: &mut Issues) -> Option<Vec<CodeListRow>> {
    let mut rows = Vec::new();
    each_record(
        source,
        &schemas::CODE_LIST,
        &ReadOptions::default(),
        issues,
        |_, record, _| {
            rows.push((
                record.row(),
                [0, 1, 2, 3].map(|f| record.get(f).unwrap_or("").to_string()),
            ));
        },
    )?;
    Some(rows)
}

fn push_table_problems(
    source: Source<'_>,
    rows: &[CodeListRow],
    problems: Vec<accounting::codes::TableProblem>,
    issues: &mut Issues,
) {
    for problem in problems {
        let row = rows.get(problem.index).map(|r| r.0);
        let location = crate::issue::Location {
            file: source.name().to_string(),
            sheet: None,
            row,
            column: Some(problem.column.to_string()),
        };
        issues.push(
            Issue::error(location, "bad-code-list", problem.message).with_value(problem.value),
        );
    }
}

fn read_equivalents(source: Source<'_>, issues: &mut Issues) -> HashMap<String, TaxEquivalent> {
    let mut out = HashMap::new();
    each_record(
        source,
        &schemas::EQUIVALENTS,
        &ReadOptions::default(),
        issues,
        |reader, record, issues| {
            let medium_text = record.get(eq::MEDIUM).unwrap_or("");
            let Some(medium) = Medium::parse(medium_text) else {
                issues.push(
                    Issue::error(
                        reader.location(record.row(), eq::MEDIUM),
                        "bad-medium",
                        "medium must be `water` or `air`",
                    )
                    .with_value(medium_text),
                );
                return;
            };
            let class: u8 = match (medium, record.get(eq::CLASS)) {
                (Medium::Air, None) => 0,
                (_, Some("1")) => 1,
                (_, Some("2")) => 2,
                (_, other) => {
                    issues.push(
                        Issue::error(
                            reader.location(record.row(), eq::CLASS),
                            "bad-class",
                            "water class must be 1 or 2, air has none",
                        )
                        .with_value(other.unwrap_or("")),
                    );
                    return;
                }
            };
            let item = record.get(eq::ITEM).unwrap_or("");
            let value_text = record.get(eq::EQUIVALENT_VALUE).unwrap_or("");
            let value = accounting::activity::parse_plain_number(value_text).filter(|v| *v > 0.0);
            let Some(value) = value else {
                issues.push(
                    Issue::error(
                        reader.location(record.row(), eq::EQUIVALENT_VALUE),
                        "bad-number",
                        "equivalent value must be a positive number",
                    )
                    .with_value(value_text),
                );
                return;
            };
            let unit = record.get(eq::EQUIVALENT_UNIT).unwrap_or("");
            if unit != "kg" {
                issues.push(
                    Issue::error(
                        reader.location(record.row(), eq::EQUIVALENT_UNIT),
                        "bad-unit",
                        "only equivalents in `kg` are supported so far",
                    )
                    .with_value(unit),
                );
                return;
            }
            let key = format!("{}:{item}", medium.as_str());
            let equivalent = TaxEquivalent {
                item: record.get(eq::POLLUTANT).unwrap_or("").to_string(),
                class,
                kg_per_equivalent: value,
            };
            if out.insert(key.clone(), equivalent).is_some() {
                issues.push(
                    Issue::error(
                        reader.location(record.row(), eq::ITEM),
                        "duplicate-item",
                        format!("item `{key}` is given twice"),
                    )
                    .with_value(item),
                );
            }
        },
    );
    out
}

fn read_pollutants(
    source: Source<'_>,
    equivalents: &HashMap<String, TaxEquivalent>,
    issues: &mut Issues,
) -> Option<PollutantCatalog> {
    let mut defs = Vec::new();
    let mut rows = Vec::new();
    let mut reader_name = String::new();
    each_record(
        source,
        &schemas::POLLUTANTS,
        &ReadOptions::default(),
        issues,
        |reader, record, issues| {
            reader_name = reader.file_name().to_string();
            let at = |field| reader.location(record.row(), field);
            let medium_text = record.get(pol::MEDIUM).unwrap_or("");
            let Some(medium) = Medium::parse(medium_text) else {
                issues.push(
                    Issue::error(
                        at(pol::MEDIUM),
                        "bad-medium",
                        "medium must be `water`, `air` or `solid`",
                    )
                    .with_value(medium_text),
                );
                return;
            };
            let unit_text = record.get(pol::REPORT_UNIT).unwrap_or("");
            let report_unit = match Unit::parse(unit_text) {
                Ok(u) => u,
                Err(e) => {
                    issues.push(
                        Issue::error(at(pol::REPORT_UNIT), "unknown-unit", e.to_string())
                            .with_value(unit_text),
                    );
                    return;
                }
            };
            let tax = match record.get(pol::TAX_ITEM) {
                None => None,
                Some(item) => match equivalents.get(item) {
                    Some(e) => Some(e.clone()),
                    None => {
                        issues.push(
                            Issue::error(
                                at(pol::TAX_ITEM),
                                "unknown-tax-item",
                                "no such item in the pollution-equivalent table",
                            )
                            .with_value(item)
                            .with_hint(
                                "write `medium:item`, e.g. `water:13` for 化学需氧量(CODcr)",
                            ),
                        );
                        return;
                    }
                },
            };
            let aliases = record
                .get(pol::ALIASES)
                .map(|a| {
                    a.split('|')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            rows.push(record.row());
            defs.push(PollutantDef {
                code: record.get(pol::CODE).unwrap_or("").to_string(),
                name: record.get(pol::NAME).unwrap_or("").to_string(),
                medium,
                report_unit,
                aliases,
                tax,
            });
        },
    )?;
    match PollutantCatalog::new(defs) {
        Ok(catalog) => Some(catalog),
        Err(problems) => {
            for p in problems {
                let location = crate::issue::Location {
                    file: reader_name.clone(),
                    sheet: None,
                    row: rows.get(p.index).copied(),
                    column: Some(p.field.to_string()),
                };
                issues.push(Issue::error(location, "bad-pollutant", p.message));
            }
            None
        }
    }
}

/// The reference lists in `datasets/reference`, for the tests of the readers that need them.
#[cfg(test)]
pub(crate) fn bundled_for_tests() -> Reference {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/reference");
    let paths = [
        "regions_gbt2260.csv",
        "industries_gbt4754_2017.csv",
        "pollutants.csv",
        "pollution_equivalents.csv",
    ]
    .map(|name| dir.join(name));
    load(ReferenceSources {
        regions: crate::Source::Path(&paths[0]),
        industries: crate::Source::Path(&paths[1]),
        pollutants: crate::Source::Path(&paths[2]),
        equivalents: crate::Source::Path(&paths[3]),
    })
    .unwrap_or_else(|issues| panic!("the bundled reference loads:\n{issues}"))
}
