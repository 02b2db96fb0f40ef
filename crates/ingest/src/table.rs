//! Reading a CSV file or an Excel sheet into records addressed by a [`Schema`] of known fields.
//!
//! Users of npsc live in Excel and in Chinese-headed CSV files, often GBK-encoded, so this reader
//! accepts both kinds of file, both languages of header and both encodings, and reports every
//! problem with file, sheet, row, column and value instead of stopping at the first one.
//!
//! # Opening
//!
//! [`TableReader::open`] picks CSV or Excel by extension ([`SourceKind::from_path`]; a file with
//! another extension is read as Excel when it starts like a workbook and as CSV otherwise), and
//! [`TableReader::from_bytes`] reads an upload already in memory. Every problem that makes the
//! table unreadable comes back at once as [`Issues`]: every missing, unknown, duplicated or
//! unnamed column of the header together, not only the first.
//!
//! # Headers
//!
//! A header cell names a schema [`Field`] when, after trimming whitespace and any byte-order mark
//! and after turning full-width brackets `（）` into `()`, it equals
//! - the field's English name, compared case-insensitively, with a space or `-` accepted for `_`
//!   (`Industry Code` names `industry_code`), or
//! - one of its Chinese aliases exactly, or
//! - either of those followed by a parenthesised note such as a unit: `活动水平（吨）` and
//!   `末端治理技术效率(%)` name `活动水平` and `末端治理技术效率`. An alias that itself ends in
//!   brackets is matched whole first.
//!
//! ## Finding the header row
//!
//! Published tables put titles, dates and blank rows above the header, so the header is searched
//! for among the first [`HEADER_SEARCH_ROWS`] (20) non-blank rows of the file or sheet:
//! - each of those rows is scored by the number of schema fields its cells name (a field named
//!   twice counts once);
//! - a row together with the row right below it is also scored as a **two-row header** (see
//!   below); the pair is preferred only when it names strictly more fields than either of its
//!   rows alone, so that a header followed by data, or a title followed by the header, is not
//!   taken for one;
//! - the header is the first row (or pair) that names every required field; the rows above it
//!   are skipped without comment, and the data starts on the row below it;
//! - when no row names every required field, the row (or pair) naming the most fields is taken,
//!   the first one on ties (the first non-blank row when none names anything), its problems are
//!   reported as usual (`missing-column`, `unknown-column`, …) and one more error,
//!   `no-header-row`, lists the required fields and says which row came closest.
//!
//! A two-row header is read column by column. The upper cell is what the column's group is
//! called (calamine reports a merged area's value in its top-left cell only, so in `.xlsx` and
//! `.xls` workbooks a cell of the upper row inside a merged area starting on that row takes the
//! area's value; in CSV, `.ods` and `.xlsb` files, where merges are unknown, an empty upper cell
//! takes the value of its left neighbour's when both have a lower cell, as an exported merged
//! area looks). Then, with `U` the upper and `L` the lower text:
//! - only one of them given, or both equal (a cell merged over both rows): that text alone;
//! - otherwise the first of: `UL` concatenated names a field (`末端治理技术` over `名称` names
//!   `末端治理技术名称`); `L` names a field; `U` is a name of the schema's [`Wide`] value field
//!   (a wide column, below); `U` names a field (`L` is then a note such as a unit); else the
//!   column is unknown. The column is called `U(L)` in messages.
//!
//! ## Wide columns
//!
//! A schema may declare a [`Wide`] pair of fields: first-census coefficient tables give
//! `排污系数` in one column per treatment instead of one row per treatment. A column headed by a
//! name of the value field followed by a bracketed key, `排污系数(沉淀分离)` or
//! `排污系数（直排）`, or headed by a value-field name in the upper row of a two-row header
//! with the key in the lower row, is then a wide column ([`TableReader::wide_columns`]), its key
//! being the bracketed text as written. Wide columns exist only when the header has no column
//! for the key field: with a `末端治理技术名称` column, `排污系数(千克/吨)` is the emission
//! coefficient with a unit note, as for any field. A table with wide columns needs no column for
//! the key and value fields, must not also have a plain value column, and must not name a key
//! twice.
//!
//! # CSV
//!
//! Fields are separated by commas and quoted with `"` (a quote inside a quoted field is doubled);
//! lines end with LF, CRLF or, in old Mac files, CR. Blank lines are skipped, and the header is
//! found as described above. A record's row is the line it starts on, counting every
//! line of the file from 1, so that it matches what an editor shows. A quote left open in the
//! last record, which the CSV grammar would silently extend to the end of the file, is reported
//! as `unclosed-quote`. The encoding is, unless [`ReadOptions::encoding`] forces one:
//! - UTF-8 when the file starts with a UTF-8 byte-order mark (which is dropped);
//! - otherwise UTF-8 when its first 64 KiB are valid UTF-8 (a multi-byte character cut by the
//!   64 KiB boundary is allowed), and GB18030 otherwise. GB18030 is a superset of GBK and GB2312,
//!   the encodings of Chinese Excel's "CSV (逗号分隔)".
//!
//! A UTF-16 file (byte-order mark `FF FE` or `FE FF`, or many NUL bytes), a workbook saved with a
//! `.csv` name and a tab-separated file are refused with a hint. The CSV is split on the raw
//! bytes, which is safe for GB18030 because none of its multi-byte sequences contains `,`, `"`,
//! CR or LF, and each field is then decoded on its own, so that a field invalid in the chosen
//! encoding is reported at its row and column (`bad-encoding`, with its first bytes in hex) while
//! the rest of the file is read normally. The file is streamed through a 256 KiB buffer and
//! never held whole in memory; a record of valid UTF-8 (or of ASCII in a GB18030 file) is copied
//! into the [`Record`]'s one text buffer in a single pass and costs no allocation once the
//! buffers have grown.
//!
//! # Excel
//!
//! `.xlsx`, `.xlsm`, `.xlsb`, `.xls` and `.ods` workbooks are read with calamine, which loads the
//! whole sheet into memory: workbooks are limited to about a million rows by Excel itself, so
//! this is acceptable. Which sheets are read is a [`SheetSelection`]: [`TableReader::open`] reads
//! the sheet [`ReadOptions::sheet`] names, or else the first sheet (in workbook order) that has a
//! header row of the schema, noting the sheets skipped before it ([`TableReader::notes`]);
//! [`TableReader::open_sheets`] with [`SheetSelection::All`] reads every sheet that has one and
//! skips the others (a `说明` notes sheet, an empty sheet) with a `skipped-sheet` warning. When
//! no sheet has a header row, the problems of the sheet that came closest are reported, with a
//! `no-matching-sheet` error naming the sheets when there are several. Row numbers are the
//! sheet's own. Columns whose header cell and every other cell are empty are ignored. Cells
//! become text as follows (see [`TableReader::read`] for error cells):
//! - text as it is; integers without decimals;
//! - numbers with Rust's shortest round-trip formatting, which writes integral values without
//!   `.0` (`1500`, `0.25`, `0.000001`) and never uses an exponent;
//! - booleans as `TRUE` and `FALSE`;
//! - dates as ISO `YYYY-MM-DD`, date-times as `YYYY-MM-DD HH:MM:SS` (with `.mmm` when there are
//!   milliseconds), times of day as `HH:MM:SS` and durations as `H:MM:SS`. The serial number is
//!   converted by calamine's `ExcelDateTime::to_ymd_hms_milli`, which knows whether the workbook
//!   uses the 1900 or the 1904 date system. In the 1900 system Excel counts the non-existent day
//!   1900-02-29 (serial 60), inherited from Lotus 1-2-3: serials from 61 on are the true dates,
//!   serials 1 to 59 are 1900-01-01 to 1900-02-28 as Excel shows them, and serial 60 is written
//!   `1900-02-29` exactly as Excel shows it, so that a date parser downstream rejects it instead
//!   of silently moving it to another day.
//!
//! # JSON
//!
//! A `.json` file (or upload) is an array of objects, one per row: each object's keys are column
//! headers, named as in CSV files, and its values are strings or numbers (`null` is an empty
//! cell). The header is every key of every object, in order of first appearance, matched as
//! above (a key unknown to the schema is an `unknown-column` at the first element that has it);
//! row `N` is the `N`-th element of the array, so issues read `activity.json row 3, column year`.
//! A malformed document (`bad-json`, with serde_json's line and column and the element being
//! read), a document that is not an array (`json-not-array`) and elements that are not objects
//! (`json-not-object`) make the table unreadable; an array or object as a value
//! (`json-nested-value`) and a key given twice in one object (`duplicate-key`) are bad cells.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;

use calamine::{
    Data, ExcelDateTime, ExcelDateTimeType, Ods, Range, Reader, Sheets, Xls, Xlsb, Xlsx,
};
use encoding_rs::GB18030;

use crate::issue::{Issue, Issues, Location};

/// One known column of a canonical table: the English snake_case name and the accepted Chinese
/// headers.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// English snake_case name, accepted as a header case-insensitively.
    pub name: &'static str,
    /// Chinese headers accepted for the field.
    pub aliases: &'static [&'static str],
    /// Whether the column must be present in the file (its cells may still be empty).
    pub required: bool,
}

/// The known columns of one canonical table.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// What the table is, e.g. `coefficient table`, used in messages.
    pub kind: &'static str,
    /// The fields; a field is addressed by its index in this slice.
    pub fields: &'static [Field],
    /// A field the table may give in one column per value of another field (see the module
    /// documentation), `None` for most tables.
    pub wide: Option<Wide>,
}

impl Schema {
    /// The index of the field with this English name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// A wide layout: the `value` field given in one column per value of the `key` field, each
/// column headed by a name of the value field and the key in brackets, e.g.
/// `排污系数(沉淀分离)` for the emission coefficient of the treatment `沉淀分离`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wide {
    /// The field each wide column's cells give, e.g. `emission_coefficient`.
    pub value: usize,
    /// The field each wide column's header names a value of, e.g. `treatment`.
    pub key: usize,
}

/// One wide column of a table read with a [`Wide`] schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WideColumn {
    /// The key as written in the header, e.g. `沉淀分离`.
    pub key: String,
    /// The column's index in [`TableReader::headers`].
    pub column: usize,
    /// The index that addresses the column's cells in [`Record::get`],
    /// [`Record::is_bad_cell`] and [`TableReader::location`]: it comes after the schema's
    /// fields, so that it never collides with one.
    pub field: usize,
}

/// How many non-blank rows at the top of a file or sheet are searched for the header.
pub const HEADER_SEARCH_ROWS: usize = 20;

/// Which sheets of a workbook to read; CSV files have one table whatever the selection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SheetSelection {
    /// The first sheet, in workbook order, that has a header row of the schema.
    #[default]
    First,
    /// The sheet with this name.
    Named(String),
    /// Every sheet that has a header row of the schema; the others are skipped with a note.
    All,
}

impl SheetSelection {
    /// The sheet [`ReadOptions::sheet`] names, or else `otherwise`.
    pub fn from_options(options: &ReadOptions, otherwise: SheetSelection) -> SheetSelection {
        match &options.sheet {
            Some(name) => SheetSelection::Named(name.clone()),
            None => otherwise,
        }
    }
}

/// The tables of one file: one per sheet read, in workbook order, and notes on the sheets
/// skipped.
#[derive(Debug)]
pub struct Tables {
    /// One reader per table read.
    pub readers: Vec<TableReader>,
    /// `skipped-sheet` warnings: sheets without a header row of the schema.
    pub notes: Vec<Issue>,
}

/// The encoding a CSV file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    Gb18030,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Gb18030 => "GB18030 (GBK)",
        })
    }
}

/// Which encoding to read a CSV file in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// Detect it: see the module documentation.
    #[default]
    Auto,
    /// UTF-8 whatever the content.
    Utf8,
    /// GB18030 (GBK, GB2312) whatever the content; a UTF-8 byte-order mark is still dropped.
    Gb18030,
}

/// An encoding name that [`EncodingChoice`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding `{0}`: use auto, utf-8 or gbk (also gb18030, gb2312)")]
pub struct UnknownEncoding(pub String);

impl FromStr for EncodingChoice {
    type Err = UnknownEncoding;

    /// Accepts `auto`, `utf-8`, `utf8`, `gbk`, `gb18030`, `gb2312` and `cp936`, in any case.
    fn from_str(s: &str) -> Result<EncodingChoice, UnknownEncoding> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EncodingChoice::Auto),
            "utf-8" | "utf8" => Ok(EncodingChoice::Utf8),
            "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(EncodingChoice::Gb18030),
            _ => Err(UnknownEncoding(s.to_string())),
        }
    }
}

/// How to read a table.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// CSV encoding; detected by default. Ignored for Excel.
    pub encoding: EncodingChoice,
    /// Excel: the sheet to read, by name. By default, the first sheet with a header row of the
    /// schema, or for coefficient tables every such sheet (see [`SheetSelection`]). Ignored for
    /// CSV.
    pub sheet: Option<String>,
    /// How many issues to keep (see [`Issues::with_cap`]); 0 means the default of 1000.
    pub issue_cap: usize,
}

impl Tables {
    fn single(reader: TableReader) -> Tables {
        Tables {
            readers: vec![reader],
            notes: Vec::new(),
        }
    }

    /// The one table of a selection that reads one, carrying the notes.
    fn into_single(self) -> Result<TableReader, Issues> {
        let Tables { readers, notes } = self;
        match readers.into_iter().next() {
            Some(mut reader) => {
                reader.notes = notes;
                Ok(reader)
            }
            // Not reached: a selection of one sheet either reads it or fails; an issue is
            // still better than a panic.
            None => Err(notes.into()),
        }
    }
}

/// What kind of file a table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Comma-separated text.
    Csv,
    /// An Excel or OpenDocument workbook.
    Excel,
    /// A JSON array of objects (see the module documentation).
    Json,
}

impl SourceKind {
    /// The kind by extension, case-insensitively: `.csv`, `.txt` and `.tsv` are CSV (a
    /// tab-separated file is then refused with a hint), `.xlsx`, `.xlsm`, `.xlsb`, `.xls` and
    /// `.ods` are Excel, `.json` is JSON.
    pub fn from_path(path: &Path) -> Option<SourceKind> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" | "txt" | "tsv" => Some(SourceKind::Csv),
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Some(SourceKind::Excel),
            "json" => Some(SourceKind::Json),
            _ => None,
        }
    }
}

/// Reads the records of one table, one at a time.
pub struct TableReader {
    layout: Layout,
    body: Body,
    notes: Vec<Issue>,
}

impl fmt::Debug for TableReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableReader")
            .field("file", &self.layout.file)
            .field("sheet", &self.layout.sheet)
            .field("headers", &self.layout.headers)
            .field("encoding", &self.encoding())
            .finish_non_exhaustive()
    }
}

impl TableReader {
    /// Opens a file, CSV or Excel by extension (see [`SourceKind::from_path`]), and reads its
    /// header. Problems that make the table unreadable (the file cannot be opened, is empty or
    /// not a table, or its header is wrong) come back together as issues; the file name in
    /// locations is the path as given. For a workbook, the sheet is the one
    /// [`ReadOptions::sheet`] names, or else the first with a header row of the schema.
    pub fn open(
        path: &Path,
        schema: &'static Schema,
        options: &ReadOptions,
    ) -> Result<TableReader, Issues> {
        let selection = SheetSelection::from_options(options, SheetSelection::First);
        TableReader::open_sheets(path, schema, options, &selection).and_then(Tables::into_single)
    }

