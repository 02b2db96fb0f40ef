//! The source categories other than industry, through the engine's one arithmetic
//! ([`crate::engine::apply`]): domestic (生活源) and livestock (畜禽养殖) rows are activity ×
//! coefficient, centralized treatment facilities (集中式污染治理设施) are monitoring written as the
//! same product, mobile sources (移动源) are taken as supplied. Then the categories are rolled up
//! by region, year and pollutant (domain facts §1.5 and §9).
//!
//! **Area-source coefficients.** A row names the category ([`AreaKind`]), the source (`城镇居民`,
//! `生猪`, `生活燃煤`), optionally the region it applies to (a province, prefecture or county; none
//! means everywhere), the pollutant, a [`SourceUnit`] and a generation coefficient (a number or a
//! [`Formula`]), optionally an emission coefficient or a removal efficiency. An activity row takes,
//! per pollutant, the coefficient of its source whose region is the most specific one containing
//! the row's region.
//!
//! **Units.** Per-capita and per-head coefficients are per head (or person) and time:
//! `克/(人·天)`, `克/(头·天)`; the activity row gives the count (`人`, `万人`, `头`, `万头`,
//! `只`, …) and the days it stands for (a year's resident population: 365; a stock of animals:
//! the days in the year; animals sold: the feeding period). The activity handed to the engine is
//! count × days, and the factor is exact: (count unit → coefficient's count unit) × (天 →
//! coefficient's time unit) × (numerator → the pollutant's report unit). Persons and animals do
//! not convert into each other. Other coefficients are per quantity, as `千克/吨` per tonne of
//! coal; they take no days.
//!
//! **Domestic SO2 of coal** (the local rule of domain facts §1.3/§9: coal × sulfur × 0.8 × 2) is
//! the formula coefficient `16S` in `千克/吨` with `S` the sulfur content in percent, as in the
//! census' sulfur formulas: S % of a tonne is 10·S kg of sulfur, 80 % of it burns to SO2, and SO2
//! weighs twice its sulfur, so 10·S × 0.8 × 2 = 16·S kg per tonne. The same is `1.6S` in `吨/吨`
//! with S a fraction (0.012 for 1.2 %); both give the same tonnes.
//!
//! **Monitoring.** A facility's load is E = Q × C × 10⁻⁶ t, Q the water treated in tonnes and C
//! the concentration in mg/L. With 1 t of water taken as 1 m³, mg/L is g/m³ = g per tonne of
//! water, so the load is the coefficient `Cin` (inflow) or `Cout` (outflow) in `克/吨` times Q,
//! converted exactly from grams to the report unit: the engine's product, the inflow as the
//! generated and the outflow as the emitted quantity (so an outflow above the inflow is refused
//! as emitted > generated). Removed = inflow − outflow.
//!
//! **Domestic removal.** A wastewater plant's removal times its domestic share (生活污水比例, 1 by
//! default) is subtracted from the domestic emission of the pollutant in the most specific
//! region of the domestic rows that contains the plant (the local rule: 生活源 COD = population ×
//! coefficient × days − the domestic COD removed by the municipal plants). A plant's own
//! discharge is therefore already inside the domestic emission (what reaches the plant minus what
//! it removes), and it is not added again as centralized; the centralized category holds the
//! discharge of the other facilities (landfill leachate, hazardous-waste plants), which no other
//! category counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::activity::Parameters;
use crate::codes::{RegionCode, RegionLevel, RegionTable};
use crate::coefficient::{Removal, RowOrigin, SetProblem};
use crate::engine::{Application, Policy, Quantities, RowProblem, apply};
use crate::formula::Formula;
use crate::pollutant::{PollutantCatalog, PollutantId};
use crate::text::normalize_name;
use crate::totals::CompensatedSum;
use crate::units::{Dimension, Ratio, Unit, UnitError};

/// A source category of a regional total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Industrial key units (工业源重点调查单位).
    IndustrialKey,
    /// Industrial non-key units, estimated (工业源非重点调查单位).
    IndustrialNonKey,
    /// Domestic (生活源).
    Domestic,
    /// Agricultural: livestock (农业源: 畜禽养殖).
    Agricultural,
    /// Centralized treatment facilities (集中式污染治理设施).
    Centralized,
    /// Mobile (移动源).
    Mobile,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 6] = [
        Category::IndustrialKey,
        Category::IndustrialNonKey,
        Category::Domestic,
        Category::Agricultural,
        Category::Centralized,
        Category::Mobile,
    ];

    /// The stable English name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::IndustrialKey => "industrial_key",
            Category::IndustrialNonKey => "industrial_nonkey",
            Category::Domestic => "domestic",
            Category::Agricultural => "agricultural",
            Category::Centralized => "centralized",
            Category::Mobile => "mobile",
        }
    }

    /// The Chinese name.
    pub fn chinese(self) -> &'static str {
        match self {
            Category::IndustrialKey => "工业源(重点调查单位)",
            Category::IndustrialNonKey => "工业源(非重点调查单位估算)",
            Category::Domestic => "生活源",
            Category::Agricultural => "农业源(畜禽养殖)",
            Category::Centralized => "集中式污染治理设施",
            Category::Mobile => "移动源",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The categories computed as activity × coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AreaKind {
    /// 生活源: residents, domestic coal.
    Domestic,
    /// 畜禽养殖: 生猪, 奶牛, 肉牛, 蛋鸡, 肉鸡.
    Livestock,
}

impl AreaKind {
    /// `生活源`/`生活`/`domestic` or `畜禽养殖`/`畜禽养殖业`/`农业源`/`livestock`.
    pub fn parse(text: &str) -> Option<AreaKind> {
        match normalize_name(text).as_str() {
            "生活源" | "生活" | "domestic" => Some(AreaKind::Domestic),
            "畜禽养殖" | "畜禽养殖业" | "农业源" | "livestock" => {
                Some(AreaKind::Livestock)
            }
            _ => None,
        }
    }

    /// The stable English name.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Domestic => "domestic",
            AreaKind::Livestock => "livestock",
        }
    }

    /// The Chinese name.
    pub fn chinese(self) -> &'static str {
        match self {
            AreaKind::Domestic => "生活源",
            AreaKind::Livestock => "畜禽养殖",
        }
    }

    /// The category its emissions count in.
    pub fn category(self) -> Category {
        match self {
            AreaKind::Domestic => Category::Domestic,
            AreaKind::Livestock => Category::Agricultural,
        }
    }
}

/// Persons or animals: counts that never convert into each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountKind {
    /// 人, 万人.
    Person,
    /// 头, 只, 羽, 万头, …
    Animal,
}

/// A unit of persons or animals with its exact factor to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountUnit {
    symbol: String,
    kind: CountKind,
    factor: Ratio,
}

impl CountUnit {
    /// `人`, `万人`, or any count unit of [`Unit::parse`] (`头`, `只`, `羽`, `万头`, `百只`, …).
    pub fn parse(text: &str) -> Option<CountUnit> {
        let text = normalize_name(text);
        let person = |factor| CountUnit {
            symbol: text.clone(),
            kind: CountKind::Person,
            factor,
        };
        match text.as_str() {
            "人" => return Some(person(Ratio::ONE)),
            "万人" => return Some(person(Ratio::new(10_000, 1))),
            _ => {}
        }
        let unit = Unit::parse(&text).ok()?;
        (unit.dimension() == Dimension::COUNT).then(|| CountUnit {
            symbol: unit.symbol().to_string(),
            kind: CountKind::Animal,
            factor: unit.factor(),
        })
    }

    /// The symbol, e.g. `万人`.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Persons or animals.
    pub fn kind(&self) -> CountKind {
        self.kind
    }

    /// The exact factor from `self` to `target`, when both count the same kind.
    pub fn conversion_to(&self, target: &CountUnit) -> Option<Ratio> {
        (self.kind == target.kind).then(|| self.factor.div(target.factor))
    }
}

