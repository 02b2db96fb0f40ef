//! What calamine will allocate for an `.ods` workbook, checked before it opens it.
//!
//! calamine's `Ods::new` reads every sheet of `content.xml` at once, and while doing so it
//! - copies a cell into as many columns as its `table:number-columns-repeated` says (up to
//!   16 384 a row), once for the values and once for the formulas,
//! - then makes each sheet dense from its first to its last non-empty row and column, copying a
//!   row as many times as its `table:number-rows-repeated` says (up to 1 048 576 rows, and
//!   100 million cells a sheet),
//! - builds a `<text:s text:c="N"/>` as N spaces.
//!
//! A file of 1.4 KB can so ask for 100 million cells in each of several sheets (6.2 GB
//! measured). [`check`] streams `content.xml` the way calamine 0.38 reads it (`parse_content`,
//! `read_table`, `read_row`, `get_datatype` and `get_range` in its `ods.rs`), allocating nothing
//! proportional to what the file claims, and refuses the workbook before calamine sees it when
//! one sheet's cells, the sheets' cells together or their text together are past ingest's
//! limits, or when `content.xml` ends inside a table or a comment, where calamine would read
//! past its end forever (a hang). Empty rows and cells repeated after a sheet's last value
//! (LibreOffice writes `table:number-rows-repeated="1048552"` for the empty rest of a sheet)
//! cost calamine nothing and count nothing. Where calamine would stop with an error the walk stops too and leaves the
//! message to calamine; where it is unsure, it counts more than calamine would, never less.

use std::io::{BufRead, BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;

use super::{MAX_SHEET_CELLS, MAX_SHEET_TEXT, WorkbookProblem};

/// calamine's caps: rows of a sheet, columns of a row.
const MAX_ROWS: u64 = 1_048_576;
const MAX_COLUMNS: u64 = 16_384;
const MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// Why the walk ended early.
enum Stop {
    /// calamine fails here too, with its own message.
    Calamine,
    /// The workbook is refused.
    Refuse(WorkbookProblem),
}

type Step<T> = Result<T, Stop>;

impl From<quick_xml::Error> for Stop {
    fn from(_: quick_xml::Error) -> Stop {
        Stop::Calamine
    }
}

/// Whether bytes are a ZIP archive whose `mimetype` says OpenDocument spreadsheet (what
/// calamine's `Ods::new` checks first).
pub(super) fn is_ods(bytes: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return false;
    };
    let Ok(file) = zip.by_name("mimetype") else {
        return false;
    };
    let mut head = Vec::with_capacity(MIMETYPE.len());
    file.take(MIMETYPE.len() as u64)
        .read_to_end(&mut head)
        .is_ok_and(|_| head == MIMETYPE)
}

/// Refuses an `.ods` workbook that calamine could not open within ingest's limits (see the
/// module documentation); `Ok` when it can, or when calamine will refuse it by itself.
pub(super) fn check(bytes: &[u8]) -> Result<(), WorkbookProblem> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    // The ZIP reader inflates no part past its declared size, and `open_workbook` has checked
    // the declared sizes together (`MAX_WORKBOOK_UNCOMPRESSED`) before this.
    let Ok(content) = zip.by_name("content.xml") else {
        return Ok(());
    };
    match scan_content(&mut xml(BufReader::new(content))) {
        Ok(()) | Err(Stop::Calamine) => Ok(()),
        Err(Stop::Refuse(problem)) => Err(problem),
    }
}

/// An XML reader configured as calamine configures its own.
fn xml<R: BufRead>(input: R) -> Reader<R> {
    let mut reader = Reader::from_reader(input);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    reader
}

/// The value of attribute `name` of `e`, raw (not unescaped).
fn attribute<'e>(e: &'e BytesStart<'_>, name: &str) -> Option<std::borrow::Cow<'e, str>> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.0 == name)
        .map(|a| a.value)
}

/// A repeat count as calamine parses it (`usize`); `None` where calamine fails.
fn repeats(e: &BytesStart<'_>, name: &str) -> Step<u64> {
    match attribute(e, name) {
        None => Ok(1),
        Some(v) => {
            let text = quick_xml::escape::unescape(&v).map_err(|_| Stop::Calamine)?;
            text.parse::<u64>().map_err(|_| Stop::Calamine)
        }
    }
}

/// What calamine holds once every sheet is read: cells and text of all sheets together.
#[derive(Default)]
struct Totals {
    cells: u64,
    text: u64,
}

