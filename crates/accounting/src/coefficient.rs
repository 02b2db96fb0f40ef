//! Coefficient sets: validated coefficient rows, the key index that resolves an activity row to
//! its rows, and the content hash that identifies a set's numbers.
//!
//! A coefficient row is keyed by industry (GB/T 4754-2017 class), product, raw material,
//! process, scale class, pollutant and end-of-pipe treatment (`直排` = none). Its generation
//! coefficient (产污系数) is a number or a formula; its removal is given either as an efficiency in
//! percent (second-census shape) or as an emission coefficient (排污系数, first-census shape).
//!
//! Invariants established by [`CoefficientSet::build`]:
//! - no two rows share industry, product, raw material, process, scale, pollutant and treatment;
//! - all treatments of one key and pollutant share the generation coefficient and unit;
//! - efficiencies lie in 0–100 and `直排` rows remove nothing;
//! - a constant emission coefficient never exceeds its constant generation coefficient;
//! - the coefficient unit's numerator converts to the pollutant's report unit.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::codes::IndustryCode;
use crate::date::Date;
use crate::formula::Formula;
use crate::pollutant::{PollutantCatalog, PollutantId};
use crate::scale::ScaleClass;
use crate::text::normalize_name;
use crate::units::{CoefficientUnit, Ratio};

/// The treatment name that means "no end-of-pipe treatment".
pub const DIRECT_DISCHARGE: &str = "直排";

/// Where a coefficient row came from: the table file and its 1-based row (header = row 1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowOrigin {
    /// Table file name within the set, e.g. `coefficients.csv`.
    pub table: String,
    /// 1-based row number as seen in a spreadsheet.
    pub row: u64,
}

impl fmt::Display for RowOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.table, self.row)
    }
}

/// How a row's treatment reduces the generated quantity.
#[derive(Debug, Clone, PartialEq)]
pub enum Removal {
    /// Second-census shape: removal efficiency in percent; emitted = generated × (1 − η/100 × k).
    Efficiency {
        /// Percent, 0–100.
        percent: f64,
    },
    /// First-census shape: emitted = emission coefficient × activity, in the row's unit.
    EmissionCoefficient(Formula),
    /// `直排` with neither column: emitted = generated.
    None,
}

/// One coefficient row.
#[derive(Debug, Clone, PartialEq)]
pub struct CoefficientRow {
    /// Table and row it was read from.
    pub origin: RowOrigin,
    /// GB/T 4754-2017 class (four digits).
    pub industry: IndustryCode,
    /// 工段名称, optional.
    pub section: Option<String>,
    /// 产品名称.
    pub product: String,
    /// 原料名称.
    pub raw_material: String,
    /// 工艺名称.
    pub process: String,
    /// 规模等级.
    pub scale: ScaleClass,
    /// 污染物指标.
    pub pollutant: PollutantId,
    /// 单位, e.g. `千克/吨-原料`.
    pub unit: CoefficientUnit,
    /// 产污系数, a number or a formula in named parameters.
    pub generation: Formula,
    /// 末端治理技术名称 as written; `直排` for none.
    pub treatment: String,
    /// Efficiency or emission coefficient.
    pub removal: Removal,
    /// 备注 / 来源.
    pub note: Option<String>,
}

impl CoefficientRow {
    /// Whether the row is the no-treatment row.
    pub fn is_direct(&self) -> bool {
        normalize_name(&self.treatment) == DIRECT_DISCHARGE
    }
}

/// Descriptive metadata of a set (from its manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct SetMeta {
    /// Set id, e.g. `npsc1-excerpt`.
    pub id: String,
    /// Edition number within the set.
    pub edition: u32,
    /// Human title.
    pub title: String,
    /// Date from which the edition applies.
    pub effective_from: Option<Date>,
    /// Where the numbers come from.
    pub provenance: String,
    /// Synthetic data must say so.
    pub synthetic: bool,
    /// Key changes this edition declares against earlier ones (products renamed, industries
    /// split), used when diffing; not part of the content hash, which covers the rows.
    pub key_migrations: Vec<crate::diff::KeyMigration>,
}

