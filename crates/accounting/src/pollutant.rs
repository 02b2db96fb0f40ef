//! The canonical pollutant list: one entry per pollutant indicator (污染物指标), with its Chinese
//! name, the aliases people write (`COD`, `CODcr`, `化学需氧量`), its medium, the unit totals
//! are reported in, and its pollution-equivalent value under the Environmental Protection Tax Law.
//!
//! The list itself is data (`datasets/pollutants.csv`), read by `ingest`; this module only
//! validates it and answers lookups.

use std::collections::HashMap;
use std::fmt;

use crate::text::normalize_name;
use crate::units::{Dimension, Unit};

/// A pollutant's index in its catalog. Small and copyable so that results and totals can be keyed
/// by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PollutantId(pub u16);

/// Where a pollutant goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Medium {
    /// 废水 (including the wastewater volume indicator).
    Water,
    /// 废气 (including the flue-gas volume indicator).
    Air,
    /// 固体废物.
    Solid,
}

impl Medium {
    /// Accepts `water|air|solid` and `水|废水|气|废气|大气|固废|固体废物`.
    pub fn parse(text: &str) -> Option<Medium> {
        match normalize_name(text).as_str() {
            "water" | "水" | "废水" => Some(Medium::Water),
            "air" | "气" | "废气" | "大气" => Some(Medium::Air),
            "solid" | "固废" | "固体废物" => Some(Medium::Solid),
            _ => None,
        }
    }

    /// The English name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Water => "water",
            Medium::Air => "air",
            Medium::Solid => "solid",
        }
    }
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pollutant's entry in the tax law's table 2 (污染当量值).
#[derive(Debug, Clone, PartialEq)]
pub struct TaxEquivalent {
    /// The law's item name, e.g. `化学需氧量(CODcr)`.
    pub item: String,
    /// The law's class: 1 (第一类水污染物), 2 (其他类水污染物) or 0 for air.
    pub class: u8,
    /// Kilograms of this pollutant per pollution equivalent.
    pub kg_per_equivalent: f64,
}

/// A pollutant definition as read from the catalog file.
#[derive(Debug, Clone, PartialEq)]
pub struct PollutantDef {
    /// Stable ASCII code, e.g. `COD`.
    pub code: String,
    /// Canonical Chinese name, e.g. `化学需氧量`.
    pub name: String,
    /// Water, air or solid.
    pub medium: Medium,
    /// The unit totals are reported in: `吨` for masses, `万标立方米` for flue gas.
    pub report_unit: Unit,
    /// Other names accepted in files.
    pub aliases: Vec<String>,
    /// Tax-law equivalent, where the pollutant is a taxable item.
    pub tax: Option<TaxEquivalent>,
}

/// A validated pollutant.
#[derive(Debug, Clone, PartialEq)]
pub struct Pollutant {
    /// Index in the catalog.
    pub id: PollutantId,
    /// Stable ASCII code.
    pub code: String,
    /// Canonical Chinese name.
    pub name: String,
    /// Water, air or solid.
    pub medium: Medium,
    /// Unit of reported totals.
    pub report_unit: Unit,
    /// Other accepted names.
    pub aliases: Vec<String>,
    /// Tax-law equivalent, if any.
    pub tax: Option<TaxEquivalent>,
}

/// A problem in a catalog definition (by 0-based definition index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProblem {
    /// 0-based index of the definition.
    pub index: usize,
    /// Which field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The validated list with name lookup.
#[derive(Debug, Clone, Default)]
pub struct PollutantCatalog {
    pollutants: Vec<Pollutant>,
    by_name: HashMap<String, PollutantId>,
}

