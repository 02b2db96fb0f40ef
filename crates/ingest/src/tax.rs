//! Reading the environmental protection tax's tables: the law's pollution equivalents
//! (附表二) as [`tax::Item`]s, the provincial rates as [`tax::Rates`], and a file of monitored
//! monthly emissions with each npsc pollutant mapped to the law's item by a declared mapping.
//!
//! Names: the engine knows COD, BOD5 and TOC (of which only one is taxed per outlet) by the
//! names of [`tax::ONE_OF`]; the law's table writes them `化学需氧量(CODcr)`,
//! `生化需氧量(BOD5)` and `总有机碳(TOC)`. Water items 13, 12 and 14 are therefore read under
//! the engine's names, and a rate naming either spelling is resolved to the same item. Every
//! other item keeps the table's name.
//!
//! Rows whose equivalent unit is not `kg` (pH, 色度 and 大肠菌群 rows are counted in other
//! units) are not items the per-kilogram engine can tax: they are skipped, and each is listed in
//! [`EquivalentTable::skipped`] so that the output can say so.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use accounting::codes::{RegionCode, Uscc};
use accounting::date::Date;
use accounting::tax::{
    self, Exemption, Item, ItemCountRule, ItemCountRules, ItemCounts, Medium, Rate, Rates,
};
use rust_decimal::Decimal;

use crate::issue::{Issue, Issues};
use crate::reference::Reference;
use crate::schemas::{
    self, equivalents as eq, monitored_emissions as me, tax_item_counts as tc, tax_rates as tr,
};
use crate::table::ReadOptions;
use crate::{Source, each_record};

/// The law's equivalent table as the engine's items.
#[derive(Debug, Clone, Default)]
pub struct EquivalentTable {
    /// Items counted in kilograms, in file order.
    pub items: Vec<Item>,
    /// Rows skipped because their unit is not `kg`: `row N: name (unit)`.
    pub skipped: Vec<String>,
    /// Every spelling (the table's and the engine's) → the engine's name, per medium.
    names: HashMap<(Medium, String), String>,
    /// `medium:number` → the engine's name.
    numbers: HashMap<String, String>,
}

impl EquivalentTable {
    /// The engine's name for a spelling of an item of `medium`.
    pub fn resolve(&self, medium: Medium, name: &str) -> Option<&str> {
        self.names
            .get(&(medium, name.trim().to_string()))
            .map(String::as_str)
    }

    /// The item named `medium:number` (the `tax_item` column of `pollutants.csv`).
    pub fn by_key(&self, key: &str) -> Option<&Item> {
        let name = self.numbers.get(key.trim())?;
        let medium = Medium::parse(key.split(':').next().unwrap_or(""))?;
        self.items
            .iter()
            .find(|i| i.medium == medium && &i.name == name)
    }

    /// Item counts per medium and class: `(air, water class I, water other)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let air = self
            .items
            .iter()
            .filter(|i| i.medium == Medium::Air)
            .count();
        let one = self
            .items
            .iter()
            .filter(|i| i.medium == Medium::Water && i.class_one)
            .count();
        (air, one, self.items.len() - air - one)
    }
}

/// The engine's name of an item of the law's table (see the module notes).
pub fn engine_name(medium: Medium, number: u16, name: &str) -> String {
    match (medium, number) {
        (Medium::Water, 13) => tax::ONE_OF[0].to_string(),
        (Medium::Water, 12) => tax::ONE_OF[1].to_string(),
        (Medium::Water, 14) => tax::ONE_OF[2].to_string(),
        _ => name.trim().to_string(),
    }
}

fn decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        return Decimal::from_scientific(text).ok();
    }
    Decimal::from_str(text).ok()
}

