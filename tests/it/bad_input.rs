//! Files with deliberate errors: every bad cell is reported at once, located by file, row, column
//! and value, the exit status is 1, and nothing is written.

use crate::support::npsc;

/// Paths are relative to the `tests` package (cargo runs tests there) so messages are stable.
const EXCERPT: &str = "../coefficients/npsc1-excerpt";
const SAMPLE_REGISTRY: &str = "../datasets/sample-synthetic/registry.csv";

#[test]
fn activity_with_many_bad_cells_reports_all_of_them_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("totals.csv");
    let results = dir.path().join("results.csv");
    let (status, stdout, stderr) = npsc(&[
        "account",
        "--coefficients",
        EXCERPT,
        "--registry",
        SAMPLE_REGISTRY,
        "--activity",
        "fixtures/bad/activity-bad.csv",
        "--out",
        out.to_str().expect("utf-8"),
        "--results",
        results.to_str().expect("utf-8"),
    ]);
    assert_eq!(status, 1);
    assert_eq!(stdout, "");
    assert!(!out.exists() && !results.exists(), "nothing is written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left behind: {leftovers:?}"
    );
    insta::assert_snapshot!(stderr);
}

#[test]
fn coefficient_table_with_many_bad_cells() {
    let (status, stdout, _) = npsc(&["validate", "fixtures/bad/coefficients-bad.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout);
}

#[test]
fn registry_with_many_bad_cells() {
    let (status, stdout, _) = npsc(&["validate", "fixtures/bad/registry-bad.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout);
}

#[test]
fn header_problems_are_all_reported_before_any_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let activity = crate::support::write(
        dir.path(),
        "activity.csv",
        "年份,统一社会信用代码,产品名称,产品名称,工艺名称,活动水平,计量单位,备注2\n2023,91152502MA2BPPBJ0K,冻羊肉,冻羊肉,屠宰、分割,1,头,x\n",
    );
    let (status, _, stderr) = npsc(&[
        "account",
        "--coefficients",
        EXCERPT,
        "--registry",
        SAMPLE_REGISTRY,
        "--activity",
        crate::support::s(&activity),
    ]);
    assert_eq!(status, 1);
    for code in ["duplicate-column", "unknown-column", "missing-column"] {
        assert!(stderr.contains(code), "{code} in {stderr}");
    }
    assert!(
        stderr.contains("备注2") && stderr.contains("raw_material"),
        "{stderr}"
    );
}

#[test]
fn permit_reports_with_many_bad_cells() {
    let reference = app::reference::bundled().expect("bundled reference");
    let path = std::path::Path::new("fixtures/bad/permit-reports-bad.csv");
    let issues = ingest::permit::read_permit_reports(
        ingest::Source::Path(path),
        &reference,
        &ingest::table::ReadOptions::default(),
    )
    .expect_err("every line but two is bad");
    let report = format!(
        "{issues}{} errors, {} warnings\n",
        issues.error_count(),
        issues.warning_count()
    );
    insta::assert_snapshot!(report);
}
