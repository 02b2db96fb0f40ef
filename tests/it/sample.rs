//! The bundled synthetic sample against its independent hand computation.
//!
//! The expected values below were computed with exact rational arithmetic from the sample's files
//! and the coefficient excerpt, without any npsc code (`datasets/sample-synthetic/EXPECTED.md`
//! shows the arithmetic row by row). If you change the sample, recompute them the same way.

use approx::assert_relative_eq;

use crate::support::{account_sample, sample_settings};
use accounting::codes::RegionLevel;

/// (year, province code or `000000` for national, pollutant, generated, emitted, rows).
/// Masses in 吨, 工业废气量 in 万标立方米.
const EXPECTED: &[(u16, &str, &str, f64, f64, u64)] = &[
    (2022, "150000", "工业废水量", 1146972.0, 1090630.0, 13),
    (2022, "150000", "化学需氧量", 2168.208, 510.173, 13),
    (2022, "150000", "五日生化需氧量", 925.164, 280.976, 13),
    (2022, "150000", "氨氮", 84.569, 39.007, 13),
    (2022, "150000", "总磷", 3.7838, 2.3518, 13),
    (2022, "150000", "总氮", 175.374, 77.448, 13),
    (2022, "130000", "工业废气量", 2067750.0, 2067750.0, 1),
    (2022, "130000", "二氧化硫", 1607.2, 1032.712, 8),
    (2022, "130000", "氮氧化物", 273.126, 273.126, 8),
    (2022, "370000", "工业废水量", 25256.0, 25256.0, 1),
    (2022, "370000", "化学需氧量", 47.256, 47.256, 1),
    (2022, "370000", "五日生化需氧量", 19.624, 19.624, 1),
    (2022, "370000", "氨氮", 1.936, 1.936, 1),
    (2022, "370000", "总磷", 0.132, 0.132, 1),
    (2022, "370000", "总氮", 4.136, 4.136, 1),
    (2022, "370000", "工业废气量", 2224899.0, 2224899.0, 2),
    (2022, "370000", "二氧化硫", 1917.6, 1113.228, 8),
    (2022, "370000", "氮氧化物", 307.818, 307.818, 8),
    (2023, "150000", "工业废水量", 1187741.7, 1129395.3, 13),
    (2023, "150000", "化学需氧量", 2245.2579, 446.4439, 13),
    (2023, "150000", "五日生化需氧量", 958.0185, 239.9349, 13),
    (2023, "150000", "氨氮", 87.5781, 35.0637, 13),
    (2023, "150000", "总磷", 3.92031, 2.28521, 13),
    (2023, "150000", "总氮", 181.6191, 68.7799, 13),
    (2023, "130000", "工业废气量", 2167002.0, 2167002.0, 1),
    (2023, "130000", "二氧化硫", 1536.8, 950.864, 7),
    (2023, "130000", "氮氧化物", 273.42, 273.42, 7),
    (2023, "370000", "工业废水量", 26117.0, 26117.0, 1),
    (2023, "370000", "化学需氧量", 48.867, 48.867, 1),
    (2023, "370000", "五日生化需氧量", 20.293, 20.293, 1),
    (2023, "370000", "氨氮", 2.002, 2.002, 1),
    (2023, "370000", "总磷", 0.1365, 0.1365, 1),
    (2023, "370000", "总氮", 4.277, 4.277, 1),
    (2023, "370000", "工业废气量", 2295202.5, 2295202.5, 2),
    (2023, "370000", "二氧化硫", 1873.6, 1062.772, 8),
    (2023, "370000", "氮氧化物", 303.114, 303.114, 8),
    (2022, "000000", "工业废水量", 1172228.0, 1115886.0, 14),
    (2022, "000000", "化学需氧量", 2215.464, 557.429, 14),
    (2022, "000000", "五日生化需氧量", 944.788, 300.6, 14),
    (2022, "000000", "氨氮", 86.505, 40.943, 14),
    (2022, "000000", "总磷", 3.9158, 2.4838, 14),
    (2022, "000000", "总氮", 179.51, 81.584, 14),
    (2022, "000000", "工业废气量", 4292649.0, 4292649.0, 3),
    (2022, "000000", "二氧化硫", 3524.8, 2145.94, 16),
    (2022, "000000", "氮氧化物", 580.944, 580.944, 16),
    (2023, "000000", "工业废水量", 1213858.7, 1155512.3, 14),
    (2023, "000000", "化学需氧量", 2294.1249, 495.3109, 14),
    (2023, "000000", "五日生化需氧量", 978.3115, 260.2279, 14),
    (2023, "000000", "氨氮", 89.5801, 37.0657, 14),
    (2023, "000000", "总磷", 4.05681, 2.42171, 14),
    (2023, "000000", "总氮", 185.8961, 73.0569, 14),
    (2023, "000000", "工业废气量", 4462204.5, 4462204.5, 3),
    (2023, "000000", "二氧化硫", 3410.4, 2013.636, 15),
    (2023, "000000", "氮氧化物", 576.534, 576.534, 15),
];