/// calamine's `parse_content`: the named tables of `content.xml`, each read by `read_table`.
fn scan_content<R: BufRead>(reader: &mut Reader<R>) -> Step<()> {
    let mut buf = Vec::new();
    let mut totals = Totals::default();
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) if e.name() == QName("table:table") => {
                if let Some(name) = attribute(&e, "table:name") {
                    let name = quick_xml::escape::unescape(&name)
                        .map_err(|_| Stop::Calamine)?
                        .into_owned();
                    scan_table(reader, &name, &mut totals)?;
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// The non-empty extent of one kind of cell (values, or formulas) over a sheet, as calamine's
/// `get_range` makes it dense.
#[derive(Default)]
struct Extent {
    /// The leftmost and rightmost non-empty column of any row.
    columns: Option<(u64, u64)>,
    /// The rows from the first non-empty row to the current one: as repeated, and as written
    /// (calamine reserves the latter, and fills the former).
    running: (u64, u64),
    /// The same to the last non-empty row: the rows of the dense area.
    window: (u64, u64),
    /// Text of the rows as written, and as copied into the dense area.
    raw_text: u64,
    dense_text: u64,
}

impl Extent {
    fn add_row(&mut self, row: &RowKind, repeats: u64) {
        if self.columns.is_none() && row.columns.is_none() {
            return;
        }
        self.running = (self.running.0.saturating_add(repeats), self.running.1 + 1);
        let Some((first, last)) = row.columns else {
            return;
        };
        self.window = self.running;
        let (left, right) = self.columns.unwrap_or((first, last));
        self.columns = Some((left.min(first), right.max(last)));
        self.raw_text = self.raw_text.saturating_add(row.text);
        self.dense_text = self
            .dense_text
            .saturating_add(row.text.saturating_mul(repeats));
    }

    fn width(&self) -> u64 {
        self.columns.map_or(0, |(left, right)| right - left + 1)
    }

    fn rows(&self) -> u64 {
        self.window.0.max(self.window.1)
    }

    /// The dense area's cells.
    fn cells(&self) -> u64 {
        self.width().saturating_mul(self.rows())
    }
}

/// One row of one kind of cell: its non-empty columns and text.
#[derive(Default)]
struct RowKind {
    columns: Option<(u64, u64)>,
    text: u64,
}

impl RowKind {
    fn push(&mut self, at: u64, count: u64, text: u64) {
        if count == 0 {
            return;
        }
        let (first, last) = (at, at + count - 1);
        self.columns = Some(self.columns.map_or((first, last), |(f, _)| (f, last)));
        self.text = self.text.saturating_add(text.saturating_mul(count));
    }
}

/// A `content.xml` that ends inside an element calamine would read past its end without end
/// (the process hangs).
fn unclosed(element: &str) -> Stop {
    Stop::Refuse(WorkbookProblem {
        code: "bad-workbook",
        message: format!(
            "the workbook is damaged: its content.xml ends inside a {element} element"
        ),
        hint: "open it in LibreOffice or Excel and save it again".to_string(),
        sheet: None,
    })
}

fn too_large(sheet: &str, message: String, hint: &str) -> Stop {
    Stop::Refuse(WorkbookProblem {
        code: "sheet-too-large",
        message,
        hint: hint.to_string(),
        sheet: Some(sheet.to_string()),
    })
}

const REPEATS: &str = "open the workbook in LibreOffice, delete the rows and columns past the \
                       table and save it again, or save the table as CSV";
const OTHER_SHEETS: &str = "delete the sheets that are not the table, or save the table as CSV";

/// calamine's `read_table` and `get_range`: counts a sheet's cells as written, then as made
/// dense, and refuses it (or the sheets so far together) past the limits.
fn scan_table<R: BufRead>(reader: &mut Reader<R>, sheet: &str, totals: &mut Totals) -> Step<()> {
    let mut buf = Vec::new();
    let (mut values, mut formulas) = (Extent::default(), Extent::default());
    let mut raw_cells = 0u64;
    let mut total_rows = 0u64;
    loop {
        match reader.read_event_into(&mut buf)? {
            Event::Start(e) if e.name() == QName("table:table-row") => {
                let wanted = repeats(&e, "table:number-rows-repeated")?;
                let capped = wanted.min(MAX_ROWS.saturating_sub(total_rows));
                total_rows = total_rows.saturating_add(capped);
                let (length, value_row, formula_row) = scan_row(reader)?;
                raw_cells += length;
                // Values and formulas as written, both vectors kept until the sheet is dense (the
                // sheets together are checked when it is).
                if raw_cells > MAX_SHEET_CELLS {
                    return Err(too_large(
                        sheet,
                        format!(
                            "the sheet's cells as written, each copied into the columns its \
                             table:number-columns-repeated claims, are more than the \
                             {MAX_SHEET_CELLS} npsc reads"
                        ),
                        REPEATS,
                    ));
                }
                values.add_row(&value_row, capped);
                formulas.add_row(&formula_row, capped);
            }
            Event::End(e) if e.name() == QName("table:table") => break,
            // calamine's `read_table` reads past the end of the file forever.
            Event::Eof => return Err(unclosed("table:table")),
            _ => {}
        }
        buf.clear();
    }
    for extent in [&values, &formulas] {
        if extent.cells() > MAX_SHEET_CELLS {
            return Err(too_large(
                sheet,
                format!(
                    "the sheet's repeated rows and columns (table:number-rows-repeated, \
                     table:number-columns-repeated) claim {} rows of {} columns, {} cells, \
                     more than the {MAX_SHEET_CELLS} npsc reads",
                    extent.rows(),
                    extent.width(),
                    extent.cells()
                ),
                REPEATS,
            ));
        }
    }
    totals.cells = totals
        .cells
        .saturating_add(values.cells().max(raw_cells))
        .saturating_add(formulas.cells());
    if totals.cells > MAX_SHEET_CELLS {
        return Err(too_large(
            sheet,
            format!(
                "the workbook's sheets up to this one span {} cells together, more than the \
                 {MAX_SHEET_CELLS} npsc reads: every sheet of an .ods workbook is read at once",
                totals.cells
            ),
            OTHER_SHEETS,
        ));
    }
    totals.text = [&values, &formulas].iter().fold(totals.text, |sum, e| {
        sum.saturating_add(e.raw_text).saturating_add(e.dense_text)
    });
    if totals.text > MAX_SHEET_TEXT {
        return Err(too_large(
            sheet,
            format!(
                "the workbook's text cells up to this sheet would take {} MiB, more than the {} \
                 MiB npsc reads (text cells repeated by table:number-rows-repeated and \
                 table:number-columns-repeated, or long runs of spaces)",
                totals.text >> 20,
                MAX_SHEET_TEXT >> 20
            ),
            "save the table as CSV",
        ));
    }
    Ok(())
}

/// calamine's `read_row`: the number of cells it pushes for the row, and the row's values and
/// formulas.
fn scan_row<R: BufRead>(reader: &mut Reader<R>) -> Step<(u64, RowKind, RowKind)> {
    let mut buf = Vec::new();
    let mut cell_buf = Vec::new();
    let (mut values, mut formulas) = (RowKind::default(), RowKind::default());
    let mut length = 0u64;
    let mut empty_repeats = 0u64;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf)? {
            Event::Start(e)
                if e.name() == QName("table:table-cell")
                    || e.name() == QName("table:covered-table-cell") =>
            {
                let wanted = repeats(&e, "table:number-columns-repeated")?;
                let cell = scan_cell(reader, &e, &mut cell_buf)?;
                length += empty_repeats.min(MAX_COLUMNS.saturating_sub(length));
                empty_repeats = 0;
                let count = wanted.min(MAX_COLUMNS.saturating_sub(length));
                if cell.value.is_none() && cell.formula == 0 {
                    empty_repeats = count;
                } else {
                    if let Some(text) = cell.value {
                        values.push(length, count, text);
                    }
                    if cell.formula > 0 {
                        formulas.push(length, count, cell.formula);
                    }
                    length += count;
                }
                if !cell.closed {
                    reader.read_to_end_into(e.name(), &mut cell_buf)?;
                }
            }
            Event::End(e) if e.name() == QName("table:table-row") => break,
            _ => return Err(Stop::Calamine),
        }
    }
    Ok((length, values, formulas))
}