/// Reads the pollution-equivalent table; every bad cell is reported.
pub fn read_equivalents(
    source: Source<'_>,
    options: &ReadOptions,
) -> Result<EquivalentTable, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut table = EquivalentTable::default();
    let mut seen: BTreeMap<(Medium, u16), u64> = BTreeMap::new();
    each_record(
        source,
        &schemas::EQUIVALENTS,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let before = issues.error_count();
            let medium_text = record.get(eq::MEDIUM).unwrap_or("");
            let medium = Medium::parse(medium_text);
            if medium.is_none() {
                issues.push(
                    Issue::error(
                        at(eq::MEDIUM),
                        "bad-medium",
                        "medium must be `water` or `air`",
                    )
                    .with_value(medium_text),
                );
            }
            let class = record.get(eq::CLASS);
            let class_one = match (medium, class) {
                (Some(Medium::Air), None) => Some(false),
                (Some(Medium::Water), Some("1")) => Some(true),
                (Some(Medium::Water), Some("2")) => Some(false),
                (None, _) => None,
                (_, other) => {
                    issues.push(
                        Issue::error(
                            at(eq::CLASS),
                            "bad-class",
                            "water class must be 1 or 2, air has none",
                        )
                        .with_value(other.unwrap_or("")),
                    );
                    None
                }
            };
            let number_text = record.get(eq::ITEM).unwrap_or("");
            let number = number_text.trim().parse::<u16>().ok().filter(|n| *n > 0);
            if number.is_none() {
                issues.push(
                    Issue::error(
                        at(eq::ITEM),
                        "bad-item",
                        "the item number must be a positive whole number",
                    )
                    .with_value(number_text),
                );
            }
            let name = record.get(eq::POLLUTANT).unwrap_or("").trim().to_string();
            if name.is_empty() {
                issues.push(Issue::error(
                    at(eq::POLLUTANT),
                    "missing-value",
                    "a value is required",
                ));
            }
            let value_text = record.get(eq::EQUIVALENT_VALUE).unwrap_or("");
            let value = decimal(value_text).filter(|v| *v > Decimal::ZERO);
            if value.is_none() {
                issues.push(
                    Issue::error(
                        at(eq::EQUIVALENT_VALUE),
                        "bad-number",
                        "the equivalent value must be a positive number",
                    )
                    .with_value(value_text),
                );
            }
            let unit = record.get(eq::EQUIVALENT_UNIT).unwrap_or("").trim();
            if issues.error_count() > before {
                return;
            }
            let (Some(medium), Some(class_one), Some(number), Some(value)) =
                (medium, class_one, number, value)
            else {
                return;
            };
            if unit != "kg" {
                table.skipped.push(format!("row {row}: {name} ({unit})"));
                return;
            }
            if let Some(first) = seen.insert((medium, number), row) {
                issues.push(
                    Issue::error(
                        at(eq::ITEM),
                        "duplicate-item",
                        format!(
                            "{} item {number} is also given on row {first}",
                            medium.as_str()
                        ),
                    )
                    .with_value(number_text),
                );
                return;
            }
            let engine = engine_name(medium, number, &name);
            table.names.insert((medium, name.clone()), engine.clone());
            table.names.insert((medium, engine.clone()), engine.clone());
            table
                .numbers
                .insert(format!("{}:{number}", medium.as_str()), engine.clone());
            table.items.push(Item {
                medium,
                class_one,
                number,
                name: engine,
                equivalent_kg: value,
            });
        },
    );
    if issues.has_errors() {
        Err(issues)
    } else {
        Ok(table)
    }
}

