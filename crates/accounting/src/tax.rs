//! The environmental protection tax on air and water pollutants (环境保护税法, effective
//! 2018-01-01), in decimal arithmetic: money is never a float.
//!
//! Per outlet and month (Art. 8–11): pollution equivalents = emission (kg) ÷ the item's
//! equivalent value (附表二); air: the top 3 items by equivalents are taxed; water: the top 5 of
//! class I and the top 3 of the other items, with only the largest of COD, BOD5 and TOC counted;
//! a province may raise the counts ([`ItemCounts`]). Tax = equivalents × the rate of the most
//! specific region (county over prefecture over province) in force on the date, for the item or
//! the medium's default. Art. 13: a monthly concentration below 70 % of the standard pays 75 %,
//! below 50 % pays 50 %, only when no hourly (air) or daily (water) value exceeded it.
//!
//! Art. 12 exemptions are declared per line ([`Exemption`]): an exempt line is listed with its
//! equivalents and ranked among the exempt lines of its group, takes no top-N slot and pays
//! nothing; the centralized-treatment exemption holds only when the line did not exceed the
//! standard (otherwise the line is taxed as any other).
//!
//! Ranking ties are broken by the item's number in the law's table (the lower first), so that
//! the result never depends on input order. Rounding is explicit ([`Rounding`]): published
//! examples differ between rounding each item's tax to 0.01 yuan and rounding the equivalents to
//! two decimals first.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::date::Date;

/// Air or water.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Medium {
    /// 大气污染物.
    Air,
    /// 水污染物.
    Water,
}

impl Medium {
    /// `air` or `water`.
    pub fn parse(text: &str) -> Option<Medium> {
        match text.trim() {
            "air" | "大气" | "大气污染物" => Some(Medium::Air),
            "water" | "水" | "水污染物" => Some(Medium::Water),
            _ => None,
        }
    }

    /// The stable word.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Air => "air",
            Medium::Water => "water",
        }
    }
}

/// An item of the law's equivalent table (附表二).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Air or water.
    pub medium: Medium,
    /// Water class I (第一类水污染物); `false` for other water items and for air.
    pub class_one: bool,
    /// The item's number in its table (ties in the ranking go to the lower number).
    pub number: u16,
    /// The item's name in the law, e.g. `二氧化硫`.
    pub name: String,
    /// Kilograms per pollution equivalent.
    pub equivalent_kg: Decimal,
}

/// The items of COD, BOD5 and TOC: at one outlet only the one with the most equivalents is taxed.
pub const ONE_OF: [&str; 3] = ["化学需氧量", "五日生化需氧量", "总有机碳"];

/// How many items are taxed per outlet (Art. 9; a province may raise them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemCounts {
    /// Air items (3).
    pub air: usize,
    /// Water class I items (5).
    pub water_class_one: usize,
    /// Other water items (3).
    pub water_other: usize,
}

impl ItemCounts {
    /// The law's counts (Art. 9): 3 air items, 5 water class I items, 3 other water items.
    pub const LAW: ItemCounts = ItemCounts {
        air: 3,
        water_class_one: 5,
        water_other: 3,
    };

    /// Whether every count is at least the law's (a province may raise them, never lower).
    pub fn at_least_law(self) -> bool {
        self.air >= ItemCounts::LAW.air
            && self.water_class_one >= ItemCounts::LAW.water_class_one
            && self.water_other >= ItemCounts::LAW.water_other
    }
}

impl Default for ItemCounts {
    fn default() -> Self {
        ItemCounts::LAW
    }
}

/// One row of the item-count table: the counts a region taxes per outlet from a date (Art. 9:
/// a province's people's congress standing committee may raise them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCountRule {
    /// GB/T 2260 code (province `410000`, prefecture or county).
    pub region: String,
    /// The counts.
    pub counts: ItemCounts,
    /// In force from.
    pub effective_from: Date,
}

/// The item-count table.
#[derive(Debug, Clone, Default)]
pub struct ItemCountRules {
    rules: Vec<ItemCountRule>,
}

impl ItemCountRules {
    /// A table of rules.
    pub fn new(rules: Vec<ItemCountRule>) -> ItemCountRules {
        ItemCountRules { rules }
    }

    /// The rows, in the order given.
    pub fn rules(&self) -> &[ItemCountRule] {
        &self.rules
    }

    /// The row that applies to a county on `date`: the most specific region with a row in force
    /// (the county, then its prefecture, then its province), then the latest in force there.
    /// `None` when no row applies.
    pub fn rule(&self, county: &str, date: Date) -> Option<&ItemCountRule> {
        let digits = county.trim();
        if digits.len() != 6 || !digits.is_ascii() {
            return None;
        }
        let prefecture = format!("{}00", &digits[..4]);
        let province = format!("{}0000", &digits[..2]);
        [digits, prefecture.as_str(), province.as_str()]
            .into_iter()
            .find_map(|region| {
                self.rules
                    .iter()
                    .filter(|r| r.region == region && r.effective_from <= date)
                    .max_by_key(|r| r.effective_from)
            })
    }

    /// The counts for a county on `date` ([`ItemCountRules::rule`]); the law's
    /// ([`ItemCounts::LAW`]) when no row applies.
    pub fn lookup(&self, county: &str, date: Date) -> ItemCounts {
        self.rule(county, date)
            .map_or(ItemCounts::LAW, |r| r.counts)
    }
}

/// Where amounts are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Equivalents exact; each item's tax rounded to 0.01 yuan (half away from zero). The
    /// default: nothing is rounded before money is.
    TaxPerItem,
    /// Equivalents rounded to two decimals first, then each item's tax to 0.01 yuan (as many
    /// published worked examples do).
    EquivalentsFirst,
}

