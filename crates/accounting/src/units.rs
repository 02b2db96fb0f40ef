//! Units of measure for activity data, capacities and coefficients, with exact conversions.
//!
//! The census coefficient manual (产排污系数手册) writes quantities in Chinese units: activity in
//! `吨`, `万吨`, `头` or `万千瓦时`, capacities in `兆瓦`, `头/天` or `蒸吨/小时`, and coefficients
//! as `numerator/denominator-basis`, e.g. `千克/吨-产品` or `千克/万标立方米-原料`. This module
//! parses those texts into a [`Unit`] (a canonical symbol, a [`Dimension`] and an exact factor to
//! the dimension's base unit) and a [`CoefficientUnit`].
//!
//! Conversion factors are exact rationals ([`Ratio`]): `万吨 → 吨` is `10000/1`, `克 → 吨` is
//! `1/1000000`, never a float such as `0.000001` that is already rounded before it is used.
//! A float is touched only at the end, by [`Ratio::apply`].
//!
//! # Dimensions
//!
//! Eight base dimensions, each with a base unit:
//!
//! | dimension | base unit | notes |
//! | --- | --- | --- |
//! | mass | 克 (g) | |
//! | volume | 立方米 (m³) | |
//! | normal volume | 标立方米 (Nm³) | gas at standard conditions; never converts to 立方米 |
//! | count | 头 | 只, 羽 and 个 are the same count with factor 1 |
//! | energy | 千瓦时 (kWh) | |
//! | power | 千瓦 (kW) | independent of energy: the manual never writes kW·h as a product |
//! | time | 小时 (h) | |
//! | steam mass | 蒸吨 | a boiler's rated steam output; never converts to 吨 |
//!
//! A rate such as `头/天` is a compound unit with dimension count/time. Compounds have one
//! level: `万吨/年` parses, `千克/吨/年` does not.
//!
//! # Years and days
//!
//! `天` is 24 小时 and `年` is 8760 小时, the 365-day year of annual operating-hour accounting;
//! leap years are ignored. So 547 500 头/年 is exactly 1500 头/天.
//!
//! # Coefficient units
//!
//! A coefficient unit has exactly one `/`: the numerator is what is generated (a mass or a gas
//! volume), the denominator is the activity it is generated per, and an optional `-basis` says
//! whether the activity is counted as product (`产品`), raw material (`原料`) or something else.
//! `千克/吨/年-产品` is rejected: a per-year rate is a capacity, not a coefficient denominator.
//!
//! # Spellings
//!
//! Parsing trims, folds full-width forms to half-width (`／` → `/`, `ｋｇ` → `kg`), drops inner
//! spaces, reads `³` as `3` and ignores ASCII case, so `MW` and `mw` are both 兆瓦 (milliwatts
//! never occur in the census). The canonical symbol is always the Chinese one.

use std::cmp::Ordering;
use std::fmt;

/// An exact positive rational `num/den` over `u128`, always reduced.
///
/// Conversion factors between units are ratios like this, so composing conversions is exact and
/// no decimal such as `0.001` is rounded before it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u128,
    den: u128,
}

/// A physical dimension: integer exponents over the eight base dimensions.
///
/// `头/天` is count¹·time⁻¹. The exponents are stored in a fixed order (mass, volume, normal
/// volume, count, energy, power, time, steam mass), which is also the order used for sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dimension {
    exponents: [i8; BASE_COUNT],
}

/// A unit of measure: its canonical Chinese symbol, its dimension and its exact factor to the
/// base unit of that dimension.
///
/// Equality compares the symbol too, so `头` and `只` are different units that convert with
/// factor 1; use [`Unit::is_equivalent`] to ask whether two units measure the same amount.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unit {
    symbol: String,
    dimension: Dimension,
    factor: Ratio,
}

/// What a coefficient's activity is counted as, written after `-` in a coefficient unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Basis {
    /// `产品`: per unit of product.
    Product,
    /// `原料`: per unit of raw material.
    RawMaterial,
    /// Any other basis, as written (e.g. `燃料`).
    Other(String),
}

/// A coefficient's unit, written the manual's way: `numerator/denominator-basis`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoefficientUnit {
    /// What is generated or emitted, e.g. `千克`.
    pub numerator: Unit,
    /// The activity it is generated per, e.g. `吨`.
    pub denominator: Unit,
    /// What the activity is counted as; `None` when the text has no `-basis`.
    pub basis: Option<Basis>,
}

