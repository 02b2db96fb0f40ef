//! The accounting engine: for each activity row, find its coefficient key, choose the treatment
//! row of each pollutant, and compute
//!
//! - generated = generation coefficient(parameters) × activity (in the coefficient's denominator
//!   unit), converted to the pollutant's report unit;
//! - emitted = emission coefficient × activity (first-census rows), or
//!   generated × (1 − efficiency/100 × k) (second-census rows), k being the treatment facility's
//!   actual operation rate (治理设施实际运行率) from the row, or the policy's value when missing.
//!
//! Resolution (key, scale class, treatments, unit factors) depends only on the row's texts, so it
//! is computed once per distinct combination and cached; the per-row work is a few multiplications.
//!
//! Treatment choice per pollutant of the key, in order: the declared technology prefixed with that
//! pollutant; else the one unprefixed declared technology the table lists for that pollutant (two
//! is an error); else the table's `直排` row, flagged as a fallback; else an error.

use std::fmt;

use crate::activity::{
    ActivityRow, DeclaredTreatment, Exclusion, Parameters, Registry, ScaleSpec, TreatmentError,
    parse_treatments,
};
use crate::coefficient::{CoefficientSet, GroupId, KeyId, Removal, RowOrigin, result_factor};
use crate::formula::{EvalError, Formula};
use crate::pollutant::{PollutantCatalog, PollutantId};
use crate::scale::{ScaleError, select_by_capacity, select_by_label};
use crate::units::Ratio;

/// What to assume when a row with a treatment gives no operation rate k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationRatePolicy {
    /// k = 1: the facility ran all the time (the default).
    Nominal,
    /// k = 0: no removal is credited without evidence.
    Strict,
}

impl OperationRatePolicy {
    /// `nominal` or `strict`.
    pub fn parse(text: &str) -> Option<OperationRatePolicy> {
        match text.trim() {
            "nominal" => Some(OperationRatePolicy::Nominal),
            "strict" => Some(OperationRatePolicy::Strict),
            _ => None,
        }
    }

    fn assumed_k(self) -> f64 {
        match self {
            OperationRatePolicy::Nominal => 1.0,
            OperationRatePolicy::Strict => 0.0,
        }
    }
}

/// Choices that change numbers. There is deliberately no `Default`: callers say what they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Missing k.
    pub missing_operation_rate: OperationRatePolicy,
}

/// Facts about how one result was computed, worth a reader's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Flags(u8);

impl Flags {
    /// No declared technology matched; the `直排` row was used.
    pub const DIRECT_FALLBACK: Flags = Flags(1);
    /// k was missing and assumed by policy.
    pub const OPERATION_RATE_ASSUMED: Flags = Flags(2);
    /// k was given but the row uses an emission coefficient, which already includes operation.
    pub const OPERATION_RATE_UNUSED: Flags = Flags(4);

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// Whether all of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Union.
    pub fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Stable names, `;`-separated, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.contains(Flags::DIRECT_FALLBACK) {
            out.push("direct_fallback");
        }
        if self.contains(Flags::OPERATION_RATE_ASSUMED) {
            out.push("operation_rate_assumed");
        }
        if self.contains(Flags::OPERATION_RATE_UNUSED) {
            out.push("operation_rate_unused");
        }
        out
    }
}

/// One pollutant's result for one activity row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emission {
    /// The pollutant.
    pub pollutant: PollutantId,
    /// Index of the coefficient row used (provenance).
    pub coefficient_row: u32,
    /// Generated quantity in the pollutant's report unit.
    pub generated: f64,
    /// Emitted quantity in the pollutant's report unit.
    pub emitted: f64,
    /// The k applied, when the row's removal is an efficiency.
    pub operation_rate: Option<f64>,
    /// Notable facts.
    pub flags: Flags,
}

/// The outcome of a row that raised no problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Results were appended.
    Accounted(KeyId),
    /// The enterprise was closed: nothing appended.
    Excluded(Exclusion),
}

/// Whether a row problem stops the run or only leaves the row out of the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Bad input: the run reports every such problem and writes nothing.
    Error,
    /// The row matches no coefficient: reported, counted, left out of the totals.
    Unaccounted,
}