/// One tax rate: yuan per pollution equivalent for a region, medium, item (or every item of
/// the medium) from a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// GB/T 2260 code (province `110000`, prefecture `320100` or county).
    pub region: String,
    /// Air or water.
    pub medium: Medium,
    /// The item, or `None` for every item of the medium.
    pub item: Option<String>,
    /// Yuan per equivalent.
    pub yuan: Decimal,
    /// In force from.
    pub effective_from: Date,
}

/// The rate table.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    rates: Vec<Rate>,
}

impl Rates {
    /// A table of rates.
    pub fn new(rates: Vec<Rate>) -> Rates {
        Rates { rates }
    }

    /// The rate for a county, medium and item on `date`: the most specific region wins (the
    /// county, then its prefecture, then its province), then an item-specific rate over the
    /// medium's default, then the latest in force.
    pub fn lookup(&self, county: &str, medium: Medium, item: &str, date: Date) -> Option<&Rate> {
        let digits = county.trim();
        if digits.len() != 6 {
            return None;
        }
        let prefecture = format!("{}00", &digits[..4]);
        let province = format!("{}0000", &digits[..2]);
        for region in [digits, prefecture.as_str(), province.as_str()] {
            let candidates = self
                .rates
                .iter()
                .filter(|r| r.region == region && r.medium == medium && r.effective_from <= date);
            let best = candidates
                .filter(|r| r.item.as_deref().is_none_or(|i| i == item))
                .max_by(|a, b| {
                    (a.item.is_some(), a.effective_from).cmp(&(b.item.is_some(), b.effective_from))
                });
            if best.is_some() {
                return best;
            }
        }
        None
    }
}

/// The Art. 12 exemptions (暂予免征) a line may declare. npsc cannot tell them from the data
/// (large-scale farming, for one, is taxable while other agriculture is not): they are declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exemption {
    /// Art. 12 (1): 农业生产(不含规模化养殖), agricultural production except large-scale farming.
    Agriculture,
    /// Art. 12 (2): 机动车、铁路机车、非道路移动机械、船舶和航空器等流动污染源, mobile sources.
    Mobile,
    /// Art. 12 (3): 依法设立的城乡污水集中处理、生活垃圾集中处理场所, legally established urban and
    /// rural sewage and household-waste treatment facilities, when not exceeding the standards.
    CentralizedTreatment,
    /// Art. 12 (5): 国务院批准免税的其他情形, other cases approved by the State Council.
    Other,
}

impl Exemption {
    /// Every exemption, in the article's order.
    pub const ALL: [Exemption; 4] = [
        Exemption::Agriculture,
        Exemption::Mobile,
        Exemption::CentralizedTreatment,
        Exemption::Other,
    ];

    /// `agriculture`, `mobile`, `centralized-treatment`, `other` or a Chinese wording (full-width
    /// brackets and spaces ignored): `农业生产(不含规模化养殖)` / `农业生产` / `农业`, `流动污染源`
    /// / `流动源`, `依法设立的城乡污水集中处理、生活垃圾集中处理场所` / `污水集中处理` /
    /// `生活垃圾集中处理` / `集中处理`, `国务院批准的其他情形` / `国务院批准免税的其他情形` / `其他`.
    pub fn parse(text: &str) -> Option<Exemption> {
        let text = crate::text::normalize_name(text);
        let exemption = match text.as_str() {
            "agriculture" | "农业生产(不含规模化养殖)" | "农业生产" | "农业" => {
                Exemption::Agriculture
            }
            "mobile" | "流动污染源" | "流动源" => Exemption::Mobile,
            "centralized-treatment"
            | "依法设立的城乡污水集中处理、生活垃圾集中处理场所"
            | "城乡污水集中处理、生活垃圾集中处理场所"
            | "污水集中处理"
            | "生活垃圾集中处理"
            | "集中处理" => Exemption::CentralizedTreatment,
            "other" | "国务院批准的其他情形" | "国务院批准免税的其他情形" | "其他" => {
                Exemption::Other
            }
            _ => return None,
        };
        Some(exemption)
    }

    /// The stable word.
    pub fn as_str(self) -> &'static str {
        match self {
            Exemption::Agriculture => "agriculture",
            Exemption::Mobile => "mobile",
            Exemption::CentralizedTreatment => "centralized-treatment",
            Exemption::Other => "other",
        }
    }

    /// The article and its wording, for a declaration.
    pub fn article(self) -> &'static str {
        match self {
            Exemption::Agriculture => {
                "环境保护税法第十二条第一款第（一）项：农业生产（不含规模化养殖）"
            }
            Exemption::Mobile => {
                "环境保护税法第十二条第一款第（二）项：机动车、铁路机车、非道路移动机械、船舶和航空器等流动污染源"
            }
            Exemption::CentralizedTreatment => {
                "环境保护税法第十二条第一款第（三）项：依法设立的城乡污水集中处理、生活垃圾集中处理场所，不超过排放标准"
            }
            Exemption::Other => "环境保护税法第十二条第一款第（五）项：国务院批准免税的其他情形",
        }
    }
}

/// The monthly emission of one item at one outlet, with what Art. 13 needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    /// The outlet.
    pub outlet: String,
    /// Air or water (some names, such as 氟化物, are items of both tables).
    pub medium: Medium,
    /// The law's item (after the declared pollutant → item mapping).
    pub item: String,
    /// Kilograms in the month.
    pub kg: Decimal,
    /// The monthly mean concentration, where monitored.
    pub concentration: Option<Decimal>,
    /// The emission standard (same unit as the concentration).
    pub standard: Option<Decimal>,
    /// Whether any hourly (air) or daily (water) value exceeded the standard in the month.
    pub exceeded: bool,
    /// The Art. 12 exemption the line declares, if any.
    pub exemption: Option<Exemption>,
}