    /// Opens a file like [`TableReader::open`], reading the sheets `selection` chooses (a CSV
    /// file is one table whatever the selection). Fails when no table can be read, or when a
    /// table read has header problems; sheets without a header row of the schema are skipped
    /// with a note unless the selection names them.
    pub fn open_sheets(
        path: &Path,
        schema: &'static Schema,
        options: &ReadOptions,
        selection: &SheetSelection,
    ) -> Result<Tables, Issues> {
        let name = path.display().to_string();
        let fail = |code, message: String| Err(fatal(&name, options, code, message, None));
        if path.is_dir() {
            return fail("cannot-open", "this is a folder, not a file".to_string());
        }
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) => return fail("cannot-open", format!("cannot open the file: {e}")),
        };
        let total = match file.metadata() {
            Ok(metadata) => metadata.len(),
            Err(e) => return fail("cannot-open", format!("cannot read the file: {e}")),
        };
        let kind = match SourceKind::from_path(path) {
            Some(kind) => kind,
            None => {
                let mut magic = [0; 8];
                let n = read_full(&mut file, &mut magic)
                    .and_then(|n| file.seek(SeekFrom::Start(0)).map(|_| n));
                match n {
                    Ok(n) if is_workbook(&magic[..n]) => SourceKind::Excel,
                    Ok(_) => SourceKind::Csv,
                    Err(e) => return fail("cannot-open", format!("cannot read the file: {e}")),
                }
            }
        };
        match kind {
            SourceKind::Csv => {
                open_csv(name, Source::File(file), total, schema, options).map(Tables::single)
            }
            SourceKind::Excel => {
                // calamine reads the whole workbook anyway; reading it here first gives one code
                // path for files and uploads.
                let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
                if let Err(e) = file.read_to_end(&mut bytes) {
                    return fail("cannot-open", format!("cannot read the file: {e}"));
                }
                open_excel(name, bytes, extension(path), schema, options, selection)
            }
            SourceKind::Json => {
                let mut bytes = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
                if let Err(e) = file.read_to_end(&mut bytes) {
                    return fail("cannot-open", format!("cannot read the file: {e}"));
                }
                open_json(name, &bytes, schema, options).map(Tables::single)
            }
        }
    }

    /// Reads a table from bytes already in memory (an upload); `name` is the file name used in
    /// locations, and its extension, if any, tells the workbook format. The sheet is chosen as
    /// in [`TableReader::open`].
    pub fn from_bytes(
        name: &str,
        bytes: Vec<u8>,
        kind: SourceKind,
        schema: &'static Schema,
        options: &ReadOptions,
    ) -> Result<TableReader, Issues> {
        let selection = SheetSelection::from_options(options, SheetSelection::First);
        TableReader::sheets_from_bytes(name, bytes, kind, schema, options, &selection)
            .and_then(Tables::into_single)
    }

    /// Reads the tables of bytes already in memory, like [`TableReader::open_sheets`].
    pub fn sheets_from_bytes(
        name: &str,
        bytes: Vec<u8>,
        kind: SourceKind,
        schema: &'static Schema,
        options: &ReadOptions,
        selection: &SheetSelection,
    ) -> Result<Tables, Issues> {
        match kind {
            SourceKind::Csv => {
                let total = bytes.len() as u64;
                let source = Source::Memory(Cursor::new(bytes));
                open_csv(name.to_string(), source, total, schema, options).map(Tables::single)
            }
            SourceKind::Excel => {
                let extension = extension(Path::new(name));
                open_excel(
                    name.to_string(),
                    bytes,
                    extension,
                    schema,
                    options,
                    selection,
                )
            }
            SourceKind::Json => {
                open_json(name.to_string(), &bytes, schema, options).map(Tables::single)
            }
        }
    }

    /// The encoding a CSV file is read in; `None` for Excel and JSON.
    pub fn encoding(&self) -> Option<Encoding> {
        match &self.body {
            Body::Csv(csv) => Some(csv.encoding),
            Body::Excel(_) | Body::Json(_) => None,
        }
    }

    /// The header cells as written in the file, trimmed, one per column of the file (for Excel,
    /// one per column of the sheet's used range, starting at its first column).
    pub fn headers(&self) -> &[String] {
        &self.layout.headers
    }

    /// Whether the file has a column for this schema field (optional fields may be absent).
    pub fn field_present(&self, field: usize) -> bool {
        self.column(field).is_some()
    }

    /// The index in [`TableReader::headers`] of this schema field's column, `None` when the
    /// field is absent.
    pub fn column(&self, field: usize) -> Option<usize> {
        self.layout.columns.get(field).copied().flatten()
    }

    /// The row of the header, 1-based; for a two-row header, its upper row.
    pub fn header_row(&self) -> u64 {
        self.layout.header_row
    }

    /// How many rows the header spans: 1, or 2 for a two-row header.
    pub fn header_height(&self) -> u64 {
        self.layout.header_height
    }

    /// The wide columns (see [`Wide`]), in column order; empty unless the schema declares a wide
    /// layout and the header uses it.
    pub fn wide_columns(&self) -> &[WideColumn] {
        &self.layout.wide
    }

    /// Notes on how the table was found: `skipped-sheet` warnings for the sheets skipped before
    /// the one read.
    pub fn notes(&self) -> &[Issue] {
        &self.notes
    }

    /// Reads the next record into `record`, reusing its buffers. Returns `Ok(false)` at the end.
    ///
    /// A row with problems of its own is still returned, with [`Record::is_bad`] true and its
    /// problems pushed to `issues`, so that the caller can go on checking its other cells and
    /// report every bad cell of the file in one pass. Those problems are:
    /// - `ragged-row`: more or fewer fields than the header has columns; missing cells read as
    ///   absent and extra cells are ignored;
    /// - `unclosed-quote`: a quote opened in the last record is never closed, so the rest of the
    ///   file was read into one field;
    /// - `bad-encoding`: a cell invalid in the file's encoding; it reads as its lossy decoding
    ///   (U+FFFD for each bad sequence) and [`Record::is_bad_cell`] is true for it;
    /// - `nul-byte`: a cell with NUL bytes; it reads without them and is a bad cell;
    /// - `excel-error-cell`: an Excel error such as `#DIV/0!`; it reads as that text and is a
    ///   bad cell.
    ///
    /// Blank rows (every cell empty) are returned too, never reported: see [`Record::is_blank`].
    /// The `Err` is a fatal I/O error in the middle of the file, after which reading stops.
    #[allow(
        clippy::result_large_err,
        reason = "the error is one located Issue, returned at most once per file"
    )]
    pub fn read(&mut self, record: &mut Record, issues: &mut Issues) -> Result<bool, Issue> {
        match &mut self.body {
            Body::Csv(csv) => csv.read(&self.layout, record, issues),
            Body::Excel(excel) => Ok(excel.read(&self.layout, record, issues)),
            Body::Json(json) => Ok(json.read(&self.layout, record, issues)),
        }
    }

    /// How far reading has got, for a progress bar: CSV bytes consumed, or for Excel the
    /// workbook's size scaled by the share of its rows read.
    pub fn bytes_read(&self) -> u64 {
        match &self.body {
            Body::Csv(csv) => (csv.base + csv.reader.position().byte()).min(csv.total),
            Body::Excel(excel) => {
                let height = excel.range.height().max(1) as u64;
                excel.size * (excel.next as u64).min(height) / height
            }
            Body::Json(json) => {
                let height = json.rows.len().max(1) as u64;
                json.size * (json.next as u64).min(height) / height
            }
        }
    }

    /// The size of the file in bytes, for a progress bar with [`TableReader::bytes_read`].
    pub fn total_bytes(&self) -> Option<u64> {
        match &self.body {
            Body::Csv(csv) => Some(csv.total),
            Body::Excel(excel) => Some(excel.size),
            Body::Json(json) => Some(json.size),
        }
    }

    /// The location of a cell: file, sheet, row and the header of this field's column, for
    /// Excel prefixed by its letter (`C (产污系数)`). For a field absent from the file, the
    /// column is the field's English name. `field` may also be a [`WideColumn::field`].
    pub fn location(&self, row: u64, field: usize) -> Location {
        self.layout.location(row, field)
    }

    /// Restricts a CSV table opened on a whole file to one part of it ([`split_csv`]), for
    /// reading the parts in parallel with one reader each: rows keep their line numbers. Returns
    /// `false`, changing nothing, when the table cannot be read that way (not CSV, lines ending
    /// with CR alone, or a part starting before the end of the header).
    pub fn restrict(&mut self, part: CsvPart) -> bool {
        let Body::Csv(csv) = &mut self.body else {
            return false;
        };
        if csv.reader.get_ref().cr_to_lf || part.start > csv.total {
            return false;
        }
        if part.start > 0 {
            // Everything read so far (the header and the rows read ahead while finding it)
            // must lie before the part.
            let read = csv.base + csv.reader.position().byte();
            if part.start < read {
                return false;
            }
            let mut position = csv::Position::new();
            position
                .set_byte(part.start - csv.base)
                .set_line(part.line)
                .set_record(0);
            if csv
                .reader
                .seek_raw(SeekFrom::Start(part.start), position)
                .is_err()
            {
                return false;
            }
            csv.pending.clear();
        }
        csv.end = Some(part.end);
        true
    }

    /// The file name used in locations.
    pub fn file_name(&self) -> &str {
        &self.layout.file
    }

    /// The sheet read, for Excel.
    pub fn sheet(&self) -> Option<&str> {
        self.layout.sheet.as_deref()
    }

    /// The schema the table is read with.
    pub fn schema(&self) -> &'static Schema {
        self.layout.schema
    }
}

/// One record of a table, reused from row to row: the text of its cells lives in one buffer.
#[derive(Debug, Clone, Default)]
pub struct Record {
    row: u64,
    text: String,
    spans: Vec<(usize, usize)>,
    bad_cells: Vec<bool>,
    bad: bool,
    blank: bool,
}

impl Record {
    /// An empty record to read into.
    pub fn new() -> Record {
        Record::default()
    }

    /// The 1-based row as the user sees it (the header is row 1 when it is the first line); for
    /// a CSV record spanning several lines (quoted line breaks), its first line.
    pub fn row(&self) -> u64 {
        self.row
    }

    /// The trimmed text of a schema field, or `None` when the column is absent or the cell is
    /// empty or only whitespace. The `'` that npsc's CSV writers put before a formula-looking
    /// cell is dropped ([`crate::spreadsheet::unquote`]): exported files read back unchanged.
    pub fn get(&self, field: usize) -> Option<&str> {
        match self.spans.get(field) {
            Some(&(start, end)) if start < end => {
                Some(crate::spreadsheet::unquote(&self.text[start..end]))
            }
            _ => None,
        }
    }

    /// Whether every cell is empty or whitespace. Callers skip such rows silently: Excel often
    /// has trailing blank rows and CSV exports rows of bare commas.
    pub fn is_blank(&self) -> bool {
        self.blank
    }

    /// Whether the reader found a problem in this row (see [`TableReader::read`]).
    pub fn is_bad(&self) -> bool {
        self.bad
    }

    /// Whether this field's cell has a problem already reported by the reader, so that the
    /// caller need not report it again.
    pub fn is_bad_cell(&self, field: usize) -> bool {
        self.bad_cells.get(field).copied().unwrap_or(false)
    }

    fn begin(&mut self, row: u64, fields: usize) {
        self.row = row;
        self.text.clear();
        self.spans.clear();
        self.spans.resize(fields, (0, 0));
        self.bad_cells.clear();
        self.bad_cells.resize(fields, false);
        self.bad = false;
        self.blank = true;
    }

    /// Records the span of text appended since `start`, trimmed, as the field's cell.
    fn finish(&mut self, field: usize, start: usize) {
        self.finish_span(field, start, self.text.len());
    }

    /// Records `text[start..end]`, trimmed, as the field's cell.
    fn finish_span(&mut self, field: usize, start: usize, end: usize) {
        let bytes = &self.text.as_bytes()[start..end];
        let (from, to) = if bytes.is_empty() {
            (start, start)
        } else if !may_start_whitespace(bytes[0]) && !may_start_whitespace(last_lead(bytes)) {
            (start, end)
        } else {
            // A byte-order mark inside the file (files joined together) is trimmed like
            // whitespace: it is invisible and means nothing in a cell.
            let edge = |c: char| c.is_whitespace() || c == '\u{feff}';
            let cell = &self.text[start..end];
            let trimmed = cell.trim_start_matches(edge);
            let from = start + (cell.len() - trimmed.len());
            (from, from + trimmed.trim_end_matches(edge).len())
        };
        self.spans[field] = (from, to);
        if from < to {
            self.blank = false;
        }
    }

    fn mark_bad(&mut self, field: usize) {
        self.bad = true;
        self.bad_cells[field] = true;
    }
}

// ---------------------------------------------------------------------------------------------
// Shared by CSV and Excel.

/// How the columns of the file map to the schema, and how to name them in locations.
struct Layout {
    file: String,
    sheet: Option<String>,
    schema: &'static Schema,
    /// One label per column: the header text, or `U(L)` for a column of a two-row header.
    headers: Vec<String>,
    /// For each column, the row of the header cell that names it, for locations.
    header_rows: Vec<u64>,
    /// For each schema field, then for each wide column, its column index in `headers`.
    columns: Vec<Option<usize>>,
    wide: Vec<WideColumn>,
    header_row: u64,
    header_height: u64,
    /// For Excel, the sheet column of `headers[0]` (0 for A); `None` for CSV.
    first_column: Option<u32>,
}

impl Layout {
    fn new(file: String, sheet: Option<String>, schema: &'static Schema) -> Layout {
        Layout {
            file,
            sheet,
            schema,
            headers: Vec::new(),
            header_rows: Vec::new(),
            columns: Vec::new(),
            wide: Vec::new(),
            header_row: 1,
            header_height: 1,
            first_column: None,
        }
    }

    fn location(&self, row: u64, field: usize) -> Location {
        let column = match self.columns.get(field).copied().flatten() {
            Some(column) => Some(self.column_label(column)),
            None => self.schema.fields.get(field).map(|f| f.name.to_string()),
        };
        Location {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: Some(row),
            column,
        }
    }

    fn row_location(&self, row: u64) -> Location {
        Location {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: Some(row),
            column: None,
        }
    }

    /// The location of a header cell: the row holding the column's header text.
    fn header_location(&self, column: usize) -> Location {
        let row = self
            .header_rows
            .get(column)
            .copied()
            .unwrap_or(self.header_row);
        let mut location = self.row_location(row);
        location.column = Some(self.column_label(column));
        location
    }

    /// The header text, for Excel prefixed by the column letter.
    fn column_label(&self, column: usize) -> String {
        let header = short(self.headers.get(column).map_or("", String::as_str));
        match self.first_column {
            None => header.into_owned(),
            Some(first) => {
                let letter = column_letter(first as usize + column);
                if header.is_empty() {
                    letter
                } else {
                    format!("{letter} ({header})")
                }
            }
        }
    }