/// What an area-source coefficient is per.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Denominator {
    /// Per head (or person) and time: `人·天`, `头·天`, `头·年`.
    CountTime(CountUnit, Unit),
    /// Per head (or person) for the whole period: `头`.
    Count(CountUnit),
    /// Per quantity: `吨` of coal.
    Quantity(Unit),
}

/// An area-source coefficient's unit: `克/(人·天)`, `克/(头·天)`, `千克/吨`, `千克/头`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceUnit {
    /// What is generated, a mass.
    pub numerator: Unit,
    /// What it is per.
    pub denominator: Denominator,
}

const PRODUCT_SIGNS: [char; 6] = ['·', '⋅', '∙', '*', '×', '•'];

impl SourceUnit {
    /// Parses `numerator/denominator`; the denominator is a count and a time unit joined by
    /// `·` (or `*`, `×`, or nothing: `人日`), in brackets or not, or one unit.
    pub fn parse(text: &str) -> Result<SourceUnit, UnitError> {
        let malformed = |reason: &str| UnitError::Malformed {
            text: text.trim().to_string(),
            reason: reason.to_string(),
        };
        let folded = normalize_name(text).replace('／', "/");
        let Some((numerator, denominator)) = folded.split_once('/') else {
            return Err(malformed(
                "an area-source coefficient is written numerator/denominator, as in `克/(人·天)` or `千克/吨`",
            ));
        };
        if denominator.contains('/') {
            return Err(malformed("a coefficient unit has exactly one `/`"));
        }
        let numerator = Unit::parse(numerator)?;
        let inner: String = denominator
            .chars()
            .filter(|c| !matches!(c, '(' | ')' | '（' | '）'))
            .collect();
        if inner.is_empty() {
            return Err(malformed("nothing after `/`"));
        }
        let time = |t: &str| -> Result<Unit, UnitError> {
            let unit = Unit::parse(t)?;
            if unit.dimension() == Dimension::TIME {
                Ok(unit)
            } else {
                Err(malformed(
                    "after the count comes a time unit, as in `人·天` or `头·年`",
                ))
            }
        };
        let denominator = if let Some((count, rest)) = inner.split_once(PRODUCT_SIGNS) {
            let count = CountUnit::parse(count).ok_or_else(|| {
                malformed(
                    "before `·` comes a count of persons or animals: `人`, `万人`, `头`, `只`",
                )
            })?;
            Denominator::CountTime(count, time(rest)?)
        } else if let Some(count) = CountUnit::parse(&inner) {
            Denominator::Count(count)
        } else if let Some((count, rest)) = split_count_prefix(&inner) {
            Denominator::CountTime(count, time(rest)?)
        } else {
            Denominator::Quantity(Unit::parse(&inner)?)
        };
        Ok(SourceUnit {
            numerator,
            denominator,
        })
    }

    /// The canonical text: `克/(人·天)`, `千克/吨`.
    pub fn text(&self) -> String {
        match &self.denominator {
            Denominator::CountTime(count, time) => {
                format!("{}/({}·{})", self.numerator, count.symbol, time)
            }
            Denominator::Count(count) => format!("{}/{}", self.numerator, count.symbol),
            Denominator::Quantity(unit) => format!("{}/{}", self.numerator, unit),
        }
    }
}

impl fmt::Display for SourceUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// `人日` → (`人`, `日`): the longest count prefix followed by a time unit.
fn split_count_prefix(text: &str) -> Option<(CountUnit, &str)> {
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).collect();
    ends.into_iter().rev().find_map(|end| {
        let (count, rest) = text.split_at(end);
        let count = CountUnit::parse(count)?;
        let time = Unit::parse(rest).ok()?;
        (time.dimension() == Dimension::TIME).then_some((count, rest))
    })
}

/// The unit an area-source activity is given in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActivityUnit {
    /// Persons or animals.
    Count(CountUnit),
    /// A quantity, e.g. `吨` of coal.
    Quantity(Unit),
}

impl ActivityUnit {
    /// A count unit (`人`, `万人`, `头`, …) or any other unit of [`Unit::parse`].
    pub fn parse(text: &str) -> Result<ActivityUnit, UnitError> {
        if let Some(count) = CountUnit::parse(text) {
            return Ok(ActivityUnit::Count(count));
        }
        Unit::parse(text).map(ActivityUnit::Quantity)
    }

    /// The symbol.
    pub fn symbol(&self) -> &str {
        match self {
            ActivityUnit::Count(c) => c.symbol(),
            ActivityUnit::Quantity(u) => u.symbol(),
        }
    }
}

/// One row of an area-source coefficient table.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCoefficient {
    /// Table and row.
    pub origin: RowOrigin,
    /// Domestic or livestock.
    pub kind: AreaKind,
    /// The source as written: `城镇居民`, `生猪`, `生活燃煤`.
    pub source: String,
    /// The region it applies to; `None`: everywhere.
    pub region: Option<RegionCode>,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The unit.
    pub unit: SourceUnit,
    /// The generation coefficient.
    pub generation: Formula,
    /// Emission coefficient, removal efficiency, or none (emitted = generated).
    pub removal: Removal,
    /// Where the number comes from.
    pub note: Option<String>,
}

/// A validated area-source coefficient table.
#[derive(Debug, Clone)]
pub struct SourceCoefficients {
    rows: Vec<SourceCoefficient>,
    /// (kind, normalised source) → rows.
    index: BTreeMap<(AreaKind, String), Vec<usize>>,
}

/// The level the region table gives a code (by its digits when the table lacks it).
pub fn level_of(regions: &RegionTable, code: RegionCode) -> RegionLevel {
    regions
        .get(code)
        .map_or_else(|| code.structural_level(), |r| r.level)
}

/// Whether `outer` contains (or is) `inner`.
pub fn contains(regions: &RegionTable, outer: RegionCode, inner: RegionCode) -> bool {
    let level = level_of(regions, outer);
    level <= level_of(regions, inner) && regions.at_level(inner, level) == Some(outer)
}

