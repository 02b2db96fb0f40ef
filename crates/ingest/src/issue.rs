//! Problems found in input files, each located by file, sheet, row and column so that a user can
//! go straight to the offending cell, and collected in a capped bag so that reading a badly broken
//! file of millions of rows reports everything useful without using unbounded memory.
//!
//! An [`Issue`] displays in the style of `uv` and `rustc`: one line naming the severity, a stable
//! machine code, the location and the message, then an optional hint line:
//!
//! ```text
//! error[bad-number]: activity.csv, row 14, column `活动水平`: `12,3a` is not a number
//!   hint: write plain decimal numbers such as `1234.5`
//! ```

use std::fmt;

/// Where a problem is. Every field is optional except the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file name as the user gave it (or the name of an upload).
    pub file: String,
    /// The Excel sheet, for workbooks.
    pub sheet: Option<String>,
    /// 1-based row as the user sees it in Excel or an editor: the header is row 1.
    pub row: Option<u64>,
    /// The column header as written in the file, e.g. `产污系数`; for Excel prefixed by the
    /// column letter, e.g. `H (产污系数)`.
    pub column: Option<String>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: file.into(),
            sheet: None,
            row: None,
            column: None,
        }
    }
}

/// `file, row 14, column `活动水平`` for CSV; for a cell of a workbook, Excel's own cell
/// reference followed by the header, `file.xlsx, 工业系数!H7 (产污系数)`, which a user can paste
/// into Excel's Name Box to go to the cell. Other workbook locations (a whole row, a column named
/// by a field absent from the sheet) keep the `sheet `…`, row 7` form.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let (Some(sheet), Some(row), Some(column)) = (&self.sheet, self.row, &self.column)
            && let Some((letters, header)) = split_cell_column(column)
        {
            return write!(f, ", {}!{letters}{row}{header}", sheet_reference(sheet));
        }
        if let Some(sheet) = &self.sheet {
            write!(f, ", sheet `{sheet}`")?;
        }
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        Ok(())
    }
}

/// Splits a workbook column label, `H (产污系数)` or `H`, into its letters and the rest
/// (` (产污系数)` or nothing); `None` for a label that is not one, such as a field's English name.
fn split_cell_column(column: &str) -> Option<(&str, &str)> {
    let letters = column.bytes().take_while(u8::is_ascii_uppercase).count();
    let rest = &column[letters..];
    let well_formed = rest.is_empty() || (rest.starts_with(" (") && rest.ends_with(')'));
    ((1..=3).contains(&letters) && well_formed).then(|| column.split_at(letters))
}

/// A sheet name as Excel writes it in a reference: quoted with `'` (doubled inside) unless it is
/// made of letters, digits, `_` and `.` only, does not start with a digit and does not look like
/// a cell reference itself.
fn sheet_reference(sheet: &str) -> String {
    let plain = !sheet.is_empty()
        && sheet
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && !sheet.starts_with(|c: char| c.is_ascii_digit())
        && !looks_like_cell(sheet);
    if plain {
        sheet.to_string()
    } else {
        format!("'{}'", sheet.replace('\'', "''"))
    }
}

