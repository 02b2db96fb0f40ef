//! Single activity rows against the real first-census excerpt, each expectation computed by hand
//! in the comment next to it. The whole pipeline runs (files → ingest → engine → results file).

use approx::assert_relative_eq;

use crate::support::{excerpt, npsc, s, write};

const REGISTRY: &str = "\
uscc,name,region_code,industry_code,status
91152502MA2BPPBJ0K,屠宰厂（测试）,152502,1351,运行
91130109MAK4GR6066,锅炉房（测试）,130109,4430,运行
91370783MAQ848J576,电厂（测试）,370783,4411,运行
";

const HEADER: &str = "year,uscc,industry_code,product,raw_material,process,scale,capacity,capacity_unit,treatment,activity,activity_unit,operation_rate,parameters\n";

/// Exact decimal inputs times power-of-ten factors: only binary rounding can differ.
const TOLERANCE: f64 = 1e-12;

#[derive(Debug)]
struct Line {
    pollutant: String,
    generated: f64,
    emitted: f64,
    treatment: String,
    flags: String,
    coefficient_row: u64,
}

/// Accounts the activity rows with `extra` flags; returns (status, results, stderr).
fn run(rows: &str, extra: &[&str]) -> (i32, Vec<Line>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = write(dir.path(), "registry.csv", REGISTRY);
    let activity = write(dir.path(), "activity.csv", &format!("{HEADER}{rows}"));
    let results = dir.path().join("results.csv");
    let mut args = vec![
        "account",
        "--coefficients",
        s(&excerpt()).to_owned().leak(),
        "--registry",
        s(&registry).to_owned().leak(),
        "--activity",
        s(&activity).to_owned().leak(),
        "--results",
        s(&results).to_owned().leak(),
    ];
    args.extend_from_slice(extra);
    let (status, _, err) = npsc(&args);
    let mut lines = Vec::new();
    if let Ok(mut reader) = csv::Reader::from_path(&results) {
        let headers = reader.headers().expect("headers").clone();
        let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
        for record in reader.records() {
            let r = record.expect("record");
            lines.push(Line {
                pollutant: r[col("pollutant")].to_string(),
                generated: r[col("generated")].parse().expect("number"),
                emitted: r[col("emitted")].parse().expect("number"),
                treatment: r[col("treatment")].to_string(),
                flags: r[col("flags")].to_string(),
                coefficient_row: r[col("coefficient_row")].parse().expect("row"),
            });
        }
    }
    (status, lines, err)
}

fn find<'a>(lines: &'a [Line], pollutant: &str) -> &'a Line {
    lines
        .iter()
        .find(|l| l.pollutant == pollutant)
        .unwrap_or_else(|| panic!("no result for {pollutant} in {lines:?}"))
}

fn check(lines: &[Line], pollutant: &str, generated: f64, emitted: f64) {
    let line = find(lines, pollutant);
    assert_relative_eq!(line.generated, generated, max_relative = TOLERANCE);
    assert_relative_eq!(line.emitted, emitted, max_relative = TOLERANCE);
}