impl SourceCoefficients {
    /// Validates rows: every problem is returned, located by the row's origin.
    pub fn build(
        rows: Vec<SourceCoefficient>,
        catalog: &PollutantCatalog,
    ) -> Result<SourceCoefficients, Vec<SetProblem>> {
        let mut problems = Vec::new();
        let mut seen: BTreeMap<(AreaKind, String, Option<RegionCode>, PollutantId), &RowOrigin> =
            BTreeMap::new();
        let mut index: BTreeMap<(AreaKind, String), Vec<usize>> = BTreeMap::new();
        for (i, row) in rows.iter().enumerate() {
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
                        row.unit, pollutant.name, pollutant.report_unit
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
                Removal::Efficiency { percent } if !(0.0..=100.0).contains(percent) => push(
                    "removal_efficiency",
                    "efficiency-out-of-range",
                    format!("removal efficiency `{percent}` is outside 0–100 %"),
                ),
                Removal::EmissionCoefficient(f) => match (f.constant_value(), generation) {
                    (Some(e), _) if e < 0.0 => push(
                        "emission_coefficient",
                        "negative-coefficient",
                        format!("emission coefficient `{}` is negative", f.text()),
                    ),
                    (Some(e), Some(g)) if e > g => push(
                        "emission_coefficient",
                        "emission-exceeds-generation",
                        format!(
                            "emission coefficient `{}` exceeds generation coefficient `{}`",
                            f.text(),
                            row.generation.text()
                        ),
                    ),
                    _ => {}
                },
                _ => {}
            }
            let source = normalize_name(&row.source);
            if let Some(first) = seen.insert(
                (row.kind, source.clone(), row.region, row.pollutant),
                &row.origin,
            ) {
                push(
                    "pollutant",
                    "duplicate-coefficient",
                    format!(
                        "row {first} already gives {} of {} `{}` {}",
                        pollutant.name,
                        row.kind.chinese(),
                        row.source,
                        match row.region {
                            Some(r) => format!("in region {r}"),
                            None => "for every region".to_string(),
                        }
                    ),
                );
                continue;
            }
            index.entry((row.kind, source)).or_default().push(i);
        }
        if problems.is_empty() {
            Ok(SourceCoefficients { rows, index })
        } else {
            problems.sort_by(|a, b| a.origin.cmp(&b.origin).then(a.column.cmp(b.column)));
            Err(problems)
        }
    }

    /// All rows in file order.
    pub fn rows(&self) -> &[SourceCoefficient] {
        &self.rows
    }

    /// The sources a kind has, as written in their first row, sorted.
    pub fn sources(&self, kind: AreaKind) -> Vec<String> {
        self.index
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, rows)| self.rows[rows[0]].source.clone())
            .collect()
    }

    /// Per pollutant, the row of `kind` and `source` whose region is the most specific one
    /// containing `region` (a row for every region last), in pollutant order.
    pub fn find(
        &self,
        kind: AreaKind,
        source: &str,
        region: RegionCode,
        regions: &RegionTable,
    ) -> Vec<usize> {
        let Some(rows) = self.index.get(&(kind, normalize_name(source))) else {
            return Vec::new();
        };
        let mut best: BTreeMap<PollutantId, (Option<RegionLevel>, usize)> = BTreeMap::new();
        for &i in rows {
            let row = &self.rows[i];
            let level = match row.region {
                None => None,
                Some(r) if contains(regions, r, region) => Some(level_of(regions, r)),
                Some(_) => continue,
            };
            let entry = best.entry(row.pollutant).or_insert((level, i));
            if level > entry.0 {
                *entry = (level, i);
            }
        }
        best.into_values().map(|(_, i)| i).collect()
    }
}

/// One row of domestic or livestock activity.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaActivity {
    /// The year.
    pub year: u16,
    /// The region (any level).
    pub region: RegionCode,
    /// Domestic or livestock.
    pub kind: AreaKind,
    /// The source as written: `城镇居民`, `生猪`.
    pub source: String,
    /// Population, head count or quantity.
    pub amount: f64,
    /// Its unit.
    pub unit: ActivityUnit,
    /// The days the count stands for (per-day coefficients).
    pub days: Option<f64>,
    /// Formula parameters (`S=1.2` for coal).
    pub parameters: Parameters,
    /// The operation rate k of a treatment, if given.
    pub operation_rate: Option<f64>,
}

/// One pollutant's result of one area-source activity row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaResult {
    /// Index of the activity row.
    pub activity: usize,
    /// Index of the coefficient row (provenance).
    pub coefficient: usize,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The activity handed to the engine: amount × days for per-day coefficients.
    pub activity_value: f64,
    /// The exact factor from coefficient × activity to the report unit.
    pub factor: Ratio,
    /// Generated and emitted, in the report unit.
    pub quantities: Quantities,
}

/// A problem with one row of the area-source or monitoring data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceProblem {
    /// No coefficient row for the kind and source in the region.
    #[error("no {kind} coefficient for source `{source_name}` applies in region {region}{}", available_list(.available))]
    NoCoefficient {
        /// 生活源 or 畜禽养殖.
        kind: &'static str,
        /// The source.
        source_name: String,
        /// The row's region.
        region: RegionCode,
        /// The sources of the kind the table has.
        available: Vec<String>,
    },
    /// The activity unit does not fit the coefficient's denominator.
    #[error(
        "activity unit `{activity}` does not fit the unit `{coefficient}` of coefficient row {origin}"
    )]
    UnitMismatch {
        /// The activity unit.
        activity: String,
        /// The coefficient unit.
        coefficient: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// A per-day coefficient and no days.
    #[error(
        "coefficient row {origin} is per `{per}`: the row must give the days its count stands for"
    )]
    DaysRequired {
        /// The coefficient's denominator.
        per: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// Days given for a coefficient that is not per day.
    #[error("coefficient row {origin} is per `{per}`, not per day: the days are not used")]
    DaysUnused {
        /// The coefficient's denominator.
        per: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// The engine refused the computation.
    #[error("{0}")]
    Computation(RowProblem),
    /// The same region (or a region and one within it) given twice for one source and year.
    #[error(
        "{what} is already given for region {other} on row {other_row}, which {relation}: it would be counted twice"
    )]
    Overlap {
        /// What is given twice, e.g. `生活源 城镇居民 2023`.
        what: String,
        /// The other region.
        other: RegionCode,
        /// The other row (as the user sees it).
        other_row: u64,
        /// `is the same region` or `contains it` or `lies within it`.
        relation: &'static str,
    },
    /// A wastewater plant's domestic removal has no domestic generation to come off.
    #[error(
        "no domestic generation of {pollutant} in {year} in region {region} or a region containing it, to subtract the plant's domestic removal from"
    )]
    NoDomesticGeneration {
        /// The pollutant.
        pollutant: String,
        /// The year.
        year: u16,
        /// The plant's region.
        region: RegionCode,
    },
    /// The plants of a region remove more than the domestic sources there generate.
    #[error(
        "the plants in region {region} remove {removed} of domestic {pollutant} in {year} (report unit), more than the {available} the domestic sources there emit"
    )]
    RemovalExceedsDomestic {
        /// The domestic rows' region.
        region: RegionCode,
        /// The pollutant.
        pollutant: String,
        /// The year.
        year: u16,
        /// The removal.
        removed: f64,
        /// The domestic emission before removal.
        available: f64,
    },
}

/// Problems with the index of the row (activity, monitoring) each is about.
pub type Problems = Vec<(usize, SourceProblem)>;

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        "; the table has no source of this kind".to_string()
    } else {
        format!(
            "; the table has {}",
            available
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl SourceProblem {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SourceProblem::NoCoefficient { .. } => "no-source-coefficient",
            SourceProblem::UnitMismatch { .. } => "unit-mismatch",
            SourceProblem::DaysRequired { .. } => "days-required",
            SourceProblem::DaysUnused { .. } => "days-unused",
            SourceProblem::Computation(p) => p.code(),
            SourceProblem::Overlap { .. } => "counted-twice",
            SourceProblem::NoDomesticGeneration { .. } => "no-domestic-generation",
            SourceProblem::RemovalExceedsDomestic { .. } => "removal-exceeds-domestic",
        }
    }

    /// The activity column the problem is about (English field name).
    pub fn column(&self) -> &'static str {
        match self {
            SourceProblem::NoCoefficient { .. } => "source",
            SourceProblem::UnitMismatch { .. } => "activity_unit",
            SourceProblem::DaysRequired { .. } | SourceProblem::DaysUnused { .. } => "days",
            SourceProblem::Computation(p) => match p {
                RowProblem::MissingParameter { .. } | RowProblem::UnknownParameter { .. } => {
                    "parameters"
                }
                _ => "activity",
            },
            SourceProblem::Overlap { .. } => "region_code",
            SourceProblem::NoDomesticGeneration { .. } => "domestic_share",
            SourceProblem::RemovalExceedsDomestic { .. } => "water",
        }
    }

    /// A suggestion, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceProblem::DaysRequired { .. } => Some(
                "give `天数`: 365 for a year's resident population or stock, the feeding period for animals sold"
                    .to_string(),
            ),
            SourceProblem::NoDomesticGeneration { .. } => Some(
                "add a domestic coefficient of the pollutant, or set `生活污水比例` to 0 when the plant treats no domestic wastewater"
                    .to_string(),
            ),
            SourceProblem::Overlap { .. } => Some(
                "give each source once per year, at one level: either the region or the regions within it"
                    .to_string(),
            ),
            SourceProblem::Computation(p) => p.hint(),
            _ => None,
        }
    }
}

