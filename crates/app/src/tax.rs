//! `npsc tax`: the environmental protection tax of monitored monthly emissions, as a quarterly
//! declaration-style view per enterprise.
//!
//! Each line of the emissions file is mapped to the law's item by the declared mapping of
//! `ingest::tax::tax_item` (the `tax_item` column of the pollutant list; 颗粒物 by the
//! `--particulates` choice). Lines are grouped by enterprise and month; the region is the
//! enterprise's county from the registry, the rate date the first day of the month; the number
//! of items taxed per outlet is the item-count table's for that county and date (Art. 9; the
//! law's 3/5/3 where no row applies), unless [`TaxSettings::counts`] overrides it for every
//! region; the tax is [`accounting::tax::compute`]. Quarters are calendar quarters (`2024Q1` =
//! January to March).
//!
//! Views: `declaration` (one line per enterprise, month, outlet and item) and `totals` (per
//! enterprise and quarter, air, water and all). Column names are stable English words in JSON,
//! CSV and the terminal table; the Excel workbook carries the Chinese headers of a declaration
//! form ([`chinese_header`]). Money is rendered from decimals with exactly two decimals,
//! equivalents exactly (normalized), never through a float.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accounting::activity::Registry;
use accounting::date::Date;
use accounting::tax::{
    self, Exemption, ItemCountRules, ItemCounts, Line, Medium, Rates, Rounding, Untaxed,
};
pub use ingest::tax::Particulates;
use ingest::tax::{EquivalentTable, MonitoredEmission};
use ingest::{Issue, Issues, Location, Source};
use rust_decimal::Decimal;

use crate::sheet::{ColumnKind, Sheet};
use crate::{AppError, ReadOptions, Reference};

use crate::reference::EQUIVALENTS;
/// The bundled rate table as embedded.
pub(crate) const RATES: &[u8] = include_bytes!("../../../datasets/reference/tax_rates_2018.csv");
/// The bundled item-count table as embedded.
pub(crate) const ITEM_COUNTS: &[u8] =
    include_bytes!("../../../datasets/reference/tax_item_counts.csv");

/// The name under which the bundled equivalent table is reported.
pub const EQUIVALENTS_NAME: &str = "datasets/reference/pollution_equivalents.csv";
/// The name under which the bundled rate table is reported.
pub const RATES_NAME: &str = "datasets/reference/tax_rates_2018.csv";
/// The name under which the bundled item-count table is reported.
pub const ITEM_COUNTS_NAME: &str = "datasets/reference/tax_item_counts.csv";

/// One table as read: its name and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// File name as given.
    pub name: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// The law's equivalents, the rates and the item counts.
