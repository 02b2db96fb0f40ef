//! The canonical form of a reference table, as stored in a reference table edition: UTF-8 CSV,
//! one header line with the schema's English field names (every field, in schema order), one
//! line per non-blank record with the trimmed cell texts (empty for an absent column or cell),
//! `\n` line ends, quoted only where needed. The same table given as GBK CSV with Chinese
//! headers or as an Excel sheet has the same canonical form, and so the same content hash.
//!
//! This is only the shape; what the cells mean is checked by the table's own reader, which
//! reads the canonical bytes back.

use crate::issue::{Issue, Issues, Location};
use crate::table::{ReadOptions, Schema};
use crate::{Source, each_record};

/// A table in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The CSV text.
    pub csv: String,
    /// Its data rows.
    pub rows: u64,
}

/// Reads `source` with `schema` and writes its canonical CSV; every structural problem of the
/// file (unreadable, missing required columns, ragged rows) is reported at once. Schemas with a
/// wide layout (coefficient tables) are not reference tables and are refused.
pub fn canonical_csv(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
) -> Result<Canonical, Issues> {
    let mut issues = Issues::with_cap(options.issue_cap);
    if schema.wide.is_some() {
        issues.push(Issue::error(
            Location::file(source.name()),
            "not-a-reference-table",
            format!("a {} is not stored as a reference table", schema.kind),
        ));
        return Err(issues);
    }
    // Formula-looking cells are quoted (`crate::spreadsheet`): the stored form is safe to open
    // in a spreadsheet, and reads back as the same cells.
    let mut writer = crate::spreadsheet::SafeWriter::new(
        csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new()),
    );
    let header: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
    let mut failed = writer.write_record(&header).err();
    let mut rows = 0u64;
    each_record(source, schema, options, &mut issues, |_, record, _| {
        rows += 1;
        let cells = (0..schema.fields.len()).map(|field| record.get(field).unwrap_or(""));
        if let Err(e) = writer.write_record(cells) {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        issues.push(Issue::error(
            Location::file(source.name()),
            "internal",
            format!("writing the canonical form failed: {e}"),
        ));
    }
    if issues.has_errors() {
        return Err(issues);
    }
    let bytes = writer.into_inner().map_err(|e| {
        let mut issues = Issues::with_cap(1);
        issues.push(Issue::error(
            Location::file(source.name()),
            "internal",
            format!("writing the canonical form failed: {e}"),
        ));
        issues
    })?;
    // The cells were read as text, so the bytes are UTF-8.
    let csv = String::from_utf8(bytes).unwrap_or_default();
    Ok(Canonical { csv, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas;

    fn canonical(name: &str, bytes: &[u8]) -> Result<Canonical, Issues> {
        canonical_csv(
            Source::Bytes { name, bytes },
            &schemas::TAX_RATES,
            &ReadOptions::default(),
        )
    }

    #[test]
    fn chinese_gbk_and_english_utf8_have_one_canonical_form() {
        let english = "region_code,region_name,medium,pollutant,yuan_per_equivalent,effective_from,note\n\
                       410000,河南省,air,*,4.8,2018-01-01,\"决定, 2017\"\n\n";
        let a = canonical("a.csv", english.as_bytes()).expect("english");
        assert_eq!(a.rows, 1);
        assert_eq!(
            a.csv,
            "region_code,region_name,medium,pollutant,yuan_per_equivalent,effective_from,note\n\
             410000,河南省,air,*,4.8,2018-01-01,\"决定, 2017\"\n"
        );
        // The same table with the columns in another order, padded cells, CRLF, in GBK.
        let reordered = "medium,region_code,pollutant,yuan_per_equivalent,effective_from,region_name,note\r\n\
                         air , 410000,*,4.8,2018-01-01,河南省,\"决定, 2017\"\r\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(reordered);
        let b = canonical("b.csv", &gbk).expect("gbk");
        assert_eq!(a, b);
    }

    #[test]
    fn structural_problems_are_all_reported() {
        let err = canonical("bad.csv", b"region_code,medium\n110000,air\n").expect_err("missing");
        let text = format!("{err:?}");
        for column in ["pollutant", "yuan_per_equivalent", "effective_from"] {
            assert!(text.contains(column), "{column} in {text}");
        }
        let wide = canonical_csv(
            Source::Bytes {
                name: "t.csv",
                bytes: b"x\n",
            },
            &schemas::COEFFICIENT_TABLE,
            &ReadOptions::default(),
        );
        assert!(wide.is_err());
    }
}