/// `A1`, `xfd1048576`: one to three ASCII letters then ASCII digits.
fn looks_like_cell(text: &str) -> bool {
    let letters = text.bytes().take_while(u8::is_ascii_alphabetic).count();
    let digits = &text[letters..];
    (1..=3).contains(&letters) && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// How bad a problem is: errors stop an accounting run, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input cannot be used as it is.
    Error,
    /// The input is usable but probably not what the user meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Issue {
    /// Where it is.
    pub location: Location,
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine code, e.g. `bad-encoding`, `missing-column`, `ragged-row`.
    pub code: &'static str,
    /// The offending cell text, truncated to [`VALUE_LIMIT`] characters ending with `…`.
    pub value: Option<String>,
    /// What is wrong: lower-case first, no trailing period.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// The most characters of a cell kept in [`Issue::value`], the ellipsis included.
pub const VALUE_LIMIT: usize = 80;

impl Issue {
    /// An error.
    pub fn error(location: Location, code: &'static str, message: impl Into<String>) -> Issue {
        Issue::new(location, Severity::Error, code, message.into())
    }

    /// A warning.
    pub fn warning(location: Location, code: &'static str, message: impl Into<String>) -> Issue {
        Issue::new(location, Severity::Warning, code, message.into())
    }

    /// Adds the offending cell text, truncated to [`VALUE_LIMIT`] characters.
    pub fn with_value(mut self, value: impl Into<String>) -> Issue {
        self.value = Some(truncate(value.into()));
        self
    }

    /// Adds a hint on how to fix the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Issue {
        self.hint = Some(hint.into());
        self
    }

    fn new(location: Location, severity: Severity, code: &'static str, message: String) -> Issue {
        Issue {
            location,
            severity,
            code,
            value: None,
            message,
            hint: None,
        }
    }
}

