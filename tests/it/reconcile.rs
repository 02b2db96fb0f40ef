//! `npsc reconcile` on the bundled sample permit reports: every enterprise × pollutant × year
//! against the independent expectations of `datasets/sample-synthetic/EXPECTED.md` (computed
//! exactly by the generator), the numbers of record, a hand-computed reconciliation, the
//! workbook, and bad input.

use std::collections::{BTreeMap, BTreeSet};

use approx::assert_relative_eq;

use crate::support::{npsc, root, s};

const SAMPLE: [&str; 9] = [
    "reconcile",
    "--coefficients",
    "../coefficients/npsc1-excerpt",
    "--registry",
    "../datasets/sample-synthetic/registry.csv",
    "--activity",
    "../datasets/sample-synthetic/activity.csv",
    "--reports",
    "../datasets/sample-synthetic/permit_reports.csv",
];

fn json_report(extra: &[&str]) -> serde_json::Value {
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

fn number(cell: &serde_json::Value) -> Option<f64> {
    cell.as_str()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
}

/// One row of the "Per enterprise, pollutant and year" table of EXPECTED.md.
struct Expected {
    estimate: Option<f64>,
    reported: Option<f64>,
    permitted: Option<f64>,
    flags: BTreeSet<String>,
}

fn expected_rows() -> BTreeMap<(String, String, String), Expected> {
    let text = std::fs::read_to_string(root().join("datasets/sample-synthetic/EXPECTED.md"))
        .expect("EXPECTED.md");
    let table = text
        .split("### Per enterprise, pollutant and year")
        .nth(1)
        .expect("the per-enterprise table");
    let value = |cell: &str| -> Option<f64> {
        let cell = cell.trim();
        (cell != "—").then(|| cell.parse().expect("a number in EXPECTED.md"))
    };
    let mut rows = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| E")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let uscc = cells[0].split('`').nth(1).expect("uscc").to_string();
        let flags = if cells[7] == "—" {
            BTreeSet::new()
        } else {
            cells[7]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|f| f.split(' ').next().unwrap_or(f).to_string())
                .collect()
        };
        rows.insert(
            (cells[2].to_string(), uscc, cells[1].to_string()),
            Expected {
                estimate: value(cells[3]),
                reported: value(cells[4]),
                permitted: value(cells[6]),
                flags,
            },
        );
    }
    rows
}

#[test]
fn every_comparison_matches_the_independent_expectations() {
    let report = json_report(&["--view", "comparison"]);
    let expected = expected_rows();
    assert!(expected.len() > 150, "{} expected rows", expected.len());
    let comparisons = report["comparison"].as_array().expect("comparison");
    let mut seen = BTreeSet::new();
    for c in comparisons {
        let key = (
            c["year"].as_str().expect("year").to_string(),
            c["uscc"].as_str().expect("uscc").to_string(),
            c["pollutant"].as_str().expect("pollutant").to_string(),
        );
        let e = expected
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} is not in EXPECTED.md: {c}"));
        seen.insert(key.clone());
        for (what, got, want) in [
            ("estimate", number(&c["estimate"]), e.estimate),
            ("reported", number(&c["reported"]), e.reported),
            ("permitted", number(&c["permitted"]), e.permitted),
        ] {
            match (got, want) {
                // EXPECTED.md shows at most four decimals.
                (Some(g), Some(w)) => assert!(
                    (g - w).abs() <= 0.5e-4 + 1e-9 * w.abs(),
                    "{key:?} {what}: npsc {g}, expected {w}"
                ),
                (None, None) => {}
                _ => panic!("{key:?} {what}: npsc {got:?}, expected {want:?}"),
            }
        }
        let flags: BTreeSet<String> = c["flags"]
            .as_str()
            .expect("flags")
            .split_whitespace()
            .map(|f| f.split(':').next().unwrap_or(f).to_string())
            .collect();
        assert_eq!(flags, e.flags, "{key:?}");
    }
    let missing: Vec<_> = expected.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "not compared by npsc: {missing:?}");
    // The headline cases, with their levels.
    let find = |year: &str, uscc: &str, pollutant: &str| {
        comparisons
            .iter()
            .find(|c| c["year"] == year && c["uscc"] == uscc && c["pollutant"] == pollutant)
            .expect("row")
            .clone()
    };
    let e21 = find("2022", "91130684MA9XTBUW4C", "二氧化硫");
    assert_eq!(e21["flags"], "under_reported:error");
    assert_eq!(e21["level"], "error");
    assert_eq!(e21["relative"], "-59.0%");
    let e14 = find("2022", "91130123MA2XB6W94M", "氮氧化物");
    assert_eq!(e14["flags"], "under_reported:warning");
    let e16 = find("2023", "91130283MAKJDYJT24", "二氧化硫");
    assert_eq!(e16["flags"], "monitoring_not_valid:Q3");
}