/// Totals are sums of a few dozen products of decimal inputs; a relative 1e-12 allows for the
/// binary rounding of those decimals and nothing more.
const TOLERANCE: f64 = 1e-12;

fn check_level(level: RegionLevel, national: bool) {
    let mut settings = sample_settings();
    settings.grouping.region = level;
    let report = account_sample(&settings);
    let expected: Vec<_> = EXPECTED
        .iter()
        .filter(|e| (e.1 == "000000") == national)
        .collect();
    assert_eq!(report.totals.len(), expected.len(), "number of totals");
    for (year, region, pollutant, generated, emitted, rows) in expected {
        let found = report
            .totals
            .iter()
            .find(|t| {
                t.year == *year
                    && t.region
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "000000".into())
                        == *region
                    && &*t.pollutant_name == *pollutant
            })
            .unwrap_or_else(|| panic!("no total for {year} {region} {pollutant}"));
        assert_relative_eq!(found.generated, *generated, max_relative = TOLERANCE);
        assert_relative_eq!(found.emitted, *emitted, max_relative = TOLERANCE);
        assert_eq!(found.rows, *rows, "rows of {year} {region} {pollutant}");
    }
}

#[test]
fn province_totals_match_the_hand_computation() {
    check_level(RegionLevel::Province, false);
}

#[test]
fn national_totals_match_the_hand_computation() {
    check_level(RegionLevel::National, true);
}

#[test]
fn summary_counts_every_row() {
    let report = account_sample(&sample_settings());
    let s = report.summary;
    assert_eq!(s.rows_read, 67);
    assert_eq!(s.rows_accounted, 65);
    assert_eq!(s.rows_excluded, 1);
    assert_eq!(s.rows_unaccounted, 1);
    assert_eq!(report.excluded[0].row, 55);
    assert_eq!(report.excluded[0].code, "closed");
    assert_eq!(report.unaccounted[0].row, 42);
    assert_eq!(report.unaccounted[0].code, "no-coefficient-key");
    // EXPECTED.md's flag list: k assumed on rows 19, 53 and 62 (SO2), and 43 distinct
    // (row, pollutant) fallbacks to 直排.
    assert_eq!(s.operation_rates_assumed, 3);
    assert_eq!(s.direct_fallbacks, 43);
}

#[test]
fn gbk_twin_with_chinese_headers_gives_the_same_totals() {
    let utf8 = account_sample(&sample_settings());
    let mut settings = sample_settings();
    settings.activity = crate::support::root().join("tests/fixtures/sample-activity-gbk.csv");
    let gbk = account_sample(&settings);
    assert_eq!(utf8.totals, gbk.totals);
    assert_eq!(utf8.summary, gbk.summary);
}

#[test]
fn excel_twins_with_chinese_headers_give_the_same_totals() {
    let csv = account_sample(&sample_settings());
    let mut settings = sample_settings();
    settings.activity = crate::support::root().join("tests/fixtures/sample-activity.xlsx");
    settings.registry = crate::support::root().join("tests/fixtures/sample-registry.xlsx");
    let excel = account_sample(&settings);
    assert_eq!(csv.totals, excel.totals);
    assert_eq!(csv.summary, excel.summary);
    assert_eq!(
        excel.excluded[0].row, 55,
        "Excel rows are numbered as in the sheet"
    );
}