impl Emission {
    /// Whether the line exceeded the standard: an hourly (air) or daily (water) value above it, or
    /// the monthly mean concentration above it.
    pub fn over_standard(&self) -> bool {
        self.exceeded || matches!((self.concentration, self.standard), (Some(c), Some(s)) if c > s)
    }

    /// The exemption that applies: the declared one, except centralized treatment when the line
    /// exceeded the standard ([`Emission::over_standard`]).
    pub fn applied_exemption(&self) -> Option<Exemption> {
        match self.exemption {
            Some(Exemption::CentralizedTreatment) if self.over_standard() => None,
            other => other,
        }
    }
}

/// Why an item is not taxed, when it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untaxed {
    /// Beyond the top N of its group.
    BeyondTopN,
    /// COD, BOD5 or TOC when another of the three has more equivalents.
    OneOfCodBodToc,
    /// Exempt under Art. 12 (ranked among the exempt lines of its group, taking no slot).
    Exempt(Exemption),
}

/// One line of the declaration: an item at an outlet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The outlet.
    pub outlet: String,
    /// Air or water.
    pub medium: Medium,
    /// A water class I item (第一类水污染物).
    pub class_one: bool,
    /// The item.
    pub item: String,
    /// Emission, kg.
    pub kg: Decimal,
    /// Kilograms per equivalent.
    pub equivalent_kg: Decimal,
    /// Equivalents (exact, or rounded to 0.01 under [`Rounding::EquivalentsFirst`]).
    pub equivalents: Decimal,
    /// Rank within its group at the outlet (1 = most equivalents); exempt lines are ranked among
    /// the exempt lines of the group.
    pub rank: usize,
    /// `None` when taxed, else why not.
    pub untaxed: Option<Untaxed>,
    /// Yuan per equivalent (for taxed items).
    pub rate: Option<Decimal>,
    /// The share paid after Art. 13: 1, 0.75 or 0.5.
    pub share: Decimal,
    /// Tax, yuan, rounded to 0.01.
    pub tax: Decimal,
    /// The exemption the line declared (applied when `untaxed` is [`Untaxed::Exempt`]; a
    /// centralized-treatment line that exceeded the standard keeps it here but is taxed).
    pub exemption: Option<Exemption>,
}

/// A problem that stops the computation, naming the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    /// The item is not in the equivalent table.
    #[error("outlet `{outlet}`: `{item}` is not an item of the law's {medium} equivalent table")]
    UnknownItem {
        /// Outlet.
        outlet: String,
        /// Medium word.
        medium: &'static str,
        /// Item.
        item: String,
    },
    /// No rate is in force for the region, medium and item.
    #[error("no {medium} tax rate for `{item}` in region {region} on {date}")]
    NoRate {
        /// Region.
        region: String,
        /// Medium word.
        medium: &'static str,
        /// Item.
        item: String,
        /// Date.
        date: Date,
    },
    /// A negative emission.
    #[error("outlet `{outlet}`: the emission of `{item}` is negative ({kg} kg)")]
    Negative {
        /// Outlet.
        outlet: String,
        /// Item.
        item: String,
        /// Value.
        kg: Decimal,
    },
    /// The same item twice at one outlet.
    #[error("outlet `{outlet}`: `{item}` is given twice")]
    Duplicate {
        /// Outlet.
        outlet: String,
        /// Item.
        item: String,
    },
}

/// The Art. 13 share: 0.5 below half the standard, 0.75 below 70 % of it, else 1; always 1 when
/// a value exceeded the standard or a concentration or standard is missing.
pub fn share(e: &Emission) -> Decimal {
    match (e.concentration, e.standard) {
        (Some(c), Some(s)) if !e.exceeded && s > Decimal::ZERO => {
            if c < s * Decimal::new(5, 1) {
                Decimal::new(5, 1)
            } else if c < s * Decimal::new(7, 1) {
                Decimal::new(75, 2)
            } else {
                Decimal::ONE
            }
        }
        _ => Decimal::ONE,
    }
}

