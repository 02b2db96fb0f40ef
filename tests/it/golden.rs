//! Snapshots of whole outputs over the bundled data. Review changes with `cargo insta review`;
//! a changed number here must be explained by a changed input or rule.

use crate::support::{SAMPLE_ARGS, npsc};

#[test]
fn sample_province_table() {
    let (status, out, err) = npsc(&SAMPLE_ARGS);
    assert_eq!(status, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn sample_county_by_division_csv() {
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend([
        "--region-level",
        "county",
        "--industry-level",
        "division",
        "--format",
        "csv",
    ]);
    let (status, out, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn sample_per_row_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let results = dir.path().join("results.csv");
    let mut args = SAMPLE_ARGS.to_vec();
    args.extend([
        "--results",
        results.to_str().expect("utf-8"),
        "--format",
        "csv",
    ]);
    let (status, _, err) = npsc(&args);
    assert_eq!(status, 0, "{err}");
    insta::assert_snapshot!(std::fs::read_to_string(results).expect("results written"));
}

#[test]
fn reference_lists_have_the_documented_sizes() {
    let reference = crate::support::reference();
    let count = |level: accounting::codes::RegionLevel| {
        reference
            .regions
            .iter()
            .filter(|r| r.level == level)
            .count()
    };
    use accounting::codes::{IndustryLevel, RegionLevel};
    assert_eq!(
        [
            count(RegionLevel::Province),
            count(RegionLevel::Prefecture),
            count(RegionLevel::County)
        ],
        [31, 342, 2975] // 2978 county rows less 东莞, 中山, 儋州 listed again as their own county
    );
    let industries = |level: IndustryLevel| {
        reference
            .industries
            .iter()
            .filter(|i| i.level == level)
            .count()
    };
    assert_eq!(
        [
            industries(IndustryLevel::Section),
            industries(IndustryLevel::Division),
            industries(IndustryLevel::Group),
            industries(IndustryLevel::Class)
        ],
        [20, 97, 473, 1381]
    );
    let taxed = reference
        .pollutants
        .iter()
        .filter(|p| p.tax.is_some())
        .count();
    insta::assert_snapshot!(format!(
        "{} pollutants, {taxed} with a tax equivalent",
        reference.pollutants.len()
    ));
    let cod = reference
        .pollutants
        .get(reference.pollutants.lookup("CODcr").expect("COD"));
    assert_eq!(cod.tax.as_ref().map(|t| t.kg_per_equivalent), Some(1.0));
    let nh3n = reference
        .pollutants
        .get(reference.pollutants.lookup("NH3-N").expect("NH3-N"));
    assert_eq!(nh3n.tax.as_ref().map(|t| t.kg_per_equivalent), Some(0.8));
}

#[test]
fn results_are_bit_for_bit_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for name in ["a.csv", "b.csv"] {
        let path = dir.path().join(name);
        let mut args = SAMPLE_ARGS.to_vec();
        args.extend([
            "--results",
            path.to_str().expect("utf-8"),
            "--format",
            "json",
        ]);
        let (status, json, _) = npsc(&args);
        assert_eq!(status, 0);
        outputs.push((std::fs::read(&path).expect("results"), json));
    }
    assert_eq!(outputs[0], outputs[1]);
}