#[derive(Debug, Clone)]
pub struct TaxTables {
    /// The equivalent table.
    pub equivalents: EquivalentTable,
    /// Where it came from.
    pub equivalents_source: Hashed,
    /// The rates.
    pub rates: Rates,
    /// Where they came from.
    pub rates_source: Hashed,
    /// Items taxed per outlet by region and date (Art. 9).
    pub item_counts: ItemCountRules,
    /// Where they came from.
    pub item_counts_source: Hashed,
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, AppError> {
    std::fs::read(path).map_err(|source| AppError::Path {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// The tables from bytes (file name for messages and the format): the one place tax tables are
/// built, whether from files, the bundled copies or stored bytes.
pub fn tables_from(
    equivalents: (&str, &[u8]),
    rates: (&str, &[u8]),
    item_counts: (&str, &[u8]),
    read: &ReadOptions,
) -> Result<TaxTables, AppError> {
    let table = ingest::tax::read_equivalents(
        Source::Bytes {
            name: equivalents.0,
            bytes: equivalents.1,
        },
        read,
    )
    .map_err(|issues| AppError::input("the equivalent table", issues))?;
    let parsed = ingest::tax::read_rates(
        Source::Bytes {
            name: rates.0,
            bytes: rates.1,
        },
        &table,
        read,
    )
    .map_err(|issues| AppError::input("the rate table", issues))?;
    let counts = ingest::tax::read_item_counts(
        Source::Bytes {
            name: item_counts.0,
            bytes: item_counts.1,
        },
        read,
    )
    .map_err(|issues| AppError::input("the item-count table", issues))?;
    Ok(TaxTables {
        equivalents: table,
        equivalents_source: Hashed {
            name: equivalents.0.to_string(),
            sha256: crate::upload::sha256(equivalents.1),
        },
        rates: parsed,
        rates_source: Hashed {
            name: rates.0.to_string(),
            sha256: crate::upload::sha256(rates.1),
        },
        item_counts: counts,
        item_counts_source: Hashed {
            name: item_counts.0.to_string(),
            sha256: crate::upload::sha256(item_counts.1),
        },
    })
}

/// The tables: the bundled ones, or files given instead (the bundled item-count table; see
/// [`tables_with`]).
pub fn tables(
    equivalents: Option<&Path>,
    rates: Option<&Path>,
    read: &ReadOptions,
) -> Result<TaxTables, AppError> {
    tables_with(equivalents, rates, None, read)
}

/// The tables: the bundled ones, or files given instead, the item-count table included.
pub fn tables_with(
    equivalents: Option<&Path>,
    rates: Option<&Path>,
    item_counts: Option<&Path>,
    read: &ReadOptions,
) -> Result<TaxTables, AppError> {
    let equivalents_bytes;
    let equivalents_name;
    let (eq_name, eq_bytes): (&str, &[u8]) = match equivalents {
        Some(path) => {
            equivalents_bytes = read_bytes(path)?;
            equivalents_name = path.display().to_string();
            (&equivalents_name, &equivalents_bytes)
        }
        None => (EQUIVALENTS_NAME, EQUIVALENTS),
    };
    let rates_bytes;
    let rates_name;
    let (rate_name, rate_bytes): (&str, &[u8]) = match rates {
        Some(path) => {
            rates_bytes = read_bytes(path)?;
            rates_name = path.display().to_string();
            (&rates_name, &rates_bytes)
        }
        None => (RATES_NAME, RATES),
    };
    let counts_bytes;
    let counts_name;
    let (count_name, count_bytes): (&str, &[u8]) = match item_counts {
        Some(path) => {
            counts_bytes = read_bytes(path)?;
            counts_name = path.display().to_string();
            (&counts_name, &counts_bytes)
        }
        None => (ITEM_COUNTS_NAME, ITEM_COUNTS),
    };
    tables_from(
        (eq_name, eq_bytes),
        (rate_name, rate_bytes),
        (count_name, count_bytes),
        read,
    )
}

/// Item counts given for every region instead of the item-count table's, per group; `None`
/// keeps the table's (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountOverrides {
    /// Air items.
    pub air: Option<usize>,
    /// Water class I items.
    pub water_class_one: Option<usize>,
    /// Other water items.
    pub water_other: Option<usize>,
}

impl CountOverrides {
    /// The same counts for every group and region.
    pub fn all(counts: ItemCounts) -> CountOverrides {
        CountOverrides {
            air: Some(counts.air),
            water_class_one: Some(counts.water_class_one),
            water_other: Some(counts.water_other),
        }
    }

    /// Whether nothing is overridden.
    pub fn is_empty(self) -> bool {
        self == CountOverrides::default()
    }

    /// `counts` with the overridden groups replaced.
    pub fn apply(self, counts: ItemCounts) -> ItemCounts {
        ItemCounts {
            air: self.air.unwrap_or(counts.air),
            water_class_one: self.water_class_one.unwrap_or(counts.water_class_one),
            water_other: self.water_other.unwrap_or(counts.water_other),
        }
    }

    /// Refuses a count below the law's: a province may raise them, never lower them.
    pub fn check(self) -> Result<(), AppError> {
        let law = ItemCounts::LAW;
        if self.apply(law).at_least_law() {
            Ok(())
        } else {
            Err(AppError::Argument {
                message: "a province may raise the taxed item counts, never lower them".to_string(),
                hint: Some(format!(
                    "air items ≥ {}, water class I items ≥ {}, other water items ≥ {}",
                    law.air, law.water_class_one, law.water_other
                )),
            })
        }
    }

    /// `air 4, water other 5`, or `none`.
    pub fn describe(self) -> String {
        let parts: Vec<String> = [
            ("air", self.air),
            ("water class I", self.water_class_one),
            ("water other", self.water_other),
        ]
        .into_iter()
        .filter_map(|(what, n)| n.map(|n| format!("{what} {n}")))
        .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

fn describe_counts(c: ItemCounts) -> String {
    format!(
        "air {}, water class I {}, water other {}",
        c.air, c.water_class_one, c.water_other
    )
}

/// How the tax is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxSettings {
    /// Items taxed per outlet, overriding the item-count table for every region (default: none,
    /// the table's counts for each county and month).
    pub counts: CountOverrides,
    /// Where amounts are rounded.
    pub rounding: Rounding,
    /// What 颗粒物 is taxed as.
    pub particulates: Particulates,
}

impl Default for TaxSettings {
    fn default() -> Self {
        TaxSettings {
            counts: CountOverrides::default(),
            rounding: Rounding::TaxPerItem,
            particulates: Particulates::Soot,
        }
    }
}

/// The words of a rounding rule.
pub fn rounding_name(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::TaxPerItem => "tax-per-item",
        Rounding::EquivalentsFirst => "equivalents-first",
    }
}

/// One declaration line: an item at an enterprise's outlet in a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationLine {
    /// Enterprise.
    pub uscc: String,
    /// Its name.
    pub enterprise: String,
    /// Its region (the rate's region).
    pub county: String,
    /// Year and month.
    pub month: (u16, u8),
    /// The engine's line.
    pub line: Line,
    /// Whether an hourly (air) or daily (water) value exceeded the standard (no Art. 13
    /// reduction then).
    pub exceeded: bool,
    /// The item counts applied at this enterprise in this month.
    pub counts: ItemCounts,
}

impl DeclarationLine {
    /// `2024Q1`.
    pub fn quarter(&self) -> String {
        quarter(self.month)
    }
}

fn quarter((year, month): (u16, u8)) -> String {
    format!("{year}Q{}", (month - 1) / 3 + 1)
}

/// Totals of an enterprise in a quarter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterTotal {
    /// `2024Q1`.
    pub quarter: String,
    /// Enterprise.
    pub uscc: String,
    /// Its name.
    pub enterprise: String,
    /// Tax on air items.
    pub air: Decimal,
    /// Tax on water items.
    pub water: Decimal,
}

/// The item counts applied in a county, where they came from and in which months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsApplied {
    /// The county (the enterprise's registry region).
    pub county: String,
    /// The counts.
    pub counts: ItemCounts,
    /// `the law's (no row for the region)` or `row 410000 from 2018-01-01`, with the overrides.
    pub origin: String,
    /// The months, ascending.
    pub months: Vec<(u16, u8)>,
}