fn cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Computes one month's tax lines of a region's outlets. Lines come out by outlet, then medium,
/// then group (air; water class I; other water), then the taxable lines by rank, then the exempt
/// lines by rank.
pub fn compute(
    emissions: &[Emission],
    items: &[Item],
    rates: &Rates,
    county: &str,
    date: Date,
    counts: ItemCounts,
    rounding: Rounding,
) -> Result<Vec<Line>, Vec<TaxError>> {
    let by_name: BTreeMap<(Medium, &str), &Item> = items
        .iter()
        .map(|i| ((i.medium, i.name.as_str()), i))
        .collect();
    let mut errors = Vec::new();
    // Per outlet and group: (item, emission, equivalents).
    type Group<'a> = Vec<(&'a Item, &'a Emission, Decimal)>;
    let mut groups: BTreeMap<(&str, Medium, bool), Group> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in emissions {
        let Some(item) = by_name.get(&(e.medium, e.item.as_str())) else {
            errors.push(TaxError::UnknownItem {
                outlet: e.outlet.clone(),
                medium: e.medium.as_str(),
                item: e.item.clone(),
            });
            continue;
        };
        if e.kg < Decimal::ZERO {
            errors.push(TaxError::Negative {
                outlet: e.outlet.clone(),
                item: e.item.clone(),
                kg: e.kg,
            });
            continue;
        }
        if !seen.insert((e.outlet.as_str(), e.item.as_str())) {
            errors.push(TaxError::Duplicate {
                outlet: e.outlet.clone(),
                item: e.item.clone(),
            });
            continue;
        }
        let mut equivalents = e.kg / item.equivalent_kg;
        if rounding == Rounding::EquivalentsFirst {
            equivalents = cents(equivalents);
        }
        groups
            .entry((e.outlet.as_str(), item.medium, !item.class_one))
            .or_default()
            .push((item, e, equivalents));
    }
    let mut lines = Vec::new();
    for ((outlet, medium, other), group) in groups {
        let (mut exempt, mut group): (Group, Group) = group
            .into_iter()
            .partition(|(_, e, _)| e.applied_exemption().is_some());
        let order = |a: &(&Item, &Emission, Decimal), b: &(&Item, &Emission, Decimal)| {
            b.2.cmp(&a.2).then(a.0.number.cmp(&b.0.number))
        };
        group.sort_by(order);
        exempt.sort_by(order);
        let limit = match (medium, other) {
            (Medium::Air, _) => counts.air,
            (Medium::Water, false) => counts.water_class_one,
            (Medium::Water, true) => counts.water_other,
        };
        let mut taxed = 0;
        let mut one_of_taken = false;
        for (rank, (item, e, equivalents)) in group.into_iter().enumerate() {
            let untaxed = if medium == Medium::Water && ONE_OF.contains(&item.name.as_str()) {
                if one_of_taken {
                    Some(Untaxed::OneOfCodBodToc)
                } else {
                    one_of_taken = true;
                    None
                }
            } else {
                None
            };
            let untaxed = untaxed.or_else(|| (taxed >= limit).then_some(Untaxed::BeyondTopN));
            let (rate, share_paid, tax) = if untaxed.is_none() {
                taxed += 1;
                let Some(rate) = rates.lookup(county, medium, &item.name, date) else {
                    errors.push(TaxError::NoRate {
                        region: county.to_string(),
                        medium: medium.as_str(),
                        item: item.name.clone(),
                        date,
                    });
                    continue;
                };
                let share_paid = share(e);
                (
                    Some(rate.yuan),
                    share_paid,
                    cents(equivalents * rate.yuan * share_paid),
                )
            } else {
                (None, Decimal::ONE, Decimal::ZERO)
            };
            lines.push(Line {
                outlet: outlet.to_string(),
                medium,
                class_one: item.class_one,
                item: item.name.clone(),
                kg: e.kg,
                equivalent_kg: item.equivalent_kg,
                equivalents,
                rank: rank + 1,
                untaxed,
                rate,
                share: share_paid,
                tax,
                exemption: e.exemption,
            });
        }
        for (rank, (item, e, equivalents)) in exempt.into_iter().enumerate() {
            let Some(exemption) = e.applied_exemption() else {
                continue;
            };
            lines.push(Line {
                outlet: outlet.to_string(),
                medium,
                class_one: item.class_one,
                item: item.name.clone(),
                kg: e.kg,
                equivalent_kg: item.equivalent_kg,
                equivalents,
                rank: rank + 1,
                untaxed: Some(Untaxed::Exempt(exemption)),
                rate: None,
                share: Decimal::ONE,
                tax: Decimal::ZERO,
                exemption: Some(exemption),
            });
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).expect("decimal")
    }

    fn item(medium: Medium, class_one: bool, number: u16, name: &str, kg: &str) -> Item {
        Item {
            medium,
            class_one,
            number,
            name: name.to_string(),
            equivalent_kg: d(kg),
        }
    }

    /// The items the tests use, with the law's values (domain facts §4.3).
    fn items() -> Vec<Item> {
        use Medium::{Air, Water};
        vec![
            item(Air, false, 1, "二氧化硫", "0.95"),
            item(Air, false, 2, "氮氧化物", "0.95"),
            item(Air, false, 3, "一氧化碳", "16.7"),
            item(Air, false, 5, "氯化氢", "10.75"),
            item(Air, false, 6, "氟化物", "0.87"),
            item(Air, false, 20, "烟尘", "2.18"),
            item(Water, true, 1, "总汞", "0.0005"),
            item(Water, true, 2, "总镉", "0.005"),
            item(Water, true, 3, "总铬", "0.04"),
            item(Water, true, 4, "六价铬", "0.02"),
            item(Water, true, 5, "总砷", "0.02"),
            item(Water, true, 6, "总铅", "0.025"),
            item(Water, true, 7, "总镍", "0.025"),
            item(Water, false, 11, "悬浮物", "4"),
            item(Water, false, 12, "五日生化需氧量", "0.5"),
            item(Water, false, 13, "化学需氧量", "1"),
            item(Water, false, 14, "总有机碳", "0.49"),
            item(Water, false, 19, "硫化物", "0.125"),
            item(Water, false, 20, "氨氮", "0.8"),
            item(Water, false, 21, "氟化物", "0.5"),
            item(Water, false, 22, "甲醛", "0.125"),
            item(Water, false, 26, "总铜", "0.1"),
            item(Water, false, 27, "总锌", "0.2"),
            item(Water, false, 28, "总锰", "0.2"),
        ]
    }

    /// An emission; outlets `DA…` discharge to air, `DW…` to water.
    fn emission(outlet: &str, item: &str, kg: &str) -> Emission {
        Emission {
            outlet: outlet.to_string(),
            medium: if outlet.starts_with("DW") {
                Medium::Water
            } else {
                Medium::Air
            },
            item: item.to_string(),
            kg: d(kg),
            concentration: None,
            standard: None,
            exceeded: false,
            exemption: None,
        }
    }

    fn date(text: &str) -> Date {
        Date::parse(text).expect("date")
    }

    fn flat(region: &str, medium: Medium, yuan: &str) -> Rate {
        Rate {
            region: region.to_string(),
            medium,
            item: None,
            yuan: d(yuan),
            effective_from: date("2018-01-01"),
        }
    }

    fn total(lines: &[Line]) -> Decimal {
        lines.iter().map(|l| l.tax).sum()
    }

    /// Worked example 1 (domain facts §4.4): SO2 100 kg, fluoride 100 kg, CO 200 kg, HCl 80 kg
    /// at one outlet, 1.2 yuan → the top 3 (F 114.94, SO2 105.26, CO 11.98) → 278.62 yuan,
    /// under either rounding.
    #[test]
    fn air_worked_example() {
        let rates = Rates::new(vec![flat("110000", Medium::Air, "1.2")]);
        let emissions = [
            emission("DA001", "二氧化硫", "100"),
            emission("DA001", "氟化物", "100"),
            emission("DA001", "一氧化碳", "200"),
            emission("DA001", "氯化氢", "80"),
        ];
        for rounding in [Rounding::TaxPerItem, Rounding::EquivalentsFirst] {
            let lines = compute(
                &emissions,
                &items()
                    .into_iter()
                    .filter(|i| i.medium == Medium::Air)
                    .collect::<Vec<_>>(),
                &rates,
                "110101",
                date("2024-03-31"),
                ItemCounts::default(),
                rounding,
            )
            .expect("computed");
            let order: Vec<_> = lines.iter().map(|l| l.item.as_str()).collect();
            assert_eq!(order, ["氟化物", "二氧化硫", "一氧化碳", "氯化氢"]);
            assert_eq!(lines[3].untaxed, Some(Untaxed::BeyondTopN));
            assert_eq!(total(&lines), d("278.62"), "{rounding:?}");
        }
        // Rounding the equivalents first: 114.94 + 105.26 + 11.98 = 232.18 exactly.
        let lines = compute(
            &emissions,
            &items(),
            &rates,
            "110101",
            date("2024-03-31"),
            ItemCounts::default(),
            Rounding::EquivalentsFirst,
        )
        .expect("computed");
        let sum: Decimal = lines
            .iter()
            .filter(|l| l.untaxed.is_none())
            .map(|l| l.equivalents)
            .sum();
        assert_eq!(sum, d("232.18"));
    }

    /// Worked example 2: other water items, 3 yuan: 总锌 1000 > 总铜 900 > 硫化物 800 →
    /// (1000 + 900 + 800) × 3 = 8 100 yuan.
    #[test]
    fn water_worked_example() {
        let rates = Rates::new(vec![flat("370000", Medium::Water, "3")]);
        let emissions = [
            emission("DW001", "硫化物", "100"),
            emission("DW001", "氟化物", "100"),
            emission("DW001", "甲醛", "90"),
            emission("DW001", "总铜", "90"),
            emission("DW001", "总锌", "200"),
            emission("DW001", "总锰", "120"),
        ];
        let water: Vec<_> = items()
            .into_iter()
            .filter(|i| i.medium == Medium::Water)
            .collect();
        for rounding in [Rounding::TaxPerItem, Rounding::EquivalentsFirst] {
            let lines = compute(
                &emissions,
                &water,
                &rates,
                "370102",
                date("2023-06-30"),
                ItemCounts::default(),
                rounding,
            )
            .expect("computed");
            let taxed: Vec<_> = lines
                .iter()
                .filter(|l| l.untaxed.is_none())
                .map(|l| (l.item.as_str(), l.equivalents))
                .collect();
            assert_eq!(
                taxed,
                [
                    ("总锌", d("1000")),
                    ("总铜", d("900")),
                    ("硫化物", d("800"))
                ],
                "{rounding:?}"
            );
            // 甲醛 720, 总锰 600 and 氟化物 200 are beyond the top 3.
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.untaxed == Some(Untaxed::BeyondTopN))
                    .count(),
                3
            );
            assert_eq!(total(&lines), d("8100"), "{rounding:?}");
        }
    }

    #[test]
    fn only_one_of_cod_bod_toc_and_class_one_apart() {
        let rates = Rates::new(vec![flat("440000", Medium::Water, "2.8")]);
        // COD 200 equivalents, BOD5 300, TOC 98: only BOD5 counts; SS 50; NH3-N 125; the class I
        // mercury (2 equivalents) is ranked in its own group and taxed.
        let emissions = [
            emission("DW001", "化学需氧量", "200"),
            emission("DW001", "五日生化需氧量", "150"),
            emission("DW001", "总有机碳", "48.02"),
            emission("DW001", "悬浮物", "200"),
            emission("DW001", "氨氮", "100"),
            emission("DW001", "总汞", "0.001"),
        ];
        let lines = compute(
            &emissions,
            &items(),
            &rates,
            "440305",
            date("2024-01-31"),
            ItemCounts::default(),
            Rounding::TaxPerItem,
        )
        .expect("computed");
        let status: Vec<_> = lines.iter().map(|l| (l.item.as_str(), l.untaxed)).collect();
        assert_eq!(
            status,
            [
                ("总汞", None),
                ("五日生化需氧量", None),
                ("化学需氧量", Some(Untaxed::OneOfCodBodToc)),
                ("氨氮", None),
                ("总有机碳", Some(Untaxed::OneOfCodBodToc)),
                ("悬浮物", None),
            ]
        );
        // (2 + 300 + 125 + 50) × 2.8 = 1 335.60.
        assert_eq!(total(&lines), d("1335.60"));
    }

    #[test]
    fn water_class_one_top_five_apart_from_the_other_top_three() {
        let rates = Rates::new(vec![flat("350000", Medium::Water, "1.4")]);
        // Class I: 总砷 25, 总汞 20 and 总镉 20 (a tie: item 1 before item 2), 六价铬 15, 总铬
        // 10 and 总铅 10 (a tie: item 3 before item 6), 总镍 5. Other: COD 100, SS 50 and
        // NH3-N 50 (a tie: item 11 before item 20), 硫化物 40.
        let emissions = [
            emission("DW001", "总汞", "0.01"),
            emission("DW001", "总镉", "0.1"),
            emission("DW001", "总铬", "0.4"),
            emission("DW001", "六价铬", "0.3"),
            emission("DW001", "总砷", "0.5"),
            emission("DW001", "总铅", "0.25"),
            emission("DW001", "总镍", "0.125"),
            emission("DW001", "化学需氧量", "100"),
            emission("DW001", "悬浮物", "200"),
            emission("DW001", "氨氮", "40"),
            emission("DW001", "硫化物", "5"),
        ];
        let run = |c: ItemCounts| {
            compute(
                &emissions,
                &items(),
                &rates,
                "350102",
                date("2024-04-30"),
                c,
                Rounding::TaxPerItem,
            )
            .expect("computed")
        };
        let lines = run(ItemCounts::default());
        let status: Vec<_> = lines
            .iter()
            .map(|l| (l.item.as_str(), l.class_one, l.rank, l.untaxed.is_none()))
            .collect();
        assert_eq!(
            status,
            [
                ("总砷", true, 1, true),
                ("总汞", true, 2, true),
                ("总镉", true, 3, true),
                ("六价铬", true, 4, true),
                ("总铬", true, 5, true),
                ("总铅", true, 6, false),
                ("总镍", true, 7, false),
                ("化学需氧量", false, 1, true),
                ("悬浮物", false, 2, true),
                ("氨氮", false, 3, true),
                ("硫化物", false, 4, false),
            ]
        );
        // (25 + 20 + 20 + 15 + 10 + 100 + 50 + 50) × 1.4 = 406.00.
        assert_eq!(total(&lines), d("406.00"));
        // Six class I items: 总铅 too, (290 + 10) × 1.4 = 420.00.
        assert_eq!(total(&run(counts(3, 6, 3))), d("420.00"));
    }

    #[test]
    fn ties_go_to_the_lower_item_number_and_counts_can_be_raised() {
        let rates = Rates::new(vec![flat("130000", Medium::Air, "4.8")]);
        // SO2 and NOx tie at 100 equivalents; with 1 item taxed, SO2 (item 1) wins.
        let emissions = [
            emission("DA001", "氮氧化物", "95"),
            emission("DA001", "二氧化硫", "95"),
        ];
        let one = ItemCounts {
            air: 1,
            ..ItemCounts::default()
        };
        let lines = compute(
            &emissions,
            &items(),
            &rates,
            "130102",
            date("2024-01-31"),
            one,
            Rounding::TaxPerItem,
        )
        .expect("computed");
        assert_eq!(lines[0].item, "二氧化硫");
        assert_eq!(lines[1].untaxed, Some(Untaxed::BeyondTopN));
        // Input order does not matter.
        let reversed: Vec<_> = emissions.iter().rev().cloned().collect();
        let again = compute(
            &reversed,
            &items(),
            &rates,
            "130102",
            date("2024-01-31"),
            one,
            Rounding::TaxPerItem,
        )
        .expect("computed");
        assert_eq!(lines, again);
    }

    #[test]
    fn reductions_of_article_13() {
        let standard = d("18");
        let case = |concentration: &str, exceeded: bool| {
            share(&Emission {
                outlet: "DA001".into(),
                medium: Medium::Air,
                item: "二氧化硫".into(),
                kg: d("1"),
                concentration: Some(d(concentration)),
                standard: Some(standard),
                exceeded,
                exemption: None,
            })
        };
        // 70 % of 18 = 12.6, 50 % = 9.
        assert_eq!(case("12.5", false), d("0.75"));
        assert_eq!(case("12.6", false), d("1"));
        assert_eq!(case("8.99", false), d("0.5"));
        assert_eq!(case("9", false), d("0.75"));
        assert_eq!(
            case("5", true),
            d("1"),
            "an hourly exceedance forfeits the reduction"
        );
        assert_eq!(case("12.5", true), d("1"), "the 75 % case too");
        // No standard or no concentration: no reduction.
        let mut bare = Emission {
            outlet: "DW001".into(),
            medium: Medium::Water,
            item: "化学需氧量".into(),
            kg: d("1"),
            concentration: Some(d("1")),
            standard: None,
            exceeded: false,
            exemption: None,
        };
        assert_eq!(share(&bare), d("1"));
        bare.standard = Some(d("50"));
        bare.concentration = None;
        assert_eq!(share(&bare), d("1"));
        let rates = Rates::new(vec![flat("440000", Medium::Air, "1.8")]);
        let mut e = emission("DA001", "二氧化硫", "95");
        e.concentration = Some(d("8"));
        e.standard = Some(standard);
        let lines = compute(
            &[e],
            &items(),
            &rates,
            "440305",
            date("2024-01-31"),
            ItemCounts::default(),
            Rounding::TaxPerItem,
        )
        .expect("computed");
        // 100 equivalents × 1.8 × 50 % = 90.00.
        assert_eq!((lines[0].share, lines[0].tax), (d("0.5"), d("90.00")));
    }

    #[test]
    fn the_most_specific_rate_in_force_wins() {
        let mut city = flat("320100", Medium::Air, "8.4");
        city.effective_from = date("2018-01-01");
        let province = flat("320000", Medium::Air, "4.8");
        let mut item_rate = flat("320000", Medium::Air, "6");
        item_rate.item = Some("二氧化硫".into());
        let mut later = flat("320100", Medium::Air, "9");
        later.effective_from = date("2025-01-01");
        let rates = Rates::new(vec![province, city, item_rate, later]);
        let at = |county: &str, item: &str, on: &str| {
            rates
                .lookup(county, Medium::Air, item, date(on))
                .map(|r| r.yuan)
        };
        assert_eq!(
            at("320102", "二氧化硫", "2024-06-30"),
            Some(d("8.4")),
            "city over province"
        );
        assert_eq!(
            at("320102", "二氧化硫", "2018-01-01"),
            Some(d("8.4")),
            "in force from its first day"
        );
        assert_eq!(
            at("320102", "二氧化硫", "2025-02-28"),
            Some(d("9")),
            "the later decision"
        );
        assert_eq!(
            at("320205", "二氧化硫", "2024-06-30"),
            Some(d("6")),
            "item over default"
        );
        assert_eq!(at("320205", "氮氧化物", "2024-06-30"), Some(d("4.8")));
        assert_eq!(at("110101", "二氧化硫", "2024-06-30"), None);
        assert_eq!(
            at("320102", "二氧化硫", "2017-12-31"),
            None,
            "before any decision"
        );
    }

    fn counts(air: usize, one: usize, other: usize) -> ItemCounts {
        ItemCounts {
            air,
            water_class_one: one,
            water_other: other,
        }
    }

    fn count_rule(region: &str, c: ItemCounts, from: &str) -> ItemCountRule {
        ItemCountRule {
            region: region.to_string(),
            counts: c,
            effective_from: date(from),
        }
    }

    #[test]
    fn item_counts_most_specific_region_then_latest_in_force() {
        let rules = ItemCountRules::new(vec![
            count_rule("410000", counts(3, 5, 3), "2018-01-01"),
            count_rule("410000", counts(4, 5, 3), "2022-01-01"),
            count_rule("410100", counts(5, 5, 4), "2020-07-01"),
            count_rule("410102", counts(6, 6, 6), "2021-01-01"),
        ]);
        // A county of 郑州 (410100) other than 410102: the prefecture's row once in force, the
        // province's before, although the province's 2022 row is later.
        assert_eq!(
            rules.lookup("410105", date("2020-06-30")),
            counts(3, 5, 3),
            "before the prefecture's row: the province's 2018 row"
        );
        assert_eq!(
            rules.lookup("410105", date("2020-07-01")),
            counts(5, 5, 4),
            "the prefecture's row from its first day"
        );
        assert_eq!(
            rules.lookup("410105", date("2023-03-01")),
            counts(5, 5, 4),
            "the prefecture over the province's later row"
        );
        // The county's own row over the prefecture's and the province's.
        assert_eq!(rules.lookup("410102", date("2021-01-01")), counts(6, 6, 6));
        assert_eq!(
            rules.lookup("410102", date("2020-12-31")),
            counts(5, 5, 4),
            "the day before the county's row"
        );
        // Another prefecture: the province's latest row in force.
        assert_eq!(rules.lookup("410305", date("2021-12-31")), counts(3, 5, 3));
        assert_eq!(rules.lookup("410305", date("2022-01-01")), counts(4, 5, 3));
        // No row: the law's counts; before any row: the law's.
        assert_eq!(rules.lookup("110101", date("2024-01-01")), ItemCounts::LAW);
        assert_eq!(rules.rule("110101", date("2024-01-01")), None);
        assert_eq!(rules.lookup("410105", date("2017-12-31")), ItemCounts::LAW);
        assert_eq!(
            ItemCountRules::default().lookup("410105", date("2024-01-01")),
            counts(3, 5, 3)
        );
        assert!(ItemCounts::LAW.at_least_law() && !counts(2, 5, 3).at_least_law());
    }

    #[test]
    fn a_raised_count_changes_the_tax() {
        // Worked example 1 at 1.2 yuan: with the law's 3 air items 278.62 yuan; a province
        // taxing 4 adds HCl: 80 / 10.75 = 7.44186… equivalents × 1.2 = 8.93 → 287.55 yuan.
        let rates = Rates::new(vec![flat("410000", Medium::Air, "1.2")]);
        let rules = ItemCountRules::new(vec![count_rule("410000", counts(4, 5, 3), "2024-01-01")]);
        let emissions = [
            emission("DA001", "二氧化硫", "100"),
            emission("DA001", "氟化物", "100"),
            emission("DA001", "一氧化碳", "200"),
            emission("DA001", "氯化氢", "80"),
        ];
        let at = |on: &str| {
            let on = date(on);
            compute(
                &emissions,
                &items(),
                &rates,
                "410105",
                on,
                rules.lookup("410105", on),
                Rounding::TaxPerItem,
            )
            .expect("computed")
        };
        let before = at("2023-12-01");
        assert_eq!(before[3].untaxed, Some(Untaxed::BeyondTopN));
        assert_eq!(total(&before), d("278.62"));
        let after = at("2024-01-01");
        assert_eq!((after[3].item.as_str(), after[3].untaxed), ("氯化氢", None));
        assert_eq!(after[3].tax, d("8.93"));
        assert_eq!(total(&after), d("287.55"));
    }

    #[test]
    fn exempt_lines_are_listed_and_take_no_slot() {
        let rates = Rates::new(vec![flat("110000", Medium::Air, "12")]);
        // SO2 100 equivalents from a mobile source (declared), then NOx 50, CO 10, HCl 5, F 3:
        // the top 3 taxable are NOx, CO, HCl; fluoride is beyond them; SO2 pays nothing.
        let mut so2 = emission("DA001", "二氧化硫", "95");
        so2.exemption = Some(Exemption::Mobile);
        let mut nox_exempt = emission("DA002", "氮氧化物", "9.5");
        nox_exempt.exemption = Some(Exemption::Agriculture);
        let emissions = [
            so2,
            emission("DA001", "氮氧化物", "47.5"),
            emission("DA001", "一氧化碳", "167"),
            emission("DA001", "氯化氢", "53.75"),
            emission("DA001", "氟化物", "2.61"),
            nox_exempt,
        ];
        let lines = compute(
            &emissions,
            &items(),
            &rates,
            "110101",
            date("2024-01-31"),
            ItemCounts::default(),
            Rounding::TaxPerItem,
        )
        .expect("computed");
        let status: Vec<_> = lines
            .iter()
            .map(|l| (l.outlet.as_str(), l.item.as_str(), l.rank, l.untaxed, l.tax))
            .collect();
        assert_eq!(
            status,
            [
                ("DA001", "氮氧化物", 1, None, d("600.00")),
                ("DA001", "一氧化碳", 2, None, d("120.00")),
                ("DA001", "氯化氢", 3, None, d("60.00")),
                ("DA001", "氟化物", 4, Some(Untaxed::BeyondTopN), d("0")),
                (
                    "DA001",
                    "二氧化硫",
                    1,
                    Some(Untaxed::Exempt(Exemption::Mobile)),
                    d("0")
                ),
                (
                    "DA002",
                    "氮氧化物",
                    1,
                    Some(Untaxed::Exempt(Exemption::Agriculture)),
                    d("0")
                ),
            ]
        );
        assert_eq!(
            lines[4].equivalents,
            d("100"),
            "listed with its equivalents"
        );
        assert_eq!((lines[4].rate, lines[4].share), (None, d("1")));
        // (50 + 10 + 5) × 12 = 780.
        assert_eq!(total(&lines), d("780.00"));
    }

    #[test]
    fn centralized_treatment_is_exempt_only_within_the_standard() {
        let rates = Rates::new(vec![flat("440000", Medium::Water, "2.8")]);
        let plant = |outlet: &str, concentration: &str, exceeded: bool| {
            let mut e = emission(outlet, "化学需氧量", "100");
            e.concentration = Some(d(concentration));
            e.standard = Some(d("50"));
            e.exceeded = exceeded;
            e.exemption = Some(Exemption::CentralizedTreatment);
            e
        };
        // DW001 within the standard: exempt, so BOD5 (the only taxable one of the three) is
        // taxed. DW002: the monthly mean above the standard. DW003: a daily value exceeded it.
        let emissions = [
            plant("DW001", "40", false),
            emission("DW001", "五日生化需氧量", "10"),
            plant("DW002", "60", false),
            plant("DW003", "20", true),
        ];
        let lines = compute(
            &emissions,
            &items(),
            &rates,
            "440305",
            date("2024-01-31"),
            ItemCounts::default(),
            Rounding::TaxPerItem,
        )
        .expect("computed");
        let status: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.outlet.as_str(),
                    l.item.as_str(),
                    l.untaxed,
                    l.exemption,
                    l.share,
                    l.tax,
                )
            })
            .collect();
        let ct = Some(Exemption::CentralizedTreatment);
        assert_eq!(
            status,
            [
                ("DW001", "五日生化需氧量", None, None, d("1"), d("56.00")),
                (
                    "DW001",
                    "化学需氧量",
                    Some(Untaxed::Exempt(Exemption::CentralizedTreatment)),
                    ct,
                    d("1"),
                    d("0")
                ),
                ("DW002", "化学需氧量", None, ct, d("1"), d("280.00")),
                // 20 of 50 is below half the standard, but a daily value exceeded it: no
                // exemption and no Art. 13 reduction.
                ("DW003", "化学需氧量", None, ct, d("1"), d("280.00")),
            ]
        );
    }

    #[test]
    fn exemptions_parse_in_english_and_chinese() {
        for (text, want) in [
            ("agriculture", Exemption::Agriculture),
            ("农业生产（不含规模化养殖）", Exemption::Agriculture),
            ("mobile", Exemption::Mobile),
            ("流动污染源", Exemption::Mobile),
            ("centralized-treatment", Exemption::CentralizedTreatment),
            (
                "依法设立的城乡污水集中处理、生活垃圾集中处理场所",
                Exemption::CentralizedTreatment,
            ),
            ("other", Exemption::Other),
            ("国务院批准的其他情形", Exemption::Other),
        ] {
            assert_eq!(Exemption::parse(text), Some(want), "{text}");
        }
        assert_eq!(Exemption::parse("规模化养殖"), None);
        for e in Exemption::ALL {
            assert_eq!(Exemption::parse(e.as_str()), Some(e));
            assert!(e.article().starts_with("环境保护税法第十二条"));
        }
    }

    #[test]
    fn problems_are_all_named() {
        let rates = Rates::new(vec![flat("110000", Medium::Air, "12")]);
        let errors = compute(
            &[
                emission("DA001", "挥发性有机物", "10"),
                emission("DA001", "二氧化硫", "-1"),
                emission("DW001", "化学需氧量", "10"),
                emission("DA002", "氮氧化物", "1"),
                emission("DA002", "氮氧化物", "2"),
            ],
            &items(),
            &rates,
            "110101",
            date("2024-01-31"),
            ItemCounts::default(),
            Rounding::TaxPerItem,
        )
        .expect_err("problems");
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "outlet `DA001`: `挥发性有机物` is not an item of the law's air equivalent table",
                "outlet `DA001`: the emission of `二氧化硫` is negative (-1 kg)",
                "outlet `DA002`: `氮氧化物` is given twice",
                "no water tax rate for `化学需氧量` in region 110101 on 2024-01-31",
            ]
        );
    }
}