    /// How an unnamed column is named in a message: its number for CSV, its letter for Excel.
    fn column_number(&self, column: usize) -> String {
        match self.first_column {
            None => format!("column {}", column + 1),
            Some(first) => format!("column {}", column_letter(first as usize + column)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the header.

/// A non-blank row near the top of a table, as text, for finding the header.
struct TopRow {
    /// Position among all rows of the table, blank ones included: the row right below has the
    /// next index.
    index: usize,
    /// 1-based row as the user sees it.
    row: u64,
    /// The cells, trimmed.
    cells: Vec<String>,
}

/// What a header column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// Its header is empty.
    Nothing,
    /// A schema field.
    Field(usize),
    /// No field: an unknown column.
    Unknown,
}

/// One column of a candidate header.
struct HeaderColumn {
    /// The header text, or `U(L)` in a two-row header.
    label: String,
    /// The row of the cell that names the column.
    row: u64,
    names: Names,
    /// For a column naming the schema's wide value field with a bracketed note (or under it in
    /// a two-row header): the note, which is the column's key if the header turns out wide.
    wide_key: Option<String>,
}

/// How a candidate header's columns map to the schema.
struct Mapping {
    /// For each schema field, the first column naming it.
    fields: Vec<Option<usize>>,
    wide: Vec<WideColumn>,
    /// The number of fields the header gives, the wide pair counted when wide columns exist.
    named: usize,
    /// The required fields the header does not give.
    missing: Vec<usize>,
}

/// A candidate header: one row, or two rows read as one.
struct Candidate {
    /// The 1-based row of its (upper) row.
    row: u64,
    height: u64,
    /// [`TopRow::index`] of its first and last rows.
    first_index: usize,
    last_index: usize,
    columns: Vec<HeaderColumn>,
    mapping: Mapping,
}

impl Candidate {
    fn required_named(&self, schema: &Schema) -> usize {
        required_count(schema) - self.mapping.missing.len()
    }

    /// `row 3` or `rows 3–4`.
    fn rows_text(&self) -> String {
        if self.height == 1 {
            format!("row {}", self.row)
        } else {
            format!("rows {}–{}", self.row, self.row + self.height - 1)
        }
    }
}

fn required_count(schema: &Schema) -> usize {
    schema.fields.iter().filter(|f| f.required).count()
}

/// Finds the header among the first non-blank rows of a table, following the rules in the
/// module documentation; the flag tells whether it names every required field. `merges` are the
/// merged areas of a workbook sheet spanning several columns, as (row index, first column, last
/// column), or `None` when the file cannot have any or they are unknown. `None` when `rows` is
/// empty.
fn find_header(
    schema: &Schema,
    rows: &[TopRow],
    merges: Option<&[(usize, usize, usize)]>,
) -> Option<(Candidate, bool)> {
    let mut closest: Option<Candidate> = None;
    for (i, upper) in rows.iter().enumerate().take(HEADER_SEARCH_ROWS) {
        let single = candidate(schema, rows, i, None);
        let pick = match rows
            .get(i + 1)
            .filter(|lower| lower.index == upper.index + 1)
        {
            Some(lower) => {
                let double = candidate(schema, rows, i, Some((lower, merges)));
                // A title over the header would make a pair naming as much as the header
                // alone, which comes next.
                let alone = candidate(schema, rows, i + 1, None);
                let best_single = single.mapping.named.max(alone.mapping.named);
                if double.mapping.named > best_single {
                    double
                } else {
                    single
                }
            }
            None => single,
        };
        if pick.mapping.missing.is_empty() {
            return Some((pick, true));
        }
        if closest
            .as_ref()
            .is_none_or(|c| pick.mapping.named > c.mapping.named)
        {
            closest = Some(pick);
        }
    }
    closest.map(|c| (c, false))
}

type Merges<'a> = Option<&'a [(usize, usize, usize)]>;

/// The candidate header starting at `rows[i]`, of one row, or of two with `lower`.
fn candidate(
    schema: &Schema,
    rows: &[TopRow],
    i: usize,
    lower: Option<(&TopRow, Merges<'_>)>,
) -> Candidate {
    let upper = &rows[i];
    let (columns, height, last_index) = match lower {
        None => {
            let columns: Vec<HeaderColumn> = upper
                .cells
                .iter()
                .map(|text| {
                    let (names, wide_key) = name_cell(schema, text);
                    HeaderColumn {
                        label: text.clone(),
                        row: upper.row,
                        names,
                        wide_key,
                    }
                })
                .collect();
            (columns, 1, upper.index)
        }
        Some((lower, merges)) => {
            let tops = group_names(upper, lower, merges);
            let columns: Vec<HeaderColumn> = tops
                .iter()
                .enumerate()
                .map(|(c, top)| {
                    let bottom = lower.cells.get(c).map_or("", String::as_str);
                    name_pair(schema, top, bottom, upper.row, lower.row)
                })
                .collect();
            (columns, 2, lower.index)
        }
    };
    let mapping = map_columns(schema, &columns);
    Candidate {
        row: upper.row,
        height,
        first_index: upper.index,
        last_index,
        columns,
        mapping,
    }
}

/// The upper row of a two-row header with each column's group name: a cell inside a merged
/// area starting on this row takes the area's value; without merge information, an empty cell
/// takes its left neighbour's group name when both columns have a lower cell.
fn group_names(upper: &TopRow, lower: &TopRow, merges: Merges<'_>) -> Vec<String> {
    let width = upper.cells.len().max(lower.cells.len());
    let mut tops: Vec<String> = (0..width)
        .map(|c| upper.cells.get(c).cloned().unwrap_or_default())
        .collect();
    let has_lower = |c: usize| lower.cells.get(c).is_some_and(|t| !t.is_empty());
    match merges {
        Some(merges) => {
            for &(row, first, last) in merges {
                if row != upper.index || first >= width {
                    continue;
                }
                let value = tops[first].clone();
                for top in tops
                    .iter_mut()
                    .take(last.min(width - 1) + 1)
                    .skip(first + 1)
                {
                    if top.is_empty() {
                        top.clone_from(&value);
                    }
                }
            }
        }
        None => {
            for c in 1..width {
                if tops[c].is_empty() && has_lower(c) && has_lower(c - 1) && !tops[c - 1].is_empty()
                {
                    tops[c] = tops[c - 1].clone();
                }
            }
        }
    }
    tops
}

/// What one header cell names, and its wide key should it be a wide column.
fn name_cell(schema: &Schema, text: &str) -> (Names, Option<String>) {
    if text.is_empty() {
        return (Names::Nothing, None);
    }
    match field_for_header(schema, text) {
        Some(field) => {
            let wide_key = schema
                .wide
                .filter(|wide| wide.value == field)
                .and_then(|wide| wide_note(&schema.fields[wide.value], text));
            (Names::Field(field), wide_key)
        }
        None => (Names::Unknown, None),
    }
}

/// What a column of a two-row header names, following the rules in the module documentation.
fn name_pair(
    schema: &Schema,
    upper: &str,
    lower: &str,
    upper_row: u64,
    lower_row: u64,
) -> HeaderColumn {
    let alone = |text: &str, row| {
        let (names, wide_key) = name_cell(schema, text);
        HeaderColumn {
            label: text.to_string(),
            row,
            names,
            wide_key,
        }
    };
    if lower.is_empty() {
        return alone(upper, upper_row);
    }
    if upper.is_empty() {
        return alone(lower, lower_row);
    }
    if normalise_header(upper) == normalise_header(lower) {
        return alone(upper, upper_row);
    }
    let label = format!("{upper}({lower})");
    let column = |names, wide_key| HeaderColumn {
        label: label.clone(),
        row: lower_row,
        names,
        wide_key,
    };
    if let Some(field) = field_for_header(schema, &format!("{upper}{lower}")) {
        return column(Names::Field(field), None);
    }
    if let (Names::Field(field), wide_key) = name_cell(schema, lower) {
        return column(Names::Field(field), wide_key);
    }
    if let Some(wide) = schema.wide {
        let upper = normalise_header(upper);
        if names_exactly(&schema.fields[wide.value], &upper) {
            return column(Names::Field(wide.value), Some(lower.to_string()));
        }
    }
    match field_for_header(schema, upper) {
        Some(field) => column(Names::Field(field), None),
        None => column(Names::Unknown, None),
    }
}

/// Maps a candidate header's columns to the schema's fields and wide columns.
fn map_columns(schema: &Schema, columns: &[HeaderColumn]) -> Mapping {
    let count = schema.fields.len();
    let key_named = schema
        .wide
        .is_some_and(|wide| columns.iter().any(|c| c.names == Names::Field(wide.key)));
    let wide_active = !key_named && columns.iter().any(|c| c.wide_key.is_some());
    let mut fields = vec![None; count];
    let mut wide = Vec::new();
    for (column, header) in columns.iter().enumerate() {
        if let (true, Some(key)) = (wide_active, &header.wide_key) {
            wide.push(WideColumn {
                key: key.clone(),
                column,
                field: count + wide.len(),
            });
            continue;
        }
        if let Names::Field(field) = header.names
            && fields[field].is_none()
        {
            fields[field] = Some(column);
        }
    }
    let wide_fields = schema
        .wide
        .filter(|_| !wide.is_empty())
        .map(|w| [w.key, w.value]);
    let given = |field: usize| {
        fields[field].is_some() || wide_fields.is_some_and(|pair| pair.contains(&field))
    };
    let named = (0..count).filter(|&f| given(f)).count();
    let missing = (0..count)
        .filter(|&f| schema.fields[f].required && !given(f))
        .collect();
    Mapping {
        fields,
        wide,
        named,
        missing,
    }
}

/// Sets the layout's columns from the chosen header and reports every problem of the header.
/// `ignored` columns (Excel columns entirely empty, CSV header cells already reported as
/// undecodable) are neither matched nor reported. `found` tells whether the header names every
/// required field; when it does not, a `no-header-row` error says which row came closest.
fn match_headers(
    layout: &mut Layout,
    header: Candidate,
    found: bool,
    ignored: &[bool],
    issues: &mut Issues,
) {
    let schema = layout.schema;
    layout.header_row = header.row;
    layout.header_height = header.height;
    layout.headers = header.columns.iter().map(|c| c.label.clone()).collect();
    layout.header_rows = header.columns.iter().map(|c| c.row).collect();
    let required_named = header.required_named(schema);
    let rows_text = header.rows_text();
    let Mapping {
        fields,
        wide,
        missing,
        ..
    } = header.mapping;
    let key_named = schema
        .wide
        .is_some_and(|w| fields.get(w.key).copied().flatten().is_some());
    for (column, spec) in header.columns.iter().enumerate() {
        if ignored.get(column).copied().unwrap_or(false) || wide.iter().any(|w| w.column == column)
        {
            continue;
        }
        match spec.names {
            Names::Nothing => {
                let mut location = layout.row_location(layout.header_row);
                if layout.first_column.is_some() {
                    location.column = Some(layout.column_label(column));
                }
                issues.push(
                    Issue::error(
                        location,
                        "empty-column-name",
                        format!("the header of {} is empty", layout.column_number(column)),
                    )
                    .with_hint(format!(
                        "name the column (accepted names: {}) or delete it",
                        accepted_names(schema)
                    )),
                );
            }
            Names::Field(field) => {
                let Some(first) = fields[field].filter(|&first| first != column) else {
                    continue;
                };
                let hint = match schema.wide {
                    Some(w) if key_named && spec.wide_key.is_some() => format!(
                        "columns headed `{value}(…)` give one `{value}` per `{key}` only in a \
                         table without a `{key}` column: keep one layout",
                        value = schema.fields[w.value].name,
                        key = schema.fields[w.key].name
                    ),
                    _ => "keep only one of the two columns".to_string(),
                };
                issues.push(
                    Issue::error(
                        layout.header_location(column),
                        "duplicate-column",
                        format!(
                            "column `{}` gives `{}` a second time (first given by column `{}`)",
                            short(&spec.label),
                            schema.fields[field].name,
                            layout.column_label(first)
                        ),
                    )
                    .with_hint(hint),
                );
            }
            Names::Unknown => {
                let mut hint = String::new();
                if let Some(close) = closest_name(schema, &spec.label) {
                    let _ = write!(hint, "did you mean `{close}`? ");
                }
                let _ = write!(
                    hint,
                    "the columns of the {} are {}",
                    schema.kind,
                    accepted_names(schema)
                );
                issues.push(
                    Issue::error(
                        layout.header_location(column),
                        "unknown-column",
                        format!(
                            "unknown column `{}` in the {}",
                            short(&spec.label),
                            schema.kind
                        ),
                    )
                    .with_hint(hint),
                );
            }
        }
    }
    if let (Some(w), false) = (schema.wide, wide.is_empty()) {
        for (i, column) in wide.iter().enumerate() {
            let key = accounting::text::normalize_name(&column.key);
            if let Some(first) = wide[..i]
                .iter()
                .find(|other| accounting::text::normalize_name(&other.key) == key)
            {
                issues.push(
                    Issue::error(
                        layout.header_location(column.column),
                        "duplicate-column",
                        format!(
                            "column `{}` gives `{}` `{}` a second time (first given by column \
                             `{}`)",
                            short(&layout.headers[column.column]),
                            schema.fields[w.key].name,
                            column.key,
                            layout.column_label(first.column)
                        ),
                    )
                    .with_hint("keep only one of the two columns"),
                );
            }
        }
        if let Some(plain) = fields[w.value] {
            issues.push(
                Issue::error(
                    layout.header_location(plain),
                    "mixed-layout",
                    format!(
                        "column `{}` gives `{}` in one column while columns such as `{}` give \
                         it per `{}`",
                        short(&layout.headers[plain]),
                        schema.fields[w.value].name,
                        short(&layout.headers[wide[0].column]),
                        schema.fields[w.key].name
                    ),
                )
                .with_hint(format!(
                    "either give `{}` and `{}` columns with one row per `{}`, or one `{}(…)` \
                     column per `{}`",
                    schema.fields[w.key].name,
                    schema.fields[w.value].name,
                    schema.fields[w.key].name,
                    schema.fields[w.value].name,
                    schema.fields[w.key].name
                )),
            );
        }
    }
    for &field in &missing {
        let spec = &schema.fields[field];
        let mut names: Vec<String> = spec.aliases.iter().map(|a| format!("`{a}`")).collect();
        names.push(format!("`{}`", spec.name));
        let last = names.pop().unwrap_or_default();
        let choices = if names.is_empty() {
            last
        } else {
            format!("{} or {last}", names.join(", "))
        };
        let aliases = if spec.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", spec.aliases.join(", "))
        };
        issues.push(
            Issue::error(
                layout.row_location(layout.header_row),
                "missing-column",
                format!(
                    "the required column `{}`{aliases} is missing from the {}",
                    spec.name, schema.kind
                ),
            )
            .with_hint(format!("add a column headed {choices}")),
        );
    }
    if !found {
        issues.push(no_header_row(layout, &rows_text, required_named));
    }
    let mut columns = fields;
    columns.extend(wide.iter().map(|w| Some(w.column)));
    layout.columns = columns;
    layout.wide = wide;
}

/// The `no-header-row` error: which fields are required and which row came closest.
fn no_header_row(layout: &Layout, rows_text: &str, required_named: usize) -> Issue {
    let schema = layout.schema;
    let required: Vec<&Field> = schema.fields.iter().filter(|f| f.required).collect();
    let list = required
        .iter()
        .map(|f| format!("`{}`", f.name))
        .collect::<Vec<_>>()
        .join(", ");
    let closest = if required_named == 0 {
        "no row names any of them".to_string()
    } else {
        format!(
            "{rows_text} comes closest, naming {required_named} of the {}",
            required.len()
        )
    };
    let accepted = required
        .iter()
        .map(|f| {
            if f.aliases.is_empty() {
                format!("`{}`", f.name)
            } else {
                format!("`{}` ({})", f.name, f.aliases.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut location = layout.row_location(layout.header_row);
    if required_named == 0 {
        location.row = None;
    }
    Issue::error(
        location,
        "no-header-row",
        format!(
            "no row among the first {HEADER_SEARCH_ROWS} non-blank rows names every required \
             column of the {} ({list}): {closest}",
            schema.kind
        ),
    )
    .with_hint(format!(
        "the header must be one of the first {HEADER_SEARCH_ROWS} non-blank rows (a header of \
         two rows, such as a merged group over sub-headers, is read as one); the required \
         columns and their accepted names are {accepted}"
    ))
}

/// The schema field a header names, following the rules in the module documentation.
fn field_for_header(schema: &Schema, header: &str) -> Option<usize> {
    let header = normalise_header(header);
    let matches = |text: &str| {
        schema
            .fields
            .iter()
            .position(|field| names_exactly(field, text))
    };
    matches(&header).or_else(|| strip_note(&header).and_then(matches))
}

/// Whether a normalised header is the field's English name or one of its aliases, without a
/// note.
fn names_exactly(field: &Field, header: &str) -> bool {
    english_name_matches(field.name, header)
        || field
            .aliases
            .iter()
            .any(|alias| normalise_header(alias) == header)
}

/// `排污系数（沉淀分离）` → `沉淀分离`: the bracketed note of a header naming `field` with a
/// note, as written (full-width brackets inside it kept), or `None`.
fn wide_note(field: &Field, header: &str) -> Option<String> {
    let normalised = normalise_header(header);
    if names_exactly(field, &normalised) {
        return None;
    }
    let (base, open) = split_note(&normalised)?;
    if !names_exactly(field, base) {
        return None;
    }
    // Normalising maps characters one to one, so character positions carry over to the header
    // as written.
    let written = header.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let length = written.chars().count();
    let note: String = written
        .chars()
        .skip(open + 1)
        .take(length.saturating_sub(open + 2))
        .collect();
    let note = note.trim();
    (!note.is_empty()).then(|| note.to_string())
}

/// Trims whitespace and byte-order marks and turns full-width brackets into ASCII ones.
fn normalise_header(header: &str) -> String {
    header
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .collect()
}

/// Case-insensitive, with a space or `-` accepted for `_`.
fn english_name_matches(name: &str, header: &str) -> bool {
    name.len() == header.len()
        && name
            .bytes()
            .zip(header.bytes())
            .all(|(n, h)| n.eq_ignore_ascii_case(&h) || (n == b'_' && (h == b' ' || h == b'-')))
}

/// `活动水平(吨)` → `活动水平`: the header without a final parenthesised note, if it has one.
fn strip_note(header: &str) -> Option<&str> {
    split_note(header).map(|(base, _)| base)
}

/// Splits a header ending in a parenthesised note into the text before the note, trimmed and
/// not empty, and the character position of the note's opening bracket.
fn split_note(header: &str) -> Option<(&str, usize)> {
    let inner = header.strip_suffix(')')?;
    let mut depth = 0usize;
    for (at, c) in inner.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                let base = inner[..at].trim_end();
                return (!base.is_empty()).then(|| (base, inner[..at].chars().count()));
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Every accepted header, for hints: `industry_code` (行业代码, 行业类别代码), ….
fn accepted_names(schema: &Schema) -> String {
    let mut out = String::new();
    for (i, field) in schema.fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "`{}`", field.name);
        if !field.aliases.is_empty() {
            let _ = write!(out, " ({})", field.aliases.join(", "));
        }
    }
    out
}

/// The accepted header closest to an unknown one, when it is close enough to be a typo: one
/// character differs, or at most a third of them.
fn closest_name(schema: &Schema, header: &str) -> Option<&'static str> {
    let header = normalise_header(header).to_lowercase();
    let header = strip_note(&header).unwrap_or(&header).to_string();
    let mut best: Option<(usize, &'static str)> = None;
    for field in schema.fields {
        for &candidate in std::iter::once(&field.name).chain(field.aliases) {
            let distance = edit_distance(&header, &candidate.to_lowercase());
            let length = candidate.chars().count().max(header.chars().count());
            if distance <= (length / 3).max(1) && best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, candidate));
            }
        }
    }
    best.map(|(_, name)| name)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// A header cut to 40 characters for messages: a header that swallowed a whole file through an
/// unclosed quote must not make every location megabytes long.
fn short(text: &str) -> Cow<'_, str> {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// Whether a UTF-8 character starting with this byte may be whitespace: ASCII space and
/// controls, and the lead bytes of U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000 and of the
/// byte-order mark U+FEFF (trimmed too). Most cells
/// start and end with other characters (CJK ideographs lead with E4–E9), so this byte test keeps
/// the Unicode-aware trim off the hot path.
fn may_start_whitespace(lead: u8) -> bool {
    lead <= b' ' || lead == 0x7F || matches!(lead, 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF)
}

/// The first byte of the last character of non-empty UTF-8.
fn last_lead(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .rev()
        .take(4)
        .find(|&&b| !(0x80..0xC0).contains(&b))
        .copied()
        .unwrap_or(0)
}

/// `1 field`, `2 fields`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
fn column_letter(mut column: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    letters.iter().rev().map(|&b| char::from(b)).collect()
}

fn fatal(
    file: &str,
    options: &ReadOptions,
    code: &'static str,
    message: String,
    hint: Option<&str>,
) -> Issues {
    let mut issue = Issue::error(Location::file(file), code, message);
    if let Some(hint) = hint {
        issue = issue.with_hint(hint);
    }
    let mut issues = Issues::with_cap(options.issue_cap);
    issues.push(issue);
    issues
}

fn extension(path: &Path) -> Option<String> {
    Some(path.extension()?.to_str()?.to_ascii_lowercase())
}

/// Whether bytes start like a ZIP archive (xlsx, ods) or an OLE compound file (xls).
fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads until `buf` is full or the input ends.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

enum Body {
    Csv(Box<CsvBody>),
    Excel(ExcelBody),
    Json(JsonBody),
}

// ---------------------------------------------------------------------------------------------
// CSV.

/// The most columns a CSV header may have: Excel's limit (`XFD`). Matching a header costs time
/// for every column, so a header of a million columns is refused rather than matched.
pub const MAX_COLUMNS: usize = 16_384;

/// How many bytes are sniffed to detect the encoding.
const SNIFF: usize = 64 * 1024;
/// The read buffer: large reads keep the streaming fast.
const BUFFER: usize = 256 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A CSV source: a file, or bytes in memory. Both can seek, which the check for an unclosed
/// quote at the end of the file needs.
struct Input {
    source: Source,
    /// Turns every CR into LF, for files whose lines end with CR alone (classic Mac OS), so that
    /// they split into lines like the others with offsets unchanged.
    cr_to_lf: bool,
}

enum Source {
    File(File),
    Memory(Cursor<Vec<u8>>),
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.source {
            Source::File(file) => file.read(buf)?,
            Source::Memory(cursor) => cursor.read(buf)?,
        };
        if self.cr_to_lf {
            for b in &mut buf[..n] {
                if *b == b'\r' {
                    *b = b'\n';
                }
            }
        }
        Ok(n)
    }
}

impl Seek for Input {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        match &mut self.source {
            Source::File(file) => file.seek(position),
            Source::Memory(cursor) => cursor.seek(position),
        }
    }
}

struct CsvBody {
    reader: csv::Reader<Input>,
    raw: csv::ByteRecord,
    encoding: Encoding,
    /// Why the encoding was chosen, for the hint of `bad-encoding` issues.
    encoding_hint: &'static str,
    /// Length of the byte-order mark skipped before the CSV reader starts.
    base: u64,
    total: u64,
    /// The file's last byte, which tells whether the last record ends with a line break.
    last_byte: Option<u8>,
    /// Number of columns of the header.
    width: usize,
    /// Records read ahead while looking for the header and not yet returned, with their row
    /// and unclosed quote as [`CsvBody::locate`] found them.
    pending: VecDeque<Pending>,
    done: bool,
    /// For a part of the file read in parallel ([`TableReader::restrict`]): the byte offset in
    /// the file where the part ends; a record ending beyond it belongs to the next part.
    end: Option<u64>,
}

/// A part of a CSV file, for reading the parts in parallel: the records that end after
/// `start` and no later than `end` (byte offsets in the file, `start` just after a line break
/// outside quoted fields), `line` being the line number at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvPart {
    /// Where the part starts.
    pub start: u64,
    /// Where it ends.
    pub end: u64,
    /// The 1-based line number at `start`.
    pub line: u64,
}

/// Splits a CSV file of at least `min_bytes` into `parts` parts of about equal size, at line
/// breaks outside quoted fields (counting `"` from the start, which is right for CSV whatever
/// its encoding among UTF-8 and GBK: neither uses the bytes of `"` or a line break inside a
/// character). `None` when the file is smaller or no split point is found.
pub fn split_csv(path: &Path, parts: usize, min_bytes: u64) -> io::Result<Option<Vec<CsvPart>>> {
    let total = std::fs::metadata(path)?.len();
    if parts < 2 || total < min_bytes {
        return Ok(None);
    }
    let mut reader = io::BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut offset = 0u64;
    let mut lines = 1u64;
    let mut quoted = false;
    let mut found: Vec<CsvPart> = Vec::new();
    let mut start = CsvPart {
        start: 0,
        end: 0,
        line: 1,
    };
    let mut target = total / parts as u64;
    loop {
        let buffer = io::BufRead::fill_buf(&mut reader)?;
        if buffer.is_empty() {
            break;
        }
        let n = buffer.len();
        for i in memchr::memchr2_iter(b'"', b'\n', buffer) {
            if buffer[i] == b'"' {
                quoted = !quoted;
                continue;
            }
            lines += 1;
            let here = offset + i as u64 + 1;
            if !quoted && here >= target && found.len() + 1 < parts && here < total {
                found.push(CsvPart { end: here, ..start });
                start = CsvPart {
                    start: here,
                    end: 0,
                    line: lines,
                };
                target = total / parts as u64 * (found.len() as u64 + 1);
            }
        }
        io::BufRead::consume(&mut reader, n);
        offset += n as u64;
        // The last part runs to the end of the file: nothing after its start needs reading.
        if found.len() + 1 == parts {
            break;
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    found.push(CsvPart {
        end: total,
        ..start
    });
    Ok(Some(found))
}

/// A record read ahead.
struct Pending {
    raw: csv::ByteRecord,
    row: u64,
    unclosed: Option<(usize, u64)>,
}

fn open_csv(
    file: String,
    source: Source,
    total: u64,
    schema: &'static Schema,
    options: &ReadOptions,
) -> Result<TableReader, Issues> {
    let fail = |code, message: String, hint: &str| {
        Err(fatal(
            &file,
            options,
            code,
            message,
            (!hint.is_empty()).then_some(hint),
        ))
    };
    let cannot_read = |e: io::Error| fail("cannot-open", format!("cannot read the file: {e}"), "");
    let mut input = Input {
        source,
        cr_to_lf: false,
    };
    let wanted = SNIFF + UTF8_BOM.len();
    let mut head = vec![0; wanted];
    let n = match read_full(&mut input, &mut head) {
        Ok(n) => n,
        Err(e) => return cannot_read(e),
    };
    head.truncate(n);
    let bom = head.starts_with(UTF8_BOM);
    let base = if bom { UTF8_BOM.len() } else { 0 };
    let body = &head[base..];
    // Before the UTF-16 guess: a workbook's compressed bytes may hold many NUL bytes.
    if is_workbook(body) {
        return fail(
            "wrong-format",
            "the file is an Excel workbook, not a CSV file".to_string(),
            "give it its real extension (.xlsx or .xls), or save it from Excel as CSV",
        );
    }
    let utf16_bom = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    if utf16_bom || looks_utf16(&head) {
        let message = if utf16_bom {
            "the file is encoded in UTF-16, which is not supported"
        } else {
            "the file is full of NUL bytes: it looks encoded in UTF-16, which is not supported"
        };
        return fail(
            "bad-encoding",
            message.to_string(),
            "save it as UTF-8 (Excel: Save As ▸ \"CSV UTF-8 (逗号分隔)\") or as GBK (\"CSV \
             (逗号分隔)\")",
        );
    }
    let window = &body[..body.len().min(SNIFF)];
    // The window is cut when the file goes on beyond it.
    let cut = n == wanted || window.len() < body.len();
    let (encoding, encoding_hint) = match options.encoding {
        EncodingChoice::Utf8 => (
            Encoding::Utf8,
            "the file was read as UTF-8 as requested; save it as UTF-8, or pass --encoding gbk",
        ),
        EncodingChoice::Gb18030 => (
            Encoding::Gb18030,
            "the file was read as GB18030 (GBK) as requested; save it as GBK, or pass \
             --encoding utf-8",
        ),
        EncodingChoice::Auto if bom => (
            Encoding::Utf8,
            "the file was read as UTF-8 because it starts with a UTF-8 byte-order mark; save it \
             as UTF-8, or pass --encoding gbk",
        ),
        EncodingChoice::Auto if is_utf8_prefix(window, cut) => (
            Encoding::Utf8,
            "the file was read as UTF-8 because its first 64 KiB were valid UTF-8; save it as \
             UTF-8 or pass --encoding gbk",
        ),
        EncodingChoice::Auto if mostly_utf8(window) => (
            Encoding::Utf8,
            "the file was read as UTF-8 because its first 64 KiB were UTF-8 but for a few bytes, \
             such as a damaged or cut character; correct the cell, or pass --encoding gbk",
        ),
        EncodingChoice::Auto => (
            Encoding::Gb18030,
            "the file was read as GB18030 (GBK) because its first 64 KiB were not valid UTF-8; \
             save it as UTF-8 or GBK throughout",
        ),
    };
    input.cr_to_lf = window.contains(&b'\r') && !window.contains(&b'\n');
    let last_byte = if n < wanted {
        head.last().copied()
    } else {
        let mut last = [0];
        let read = input
            .seek(SeekFrom::End(-1))
            .and_then(|_| read_full(&mut input, &mut last));
        match read {
            Ok(1) => Some(last[0]),
            Ok(_) => None,
            Err(e) => return cannot_read(e),
        }
    };
    let last_byte = last_byte.map(|b| {
        if input.cr_to_lf && b == b'\r' {
            b'\n'
        } else {
            b
        }
    });
    if let Err(e) = input.seek(SeekFrom::Start(base as u64)) {
        return cannot_read(e);
    }
    // Only LF ends a record: a CR before it stays at the end of the last field, where trimming
    // removes it. csv's CRLF mode would report the line of a record wrongly, one line early,
    // because it takes a record's position before skipping the LF of the previous CRLF.
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(BUFFER)
        .from_reader(input);
    let mut csv = CsvBody {
        reader,
        raw: csv::ByteRecord::new(),
        encoding,
        encoding_hint,
        base: base as u64,
        total,
        last_byte,
        width: 0,
        pending: VecDeque::new(),
        done: false,
        end: None,
    };
    let mut layout = Layout::new(file.clone(), None, schema);
    let mut issues = Issues::with_cap(options.issue_cap);

    // Read ahead the records that may hold the header, blank ones included so that the data
    // after the header can be replayed in order: one more than the search needs, for the lower
    // row of a two-row header.
    let mut ahead = Vec::new();
    let mut top = Vec::new();
    while top.len() <= HEADER_SEARCH_ROWS {
        match csv.reader.read_byte_record(&mut csv.raw) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return fail("cannot-open", format!("cannot read the file: {e}"), ""),
        }
        let (row, unclosed) = csv.locate();
        if !raw_is_blank(&csv.raw) {
            // A row wider than any table is refused below if it is the header; only the cells
            // that can matter are decoded and scored.
            let cells = csv
                .raw
                .iter()
                .take(MAX_COLUMNS + 1)
                .map(|field| normalise_text(&decode(field, encoding).unwrap_or_else(|l| l)))
                .collect();
            top.push(TopRow {
                index: ahead.len(),
                row,
                cells,
            });
        }
        ahead.push(Pending {
            raw: csv.raw.clone(),
            row,
            unclosed,
        });
    }
    let Some((header, found)) = find_header(schema, &top, None) else {
        return fail(
            "empty-file",
            format!("the file is empty: the {} has no header row", schema.kind),
            "",
        );
    };
    let header_records = &ahead[header.first_index..=header.last_index];
    csv.width = header_records
        .iter()
        .map(|r| r.raw.len())
        .max()
        .unwrap_or(0);
    if csv.width > MAX_COLUMNS {
        issues.push(
            Issue::error(
                layout.row_location(header.row),
                "too-many-columns",
                format!(
                    "the header has {} columns, more than the {MAX_COLUMNS} of any table \
                     (Excel's limit)",
                    csv.width
                ),
            )
            .with_hint(
                "check the separators: a file whose lines were joined, or a binary file, makes \
                 one huge row",
            ),
        );
        return Err(issues);
    }
    if let [only] = header_records
        && only.raw.len() == 1
        && schema.fields.len() > 1
        && !found
    {
        let only_cell = &only.raw[0];
        let separator = if only_cell.contains(&b'\t') {
            Some(("tabs", "tab-separated"))
        } else if only_cell.contains(&b';') {
            Some(("semicolons", "semicolon-separated"))
        } else {
            None
        };
        if let Some((what, kind)) = separator {
            issues.push(
                Issue::error(
                    layout.row_location(only.row),
                    "wrong-delimiter",
                    format!("the header has no commas but {what}: the file looks {kind}"),
                )
                .with_value(
                    decode(only_cell, encoding)
                        .unwrap_or_else(|lossy| lossy)
                        .trim(),
                )
                .with_hint(
                    "npsc reads comma-separated files: in Excel, Save As ▸ \"CSV UTF-8 \
                     (逗号分隔)\"",
                ),
            );
            return Err(issues);
        }
    }
    // A header cell that cannot be decoded is reported as such, not also as an unknown column.
    let mut undecodable = vec![false; csv.width];
    for record in header_records {
        for (column, field) in record.raw.iter().enumerate() {
            if let Err(lossy) = decode(field, encoding) {
                undecodable[column] = true;
                issues.push(
                    Issue::error(
                        layout.row_location(record.row),
                        "bad-encoding",
                        format!(
                            "a header cell is not valid {encoding}: bytes {}",
                            hex(field)
                        ),
                    )
                    .with_value(lossy.trim())
                    .with_hint(encoding_hint),
                );
            }
        }
        if let Some((column, lines)) = record.unclosed {
            issues.push(unclosed_quote_issue(&layout, record.row, column, lines));
        }
    }
    let last_index = header.last_index;
    match_headers(&mut layout, header, found, &undecodable, &mut issues);
    if issues.has_errors() {
        return Err(issues);
    }
    csv.pending = ahead.into_iter().skip(last_index + 1).collect();
    Ok(TableReader {
        layout,
        body: Body::Csv(Box::new(csv)),
        notes: Vec::new(),
    })
}

impl CsvBody {
    #[allow(
        clippy::result_large_err,
        reason = "the error is one located Issue, returned at most once per file"
    )]
    fn read(
        &mut self,
        layout: &Layout,
        record: &mut Record,
        issues: &mut Issues,
    ) -> Result<bool, Issue> {
        if self.done {
            return Ok(false);
        }
        let (row, unclosed) = if let Some(pending) = self.pending.pop_front() {
            self.raw = pending.raw;
            (pending.row, pending.unclosed)
        } else {
            match self.reader.read_byte_record(&mut self.raw) {
                Ok(true) => {
                    if let Some(end) = self.end
                        && self.base + self.reader.position().byte() > end
                    {
                        // The record ends in the next part, which reads it.
                        self.done = true;
                        return Ok(false);
                    }
                }
                Ok(false) => {
                    self.done = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.done = true;
                    let mut location = Location::file(&layout.file);
                    location.row = e.position().map(csv::Position::line);
                    return Err(Issue::error(
                        location,
                        "read-error",
                        format!("cannot read the file: {e}"),
                    ));
                }
            }
            self.locate()
        };
        record.begin(row, layout.columns.len());
        if !self.copy_valid_utf8(layout, record) {
            for (field, column) in layout.columns.iter().enumerate() {
                let Some(bytes) = column.and_then(|c| self.raw.get(c)) else {
                    continue;
                };
                self.decode_cell(layout, record, field, bytes, issues);
            }
        }
        if self.raw.len() > self.width {
            record.blank &= self.raw.iter().skip(self.width).all(is_blank_bytes);
        }
        if let Some((column, lines)) = unclosed {
            record.bad = true;
            issues.push(unclosed_quote_issue(layout, row, column, lines));
        } else if self.raw.len() != self.width && !record.blank {
            record.bad = true;
            let issue = Issue::error(
                layout.row_location(row),
                "ragged-row",
                format!(
                    "the row has {} but the header has {}",
                    plural(self.raw.len(), "field"),
                    plural(self.width, "column")
                ),
            );
            let multi_line = self.raw.as_slice().contains(&b'\n');
            issues.push(if multi_line {
                issue.with_hint(
                    "the row runs over several lines because a quoted field holds a line break: \
                     check that every opening `\"` is closed, and write a quote inside a quoted \
                     field twice (`\"\"`)",
                )
            } else if self.raw.len() > self.width {
                issue.with_hint("a value containing a comma must be quoted: `\"1,234\"`")
            } else {
                issue.with_hint("add the missing cells, empty if need be: `a,,c`")
            });
        }
        Ok(true)
    }

