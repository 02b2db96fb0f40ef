//! `npsc tax` on the bundled monitored emissions: every figure of the hand computation in
//! `datasets/sample-synthetic/EXPECTED.md` (tax section), the rounding option, the declared
//! particulates mapping, bad input located, and the workbook.

use crate::support::{npsc, s};

const SAMPLE: [&str; 5] = [
    "tax",
    "--registry",
    "../datasets/sample-synthetic/registry.csv",
    "--emissions",
    "../datasets/sample-synthetic/monitored_emissions.csv",
];

const E1: &str = "91130109MAK4GR6066";
const E2: &str = "91370783MAQ848J576";

fn json(extra: &[&str]) -> serde_json::Value {
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

/// (taxed, rate, share, tax) of a declaration line.
fn line<'a>(
    report: &'a serde_json::Value,
    uscc: &str,
    month: &str,
    item: &str,
) -> &'a serde_json::Value {
    let matching: Vec<&serde_json::Value> = report["declaration"]
        .as_array()
        .expect("declaration")
        .iter()
        .filter(|l| l["uscc"] == uscc && l["month"] == month && l["item"] == item)
        .collect();
    assert_eq!(matching.len(), 1, "{uscc} {month} {item}");
    matching[0]
}

fn check(report: &serde_json::Value, uscc: &str, month: &str, item: &str, expect: [&str; 5]) {
    let l = line(report, uscc, month, item);
    let got = [
        l["rank"].as_str().unwrap_or(""),
        l["taxed"].as_str().unwrap_or(""),
        l["rate"].as_str().unwrap_or(""),
        l["share"].as_str().unwrap_or(""),
        l["tax"].as_str().unwrap_or(""),
    ];
    assert_eq!(got, expect, "{uscc} {month} {item}");
}