/// The exact factor and the activity handed to the engine for one coefficient and activity row.
fn factor(
    coefficient: &SourceCoefficient,
    activity: &AreaActivity,
    catalog: &PollutantCatalog,
) -> Result<(Ratio, f64), SourceProblem> {
    let mismatch = || SourceProblem::UnitMismatch {
        activity: activity.unit.symbol().to_string(),
        coefficient: coefficient.unit.text(),
        origin: coefficient.origin.clone(),
    };
    let to_report = coefficient
        .unit
        .numerator
        .conversion_to(&catalog.get(coefficient.pollutant).report_unit)
        .map_err(|_| mismatch())?;
    let per = || match &coefficient.unit.denominator {
        Denominator::CountTime(c, t) => format!("{}·{}", c.symbol(), t),
        Denominator::Count(c) => c.symbol().to_string(),
        Denominator::Quantity(u) => u.symbol().to_string(),
    };
    let no_days = || match activity.days {
        Some(_) => Err(SourceProblem::DaysUnused {
            per: per(),
            origin: coefficient.origin.clone(),
        }),
        None => Ok(()),
    };
    match (&coefficient.unit.denominator, &activity.unit) {
        (Denominator::CountTime(count, time), ActivityUnit::Count(given)) => {
            let counted = given.conversion_to(count).ok_or_else(mismatch)?;
            let days = activity.days.ok_or_else(|| SourceProblem::DaysRequired {
                per: per(),
                origin: coefficient.origin.clone(),
            })?;
            let day = Unit::parse("天").map_err(|_| mismatch())?;
            let per_time = day.conversion_to(time).map_err(|_| mismatch())?;
            Ok((counted.mul(per_time).mul(to_report), activity.amount * days))
        }
        (Denominator::Count(count), ActivityUnit::Count(given)) => {
            no_days()?;
            let counted = given.conversion_to(count).ok_or_else(mismatch)?;
            Ok((counted.mul(to_report), activity.amount))
        }
        (Denominator::Quantity(unit), ActivityUnit::Quantity(given)) => {
            no_days()?;
            let converted = given.conversion_to(unit).map_err(|_| mismatch())?;
            Ok((converted.mul(to_report), activity.amount))
        }
        _ => Err(mismatch()),
    }
}

/// Accounts domestic and livestock rows: per row and pollutant of its coefficients,
/// [`apply`] with the exact factor. Rows with a problem give no result; every problem is
/// returned with the row's index.
pub fn account_area(
    activities: &[AreaActivity],
    coefficients: &SourceCoefficients,
    regions: &RegionTable,
    catalog: &PollutantCatalog,
    policy: Policy,
) -> (Vec<AreaResult>, Problems) {
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for (i, activity) in activities.iter().enumerate() {
        let rows = coefficients.find(activity.kind, &activity.source, activity.region, regions);
        if rows.is_empty() {
            problems.push((
                i,
                SourceProblem::NoCoefficient {
                    kind: activity.kind.chinese(),
                    source_name: activity.source.clone(),
                    region: activity.region,
                    available: coefficients.sources(activity.kind),
                },
            ));
            continue;
        }
        let mut used: Vec<String> = Vec::new();
        for &r in &rows {
            let c = &coefficients.rows[r];
            let mut names: Vec<&String> = c.generation.parameters().iter().collect();
            if let Removal::EmissionCoefficient(f) = &c.removal {
                names.extend(f.parameters());
            }
            for name in names {
                if !used.contains(name) {
                    used.push(name.clone());
                }
            }
        }
        if let Some(name) = activity
            .parameters
            .names()
            .find(|n| !used.iter().any(|u| u == n))
        {
            problems.push((
                i,
                SourceProblem::Computation(RowProblem::UnknownParameter {
                    parameter: name.to_string(),
                    used,
                }),
            ));
            continue;
        }
        let start = results.len();
        for r in rows {
            let c = &coefficients.rows[r];
            let computed = factor(c, activity, catalog).and_then(|(factor, value)| {
                apply(
                    &Application {
                        generation: &c.generation,
                        removal: &c.removal,
                        origin: &c.origin,
                        pollutant: c.pollutant,
                        direct: matches!(c.removal, Removal::None),
                        fallback: false,
                        factor,
                        activity: value,
                        parameters: &activity.parameters,
                        operation_rate: activity.operation_rate,
                    },
                    catalog,
                    policy,
                )
                .map(|q| (factor, value, q))
                .map_err(SourceProblem::Computation)
            });
            match computed {
                Ok((factor, value, quantities)) => results.push(AreaResult {
                    activity: i,
                    coefficient: r,
                    pollutant: c.pollutant,
                    activity_value: value,
                    factor,
                    quantities,
                }),
                Err(problem) => {
                    results.truncate(start);
                    problems.push((i, problem));
                    break;
                }
            }
        }
    }
    (results, problems)
}

/// Rows that give the same thing twice: the same key (e.g. kind, source, year) for a region and
/// the same region or one within or containing it. `rows[i]` is (key, region, row as the user
/// sees it); the problem is reported on the later row.
pub fn overlaps<K: Ord + Clone + fmt::Display>(
    rows: &[(K, RegionCode, u64)],
    regions: &RegionTable,
) -> Problems {
    let mut by_key: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, (key, _, _)) in rows.iter().enumerate() {
        by_key.entry(key.clone()).or_default().push(i);
    }
    let mut problems = Vec::new();
    for (key, members) in by_key {
        let mut seen: BTreeMap<RegionCode, usize> = BTreeMap::new();
        for &i in &members {
            let region = rows[i].1;
            let clash = seen.iter().find_map(|(&other, &j)| {
                if other == region {
                    Some((j, "is the same region"))
                } else if contains(regions, other, region) {
                    Some((j, "contains it"))
                } else if contains(regions, region, other) {
                    Some((j, "lies within it"))
                } else {
                    None
                }
            });
            match clash {
                Some((j, relation)) => problems.push((
                    i,
                    SourceProblem::Overlap {
                        what: key.to_string(),
                        other: rows[j].1,
                        other_row: rows[j].2,
                        relation,
                    },
                )),
                None => {
                    seen.insert(region, i);
                }
            }
        }
    }
    problems.sort_by_key(|(i, _)| *i);
    problems
}

/// What a monitored facility is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FacilityKind {
    /// 污水处理厂: its removal feeds the domestic formula; its discharge is inside domestic.
    Wastewater,
    /// Any other facility (生活垃圾处理厂, 危险废物处置厂, …): its discharge is centralized.
    Other(String),
}

impl FacilityKind {
    /// `污水处理厂` (also `城镇污水处理厂`, `污水处理设施`, `wastewater`) or anything else, as
    /// written.
    pub fn parse(text: &str) -> FacilityKind {
        let name = normalize_name(text);
        if name.contains("污水处理") || name == "wastewater" {
            FacilityKind::Wastewater
        } else {
            FacilityKind::Other(text.trim().to_string())
        }
    }

    /// The name for reports.
    pub fn label(&self) -> &str {
        match self {
            FacilityKind::Wastewater => "污水处理厂",
            FacilityKind::Other(text) => text,
        }
    }
}

/// One monitored pollutant of one facility in one year.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitoring {
    /// Where it comes from (file and row), used as the coefficient's origin in messages.
    pub origin: RowOrigin,
    /// The year.
    pub year: u16,
    /// The facility's region (any level).
    pub region: RegionCode,
    /// The facility's name.
    pub facility: String,
    /// Wastewater plant or other.
    pub kind: FacilityKind,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// Water treated (Q).
    pub water: f64,
    /// Its unit, a mass (`吨`, `万吨`): 1 t of water = 1 m³.
    pub water_unit: Unit,
    /// Inflow concentration, mg/L.
    pub inflow: f64,
    /// Outflow concentration, mg/L.
    pub outflow: f64,
    /// The share of the water that is domestic (0–1).
    pub domestic_share: f64,
}