    /// The row where the record just read starts, and, when it runs to the end of the file
    /// inside a quoted field, that field's column and the number of line breaks it swallowed.
    ///
    /// csv gives the line where its parser was when it started the record, before skipping the
    /// blank lines in front of it, and the line where it stopped. So the record's first line is
    /// the line where the parser stopped less the line breaks inside the record's fields and
    /// less the line break that ended it, if any. Counting the line breaks is needed only when
    /// the record spans lines or follows blank lines, which is rare.
    fn locate(&mut self) -> (u64, Option<(usize, u64)>) {
        let (start_line, start_byte) = self.raw.position().map_or((1, 0), |p| (p.line(), p.byte()));
        let end = self.reader.position();
        let end_line = end.line();
        let at_end = self.base + end.byte() >= self.total;
        let unclosed = if at_end {
            // The parser has consumed everything, so the input can be repositioned freely.
            scan_for_unclosed_quote(self.reader.get_mut(), self.base + start_byte)
                .ok()
                .flatten()
        } else {
            None
        };
        let ended_by_newline = if !at_end {
            true
        } else {
            unclosed.is_none() && self.last_byte == Some(b'\n')
        };
        let terminator = u64::from(ended_by_newline);
        if end_line - start_line == terminator {
            return (start_line, unclosed);
        }
        let inside = self.raw.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
        let row = end_line.saturating_sub(inside + terminator).max(start_line);
        (row, unclosed)
    }

    /// The fast path of UTF-8 files (and of ASCII records in GB18030 files): when the whole
    /// record is valid UTF-8 without NUL bytes,
    /// its fields are copied into the record's text in one go and the cells are spans of it.
    /// Returns false, having copied nothing, when the record needs the field-by-field path.
    fn copy_valid_utf8(&self, layout: &Layout, record: &mut Record) -> bool {
        let all = self.raw.as_slice();
        let usable = match self.encoding {
            Encoding::Utf8 => !all.contains(&0),
            // ASCII reads the same in GB18030.
            Encoding::Gb18030 => all.is_ascii() && !all.contains(&0),
        };
        if !usable {
            return false;
        }
        let Ok(text) = std::str::from_utf8(all) else {
            return false;
        };
        // Fields are contiguous in `all`; a character split across two fields would make both
        // invalid although their concatenation is valid, so every boundary is checked.
        let bounds_ok = layout.columns.iter().flatten().all(|&c| {
            self.raw
                .range(c)
                .is_none_or(|r| text.is_char_boundary(r.start) && text.is_char_boundary(r.end))
        });
        if !bounds_ok {
            return false;
        }
        let base = record.text.len();
        record.text.push_str(text);
        for (field, column) in layout.columns.iter().enumerate() {
            if let Some(range) = column.and_then(|c| self.raw.range(c)) {
                record.finish_span(field, base + range.start, base + range.end);
            }
        }
        true
    }

    /// Decodes one cell into the record, reporting invalid bytes and NUL bytes.
    fn decode_cell(
        &self,
        layout: &Layout,
        record: &mut Record,
        field: usize,
        bytes: &[u8],
        issues: &mut Issues,
    ) {
        let start = record.text.len();
        let valid = match self.encoding {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    record.text.push_str(text);
                    true
                }
                Err(_) => {
                    record.text.push_str(&String::from_utf8_lossy(bytes));
                    false
                }
            },
            Encoding::Gb18030 => decode_gb18030_into(bytes, &mut record.text),
        };
        if !valid {
            record.mark_bad(field);
            let value = record.text[start..].trim().to_string();
            issues.push(
                Issue::error(
                    layout.location(record.row, field),
                    "bad-encoding",
                    format!(
                        "the cell is not valid {}: bytes {}",
                        self.encoding,
                        hex(bytes)
                    ),
                )
                .with_value(value)
                .with_hint(self.encoding_hint),
            );
        }
        if bytes.contains(&0) {
            let cleaned = record.text[start..].replace('\0', "");
            record.text.truncate(start);
            record.text.push_str(&cleaned);
            record.mark_bad(field);
            issues.push(
                Issue::error(
                    layout.location(record.row, field),
                    "nul-byte",
                    "the cell contains NUL bytes, which never occur in text",
                )
                .with_value(cleaned.trim())
                .with_hint("the file may be binary or UTF-16: save it as CSV in UTF-8 or GBK"),
            );
        }
        record.finish(field, start);
    }
}

fn unclosed_quote_issue(layout: &Layout, row: u64, column: usize, lines: u64) -> Issue {
    let field = layout.columns.iter().position(|&c| c == Some(column));
    let location = match field {
        Some(field) => layout.location(row, field),
        None => layout.row_location(row),
    };
    let extent = match lines {
        0 => "on this line".to_string(),
        1 => "over 1 more line".to_string(),
        n => format!("over {n} more lines"),
    };
    Issue::error(
        location,
        "unclosed-quote",
        format!(
            "a quote opened in this field is never closed: the field runs to the end of the file \
             ({extent})"
        ),
    )
    .with_hint("close the quote; a quote inside a quoted field is written twice: `\"\"`")
}

/// Re-reads a record's raw bytes from `start` to the end of the file with the grammar of the
/// `csv` crate as configured here (comma, `"` quoting with doubled quotes, LF ending records),
/// because the parser accepts a quote left open at the end of the file silently. Returns the
/// index of the field where a never-closed quote opened and how many line breaks it swallowed.
fn scan_for_unclosed_quote(input: &mut Input, start: u64) -> io::Result<Option<(usize, u64)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        StartField,
        InField,
        Quoted,
        QuoteInQuoted,
    }
    input.seek(SeekFrom::Start(start))?;
    let mut state = State::StartField;
    let mut field = 0usize;
    let mut lines = 0u64;
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = read_full(input, &mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, b) => {
                    lines += u64::from(b == b'\n');
                    State::Quoted
                }
                (State::StartField | State::QuoteInQuoted, b'"') => State::Quoted,
                (_, b',') => {
                    field += 1;
                    State::StartField
                }
                (_, b'\n') => {
                    field = 0;
                    State::StartField
                }
                _ => State::InField,
            };
        }
    }
    Ok((state == State::Quoted).then_some((field, lines)))
}

/// Whether the sniffed window is UTF-8, allowing a character cut at the window's end.
fn is_utf8_prefix(window: &[u8], cut: bool) -> bool {
    match std::str::from_utf8(window) {
        Ok(_) => true,
        Err(e) => cut && e.error_len().is_none(),
    }
}