#[test]
fn slaughterhouse_year_by_label_with_sedimentation() {
    // 100 000 sheep, ≥1500 head/day class, 沉淀分离 (emission coefficients per head):
    let (status, lines, err) = run(
        "2023,91152502MA2BPPBJ0K,1351,冻羊肉,羊,屠宰、分割,≥1500头/天屠宰,,,沉淀分离,100000,头,,\n",
        &[],
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(lines.len(), 6);
    check(&lines, "工业废水量", 0.261 * 100_000.0, 0.248 * 100_000.0); // t/head × head
    check(&lines, "化学需氧量", 49.5, 23.7); // 495 g, 237 g × 1e5 head = 49.5 t, 23.7 t
    check(&lines, "五日生化需氧量", 21.3, 14.2); // 213 g, 142 g
    check(&lines, "氨氮", 1.9, 1.7); // 19 g, 17 g
    check(&lines, "总磷", 0.07, 0.06); // 0.7 g, 0.6 g
    check(&lines, "总氮", 3.9, 3.5); // 39 g, 35 g
    assert!(
        lines
            .iter()
            .all(|l| l.treatment == "沉淀分离" && l.flags.is_empty())
    );
}

#[test]
fn slaughterhouse_year_by_capacity_with_biological_treatment() {
    // Capacity 1800 head/day selects ≥1500; 12 万头 = 120 000 head;
    // 物理+厌氧/好氧生物组合工艺: COD 22 g/head → 2.64 t, generated 495 g/head → 59.4 t.
    let (status, lines, err) = run(
        "2023,91152502MA2BPPBJ0K,1351,冻羊肉,羊,屠宰、分割,,1800,头/天,物理+厌氧/好氧生物组合工艺,12,万头,0.9,\n",
        &[],
    );
    assert_eq!(status, 0, "{err}");
    check(&lines, "化学需氧量", 59.4, 2.64);
    check(&lines, "氨氮", 2.28, 0.36); // 19 g, 3 g × 120 000
    // A given k is not used by emission-coefficient rows, and says so.
    assert!(
        lines.iter().all(|l| l.flags == "operation_rate_unused"),
        "{lines:?}"
    );
}

#[test]
fn capacity_on_the_class_boundary_and_below_it() {
    // 1500 head/day is in `≥1500头/天屠宰`; 1499 in `<1500头/天屠宰` (直排: COD 537 g/head).
    let (_, at_boundary, _) = run(
        "2023,91152502MA2BPPBJ0K,1351,冻羊肉,羊,屠宰、分割,,1500,头/天,直排,1000,头,,\n",
        &[],
    );
    check(&at_boundary, "化学需氧量", 0.495, 0.495);
    let (_, below, _) = run(
        "2023,91152502MA2BPPBJ0K,1351,冻羊肉,羊,屠宰、分割,,1499,头/天,直排,1000,头,,\n",
        &[],
    );
    check(&below, "化学需氧量", 0.537, 0.537);
}

#[test]
fn boiler_desulfurizer_with_sulfur_formula_and_nox_falling_back_to_direct() {
    // 1.2 万吨 coal = 12 000 t; S = 1.5 %: SO2 generated 16 × 1.5 = 24 kg/t → 288 t;
    // 湿式除尘脱硫 70 % at k = 0.8: emitted 288 × (1 − 0.7 × 0.8) = 126.72 t.
    // NOx has only 直排: 2.94 kg/t × 12 000 t = 35.28 t, flagged as a fallback.
    let (status, lines, err) = run(
        "2023,91130109MAK4GR6066,4430,蒸汽,煤炭,层燃炉,所有规模,,,二氧化硫:湿式除尘脱硫,1.2,万吨,0.8,S=1.5\n",
        &[],
    );
    assert_eq!(status, 0, "{err}");
    check(&lines, "二氧化硫", 288.0, 126.72);
    check(&lines, "氮氧化物", 35.28, 35.28);
    assert_eq!(find(&lines, "二氧化硫").treatment, "湿式除尘脱硫");
    assert_eq!(find(&lines, "二氧化硫").flags, "");
    assert_eq!(find(&lines, "二氧化硫").coefficient_row, 36);
    assert_eq!(find(&lines, "氮氧化物").flags, "direct_fallback");
}

#[test]
fn missing_operation_rate_follows_the_policy_and_is_flagged() {
    // 添加脱硫剂 70 %, no k. 1000 t coal, S = 1: generated 16 t.
    let row = "2023,91130109MAK4GR6066,4430,蒸汽,煤炭,层燃炉,,,,二氧化硫:添加脱硫剂,1000,吨,,S=1\n";
    let (_, nominal, _) = run(row, &[]);
    check(&nominal, "二氧化硫", 16.0, 16.0 * (1.0 - 0.7)); // k = 1
    assert_eq!(find(&nominal, "二氧化硫").flags, "operation_rate_assumed");
    let (_, strict, _) = run(row, &["--missing-operation-rate", "strict"]);
    check(&strict, "二氧化硫", 16.0, 16.0); // k = 0: no removal credited
    assert_eq!(find(&strict, "二氧化硫").flags, "operation_rate_assumed");
}

#[test]
fn power_plant_flue_gas_in_ten_thousand_normal_cubic_metres() {
    // 1000 MW selects ≥750兆瓦; 250 万吨 = 2.5e6 t × 8271 Nm³/t = 2.06775e10 Nm³ = 2 067 750 万Nm³.
    let (status, lines, err) = run(
        "2023,91370783MAQ848J576,4411,电能,煤炭,煤粉炉,,1000,兆瓦,直排,250,万吨,,\n",
        &[],
    );
    assert_eq!(status, 0, "{err}");
    check(&lines, "工业废气量", 2_067_750.0, 2_067_750.0);
    assert_eq!(find(&lines, "工业废气量").flags, "");
}

#[test]
fn row_errors_name_the_row_the_coefficient_row_and_the_value() {
    // Row 2: missing S; row 3: activity in kWh for a per-tonne coefficient; row 4: two declared
    // treatments both listed for the same pollutants.
    let rows = "\
2023,91130109MAK4GR6066,4430,蒸汽,煤炭,层燃炉,所有规模,,,二氧化硫:湿法除尘法,1000,吨,,
2023,91130109MAK4GR6066,4430,蒸汽,煤炭,层燃炉,所有规模,,,直排,1000,千瓦时,,S=1
2023,91152502MA2BPPBJ0K,1351,冻羊肉,羊,屠宰、分割,≥1500头/天屠宰,,,沉淀分离;物理+厌氧/好氧生物组合工艺,1000,头,,
";
    let (status, lines, err) = run(rows, &[]);
    assert_eq!(status, 1, "{err}");
    assert!(lines.is_empty(), "nothing is written on error");
    assert!(
        err.contains("row 2") && err.contains("`S`") && err.contains("coefficients.csv:35"),
        "{err}"
    );
    assert!(err.contains("row 3") && err.contains("千瓦时"), "{err}");
    assert!(
        err.contains("row 4") && err.contains("ambiguous-treatment"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
}
