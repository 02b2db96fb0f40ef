//! Tests of stored runs' exports: the CSV of a run's results and totals, byte for byte the
//! in-memory rendering the exports had before they streamed, on awkward values and on the
//! sample accounted and stored.

use accounting::render::{Precision, quantity};
use store::runs::{NewRun, ResultRecord, RunCounts, TotalRecord};

use super::*;

/// The exports as they were built before they streamed: every record loaded, one `String`.
/// Kept here as the reference the streamed exports must equal.
async fn in_memory_results(store: &Store, id: i64) -> String {
    let run = store.run(id).await.expect("run");
    let results = store.run_results(id).await.expect("results");
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    let _ = writer.write_record([
        "run",
        "activity_row",
        "year",
        "uscc",
        "region_code",
        "industry_code",
        "unit_id",
        "outlet_id",
        "pollutant_code",
        "generated",
        "emitted",
        "coefficient_row",
        "flags",
        "set_id",
        "edition",
        "content_hash",
    ]);
    for r in results {
        let _ = writer.write_record([
            run.id.to_string(),
            r.activity_row.to_string(),
            r.year.to_string(),
            r.uscc,
            r.region_code,
            r.industry_code,
            r.unit_id.unwrap_or_default(),
            r.outlet_id.unwrap_or_default(),
            r.pollutant,
            quantity(r.generated, Precision::Exact),
            quantity(r.emitted, Precision::Exact),
            r.coefficient_row.to_string(),
            r.flags,
            run.run.set_id.clone(),
            run.run.edition.map(|e| e.to_string()).unwrap_or_default(),
            run.run.content_hash.clone(),
        ]);
    }
    String::from_utf8(writer.into_inner().expect("flush")).expect("utf-8")
}

/// See [`in_memory_results`].
async fn in_memory_totals(store: &Store, id: i64) -> String {
    let run = store.run(id).await.expect("run");
    let totals = store.run_totals(id).await.expect("totals");
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    let _ = writer.write_record([
        "run",
        "year",
        "region_code",
        "industry_code",
        "pollutant_code",
        "unit",
        "generated",
        "emitted",
        "rows",
        "flagged_rows",
        "set_id",
        "edition",
        "content_hash",
    ]);
    for t in totals {
        let _ = writer.write_record([
            run.id.to_string(),
            t.year.to_string(),
            t.region_code.unwrap_or_default(),
            t.industry_code.unwrap_or_default(),
            t.pollutant,
            t.unit,
            quantity(t.generated, Precision::Exact),
            quantity(t.emitted, Precision::Exact),
            t.rows.to_string(),
            t.flagged_rows.to_string(),
            run.run.set_id.clone(),
            run.run.edition.map(|e| e.to_string()).unwrap_or_default(),
            run.run.content_hash.clone(),
        ]);
    }
    String::from_utf8(writer.into_inner().expect("flush")).expect("utf-8")
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    crate::editions::open(&url).await.expect("store")
}

fn new_run() -> NewRun {
    NewRun {
        started_at: store::now_utc(),
        actor: "tester".into(),
        set_id: "set,with \"quotes\"".into(),
        edition: Some(3),
        content_hash: "abc123".into(),
        selector: "set@3".into(),
        rule: None,
        accounting_date: None,
        coefficients_path: None,
        registry_path: "upload:registry.csv".into(),
        registry_hash: "rh".into(),
        activity_path: "upload:activity.csv".into(),
        activity_hash: "ah".into(),
        options: "region_level=county; industry_level=division".into(),
    }
}

/// Texts a CSV writer must quote or neutralize, and numbers at the edges of `f64`.
const TEXTS: [&str; 8] = [
    "plain",
    "comma, inside",
    "quote \" inside",
    "line\nbreak",
    "=HYPERLINK(\"x\")",
    "-12.5",
    "tab\there\\back",
    "中文 \\N",
];
const NUMBERS: [f64; 8] = [
    0.0,
    0.1 + 0.2,
    1e-300,
    5e-324,
    1e300,
    f64::MAX,
    123_456.789,
    2.0 / 3.0,
];