/// Whether a window that is not valid UTF-8 is nevertheless UTF-8 text with a few damaged
/// bytes (a character cut when the file was truncated, a stray byte): at least eight valid
/// multi-byte UTF-8 characters for every invalid sequence. GBK text almost never looks like
/// that, since most GBK pairs are not UTF-8; reading it as GB18030 would turn the file's good
/// UTF-8 cells into mojibake and report the wrong cells.
fn mostly_utf8(window: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut rest = window;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                valid += text.chars().filter(|c| !c.is_ascii()).count();
                break;
            }
            Err(e) => {
                let good = &rest[..e.valid_up_to()];
                valid += std::str::from_utf8(good)
                    .map_or(0, |t| t.chars().filter(|c| !c.is_ascii()).count());
                invalid += 1;
                match e.error_len() {
                    Some(skip) => rest = &rest[e.valid_up_to() + skip..],
                    None => break,
                }
            }
        }
    }
    invalid > 0 && valid >= 8 * invalid
}

/// UTF-16 without a byte-order mark: text of mostly ASCII characters has a NUL in every other
/// byte, which neither UTF-8 nor GB18030 text ever has.
fn looks_utf16(head: &[u8]) -> bool {
    let window = &head[..head.len().min(4096)];
    let nuls = window.iter().filter(|&&b| b == 0).count();
    window.len() >= 4 && nuls * 4 >= window.len()
}

fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, String> {
    let mut text = String::new();
    let valid = match encoding {
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => {
                text.push_str(s);
                true
            }
            Err(_) => {
                text.push_str(&String::from_utf8_lossy(bytes));
                false
            }
        },
        Encoding::Gb18030 => decode_gb18030_into(bytes, &mut text),
    };
    if valid { Ok(text) } else { Err(text) }
}

/// Appends the GB18030 decoding of `bytes` to `text`; returns false, after appending a lossy
/// decoding, when the bytes are not valid GB18030.
fn decode_gb18030_into(bytes: &[u8], text: &mut String) -> bool {
    if let Ok(ascii) = std::str::from_utf8(bytes)
        && ascii.is_ascii()
    {
        text.push_str(ascii);
        return true;
    }
    let start = text.len();
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let needed = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3);
    text.reserve(needed);
    let (result, _) = decoder.decode_to_string_without_replacement(bytes, text, true);
    if matches!(result, encoding_rs::DecoderResult::InputEmpty) {
        return true;
    }
    text.truncate(start);
    let (lossy, _) = GB18030.decode_without_bom_handling(bytes);
    text.push_str(&lossy);
    false
}

/// Trims whitespace and byte-order marks.
fn normalise_text(text: &str) -> String {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .to_string()
}

/// The first 16 bytes in hex: `d6 d0 ce c4 …`.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().take(16).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    if bytes.len() > 16 {
        out.push_str(" …");
    }
    out
}

fn is_blank_bytes(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

fn raw_is_blank(raw: &csv::ByteRecord) -> bool {
    raw.iter().all(is_blank_bytes)
}

// ---------------------------------------------------------------------------------------------
// Excel.

mod ods_guard;
mod xls_guard;

struct ExcelBody {
    range: Range<Data>,
    /// The next row of `range` to read.
    next: usize,
    /// The sheet row of `range`'s first row, 0-based.
    first_row: u32,
    /// The workbook's size, for progress.
    size: u64,
    /// What an empty cell of the sheet may really be: inside a merged area, or a formula saved
    /// without its value.
    hidden: HiddenCells,
}

/// The most cells a sheet's used area (the rectangle from its first to its last non-empty
/// cell) may have: calamine holds that rectangle in memory, 32 bytes a cell, so two cells far
/// apart (`A1` and `XFD1048576`, 17 billion cells) would otherwise exhaust memory.
pub const MAX_SHEET_CELLS: u64 = 1 << 25;

/// The most bytes of text the cells of a sheet (of an `.xls` workbook: of all its sheets) may
/// hold together. A shared string is copied into every cell that refers to it, so a string of
/// 32 767 characters in 30 000 cells of a 100-kilobyte workbook would otherwise take 3 GiB.
pub const MAX_SHEET_TEXT: u64 = 1 << 30;

/// The most bytes the parts of a ZIP-based workbook (`.xlsx`, `.xlsb`, `.ods`) may declare
/// uncompressed, together: a few kilobytes can inflate to gigabytes (a ZIP bomb). The ZIP reader
/// never inflates a part beyond its declared size, so checking the declared sizes suffices.
pub const MAX_WORKBOOK_UNCOMPRESSED: u64 = 2 << 30;

/// The empty cells of a sheet that are not simply empty, for clearer issues than "a value is
/// required".
#[derive(Default)]
struct HiddenCells {
    /// Merged areas, absolute 0-based (first row, first column, last row, last column), with
    /// the text of their first cell. Only the first [`MAX_MERGES`] are kept.
    merges: Vec<(u32, u32, u32, u32, String)>,
    /// Formulas whose value was never computed and saved (a workbook written by a program that
    /// does not compute formulas), by absolute 0-based (row, column).
    uncomputed: std::collections::BTreeMap<(u32, u32), String>,
}

/// The most merged areas looked at for [`HiddenCells`].
const MAX_MERGES: usize = 10_000;

impl HiddenCells {
    /// The issue of an empty cell at absolute (row, column), if it is not simply empty.
    fn issue(&self, row: u32, column: u32, location: Location) -> Option<Issue> {
        if let Some(formula) = self.uncomputed.get(&(row, column)) {
            return Some(
                Issue::error(
                    location,
                    "formula-without-value",
                    format!(
                        "the cell holds the formula `={}` but no value: the workbook was saved \
                         by a program that does not compute formulas",
                        short(formula)
                    ),
                )
                .with_hint("open the workbook in Excel or WPS and save it, so that the values are stored; or type the values"),
            );
        }
        let &(r0, c0, r1, c1, ref value) = self.merges.iter().find(|&&(r0, c0, r1, c1, _)| {
            (r0..=r1).contains(&row) && (c0..=c1).contains(&column) && (row, column) != (r0, c0)
        })?;
        let cell = |r: u32, c: u32| format!("{}{}", column_letter(c as usize), r + 1);
        Some(
            Issue::error(
                location,
                "merged-cell",
                format!(
                    "the cell is inside the merged area {}:{}, whose value `{}` is kept in its \
                     first cell {} only",
                    cell(r0, c0),
                    cell(r1, c1),
                    short(value),
                    cell(r0, c0)
                ),
            )
            .with_hint("unmerge the area and fill its value into every cell"),
        )
    }
}

/// What stopped a workbook from being opened.
struct WorkbookProblem {
    code: &'static str,
    message: String,
    hint: String,
    /// The sheet it is about, when that is known before the sheet is read.
    sheet: Option<String>,
}

/// What one sheet turned out to be.
enum SheetOutcome {
    /// A table, ready to read.
    Table(TableReader),
    /// A table whose header names every required field but has other problems.
    Broken(Issues),
    /// No header row of the schema: the problems of the row that came closest (or of an empty
    /// sheet), how many required fields it names, and the note to give when the sheet is
    /// skipped.
    NoHeader {
        issues: Issues,
        required_named: usize,
        note: Issue,
    },
}

type Workbook = Sheets<Cursor<Vec<u8>>>;

fn open_excel(
    file: String,
    bytes: Vec<u8>,
    extension: Option<String>,
    schema: &'static Schema,
    options: &ReadOptions,
    selection: &SheetSelection,
) -> Result<Tables, Issues> {
    let size = bytes.len() as u64;
    let problem_issues = |problem: WorkbookProblem, sheet: Option<&str>| {
        let mut issues = Issues::with_cap(options.issue_cap);
        let mut location = Location::file(&file);
        location.sheet = problem.sheet.or_else(|| sheet.map(str::to_string));
        let mut issue = Issue::error(location, problem.code, problem.message);
        if !problem.hint.is_empty() {
            issue = issue.with_hint(problem.hint);
        }
        issues.push(issue);
        issues
    };
    let mut workbook = guarded(|| open_workbook(bytes, extension.as_deref()))
        .map_err(|problem| problem_issues(problem, None))?;
    let names = workbook.sheet_names();
    if names.is_empty() {
        return Err(problem_issues(
            WorkbookProblem {
                code: "empty-file",
                message: "the workbook has no sheet".to_string(),
                hint: String::new(),
                sheet: None,
            },
            None,
        ));
    }
    let wanted = match selection {
        SheetSelection::Named(wanted) => {
            let found = names
                .iter()
                .find(|name| name.as_str() == wanted)
                .or_else(|| names.iter().find(|name| name.trim() == wanted.trim()));
            match found {
                Some(name) => vec![name.clone()],
                None => {
                    return Err(problem_issues(
                        WorkbookProblem {
                            code: "unknown-sheet",
                            message: format!("the workbook has no sheet `{wanted}`"),
                            hint: format!("its sheets are {}", quoted_list(&names)),
                            sheet: None,
                        },
                        None,
                    ));
                }
            }
        }
        SheetSelection::First | SheetSelection::All => names.clone(),
    };
    let named = matches!(selection, SheetSelection::Named(_));
    let first_only = !matches!(selection, SheetSelection::All);
    let mut readers = Vec::new();
    let mut notes = Vec::new();
    let mut errors = Issues::with_cap(options.issue_cap);
    let mut closest: Option<(usize, Issues)> = None;
    for sheet in &wanted {
        let (range, merges, uncomputed) = guarded(|| load_sheet(&mut workbook, sheet))
            .map_err(|problem| problem_issues(problem, Some(sheet)))?;
        let outcome = open_sheet(
            &file,
            sheet.clone(),
            range,
            (merges.as_deref(), uncomputed),
            schema,
            options,
            size,
        );
        match outcome {
            SheetOutcome::Table(reader) => {
                readers.push(reader);
                if first_only {
                    break;
                }
            }
            SheetOutcome::Broken(issues) => {
                errors.extend(issues);
                if first_only {
                    break;
                }
            }
            SheetOutcome::NoHeader {
                issues,
                required_named,
                note,
            } => {
                if named {
                    return Err(issues);
                }
                notes.push(note);
                if closest.as_ref().is_none_or(|(n, _)| required_named > *n) {
                    closest = Some((required_named, issues));
                }
            }
        }
    }
    if errors.has_errors() {
        errors.extend(notes);
        return Err(errors);
    }
    if readers.is_empty() {
        let mut issues = Issues::with_cap(options.issue_cap);
        if wanted.len() > 1 {
            issues.push(
                Issue::error(
                    Location::file(&file),
                    "no-matching-sheet",
                    format!(
                        "none of the workbook's {} sheets ({}) has a header row of the {}; the \
                         problems of the sheet that came closest follow",
                        wanted.len(),
                        quoted_list(&wanted),
                        schema.kind
                    ),
                )
                .with_hint("pick the sheet holding the table (--sheet NAME)"),
            );
        }
        if let Some((_, problems)) = closest {
            issues.extend(problems);
        }
        return Err(issues);
    }
    Ok(Tables { readers, notes })
}

/// Runs calamine code, which is fed untrusted files: a panic inside it becomes an issue, not a
/// crash.
fn guarded<T>(f: impl FnOnce() -> Result<T, WorkbookProblem>) -> Result<T, WorkbookProblem> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(WorkbookProblem {
            code: "bad-workbook",
            message: "the workbook is damaged and cannot be read".to_string(),
            hint: "open it in Excel and save it again as .xlsx".to_string(),
            sheet: None,
        })
    })
}

/// Reads the header of one sheet.
fn open_sheet(
    file: &str,
    sheet: String,
    range: Range<Data>,
    (merges, uncomputed): (Option<&[calamine::Dimensions]>, Uncomputed),
    schema: &'static Schema,
    options: &ReadOptions,
    size: u64,
) -> SheetOutcome {
    let location = Location {
        file: file.to_string(),
        sheet: Some(sheet.clone()),
        row: None,
        column: None,
    };
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let (height, width) = (range.height(), range.width());
    let cell_is_empty = |row: usize, column: usize| {
        range.get((row, column)).is_none_or(|cell| match cell {
            Data::Empty => true,
            Data::String(s) => s.trim().is_empty(),
            _ => false,
        })
    };
    let mut top = Vec::new();
    let mut text = String::new();
    for r in 0..height {
        if top.len() > HEADER_SEARCH_ROWS {
            break;
        }
        if (0..width).all(|c| cell_is_empty(r, c)) {
            continue;
        }
        let cells = (0..width)
            .map(|c| {
                text.clear();
                if let Some(cell) = range.get((r, c)) {
                    render_cell(cell, &mut text);
                }
                normalise_text(&text)
            })
            .collect();
        top.push(TopRow {
            index: r,
            row: u64::from(first_row) + r as u64 + 1,
            cells,
        });
    }
    let hidden = HiddenCells {
        merges: merges
            .unwrap_or_default()
            .iter()
            .take(MAX_MERGES)
            .map(|m| {
                let mut value = String::new();
                if let Some(cell) = range.get_value(m.start) {
                    render_cell(cell, &mut value);
                }
                (m.start.0, m.start.1, m.end.0, m.end.1, value)
            })
            .collect(),
        uncomputed,
    };
    // Merged areas over several columns, relative to the range, for two-row headers.
    let merges: Option<Vec<(usize, usize, usize)>> = merges.map(|merges| {
        merges
            .iter()
            .filter(|m| m.start.0 >= first_row && m.start.1 >= first_column && m.end.1 > m.start.1)
            .map(|m| {
                (
                    (m.start.0 - first_row) as usize,
                    (m.start.1 - first_column) as usize,
                    (m.end.1 - first_column) as usize,
                )
            })
            .collect()
    });
    let Some((header, found)) = find_header(schema, &top, merges.as_deref()) else {
        let mut issues = Issues::with_cap(options.issue_cap);
        issues.push(
            Issue::error(
                location.clone(),
                "empty-file",
                format!("the sheet is empty: the {} has no header row", schema.kind),
            )
            .with_hint("pick the sheet holding the table (--sheet NAME)"),
        );
        return SheetOutcome::NoHeader {
            issues,
            required_named: 0,
            note: Issue::warning(
                location,
                "skipped-sheet",
                "the sheet is empty, so it is skipped",
            ),
        };
    };
    let (first_index, last_index) = (header.first_index, header.last_index);
    let ignored: Vec<bool> = (0..width)
        .map(|c| {
            header.columns.get(c).is_none_or(|h| h.label.is_empty())
                && (first_index..height).all(|r| cell_is_empty(r, c))
        })
        .collect();
    let required_named = header.required_named(schema);
    let rows_text = header.rows_text();
    let mut layout = Layout::new(file.to_string(), Some(sheet), schema);
    layout.first_column = Some(first_column);
    let mut issues = Issues::with_cap(options.issue_cap);
    match_headers(&mut layout, header, found, &ignored, &mut issues);
    if !found {
        let closest = if required_named == 0 {
            "no row names any of its required columns".to_string()
        } else {
            format!(
                "{rows_text} comes closest, naming {required_named} of the {} required columns",
                required_count(schema)
            )
        };
        let note = Issue::warning(
            location,
            "skipped-sheet",
            format!(
                "the sheet has no header row of the {} ({closest}), so it is skipped",
                schema.kind
            ),
        );
        return SheetOutcome::NoHeader {
            issues,
            required_named,
            note,
        };
    }
    if issues.has_errors() {
        return SheetOutcome::Broken(issues);
    }
    SheetOutcome::Table(TableReader {
        layout,
        body: Body::Excel(ExcelBody {
            range,
            next: last_index + 1,
            first_row,
            size,
            hidden,
        }),
        notes: Vec::new(),
    })
}

/// Whether calamine can open `bytes` as an `.xls` workbook within ingest's limits (what
/// `xls_guard` checks before ingest opens one; `true` for bytes that are no `.xls` at all). For
/// code that calls calamine itself, like the fuzz targets.
pub fn xls_within_limits(bytes: &[u8]) -> bool {
    !xls_guard::is_compound_file(bytes) || xls_guard::check(bytes).is_ok()
}

/// Opens a workbook, by extension or else by content.
fn open_workbook(bytes: Vec<u8>, extension: Option<&str>) -> Result<Workbook, WorkbookProblem> {
    if let Some(declared) = zip_uncompressed_size(&bytes)
        && declared > MAX_WORKBOOK_UNCOMPRESSED
    {
        return Err(WorkbookProblem {
            code: "workbook-too-large",
            message: format!(
                "the workbook's parts would take {} MiB uncompressed, more than the {} MiB npsc \
                 reads (a ZIP bomb, or a workbook far beyond Excel's size)",
                declared >> 20,
                MAX_WORKBOOK_UNCOMPRESSED >> 20
            ),
            hint: "save the table as CSV, which is read as a stream whatever its size".to_string(),
            sheet: None,
        });
    }
    // calamine reads every sheet of an .xls workbook when it opens it (and tries the .xls
    // reader first when the extension does not say): check what that will take first.
    if !matches!(extension, Some("xlsx" | "xlsm" | "xlam" | "xlsb" | "ods"))
        && xls_guard::is_compound_file(&bytes)
    {
        xls_guard::check(&bytes)?;
    }
    // calamine reads every sheet of an .ods workbook when it opens it (and tries the .ods
    // reader last when the extension does not say), repeated rows and columns made dense.
    if !matches!(
        extension,
        Some("xlsx" | "xlsm" | "xlam" | "xlsb" | "xls" | "xla")
    ) && ods_guard::is_ods(&bytes)
    {
        ods_guard::check(&bytes)?;
    }
    let cursor = Cursor::new(bytes);
    let opened = match extension {
        Some("xlsx" | "xlsm" | "xlam") => Xlsx::new(cursor)
            .map(Sheets::Xlsx)
            .map_err(calamine::Error::Xlsx),
        Some("xls" | "xla") => Xls::new(cursor)
            .map(Sheets::Xls)
            .map_err(calamine::Error::Xls),
        Some("xlsb") => Xlsb::new(cursor)
            .map(Sheets::Xlsb)
            .map_err(calamine::Error::Xlsb),
        Some("ods") => Ods::new(cursor)
            .map(Sheets::Ods)
            .map_err(calamine::Error::Ods),
        _ => calamine::open_workbook_auto_from_rs(cursor),
    };
    opened.map_err(workbook_problem)
}

/// The total uncompressed size the entries of a ZIP archive declare in its central directory;
/// `None` when the bytes are not a ZIP archive that can be read that way (calamine then says
/// what is wrong).
fn zip_uncompressed_size(bytes: &[u8]) -> Option<u64> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    if !bytes.starts_with(b"PK") || bytes.len() < 22 {
        return None;
    }
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let floor = bytes.len().saturating_sub(0xFFFF + 22);
    let eocd = (floor..=bytes.len() - 22)
        .rev()
        .find(|&at| u32_at(at) == Some(0x0605_4b50))?;
    let entries = u16_at(eocd + 10)?;
    let mut at = usize::try_from(u32_at(eocd + 16)?).ok()?;
    let mut total = 0u64;
    for _ in 0..entries {
        if u32_at(at)? != 0x0201_4b50 {
            return None;
        }
        let names = usize::from(u16_at(at + 28)?);
        let extra = usize::from(u16_at(at + 30)?);
        let comment = usize::from(u16_at(at + 32)?);
        let mut size = u64::from(u32_at(at + 24)?);
        if size == u64::from(u32::MAX) {
            // ZIP64: the size is in the extra field 0x0001, first of its values.
            let mut field = at + 46 + names;
            let end = field + extra;
            while field + 4 <= end {
                let (id, length) = (u16_at(field)?, usize::from(u16_at(field + 2)?));
                if id == 1 {
                    size = u64_at(field + 4)?;
                    break;
                }
                field += 4 + length;
            }
        }
        total = total.saturating_add(size);
        at += 46 + names + extra + comment;
    }
    Some(total)
}

