//! The edition workflow through the command line, on an embedded SQLite file: import a draft,
//! publish, refuse to change a published edition, resolve, export losslessly, account with a
//! pinned edition.

use crate::support::{SAMPLE_ARGS, npsc};

struct Db {
    _dir: tempfile::TempDir,
    url: String,
}

fn db() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    Db { _dir: dir, url }
}

fn run(db: &Db, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--database", &db.url, "--actor", "tester"]);
    npsc(&all)
}

const EXCERPT_HASH: &str = "db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115";

#[test]
fn import_publish_resolve_export_and_account() {
    let db = db();
    let (status, out, err) = run(&db, &["coeff", "import", "../coefficients/npsc1-excerpt"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("npsc1-excerpt@1") && out.contains("draft") && out.contains(EXCERPT_HASH),
        "{out}"
    );

    // Accounting refuses a set with no published edition, naming the problem.
    let mut account: Vec<&str> = SAMPLE_ARGS.to_vec();
    account[2] = "npsc1-excerpt@latest";
    let (status, _, err) = run(&db, &account);
    assert_eq!(status, 1);
    assert!(err.contains("no published edition"), "{err}");

    let (status, _, err) = run(
        &db,
        &[
            "coeff",
            "publish",
            "npsc1-excerpt",
            "--note",
            "first census excerpt",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let (status, _, err) = run(
        &db,
        &["coeff", "publish", "npsc1-excerpt@1", "--note", "again"],
    );
    assert_eq!(status, 1);
    assert!(err.contains("already published"), "{err}");

    let (status, out, _) = run(
        &db,
        &[
            "coeff",
            "resolve",
            "npsc1-excerpt",
            "--at",
            "2024-03-20",
            "--rule",
            "next-month",
        ],
    );
    assert_eq!(status, 0);
    assert!(
        out.starts_with("npsc1-excerpt@1") && out.contains("first census excerpt"),
        "{out}"
    );

    // Export, re-import: the same content hash.
    let dir = tempfile::tempdir().expect("tempdir");
    let exported = dir.path().join("excerpt.csv");
    let (status, _, err) = run(
        &db,
        &[
            "coeff",
            "export",
            "npsc1-excerpt@1",
            "--out",
            exported.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(status, 0, "{err}");
    let (status, out, _) = run(&db, &["coeff", "import", exported.to_str().expect("utf-8")]);
    assert_eq!(status, 0);
    assert!(
        out.contains(EXCERPT_HASH),
        "round trip changed the content: {out}"
    );

    // Accounting with the pinned edition gives the same totals as with the files.
    let (status, from_db, err) = run(&db, &account);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("using npsc1-excerpt@1 (published"), "{err}");
    let (_, from_files, _) = npsc(&SAMPLE_ARGS);
    assert_eq!(from_db, from_files);

    let (status, out, _) = run(&db, &["audit"]);
    assert_eq!(status, 0);
    let actions: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(3).unwrap_or(""))
        .collect();
    assert_eq!(actions, ["import", "publish", "import"], "{out}");
}

#[test]
fn bad_selectors_and_missing_notes_are_user_errors() {
    let db = db();
    for args in [
        vec!["coeff", "resolve", "nothing@latest"],
        vec!["coeff", "resolve", "npsc1-excerpt@x"],
        vec!["coeff", "retire", "npsc1-excerpt", "--note", "n"],
        vec!["coeff", "publish", "npsc1-excerpt", "--note", " "],
    ] {
        let (status, _, err) = run(&db, &args);
        assert_eq!(status, 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}
