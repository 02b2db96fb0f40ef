//! Reading coefficient sets: a folder with `manifest.toml` and one or more tables in the
//! canonical coefficient-table format (CSV or Excel), or a single table on its own.
//!
//! A workbook may hold one table per sheet (one per industry, as published): every sheet with a
//! header row of the coefficient table is read, and the others are skipped with a note. A row's
//! origin names the file and, for a workbook, the sheet (`系数.xlsx!工业系数`), and its row.
//!
//! # Wide (first-census) tables
//!
//! The first census published `排污系数` in one column per treatment, headed
//! `排污系数(物理+厌氧/好氧生物组合工艺)`, `排污系数(沉淀分离)`, `排污系数(直排)`, or with a
//! merged `排污系数` over a second header row naming the treatments, and no
//! `末端治理技术名称` column. The table reader finds those columns (see
//! [`crate::table::Wide`]); each record then becomes one coefficient row per non-empty such
//! column, in column order, with the column's treatment and the cell as emission coefficient, the
//! other cells being shared. The rows keep the record's origin (table and row); problems of one
//! treatment's coefficient are located at its column. A record whose treatment columns are all
//! empty is an error, so that no row is dropped silently.

use std::collections::BTreeMap;
use std::path::Path;

use accounting::codes::{IndustryCode, IndustryLevel};
use accounting::coefficient::{
    CoefficientRow, CoefficientSet, Removal, RowOrigin, SetMeta, SetProblem,
};
use accounting::date::Date;
use accounting::formula::Formula;
use accounting::scale::ScaleClass;
use accounting::units::CoefficientUnit;
use serde::Deserialize;

use crate::issue::{Issue, Issues, Location};
use crate::reference::Reference;
use crate::schemas::{self, coefficient as c};
use crate::table::{ReadOptions, Record, SheetSelection, TableReader};
use crate::{Source, open_tables};

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
    /// A table of key changes against earlier editions (see [`read_key_migrations`]).
    key_migrations: Option<String>,
}

/// The manifest file name inside a set folder.
pub const MANIFEST: &str = "manifest.toml";

