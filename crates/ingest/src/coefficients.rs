//! Reading coefficient sets: a folder with `manifest.toml` and one or more tables in the
//! canonical coefficient-table format (CSV or Excel), or a single table on its own.

use std::collections::BTreeMap;
use std::path::Path;

use accounting::codes::{IndustryCode, IndustryLevel};
use accounting::coefficient::{CoefficientRow, CoefficientSet, Removal, RowOrigin, SetMeta};
use accounting::date::Date;
use accounting::formula::Formula;
use accounting::scale::ScaleClass;
use accounting::units::CoefficientUnit;
use serde::Deserialize;

use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::schemas::{self, coefficient as c};
use crate::table::{ReadOptions, Record, TableReader};
use crate::{Source, open_table};

/// The manifest of a coefficient set folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    id: String,
    edition: u32,
    title: String,
    effective_from: Option<String>,
    #[serde(default)]
    synthetic: bool,
    tables: Vec<String>,
    provenance: String,
}

/// The manifest file name inside a set folder.
pub const MANIFEST: &str = "manifest.toml";

/// Reads a coefficient set from a folder with a manifest, or from a single table file (its id
/// is then the file stem and its edition 0, marked as unpublished in the title).
pub fn load_set(
    path: &Path,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<CoefficientSet, Issues> {
    if path.is_dir() {
        load_folder(path, reference, options)
    } else {
        let meta = SetMeta {
            id: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            edition: 0,
            title: format!("table {} (no manifest)", path.display()),
            effective_from: None,
            provenance: String::new(),
            synthetic: false,
        };
        build(
            meta,
            &[(Source::Path(path), file_label(path))],
            reference,
            options,
        )
    }
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn load_folder(
    dir: &Path,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<CoefficientSet, Issues> {
    let manifest_path = dir.join(MANIFEST);
    let manifest_location = Location {
        file: manifest_path.display().to_string(),
        sheet: None,
        row: None,
        column: None,
    };
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        let mut issues = Issues::new();
        issues.push(
            Issue::error(manifest_location.clone(), "missing-manifest", format!("cannot read the set's manifest: {e}"))
                .with_hint("a coefficient set is a folder with `manifest.toml` (id, edition, title, effective_from, tables, provenance) and its tables"),
        );
        issues
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| {
        let mut issues = Issues::new();
        issues.push(Issue::error(
            manifest_location.clone(),
            "bad-manifest",
            e.to_string().trim().to_string(),
        ));
        issues
    })?;
    let mut issues = Issues::new();
    let effective_from = match manifest.effective_from.as_deref().map(Date::parse) {
        None => None,
        Some(Ok(date)) => Some(date),
        Some(Err(e)) => {
            issues.push(Issue::error(
                manifest_location.clone(),
                "bad-date",
                format!("effective_from: {e}"),
            ));
            None
        }
    };
    if manifest.tables.is_empty() {
        issues.push(Issue::error(
            manifest_location.clone(),
            "bad-manifest",
            "`tables` lists no table",
        ));
    }
    if manifest.id.trim().is_empty() || manifest.provenance.trim().is_empty() {
        issues.push(Issue::error(
            manifest_location,
            "bad-manifest",
            "`id` and `provenance` must not be empty",
        ));
    }
    if issues.has_errors() {
        return Err(issues);
    }
    let meta = SetMeta {
        id: manifest.id,
        edition: manifest.edition,
        title: manifest.title,
        effective_from,
        provenance: manifest.provenance.trim().to_string(),
        synthetic: manifest.synthetic,
    };
    let paths: Vec<_> = manifest
        .tables
        .iter()
        .map(|t| (dir.join(t), t.clone()))
        .collect();
    let sources: Vec<_> = paths
        .iter()
        .map(|(p, t)| (Source::Path(p), t.clone()))
        .collect();
    build(meta, &sources, reference, options)
}

/// Reads tables and builds the set; every problem of every table is reported.
pub fn build(
    meta: SetMeta,
    tables: &[(Source<'_>, String)],
    reference: &Reference,
    options: &ReadOptions,
) -> Result<CoefficientSet, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut rows = Vec::new();
    let mut readers: BTreeMap<String, TableReader> = BTreeMap::new();
    for (source, label) in tables {
        let mut reader = match open_table(*source, &schemas::COEFFICIENT_TABLE, options) {
            Ok(reader) => reader,
            Err(problems) => {
                issues.extend(problems);
                continue;
            }
        };
        let mut record = Record::new();
        loop {
            match reader.read(&mut record, &mut issues) {
                Ok(true) if record.is_blank() => {}
                Ok(true) => {
                    if let Some(row) = parse_row(&reader, &record, label, reference, &mut issues) {
                        rows.push(row);
                    }
                }
                Ok(false) => break,
                Err(issue) => {
                    issues.push(issue);
                    break;
                }
            }
        }
        readers.insert(label.clone(), reader);
    }
    // Set-level checks (duplicates, inconsistencies) run on the rows that parsed, so that one
    // run reports cell problems and set problems together.
    let cell_errors = issues.has_errors();
    let built = CoefficientSet::build(meta, rows, &reference.pollutants);
    if let Ok(set) = built {
        return if cell_errors { Err(issues) } else { Ok(set) };
    }
    built.map_err(|problems| {
        for p in problems {
            let field = field_index(p.column);
            let location = match (readers.get(&p.origin.table), field) {
                (Some(reader), Some(field)) => reader.location(p.origin.row, field),
                _ => Location {
                    file: p.origin.table.clone(),
                    sheet: None,
                    row: Some(p.origin.row),
                    column: Some(p.column.to_string()),
                },
            };
            issues.push(Issue::error(location, p.code, p.message));
        }
        issues
    })
}

fn field_index(name: &str) -> Option<usize> {
    schemas::COEFFICIENT_TABLE
        .fields
        .iter()
        .position(|f| f.name == name)
}

fn parse_row(
    reader: &TableReader,
    record: &Record,
    table: &str,
    reference: &Reference,
    issues: &mut Issues,
) -> Option<CoefficientRow> {
    let before = issues.error_count();
    let row = record.row();
    let at = |field| reader.location(row, field);
    let required = |field: usize, issues: &mut Issues| -> String {
        match record.get(field) {
            Some(v) => v.to_string(),
            None => {
                issues.push(Issue::error(
                    at(field),
                    "missing-value",
                    "a value is required",
                ));
                String::new()
            }
        }
    };

    let industry_text = required(c::INDUSTRY_CODE, issues);
    let industry = if industry_text.is_empty() {
        None
    } else {
        parse_industry_class(&industry_text, reference, at(c::INDUSTRY_CODE), issues)
    };
    let product = required(c::PRODUCT, issues);
    let raw_material = required(c::RAW_MATERIAL, issues);
    let process = required(c::PROCESS, issues);
    let scale_text = required(c::SCALE, issues);
    let scale = (!scale_text.is_empty())
        .then(|| ScaleClass::parse(&scale_text))
        .and_then(|r| {
            r.map_err(|e| {
                issues.push(
                    Issue::error(at(c::SCALE), "bad-scale", e.to_string()).with_value(&scale_text),
                )
            })
            .ok()
        });
    let pollutant_text = required(c::POLLUTANT, issues);
    let pollutant = if pollutant_text.is_empty() {
        None
    } else {
        let found = reference.pollutants.lookup(&pollutant_text);
        if found.is_none() {
            issues.push(
                Issue::error(at(c::POLLUTANT), "unknown-pollutant", "unknown pollutant")
                    .with_value(&pollutant_text)
                    .with_hint("pollutants are listed in datasets/reference/pollutants.csv with their accepted aliases"),
            );
        }
        found
    };
    let unit_text = required(c::UNIT, issues);
    let unit = (!unit_text.is_empty())
        .then(|| CoefficientUnit::parse(&unit_text))
        .and_then(|r| {
            r.map_err(|e| {
                issues.push(
                    Issue::error(at(c::UNIT), "unknown-unit", e.to_string()).with_value(&unit_text),
                )
            })
            .ok()
        });
    let generation_text = required(c::GENERATION_COEFFICIENT, issues);
    let generation = (!generation_text.is_empty())
        .then(|| Formula::parse(&generation_text))
        .and_then(|r| {
            r.map_err(|e| {
                issues.push(
                    Issue::error(at(c::GENERATION_COEFFICIENT), "bad-formula", e.to_string())
                        .with_value(&generation_text),
                )
            })
            .ok()
        });
    let treatment = required(c::TREATMENT, issues);
    let efficiency = record.get(c::REMOVAL_EFFICIENCY).and_then(|text| {
        let number = accounting::activity::parse_plain_number(text.trim_end_matches(['%', '％']));
        if number.is_none() {
            issues.push(
                Issue::error(
                    at(c::REMOVAL_EFFICIENCY),
                    "bad-number",
                    "removal efficiency must be a number of percent, 0–100",
                )
                .with_value(text),
            );
        }
        number
    });
    let emission = record.get(c::EMISSION_COEFFICIENT).and_then(|text| {
        Formula::parse(text)
            .map_err(|e| {
                issues.push(
                    Issue::error(at(c::EMISSION_COEFFICIENT), "bad-formula", e.to_string())
                        .with_value(text),
                )
            })
            .ok()
    });
    let removal = match (efficiency, emission) {
        (Some(_), Some(_)) => {
            issues.push(
                Issue::error(
                    at(c::EMISSION_COEFFICIENT),
                    "both-removal-forms",
                    "a row gives a removal efficiency or an emission coefficient, not both",
                )
                .with_hint("second-census tables give 去除效率; first-census tables give 排污系数"),
            );
            None
        }
        (Some(percent), None) => Some(Removal::Efficiency { percent }),
        (None, Some(formula)) => Some(Removal::EmissionCoefficient(formula)),
        (None, None) => Some(Removal::None),
    };
    if issues.error_count() > before || record.is_bad() {
        return None;
    }
    Some(CoefficientRow {
        origin: RowOrigin {
            table: table.to_string(),
            row,
        },
        industry: industry?,
        section: record.get(c::SECTION).map(str::to_string),
        product,
        raw_material,
        process,
        scale: scale?,
        pollutant: pollutant?,
        unit: unit?,
        generation: generation?,
        treatment,
        removal: removal?,
        note: record.get(c::SOURCE).map(str::to_string),
    })
}

/// Parses and resolves an industry code that must be a four-digit class.
pub(crate) fn parse_industry_class(
    text: &str,
    reference: &Reference,
    location: Location,
    issues: &mut Issues,
) -> Option<IndustryCode> {
    let parsed = match IndustryCode::parse(text) {
        Ok(code) => code,
        Err(e) => {
            let mut issue =
                Issue::error(location, "bad-industry-code", e.to_string()).with_value(text);
            if let Some(hint) = e.hint() {
                issue = issue.with_hint(hint);
            }
            issues.push(issue);
            return None;
        }
    };
    match reference.industries.resolve(&parsed) {
        Ok(industry) if industry.level == IndustryLevel::Class => Some(industry.code.clone()),
        Ok(industry) => {
            issues.push(
                Issue::error(location, "industry-not-a-class", format!("`{text}` is a {} ({}), not a four-digit class", industry.level, industry.name))
                    .with_value(text)
                    .with_hint("coefficients and activity are keyed by GB/T 4754-2017 classes (小类), e.g. `4430`"),
            );
            None
        }
        Err(e) => {
            issues.push(Issue::error(location, "unknown-industry", e.to_string()).with_value(text));
            None
        }
    }
}