/// A facility's loads in the report unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitoringResult {
    /// Q × Cin × 10⁻⁶ (generated, for the engine).
    pub inflow: f64,
    /// Q × Cout × 10⁻⁶ (emitted).
    pub outflow: f64,
    /// Inflow − outflow.
    pub removed: f64,
    /// Removed × domestic share (wastewater plants), else 0.
    pub domestic_removed: f64,
}

/// The monitoring formulas: the concentrations as coefficients in 克/吨 (= mg/L).
pub const INFLOW_FORMULA: &str = "Cin";
/// See [`INFLOW_FORMULA`].
pub const OUTFLOW_FORMULA: &str = "Cout";

/// Computes every facility's loads (with the row's index) through [`apply`]: inflow = factor × (Cin × Q), outflow =
/// factor × (Cout × Q), factor the exact (water unit → 吨) × (克 → report unit).
pub fn monitor(
    rows: &[Monitoring],
    catalog: &PollutantCatalog,
) -> (Vec<(usize, MonitoringResult)>, Problems) {
    let mut results = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    let (Ok(inflow), Ok(outflow), Ok(gram), Ok(tonne)) = (
        Formula::parse(INFLOW_FORMULA),
        Formula::parse(OUTFLOW_FORMULA),
        Unit::parse("克"),
        Unit::parse("吨"),
    ) else {
        unreachable!("constant formulas and units parse");
    };
    let removal = Removal::EmissionCoefficient(outflow);
    let policy = Policy {
        missing_operation_rate: crate::engine::OperationRatePolicy::Nominal,
    };
    for (i, row) in rows.iter().enumerate() {
        let report = &catalog.get(row.pollutant).report_unit;
        let mismatch = || SourceProblem::UnitMismatch {
            activity: row.water_unit.symbol().to_string(),
            coefficient: format!("克/吨 (mg/L) of {}", catalog.get(row.pollutant).name),
            origin: row.origin.clone(),
        };
        let factor = row
            .water_unit
            .conversion_to(&tonne)
            .and_then(|w| gram.conversion_to(report).map(|g| w.mul(g)));
        let Ok(factor) = factor else {
            problems.push((i, mismatch()));
            continue;
        };
        // The shortest representation of an f64 parses back to the same f64.
        let parameters = match Parameters::parse(&format!(
            "{INFLOW_FORMULA}={};{OUTFLOW_FORMULA}={}",
            row.inflow, row.outflow
        )) {
            Ok(p) => p,
            Err(_) => {
                problems.push((
                    i,
                    SourceProblem::Computation(RowProblem::ImpossibleResult {
                        what: "a concentration that is not a number".to_string(),
                        pollutant: catalog.get(row.pollutant).name.clone(),
                        origin: row.origin.clone(),
                    }),
                ));
                continue;
            }
        };
        let computed = apply(
            &Application {
                generation: &inflow,
                removal: &removal,
                origin: &row.origin,
                pollutant: row.pollutant,
                direct: true,
                fallback: false,
                factor,
                activity: row.water,
                parameters: &parameters,
                operation_rate: None,
            },
            catalog,
            policy,
        );
        match computed {
            Ok(q) => {
                let removed = q.generated - q.emitted;
                results.push((
                    i,
                    MonitoringResult {
                        inflow: q.generated,
                        outflow: q.emitted,
                        removed,
                        domestic_removed: if row.kind == FacilityKind::Wastewater {
                            removed * row.domestic_share
                        } else {
                            0.0
                        },
                    },
                ));
            }
            Err(p) => problems.push((i, SourceProblem::Computation(p))),
        }
    }
    (results, problems)
}

/// The domestic emission of one region, year and pollutant, after the plants' removal.
#[derive(Debug, Clone, PartialEq)]
pub struct DomesticBalance {
    /// The year.
    pub year: u16,
    /// The region of the domestic rows.
    pub region: RegionCode,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// Generated by the domestic rows of the region.
    pub generated: f64,
    /// Their emission before the plants' removal.
    pub before_removal: f64,
    /// Removed by the region's wastewater plants (domestic share).
    pub removed: f64,
    /// before_removal − removed.
    pub emitted: f64,
    /// Indices of the monitoring rows whose removal came off.
    pub plants: Vec<usize>,
}

/// Per (year, region of the domestic rows, pollutant): the domestic emission minus the domestic
/// removal of the wastewater plants in that region (each plant goes to the most specific domestic
/// region containing it). Problems are reported on the monitoring rows.
pub fn domestic_balance(
    activities: &[AreaActivity],
    results: &[AreaResult],
    plants: &[Monitoring],
    plant_results: &[(usize, MonitoringResult)],
    regions: &RegionTable,
    catalog: &PollutantCatalog,
) -> (Vec<DomesticBalance>, Problems) {
    type Cell = (u16, RegionCode, PollutantId);
    let mut sums: BTreeMap<Cell, (CompensatedSum, CompensatedSum)> = BTreeMap::new();
    for r in results {
        let a = &activities[r.activity];
        if a.kind != AreaKind::Domestic {
            continue;
        }
        let entry = sums.entry((a.year, a.region, r.pollutant)).or_default();
        entry.0.add(r.quantities.generated);
        entry.1.add(r.quantities.emitted);
    }
    let mut removals: BTreeMap<Cell, (CompensatedSum, Vec<usize>)> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, result) in plant_results {
        let plant = &plants[*i];
        if plant.kind != FacilityKind::Wastewater || plant.domestic_share == 0.0 {
            continue;
        }
        let cell = sums
            .keys()
            .filter(|(year, region, pollutant)| {
                *year == plant.year
                    && *pollutant == plant.pollutant
                    && contains(regions, *region, plant.region)
            })
            .max_by_key(|(_, region, _)| level_of(regions, *region))
            .copied();
        match cell {
            Some(cell) => {
                let entry = removals.entry(cell).or_default();
                entry.0.add(result.domestic_removed);
                entry.1.push(*i);
            }
            None => problems.push((
                *i,
                SourceProblem::NoDomesticGeneration {
                    pollutant: catalog.get(plant.pollutant).name.clone(),
                    year: plant.year,
                    region: plant.region,
                },
            )),
        }
    }
    let mut balances = Vec::with_capacity(sums.len());
    for (cell, (generated, before)) in sums {
        let (removed, plants_of) = removals
            .remove(&cell)
            .map(|(sum, plants)| (sum.value(), plants))
            .unwrap_or_default();
        let before = before.value();
        if removed > before {
            for &i in &plants_of {
                problems.push((
                    i,
                    SourceProblem::RemovalExceedsDomestic {
                        region: cell.1,
                        pollutant: catalog.get(cell.2).name.clone(),
                        year: cell.0,
                        removed,
                        available: before,
                    },
                ));
            }
            continue;
        }
        balances.push(DomesticBalance {
            year: cell.0,
            region: cell.1,
            pollutant: cell.2,
            generated: generated.value(),
            before_removal: before,
            removed,
            emitted: before - removed,
            plants: plants_of,
        });
    }
    problems.sort_by_key(|(i, _)| *i);
    (balances, problems)
}

/// A quantity of one category in one region (any level; `None` = the whole country), year and
/// pollutant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategoryQuantity {
    /// The year.
    pub year: u16,
    /// The region.
    pub region: Option<RegionCode>,
    /// The pollutant.
    pub pollutant: PollutantId,
    /// The category.
    pub category: Category,
    /// The emitted quantity, report unit.
    pub quantity: f64,
}

/// A region at the report level, a year, a pollutant and a category.
pub type CategoryCell = (Option<RegionCode>, u16, PollutantId, Category);

