//! Reading npsc's files into `accounting` values.
//!
//! Brief overview:
//! - [`table`]: CSV (UTF-8 with or without BOM, GBK/GB18030 detected automatically) and Excel
//!   workbooks read into records of a known [`table::Schema`], headers in English or Chinese,
//!   found below title rows, on one row or two, on one sheet or every sheet of a workbook.
//! - [`spreadsheet`]: formula-looking cells quoted on writing CSV and unquoted on reading.
//! - [`issue`]: every problem located by file, sheet, row and column, collected, never fatal on
//!   the first one.
//! - [`schemas`]: the canonical formats (coefficient tables, registry, activity, reference lists).
//! - [`reference`](mod@reference), [`coefficients`], [`registry`], [`activity`]: the readers of each format.
//!
//! ingest depends on `accounting` only; it never writes anything.

pub mod activity;
pub mod canonical;
pub mod coefficients;
pub mod issue;
mod json;
pub mod keyunits;
pub mod permit;
pub mod quota;
pub mod reference;
pub mod registry;
pub mod schemas;
pub mod sources;
pub mod spreadsheet;
pub mod table;
pub mod tax;

pub use issue::{Issue, Issues, Location, Severity};

use std::path::Path;

use table::{ReadOptions, Record, Schema, SheetSelection, SourceKind, TableReader, Tables};

/// Where a table comes from: a file, or bytes already in memory (an upload, or data embedded in
/// the binary) with the name to use in messages.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file; CSV, Excel or JSON by extension.
    Path(&'a Path),
    /// Bytes with a display name, whose extension tells the format (CSV when it tells none).
    Bytes {
        /// Name used in locations.
        name: &'a str,
        /// The content.
        bytes: &'a [u8],
    },
}

impl Source<'_> {
    /// The name used in locations.
    pub fn name(&self) -> String {
        match self {
            Source::Path(path) => path.display().to_string(),
            Source::Bytes { name, .. } => (*name).to_string(),
        }
    }
}

/// Opens a table reader over a source.
pub fn open_table(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
) -> Result<TableReader, Issues> {
    match source {
        Source::Path(path) => TableReader::open(path, schema, options),
        Source::Bytes { name, bytes } => {
            let kind = SourceKind::from_path(Path::new(name)).unwrap_or(SourceKind::Csv);
            TableReader::from_bytes(name, bytes.to_vec(), kind, schema, options)
        }
    }
}

/// Opens the tables of a source: one for a CSV file, the sheets `selection` chooses for a
/// workbook (see [`TableReader::open_sheets`]).
pub fn open_tables(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
    selection: &SheetSelection,
) -> Result<Tables, Issues> {
    match source {
        Source::Path(path) => TableReader::open_sheets(path, schema, options, selection),
        Source::Bytes { name, bytes } => {
            let kind = SourceKind::from_path(Path::new(name)).unwrap_or(SourceKind::Csv);
            TableReader::sheets_from_bytes(name, bytes.to_vec(), kind, schema, options, selection)
        }
    }
}

/// Calls `f` for every non-blank record of a table. Opening problems and row-structure problems
/// go into `issues`; returns `None` when the table could not be read at all.
pub(crate) fn each_record(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
    issues: &mut Issues,
    mut f: impl FnMut(&TableReader, &Record, &mut Issues),
) -> Option<()> {
    let mut reader = match open_table(source, schema, options) {
        Ok(reader) => reader,
        Err(problems) => {
            issues.extend(problems);
            return None;
        }
    };
    let mut record = Record::new();
    loop {
        match reader.read(&mut record, issues) {
            Ok(true) => {
                if !record.is_blank() {
                    f(&reader, &record, issues);
                }
            }
            Ok(false) => return Some(()),
            Err(issue) => {
                issues.push(issue);
                return None;
            }
        }
    }
}

/// [`each_record`] over a large CSV file read in parts, one thread each (as the activity data
/// is, see [`table::split_csv`]): `f` gets each part's own state, made by `make`, and the
/// states come back in file order, each part's issues added to `issues` in file order too, so
/// that the outcome is what one pass gives. Anything but a CSV file of `min_bytes` or more is
/// read in one pass, with one state.
pub(crate) fn each_record_in_parts<S: Send>(
    source: Source<'_>,
    schema: &'static Schema,
    options: &ReadOptions,
    (parts, min_bytes): (usize, u64),
    issues: &mut Issues,
    make: impl Fn() -> S + Sync,
    f: impl Fn(&TableReader, &Record, &mut Issues, &mut S) + Sync,
) -> Option<Vec<S>> {
    let mut readers = Vec::new();
    if let Source::Path(path) = source
        && let Ok(Some(split)) = table::split_csv(path, parts, min_bytes)
    {
        for part in split {
            let restricted = open_table(source, schema, options)
                .ok()
                .and_then(|mut reader| reader.restrict(part).then_some(reader));
            match restricted {
                Some(reader) => readers.push(reader),
                None => {
                    readers.clear();
                    break;
                }
            }
        }
    }
    if readers.len() < 2 {
        let mut state = make();
        each_record(source, schema, options, issues, |reader, record, issues| {
            f(reader, record, issues, &mut state)
        })?;
        return Some(vec![state]);
    }
    let read_part = |reader: &mut TableReader| {
        let mut state = make();
        let mut found = Issues::with_cap(options.issue_cap);
        let mut record = Record::new();
        loop {
            match reader.read(&mut record, &mut found) {
                Ok(true) if !record.is_blank() => f(reader, &record, &mut found, &mut state),
                Ok(true) => {}
                Ok(false) => return (Some(state), found),
                Err(issue) => {
                    found.push(issue);
                    return (None, found);
                }
            }
        }
    };
    let outcomes: Vec<(Option<S>, Issues)> = std::thread::scope(|scope| {
        let (first, others) = readers.split_first_mut()?;
        let handles: Vec<_> = others
            .iter_mut()
            .map(|reader| scope.spawn(|| read_part(reader)))
            .collect();
        let mut outcomes = vec![read_part(first)];
        for handle in handles {
            outcomes.push(handle.join().ok()?);
        }
        Some(outcomes)
    })?;
    let mut states = Vec::with_capacity(outcomes.len());
    let mut complete = true;
    for (state, found) in outcomes {
        issues.extend(found);
        match state {
            Some(state) => states.push(state),
            None => complete = false,
        }
    }
    complete.then_some(states)
}