/// SHA-256 over the canonical serialization of a set's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A problem found while building a set, located by the row's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetProblem {
    /// The offending row.
    pub origin: RowOrigin,
    /// The column (English name).
    pub column: &'static str,
    /// Stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Identifies a group of rows sharing industry, product, raw material and process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// Identifies a coefficient key: a group plus one scale class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

/// Rows of one pollutant under one key: the treatments the table lists.
#[derive(Debug, Clone, PartialEq)]
pub struct PollutantRows {
    /// The pollutant.
    pub pollutant: PollutantId,
    /// (normalised treatment name, row index), sorted by name.
    pub treatments: Vec<(String, u32)>,
    /// The `直排` row, if the table has one.
    pub direct: Option<u32>,
}

/// A coefficient key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The group it belongs to.
    pub group: GroupId,
    /// Its scale class.
    pub scale: ScaleClass,
    /// Per pollutant, in catalog order.
    pub pollutants: Vec<PollutantRows>,
}

/// A group: industry, product, raw material, process, with its scale classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Industry class.
    pub industry: IndustryCode,
    /// Product as written in the first row.
    pub product: String,
    /// Raw material as written.
    pub raw_material: String,
    /// Process as written.
    pub process: String,
    /// Keys of this group, one per scale class, in first-appearance order.
    pub keys: Vec<KeyId>,
}

/// A validated coefficient set with its index.
#[derive(Debug, Clone)]
pub struct CoefficientSet {
    meta: SetMeta,
    rows: Vec<CoefficientRow>,
    groups: Vec<Group>,
    keys: Vec<Key>,
    group_index: HashMap<String, GroupId>,
    hash: ContentHash,
}

impl CoefficientSet {
    /// Validates rows and builds the index. Every problem is returned, not only the first.
    pub fn build(
        meta: SetMeta,
        rows: Vec<CoefficientRow>,
        catalog: &PollutantCatalog,
    ) -> Result<CoefficientSet, Vec<SetProblem>> {
        let mut problems = Vec::new();
        for row in &rows {
            check_row(row, catalog, &mut problems);
        }

        let mut groups: Vec<Group> = Vec::new();
        let mut keys: Vec<Key> = Vec::new();
        let mut group_index: HashMap<String, GroupId> = HashMap::new();
        // (key, pollutant, treatment) -> row, to find duplicates.
        let mut seen: HashMap<(KeyId, PollutantId, String), u32> = HashMap::new();

        for (index, row) in rows.iter().enumerate() {
            let row_id = u32::try_from(index).expect("fewer than 2^32 coefficient rows");
            let group_key = group_key(
                row.industry.digits(),
                &row.product,
                &row.raw_material,
                &row.process,
            );
            let group_id = *group_index.entry(group_key).or_insert_with(|| {
                groups.push(Group {
                    industry: row.industry.clone(),
                    product: row.product.clone(),
                    raw_material: row.raw_material.clone(),
                    process: row.process.clone(),
                    keys: Vec::new(),
                });
                GroupId(u32::try_from(groups.len() - 1).expect("fewer than 2^32 groups"))
            });
            let group = &mut groups[group_id.0 as usize];
            let key_id = match group
                .keys
                .iter()
                .find(|k| keys[k.0 as usize].scale.normalized() == row.scale.normalized())
            {
                Some(k) => *k,
                None => {
                    keys.push(Key {
                        group: group_id,
                        scale: row.scale.clone(),
                        pollutants: Vec::new(),
                    });
                    let k = KeyId(u32::try_from(keys.len() - 1).expect("fewer than 2^32 keys"));
                    group.keys.push(k);
                    k
                }
            };
            let treatment = normalize_name(&row.treatment);
            if let Some(first) = seen.insert((key_id, row.pollutant, treatment.clone()), row_id) {
                problems.push(SetProblem {
                    origin: row.origin.clone(),
                    column: "treatment",
                    code: "duplicate-key",
                    message: format!(
                        "duplicate coefficient key: row {} already gives {} with treatment `{}` for this industry, product, raw material, process and scale",
                        rows[first as usize].origin,
                        catalog.get(row.pollutant).name,
                        row.treatment
                    ),
                });
                continue;
            }
            let key = &mut keys[key_id.0 as usize];
            let entry = match key
                .pollutants
                .iter_mut()
                .position(|p| p.pollutant == row.pollutant)
            {
                Some(i) => &mut key.pollutants[i],
                None => {
                    key.pollutants.push(PollutantRows {
                        pollutant: row.pollutant,
                        treatments: Vec::new(),
                        direct: None,
                    });
                    key.pollutants.last_mut().expect("just pushed")
                }
            };
            if let Some(&(_, first)) = entry.treatments.first() {
                let first_row = &rows[first as usize];
                if first_row.generation.canonical() != row.generation.canonical() {
                    problems.push(SetProblem {
                        origin: row.origin.clone(),
                        column: "generation_coefficient",
                        code: "inconsistent-generation",
                        message: format!(
                            "generation coefficient `{}` differs from `{}` given for the same key and pollutant at row {}",
                            row.generation.text(),
                            first_row.generation.text(),
                            first_row.origin
                        ),
                    });
                }
                if first_row.unit != row.unit {
                    problems.push(SetProblem {
                        origin: row.origin.clone(),
                        column: "unit",
                        code: "inconsistent-unit",
                        message: format!(
                            "unit `{}` differs from `{}` given for the same key and pollutant at row {}",
                            row.unit.text(),
                            first_row.unit.text(),
                            first_row.origin
                        ),
                    });
                }
            }
            if treatment == DIRECT_DISCHARGE {
                entry.direct = Some(row_id);
            }
            entry.treatments.push((treatment, row_id));
        }
        for key in &mut keys {
            key.pollutants.sort_by_key(|p| p.pollutant);
            for p in &mut key.pollutants {
                p.treatments.sort();
            }
        }

        if !problems.is_empty() {
            problems.sort_by(|a, b| a.origin.cmp(&b.origin).then(a.column.cmp(b.column)));
            return Err(problems);
        }
        let hash = content_hash(&rows, catalog);
        Ok(CoefficientSet {
            meta,
            rows,
            groups,
            keys,
            group_index,
            hash,
        })
    }