/// Why a unit did not parse or convert.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The text is empty or only spaces.
    #[error("unit is empty; write a unit such as `吨` or `千克/吨-产品`")]
    Empty,
    /// The text names no known unit.
    #[error("unknown unit `{text}`{}", hint_suffix(.hint.as_deref()))]
    Unknown {
        /// The unknown part, after width folding.
        text: String,
        /// A suggestion, when an obvious one exists.
        hint: Option<String>,
    },
    /// The two units measure different dimensions.
    #[error(
        "cannot convert `{from}` ({from_dim}) to `{to}` ({to_dim}){}",
        incompatible_hint(.from_dim, .to_dim)
    )]
    Incompatible {
        /// The source unit's symbol.
        from: String,
        /// The target unit's symbol.
        to: String,
        /// The source unit's dimension name.
        from_dim: String,
        /// The target unit's dimension name.
        to_dim: String,
    },
    /// The text has the wrong shape (an empty side of `/`, too many `/`, a missing basis).
    #[error("malformed unit `{text}`: {reason}")]
    Malformed {
        /// The text as given, trimmed.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Ratio {
    /// The ratio 1.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// The reduced ratio `num/den`.
    ///
    /// # Panics
    ///
    /// When `num` or `den` is zero: a conversion factor is always positive.
    pub fn new(num: u128, den: u128) -> Ratio {
        Ratio::checked_new(num, den).expect("a ratio has a positive numerator and denominator")
    }

    /// The reduced ratio `num/den`, or `None` when either is zero.
    pub fn checked_new(num: u128, den: u128) -> Option<Ratio> {
        if num == 0 || den == 0 {
            return None;
        }
        let g = gcd(num, den);
        Some(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The numerator, in lowest terms.
    pub fn num(&self) -> u128 {
        self.num
    }

    /// The denominator, in lowest terms.
    pub fn den(&self) -> u128 {
        self.den
    }

    /// Whether this is exactly 1.
    pub fn is_one(&self) -> bool {
        self.num == 1 && self.den == 1
    }

    /// The exact product.
    ///
    /// # Panics
    ///
    /// When the reduced product does not fit in `u128`; no pair of units this module knows
    /// comes anywhere near that (the largest factor is below 10¹⁴).
    #[allow(
        clippy::should_implement_trait,
        reason = "callers write `a.mul(b)` on factors; the operator traits delegate here"
    )]
    pub fn mul(self, o: Ratio) -> Ratio {
        self.checked_mul(o)
            .expect("conversion factor overflows u128")
    }

    /// The exact quotient.
    ///
    /// # Panics
    ///
    /// As [`Ratio::mul`], when the result does not fit in `u128`.
    #[allow(
        clippy::should_implement_trait,
        reason = "callers write `a.div(b)` on factors; the operator traits delegate here"
    )]
    pub fn div(self, o: Ratio) -> Ratio {
        self.mul(o.recip())
    }

    /// The exact product, or `None` when it does not fit in `u128`.
    pub fn checked_mul(self, o: Ratio) -> Option<Ratio> {
        // Cross-reducing first keeps the intermediate products as small as the result allows,
        // and the result is already in lowest terms.
        let g1 = gcd(self.num, o.den);
        let g2 = gcd(o.num, self.den);
        let num = (self.num / g1).checked_mul(o.num / g2)?;
        let den = (self.den / g2).checked_mul(o.den / g1)?;
        Some(Ratio { num, den })
    }

    /// The exact quotient, or `None` when it does not fit in `u128`.
    pub fn checked_div(self, o: Ratio) -> Option<Ratio> {
        self.checked_mul(o.recip())
    }

    /// `den/num`.
    pub fn recip(self) -> Ratio {
        Ratio {
            num: self.den,
            den: self.num,
        }
    }

    /// The nearest `f64` to the ratio (one rounding when both parts are below 2⁵³).
    pub fn to_f64(self) -> f64 {
        if self.den == 1 {
            return self.num as f64;
        }
        self.num as f64 / self.den as f64
    }

    /// `x * num / den` in `f64`, with at most two roundings.
    ///
    /// When the ratio is an integer `n` or a reciprocal `1/n` (every power-of-ten factor, such
    /// as `万吨 → 吨` or `克 → 吨`), the result is one correctly rounded operation `x * n` or
    /// `x / n`. That is what "exact" means here: the result is the `f64` nearest to the true
    /// value, so it equals the true value whenever that is representable (`3.0 万吨 → 30000.0
    /// 吨`), and it equals the literal one would write otherwise (`1500.0 克 → 0.0015 吨`
    /// compares equal to `0.0015`). Multiplying by a pre-rounded `0.000001` gives neither
    /// guarantee. Other ratios compute `(x * num) / den`: two roundings, relative error at most
    /// about one `f64::EPSILON`. Parts of 2⁵³ or more are first rounded to `f64` (no unit here
    /// has such a factor). NaN and infinities pass through as IEEE arithmetic says.
    pub fn apply(self, x: f64) -> f64 {
        match (self.num, self.den) {
            (1, 1) => x,
            (n, 1) => x * n as f64,
            (1, d) => x / d as f64,
            (n, d) => x * n as f64 / d as f64,
        }
    }
}

impl std::ops::Mul for Ratio {
    type Output = Ratio;

    fn mul(self, o: Ratio) -> Ratio {
        Ratio::mul(self, o)
    }
}

impl std::ops::Div for Ratio {
    type Output = Ratio;

    fn div(self, o: Ratio) -> Ratio {
        Ratio::div(self, o)
    }
}

impl fmt::Display for Ratio {
    /// `10000` for an integer, `1/1000000` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl Dimension {
    /// Mass, base unit 克.
    pub const MASS: Dimension = Dimension::base(0);
    /// Volume, base unit 立方米.
    pub const VOLUME: Dimension = Dimension::base(1);
    /// Volume at standard conditions, base unit 标立方米; not convertible to [`Dimension::VOLUME`].
    pub const NORMAL_VOLUME: Dimension = Dimension::base(2);
    /// Head count, base unit 头 (只, 羽 and 个 count the same).
    pub const COUNT: Dimension = Dimension::base(3);
    /// Energy, base unit 千瓦时.
    pub const ENERGY: Dimension = Dimension::base(4);
    /// Power, base unit 千瓦.
    pub const POWER: Dimension = Dimension::base(5);
    /// Time, base unit 小时.
    pub const TIME: Dimension = Dimension::base(6);
    /// Boiler steam rating, base unit 蒸吨; not convertible to [`Dimension::MASS`].
    pub const STEAM_MASS: Dimension = Dimension::base(7);
    /// No dimension (all exponents zero).
    pub const DIMENSIONLESS: Dimension = Dimension {
        exponents: [0; BASE_COUNT],
    };

    /// No dimension (all exponents zero).
    pub const fn dimensionless() -> Dimension {
        Dimension::DIMENSIONLESS
    }

    /// Whether every exponent is zero.
    pub fn is_dimensionless(&self) -> bool {
        *self == Dimension::DIMENSIONLESS
    }

    /// The product of two dimensions (exponents add).
    #[allow(
        clippy::should_implement_trait,
        reason = "named like the Ratio methods; the operator traits delegate here"
    )]
    pub fn mul(self, o: Dimension) -> Dimension {
        let mut exponents = self.exponents;
        for (e, other) in exponents.iter_mut().zip(o.exponents) {
            // Exponents stay within ±2 for the one-level compounds parsed here; saturating
            // keeps the arithmetic total anyway.
            *e = e.saturating_add(other);
        }
        Dimension { exponents }
    }

    /// The quotient of two dimensions (exponents subtract).
    #[allow(
        clippy::should_implement_trait,
        reason = "named like the Ratio methods; the operator traits delegate here"
    )]
    pub fn div(self, o: Dimension) -> Dimension {
        self.mul(o.recip())
    }

    /// The reciprocal dimension (exponents negate).
    pub fn recip(self) -> Dimension {
        let mut exponents = self.exponents;
        for e in &mut exponents {
            *e = e.saturating_neg();
        }
        Dimension { exponents }
    }

    /// A readable name: `mass`, `count/time`, `steam mass/time`, `dimensionless`; an exponent
    /// other than ±1 is written `^n`.
    pub fn name(&self) -> String {
        let term = |name: &str, e: i8| {
            if e.unsigned_abs() == 1 {
                name.to_string()
            } else {
                format!("{name}^{}", e.unsigned_abs())
            }
        };
        let mut positive = Vec::new();
        let mut negative = Vec::new();
        for (name, &e) in BASE_NAMES.iter().zip(&self.exponents) {
            match e.cmp(&0) {
                Ordering::Greater => positive.push(term(name, e)),
                Ordering::Less => negative.push(term(name, e)),
                Ordering::Equal => {}
            }
        }
        match (positive.is_empty(), negative.is_empty()) {
            (true, true) => "dimensionless".to_string(),
            (false, true) => positive.join("·"),
            (true, false) => format!("1/{}", negative.join("·")),
            (false, false) => format!("{}/{}", positive.join("·"), negative.join("·")),
        }
    }

    const fn base(index: usize) -> Dimension {
        let mut exponents = [0; BASE_COUNT];
        exponents[index] = 1;
        Dimension { exponents }
    }
}