/// The declaration of a set of emissions.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// Lines by enterprise (USCC), month, outlet, medium, group, rank.
    pub lines: Vec<DeclarationLine>,
    /// Per enterprise and quarter.
    pub totals: Vec<QuarterTotal>,
    /// How it was computed.
    pub settings: TaxSettings,
    /// The item counts applied, by county, counts and origin.
    pub counts_applied: Vec<CountsApplied>,
    /// What npsc could not decide and the reader should check (an agricultural enterprise with
    /// no declared exemption; a centralized-treatment exemption refused), sorted.
    pub notices: Vec<String>,
}

impl Declaration {
    /// The tax of every line.
    pub fn total(&self) -> Decimal {
        self.lines.iter().map(|l| l.line.tax).sum()
    }

    /// One line for people: `N lines, M enterprises, tax X yuan`.
    pub fn summary(&self) -> String {
        format!(
            "{} declaration lines, {} enterprise-quarters, tax {} yuan",
            self.lines.len(),
            self.totals.len(),
            money(self.total())
        )
    }
}

/// Money with exactly two decimals.
pub fn money(x: Decimal) -> String {
    let mut x = x.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    x.rescale(2);
    x.to_string()
}

fn exact(x: Decimal) -> String {
    x.normalize().to_string()
}

/// Whether an industry is in GB/T 4754-2017 section A (农、林、牧、渔业, divisions 01–05).
fn agricultural(industry: &accounting::codes::IndustryCode) -> bool {
    match industry.digits().get(..2) {
        Some(division) => ("01"..="05").contains(&division),
        None => industry.section() == Some('A'),
    }
}