/// Reads a coefficient set from a folder with a manifest, or from a single table file (its id
/// is then the file stem and its edition 0, marked as unpublished in the title). A workbook's
/// every sheet holding a coefficient table is read (see [`build`]).
pub fn load_set(
    path: &Path,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<CoefficientSet, Issues> {
    load_set_with_notes(path, reference, options).map(|(set, _)| set)
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
) -> Result<(CoefficientSet, Vec<Issue>), Issues> {
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
    let key_migrations = match &manifest.key_migrations {
        Some(file) => read_key_migrations(Source::Path(&dir.join(file)), options, &mut issues),
        None => Vec::new(),
    };
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
        key_migrations,
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
    build_with_notes(meta, &sources, reference, options)
}

/// Reads tables and builds the set; every problem of every table is reported.
///
/// Every sheet of a workbook that has a header row of the coefficient table is read, unless
/// [`ReadOptions::sheet`] names one; the other sheets (a `说明` notes sheet) are skipped, and
/// [`build_with_notes`] returns the notes saying so.
pub fn build(
    meta: SetMeta,
    tables: &[(Source<'_>, String)],
    reference: &Reference,
    options: &ReadOptions,
) -> Result<CoefficientSet, Issues> {
    build_with_notes(meta, tables, reference, options).map(|(set, _)| set)
}

/// Like [`load_set`], also returning the notes of the reading: `skipped-sheet` warnings for the
/// sheets of a workbook that hold no coefficient table.
pub fn load_set_with_notes(
    path: &Path,
    reference: &Reference,
    options: &ReadOptions,
) -> Result<(CoefficientSet, Vec<Issue>), Issues> {
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
            key_migrations: Vec::new(),
        };
        build_with_notes(
            meta,
            &[(Source::Path(path), file_label(path))],
            reference,
            options,
        )
    }
}

/// A table read, kept to locate the problems found when the set is built.
struct ReadTable {
    reader: TableReader,
    /// For each row of a wide table, the coefficient rows it gave.
    wide: BTreeMap<u64, Vec<WideCell>>,
}

/// One coefficient row given by a wide column.
struct WideCell {
    /// The index of the wide column's cells in the record.
    field: usize,
    treatment: String,
    emission: String,
}

/// Like [`build`], also returning the notes of the reading (see [`load_set_with_notes`]). The
/// notes are also part of the issues when the set cannot be built.
pub fn build_with_notes(
    meta: SetMeta,
    tables: &[(Source<'_>, String)],
    reference: &Reference,
    options: &ReadOptions,
) -> Result<(CoefficientSet, Vec<Issue>), Issues> {
    let selection = SheetSelection::from_options(options, SheetSelection::All);
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut notes = Vec::new();
    let mut rows = Vec::new();
    let mut read: BTreeMap<String, ReadTable> = BTreeMap::new();
    for (source, label) in tables {
        let opened = match open_tables(*source, &schemas::COEFFICIENT_TABLE, options, &selection) {
            Ok(opened) => opened,
            Err(problems) => {
                issues.extend(problems);
                continue;
            }
        };
        notes.extend(opened.notes);
        for mut reader in opened.readers {
            // Rows of different sheets of one workbook must not share an origin.
            let table = match reader.sheet() {
                Some(sheet) => format!("{label}!{sheet}"),
                None => label.clone(),
            };
            let mut wide = BTreeMap::new();
            let mut record = Record::new();
            loop {
                match reader.read(&mut record, &mut issues) {
                    Ok(true) if record.is_blank() => {}
                    Ok(true) => {
                        let parsed = Parsed {
                            reader: &reader,
                            record: &record,
                            table: &table,
                        };
                        parsed.rows(reference, &mut issues, &mut rows, &mut wide);
                    }
                    Ok(false) => break,
                    Err(issue) => {
                        issues.push(issue);
                        break;
                    }
                }
            }
            read.insert(table, ReadTable { reader, wide });
        }
    }
    // Set-level checks (duplicates, inconsistencies) run on the rows that parsed, so that one
    // run reports cell problems and set problems together.
    if rows.is_empty() && !issues.has_errors() {
        // A set without a coefficient would be stored and published as an edition that
        // accounts nothing.
        for (source, _) in tables {
            issues.push(
                Issue::error(
                    Location::file(source.name()),
                    "no-rows",
                    "the coefficient table has a header but no rows",
                )
                .with_hint("a coefficient set needs at least one coefficient row"),
            );
        }
    }
    let cell_errors = issues.has_errors();
    let built = CoefficientSet::build(meta, rows, &reference.pollutants);
    match built {
        Ok(set) if !cell_errors => Ok((set, notes)),
        Ok(_) => {
            issues.extend(notes);
            Err(issues)
        }
        Err(problems) => {
            // How many problems of one row, column and code were placed, to place the next one
            // on the next matching wide column.
            let mut placed: BTreeMap<(String, u64, &'static str, &'static str), usize> =
                BTreeMap::new();
            for p in problems {
                let location = locate_problem(&read, &p, &mut placed);
                issues.push(Issue::error(location, p.code, p.message));
            }
            issues.extend(notes);
            Err(issues)
        }
    }
}

/// Where a set problem is. A problem of a wide row's treatment or emission coefficient is put
/// on the wide column it concerns: the one whose treatment (or coefficient) the message quotes,
/// taken in column order when several do, since the set reports a row's problems in that order.
fn locate_problem(
    read: &BTreeMap<String, ReadTable>,
    p: &SetProblem,
    placed: &mut BTreeMap<(String, u64, &'static str, &'static str), usize>,
) -> Location {
    let row = p.origin.row;
    let Some(table) = read.get(&p.origin.table) else {
        return Location {
            file: p.origin.table.clone(),
            sheet: None,
            row: Some(row),
            column: Some(p.column.to_string()),
        };
    };
    let per_treatment = matches!(
        p.column,
        "treatment" | "emission_coefficient" | "removal_efficiency"
    );
    if let (true, Some(cells)) = (per_treatment, table.wide.get(&row)) {
        let quoted = |text: &str| p.message.contains(&format!("`{text}`"));
        let candidates: Vec<&WideCell> = cells
            .iter()
            .filter(|cell| match p.column {
                "emission_coefficient" => quoted(&cell.emission),
                _ => quoted(&cell.treatment),
            })
            .collect();
        let count = placed
            .entry((p.origin.table.clone(), row, p.column, p.code))
            .or_insert(0);
        let cell = candidates
            .get(*count)
            .or(candidates.last())
            .copied()
            .or(cells.first());
        *count += 1;
        if let Some(cell) = cell {
            return table.reader.location(row, cell.field);
        }
    }
    match field_index(p.column) {
        Some(field) => table.reader.location(row, field),
        None => {
            let mut location = table.reader.location(row, 0);
            location.column = Some(p.column.to_string());
            location
        }
    }
}

fn field_index(name: &str) -> Option<usize> {
    schemas::COEFFICIENT_TABLE.field_index(name)
}

/// One record of a coefficient table being turned into coefficient rows.
struct Parsed<'a> {
    reader: &'a TableReader,
    record: &'a Record,
    table: &'a str,
}

impl Parsed<'_> {
    fn at(&self, field: usize) -> Location {
        self.reader.location(self.record.row(), field)
    }

    /// The cell of a field, `None` when it is empty (reported as `missing-value`) or already
    /// reported bad by the reader.
    fn required(&self, field: usize, issues: &mut Issues) -> Option<&str> {
        if self.record.is_bad_cell(field) {
            return None;
        }
        let value = self.record.get(field);
        if value.is_none() {
            issues.push(Issue::error(
                self.at(field),
                "missing-value",
                "a value is required",
            ));
        }
        value
    }

    /// The cell of an optional field, `None` when empty or already reported bad.
    fn optional(&self, field: usize) -> Option<&str> {
        if self.record.is_bad_cell(field) {
            None
        } else {
            self.record.get(field)
        }
    }

    /// Parses the record into one coefficient row, or, in a wide table, one per non-empty
    /// `排污系数(…)` column, pushed to `rows`. Every problem of the record is reported; a record
    /// with any problem gives no row.
    fn rows(
        &self,
        reference: &Reference,
        issues: &mut Issues,
        rows: &mut Vec<CoefficientRow>,
        wide: &mut BTreeMap<u64, Vec<WideCell>>,
    ) {
        let before = issues.error_count();
        let row = self.record.row();
        let industry = self.required(c::INDUSTRY_CODE, issues).and_then(|text| {
            parse_industry_class(text, reference, self.at(c::INDUSTRY_CODE), issues)
        });
        let product = self.required(c::PRODUCT, issues);
        let raw_material = self.required(c::RAW_MATERIAL, issues);
        let process = self.required(c::PROCESS, issues);
        let scale = self.required(c::SCALE, issues).and_then(|text| {
            ScaleClass::parse(text)
                .map_err(|e| {
                    issues.push(
                        Issue::error(self.at(c::SCALE), "bad-scale", e.to_string())
                            .with_value(text),
                    );
                })
                .ok()
        });
        let pollutant = self.required(c::POLLUTANT, issues).and_then(|text| {
            let found = reference.pollutants.lookup(text);
            if found.is_none() {
                issues.push(
                    Issue::error(
                        self.at(c::POLLUTANT),
                        "unknown-pollutant",
                        "unknown pollutant",
                    )
                    .with_value(text)
                    .with_hint(
                        "pollutants are listed in datasets/reference/pollutants.csv with \
                             their accepted aliases",
                    ),
                );
            }
            found
        });
        let unit = self.required(c::UNIT, issues).and_then(|text| {
            CoefficientUnit::parse(text)
                .map_err(|e| {
                    issues.push(
                        Issue::error(self.at(c::UNIT), "unknown-unit", e.to_string())
                            .with_value(text),
                    );
                })
                .ok()
        });
        let generation = self
            .required(c::GENERATION_COEFFICIENT, issues)
            .and_then(|text| self.formula(c::GENERATION_COEFFICIENT, text, issues));
        let treatments = if self.reader.wide_columns().is_empty() {
            self.long_treatment(issues)
        } else {
            self.wide_treatments(issues)
        };
        if issues.error_count() > before || self.record.is_bad() {
            return;
        }
        let (
            Some(industry),
            Some(product),
            Some(raw_material),
            Some(process),
            Some(scale),
            Some(pollutant),
            Some(unit),
            Some(generation),
        ) = (
            industry,
            product,
            raw_material,
            process,
            scale,
            pollutant,
            unit,
            generation,
        )
        else {
            return;
        };
        for (treatment, removal, field) in treatments {
            if let Some(field) = field {
                wide.entry(row).or_default().push(WideCell {
                    field,
                    treatment: treatment.clone(),
                    emission: self.record.get(field).unwrap_or_default().to_string(),
                });
            }
            rows.push(CoefficientRow {
                origin: RowOrigin {
                    table: self.table.to_string(),
                    row,
                },
                industry: industry.clone(),
                section: self.optional(c::SECTION).map(str::to_string),
                product: product.to_string(),
                raw_material: raw_material.to_string(),
                process: process.to_string(),
                scale: scale.clone(),
                pollutant,
                unit: unit.clone(),
                generation: generation.clone(),
                treatment,
                removal,
                note: self.optional(c::SOURCE).map(str::to_string),
            });
        }
    }

    fn formula(&self, field: usize, text: &str, issues: &mut Issues) -> Option<Formula> {
        parse_formula(text)
            .map_err(|(message, hint)| {
                let mut issue =
                    Issue::error(self.at(field), "bad-formula", message).with_value(text);
                if let Some(hint) = hint {
                    issue = issue.with_hint(hint);
                }
                issues.push(issue);
            })
            .ok()
    }

    /// The treatment of a one-row-per-treatment table with its removal efficiency or emission
    /// coefficient.
    fn long_treatment(&self, issues: &mut Issues) -> Vec<(String, Removal, Option<usize>)> {
        let treatment = self.required(c::TREATMENT, issues);
        let efficiency = self.optional(c::REMOVAL_EFFICIENCY).and_then(|text| {
            let number =
                accounting::activity::parse_plain_number(text.trim_end_matches(['%', '％']));
            if number.is_none() {
                issues.push(
                    Issue::error(
                        self.at(c::REMOVAL_EFFICIENCY),
                        "bad-number",
                        "removal efficiency must be a number of percent, 0–100",
                    )
                    .with_value(text),
                );
            }
            number
        });
        let emission = self
            .optional(c::EMISSION_COEFFICIENT)
            .and_then(|text| self.formula(c::EMISSION_COEFFICIENT, text, issues));
        let removal = match (efficiency, emission) {
            (Some(_), Some(_)) => {
                issues.push(
                    Issue::error(
                        self.at(c::EMISSION_COEFFICIENT),
                        "both-removal-forms",
                        "a row gives a removal efficiency or an emission coefficient, not both",
                    )
                    .with_hint(
                        "second-census tables give 去除效率; first-census tables give 排污系数",
                    ),
                );
                return Vec::new();
            }
            (Some(percent), None) => Removal::Efficiency { percent },
            (None, Some(formula)) => Removal::EmissionCoefficient(formula),
            (None, None) => Removal::None,
        };
        match treatment {
            Some(treatment) => vec![(treatment.to_string(), removal, None)],
            None => Vec::new(),
        }
    }

    /// The treatments of a wide (first-census) row: one per non-empty `排污系数(…)` column, the
    /// treatment being the column's and the emission coefficient the cell.
    fn wide_treatments(&self, issues: &mut Issues) -> Vec<(String, Removal, Option<usize>)> {
        let columns = self.reader.wide_columns();
        if let Some(text) = self.optional(c::REMOVAL_EFFICIENCY) {
            issues.push(
                Issue::error(
                    self.at(c::REMOVAL_EFFICIENCY),
                    "both-removal-forms",
                    "a table with one `排污系数(…)` column per treatment gives emission \
                     coefficients, not removal efficiencies",
                )
                .with_value(text)
                .with_hint(
                    "give second-census removal efficiencies in a table with one row per \
                     treatment (`末端治理技术名称`, `去除效率`)",
                ),
            );
        }
        let mut treatments = Vec::new();
        let mut any = false;
        for column in columns {
            if self.record.is_bad_cell(column.field) {
                any = true;
                continue;
            }
            let Some(text) = self.record.get(column.field) else {
                continue;
            };
            any = true;
            if let Some(formula) = self.formula(column.field, text, issues) {
                treatments.push((
                    column.key.clone(),
                    Removal::EmissionCoefficient(formula),
                    Some(column.field),
                ));
            }
        }
        if let (false, Some(first)) = (any, columns.first()) {
            issues.push(
                Issue::error(
                    self.at(first.field),
                    "missing-value",
                    "the row gives no emission coefficient: every `排污系数(…)` column is empty",
                )
                .with_hint(
                    "give the emission coefficient of at least one treatment, or delete the row",
                ),
            );
        }
        treatments
    }
}

/// Parses and resolves an industry code that must be a four-digit class.
/// Names that read as parameters in a formula but are meant as something else: functions,
/// which formulas do not have (`sqrt(S)` would be a parameter `sqrt` times `S`), and the
/// non-numbers `f64` knows.
const NOT_PARAMETERS: &[&str] = &[
    "sqrt", "ln", "log", "lg", "log10", "log2", "exp", "pow", "abs", "min", "max", "sum", "round",
    "int", "if", "sin", "cos", "tan", "nan", "inf", "infinity",
];

/// Parses a coefficient formula and refuses what parses but cannot be meant: a parameter named
/// like a function or like `NaN`, and a formula without parameters whose value is not a finite
/// number (`1/0`, `10^400`), which would fail on every row. The error is the message and an
/// optional hint.
pub(crate) fn parse_formula(text: &str) -> Result<Formula, (String, Option<&'static str>)> {
    let formula = Formula::parse(text).map_err(|e| (e.to_string(), None))?;
    if let Some(name) = formula
        .parameters()
        .iter()
        .find(|p| NOT_PARAMETERS.contains(&p.to_lowercase().as_str()))
    {
        return Err((
            format!(
                "`{name}` would be read as a parameter: formulas have no functions and no `NaN` \
                 or infinities"
            ),
            Some(
                "write the coefficient as a number or as arithmetic on the parameters, e.g. `16S`",
            ),
        ));
    }
    if formula.parameters().is_empty()
        && let Err(e) = formula.eval(&[])
    {
        return Err((
            format!("the formula has no parameters and no finite value: {e}"),
            Some("write the coefficient as a finite number"),
        ));
    }
    Ok(formula)
}

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

/// Reads a key-migration table: each row maps old keys (the `from_*` columns; empty cells match
/// anything) to new ones (the `to_*` columns; empty cells keep the old value), with a note.
/// A row must name at least one `from_*` and one `to_*` value.
pub fn read_key_migrations(
    source: Source<'_>,
    options: &ReadOptions,
    issues: &mut Issues,
) -> Vec<accounting::diff::KeyMigration> {
    use crate::schemas::key_migrations as k;
    use accounting::diff::{KeyMigration, KeyPattern};
    let mut out = Vec::new();
    crate::each_record(
        source,
        &schemas::KEY_MIGRATIONS,
        options,
        issues,
        |reader, record, issues| {
            let get = |f: usize| record.get(f).map(str::to_string);
            let from = KeyPattern {
                industry: get(k::FROM_INDUSTRY),
                product: get(k::FROM_PRODUCT),
                raw_material: get(k::FROM_RAW_MATERIAL),
                process: get(k::FROM_PROCESS),
                scale: get(k::FROM_SCALE),
            };
            let to = KeyPattern {
                industry: get(k::TO_INDUSTRY),
                product: get(k::TO_PRODUCT),
                raw_material: get(k::TO_RAW_MATERIAL),
                process: get(k::TO_PROCESS),
                scale: get(k::TO_SCALE),
            };
            if from == KeyPattern::default() || to == KeyPattern::default() {
                issues.push(Issue::error(
                reader.location(record.row(), k::FROM_PRODUCT),
                "empty-migration",
                "a key migration names at least one old value (`from_*`) and one new value (`to_*`)",
            ));
                return;
            }
            out.push(KeyMigration {
                from,
                to,
                note: get(k::NOTE).unwrap_or_default(),
            });
        },
    );
    out
}
