//! The enterprise registry in the database through the command line, on an embedded SQLite file:
//! a newer registry file imported as a change set (dry run, then applied), the status history,
//! the writeoff of enterprises without activity, matching another source by USCC.

use std::path::Path;

use crate::support::{npsc, root, s, write};

struct Db {
    dir: tempfile::TempDir,
    url: String,
}

fn db() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    Db { dir, url }
}

fn run(db: &Db, actor: &str, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--database", &db.url, "--actor", actor]);
    npsc(&all)
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(root().join("datasets/sample-synthetic").join(name))
        .expect("sample file")
}

const SAMPLE_REGISTRY: &str = "../datasets/sample-synthetic/registry.csv";
const SHEEP: &str = "91152502MA2BPPBJ0K";
const BOILER: &str = "91130109MAK4GR6066";
const GONE: &str = "91371503MAUB6LCY6H";
const NEW: &str = "91110105MA01ABCD5F";

/// Rewrites the lines of a CSV text: `edit` returns the new line, or `None` to drop it.
fn edit_lines(text: &str, edit: impl Fn(&str) -> Option<String>) -> String {
    text.lines()
        .filter_map(|l| edit(l).map(|l| l + "\n"))
        .collect()
}

/// The sample registry a year later: one enterprise renamed, one closed (and its permit number
/// gone), one missing, one new.
fn newer_registry(dir: &Path) -> std::path::PathBuf {
    let mut text = edit_lines(&sample("registry.csv"), |l| {
        if l.starts_with(SHEEP) {
            Some(l.replace("草原羊肉食品有限公司", "草原羊肉集团有限公司"))
        } else if l.starts_with(BOILER) {
            Some(format!(
                "{BOILER},示例石家庄藁城供热有限公司（样例）,130109,4430,关闭,2024-05-31,"
            ))
        } else if l.starts_with(GONE) {
            None
        } else {
            Some(l.to_string())
        }
    });
    text.push_str(&format!(
        "{NEW},示例朝阳区新建热力有限公司（样例）,110105,4430,运行,2024-03-01,\n"
    ));
    write(dir, "registry-2024.csv", &text)
}

fn import_sample(db: &Db) {
    let (status, out, err) = run(
        db,
        "alice",
        &["registry", "import", SAMPLE_REGISTRY, "--apply"],
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("30 added, 0 changed"), "{out}");
    assert!(out.contains("applied in one transaction"), "{out}");
}

