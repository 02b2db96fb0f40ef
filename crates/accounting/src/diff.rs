//! The diff between two editions of a coefficient set: which coefficient rows the new edition
//! adds, removes, changes or only re-keys, with the key migrations the new edition declares.
//!
//! # Matching
//!
//! A row is identified across editions by its [`RowKey`]: industry class digits, product, raw
//! material, process, scale label, pollutant code and treatment, with names compared after
//! [`normalize_name`] and the scale label after [`ScaleClass::normalize_label`]. These are the
//! comparisons [`CoefficientSet::build`] uses to reject duplicates, so a row key is unique within
//! an edition and a change of spelling that the set itself ignores (a full-width bracket, a space)
//! is no change here either. Both editions must have been built against the same
//! [`PollutantCatalog`], the one passed to [`diff`].
//!
//! 1. Every old row whose key is in the new edition is matched with that row (an exact match).
//! 2. A [`KeyMigration`] is applied only to old rows that have no exact match, so that a broad
//!    pattern (a product renamed in every industry) never pulls in a row that still exists as it
//!    was. The old key must match the migration's `from` pattern (fields left `None` match
//!    anything); the target key is the old key with the fields `to` gives replaced. Pattern values
//!    are normalised like keys, and an industry may carry its section letter (`C4411`).
//! 3. An old row may match several new rows through several migrations with the same `from` (a
//!    split): each new row found gives its own entry. Two migrations leading to the same new row
//!    give one entry, naming the first of them. A new row may be matched by more than one old row
//!    (a merge), for instance exactly by one and through a migration by another.
//! 4. Old rows matched by nothing are removed; new rows matched by nothing are added.
//!
//! # Comparing
//!
//! A matched pair is compared field by field ([`Field`]), and each difference is one
//! [`FieldChange`] holding canonical texts:
//!
//! - the unit by its canonical text ([`CoefficientUnit::text`](crate::units::CoefficientUnit::text));
//! - the generation and emission coefficients numerically when both sides are constants (`2.94`
//!   and `2.940` are no change), otherwise by [`Formula::canonical`] (`16S` and `16*S` are no
//!   change); the text shown is the canonical one;
//! - the removal efficiency numerically, shown in shortest round-trip form (`70`);
//! - the note as written, a missing note being the empty text.
//!
//! The removal columns are compared by presence as the table gives them: a row switching from an
//! efficiency to an emission coefficient changes both fields, the absent side showing as the empty
//! text, and a `直排` row whose efficiency of `0` became blank is a change of the efficiency. A
//! [`FieldChange::relative`] change is given when both sides are numbers and the old one is not
//! zero.
//!
//! An exact match without differences counts as unchanged; a match through a migration without
//! differences is renamed, because its key did change. The section (工段) and the texts as written
//! (before normalisation) are not compared.
//!
//! # Order
//!
//! Everything is sorted by key, never by hash order: added rows by new key, removed rows by old
//! key, changed and renamed entries by old key then new key, field changes in [`Field`] order. The
//! same two editions and migrations therefore always give the same diff, whatever the row order in
//! their tables.

use std::collections::BTreeMap;
use std::fmt;

use crate::codes::IndustryCode;
use crate::coefficient::{CoefficientRow, CoefficientSet, Removal};
use crate::formula::Formula;
use crate::pollutant::PollutantCatalog;
use crate::render::{Precision, quantity};
use crate::scale::ScaleClass;
use crate::text::normalize_name;

/// The identity of a coefficient row across editions: industry class digits, normalized product,
/// raw material, process, normalized scale label, pollutant code, normalized treatment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// GB/T 4754-2017 class digits, without the section letter, e.g. `4430`.
    pub industry: String,
    /// Product after [`normalize_name`].
    pub product: String,
    /// Raw material after [`normalize_name`].
    pub raw_material: String,
    /// Process after [`normalize_name`].
    pub process: String,
    /// Scale label after [`ScaleClass::normalize_label`].
    pub scale: String,
    /// The pollutant's catalog code, e.g. `SO2`.
    pub pollutant: String,
    /// Treatment after [`normalize_name`]; `直排` for none.
    pub treatment: String,
}

