//! `npsc report`: the statistician's workbook and charts on the bundled sample, checked against
//! `datasets/sample-synthetic/expected_totals.csv` and a year-over-year change computed by hand.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::Reader;

use crate::support::{SAMPLE_ARGS, npsc, root, s};

/// (year, province, pollutant name) → emitted, from the independent computation.
fn expected() -> BTreeMap<(String, String, String), f64> {
    let text =
        std::fs::read_to_string(root().join("datasets/sample-synthetic/expected_totals.csv"))
            .expect("expected totals");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                (f[0].to_string(), f[1].to_string(), f[2].to_string()),
                f[4].parse().expect("emitted"),
            )
        })
        .collect()
}

fn report(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let path = dir.join("report.xlsx");
    let mut args = SAMPLE_ARGS.to_vec();
    args[0] = "report";
    args.extend_from_slice(&["--xlsx", s(&path)]);
    args.extend_from_slice(extra);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{out}{err}");
    assert!(err.contains("statistics report written to"), "{err}");
    path
}

type Sheet = (Vec<String>, Vec<Vec<calamine::Data>>);

fn sheet(path: &Path, name: &str) -> Sheet {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path).expect("workbook opens");
    let range = workbook.worksheet_range(name).expect("sheet");
    let mut rows = range.rows();
    let header = rows
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    (header, rows.map(|r| r.to_vec()).collect())
}

fn number(cell: &calamine::Data) -> Option<f64> {
    match cell {
        calamine::Data::Float(x) => Some(*x),
        calamine::Data::Int(x) => Some(*x as f64),
        calamine::Data::String(t) => t.parse().ok(),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn the_workbook_matches_the_expected_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = report(dir.path(), &[]);
    let workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).expect("workbook opens");
    assert_eq!(
        workbook.sheet_names(),
        ["按地区", "按行业", "按污染物", "同比", "provenance"]
    );
    let (header, rows) = sheet(&path, "按地区");
    assert_eq!(header[..3], ["年份", "地区代码", "地区名称"]);
    assert!(
        header.contains(&"二氧化硫排放量（吨）".to_string()),
        "{header:?}"
    );
    assert!(
        header.contains(&"工业废气量排放量（万标立方米）".to_string()),
        "{header:?}"
    );
    // Every number column names its unit.
    for sheet_name in ["按地区", "按行业", "按污染物", "同比"] {
        let (header, _) = sheet(&path, sheet_name);
        let labels = [
            "年份",
            "地区代码",
            "地区名称",
            "行业代码",
            "行业名称",
            "污染物代码",
            "污染物名称",
            "计量单位",
        ];
        for h in header.iter().filter(|h| !labels.contains(&h.as_str())) {
            assert!(h.contains('（') && h.ends_with('）'), "{sheet_name}: {h}");
        }
    }
    let expected = expected();
    let mut compared = 0;
    for row in &rows {
        let year = number(&row[0]).expect("year").to_string();
        let region = row[1].to_string();
        assert!(
            matches!(row[1], calamine::Data::String(_)),
            "codes are text"
        );
        assert!(
            matches!(row[0], calamine::Data::String(_)),
            "years are text: {:?}",
            row[0]
        );
        for (c, h) in header.iter().enumerate().skip(3) {
            let Some((name, _unit)) = h.split_once("排放量（") else {
                continue;
            };
            let Some(value) = number(&row[c]) else {
                continue;
            };
            let want = expected
                .get(&(year.clone(), region.clone(), name.to_string()))
                .unwrap_or_else(|| panic!("{year} {region} {name} is not expected"));
            assert!(
                close(value, *want),
                "{year} {region} {name}: {value} vs {want}"
            );
            compared += 1;
        }
    }
    let provincial = expected.keys().filter(|k| k.1 != "000000").count();
    assert_eq!(compared, provincial);
    // National by pollutant equals the expected national lines.
    let (header, rows) = sheet(&path, "按污染物");
    assert_eq!(header[5], "排放量（计量单位）");
    let mut national = 0;
    for row in &rows {
        let key = (
            number(&row[0]).expect("year").to_string(),
            "000000".to_string(),
            row[2].to_string(),
        );
        if let Some(want) = expected.get(&key) {
            assert!(close(number(&row[5]).expect("emitted"), *want), "{key:?}");
            national += 1;
        }
    }
    assert_eq!(
        national,
        expected.keys().filter(|k| k.1 == "000000").count()
    );
    // Provenance: the set, its hash, the inputs with their SHA-256, the version.
    let (_, rows) = sheet(&path, "provenance");
    let keys: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    for key in [
        "coefficient_set",
        "content_hash",
        "registry_sha256",
        "activity_sha256",
        "options",
        "npsc_version",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    let hash = rows
        .iter()
        .find(|r| r[0] == "activity_sha256")
        .map(|r| r[1].to_string())
        .expect("hash");
    assert_eq!(
        hash,
        app::runs::file_hash(&root().join("datasets/sample-synthetic/activity.csv")).expect("hash")
    );
}

#[test]
fn the_year_over_year_change_is_the_hand_computation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = report(dir.path(), &["--year", "2023"]);
    let (header, rows) = sheet(&path, "同比");
    assert_eq!(header[5], "2022年排放量（计量单位）");
    assert_eq!(header[6], "2023年排放量（计量单位）");
    let row = rows
        .iter()
        .find(|r| r[0] == "370000" && r[2] == "SO2")
        .expect("Shandong SO2");
    // expected_totals.csv: 1113.228 t in 2022, 1062.772 t in 2023.
    assert!(close(number(&row[5]).expect("before"), 1113.228));
    assert!(close(number(&row[6]).expect("now"), 1062.772));
    assert!((number(&row[7]).expect("change") - (-50.456)).abs() < 1e-9);
    // -50.456 / 1113.228 = -4.5324…%
    assert_eq!(number(&row[8]).expect("percent"), -4.53);
    // National first.
    assert_eq!(rows[0][1].to_string(), "全国");
}