#[test]
fn every_line_of_the_hand_computation() {
    let r = json(&[]);
    assert_eq!(r["declaration"].as_array().expect("lines").len(), 27);
    // E1, January: top 3 air, CO beyond; COD taxed, BOD5 not (one of three), SS before NH3-N
    // on a tie (item 11 before 20), TP beyond the top 3.
    check(
        &r,
        E1,
        "2024-01",
        "氮氧化物",
        ["1", "是", "6.00", "1", "12000.00"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "二氧化硫",
        ["2", "是", "6.00", "1", "6000.00"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "烟尘",
        ["3", "是", "4.80", "1", "480.00"],
    );
    check(&r, E1, "2024-01", "一氧化碳", ["4", "否", "", "", "0.00"]);
    check(
        &r,
        E1,
        "2024-01",
        "化学需氧量",
        ["1", "是", "7.00", "1", "7000.00"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "五日生化需氧量",
        ["2", "否", "", "", "0.00"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "悬浮物(SS)",
        ["3", "是", "5.60", "1", "560.00"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "氨氮",
        ["4", "是", "7.00", "1", "700.00"],
    );
    check(&r, E1, "2024-01", "总磷", ["5", "否", "", "", "0.00"]);
    // February: NOx's equivalents are not a whole number; CO overtakes 烟尘.
    check(
        &r,
        E1,
        "2024-02",
        "氮氧化物",
        ["1", "是", "6.00", "1", "6315.79"],
    );
    check(
        &r,
        E1,
        "2024-02",
        "二氧化硫",
        ["2", "是", "6.00", "1", "3000.00"],
    );
    check(
        &r,
        E1,
        "2024-02",
        "一氧化碳",
        ["3", "是", "4.80", "1", "960.00"],
    );
    check(&r, E1, "2024-02", "烟尘", ["4", "否", "", "", "0.00"]);
    assert_eq!(
        line(&r, E1, "2024-02", "氮氧化物")["equivalents"],
        "1052.6315789473684210526315789"
    );
    // March: SO2 below half the standard pays half; NOx exceeded, so no reduction.
    check(
        &r,
        E1,
        "2024-03",
        "二氧化硫",
        ["2", "是", "6.00", "0.5", "3000.00"],
    );
    check(
        &r,
        E1,
        "2024-03",
        "氮氧化物",
        ["1", "是", "6.00", "1", "12000.00"],
    );
    assert!(
        line(&r, E1, "2024-03", "氮氧化物")["note"]
            .as_str()
            .unwrap_or("")
            .contains("exceeded")
    );
    check(
        &r,
        E1,
        "2024-03",
        "烟尘",
        ["3", "是", "4.80", "1", "480.00"],
    );
    // E2, Shandong: other air 1.2, 总汞 (class I) 3, COD 3; February's 烟尘 below 70 %.
    check(&r, E2, "2024-01", "烟尘", ["3", "是", "1.20", "1", "12.00"]);
    check(
        &r,
        E2,
        "2024-01",
        "总汞",
        ["1", "是", "3.00", "1", "300.00"],
    );
    check(
        &r,
        E2,
        "2024-01",
        "化学需氧量",
        ["1", "是", "3.00", "1", "900.00"],
    );
    check(
        &r,
        E2,
        "2024-02",
        "烟尘",
        ["3", "是", "1.20", "0.75", "9.00"],
    );
    check(
        &r,
        E2,
        "2024-03",
        "氮氧化物",
        ["1", "是", "6.00", "1", "1200.00"],
    );

    let totals: Vec<[&str; 5]> = r["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(|t| {
            ["quarter", "uscc", "air_tax", "water_tax", "tax"].map(|k| t[k].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(
        totals,
        vec![
            ["2024Q1", E1, "44235.79", "8260.00", "52495.79"],
            ["2024Q1", E2, "5433.00", "1200.00", "6633.00"],
            ["合计", "", "49668.79", "9460.00", "59128.79"],
        ]
    );
    assert_eq!(r["total_tax"], "59128.79");
    assert_eq!(r["particulates"], "颗粒物 → 烟尘 (declared)");
    assert!(r["rates_sha256"].as_str().unwrap_or("").len() == 64);
}

#[test]
fn rounding_and_particulates_are_declared_choices() {
    let r = json(&["--rounding", "equivalents-first"]);
    check(
        &r,
        E1,
        "2024-02",
        "氮氧化物",
        ["1", "是", "6.00", "1", "6315.78"],
    );
    assert_eq!(r["total_tax"], "59128.78");
    assert!(
        r["rounding"]
            .as_str()
            .unwrap_or("")
            .starts_with("equivalents-first")
    );
    // 颗粒物 as 一般性粉尘 (4 kg per equivalent): E1 January 218 kg = 54.5 equivalents × 4.8.
    let r = json(&["--particulates", "一般性粉尘"]);
    check(
        &r,
        E1,
        "2024-01",
        "一般性粉尘",
        ["3", "是", "4.80", "1", "261.60"],
    );
    // A fourth air item taxed when a province raises the count.
    let r = json(&["--air-items", "4"]);
    check(
        &r,
        E1,
        "2024-01",
        "一氧化碳",
        ["4", "是", "4.80", "1", "48.00"],
    );
}

/// An item-count table: 河北 raises air to 5 from 2018; 藁城 (T1's county, 130109) goes back to
/// the law's 3 from February 2024 (the county's row wins over the province's).
const COUNTS: &str = "\
region_code,region_name,air_items,water_class_one_items,water_other_items,effective_from,note
130000,河北省,5,5,3,2018-01-01,test only
130109,藁城区,3,5,3,2024-02-01,test only
";

#[test]
fn item_counts_by_region_and_month() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("counts.csv");
    std::fs::write(&path, COUNTS).expect("write");
    let r = json(&["--item-counts", s(&path)]);
    // January: the province's 5 air items, so CO (10 equivalents × 4.8) is taxed.
    check(
        &r,
        E1,
        "2024-01",
        "一氧化碳",
        ["4", "是", "4.80", "1", "48.00"],
    );
    // February: the county's own row (the law's 3), so 烟尘 stays beyond the top 3.
    check(&r, E1, "2024-02", "烟尘", ["4", "否", "", "", "0.00"]);
    assert_eq!(
        line(&r, E1, "2024-02", "烟尘")["note"],
        "beyond the 3 taxed air items"
    );
    // 59128.79 + 48.00; T2 (山东, no row) keeps the law's counts.
    assert_eq!(r["total_tax"], "59176.79");
    let applied = r["item_counts_applied"].as_str().expect("applied");
    assert!(
        applied.contains("130109 2024-01: air 5, water class I 5, water other 3")
            && applied.contains("row 130000 from 2018-01-01"),
        "{applied}"
    );
    assert!(
        applied.contains("130109 2024-02..2024-03: air 3, water class I 5, water other 3")
            && applied.contains("row 130109 from 2024-02-01"),
        "{applied}"
    );
    assert!(
        applied
            .contains("370783 2024-01..2024-03: air 3, water class I 5, water other 3 (the law's"),
        "{applied}"
    );
    assert_eq!(r["item_counts_table"], s(&path));
    // An override replaces every region's count: 4 air items in February too (烟尘 137.61…
    // equivalents × 4.8 = 660.55), and in January (CO).
    let r = json(&["--item-counts", s(&path), "--air-items", "4"]);
    check(
        &r,
        E1,
        "2024-02",
        "烟尘",
        ["4", "是", "4.80", "1", "660.55"],
    );
    check(
        &r,
        E1,
        "2024-01",
        "一氧化碳",
        ["4", "是", "4.80", "1", "48.00"],
    );
    assert_eq!(r["total_tax"], "59837.34");
    assert!(
        r["item_counts"]
            .as_str()
            .unwrap_or("")
            .ends_with("overrides for every region: air 4"),
        "{}",
        r["item_counts"]
    );
    // The bundled table (河南 only) changes nothing on the sample.
    let r = json(&[]);
    assert_eq!(
        r["item_counts_table"],
        "datasets/reference/tax_item_counts.csv"
    );
    assert_eq!(r["item_counts_sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn a_bad_item_count_table_is_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("counts.csv");
    std::fs::write(
        &path,
        "行政区划代码,行政区划名称,大气污染物项目数,第一类水污染物项目数,其他类水污染物项目数,执行日期,备注\n\
         130000,河北省,2,5,3,2018-01-01,\n\
         13000,河北省,4,5,3,2018-01-01,\n\
         130000,河北省,4,5,3,2018-01-01,\n\
         130000,河北省,6,5,3,2018-01-01,\n",
    )
    .expect("write");
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--item-counts", s(&path)]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("the item-count table has 3 errors"), "{err}");
    for expected in [
        "row 2",
        "a province may raise the count, never lower it",
        "row 3",
        "a six-digit GB/T 2260 code is required",
        "row 5",
        "the same region and date are given on row 4",
    ] {
        assert!(err.contains(expected), "`{expected}` missing in:\n{err}");
    }
}

/// A pig farm (0313, GB/T 4754 section A) and a sewage plant (4620) in 郑州金水区 (410105):
/// 河南, air 4.8 and water 5.6 yuan, the law's item counts (the bundled 河南 row).
const FARM: &str = "91410105MA12345691";
const SEWAGE: &str = "91410105MA7654329G";

#[test]
fn article_12_exemptions_are_declared_listed_and_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = std::fs::read_to_string(
        crate::support::root().join("datasets/sample-synthetic/registry.csv"),
    )
    .expect("registry");
    let registry = dir.path().join("registry.csv");
    std::fs::write(
        &registry,
        format!(
            "{full}{FARM},示例金水生猪养殖有限公司（样例）,410105,0313,运行,,\n\
             {SEWAGE},示例金水污水处理有限公司（样例）,410105,4620,运行,,\n"
        ),
    )
    .expect("write");
    let emissions = dir.path().join("emissions.csv");
    std::fs::write(
        &emissions,
        format!(
            "统一社会信用代码,排放口编号,污染物,月份,排放量(千克),月均浓度,排放标准,是否超标,免征依据\n\
             {FARM},DA001,氨,2024-01,90.9,,,,农业生产（不含规模化养殖）\n\
             {FARM},DA001,硫化氢,2024-01,2.9,,,,\n\
             {FARM},DA002,二氧化硫,2024-01,95,,,,mobile\n\
             {SEWAGE},DW001,化学需氧量,2024-01,500,40,50,否,centralized-treatment\n\
             {SEWAGE},DW001,氨氮,2024-01,80,,,,\n\
             {SEWAGE},DW002,化学需氧量,2024-01,100,60,50,否,集中处理\n"
        ),
    )
    .expect("write");
    let (status, out, err) = npsc(&[
        "tax",
        "--registry",
        s(&registry),
        "--emissions",
        s(&emissions),
        "--format",
        "json",
    ]);
    assert_eq!(status, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let get = |uscc: &str, outlet: &str, item: &str| -> [String; 6] {
        let l = r["declaration"]
            .as_array()
            .expect("lines")
            .iter()
            .find(|l| l["uscc"] == uscc && l["outlet_id"] == outlet && l["item"] == item)
            .unwrap_or_else(|| panic!("{uscc} {outlet} {item}"));
        ["equivalents", "rank", "taxed", "rate", "tax", "exemption"]
            .map(|k| l[k].as_str().unwrap_or("").to_string())
    };
    // The farm's ammonia (90.9 / 9.09 = 10 equivalents) is declared agricultural: listed,
    // ranked among the exempt lines, no tax; its H2S (2.9 / 0.29 = 10) declares nothing and is
    // taxed, rank 1 of the taxable lines: 10 × 4.8 = 48.00.
    let agriculture = "环境保护税法第十二条第一款第（一）项：农业生产（不含规模化养殖）";
    assert_eq!(
        get(FARM, "DA001", "氨"),
        ["10", "1", "否", "", "0.00", agriculture]
    );
    assert_eq!(
        get(FARM, "DA001", "硫化氢"),
        ["10", "1", "是", "4.80", "48.00", ""]
    );
    let mobile = get(FARM, "DA002", "二氧化硫");
    assert_eq!(mobile[..5], ["100", "1", "否", "", "0.00"]);
    assert!(mobile[5].contains("流动污染源"), "{mobile:?}");
    // The sewage plant's COD within the standard (40 of 50) is exempt; over it (60 of 50) it is
    // taxed: 100 × 5.6 = 560.00; NH3-N 100 equivalents × 5.6 = 560.00.
    let within = get(SEWAGE, "DW001", "化学需氧量");
    assert_eq!(within[..5], ["500", "1", "否", "", "0.00"]);
    assert!(within[5].contains("污水集中处理"), "{within:?}");
    assert_eq!(
        get(SEWAGE, "DW001", "氨氮"),
        ["100", "1", "是", "5.60", "560.00", ""]
    );
    assert_eq!(
        get(SEWAGE, "DW002", "化学需氧量"),
        ["100", "1", "是", "5.60", "560.00", ""]
    );
    assert_eq!(r["total_tax"], "1168.00");
    // Notices: the farm (large-scale farming is taxable: npsc cannot decide) and the refused
    // centralized-treatment exemption; the sewage plant is not agricultural.
    let notices = r["notices"].as_str().expect("notices");
    assert!(
        notices.contains(&format!("enterprise {FARM} (industry A0313"))
            && notices.contains("1 line(s) declare no exemption"),
        "{notices}"
    );
    assert!(
        notices.contains(&format!(
            "enterprise {SEWAGE}, 2024-01, outlet DW002, 化学需氧量"
        )) && notices.contains("exceeded it, so it is taxed"),
        "{notices}"
    );
    assert!(
        !notices.contains(&format!("enterprise {SEWAGE} (industry")),
        "{notices}"
    );
    assert_eq!(err.matches("notice: ").count(), 2, "{err}");
    // Declaring agriculture on every farm line silences its notice.
    let declared = std::fs::read_to_string(&emissions).expect("read").replace(
        "硫化氢,2024-01,2.9,,,,",
        "硫化氢,2024-01,2.9,,,,agriculture",
    );
    std::fs::write(&emissions, declared).expect("write");
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        s(&registry),
        "--emissions",
        s(&emissions),
    ]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(err.matches("notice: ").count(), 1, "{err}");
    assert!(err.contains("tax 1120.00 yuan"), "{err}");
    // A value that is not an exemption is located.
    let bad = std::fs::read_to_string(&emissions)
        .expect("read")
        .replace(",mobile", ",规模化养殖");
    std::fs::write(&emissions, bad).expect("write");
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        s(&registry),
        "--emissions",
        s(&emissions),
    ]);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("row 4") && err.contains("not an exemption of Art. 12"),
        "{err}"
    );
}

#[test]
fn csv_and_table_show_the_same_figures() {
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--view", "totals", "--format", "csv"]);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out.lines().next(),
        Some("quarter,uscc,enterprise,air_tax,water_tax,tax")
    );
    assert!(out.contains(",44235.79,8260.00,52495.79\n"), "{out}");
    assert!(out.ends_with("合计,,,49668.79,9460.00,59128.79\n"), "{out}");
    assert!(err.contains("tax 59128.79 yuan"), "{err}");
    let (status, out, _) = npsc(&SAMPLE);
    assert_eq!(status, 0);
    assert!(out.contains("环境保护税申报明细") && out.contains("59128.79"));
    // CSV of both views is refused.
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--format", "csv"]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1);
    assert!(err.contains("CSV holds one view"), "{err}");
}

#[test]
fn bad_input_is_located_all_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "uscc,outlet_id,pollutant,month,kg,concentration,standard,exceeded\n\
         91130109MAK4GR6066,DA001,总氮,2024-01,10,,,\n\
         91130109MAK4GR6066,DA001,二氧化硫,2024-13,10,,,\n\
         91130109MAK4GR6066,DA001,氮氧化物,2024-01,-5,,,\n\
         91130109MAK4GR6066,DA001,二氧化硫,2024-01,10,,,maybe\n\
         91130109MAK4GR6066,DA001,颗粒物,2024-02,10,,,\n\
         91130109MAK4GR6066,DA001,颗粒物,2024-02,11,,,\n",
    )
    .expect("write");
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--emissions",
        s(&path),
    ]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("5 errors"), "{err}");
    for expected in [
        "row 2",
        "总氮 (TN) is not mapped to an item of the law's equivalent table",
        "row 3",
        "a month YYYY-MM is required",
        "row 4",
        "kilograms must be a number of at least 0",
        "row 5",
        "write yes/no",
        "row 7",
        "also on row 6",
    ] {
        assert!(err.contains(expected), "`{expected}` missing in:\n{err}");
    }
    // An enterprise the registry does not know: no region, no rate.
    let registry = dir.path().join("registry.csv");
    let full = std::fs::read_to_string(
        crate::support::root().join("datasets/sample-synthetic/registry.csv"),
    )
    .expect("registry");
    let without: String = full
        .lines()
        .filter(|l| !l.starts_with(E2))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&registry, without).expect("write");
    let (status, _, err) = npsc(&[
        "tax",
        "--registry",
        s(&registry),
        "--emissions",
        "../datasets/sample-synthetic/monitored_emissions.csv",
    ]);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("11 errors"), "{err}");
    assert!(err.contains("not in the registry"), "{err}");
    assert!(err.contains(E2), "{err}");
    // Declared choices only.
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--particulates", "粉尘"]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1);
    assert!(err.contains("is not 烟尘 or 一般性粉尘"), "{err}");
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--air-items", "2"]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1);
    assert!(err.contains("never lower them"), "{err}");
}

