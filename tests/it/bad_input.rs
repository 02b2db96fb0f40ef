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