#[test]
fn numbers_of_record_follow_each_rule() {
    let report = json_report(&["--view", "records"]);
    let records = report["records"].as_array().expect("records");
    let find = |rule: &str, year: &str, uscc: &str, pollutant: &str| {
        records
            .iter()
            .find(|r| {
                r["rule"] == rule
                    && r["year"] == year
                    && r["uscc"] == uscc
                    && r["pollutant"] == pollutant
            })
            .unwrap_or_else(|| panic!("no {rule} record for {uscc} {pollutant} {year}"))
            .clone()
    };
    // E16 2023 SO2: the Q3 capture rate is under 75 %, so the automatic monitoring cannot be
    // used: statistics and tax take the coefficient estimate (205.0048 t), the permit rule is
    // punitive: the generated quantity, removal efficiency taken as zero (larger).
    let uscc = "91130283MAKJDYJT24";
    for rule in ["statistics", "tax"] {
        let r = find(rule, "2023", uscc, "二氧化硫");
        assert_eq!(r["basis"], "DA001=coefficient_estimate", "{rule}");
        assert_relative_eq!(
            number(&r["value"]).expect("value"),
            205.0048,
            max_relative = 1e-12
        );
    }
    let permit = find("permit", "2023", uscc, "二氧化硫");
    assert_eq!(permit["basis"], "DA001=punitive");
    assert!(
        number(&permit["value"]).expect("value") > 205.0048,
        "{permit}"
    );
    // 2022: valid automatic monitoring is the number of record under every rule (182.007 t).
    for rule in ["statistics", "permit", "tax"] {
        let r = find(rule, "2022", uscc, "二氧化硫");
        assert_eq!(r["basis"], "DA001=reported:automatic_monitoring", "{rule}");
        assert_relative_eq!(
            number(&r["value"]).expect("value"),
            182.007,
            max_relative = 1e-12
        );
    }
    // Every record names the rule step and the rows behind it.
    assert!(
        records
            .iter()
            .all(|r| r["source"].as_str().is_some_and(|s| s.contains("rule")))
    );
}

#[test]
fn one_unit_one_report_reconciles_to_the_inverse_variance_mean() {
    let report = json_report(&["--view", "reconciliation"]);
    let rows = report["reconciliation"].as_array().expect("rows");
    // E13 2022 SO2: one boiler (coefficient, 30 %) behind DA001 (automatic monitoring, 5 %).
    let block: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["year"] == "2022" && r["uscc"] == "91130109MAK4GR6066" && r["pollutant"] == "二氧化硫"
        })
        .collect();
    let estimate = block
        .iter()
        .find(|r| r["measurement"] == "estimate")
        .expect("estimate");
    let reported = block
        .iter()
        .find(|r| r["measurement"] == "report")
        .expect("report");
    let unit = block
        .iter()
        .find(|r| r["measurement"] == "unit")
        .expect("unit");
    let (e, r) = (
        number(&estimate["measured"]).expect("e"),
        number(&reported["measured"]).expect("r"),
    );
    assert_relative_eq!(e, 101.376, max_relative = 1e-12);
    assert_relative_eq!(r, 109.832, max_relative = 1e-12);
    let (ve, vr) = ((0.30 * e).powi(2), (0.05 * r).powi(2));
    let x = (e / ve + r / vr) / (1.0 / ve + 1.0 / vr);
    assert_relative_eq!(
        number(&unit["reconciled"]).expect("x"),
        x,
        max_relative = 1e-10
    );
    assert_relative_eq!(
        number(&unit["std_dev"]).expect("se"),
        (1.0 / (1.0 / ve + 1.0 / vr)).sqrt(),
        max_relative = 1e-10
    );
    // χ² = (e − r)² / (ve + vr) with one degree of freedom: the test passes here.
    let chi = (e - r).powi(2) / (ve + vr);
    let shown: f64 = estimate["chi_square"]
        .as_str()
        .expect("χ²")
        .parse()
        .expect("χ²");
    assert!((shown - chi).abs() < 1e-4, "{shown} vs {chi}");
    assert_eq!(estimate["global_test"], "passed");
}