/// A problem with one activity row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RowProblem {
    /// No coefficient group for industry, product, raw material and process.
    #[error(
        "no coefficient for industry `{industry}`, product `{product}`, raw material `{raw_material}`, process `{process}`"
    )]
    NoCoefficientKey {
        /// Industry class.
        industry: String,
        /// Product.
        product: String,
        /// Raw material.
        raw_material: String,
        /// Process.
        process: String,
        /// What the set has for that industry.
        available: Vec<String>,
    },
    /// The scale label or capacity matches none of the group's classes.
    #[error("no scale class for {given}; the coefficients have {}", quote_list(.available))]
    NoScaleClass {
        /// What the row gave.
        given: String,
        /// The group's labels.
        available: Vec<String>,
    },
    /// The group has several classes and the row names none.
    #[error("the coefficients have several scale classes ({}) and the row gives neither a scale nor a capacity", quote_list(.available))]
    ScaleRequired {
        /// The group's labels.
        available: Vec<String>,
    },
    /// Scale selection failed otherwise (overlap, unit mismatch).
    #[error("{0}")]
    Scale(ScaleError),
    /// The activity unit does not convert to the coefficient's denominator.
    #[error(
        "activity unit `{activity_unit}` does not convert to `{denominator}` required by coefficient row {origin}"
    )]
    ActivityUnitMismatch {
        /// The row's unit.
        activity_unit: String,
        /// The coefficient's denominator.
        denominator: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// The treatment column did not parse.
    #[error("{0}")]
    Treatment(TreatmentError),
    /// A technology prefixed with a pollutant is not listed for it.
    #[error("treatment `{declared}` is not listed for {pollutant}; the coefficients list {}", quote_list(.available))]
    UnknownTreatment {
        /// The pollutant's name.
        pollutant: String,
        /// The declared technology.
        declared: String,
        /// What the table lists.
        available: Vec<String>,
    },
    /// Two declared technologies both match a pollutant.
    #[error(
        "treatments `{first}` and `{second}` both apply to {pollutant}; prefix one with the pollutant, e.g. `{pollutant}:{first}`"
    )]
    AmbiguousTreatment {
        /// Pollutant name.
        pollutant: String,
        /// One technology.
        first: String,
        /// The other.
        second: String,
    },
    /// No declared technology matches and there is no `直排` row.
    #[error("no declared treatment matches {pollutant} and the coefficients have no `直排` row for it; they list {}", quote_list(.available))]
    NoTreatmentRow {
        /// Pollutant name.
        pollutant: String,
        /// What the table lists.
        available: Vec<String>,
    },
    /// A formula needs a parameter the row does not give.
    #[error(
        "coefficient row {origin} (`{formula}`) needs parameter `{parameter}`, which the row does not give"
    )]
    MissingParameter {
        /// The parameter.
        parameter: String,
        /// The formula text.
        formula: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// The row gives a parameter no formula of its key uses.
    #[error("parameter `{parameter}` is not used by the coefficients of this row (they use {})", if .used.is_empty() { "none".to_string() } else { quote_list(.used) })]
    UnknownParameter {
        /// The parameter.
        parameter: String,
        /// The parameters the key's formulas use.
        used: Vec<String>,
    },
    /// A formula failed to evaluate.
    #[error("coefficient row {origin} (`{formula}`): {error}")]
    Evaluation {
        /// The error.
        error: EvalError,
        /// The formula text.
        formula: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
    /// The arithmetic produced an impossible result (negative, non-finite, emitted > generated).
    #[error("coefficient row {origin} gives {what} for {pollutant}")]
    ImpossibleResult {
        /// What went wrong, e.g. "emitted 3 > generated 2".
        what: String,
        /// Pollutant name.
        pollutant: String,
        /// The coefficient row.
        origin: RowOrigin,
    },
}

fn quote_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RowProblem {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::NoCoefficientKey { .. } => "no-coefficient-key",
            RowProblem::NoScaleClass { .. } => "no-scale-class",
            RowProblem::ScaleRequired { .. } => "scale-required",
            RowProblem::Scale(_) => "bad-scale",
            RowProblem::ActivityUnitMismatch { .. } => "unit-mismatch",
            RowProblem::Treatment(_) => "bad-treatment",
            RowProblem::UnknownTreatment { .. } => "unknown-treatment",
            RowProblem::AmbiguousTreatment { .. } => "ambiguous-treatment",
            RowProblem::NoTreatmentRow { .. } => "no-treatment-row",
            RowProblem::MissingParameter { .. } => "missing-parameter",
            RowProblem::UnknownParameter { .. } => "unknown-parameter",
            RowProblem::Evaluation { .. } => "formula-evaluation",
            RowProblem::ImpossibleResult { .. } => "impossible-result",
        }
    }

    /// Whether the run must stop.
    pub fn severity(&self) -> Severity {
        match self {
            RowProblem::NoCoefficientKey { .. } | RowProblem::NoScaleClass { .. } => {
                Severity::Unaccounted
            }
            _ => Severity::Error,
        }
    }

    /// The activity column the problem is about (English name).
    pub fn column(&self) -> &'static str {
        match self {
            RowProblem::NoCoefficientKey { .. } => "product",
            RowProblem::NoScaleClass { .. }
            | RowProblem::ScaleRequired { .. }
            | RowProblem::Scale(_) => "scale",
            RowProblem::ActivityUnitMismatch { .. } => "activity_unit",
            RowProblem::Treatment(_)
            | RowProblem::UnknownTreatment { .. }
            | RowProblem::AmbiguousTreatment { .. }
            | RowProblem::NoTreatmentRow { .. } => "treatment",
            RowProblem::MissingParameter { .. } | RowProblem::UnknownParameter { .. } => {
                "parameters"
            }
            RowProblem::Evaluation { .. } | RowProblem::ImpossibleResult { .. } => "activity",
        }
    }

    /// A suggestion, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            RowProblem::NoCoefficientKey { available, .. } if !available.is_empty() => Some(
                format!(
                    "the coefficient set has for this industry (product / raw material / process): {}",
                    available.join("; ")
                ),
            ),
            RowProblem::NoCoefficientKey { .. } => {
                Some("the coefficient set has no rows for this industry".to_string())
            }
            RowProblem::ScaleRequired { .. } => Some(
                "give `scale` (规模等级) as written in the table, or `capacity` with `capacity_unit`"
                    .to_string(),
            ),
            RowProblem::MissingParameter { parameter, .. } => {
                Some(format!("add it to the `parameters` column, e.g. `{parameter}=1.2`"))
            }
            _ => None,
        }
    }
}

