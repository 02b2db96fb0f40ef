//! Coefficient workbooks as the ministry publishes them, read through
//! `ingest::coefficients::load_set`: several industry sheets and a notes sheet under merged
//! titles, the first-census wide layout on one or two header rows, and bad cells located as
//! Excel cell references. The workbooks are written by `fixtures/coefficients/make_fixtures.py`
//! from the real rows of `coefficients/npsc1-excerpt/coefficients.csv`.

use std::path::{Path, PathBuf};

use accounting::coefficient::{
    CoefficientRow, CoefficientSet, RowOrigin, SetMeta, canonical_serialization,
};
use ingest::Source;
use ingest::coefficients::{load_set, load_set_with_notes};
use ingest::reference::{Reference, ReferenceSources, load};
use ingest::table::ReadOptions;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/coefficients")
        .join(name)
}

fn reference() -> Reference {
    let dir = root().join("datasets/reference");
    let paths = [
        "regions_gbt2260.csv",
        "industries_gbt4754_2017.csv",
        "pollutants.csv",
        "pollution_equivalents.csv",
    ]
    .map(|name| dir.join(name));
    load(ReferenceSources {
        regions: Source::Path(&paths[0]),
        industries: Source::Path(&paths[1]),
        pollutants: Source::Path(&paths[2]),
        equivalents: Source::Path(&paths[3]),
    })
    .unwrap_or_else(|issues| panic!("the bundled reference loads:\n{issues}"))
}

/// The rows of the excerpt's CSV table that `keep` selects.
fn excerpt_rows(
    reference: &Reference,
    keep: impl Fn(&CoefficientRow) -> bool,
) -> Vec<CoefficientRow> {
    let set = load_set(
        &root().join("coefficients/npsc1-excerpt"),
        reference,
        &ReadOptions::default(),
    )
    .unwrap_or_else(|issues| panic!("the excerpt loads:\n{issues}"));
    set.rows().iter().filter(|row| keep(row)).cloned().collect()
}

fn without_origin(rows: &[CoefficientRow]) -> Vec<CoefficientRow> {
    let blank = RowOrigin {
        table: String::new(),
        row: 0,
    };
    rows.iter()
        .map(|row| CoefficientRow {
            origin: blank.clone(),
            ..row.clone()
        })
        .collect()
}

fn origins(set: &CoefficientSet) -> Vec<String> {
    set.rows()
        .iter()
        .map(|row| row.origin.to_string())
        .collect()
}

fn is_big_slaughter(row: &CoefficientRow) -> bool {
    row.industry.digits() == "1351" && row.scale.normalized().starts_with('≥')
}

#[test]
fn every_industry_sheet_is_read_and_the_notes_sheet_is_skipped() {
    let reference = reference();
    let path = fixture("sheets.xlsx");
    let (set, notes) = load_set_with_notes(&path, &reference, &ReadOptions::default())
        .unwrap_or_else(|issues| panic!("sheets.xlsx loads:\n{issues}"));

    // The 说明 sheet is skipped with a note, not an error.
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].code, "skipped-sheet");
    assert_eq!(notes[0].location.sheet.as_deref(), Some("说明"));
    assert!(
        notes[0]
            .message
            .starts_with("the sheet has no header row of the coefficient table"),
        "{}",
        notes[0].message
    );

    // Both industry sheets, in workbook order, numbered as the sheet shows them: the merged
    // title in row 1 and the blank row 2 are skipped, the header is row 3.
    let origins = origins(&set);
    assert_eq!(origins.len(), 12 + 8);
    assert_eq!(origins[0], "sheets.xlsx!屠宰:4");
    assert_eq!(origins[11], "sheets.xlsx!屠宰:15");
    assert_eq!(origins[12], "sheets.xlsx!锅炉:4");
    assert_eq!(origins[19], "sheets.xlsx!锅炉:11");

    // Same content as the CSV rows of the same classes and industries.
    let expected = excerpt_rows(&reference, |row| !is_big_slaughter(row));
    assert_eq!(expected.len(), 20);
    assert_eq!(
        canonical_serialization(set.rows(), &reference.pollutants),
        canonical_serialization(&expected, &reference.pollutants)
    );

    // `load_set` gives the same set; naming a sheet reads that sheet only.
    let plain = load_set(&path, &reference, &ReadOptions::default()).unwrap();
    assert_eq!(plain.content_hash(), set.content_hash());
    let boilers = ReadOptions {
        sheet: Some("锅炉".to_string()),
        ..ReadOptions::default()
    };
    let (boilers, notes) = load_set_with_notes(&path, &reference, &boilers).unwrap();
    assert_eq!(boilers.rows().len(), 8);
    assert!(notes.is_empty());
}