    /// The set's metadata.
    pub fn meta(&self) -> &SetMeta {
        &self.meta
    }

    /// SHA-256 of the canonical serialization of the rows.
    pub fn content_hash(&self) -> ContentHash {
        self.hash
    }

    /// All rows in file order.
    pub fn rows(&self) -> &[CoefficientRow] {
        &self.rows
    }

    /// One row.
    pub fn row(&self, index: u32) -> &CoefficientRow {
        &self.rows[index as usize]
    }

    /// All groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// One key.
    pub fn key(&self, id: KeyId) -> &Key {
        &self.keys[id.0 as usize]
    }

    /// One group.
    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    /// Finds the group for an industry class, product, raw material and process (names compared
    /// after [`normalize_name`]; the class by its digits, so `1351` and `C1351` are the same).
    pub fn find_group(
        &self,
        industry: &IndustryCode,
        product: &str,
        raw_material: &str,
        process: &str,
    ) -> Option<GroupId> {
        self.group_index
            .get(&group_key(
                industry.digits(),
                product,
                raw_material,
                process,
            ))
            .copied()
    }

    /// Groups of one industry class, for hints.
    pub fn groups_of_industry<'a>(
        &'a self,
        industry: &'a IndustryCode,
    ) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups
            .iter()
            .filter(move |g| g.industry.digits() == industry.digits())
    }
}

fn group_key(industry: &str, product: &str, raw_material: &str, process: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        industry,
        normalize_name(product),
        normalize_name(raw_material),
        normalize_name(process)
    )
}