struct PlanEntry {
    row: u32,
    factor: Ratio,
    fallback: bool,
    /// Whether the coefficient row is the `直排` row (k is irrelevant there).
    direct: bool,
    /// The row's pollutant and, when neither of its coefficients is a formula with parameters,
    /// their values: most rows are plain numbers, and copying them here saves reading the
    /// coefficient row (and its formulas) for every result.
    pollutant: PollutantId,
    constants: Option<(f64, RemovalValue)>,
}

struct Plan {
    key: KeyId,
    entries: Vec<PlanEntry>,
    parameters_used: Vec<String>,
}

/// Applies one coefficient set to activity rows. Holds a cache of resolutions; one engine per
/// thread.
pub struct Engine<'s> {
    set: &'s CoefficientSet,
    catalog: &'s PollutantCatalog,
    registry: &'s Registry,
    policy: Policy,
    /// Index into `resolutions` by the row's texts (see `fill_key_buffer`): one look-up a row.
    cache: crate::FastMap<Box<str>, u32>,
    resolutions: Vec<Resolution>,
    key_buffer: String,
}

/// A cached resolution of a row's texts. Rows that give a capacity share one entry per key
/// group, unit and treatments whatever the capacity: the scale class is chosen per row (a few
/// comparisons), and each class's plan is made once, when first needed.
enum Resolution {
    /// Resolved once and for all (a scale label, or no scale).
    Fixed(Result<Plan, RowProblem>),
    /// The group's scale classes and a plan per class, made on first use.
    ByCapacity(Result<CapacityPlans, RowProblem>),
}

struct CapacityPlans {
    scales: Vec<crate::scale::ScaleClass>,
    keys: Vec<KeyId>,
    plans: Vec<Option<Result<Plan, RowProblem>>>,
}

/// Above this many cached resolutions the cache is cleared, so that rows with ever-new
/// capacities cannot grow memory without bound.
const CACHE_LIMIT: usize = 200_000;