/// Reads the rate table against the items; `*` names every item of the medium. Every bad cell,
/// unknown item and repeated rate is reported.
pub fn read_rates(
    source: Source<'_>,
    items: &EquivalentTable,
    options: &ReadOptions,
) -> Result<Rates, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut rates = Vec::new();
    let mut seen: BTreeMap<(String, Medium, Option<String>, Date), u64> = BTreeMap::new();
    each_record(
        source,
        &schemas::TAX_RATES,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let region_text = record.get(tr::REGION_CODE).unwrap_or("").trim().to_string();
            let region = RegionCode::parse(&region_text).ok();
            if region.is_none() {
                issues.push(
                    Issue::error(
                        at(tr::REGION_CODE),
                        "bad-region",
                        "a six-digit GB/T 2260 code is required",
                    )
                    .with_value(&region_text),
                );
            }
            let medium_text = record.get(tr::MEDIUM).unwrap_or("");
            let medium = Medium::parse(medium_text);
            if medium.is_none() {
                issues.push(
                    Issue::error(
                        at(tr::MEDIUM),
                        "bad-medium",
                        "medium must be `water` or `air`",
                    )
                    .with_value(medium_text),
                );
            }
            let item_text = record.get(tr::POLLUTANT).unwrap_or("").trim().to_string();
            let item = match (medium, item_text.as_str()) {
                (_, "*") => Some(None),
                (Some(m), name) => match items.resolve(m, name) {
                    Some(engine) => Some(Some(engine.to_string())),
                    None => {
                        issues.push(
                            Issue::error(
                                at(tr::POLLUTANT),
                                "unknown-tax-item",
                                format!(
                                    "not an item of the law's {} equivalent table",
                                    m.as_str()
                                ),
                            )
                            .with_value(&item_text)
                            .with_hint("write the item as the table names it, or `*` for every item of the medium"),
                        );
                        None
                    }
                },
                (None, _) => None,
            };
            let yuan_text = record.get(tr::YUAN).unwrap_or("");
            let yuan = decimal(yuan_text).filter(|v| *v >= Decimal::ZERO);
            if yuan.is_none() {
                issues.push(
                    Issue::error(
                        at(tr::YUAN),
                        "bad-number",
                        "yuan per equivalent must be a number of at least 0",
                    )
                    .with_value(yuan_text),
                );
            }
            let date_text = record.get(tr::EFFECTIVE_FROM).unwrap_or("");
            let date = Date::parse(date_text.trim()).ok();
            if date.is_none() {
                issues.push(
                    Issue::error(
                        at(tr::EFFECTIVE_FROM),
                        "bad-date",
                        "a date YYYY-MM-DD is required",
                    )
                    .with_value(date_text),
                );
            }
            let (Some(_), Some(medium), Some(item), Some(yuan), Some(date)) =
                (region, medium, item, yuan, date)
            else {
                return;
            };
            let key = (region_text.clone(), medium, item.clone(), date);
            if let Some(first) = seen.insert(key, row) {
                issues.push(
                    Issue::error(
                        at(tr::POLLUTANT),
                        "duplicate-rate",
                        format!("the same region, medium, item and date are given on row {first}"),
                    )
                    .with_value(&item_text),
                );
                return;
            }
            rates.push(Rate {
                region: region_text,
                medium,
                item,
                yuan,
                effective_from: date,
            });
        },
    );
    if issues.has_errors() {
        Err(issues)
    } else {
        Ok(Rates::new(rates))
    }
}

/// Reads the item-count table (Art. 9: a province may raise the number of items taxed per
/// outlet). Every bad cell is reported: a region that is not a six-digit code, a count that is
/// not a whole number or is below the law's (3 air, 5 water class I, 3 other water: a province
/// may only raise them), a bad date, and a region and date given twice.
pub fn read_item_counts(
    source: Source<'_>,
    options: &ReadOptions,
) -> Result<ItemCountRules, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut rules = Vec::new();
    let mut seen: BTreeMap<(String, Date), u64> = BTreeMap::new();
    each_record(
        source,
        &schemas::TAX_ITEM_COUNTS,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let region_text = record.get(tc::REGION_CODE).unwrap_or("").trim().to_string();
            let region = RegionCode::parse(&region_text).ok();
            if region.is_none() {
                issues.push(
                    Issue::error(
                        at(tc::REGION_CODE),
                        "bad-region",
                        "a six-digit GB/T 2260 code is required",
                    )
                    .with_value(&region_text),
                );
            }
            let law = ItemCounts::LAW;
            let count = |field: usize, what: &str, minimum: usize, issues: &mut Issues| {
                let text = record.get(field).unwrap_or("");
                match text.trim().parse::<usize>() {
                    Ok(n) if n >= minimum => Some(n),
                    Ok(_) => {
                        issues.push(
                            Issue::error(
                                at(field),
                                "count-below-law",
                                format!(
                                    "the law taxes {minimum} {what} per outlet; a province may raise the count, never lower it"
                                ),
                            )
                            .with_value(text),
                        );
                        None
                    }
                    Err(_) => {
                        issues.push(
                            Issue::error(
                                at(field),
                                "bad-count",
                                format!("the number of {what} must be a whole number"),
                            )
                            .with_value(text),
                        );
                        None
                    }
                }
            };
            let air = count(tc::AIR, "air items", law.air, issues);
            let one = count(
                tc::WATER_CLASS_ONE,
                "water class I items",
                law.water_class_one,
                issues,
            );
            let other = count(
                tc::WATER_OTHER,
                "other water items",
                law.water_other,
                issues,
            );
            let date_text = record.get(tc::EFFECTIVE_FROM).unwrap_or("");
            let date = Date::parse(date_text.trim()).ok();
            if date.is_none() {
                issues.push(
                    Issue::error(
                        at(tc::EFFECTIVE_FROM),
                        "bad-date",
                        "a date YYYY-MM-DD is required",
                    )
                    .with_value(date_text),
                );
            }
            let (Some(_), Some(air), Some(water_class_one), Some(water_other), Some(date)) =
                (region, air, one, other, date)
            else {
                return;
            };
            if let Some(first) = seen.insert((region_text.clone(), date), row) {
                issues.push(
                    Issue::error(
                        at(tc::EFFECTIVE_FROM),
                        "duplicate-item-counts",
                        format!("the same region and date are given on row {first}"),
                    )
                    .with_value(date_text),
                );
                return;
            }
            rules.push(ItemCountRule {
                region: region_text,
                counts: ItemCounts {
                    air,
                    water_class_one,
                    water_other,
                },
                effective_from: date,
            });
        },
    );
    if issues.has_errors() {
        Err(issues)
    } else {
        Ok(ItemCountRules::new(rules))
    }
}

