//! `npsc reference`: the tax's reference tables as versioned editions in a database — import
//! (checked, all-or-nothing), canonical form and hash, publish, diff, retire, export.

use crate::support::{npsc, s};

const RATES: &str = "../datasets/reference/tax_rates_2018.csv";

/// `npsc reference ARGS --database sqlite://DIR/t.db`.
fn reference(db: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["reference"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database", db, "--actor", "tester"]);
    npsc(&all)
}

fn ok(db: &str, args: &[&str]) -> String {
    let (status, out, err) = reference(db, args);
    assert_eq!(status, 0, "npsc reference {args:?}: {err}");
    out
}

/// The `sha256 …` word of an import/list line.
fn hash_of(line: &str) -> &str {
    line.split("sha256 ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no hash in {line}"))
}

/// Header and cells of a CSV text.
fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect()
}

fn database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", s(&dir.path().join("t.db")));
    (dir, url)
}

#[test]
fn bundled_tables_are_imported_published_and_listed() {
    let (_dir, db) = database();
    for (kind, rows) in [
        ("tax-equivalents", "105 rows"),
        ("tax-rates", "43 rows"),
        ("tax-item-counts", "1 rows"),
    ] {
        let out = ok(&db, &["import", kind, "--bundled"]);
        assert!(
            out.contains(&format!("{kind}@1")) && out.contains(rows),
            "{out}"
        );
        let out = ok(&db, &["publish", kind, "--note", "the 2018 tables"]);
        assert!(out.contains("published"), "{out}");
    }
    let list = ok(&db, &["list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.lines().all(|l| l.contains("published")), "{list}");
    // The canonical form of the bundled rate table has the file's header and cells.
    let exported = ok(&db, &["export", "tax-rates@1"]);
    let bundled = std::fs::read_to_string(RATES).expect("bundled rates");
    assert_eq!(records(&exported), records(&bundled));
    // Published editions are final.
    let (status, _, err) = reference(&db, &["publish", "tax-rates@1", "--note", "again"]);
    assert_eq!(status, 1);
    assert!(err.contains("already published"), "{err}");
}

#[test]
fn a_gbk_copy_with_chinese_headers_in_another_order_is_the_same_table() {
    let (dir, db) = database();
    let first = ok(&db, &["import", "tax-rates", "--bundled"]);
    ok(&db, &["publish", "tax-rates", "--note", "2018"]);
    // The same rows under Chinese headers, columns reversed, CRLF line ends, GBK.
    let bundled = std::fs::read_to_string(RATES).expect("bundled rates");
    let mut reader = csv::Reader::from_reader(bundled.as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record([
            "备注",
            "执行日期",
            "税额",
            "污染物",
            "介质",
            "行政区划名称",
            "行政区划代码",
        ])
        .expect("header");
    for record in reader.records() {
        let record = record.expect("row");
        let mut cells: Vec<&str> = record.iter().collect();
        cells.reverse();
        writer.write_record(cells).expect("row");
    }
    let text = String::from_utf8(writer.into_inner().expect("csv")).expect("utf-8");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let path = dir.path().join("税额.csv");
    std::fs::write(&path, &gbk).expect("write");
    let out = ok(&db, &["import", "tax-rates", s(&path), "--dry-run"]);
    assert_eq!(hash_of(&out), hash_of(&first), "one table, one hash: {out}");
    assert!(
        out.contains("identical to the published edition tax-rates@1"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing written"), "{out}");
    assert_eq!(ok(&db, &["list", "tax-rates"]).lines().count(), 1);
}

#[test]
fn a_bad_table_is_refused_whole_with_every_error_located() {
    let (dir, db) = database();
    let path = dir.path().join("rates.csv");
    std::fs::write(
        &path,
        "region_code,medium,pollutant,yuan_per_equivalent,effective_from\n\
         110000,air,*,12,2018-01-01\n\
         11000,air,*,12,2018-01-01\n\
         110000,soil,*,12,2018-01-01\n\
         110000,water,不存在,abc,2018-02-30\n",
    )
    .expect("write");
    let (status, out, err) = reference(&db, &["import", "tax-rates", s(&path)]);
    assert_eq!(status, 1, "{out}");
    for expected in [
        "the tax-rates table has 5 errors",
        "row 3, column `region_code`",
        "`11000`",
        "row 4, column `medium`",
        "`soil`",
        "row 5, column `pollutant`",
        "`不存在`",
        "row 5, column `yuan_per_equivalent`",
        "row 5, column `effective_from`",
        "nothing was written",
    ] {
        assert!(err.contains(expected), "`{expected}` in\n{err}");
    }
    let list = ok(&db, &["list"]);
    assert!(list.contains("no reference tables"), "{list}");
    // An unknown kind is a clear argument error.
    let (status, _, err) = reference(&db, &["import", "tax-rate", s(&path)]);
    assert_eq!(status, 1);
    assert!(
        err.contains("unknown reference table kind `tax-rate`"),
        "{err}"
    );
    assert!(err.contains("tax-item-counts"), "{err}");
}

#[test]
fn revisions_are_diffed_published_and_retired() {
    let (dir, db) = database();
    ok(&db, &["import", "tax-rates", "--bundled"]);
    ok(&db, &["publish", "tax-rates", "--note", "2018"]);
    // A revision: Henan's air rate from 2026-01-01 (a hypothetical decision for the test).
    let bundled = std::fs::read_to_string(RATES).expect("bundled rates");
    let revised = format!("{bundled}410000,河南省,air,*,6,2026-01-01,test revision\n");
    let path = dir.path().join("rates-2026.csv");
    std::fs::write(&path, revised).expect("write");
    let out = ok(&db, &["import", "tax-rates", s(&path)]);
    assert!(
        out.contains("tax-rates@2") && out.contains("draft"),
        "{out}"
    );
    let diff = ok(&db, &["diff", "tax-rates@1", "tax-rates@draft"]);
    assert_eq!(
        diff,
        "change,region_code,region_name,medium,pollutant,yuan_per_equivalent,effective_from,note\n\
         added,410000,河南省,air,*,6,2026-01-01,test revision\n"
    );
    let (status, _, err) = reference(&db, &["publish", "tax-rates"]);
    assert_ne!(status, 0, "a publish needs a note");
    assert!(err.contains("--note"), "{err}");
    ok(&db, &["publish", "tax-rates", "--note", "Henan 2026"]);
    let list = ok(&db, &["list", "tax-rates"]);
    assert!(
        list.contains("tax-rates@2") && list.contains("44 rows"),
        "{list}"
    );
    ok(
        &db,
        &["retire", "tax-rates@2", "--note", "decision withdrawn"],
    );
    let list = ok(&db, &["list", "tax-rates"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("tax-rates@2") && l.contains("retired")),
        "{list}"
    );
    // `latest` skips the retired edition; the retired one stays readable by number.
    let latest = ok(&db, &["export", "tax-rates@latest"]);
    assert_eq!(records(&latest), records(&bundled));
    let two = ok(&db, &["export", "tax-rates@2"]);
    assert!(two.ends_with("410000,河南省,air,*,6,2026-01-01,test revision\n"));
    // The audit log names every step.
    let (status, audit, err) = npsc(&["audit", "--database", &db]);
    assert_eq!(status, 0, "{err}");
    for step in [
        "import    tax-rates@2",
        "publish   tax-rates@2",
        "retire    tax-rates@2",
    ] {
        let words: Vec<&str> = step.split_whitespace().collect();
        assert!(
            audit
                .lines()
                .any(|l| l.contains(words[0]) && l.contains(words[1])),
            "{step} in {audit}"
        );
    }
}

/// `npsc tax` of the bundled sample against the database `db`, with extra arguments, as JSON.
fn tax(db: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "tax",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--emissions",
        "../datasets/sample-synthetic/monitored_emissions.csv",
        "--format",
        "json",
        "--database",
        db,
    ];
    args.extend_from_slice(extra);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn the_tax_uses_the_latest_published_tables_or_the_one_named() {
    let (dir, db) = database();
    // Nothing published: the bundled tables, said so.
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--emissions",
        "../datasets/sample-synthetic/monitored_emissions.csv",
        "--database",
        &db,
    ]);
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("no published `tax-rates` table"), "{err}");
    for kind in ["tax-equivalents", "tax-rates", "tax-item-counts"] {
        ok(&db, &["import", kind, "--bundled"]);
        ok(&db, &["publish", kind, "--note", "2018"]);
    }
    let first = tax(&db, &[]);
    assert_eq!(first["total_tax"], "59128.79");
    assert_eq!(first["rates"], "tax-rates@1");
    assert_eq!(first["equivalents"], "tax-equivalents@1");
    assert_eq!(first["item_counts_table"], "tax-item-counts@1");
    // A revision doubling Hebei's default air rate (hypothetical, for the test), published.
    let bundled = std::fs::read_to_string(RATES).expect("bundled rates");
    let revised = bundled.replace(
        "130000,河北省,air,*,4.8,2018-01-01,",
        "130000,河北省,air,*,9.6,2018-01-01,",
    );
    assert_ne!(revised, bundled);
    let path = dir.path().join("rates-revised.csv");
    std::fs::write(&path, revised).expect("write");
    ok(&db, &["import", "tax-rates", s(&path)]);
    ok(&db, &["publish", "tax-rates", "--note", "test revision"]);
    let second = tax(&db, &[]);
    assert_eq!(second["rates"], "tax-rates@2");
    // Exactly the Hebei air lines taxed at the default rate change: rate 4.80 → 9.60, the tax
    // recomputed from their equivalents and share; every other line is identical.
    let lines = |r: &serde_json::Value| r["declaration"].as_array().expect("lines").clone();
    let (before, after) = (lines(&first), lines(&second));
    assert_eq!(before.len(), after.len());
    let mut changed = 0;
    for (b, a) in before.iter().zip(&after) {
        if b["county_code"].as_str().expect("county").starts_with("13")
            && b["medium"] == "大气"
            && b["rate"] == "4.80"
        {
            assert_eq!(a["rate"], "9.60");
            let equivalents: f64 = a["equivalents"].as_str().unwrap().parse().unwrap();
            let share: f64 = a["share"].as_str().unwrap().parse().unwrap();
            let tax: f64 = a["tax"].as_str().unwrap().parse().unwrap();
            approx::assert_abs_diff_eq!(tax, equivalents * 9.6 * share, epsilon = 0.005);
            changed += 1;
        } else {
            assert_eq!(b, a);
        }
    }
    assert!(
        changed > 0,
        "the sample has Hebei air lines at the default rate"
    );
    // Pinned to the first edition: the first figures again.
    let pinned = tax(&db, &["--rates", "tax-rates@1"]);
    assert_eq!(pinned["total_tax"], "59128.79");
    assert_eq!(pinned["rates"], "tax-rates@1");
    // A stored edition of the wrong kind is refused.
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--emissions",
        "../datasets/sample-synthetic/monitored_emissions.csv",
        "--database",
        &db,
        "--rates",
        "tax-equivalents@1",
    ]);
    assert_eq!(status, 1);
    assert!(err.contains("not a `tax-rates` table"), "{err}");
}
