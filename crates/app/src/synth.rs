//! Synthetic census-sized data (`npsc synth`): an enterprise registry, activity data and a
//! coefficient set in the canonical formats that [`crate::account`] reads, **all invented** and
//! labelled SYNTHETIC in names and manifests, for benchmarks and scale tests.
//!
//! # Guarantees
//!
//! - **Deterministic by seed.** The same settings give the same bytes: a small SplitMix64
//!   generator of our own (no dependency), integer arithmetic only (no `f64` formatting, no
//!   platform maths), reference lists iterated in their sorted order. Every enterprise draws from
//!   its own stream derived from (seed, enterprise), and each of its years from another, so the
//!   activity file can be written year by year without keeping anything per enterprise.
//! - **Streaming.** Memory holds the coefficient model (a few thousand keys, whatever N) and one
//!   line buffer; registry and activity rows go straight to buffered files. Files are written in
//!   a temporary folder inside `out` and moved into place only when everything was written.
//! - **Accepted by `npsc account`** with zero errors and zero unaccounted rows (without
//!   `bad_rows`): every activity row is accounted or excluded (closed enterprises), and the
//!   manifest says how many of each to expect.
//!
//! # What it looks like
//!
//! - Regions: every county-level code (县级, 2 975) of the bundled GB/T 2260 list. The list has
//!   no population, so the weights are a documented **proxy**: each province's 2020 census
//!   population (rounded to 0.1 million, [`PROVINCE_POPULATION`]) shared equally among its
//!   counties, × 1.5 for a district (`…区`), × 1.2 for a county-level city (`…市`), × a seeded
//!   jitter of 0.5–2.
//! - Industries: every four-digit class (1 381 rows in the bundled GB/T 4754-2017 list), weighted
//!   20 for manufacturing (C), 6 for mining (B) and utilities (D), 1 otherwise, × a seeded jitter
//!   of 0.2–5: about 90 % of enterprises are in manufacturing.
//! - Coefficients: per class 1–2 groups (product / raw material / process; 1–4 in C), each with
//!   1–3 scale classes (`所有规模`, or `<a吨/年`, `a-b吨/年`, `≥b吨/年`), 6–10 pollutants per key
//!   from `datasets/reference/pollutants.csv`, each with `直排` and 0–3 treatments of its medium
//!   with removal efficiencies (three keys in four), or first-census emission coefficients (one
//!   in four). Fuel groups (4430 boilers, and one generic group in ten) have the formula
//!   coefficients `16S`/`17S`/`19S`/`20S` for SO₂ and `…Aar` for particulates, with the sulphur
//!   (`S`, %) and ash (`Aar`, %) contents in the activity row's `parameters`.
//! - Enterprises: 93 % operating, 3 % suspended, 3 % closed, 1 % deregistered (half without a
//!   date); closed ones keep reporting, so the rows after their closure are excluded.
//! - Activity: 2–4 production units per enterprise, one row each per year; about one enterprise
//!   in eight has a boiler unit (industry `4430` written on the row, overriding the registry's);
//!   scale given as the label, as a capacity in the label's unit (sometimes exactly on a bound),
//!   or not at all for single-class groups; activity units 吨/万吨/千克, 立方米/万立方米,
//!   头/万头, 万千瓦时/千瓦时/兆瓦时; the declared treatments taken from the key's menu of 4–8
//!   usual trains (the first most common, each next one half as likely), each `""`, `直排`, or
//!   one technology per medium, sometimes with a pollutant-prefixed one
//!   (`二氧化硫:双碱法脱硫`); an operation rate on three rows in four.
//! - With `bad_rows = P`, each row is, with probability P, broken in exactly one way, listed in
//!   `bad_rows.csv` (row, column, issue code): a bad number, an unknown unit, a bad year, an
//!   enterprise missing from the registry, an operation rate above 1, malformed parameters, a
//!   parameter no formula uses, or a prefixed treatment the table does not list.
//!
//! All values stay within what a plain SQL engine can reproduce (see `cli/bench/national.sql`):
//! labels written exactly as in the table, capacities in the label's unit, pollutant prefixes by
//! canonical name, operation rates as plain decimals, formulas of the one shape `cP` (a number
//! times one parameter).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use accounting::codes::{IndustryLevel, RegionLevel, Uscc};
use accounting::pollutant::Medium;
use ingest::reference::Reference;

use crate::AppError;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSettings {
    /// Number of enterprises in the registry.
    pub enterprises: u64,
    /// Number of years of activity, ending in [`LAST_YEAR`].
    pub years: u16,
    /// The seed: the same seed gives the same bytes.
    pub seed: u64,
    /// The folder to write into (created if missing).
    pub out: PathBuf,
    /// The fraction (0–1) of activity rows broken on purpose.
    pub bad_rows: f64,
}

/// The last year of the generated activity.
pub const LAST_YEAR: u16 = 2023;

/// Most enterprises: the organization-code space (31⁸) is far larger, the limit keeps the files
/// within reason.
pub const MAX_ENTERPRISES: u64 = 100_000_000;

/// Most years.
pub const MAX_YEARS: u16 = 30;

/// The coefficient set id written into `coefficients/manifest.toml`.
pub const SET_ID: &str = "synthetic-national";

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthReport {
    /// The folder.
    pub out: PathBuf,
    /// Enterprises in the registry.
    pub enterprises: u64,
    /// Of those, closed or deregistered.
    pub closed_enterprises: u64,
    /// First and last year.
    pub years: (u16, u16),
    /// Activity data rows (bad ones included).
    pub activity_rows: u64,
    /// Good rows that `npsc account` excludes (closed enterprises).
    pub excluded_rows: u64,
    /// Rows broken on purpose (listed in `bad_rows.csv`).
    pub bad_rows: u64,
    /// Good rows whose key has formula coefficients (with `parameters`).
    pub formula_rows: u64,
    /// Coefficient rows.
    pub coefficient_rows: u64,
    /// Coefficient keys (group × scale class).
    pub coefficient_keys: u64,
    /// Coefficient rows with a formula generation coefficient.
    pub formula_coefficient_rows: u64,
    /// Four-digit industries with coefficients.
    pub industries: u64,
    /// County-level regions enterprises are drawn from.
    pub counties: u64,
}

impl SynthReport {
    /// Rows `npsc account` accounts (every good row that is not excluded).
    pub fn accounted_rows(&self) -> u64 {
        self.activity_rows - self.excluded_rows - self.bad_rows
    }
}

/// Writes the data set. Argument problems are [`AppError::Argument`]; nothing is left in `out`
/// when writing fails.
pub fn synth(settings: &SynthSettings, reference: &Reference) -> Result<SynthReport, AppError> {
    check(settings)?;
    let model = Model::build(settings.seed, reference)?;
    std::fs::create_dir_all(&settings.out).map_err(|source| AppError::Path {
        action: "create",
        path: settings.out.clone(),
        source,
    })?;
    let temp = tempfile::Builder::new()
        .prefix(".npsc-synth-")
        .tempdir_in(&settings.out)
        .map_err(|source| AppError::Path {
            action: "write",
            path: settings.out.clone(),
            source,
        })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| AppError::Path {
            action: "write",
            path: path.clone(),
            source,
        }
    };
    let dir = temp.path();
    std::fs::create_dir(dir.join("coefficients")).map_err(io(dir))?;
    let (coefficient_rows, formula_coefficient_rows) = model
        .write_coefficients(&dir.join("coefficients/coefficients.csv"), settings.seed)
        .map_err(io(&settings.out.join("coefficients/coefficients.csv")))?;
    let mut report = SynthReport {
        out: settings.out.clone(),
        enterprises: settings.enterprises,
        closed_enterprises: 0,
        years: (LAST_YEAR + 1 - settings.years, LAST_YEAR),
        activity_rows: 0,
        excluded_rows: 0,
        bad_rows: 0,
        formula_rows: 0,
        coefficient_rows,
        coefficient_keys: model.key_count(),
        formula_coefficient_rows,
        industries: model.industries.len() as u64,
        counties: model.counties.len() as u64,
    };
    Writer::new(&model, settings, dir)
        .and_then(|w| w.run(&mut report))
        .map_err(io(&settings.out))?;
    write_manifests(settings, &report, dir).map_err(io(&settings.out))?;

    // Everything is written: move it into place.
    std::fs::create_dir_all(settings.out.join("coefficients")).map_err(io(&settings.out))?;
    for name in [
        "coefficients/coefficients.csv",
        "coefficients/manifest.toml",
        "registry.csv",
        "activity.csv",
        "bad_rows.csv",
        "manifest.toml",
    ] {
        let target = settings.out.join(name);
        std::fs::rename(dir.join(name), &target).map_err(io(&target))?;
    }
    Ok(report)
}