impl std::ops::Mul for Dimension {
    type Output = Dimension;

    fn mul(self, o: Dimension) -> Dimension {
        Dimension::mul(self, o)
    }
}

impl std::ops::Div for Dimension {
    type Output = Dimension;

    fn div(self, o: Dimension) -> Dimension {
        Dimension::div(self, o)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Unit {
    /// Parses a simple unit (`千克`, `kg`, `万吨`) or a one-level compound (`头/天`, `万吨/年`,
    /// `蒸吨/小时`, `t/h`).
    ///
    /// Trims, folds full-width forms (`／`), drops inner spaces and ignores ASCII case. The
    /// symbol of the result is canonical Chinese: `t/a` parses to `吨/年`.
    pub fn parse(text: &str) -> Result<Unit, UnitError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(UnitError::Empty);
        }
        let folded = fold(trimmed);
        let mut parts = folded.split('/');
        let first = parts.next().unwrap_or_default();
        let Some(second) = parts.next() else {
            return simple(first);
        };
        let malformed = |reason: &str| UnitError::Malformed {
            text: trimmed.to_string(),
            reason: reason.to_string(),
        };
        if parts.next().is_some() {
            return Err(malformed(
                "a unit has at most one `/`, as in `头/天` or `万吨/年`",
            ));
        }
        if first.is_empty() {
            return Err(malformed("nothing before `/`"));
        }
        if second.is_empty() {
            return Err(malformed("nothing after `/`"));
        }
        Ok(simple(first)?.per(&simple(second)?))
    }

    /// Every simple unit the parser knows, in table order (mass, volume, normal volume, count,
    /// energy, power, time, steam), each under its canonical symbol.
    pub fn vocabulary() -> Vec<Unit> {
        UNITS.iter().map(UnitDef::unit).collect()
    }

    /// The canonical Chinese symbol, e.g. `千克` or `头/天`.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// The unit's dimension.
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// The exact factor to the base unit of the dimension (`吨` → 1 000 000, since 克 is base).
    pub fn factor(&self) -> Ratio {
        self.factor
    }

    /// Whether the unit is a rate `a/b`.
    pub fn is_compound(&self) -> bool {
        self.symbol.contains('/')
    }

    /// Whether both units measure the same amount (same dimension, factor 1 between them).
    pub fn is_equivalent(&self, other: &Unit) -> bool {
        self.dimension == other.dimension && self.factor == other.factor
    }

    /// The exact factor that turns a value in `self` into a value in `target`.
    pub fn conversion_to(&self, target: &Unit) -> Result<Ratio, UnitError> {
        if self.dimension != target.dimension {
            return Err(UnitError::Incompatible {
                from: self.symbol.clone(),
                to: target.symbol.clone(),
                from_dim: self.dimension.name(),
                to_dim: target.dimension.name(),
            });
        }
        Ok(self.factor.div(target.factor))
    }

    /// Converts `value` in `self` to `target`, applying the exact factor with
    /// [`Ratio::apply`].
    pub fn convert(&self, value: f64, target: &Unit) -> Result<f64, UnitError> {
        Ok(self.conversion_to(target)?.apply(value))
    }

    /// The rate `self/other`, e.g. `头` per `天`.
    fn per(&self, other: &Unit) -> Unit {
        Unit {
            symbol: format!("{}/{}", self.symbol, other.symbol),
            dimension: self.dimension.div(other.dimension),
            factor: self.factor.div(other.factor),
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol)
    }
}

impl Basis {
    /// `产品` → [`Basis::Product`], `原料` → [`Basis::RawMaterial`], anything else →
    /// [`Basis::Other`] as given (trimmed).
    pub fn parse(text: &str) -> Basis {
        match text.trim() {
            "产品" => Basis::Product,
            "原料" => Basis::RawMaterial,
            other => Basis::Other(other.to_string()),
        }
    }

    /// The Chinese text: `产品`, `原料` or the other basis as written.
    pub fn as_str(&self) -> &str {
        match self {
            Basis::Product => "产品",
            Basis::RawMaterial => "原料",
            Basis::Other(text) => text,
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CoefficientUnit {
    /// Parses `numerator/denominator` with an optional `-basis`: `千克/吨-产品`, `克/头-原料`,
    /// `千克/万标立方米-原料`, `千克/吨`.
    ///
    /// Exactly one `/` (so `千克/吨/年-产品` is malformed), a simple unit on each side, and a
    /// non-empty basis after `-` when there is a `-` (full-width `－` and dashes `—` `–` count
    /// as `-`).
    pub fn parse(text: &str) -> Result<CoefficientUnit, UnitError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(UnitError::Empty);
        }
        let malformed = |reason: &str| UnitError::Malformed {
            text: trimmed.to_string(),
            reason: reason.to_string(),
        };
        let folded = fold(trimmed);
        let (ratio, basis) = match folded.split_once(['-', '—', '–']) {
            Some((ratio, basis)) => {
                if basis.is_empty() {
                    return Err(malformed(
                        "nothing after `-`; write the basis, as in `千克/吨-产品`",
                    ));
                }
                (ratio, Some(Basis::parse(basis)))
            }
            None => (folded.as_str(), None),
        };
        let slashes = ratio.matches('/').count();
        if slashes == 0 {
            return Err(malformed(
                "a coefficient unit is written numerator/denominator, as in `千克/吨-产品`",
            ));
        }
        if slashes > 1 {
            return Err(malformed(
                "a coefficient unit has exactly one `/`; a rate such as `吨/年` is a capacity, not a denominator",
            ));
        }
        let (numerator, denominator) = ratio.split_once('/').unwrap_or_default();
        if numerator.is_empty() {
            return Err(malformed(
                "nothing before `/`; write what is generated, as in `千克/吨`",
            ));
        }
        if denominator.is_empty() {
            return Err(malformed(
                "nothing after `/`; write the activity unit, as in `千克/吨`",
            ));
        }
        Ok(CoefficientUnit {
            numerator: simple(numerator)?,
            denominator: simple(denominator)?,
            basis,
        })
    }

    /// The canonical text, e.g. `千克/吨-产品` (or `千克/吨` without a basis).
    pub fn text(&self) -> String {
        match &self.basis {
            Some(basis) => format!("{}/{}-{basis}", self.numerator, self.denominator),
            None => format!("{}/{}", self.numerator, self.denominator),
        }
    }
}

impl fmt::Display for CoefficientUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

const BASE_COUNT: usize = 8;

const BASE_NAMES: [&str; BASE_COUNT] = [
    "mass",
    "volume",
    "normal volume",
    "count",
    "energy",
    "power",
    "time",
    "steam mass",
];

/// One row of the vocabulary: the canonical symbol, the other accepted spellings (ASCII ones in
/// lower case, since lookup ignores ASCII case) and the factor `num/den` to the base unit.
struct UnitDef {
    symbol: &'static str,
    aliases: &'static [&'static str],
    dimension: Dimension,
    num: u128,
    den: u128,
}