/// `count` results, written out of order, over every awkward text and number.
fn awkward_results(count: u64) -> Vec<ResultRecord> {
    let pollutants = ["SO2", "NOX", "COD"];
    (0..count)
        .rev()
        .map(|i| {
            let n = usize::try_from(i).expect("small");
            ResultRecord {
                activity_row: 2 + i / 3,
                year: 2023,
                uscc: format!("91350100MA2XYZ{:04}", i % 10_000),
                region_code: "350102".into(),
                industry_code: "4430".into(),
                unit_id: (i % 2 == 0).then(|| TEXTS[n % TEXTS.len()].to_string()),
                outlet_id: (i % 3 == 0).then(|| TEXTS[(n + 3) % TEXTS.len()].to_string()),
                pollutant: pollutants[n % 3].into(),
                generated: NUMBERS[n % NUMBERS.len()],
                emitted: NUMBERS[(n + 5) % NUMBERS.len()] / 2.0,
                coefficient_row: 10 + i % 7,
                flags: if i % 5 == 0 {
                    "direct_fallback;nominal_k".into()
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

/// Totals with national, regional and all-industry rows mixed (a run's totals have a unique key:
/// year, region, industry, pollutant).
fn awkward_totals(count: u64) -> Vec<TotalRecord> {
    let mut unique = std::collections::BTreeMap::new();
    for i in 0..count {
        let n = usize::try_from(i).expect("small");
        let total = TotalRecord {
            year: 2022 + u16::try_from(i % 2).expect("small"),
            region_code: (i % 4 != 0).then(|| format!("{}", 110_000 + (i * 7919) % 5000)),
            industry_code: (i % 3 != 0).then(|| format!("C{}", 13 + i % 20)),
            pollutant: ["SO2", "NOX", "COD", "NH3N"][n % 4].into(),
            unit: "吨".into(),
            generated: NUMBERS[n % NUMBERS.len()],
            emitted: NUMBERS[(n + 3) % NUMBERS.len()],
            rows: i,
            flagged_rows: i / 2,
        };
        let key = (
            total.year,
            total.region_code.clone(),
            total.industry_code.clone(),
            total.pollutant.clone(),
        );
        unique.insert(key, total);
    }
    unique.into_values().collect()
}

async fn store_awkward_run(store: &Store, results: u64, totals: u64) -> i64 {
    let mut writer = store.begin_run(new_run()).await.expect("begin");
    let records = awkward_results(results);
    for chunk in records.chunks(1000) {
        writer.add_results(chunk).await.expect("results");
    }
    let totals = awkward_totals(totals);
    writer
        .finish(RunCounts::default(), &totals, 1)
        .await
        .expect("finish")
}

/// Exports a run's results (or totals) as the command line and the service do, in pages of
/// every size from 1 to past the run's size (pages end inside and at the end of activity rows
/// and groups), checking that all give the same bytes; returns them.
async fn export(store: &Store, id: i64, results: bool) -> String {
    let mut seen: Option<Vec<u8>> = None;
    for page in [1, 2, 3, 7, 1000, EXPORT_PAGE] {
        let export = if results {
            export_results(store, id).await
        } else {
            export_totals(store, id).await
        }
        .expect("export")
        .with_page(page);
        let mut bytes = Vec::new();
        let rows = export.write_to(&mut bytes).await.expect("written");
        let count = if results {
            store.run_result_count(id).await
        } else {
            store.run_total_count(id).await
        };
        assert_eq!(rows, count.expect("count"));
        match &seen {
            Some(seen) => assert!(*seen == bytes, "pages of {page} differ"),
            None => seen = Some(bytes),
        }
    }
    String::from_utf8(seen.expect("exported")).expect("utf-8")
}

#[tokio::test]
async fn exports_equal_the_in_memory_rendering_on_awkward_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(&dir).await;
    let id = store_awkward_run(&store, 2_345, 1_234).await;
    let results = export(&store, id, true).await;
    assert_eq!(results, in_memory_results(&store, id).await);
    // Hand-checked: the header, then activity row 2 (results 2, 1 and 0: COD, NOX, SO2 by
    // code), quoted where needed and with exact numbers.
    let provenance = "\"set,with \"\"quotes\"\"\",3,abc123";
    let expected = format!(
        "run,activity_row,year,uscc,region_code,industry_code,unit_id,outlet_id,\
         pollutant_code,generated,emitted,coefficient_row,flags,set_id,edition,content_hash\n\
         {id},2,2023,91350100MA2XYZ0002,350102,4430,\"quote \"\" inside\",,COD,0.{}1,\
         0.3333333333333333,12,,{provenance}\n\
         {id},2,2023,91350100MA2XYZ0001,350102,4430,,,NOX,0.30000000000000004,61728.3945,11,,\
         {provenance}\n\
         {id},2,2023,91350100MA2XYZ0000,350102,4430,plain,\"line\nbreak\",SO2,0,{},10,\
         direct_fallback;nominal_k,{provenance}\n",
        "0".repeat(299),
        quantity(f64::MAX / 2.0, Precision::Exact),
    );
    assert!(
        results.starts_with(&expected),
        "{}",
        &results[..expected.len().min(results.len())]
    );
    // A formula is neutralized; a plain negative number is not.
    assert!(results.contains(",\"'=HYPERLINK(\"\"x\"\")\","));
    assert!(results.contains(",-12.5,"));
    let totals = export(&store, id, false).await;
    assert_eq!(totals, in_memory_totals(&store, id).await);
    // The totals begin with the national rows of 2022 (no region sorts first).
    let first_total = totals.lines().nth(1).expect("a total");
    assert!(
        first_total.starts_with(&format!("{id},2022,,")),
        "{first_total}"
    );
}

#[tokio::test]
async fn the_stored_sample_exports_as_it_did_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(&dir).await;
    let reference = crate::reference::bundled().expect("reference");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sample = root.join("datasets/sample-synthetic");
    let settings = crate::account::AccountSettings {
        coefficients: root.join("coefficients/npsc1-excerpt"),
        registry: sample.join("registry.csv"),
        activity: sample.join("activity.csv"),
        grouping: Grouping {
            region: RegionLevel::County,
            industry: Some(IndustryLevel::Class),
        },
        policy: accounting::engine::Policy {
            missing_operation_rate: accounting::engine::OperationRatePolicy::Nominal,
        },
        read: crate::ReadOptions::default(),
        results: None,
        deny_unaccounted: false,
    };
    let set = crate::account::load_coefficients(&settings, &reference).expect("set");
    let provenance = Provenance {
        edition: None,
        selector: "excerpt".into(),
        rule: None,
        date: None,
        coefficients_path: None,
    };
    let (id, report) = account_and_store(&store, set, provenance, settings, reference, "tester")
        .await
        .expect("run");
    let results = export(&store, id, true).await;
    let count = usize::try_from(store.run_result_count(id).await.expect("count")).expect("small");
    assert!(count > 100, "{count}");
    assert_eq!(results.lines().count(), count + 1);
    assert_eq!(results, in_memory_results(&store, id).await);
    let totals = export(&store, id, false).await;
    assert_eq!(totals.lines().count(), report.totals.len() + 1);
    assert_eq!(totals, in_memory_totals(&store, id).await);
}
