//! Tabular views (a header and rows of rendered cells) and their renderings: an aligned table
//! for a terminal, CSV, JSON (one array of objects per view). Cells are already-rendered text,
//! numbers through [`accounting::render::quantity`], so every format shows the same digits.
//!
//! Each column has a [`ColumnKind`]: what it holds, which decides how a workbook types its
//! cells (a region code such as `130102` must stay text however the header is spelt or
//! translated). The kind belongs to the column, not to its header: renaming the header (the tax
//! workbook's Chinese headers) keeps it.

use crate::output::display_width;

/// What a column holds, which decides how a workbook types its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColumnKind {
    /// Values: a cell that is a plain number is written as a number, anything else as text.
    #[default]
    Value,
    /// Codes and identifiers (region and industry codes, USCC, years, outlet ids): always text,
    /// even when every character is a digit.
    Code,
}

impl ColumnKind {
    /// The kind a column gets when its builder does not say: [`ColumnKind::Code`] for the
    /// identifier names of npsc's stable vocabulary (`year`, `base_year`, `uscc`, `code`,
    /// `*_code`, `*_id`) and of its Chinese sheets (`年份`, `年度`, `*代码`, `*编号`), else
    /// [`ColumnKind::Value`]. Builders that know better set the kind themselves
    /// ([`Sheet::typed`], [`Sheet::set_kind`]).
    pub fn of_name(name: &str) -> ColumnKind {
        let name = name.trim();
        let code = name == "year"
            || name == "uscc"
            || name == "code"
            || name.ends_with("_year")
            || name.ends_with("_code")
            || name.ends_with("_id")
            || name == "年份"
            || name == "年度"
            || name.ends_with("代码")
            || name.ends_with("编号");
        if code {
            ColumnKind::Code
        } else {
            ColumnKind::Value
        }
    }
}

/// One tabular view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// A stable name, e.g. `comparison`.
    pub name: String,
    /// A title for people, e.g. `对比 Comparison`.
    pub title: String,
    /// Column names (stable, English).
    pub header: Vec<String>,
    /// Rows of cells, each as long as the header.
    pub rows: Vec<Vec<String>>,
    /// What each column holds (as long as the header; a missing entry is
    /// [`ColumnKind::Value`]).
    pub kinds: Vec<ColumnKind>,
}