impl RowKey {
    /// The key of a row of a set built against `catalog`.
    pub fn of(row: &CoefficientRow, catalog: &PollutantCatalog) -> RowKey {
        RowKey {
            industry: row.industry.digits().to_string(),
            product: normalize_name(&row.product),
            raw_material: normalize_name(&row.raw_material),
            process: normalize_name(&row.process),
            scale: row.scale.normalized().to_string(),
            pollutant: catalog.get(row.pollutant).code.clone(),
            treatment: normalize_name(&row.treatment),
        }
    }

    fn part_mut(&mut self, part: Part) -> &mut String {
        match part {
            Part::Industry => &mut self.industry,
            Part::Product => &mut self.product,
            Part::RawMaterial => &mut self.raw_material,
            Part::Process => &mut self.process,
            Part::Scale => &mut self.scale,
        }
    }

    fn part(&self, part: Part) -> &str {
        match part {
            Part::Industry => &self.industry,
            Part::Product => &self.product,
            Part::RawMaterial => &self.raw_material,
            Part::Process => &self.process,
            Part::Scale => &self.scale,
        }
    }
}

impl fmt::Display for RowKey {
    /// The fields separated by ` / `, e.g.
    /// `4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / SO2 / 湿式除尘脱硫`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} / {} / {} / {} / {} / {} / {}",
            self.industry,
            self.product,
            self.raw_material,
            self.process,
            self.scale,
            self.pollutant,
            self.treatment
        )
    }
}

/// A declared key change carried by the new edition: rows of the old edition whose key matches
/// `from` (fields left None match anything) are compared with the new rows having the key with
/// those fields replaced by `to`'s values. E.g. product renamed 电能 → 电力, or industry 4411
/// split into 4411 and 4412 (two migrations with the same `from`).
///
/// A migration is applied only to old rows without an exact match in the new edition (see the
/// [module documentation](self#matching)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMigration {
    /// Which old keys the migration applies to.
    pub from: KeyPattern,
    /// The values that replace the old key's fields; `None` keeps the old value.
    pub to: KeyPattern,
    /// Why, for people reading the diff.
    pub note: String,
}

/// Some of the fields of a key that stay the same for every pollutant and treatment. Values are
/// written as in a table and normalised before use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPattern {
    /// Industry class, `4411` or `C4411`.
    pub industry: Option<String>,
    /// Product.
    pub product: Option<String>,
    /// Raw material.
    pub raw_material: Option<String>,
    /// Process.
    pub process: Option<String>,
    /// Scale label.
    pub scale: Option<String>,
}

impl KeyPattern {
    /// The given fields, normalised the way [`RowKey::of`] normalises a row.
    fn parts(&self) -> impl Iterator<Item = (Part, String)> + '_ {
        [
            (Part::Industry, &self.industry),
            (Part::Product, &self.product),
            (Part::RawMaterial, &self.raw_material),
            (Part::Process, &self.process),
            (Part::Scale, &self.scale),
        ]
        .into_iter()
        .filter_map(|(part, value)| value.as_deref().map(|v| (part, part.normalize(v))))
    }

    /// Whether every given field equals the key's.
    fn matches(&self, key: &RowKey) -> bool {
        self.parts().all(|(part, value)| key.part(part) == value)
    }

    /// The key with the given fields replaced.
    fn apply(&self, key: &RowKey) -> RowKey {
        let mut target = key.clone();
        for (part, value) in self.parts() {
            *target.part_mut(part) = value;
        }
        target
    }
}

/// A field of a [`KeyPattern`].
#[derive(Debug, Clone, Copy)]
enum Part {
    Industry,
    Product,
    RawMaterial,
    Process,
    Scale,
}

impl Part {
    fn normalize(self, text: &str) -> String {
        match self {
            // A code that does not parse is kept as text: it matches no row, which is what a
            // pattern naming no real class should do.
            Part::Industry => IndustryCode::parse(text)
                .map(|code| code.digits().to_string())
                .unwrap_or_else(|_| normalize_name(text)),
            Part::Product | Part::RawMaterial | Part::Process => normalize_name(text),
            Part::Scale => ScaleClass::normalize_label(text),
        }
    }
}

/// A compared field of a coefficient row, in the order changes are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// 单位.
    Unit,
    /// 产污系数.
    GenerationCoefficient,
    /// 去除效率.
    RemovalEfficiency,
    /// 排污系数.
    EmissionCoefficient,
    /// 备注.
    Note,
}

