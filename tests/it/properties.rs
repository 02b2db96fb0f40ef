//! Invariants of the accounting, checked on random activity drawn from the real excerpt's keys:
//! totals are linear in activity, and independent of row order and of how the rows are split
//! across files (partial totals merged).

use accounting::activity::{ActivityRow, Parameters, Registry, ScaleSpec};
use accounting::codes::{IndustryCode, RegionLevel};
use accounting::coefficient::CoefficientSet;
use accounting::engine::{Engine, OperationRatePolicy, Outcome, Policy};
use accounting::totals::{TotalRow, Totals};
use accounting::units::Unit;
use approx::relative_eq;
use ingest::Source;
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use proptest::prelude::*;

use crate::support::{excerpt, reference, root};

/// A row template: (uscc, industry, product, raw, process, scale label, treatment, unit, k, S).
type Template = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<f64>,
    Option<f64>,
);

const TEMPLATES: &[Template] = &[
    (
        "91152502MA2BPPBJ0K",
        "1351",
        "冻羊肉",
        "羊",
        "屠宰、分割",
        "≥1500头/天屠宰",
        "沉淀分离",
        "头",
        None,
        None,
    ),
    (
        "91152525MAWTL29GX3",
        "1351",
        "冻羊肉",
        "羊",
        "屠宰、分割",
        "<1500头/天屠宰",
        "化学+好氧生物处理",
        "万头",
        Some(0.9),
        None,
    ),
    (
        "91130109MAK4GR6066",
        "4430",
        "蒸汽",
        "煤炭",
        "层燃炉",
        "所有规模",
        "二氧化硫:湿式除尘脱硫",
        "吨",
        Some(0.8),
        Some(1.2),
    ),
    (
        "91130123MA2XB6W94M",
        "4430",
        "蒸汽",
        "煤炭",
        "层燃炉",
        "所有规模",
        "添加脱硫剂",
        "万吨",
        None,
        Some(0.7),
    ),
    (
        "91370783MAQ848J576",
        "4411",
        "电能",
        "煤炭",
        "煤粉炉",
        "≥750兆瓦",
        "直排",
        "万吨",
        None,
        None,
    ),
];

struct World {
    reference: Reference,
    set: CoefficientSet,
    registry: Registry,
    industries: Vec<IndustryCode>,
    units: Vec<Unit>,
    parameters: Vec<Parameters>,
}

fn world() -> World {
    let reference = reference();
    let read = ReadOptions::default();
    let set = ingest::coefficients::load_set(&excerpt(), &reference, &read).expect("excerpt loads");
    let registry_path = root().join("datasets/sample-synthetic/registry.csv");
    let registry = ingest::registry::read_registry(Source::Path(&registry_path), &reference, &read)
        .expect("registry loads");
    World {
        industries: TEMPLATES
            .iter()
            .map(|t| IndustryCode::parse(t.1).expect("code"))
            .collect(),
        units: TEMPLATES
            .iter()
            .map(|t| Unit::parse(t.7).expect("unit"))
            .collect(),
        parameters: TEMPLATES
            .iter()
            .map(|t| match t.9 {
                Some(s) => Parameters::parse(&format!("S={s}")).expect("parameters"),
                None => Parameters::default(),
            })
            .collect(),
        reference,
        set,
        registry,
    }
}

/// Accounts (template index, year, activity) rows into province totals.
fn totals(world: &World, rows: &[(usize, u16, f64)]) -> Totals {
    let policy = Policy {
        missing_operation_rate: OperationRatePolicy::Nominal,
    };
    let mut engine = Engine::new(
        &world.set,
        &world.reference.pollutants,
        &world.registry,
        policy,
    );
    let mut totals = Totals::new();
    let mut out = Vec::new();
    for (n, &(t, year, activity)) in rows.iter().enumerate() {
        let template = &TEMPLATES[t];
        let uscc = accounting::codes::Uscc::parse(template.0).expect("uscc");
        let enterprise = world.registry.find(&uscc).expect("in registry");
        let row = ActivityRow {
            row: n as u64 + 2,
            year,
            enterprise,
            industry: &world.industries[t],
            product: template.2,
            raw_material: template.3,
            process: template.4,
            scale: ScaleSpec::Label(template.5),
            treatment: template.6,
            activity,
            activity_unit: &world.units[t],
            operation_rate: template.8,
            parameters: &world.parameters[t],
        };
        out.clear();
        let outcome = engine.account(&row, &mut out).expect("row accounts");
        assert!(matches!(outcome, Outcome::Accounted(_)));
        let region = world
            .reference
            .regions
            .at_level(world.registry.get(enterprise).region, RegionLevel::Province);
        for e in &out {
            totals.add(year, region, None, e);
        }
    }
    totals
}

/// Compensated sums make reordering and merging agree to a few ulps; 1e-12 relative is far
/// above that and far below any meaningful difference.
const SUM_TOLERANCE: f64 = 1e-12;

fn same(a: &[TotalRow], b: &[TotalRow], scale: f64, tolerance: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        prop_assert_eq!(
            (x.year, x.region, x.pollutant, x.rows),
            (y.year, y.region, y.pollutant, y.rows)
        );
        prop_assert!(
            relative_eq!(x.generated * scale, y.generated, max_relative = tolerance),
            "generated {} × {scale} vs {}",
            x.generated,
            y.generated
        );
        prop_assert!(
            relative_eq!(x.emitted * scale, y.emitted, max_relative = tolerance),
            "emitted {} × {scale} vs {}",
            x.emitted,
            y.emitted
        );
    }
    Ok(())
}

fn rows_strategy() -> impl Strategy<Value = Vec<(usize, u16, f64)>> {
    prop::collection::vec((0..TEMPLATES.len(), 2022u16..=2023, 0.0f64..1.0e6), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn totals_are_linear_in_activity(rows in rows_strategy(), factor in 0.001f64..1000.0) {
        let world = world();
        let scaled: Vec<_> = rows.iter().map(|&(t, y, a)| (t, y, a * factor)).collect();
        // Each result is one product more, so a handful of roundings: 1e-12 relative holds.
        same(&totals(&world, &rows).rows(), &totals(&world, &scaled).rows(), factor, SUM_TOLERANCE)?;
    }

    #[test]
    fn totals_do_not_depend_on_row_order(rows in rows_strategy(), seed in any::<u64>()) {
        let world = world();
        let mut shuffled = rows.clone();
        // A deterministic Fisher–Yates driven by the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        same(&totals(&world, &rows).rows(), &totals(&world, &shuffled).rows(), 1.0, SUM_TOLERANCE)?;
    }

    #[test]
    fn totals_do_not_depend_on_file_partitioning(rows in rows_strategy(), cut in 0usize..60) {
        let world = world();
        let cut = cut.min(rows.len());
        let mut merged = totals(&world, &rows[..cut]);
        merged.merge(totals(&world, &rows[cut..]));
        same(&totals(&world, &rows).rows(), &merged.rows(), 1.0, SUM_TOLERANCE)?;
    }
}
