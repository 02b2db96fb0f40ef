//! `npsc key-units` and `npsc regional-totals` on a stored run of the bundled sample: the list
//! is kept and read back as a reference table, key + non-key equals the run's own totals in the
//! base year, and county → prefecture → province roll-ups add up exactly.

use std::collections::BTreeMap;

use crate::support::{SAMPLE_ARGS, npsc, s};

/// A database with the sample accounted as run 1 (years 2022 and 2023).
fn database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", s(&dir.path().join("k.db")));
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend_from_slice(&["--database", &url]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    (dir, url)
}

fn ok(args: &[&str]) -> String {
    let (status, out, err) = npsc(args);
    assert_eq!(status, 0, "npsc {args:?}: {err}");
    out
}

/// The rows of one view of a JSON output, as column → text maps.
fn rows(json: &str, view: &str) -> Vec<BTreeMap<String, String>> {
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
    value[view]
        .as_array()
        .unwrap_or_else(|| panic!("no view {view} in {json}"))
        .iter()
        .map(|row| {
            row.as_object()
                .expect("object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} in {row:?}"))
}

#[test]
fn a_key_unit_list_is_kept_published_and_read_back() {
    let (_dir, db) = database();
    let out = ok(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--store",
        "key-units",
        "--view",
        "units",
        "--format",
        "csv",
        "--database",
        &db,
    ]);
    let listed = out.lines().count() - 1;
    assert!(listed > 0, "{out}");
    // Every unit has a reason; the list is a draft reference table of as many rows.
    assert!(
        out.lines()
            .skip(1)
            .all(|l| l.contains(" rank ") || l.contains("emitter"))
    );
    let list = ok(&["reference", "list", "key-units", "--database", &db]);
    assert!(
        list.contains("key-units@1") && list.contains("draft"),
        "{list}"
    );
    assert!(list.contains(&format!("{listed} rows")), "{list}");
    ok(&[
        "reference",
        "publish",
        "key-units",
        "--note",
        "2022 base",
        "--database",
        &db,
    ]);
    let exported = ok(&["reference", "export", "key-units@1", "--database", &db]);
    assert!(exported.starts_with("uscc,name,area_code,level,reasons,base_year,note\n"));
    assert!(exported.contains(",prefecture,"), "{exported}");
    // The run's year must be named when it has two.
    let (status, _, err) = npsc(&["key-units", "--run", "1", "--database", &db]);
    assert_eq!(status, 1);
    assert!(err.contains("say which with --year"), "{err}");
    // A share outside (0, 1] is refused.
    let (status, _, err) = npsc(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--emission-share",
        "85",
        "--database",
        &db,
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("at most 1"), "{err}");
}