#[test]
fn a_newer_registry_is_a_change_set_written_only_with_apply() {
    let db = db();
    // Nothing stored yet: a first import lists every enterprise as added, and writes nothing.
    let (status, out, err) = run(&db, "alice", &["registry", "import", SAMPLE_REGISTRY]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("30 added"), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    let (status, _, err) = run(&db, "alice", &["registry", "show", SHEEP]);
    assert_eq!(status, 1);
    assert!(err.contains("is not in the stored registry"), "{err}");
    import_sample(&db);

    let newer = newer_registry(db.dir.path());
    let (status, dry, err) = run(&db, "bob", &["registry", "import", s(&newer)]);
    assert_eq!(status, 0, "{err}");
    assert!(
        dry.contains("1 added, 2 changed (1 status change), 1 not in the file, 27 unchanged"),
        "{dry}"
    );
    for line in [
        format!("added    {NEW}"),
        format!("changed  {BOILER}"),
        "status        `operating` → `closed`".to_string(),
        "status_date   `-` → `2024-05-31`".to_string(),
        format!("permit_no     `{BOILER}001P` → `-`"),
        "name          `示例锡林浩特草原羊肉食品有限公司（样例）` → `示例锡林浩特草原羊肉集团有限公司（样例）`"
            .to_string(),
        format!("missing  {GONE}"),
        "not in the file: kept as it is, not closed".to_string(),
    ] {
        assert!(dry.contains(&line), "`{line}` not in:\n{dry}");
    }
    // The dry run changed nothing.
    let (_, show, _) = run(&db, "bob", &["registry", "show", BOILER]);
    assert!(show.contains("status       operating"), "{show}");

    let (status, applied, err) = run(&db, "bob", &["registry", "import", s(&newer), "--apply"]);
    assert_eq!(status, 0, "{err}");
    assert!(
        applied.contains("applied in one transaction: 2 status history entries appended"),
        "{applied}"
    );
    let (_, show, _) = run(&db, "bob", &["registry", "show", BOILER]);
    for line in [
        "status       closed",
        "status_date  2024-05-31",
        "permit_no    -",
        "region       130109  河北省 / 石家庄市 / 藁城区",
        "(revision 2)",
    ] {
        assert!(show.contains(line), "`{line}` not in:\n{show}");
    }
    let (_, show, _) = run(&db, "bob", &["registry", "show", SHEEP]);
    assert!(
        show.contains("name `示例锡林浩特草原羊肉食品有限公司（样例）` → `示例锡林浩特草原羊肉集团有限公司（样例）`"),
        "{show}"
    );

    // Oldest first: the first import, then the closure from the newer file.
    let (status, history, _) = run(&db, "bob", &["registry", "history", BOILER]);
    assert_eq!(status, 0);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(
        lines[0].contains("operating") && lines[0].ends_with(&format!("import {SAMPLE_REGISTRY}")),
        "{history}"
    );
    assert!(
        lines[1].contains("closed        2024-05-31  bob")
            && lines[1].ends_with(&format!("import {}", s(&newer))),
        "{history}"
    );
    // The enterprise missing from the newer file is untouched.
    let (_, history, _) = run(&db, "bob", &["registry", "history", GONE]);
    assert_eq!(history.lines().count(), 1, "{history}");
    let (_, show, _) = run(&db, "bob", &["registry", "show", GONE]);
    assert!(show.contains("status       operating"), "{show}");

    // The same file again: nothing to write, no audit entry.
    let (status, again, _) = run(&db, "bob", &["registry", "import", s(&newer), "--apply"]);
    assert_eq!(status, 0);
    assert!(again.contains("nothing to write"), "{again}");
    let (_, audit, _) = run(&db, "bob", &["audit"]);
    let actions: Vec<&str> = audit
        .lines()
        .map(|l| l.split_whitespace().nth(3).unwrap_or(""))
        .collect();
    assert_eq!(actions, ["registry-import", "registry-import"], "{audit}");
}

#[test]
fn writeoff_lists_then_closes_enterprises_without_recent_activity() {
    let db = db();
    import_sample(&db);
    // 2021–2023: one sheep slaughterhouse stops after 2021, one boiler house after 2022.
    let sheep_quiet = "91152523MAD44CA61H";
    let boiler_quiet = "91370114MABWJQL55H";
    let activity = sample("activity.csv");
    let mut text = edit_lines(&activity, |l| {
        let drop = l.starts_with(&format!("2023,{boiler_quiet}"))
            || l.contains(&format!(",{sheep_quiet},"));
        (!drop).then(|| l.to_string())
    });
    for l in activity.lines().filter(|l| l.starts_with("2022,9115")) {
        text.push_str(&l.replacen("2022", "2021", 1));
        text.push('\n');
    }
    let activity = write(db.dir.path(), "activity.csv", &text);

    let (status, out, err) = run(
        &db,
        "carol",
        &[
            "registry",
            "writeoff",
            "--inactive-years",
            "1",
            "--activity",
            s(&activity),
        ],
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("no activity in 2023 (1 year up to 2023)")
            && out.contains("2 suspected zombie enterprises"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "suspect  {boiler_quiet}  示例章丘区纺织园区供汽有限公司（样例）  operating  last activity 2022  → closed 2022-12-31"
        )),
        "{out}"
    );
    // The closed enterprise of the sample (2022-09-30) is not a suspect again.
    assert!(!out.contains("91130481MA4BPPLX2U"), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");

    // Two years: only the one quiet since 2021; its closure is dated at the end of that year.
    let args = [
        "registry",
        "writeoff",
        "--inactive-years",
        "2",
        "--activity",
        s(&activity),
        "--year",
        "2023",
        "--apply",
    ];
    let (status, out, err) = run(&db, "carol", &args);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains(&format!("suspect  {sheep_quiet}"))
            && out.contains("last activity 2021  → closed 2021-12-31")
            && out.contains(
                "closed 1 enterprise with the reason `no activity for 2 years (writeoff)`"
            ),
        "{out}"
    );
    let (_, history, _) = run(&db, "carol", &["registry", "history", sheep_quiet]);
    let last = history.lines().last().unwrap_or_default();
    assert!(
        last.contains("closed        2021-12-31  carol")
            && last.ends_with("no activity for 2 years (writeoff)"),
        "{history}"
    );
    let (_, audit, _) = run(&db, "carol", &["audit", "--limit", "1"]);
    assert!(
        audit.contains("registry-writeoff")
            && audit.contains(sheep_quiet)
            && audit.contains("closed on 2021-12-31: no activity for 2 years (writeoff)"),
        "{audit}"
    );
    let (status, out, _) = run(&db, "carol", &args);
    assert_eq!(status, 0);
    assert!(out.contains("nothing to write off"), "{out}");

    // Three years would need 2021–2023; the file starts in 2021, so four years are refused.
    let (status, _, err) = run(
        &db,
        "carol",
        &[
            "registry",
            "writeoff",
            "--inactive-years",
            "4",
            "--activity",
            s(&activity),
        ],
    );
    assert_eq!(status, 1);
    assert!(
        err.contains("has no rows for 2020") && err.contains("hint: "),
        "{err}"
    );
}