impl<'s> Engine<'s> {
    /// An engine over one set.
    pub fn new(
        set: &'s CoefficientSet,
        catalog: &'s PollutantCatalog,
        registry: &'s Registry,
        policy: Policy,
    ) -> Engine<'s> {
        Engine {
            set,
            catalog,
            registry,
            policy,
            cache: crate::FastMap::default(),
            resolutions: Vec::new(),
            key_buffer: String::new(),
        }
    }

    /// The set this engine applies.
    pub fn set(&self) -> &'s CoefficientSet {
        self.set
    }

    /// Accounts one row, appending one [`Emission`] per pollutant of its key to `out`. On error
    /// nothing is appended.
    pub fn account(
        &mut self,
        row: &ActivityRow<'_>,
        out: &mut Vec<Emission>,
    ) -> Result<Outcome, RowProblem> {
        if let Some(exclusion) = self.registry.exclusion(row.enterprise, row.year) {
            return Ok(Outcome::Excluded(exclusion));
        }
        self.fill_key_buffer(row);
        let index = match self.cache.get(self.key_buffer.as_str()) {
            Some(&index) => index as usize,
            None => {
                if self.cache.len() >= CACHE_LIMIT {
                    self.cache.clear();
                    self.resolutions.clear();
                }
                let resolution = match row.scale {
                    ScaleSpec::Capacity { .. } => {
                        Resolution::ByCapacity(find_group(self.set, row).map(|group_id| {
                            let group = self.set.group(group_id);
                            CapacityPlans {
                                scales: group
                                    .keys
                                    .iter()
                                    .map(|k| self.set.key(*k).scale.clone())
                                    .collect(),
                                keys: group.keys.clone(),
                                plans: group.keys.iter().map(|_| None).collect(),
                            }
                        }))
                    }
                    _ => Resolution::Fixed(resolve(self.set, self.catalog, row)),
                };
                let index = self.resolutions.len();
                self.resolutions.push(resolution);
                self.cache.insert(
                    self.key_buffer.clone().into_boxed_str(),
                    u32::try_from(index).expect("the cache is cleared long before 2^32"),
                );
                index
            }
        };
        let (set, catalog) = (self.set, self.catalog);
        let plan = match &mut self.resolutions[index] {
            Resolution::Fixed(Ok(plan)) => &*plan,
            Resolution::Fixed(Err(problem)) => return Err(problem.clone()),
            Resolution::ByCapacity(Err(problem)) => return Err(problem.clone()),
            Resolution::ByCapacity(Ok(by)) => {
                let ScaleSpec::Capacity { value, unit } = row.scale else {
                    unreachable!("capacity rows have capacity entries");
                };
                let index = match select_by_capacity(&by.scales, value, unit) {
                    Ok(class) => by
                        .scales
                        .iter()
                        .position(|s| std::ptr::eq(s, class))
                        .unwrap_or(0),
                    Err(ScaleError::NoClass { .. }) => {
                        return Err(RowProblem::NoScaleClass {
                            given: format!("capacity `{value}` {unit}"),
                            available: by.scales.iter().map(|s| s.label().to_string()).collect(),
                        });
                    }
                    Err(e) => return Err(RowProblem::Scale(e)),
                };
                let key_id = by.keys[index];
                match by.plans[index].get_or_insert_with(|| plan_for_key(set, catalog, row, key_id))
                {
                    Ok(plan) => &*plan,
                    Err(problem) => return Err(problem.clone()),
                }
            }
        };
        for name in row.parameters.names() {
            if !plan.parameters_used.iter().any(|used| used == name) {
                return Err(RowProblem::UnknownParameter {
                    parameter: name.to_string(),
                    used: plan.parameters_used.clone(),
                });
            }
        }
        let start = out.len();
        for entry in &plan.entries {
            match compute(self.set, self.catalog, self.policy, row, entry) {
                Ok(emission) => out.push(emission),
                Err(problem) => {
                    out.truncate(start);
                    return Err(problem);
                }
            }
        }
        Ok(Outcome::Accounted(plan.key))
    }

    /// The resolution cache key: every text the resolution depends on, joined by U+001F. Built
    /// with `push_str` because this runs for every row.
    fn fill_key_buffer(&mut self, row: &ActivityRow<'_>) {
        const SEP: char = '\u{1f}';
        let b = &mut self.key_buffer;
        b.clear();
        for part in [
            row.industry.digits(),
            row.product,
            row.raw_material,
            row.process,
        ] {
            b.push_str(part);
            b.push(SEP);
        }
        match row.scale {
            ScaleSpec::Label(label) => {
                b.push('L');
                b.push_str(label);
            }
            // The value is left out: the class is chosen per row (see `Resolution`).
            ScaleSpec::Capacity { unit, .. } => {
                b.push('C');
                b.push_str(unit.symbol());
            }
            ScaleSpec::Unspecified => b.push('U'),
        }
        for part in [row.treatment, row.activity_unit.symbol()] {
            b.push(SEP);
            b.push_str(part);
        }
    }
}

fn compute(
    set: &CoefficientSet,
    catalog: &PollutantCatalog,
    policy: Policy,
    row: &ActivityRow<'_>,
    entry: &PlanEntry,
) -> Result<Emission, RowProblem> {
    if let Some((generation, removal)) = entry.constants
        && let Ok(quantities) = arithmetic(
            generation,
            removal,
            &Inputs {
                factor: entry.factor,
                activity: row.activity,
                fallback: entry.fallback,
                direct: entry.direct,
                operation_rate: row.operation_rate,
            },
            policy,
        )
    {
        return Ok(Emission {
            pollutant: entry.pollutant,
            coefficient_row: entry.row,
            generated: quantities.generated,
            emitted: quantities.emitted,
            operation_rate: quantities.operation_rate,
            flags: quantities.flags,
        });
    }
    // A formula, or a result the arithmetic refuses: the whole row, for the message.
    let coefficient = set.row(entry.row);
    let quantities = apply(
        &Application {
            generation: &coefficient.generation,
            removal: &coefficient.removal,
            origin: &coefficient.origin,
            pollutant: coefficient.pollutant,
            direct: entry.direct,
            fallback: entry.fallback,
            factor: entry.factor,
            activity: row.activity,
            parameters: row.parameters,
            operation_rate: row.operation_rate,
        },
        catalog,
        policy,
    )?;
    Ok(Emission {
        pollutant: coefficient.pollutant,
        coefficient_row: entry.row,
        generated: quantities.generated,
        emitted: quantities.emitted,
        operation_rate: quantities.operation_rate,
        flags: quantities.flags,
    })
}