impl Field {
    /// The English column name used in coefficient tables, e.g. `generation_coefficient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Unit => "unit",
            Field::GenerationCoefficient => "generation_coefficient",
            Field::RemovalEfficiency => "removal_efficiency",
            Field::EmissionCoefficient => "emission_coefficient",
            Field::Note => "note",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field that differs between a matched pair of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Which field.
    pub field: Field,
    /// The old value's canonical text (formula canonical, efficiency `70`); empty when absent.
    pub old: String,
    /// The new value's canonical text; empty when absent.
    pub new: String,
    /// (new − old)/|old| when both are constants and old ≠ 0.
    pub relative: Option<f64>,
}

/// A pair of matched rows: an old row and the new row it became.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The old row's key.
    pub old_key: RowKey,
    /// The new row's key; equal to `old_key` for an exact match.
    pub new_key: RowKey,
    /// Index of the row in the old set.
    pub old_row: u32,
    /// Index of the row in the new set.
    pub new_row: u32,
    /// The fields that differ, in [`Field`] order; empty for a renamed row.
    pub fields: Vec<FieldChange>,
    /// The migration that matched them (an index into the `migrations` given to [`diff`]), if any.
    pub migration: Option<usize>,
}

/// What changed from one edition to the next. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditionDiff {
    /// Rows only in `new`, with their index in `new`, sorted by key.
    pub added: Vec<(RowKey, u32)>,
    /// Rows only in `old`, with their index in `old`, sorted by key.
    pub removed: Vec<(RowKey, u32)>,
    /// Matched rows with at least one field change, exact or through a migration.
    pub changed: Vec<Changed>,
    /// Exactly matched rows without changes.
    pub unchanged: usize,
    /// Rows matched through a migration with no field change (key changed only).
    pub renamed: Vec<Changed>,
}

impl EditionDiff {
    /// Whether nothing was added, removed, changed or renamed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.renamed.is_empty()
    }
}

/// Compares two editions of a coefficient set, both built against `catalog`, applying the
/// declared `migrations` (indices into this slice appear in [`Changed::migration`]). See the
/// [module documentation](self) for the rules.
pub fn diff(
    old: &CoefficientSet,
    new: &CoefficientSet,
    catalog: &PollutantCatalog,
    migrations: &[KeyMigration],
) -> EditionDiff {
    let old_keys = index(old, catalog);
    let new_keys = index(new, catalog);
    let mut matched_new = vec![false; new.rows().len()];
    let mut out = EditionDiff::default();

    for (old_key, &old_row) in &old_keys {
        if let Some(&new_row) = new_keys.get(old_key) {
            matched_new[new_row as usize] = true;
            let fields = compare(old.row(old_row), new.row(new_row));
            if fields.is_empty() {
                out.unchanged += 1;
            } else {
                out.changed.push(Changed {
                    old_key: old_key.clone(),
                    new_key: old_key.clone(),
                    old_row,
                    new_row,
                    fields,
                    migration: None,
                });
            }
            continue;
        }

        let mut targets: Vec<(RowKey, u32, usize)> = Vec::new();
        for (number, migration) in migrations.iter().enumerate() {
            if !migration.from.matches(old_key) {
                continue;
            }
            let target = migration.to.apply(old_key);
            if let Some(&new_row) = new_keys.get(&target)
                && targets.iter().all(|&(_, row, _)| row != new_row)
            {
                targets.push((target, new_row, number));
            }
        }
        if targets.is_empty() {
            out.removed.push((old_key.clone(), old_row));
        }
        for (new_key, new_row, number) in targets {
            matched_new[new_row as usize] = true;
            let fields = compare(old.row(old_row), new.row(new_row));
            let entry = Changed {
                old_key: old_key.clone(),
                new_key,
                old_row,
                new_row,
                fields,
                migration: Some(number),
            };
            if entry.fields.is_empty() {
                out.renamed.push(entry);
            } else {
                out.changed.push(entry);
            }
        }
    }

    out.added = new_keys
        .into_iter()
        .filter(|&(_, row)| !matched_new[row as usize])
        .collect();
    // Old keys are visited in order, but one old key's entries come in migration order; sorting
    // by both keys makes the order independent of how the migrations were listed.
    let by_keys = |a: &Changed, b: &Changed| {
        (&a.old_key, &a.new_key, a.old_row, a.new_row)
            .cmp(&(&b.old_key, &b.new_key, b.old_row, b.new_row))
    };
    out.changed.sort_by(by_keys);
    out.renamed.sort_by(by_keys);
    out
}