/// Formulas saved without their value, by absolute 0-based (row, column).
type Uncomputed = std::collections::BTreeMap<(u32, u32), String>;

/// The used area and the text of a sheet read cell by cell, refused past [`MAX_SHEET_CELLS`]
/// and [`MAX_SHEET_TEXT`] before anything of that size is allocated.
struct SheetBounds {
    top: u32,
    left: u32,
    bottom: u32,
    right: u32,
    text: u64,
}

impl SheetBounds {
    fn new() -> SheetBounds {
        SheetBounds {
            top: u32::MAX,
            left: u32::MAX,
            bottom: 0,
            right: 0,
            text: 0,
        }
    }

    /// Counts a cell at `(row, column)` holding `text` bytes of text.
    fn admit(&mut self, (row, column): (u32, u32), text: usize) -> Result<(), WorkbookProblem> {
        (self.top, self.left) = (self.top.min(row), self.left.min(column));
        (self.bottom, self.right) = (self.bottom.max(row), self.right.max(column));
        let area = (u64::from(self.bottom) - u64::from(self.top) + 1)
            * (u64::from(self.right) - u64::from(self.left) + 1);
        if area > MAX_SHEET_CELLS {
            let at = |r: u32, c: u32| format!("{}{}", column_letter(c as usize), u64::from(r) + 1);
            return Err(WorkbookProblem {
                code: "sheet-too-large",
                message: format!(
                    "the sheet's cells span at least {}:{}, {area} cells, more than the {} \
                     npsc reads",
                    at(self.top, self.left),
                    at(self.bottom, self.right),
                    MAX_SHEET_CELLS
                ),
                hint: "delete the stray cells far from the table (Ctrl+End in Excel goes to the \
                       last one), or save the table as CSV"
                    .to_string(),
                sheet: None,
            });
        }
        self.text += text as u64;
        if self.text > MAX_SHEET_TEXT {
            return Err(WorkbookProblem {
                code: "sheet-too-large",
                message: format!(
                    "the sheet's text cells take more than the {} MiB npsc reads (a shared \
                     string is repeated in many cells)",
                    MAX_SHEET_TEXT >> 20
                ),
                hint: "save the table as CSV".to_string(),
                sheet: None,
            });
        }
        Ok(())
    }
}

/// The bytes of text a cell holds.
fn text_len(value: &calamine::DataRef<'_>) -> usize {
    match value {
        calamine::DataRef::String(s)
        | calamine::DataRef::DateTimeIso(s)
        | calamine::DataRef::DurationIso(s) => s.len(),
        calamine::DataRef::SharedString(s) => s.len(),
        _ => 0,
    }
}

/// Reads the cells of an `.xlsx` sheet one by one, within [`SheetBounds`], noting the formulas
/// saved without a value.
fn load_xlsx_sheet(
    xlsx: &mut Xlsx<Cursor<Vec<u8>>>,
    sheet: &str,
) -> Result<(Range<Data>, Uncomputed), WorkbookProblem> {
    let problem = |e| workbook_problem(calamine::Error::Xlsx(e));
    let mut reader = match xlsx.worksheet_cells_reader(sheet) {
        Ok(reader) => reader,
        // A chart sheet: no cells.
        Err(calamine::XlsxError::NotAWorksheet(_)) => {
            return Ok((Range::default(), Uncomputed::new()));
        }
        Err(e) => return Err(problem(e)),
    };
    let mut cells = Vec::new();
    let mut uncomputed = Uncomputed::new();
    let mut bounds = SheetBounds::new();
    while let Some(cell) = reader.next_cell_with_formula().map_err(problem)? {
        if matches!(cell.value, calamine::DataRef::Empty) {
            match cell.formula {
                Some(formula) if !formula.is_empty() => {
                    uncomputed.insert(cell.pos, formula);
                }
                _ => continue,
            }
        }
        bounds.admit(cell.pos, text_len(&cell.value))?;
        cells.push(calamine::Cell::new(cell.pos, Data::from(cell.value)));
    }
    Ok((Range::from_sparse(cells), uncomputed))
}

/// Reads the cells of an `.xlsb` sheet one by one, within [`SheetBounds`] (calamine's
/// `worksheet_range` would make the area of any two cells dense first).
fn load_xlsb_sheet(
    xlsb: &mut Xlsb<Cursor<Vec<u8>>>,
    sheet: &str,
) -> Result<Range<Data>, WorkbookProblem> {
    let problem = |e| workbook_problem(calamine::Error::Xlsb(e));
    let mut reader = xlsb.worksheet_cells_reader(sheet).map_err(problem)?;
    let mut cells = Vec::new();
    let mut bounds = SheetBounds::new();
    while let Some(cell) = reader.next_cell().map_err(problem)? {
        let value = cell.get_value();
        if matches!(value, calamine::DataRef::Empty) {
            continue;
        }
        bounds.admit(cell.get_position(), text_len(value))?;
        cells.push(calamine::Cell::new(
            cell.get_position(),
            Data::from(value.clone()),
        ));
    }
    Ok(Range::from_sparse(cells))
}

/// Reads one sheet whole, with its merged areas when the format gives them (`.xlsx`, `.xls`)
/// and, for `.xlsx`, its formulas saved without a value.
#[allow(clippy::type_complexity, reason = "a private helper's three results")]
fn load_sheet(
    workbook: &mut Workbook,
    sheet: &str,
) -> Result<(Range<Data>, Option<Vec<calamine::Dimensions>>, Uncomputed), WorkbookProblem> {
    let (range, uncomputed) = match workbook {
        Sheets::Xlsx(xlsx) => load_xlsx_sheet(xlsx, sheet)?,
        Sheets::Xlsb(xlsb) => (load_xlsb_sheet(xlsb, sheet)?, Uncomputed::new()),
        // .xls: every sheet was read when the workbook was opened, within the limits
        // `xls_guard::check` found it keeps; .ods: likewise, `ods_guard::check`.
        _ => (
            workbook.worksheet_range(sheet).map_err(workbook_problem)?,
            Uncomputed::new(),
        ),
    };
    // Merged areas only help to read two-row headers, so a sheet whose merges cannot be read is
    // still read, as if its format had none.
    let merges = match workbook {
        Sheets::Xlsx(xlsx) => xlsx.merge_cells_by_sheet_name(sheet).ok(),
        Sheets::Xls(xls) => xls.merge_cells_by_sheet_name(sheet).ok(),
        Sheets::Xlsb(_) | Sheets::Ods(_) => None,
    };
    Ok((range, merges, uncomputed))
}