fn check_row(row: &CoefficientRow, catalog: &PollutantCatalog, problems: &mut Vec<SetProblem>) {
    let mut push = |column: &'static str, code: &'static str, message: String| {
        problems.push(SetProblem {
            origin: row.origin.clone(),
            column,
            code,
            message,
        })
    };
    let pollutant = catalog.get(row.pollutant);
    if let Err(e) = row.unit.numerator.conversion_to(&pollutant.report_unit) {
        push(
            "unit",
            "unit-mismatch",
            format!(
                "unit `{}` does not measure {} (reported in {}): {e}",
                row.unit.text(),
                pollutant.name,
                pollutant.report_unit
            ),
        );
    }
    let generation = row.generation.constant_value();
    if generation.is_some_and(|g| g < 0.0) {
        push(
            "generation_coefficient",
            "negative-coefficient",
            format!(
                "generation coefficient `{}` is negative",
                row.generation.text()
            ),
        );
    }
    match &row.removal {
        Removal::Efficiency { percent } => {
            if !(0.0..=100.0).contains(percent) {
                push(
                    "removal_efficiency",
                    "efficiency-out-of-range",
                    format!("removal efficiency `{percent}` is outside 0–100 %"),
                );
            } else if row.is_direct() && *percent != 0.0 {
                push(
                    "removal_efficiency",
                    "direct-with-efficiency",
                    format!(
                        "`直排` removes nothing, but the row gives an efficiency of `{percent}` %"
                    ),
                );
            }
        }
        Removal::EmissionCoefficient(formula) => {
            if let (Some(e), Some(g)) = (formula.constant_value(), generation) {
                if e < 0.0 {
                    push(
                        "emission_coefficient",
                        "negative-coefficient",
                        format!("emission coefficient `{}` is negative", formula.text()),
                    );
                } else if e > g {
                    push(
                        "emission_coefficient",
                        "emission-exceeds-generation",
                        format!(
                            "emission coefficient `{}` exceeds generation coefficient `{}`",
                            formula.text(),
                            row.generation.text()
                        ),
                    );
                }
            }
        }
        Removal::None => {
            if !row.is_direct() {
                push(
                    "removal_efficiency",
                    "missing-removal",
                    format!(
                        "treatment `{}` needs a removal efficiency or an emission coefficient",
                        row.treatment
                    ),
                );
            }
        }
    }
}

/// The canonical serialization: a version line, then one line per row sorted, with names
/// normalised, formulas canonical and numbers in shortest round-trip form. Table file names and
/// row numbers are layout, not content, and are left out.
pub fn canonical_serialization(rows: &[CoefficientRow], catalog: &PollutantCatalog) -> String {
    let mut lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let removal = match &row.removal {
                Removal::Efficiency { percent } => format!("efficiency={percent}"),
                Removal::EmissionCoefficient(f) => format!("emission={}", f.canonical()),
                Removal::None => "none".to_string(),
            };
            [
                row.industry.to_string(),
                row.section
                    .as_deref()
                    .map(normalize_name)
                    .unwrap_or_default(),
                normalize_name(&row.product),
                normalize_name(&row.raw_material),
                normalize_name(&row.process),
                row.scale.normalized().to_string(),
                catalog.get(row.pollutant).code.clone(),
                row.unit.text(),
                row.generation.canonical(),
                normalize_name(&row.treatment),
                removal,
                row.note.clone().unwrap_or_default(),
            ]
            .map(|field| field.replace(['\t', '\n', '\r'], " "))
            .join("\t")
        })
        .collect();
    lines.sort();
    let mut out = String::from("npsc-coefficients/1\n");
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn content_hash(rows: &[CoefficientRow], catalog: &PollutantCatalog) -> ContentHash {
    let digest = Sha256::digest(canonical_serialization(rows, catalog).as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&digest);
    ContentHash(bytes)
}

/// The factor that turns `coefficient × activity` into the pollutant's report unit, given the
/// activity's unit: (activity unit → denominator) × (numerator → report unit).
pub fn result_factor(
    row: &CoefficientRow,
    activity_unit: &crate::units::Unit,
    catalog: &PollutantCatalog,
) -> Result<Ratio, crate::units::UnitError> {
    let to_denominator = activity_unit.conversion_to(&row.unit.denominator)?;
    let to_report = row
        .unit
        .numerator
        .conversion_to(&catalog.get(row.pollutant).report_unit)?;
    Ok(to_denominator.mul(to_report))
}