#[test]
fn the_charts_have_one_bar_per_province_and_one_line_per_pollutant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let charts = dir.path().join("charts");
    report(
        dir.path(),
        &[
            "--svg-dir",
            s(&charts),
            "--pollutant",
            "二氧化硫",
            "--year",
            "2023",
        ],
    );
    let bars = std::fs::read_to_string(charts.join("regional-SO2-2023.svg")).expect("bars");
    app::report::check_svg(&bars).expect("well-formed bars");
    let provinces: Vec<String> = expected()
        .keys()
        .filter(|k| k.0 == "2023" && k.1 != "000000" && k.2 == "二氧化硫")
        .map(|k| k.1.clone())
        .collect();
    assert_eq!(provinces, ["130000", "370000"]);
    let heights: Vec<f64> = bars
        .lines()
        .filter(|l| l.starts_with("<rect class=\"bar\""))
        .map(|l| {
            let h = l.split("height=\"").nth(1).expect("height");
            h[..h.find('"').expect("quote")].parse().expect("number")
        })
        .collect();
    assert_eq!(heights.len(), provinces.len());
    // Hebei 950.864 t, Shandong 1062.772 t.
    assert!((heights[0] / heights[1] - 950.864 / 1062.772).abs() < 1e-3);
    assert!(bars.contains("河北") && bars.contains("山东"), "{bars}");
    assert!(bars.contains(">1062.772<"), "{bars}");
    let lines = std::fs::read_to_string(charts.join("year-over-year-national.svg")).expect("lines");
    app::report::check_svg(&lines).expect("well-formed lines");
    let pollutants = expected()
        .keys()
        .filter(|k| k.1 == "000000")
        .map(|k| k.2.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(lines.matches("<polyline").count(), pollutants);
    assert!(lines.contains("font-family=\"sans-serif\""));
}