#[test]
fn a_bad_rate_table_is_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rates.csv");
    std::fs::write(
        &path,
        "region_code,region_name,medium,pollutant,yuan_per_equivalent,effective_from,note\n\
         130000,河北省,air,*,4.8,2018-01-01,\n\
         130000,河北省,air,硫化氢气,4.8,2018-01-01,\n\
         130000,河北省,soil,*,4.8,2018-01-01,\n\
         130000,河北省,water,*,abc,2018-01-01,\n\
         130000,河北省,air,*,5,2018-01-01,\n",
    )
    .expect("write");
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--rates", s(&path)]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("the rate table has 4 errors"), "{err}");
    for expected in [
        "not an item of the law's air equivalent table",
        "medium must be `water` or `air`",
        "yuan per equivalent must be a number",
        "given on row 2",
    ] {
        assert!(err.contains(expected), "`{expected}` missing in:\n{err}");
    }
}

#[test]
fn the_workbook_has_chinese_headers_and_provenance() {
    use calamine::Reader;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tax.xlsx");
    let mut args = SAMPLE.to_vec();
    args.extend_from_slice(&["--xlsx", s(&path), "--view", "totals"]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).expect("workbook opens");
    assert_eq!(
        workbook.sheet_names(),
        vec!["declaration", "totals", "provenance"]
    );
    let declaration = workbook.worksheet_range("declaration").expect("sheet");
    let header: Vec<String> = declaration
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    for h in [
        "季度",
        "污染物",
        "污染当量值(千克)",
        "污染当量数",
        "是否计税",
        "应纳税额(元)",
        "免征依据",
    ] {
        assert!(header.contains(&h.to_string()), "{h} in {header:?}");
    }
    assert_eq!(declaration.rows().count(), 28);
    // Codes stay text under their Chinese headers: 行政区划代码 130109 and the USCC are string
    // cells, 排放量(千克) a number.
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    let first = declaration.rows().nth(1).expect("first line");
    assert_eq!(
        first[column("行政区划代码")],
        calamine::Data::String("130109".to_string())
    );
    assert_eq!(
        first[column("统一社会信用代码")],
        calamine::Data::String(E1.to_string())
    );
    assert_eq!(first[column("排放量(千克)")], calamine::Data::Float(1900.0));
    assert!(matches!(
        first[column("应纳税额(元)")],
        calamine::Data::Float(_)
    ));
    let totals = workbook.worksheet_range("totals").expect("sheet");
    let last = totals.rows().next_back().expect("rows");
    assert_eq!(last[0].to_string(), "合计");
    assert!(matches!(last[5], calamine::Data::Float(x) if (x - 59128.79).abs() < 1e-9));
    let provenance = workbook.worksheet_range("provenance").expect("sheet");
    let keys: Vec<String> = provenance.rows().map(|r| r[0].to_string()).collect();
    for k in [
        "equivalents_sha256",
        "rates_sha256",
        "rounding",
        "item_counts",
        "item_counts_table",
        "item_counts_sha256",
        "particulates",
        "equivalent_items",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    let items = provenance
        .rows()
        .find(|r| r[0] == "equivalent_items")
        .expect("row");
    assert_eq!(
        items[1].to_string(),
        "air 44, water class I 10, water other 51"
    );
}

/// The bundled rates plus a test-only default for 内蒙古 (150000), which the 2018 table does not
/// list (the sample's enterprises of 锡林郭勒 would otherwise have no rate).
fn rates_with_inner_mongolia(dir: &std::path::Path) -> std::path::PathBuf {
    let bundled = std::fs::read_to_string(
        crate::support::root().join("datasets/reference/tax_rates_2018.csv"),
    )
    .expect("rates");
    let path = dir.join("rates.csv");
    std::fs::write(
        &path,
        format!(
            "{bundled}150000,test only,air,*,1.2,2018-01-01,test\n150000,test only,water,*,1.4,2018-01-01,test\n"
        ),
    )
    .expect("write");
    path
}

const RECORDS: [&str; 12] = [
    "tax",
    "--registry",
    "../datasets/sample-synthetic/registry.csv",
    "--coefficients",
    "../coefficients/npsc1-excerpt",
    "--activity",
    "../datasets/sample-synthetic/activity.csv",
    "--reports",
    "../datasets/sample-synthetic/permit_reports.csv",
    "--year",
    "2023",
    "--format",
];

#[test]
fn numbers_of_record_are_allocated_in_twelfths() {
    // Without a rate for 内蒙古 every problem is named, nothing is guessed.
    let mut args = RECORDS.to_vec();
    args.push("json");
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("no water tax rate for `化学需氧量` in region 152526"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let rates = rates_with_inner_mongolia(dir.path());
    args.extend_from_slice(&["--rates", s(&rates)]);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        r["allocation"]
            .as_str()
            .unwrap_or("")
            .starts_with("equal twelfths"),
        "{}",
        r["allocation"]
    );
    assert!(r["allocation"].as_str().unwrap_or("").contains("总氮"));
    // The records of the tax rule, tonnes.
    let (status, out, err) = npsc(&[
        "reconcile",
        "--coefficients",
        "../coefficients/npsc1-excerpt",
        "--registry",
        "../datasets/sample-synthetic/registry.csv",
        "--activity",
        "../datasets/sample-synthetic/activity.csv",
        "--reports",
        "../datasets/sample-synthetic/permit_reports.csv",
        "--view",
        "records",
        "--format",
        "json",
    ]);
    assert_eq!(status, 0, "{err}");
    let records: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let mut checked = 0;
    for record in records["records"].as_array().expect("records") {
        if record["rule"] != "tax" || record["year"] != "2023" || record["pollutant"] != "二氧化硫"
        {
            continue;
        }
        let tonnes: f64 = record["value"]
            .as_str()
            .expect("value")
            .parse()
            .expect("number");
        let lines: Vec<f64> = r["declaration"]
            .as_array()
            .expect("lines")
            .iter()
            .filter(|l| l["uscc"] == record["uscc"] && l["item"] == "二氧化硫")
            .map(|l| {
                l["kg"]
                    .as_str()
                    .expect("kg")
                    .parse::<f64>()
                    .expect("number")
            })
            .collect();
        // Twelve months of equal kilograms (summed over outlets) = the annual record.
        let months: std::collections::BTreeSet<&str> = r["declaration"]
            .as_array()
            .expect("lines")
            .iter()
            .filter(|l| l["uscc"] == record["uscc"] && l["item"] == "二氧化硫")
            .map(|l| l["month"].as_str().expect("month"))
            .collect();
        assert_eq!(months.len(), 12, "{}", record["uscc"]);
        let sum: f64 = lines.iter().sum();
        approx::assert_relative_eq!(sum, tonnes * 1000.0, max_relative = 1e-9);
        checked += 1;
    }
    assert!(checked >= 5, "{checked} SO2 records checked");
}

/// The workbook types a cell by its column's kind, not by the header's spelling: a county code
/// under a header that says nothing of codes stays text, and a header ending in `_code` holds
/// numbers when its builder says so.
#[test]
fn workbook_cells_follow_the_column_kind() {
    use app::sheet::{ColumnKind, Sheet, render_xlsx};
    use calamine::{Data, Reader};
    let mut sheet = Sheet::typed(
        "t",
        "T",
        &[
            ("区县", ColumnKind::Code),
            ("数量", ColumnKind::Value),
            ("count_code", ColumnKind::Value),
        ],
    );
    sheet.push(vec!["130102".into(), "130102".into(), "7".into()]);
    let bytes = render_xlsx(&[sheet], &[("k".into(), "v".into())]).expect("workbook");
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("opens");
    let range = workbook.worksheet_range("t").expect("sheet");
    let row: Vec<Data> = range.rows().nth(1).expect("row").to_vec();
    assert_eq!(
        row,
        [
            Data::String("130102".into()),
            Data::Float(130102.0),
            Data::Float(7.0)
        ]
    );
}