/// Computes the declaration of monitored emissions; every enterprise missing from the registry
/// and every problem of the engine (no rate, …) is reported at once.
pub fn compute_monitored(
    emissions: &[MonitoredEmission],
    file: &str,
    registry: &Registry,
    tables: &TaxTables,
    settings: TaxSettings,
) -> Result<Declaration, AppError> {
    settings.counts.check()?;
    let mut issues = Issues::new();
    // (uscc, month) → emissions.
    let mut groups: BTreeMap<(String, (u16, u8)), Vec<tax::Emission>> = BTreeMap::new();
    let mut enterprises: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut exceeded = BTreeSet::new();
    let mut notices = BTreeSet::new();
    // Agricultural enterprises (GB/T 4754 section A) → their lines without a declared exemption.
    let mut farming: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for e in emissions {
        let Some(id) = registry.find(&e.uscc) else {
            issues.push(
                Issue::error(
                    Location {
                        file: file.to_string(),
                        sheet: None,
                        row: Some(e.row),
                        column: Some("uscc".to_string()),
                    },
                    "unknown-enterprise",
                    "not in the registry: the registry gives the county whose rate applies",
                )
                .with_value(e.uscc.to_string()),
            );
            continue;
        };
        let enterprise = registry.get(id);
        let uscc = e.uscc.to_string();
        if e.exceeded {
            exceeded.insert((uscc.clone(), e.month, e.outlet.clone(), e.item.clone()));
        }
        enterprises
            .entry(uscc.clone())
            .or_insert_with(|| (enterprise.name.clone(), enterprise.region.to_string()));
        if agricultural(&enterprise.industry) {
            let entry = farming
                .entry(uscc.clone())
                .or_insert_with(|| (enterprise.industry.to_string(), 0));
            if e.exemption.is_none() {
                entry.1 += 1;
            }
        }
        groups
            .entry((uscc, e.month))
            .or_default()
            .push(tax::Emission {
                outlet: e.outlet.clone(),
                medium: e.medium,
                item: e.item.clone(),
                kg: e.kg,
                concentration: e.concentration,
                standard: e.standard,
                exceeded: e.exceeded,
                exemption: e.exemption,
            });
    }
    for (uscc, (industry, undeclared)) in &farming {
        if *undeclared > 0 {
            notices.insert(format!(
                "enterprise {uscc} (industry {industry}, GB/T 4754 section A): {undeclared} line(s) \
                 declare no exemption and are taxed; agricultural production is exempt except \
                 large-scale farming (Art. 12 (1)), which npsc cannot tell from the data: declare \
                 `agriculture` in the exemption column if it applies"
            ));
        }
    }
    let mut lines = Vec::new();
    // (county, origin, counts) → months.
    type Applied = BTreeMap<(String, String, (usize, usize, usize)), BTreeSet<(u16, u8)>>;
    let mut applied: Applied = BTreeMap::new();
    for ((uscc, month), group) in &groups {
        let (name, county) = &enterprises[uscc];
        let date = Date::new(month.0, month.1, 1).ok_or_else(|| {
            AppError::Internal(format!("month {}-{} was validated", month.0, month.1))
        })?;
        let rule = tables.item_counts.rule(county, date);
        let counts = settings
            .counts
            .apply(rule.map_or(ItemCounts::LAW, |r| r.counts));
        let mut origin = match rule {
            Some(r) => format!(
                "{} row {} from {}",
                tables.item_counts_source.name, r.region, r.effective_from
            ),
            None => format!(
                "the law's (no row of {} for the region)",
                tables.item_counts_source.name
            ),
        };
        if !settings.counts.is_empty() {
            origin.push_str(&format!(
                ", overridden for every region: {}",
                settings.counts.describe()
            ));
        }
        applied
            .entry((
                county.clone(),
                origin,
                (counts.air, counts.water_class_one, counts.water_other),
            ))
            .or_default()
            .insert(*month);
        match tax::compute(
            group,
            &tables.equivalents.items,
            &tables.rates,
            county,
            date,
            counts,
            settings.rounding,
        ) {
            Ok(computed) => lines.extend(computed.into_iter().map(|line| DeclarationLine {
                uscc: uscc.clone(),
                enterprise: name.clone(),
                county: county.clone(),
                month: *month,
                exceeded: exceeded.contains(&(
                    uscc.clone(),
                    *month,
                    line.outlet.clone(),
                    line.item.clone(),
                )),
                counts,
                line,
            })),
            Err(errors) => {
                for error in errors {
                    issues.push(Issue::error(
                        Location::file(file),
                        "tax",
                        format!("enterprise {uscc}, {}-{:02}: {error}", month.0, month.1),
                    ));
                }
            }
        }
    }
    if issues.has_errors() {
        return Err(AppError::input("the monitored emissions", issues));
    }
    let mut totals: BTreeMap<(String, String), QuarterTotal> = BTreeMap::new();
    for l in &lines {
        let total = totals
            .entry((l.uscc.clone(), l.quarter()))
            .or_insert_with(|| QuarterTotal {
                quarter: l.quarter(),
                uscc: l.uscc.clone(),
                enterprise: l.enterprise.clone(),
                air: Decimal::ZERO,
                water: Decimal::ZERO,
            });
        match l.line.medium {
            Medium::Air => total.air += l.line.tax,
            Medium::Water => total.water += l.line.tax,
        }
    }
    let counts_applied = applied
        .into_iter()
        .map(
            |((county, origin, (air, water_class_one, water_other)), months)| CountsApplied {
                county,
                counts: ItemCounts {
                    air,
                    water_class_one,
                    water_other,
                },
                origin,
                months: months.into_iter().collect(),
            },
        )
        .collect();
    for l in &lines {
        // Only the centralized-treatment exemption can be refused (over the standard).
        if l.line.exemption == Some(Exemption::CentralizedTreatment)
            && !matches!(l.line.untaxed, Some(Untaxed::Exempt(_)))
        {
            notices.insert(format!(
                "enterprise {}, {}-{:02}, outlet {}, {}: the centralized-treatment exemption \
                 (Art. 12 (3)) holds only within the standard; the line exceeded it, so it is taxed",
                l.uscc, l.month.0, l.month.1, l.line.outlet, l.line.item
            ));
        }
    }
    Ok(Declaration {
        lines,
        totals: totals.into_values().collect(),
        settings,
        counts_applied,
        notices: notices.into_iter().collect(),
    })
}