impl UnitDef {
    fn unit(&self) -> Unit {
        Unit {
            symbol: self.symbol.to_string(),
            dimension: self.dimension,
            factor: Ratio::new(self.num, self.den),
        }
    }
}

const fn def(
    symbol: &'static str,
    aliases: &'static [&'static str],
    dimension: Dimension,
    num: u128,
    den: u128,
) -> UnitDef {
    UnitDef {
        symbol,
        aliases,
        dimension,
        num,
        den,
    }
}

const UNITS: &[UnitDef] = &[
    def("毫克", &["mg"], Dimension::MASS, 1, 1_000),
    def("克", &["g"], Dimension::MASS, 1, 1),
    def("千克", &["公斤", "kg"], Dimension::MASS, 1_000, 1),
    def("吨", &["t"], Dimension::MASS, 1_000_000, 1),
    def("万吨", &["万t"], Dimension::MASS, 10_000_000_000, 1),
    def("升", &["l"], Dimension::VOLUME, 1, 1_000),
    def("立方米", &["m3", "方"], Dimension::VOLUME, 1, 1),
    def("万立方米", &["万m3", "万方"], Dimension::VOLUME, 10_000, 1),
    def(
        "标立方米",
        &["标准立方米", "nm3", "标方"],
        Dimension::NORMAL_VOLUME,
        1,
        1,
    ),
    def(
        "万标立方米",
        &["万标准立方米", "万nm3", "万标方"],
        Dimension::NORMAL_VOLUME,
        10_000,
        1,
    ),
    def(
        "亿标立方米",
        &["亿标准立方米", "亿nm3", "亿标方"],
        Dimension::NORMAL_VOLUME,
        100_000_000,
        1,
    ),
    def("头", &[], Dimension::COUNT, 1, 1),
    def("只", &[], Dimension::COUNT, 1, 1),
    def("羽", &[], Dimension::COUNT, 1, 1),
    def("个", &[], Dimension::COUNT, 1, 1),
    def("百只", &[], Dimension::COUNT, 100, 1),
    def("百头", &[], Dimension::COUNT, 100, 1),
    def("千只", &[], Dimension::COUNT, 1_000, 1),
    def("万只", &[], Dimension::COUNT, 10_000, 1),
    def("万头", &[], Dimension::COUNT, 10_000, 1),
    def("万羽", &[], Dimension::COUNT, 10_000, 1),
    def(
        "千瓦时",
        &["kwh", "kw·h", "度", "千瓦小时"],
        Dimension::ENERGY,
        1,
        1,
    ),
    def("万千瓦时", &["万kwh", "万度"], Dimension::ENERGY, 10_000, 1),
    def("兆瓦时", &["mwh"], Dimension::ENERGY, 1_000, 1),
    def("亿千瓦时", &["亿kwh"], Dimension::ENERGY, 100_000_000, 1),
    def("瓦", &["w"], Dimension::POWER, 1, 1_000),
    def("千瓦", &["kw"], Dimension::POWER, 1, 1),
    def("兆瓦", &["mw"], Dimension::POWER, 1_000, 1),
    def("万千瓦", &["万kw"], Dimension::POWER, 10_000, 1),
    def("小时", &["h", "时"], Dimension::TIME, 1, 1),
    def("天", &["日", "d"], Dimension::TIME, 24, 1),
    def("年", &["a"], Dimension::TIME, 8_760, 1),
    def("蒸吨", &[], Dimension::STEAM_MASS, 1, 1),
];

/// Spellings that are not units here but have an obvious replacement.
const HINTS: &[(&[&str], &str)] = &[
    (&["kilogram", "kilograms", "kilo", "kgs"], "use 千克 or kg"),
    (&["gram", "grams"], "use 克 or g"),
    (&["ton", "tons", "tonne", "tonnes"], "use 吨 or t"),
    (
        &["公升", "litre", "liter", "litres", "liters"],
        "use 升 or L",
    ),
    (
        &["立方", "cubicmetre", "cubicmeter", "cbm", "m^3"],
        "use 立方米 or m3",
    ),
    (
        &["标立方", "标准方", "nm^3", "normalcubicmetre"],
        "use 标立方米 or Nm3",
    ),
    (&["hour", "hours", "hr", "hrs"], "use 小时 or h"),
    (&["day", "days"], "use 天 or d"),
    (&["year", "years", "yr"], "use 年 or a"),
    (&["head", "heads"], "use 头"),
    (
        &["月", "month", "months"],
        "a month has no fixed length; convert to 天 or 年 first",
    ),
    (
        &["吨蒸汽", "t蒸汽", "蒸汽吨"],
        "a boiler rating is written 蒸吨",
    ),
];

/// Parses one simple unit (no `/`) from width-folded text.
fn simple(folded: &str) -> Result<Unit, UnitError> {
    let key = folded.to_ascii_lowercase();
    UNITS
        .iter()
        .find(|def| def.symbol == key || def.aliases.contains(&key.as_str()))
        .map(UnitDef::unit)
        .ok_or_else(|| unknown(folded, &key))
}