/// Shows the value after the message unless the message already quotes it in backticks, so
/// that messages which name the value and messages which do not both read well.
impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}]: {}: {}",
            self.severity, self.code, self.location, self.message
        )?;
        if let Some(value) = &self.value
            && !value.is_empty()
            && !self.message.contains(&format!("`{value}`"))
        {
            write!(f, ": `{value}`")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Issue {}

/// The number of issues an [`Issues`] keeps when no cap is given.
pub const DEFAULT_CAP: usize = 1000;

/// A bag of issues with a cap: it keeps the first `max` issues (default [`DEFAULT_CAP`]) and only
/// counts the rest, so that a bad file of a million rows does not use unbounded memory. The error
/// and warning counts include the omitted issues.
#[derive(Debug, Clone)]
pub struct Issues {
    kept: Vec<Issue>,
    max: usize,
    errors: u64,
    warnings: u64,
}

impl Issues {
    /// An empty bag keeping up to [`DEFAULT_CAP`] issues.
    pub fn new() -> Issues {
        Issues::with_cap(DEFAULT_CAP)
    }

    /// An empty bag keeping up to `max` issues; 0 means [`DEFAULT_CAP`], so that an unset
    /// `issue_cap` option behaves like the default.
    pub fn with_cap(max: usize) -> Issues {
        Issues {
            kept: Vec::new(),
            max: if max == 0 { DEFAULT_CAP } else { max },
            errors: 0,
            warnings: 0,
        }
    }

    /// Adds an issue, or only counts it when the cap is reached.
    pub fn push(&mut self, issue: Issue) {
        match issue.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        if self.kept.len() < self.max {
            self.kept.push(issue);
        }
    }

    /// Adds every issue of `other`, carrying over the count of those it had omitted so that
    /// totals stay exact when bags are merged. Accepts another [`Issues`], a `Vec<Issue>` or a
    /// single [`Issue`].
    pub fn extend(&mut self, other: impl Into<Issues>) {
        let other = other.into();
        let kept_errors = other
            .kept
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count() as u64;
        let kept_warnings = other.kept.len() as u64 - kept_errors;
        self.errors += other.errors - kept_errors;
        self.warnings += other.warnings - kept_warnings;
        for issue in other.kept {
            self.push(issue);
        }
    }

    /// Whether any error was pushed, kept or omitted.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The number of errors pushed, omitted ones included.
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// The number of warnings pushed, omitted ones included.
    pub fn warning_count(&self) -> u64 {
        self.warnings
    }

    /// The kept issues.
    pub fn iter(&self) -> impl Iterator<Item = &Issue> {
        self.kept.iter()
    }

    /// The number of kept issues.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether no issue was pushed at all (kept or omitted).
    pub fn is_empty(&self) -> bool {
        self.errors + self.warnings == 0
    }

    /// The number of issues counted but not kept because of the cap.
    pub fn omitted(&self) -> u64 {
        self.errors + self.warnings - self.kept.len() as u64
    }

    /// Sorts the kept issues by location (then severity, code and text) for stable output.
    pub fn sort(&mut self) {
        self.kept.sort();
    }

    /// The kept issues.
    pub fn into_vec(self) -> Vec<Issue> {
        self.kept
    }
}

impl Default for Issues {
    fn default() -> Issues {
        Issues::new()
    }
}

/// A bag of exactly these issues, with a cap large enough to keep them all.
impl From<Vec<Issue>> for Issues {
    fn from(kept: Vec<Issue>) -> Issues {
        let mut issues = Issues::with_cap(kept.len().max(DEFAULT_CAP));
        for issue in kept {
            issues.push(issue);
        }
        issues
    }
}

impl From<Issue> for Issues {
    fn from(issue: Issue) -> Issues {
        let mut issues = Issues::new();
        issues.push(issue);
        issues
    }
}

impl FromIterator<Issue> for Issues {
    fn from_iter<I: IntoIterator<Item = Issue>>(iter: I) -> Issues {
        Issues::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl IntoIterator for Issues {
    type Item = Issue;
    type IntoIter = std::vec::IntoIter<Issue>;

    /// Iterates over the kept issues; use [`Issues::extend`] to merge bags with their counts.
    fn into_iter(self) -> Self::IntoIter {
        self.kept.into_iter()
    }
}

impl<'a> IntoIterator for &'a Issues {
    type Item = &'a Issue;
    type IntoIter = std::slice::Iter<'a, Issue>;

    fn into_iter(self) -> Self::IntoIter {
        self.kept.iter()
    }
}

/// Lists every kept issue on its own lines, then how many were omitted.
impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for issue in &self.kept {
            writeln!(f, "{issue}")?;
        }
        if self.omitted() > 0 {
            writeln!(f, "… and {} more issues not shown", self.omitted())?;
        }
        Ok(())
    }
}

impl std::error::Error for Issues {}

/// Keeps the first [`VALUE_LIMIT`] characters, the last one an ellipsis when some were cut.
fn truncate(value: String) -> String {
    match value.char_indices().nth(VALUE_LIMIT - 1) {
        Some((cut, _)) if value[cut..].chars().nth(1).is_some() => {
            let mut kept = value[..cut].to_string();
            kept.push('…');
            kept
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(row: u64, column: &str) -> Location {
        Location {
            file: "activity.csv".to_string(),
            sheet: None,
            row: Some(row),
            column: Some(column.to_string()),
        }
    }

    #[test]
    fn display_is_one_line_then_the_hint() {
        let issue = Issue::error(at(14, "活动水平"), "bad-number", "`12,3a` is not a number")
            .with_value("12,3a")
            .with_hint("write plain decimal numbers such as `1234.5`");
        assert_eq!(
            issue.to_string(),
            "error[bad-number]: activity.csv, row 14, column `活动水平`: `12,3a` is not a number\n  \
             hint: write plain decimal numbers such as `1234.5`"
        );
    }

    #[test]
    fn display_omits_absent_parts_and_appends_an_unquoted_value() {
        let cases = [
            (
                Issue::warning(Location::file("a.csv"), "empty-file", "the file is empty"),
                "warning[empty-file]: a.csv: the file is empty",
            ),
            (
                Issue::error(
                    Location {
                        sheet: Some("系数".to_string()),
                        ..at(3, "C (产污系数)")
                    },
                    "bad-year",
                    "not a year",
                )
                .with_value("20x4"),
                "error[bad-year]: activity.csv, 系数!C3 (产污系数): not a year: `20x4`",
            ),
            (
                Issue::error(
                    Location {
                        column: None,
                        ..at(7, "")
                    },
                    "ragged-row",
                    "the row has 2 fields",
                ),
                "error[ragged-row]: activity.csv, row 7: the row has 2 fields",
            ),
        ];
        for (issue, expected) in cases {
            assert_eq!(issue.to_string(), expected);
        }
    }

    #[test]
    fn workbook_cells_read_as_excel_references() {
        let cell = |sheet: &str, row, column: Option<&str>| Location {
            file: "t.xlsx".to_string(),
            sheet: Some(sheet.to_string()),
            row,
            column: column.map(str::to_string),
        };
        let cases = [
            (
                cell("工业系数", Some(7), Some("H (产污系数)")),
                "t.xlsx, 工业系数!H7 (产污系数)",
            ),
            (cell("Sheet1", Some(1), Some("AB")), "t.xlsx, Sheet1!AB1"),
            (
                cell("2024年 系数", Some(3), Some("C (排污系数(直排))")),
                "t.xlsx, '2024年 系数'!C3 (排污系数(直排))",
            ),
            (
                cell("it's", Some(2), Some("A (x)")),
                "t.xlsx, 'it''s'!A2 (x)",
            ),
            (cell("A1", Some(2), Some("B")), "t.xlsx, 'A1'!B2"),
            // A whole row, or a field absent from the sheet, is not a cell.
            (cell("系数", Some(4), None), "t.xlsx, sheet `系数`, row 4"),
            (
                cell("系数", Some(4), Some("treatment")),
                "t.xlsx, sheet `系数`, row 4, column `treatment`",
            ),
            (
                cell("系数", None, Some("C (产污系数)")),
                "t.xlsx, sheet `系数`, column `C (产污系数)`",
            ),
            (cell("系数", None, None), "t.xlsx, sheet `系数`"),
        ];
        for (location, expected) in cases {
            assert_eq!(location.to_string(), expected);
        }
    }

    #[test]
    fn values_are_truncated_to_80_characters() {
        let cases = [
            ("短".repeat(80), "短".repeat(80)),
            ("短".repeat(81), format!("{}…", "短".repeat(79))),
            ("x".repeat(200), format!("{}…", "x".repeat(79))),
        ];
        for (value, expected) in cases {
            let issue = Issue::error(Location::file("f"), "c", "m").with_value(value);
            assert_eq!(issue.value.as_deref(), Some(expected.as_str()));
            assert!(expected.chars().count() <= VALUE_LIMIT);
        }
    }

    #[test]
    fn the_cap_keeps_the_first_issues_and_counts_the_rest() {
        let mut issues = Issues::new();
        for row in 1..=1500 {
            issues.push(Issue::error(at(row, "x"), "bad-number", "not a number"));
        }
        assert_eq!(issues.len(), 1000);
        assert_eq!(issues.omitted(), 500);
        assert_eq!(issues.error_count(), 1500);
        assert!(issues.has_errors());
        assert_eq!(
            issues.iter().last().and_then(|i| i.location.row),
            Some(1000)
        );

        // Merging keeps the other bag's omitted issues in the counts.
        let mut all = Issues::with_cap(0);
        all.push(Issue::warning(Location::file("w"), "w", "w"));
        all.extend(issues);
        assert_eq!((all.len(), all.omitted()), (1000, 501));
        assert_eq!((all.error_count(), all.warning_count()), (1500, 1));
        all.extend(vec![Issue::error(Location::file("z"), "z", "z")]);
        assert_eq!((all.error_count(), all.omitted()), (1501, 502));
    }

    #[test]
    fn sort_orders_by_location() {
        let mut issues: Issues = [
            Issue::error(at(9, "b"), "x", "x"),
            Issue::error(Location::file("activity.csv"), "x", "x"),
            Issue::error(at(2, "b"), "x", "x"),
            Issue::error(at(2, "a"), "x", "x"),
        ]
        .into_iter()
        .collect();
        issues.sort();
        let order: Vec<_> = issues
            .iter()
            .map(|i| (i.location.row, i.location.column.clone()))
            .collect();
        assert_eq!(
            order,
            [
                (None, None),
                (Some(2), Some("a".to_string())),
                (Some(2), Some("b".to_string())),
                (Some(9), Some("b".to_string())),
            ]
        );
        assert!(Issues::new().is_empty());
    }
}
