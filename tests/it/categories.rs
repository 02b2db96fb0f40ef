//! `npsc regional-totals` with every source category on the bundled SYNTHETIC category files
//! (`datasets/sample-synthetic/categories`): hand-computed domestic, agricultural, centralized
//! and mobile figures, the plants' removal coming off the domestic emission, totals that are the
//! sum of their categories, prefecture → province roll-ups, and located errors for bad files.

use std::collections::BTreeMap;

use approx::assert_relative_eq;

use crate::support::{SAMPLE_ARGS, npsc, s, write};

const CATEGORIES: &str = "../datasets/sample-synthetic/categories";

/// A database with the sample accounted as run 1 (2022 and 2023) and the 2022 key units of
/// each prefecture published as `key-units@1`.
fn database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", s(&dir.path().join("c.db")));
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend_from_slice(&["--database", &url]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    for args in [
        &[
            "key-units",
            "--run",
            "1",
            "--year",
            "2022",
            "--store",
            "key-units",
            "--database",
            &url,
        ][..],
        &[
            "reference",
            "publish",
            "key-units",
            "--note",
            "2022 base",
            "--database",
            &url,
        ][..],
    ] {
        let (status, _, err) = npsc(args);
        assert_eq!(status, 0, "{args:?}: {err}");
    }
    (dir, url)
}

fn file(name: &str) -> String {
    format!("{CATEGORIES}/{name}")
}

/// `npsc regional-totals` 2022 → 2023 with `extra` arguments.
fn regional(db: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "regional-totals",
        "--base-run",
        "1",
        "--base-year",
        "2022",
        "--run",
        "1",
        "--year",
        "2023",
        "--key-units",
        "key-units@1",
        "--database",
        db,
    ];
    args.extend_from_slice(extra);
    npsc(&args)
}

/// Every category file of the sample, and the report level.
fn all_files(level: &str) -> Vec<String> {
    let mut args = vec!["--report-level".to_string(), level.to_string()];
    for (option, name) in [
        ("--source-coefficients", "source_coefficients.csv"),
        ("--domestic", "domestic.csv"),
        ("--livestock", "livestock.csv"),
        ("--plants", "plants.csv"),
        ("--mobile", "mobile.csv"),
    ] {
        args.push(option.to_string());
        args.push(file(name));
    }
    args
}