/// Which law item 颗粒物 (particulates, not itself an item) is taxed as: a declared choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Particulates {
    /// 烟尘 (air item 20): combustion particulates. The default.
    #[default]
    Soot,
    /// 一般性粉尘 (air item 11): process dust.
    GeneralDust,
}

impl Particulates {
    /// The law's item name.
    pub fn item(self) -> &'static str {
        match self {
            Particulates::Soot => "烟尘",
            Particulates::GeneralDust => "一般性粉尘",
        }
    }

    /// `烟尘` / `soot` or `一般性粉尘` / `dust`.
    pub fn parse(text: &str) -> Option<Particulates> {
        match text.trim() {
            "烟尘" | "soot" => Some(Particulates::Soot),
            "一般性粉尘" | "dust" | "general-dust" => Some(Particulates::GeneralDust),
            _ => None,
        }
    }
}

/// The npsc code of 颗粒物 in `pollutants.csv`.
pub const PARTICULATES_CODE: &str = "PM";

/// The declared mapping of an npsc pollutant to the law's item: the `tax_item` column of the
/// pollutant list, and for 颗粒物 the [`Particulates`] choice. `None` with the reason when the
/// pollutant is not taxable as such.
pub fn tax_item(
    reference: &Reference,
    table: &EquivalentTable,
    particulates: Particulates,
    pollutant: &str,
) -> Result<(Medium, String), String> {
    let Some(id) = reference.pollutants.lookup(pollutant) else {
        return Err("not a pollutant of npsc's list (name, code or alias)".to_string());
    };
    let p = reference.pollutants.get(id);
    if p.code == PARTICULATES_CODE {
        return Ok((Medium::Air, particulates.item().to_string()));
    }
    let Some(tax) = &p.tax else {
        return Err(format!(
            "{} ({}) is not mapped to an item of the law's equivalent table",
            p.name, p.code
        ));
    };
    let medium = match p.medium {
        accounting::pollutant::Medium::Air => Medium::Air,
        accounting::pollutant::Medium::Water => Medium::Water,
        accounting::pollutant::Medium::Solid => {
            return Err(format!("{} is not an air or water pollutant", p.name));
        }
    };
    match table.resolve(medium, &tax.item) {
        Some(name) => Ok((medium, name.to_string())),
        None => Err(format!(
            "{} is mapped to `{}`, which is not in the equivalent table read",
            p.name, tax.item
        )),
    }
}