#[test]
fn key_plus_nonkey_is_the_runs_total_in_the_base_year_and_rolls_up_exactly() {
    let (_dir, db) = database();
    ok(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--level",
        "county",
        "--emission-share",
        "0.5",
        "--no-generation",
        "--store",
        "key-units",
        "--database",
        &db,
    ]);
    ok(&[
        "reference",
        "publish",
        "key-units",
        "--note",
        "test",
        "--database",
        &db,
    ]);
    let regional = |level: &str| {
        ok(&[
            "regional-totals",
            "--base-run",
            "1",
            "--base-year",
            "2022",
            "--run",
            "1",
            "--year",
            "2022",
            "--key-units",
            "key-units@1",
            "--report-level",
            level,
            "--format",
            "json",
            "--database",
            &db,
        ])
    };
    let province = rows(&regional("province"), "totals");
    let prefecture = rows(&regional("prefecture"), "totals");
    let county = rows(&regional("county"), "totals");
    // In the base year the ratio is 1: total = key + non-key = what the run accounted.
    let mut accounted: BTreeMap<(String, String), f64> = BTreeMap::new();
    let results = ok(&["runs", "export", "1", "--results", "--database", &db]);
    let mut reader = csv::Reader::from_reader(results.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (year, region, pollutant, emitted) = (
        col("year"),
        col("region_code"),
        col("pollutant_code"),
        col("emitted"),
    );
    for record in reader.records() {
        let record = record.expect("row");
        if &record[year] != "2022" {
            continue;
        }
        let province = format!("{}0000", &record[region][..2]);
        *accounted
            .entry((province, record[pollutant].to_string()))
            .or_default() += record[emitted].parse::<f64>().expect("emitted");
    }
    assert!(!province.is_empty());
    for row in &province {
        let key = (row["region_code"].clone(), row["pollutant"].clone());
        let expected = accounted[&key];
        let total = number(row, "total");
        assert!(
            (total - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{key:?}: {total} vs {expected}"
        );
        approx::assert_relative_eq!(
            number(row, "key") + number(row, "nonkey"),
            total,
            max_relative = 1e-12
        );
    }
    // Roll-ups: the prefecture rows of each province sum to its row, and the county rows too.
    for finer in [&prefecture, &county] {
        let mut sums: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
        for row in finer.iter() {
            let entry = sums
                .entry((
                    format!("{}0000", &row["region_code"][..2]),
                    row["pollutant"].clone(),
                ))
                .or_default();
            entry.0 += number(row, "key");
            entry.1 += number(row, "nonkey");
        }
        for row in &province {
            let (key, nonkey) = sums[&(row["region_code"].clone(), row["pollutant"].clone())];
            approx::assert_relative_eq!(key, number(row, "key"), max_relative = 1e-12);
            approx::assert_relative_eq!(nonkey, number(row, "nonkey"), max_relative = 1e-12);
        }
    }
}

#[test]
fn the_nonkey_part_follows_the_key_units_change() {
    let (_dir, db) = database();
    ok(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--level",
        "province",
        "--emission-share",
        "0.6",
        "--no-generation",
        "--store",
        "key-units",
        "--database",
        &db,
    ]);
    ok(&[
        "reference",
        "publish",
        "key-units",
        "--note",
        "test",
        "--database",
        &db,
    ]);
    let out = ok(&[
        "regional-totals",
        "--base-run",
        "1",
        "--base-year",
        "2022",
        "--run",
        "1",
        "--year",
        "2023",
        "--key-units",
        "key-units@1",
        "--adjustment",
        "0.9",
        "--adjustment-note",
        "test closures",
        "--format",
        "json",
        "--database",
        &db,
    ]);
    let estimate = rows(&out, "estimate");
    let mut checked = 0;
    for row in &estimate {
        let (key_base, nonkey_base, key_current) = (
            number(row, "key_base"),
            number(row, "nonkey_base"),
            number(row, "key_current"),
        );
        let expected = if key_base > 0.0 {
            nonkey_base * key_current / key_base * 0.9
        } else {
            nonkey_base * 0.9
        };
        approx::assert_relative_eq!(
            number(row, "nonkey_current"),
            expected,
            max_relative = 1e-12
        );
        checked += 1;
    }
    assert!(checked > 5, "{out}");
    let value: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(value["adjustment"], "test closures");
    assert!(
        value["key_units"]
            .as_str()
            .expect("list")
            .starts_with("key-units@1")
    );
    // Totals cannot be split below the estimate's level.
    let (status, _, err) = npsc(&[
        "regional-totals",
        "--base-run",
        "1",
        "--base-year",
        "2022",
        "--run",
        "1",
        "--year",
        "2023",
        "--key-units",
        "key-units@1",
        "--report-level",
        "prefecture",
        "--database",
        &db,
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("cannot be split to prefecture level"), "{err}");
}

#[test]
fn numbers_of_record_of_a_reconciliation_replace_the_estimates() {
    let (_dir, db) = database();
    // Reconcile the stored run with the sample's permit reports and keep it (reconciliation 1).
    ok(&[
        "reconcile",
        "--run",
        "1",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--reports",
        "../datasets/sample-synthetic/permit_reports.csv",
        "--database",
        &db,
        "--format",
        "csv",
        "--view",
        "records",
    ]);
    ok(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--level",
        "province",
        "--emission-share",
        "0.6",
        "--no-generation",
        "--store",
        "key-units",
        "--database",
        &db,
    ]);
    ok(&[
        "reference",
        "publish",
        "key-units",
        "--note",
        "test",
        "--database",
        &db,
    ]);
    // In the base year itself, each province's total is the sum over its enterprises of the
    // number of record under the statistics rule where there is one, else the estimate.
    let out = ok(&[
        "regional-totals",
        "--base-run",
        "1",
        "--base-year",
        "2022",
        "--run",
        "1",
        "--year",
        "2022",
        "--key-units",
        "key-units@1",
        "--numbers-of-record",
        "1",
        "--format",
        "json",
        "--database",
        &db,
    ]);
    let value: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let said = value["industrial_emission"].as_str().expect("provenance");
    assert!(
        said.starts_with("reconciliation 1, statistics rule"),
        "{said}"
    );
    let records = ok(&[
        "reconciliations",
        "export",
        "1",
        "--view",
        "records",
        "--database",
        &db,
    ]);
    let mut of_record: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(records.as_bytes());
    for record in reader.records() {
        let r = record.expect("row");
        if &r[0] == "statistics" && &r[1] == "2022" {
            of_record.insert(
                (r[2].to_string(), r[3].to_string()),
                r[5].parse().expect("value"),
            );
        }
    }
    assert!(!of_record.is_empty());
    let reference = app::reference::bundled().expect("reference");
    let name = |code: &str| {
        let id = reference.pollutants.lookup(code).expect("pollutant");
        reference.pollutants.get(id).name.clone()
    };
    // Per enterprise and pollutant: the run's estimate, replaced by the number of record.
    let results = ok(&["runs", "export", "1", "--results", "--database", &db]);
    let mut per: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(results.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |c: &str| header.iter().position(|h| h == c).expect(c);
    let (year, uscc, region, pollutant, emitted) = (
        col("year"),
        col("uscc"),
        col("region_code"),
        col("pollutant_code"),
        col("emitted"),
    );
    for record in reader.records() {
        let r = record.expect("row");
        if &r[year] != "2022" {
            continue;
        }
        *per.entry((
            format!("{}0000", &r[region][..2]),
            r[uscc].to_string(),
            r[pollutant].to_string(),
        ))
        .or_default() += r[emitted].parse::<f64>().expect("emitted");
    }
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut replaced = 0;
    for ((province, uscc, code), estimate) in per {
        let value = match of_record.get(&(uscc.clone(), name(&code))) {
            Some(v) => {
                replaced += 1;
                *v
            }
            None => estimate,
        };
        *expected.entry((province, code)).or_default() += value;
    }
    assert!(replaced > 10, "{replaced}");
    for row in rows(&out, "totals") {
        let want = expected[&(row["region_code"].clone(), row["pollutant"].clone())];
        let total = number(&row, "total");
        assert!(
            (total - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{row:?}: {total} vs {want}"
        );
    }
}

#[test]
fn the_area_source_coefficients_can_be_a_published_reference_table() {
    let (_dir, db) = database();
    ok(&[
        "key-units",
        "--run",
        "1",
        "--year",
        "2022",
        "--store",
        "key-units",
        "--database",
        &db,
    ]);
    ok(&[
        "reference",
        "publish",
        "key-units",
        "--note",
        "test",
        "--database",
        &db,
    ]);
    let c = "../datasets/sample-synthetic/categories";
    let file = format!("{c}/source_coefficients.csv");
    let imported = ok(&[
        "reference",
        "import",
        "source-coefficients",
        &file,
        "--database",
        &db,
    ]);
    assert!(imported.contains("source-coefficients@1"), "{imported}");
    ok(&[
        "reference",
        "publish",
        "source-coefficients",
        "--note",
        "sample",
        "--database",
        &db,
    ]);
    let (domestic, livestock) = (format!("{c}/domestic.csv"), format!("{c}/livestock.csv"));
    let totals = |coefficients: &str| {
        ok(&[
            "regional-totals",
            "--base-run",
            "1",
            "--base-year",
            "2022",
            "--run",
            "1",
            "--year",
            "2023",
            "--key-units",
            "key-units@1",
            "--report-level",
            "prefecture",
            "--source-coefficients",
            coefficients,
            "--domestic",
            &domestic,
            "--livestock",
            &livestock,
            "--format",
            "json",
            "--database",
            &db,
        ])
    };
    let (from_file, stored) = (totals(&file), totals("source-coefficients@1"));
    assert_eq!(rows(&from_file, "categories"), rows(&stored, "categories"));
    let value: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
    let said = value["input_source_coefficients"]
        .as_str()
        .expect("provenance");
    assert!(said.starts_with("source-coefficients@1 (sha256 "), "{said}");
    // An edition of another kind is refused.
    let (status, _, err) = npsc(&[
        "regional-totals",
        "--base-run",
        "1",
        "--base-year",
        "2022",
        "--run",
        "1",
        "--year",
        "2023",
        "--key-units",
        "key-units@1",
        "--source-coefficients",
        "key-units@1",
        "--domestic",
        &domestic,
        "--database",
        &db,
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("not a `source-coefficients` table"), "{err}");
}