/// The `Unknown` error for `text`, with a hint when one is obvious.
fn unknown(text: &str, key: &str) -> UnitError {
    let hint = if let Some((_, hint)) = HINTS.iter().find(|(words, _)| words.contains(&key)) {
        Some((*hint).to_string())
    } else if text.contains(['-', '—', '–']) {
        Some("a `-basis` belongs to a coefficient unit such as `千克/吨-产品`".to_string())
    } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        Some("write the number apart from the unit".to_string())
    } else {
        known_prefix(key).map(|(prefix, rest)| {
            format!(
                "`{prefix}` is a unit but `{rest}` is not; a basis is written after `-`, as in `吨-{rest}`"
            )
        })
    };
    UnitError::Unknown {
        text: text.to_string(),
        hint,
    }
}

/// The longest known spelling that `key` starts with, when the rest is Chinese text (a basis
/// or a product name run into the unit, as in `吨产品`).
fn known_prefix(key: &str) -> Option<(&'static str, &str)> {
    UNITS
        .iter()
        .flat_map(|def| std::iter::once(&def.symbol).chain(def.aliases))
        .filter_map(|spelling| Some((*spelling, key.strip_prefix(spelling)?)))
        .filter(|(_, rest)| rest.chars().next().is_some_and(|c| !c.is_ascii()))
        .max_by_key(|(spelling, _)| spelling.len())
}

/// Folds full-width forms to half-width, drops whitespace and spells `³` and the squared-unit
/// signs out, so that the lookup sees one form per spelling.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\u{FF01}'..='\u{FF5E}' => {
                out.push(char::from_u32(ch as u32 - 0xFF01 + 0x21).unwrap_or(ch));
            }
            '³' => out.push('3'),
            '㎥' => out.push_str("m3"),
            '㎏' => out.push_str("kg"),
            '㎾' => out.push_str("kw"),
            '㎿' => out.push_str("mw"),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn hint_suffix(hint: Option<&str>) -> String {
    hint.map(|h| format!("; {h}")).unwrap_or_default()
}