fn json(db: &str, level: &str) -> serde_json::Value {
    let mut extra = all_files(level);
    extra.extend(["--format".to_string(), "json".to_string()]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (status, out, err) = regional(db, &extra);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

type Row = BTreeMap<String, String>;

fn rows(value: &serde_json::Value, view: &str) -> Vec<Row> {
    value[view]
        .as_array()
        .unwrap_or_else(|| panic!("no view {view}"))
        .iter()
        .map(|row| {
            row.as_object()
                .expect("object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &Row, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} in {row:?}"))
}

fn find<'a>(rows: &'a [Row], pairs: &[(&str, &str)]) -> &'a Row {
    rows.iter()
        .find(|r| pairs.iter().all(|(k, v)| r[*k] == *v))
        .unwrap_or_else(|| panic!("no row {pairs:?}"))
}

const CATEGORY_COLUMNS: [&str; 6] = [
    "industrial_key",
    "industrial_nonkey",
    "domestic",
    "agricultural",
    "centralized",
    "mobile",
];

#[test]
fn every_category_of_the_sample_is_hand_computed_and_the_totals_are_their_sums() {
    let (_dir, db) = database();
    let value = json(&db, "prefecture");
    let categories = rows(&value, "categories");
    // 石家庄 COD 2023. Domestic: 520 万人 × 365 d × 70 g = 132 860 t, minus the plant's
    // domestic removal 32 000 万吨 × (400 − 30) mg/L × 10⁻⁶ × 0.9 = 106 560 t: 26 300 t.
    // Agricultural (正定): pigs 55 000 × 150 d × 64.1 g = 528.825 t and 7 000 × 150 × 64.1 g =
    // 67.305 t, broilers 200 万只 × 50 d × 0.8 g = 80 t: 676.13 t. 2022: 127 750 − 30 000 ×
    // 360 × 10⁻⁶ × 0.9 = 30 550 t; 480.75 + 76.92 + 72 = 629.67 t.
    let row = find(
        &categories,
        &[("region_code", "130100"), ("pollutant", "COD")],
    );
    assert_relative_eq!(number(row, "domestic"), 26_300.0, max_relative = 1e-12);
    assert_relative_eq!(number(row, "agricultural"), 676.13, max_relative = 1e-12);
    assert_relative_eq!(number(row, "total"), 26_976.13, max_relative = 1e-12);
    assert_relative_eq!(
        number(row, "previous_total"),
        31_179.67,
        max_relative = 1e-12
    );
    // 济南 COD 2023: 610 万人 × 365 × 70 g = 155 855 t − 36 000 万吨 × 350 mg/L = 126 000 t
    // (all domestic) = 29 855 t; layers 50 万只 × 90 kg = 4.5 t and beef cattle 3 000 × 365 ×
    // 300 g = 328.5 t; the landfill's leachate 6 万吨 × 80 mg/L = 4.8 t, centralized.
    let row = find(
        &categories,
        &[("region_code", "370100"), ("pollutant", "COD")],
    );
    assert_relative_eq!(number(row, "domestic"), 29_855.0, max_relative = 1e-12);
    assert_relative_eq!(number(row, "agricultural"), 333.0, max_relative = 1e-12);
    assert_relative_eq!(number(row, "centralized"), 4.8, max_relative = 1e-12);
    assert_relative_eq!(
        number(row, "previous_total"),
        34_659.72,
        max_relative = 1e-12
    );
    // 济南 NH3-N: no plant removes it, so domestic is 610 万 × 365 × 8 g = 17 812 t.
    let row = find(
        &categories,
        &[("region_code", "370100"), ("pollutant", "NH3N")],
    );
    assert_relative_eq!(number(row, "domestic"), 17_812.0, max_relative = 1e-12);
    // 巴彦淖尔: the 内蒙古 coefficient (60 g) wins over the general 70 g: 82 万 × 365 × 60 g.
    let row = find(
        &categories,
        &[("region_code", "150800"), ("pollutant", "COD")],
    );
    assert_relative_eq!(number(row, "domestic"), 17_958.0, max_relative = 1e-12);
    assert_relative_eq!(number(row, "agricultural"), 4_599.0, max_relative = 1e-12);
    // Domestic coal SO2 with 16S kg/t: 90 000 t × 16 kg × 1.0 = 1 440 t; mobile NOx as given.
    let row = find(
        &categories,
        &[("region_code", "130100"), ("pollutant", "SO2")],
    );
    assert_relative_eq!(number(row, "domestic"), 1_440.0, max_relative = 1e-12);
    let row = find(
        &categories,
        &[("region_code", "150800"), ("pollutant", "NOX")],
    );
    assert_relative_eq!(number(row, "mobile"), 3_000.0, max_relative = 1e-12);
    // Every total is the sum of its categories; the industrial columns are the estimate's.
    let totals = rows(&value, "totals");
    for row in &categories {
        let sum: f64 = CATEGORY_COLUMNS.iter().map(|c| number(row, c)).sum();
        assert_relative_eq!(number(row, "total"), sum, max_relative = 1e-12);
        if let Some(industrial) = totals
            .iter()
            .find(|t| t["region_code"] == row["region_code"] && t["pollutant"] == row["pollutant"])
        {
            assert_eq!(industrial["key"], row["industrial_key"]);
            assert_eq!(industrial["nonkey"], row["industrial_nonkey"]);
        }
    }
    // The shares of a region add up to 100 %.
    let shares = rows(&value, "shares");
    let sh: Vec<&Row> = shares
        .iter()
        .filter(|r| r["region_code"] == "130100" && r["pollutant"] == "COD")
        .collect();
    assert_eq!(
        sh.iter()
            .map(|r| r["category"].as_str())
            .collect::<Vec<_>>(),
        ["domestic", "agricultural"]
    );
    assert_eq!(sh[0]["share"], "97.5 %");
    assert_eq!(sh[0]["change"], "-13.9 %");
    // The trace: the balance and the plant's loads behind 26 300 t.
    let balance = rows(&value, "domestic_balance");
    let b = find(
        &balance,
        &[
            ("year", "2023"),
            ("region_code", "130100"),
            ("pollutant", "COD"),
        ],
    );
    assert_relative_eq!(number(b, "before_removal"), 132_860.0, max_relative = 1e-12);
    assert_relative_eq!(
        number(b, "removed_by_plants"),
        106_560.0,
        max_relative = 1e-12
    );
    assert!(
        b["plants"].contains("示例石家庄第一污水处理厂（样例） (row 4)"),
        "{b:?}"
    );
    let plants = rows(&value, "plants");
    let p = find(
        &plants,
        &[
            ("year", "2023"),
            ("region_code", "130109"),
            ("pollutant", "COD"),
        ],
    );
    assert_relative_eq!(number(p, "inflow_load"), 128_000.0, max_relative = 1e-12);
    assert_relative_eq!(number(p, "outflow_load"), 9_600.0, max_relative = 1e-12);
    let domestic = rows(&value, "domestic");
    let d = find(
        &domestic,
        &[
            ("year", "2023"),
            ("region_code", "130100"),
            ("pollutant", "COD"),
        ],
    );
    assert_eq!(d["generation_coefficient"], "70");
    assert!(
        d["coefficient_row"].ends_with("source_coefficients.csv, row 2"),
        "{d:?}"
    );
    let livestock = rows(&value, "livestock");
    assert!(livestock.iter().any(|r| r["scale"] == "规模以下"));
    // Provenance: every input with its hash, the rules, the years.
    assert!(
        value["domestic"].is_array()
            && value["rule_centralized"]
                .as_str()
                .is_some_and(|r| r.contains("Q × C × 10⁻⁶"))
    );
    assert!(
        value["plants"].is_array()
            && value["years"]
                .as_str()
                .is_some_and(|y| y.starts_with("2023 against the base year 2022"))
    );
}

#[test]
fn prefecture_categories_roll_up_exactly_to_provinces() {
    let (_dir, db) = database();
    let prefecture = rows(&json(&db, "prefecture"), "categories");
    let province = rows(&json(&db, "province"), "categories");
    let mut sums: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for row in &prefecture {
        let entry = sums
            .entry((
                format!("{}0000", &row["region_code"][..2]),
                row["pollutant"].clone(),
            ))
            .or_insert_with(|| vec![0.0; CATEGORY_COLUMNS.len() + 1]);
        for (i, c) in CATEGORY_COLUMNS.iter().chain(["total"].iter()).enumerate() {
            entry[i] += number(row, c);
        }
    }
    assert_eq!(sums.len(), province.len());
    for row in &province {
        let sum = &sums[&(row["region_code"].clone(), row["pollutant"].clone())];
        for (i, c) in CATEGORY_COLUMNS.iter().chain(["total"].iter()).enumerate() {
            assert_relative_eq!(sum[i], number(row, c), max_relative = 1e-12);
        }
    }
    // 河北 COD = 石家庄's, the only prefecture with COD in 河北.
    let row = find(
        &province,
        &[("region_code", "130000"), ("pollutant", "COD")],
    );
    assert_relative_eq!(number(row, "total"), 26_976.13, max_relative = 1e-12);
}

#[test]
fn bad_category_files_are_refused_with_located_errors_and_nothing_is_written() {
    let (dir, db) = database();
    let coefficients = file("source_coefficients.csv");
    let out = dir.path().join("t.xlsx");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--report-level",
            "prefecture",
            "--source-coefficients",
            &coefficients,
            "--xlsx",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let (status, _, err) = regional(&db, &args);
        assert_eq!(status, 1, "{err}");
        assert!(!out.exists());
        err
    };
    // Cells: a bad year, a farm scale nobody knows, days over a year, a unit of persons for
    // pigs; every one located.
    let livestock = write(
        dir.path(),
        "livestock.csv",
        "年份,行政区划代码,来源,活动水平,计量单位,天数,养殖规模\n\
         2023,130123,生猪,500,头,150,规模化\n\
         20x3,130123,生猪,500,头,400,大型\n\
         2023,130123,生猪,500,人,150,规模化\n",
    );
    let err = run(&["--livestock", s(&livestock)]);
    for expected in [
        "livestock.csv, row 3, column `年份`",
        "livestock.csv, row 3, column `天数`",
        "livestock.csv, row 3, column `养殖规模`",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    // Once the cells are right, the computation's problems: persons for pigs, no coefficient
    // for sheep, a county given twice.
    let livestock = write(
        dir.path(),
        "livestock.csv",
        "年份,行政区划代码,来源,活动水平,计量单位,天数,养殖规模\n\
         2023,130123,生猪,500,头,150,规模化\n\
         2023,130123,生猪,500,人,150,规模以下\n\
         2023,130123,羊,500,头,150,规模化\n\
         2023,130100,生猪,500,头,150,规模化\n",
    );
    let err = run(&["--livestock", s(&livestock)]);
    for expected in [
        "error[unit-mismatch]: ",
        "livestock.csv, row 3, column `计量单位`",
        "error[no-source-coefficient]: ",
        "livestock.csv, row 4, column `来源`",
        "error[counted-twice]: ",
        "livestock.csv, row 5, column `行政区划代码`",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    // A plant that removes more than the region's residents generate, and one where no domestic
    // row is.
    let domestic = write(
        dir.path(),
        "domestic.csv",
        "年份,行政区划代码,来源,活动水平,计量单位,天数\n2023,130109,城镇居民,1000,人,365\n",
    );
    let plants = write(
        dir.path(),
        "plants.csv",
        "年份,行政区划代码,设施名称,污染物,处理水量(万吨),进水浓度(mg/L),出水浓度(mg/L)\n\
         2023,130109,甲厂,化学需氧量,100,400,30\n\
         2023,130123,乙厂,化学需氧量,1,400,30\n",
    );
    let err = run(&["--domestic", s(&domestic), "--plants", s(&plants)]);
    for expected in [
        "error[removal-exceeds-domestic]: ",
        "plants.csv, row 2, column `处理水量(万吨)`",
        "error[no-domestic-generation]: ",
        "plants.csv, row 3, column `domestic_share`",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    // Domestic activity without the coefficient table is refused by the command line.
    let (status, _, err) = regional(&db, &["--domestic", s(&domestic)]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("--source-coefficients"), "{err}");
}

#[test]
fn levels_and_views_that_the_inputs_cannot_give_are_refused() {
    let (_dir, db) = database();
    let extra = all_files("county");
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (status, _, err) = regional(&db, &extra);
    assert_eq!(status, 1);
    assert!(err.contains("cannot be split to county level"), "{err}");
    assert!(
        err.contains("report at prefecture level or coarser"),
        "{err}"
    );
    let (status, _, err) = regional(&db, &["--view", "domestic"]);
    assert_eq!(status, 1);
    assert!(err.contains("no `domestic` view"), "{err}");
    // Without category files the command is what it was: estimate and totals only.
    let (status, out, err) = regional(&db, &["--report-level", "province", "--format", "json"]);
    assert_eq!(status, 0, "{err}");
    let value: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(value["categories"].is_null() && value["totals"].is_array());
}