impl PollutantCatalog {
    /// Validates the definitions: codes and names (and aliases, after normalisation) must be
    /// unique across the whole catalog, and the report unit must be a mass or a volume.
    pub fn new(defs: Vec<PollutantDef>) -> Result<PollutantCatalog, Vec<CatalogProblem>> {
        let mut problems = Vec::new();
        let mut catalog = PollutantCatalog::default();
        for (index, def) in defs.into_iter().enumerate() {
            let Ok(raw_id) = u16::try_from(catalog.pollutants.len()) else {
                problems.push(CatalogProblem {
                    index,
                    field: "code",
                    message: "more than 65 535 pollutants".to_string(),
                });
                break;
            };
            let id = PollutantId(raw_id);
            let dimension = def.report_unit.dimension();
            if ![Dimension::MASS, Dimension::VOLUME, Dimension::NORMAL_VOLUME].contains(&dimension)
            {
                problems.push(CatalogProblem {
                    index,
                    field: "report_unit",
                    message: format!(
                        "report unit `{}` is a {}, not a mass or a volume",
                        def.report_unit,
                        dimension.name()
                    ),
                });
            }
            let mut names = vec![("code", def.code.clone()), ("name", def.name.clone())];
            names.extend(def.aliases.iter().map(|a| ("aliases", a.clone())));
            let mut ok = true;
            let mut keys = Vec::new();
            for (field, name) in names {
                let key = normalize_name(&name);
                if key.is_empty() {
                    continue;
                }
                if let Some(other) = catalog.by_name.get(&key) {
                    problems.push(CatalogProblem {
                        index,
                        field,
                        message: format!(
                            "`{name}` already names `{}`",
                            catalog.pollutants[usize::from(other.0)].name
                        ),
                    });
                    ok = false;
                } else if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            if !ok {
                continue;
            }
            for key in keys {
                catalog.by_name.insert(key, id);
            }
            catalog.pollutants.push(Pollutant {
                id,
                code: def.code,
                name: def.name,
                medium: def.medium,
                report_unit: def.report_unit,
                aliases: def.aliases,
                tax: def.tax,
            });
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(problems)
        }
    }

    /// Finds a pollutant by code, name or alias (full-width/half-width, spaces and ASCII case
    /// are ignored).
    pub fn lookup(&self, name: &str) -> Option<PollutantId> {
        self.by_name.get(&normalize_name(name)).copied()
    }

    /// The pollutant with this id. Ids come from this catalog, so this cannot fail for them.
    pub fn get(&self, id: PollutantId) -> &Pollutant {
        &self.pollutants[usize::from(id.0)]
    }

    /// All pollutants in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = &Pollutant> {
        self.pollutants.iter()
    }

    /// Number of pollutants.
    pub fn len(&self) -> usize {
        self.pollutants.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.pollutants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(code: &str, name: &str, aliases: &[&str]) -> PollutantDef {
        PollutantDef {
            code: code.to_string(),
            name: name.to_string(),
            medium: Medium::Water,
            report_unit: Unit::parse("吨").unwrap(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            tax: None,
        }
    }

    #[test]
    fn looks_up_codes_names_and_aliases() {
        let catalog = PollutantCatalog::new(vec![
            def("COD", "化学需氧量", &["CODcr", "化学需氧量(CODcr)"]),
            def("NH3N", "氨氮", &["NH3-N"]),
        ])
        .unwrap();
        for name in [
            "COD",
            "cod",
            "CODcr",
            "化学需氧量",
            "化学需氧量（CODcr）",
            " 化学需氧量 ",
        ] {
            assert_eq!(catalog.lookup(name), Some(PollutantId(0)), "{name}");
        }
        assert_eq!(catalog.lookup("NH3-N"), Some(PollutantId(1)));
        assert_eq!(catalog.lookup("总氮"), None);
    }

    #[test]
    fn rejects_an_alias_that_names_two_pollutants() {
        let problems = PollutantCatalog::new(vec![
            def("COD", "化学需氧量", &["需氧量"]),
            def("BOD5", "五日生化需氧量", &["需氧量"]),
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].index, 1);
        assert!(
            problems[0].message.contains("化学需氧量"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn rejects_a_report_unit_that_is_not_a_quantity_of_matter() {
        let mut bad = def("X", "某物", &[]);
        bad.report_unit = Unit::parse("千瓦时").unwrap();
        let problems = PollutantCatalog::new(vec![bad]).unwrap_err();
        assert_eq!(problems[0].field, "report_unit");
    }
}