/// One coefficient applied to one activity: everything the arithmetic needs, and nothing about
/// how the coefficient was found. Every source category computes through [`apply`] with one of
/// these: industrial rows (through [`Engine::account`]), and the domestic, livestock and
/// monitoring rows of [`crate::sources`].
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    /// The generation coefficient (产污系数), a number or a formula.
    pub generation: &'a Formula,
    /// The removal: an efficiency, an emission coefficient, or none.
    pub removal: &'a Removal,
    /// The coefficient row, for messages and provenance.
    pub origin: &'a RowOrigin,
    /// The pollutant (its name is used in messages only).
    pub pollutant: PollutantId,
    /// Whether the coefficient row is the `直排` row (k is then irrelevant).
    pub direct: bool,
    /// Whether the `直排` row was used because no declared treatment matched (a flag only).
    pub fallback: bool,
    /// The exact factor from `coefficient × activity` to the pollutant's report unit.
    pub factor: Ratio,
    /// The activity level, in the unit the factor was made for.
    pub activity: f64,
    /// The formula parameters the activity gives.
    pub parameters: &'a Parameters,
    /// The operation rate k given with the activity, if any.
    pub operation_rate: Option<f64>,
}

/// The generated and emitted quantities of one [`Application`], in the report unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantities {
    /// Generated.
    pub generated: f64,
    /// Emitted.
    pub emitted: f64,
    /// The k applied, when the removal is an efficiency.
    pub operation_rate: Option<f64>,
    /// Notable facts.
    pub flags: Flags,
}

/// The one arithmetic of npsc: generated = factor × (coefficient(parameters) × activity);
/// emitted = factor × (emission coefficient(parameters) × activity), or generated × (1 −
/// efficiency/100 × k), or generated. The result is checked: finite, not negative, emitted ≤
/// generated.
pub fn apply(
    application: &Application<'_>,
    catalog: &PollutantCatalog,
    policy: Policy,
) -> Result<Quantities, RowProblem> {
    let a = application;
    let evaluate = |formula: &Formula| -> Result<f64, RowProblem> {
        if let Some(value) = formula.constant_value() {
            return Ok(value);
        }
        formula
            .eval_with(|name| a.parameters.get(name))
            .map_err(|error| match error {
                EvalError::MissingParameter(parameter) => RowProblem::MissingParameter {
                    parameter,
                    formula: formula.text().to_string(),
                    origin: a.origin.clone(),
                },
                error => RowProblem::Evaluation {
                    error,
                    formula: formula.text().to_string(),
                    origin: a.origin.clone(),
                },
            })
    };
    let generation = evaluate(a.generation)?;
    let removal = match a.removal {
        Removal::Efficiency { percent } => RemovalValue::Efficiency(*percent),
        Removal::None => RemovalValue::None,
        Removal::EmissionCoefficient(formula) => {
            RemovalValue::EmissionCoefficient(evaluate(formula)?)
        }
    };
    let inputs = Inputs {
        factor: a.factor,
        activity: a.activity,
        fallback: a.fallback,
        direct: a.direct,
        operation_rate: a.operation_rate,
    };
    arithmetic(generation, removal, &inputs, policy).map_err(|what| RowProblem::ImpossibleResult {
        what,
        pollutant: catalog.get(a.pollutant).name.clone(),
        origin: a.origin.clone(),
    })
}

/// A removal with its coefficient evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RemovalValue {
    /// Removal efficiency in percent.
    Efficiency(f64),
    /// The emission coefficient's value.
    EmissionCoefficient(f64),
    /// Emitted = generated.
    None,
}

/// What [`arithmetic`] needs besides the coefficients' values.
struct Inputs {
    factor: Ratio,
    activity: f64,
    fallback: bool,
    direct: bool,
    operation_rate: Option<f64>,
}

/// The arithmetic of [`apply`] on evaluated coefficients; an impossible result is `Err` with
/// what was impossible.
fn arithmetic(
    generation: f64,
    removal: RemovalValue,
    a: &Inputs,
    policy: Policy,
) -> Result<Quantities, String> {
    let generated = a.factor.apply(generation * a.activity);
    let mut flags = if a.fallback {
        Flags::DIRECT_FALLBACK
    } else {
        Flags::empty()
    };
    let mut applied_k = None;
    let emitted = match removal {
        RemovalValue::Efficiency(percent) if percent != 0.0 => {
            let k = match a.operation_rate {
                Some(k) => k,
                None => {
                    flags = flags.with(Flags::OPERATION_RATE_ASSUMED);
                    policy.missing_operation_rate.assumed_k()
                }
            };
            applied_k = Some(k);
            generated * (1.0 - percent / 100.0 * k)
        }
        RemovalValue::Efficiency(_) | RemovalValue::None => generated,
        RemovalValue::EmissionCoefficient(value) => {
            if a.operation_rate.is_some() && !a.direct {
                flags = flags.with(Flags::OPERATION_RATE_UNUSED);
            }
            a.factor.apply(value * a.activity)
        }
    };
    if !generated.is_finite() || !emitted.is_finite() {
        return Err("a non-finite quantity".to_string());
    }
    if generated < 0.0 || emitted < 0.0 {
        return Err(format!(
            "a negative quantity (generated {generated}, emitted {emitted})"
        ));
    }
    if emitted > generated {
        return Err(format!("emitted {emitted} > generated {generated}"));
    }
    Ok(Quantities {
        generated,
        emitted,
        operation_rate: applied_k,
        flags,
    })
}

