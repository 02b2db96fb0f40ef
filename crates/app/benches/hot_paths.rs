//! Micro-benchmarks of the per-row hot paths of `npsc account`, on the bundled sample (real
//! first-census coefficients, synthetic enterprises): reading and checking activity rows (CSV
//! decode), the whole row through the engine (key resolution from the cache and the arithmetic),
//! finding a key group, formula evaluation, and aggregation. Whole-process figures against a peer
//! are `cli/bench/national.sh`'s; these say where a change moves the time.
//!
//!     cargo bench -p app --bench hot_paths

use std::path::{Path, PathBuf};

use accounting::codes::{IndustryCode, RegionCode};
use accounting::engine::{Emission, Engine, Flags, OperationRatePolicy, Policy};
use accounting::formula::Formula;
use accounting::pollutant::PollutantId;
use accounting::totals::Totals;
use divan::{Bencher, black_box};
use ingest::Source;
use ingest::activity::{ActivityReader, Next};
use ingest::table::ReadOptions;

fn main() {
    divan::main();
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The sample's activity rows, 100 times over, as CSV bytes.
fn activity_bytes() -> Vec<u8> {
    let sample = std::fs::read_to_string(repo("datasets/sample-synthetic/activity.csv"))
        .expect("sample activity");
    let mut lines = sample.lines();
    let mut text = format!("{}\n", lines.next().expect("header"));
    let rows: Vec<&str> = lines.collect();
    for _ in 0..100 {
        for row in &rows {
            text.push_str(row);
            text.push('\n');
        }
    }
    text.into_bytes()
}

struct Fixture {
    reference: ingest::reference::Reference,
    registry: accounting::activity::Registry,
    set: accounting::coefficient::CoefficientSet,
    activity: Vec<u8>,
}

fn fixture() -> Fixture {
    let reference = app::reference::bundled().expect("reference");
    let read = ReadOptions::default();
    let registry = ingest::registry::read_registry(
        Source::Path(&repo("datasets/sample-synthetic/registry.csv")),
        &reference,
        &read,
    )
    .expect("registry");
    let set =
        ingest::coefficients::load_set(&repo("coefficients/npsc1-excerpt"), &reference, &read)
            .expect("coefficients");
    Fixture {
        reference,
        registry,
        set,
        activity: activity_bytes(),
    }
}

/// Reads and checks every row (no accounting): CSV decode, cell parsing, registry look-up.
#[divan::bench(sample_count = 20)]
fn read_activity_rows(bencher: Bencher) {
    let f = fixture();
    bencher.bench_local(|| {
        let mut reader = ActivityReader::open(
            Source::Bytes {
                name: "activity.csv",
                bytes: &f.activity,
            },
            &ReadOptions::default(),
        )
        .expect("opens");
        let mut issues = ingest::Issues::new();
        let mut rows = 0u64;
        loop {
            match reader.next(&f.reference, &f.registry, &mut issues, |item| item.row.year) {
                Ok(Next::End) => break,
                Ok(_) => rows += 1,
                Err(_) => break,
            }
        }
        black_box(rows)
    });
}

/// Reads every row and accounts it: the plan from the cache, the arithmetic per pollutant.
#[divan::bench(sample_count = 20)]
fn read_and_account_rows(bencher: Bencher) {
    let f = fixture();
    let policy = Policy {
        missing_operation_rate: OperationRatePolicy::Nominal,
    };
    bencher.bench_local(|| {
        let mut reader = ActivityReader::open(
            Source::Bytes {
                name: "activity.csv",
                bytes: &f.activity,
            },
            &ReadOptions::default(),
        )
        .expect("opens");
        let mut engine = Engine::new(&f.set, &f.reference.pollutants, &f.registry, policy);
        let mut issues = ingest::Issues::new();
        let mut emissions = Vec::new();
        loop {
            emissions.clear();
            let next = reader.next(&f.reference, &f.registry, &mut issues, |item| {
                engine.account(&item.row, &mut emissions).is_ok()
            });
            match next {
                Ok(Next::End) | Err(_) => break,
                Ok(_) => {}
            }
        }
        black_box(issues.len())
    });
}

/// Finds the key group of an industry, product, raw material and process.
#[divan::bench]
fn find_key_group(bencher: Bencher) {
    let f = fixture();
    let industry = IndustryCode::parse("4430").expect("industry");
    bencher.bench_local(|| {
        black_box(f.set.find_group(
            black_box(&industry),
            black_box("蒸汽"),
            black_box("烟煤"),
            black_box("层燃炉"),
        ))
    });
}

/// Evaluates `16S` (the SO2 generation coefficient of coal with sulphur content S).
#[divan::bench]
fn evaluate_formula(bencher: Bencher) {
    let formula = Formula::parse("16S").expect("formula");
    bencher.bench_local(|| formula.eval(black_box(&[1.2])).expect("value"));
}

/// Evaluates a plain-number coefficient.
#[divan::bench]
fn evaluate_plain_number(bencher: Bencher) {
    let formula = Formula::parse("2.94").expect("formula");
    bencher.bench_local(|| formula.eval(black_box(&[])).expect("value"));
}

/// Adds 990 results into totals by county (99 counties × 10 pollutants).
#[divan::bench]
fn aggregate_totals(bencher: Bencher) {
    let counties: Vec<RegionCode> = (1..=99)
        .map(|i| RegionCode::parse(&format!("1301{i:02}")).expect("county"))
        .collect();
    let industry = IndustryCode::parse("4430").expect("industry");
    bencher.bench_local(|| {
        let mut totals = Totals::new();
        for (i, county) in counties.iter().enumerate() {
            for p in 0..10u16 {
                let emission = Emission {
                    pollutant: PollutantId(p),
                    coefficient_row: 0,
                    generated: i as f64 + 1.5,
                    emitted: i as f64,
                    operation_rate: None,
                    flags: Flags::empty(),
                };
                totals.add(2023, Some(*county), Some(&industry), &emission);
            }
        }
        black_box(totals.len())
    });
}
