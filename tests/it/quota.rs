//! `npsc quota` on the bundled sample: the ledger against the hand-computed utilizations of
//! `datasets/sample-synthetic/EXPECTED.md` ("Total-load control"), progress against the targets,
//! the enterprise above its permitted quantity, a stored run's totals, the workbook and bad caps.

use approx::assert_relative_eq;

use crate::support::{npsc, write};

const SAMPLE: [&str; 9] = [
    "quota",
    "--coefficients",
    "../coefficients/npsc1-excerpt",
    "--registry",
    "../datasets/sample-synthetic/registry.csv",
    "--activity",
    "../datasets/sample-synthetic/activity.csv",
    "--caps",
    "../datasets/sample-synthetic/caps.csv",
];

fn json(extra: &[&str]) -> serde_json::Value {
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

fn num(row: &serde_json::Value, key: &str) -> f64 {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {row}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {row}"))
}

fn text<'a>(row: &'a serde_json::Value, key: &str) -> &'a str {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

/// (year, region, pollutant, total t, cap t, status), totals from EXPECTED.md's province table.
const LEDGER: [(u16, &str, &str, f64, f64, &str); 10] = [
    (2022, "130000", "氮氧化物", 273.126, 250.0, "exceeded"),
    (2022, "150000", "化学需氧量", 510.173, 600.0, "within"),
    (2022, "150000", "氨氮", 39.007, 50.0, "within"),
    (2022, "370000", "化学需氧量", 47.256, 100.0, "within"),
    (2022, "370000", "氮氧化物", 307.818, 600.0, "within"),
    (2023, "130000", "氮氧化物", 273.42, 260.0, "exceeded"),
    (2023, "150000", "化学需氧量", 446.4439, 500.0, "within"),
    (2023, "150000", "氨氮", 35.0637, 45.0, "within"),
    (2023, "370000", "化学需氧量", 48.867, 100.0, "within"),
    (2023, "370000", "氮氧化物", 303.114, 600.0, "within"),
];

fn check_ledger(ledger: &[serde_json::Value]) {
    assert_eq!(ledger.len(), LEDGER.len(), "{ledger:?}");
    for (row, (year, region, pollutant, total, cap, status)) in ledger.iter().zip(LEDGER) {
        assert_eq!(text(row, "year"), year.to_string());
        assert_eq!(text(row, "region_code"), region);
        assert_eq!(text(row, "pollutant"), pollutant);
        assert_relative_eq!(num(row, "total_t"), total, max_relative = 1e-12);
        assert_relative_eq!(num(row, "cap_t"), cap);
        assert_relative_eq!(
            num(row, "utilization_pct"),
            total / cap * 100.0,
            max_relative = 1e-12
        );
        assert_relative_eq!(num(row, "headroom_t"), cap - total, max_relative = 1e-9);
        assert_eq!(text(row, "status"), status);
    }
}

#[test]
fn the_sample_ledger_matches_the_hand_computed_utilizations() {
    let report = json(&["--view", "ledger"]);
    let ledger = report["ledger"].as_array().expect("ledger");
    check_ledger(ledger);
    // The two cells EXPECTED.md spells out: Hebei NOx 2022 above its cap, Shandong NOx well under.
    assert_relative_eq!(
        num(&ledger[0], "utilization_pct"),
        109.2504,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        num(&ledger[4], "utilization_pct"),
        51.303,
        max_relative = 1e-12
    );
    assert_eq!(
        report["content_hash"],
        "db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115"
    );
    assert!(
        text(&report, "caps").contains("sha256 "),
        "the caps' hash is in the provenance: {report}"
    );
}