/// The key group of a row's industry, product, raw material and process.
fn find_group(set: &CoefficientSet, row: &ActivityRow<'_>) -> Result<GroupId, RowProblem> {
    let Some(group_id) = set.find_group(row.industry, row.product, row.raw_material, row.process)
    else {
        let mut available: Vec<String> = set
            .groups_of_industry(row.industry)
            .map(|g| format!("{} / {} / {}", g.product, g.raw_material, g.process))
            .collect();
        available.sort();
        available.dedup();
        return Err(RowProblem::NoCoefficientKey {
            industry: row.industry.to_string(),
            product: row.product.to_string(),
            raw_material: row.raw_material.to_string(),
            process: row.process.to_string(),
            available,
        });
    };
    Ok(group_id)
}

fn resolve(
    set: &CoefficientSet,
    catalog: &PollutantCatalog,
    row: &ActivityRow<'_>,
) -> Result<Plan, RowProblem> {
    let group_id = find_group(set, row)?;
    let group = set.group(group_id);
    let scales: Vec<_> = group
        .keys
        .iter()
        .map(|k| set.key(*k).scale.clone())
        .collect();
    let labels = || {
        scales
            .iter()
            .map(|s| s.label().to_string())
            .collect::<Vec<_>>()
    };
    let key_of = |class: &crate::scale::ScaleClass| -> KeyId {
        let index = scales
            .iter()
            .position(|s| std::ptr::eq(s, class))
            .expect("class comes from scales");
        group.keys[index]
    };
    let key_id = match row.scale {
        ScaleSpec::Label(label) => match select_by_label(&scales, label) {
            Some(class) => key_of(class),
            None => {
                let all: Vec<_> = scales
                    .iter()
                    .filter(|s| matches!(s.kind(), crate::scale::ScaleKind::All))
                    .collect();
                if all.len() == 1 {
                    key_of(all[0])
                } else {
                    return Err(RowProblem::NoScaleClass {
                        given: format!("label `{label}`"),
                        available: labels(),
                    });
                }
            }
        },
        ScaleSpec::Capacity { value, unit } => match select_by_capacity(&scales, value, unit) {
            Ok(class) => key_of(class),
            Err(ScaleError::NoClass { .. }) => {
                return Err(RowProblem::NoScaleClass {
                    given: format!("capacity `{value}` {unit}"),
                    available: labels(),
                });
            }
            Err(e) => return Err(RowProblem::Scale(e)),
        },
        ScaleSpec::Unspecified => {
            if group.keys.len() == 1 {
                group.keys[0]
            } else {
                return Err(RowProblem::ScaleRequired {
                    available: labels(),
                });
            }
        }
    };
    plan_for_key(set, catalog, row, key_id)
}

/// The plan of a row whose key is known: the treatment row per pollutant and the exact factor.
fn plan_for_key(
    set: &CoefficientSet,
    catalog: &PollutantCatalog,
    row: &ActivityRow<'_>,
    key_id: KeyId,
) -> Result<Plan, RowProblem> {
    let declared = parse_treatments(row.treatment, catalog).map_err(RowProblem::Treatment)?;
    let key = set.key(key_id);
    let mut entries = Vec::with_capacity(key.pollutants.len());
    let mut parameters_used: Vec<String> = Vec::new();
    for rows in &key.pollutants {
        let (row_index, fallback) = choose_treatment(set, catalog, rows, &declared)?;
        let coefficient = set.row(row_index);
        let factor = result_factor(coefficient, row.activity_unit, catalog).map_err(|_| {
            RowProblem::ActivityUnitMismatch {
                activity_unit: row.activity_unit.symbol().to_string(),
                denominator: coefficient.unit.denominator.symbol().to_string(),
                origin: coefficient.origin.clone(),
            }
        })?;
        let mut names: Vec<&String> = coefficient.generation.parameters().iter().collect();
        if let Removal::EmissionCoefficient(f) = &coefficient.removal {
            names.extend(f.parameters());
        }
        for name in names {
            if !parameters_used.contains(name) {
                parameters_used.push(name.clone());
            }
        }
        let removal = match &coefficient.removal {
            Removal::Efficiency { percent } => Some(RemovalValue::Efficiency(*percent)),
            Removal::None => Some(RemovalValue::None),
            Removal::EmissionCoefficient(formula) => formula
                .constant_value()
                .map(RemovalValue::EmissionCoefficient),
        };
        entries.push(PlanEntry {
            row: row_index,
            factor,
            fallback,
            direct: coefficient.is_direct(),
            pollutant: coefficient.pollutant,
            constants: coefficient.generation.constant_value().zip(removal),
        });
    }
    Ok(Plan {
        key: key_id,
        entries,
        parameters_used,
    })
}