/// The set's rows by key. Keys are unique within a built set, so no row is lost.
fn index(set: &CoefficientSet, catalog: &PollutantCatalog) -> BTreeMap<RowKey, u32> {
    set.rows()
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let i = u32::try_from(i).expect("fewer than 2^32 coefficient rows");
            (RowKey::of(row, catalog), i)
        })
        .collect()
}

/// A field's value: its canonical text and, when it is a constant, its number.
struct Value {
    text: String,
    number: Option<f64>,
}

impl Value {
    fn formula(formula: &Formula) -> Value {
        Value {
            text: formula.canonical(),
            number: formula.constant_value(),
        }
    }

    fn number(value: f64) -> Value {
        Value {
            text: quantity(value, Precision::Exact),
            number: Some(value),
        }
    }

    fn text(text: String) -> Value {
        Value { text, number: None }
    }
}

fn compare(old: &CoefficientRow, new: &CoefficientRow) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut field = |field: Field, old: Option<Value>, new: Option<Value>| {
        if let Some(change) = change(field, old, new) {
            changes.push(change);
        }
    };
    field(
        Field::Unit,
        Some(Value::text(old.unit.text())),
        Some(Value::text(new.unit.text())),
    );
    field(
        Field::GenerationCoefficient,
        Some(Value::formula(&old.generation)),
        Some(Value::formula(&new.generation)),
    );
    let (old_efficiency, old_emission) = removal(&old.removal);
    let (new_efficiency, new_emission) = removal(&new.removal);
    field(Field::RemovalEfficiency, old_efficiency, new_efficiency);
    field(Field::EmissionCoefficient, old_emission, new_emission);
    // A missing note and an empty one read the same in a table, and the content hash does not
    // tell them apart either.
    field(
        Field::Note,
        Some(Value::text(old.note.clone().unwrap_or_default())),
        Some(Value::text(new.note.clone().unwrap_or_default())),
    );
    changes
}

/// The efficiency and emission-coefficient columns of a removal, each present or not.
fn removal(removal: &Removal) -> (Option<Value>, Option<Value>) {
    match removal {
        Removal::Efficiency { percent } => (Some(Value::number(*percent)), None),
        Removal::EmissionCoefficient(formula) => (None, Some(Value::formula(formula))),
        Removal::None => (None, None),
    }
}