#[test]
fn progress_against_the_targets_and_the_enterprise_above_its_permit() {
    // The sample has no 2020: against the default base year nothing can be judged.
    let report = json(&["--view", "progress"]);
    let progress = report["progress"].as_array().expect("progress");
    assert!(!progress.is_empty());
    assert!(
        progress.iter().all(|r| text(r, "status") == "no_base"),
        "{progress:?}"
    );
    assert!(text(&report, "targets").contains("国发〔2021〕33号"));

    let report = json(&[
        "--base-year",
        "2022",
        "--reports",
        "../datasets/sample-synthetic/permit_reports.csv",
    ]);
    let progress = report["progress"].as_array().expect("progress");
    let find = |region: &str, pollutant: &str| {
        progress
            .iter()
            .find(|r| text(r, "region_code") == region && text(r, "pollutant") == pollutant)
            .unwrap_or_else(|| panic!("{region} {pollutant}: {progress:?}"))
    };
    // Inner Mongolia COD: (510.173 − 446.4439) / 510.173 = 12.4917…% ≥ 8 %.
    let cod = find("150000", "化学需氧量");
    assert_relative_eq!(
        num(cod, "reduction_pct"),
        (510.173 - 446.4439) / 510.173 * 100.0,
        max_relative = 1e-9
    );
    assert_relative_eq!(num(cod, "allowed_t"), 510.173 * 0.92, max_relative = 1e-12);
    assert_eq!(text(cod, "status"), "met");
    // Hebei NOx rose: (273.126 − 273.42) / 273.126 < 0, target 10 %.
    let nox = find("130000", "氮氧化物");
    assert_relative_eq!(
        num(nox, "reduction_pct"),
        (273.126 - 273.42) / 273.126 * 100.0,
        max_relative = 1e-9
    );
    assert_eq!(text(nox, "required_pct"), "10");
    assert_eq!(text(nox, "status"), "not_met");
    // EXPECTED.md: E29's 2023 SO2 estimate is above its 305 t — the only one.
    let above = report["above_permitted"]
        .as_array()
        .expect("above_permitted");
    assert_eq!(above.len(), 1, "{above:?}");
    assert_eq!(text(&above[0], "uscc"), "91371302MAQ4X9C5X4");
    assert_eq!(text(&above[0], "pollutant"), "二氧化硫");
    assert_eq!(text(&above[0], "year"), "2023");
    assert_eq!(text(&above[0], "permitted_t"), "305");
    assert!(num(&above[0], "accounted_t") > 305.0);
}

#[test]
fn a_stored_run_gives_the_same_ledger_and_a_workbook_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let with_db = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database", db.as_str()]);
        npsc(&all)
    };
    assert_eq!(
        with_db(&["coeff", "import", "../coefficients/npsc1-excerpt"]).0,
        0
    );
    assert_eq!(
        with_db(&["coeff", "publish", "npsc1-excerpt", "--note", "q"]).0,
        0
    );
    let (status, _, err) = with_db(&[
        "account",
        "--coefficients",
        "npsc1-excerpt@latest",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--activity",
        "../datasets/sample-synthetic/activity.csv",
        "--format",
        "csv",
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("stored as run 1"), "{err}");
    let quota_run = |caps: &str, extra: &[&str]| {
        let mut args = vec![
            "quota",
            "--run",
            "1",
            "--registry",
            "../datasets/sample-synthetic/registry.csv",
            "--caps",
            caps,
        ];
        args.extend_from_slice(extra);
        with_db(&args)
    };
    let xlsx = dir.path().join("quota.xlsx");
    let (status, out, err) = quota_run(
        "../datasets/sample-synthetic/caps.csv",
        &["--format", "json", "--xlsx", xlsx.to_str().expect("utf-8")],
    );
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("using the totals of run 1"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    check_ledger(report["ledger"].as_array().expect("ledger"));
    let bytes = std::fs::read(&xlsx).expect("workbook");
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");

    // The run is grouped by province: a prefecture cap cannot be judged from it.
    let caps = write(
        dir.path(),
        "prefecture_caps.csv",
        "行政区划代码,污染物,年份,总量控制指标(吨)\n152500,化学需氧量,2022,100\n",
    );
    let (status, _, err) = quota_run(caps.to_str().expect("utf-8"), &[]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("grouped by province"), "{err}");
}

#[test]
fn bad_caps_are_refused_with_located_issues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let caps = write(
        dir.path(),
        "caps.csv",
        "行政区划代码,污染物,年份,总量控制指标(吨)\n150000,化学需氧量,2022,abc\n150000,化学需氧量,2022,5\n",
    );
    let mut args = SAMPLE.to_vec();
    args[8] = caps.to_str().expect("utf-8");
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("caps.csv"), "{err}");
    assert!(err.contains("bad-number"), "{err}");
    assert!(err.contains("abc"), "{err}");
}