/// A cell as calamine's `get_datatype` reads it.
struct Cell {
    /// `Some(bytes of text)` for a value (0 for a number), `None` for none.
    value: Option<u64>,
    /// The formula's length, 0 for none.
    formula: u64,
    /// Whether the cell's end was read.
    closed: bool,
}

fn scan_cell<R: BufRead>(
    reader: &mut Reader<R>,
    e: &BytesStart<'_>,
    buf: &mut Vec<u8>,
) -> Step<Cell> {
    let mut is_string = false;
    let mut is_error = false;
    let mut value: Option<u64> = None;
    let mut empty_string = false;
    let mut formula = 0u64;
    for attr in e.attributes().with_checks(false).flatten() {
        let length = attr.value.len() as u64;
        match attr.key.0 {
            "office:value" | "office:boolean-value" if value.is_none() => value = Some(0),
            "office:string-value" | "office:date-value" | "office:time-value"
                if value.is_none() =>
            {
                value = Some(length);
                empty_string = attr.key.0 == "office:string-value" && length == 0;
            }
            "office:value-type" if value.is_none() => is_string = &*attr.value == "string",
            "calcext:value-type" => is_error = &*attr.value == "error",
            "table:formula" => formula = length,
            _ => {}
        }
    }
    if !((value.is_none() && is_string) || (is_error && empty_string)) {
        return Ok(Cell {
            value,
            formula,
            closed: false,
        });
    }
    // The element's content is the value.
    let mut text = 0u64;
    let mut first_paragraph = true;
    loop {
        buf.clear();
        match reader.read_event_into(buf)? {
            Event::Text(t) => text = text.saturating_add(t.len() as u64),
            // An entity or character reference: at most 4 bytes of UTF-8.
            Event::GeneralRef(_) => text = text.saturating_add(4),
            Event::End(e)
                if e.name() == QName("table:table-cell")
                    || e.name() == QName("table:covered-table-cell") =>
            {
                return Ok(Cell {
                    value: Some(text),
                    formula,
                    closed: true,
                });
            }
            Event::Start(e) if e.name() == QName("office:annotation") => loop {
                match reader.read_event_into(buf)? {
                    Event::End(e) if e.name() == QName("office:annotation") => break,
                    // calamine reads past the end of the file forever here.
                    Event::Eof => return Err(unclosed("office:annotation")),
                    _ => {}
                }
            },
            Event::Start(e) if e.name() == QName("text:p") => {
                if !first_paragraph {
                    text = text.saturating_add(1);
                }
                first_paragraph = false;
            }
            Event::Start(e) if e.name() == QName("text:s") => {
                text = text.saturating_add(repeats(&e, "text:c")?);
            }
            Event::Start(e)
                if e.name() == QName("text:tab") || e.name() == QName("text:line-break") =>
            {
                text = text.saturating_add(1);
            }
            Event::Eof => return Err(Stop::Calamine),
            _ => {}
        }
        if text > MAX_SHEET_TEXT {
            return Err(Stop::Refuse(WorkbookProblem {
                code: "sheet-too-large",
                message: format!(
                    "a text cell would take more than the {} MiB npsc reads (a run of spaces \
                     text:s claims more)",
                    MAX_SHEET_TEXT >> 20
                ),
                hint: "save the table as CSV".to_string(),
                sheet: None,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `content.xml` of the given tables (name, rows).
    fn content(tables: &[(&str, String)]) -> String {
        let body: String = tables
            .iter()
            .map(|(name, rows)| format!(r#"<table:table table:name="{name}">{rows}</table:table>"#))
            .collect();
        format!(
            "<office:document-content><office:body><office:spreadsheet>{body}</office:spreadsheet></office:body></office:document-content>"
        )
    }

    fn row(repeats: u64, cells: &str) -> String {
        format!(
            r#"<table:table-row table:number-rows-repeated="{repeats}">{cells}</table:table-row>"#
        )
    }

    fn number(columns: u64) -> String {
        format!(
            r#"<table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="{columns}"/>"#
        )
    }

    fn empty(columns: u64) -> String {
        format!(r#"<table:table-cell table:number-columns-repeated="{columns}"/>"#)
    }

    fn refusal(tables: &[(&str, String)]) -> Option<(String, String)> {
        match scan_content(&mut xml(content(tables).as_bytes())) {
            Ok(()) | Err(Stop::Calamine) => None,
            Err(Stop::Refuse(p)) => Some((p.sheet.unwrap_or_default(), p.message)),
        }
    }

    #[test]
    fn trailing_empty_rows_and_cells_count_nothing() {
        // LibreOffice's way of saving a small table: the empty rest of each row and of the
        // sheet as repeats, 1 048 576 rows of 1 024 columns in all.
        let rows = [
            row(1, &(number(9) + &empty(1015))),
            row(1, &(number(9) + &empty(1015))),
            row(1_048_574, &empty(1024)),
        ]
        .concat();
        let mut totals = Totals::default();
        let text = content(&[("S", rows)]);
        assert!(scan_content(&mut xml(text.as_bytes())).is_ok());
        let mut reader = xml(text.as_bytes());
        // Skip to the table and count it alone.
        let mut buf = Vec::new();
        while !matches!(reader.read_event_into(&mut buf), Ok(Event::Start(e)) if e.name() == QName("table:table"))
        {
            buf.clear();
        }
        assert!(scan_table(&mut reader, "S", &mut totals).is_ok());
        // 2 rows of 9 cells, nothing more.
        assert_eq!(totals.cells, 18);
    }

    #[test]
    fn repeated_rows_and_columns_are_counted_as_calamine_makes_them_dense() {
        // 2^25 cells exactly: read; one row more: refused.
        let limit = row(1 << 15, &number(1 << 10));
        assert!(refusal(&[("S", limit)]).is_none());
        let past = row((1 << 15) + 1, &number(1 << 10));
        let (sheet, message) = refusal(&[("S", past)]).expect("refused");
        assert_eq!(sheet, "S");
        assert!(
            message.contains("claim 32769 rows of 1024 columns, 33555456 cells"),
            "{message}"
        );
        // Empty rows between values are made dense too; empty leading columns are not.
        let gap = [
            row(1, &(empty(5) + &number(40))),
            row(40_000_000, &empty(10)),
            row(1, &(empty(5) + &number(40))),
        ]
        .concat();
        let (_, message) = refusal(&[("S", gap)]).expect("refused");
        // calamine caps a sheet at 1 048 576 rows.
        assert!(
            message.contains("claim 1048576 rows of 40 columns"),
            "{message}"
        );
    }

    #[test]
    fn the_sheets_together_are_limited_because_all_are_read_at_once() {
        let half = || row(1 << 14, &number(1 << 10));
        assert!(refusal(&[("A", half()), ("B", half())]).is_none());
        let (sheet, message) =
            refusal(&[("A", half()), ("B", half()), ("C", half())]).expect("refused");
        assert_eq!(sheet, "C");
        assert!(
            message.contains("span 50331648 cells together"),
            "{message}"
        );
    }

    #[test]
    fn formulas_count_beside_values_and_text_is_counted_as_copied() {
        // A formula without a value: no value cells, but a formula area.
        let formula =
            r#"<table:table-cell table:formula="of:=1" table:number-columns-repeated="16384"/>"#;
        let (_, message) = refusal(&[("S", row(4096, formula))]).expect("refused");
        assert!(
            message.contains("claim 4096 rows of 16384 columns"),
            "{message}"
        );
        // A 1 000-byte string in 1 100 columns of 1 000 rows: 1.1 GB of copies.
        let long = "x".repeat(1000);
        let cell = format!(
            r#"<table:table-cell office:value-type="string" office:string-value="{long}" table:number-columns-repeated="1100"/>"#
        );
        let (_, message) = refusal(&[("S", row(1000, &cell))]).expect("refused");
        assert!(message.contains("would take 1050 MiB"), "{message}");
        // A run of spaces claiming 2 GB in one cell.
        let spaces = r#"<table:table-cell office:value-type="string"><text:p><text:s text:c="2000000000"/></text:p></table:table-cell>"#;
        let (_, message) = refusal(&[("S", row(1, spaces))]).expect("refused");
        assert!(
            message.contains("a text cell would take more than"),
            "{message}"
        );
    }

    #[test]
    fn cells_as_written_count_even_in_rows_repeated_zero_times() {
        // calamine keeps each row's cells as written (16 384 a row) before it repeats rows: 2 048
        // such rows are 2^25 cells, one more is refused, whatever their repeat count.
        let rows = |n: usize| row(0, &number(16_384)).repeat(n);
        assert!(refusal(&[("S", rows(2048))]).is_none());
        let (_, message) = refusal(&[("S", rows(2049))]).expect("refused");
        assert!(
            message.contains("the sheet's cells as written"),
            "{message}"
        );
    }

    #[test]
    fn a_content_that_ends_where_calamine_would_read_forever_is_refused() {
        let ends = |xml: &str| match scan_content(&mut xml_reader(xml)) {
            Err(Stop::Refuse(p)) => Some(p.message),
            _ => None,
        };
        let head = r#"<office:document-content><table:table table:name="S">"#;
        let message = ends(&format!("{head}{}", row(1, &number(2)))).expect("refused");
        assert!(
            message.contains("ends inside a table:table element"),
            "{message}"
        );
        let cell =
            r#"<table:table-row><table:table-cell office:value-type="string"><office:annotation>x"#;
        let message = ends(&format!("{head}{cell}")).expect("refused");
        assert!(
            message.contains("ends inside a office:annotation element"),
            "{message}"
        );
        // Ending inside a row or a text cell: calamine fails by itself.
        assert!(ends(&format!("{head}<table:table-row>")).is_none());
    }

    fn xml_reader(text: &str) -> Reader<&[u8]> {
        xml(text.as_bytes())
    }

    #[test]
    fn columns_are_capped_per_row_as_calamine_caps_them() {
        // 10^9 columns claimed, 16 384 read, in 2 048 rows: 2^25 cells, read.
        let wide = row(2048, &number(1_000_000_000));
        assert!(refusal(&[("S", wide)]).is_none());
    }
}