/// The allocation line of monitored monthly emissions.
pub const MONTHLY: &str = "none: monthly monitored emissions";

/// Reads the emissions file and computes its declaration.
pub fn declare_file(
    emissions: &Path,
    registry: &Path,
    reference: &Reference,
    tables: &TaxTables,
    settings: TaxSettings,
    read: &ReadOptions,
) -> Result<(Declaration, Hashed), AppError> {
    let registry = crate::registry::read_file(registry, reference, read)?;
    let bytes = read_bytes(emissions)?;
    let name = emissions.display().to_string();
    let rows = ingest::tax::read_emissions(
        Source::Bytes {
            name: &name,
            bytes: &bytes,
        },
        reference,
        &tables.equivalents,
        settings.particulates,
        read,
    )
    .map_err(|issues| AppError::input("the monitored emissions", issues))?;
    let declaration = compute_monitored(&rows, &name, &registry, tables, settings)?;
    Ok((
        declaration,
        Hashed {
            name,
            sha256: crate::upload::sha256(&bytes),
        },
    ))
}

/// The stable column names of the declaration view.
pub const DECLARATION_COLUMNS: [&str; 18] = [
    "quarter",
    "month",
    "uscc",
    "enterprise",
    "county_code",
    "outlet_id",
    "medium",
    "item",
    "kg",
    "equivalent_kg",
    "equivalents",
    "rank",
    "taxed",
    "rate",
    "share",
    "tax",
    "exemption",
    "note",
];

/// The stable column names of the totals view.
pub const TOTAL_COLUMNS: [&str; 6] = [
    "quarter",
    "uscc",
    "enterprise",
    "air_tax",
    "water_tax",
    "tax",
];

/// The columns of the declaration and totals views that hold codes and labels, never numbers
/// (written as text in the workbook whatever the header says).
pub const CODE_COLUMNS: [&str; 5] = ["quarter", "month", "uscc", "county_code", "outlet_id"];

fn typed(name: &str, title: &str, columns: &[&str]) -> Sheet {
    let columns: Vec<(&str, ColumnKind)> = columns
        .iter()
        .map(|c| {
            let kind = if CODE_COLUMNS.contains(c) {
                ColumnKind::Code
            } else {
                ColumnKind::Value
            };
            (*c, kind)
        })
        .collect();
    Sheet::typed(name, title, &columns)
}

