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
    // Newest first: the stored run, the re-import of the export, the publish, the import.
    assert_eq!(actions, ["run", "import", "publish", "import"], "{out}");
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

/// A second edition of the excerpt with NOx 3.1 kg/t instead of 2.94, effective 2024-03-15.
fn second_edition(dir: &std::path::Path) -> std::path::PathBuf {
    let excerpt = crate::support::excerpt();
    let table = std::fs::read_to_string(excerpt.join("coefficients.csv")).expect("table");
    let old = "4430,蒸汽,煤炭,层燃炉,所有规模,氮氧化物,千克/吨-原料,2.94,直排,,2.94";
    assert!(table.contains(old));
    let folder = dir.join("v2");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join("coefficients.csv"),
        table.replace(
            old,
            "4430,蒸汽,煤炭,层燃炉,所有规模,氮氧化物,千克/吨-原料,3.1,直排,,3.1",
        ),
    )
    .expect("write");
    let manifest = std::fs::read_to_string(excerpt.join("manifest.toml")).expect("manifest");
    std::fs::write(
        folder.join("manifest.toml"),
        manifest.replace("2008-01-01", "2024-03-15"),
    )
    .expect("write");
    folder
}

#[test]
fn diff_and_impact_of_a_revision() {
    let db = db();
    let dir = tempfile::tempdir().expect("tempdir");
    let v2 = second_edition(dir.path());
    for (path, note) in [
        ("../coefficients/npsc1-excerpt", "first"),
        (v2.to_str().expect("utf-8"), "NOx 3.1"),
    ] {
        assert_eq!(run(&db, &["coeff", "import", path]).0, 0);
        assert_eq!(
            run(&db, &["coeff", "publish", "npsc1-excerpt", "--note", note]).0,
            0
        );
    }
    let (status, out, err) = run(
        &db,
        &["coeff", "diff", "npsc1-excerpt@1", "npsc1-excerpt@2"],
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("1 changed, 0 added, 0 removed, 0 renamed, 37 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("generation_coefficient `2.94` → `3.1` (+5.44 %)"),
        "{out}"
    );
    let (_, json, _) = run(
        &db,
        &[
            "coeff",
            "diff",
            "npsc1-excerpt@1",
            "npsc1-excerpt@2",
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(json["unchanged"], 37);
    assert_eq!(json["changed"][0]["fields"][0]["old"], "2.94");
    let relative: f64 = json["changed"][0]["fields"][0]["relative"]
        .as_str()
        .expect("string")
        .parse()
        .expect("number");
    approx::assert_relative_eq!(relative, (3.1 - 2.94) / 2.94, max_relative = 1e-12);
    let (status, shown, _) = run(&db, &["coeff", "show", "npsc1-excerpt@2"]);
    assert_eq!(status, 0);
    assert!(shown.contains("NOx 3.1"), "{shown}");

    // The tax rule: a revision effective 2024-03-15 applies from 2024-04-01.
    let resolve = |date: &str| {
        run(
            &db,
            &[
                "coeff",
                "resolve",
                "npsc1-excerpt",
                "--at",
                date,
                "--rule",
                "next-month",
            ],
        )
        .1
    };
    assert!(resolve("2024-03-31").starts_with("npsc1-excerpt@1"));
    assert!(resolve("2024-04-01").starts_with("npsc1-excerpt@2"));

    let (status, out, err) = run(
        &db,
        &[
            "coeff",
            "impact",
            "npsc1-excerpt@1",
            "npsc1-excerpt@2",
            "--registry",
            "../datasets/sample-synthetic/registry.csv",
            "--activity",
            "../datasets/sample-synthetic/activity.csv",
            "--format",
            "csv",
        ],
    );
    assert_eq!(status, 0, "{err}");
    // Largest change first: Shandong 2022 NOx, 307.818 t at 2.94 kg/t is 104 700 t of coal,
    // which at 3.1 kg/t gives 324.57 t: +16.752 t.
    let first: Vec<&str> = out.lines().nth(1).expect("a line").split(',').collect();
    assert_eq!(
        &first[..6],
        ["2022", "370000", "山东省", "", "氮氧化物", "吨"]
    );
    let numbers: Vec<f64> = first[6..9]
        .iter()
        .map(|v| v.parse().expect("number"))
        .collect();
    approx::assert_relative_eq!(numbers[0], 307.818, max_relative = 1e-12);
    approx::assert_relative_eq!(numbers[1], 324.57, max_relative = 1e-12);
    approx::assert_relative_eq!(numbers[2], 16.752, max_relative = 1e-9);
}

#[test]
fn a_declared_key_migration_turns_a_rename_into_renamed() {
    let db = db();
    let dir = tempfile::tempdir().expect("tempdir");
    let excerpt = crate::support::excerpt();
    let folder = dir.path().join("v2");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let table = std::fs::read_to_string(excerpt.join("coefficients.csv")).expect("table");
    std::fs::write(
        folder.join("coefficients.csv"),
        table.replace("4411,电能,", "4411,电力,"),
    )
    .expect("write");
    let manifest = std::fs::read_to_string(excerpt.join("manifest.toml")).expect("manifest");
    std::fs::write(
        folder.join("manifest.toml"),
        manifest.replace(
            "tables = [",
            "key_migrations = \"key_migrations.csv\"\ntables = [",
        ),
    )
    .expect("write");
    std::fs::write(
        folder.join("key_migrations.csv"),
        "原行业代码,原产品名称,新产品名称,说明\n4411,电能,电力,product renamed in the revision\n",
    )
    .expect("write");
    for (path, note) in [
        ("../coefficients/npsc1-excerpt", "first"),
        (folder.to_str().expect("utf-8"), "renamed"),
    ] {
        assert_eq!(run(&db, &["coeff", "import", path]).0, 0);
        assert_eq!(
            run(&db, &["coeff", "publish", "npsc1-excerpt", "--note", note]).0,
            0
        );
    }
    let (status, out, err) = run(
        &db,
        &["coeff", "diff", "npsc1-excerpt@1", "npsc1-excerpt@2"],
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("0 changed, 0 added, 0 removed, 1 renamed, 37 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("renamed  4411 / 电能 /") && out.contains("→ 4411 / 电力 /"),
        "{out}"
    );
    // Without the declaration, the same edition reads as one row removed and one added.
    let (_, out, _) = run(
        &db,
        &[
            "coeff",
            "diff",
            "npsc1-excerpt@1",
            folder.join("coefficients.csv").to_str().expect("utf-8"),
        ],
    );
    assert!(out.contains("1 added, 1 removed"), "{out}");
    assert_eq!(run(&db, &["db", "check"]).0, 0);
}
