//! Stored accounting runs through the command line: a run keeps its provenance, totals and
//! per-row results, and becomes out of date when a newer edition would be resolved or an input
//! changes.

use crate::support::npsc;

#[test]
fn runs_are_stored_exported_and_go_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let activity = dir.path().join("activity.csv");
    std::fs::copy("../datasets/sample-synthetic/activity.csv", &activity).expect("copy");
    let activity = activity.to_str().expect("utf-8");
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
        with_db(&["coeff", "publish", "npsc1-excerpt", "--note", "first"]).0,
        0
    );
    let (status, totals_csv, err) = with_db(&[
        "account",
        "--coefficients",
        "npsc1-excerpt@latest",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--activity",
        activity,
        "--format",
        "csv",
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("stored as run 1"), "{err}");

    let (_, list, _) = with_db(&["runs", "list"]);
    assert!(
        list.starts_with("run 1")
            && list.contains("npsc1-excerpt@1")
            && list.contains("65 of       67"),
        "{list}"
    );
    let (_, show, _) = with_db(&["runs", "show", "1"]);
    assert!(
        show.contains("npsc1-excerpt@latest")
            && show.contains("e41da814ad538987030cb623da5c0180a47dd4f15917f686dfa1694e21f3f059"),
        "{show}"
    );

    // Stored totals are the printed totals (same numbers, same rendering).
    let (_, stored, _) = with_db(&["runs", "export", "1"]);
    let emitted = |csv: &str, emitted_column: usize| -> Vec<String> {
        let mut v: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(emitted_column).unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(emitted(&stored, 7), emitted(&totals_csv, 11));
    let (_, results, _) = with_db(&["runs", "export", "1", "--results"]);
    // EXPECTED.md lists 236 (row, pollutant) results for the 65 accounted rows.
    assert_eq!(
        results.lines().count() - 1,
        236,
        "one line per row and pollutant"
    );

    let (_, stale, _) = with_db(&["runs", "stale"]);
    assert_eq!(stale.trim(), "no stored run is out of date");
    // Publishing a newer edition says which runs it makes stale.
    let second = dir.path().join("v2");
    std::fs::create_dir_all(&second).expect("mkdir");
    for file in ["coefficients.csv", "manifest.toml"] {
        std::fs::copy(crate::support::excerpt().join(file), second.join(file)).expect("copy");
    }
    let table = std::fs::read_to_string(second.join("coefficients.csv")).expect("read");
    std::fs::write(
        second.join("coefficients.csv"),
        table.replace(",2.94,直排,,2.94,", ",3.1,直排,,3.1,"),
    )
    .expect("write");
    assert_eq!(
        with_db(&["coeff", "import", second.to_str().expect("utf-8")]).0,
        0
    );
    let (status, published, _) =
        with_db(&["coeff", "publish", "npsc1-excerpt", "--note", "NOx 3.1"]);
    assert_eq!(status, 0);
    assert!(
        published.contains("1 stored run(s) of `npsc1-excerpt` are now out of date"),
        "{published}"
    );
    let (_, stale, _) = with_db(&["runs", "stale"]);
    assert!(
        stale.contains("would now resolve to npsc1-excerpt@2"),
        "{stale}"
    );
    std::fs::write(
        activity,
        std::fs::read_to_string(activity).expect("read") + "\n",
    )
    .expect("append");
    let (_, stale, _) = with_db(&["runs", "stale"]);
    assert!(
        stale.contains("activity file") && stale.contains("changed"),
        "{stale}"
    );
}
