//! `npsc check-consistency RUN`: the sample, stored as a run, uses the same numbers in its
//! statistics totals, its per-enterprise results, the tax input made from them and the ledger.

use crate::support::npsc;

#[test]
fn a_stored_sample_run_uses_the_same_numbers_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let mut account = crate::support::SAMPLE_ARGS.to_vec();
    account.extend_from_slice(&["--database", &url]);
    let (status, _, err) = npsc(&account);
    assert_eq!(status, 0, "{err}");
    let (status, out, err) = npsc(&["check-consistency", "1", "--database", &url]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains(
            "run 1 (edition sha256 db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115)"
        ),
        "{out}"
    );
    for part in [
        "ledger: 36 compared, 0 disagree",
        "statistics: 18 compared, 0 disagree",
        "tax: 162 compared, 0 disagree",
        "the same numbers",
    ] {
        assert!(out.contains(part), "{part}: {out}");
    }
    let (status, _, err) = npsc(&["check-consistency", "9", "--database", &url]);
    assert_eq!(status, 1, "{err}");
}