fn choose_treatment(
    set: &CoefficientSet,
    catalog: &PollutantCatalog,
    rows: &crate::coefficient::PollutantRows,
    declared: &[DeclaredTreatment],
) -> Result<(u32, bool), RowProblem> {
    let name = || catalog.get(rows.pollutant).name.clone();
    let available = || {
        rows.treatments
            .iter()
            .map(|(_, r)| set.row(*r).treatment.clone())
            .collect::<Vec<_>>()
    };
    let find = |d: &DeclaredTreatment| {
        rows.treatments
            .iter()
            .find(|(key, _)| *key == d.key)
            .map(|(_, r)| *r)
    };
    let prefixed: Vec<&DeclaredTreatment> = declared
        .iter()
        .filter(|d| d.pollutant == Some(rows.pollutant))
        .collect();
    match prefixed.as_slice() {
        [] => {}
        [one] => {
            return match find(one) {
                Some(r) => Ok((r, false)),
                None => Err(RowProblem::UnknownTreatment {
                    pollutant: name(),
                    declared: one.name.clone(),
                    available: available(),
                }),
            };
        }
        [first, second, ..] => {
            return Err(RowProblem::AmbiguousTreatment {
                pollutant: name(),
                first: first.name.clone(),
                second: second.name.clone(),
            });
        }
    }
    let mut matched: Option<(&DeclaredTreatment, u32)> = None;
    for d in declared.iter().filter(|d| d.pollutant.is_none()) {
        if let Some(r) = find(d) {
            if let Some((first, _)) = matched {
                return Err(RowProblem::AmbiguousTreatment {
                    pollutant: name(),
                    first: first.name.clone(),
                    second: d.name.clone(),
                });
            }
            matched = Some((d, r));
        }
    }
    if let Some((_, r)) = matched {
        return Ok((r, false));
    }
    match rows.direct {
        Some(r) => Ok((r, true)),
        None => Err(RowProblem::NoTreatmentRow {
            pollutant: name(),
            available: available(),
        }),
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Unaccounted => "unaccounted",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::{Enterprise, Parameters, Status};
    use crate::codes::{IndustryCode, RegionCode, Uscc};
    use crate::coefficient::{CoefficientRow, SetMeta};
    use crate::formula::Formula;
    use crate::pollutant::{Medium, PollutantDef};
    use crate::scale::ScaleClass;
    use crate::units::{CoefficientUnit, Unit};

    /// A boiler key with SO2 (直排, 湿法 15 %, 湿式 70 %) and NOx (直排 and 低氮燃烧 30 %), or NOx
    /// without 直排 when `nox_direct` is false.
    fn fixture(nox_direct: bool) -> (CoefficientSet, PollutantCatalog, Registry) {
        let def = |code: &str, name: &str| PollutantDef {
            code: code.into(),
            name: name.into(),
            medium: Medium::Air,
            report_unit: Unit::parse("吨").unwrap(),
            aliases: vec![],
            tax: None,
        };
        let catalog =
            PollutantCatalog::new(vec![def("SO2", "二氧化硫"), def("NOX", "氮氧化物")]).unwrap();
        let mut rows = Vec::new();
        let mut add = |pollutant: &str, generation: &str, treatment: &str, percent: f64| {
            rows.push(CoefficientRow {
                origin: RowOrigin {
                    table: "t.csv".into(),
                    row: rows.len() as u64 + 2,
                },
                industry: IndustryCode::parse("4430").unwrap(),
                section: None,
                product: "蒸汽".into(),
                raw_material: "煤炭".into(),
                process: "层燃炉".into(),
                scale: ScaleClass::parse("所有规模").unwrap(),
                pollutant: catalog.lookup(pollutant).unwrap(),
                unit: CoefficientUnit::parse("千克/吨-原料").unwrap(),
                generation: Formula::parse(generation).unwrap(),
                treatment: treatment.into(),
                removal: Removal::Efficiency { percent },
                note: None,
            });
        };
        add("二氧化硫", "16S", "直排", 0.0);
        add("二氧化硫", "16S", "湿法除尘法", 15.0);
        add("二氧化硫", "16S", "湿式除尘脱硫", 70.0);
        if nox_direct {
            add("氮氧化物", "2.94", "直排", 0.0);
        }
        add("氮氧化物", "2.94", "低氮燃烧", 30.0);
        let meta = SetMeta {
            id: "test".into(),
            edition: 1,
            title: String::new(),
            effective_from: None,
            provenance: "test".into(),
            synthetic: true,
            key_migrations: Vec::new(),
        };
        let set = CoefficientSet::build(meta, rows, &catalog).unwrap();
        let registry = Registry::new(vec![Enterprise {
            uscc: Uscc::parse("91350100M000100Y43").unwrap(),
            name: "测试".into(),
            region: RegionCode::parse("350100").unwrap(),
            industry: IndustryCode::parse("4430").unwrap(),
            status: Status::Operating,
            status_date: None,
            permit_no: None,
            row: 2,
        }])
        .unwrap();
        (set, catalog, registry)
    }

    /// Accounts 1000 t of coal with S = 1 (SO2 generated 16 t, NOx 2.94 t) under `treatment`;
    /// returns `pollutant: treatment emitted [flags]` lines (emitted in t, 6 decimals: the binary
    /// rounding of 0.7 × 0.8 shows in the 16th digit), or the problem's code.
    fn check(
        nox_direct: bool,
        treatment: &str,
        k: Option<f64>,
    ) -> Result<Vec<String>, &'static str> {
        let (set, catalog, registry) = fixture(nox_direct);
        let policy = Policy {
            missing_operation_rate: OperationRatePolicy::Nominal,
        };
        let mut engine = Engine::new(&set, &catalog, &registry, policy);
        let industry = IndustryCode::parse("4430").unwrap();
        let unit = Unit::parse("吨").unwrap();
        let parameters = Parameters::parse("S=1").unwrap();
        let row = ActivityRow {
            row: 2,
            year: 2023,
            enterprise: registry
                .find(&Uscc::parse("91350100M000100Y43").unwrap())
                .unwrap(),
            industry: &industry,
            product: "蒸汽",
            raw_material: "煤炭",
            process: "层燃炉",
            scale: ScaleSpec::Unspecified,
            treatment,
            activity: 1000.0,
            activity_unit: &unit,
            operation_rate: k,
            parameters: &parameters,
        };
        let mut out = Vec::new();
        engine.account(&row, &mut out).map_err(|p| p.code())?;
        Ok(out
            .iter()
            .map(|e| {
                let coefficient = set.row(e.coefficient_row);
                format!(
                    "{}: {} {} {:?}",
                    catalog.get(e.pollutant).name,
                    coefficient.treatment,
                    crate::render::quantity(e.emitted, crate::render::Precision::Decimals(6)),
                    e.flags.names()
                )
            })
            .collect())
    }

    #[test]
    fn treatment_choice_follows_the_documented_order() {
        // Prefixed beats unprefixed; k = 0.8: 16 × (1 − 0.7 × 0.8) = 7.04; NOx falls back.
        assert_eq!(
            check(true, "湿法除尘法; 二氧化硫:湿式除尘脱硫", Some(0.8)).unwrap(),
            [
                "二氧化硫: 湿式除尘脱硫 7.040000 []",
                "氮氧化物: 直排 2.940000 [\"direct_fallback\"]"
            ]
        );
        // One unprefixed technology listed for SO2; NOx 低氮燃烧 30 % with k = 1 assumed.
        assert_eq!(
            check(true, "湿法除尘法；低氮燃烧", None).unwrap(),
            [
                "二氧化硫: 湿法除尘法 13.600000 [\"operation_rate_assumed\"]",
                "氮氧化物: 低氮燃烧 2.058000 [\"operation_rate_assumed\"]"
            ]
        );
        // Declaring 直排 is not a fallback.
        assert_eq!(
            check(true, "直排", None).unwrap(),
            ["二氧化硫: 直排 16.000000 []", "氮氧化物: 直排 2.940000 []"]
        );
    }

    #[test]
    fn treatment_problems_are_errors_of_the_row() {
        assert_eq!(
            check(true, "湿法除尘法; 湿式除尘脱硫", Some(1.0)),
            Err("ambiguous-treatment")
        );
        assert_eq!(
            check(true, "二氧化硫:炉内脱硫", Some(1.0)),
            Err("unknown-treatment")
        );
        assert_eq!(
            check(true, "二氧化碳:炉内脱硫", Some(1.0)),
            Err("bad-treatment")
        );
        assert_eq!(
            check(false, "湿法除尘法", Some(1.0)),
            Err("no-treatment-row")
        );
        assert_eq!(check(true, "", Some(1.0)).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn closed_enterprises_are_excluded_from_later_years_only() {
        let (set, catalog, mut registry) = fixture(true);
        let mut enterprises: Vec<_> = registry.iter().cloned().collect();
        enterprises[0].status = Status::Closed;
        enterprises[0].status_date = Some(crate::date::Date::new(2022, 9, 30).unwrap());
        registry = Registry::new(enterprises).unwrap();
        let id = registry
            .find(&Uscc::parse("91350100M000100Y43").unwrap())
            .unwrap();
        assert_eq!(registry.exclusion(id, 2022), None);
        assert!(matches!(
            registry.exclusion(id, 2023),
            Some(Exclusion::ClosedBefore { .. })
        ));
        let _ = (set, catalog);
    }
}