/// The Chinese header of a stable column name (for the workbook).
pub fn chinese_header(column: &str) -> &str {
    match column {
        "quarter" => "季度",
        "month" => "月份",
        "uscc" => "统一社会信用代码",
        "enterprise" => "单位名称",
        "county_code" => "行政区划代码",
        "outlet_id" => "排放口编号",
        "medium" => "污染物类别",
        "item" => "污染物",
        "kg" => "排放量(千克)",
        "equivalent_kg" => "污染当量值(千克)",
        "equivalents" => "污染当量数",
        "rank" => "排序",
        "taxed" => "是否计税",
        "rate" => "税额标准(元/污染当量)",
        "share" => "减征后比例",
        "tax" => "应纳税额(元)",
        "exemption" => "免征依据",
        "note" => "说明",
        "air_tax" => "大气污染物应纳税额(元)",
        "water_tax" => "水污染物应纳税额(元)",
        other => other,
    }
}

impl Declaration {
    /// The declaration view.
    pub fn declaration_sheet(&self) -> Sheet {
        let mut sheet = typed(
            "declaration",
            "环境保护税申报明细 Tax declaration",
            &DECLARATION_COLUMNS,
        );
        for l in &self.lines {
            let line = &l.line;
            let mut note = match line.untaxed {
                Some(Untaxed::BeyondTopN) => {
                    let (n, what) = match (line.medium, line.class_one) {
                        (Medium::Air, _) => (l.counts.air, "air items"),
                        (Medium::Water, true) => (l.counts.water_class_one, "water class I items"),
                        (Medium::Water, false) => (l.counts.water_other, "other water items"),
                    };
                    format!("beyond the {n} taxed {what}")
                }
                Some(Untaxed::OneOfCodBodToc) => {
                    "only the largest of COD, BOD5 and TOC is taxed".to_string()
                }
                Some(Untaxed::Exempt(_)) => {
                    "Art. 12: exempt; ranked among the exempt lines, takes no taxed slot"
                        .to_string()
                }
                None if line.share == Decimal::new(5, 1) => {
                    "Art. 13: below 50 % of the standard, 50 % paid".to_string()
                }
                None if line.share == Decimal::new(75, 2) => {
                    "Art. 13: below 70 % of the standard, 75 % paid".to_string()
                }
                None if l.exceeded => {
                    "Art. 13: a value exceeded the standard, no reduction".to_string()
                }
                None => String::new(),
            };
            let refused =
                line.exemption.is_some() && !matches!(line.untaxed, Some(Untaxed::Exempt(_)));
            if refused {
                if !note.is_empty() {
                    note.push_str("; ");
                }
                note.push_str(
                    "Art. 12 (3) not applied: the line exceeded the standard, so it is taxed",
                );
            }
            let exemption = match line.untaxed {
                Some(Untaxed::Exempt(e)) => e.article().to_string(),
                _ => String::new(),
            };
            sheet.push(vec![
                l.quarter(),
                format!("{}-{:02}", l.month.0, l.month.1),
                l.uscc.clone(),
                l.enterprise.clone(),
                l.county.clone(),
                line.outlet.clone(),
                match line.medium {
                    Medium::Air => "大气".to_string(),
                    Medium::Water => "水".to_string(),
                },
                line.item.clone(),
                exact(line.kg),
                exact(line.equivalent_kg),
                exact(line.equivalents),
                line.rank.to_string(),
                if line.untaxed.is_none() { "是" } else { "否" }.to_string(),
                line.rate.map(money).unwrap_or_default(),
                if line.untaxed.is_none() {
                    exact(line.share)
                } else {
                    String::new()
                },
                money(line.tax),
                exemption,
                note,
            ]);
        }
        sheet
    }

    /// The totals view, with a last line `合计` over every enterprise and quarter.
    pub fn totals_sheet(&self) -> Sheet {
        let mut sheet = typed("totals", "应纳税额合计 Tax totals", &TOTAL_COLUMNS);
        let (mut air, mut water) = (Decimal::ZERO, Decimal::ZERO);
        for t in &self.totals {
            air += t.air;
            water += t.water;
            sheet.push(vec![
                t.quarter.clone(),
                t.uscc.clone(),
                t.enterprise.clone(),
                money(t.air),
                money(t.water),
                money(t.air + t.water),
            ]);
        }
        sheet.push(vec![
            "合计".to_string(),
            String::new(),
            String::new(),
            money(air),
            money(water),
            money(air + water),
        ]);
        sheet
    }

    /// Both views.
    pub fn sheets(&self) -> Vec<Sheet> {
        vec![self.declaration_sheet(), self.totals_sheet()]
    }
}