/// One line of a monitored-emissions file, mapped to the law's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoredEmission {
    /// The enterprise.
    pub uscc: Uscc,
    /// Its outlet.
    pub outlet: String,
    /// The pollutant as written in the file.
    pub pollutant: String,
    /// Air or water.
    pub medium: Medium,
    /// The law's item (engine name).
    pub item: String,
    /// Year and month.
    pub month: (u16, u8),
    /// Kilograms in the month.
    pub kg: Decimal,
    /// Monthly mean concentration.
    pub concentration: Option<Decimal>,
    /// The standard.
    pub standard: Option<Decimal>,
    /// Whether an hourly (air) or daily (water) value exceeded the standard.
    pub exceeded: bool,
    /// The Art. 12 exemption the line declares.
    pub exemption: Option<Exemption>,
    /// 1-based row.
    pub row: u64,
}

fn parse_month(text: &str) -> Option<(u16, u8)> {
    let (y, m) = text.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let y: u16 = y.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    Date::new(y, m, 1).map(|_| (y, m))
}

/// Reads monitored emissions: every bad cell, unmapped pollutant and repeated line (same
/// enterprise, outlet, item and month) is reported. Enterprises are checked against the
/// registry by the caller.
pub fn read_emissions(
    source: Source<'_>,
    reference: &Reference,
    table: &EquivalentTable,
    particulates: Particulates,
    options: &ReadOptions,
) -> Result<Vec<MonitoredEmission>, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut out = Vec::new();
    let mut seen: BTreeMap<(Uscc, String, String, (u16, u8)), u64> = BTreeMap::new();
    each_record(
        source,
        &schemas::MONITORED_EMISSIONS,
        options,
        &mut issues,
        |reader, record, issues| {
            let row = record.row();
            let at = |field| reader.location(row, field);
            let before = issues.error_count();
            let uscc_text = record.get(me::USCC).unwrap_or("");
            let uscc = crate::registry::parse_uscc(uscc_text, at(me::USCC))
                .map_err(|i| issues.push(i))
                .ok();
            let outlet = record.get(me::OUTLET_ID).unwrap_or("").trim().to_string();
            if outlet.is_empty() {
                issues.push(Issue::error(
                    at(me::OUTLET_ID),
                    "missing-value",
                    "a value is required",
                ));
            }
            let pollutant = record.get(me::POLLUTANT).unwrap_or("").trim().to_string();
            let mapped = match tax_item(reference, table, particulates, &pollutant) {
                Ok(m) => Some(m),
                Err(message) => {
                    issues.push(
                        Issue::error(at(me::POLLUTANT), "not-taxable", message)
                            .with_value(&pollutant)
                            .with_hint("the mapping is the `tax_item` column of pollutants.csv; 颗粒物 follows --particulates"),
                    );
                    None
                }
            };
            let month_text = record.get(me::MONTH).unwrap_or("");
            let month = parse_month(month_text);
            if month.is_none() {
                issues.push(
                    Issue::error(at(me::MONTH), "bad-month", "a month YYYY-MM is required")
                        .with_value(month_text),
                );
            }
            let kg_text = record.get(me::KG).unwrap_or("");
            let kg = decimal(kg_text).filter(|v| *v >= Decimal::ZERO);
            if kg.is_none() {
                issues.push(
                    Issue::error(
                        at(me::KG),
                        "bad-number",
                        "kilograms must be a number of at least 0",
                    )
                    .with_value(kg_text),
                );
            }
            let optional_number = |field: usize, issues: &mut Issues| -> Option<Decimal> {
                let text = record.get(field)?;
                let value = decimal(text).filter(|v| *v >= Decimal::ZERO);
                if value.is_none() {
                    issues.push(
                        Issue::error(
                            at(field),
                            "bad-number",
                            "a number of at least 0 is required",
                        )
                        .with_value(text),
                    );
                }
                value
            };
            let concentration = optional_number(me::CONCENTRATION, issues);
            let standard = optional_number(me::STANDARD, issues);
            let exceeded = match record.get(me::EXCEEDED).map(str::trim) {
                None | Some("no" | "false" | "0" | "否" | "N" | "n") => false,
                Some("yes" | "true" | "1" | "是" | "Y" | "y") => true,
                Some(other) => {
                    issues.push(
                        Issue::error(at(me::EXCEEDED), "bad-flag", "write yes/no (是/否)")
                            .with_value(other),
                    );
                    false
                }
            };
            let exemption = match record.get(me::EXEMPTION).map(str::trim) {
                None | Some("") => None,
                Some(text) => {
                    let parsed = Exemption::parse(text);
                    if parsed.is_none() {
                        issues.push(
                            Issue::error(
                                at(me::EXEMPTION),
                                "bad-exemption",
                                "not an exemption of Art. 12",
                            )
                            .with_value(text)
                            .with_hint(
                                "write agriculture (农业生产(不含规模化养殖)), mobile (流动污染源), \
                                 centralized-treatment (依法设立的城乡污水集中处理、生活垃圾集中处理场所) \
                                 or other (国务院批准的其他情形)",
                            ),
                        );
                    }
                    parsed
                }
            };
            if issues.error_count() > before {
                return;
            }
            let (Some(uscc), Some((medium, item)), Some(month), Some(kg)) =
                (uscc, mapped, month, kg)
            else {
                return;
            };
            let key = (uscc, outlet.clone(), item.clone(), month);
            if let Some(first) = seen.insert(key, row) {
                issues.push(
                    Issue::error(
                        at(me::POLLUTANT),
                        "duplicate-line",
                        format!(
                            "outlet `{outlet}` reports `{item}` for {}-{:02} also on row {first}",
                            month.0, month.1
                        ),
                    )
                    .with_value(&pollutant),
                );
                return;
            }
            out.push(MonitoredEmission {
                uscc,
                outlet,
                pollutant,
                medium,
                item,
                month,
                kg,
                concentration,
                standard,
                exceeded,
                exemption,
                row,
            });
        },
    );
    if issues.has_errors() {
        Err(issues)
    } else {
        Ok(out)
    }
}