#[test]
fn a_stored_run_gives_the_same_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let mut account = SAMPLE_ARGS.to_vec();
    account.extend_from_slice(&["--database", &url, "--industry-level", "division"]);
    let (status, _, err) = npsc(&account);
    assert_eq!(status, 0, "{err}");
    let fresh = report(dir.path(), &["--industry-level", "division"]);
    let stored = dir.path().join("stored.xlsx");
    let (status, out, err) = npsc(&[
        "report",
        "--run",
        "1",
        "--database",
        &url,
        "--xlsx",
        s(&stored),
        "--industry-level",
        "division",
    ]);
    assert_eq!(status, 0, "{out}{err}");
    for name in ["按地区", "按行业", "按污染物", "同比"] {
        let (h1, r1) = sheet(&fresh, name);
        let (h2, r2) = sheet(&stored, name);
        assert_eq!(h1, h2, "{name}");
        assert_eq!(r1.len(), r2.len(), "{name}");
        for (a, b) in r1.iter().zip(&r2) {
            for (x, y) in a.iter().zip(b) {
                match (number(x), number(y)) {
                    (Some(x), Some(y)) => assert!(close(x, y), "{name}: {x} vs {y}"),
                    _ => assert_eq!(x.to_string(), y.to_string(), "{name}"),
                }
            }
        }
    }
    let (_, rows) = sheet(&fresh, "按行业");
    assert!(rows.len() > 2, "industries by division");
    let (_, rows) = sheet(&stored, "provenance");
    assert!(rows.iter().any(|r| r[0] == "run" && r[1] == "1"));
}

#[test]
fn a_named_edition_gives_the_same_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
    let with_db = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database", url.as_str()]);
        npsc(&all)
    };
    assert_eq!(
        with_db(&["coeff", "import", "../coefficients/npsc1-excerpt"]).0,
        0
    );
    assert_eq!(
        with_db(&["coeff", "publish", "npsc1-excerpt", "--note", "r"]).0,
        0
    );
    let fresh = report(dir.path(), &[]);
    let named = dir.path().join("named.xlsx");
    let mut args = SAMPLE_ARGS.to_vec();
    args[0] = "report";
    args[2] = "npsc1-excerpt@1";
    args.extend_from_slice(&["--xlsx", s(&named)]);
    let (status, out, err) = with_db(&args);
    assert_eq!(status, 0, "{out}{err}");
    for name in ["按地区", "按行业", "按污染物", "同比"] {
        assert_eq!(sheet(&fresh, name), sheet(&named, name), "{name}");
    }
    let (_, rows) = sheet(&named, "provenance");
    let value = |key: &str| {
        rows.iter()
            .find(|r| r[0] == key)
            .map(|r| r[1].to_string())
            .unwrap_or_else(|| panic!("{key} in provenance"))
    };
    assert_eq!(value("coefficients"), "npsc1-excerpt@1");
    assert_eq!(
        value("edition"),
        "npsc1-excerpt@1 (edition 1) from the database"
    );
    assert_eq!(
        value("content_hash"),
        "db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115"
    );
    // An edition that does not exist is refused, nothing written.
    let missing = dir.path().join("missing.xlsx");
    let mut args = SAMPLE_ARGS.to_vec();
    args[0] = "report";
    args[2] = "npsc1-excerpt@9";
    args.extend_from_slice(&["--xlsx", s(&missing)]);
    let (status, _, err) = with_db(&args);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("npsc1-excerpt@9"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.xlsx");
    let mut args = SAMPLE_ARGS.to_vec();
    args[0] = "report";
    args.extend_from_slice(&["--xlsx", s(&path)]);
    let (status, _, err) = npsc(&[args.as_slice(), &["--pollutant", "XX"]].concat());
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("unknown pollutant `XX`"), "{err}");
    let (status, _, err) = npsc(&[args.as_slice(), &["--year", "1999"]].concat());
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("no year 1999"), "{err}");
    assert!(!path.exists());
}