fn check(settings: &SynthSettings) -> Result<(), AppError> {
    let argument = |message: String, hint: &str| AppError::Argument {
        message,
        hint: Some(hint.to_string()),
    };
    if !(1..=MAX_ENTERPRISES).contains(&settings.enterprises) {
        return Err(argument(
            format!("--enterprises {} is out of range", settings.enterprises),
            "give 1 to 100 000 000 enterprises",
        ));
    }
    if !(1..=MAX_YEARS).contains(&settings.years) {
        return Err(argument(
            format!("--years {} is out of range", settings.years),
            "give 1 to 30 years (they end in 2023)",
        ));
    }
    if !(0.0..=1.0).contains(&settings.bad_rows) {
        return Err(argument(
            format!("--bad-rows {} is not a fraction", settings.bad_rows),
            "give a fraction of rows between 0 and 1, e.g. 0.001",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Randomness: SplitMix64, integers only
// ---------------------------------------------------------------------------------------------

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, and good enough for invented data.
#[derive(Debug, Clone)]
struct Rng(u64);

/// Independent streams of one seed.
#[derive(Clone, Copy)]
enum Stream {
    Model = 1,
    Enterprise = 2,
    Year = 3,
}

impl Rng {
    /// The stream `stream` of `seed`, at `index`.
    fn derive(seed: u64, stream: Stream, index: u64) -> Rng {
        Rng(mix(seed
            ^ mix(
                (stream as u64).wrapping_mul(GOLDEN) ^ mix(index.wrapping_add(GOLDEN))
            )))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0), by the multiply-shift method (bias below 2⁻³⁰ for our n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Sampling by integer weights: cumulative sums and a binary search.
#[derive(Debug)]
struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = u64>) -> Weighted {
        let mut total = 0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(1);
                total
            })
            .collect();
        Weighted { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.below(*self.cumulative.last().expect("weights are not empty"));
        self.cumulative.partition_point(|&c| c <= x)
    }
}

// ---------------------------------------------------------------------------------------------
// Decimal text from integers
// ---------------------------------------------------------------------------------------------

/// Writes `value × 10^exp10` as a plain decimal without trailing zeros (`(123, -2)` → `1.23`,
/// `(5, 1)` → `50`, `(5, -3)` → `0.005`).
fn push_decimal(out: &mut Vec<u8>, value: u64, exp10: i32) {
    if exp10 >= 0 {
        write_int(out, value);
        if value != 0 {
            out.extend(std::iter::repeat_n(b'0', exp10 as usize));
        }
        return;
    }
    let places = (-exp10) as u32;
    let divisor = 10u64.pow(places);
    let (whole, mut fraction) = (value / divisor, value % divisor);
    write_int(out, whole);
    if fraction == 0 {
        return;
    }
    let mut digits = places as usize;
    while fraction % 10 == 0 {
        fraction /= 10;
        digits -= 1;
    }
    out.push(b'.');
    let start = out.len();
    write_int(out, fraction);
    let written = out.len() - start;
    if written < digits {
        out.splice(start..start, std::iter::repeat_n(b'0', digits - written));
    }
}

fn decimal(value: u64, exp10: i32) -> String {
    let mut out = Vec::new();
    push_decimal(&mut out, value, exp10);
    String::from_utf8(out).expect("ASCII digits")
}

fn write_int(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// One CSV field, quoted when it holds a separator or a quote.
fn push_field(out: &mut Vec<u8>, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// The model: regions, industries, coefficient keys
// ---------------------------------------------------------------------------------------------

/// 2020 (seventh) census resident population by province, in units of 100 000, rounded: the
/// proxy for county weights (the region list carries no population).
pub const PROVINCE_POPULATION: [(u32, u64); 31] = [
    (11, 219),
    (12, 139),
    (13, 746),
    (14, 349),
    (15, 240),
    (21, 426),
    (22, 241),
    (23, 319),
    (31, 249),
    (32, 847),
    (33, 646),
    (34, 610),
    (35, 415),
    (36, 452),
    (37, 1015),
    (41, 994),
    (42, 578),
    (43, 664),
    (44, 1260),
    (45, 501),
    (46, 101),
    (50, 321),
    (51, 837),
    (52, 386),
    (53, 472),
    (54, 36),
    (61, 395),
    (62, 250),
    (63, 59),
    (64, 72),
    (65, 259),
];

/// A treatment technology and its nominal removal efficiency in tenths of a percent.
type Tech = (&'static str, u64);

const DUST_TECHS: &[Tech] = &[
    ("袋式除尘", 990),
    ("静电除尘", 980),
    ("湿法除尘", 850),
    ("旋风除尘", 700),
    ("电袋复合除尘", 995),
];
const SO2_TECHS: &[Tech] = &[
    ("石灰石-石膏湿法脱硫", 950),
    ("双碱法脱硫", 850),
    ("循环流化床法脱硫", 800),
    ("炉内喷钙脱硫", 500),
    ("湿法除尘", 150),
];
const NOX_TECHS: &[Tech] = &[
    ("选择性催化还原法", 850),
    ("选择性非催化还原法", 400),
    ("低氮燃烧", 300),
];
const VOC_TECHS: &[Tech] = &[
    ("活性炭吸附", 600),
    ("催化燃烧", 900),
    ("蓄热式热力焚烧", 950),
    ("冷凝回收", 500),
];
const CO_TECHS: &[Tech] = &[("催化燃烧", 700)];
const GAS_TECHS: &[Tech] = &[("喷淋吸收", 800), ("生物除臭", 700)];
const HCL_TECHS: &[Tech] = &[("碱液喷淋", 900), ("喷淋吸收", 750)];
const ORGANIC_TECHS: &[Tech] = &[
    ("物理化学处理", 400),
    ("好氧生物处理", 800),
    ("厌氧/好氧生物组合工艺", 900),
    ("膜生物反应器", 950),
];
const NITROGEN_TECHS: &[Tech] = &[
    ("好氧生物处理", 600),
    ("厌氧/好氧生物组合工艺", 800),
    ("膜生物反应器", 850),
];
const TP_TECHS: &[Tech] = &[("化学沉淀", 850), ("厌氧/好氧生物组合工艺", 700)];
const SS_TECHS: &[Tech] = &[("物理处理", 700), ("物理化学处理", 850)];
const OIL_TECHS: &[Tech] = &[("隔油气浮", 850), ("物理化学处理", 600)];
const TOXIC_TECHS: &[Tech] = &[("化学氧化", 900), ("物理化学处理", 600)];
const METAL_TECHS: &[Tech] = &[("化学沉淀", 900), ("离子交换", 950), ("膜分离", 970)];
const SOLID_TECHS: &[Tech] = &[("综合利用", 900)];

/// How a pollutant's coefficients look: selection weight, numerator unit, the decimal exponent
/// range of a three-digit mantissa, and its treatment technologies.
struct PollutantSpec {
    code: &'static str,
    weight: u64,
    unit: &'static str,
    exp: (i32, i32),
    techs: &'static [Tech],
}

const fn spec(
    code: &'static str,
    weight: u64,
    unit: &'static str,
    exp: (i32, i32),
    techs: &'static [Tech],
) -> PollutantSpec {
    PollutantSpec {
        code,
        weight,
        unit,
        exp,
        techs,
    }
}

const POLLUTANT_SPECS: &[PollutantSpec] = &[
    spec("FLUE_GAS", 6, "标立方米", (1, 2), &[]),
    spec("SO2", 6, "千克", (-4, -1), SO2_TECHS),
    spec("NOX", 6, "千克", (-4, -1), NOX_TECHS),
    spec("PM", 6, "千克", (-4, -1), DUST_TECHS),
    spec("VOCS", 4, "千克", (-4, -1), VOC_TECHS),
    spec("CO", 2, "千克", (-4, -1), CO_TECHS),
    spec("DUST", 2, "千克", (-4, -1), DUST_TECHS),
    spec("SOOT", 1, "千克", (-4, -1), DUST_TECHS),
    spec("NH3", 1, "千克", (-5, -3), GAS_TECHS),
    spec("HCL", 1, "千克", (-5, -3), HCL_TECHS),
    spec("H2S", 1, "千克", (-5, -3), GAS_TECHS),
    spec("WASTEWATER", 6, "吨", (-3, -1), &[]),
    spec("COD", 6, "千克", (-3, -1), ORGANIC_TECHS),
    spec("NH3N", 5, "克", (-1, 1), NITROGEN_TECHS),
    spec("TN", 3, "克", (-1, 1), NITROGEN_TECHS),
    spec("TP", 3, "克", (-1, 1), TP_TECHS),
    spec("BOD5", 2, "千克", (-3, -1), ORGANIC_TECHS),
    spec("SS", 3, "千克", (-3, -1), SS_TECHS),
    spec("PETROLEUM", 2, "克", (-1, 1), OIL_TECHS),
    spec("ANIMAL_OIL", 1, "克", (-1, 1), OIL_TECHS),
    spec("TOC", 1, "克", (-1, 1), ORGANIC_TECHS),
    spec("VOLATILE_PHENOL", 1, "克", (-2, 0), TOXIC_TECHS),
    spec("CYANIDE", 1, "克", (-2, 0), TOXIC_TECHS),
    spec("SULFIDE", 1, "克", (-2, 0), TOXIC_TECHS),
    spec("HG", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("CD", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("CR", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("CR6", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("AS", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("PB", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("NI", 1, "毫克", (-1, 1), METAL_TECHS),
    spec("FLY_ASH", 1, "千克", (-1, 0), SOLID_TECHS),
    spec("SLAG", 1, "千克", (-1, 0), SOLID_TECHS),
];

const RAW_MATERIALS: &[&str] = &[
    "铁矿石",
    "废钢",
    "石灰石",
    "原盐",
    "原油",
    "天然气",
    "玉米",
    "小麦",
    "甘蔗",
    "原木",
    "棉花",
    "化学纤维",
    "塑料粒子",
    "橡胶",
    "铝锭",
    "铜精矿",
    "硅砂",
    "黏土",
    "纸浆",
    "皮革",
];
const ANIMALS: &[&str] = &["生猪", "牛", "羊", "家禽"];
const PROCESSES: &[&str] = &[
    "熔炼", "焙烧", "发酵", "注塑", "电镀", "喷涂", "蒸馏", "干燥", "破碎", "混合", "烧结", "轧制",
    "铸造", "合成", "提纯", "印染", "制浆", "酿造", "切割", "装配", "清洗", "压制", "聚合", "屠宰",
];
const GROUP_SUFFIX: [&str; 4] = ["甲", "乙", "丙", "丁"];

/// A fuel: the raw material, the SO₂ formula factor, and the ranges of S (hundredths of a
/// percent) and Aar (tenths of a percent).
#[derive(Debug, Clone, Copy)]
struct Fuel {
    name: &'static str,
    so2_factor: &'static [u64],
    sulphur: (u64, u64),
    ash: (u64, u64),
}

const FUELS: &[Fuel] = &[
    Fuel {
        name: "煤炭",
        so2_factor: &[16, 17, 19],
        sulphur: (30, 300),
        ash: (80, 350),
    },
    Fuel {
        name: "焦炭",
        so2_factor: &[16],
        sulphur: (40, 120),
        ash: (100, 200),
    },
    Fuel {
        name: "重油",
        so2_factor: &[20],
        sulphur: (50, 300),
        ash: (1, 10),
    },
];

/// Particulate formula factors (`…Aar`, kg per t of fuel per percent of ash).
const ASH_FACTORS: &[&str] = &["0.8", "1", "1.25", "1.6"];

/// The activity dimension of a group: base unit, its alternatives (symbol, base units per unit
/// as a power of ten and its selection weight), the coefficient's denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Mass,
    Volume,
    Count,
    Energy,
}

impl Dimension {
    /// Symbol, base units per one of it (10^exp, exp may be negative), weight in per mille.
    fn units(self) -> &'static [(&'static str, i32, u64)] {
        match self {
            Dimension::Mass => &[("吨", 0, 800), ("万吨", 4, 100), ("千克", -3, 100)],
            Dimension::Volume => &[("立方米", 0, 850), ("万立方米", 4, 150)],
            Dimension::Count => &[("头", 0, 850), ("万头", 4, 150)],
            Dimension::Energy => &[
                ("万千瓦时", 0, 800),
                ("千瓦时", -4, 100),
                ("兆瓦时", -1, 100),
            ],
        }
    }

    fn base(self) -> &'static str {
        self.units()[0].0
    }
}

#[derive(Debug)]
struct KeyPollutant {
    /// Index into [`POLLUTANT_SPECS`].
    spec: usize,
    name: String,
    medium: Medium,
    /// The technologies listed besides `直排`.
    techs: Vec<&'static str>,
}

#[derive(Debug)]
struct Key {
    label: String,
    pollutants: Vec<KeyPollutant>,
    /// The key's usual treatment declarations, most common first: enterprises of one process
    /// use a few standard treatment trains.
    menu: Vec<String>,
    /// Removal efficiencies (true) or first-census emission coefficients (false).
    efficiency: bool,
}

#[derive(Debug)]
struct Group {
    product: String,
    raw_material: &'static str,
    process: &'static str,
    dimension: Dimension,
    /// Raw-material basis (`-原料`) instead of product (`-产品`).
    raw_basis: bool,
    capacity_unit: String,
    /// 0, 1 or 2 class bounds, in the capacity unit.
    bounds: Vec<u64>,
    /// A typical capacity, for single-class groups.
    typical: u64,
    /// Base activity units per capacity unit (×1 for `…/年`, hours × t/蒸吨 for boilers).
    per_capacity: (u64, u64),
    fuel: Option<Fuel>,
    keys: Vec<Key>,
}

#[derive(Debug)]
struct IndustryModel {
    code: String,
    groups: Vec<Group>,
}

struct Model {
    counties: Vec<u32>,
    county_weights: Weighted,
    industries: Vec<IndustryModel>,
    industry_weights: Weighted,
    /// Index of 4430 in `industries`.
    boiler: usize,
}

impl Model {
    fn build(seed: u64, reference: &Reference) -> Result<Model, AppError> {
        let mut rng = Rng::derive(seed, Stream::Model, 0);
        let internal = |what: &str| AppError::Internal(format!("synth: {what}"));

        // Counties and their proxy weights.
        let counties: Vec<(u32, &str)> = reference
            .regions
            .iter()
            .filter(|r| r.level == RegionLevel::County)
            .map(|r| (r.code.as_u32(), r.name.as_str()))
            .collect();
        if counties.is_empty() {
            return Err(internal("the region list has no counties"));
        }
        let province_of = |code: u32| code / 10_000;
        let mut per_province = std::collections::BTreeMap::<u32, u64>::new();
        for (code, _) in &counties {
            *per_province.entry(province_of(*code)).or_default() += 1;
        }
        let population = |province: u32| {
            PROVINCE_POPULATION
                .iter()
                .find(|(p, _)| *p == province)
                .map_or(100, |(_, n)| *n)
        };
        let county_weights = Weighted::new(
            counties
                .iter()
                .map(|(code, name)| {
                    let province = province_of(*code);
                    let base = population(province) * 1_000_000 / per_province[&province];
                    let kind = if name.ends_with('区') {
                        15
                    } else if name.ends_with('市') {
                        12
                    } else {
                        10
                    };
                    base * kind / 10 * rng.range(50, 200) / 100
                })
                .collect::<Vec<_>>(),
        );

        // Industries, their weights and their coefficient groups.
        let catalog = &reference.pollutants;
        let pollutant = |spec: usize| {
            let code = POLLUTANT_SPECS[spec].code;
            catalog
                .lookup(code)
                .map(|id| catalog.get(id))
                .ok_or_else(|| {
                    internal(&format!("pollutant `{code}` is not in the pollutant list"))
                })
        };
        let mut industries = Vec::new();
        let mut weights = Vec::new();
        let mut boiler = None;
        for industry in reference
            .industries
            .iter()
            .filter(|i| i.level == IndustryLevel::Class)
        {
            let code = industry.code.digits().to_string();
            let name: String = industry
                .name
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let section = industry.section;
            let weight = match section {
                'C' => 20,
                'B' | 'D' => 6,
                _ => 1,
            } * rng.range(20, 500);
            let mut groups = Vec::new();
            if code == "4430" {
                boiler = Some(industries.len());
                for (i, (fuel, process)) in [(0, "层燃炉"), (0, "循环流化床锅炉"), (2, "燃油锅炉")]
                    .into_iter()
                    .enumerate()
                {
                    let bounds = if i == 1 { vec![35, 75] } else { vec![10, 35] };
                    groups.push(Group {
                        product: "蒸汽".to_string(),
                        raw_material: FUELS[fuel].name,
                        process,
                        dimension: Dimension::Mass,
                        raw_basis: true,
                        capacity_unit: "蒸吨/小时".to_string(),
                        typical: bounds[0],
                        bounds,
                        per_capacity: (400, 1200),
                        fuel: Some(FUELS[fuel]),
                        keys: Vec::new(),
                    });
                }
            } else {
                let count = match section {
                    'C' => rng.range(1, 4),
                    'B' | 'D' => rng.range(1, 3),
                    _ => rng.range(1, 2),
                } as usize;
                let division = &code[..2];
                let animal = division == "03" || code.starts_with("135");
                let energy = division == "44";
                for suffix in GROUP_SUFFIX.iter().take(count) {
                    let (dimension, fuel) = if animal {
                        (Dimension::Count, None)
                    } else if energy {
                        (Dimension::Energy, None)
                    } else if rng.chance(100) {
                        (Dimension::Mass, Some(*rng.pick(FUELS)))
                    } else if rng.chance(120) {
                        (Dimension::Volume, None)
                    } else {
                        (Dimension::Mass, None)
                    };
                    let raw_material = match (fuel, animal) {
                        (Some(f), _) => f.name,
                        (None, true) => *rng.pick(ANIMALS),
                        (None, false) => *rng.pick(RAW_MATERIALS),
                    };
                    let typical = *rng.pick(&[1, 2, 5]) * 10u64.pow(rng.range(3, 5) as u32);
                    let classes = rng.range(1, 3);
                    let bounds = match classes {
                        1 => vec![],
                        2 => vec![typical],
                        _ => vec![typical, typical * *rng.pick(&[3, 5])],
                    };
                    let process = *rng.pick(PROCESSES);
                    groups.push(Group {
                        product: format!("{name}产品{suffix}"),
                        raw_material,
                        process,
                        dimension,
                        raw_basis: fuel.is_some() || animal,
                        capacity_unit: format!("{}/年", dimension.base()),
                        bounds,
                        typical,
                        per_capacity: (1, 1),
                        fuel,
                        keys: Vec::new(),
                    });
                }
            }
            for group in &mut groups {
                let chosen = choose_pollutants(&mut rng, group.fuel.is_some());
                let efficiency = group.fuel.is_some() || !rng.chance(250);
                let unit = &group.capacity_unit;
                let labels: Vec<String> = match group.bounds.as_slice() {
                    [] => vec!["所有规模".to_string()],
                    [a] => vec![format!("<{a}{unit}"), format!("≥{a}{unit}")],
                    [a, b, ..] => vec![
                        format!("<{a}{unit}"),
                        format!("{a}-{b}{unit}"),
                        format!("≥{b}{unit}"),
                    ],
                };
                for label in labels {
                    let mut pollutants = Vec::new();
                    for &spec in &chosen {
                        let p = pollutant(spec)?;
                        let pool = POLLUTANT_SPECS[spec].techs;
                        let mut techs: Vec<&'static str> = Vec::new();
                        if !pool.is_empty() {
                            let n = rng.range(1, 3.min(pool.len() as u64));
                            while techs.len() < n as usize {
                                let t = rng.pick(pool).0;
                                if !techs.contains(&t) {
                                    techs.push(t);
                                }
                            }
                        }
                        pollutants.push(KeyPollutant {
                            spec,
                            name: p.name.clone(),
                            medium: p.medium,
                            techs,
                        });
                    }
                    let mut key = Key {
                        label,
                        pollutants,
                        menu: Vec::new(),
                        efficiency,
                    };
                    for _ in 0..rng.range(4, 8) {
                        let declared = declare_treatments(&mut rng, &key);
                        if !key.menu.contains(&declared) {
                            key.menu.push(declared);
                        }
                    }
                    group.keys.push(key);
                }
            }
            industries.push(IndustryModel { code, groups });
            weights.push(weight);
        }
        let boiler = boiler.ok_or_else(|| internal("the industry list has no class 4430"))?;
        Ok(Model {
            counties: counties.iter().map(|(c, _)| *c).collect(),
            county_weights,
            industries,
            industry_weights: Weighted::new(weights),
            boiler,
        })
    }

    fn key_count(&self) -> u64 {
        self.industries
            .iter()
            .flat_map(|i| &i.groups)
            .map(|g| g.keys.len() as u64)
            .sum()
    }

    /// Writes the coefficient table; returns (rows, rows with a formula). The values are drawn
    /// from their own stream so that the activity does not depend on them.
    fn write_coefficients(&self, path: &Path, seed: u64) -> std::io::Result<(u64, u64)> {
        let mut rng = Rng::derive(seed, Stream::Model, 1);
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        out.write_all(b"industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,treatment,removal_efficiency,emission_coefficient,source\n")?;
        let (mut rows, mut formulas) = (0, 0);
        let mut line = Vec::with_capacity(256);
        for industry in &self.industries {
            for group in &industry.groups {
                let basis = if group.raw_basis { "原料" } else { "产品" };
                for key in &group.keys {
                    for p in &key.pollutants {
                        let spec = &POLLUTANT_SPECS[p.spec];
                        let unit = format!("{}/{}-{basis}", spec.unit, group.dimension.base());
                        // The generation coefficient: a formula for a fuel's SO₂ and particulates,
                        // else a three-digit mantissa × 10^e.
                        let mantissa = rng.range(100, 999);
                        let exp =
                            spec.exp.0 + rng.below((spec.exp.1 - spec.exp.0 + 1) as u64) as i32;
                        let generation = match (group.fuel, spec.code) {
                            (Some(fuel), "SO2") => Some(format!("{}S", rng.pick(fuel.so2_factor))),
                            (Some(_), "PM") => Some(format!("{}Aar", rng.pick(ASH_FACTORS))),
                            _ => None,
                        };
                        let is_formula = generation.is_some();
                        let generation = generation.unwrap_or_else(|| decimal(mantissa, exp));
                        let mut emit = |treatment: &str, tenths: u64| -> std::io::Result<()> {
                            line.clear();
                            for field in [
                                industry.code.as_str(),
                                group.product.as_str(),
                                group.raw_material,
                                group.process,
                                key.label.as_str(),
                                p.name.as_str(),
                                unit.as_str(),
                                generation.as_str(),
                                treatment,
                            ] {
                                push_field(&mut line, field);
                                line.push(b',');
                            }
                            if key.efficiency {
                                push_decimal(&mut line, tenths, -1);
                                line.push(b',');
                            } else {
                                // First-census shape: the emission coefficient is the generation
                                // coefficient × (1 − η), exactly, in decimal.
                                line.push(b',');
                                push_decimal(&mut line, mantissa * (1000 - tenths), exp - 3);
                            }
                            line.extend_from_slice(b",SYNTHETIC\n");
                            rows += 1;
                            formulas += u64::from(is_formula);
                            out.write_all(&line)
                        };
                        emit("直排", 0)?;
                        for tech in &p.techs {
                            let nominal = spec
                                .techs
                                .iter()
                                .find(|(name, _)| name == tech)
                                .map_or(500, |(_, t)| *t);
                            let tenths = (nominal + rng.range(0, 60)).saturating_sub(30).min(999);
                            emit(tech, tenths)?;
                        }
                    }
                }
            }
        }
        out.flush()?;
        Ok((rows, formulas))
    }
}

/// 6–10 pollutants (indices into [`POLLUTANT_SPECS`], in that order): air and water ones, a
/// fuel group's with SO₂, NOx, particulates and flue gas and maybe its ash and slag.
fn choose_pollutants(rng: &mut Rng, fuel: bool) -> Vec<usize> {
    let index = |code: &str| {
        POLLUTANT_SPECS
            .iter()
            .position(|s| s.code == code)
            .expect("a listed pollutant")
    };
    let by_medium = |codes: &[&str]| -> Vec<usize> { codes.iter().map(|c| index(c)).collect() };
    let air = by_medium(&[
        "FLUE_GAS", "SO2", "NOX", "PM", "VOCS", "CO", "DUST", "SOOT", "NH3", "HCL", "H2S",
    ]);
    let water: Vec<usize> = (index("WASTEWATER")..index("FLY_ASH")).collect();
    let total = rng.range(6, 10) as usize;
    let mut chosen: Vec<usize> = Vec::new();
    let mut draw = |pool: &[usize], n: usize, chosen: &mut Vec<usize>| {
        let target = chosen.len() + n;
        let weights = Weighted::new(pool.iter().map(|&i| POLLUTANT_SPECS[i].weight));
        while chosen.len() < target {
            let candidate = pool[weights.sample(rng)];
            if !chosen.contains(&candidate) {
                chosen.push(candidate);
            }
        }
    };
    if fuel {
        chosen.extend(by_medium(&["FLUE_GAS", "SO2", "NOX", "PM"]));
        if total > 7 {
            chosen.extend(by_medium(&["FLY_ASH", "SLAG"]));
        }
        let rest = total - chosen.len();
        let air_extra = rest / 2;
        draw(&air, air_extra, &mut chosen);
        draw(&water, rest - air_extra, &mut chosen);
    } else {
        let n_air = 2 + (total - 5) / 2;
        draw(&air, n_air, &mut chosen);
        draw(&water, total - n_air, &mut chosen);
    }
    chosen.sort_unstable();
    chosen
}

// ---------------------------------------------------------------------------------------------
// Enterprises and their activity
// ---------------------------------------------------------------------------------------------

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 31⁸: the organization-code bodies.
const ORG_SPACE: u128 = 852_891_037_441;
/// Coprime with 31, so that index → body is a bijection of the space.
const ORG_MULTIPLIER: u128 = 179_424_673;
const ORG_OFFSET: u128 = 123_456_789;

/// The USCC of enterprise `index` in `county`: `91` (market regulation, enterprise), the county,
/// a bijective scramble of the index as organization code, and both check characters.
fn uscc(county: u32, index: u64) -> String {
    let mut x = (u128::from(index) * ORG_MULTIPLIER + ORG_OFFSET) % ORG_SPACE;
    let mut body = [0u8; 8];
    for b in body.iter_mut().rev() {
        *b = USCC_CHARS[(x % 31) as usize];
        x /= 31;
    }
    let org = std::str::from_utf8(&body).expect("ASCII");
    let org_check = Uscc::org_check_char(org).expect("eight characters of the USCC set");
    let first17 = format!("91{county:06}{org}{org_check}");
    let check = Uscc::check_char(&first17).expect("seventeen characters of the USCC set");
    format!("{first17}{check}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Operating,
    Suspended,
    Closed,
    Deregistered,
}

/// One production unit: what it produces and how it reports it.
#[derive(Debug)]
struct Unit {
    industry: usize,
    group: usize,
    key: usize,
    /// Industry code written on the row (boilers), else empty.
    override_industry: bool,
    scale: ScaleMode,
    capacity: u64,
    /// Index into the key's treatment menu.
    treatment: usize,
    operation_rate: Option<u64>,
    /// Index into the dimension's units.
    activity_unit: usize,
    /// Base activity in hundredths of the base unit.
    activity: u64,
    /// S in hundredths of a percent and Aar in tenths, for fuel groups.
    fuel: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScaleMode {
    Label,
    Capacity,
    Unspecified,
}

struct Enterprise {
    uscc: String,
    county: u32,
    industry: usize,
    status: Status,
    /// Year, month, day.
    status_date: Option<(u16, u8, u8)>,
    permit: bool,
    units: Vec<Unit>,
}

impl Enterprise {
    fn excluded(&self, year: u16) -> bool {
        matches!(self.status, Status::Closed | Status::Deregistered)
            && self.status_date.is_none_or(|(y, _, _)| y < year)
    }
}

fn enterprise(model: &Model, seed: u64, index: u64, first_year: u16) -> Enterprise {
    let mut rng = Rng::derive(seed, Stream::Enterprise, index);
    let county = model.counties[model.county_weights.sample(&mut rng)];
    let industry = model.industry_weights.sample(&mut rng);
    let status = match rng.below(1000) {
        0..930 => Status::Operating,
        930..960 => Status::Suspended,
        960..990 => Status::Closed,
        _ => Status::Deregistered,
    };
    let date = (
        rng.range(u64::from(first_year) - 1, u64::from(LAST_YEAR)) as u16,
        rng.range(1, 12) as u8,
        rng.range(1, 28) as u8,
    );
    let status_date = match status {
        Status::Operating => None,
        Status::Deregistered if rng.chance(500) => None,
        _ => Some(date),
    };
    let permit = rng.chance(600);
    let n = rng.range(2, 4);
    let units = (0..n)
        .map(|u| {
            let boiler = u == 0 && industry != model.boiler && rng.chance(120);
            let unit_industry = if boiler { model.boiler } else { industry };
            let groups = &model.industries[unit_industry].groups;
            let group_index = rng.below(groups.len() as u64) as usize;
            let group = &groups[group_index];
            let key = rng.below(group.keys.len() as u64) as usize;
            let scale = if group.keys.len() == 1 {
                if rng.chance(400) {
                    ScaleMode::Label
                } else {
                    ScaleMode::Unspecified
                }
            } else if rng.chance(550) {
                ScaleMode::Label
            } else {
                ScaleMode::Capacity
            };
            // A capacity inside the class; one in 25 exactly on the class's lower bound.
            let (lower, upper) = match (key, group.bounds.as_slice()) {
                (_, []) => (group.typical / 10, group.typical * 5),
                (0, [a, ..]) => ((a / 20).max(1), a - 1),
                (1, [a, b]) => (*a, b - 1),
                (k, bounds) => {
                    let a = bounds[k - 1];
                    (a, a * 5)
                }
            };
            let capacity = if key > 0 && rng.chance(40) {
                lower
            } else {
                rng.range(lower, upper.max(lower))
            };
            let activity = capacity
                * rng.range(group.per_capacity.0, group.per_capacity.1)
                * rng.range(50, 95);
            let units = group.dimension.units();
            let mut roll = rng.below(1000);
            let activity_unit = units
                .iter()
                .position(|u| {
                    let hit = roll < u.2;
                    roll = roll.saturating_sub(u.2);
                    hit
                })
                .unwrap_or(0);
            // The key's menu of treatment trains, the first most common (halving each step).
            let menu = &group.keys[key].menu;
            let mut choice = 0;
            while choice + 1 < menu.len() && rng.chance(500) {
                choice += 1;
            }
            let treatment = choice;
            let operation_rate = rng.chance(750).then(|| rng.range(60, 100));
            let fuel = group.fuel.map(|f| {
                (
                    rng.range(f.sulphur.0, f.sulphur.1),
                    rng.range(f.ash.0, f.ash.1),
                )
            });
            Unit {
                industry: unit_industry,
                group: group_index,
                key,
                override_industry: boiler,
                scale,
                capacity,
                treatment,
                operation_rate,
                activity_unit,
                activity,
                fuel,
            }
        })
        .collect();
    Enterprise {
        uscc: uscc(county, index),
        county,
        industry,
        status,
        status_date,
        permit,
        units,
    }
}

/// A `treatment` cell: nothing (15 %), `直排` (10 %), else one listed technology per medium
/// (air 85 %, water 70 %, solid 50 % when the key lists one), and in one case in four a
/// pollutant-prefixed technology listed for that pollutant. At most one unprefixed technology
/// per medium can match a pollutant, so no row is ambiguous.
fn declare_treatments(rng: &mut Rng, key: &Key) -> String {
    let roll = rng.below(100);
    if roll < 15 {
        return String::new();
    }
    if roll < 25 {
        return "直排".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    for (medium, per_mille) in [
        (Medium::Air, 850),
        (Medium::Water, 700),
        (Medium::Solid, 500),
    ] {
        let mut listed: Vec<&str> = key
            .pollutants
            .iter()
            .filter(|p| p.medium == medium)
            .flat_map(|p| p.techs.iter().copied())
            .collect();
        listed.sort_unstable();
        listed.dedup();
        if !listed.is_empty() && rng.chance(per_mille) {
            parts.push(rng.pick(&listed).to_string());
        }
    }
    if rng.chance(250) {
        let treated: Vec<&KeyPollutant> = key
            .pollutants
            .iter()
            .filter(|p| !p.techs.is_empty())
            .collect();
        if !treated.is_empty() {
            let p = rng.pick(&treated);
            parts.push(format!("{}:{}", p.name, rng.pick(&p.techs)));
        }
    }
    parts.join("; ")
}

/// The ways a row is broken on purpose, with the column and the issue code `npsc account`
/// reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breakage {
    BadNumber,
    UnknownUnit,
    BadYear,
    UnknownEnterprise,
    BadOperationRate,
    BadParameters,
    UnknownParameter,
    UnknownTreatment,
}

impl Breakage {
    const ALL: [Breakage; 8] = [
        Breakage::BadNumber,
        Breakage::UnknownUnit,
        Breakage::BadYear,
        Breakage::UnknownEnterprise,
        Breakage::BadOperationRate,
        Breakage::BadParameters,
        Breakage::UnknownParameter,
        Breakage::UnknownTreatment,
    ];

    fn column_and_code(self) -> (&'static str, &'static str) {
        match self {
            Breakage::BadNumber => ("activity", "bad-number"),
            Breakage::UnknownUnit => ("activity_unit", "unknown-unit"),
            Breakage::BadYear => ("year", "bad-year"),
            Breakage::UnknownEnterprise => ("uscc", "unknown-enterprise"),
            Breakage::BadOperationRate => ("operation_rate", "bad-operation-rate"),
            Breakage::BadParameters => ("parameters", "bad-parameters"),
            Breakage::UnknownParameter => ("parameters", "unknown-parameter"),
            Breakage::UnknownTreatment => ("treatment", "unknown-treatment"),
        }
    }

    /// Whether the engine finds it (so not on a row the engine excludes first).
    fn found_by_engine(self) -> bool {
        matches!(
            self,
            Breakage::UnknownParameter | Breakage::UnknownTreatment
        )
    }
}

struct Writer<'m> {
    model: &'m Model,
    settings: &'m SynthSettings,
    registry: BufWriter<File>,
    activity: BufWriter<File>,
    bad: BufWriter<File>,
    line: Vec<u8>,
    /// Bad-row threshold on a 64-bit draw.
    bad_threshold: u64,
}

impl<'m> Writer<'m> {
    fn new(
        model: &'m Model,
        settings: &'m SynthSettings,
        dir: &Path,
    ) -> std::io::Result<Writer<'m>> {
        let create = |name: &str| -> std::io::Result<BufWriter<File>> {
            Ok(BufWriter::with_capacity(
                1 << 18,
                File::create(dir.join(name))?,
            ))
        };
        let bad_threshold = if settings.bad_rows >= 1.0 {
            u64::MAX
        } else {
            // 2⁶⁴ after rounding: a row is bad when its draw is below P × 2⁶⁴.
            (settings.bad_rows * u64::MAX as f64) as u64
        };
        Ok(Writer {
            model,
            settings,
            registry: create("registry.csv")?,
            activity: create("activity.csv")?,
            bad: create("bad_rows.csv")?,
            line: Vec::with_capacity(512),
            bad_threshold,
        })
    }

    fn run(mut self, report: &mut SynthReport) -> std::io::Result<()> {
        self.registry
            .write_all(b"uscc,name,region_code,industry_code,status,status_date,permit_no\n")?;
        self.activity.write_all(b"year,uscc,unit_id,industry_code,product,raw_material,process,scale,capacity,capacity_unit,treatment,activity,activity_unit,operation_rate,parameters,outlet_id\n")?;
        self.bad.write_all(b"row,column,code\n")?;
        let (first, last) = report.years;
        let mut row: u64 = 1;
        for year in first..=last {
            for index in 0..self.settings.enterprises {
                let e = enterprise(self.model, self.settings.seed, index, first);
                if year == first {
                    self.write_registry(&e, index, report)?;
                }
                let mut rng = Rng::derive(
                    self.settings.seed,
                    Stream::Year,
                    index * u64::from(MAX_YEARS) + u64::from(year - first),
                );
                for (u, unit) in e.units.iter().enumerate() {
                    row += 1;
                    self.write_activity(&e, index, year, u, unit, row, &mut rng, report)?;
                }
            }
        }
        self.registry.flush()?;
        self.activity.flush()?;
        self.bad.flush()
    }

    fn write_registry(
        &mut self,
        e: &Enterprise,
        index: u64,
        report: &mut SynthReport,
    ) -> std::io::Result<()> {
        let l = &mut self.line;
        l.clear();
        l.extend_from_slice(e.uscc.as_bytes());
        l.push(b',');
        l.extend_from_slice("合成企业".as_bytes());
        write_int(l, index + 1);
        l.extend_from_slice("号（SYNTHETIC）,".as_bytes());
        write_int(l, u64::from(e.county));
        l.push(b',');
        l.extend_from_slice(self.model.industries[e.industry].code.as_bytes());
        l.push(b',');
        l.extend_from_slice(
            match e.status {
                Status::Operating => "运行",
                Status::Suspended => "停产",
                Status::Closed => "关闭",
                Status::Deregistered => "注销",
            }
            .as_bytes(),
        );
        l.push(b',');
        if let Some((y, m, d)) = e.status_date {
            l.extend_from_slice(format!("{y:04}-{m:02}-{d:02}").as_bytes());
        }
        l.push(b',');
        if e.permit {
            l.extend_from_slice(e.uscc.as_bytes());
            l.extend_from_slice(b"001P");
        }
        l.push(b'\n');
        if matches!(e.status, Status::Closed | Status::Deregistered) {
            report.closed_enterprises += 1;
        }
        self.registry.write_all(l)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one row's context, called from one place"
    )]
    fn write_activity(
        &mut self,
        e: &Enterprise,
        index: u64,
        year: u16,
        u: usize,
        unit: &Unit,
        row: u64,
        rng: &mut Rng,
        report: &mut SynthReport,
    ) -> std::io::Result<()> {
        let model = self.model;
        let industry = &model.industries[unit.industry];
        let group = &industry.groups[unit.group];
        let key = &group.keys[unit.key];
        // This year's values.
        let activity = unit.activity * rng.range(85, 115) / 100;
        let k = unit
            .operation_rate
            .map(|k| (k + rng.range(0, 10)).saturating_sub(5).min(100));
        let fuel = unit
            .fuel
            .map(|(s, a)| ((s + rng.range(0, 10)).saturating_sub(5).max(1), a));
        let excluded = e.excluded(year);
        let mut breakage = None;
        if self.bad_threshold > 0 && rng.next_u64() < self.bad_threshold {
            let mut b = *rng.pick(&Breakage::ALL);
            if b.found_by_engine() && excluded {
                b = Breakage::BadNumber;
            }
            breakage = Some(b);
        }

        let l = &mut self.line;
        l.clear();
        if breakage == Some(Breakage::BadYear) {
            write_int(l, u64::from(year - 2000));
            l.extend_from_slice("年度".as_bytes());
        } else {
            write_int(l, u64::from(year));
        }
        l.push(b',');
        if breakage == Some(Breakage::UnknownEnterprise) {
            l.extend_from_slice(uscc(e.county, self.settings.enterprises + index).as_bytes());
        } else {
            l.extend_from_slice(e.uscc.as_bytes());
        }
        l.extend_from_slice(b",MF");
        push_padded(l, u as u64 + 1, 4);
        l.push(b',');
        if unit.override_industry {
            l.extend_from_slice(industry.code.as_bytes());
        }
        l.push(b',');
        for text in [group.product.as_str(), group.raw_material, group.process] {
            push_field(l, text);
            l.push(b',');
        }
        match unit.scale {
            ScaleMode::Label => {
                push_field(l, &key.label);
                l.extend_from_slice(b",,,");
            }
            ScaleMode::Capacity => {
                l.push(b',');
                write_int(l, unit.capacity);
                l.push(b',');
                l.extend_from_slice(group.capacity_unit.as_bytes());
                l.push(b',');
            }
            ScaleMode::Unspecified => l.extend_from_slice(b",,,"),
        }
        if breakage == Some(Breakage::UnknownTreatment) {
            let p = &key.pollutants[0];
            l.extend_from_slice(format!("{}:合成未列技术", p.name).as_bytes());
        } else {
            push_field(l, &key.menu[unit.treatment]);
        }
        l.push(b',');
        let (symbol, exp, _) = group.dimension.units()[unit.activity_unit];
        if breakage == Some(Breakage::BadNumber) {
            l.extend_from_slice(b"\"1,");
            push_decimal(l, activity, -2 - exp);
            l.push(b'"');
        } else {
            // `activity` is in hundredths of the base unit; one `symbol` is 10^exp base units.
            push_decimal(l, activity, -2 - exp);
        }
        l.push(b',');
        if breakage == Some(Breakage::UnknownUnit) {
            l.extend_from_slice(symbol.as_bytes());
            l.extend_from_slice(symbol.as_bytes());
        } else {
            l.extend_from_slice(symbol.as_bytes());
        }
        l.push(b',');
        if breakage == Some(Breakage::BadOperationRate) {
            l.extend_from_slice(b"1.5");
        } else if let Some(k) = k {
            push_decimal(l, k, -2);
        }
        l.push(b',');
        match breakage {
            Some(Breakage::BadParameters) => l.extend_from_slice(b"S=abc"),
            Some(Breakage::UnknownParameter) => {
                if let Some((s, a)) = fuel {
                    push_parameters(l, s, a);
                    l.extend_from_slice(b"; ");
                }
                l.extend_from_slice(b"Q=1");
            }
            _ => {
                if let Some((s, a)) = fuel {
                    push_parameters(l, s, a);
                }
            }
        }
        l.extend_from_slice(b",D");
        l.push(if key.pollutants[0].medium == Medium::Water {
            b'W'
        } else {
            b'A'
        });
        push_padded(l, u as u64 + 1, 3);
        l.push(b'\n');
        self.activity.write_all(l)?;

        report.activity_rows += 1;
        match breakage {
            Some(b) => {
                report.bad_rows += 1;
                let (column, code) = b.column_and_code();
                l.clear();
                write_int(l, row);
                l.push(b',');
                l.extend_from_slice(column.as_bytes());
                l.push(b',');
                l.extend_from_slice(code.as_bytes());
                l.push(b'\n');
                self.bad.write_all(l)?;
            }
            None if excluded => report.excluded_rows += 1,
            None => report.formula_rows += u64::from(fuel.is_some()),
        }
        Ok(())
    }
}

fn push_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let start = out.len();
    write_int(out, value);
    let written = out.len() - start;
    if written < width {
        out.splice(start..start, std::iter::repeat_n(b'0', width - written));
    }
}

fn push_parameters(out: &mut Vec<u8>, sulphur: u64, ash: u64) {
    out.extend_from_slice(b"S=");
    push_decimal(out, sulphur, -2);
    out.extend_from_slice(b"; Aar=");
    push_decimal(out, ash, -1);
}

fn write_manifests(
    settings: &SynthSettings,
    report: &SynthReport,
    dir: &Path,
) -> std::io::Result<()> {
    let (first, last) = report.years;
    let seed = settings.seed;
    let coefficients = format!(
        r#"# SYNTHETIC coefficient set written by `npsc synth`: invented values, not the census manuals.
id = "{SET_ID}"
edition = 1
title = "SYNTHETIC national-scale coefficients (npsc synth, seed {seed})"
effective_from = "2021-01-01"
synthetic = true
tables = ["coefficients.csv"]
provenance = """
SYNTHETIC. Written by `npsc synth --seed {seed}`: {keys} invented keys for every four-digit class of
GB/T 4754-2017 (1-4 product / raw material / process groups, 1-3 scale classes each), 6-10 pollutants
of npsc's pollutant list per key, `直排` and 0-3 treatments per pollutant with removal efficiencies or
first-census emission coefficients; SO2 `cS` and particulate `cAar` formulas for fuels. The shapes are
the census tables', the numbers are random. Not real data.
"""
"#,
        keys = report.coefficient_keys,
    );
    std::fs::write(dir.join("coefficients/manifest.toml"), coefficients)?;
    let years: Vec<String> = (first..=last).map(|y| y.to_string()).collect();
    let dataset = format!(
        r#"# SYNTHETIC data set written by `npsc synth`; not real data about any enterprise.
id = "synthetic-national"
title = "SYNTHETIC national-scale data: {n} enterprises, {first}-{last}, seed {seed}"
synthetic = true
generated_by = "npsc synth --enterprises {n} --years {y} --seed {seed} --bad-rows {bad}"
seed = {seed}
enterprises = {n}
years = [{years}]
coefficient_set = "coefficients"
registry = "registry.csv"
activity = "activity.csv"
bad_rows = "bad_rows.csv"
description = """
SYNTHETIC. Invented enterprises (names `合成企业N号（SYNTHETIC）`, valid but invented unified social credit
codes) in every county-level division of GB/T 2260, weighted by a population proxy: each province's
2020 census population shared equally among its counties, x1.5 for districts, x1.2 for county-level
cities, with a random factor of 0.5-2 (the region list has no population). Industries: every four-digit
class of GB/T 4754-2017, manufacturing weighted 20, mining and utilities 6, others 1, with a random
factor of 0.2-5. 2-4 production units per enterprise, one activity row each per year.
"""

[expected]
# What `npsc account` reports on these files (bad rows are reported as errors, with their row).
activity_rows = {rows}
accounted_rows = {accounted}
excluded_rows = {excluded}
unaccounted_rows = 0
bad_rows = {bad_rows}
closed_enterprises = {closed}
formula_rows = {formula}
coefficient_rows = {coefficient_rows}
coefficient_keys = {keys}
formula_coefficient_rows = {formula_coefficients}
"#,
        n = settings.enterprises,
        y = settings.years,
        bad = settings.bad_rows,
        years = years.join(", "),
        rows = report.activity_rows,
        accounted = report.accounted_rows(),
        excluded = report.excluded_rows,
        bad_rows = report.bad_rows,
        closed = report.closed_enterprises,
        formula = report.formula_rows,
        coefficient_rows = report.coefficient_rows,
        keys = report.coefficient_keys,
        formula_coefficients = report.formula_coefficient_rows,
    );
    std::fs::write(dir.join("manifest.toml"), dataset)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use accounting::codes::{IndustryCode, RegionCode};
    use accounting::engine::{OperationRatePolicy, Policy};
    use accounting::totals::Grouping;

    use super::*;
    use crate::account::{AccountSettings, NoProgress, account};

    fn generate(dir: &Path, enterprises: u64, years: u16, seed: u64, bad_rows: f64) -> SynthReport {
        let settings = SynthSettings {
            enterprises,
            years,
            seed,
            out: dir.to_path_buf(),
            bad_rows,
        };
        synth(&settings, &crate::reference::bundled().unwrap()).unwrap()
    }

    fn account_settings(dir: &Path) -> AccountSettings {
        AccountSettings {
            coefficients: dir.join("coefficients"),
            registry: dir.join("registry.csv"),
            activity: dir.join("activity.csv"),
            grouping: Grouping {
                region: RegionLevel::County,
                industry: Some(IndustryLevel::Division),
            },
            policy: Policy {
                missing_operation_rate: OperationRatePolicy::Nominal,
            },
            read: crate::ReadOptions::default(),
            results: None,
            deny_unaccounted: true,
        }
    }

    const FILES: [&str; 6] = [
        "registry.csv",
        "activity.csv",
        "bad_rows.csv",
        "manifest.toml",
        "coefficients/manifest.toml",
        "coefficients/coefficients.csv",
    ];

    fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn decimals_are_written_exactly() {
        for (value, exp, text) in [
            (123, -2, "1.23"),
            (5, 1, "50"),
            (5, -3, "0.005"),
            (1200, -2, "12"),
            (120_500, -4, "12.05"),
            (0, -3, "0"),
            (0, 2, "0"),
            (999_000, -5, "9.99"),
        ] {
            assert_eq!(decimal(value, exp), text, "{value}e{exp}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let report = generate(a.path(), 150, 2, 7, 0.01);
        assert_eq!(
            generate(b.path(), 150, 2, 7, 0.01),
            SynthReport {
                out: b.path().to_path_buf(),
                ..report.clone()
            }
        );
        generate(c.path(), 150, 2, 8, 0.01);
        for name in FILES {
            let read = |dir: &tempfile::TempDir| std::fs::read(dir.path().join(name)).unwrap();
            assert_eq!(read(&a), read(&b), "{name} differs for the same seed");
            if name != "bad_rows.csv" {
                assert_ne!(read(&a), read(&c), "{name} is the same for another seed");
            }
        }
        // Nothing else is left behind (the temporary folder is gone).
        let entries = std::fs::read_dir(a.path()).unwrap().count();
        assert_eq!(
            entries, 5,
            "registry, activity, bad rows, manifest, coefficients/"
        );
    }

    #[test]
    fn npsc_accounts_every_row_without_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let synth = generate(dir.path(), 400, 2, 11, 0.0);
        let reference = crate::reference::bundled().unwrap();
        let report = account(&account_settings(dir.path()), &reference, &NoProgress)
            .unwrap_or_else(|e| panic!("{e}: {e:?}"));
        let s = report.summary;
        assert_eq!(s.rows_read, synth.activity_rows);
        assert_eq!(s.rows_unaccounted, 0);
        assert_eq!(s.rows_excluded, synth.excluded_rows);
        assert_eq!(s.rows_accounted, synth.accounted_rows());
        assert_eq!(s.rows_accounted + s.rows_excluded, s.rows_read);
        assert!(
            synth.excluded_rows > 0 && synth.formula_rows > 0,
            "{synth:?}"
        );
        // The results cover every pollutant of every accounted row: 6–10 per row.
        assert!(s.results >= 6 * s.rows_accounted && s.results <= 10 * s.rows_accounted);
        assert!(
            s.direct_fallbacks > 0 && s.operation_rates_assumed > 0 && s.operation_rates_unused > 0
        );
        assert!(report.set.synthetic && report.set.id == SET_ID);
        let manifest = std::fs::read_to_string(dir.path().join("manifest.toml")).unwrap();
        assert!(manifest.contains(&format!("accounted_rows = {}", s.rows_accounted)));
        assert!(manifest.contains("synthetic = true"));
    }

    #[test]
    fn broken_rows_are_reported_located_all_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let synth = generate(dir.path(), 200, 2, 5, 0.05);
        let expected: BTreeSet<(u64, String, String)> = read_csv(&dir.path().join("bad_rows.csv"))
            .into_iter()
            .map(|r| {
                (
                    r["row"].parse().unwrap(),
                    r["column"].clone(),
                    r["code"].clone(),
                )
            })
            .collect();
        assert_eq!(expected.len() as u64, synth.bad_rows);
        let codes: BTreeSet<&str> = expected.iter().map(|(_, _, c)| c.as_str()).collect();
        assert_eq!(
            codes.len(),
            Breakage::ALL.len(),
            "every kind of breakage: {codes:?}"
        );
        let reference = crate::reference::bundled().unwrap();
        let error = account(&account_settings(dir.path()), &reference, &NoProgress).unwrap_err();
        let AppError::Input {
            issues, omitted, ..
        } = error
        else {
            panic!("an input error, got {error:?}");
        };
        assert_eq!(omitted, 0);
        let found: BTreeSet<(u64, String, String)> = issues
            .iter()
            .map(|i| {
                assert!(i.location.file.ends_with("activity.csv"), "{i}");
                (
                    i.location.row.unwrap(),
                    i.location.column.clone().unwrap(),
                    i.code.to_string(),
                )
            })
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn cardinalities_are_census_like() {
        let dir = tempfile::tempdir().unwrap();
        let synth = generate(dir.path(), 3000, 2, 3, 0.0);
        let reference = crate::reference::bundled().unwrap();
        // Every county and every four-digit class of the reference lists.
        assert_eq!(synth.counties, 2975);
        assert_eq!(synth.industries, 1381);

        let registry = read_csv(&dir.path().join("registry.csv"));
        assert_eq!(registry.len(), 3000);
        let mut manufacturing = 0;
        let mut counties = BTreeSet::new();
        let mut closed = 0;
        for e in &registry {
            let uscc = Uscc::parse(&e["uscc"]).unwrap();
            assert_eq!(uscc.region_part(), e["region_code"]);
            assert!(e["name"].contains("SYNTHETIC"));
            let region = RegionCode::parse(&e["region_code"]).unwrap();
            assert_eq!(
                reference.regions.get(region).unwrap().level,
                RegionLevel::County
            );
            counties.insert(region);
            let industry = reference
                .industries
                .get(&IndustryCode::parse(&e["industry_code"]).unwrap())
                .unwrap();
            assert_eq!(industry.level, IndustryLevel::Class);
            manufacturing += u32::from(industry.section == 'C');
            closed += u32::from(matches!(e["status"].as_str(), "关闭" | "注销"));
        }
        assert!(
            manufacturing > 2400,
            "{manufacturing} of 3000 in manufacturing"
        );
        assert!(counties.len() > 1200, "{} counties", counties.len());
        assert!((50..200).contains(&closed), "{closed} closed");
        let uscc: BTreeSet<&str> = registry.iter().map(|e| e["uscc"].as_str()).collect();
        assert_eq!(uscc.len(), registry.len(), "USCCs are unique");

        // 2–4 activity rows per enterprise and year.
        let activity = read_csv(&dir.path().join("activity.csv"));
        let mut per_year: BTreeMap<(&str, &str), u32> = BTreeMap::new();
        for row in &activity {
            *per_year.entry((&row["uscc"], &row["year"])).or_default() += 1;
        }
        assert_eq!(per_year.len(), 6000);
        assert!(per_year.values().all(|n| (2..=4).contains(n)));
        let boilers = activity
            .iter()
            .filter(|r| r["industry_code"] == "4430")
            .count();
        let capacities = activity
            .iter()
            .filter(|r| !r["capacity"].is_empty())
            .count();
        assert!(
            boilers > 300 && capacities > 2000,
            "{boilers} boilers, {capacities} capacities"
        );

        // 6–10 pollutants per key, several treatments per key, formulas with parameters.
        let coefficients = read_csv(&dir.path().join("coefficients/coefficients.csv"));
        assert_eq!(coefficients.len() as u64, synth.coefficient_rows);
        let mut keys: BTreeMap<Vec<&str>, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
        for c in &coefficients {
            let key = [
                "industry_code",
                "product",
                "raw_material",
                "process",
                "scale",
            ]
            .map(|f| c[f].as_str())
            .to_vec();
            let entry = keys.entry(key).or_default();
            entry.0.insert(&c["pollutant"]);
            entry.1.insert(&c["treatment"]);
        }
        assert_eq!(keys.len() as u64, synth.coefficient_keys);
        assert!(keys.len() > 4000, "{} keys", keys.len());
        for (key, (pollutants, treatments)) in &keys {
            assert!(
                (6..=10).contains(&pollutants.len()),
                "{key:?}: {pollutants:?}"
            );
            assert!(treatments.len() >= 3, "{key:?}: {treatments:?}");
        }
        let industries: BTreeSet<&str> = keys.keys().map(|k| k[0]).collect();
        assert_eq!(industries.len(), 1381);
        let formulas: Vec<&str> = coefficients
            .iter()
            .map(|c| c["generation_coefficient"].as_str())
            .filter(|g| g.ends_with('S') || g.ends_with("Aar"))
            .collect();
        assert_eq!(formulas.len() as u64, synth.formula_coefficient_rows);
        assert!(formulas.len() > 1000 && formulas.contains(&"16S"));
        let first_census = coefficients
            .iter()
            .filter(|c| !c["emission_coefficient"].is_empty())
            .count();
        assert!(
            first_census * 10 > coefficients.len(),
            "{first_census} emission coefficients"
        );
    }
}