/// `2024-01..2024-03`, `2024-02`, or `2024-01, 2024-03` when not contiguous.
fn month_span(months: &[(u16, u8)]) -> String {
    let label = |(y, m): (u16, u8)| format!("{y}-{m:02}");
    let index = |(y, m): (u16, u8)| u32::from(y) * 12 + u32::from(m);
    match (months.first(), months.last()) {
        (Some(&first), Some(&last))
            if months.len() > 1 && index(last) - index(first) + 1 == months.len() as u32 =>
        {
            format!("{}..{}", label(first), label(last))
        }
        _ => months
            .iter()
            .map(|&m| label(m))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The provenance lines of a declaration.
pub fn provenance(
    declaration: &Declaration,
    tables: &TaxTables,
    emissions: &Hashed,
    registry: &Path,
    allocation: &str,
) -> Vec<(String, String)> {
    let (air, one, other) = tables.equivalents.counts();
    let s = declaration.settings;
    vec![
        (
            "equivalents".to_string(),
            tables.equivalents_source.name.clone(),
        ),
        (
            "equivalents_sha256".to_string(),
            tables.equivalents_source.sha256.clone(),
        ),
        (
            "equivalent_items".to_string(),
            format!("air {air}, water class I {one}, water other {other}"),
        ),
        (
            "equivalents_skipped".to_string(),
            if tables.equivalents.skipped.is_empty() {
                "none (every row is counted in kg)".to_string()
            } else {
                format!(
                    "not counted in kg, not taxed here: {}",
                    tables.equivalents.skipped.join("; ")
                )
            },
        ),
        ("rates".to_string(), tables.rates_source.name.clone()),
        (
            "rates_sha256".to_string(),
            tables.rates_source.sha256.clone(),
        ),
        ("emissions".to_string(), emissions.name.clone()),
        ("emissions_sha256".to_string(), emissions.sha256.clone()),
        ("registry".to_string(), registry.display().to_string()),
        (
            "rounding".to_string(),
            format!(
                "{}: {}",
                rounding_name(s.rounding),
                match s.rounding {
                    Rounding::TaxPerItem =>
                        "equivalents exact, each item's tax rounded to 0.01 yuan (half away from zero)",
                    Rounding::EquivalentsFirst =>
                        "equivalents rounded to 0.01 first, then each item's tax to 0.01 yuan",
                }
            ),
        ),
        (
            "item_counts_table".to_string(),
            tables.item_counts_source.name.clone(),
        ),
        (
            "item_counts_sha256".to_string(),
            tables.item_counts_source.sha256.clone(),
        ),
        (
            "item_counts".to_string(),
            format!(
                "per outlet, the most specific region's row in force on the month's first day, \
                 else the law's (air 3, water class I 5, water other 3); only one of COD, BOD5, \
                 TOC; overrides for every region: {}",
                s.counts.describe()
            ),
        ),
        (
            "item_counts_applied".to_string(),
            declaration
                .counts_applied
                .iter()
                .map(|c| {
                    format!(
                        "{} {}: {} ({})",
                        c.county,
                        month_span(&c.months),
                        describe_counts(c.counts),
                        c.origin
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (
            "particulates".to_string(),
            format!("颗粒物 → {} (declared)", s.particulates.item()),
        ),
        (
            "region_and_date".to_string(),
            "the enterprise's registry region; the rate in force on the first day of the month, the most specific region winning".to_string(),
        ),
        (
            "exemptions".to_string(),
            "Art. 12 exemptions as declared per line (agriculture, mobile, centralized-treatment \
             within the standard, other); exempt lines are listed, ranked among themselves and \
             pay nothing"
                .to_string(),
        ),
        (
            "notices".to_string(),
            if declaration.notices.is_empty() {
                "none".to_string()
            } else {
                declaration.notices.join(" | ")
            },
        ),
        ("allocation".to_string(), allocation.to_string()),
        ("total_tax".to_string(), money(declaration.total())),
        ("npsc".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ]
}

/// The workbook: both views with Chinese headers (each column keeps its kind: codes stay text),
/// and the provenance sheet.
pub fn workbook(
    declaration: &Declaration,
    provenance: &[(String, String)],
) -> Result<Vec<u8>, AppError> {
    let sheets: Vec<Sheet> = declaration
        .sheets()
        .into_iter()
        .map(|mut s| {
            s.header = s
                .header
                .iter()
                .map(|h| chinese_header(h).to_string())
                .collect();
            s
        })
        .collect();
    crate::sheet::render_xlsx(&sheets, provenance)
}

/// How annual numbers of record are spread over months.
pub const TWELFTHS: &str = "equal twelfths: each month carries 1/12 of the annual number of record \
(reconciliation, tax rule: automatic monitoring, then monitoring agency data, then coefficients); \
no concentrations, so no Art. 13 reduction";

/// Annual numbers of record turned into monthly emissions.
#[derive(Debug, Clone)]
pub struct Allocated {
    /// Twelve months per enterprise, outlet and item.
    pub rows: Vec<MonitoredEmission>,
    /// Pollutants left out, with why (e.g. 总氮, not an item of the law).
    pub skipped: Vec<String>,
}

/// The numbers of record of a reconciliation under the tax rule, per enterprise and outlet
/// (the enterprise as a whole is outlet `(enterprise)`), mapped to the law's items, converted
/// from the pollutant's report unit to kg and allocated to months in [`TWELFTHS`]. Records of
/// another rule are ignored; `year` keeps one year.
pub fn from_records(
    records: &[accounting::permit::Record],
    year: Option<u16>,
    reference: &Reference,
    tables: &TaxTables,
    particulates: Particulates,
) -> Result<Allocated, AppError> {
    use std::str::FromStr;
    let kg = accounting::units::Unit::parse("千克")
        .map_err(|e| AppError::Internal(format!("the unit 千克: {e}")))?;
    let mut skipped = std::collections::BTreeSet::new();
    // (uscc, year, outlet, medium, item) → (kg, the pollutants summed).
    type Key = (accounting::codes::Uscc, u16, String, Medium, String);
    let mut sums: BTreeMap<Key, (Decimal, Vec<String>)> = BTreeMap::new();
    for record in records {
        if record.rule != accounting::permit::RecordRule::Tax
            || year.is_some_and(|y| y != record.year)
        {
            continue;
        }
        let pollutant = reference.pollutants.get(record.pollutant);
        let (medium, item) = match ingest::tax::tax_item(
            reference,
            &tables.equivalents,
            particulates,
            &pollutant.name,
        ) {
            Ok(mapped) => mapped,
            Err(why) => {
                skipped.insert(format!("{}: {why}", pollutant.name));
                continue;
            }
        };
        let unit = pollutant.report_unit.clone();
        if unit.dimension() != kg.dimension() {
            skipped.insert(format!(
                "{}: reported in {}, not a mass",
                pollutant.name,
                unit.symbol()
            ));
            continue;
        }
        let ratio = unit.factor().div(kg.factor());
        let (Ok(num), Ok(den)) = (u64::try_from(ratio.num()), u64::try_from(ratio.den())) else {
            return Err(AppError::Internal(format!(
                "{} → kg overflows",
                unit.symbol()
            )));
        };
        let to_kg = Decimal::from(num) / Decimal::from(den);
        for part in &record.parts {
            let text =
                accounting::render::quantity(part.value, accounting::render::Precision::Exact);
            let Some(value) = Decimal::from_str(&text)
                .ok()
                .filter(|v| *v >= Decimal::ZERO)
            else {
                return Err(AppError::Internal(format!(
                    "a number of record of {} is not a quantity: {text}",
                    record.uscc
                )));
            };
            let outlet = part
                .outlet_id
                .clone()
                .unwrap_or_else(|| "(enterprise)".to_string());
            let entry = sums
                .entry((record.uscc, record.year, outlet, medium, item.clone()))
                .or_insert((Decimal::ZERO, Vec::new()));
            entry.0 += value * to_kg;
            if !entry.1.contains(&pollutant.name) {
                entry.1.push(pollutant.name.clone());
            }
        }
    }
    let twelve = Decimal::from(12);
    let mut rows = Vec::new();
    for ((uscc, year, outlet, medium, item), (total, pollutants)) in sums {
        for month in 1..=12u8 {
            rows.push(MonitoredEmission {
                uscc,
                outlet: outlet.clone(),
                pollutant: pollutants.join("+"),
                medium,
                item: item.clone(),
                month: (year, month),
                kg: total / twelve,
                concentration: None,
                standard: None,
                exceeded: false,
                exemption: None,
                row: 0,
            });
        }
    }
    Ok(Allocated {
        rows,
        skipped: skipped.into_iter().collect(),
    })
}