fn workbook_problem(error: calamine::Error) -> WorkbookProblem {
    let password = matches!(
        error,
        calamine::Error::Xlsx(calamine::XlsxError::Password)
            | calamine::Error::Xls(calamine::XlsError::Password)
            | calamine::Error::Xlsb(calamine::XlsbError::Password)
            | calamine::Error::Ods(calamine::OdsError::Password)
    );
    if password {
        WorkbookProblem {
            code: "password-protected",
            message: "the workbook is protected by a password".to_string(),
            hint: "remove the password in Excel (File ▸ Info ▸ Protect Workbook ▸ Encrypt with \
                   Password, then clear it) and save again"
                .to_string(),
            sheet: None,
        }
    } else {
        WorkbookProblem {
            code: "bad-workbook",
            message: format!("cannot read the workbook: {error}"),
            hint: "check that the file is an Excel workbook (.xlsx, .xlsm, .xlsb, .xls) or an \
                   OpenDocument spreadsheet (.ods); open it in Excel and save it again as .xlsx"
                .to_string(),
            sheet: None,
        }
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ExcelBody {
    fn read(&mut self, layout: &Layout, record: &mut Record, issues: &mut Issues) -> bool {
        if self.next >= self.range.height() {
            return false;
        }
        let r = self.next;
        self.next += 1;
        let row = u64::from(self.first_row) + r as u64 + 1;
        record.begin(row, layout.columns.len());
        for (field, column) in layout.columns.iter().enumerate() {
            let Some(cell) = column.and_then(|c| self.range.get((r, c))) else {
                continue;
            };
            if matches!(cell, Data::Empty)
                && let Some(c) = *column
                && let Some((start_row, start_column)) = self.range.start()
                && let Some(issue) = self.hidden.issue(
                    start_row + r as u32,
                    start_column + c as u32,
                    layout.location(row, field),
                )
            {
                record.mark_bad(field);
                issues.push(issue);
                continue;
            }
            let start = record.text.len();
            render_cell(cell, &mut record.text);
            record.finish(field, start);
            if let Data::Error(error) = cell {
                record.mark_bad(field);
                issues.push(
                    Issue::error(
                        layout.location(row, field),
                        "excel-error-cell",
                        format!("the cell holds the Excel error `{error}`"),
                    )
                    .with_value(error.to_string())
                    .with_hint("correct the formula, or type the value itself"),
                );
            }
        }
        true
    }
}

/// Writes a cell as text, following the rules in the module documentation.
fn render_cell(cell: &Data, out: &mut String) {
    match cell {
        Data::Empty => {}
        Data::String(s) => out.push_str(s),
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Float(f) => {
            // `{}` is the shortest round-trip form and never writes `.0` or an exponent; only
            // negative zero needs care.
            let f = if *f == 0.0 { 0.0 } else { *f };
            let _ = write!(out, "{f}");
        }
        Data::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Data::DateTime(dt) => render_datetime(dt, out),
        Data::DateTimeIso(s) => {
            let s = s.strip_suffix("T00:00:00").unwrap_or(s);
            out.push_str(&s.replacen('T', " ", 1));
        }
        Data::DurationIso(s) => out.push_str(s),
        Data::Error(e) => {
            let _ = write!(out, "{e}");
        }
    }
}

fn render_datetime(dt: &ExcelDateTime, out: &mut String) {
    let serial = dt.as_f64();
    if dt.is_duration() {
        let seconds = (serial * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let seconds = seconds.unsigned_abs();
        let _ = write!(
            out,
            "{sign}{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        return;
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    // A serial below 1 is a time of day in the 1900 date system, whose day 0 does not exist,
    // but 1904-01-01 in the 1904 system. calamine keeps the system private; comparing with a
    // value built in the 1904 system reveals it.
    let in_1904 = *dt == ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, true);
    let time_only = !in_1904 && (0.0..1.0).contains(&serial);
    if !time_only {
        let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    }
    if time_only || (hour, minute, second, milli) != (0, 0, 0, 0) {
        if !time_only {
            out.push(' ');
        }
        let _ = write!(out, "{hour:02}:{minute:02}:{second:02}");
        if milli != 0 {
            let _ = write!(out, ".{milli:03}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.

struct JsonBody {
    /// The objects, each as (column, value) in the order written.
    rows: Vec<Vec<(usize, crate::json::Value)>>,
    /// For each column (key), the field or wide column it gives, if any.
    column_fields: Vec<Option<usize>>,
    /// The next element to read, 0-based.
    next: usize,
    /// The document's size, for progress.
    size: u64,
}

/// Reads the header of a JSON table: the keys of its objects (see the module documentation).
fn open_json(
    file: String,
    bytes: &[u8],
    schema: &'static Schema,
    options: &ReadOptions,
) -> Result<TableReader, Issues> {
    use crate::json::{self, Element};
    let size = bytes.len() as u64;
    let document = json::parse(bytes).map_err(|problem| {
        let mut location = Location::file(&file);
        location.row = problem.element;
        let hint = if problem.code == "json-not-array" {
            "send an array with one object per row, e.g. [{\"year\": 2023, \"uscc\": \"…\"}, …]"
        } else {
            "check the document with a JSON validator; strings need double quotes, and commas \
             go between values, never after the last one"
        };
        let mut issues = Issues::with_cap(options.issue_cap);
        issues.push(Issue::error(location, problem.code, problem.message).with_hint(hint));
        issues
    })?;
    let mut issues = Issues::with_cap(options.issue_cap);
    let mut rows = Vec::with_capacity(document.elements.len());
    for (i, element) in document.elements.into_iter().enumerate() {
        match element {
            Element::Object(cells) => rows.push(cells),
            Element::Other(kind) => {
                let mut location = Location::file(&file);
                location.row = Some(i as u64 + 1);
                issues.push(
                    Issue::error(
                        location,
                        "json-not-object",
                        format!("element {} of the array is {kind}, not an object", i + 1),
                    )
                    .with_hint("every element must be an object whose keys are column names"),
                );
            }
        }
    }
    if issues.has_errors() {
        return Err(issues);
    }
    if document.keys.is_empty() {
        return Err(fatal(
            &file,
            options,
            "empty-file",
            format!(
                "the JSON array has no object with a key: the {} has no columns",
                schema.kind
            ),
            Some("send one object per row, its keys being the column names"),
        ));
    }
    if document.keys.len() > MAX_COLUMNS {
        return Err(fatal(
            &file,
            options,
            "too-many-columns",
            format!(
                "the objects have {} different keys, more than the {MAX_COLUMNS} columns of any \
                 table (Excel's limit)",
                document.keys.len()
            ),
            Some("send one object per row, its keys being the column names"),
        ));
    }
    let top = [TopRow {
        index: 0,
        row: 1,
        cells: document.keys.iter().map(|k| normalise_text(k)).collect(),
    }];
    let mut header = candidate(schema, &top, 0, None);
    // A key is located at the first element that has it.
    for (column, first) in header.columns.iter_mut().zip(&document.first_seen) {
        column.row = *first;
    }
    let mut layout = Layout::new(file, None, schema);
    match_headers(&mut layout, header, true, &[], &mut issues);
    if issues.has_errors() {
        // A missing key is missing from every element, not from the first.
        let located: Vec<Issue> = issues
            .into_iter()
            .map(|mut issue| {
                if issue.code == "missing-column" {
                    issue.location.row = None;
                }
                issue
            })
            .collect();
        return Err(located.into());
    }
    let mut column_fields = vec![None; layout.headers.len()];
    for (field, column) in layout.columns.iter().enumerate() {
        if let Some(column) = column
            && let Some(slot) = column_fields.get_mut(*column)
        {
            *slot = Some(field);
        }
    }
    Ok(TableReader {
        layout,
        body: Body::Json(JsonBody {
            rows,
            column_fields,
            next: 0,
            size,
        }),
        notes: Vec::new(),
    })
}

impl JsonBody {
    fn read(&mut self, layout: &Layout, record: &mut Record, issues: &mut Issues) -> bool {
        use crate::json::Value;
        let Some(cells) = self.rows.get(self.next) else {
            return false;
        };
        self.next += 1;
        let row = self.next as u64;
        record.begin(row, layout.columns.len());
        let mut given = vec![false; layout.columns.len()];
        for (column, value) in cells {
            let Some(field) = self.column_fields.get(*column).copied().flatten() else {
                continue;
            };
            if std::mem::replace(&mut given[field], true) {
                record.mark_bad(field);
                record.blank = false;
                issues.push(
                    Issue::error(
                        layout.location(row, field),
                        "duplicate-key",
                        "the object gives this column twice",
                    )
                    .with_hint("keep one of the two keys"),
                );
                continue;
            }
            match value {
                Value::Null => {}
                Value::Text(text) => {
                    let start = record.text.len();
                    record.text.push_str(text);
                    record.finish(field, start);
                }
                Value::Nested(kind) => {
                    record.mark_bad(field);
                    record.blank = false;
                    issues.push(
                        Issue::error(
                            layout.location(row, field),
                            "json-nested-value",
                            format!("the value is {kind}; a cell holds a string or a number"),
                        )
                        .with_hint("write the value as a string or a number (null when empty)"),
                    );
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema of every test: two required fields and an optional one.
    static SCHEMA: Schema = Schema {
        kind: "test table",
        fields: &[
            Field {
                name: "name",
                aliases: &["名称", "产品名称"],
                required: true,
            },
            Field {
                name: "amount",
                aliases: &["数量", "活动水平"],
                required: true,
            },
            Field {
                name: "date",
                aliases: &["日期"],
                required: false,
            },
        ],
        wide: None,
    };
    const NAME: usize = 0;
    const AMOUNT: usize = 1;
    const DATE: usize = 2;

    /// (row, name, amount) of a record.
    type Seen = (u64, String, String);

    /// Every record of `reader`, and the issues' rows.
    fn all_records(reader: &mut TableReader) -> (Vec<Seen>, Vec<Option<u64>>) {
        let mut out = Vec::new();
        let mut issues = Issues::new();
        let mut record = Record::new();
        while reader.read(&mut record, &mut issues).expect("readable") {
            if !record.is_blank() {
                out.push((
                    record.row(),
                    record.get(NAME).unwrap_or("").to_string(),
                    record.get(AMOUNT).unwrap_or("").to_string(),
                ));
            }
        }
        (out, issues.iter().map(|i| i.location.row).collect())
    }

    #[test]
    fn parts_of_a_csv_file_read_every_record_once_with_its_row() {
        // A title line, a header, quoted fields with commas, quotes and line breaks, blank lines
        // and a ragged row, in GBK, without a final line break.
        let mut text = String::from("活动数据表\n名称,数量,日期\n");
        for i in 0..3000 {
            match i % 7 {
                0 => text.push_str(&format!("\"产品,{i}\",{i},2024-01-01\n")),
                1 => text.push_str(&format!("\"多行\n产品{i}\",{i},\n")),
                2 => text.push_str("\n\n"),
                3 => text.push_str(&format!("\"引号\"\"{i}\",{i},2024-02-02\n")),
                4 => text.push_str(&format!("残缺{i}\n")),
                _ => text.push_str(&format!("产品{i},{i},2024-03-03\n")),
            }
        }
        text.push_str("最后,1,2024-12-31");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("parts.csv");
        std::fs::write(&path, &gbk).expect("write");
        let options = ReadOptions::default();
        let mut whole = TableReader::open(&path, &SCHEMA, &options).expect("opens");
        let (expected, expected_issues) = all_records(&mut whole);
        assert!(expected.len() > 2000);
        for parts in [2, 3, 7] {
            let split = split_csv(&path, parts, 0).expect("scan").expect("split");
            assert_eq!(split.len(), parts);
            assert_eq!(split[0].start, 0);
            assert_eq!(split.last().expect("last").end, gbk.len() as u64);
            let (mut got, mut got_issues) = (Vec::new(), Vec::new());
            for part in split {
                let mut reader = TableReader::open(&path, &SCHEMA, &options).expect("opens");
                assert!(reader.restrict(part), "{part:?}");
                let (records, issues) = all_records(&mut reader);
                got.extend(records);
                got_issues.extend(issues);
            }
            assert_eq!(got, expected, "{parts} parts");
            assert_eq!(got_issues, expected_issues, "{parts} parts");
        }
        // Too small to split.
        assert_eq!(split_csv(&path, 2, 1 << 30).expect("scan"), None);
    }

    /// A workbook written once with rust_xlsxwriter, with the sheets `活动数据` (the table at B2
    /// with numbers, dates, a boolean, a `#DIV/0!` formula and a blank row), `第二页` (English
    /// headers at A1), `空` (empty), `空列` (an empty column C between named ones), `无名列` (data
    /// under an empty header) and `标题` (a title row above the header).
    const WORKBOOK: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/table/workbook.xlsx"
    );

    /// A record as plain data: its row and its three cells.
    type Row = (u64, [Option<String>; 3]);

    /// Builds an expected row; empty strings stand for absent cells.
    fn row(n: u64, cells: [&str; 3]) -> Row {
        (n, cells.map(|c| (!c.is_empty()).then(|| c.to_string())))
    }

    fn open(bytes: &[u8], options: &ReadOptions) -> Result<TableReader, Issues> {
        TableReader::from_bytes("t.csv", bytes.to_vec(), SourceKind::Csv, &SCHEMA, options)
    }

    /// Reads every non-blank record; also returns which rows were bad.
    fn read_all(reader: &mut TableReader) -> (Vec<Row>, Vec<u64>, Vec<Issue>) {
        let mut issues = Issues::new();
        let mut record = Record::new();
        let (mut rows, mut bad) = (Vec::new(), Vec::new());
        while reader.read(&mut record, &mut issues).expect("no I/O error") {
            if record.is_blank() {
                continue;
            }
            if record.is_bad() {
                bad.push(record.row());
            }
            let cells = [NAME, AMOUNT, DATE].map(|f| record.get(f).map(str::to_string));
            rows.push((record.row(), cells));
        }
        (rows, bad, issues.into_vec())
    }

    /// Reads a CSV that must open.
    fn csv(bytes: &[u8]) -> (Vec<Row>, Vec<u64>, Vec<Issue>) {
        let mut reader = open(bytes, &ReadOptions::default())
            .unwrap_or_else(|issues| panic!("cannot open:\n{issues}"));
        read_all(&mut reader)
    }

    /// The issues of a CSV that must not open.
    fn refused(bytes: &[u8]) -> Vec<Issue> {
        match open(bytes, &ReadOptions::default()) {
            Ok(_) => panic!("opened {:?}", String::from_utf8_lossy(bytes)),
            Err(issues) => issues.into_vec(),
        }
    }

    fn codes(issues: &[Issue]) -> Vec<&'static str> {
        let mut codes: Vec<_> = issues.iter().map(|i| i.code).collect();
        codes.sort_unstable();
        codes
    }

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    fn excel(options: &ReadOptions) -> Result<TableReader, Issues> {
        TableReader::open(Path::new(WORKBOOK), &SCHEMA, options)
    }

    const TABLE: &str = "名称,数量,日期\n钢铁,1500,2024-03-01\n\" 水泥 \",\"1,234.5\",\nsteel,2,\n";

    #[test]
    fn utf8_with_or_without_bom_and_gbk_give_the_same_records() {
        let expected = vec![
            row(2, ["钢铁", "1500", "2024-03-01"]),
            row(3, ["水泥", "1,234.5", ""]),
            row(4, ["steel", "2", ""]),
        ];
        let crlf = TABLE.replace('\n', "\r\n");
        let cases = [
            (TABLE.as_bytes().to_vec(), Encoding::Utf8),
            ([UTF8_BOM, TABLE.as_bytes()].concat(), Encoding::Utf8),
            (crlf.as_bytes().to_vec(), Encoding::Utf8),
            (gbk(TABLE), Encoding::Gb18030),
            (gbk(&crlf), Encoding::Gb18030),
        ];
        for (bytes, encoding) in cases {
            let mut reader = open(&bytes, &ReadOptions::default()).unwrap();
            assert_eq!(reader.encoding(), Some(encoding));
            assert_eq!(reader.headers(), ["名称", "数量", "日期"]);
            assert_eq!(read_all(&mut reader), (expected.clone(), vec![], vec![]));
        }
    }

    #[test]
    fn headers_match_in_either_language_in_any_order() {
        let cases = [
            ("名称,数量,日期", "钢铁,12,2024"),
            ("name,amount,date", "钢铁,12,2024"),
            ("Amount,NAME,Date", "12,钢铁,2024"),
            ("日期,amount,产品名称", "2024,12,钢铁"),
            ("\u{feff}  名称 ,活动水平（吨）,日期 (年)", "钢铁,12,2024"),
            ("名称,数量(t),date（YYYY）", "钢铁,12,2024"),
        ];
        for (header, line) in cases {
            let (rows, _, issues) = csv(format!("{header}\n{line}\n").as_bytes());
            assert_eq!(rows, [row(2, ["钢铁", "12", "2024"])], "{header}");
            assert!(issues.is_empty());
        }
        let mut reader = open("数量,名称\n1,a\n".as_bytes(), &ReadOptions::default()).unwrap();
        assert!(!reader.field_present(DATE));
        assert_eq!(
            (reader.column(NAME), reader.column(AMOUNT)),
            (Some(1), Some(0))
        );
        assert_eq!(read_all(&mut reader).0, [row(2, ["a", "1", ""])]);
    }

    #[test]
    fn every_header_problem_is_reported_at_once() {
        let issues = refused("名称,foo,name,日期,bar\n".as_bytes());
        assert_eq!(
            codes(&issues),
            [
                "duplicate-column",
                "missing-column",
                "no-header-row",
                "unknown-column",
                "unknown-column"
            ]
        );
        let no_header = issues.iter().find(|i| i.code == "no-header-row").unwrap();
        assert_eq!(
            no_header.to_string(),
            "error[no-header-row]: t.csv, row 1: no row among the first 20 non-blank rows names \
             every required column of the test table (`name`, `amount`): row 1 comes closest, \
             naming 1 of the 2\n  hint: the header must be one of the first 20 non-blank rows \
             (a header of two rows, such as a merged group over sub-headers, is read as one); \
             the required columns and their accepted names are `name` (名称, 产品名称), \
             `amount` (数量, 活动水平)"
        );
        let unknown = issues.iter().find(|i| i.code == "unknown-column").unwrap();
        assert_eq!(unknown.location.row, Some(1));
        assert_eq!(unknown.location.column.as_deref(), Some("foo"));
        assert!(
            unknown
                .hint
                .as_ref()
                .unwrap()
                .contains("`amount` (数量, 活动水平)")
        );
        let missing = issues.iter().find(|i| i.code == "missing-column").unwrap();
        assert!(missing.message.contains("`amount` (数量, 活动水平)"));
        assert_eq!(
            missing.hint.as_deref(),
            Some("add a column headed `数量`, `活动水平` or `amount`")
        );
        let duplicate = issues
            .iter()
            .find(|i| i.code == "duplicate-column")
            .unwrap();
        assert_eq!(duplicate.location.column.as_deref(), Some("name"));
    }

    #[test]
    fn header_problems_come_with_helpful_hints() {
        let typo = refused("名秤,数量\n".as_bytes());
        assert!(
            typo[0]
                .hint
                .as_ref()
                .unwrap()
                .starts_with("did you mean `名称`?")
        );
        // A header below the first 20 non-blank rows is not found.
        let far = format!("2024年活动数据表\n{}名称,数量\n", "x\n".repeat(25));
        let none = refused(far.as_bytes());
        assert_eq!(
            codes(&none),
            [
                "missing-column",
                "missing-column",
                "no-header-row",
                "unknown-column"
            ]
        );
        let no_header = none.iter().find(|i| i.code == "no-header-row").unwrap();
        assert_eq!(no_header.location, Location::file("t.csv"));
        assert!(no_header.message.ends_with("no row names any of them"));
        let empty = refused("名称,,数量\n".as_bytes());
        assert_eq!(codes(&empty), ["empty-column-name"]);
        assert_eq!(empty[0].message, "the header of column 2 is empty");
        let tabs = refused("名称\t数量\na\t1\n".as_bytes());
        assert_eq!(codes(&tabs), ["wrong-delimiter"]);
        assert!(tabs[0].hint.as_ref().unwrap().contains("CSV UTF-8"));
    }

    #[test]
    fn cells_are_trimmed_of_any_whitespace() {
        let text = "名称,数量,日期\n\u{3000}钢铁\u{3000},\u{a0}12\t,\" x y \"\n 纸, 1 ,\u{2003}\n";
        let (rows, _, _) = csv(text.as_bytes());
        assert_eq!(
            rows,
            [row(2, ["钢铁", "12", "x y"]), row(3, ["纸", "1", ""])]
        );
    }

    #[test]
    fn ragged_rows_are_reported_and_still_returned() {
        let (rows, bad, issues) =
            csv("名称,数量,日期\na,1,x\nb,2\nc,3,y,z\n,,\n,\nd,4,w\n".as_bytes());
        assert_eq!(
            rows,
            [
                row(2, ["a", "1", "x"]),
                row(3, ["b", "2", ""]),
                row(4, ["c", "3", "y"]),
                row(7, ["d", "4", "w"]),
            ]
        );
        assert_eq!(bad, [3, 4]);
        let found: Vec<_> = issues
            .iter()
            .map(|i| (i.code, i.location.row, i.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "ragged-row",
                    Some(3),
                    "the row has 2 fields but the header has 3 columns"
                ),
                (
                    "ragged-row",
                    Some(4),
                    "the row has 4 fields but the header has 3 columns"
                ),
            ]
        );
    }

    #[test]
    fn rows_are_lines_as_an_editor_shows_them() {
        let cases: [(&str, Vec<u64>); 4] = [
            ("\n\n名称,数量\na,1\n\nb,2", vec![4, 6]),
            ("名称,数量\r\n\r\na,1\r\nb,2\r\n", vec![3, 4]),
            ("名称,数量\ra,1\r\rb,2\r", vec![2, 4]),
            (
                "名称,数量\n\"a\nb\",1\n\n\"c\r\n\",\"2\n\"\nd,3\n",
                vec![2, 5, 8],
            ),
        ];
        for (text, expected) in cases {
            let (rows, _, issues) = csv(text.as_bytes());
            assert!(issues.is_empty(), "{text:?}: {issues:?}");
            assert_eq!(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn invalid_bytes_beyond_the_sniffed_64_kib_are_located() {
        let mut bytes = "名称,数量,日期\n".as_bytes().to_vec();
        for i in 2..5000 {
            bytes.extend_from_slice(format!("钢铁{i},{i},2024\n").as_bytes());
        }
        assert!(bytes.len() > SNIFF);
        bytes.extend_from_slice(&gbk("钢铁,5000,2024\n"));
        bytes.extend_from_slice(b"last,5001,\n");
        let mut reader = open(&bytes, &ReadOptions::default()).unwrap();
        assert_eq!(reader.encoding(), Some(Encoding::Utf8));
        let (rows, bad, issues) = read_all(&mut reader);
        assert_eq!(rows.len(), 5000);
        assert_eq!(bad, [5000]);
        assert_eq!(
            rows[4998],
            row(5000, ["\u{fffd}".repeat(4).as_str(), "5000", "2024"])
        );
        assert_eq!(issues.len(), 1);
        let issue = &issues[0];
        assert_eq!(issue.code, "bad-encoding");
        assert_eq!(issue.location, reader.location(5000, NAME));
        assert_eq!(issue.location.column.as_deref(), Some("名称"));
        assert_eq!(
            issue.message,
            "the cell is not valid UTF-8: bytes b8 d6 cc fa"
        );
        assert!(
            issue
                .hint
                .as_ref()
                .unwrap()
                .contains("first 64 KiB were valid UTF-8")
        );
        assert_eq!(reader.bytes_read(), reader.total_bytes().unwrap());
    }

    #[test]
    fn a_forced_encoding_wins_over_detection() {
        let utf8 = ReadOptions {
            encoding: "utf-8".parse().unwrap(),
            ..ReadOptions::default()
        };
        let issues = open(&gbk(TABLE), &utf8).unwrap_err().into_vec();
        assert_eq!(
            codes(&issues),
            [
                "bad-encoding",
                "bad-encoding",
                "bad-encoding",
                "missing-column",
                "missing-column",
                "no-header-row"
            ]
        );
        let gb = ReadOptions {
            encoding: "GBK".parse().unwrap(),
            ..ReadOptions::default()
        };
        let mut reader = open(&gbk(TABLE), &gb).unwrap();
        assert_eq!(reader.encoding(), Some(Encoding::Gb18030));
        assert_eq!(read_all(&mut reader).0.len(), 3);
        for (text, choice) in [
            ("auto", EncodingChoice::Auto),
            ("UTF8", EncodingChoice::Utf8),
            ("gb2312", EncodingChoice::Gb18030),
            (" gb18030 ", EncodingChoice::Gb18030),
        ] {
            assert_eq!(text.parse::<EncodingChoice>(), Ok(choice));
        }
        assert!("latin1".parse::<EncodingChoice>().is_err());
        assert_eq!(Encoding::Gb18030.to_string(), "GB18030 (GBK)");
    }

    #[test]
    fn utf16_and_workbooks_named_csv_are_refused() {
        let utf16le: Vec<u8> = TABLE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = TABLE.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let cases = [
            ([&[0xFF, 0xFE][..], &utf16le].concat(), "bad-encoding"),
            ([&[0xFE, 0xFF][..], &utf16be].concat(), "bad-encoding"),
            (
                "name,amount\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect(),
                "bad-encoding",
            ),
            (std::fs::read(WORKBOOK).unwrap(), "wrong-format"),
        ];
        for (bytes, code) in cases {
            let issues = refused(&bytes);
            assert_eq!(codes(&issues), [code]);
            assert!(issues[0].hint.is_some());
        }
    }

    #[test]
    fn an_empty_file_is_refused_and_a_header_alone_is_fine() {
        for bytes in [&b""[..], UTF8_BOM, b"\n\r\n", b",,\n , \n"] {
            assert_eq!(codes(&refused(bytes)), ["empty-file"], "{bytes:?}");
        }
        for text in ["名称,数量\n", "名称,数量", "名称,数量\n,,\n"] {
            assert_eq!(csv(text.as_bytes()), (vec![], vec![], vec![]));
        }
    }

    #[test]
    fn a_quote_left_open_at_the_end_is_reported() {
        let (rows, bad, issues) = csv("名称,数量\na,1\nb,\"2\nc,3\nd,4\n".as_bytes());
        assert_eq!(
            rows,
            [row(2, ["a", "1", ""]), row(3, ["b", "2\nc,3\nd,4", ""])]
        );
        assert_eq!(bad, [3]);
        assert_eq!(codes(&issues), ["unclosed-quote"]);
        assert_eq!(issues[0].location.row, Some(3));
        assert_eq!(issues[0].location.column.as_deref(), Some("数量"));
        assert!(
            issues[0].message.ends_with("(over 3 more lines)"),
            "{}",
            issues[0].message
        );

        let (_, bad, issues) = csv("名称,数量\r\na,\"1".as_bytes());
        assert_eq!((bad, codes(&issues)), (vec![2], vec!["unclosed-quote"]));
        assert!(issues[0].message.ends_with("(on this line)"));

        // Quoted line breaks that are closed, at the end or before it, are fine.
        for text in [
            "名称,数量\na,\"1\n2\"",
            "名称,数量\na,\"1\n2\"\n",
            "名称,数量\n\"a\"\"\",1\n",
        ] {
            let (rows, _, issues) = csv(text.as_bytes());
            assert!(issues.is_empty(), "{text:?}");
            assert_eq!(rows.len(), 1);
        }
        assert_eq!(
            codes(&refused("名称,\"数量\n".as_bytes())),
            ["unclosed-quote"]
        );
        let swallowed = format!("名称,\"数量\n{}", "钢铁,1\n".repeat(100));
        let issues = refused(swallowed.as_bytes());
        assert_eq!(
            codes(&issues),
            [
                "missing-column",
                "no-header-row",
                "unclosed-quote",
                "unknown-column"
            ]
        );
        assert!(issues.iter().all(|i| i.to_string().len() < 1000));
    }

    #[test]
    fn a_character_split_by_a_comma_is_invalid_in_both_fields() {
        let utf8 = ReadOptions {
            encoding: EncodingChoice::Utf8,
            ..ReadOptions::default()
        };
        let mut reader = open(b"name,amount\n\xE4\xB8,\xAD\n", &utf8).unwrap();
        let (rows, bad, issues) = read_all(&mut reader);
        assert_eq!(rows, [row(2, ["\u{fffd}", "\u{fffd}", ""])]);
        assert_eq!(bad, [2]);
        assert_eq!(codes(&issues), ["bad-encoding", "bad-encoding"]);
    }

    #[test]
    fn readers_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<TableReader>();
        send::<Record>();
        send::<Issues>();
    }

    #[test]
    fn nul_bytes_are_reported_and_removed() {
        let (rows, bad, issues) = csv(b"name,amount\na\0b,1\n");
        assert_eq!((rows, bad), (vec![row(2, ["ab", "1", ""])], vec![2]));
        assert_eq!(codes(&issues), ["nul-byte"]);
        let mut reader = open(b"name,amount\na\0b,1\n", &ReadOptions::default()).unwrap();
        let mut record = Record::new();
        reader.read(&mut record, &mut Issues::new()).unwrap();
        assert!(record.is_bad_cell(NAME) && !record.is_bad_cell(AMOUNT));
    }

    #[test]
    fn locations_name_the_file_row_and_header() {
        let reader = open("数量,名称\n".as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(reader.file_name(), "t.csv");
        let at = |field| reader.location(9, field).column;
        assert_eq!(
            [at(NAME), at(AMOUNT), at(DATE)],
            [Some("名称"), Some("数量"), Some("date")].map(|c| c.map(str::to_string))
        );
        assert_eq!(
            reader.location(9, NAME).to_string(),
            "t.csv, row 9, column `名称`"
        );
    }

    #[test]
    fn files_open_by_extension_or_content() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.csv", "a.TXT", "a.dat"] {
            let path = dir.path().join(name);
            std::fs::write(&path, gbk(TABLE)).unwrap();
            let mut reader = TableReader::open(&path, &SCHEMA, &ReadOptions::default()).unwrap();
            assert_eq!(reader.encoding(), Some(Encoding::Gb18030));
            assert_eq!(read_all(&mut reader).0.len(), 3);
        }
        let copy = dir.path().join("copy.bin");
        std::fs::copy(WORKBOOK, &copy).unwrap();
        let reader = TableReader::open(&copy, &SCHEMA, &ReadOptions::default()).unwrap();
        assert_eq!(reader.encoding(), None);
        let missing = TableReader::open(
            &dir.path().join("none.csv"),
            &SCHEMA,
            &ReadOptions::default(),
        );
        assert_eq!(codes(&missing.unwrap_err().into_vec()), ["cannot-open"]);
        let folder = TableReader::open(dir.path(), &SCHEMA, &ReadOptions::default());
        assert_eq!(codes(&folder.unwrap_err().into_vec()), ["cannot-open"]);
        let kinds = ["x.csv", "x.tsv", "X.XLSX", "x.xls", "x.ods", "x.json", "x"]
            .map(|p| SourceKind::from_path(Path::new(p)));
        use SourceKind::{Csv, Excel, Json};
        assert_eq!(
            kinds,
            [
                Some(Csv),
                Some(Csv),
                Some(Excel),
                Some(Excel),
                Some(Excel),
                Some(Json),
                None
            ]
        );
        // A JSON file by its extension; rows are elements.
        let path = dir.path().join("a.json");
        std::fs::write(
            &path,
            r#"[{"名称": "钢铁", "数量": 1500, "日期": "2024-03-01"}, {"name": " 水泥 ", "amount": 1234.5}]"#,
        )
        .unwrap();
        // `name` and `amount` name fields the Chinese keys of the first element named already.
        let twice = TableReader::open(&path, &SCHEMA, &ReadOptions::default()).unwrap_err();
        assert_eq!(
            twice
                .iter()
                .map(|i| (i.code, i.location.row, i.location.column.clone()))
                .collect::<Vec<_>>(),
            [
                ("duplicate-column", Some(2), Some("name".to_string())),
                ("duplicate-column", Some(2), Some("amount".to_string()))
            ]
        );
        std::fs::write(
            &path,
            r#"[{"名称": "钢铁", "数量": 1500, "日期": "2024-03-01"}, {"名称": " 水泥 ", "数量": 1234.5}]"#,
        )
        .unwrap();
        let mut reader = TableReader::open(&path, &SCHEMA, &ReadOptions::default()).unwrap();
        assert_eq!(
            read_all(&mut reader).0,
            [
                row(1, ["钢铁", "1500", "2024-03-01"]),
                row(2, ["水泥", "1234.5", ""])
            ]
        );
    }

    #[test]
    fn excel_cells_become_text() {
        let mut reader = excel(&ReadOptions::default()).unwrap();
        assert_eq!(reader.sheet(), Some("活动数据"));
        assert_eq!(reader.header_row(), 2);
        assert_eq!(reader.encoding(), None);
        let (rows, bad, issues) = read_all(&mut reader);
        assert_eq!(
            rows,
            [
                row(3, ["钢铁", "1500", "2024-03-01"]),
                row(4, ["水泥", "0.25", "2024-03-01 08:30:00"]),
                row(6, ["焦炭", "0.0000001", "TRUE"]),
                row(7, ["玻璃", "#DIV/0!", ""]),
                row(8, ["纸", "42", "1900-03-01"]),
                row(9, ["布", "-3.5", "1900-02-29"]),
            ]
        );
        assert_eq!(bad, [7]);
        assert_eq!(issues.len(), 1);
        assert_eq!(
            issues[0].to_string(),
            format!(
                "error[excel-error-cell]: {WORKBOOK}, 活动数据!C7 (数量（吨）): the cell holds the \
                 Excel error `#DIV/0!`\n  hint: correct the formula, or type the value itself"
            )
        );
        assert_eq!(reader.bytes_read(), reader.total_bytes().unwrap());
    }

    #[test]
    fn excel_sheets_are_chosen_by_name() {
        let sheet = |name: &str| ReadOptions {
            sheet: Some(name.to_string()),
            ..ReadOptions::default()
        };
        let mut reader = excel(&sheet("第二页")).unwrap();
        assert_eq!(
            read_all(&mut reader).0,
            [row(2, ["a", "1", ""]), row(3, ["b", "2.5", ""])]
        );
        assert_eq!(
            reader.location(3, AMOUNT).column.as_deref(),
            Some("B (amount)")
        );

        let unknown = excel(&sheet("第三页")).unwrap_err().into_vec();
        assert_eq!(codes(&unknown), ["unknown-sheet"]);
        assert_eq!(
            unknown[0].hint.as_deref(),
            Some("its sheets are `活动数据`, `第二页`, `空`, `空列`, `无名列`, `标题`")
        );
        assert_eq!(
            codes(&excel(&sheet("空")).unwrap_err().into_vec()),
            ["empty-file"]
        );
    }

    #[test]
    fn excel_columns_without_a_header_are_ignored_only_when_empty() {
        let sheet = |name: &str| ReadOptions {
            sheet: Some(name.to_string()),
            ..ReadOptions::default()
        };
        let mut reader = excel(&sheet("空列")).unwrap();
        assert_eq!(reader.headers(), ["名称", "数量", "", "日期"]);
        assert_eq!(read_all(&mut reader).0, [row(2, ["a", "1", "2024"])]);
        assert_eq!(reader.location(2, DATE).column.as_deref(), Some("D (日期)"));

        let unnamed = excel(&sheet("无名列")).unwrap_err().into_vec();
        assert_eq!(codes(&unnamed), ["empty-column-name"]);
        assert_eq!(unnamed[0].location.column.as_deref(), Some("C"));
        assert_eq!(unnamed[0].message, "the header of column C is empty");

        // The title row above the header is skipped.
        let mut title = excel(&sheet("标题")).unwrap();
        assert_eq!((title.header_row(), title.header_height()), (2, 1));
        assert_eq!(title.headers(), ["名称", "数量"]);
        assert_eq!(read_all(&mut title).0, []);
    }

    #[test]
    fn damaged_workbooks_are_issues_not_panics() {
        let bytes = std::fs::read(WORKBOOK).unwrap();
        let cases = [
            ("half.xlsx", bytes[..bytes.len() / 2].to_vec()),
            ("upload", bytes[..bytes.len() / 2].to_vec()),
            ("text.xlsx", TABLE.as_bytes().to_vec()),
            ("text.xls", TABLE.as_bytes().to_vec()),
            ("empty.ods", Vec::new()),
        ];
        for (name, bytes) in cases {
            let result = TableReader::from_bytes(
                name,
                bytes,
                SourceKind::Excel,
                &SCHEMA,
                &ReadOptions::default(),
            );
            let issues = result.unwrap_err().into_vec();
            assert_eq!(codes(&issues), ["bad-workbook"], "{name}");
            assert_eq!(issues[0].location, Location::file(name));
        }
        let locked = workbook_problem(calamine::Error::Xlsx(calamine::XlsxError::Password));
        assert_eq!(locked.code, "password-protected");
        assert!(locked.hint.contains("remove the password"));
        let upload = TableReader::from_bytes(
            "upload",
            bytes,
            SourceKind::Excel,
            &SCHEMA,
            &ReadOptions::default(),
        );
        assert_eq!(upload.unwrap().headers(), ["名称", "数量（吨）", "日期"]);
    }

    #[test]
    fn excel_values_render_as_a_user_expects() {
        let datetime = |serial, is_1904| {
            Data::DateTime(ExcelDateTime::new(
                serial,
                ExcelDateTimeType::DateTime,
                is_1904,
            ))
        };
        let cases = [
            (Data::Float(1500.0), "1500"),
            (Data::Float(0.1), "0.1"),
            (Data::Float(-0.0), "0"),
            (Data::Float(1e21), "1000000000000000000000"),
            (Data::Float(0.30000000000000004), "0.30000000000000004"),
            (Data::Int(-7), "-7"),
            (Data::Bool(false), "FALSE"),
            (Data::String(" 文字 ".to_string()), " 文字 "),
            (Data::Empty, ""),
            (Data::Error(calamine::CellErrorType::NA), "#N/A"),
            (datetime(45352.0, false), "2024-03-01"),
            (datetime(1.0, false), "1900-01-01"),
            (datetime(59.0, false), "1900-02-28"),
            (datetime(60.0, false), "1900-02-29"),
            (datetime(61.0, false), "1900-03-01"),
            (datetime(45352.5005, false), "2024-03-01 12:00:43.200"),
            (datetime(0.75, false), "18:00:00"),
            (datetime(0.0, true), "1904-01-01"),
            (datetime(43890.0, true), "2024-03-01"),
            (
                Data::DateTime(ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false)),
                "36:00:00",
            ),
            (
                Data::DateTimeIso("2024-03-01T00:00:00".to_string()),
                "2024-03-01",
            ),
            (
                Data::DateTimeIso("2024-03-01T08:30:00".to_string()),
                "2024-03-01 08:30:00",
            ),
            (Data::DurationIso("PT8H".to_string()), "PT8H"),
        ];
        for (cell, expected) in cases {
            let mut text = String::new();
            render_cell(&cell, &mut text);
            assert_eq!(text, expected, "{cell:?}");
        }
    }

    /// A schema with a wide pair: `amount` given per `kind`, as `数量(a)`.
    static WIDE_SCHEMA: Schema = Schema {
        kind: "wide table",
        fields: &[
            Field {
                name: "name",
                aliases: &["名称", "产品名称"],
                required: true,
            },
            Field {
                name: "kind",
                aliases: &["种类"],
                required: true,
            },
            Field {
                name: "amount",
                aliases: &["数量"],
                required: false,
            },
        ],
        wide: Some(Wide { value: 2, key: 1 }),
    };

    fn open_wide(text: &str) -> Result<TableReader, Issues> {
        TableReader::from_bytes(
            "w.csv",
            text.as_bytes().to_vec(),
            SourceKind::Csv,
            &WIDE_SCHEMA,
            &ReadOptions::default(),
        )
    }

    /// A record of a wide table as plain data: its row, and each wide column's key and cell.
    type WideRow = (u64, Vec<(String, Option<String>)>);

    /// The key of each wide column and its cells, row by row.
    fn wide_cells(reader: &mut TableReader) -> Vec<WideRow> {
        let columns = reader.wide_columns().to_vec();
        let mut record = Record::new();
        let mut issues = Issues::new();
        let mut out = Vec::new();
        while reader.read(&mut record, &mut issues).unwrap() {
            let cells = columns
                .iter()
                .map(|c| (c.key.clone(), record.get(c.field).map(str::to_string)))
                .collect();
            out.push((record.row(), cells));
        }
        assert!(issues.is_empty(), "{issues}");
        out
    }

    #[test]
    fn the_header_is_found_below_titles_and_blank_rows() {
        let text = "2024年活动数据表,,\n,,\n单位：吨\n名称,数量,日期\n钢铁,1,2024\n";
        let mut reader = open(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!((reader.header_row(), reader.header_height()), (4, 1));
        assert_eq!(read_all(&mut reader).0, [row(5, ["钢铁", "1", "2024"])]);

        // The first row naming every required field wins, even if a later one names more.
        let text = "名称,数量\n名称,数量,日期\n";
        assert_eq!(
            open(text.as_bytes(), &ReadOptions::default())
                .unwrap()
                .header_row(),
            1
        );

        // A header on the 20th non-blank row is found, with blank rows in between not counted.
        let text = format!("{}\n\n名称,数量\na,1\n", "标题\n".repeat(19));
        let mut reader = open(text.as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(reader.header_row(), 22);
        assert_eq!(read_all(&mut reader).0, [row(23, ["a", "1", ""])]);
        let text = format!("{}名称,数量\n", "标题\n".repeat(20));
        assert!(open(text.as_bytes(), &ReadOptions::default()).is_err());
    }

    #[test]
    fn the_closest_row_is_reported_when_none_qualifies() {
        let text = "说明：数量单位为吨\n名秤,数量,日期\na,1,2\n";
        let issues = refused(text.as_bytes());
        assert_eq!(
            codes(&issues),
            ["missing-column", "no-header-row", "unknown-column"]
        );
        let unknown = issues.iter().find(|i| i.code == "unknown-column").unwrap();
        assert_eq!(unknown.location.row, Some(2));
        assert!(
            unknown
                .hint
                .as_ref()
                .unwrap()
                .starts_with("did you mean `名称`?")
        );
        let no_header = issues.iter().find(|i| i.code == "no-header-row").unwrap();
        assert_eq!(no_header.location.row, Some(2));
        assert!(
            no_header
                .message
                .ends_with("(`name`, `amount`): row 2 comes closest, naming 1 of the 2"),
            "{}",
            no_header.message
        );
    }

    #[test]
    fn two_row_headers_read_as_one() {
        // `产品` over `名称` names `产品名称`; `数量` is merged over both rows.
        let mut reader = open(
            "产品,数量\n名称,\n钢铁,1\n".as_bytes(),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!((reader.header_row(), reader.header_height()), (1, 2));
        assert_eq!(reader.headers(), ["产品(名称)", "数量"]);
        assert_eq!(read_all(&mut reader).0, [row(3, ["钢铁", "1", ""])]);
        assert_eq!(
            reader.location(3, NAME).column.as_deref(),
            Some("产品(名称)")
        );

        // A header followed by data, or a title followed by the header, is not a pair.
        let mut reader = open(
            "名称,数量\n产品名称,2\n".as_bytes(),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(reader.header_height(), 1);
        assert_eq!(read_all(&mut reader).0, [row(2, ["产品名称", "2", ""])]);
        let reader = open("表一,\n名称,数量\n".as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!((reader.header_row(), reader.header_height()), (2, 1));
    }

    #[test]
    fn wide_columns_are_found_in_one_or_two_header_rows() {
        // One row, ASCII or full-width brackets; the key is kept as written.
        let mut reader = open_wide("名称,数量(a),数量（b（c））\nx,1,\n").unwrap();
        assert_eq!(
            reader.wide_columns(),
            [
                WideColumn {
                    key: "a".to_string(),
                    column: 1,
                    field: 3
                },
                WideColumn {
                    key: "b（c）".to_string(),
                    column: 2,
                    field: 4
                },
            ]
        );
        assert!(!reader.field_present(1) && !reader.field_present(2));
        assert_eq!(
            reader.location(2, 4).column.as_deref(),
            Some("数量（b（c））")
        );
        let expected = vec![(
            2,
            vec![
                ("a".to_string(), Some("1".to_string())),
                ("b（c）".to_string(), None),
            ],
        )];
        assert_eq!(wide_cells(&mut reader), expected);

        // Two rows: a group over the keys, its other cells empty as a merged area exports.
        let mut reader = open_wide("名称,数量,\n,a,b\nx,1,2\n").unwrap();
        assert_eq!(reader.header_height(), 2);
        assert_eq!(reader.headers(), ["名称", "数量(a)", "数量(b)"]);
        assert_eq!(wide_cells(&mut reader)[0].0, 3);

        // With a key column, `数量(吨)` is the value with a unit note.
        let mut reader = open_wide("名称,种类,数量(吨)\nx,a,1\n").unwrap();
        assert!(reader.wide_columns().is_empty());
        assert_eq!(reader.column(2), Some(2));
        assert_eq!(wide_cells(&mut reader).len(), 1);
    }

    #[test]
    fn wide_layouts_that_contradict_themselves_are_refused() {
        let issues = |text: &str| open_wide(text).unwrap_err().into_vec();
        let both = issues("名称,种类,数量(a),数量(b)\n");
        assert_eq!(codes(&both), ["duplicate-column"]);
        assert!(both[0].hint.as_ref().unwrap().contains("keep one layout"));
        let mixed = issues("名称,数量,数量(a)\n");
        assert_eq!(codes(&mixed), ["mixed-layout"]);
        assert_eq!(mixed[0].location.column.as_deref(), Some("数量"));
        let twice = issues("名称,数量(a),数量（Ａ）\n");
        assert_eq!(codes(&twice), ["duplicate-column"]);
        assert_eq!(twice[0].location.column.as_deref(), Some("数量（Ａ）"));
        // Without wide columns the key is required as usual.
        assert_eq!(
            codes(&issues("名称,数量\n")),
            ["missing-column", "no-header-row"]
        );
    }

    #[test]
    fn every_sheet_with_a_header_can_be_read() {
        let path = Path::new(WORKBOOK);
        let all =
            TableReader::open_sheets(path, &SCHEMA, &ReadOptions::default(), &SheetSelection::All);
        // `无名列` has a header but data under an unnamed column: an error, not a skip.
        let issues = all.unwrap_err().into_vec();
        assert_eq!(codes(&issues), ["empty-column-name", "skipped-sheet"]);
        let skipped = issues.iter().find(|i| i.code == "skipped-sheet").unwrap();
        assert_eq!(skipped.location.sheet.as_deref(), Some("空"));
        assert_eq!(
            skipped.to_string(),
            format!(
                "warning[skipped-sheet]: {WORKBOOK}, sheet `空`: the sheet is empty, so it is skipped"
            )
        );

        // The first sheet with a header is read by default; the named one otherwise.
        let reader = excel(&ReadOptions::default()).unwrap();
        assert_eq!(reader.sheet(), Some("活动数据"));
        assert!(reader.notes().is_empty());
        let selection = SheetSelection::from_options(
            &ReadOptions {
                sheet: Some("第二页".to_string()),
                ..ReadOptions::default()
            },
            SheetSelection::All,
        );
        assert_eq!(selection, SheetSelection::Named("第二页".to_string()));
    }

    #[test]
    fn header_helpers() {
        let letters = [0, 25, 26, 27, 701, 702].map(column_letter);
        assert_eq!(letters, ["A", "Z", "AA", "AB", "ZZ", "AAA"]);
        let notes = ["活动水平(吨)", "效率(%) ", "a(b(c))", "(吨)", "plain", "x)"]
            .map(|h| strip_note(h.trim()));
        assert_eq!(
            notes,
            [Some("活动水平"), Some("效率"), Some("a"), None, None, None]
        );
        assert_eq!(field_for_header(&SCHEMA, "Product-Name"), None);
        assert_eq!(field_for_header(&SCHEMA, "产品名称（中文）"), Some(NAME));
        assert_eq!(edit_distance("产污系数", "产物系数"), 1);
    }
}
