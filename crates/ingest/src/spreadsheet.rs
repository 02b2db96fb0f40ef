//! Spreadsheet formula injection, both ways.
//!
//! A spreadsheet program that opens a CSV file reads a cell that begins with `=`, `+`, `-` or
//! `@` (or a tab or carriage return before one) as a formula: an enterprise named
//! `=HYPERLINK("http://…","点击")` or `=cmd|' /C calc'!A0` in an uploaded registry would run in
//! the office of whoever opens an exported file. Every CSV file npsc writes therefore goes
//! through [`SafeWriter`], which writes such a *text* cell with a leading `'` (what Excel itself
//! shows for a text cell typed with a quote prefix); plain numbers such as `-12.5` or `+3e-7`
//! are left alone, so numeric columns stay numeric. Reading undoes it ([`unquote`], used by
//! `table::Record::get`): `'=x` is read as `=x`, so an exported file imports again as the same
//! data and the same content hash.

use std::borrow::Cow;

/// First bytes that make a spreadsheet read a cell as a formula.
pub const TRIGGERS: &[u8] = b"=+-@\t\r";

/// Whether `cell` is a plain decimal number: an optional sign, digits with at most one decimal
/// point (at least one digit), an optional exponent. `-12.5`, `+3`, `.5`, `1e-7` are; `-`,
/// `-1+2`, `inf`, `NaN`, `1,234` are not.
pub fn is_plain_number(cell: &[u8]) -> bool {
    let mut i = 0;
    if matches!(cell.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut digits = 0;
    let mut point = false;
    while let Some(&b) = cell.get(i) {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return false;
    }
    if matches!(cell.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(cell.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while cell.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == cell.len()
}

/// Whether a text cell must be written with a leading `'`: it begins with one of [`TRIGGERS`]
/// and is not a plain number, or it begins with quotes followed by one of them (so that
/// [`unquote`] gives back exactly what was written: `'=x` is written `''=x`).
pub fn needs_quote(cell: &[u8]) -> bool {
    let rest = strip_quotes(cell);
    let starts_with_trigger = rest.first().is_some_and(|b| TRIGGERS.contains(b));
    if rest.len() < cell.len() {
        starts_with_trigger
    } else {
        starts_with_trigger && !is_plain_number(cell)
    }
}

fn strip_quotes(cell: &[u8]) -> &[u8] {
    let quotes = cell.iter().take_while(|&&b| b == b'\'').count();
    &cell[quotes..]
}

/// A cell as written: unchanged, or with a leading `'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SafeCell<T> {
    /// Written as it is.
    Plain(T),
    /// `'` and the cell's bytes.
    Quoted(Vec<u8>),
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for SafeCell<T> {
    fn as_ref(&self) -> &[u8] {
        match self {
            SafeCell::Plain(cell) => cell.as_ref(),
            SafeCell::Quoted(bytes) => bytes,
        }
    }
}

/// `cell` made safe to open in a spreadsheet (see the module documentation).
pub fn safe<T: AsRef<[u8]>>(cell: T) -> SafeCell<T> {
    if needs_quote(cell.as_ref()) {
        let mut bytes = Vec::with_capacity(cell.as_ref().len() + 1);
        bytes.push(b'\'');
        bytes.extend_from_slice(cell.as_ref());
        SafeCell::Quoted(bytes)
    } else {
        SafeCell::Plain(cell)
    }
}

/// A text `cell` made safe to open in a spreadsheet, as text.
pub fn safe_text(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell.as_bytes()) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`safe`] on reading: a `'` followed by quotes and one of [`TRIGGERS`] is dropped
/// (`'=x` is read `=x`, `''=x` is read `'=x`); anything else is returned as it is.
pub fn unquote(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if strip_quotes(rest.as_bytes())
                .first()
                .is_some_and(|b| TRIGGERS.contains(b)) =>
        {
            rest
        }
        _ => cell,
    }
}

/// One cell as [`SafeWriter`] writes it inside a record (made safe, then quoted where CSV needs
/// it), for writers that assemble lines from pieces rendered once, such as the totals of a
/// national run whose millions of lines repeat a few thousand names.
pub fn field(cell: &str) -> String {
    // A record of one empty field is written `""` (so that it is not an empty line); inside a
    // record of several fields an empty cell is written as nothing.
    if cell.is_empty() {
        return String::new();
    }
    let mut writer = SafeWriter::from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record([cell]);
    let mut text = writer
        .into_inner()
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// A CSV writer whose every cell goes through [`safe`]: the one way npsc writes CSV.
#[derive(Debug)]
pub struct SafeWriter<W: std::io::Write> {
    inner: csv::Writer<W>,
}

impl<W: std::io::Write> SafeWriter<W> {
    /// Wraps a configured `csv::Writer`.
    pub fn new(inner: csv::Writer<W>) -> SafeWriter<W> {
        SafeWriter { inner }
    }

    /// A writer with the `csv` crate's defaults (`\n` line ends, quoting where needed).
    pub fn from_writer(out: W) -> SafeWriter<W> {
        SafeWriter::new(csv::Writer::from_writer(out))
    }

    /// Writes one record, each cell made safe.
    pub fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.inner.write_record(record.into_iter().map(safe))
    }

    /// Flushes the buffer to the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        self.inner.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_looking_text_is_quoted_and_numbers_are_not() {
        for (cell, written) in [
            ("=1+1", "'=1+1"),
            (
                "=HYPERLINK(\"http://x\",\"点击\")",
                "'=HYPERLINK(\"http://x\",\"点击\")",
            ),
            ("+86 10 1234", "'+86 10 1234"),
            ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-1+2", "'-1+2"),
            ("-inf", "'-inf"),
            ("-NaN", "'-NaN"),
            ("-1,234", "'-1,234"),
            ("-1e", "'-1e"),
            ("-12.5", "-12.5"),
            ("+3", "+3"),
            ("-0", "-0"),
            ("-.5", "-.5"),
            ("1.5e-7", "1.5e-7"),
            ("-2.5E+10", "-2.5E+10"),
            ("二氧化硫", "二氧化硫"),
            ("a=b", "a=b"),
            ("", ""),
            ("'", "'"),
            ("'quoted'", "'quoted'"),
            ("'=already", "''=already"),
            ("'-12.5", "''-12.5"),
        ] {
            assert_eq!(
                std::str::from_utf8(safe(cell).as_ref()).expect("utf-8"),
                written,
                "{cell:?}"
            );
            assert_eq!(safe_text(cell), written, "{cell:?}");
            // Reading gives back exactly the cell: the round trip is lossless.
            assert_eq!(unquote(written), cell, "{cell:?}");
        }
    }

    #[test]
    fn the_writer_quotes_every_cell_and_reading_undoes_it() {
        let mut writer = SafeWriter::from_writer(Vec::new());
        writer.write_record(["name", "value"]).expect("header");
        writer
            .write_record(["=cmd|' /C calc'!A0", "-12.5"])
            .expect("row");
        writer
            .write_record([String::from("@x"), String::from("-x")])
            .expect("row");
        let text = String::from_utf8(writer.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(text, "name,value\n'=cmd|' /C calc'!A0,-12.5\n'@x,'-x\n");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| {
                r.expect("record")
                    .iter()
                    .map(|c| unquote(c).to_string())
                    .collect()
            })
            .collect();
        assert_eq!(rows, [["=cmd|' /C calc'!A0", "-12.5"], ["@x", "-x"]]);
    }

    #[test]
    fn a_field_is_written_as_inside_a_record() {
        let cells = [
            "",
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "=1+2",
            "-12.5",
            "河北省 / 石家庄市",
        ];
        let mut writer = SafeWriter::from_writer(Vec::new());
        writer.write_record(cells).expect("written");
        let whole = String::from_utf8(writer.into_inner().expect("flushed")).expect("UTF-8");
        let pieces: Vec<String> = cells.iter().map(|c| field(c)).collect();
        assert_eq!(whole, format!("{}\n", pieces.join(",")));
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("a,b"), "\"a,b\"");
    }
}