impl Sheet {
    /// An empty sheet; each column's kind is [`ColumnKind::of_name`] of its name.
    pub fn new(name: &str, title: &str, header: &[&str]) -> Sheet {
        Sheet {
            name: name.to_string(),
            title: title.to_string(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            kinds: header.iter().map(|h| ColumnKind::of_name(h)).collect(),
        }
    }

    /// An empty sheet whose builder gives each column's kind.
    pub fn typed(name: &str, title: &str, columns: &[(&str, ColumnKind)]) -> Sheet {
        Sheet {
            name: name.to_string(),
            title: title.to_string(),
            header: columns.iter().map(|(h, _)| h.to_string()).collect(),
            rows: Vec::new(),
            kinds: columns.iter().map(|(_, k)| *k).collect(),
        }
    }

    /// A sheet with rows (e.g. a stored view); kinds as in [`Sheet::new`].
    pub fn with_rows(
        name: String,
        title: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    ) -> Sheet {
        let kinds = header.iter().map(|h| ColumnKind::of_name(h)).collect();
        Sheet {
            name,
            title,
            header,
            rows,
            kinds,
        }
    }

    /// Sets the kind of column `column` (by its stable name); `false` when there is none.
    pub fn set_kind(&mut self, column: &str, kind: ColumnKind) -> bool {
        let Some(c) = self.header.iter().position(|h| h == column) else {
            return false;
        };
        self.kinds.resize(self.header.len(), ColumnKind::Value);
        self.kinds[c] = kind;
        true
    }

    /// The kind of column `c`.
    pub fn kind(&self, c: usize) -> ColumnKind {
        self.kinds.get(c).copied().unwrap_or_default()
    }

    /// Appends a row (padded or cut to the header's length).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }
}

/// Columns aligned for a terminal (East Asian wide characters count two).
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| display_width(&r[c]))
                .chain(std::iter::once(display_width(&header[c])))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < columns {
                line.push_str(&" ".repeat(widths[c] - display_width(cell) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Every sheet as a titled table.
pub fn render_tables(sheets: &[Sheet]) -> String {
    let mut out = String::new();
    for (i, sheet) in sheets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}\n", sheet.title));
        if sheet.rows.is_empty() {
            out.push_str("(none)\n");
        } else {
            out.push_str(&table(&sheet.header, &sheet.rows));
        }
    }
    out
}

/// One sheet as CSV.
pub fn render_csv(sheet: &Sheet) -> Result<String, crate::AppError> {
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    let internal = |e: csv::Error| crate::AppError::Internal(format!("writing CSV: {e}"));
    writer.write_record(&sheet.header).map_err(internal)?;
    for row in &sheet.rows {
        writer.write_record(row).map_err(internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| crate::AppError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| crate::AppError::Internal(e.to_string()))
}

/// Sheets as one JSON object: `{ "<name>": [ {column: cell, …}, … ], … }` plus `extra` text
/// fields (e.g. the provenance) first.
pub fn render_json(extra: &[(String, String)], sheets: &[Sheet]) -> String {
    let mut object = serde_json::Map::new();
    for (k, v) in extra {
        object.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    for sheet in sheets {
        let rows: Vec<serde_json::Value> = sheet
            .rows
            .iter()
            .map(|row| {
                let mut o = serde_json::Map::new();
                for (h, cell) in sheet.header.iter().zip(row) {
                    o.insert(h.clone(), serde_json::Value::String(cell.clone()));
                }
                serde_json::Value::Object(o)
            })
            .collect();
        object.insert(sheet.name.clone(), serde_json::Value::Array(rows));
    }
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(object))
        .unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

/// Sheets as an Excel workbook: one worksheet per sheet (bold frozen header, numbers as
/// numbers in [`ColumnKind::Value`] columns, every cell of a [`ColumnKind::Code`] column as
/// text, fitted widths) and a last worksheet `provenance` of key–value lines (the coefficient
/// edition and its content hash, the inputs, the options).
pub fn render_xlsx(
    sheets: &[Sheet],
    provenance: &[(String, String)],
) -> Result<Vec<u8>, crate::AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let internal = |e: rust_xlsxwriter::XlsxError| {
        crate::AppError::Internal(format!("writing the workbook: {e}"))
    };
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let number = Format::new().set_num_format("General");
    // Text that a spreadsheet would take for a formula once edited (`=…`, `+…`, `-…`, `@…`):
    // written as a string cell with Excel's quote prefix, so it stays text (see
    // `ingest::spreadsheet`; string cells are never evaluated on opening).
    let quoted = Format::new().set_quote_prefix();
    let text = |worksheet: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, cell: &str| {
        if ingest::spreadsheet::needs_quote(cell.as_bytes()) {
            worksheet.write_string_with_format(r, c, cell, &quoted)
        } else {
            worksheet.write_string(r, c, cell)
        }
        .map(|_| ())
    };
    for sheet in sheets {
        let worksheet = workbook.add_worksheet();
        let name: String = sheet.name.chars().take(31).collect();
        worksheet.set_name(&name).map_err(internal)?;
        for (c, h) in sheet.header.iter().enumerate() {
            worksheet
                .write_string_with_format(0, col(c)?, h, &bold)
                .map_err(internal)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = u32::try_from(r + 1)
                .map_err(|_| crate::AppError::Internal("too many rows for a worksheet".into()))?;
            for (c, cell) in row.iter().enumerate() {
                // A cell that is a plain finite number is written as a number.
                match cell.parse::<f64>() {
                    Ok(x)
                        if sheet.kind(c) == ColumnKind::Value
                            && x.is_finite()
                            && !cell.contains(['e', 'E'])
                            && !cell.starts_with('+')
                            && looks_numeric(cell) =>
                    {
                        worksheet
                            .write_number_with_format(r, col(c)?, x, &number)
                            .map_err(internal)?;
                    }
                    _ => {
                        text(worksheet, r, col(c)?, cell).map_err(internal)?;
                    }
                }
            }
        }
        worksheet.set_freeze_panes(1, 0).map_err(internal)?;
        worksheet.autofit();
    }
    let worksheet = workbook.add_worksheet();
    worksheet.set_name("provenance").map_err(internal)?;
    worksheet
        .write_string_with_format(0, 0, "key", &bold)
        .map_err(internal)?;
    worksheet
        .write_string_with_format(0, 1, "value", &bold)
        .map_err(internal)?;
    for (i, (k, v)) in provenance.iter().enumerate() {
        let r = u32::try_from(i + 1).unwrap_or(u32::MAX);
        text(worksheet, r, 0, k).map_err(internal)?;
        text(worksheet, r, 1, v).map_err(internal)?;
    }
    worksheet.autofit();
    workbook.save_to_buffer().map_err(internal)
}

fn col(c: usize) -> Result<u16, crate::AppError> {
    u16::try_from(c)
        .map_err(|_| crate::AppError::Internal("too many columns for a worksheet".into()))
}

/// Digits with an optional sign and decimal point only: codes such as `4430` stay numbers, but a
/// USCC or a year-like label never parses anyway; leading zeros (`0101`) are kept as text.
fn looks_numeric(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_kinds_belong_to_the_column() {
        let mut sheet = Sheet::new(
            "t",
            "T",
            &[
                "year",
                "county_code",
                "uscc",
                "outlet_id",
                "tax",
                "地区代码",
                "年份",
                "rank",
            ],
        );
        use ColumnKind::{Code, Value};
        assert_eq!(
            sheet.kinds,
            [Code, Code, Code, Code, Value, Code, Code, Value]
        );
        // Renaming a header (a translation) keeps the kind; a builder may set it.
        sheet.header[1] = "区县".to_string();
        assert_eq!(sheet.kind(1), Code);
        assert!(sheet.set_kind("rank", Code));
        assert!(!sheet.set_kind("missing", Code));
        assert_eq!(sheet.kind(7), Code);
        assert_eq!(sheet.kind(99), Value);
        let typed = Sheet::typed("t", "T", &[("区县", Code), ("数量", Value)]);
        assert_eq!(typed.kinds, [Code, Value]);
    }

    /// Cells a hostile upload could carry into an export, and how a spreadsheet must see them.
    fn hostile_sheet() -> Sheet {
        let mut sheet = Sheet::new("t", "T", &["name", "value", "region_code"]);
        sheet.push(vec![
            "=HYPERLINK(\"http://x\",\"点击\")".into(),
            "-12.5".into(),
            "=1+1".into(),
        ]);
        sheet.push(vec!["@SUM(A1)".into(), "+86 10".into(), "-3".into()]);
        sheet.push(vec![
            "-cmd|' /C calc'!A0".into(),
            "1.5e-7".into(),
            "130102".into(),
        ]);
        sheet
    }

    #[test]
    fn csv_exports_quote_formula_looking_text_but_not_numbers() {
        assert_eq!(
            render_csv(&hostile_sheet()).expect("csv"),
            "name,value,region_code\n\
             \"'=HYPERLINK(\"\"http://x\"\",\"\"点击\"\")\",-12.5,'=1+1\n\
             '@SUM(A1),'+86 10,-3\n\
             '-cmd|' /C calc'!A0,1.5e-7,130102\n"
        );
    }

    #[test]
    fn workbooks_keep_formula_looking_text_as_text_and_numbers_as_numbers() {
        use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
        let provenance = [("input".to_string(), "=evil.csv".to_string())];
        let bytes = render_xlsx(&[hostile_sheet()], &provenance).expect("xlsx");
        let mut book: Xlsx<_> =
            open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("workbook");
        let range = book.worksheet_range("t").expect("sheet");
        let cell = |r: u32, c: u32| range.get_value((r, c)).cloned().expect("cell");
        assert_eq!(
            cell(1, 0),
            Data::String("=HYPERLINK(\"http://x\",\"点击\")".into())
        );
        assert_eq!(cell(1, 1), Data::Float(-12.5));
        assert_eq!(cell(1, 2), Data::String("=1+1".into()));
        assert_eq!(cell(2, 0), Data::String("@SUM(A1)".into()));
        assert_eq!(cell(2, 1), Data::String("+86 10".into()));
        assert_eq!(cell(2, 2), Data::String("-3".into()), "a code stays text");
        assert_eq!(cell(3, 1), Data::String("1.5e-7".into()));
        // No cell is a formula, in the data or in the provenance.
        for sheet in ["t", "provenance"] {
            let formulas = book.worksheet_formula(sheet).expect("formulas");
            assert!(
                formulas.used_cells().all(|(_, _, f)| f.is_empty()),
                "{sheet}: {formulas:?}"
            );
        }
        let provenance = book.worksheet_range("provenance").expect("provenance");
        assert_eq!(
            provenance.get_value((1, 1)),
            Some(&Data::String("=evil.csv".into()))
        );
    }

    #[test]
    fn renders_every_format() {
        let mut sheet = Sheet::new("t", "表 Table", &["name", "value"]);
        sheet.push(vec!["二氧化硫".into(), "1.5".into()]);
        sheet.push(vec!["NOx".into()]);
        assert_eq!(
            render_tables(std::slice::from_ref(&sheet)),
            "表 Table\nname      value\n二氧化硫  1.5\nNOx\n"
        );
        assert_eq!(
            render_csv(&sheet).expect("csv"),
            "name,value\n二氧化硫,1.5\nNOx,\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&[("k".into(), "v".into())], &[sheet]))
                .expect("json");
        assert_eq!(json["k"], "v");
        assert_eq!(json["t"][0]["name"], "二氧化硫");
    }
}