/// The change between two values of a field, if they differ: numbers numerically, anything else
/// by canonical text, presence against absence always.
fn change(field: Field, old: Option<Value>, new: Option<Value>) -> Option<FieldChange> {
    let same = match (&old, &new) {
        (None, None) => true,
        (Some(a), Some(b)) => match (a.number, b.number) {
            (Some(x), Some(y)) => x == y,
            _ => a.text == b.text,
        },
        _ => false,
    };
    if same {
        return None;
    }
    let relative = match (
        old.as_ref().and_then(|v| v.number),
        new.as_ref().and_then(|v| v.number),
    ) {
        (Some(x), Some(y)) if x != 0.0 => Some((y - x) / x.abs()),
        _ => None,
    };
    Some(FieldChange {
        field,
        old: old.map(|v| v.text).unwrap_or_default(),
        new: new.map(|v| v.text).unwrap_or_default(),
        relative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coefficient::{RowOrigin, SetMeta};
    use crate::pollutant::{Medium, PollutantDef};
    use crate::units::{CoefficientUnit, Unit};

    /// Rows in the order `industry|product|raw material|process|scale|pollutant|treatment|unit|
    /// generation|removal|note`, where removal is `η70` (efficiency), `e2` (emission
    /// coefficient) or `-` (none) and the note may be left off.
    const BASE: &[&str] = &[
        "4430|蒸汽|煤炭|层燃炉|所有规模|SO2|直排|千克/吨-原料|16S|η0",
        "4430|蒸汽|煤炭|层燃炉|所有规模|SO2|湿式除尘脱硫|千克/吨-原料|16S|η70",
        "4430|蒸汽|煤炭|层燃炉|所有规模|NOX|低氮燃烧|千克/吨-原料|2.94|η30",
        "4411|电能|烟煤|煤粉炉|≥750兆瓦|NOX|直排|千克/吨-原料|5.1|-",
    ];

    fn catalog() -> PollutantCatalog {
        let def = |code: &str, name: &str| PollutantDef {
            code: code.into(),
            name: name.into(),
            medium: Medium::Air,
            report_unit: Unit::parse("吨").unwrap(),
            aliases: vec![],
            tax: None,
        };
        PollutantCatalog::new(vec![def("SO2", "二氧化硫"), def("NOX", "氮氧化物")]).unwrap()
    }

    fn set(rows: &[String], catalog: &PollutantCatalog) -> CoefficientSet {
        let rows = rows
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let f: Vec<&str> = spec.split('|').collect();
                let removal = match f[9] {
                    "-" => Removal::None,
                    r if r.starts_with('η') => Removal::Efficiency {
                        percent: r['η'.len_utf8()..].parse().unwrap(),
                    },
                    r => Removal::EmissionCoefficient(Formula::parse(&r[1..]).unwrap()),
                };
                CoefficientRow {
                    origin: RowOrigin {
                        table: "t.csv".into(),
                        row: i as u64 + 2,
                    },
                    industry: IndustryCode::parse(f[0]).unwrap(),
                    section: None,
                    product: f[1].into(),
                    raw_material: f[2].into(),
                    process: f[3].into(),
                    scale: ScaleClass::parse(f[4]).unwrap(),
                    pollutant: catalog.lookup(f[5]).unwrap(),
                    unit: CoefficientUnit::parse(f[7]).unwrap(),
                    generation: Formula::parse(f[8]).unwrap(),
                    treatment: f[6].into(),
                    removal,
                    note: f.get(10).map(|n| n.to_string()),
                }
            })
            .collect();
        let meta = SetMeta {
            id: "test".into(),
            edition: 1,
            title: String::new(),
            effective_from: None,
            provenance: "test".into(),
            synthetic: true,
            key_migrations: Vec::new(),
        };
        CoefficientSet::build(meta, rows, catalog).unwrap()
    }

    /// `rows` with each `(index, from, to)` edit replacing `from` by `to` in that row.
    fn edit(rows: &[&str], edits: &[(usize, &str, &str)]) -> Vec<String> {
        let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        for &(i, from, to) in edits {
            assert!(rows[i].contains(from), "{} has no `{from}`", rows[i]);
            rows[i] = rows[i].replacen(from, to, 1);
        }
        rows
    }

    fn rows(rows: &[&str]) -> Vec<String> {
        edit(rows, &[])
    }

    fn migration(from: KeyPattern, to: KeyPattern) -> KeyMigration {
        KeyMigration {
            from,
            to,
            note: String::new(),
        }
    }

    /// Renders the diff as lines: `added`/`removed` with key and row, `changed`/`renamed` with
    /// `[old row→new row]`, the key (or `old => new` and the migration when matched through
    /// one) and one indented line per field, then the number of unchanged rows.
    fn check(old: &[String], new: &[String], migrations: &[KeyMigration]) -> String {
        let catalog = catalog();
        let diff = diff(
            &set(old, &catalog),
            &set(new, &catalog),
            &catalog,
            migrations,
        );
        let mut lines = Vec::new();
        for (key, row) in &diff.removed {
            lines.push(format!("removed [{row}] {key}"));
        }
        for (key, row) in &diff.added {
            lines.push(format!("added [{row}] {key}"));
        }
        for (what, entries) in [("changed", &diff.changed), ("renamed", &diff.renamed)] {
            for c in entries {
                let keys = match c.migration {
                    None => c.old_key.to_string(),
                    Some(m) => format!("{} => {} (migration {m})", c.old_key, c.new_key),
                };
                lines.push(format!("{what} [{}→{}] {keys}", c.old_row, c.new_row));
                for f in &c.fields {
                    let relative = f
                        .relative
                        .map(|r| format!(" ({r:+.4})"))
                        .unwrap_or_default();
                    lines.push(format!(
                        "  {}: `{}` → `{}`{relative}",
                        f.field, f.old, f.new
                    ));
                }
            }
        }
        lines.push(format!("unchanged {}", diff.unchanged));
        assert_eq!(
            diff.is_empty(),
            lines.len() == 1,
            "is_empty disagrees with the lines"
        );
        lines.join("\n")
    }

    #[test]
    fn identical_sets_have_an_empty_diff() {
        assert_eq!(check(&rows(BASE), &rows(BASE), &[]), "unchanged 4");
    }

    #[test]
    fn row_order_does_not_matter() {
        let mut shuffled = rows(BASE);
        shuffled.reverse();
        assert_eq!(check(&rows(BASE), &shuffled, &[]), "unchanged 4");
    }

    #[test]
    fn a_constant_change_gives_its_relative_size() {
        let new = edit(BASE, &[(2, "2.94", "3.1")]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "changed [2→2] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / NOX / 低氮燃烧",
                "  generation_coefficient: `2.94` → `3.1` (+0.0544)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn constants_compare_numerically_and_formulas_canonically() {
        let new = edit(
            BASE,
            &[(2, "2.94", "2.940"), (0, "16S", "16*S"), (1, "16S", "16 S")],
        );
        assert_eq!(check(&rows(BASE), &new, &[]), "unchanged 4");
    }

    #[test]
    fn a_formula_change_shows_canonical_texts() {
        // Keys sort by code point, so `湿式除尘脱硫` (U+6E7F) comes before `直排` (U+76F4).
        let new = edit(BASE, &[(0, "16S", "17S"), (1, "16S", "17S")]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "changed [1→1] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / SO2 / 湿式除尘脱硫",
                "  generation_coefficient: `16*S` → `17*S`",
                "changed [0→0] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / SO2 / 直排",
                "  generation_coefficient: `16*S` → `17*S`",
                "unchanged 2",
            ]
            .join("\n")
        );
    }

    #[test]
    fn an_efficiency_change() {
        let new = edit(BASE, &[(1, "η70", "η75")]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "changed [1→1] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / SO2 / 湿式除尘脱硫",
                "  removal_efficiency: `70` → `75` (+0.0714)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn unit_and_note_changes() {
        let new = edit(
            BASE,
            &[
                (3, "千克/吨-原料", "克/吨-原料"),
                (3, "|-", "|-|据2021版手册"),
            ],
        );
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "changed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "  unit: `千克/吨-原料` → `克/吨-原料`",
                "  note: `` → `据2021版手册`",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_row_added() {
        let mut new = rows(BASE);
        new.push("4430|蒸汽|煤炭|层燃炉|所有规模|NOX|直排|千克/吨-原料|2.94|η0".into());
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "added [4] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / NOX / 直排",
                "unchanged 4",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_row_removed() {
        let new = rows(&BASE[1..]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "removed [0] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / SO2 / 直排",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn spelling_the_set_ignores_is_no_change() {
        let new = edit(
            BASE,
            &[
                (1, "湿式除尘脱硫", " 湿式除尘 脱硫"),
                (3, "≥750兆瓦", ">= 750 兆瓦"),
            ],
        );
        assert_eq!(check(&rows(BASE), &new, &[]), "unchanged 4");
    }

    #[test]
    fn a_renamed_product_is_renamed_not_added_and_removed() {
        let new = edit(BASE, &[(3, "电能", "电力")]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "removed [3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "added [3] 4411 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "unchanged 3",
            ]
            .join("\n"),
            "without the migration"
        );
        let rename = migration(
            KeyPattern {
                product: Some("电能".into()),
                ..KeyPattern::default()
            },
            KeyPattern {
                product: Some("电力".into()),
                ..KeyPattern::default()
            },
        );
        assert_eq!(
            check(&rows(BASE), &new, &[rename]),
            [
                "renamed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 => 4411 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 (migration 0)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_migrated_row_with_a_new_value_is_changed() {
        let new = edit(BASE, &[(3, "电能", "电力"), (3, "5.1", "5.2")]);
        let rename = migration(
            KeyPattern {
                product: Some("电能".into()),
                ..KeyPattern::default()
            },
            KeyPattern {
                product: Some("电力".into()),
                ..KeyPattern::default()
            },
        );
        assert_eq!(
            check(&rows(BASE), &new, &[rename]),
            [
                "changed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 => 4411 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 (migration 0)",
                "  generation_coefficient: `5.1` → `5.2` (+0.0196)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn an_industry_split_matches_one_old_row_with_two_new_rows() {
        // GB/T 4754-2017 split 火力发电 into 4411 火力发电 and 4412 热电联产; this edition also
        // renamed the product, so the old 电能 row has no exact match and both migrations apply.
        let mut new = edit(BASE, &[(3, "电能", "电力")]);
        new.push("4412|电力|烟煤|煤粉炉|≥750兆瓦|NOX|直排|千克/吨-原料|4.8|-".into());
        let split = |industry: &str| {
            migration(
                KeyPattern {
                    // The section letter is accepted and ignored, as in activity files.
                    industry: Some("C4411".into()),
                    product: Some("电能".into()),
                    ..KeyPattern::default()
                },
                KeyPattern {
                    industry: Some(industry.into()),
                    product: Some("电力".into()),
                    ..KeyPattern::default()
                },
            )
        };
        assert_eq!(
            check(&rows(BASE), &new, &[split("4412"), split("4411")]),
            [
                "changed [3→4] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 => 4412 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 (migration 0)",
                "  generation_coefficient: `5.1` → `4.8` (-0.0588)",
                "renamed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 => 4411 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 (migration 1)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_migration_leaves_exactly_matched_rows_alone() {
        // 4411 keeps its row unchanged, so the split declared for it does not apply and the
        // 4412 row is new.
        let mut new = rows(BASE);
        new.push("4412|电能|烟煤|煤粉炉|≥750兆瓦|NOX|直排|千克/吨-原料|4.8|-".into());
        let split = |industry: &str| {
            migration(
                KeyPattern {
                    industry: Some("4411".into()),
                    ..KeyPattern::default()
                },
                KeyPattern {
                    industry: Some(industry.into()),
                    ..KeyPattern::default()
                },
            )
        };
        assert_eq!(
            check(&rows(BASE), &new, &[split("4411"), split("4412")]),
            [
                "added [4] 4412 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "unchanged 4",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_migration_without_a_target_leaves_the_row_removed() {
        let new = rows(&BASE[..3]);
        let rename = migration(
            KeyPattern {
                product: Some("电能".into()),
                ..KeyPattern::default()
            },
            KeyPattern {
                product: Some("电力".into()),
                ..KeyPattern::default()
            },
        );
        assert_eq!(
            check(&rows(BASE), &new, &[rename.clone(), rename]),
            [
                "removed [3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn two_migrations_to_one_row_give_one_entry() {
        let new = edit(BASE, &[(3, "电能", "电力")]);
        let by_product = migration(
            KeyPattern {
                product: Some("电能".into()),
                ..KeyPattern::default()
            },
            KeyPattern {
                product: Some("电力".into()),
                ..KeyPattern::default()
            },
        );
        let by_industry = migration(
            KeyPattern {
                industry: Some("4411".into()),
                ..KeyPattern::default()
            },
            KeyPattern {
                product: Some("电力".into()),
                ..KeyPattern::default()
            },
        );
        assert_eq!(
            check(&rows(BASE), &new, &[by_industry, by_product]),
            [
                "renamed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 => 4411 / 电力 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排 (migration 0)",
                "unchanged 3",
            ]
            .join("\n")
        );
    }

    #[test]
    fn switching_the_removal_form_changes_both_fields() {
        let new = edit(BASE, &[(2, "η30", "e2.06"), (3, "|-", "|η0")]);
        assert_eq!(
            check(&rows(BASE), &new, &[]),
            [
                "changed [3→3] 4411 / 电能 / 烟煤 / 煤粉炉 / ≥750兆瓦 / NOX / 直排",
                "  removal_efficiency: `` → `0`",
                "changed [2→2] 4430 / 蒸汽 / 煤炭 / 层燃炉 / 所有规模 / NOX / 低氮燃烧",
                "  removal_efficiency: `30` → ``",
                "  emission_coefficient: `` → `2.06`",
                "unchanged 2",
            ]
            .join("\n")
        );
    }
}
