//! The validation use case: read any supported file and report every issue, writing nothing.

use std::fmt;
use std::path::Path;

use ingest::activity::{ActivityReader, Next};
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use ingest::{Issue, Issues, Source, schemas};

use crate::AppError;

/// The kinds of file npsc reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A coefficient set folder or a coefficient table.
    Coefficients,
    /// An enterprise registry.
    Registry,
    /// Activity data.
    Activity,
}

impl FileKind {
    /// `coefficients`, `registry` or `activity`.
    pub fn parse(text: &str) -> Option<FileKind> {
        match text {
            "coefficients" | "coefficient" => Some(FileKind::Coefficients),
            "registry" => Some(FileKind::Registry),
            "activity" => Some(FileKind::Activity),
            _ => None,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Coefficients => "coefficient set",
            FileKind::Registry => "enterprise registry",
            FileKind::Activity => "activity data",
        })
    }
}

/// What validation found.
#[derive(Debug, Clone)]
pub struct ValidationReport {
    /// The file or folder.
    pub file: String,
    /// What it was read as.
    pub kind: FileKind,
    /// Records (rows) read.
    pub records: u64,
    /// Every issue, sorted by location.
    pub issues: Vec<Issue>,
    /// Issues beyond the cap.
    pub omitted: u64,
    /// Remarks about what was not checked.
    pub notes: Vec<String>,
}

impl ValidationReport {
    /// Whether any issue is an error.
    pub fn has_errors(&self) -> bool {
        self.omitted > 0
            || self
                .issues
                .iter()
                .any(|i| i.severity == ingest::Severity::Error)
    }
}

/// Validates a file. `kind` is detected from the headers (or the folder) when not given;
/// `registry` lets activity rows be checked against the enterprises.
pub fn validate(
    path: &Path,
    kind: Option<FileKind>,
    registry: Option<&Path>,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<ValidationReport, AppError> {
    if !path.exists() {
        return Err(AppError::Path {
            action: "read",
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let kind = match kind {
        Some(kind) => kind,
        None => detect(path, read),
    };
    let mut notes = Vec::new();
    let (records, issues) = match kind {
        FileKind::Coefficients => match ingest::coefficients::load_set(path, reference, read) {
            Ok(set) => {
                notes.push(format!(
                    "coefficient set `{}` edition {}: {} rows, sha256 {}",
                    set.meta().id,
                    set.meta().edition,
                    set.rows().len(),
                    set.content_hash()
                ));
                (set.rows().len() as u64, Issues::new())
            }
            Err(issues) => (0, issues),
        },
        FileKind::Registry => {
            match ingest::registry::read_registry(Source::Path(path), reference, read) {
                Ok(registry) => (registry.len() as u64, Issues::new()),
                Err(issues) => (0, issues),
            }
        }
        FileKind::Activity => validate_activity(path, registry, reference, read, &mut notes)?,
    };
    let omitted = issues.omitted();
    let mut issues = issues.into_vec();
    issues.sort();
    Ok(ValidationReport {
        file: path.display().to_string(),
        kind,
        records,
        issues,
        omitted,
        notes,
    })
}

fn detect(path: &Path, read: &ReadOptions) -> FileKind {
    if path.is_dir() {
        return FileKind::Coefficients;
    }
    let candidates = [
        (FileKind::Coefficients, &schemas::COEFFICIENT_TABLE),
        (FileKind::Activity, &schemas::ACTIVITY),
        (FileKind::Registry, &schemas::REGISTRY),
    ];
    let mut best = (usize::MAX, FileKind::Activity);
    for (kind, schema) in candidates {
        match ingest::open_table(Source::Path(path), schema, read) {
            Ok(_) => return kind,
            Err(issues) => {
                if issues.len() < best.0 {
                    best = (issues.len(), kind);
                }
            }
        }
    }
    best.1
}

fn validate_activity(
    path: &Path,
    registry_path: Option<&Path>,
    reference: &Reference,
    read: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<(u64, Issues), AppError> {
    let mut issues = Issues::with_cap(read.issue_cap);
    let registry = match registry_path {
        Some(p) => match ingest::registry::read_registry(Source::Path(p), reference, read) {
            Ok(r) => Some(r),
            Err(problems) => {
                issues.extend(problems);
                None
            }
        },
        None => {
            notes.push(
                "enterprises were not checked against a registry (pass --registry to check them)"
                    .to_string(),
            );
            None
        }
    };
    let check_enterprises = registry.is_some();
    let registry = registry.unwrap_or_default();
    let mut reader = match ActivityReader::open(Source::Path(path), read) {
        Ok(reader) => reader,
        Err(problems) => {
            issues.extend(problems);
            return Ok((0, issues));
        }
    };
    let mut rows = 0u64;
    let mut row_issues = Issues::with_cap(read.issue_cap);
    loop {
        let mut found = Issues::new();
        match reader.next(reference, &registry, &mut found, |_| ()) {
            Ok(Next::End) => break,
            Ok(_) => rows += 1,
            Err(issue) => {
                row_issues.push(issue);
                break;
            }
        }
        for issue in found.into_vec() {
            if check_enterprises || issue.code != "unknown-enterprise" {
                row_issues.push(issue);
            }
        }
    }
    issues.extend(row_issues);
    Ok((rows, issues))
}