/// A hint for the two conversions people expect and the census forbids.
fn incompatible_hint(from_dim: &str, to_dim: &str) -> &'static str {
    let pair = |a: &str, b: &str| {
        (from_dim.contains(a) && !to_dim.contains(a) && to_dim.replace(a, "").contains(b))
            || (to_dim.contains(a) && !from_dim.contains(a) && from_dim.replace(a, "").contains(b))
    };
    if pair("steam mass", "mass") {
        "; 蒸吨 is a boiler rating, not a mass, and never converts to 吨"
    } else if pair("normal volume", "volume") {
        "; 标立方米 is gas at standard conditions and needs temperature and pressure to become 立方米"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    fn unit(text: &str) -> Unit {
        Unit::parse(text).unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
    }

    fn ratio(text_from: &str, text_to: &str) -> Ratio {
        unit(text_from).conversion_to(&unit(text_to)).unwrap()
    }

    #[test]
    fn ratio_reduces_and_composes() {
        let r = Ratio::new(10, 4);
        assert_eq!((r.num(), r.den()), (5, 2));
        assert_eq!(r.recip(), Ratio::new(2, 5));
        assert_eq!(r.mul(r.recip()), Ratio::ONE);
        assert!(r.mul(r.recip()).is_one());
        assert_eq!(Ratio::new(3, 7).div(Ratio::new(9, 14)), Ratio::new(2, 3));
        assert_eq!(Ratio::new(3, 7) * Ratio::new(7, 3), Ratio::ONE);
        assert_eq!(Ratio::new(1, 8760) / Ratio::new(1, 24), Ratio::new(1, 365));
        assert_eq!(Ratio::checked_new(0, 1), None);
        assert_eq!(Ratio::checked_new(1, 0), None);
        assert_eq!(Ratio::new(u128::MAX, 1).checked_mul(Ratio::new(2, 1)), None);
        assert_eq!(Ratio::new(10_000, 1).to_string(), "10000");
        assert_eq!(Ratio::new(1, 1_000_000).to_string(), "1/1000000");
    }

    #[test]
    #[should_panic(expected = "positive")]
    fn ratio_rejects_zero() {
        let _ = Ratio::new(0, 5);
    }

    #[test]
    fn apply_is_correctly_rounded_for_powers_of_ten() {
        let to_tonne = ratio("克", "吨");
        assert_eq!(to_tonne.apply(1500.0), 0.0015);
        assert_eq!(to_tonne.apply(1.0), 1e-6);
        // The pre-rounded decimal is what this avoids: 3 × 0.1 is not 0.3, 3 ÷ 10 is.
        assert_ne!(3.0 * 0.1, 0.3);
        assert_eq!(ratio("吨", "万吨").apply(3.0), 0.0003);
        assert_eq!(ratio("万吨", "吨").apply(3.0), 30_000.0);
        assert_eq!(ratio("头/年", "头/天").apply(547_500.0), 1500.0);
        assert!(ratio("吨", "吨").apply(f64::NAN).is_nan());
    }

    #[test]
    fn parses_vocabulary_to_canonical_symbols() {
        let cases: &[(&str, &str, Dimension)] = &[
            ("克", "克", Dimension::MASS),
            ("g", "克", Dimension::MASS),
            ("毫克", "毫克", Dimension::MASS),
            ("MG", "毫克", Dimension::MASS),
            ("千克", "千克", Dimension::MASS),
            ("公斤", "千克", Dimension::MASS),
            ("kg", "千克", Dimension::MASS),
            ("KG", "千克", Dimension::MASS),
            ("ｋｇ", "千克", Dimension::MASS),
            ("吨", "吨", Dimension::MASS),
            ("t", "吨", Dimension::MASS),
            ("万吨", "万吨", Dimension::MASS),
            ("立方米", "立方米", Dimension::VOLUME),
            ("m3", "立方米", Dimension::VOLUME),
            ("m³", "立方米", Dimension::VOLUME),
            ("方", "立方米", Dimension::VOLUME),
            ("万立方米", "万立方米", Dimension::VOLUME),
            ("升", "升", Dimension::VOLUME),
            ("L", "升", Dimension::VOLUME),
            ("标立方米", "标立方米", Dimension::NORMAL_VOLUME),
            ("标准立方米", "标立方米", Dimension::NORMAL_VOLUME),
            ("Nm3", "标立方米", Dimension::NORMAL_VOLUME),
            ("Nm³", "标立方米", Dimension::NORMAL_VOLUME),
            ("标方", "标立方米", Dimension::NORMAL_VOLUME),
            ("万标立方米", "万标立方米", Dimension::NORMAL_VOLUME),
            ("亿标立方米", "亿标立方米", Dimension::NORMAL_VOLUME),
            ("头", "头", Dimension::COUNT),
            ("只", "只", Dimension::COUNT),
            ("羽", "羽", Dimension::COUNT),
            ("个", "个", Dimension::COUNT),
            ("百只", "百只", Dimension::COUNT),
            ("百头", "百头", Dimension::COUNT),
            ("千只", "千只", Dimension::COUNT),
            ("万只", "万只", Dimension::COUNT),
            ("万头", "万头", Dimension::COUNT),
            ("万羽", "万羽", Dimension::COUNT),
            ("千瓦时", "千瓦时", Dimension::ENERGY),
            ("kWh", "千瓦时", Dimension::ENERGY),
            ("度", "千瓦时", Dimension::ENERGY),
            ("万千瓦时", "万千瓦时", Dimension::ENERGY),
            ("兆瓦时", "兆瓦时", Dimension::ENERGY),
            ("MWh", "兆瓦时", Dimension::ENERGY),
            ("亿千瓦时", "亿千瓦时", Dimension::ENERGY),
            ("瓦", "瓦", Dimension::POWER),
            ("W", "瓦", Dimension::POWER),
            ("千瓦", "千瓦", Dimension::POWER),
            ("kW", "千瓦", Dimension::POWER),
            ("兆瓦", "兆瓦", Dimension::POWER),
            ("MW", "兆瓦", Dimension::POWER),
            ("万千瓦", "万千瓦", Dimension::POWER),
            ("小时", "小时", Dimension::TIME),
            ("h", "小时", Dimension::TIME),
            ("天", "天", Dimension::TIME),
            ("日", "天", Dimension::TIME),
            ("d", "天", Dimension::TIME),
            ("年", "年", Dimension::TIME),
            ("a", "年", Dimension::TIME),
            ("蒸吨", "蒸吨", Dimension::STEAM_MASS),
            ("  吨 ", "吨", Dimension::MASS),
        ];
        for (text, symbol, dimension) in cases {
            let u = unit(text);
            assert_eq!(u.symbol(), *symbol, "{text}");
            assert_eq!(u.dimension(), *dimension, "{text}");
            assert_eq!(u.to_string(), *symbol, "{text}");
        }
    }

    #[test]
    fn vocabulary_symbols_parse_back_and_are_unique() {
        let vocabulary = Unit::vocabulary();
        for u in &vocabulary {
            assert_eq!(&unit(u.symbol()), u);
        }
        let mut symbols: Vec<&str> = vocabulary.iter().map(Unit::symbol).collect();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(symbols.len(), vocabulary.len());
        let mut spellings: Vec<&str> = UNITS
            .iter()
            .flat_map(|d| std::iter::once(&d.symbol).chain(d.aliases))
            .copied()
            .collect();
        let total = spellings.len();
        spellings.sort_unstable();
        spellings.dedup();
        assert_eq!(spellings.len(), total, "a spelling names two units");
    }

    #[test]
    fn parses_compounds() {
        let cases: &[(&str, &str, Dimension, Ratio)] = &[
            (
                "头/天",
                "头/天",
                Dimension::COUNT.div(Dimension::TIME),
                Ratio::new(1, 24),
            ),
            (
                "万吨/年",
                "万吨/年",
                Dimension::MASS.div(Dimension::TIME),
                Ratio::new(10_000_000_000, 8760),
            ),
            (
                "蒸吨/小时",
                "蒸吨/小时",
                Dimension::STEAM_MASS.div(Dimension::TIME),
                Ratio::ONE,
            ),
            (
                "蒸吨/时",
                "蒸吨/小时",
                Dimension::STEAM_MASS.div(Dimension::TIME),
                Ratio::ONE,
            ),
            (
                "吨/小时",
                "吨/小时",
                Dimension::MASS.div(Dimension::TIME),
                Ratio::new(1_000_000, 1),
            ),
            (
                "t/h",
                "吨/小时",
                Dimension::MASS.div(Dimension::TIME),
                Ratio::new(1_000_000, 1),
            ),
            (
                "头／天",
                "头/天",
                Dimension::COUNT.div(Dimension::TIME),
                Ratio::new(1, 24),
            ),
            (
                " 万吨 / 年 ",
                "万吨/年",
                Dimension::MASS.div(Dimension::TIME),
                Ratio::new(10_000_000_000, 8760),
            ),
        ];
        for (text, symbol, dimension, factor) in cases {
            let u = unit(text);
            assert_eq!(u.symbol(), *symbol, "{text}");
            assert_eq!(u.dimension(), *dimension, "{text}");
            assert_eq!(u.factor(), *factor, "{text}");
            assert!(u.is_compound());
        }
        assert!(!unit("吨").is_compound());
    }

    #[test]
    fn converts_exactly() {
        let cases: &[(&str, &str, Ratio)] = &[
            ("万吨", "吨", Ratio::new(10_000, 1)),
            ("克", "吨", Ratio::new(1, 1_000_000)),
            ("千克", "吨", Ratio::new(1, 1_000)),
            ("毫克", "千克", Ratio::new(1, 1_000_000)),
            ("公斤", "kg", Ratio::ONE),
            ("万标立方米", "标立方米", Ratio::new(10_000, 1)),
            ("亿标立方米", "万标立方米", Ratio::new(10_000, 1)),
            ("升", "立方米", Ratio::new(1, 1_000)),
            ("万立方米", "升", Ratio::new(10_000_000, 1)),
            ("万千瓦时", "千瓦时", Ratio::new(10_000, 1)),
            ("亿千瓦时", "兆瓦时", Ratio::new(100_000, 1)),
            ("度", "千瓦时", Ratio::ONE),
            ("百只", "只", Ratio::new(100, 1)),
            ("只", "头", Ratio::ONE),
            ("羽", "只", Ratio::ONE),
            ("万头", "百头", Ratio::new(100, 1)),
            ("头/天", "头/年", Ratio::new(365, 1)),
            ("头/年", "头/天", Ratio::new(1, 365)),
            ("兆瓦", "千瓦", Ratio::new(1_000, 1)),
            ("万千瓦", "兆瓦", Ratio::new(10, 1)),
            ("瓦", "千瓦", Ratio::new(1, 1_000)),
            ("年", "小时", Ratio::new(8_760, 1)),
            ("天", "小时", Ratio::new(24, 1)),
            ("万吨/年", "吨/小时", Ratio::new(250, 219)),
            ("蒸吨/时", "蒸吨/小时", Ratio::ONE),
        ];
        for (from, to, expected) in cases {
            assert_eq!(ratio(from, to), *expected, "{from} → {to}");
        }
        assert!(unit("只").is_equivalent(&unit("头")));
        assert_ne!(unit("只"), unit("头"));
        assert!(!unit("千克").is_equivalent(&unit("吨")));
        let cases: &[(f64, &str, &str, f64)] = &[
            (3.0, "万吨", "吨", 30_000.0),
            (2_500_000.0, "克", "吨", 2.5),
            (1.5, "万标立方米", "标立方米", 15_000.0),
            (12.0, "万千瓦时", "千瓦时", 120_000.0),
            (7.0, "百只", "只", 700.0),
            (1500.0, "头/天", "头/年", 547_500.0),
            (547_500.0, "头/年", "头/天", 1500.0),
            (600.0, "兆瓦", "千瓦", 600_000.0),
            (750.0, "MW", "kW", 750_000.0),
        ];
        for (value, from, to, expected) in cases {
            assert_eq!(
                unit(from).convert(*value, &unit(to)).unwrap(),
                *expected,
                "{value} {from} → {to}"
            );
        }
    }

    #[test]
    fn refuses_incompatible_dimensions() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("标立方米", "立方米", "normal volume", "volume"),
            ("蒸吨", "吨", "steam mass", "mass"),
            ("吨", "头", "mass", "count"),
            ("蒸吨/小时", "吨/小时", "steam mass/time", "mass/time"),
            ("头/天", "头", "count/time", "count"),
            ("千瓦", "千瓦时", "power", "energy"),
        ];
        for (from, to, from_dim, to_dim) in cases {
            let err = unit(from).conversion_to(&unit(to)).unwrap_err();
            assert_eq!(
                err,
                UnitError::Incompatible {
                    from: (*from).to_string(),
                    to: (*to).to_string(),
                    from_dim: (*from_dim).to_string(),
                    to_dim: (*to_dim).to_string(),
                }
            );
            assert!(unit(from).convert(1.0, &unit(to)).is_err());
        }
        let steam = unit("蒸吨").conversion_to(&unit("吨")).unwrap_err();
        assert_eq!(
            steam.to_string(),
            "cannot convert `蒸吨` (steam mass) to `吨` (mass); 蒸吨 is a boiler rating, not a mass, and never converts to 吨"
        );
        let gas = unit("立方米").conversion_to(&unit("Nm3")).unwrap_err();
        assert!(gas.to_string().contains("standard conditions"), "{gas}");
        let plain = unit("吨").conversion_to(&unit("头")).unwrap_err();
        assert_eq!(
            plain.to_string(),
            "cannot convert `吨` (mass) to `头` (count)"
        );
    }

    #[test]
    fn dimension_names() {
        assert_eq!(Dimension::MASS.name(), "mass");
        assert_eq!(Dimension::COUNT.div(Dimension::TIME).name(), "count/time");
        assert_eq!(Dimension::dimensionless().name(), "dimensionless");
        assert!(Dimension::MASS.div(Dimension::MASS).is_dimensionless());
        assert_eq!(Dimension::TIME.recip().name(), "1/time");
        assert_eq!(Dimension::VOLUME.mul(Dimension::VOLUME).name(), "volume^2");
        assert_eq!(
            Dimension::MASS
                .div(Dimension::COUNT.mul(Dimension::TIME))
                .name(),
            "mass/count·time"
        );
        assert_eq!(Dimension::NORMAL_VOLUME.to_string(), "normal volume");
        assert_eq!(
            Dimension::STEAM_MASS / Dimension::TIME * Dimension::TIME,
            Dimension::STEAM_MASS
        );
        assert!(Dimension::MASS < Dimension::VOLUME.recip().recip().mul(Dimension::MASS));
    }

    #[test]
    fn unknown_units_have_hints() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("kilogram", "kilogram", Some("use 千克 or kg")),
            ("Tons", "Tons", Some("use 吨 or t")),
            ("公升", "公升", Some("use 升 or L")),
            (
                "月",
                "月",
                Some("a month has no fixed length; convert to 天 or 年 first"),
            ),
            ("斤", "斤", None),
            (
                "1500头",
                "1500头",
                Some("write the number apart from the unit"),
            ),
        ];
        for (text, shown, hint) in cases {
            assert_eq!(
                Unit::parse(text).unwrap_err(),
                UnitError::Unknown {
                    text: (*shown).to_string(),
                    hint: hint.map(str::to_string),
                },
                "{text}"
            );
        }
        assert_eq!(
            Unit::parse("公升").unwrap_err().to_string(),
            "unknown unit `公升`; use 升 or L"
        );
        assert_eq!(
            Unit::parse("斤").unwrap_err().to_string(),
            "unknown unit `斤`"
        );
        let basis = Unit::parse("千克/吨-产品").unwrap_err();
        assert!(basis.to_string().contains("coefficient unit"), "{basis}");
        let run_in = CoefficientUnit::parse("千克/吨产品").unwrap_err();
        assert_eq!(
            run_in.to_string(),
            "unknown unit `吨产品`; `吨` is a unit but `产品` is not; a basis is written after `-`, as in `吨-产品`"
        );
    }

    #[test]
    fn malformed_and_empty_units() {
        assert_eq!(Unit::parse("").unwrap_err(), UnitError::Empty);
        assert_eq!(Unit::parse("   ").unwrap_err(), UnitError::Empty);
        assert_eq!(
            Unit::parse("").unwrap_err().to_string(),
            "unit is empty; write a unit such as `吨` or `千克/吨-产品`"
        );
        for text in ["头/", "/天", "头//天", "千克/吨/年"] {
            let err = Unit::parse(text).unwrap_err();
            assert!(
                matches!(&err, UnitError::Malformed { text: t, .. } if t == text),
                "{text}: {err:?}"
            );
        }
        assert_eq!(
            Unit::parse("头/").unwrap_err().to_string(),
            "malformed unit `头/`: nothing after `/`"
        );
    }

    #[test]
    fn parses_coefficient_units() {
        let cases: &[(&str, &str, &str, Option<Basis>, &str)] = &[
            (
                "千克/吨-产品",
                "千克",
                "吨",
                Some(Basis::Product),
                "千克/吨-产品",
            ),
            (
                "克/头-原料",
                "克",
                "头",
                Some(Basis::RawMaterial),
                "克/头-原料",
            ),
            (
                "标立方米/吨-原料",
                "标立方米",
                "吨",
                Some(Basis::RawMaterial),
                "标立方米/吨-原料",
            ),
            (
                "吨/头-原料",
                "吨",
                "头",
                Some(Basis::RawMaterial),
                "吨/头-原料",
            ),
            (
                "吨/百只-原料",
                "吨",
                "百只",
                Some(Basis::RawMaterial),
                "吨/百只-原料",
            ),
            (
                "千克/万标立方米-原料",
                "千克",
                "万标立方米",
                Some(Basis::RawMaterial),
                "千克/万标立方米-原料",
            ),
            ("千克/吨", "千克", "吨", None, "千克/吨"),
            (
                "千克／吨－产品",
                "千克",
                "吨",
                Some(Basis::Product),
                "千克/吨-产品",
            ),
            (
                " kg / t - 产品 ",
                "千克",
                "吨",
                Some(Basis::Product),
                "千克/吨-产品",
            ),
            ("克/千瓦时", "克", "千瓦时", None, "克/千瓦时"),
            (
                "千克/吨-燃料",
                "千克",
                "吨",
                Some(Basis::Other("燃料".to_string())),
                "千克/吨-燃料",
            ),
            (
                "千克/吨—产品",
                "千克",
                "吨",
                Some(Basis::Product),
                "千克/吨-产品",
            ),
        ];
        for (text, numerator, denominator, basis, canonical) in cases {
            let c = CoefficientUnit::parse(text)
                .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
            assert_eq!(c.numerator.symbol(), *numerator, "{text}");
            assert_eq!(c.denominator.symbol(), *denominator, "{text}");
            assert_eq!(&c.basis, basis, "{text}");
            assert_eq!(c.text(), *canonical, "{text}");
            assert_eq!(c.to_string(), *canonical, "{text}");
            assert_eq!(CoefficientUnit::parse(&c.text()).unwrap(), c);
        }
        assert_eq!(Basis::parse("产品").as_str(), "产品");
        assert_eq!(Basis::parse(" 原料 ").to_string(), "原料");
    }

    #[test]
    fn refuses_malformed_coefficient_units() {
        let cases: &[(&str, &str)] = &[
            ("千克/", "nothing after `/`"),
            ("/吨", "nothing before `/`"),
            ("千克//吨", "exactly one `/`"),
            ("千克/吨/年-产品", "exactly one `/`"),
            ("千克", "numerator/denominator"),
            ("千克/吨-", "nothing after `-`"),
            ("千克/吨- ", "nothing after `-`"),
        ];
        for (text, reason) in cases {
            let err = CoefficientUnit::parse(text).unwrap_err();
            match &err {
                UnitError::Malformed { text: t, reason: r } => {
                    assert_eq!(t, text.trim());
                    assert!(r.contains(reason), "{text}: {r}");
                }
                other => panic!("{text}: expected malformed, got {other:?}"),
            }
            assert!(err.to_string().starts_with("malformed unit `"), "{err}");
        }
        assert_eq!(CoefficientUnit::parse(" ").unwrap_err(), UnitError::Empty);
        assert!(matches!(
            CoefficientUnit::parse("千克/公升-产品").unwrap_err(),
            UnitError::Unknown { text, .. } if text == "公升"
        ));
    }

    /// Groups of mutually convertible units: every simple unit by dimension, plus the rates
    /// used as capacities.
    fn convertible_groups() -> Vec<Vec<Unit>> {
        let mut all = Unit::vocabulary();
        for rate in [
            "头/天",
            "头/年",
            "万头/年",
            "只/天",
            "吨/年",
            "万吨/年",
            "吨/小时",
            "千克/天",
            "蒸吨/小时",
            "蒸吨/天",
            "标立方米/小时",
            "万标立方米/年",
        ] {
            all.push(unit(rate));
        }
        let mut groups: Vec<Vec<Unit>> = Vec::new();
        for u in all {
            match groups
                .iter_mut()
                .find(|g| g[0].dimension() == u.dimension())
            {
                Some(group) => group.push(u),
                None => groups.push(vec![u]),
            }
        }
        groups
    }

    /// A value converted a → b → a goes through at most four roundings (two in each
    /// [`Ratio::apply`]), each off by at most half an ulp, i.e. a relative `f64::EPSILON / 2`.
    /// That bounds the relative error by `2 · EPSILON` plus second-order terms; the tolerance
    /// allows twice that so it checks the rounding budget and nothing looser.
    const ROUND_TRIP_TOLERANCE: f64 = 4.0 * f64::EPSILON;

    fn same_dimension_units() -> impl Strategy<Value = (Unit, Unit, Unit)> {
        let groups = convertible_groups();
        (
            0..groups.len(),
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
        )
            .prop_map(move |(g, a, b, c)| {
                let group = &groups[g];
                (
                    group[a % group.len()].clone(),
                    group[b % group.len()].clone(),
                    group[c % group.len()].clone(),
                )
            })
    }

    proptest! {
        #[test]
        fn round_trip_stays_within_tolerance(
            (a, b, _) in same_dimension_units(),
            magnitude in -12.0f64..12.0,
            negative in any::<bool>(),
        ) {
            let x = 10f64.powf(magnitude) * if negative { -1.0 } else { 1.0 };
            let there = a.convert(x, &b).unwrap();
            let back = b.convert(there, &a).unwrap();
            assert_relative_eq!(back, x, max_relative = ROUND_TRIP_TOLERANCE);
        }

        #[test]
        fn factors_compose_exactly((a, b, c) in same_dimension_units()) {
            let ab = a.conversion_to(&b).unwrap();
            let bc = b.conversion_to(&c).unwrap();
            let ac = a.conversion_to(&c).unwrap();
            prop_assert_eq!(ab.mul(bc), ac);
            prop_assert_eq!(ac.div(bc), ab);
            prop_assert_eq!(ab.mul(ab.recip()), Ratio::ONE);
        }

        #[test]
        fn conversion_fails_exactly_across_dimensions(i in any::<usize>(), j in any::<usize>()) {
            let vocabulary = Unit::vocabulary();
            let a = &vocabulary[i % vocabulary.len()];
            let b = &vocabulary[j % vocabulary.len()];
            prop_assert_eq!(
                a.conversion_to(b).is_ok(),
                a.dimension() == b.dimension()
            );
        }

        #[test]
        fn integer_and_reciprocal_factors_apply_with_one_rounding(
            (a, b, _) in same_dimension_units(),
            x in -1e12f64..1e12,
        ) {
            let r = a.conversion_to(&b).unwrap();
            if r.den() == 1 {
                prop_assert_eq!(r.apply(x), x * r.num() as f64);
            } else if r.num() == 1 {
                prop_assert_eq!(r.apply(x), x / r.den() as f64);
            }
        }
    }
}