/// Sums the quantities into regions at `level` (compensated sums, so that every level adds up
/// from the one below). A quantity whose region is coarser than `level` cannot be split: its
/// index is returned instead.
pub fn roll_up(
    items: &[CategoryQuantity],
    regions: &RegionTable,
    level: RegionLevel,
) -> Result<BTreeMap<CategoryCell, f64>, Vec<usize>> {
    let mut sums: BTreeMap<CategoryCell, CompensatedSum> = BTreeMap::new();
    let mut coarse = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let region = match item.region {
            None if level == RegionLevel::National => None,
            None => {
                coarse.push(i);
                continue;
            }
            Some(code) if level_of(regions, code) < level => {
                coarse.push(i);
                continue;
            }
            Some(code) => regions.at_level(code, level),
        };
        sums.entry((region, item.year, item.pollutant, item.category))
            .or_default()
            .add(item.quantity);
    }
    if coarse.is_empty() {
        Ok(sums.into_iter().map(|(k, v)| (k, v.value())).collect())
    } else {
        Err(coarse)
    }
}

/// The coarsest level among the quantities' regions (`County` when there are none): the finest
/// level the categories can be reported at.
pub fn finest_common_level(items: &[CategoryQuantity], regions: &RegionTable) -> RegionLevel {
    items
        .iter()
        .map(|i| {
            i.region
                .map_or(RegionLevel::National, |r| level_of(regions, r))
        })
        .min()
        .unwrap_or(RegionLevel::County)
}