/// The distinct months of a set of emissions.
pub fn months(emissions: &[MonitoredEmission]) -> BTreeSet<(u16, u8)> {
    emissions.iter().map(|e| e.month).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ItemCountRules, Issues> {
        read_item_counts(
            Source::Bytes {
                name: "counts.csv",
                bytes: text.as_bytes(),
            },
            &ReadOptions::default(),
        )
    }

    #[test]
    fn the_bundled_item_counts_read() {
        let rules = read(include_str!(
            "../../../datasets/reference/tax_item_counts.csv"
        ))
        .expect("bundled table");
        assert_eq!(rules.rules().len(), 1);
        let henan = &rules.rules()[0];
        assert_eq!(henan.region, "410000");
        assert_eq!(henan.counts, ItemCounts::LAW);
        assert_eq!(
            henan.effective_from,
            Date::parse("2018-01-01").expect("date")
        );
    }

    #[test]
    fn chinese_headers_and_every_problem_located() {
        let rules = read(
            "行政区划代码,行政区划名称,大气污染物项目数,第一类水污染物项目数,其他类水污染物项目数,执行日期,备注\n\
             130000,河北省,4,5,3,2019-01-01,test\n",
        )
        .expect("Chinese headers");
        assert_eq!(rules.rules()[0].counts.air, 4);
        let issues = read(
            "region_code,region_name,air_items,water_class_one_items,water_other_items,effective_from,note\n\
             1300,x,3,5,3,2018-01-01,\n\
             130000,x,2,5,3,2018-01-01,\n\
             130000,x,3,4,2,2018-01-01,\n\
             130000,x,three,5,3,2018-01-01,\n\
             130000,x,3,5,3,2018-13-01,\n\
             130000,x,3,5,3,2018-01-01,\n\
             130000,x,4,5,3,2018-01-01,\n",
        )
        .expect_err("problems");
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(issues.error_count(), 7, "{text:#?}");
        let expect = [
            ("row 2", "a six-digit GB/T 2260 code is required"),
            ("row 3", "the law taxes 3 air items per outlet"),
            ("row 4", "the law taxes 5 water class I items per outlet"),
            ("row 4", "the law taxes 3 other water items per outlet"),
            ("row 5", "the number of air items must be a whole number"),
            ("row 6", "a date YYYY-MM-DD is required"),
            ("row 8", "the same region and date are given on row 7"),
        ];
        for (row, message) in expect {
            assert!(
                text.iter().any(|t| t.contains(row) && t.contains(message)),
                "{row}: {message} in {text:#?}"
            );
        }
    }
}