#[test]
fn a_workbook_without_any_coefficient_sheet_is_an_error() {
    let reference = reference();
    let notes_only = ReadOptions {
        sheet: Some("说明".to_string()),
        ..ReadOptions::default()
    };
    let issues = load_set(&fixture("sheets.xlsx"), &reference, &notes_only)
        .unwrap_err()
        .into_vec();
    assert!(
        issues.iter().any(|i| i.code == "no-header-row"),
        "{issues:?}"
    );

    // A table of another kind in every sheet: the closest sheet's problems and a summary.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("registry.xlsx");
    std::fs::copy(root().join("tests/fixtures/sample-registry.xlsx"), &copy).unwrap();
    let issues = load_set(&copy, &reference, &ReadOptions::default())
        .unwrap_err()
        .into_vec();
    let summary = issues
        .iter()
        .find(|i| i.code == "no-matching-sheet")
        .unwrap_or_else(|| panic!("{issues:?}"));
    assert!(
        summary
            .message
            .starts_with("none of the workbook's 2 sheets (`名录`, `说明`) has a header row"),
        "{}",
        summary.message
    );
    assert!(issues.iter().any(|i| i.code == "missing-column"));
}

#[test]
fn the_first_census_wide_layout_gives_the_csv_rows() {
    let reference = reference();
    let expected = excerpt_rows(&reference, is_big_slaughter);
    assert_eq!(expected.len(), 18);
    let meta = SetMeta {
        id: "x".to_string(),
        edition: 0,
        title: String::new(),
        effective_from: None,
        provenance: String::new(),
        synthetic: false,
        key_migrations: Vec::new(),
    };
    let csv_hash = CoefficientSet::build(meta, expected.clone(), &reference.pollutants)
        .unwrap()
        .content_hash();
    for (name, first_data_row) in [("wide.xlsx", 4), ("wide-two-row.xlsx", 4)] {
        let set = load_set(&fixture(name), &reference, &ReadOptions::default())
            .unwrap_or_else(|issues| panic!("{name} loads:\n{issues}"));
        // Exactly the CSV rows, in the same order: one per pollutant row and treatment column.
        assert_eq!(
            without_origin(set.rows()),
            without_origin(&expected),
            "{name}"
        );
        assert_eq!(set.content_hash(), csv_hash, "{name}");
        // Each coefficient row keeps its record's table and row.
        let origins = origins(&set);
        for (i, origin) in origins.iter().enumerate() {
            let row = first_data_row + i / 3;
            assert_eq!(origin, &format!("{name}!牲畜屠宰:{row}"), "{name}");
        }
        let treatments: Vec<&str> = set.rows()[..3]
            .iter()
            .map(|row| row.treatment.as_str())
            .collect();
        assert_eq!(
            treatments,
            ["物理+厌氧/好氧生物组合工艺", "沉淀分离", "直排"],
            "{name}"
        );
    }
}

#[test]
fn the_two_row_header_is_read_from_merged_cells() {
    let reader = ingest::table::TableReader::open(
        &fixture("wide-two-row.xlsx"),
        &ingest::schemas::COEFFICIENT_TABLE,
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!((reader.header_row(), reader.header_height()), (2, 2));
    let keys: Vec<&str> = reader
        .wide_columns()
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(keys, ["物理+厌氧/好氧生物组合工艺", "沉淀分离", "直排"]);
    let field = reader.wide_columns()[1].field;
    assert_eq!(
        reader.location(5, field).to_string(),
        format!(
            "{}, 牲畜屠宰!J5 (排污系数(沉淀分离))",
            fixture("wide-two-row.xlsx").display()
        )
    );
    assert_eq!(
        reader.headers()[..2],
        ["行业代码".to_string(), "产品名称".to_string()]
    );
}

#[test]
fn bad_cells_are_located_as_excel_cells() {
    let reference = reference();
    let path = fixture("bad.xlsx");
    let issues = load_set(&path, &reference, &ReadOptions::default())
        .unwrap_err()
        .into_vec();
    let prefix = format!("{}, ", path.display());
    let mut found: Vec<(&str, String)> = issues
        .iter()
        .map(|issue| {
            let location = issue.location.to_string();
            (
                issue.code,
                location
                    .strip_prefix(&prefix)
                    .unwrap_or(&location)
                    .to_string(),
            )
        })
        .collect();
    found.sort();
    let expected = [
        ("bad-formula", "宽表!I3 (排污系数(沉淀分离))"),
        ("bad-formula", "工业系数!H7 (产污系数)"),
        ("bad-number", "工业系数!J8 (去除效率(%))"),
        ("duplicate-key", "宽表!I6 (排污系数(沉淀分离))"),
        ("duplicate-key", "宽表!J6 (排污系数(直排))"),
        ("emission-exceeds-generation", "宽表!J4 (排污系数(直排))"),
        ("industry-not-a-class", "工业系数!A4 (行业代码)"),
        ("missing-value", "宽表!I5 (排污系数(沉淀分离))"),
        ("unknown-pollutant", "工业系数!F5 (污染物指标)"),
        ("unknown-unit", "工业系数!G6 (单位)"),
    ]
    .map(|(code, at)| (code, at.to_string()));
    assert_eq!(found, expected, "{issues:#?}");

    // The message reads as a user sees it in Excel, value included.
    let formula = issues
        .iter()
        .find(|i| i.code == "bad-formula" && i.location.sheet.as_deref() == Some("工业系数"))
        .unwrap();
    let text = formula.to_string();
    assert!(
        text.starts_with(&format!(
            "error[bad-formula]: {prefix}工业系数!H7 (产污系数): "
        )),
        "{text}"
    );
    assert!(text.contains("`2,94`"), "{text}");
}