/// The years the quantities cover, sorted.
pub fn years(items: &[CategoryQuantity]) -> BTreeSet<u16> {
    items.iter().map(|i| i.year).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::RegionRow;
    use crate::engine::OperationRatePolicy;
    use crate::pollutant::{Medium, PollutantDef};
    use approx::assert_relative_eq;

    fn catalog() -> PollutantCatalog {
        let def = |code: &str, name: &str, medium| PollutantDef {
            code: code.into(),
            name: name.into(),
            medium,
            report_unit: Unit::parse("吨").unwrap(),
            aliases: vec![],
            tax: None,
        };
        PollutantCatalog::new(vec![
            def("COD", "化学需氧量", Medium::Water),
            def("NH3N", "氨氮", Medium::Water),
            def("SO2", "二氧化硫", Medium::Air),
        ])
        .unwrap()
    }

    fn regions() -> RegionTable {
        let rows = [
            ("130000", "河北省", "1", ""),
            ("130100", "石家庄市", "2", "130000"),
            ("130102", "长安区", "3", "130100"),
            ("130104", "桥西区", "3", "130100"),
            ("130200", "唐山市", "2", "130000"),
            ("130202", "路南区", "3", "130200"),
            ("370000", "山东省", "1", ""),
            ("370100", "济南市", "2", "370000"),
            ("370102", "历下区", "3", "370100"),
        ];
        let (table, problems) = RegionTable::from_rows(rows.iter().map(|(c, n, l, p)| RegionRow {
            code: c,
            name: n,
            level: l,
            parent: p,
        }));
        assert!(problems.is_empty(), "{problems:?}");
        table
    }

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    const NOMINAL: Policy = Policy {
        missing_operation_rate: OperationRatePolicy::Nominal,
    };

    #[allow(clippy::too_many_arguments)]
    fn coefficient(
        line: u64,
        kind: AreaKind,
        source: &str,
        area: Option<&str>,
        pollutant: &str,
        unit: &str,
        generation: &str,
        emission: Option<&str>,
    ) -> SourceCoefficient {
        let catalog = catalog();
        SourceCoefficient {
            origin: RowOrigin {
                table: "coefficients.csv".into(),
                row: line,
            },
            kind,
            source: source.into(),
            region: area.map(region),
            pollutant: catalog.lookup(pollutant).unwrap(),
            unit: SourceUnit::parse(unit).unwrap(),
            generation: Formula::parse(generation).unwrap(),
            removal: emission.map_or(Removal::None, |e| {
                Removal::EmissionCoefficient(Formula::parse(e).unwrap())
            }),
            note: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn activity(
        kind: AreaKind,
        year: u16,
        area: &str,
        source: &str,
        amount: f64,
        unit: &str,
        days: Option<f64>,
        parameters: &str,
    ) -> AreaActivity {
        AreaActivity {
            year,
            region: region(area),
            kind,
            source: source.into(),
            amount,
            unit: ActivityUnit::parse(unit).unwrap(),
            days,
            parameters: Parameters::parse(parameters).unwrap(),
            operation_rate: None,
        }
    }

    fn table() -> SourceCoefficients {
        use AreaKind::*;
        SourceCoefficients::build(
            vec![
                // The local rule's example: 70 g COD per person and day, everywhere.
                coefficient(
                    2,
                    Domestic,
                    "城镇居民",
                    None,
                    "COD",
                    "克/(人·天)",
                    "70",
                    None,
                ),
                // A Hebei value that overrides it there.
                coefficient(
                    3,
                    Domestic,
                    "城镇居民",
                    Some("130000"),
                    "COD",
                    "克/(人·天)",
                    "65",
                    None,
                ),
                coefficient(4, Domestic, "城镇居民", None, "NH3N", "g/(人·d)", "8", None),
                coefficient(5, Domestic, "生活燃煤", None, "SO2", "千克/吨", "16S", None),
                coefficient(
                    6,
                    Livestock,
                    "生猪",
                    None,
                    "COD",
                    "克/(头·天)",
                    "400",
                    Some("50"),
                ),
                coefficient(
                    7,
                    Livestock,
                    "蛋鸡",
                    None,
                    "COD",
                    "千克/(万只·年)",
                    "600",
                    Some("90"),
                ),
            ],
            &catalog(),
        )
        .unwrap()
    }

    fn account(rows: &[AreaActivity]) -> (Vec<AreaResult>, Problems) {
        account_area(rows, &table(), &regions(), &catalog(), NOMINAL)
    }

    #[test]
    fn units_parse_with_counts_and_days() {
        for (text, canonical) in [
            ("克/(人·天)", "克/(人·天)"),
            ("g/(人·d)", "克/(人·天)"),
            ("克/人日", "克/(人·天)"),
            ("克／（头＊天）", "克/(头·天)"),
            ("千克/(万只·年)", "千克/(万只·年)"),
            ("千克/吨", "千克/吨"),
            ("千克/头", "千克/头"),
            ("吨/吨", "吨/吨"),
        ] {
            assert_eq!(SourceUnit::parse(text).unwrap().text(), canonical, "{text}");
        }
        for bad in ["克", "克/人·吨", "克/天·人", "克/(人·天)/年", "克/"] {
            assert!(SourceUnit::parse(bad).is_err(), "{bad}");
        }
        let person = CountUnit::parse("万人").unwrap();
        let head = CountUnit::parse("万头").unwrap();
        assert_eq!(
            person.conversion_to(&CountUnit::parse("人").unwrap()),
            Some(Ratio::new(10_000, 1))
        );
        assert_eq!(person.conversion_to(&head), None);
    }

    #[test]
    fn domestic_population_times_days_times_the_per_capita_coefficient() {
        use AreaKind::Domestic;
        let rows = [
            // Shandong: the 70 g rule. 1.2 万人 × 365 d × 70 g = 306.6 t COD; NH3-N 8 g: 35.04 t.
            activity(
                Domestic,
                2023,
                "370102",
                "城镇居民",
                1.2,
                "万人",
                Some(365.0),
                "",
            ),
            // Hebei: its own 65 g. 50 000 人 × 365 × 65 g = 1186.25 t.
            activity(
                Domestic,
                2023,
                "130102",
                "城镇居民",
                50_000.0,
                "人",
                Some(365.0),
                "",
            ),
            // Coal: 2000 t × 16 × 1.2 kg/t = 38.4 t SO2 (= 2000 × 1.2 % × 0.8 × 2).
            activity(
                Domestic,
                2023,
                "130102",
                "生活燃煤",
                2000.0,
                "吨",
                None,
                "S=1.2",
            ),
        ];
        let (results, problems) = account(&rows);
        assert!(problems.is_empty(), "{problems:?}");
        let got: Vec<(usize, String, f64, f64)> = results
            .iter()
            .map(|r| {
                (
                    r.activity,
                    catalog().get(r.pollutant).code.clone(),
                    r.quantities.generated,
                    r.quantities.emitted,
                )
            })
            .collect();
        let expected = [
            (0, "COD", 306.6),
            (0, "NH3N", 35.04),
            (1, "COD", 1186.25),
            (1, "NH3N", 146.0),
            (2, "SO2", 38.4),
        ];
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for ((a, p, g, e), (ea, ep, ev)) in got.iter().zip(expected) {
            assert_eq!((*a, p.as_str()), (ea, ep));
            assert_relative_eq!(*g, ev, max_relative = 1e-12);
            assert_relative_eq!(*e, ev, max_relative = 1e-12);
        }
        // The activity handed to the engine is persons × days, the factor exact: 1.2 万人 →
        // 12 000 人 … and 克 → 吨.
        assert_eq!(results[0].activity_value, 1.2 * 365.0);
        assert_eq!(results[0].factor, Ratio::new(10_000, 1_000_000));
    }

    #[test]
    fn sixteen_s_in_kg_per_tonne_is_one_point_six_s_in_tonnes_per_tonne() {
        let per_kg = SourceCoefficients::build(
            vec![coefficient(
                2,
                AreaKind::Domestic,
                "生活燃煤",
                None,
                "SO2",
                "吨/吨",
                "1.6S",
                None,
            )],
            &catalog(),
        )
        .unwrap();
        let (results, problems) = account_area(
            &[activity(
                AreaKind::Domestic,
                2023,
                "130102",
                "生活燃煤",
                2000.0,
                "吨",
                None,
                "S=0.012",
            )],
            &per_kg,
            &regions(),
            &catalog(),
            NOMINAL,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_relative_eq!(results[0].quantities.generated, 38.4, max_relative = 1e-12);
    }

    #[test]
    fn livestock_heads_times_days_with_generation_and_emission_coefficients() {
        use AreaKind::Livestock;
        let rows = [
            // 3000 pigs sold after a 150-day feeding period: 3000 × 150 × 400 g = 180 t
            // generated, × 50 g = 22.5 t emitted.
            activity(
                Livestock,
                2023,
                "130202",
                "生猪",
                3000.0,
                "头",
                Some(150.0),
                "",
            ),
            // 2.5 万只 laying hens all year, per 万只·年: 365 d = 1 year, 2.5 × 600 kg = 1.5 t
            // generated, 2.5 × 90 kg = 0.225 t emitted.
            activity(
                Livestock,
                2023,
                "130202",
                "蛋鸡",
                25_000.0,
                "只",
                Some(365.0),
                "",
            ),
        ];
        let (results, problems) = account(&rows);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(results.len(), 2);
        assert_relative_eq!(results[0].quantities.generated, 180.0, max_relative = 1e-12);
        assert_relative_eq!(results[0].quantities.emitted, 22.5, max_relative = 1e-12);
        assert_relative_eq!(results[1].quantities.generated, 1.5, max_relative = 1e-12);
        assert_relative_eq!(results[1].quantities.emitted, 0.225, max_relative = 1e-12);
    }

    #[test]
    fn activity_problems_are_located_by_row() {
        use AreaKind::*;
        let rows = [
            activity(
                Domestic,
                2023,
                "130102",
                "农村居民",
                1.0,
                "人",
                Some(365.0),
                "",
            ),
            activity(Domestic, 2023, "130102", "城镇居民", 1.0, "人", None, ""),
            activity(
                Domestic,
                2023,
                "130102",
                "城镇居民",
                1.0,
                "头",
                Some(365.0),
                "",
            ),
            activity(
                Domestic,
                2023,
                "130102",
                "生活燃煤",
                1.0,
                "吨",
                Some(365.0),
                "S=1",
            ),
            activity(Domestic, 2023, "130102", "生活燃煤", 1.0, "吨", None, ""),
            activity(
                Domestic,
                2023,
                "130102",
                "生活燃煤",
                1.0,
                "吨",
                None,
                "S=1;A=2",
            ),
            activity(Livestock, 2023, "130102", "生猪", 1.0, "人", Some(10.0), ""),
        ];
        let (results, problems) = account(&rows);
        assert!(results.is_empty(), "{results:?}");
        let codes: Vec<(usize, &str, &str)> = problems
            .iter()
            .map(|(i, p)| (*i, p.code(), p.column()))
            .collect();
        assert_eq!(
            codes,
            [
                (0, "no-source-coefficient", "source"),
                (1, "days-required", "days"),
                (2, "unit-mismatch", "activity_unit"),
                (3, "days-unused", "days"),
                (4, "missing-parameter", "parameters"),
                (5, "unknown-parameter", "parameters"),
                (6, "unit-mismatch", "activity_unit"),
            ]
        );
        assert!(problems[0].1.to_string().contains("`城镇居民`, `生活燃煤`"));
    }

    #[test]
    fn a_bad_coefficient_table_reports_every_row() {
        let mut bad = coefficient(
            3,
            AreaKind::Domestic,
            "城镇居民",
            None,
            "COD",
            "克/(人·天)",
            "70",
            Some("80"),
        );
        let duplicate = coefficient(
            4,
            AreaKind::Domestic,
            "城镇 居民",
            None,
            "COD",
            "克/(人·天)",
            "60",
            None,
        );
        let mut ok = duplicate.clone();
        ok.origin.row = 2;
        bad.removal = Removal::Efficiency { percent: 120.0 };
        let problems =
            SourceCoefficients::build(vec![ok, bad, duplicate], &catalog()).expect_err("bad");
        let codes: Vec<(u64, &str)> = problems.iter().map(|p| (p.origin.row, p.code)).collect();
        assert_eq!(
            codes,
            [
                (3, "duplicate-coefficient"),
                (3, "efficiency-out-of-range"),
                (4, "duplicate-coefficient")
            ]
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn plant(
        line: u64,
        area: &str,
        kind: &str,
        pollutant: &str,
        water: f64,
        unit: &str,
        inflow: f64,
        outflow: f64,
        share: f64,
    ) -> Monitoring {
        Monitoring {
            origin: RowOrigin {
                table: "plants.csv".into(),
                row: line,
            },
            year: 2023,
            region: region(area),
            facility: format!("plant {line}"),
            kind: FacilityKind::parse(kind),
            pollutant: catalog().lookup(pollutant).unwrap(),
            water,
            water_unit: Unit::parse(unit).unwrap(),
            inflow,
            outflow,
            domestic_share: share,
        }
    }

    #[test]
    fn plant_loads_are_q_times_c_and_the_removal_comes_off_the_domestic_emission() {
        use AreaKind::Domestic;
        let population = [
            // 石家庄 as a whole (prefecture rows): 100 000 人 × 365 × 65 g = 2372.5 t COD,
            // NH3-N 8 g: 292 t.
            activity(
                Domestic,
                2023,
                "130100",
                "城镇居民",
                10.0,
                "万人",
                Some(365.0),
                "",
            ),
            // Jinan, one county: 1.2 万人: 306.6 t COD (70 g), 35.04 t NH3-N.
            activity(
                Domestic,
                2023,
                "370102",
                "城镇居民",
                1.2,
                "万人",
                Some(365.0),
                "",
            ),
        ];
        let (results, problems) = account(&population);
        assert!(problems.is_empty(), "{problems:?}");
        let plants = [
            // 1000 万吨 of water, COD 250 → 40 mg/L: inflow 2500 t, outflow 400 t, removed
            // 2100 t, 80 % domestic: 1680 t off 石家庄's 2372.5 t → 692.5 t.
            plant(
                2,
                "130102",
                "城镇污水处理厂",
                "COD",
                1000.0,
                "万吨",
                250.0,
                40.0,
                0.8,
            ),
            // NH3-N 30 → 5 mg/L: removed 250 t, all domestic: 292 − 250 = 42 t.
            plant(
                3,
                "130104",
                "污水处理厂",
                "NH3N",
                10_000_000.0,
                "吨",
                30.0,
                5.0,
                1.0,
            ),
            // A landfill's leachate: 50 000 t at 800 mg/L out: 40 t, centralized, nothing off.
            plant(
                4,
                "130104",
                "生活垃圾处理厂",
                "COD",
                50_000.0,
                "吨",
                3000.0,
                800.0,
                1.0,
            ),
        ];
        let (indexed, problems) = monitor(&plants, &catalog());
        assert!(problems.is_empty(), "{problems:?}");
        let loads: Vec<MonitoringResult> = indexed.iter().map(|(_, r)| *r).collect();
        assert_relative_eq!(loads[0].inflow, 2500.0, max_relative = 1e-12);
        assert_relative_eq!(loads[0].outflow, 400.0, max_relative = 1e-12);
        assert_relative_eq!(loads[0].domestic_removed, 1680.0, max_relative = 1e-12);
        assert_relative_eq!(loads[1].removed, 250.0, max_relative = 1e-12);
        assert_relative_eq!(loads[2].outflow, 40.0, max_relative = 1e-12);
        assert_eq!(loads[2].domestic_removed, 0.0);
        let (balances, problems) = domestic_balance(
            &population,
            &results,
            &plants,
            &indexed,
            &regions(),
            &catalog(),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let got: Vec<(&str, String, f64, f64, f64)> = balances
            .iter()
            .map(|b| {
                (
                    if b.region == region("130100") {
                        "130100"
                    } else {
                        "370102"
                    },
                    catalog().get(b.pollutant).code.clone(),
                    b.before_removal,
                    b.removed,
                    b.emitted,
                )
            })
            .collect();
        let expected = [
            ("130100", "COD", 2372.5, 1680.0, 692.5),
            ("130100", "NH3N", 292.0, 250.0, 42.0),
            ("370102", "COD", 306.6, 0.0, 306.6),
            ("370102", "NH3N", 35.04, 0.0, 35.04),
        ];
        assert_eq!(got.len(), expected.len(), "{got:?}");
        for (g, e) in got.iter().zip(expected) {
            assert_eq!((g.0, g.1.as_str()), (e.0, e.1));
            assert_relative_eq!(g.2, e.2, max_relative = 1e-12);
            assert_relative_eq!(g.3, e.3, max_relative = 1e-12);
            assert_relative_eq!(g.4, e.4, max_relative = 1e-12);
        }
        assert_eq!(balances[0].plants, [0]);
    }

    #[test]
    fn removal_problems_are_located_on_the_plant_rows() {
        use AreaKind::Domestic;
        let population = [activity(
            Domestic,
            2023,
            "130102",
            "城镇居民",
            1000.0,
            "人",
            Some(365.0),
            "",
        )];
        let (results, _) = account(&population);
        let plants = [
            // Removes 2100 t, but 1000 people generate 23.725 t.
            plant(
                2,
                "130102",
                "污水处理厂",
                "COD",
                1000.0,
                "万吨",
                250.0,
                40.0,
                1.0,
            ),
            // In Tangshan, where no domestic row is.
            plant(
                3,
                "130202",
                "污水处理厂",
                "COD",
                1000.0,
                "吨",
                250.0,
                40.0,
                1.0,
            ),
            // Outflow above inflow.
            plant(
                4,
                "130102",
                "污水处理厂",
                "NH3N",
                1000.0,
                "吨",
                5.0,
                30.0,
                1.0,
            ),
            // Water in m³ is refused: the unit must be a mass.
            plant(
                5,
                "130102",
                "污水处理厂",
                "NH3N",
                1000.0,
                "立方米",
                30.0,
                5.0,
                1.0,
            ),
        ];
        let (indexed, problems) = monitor(&plants, &catalog());
        let codes: Vec<(usize, &str)> = problems.iter().map(|(i, p)| (*i, p.code())).collect();
        assert_eq!(codes, [(2, "impossible-result"), (3, "unit-mismatch")]);
        let (_, problems) = domestic_balance(
            &population,
            &results,
            &plants,
            &indexed,
            &regions(),
            &catalog(),
        );
        let codes: Vec<(usize, &str)> = problems.iter().map(|(i, p)| (*i, p.code())).collect();
        assert_eq!(
            codes,
            [
                (0, "removal-exceeds-domestic"),
                (1, "no-domestic-generation")
            ]
        );
    }

    #[test]
    fn a_region_given_twice_for_a_source_and_year_is_refused() {
        let regions = regions();
        let rows = [
            ("城镇居民 2023", region("130102"), 2),
            ("城镇居民 2023", region("130100"), 3),
            ("城镇居民 2023", region("130202"), 4),
            ("城镇居民 2022", region("130100"), 5),
            ("城镇居民 2023", region("130202"), 6),
            ("城镇居民 2023", region("130000"), 7),
        ]
        .map(|(k, r, l)| (k.to_string(), r, l));
        let problems = overlaps(&rows, &regions);
        let got: Vec<(usize, &str)> = problems
            .iter()
            .map(|(i, p)| match p {
                SourceProblem::Overlap { relation, .. } => (*i, *relation),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "lies within it"),
                (4, "is the same region"),
                (5, "lies within it")
            ]
        );
    }

    #[test]
    fn county_prefecture_and_province_roll_ups_add_up_exactly() {
        let regions = regions();
        let cod = catalog().lookup("COD").unwrap();
        let q = |area: &str, category, quantity| CategoryQuantity {
            year: 2023,
            region: Some(region(area)),
            pollutant: cod,
            category,
            quantity,
        };
        let items = [
            q("130102", Category::Domestic, 0.1),
            q("130104", Category::Domestic, 0.2),
            q("130202", Category::Domestic, 0.3),
            q("130102", Category::Agricultural, 1.5),
            q("370102", Category::Domestic, 7.0),
        ];
        let at = |level| roll_up(&items, &regions, level).unwrap();
        let county = at(RegionLevel::County);
        let prefecture = at(RegionLevel::Prefecture);
        let province = at(RegionLevel::Province);
        let national = at(RegionLevel::National);
        assert_eq!(county.len(), 5);
        let key = |area: &str, category| (Some(region(area)), 2023, cod, category);
        // Each level is the sum of the level below (compensated sums: to the last bits).
        assert_relative_eq!(
            prefecture[&key("130100", Category::Domestic)],
            county[&key("130102", Category::Domestic)] + county[&key("130104", Category::Domestic)],
            max_relative = 1e-15
        );
        assert_relative_eq!(
            province[&key("130000", Category::Domestic)],
            prefecture[&key("130100", Category::Domestic)]
                + prefecture[&key("130200", Category::Domestic)],
            max_relative = 1e-15
        );
        assert_relative_eq!(
            province[&key("130000", Category::Domestic)],
            0.6,
            max_relative = 1e-15
        );
        assert_relative_eq!(
            national[&(None, 2023, cod, Category::Domestic)],
            7.6,
            max_relative = 1e-15
        );
        for level in [
            RegionLevel::County,
            RegionLevel::Prefecture,
            RegionLevel::Province,
        ] {
            let total: f64 = at(level).values().sum();
            assert_relative_eq!(total, 9.1, max_relative = 1e-15);
        }
        // A prefecture quantity cannot be split to counties.
        let mut with_prefecture = items.to_vec();
        with_prefecture.push(q("130100", Category::Mobile, 2.0));
        assert_eq!(
            roll_up(&with_prefecture, &regions, RegionLevel::County),
            Err(vec![5])
        );
        assert_eq!(
            finest_common_level(&with_prefecture, &regions),
            RegionLevel::Prefecture
        );
    }
}