#[test]
fn a_bad_activity_file_is_reported_with_every_located_issue() {
    let db = db();
    import_sample(&db);
    let activity = sample("activity.csv");
    let text = edit_lines(&activity, |l| {
        Some(if l.starts_with("2023,91152502MA2BPPBJ0K") {
            l.replacen("2023", "20x3", 1)
        } else if l.starts_with("2023,91152525MAWTL29GX3") {
            l.replacen("91152525MAWTL29GX3", "91152525MAWTL29GX4", 1)
        } else {
            l.to_string()
        })
    });
    let path = write(db.dir.path(), "activity.csv", &text);
    let (status, _, err) = run(
        &db,
        "carol",
        &[
            "registry",
            "writeoff",
            "--inactive-years",
            "1",
            "--activity",
            s(&path),
            "--apply",
        ],
    );
    assert_eq!(status, 1);
    assert!(
        err.contains("the activity data have 2 errors")
            && err.contains("20x3")
            && err.contains("91152525MAWTL29GX4")
            && err.contains("nothing was written"),
        "{err}"
    );
}

#[test]
fn matching_another_source_reports_conflicts_and_both_unmatched_sides() {
    let db = db();
    let (status, _, err) = run(&db, "dave", &["registry", "match", SAMPLE_REGISTRY]);
    assert_eq!(status, 1);
    assert!(
        err.contains("the stored registry is empty") && err.contains("hint: "),
        "{err}"
    );
    import_sample(&db);
    // A permit list: the first ten enterprises, one in another county and class, plus one
    // enterprise the registry does not have.
    let moved = "91152525MAWTL29GX3";
    let mut text: String = edit_lines(&sample("registry.csv"), |l| {
        Some(if l.starts_with(moved) {
            l.replace(",152525,1351,", ",152502,1352,")
        } else {
            l.to_string()
        })
    })
    .lines()
    .take(11)
    .map(|l| format!("{l}\n"))
    .collect();
    text.push_str(&format!(
        "{NEW},示例朝阳区新建热力有限公司,110105,4430,运行,,\n"
    ));
    let permits = write(db.dir.path(), "permits.csv", &text);
    let (status, out, err) = run(&db, "dave", &["registry", "match", s(&permits)]);
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("9 matched, 1 conflict, 1 only in the file, 20 only in the registry"),
        "{out}"
    );
    for line in [
        format!("conflict       {moved}"),
        "region_code   `152525` (registry) ≠ `152502` (file)".to_string(),
        "industry_code `C1351` (registry) ≠ `C1352` (file)".to_string(),
        format!("only-file      {NEW}"),
        "only-registry  91130481MA4BPPLX2U  示例武安市铸造园区锅炉房有限公司（样例）  (closed)"
            .to_string(),
    ] {
        assert!(out.contains(&line), "`{line}` not in:\n{out}");
    }
    // Matching never writes.
    let (_, show, _) = run(&db, "dave", &["registry", "show", moved]);
    assert!(show.contains("region       152525"), "{show}");
}

#[test]
fn bad_arguments_are_user_errors_with_hints() {
    let db = db();
    import_sample(&db);
    let (status, _, err) = run(&db, "erin", &["registry", "show", "91152502MA2BPPBJ0X"]);
    assert_eq!(status, 1);
    assert!(
        err.starts_with("error: check character") && err.contains("hint: "),
        "{err}"
    );
    let (status, _, err) = run(
        &db,
        "erin",
        &[
            "registry",
            "writeoff",
            "--inactive-years",
            "0",
            "--activity",
            "../datasets/sample-synthetic/activity.csv",
        ],
    );
    assert_eq!(status, 1, "{err}");
    let (status, out, _) = npsc(&["registry", "--help"]);
    assert_eq!(status, 0);
    assert!(
        out.contains("npsc registry writeoff --inactive-years 2"),
        "{out}"
    );
}