#[test]
fn an_injected_gross_error_is_found_in_a_report() {
    // E13 reports ten times its SO2 in 2022: the global test fails and both sides of this
    // single redundancy are gross errors (one estimate, one report: the test cannot say which).
    let dir = tempfile::tempdir().expect("tempdir");
    let original =
        std::fs::read_to_string(root().join("datasets/sample-synthetic/permit_reports.csv"))
            .expect("reports");
    let mut changed = 0;
    // E13 reports by permit number only; column 7 is 实际排放量(吨).
    let text: Vec<String> = original
        .lines()
        .map(|line| {
            if line.contains("91130109MAK4GR6066001P") && line.contains("二氧化硫,2022年") {
                changed += 1;
                let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
                let v: f64 = cells[6].parse().expect("amount");
                cells[6] = format!("{}", v * 10.0);
                cells.join(",")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(changed > 0, "the sample has E13's 2022 SO2 lines");
    let path = dir.path().join("reports.csv");
    std::fs::write(&path, text.join("\n")).expect("write");
    let mut args = SAMPLE.to_vec();
    args[8] = s(&path);
    args.extend_from_slice(&["--view", "reconciliation", "--format", "json"]);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let block: Vec<_> = report["reconciliation"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| {
            r["year"] == "2022" && r["uscc"] == "91130109MAK4GR6066" && r["pollutant"] == "二氧化硫"
        })
        .cloned()
        .collect();
    let reported = block
        .iter()
        .find(|r| r["measurement"] == "report")
        .expect("report");
    assert_eq!(reported["global_test"], "failed", "{reported}");
    assert_eq!(reported["test"], "gross_error", "{reported}");
    let estimate = block
        .iter()
        .find(|r| r["measurement"] == "estimate")
        .expect("estimate");
    assert_eq!(estimate["test"], "gross_error", "{estimate}");
    assert!(err.contains("1 with a gross error"), "{err}");
}

#[test]
fn the_workbook_has_every_view_and_the_provenance() {
    use calamine::Reader;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reconciliation.xlsx");
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--xlsx", s(&path), "--view", "comparison", "--only-flagged"]);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("对比 Reported vs estimated"), "{out}");
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).expect("workbook opens");
    assert_eq!(
        workbook.sheet_names(),
        ["comparison", "records", "reconciliation", "provenance"]
    );
    let provenance = workbook.worksheet_range("provenance").expect("provenance");
    let cells: Vec<String> = provenance
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells
            .iter()
            .any(|c| c == "db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115"),
        "the edition hash is on the provenance sheet: {cells:?}"
    );
    let comparison = workbook.worksheet_range("comparison").expect("comparison");
    let header: Vec<String> = comparison
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[0..3], ["year", "uscc", "pollutant"]);
    // Numbers are numbers; codes stay text.
    let first = comparison.rows().nth(1).expect("a row");
    assert!(
        matches!(first[0], calamine::Data::String(_)),
        "year as text"
    );
    assert!(
        matches!(first[4], calamine::Data::Float(_)),
        "estimate as a number: {:?}",
        first[4]
    );
}

#[test]
fn bad_reports_and_bad_options_are_refused_with_every_issue() {
    let mut args = SAMPLE.to_vec();
    args[8] = "fixtures/bad/permit-reports-bad.csv";
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 1, "{out}{err}");
    assert!(err.contains("the permit reports have"), "{err}");
    assert!(err.contains("permit-reports-bad.csv"), "{err}");
    let (status, _, err) = npsc(&[SAMPLE.as_slice(), &["--format", "csv"]].concat());
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("CSV holds one view"), "{err}");
    let (status, _, err) =
        npsc(&[SAMPLE.as_slice(), &["--warning", "0.6", "--error", "0.5"]].concat());
    assert_ne!(status, 0);
    assert!(err.contains("--error 0.5 is below --warning 0.6"), "{err}");
    let (status, _, err) = npsc(&[SAMPLE.as_slice(), &["--punitive-industries", "44x"]].concat());
    assert_ne!(status, 0);
    assert!(
        err.contains("`44x` is not an industry code prefix"),
        "{err}"
    );
}

#[test]
fn a_stored_run_gives_the_same_comparison_as_a_fresh_accounting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let mut account = crate::support::SAMPLE_ARGS.to_vec();
    account.extend_from_slice(&["--database", &url]);
    let (status, _, err) = npsc(&account);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("stored as run 1"), "{err}");
    let fresh = json_report(&["--view", "comparison"]);
    let (status, out, err) = npsc(&[
        "reconcile",
        "--run",
        "1",
        "--database",
        &url,
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--reports",
        "../datasets/sample-synthetic/permit_reports.csv",
        "--view",
        "comparison",
        "--format",
        "json",
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("using the results of run 1"), "{err}");
    let stored: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(stored["comparison"], fresh["comparison"]);
    assert!(
        stored["coefficients"]
            .as_str()
            .is_some_and(|c| c.starts_with("run 1:"))
    );
    // --run and --coefficients are one or the other.
    let (status, _, err) = npsc(&[
        "reconcile",
        "--run",
        "1",
        "--coefficients",
        "x",
        "--registry",
        "r",
        "--reports",
        "p",
    ]);
    assert_ne!(status, 0);
    assert!(err.contains("cannot be used with"), "{err}");
}
