//! The enterprise registry in the database ("dynamic source management"): import a newer registry
//! file as a change set (a dry run unless applied), show an enterprise and its status history,
//! write off suspected zombie enterprises (no activity for N years), and match the records of
//! another source by USCC.
//!
//! Rules chosen here:
//! - **Import.** A field counts as changed when its text differs: names exactly as written, codes
//!   in canonical form, dates as dates, an empty permit number as none. Enterprises the file does
//!   not list are reported and kept as they are, never closed.
//! - **Writeoff.** With current year Y and N inactive years, the inactive years are Y−N+1 … Y;
//!   the activity file must have rows in each of them (otherwise absence proves nothing and the
//!   writeoff is refused). A suspect is an operating or suspended enterprise with no activity row
//!   in any year from Y−N+1 on. Its status date is 31 December of its last year with activity
//!   (of the year before the file's first year when the file has none), or its current status
//!   date if that is later: so the closure never excludes any activity it reported (accounting
//!   excludes the years after the year of the status date). An enterprise whose status is dated
//!   inside the inactive years is kept and listed: that status is newer evidence than absent rows.
//! - **Match.** Records are paired by USCC only; a pair with a different region or industry is a
//!   conflict, listed with both values, never resolved by guessing (names are not compared:
//!   sources spell them differently).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accounting::activity::{Enterprise, Registry, Status};
use accounting::codes::Uscc;
use accounting::date::Date;
use ingest::reference::Reference;
use ingest::table::{ReadOptions, Record};
use ingest::{Issue, Issues, Source};
use store::registry::StatusChange;

pub use store::registry::{
    ChangeSet, ChangedEnterprise, FieldChange, FieldChangeEntry, StatusEntry, StoredEnterprise,
};

use crate::AppError;
use crate::editions::Store;

/// The audit action of a writeoff closure.
pub const WRITEOFF_ACTION: &str = "registry-writeoff";

/// Parses a USCC given on the command line.
pub fn parse_uscc(text: &str) -> Result<Uscc, AppError> {
    Uscc::parse(text).map_err(|e| AppError::Argument {
        message: e.to_string(),
        hint: e.hint(),
    })
}

/// Reads and validates a registry file; every bad cell is reported.
pub fn read_file(
    path: &Path,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<Registry, AppError> {
    ingest::registry::read_registry(Source::Path(path), reference, read)
        .map_err(|issues| AppError::input("the registry", issues))
}

/// What an import found, and whether it was written.
#[derive(Debug, Clone)]
pub struct Import {
    /// The change set (as written, when applied).
    pub changes: ChangeSet,
    /// Whether it was written.
    pub applied: bool,
}

/// Compares a registry file with the stored registry; with `apply`, writes the change set in one
/// transaction (status-history entries with the reason `import <path>`, one audit entry).
pub async fn import(
    store: &Store,
    path: &Path,
    reference: &Reference,
    read: &ReadOptions,
    apply: bool,
    actor: &str,
) -> Result<Import, AppError> {
    let file = read_file(path, reference, read)?;
    let changes = if apply {
        store
            .import_registry(&file, &path.display().to_string(), actor)
            .await?
    } else {
        store.registry_changes(&file).await?
    };
    Ok(Import {
        applied: apply && !changes.is_empty(),
        changes,
    })
}

/// An enterprise's current record and the recorded changes of its fields.
pub async fn show(
    store: &Store,
    uscc: &str,
) -> Result<(StoredEnterprise, Vec<FieldChangeEntry>), AppError> {
    let uscc = parse_uscc(uscc)?;
    let enterprise = store.enterprise(&uscc).await?;
    let changes = store.field_changes(&uscc).await?;
    Ok((enterprise, changes))
}

/// An enterprise's status history, oldest first.
pub async fn history(store: &Store, uscc: &str) -> Result<Vec<StatusEntry>, AppError> {
    Ok(store.status_history(&parse_uscc(uscc)?).await?)
}

/// The stored registry, for accounting.
pub async fn registry(store: &Store) -> Result<Registry, AppError> {
    Ok(store.registry().await?)
}

/// The years in which each enterprise has activity rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityYears {
    /// The file, for messages.
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// Every year that has rows.
    pub years: BTreeSet<u16>,
    /// The latest year with rows, per enterprise.
    pub last_year: BTreeMap<Uscc, u16>,
}

/// Years accepted in activity files (as the activity reader does).
const YEARS: std::ops::RangeInclusive<u16> = 1949..=2100;

/// Reads only the `year` and `uscc` columns of an activity file; a bad year or USCC is an issue,
/// and every issue is reported.
pub fn activity_years(path: &Path, read: &ReadOptions) -> Result<ActivityYears, AppError> {
    use ingest::schemas::activity as a;
    let what = "the activity data";
    let mut reader = ingest::open_table(Source::Path(path), &ingest::schemas::ACTIVITY, read)
        .map_err(|issues| AppError::input(what, issues))?;
    let mut issues = Issues::with_cap(read.issue_cap);
    let mut found = ActivityYears {
        file: path.display().to_string(),
        ..ActivityYears::default()
    };
    let mut record = Record::new();
    loop {
        match reader.read(&mut record, &mut issues) {
            Ok(true) => {}
            Ok(false) => break,
            Err(issue) => {
                issues.push(issue);
                break;
            }
        }
        if record.is_blank() {
            continue;
        }
        found.rows += 1;
        let row = record.row();
        let year = match record.get(a::YEAR) {
            None => {
                issues.push(Issue::error(
                    reader.location(row, a::YEAR),
                    "missing-value",
                    "a value is required",
                ));
                None
            }
            Some(text) => {
                let year = text
                    .trim_end_matches('年')
                    .parse::<u16>()
                    .ok()
                    .filter(|y| YEARS.contains(y));
                if year.is_none() {
                    issues.push(
                        Issue::error(reader.location(row, a::YEAR), "bad-year", "not a year")
                            .with_value(text),
                    );
                }
                year
            }
        };
        let uscc = match record.get(a::USCC) {
            None => {
                issues.push(Issue::error(
                    reader.location(row, a::USCC),
                    "missing-value",
                    "a value is required",
                ));
                None
            }
            Some(text) => match Uscc::parse(text) {
                Ok(uscc) => Some(uscc),
                Err(e) => {
                    let mut issue =
                        Issue::error(reader.location(row, a::USCC), "bad-uscc", e.to_string())
                            .with_value(text);
                    if let Some(hint) = e.hint() {
                        issue = issue.with_hint(hint);
                    }
                    issues.push(issue);
                    None
                }
            },
        };
        if let (Some(year), Some(uscc)) = (year, uscc) {
            found.years.insert(year);
            let last = found.last_year.entry(uscc).or_insert(year);
            *last = (*last).max(year);
        }
    }
    if issues.has_errors() {
        return Err(AppError::input(what, issues));
    }
    Ok(found)
}

/// An enterprise a writeoff would close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// Its current record.
    pub enterprise: StoredEnterprise,
    /// Its last year with activity in the file, if any.
    pub last_activity: Option<u16>,
    /// The status date the closure gets.
    pub close_date: Date,
}

/// An enterprise without activity in the inactive years that is not written off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its current record.
    pub enterprise: StoredEnterprise,
    /// Why it is kept.
    pub reason: String,
}

/// What a writeoff found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writeoff {
    /// The current year.
    pub year: u16,
    /// N.
    pub inactive_years: u16,
    /// The first inactive year, Y − N + 1.
    pub first_inactive: u16,
    /// The enterprises to close, by USCC.
    pub suspects: Vec<Suspect>,
    /// Enterprises without activity that are kept, by USCC.
    pub kept: Vec<Kept>,
    /// Enterprises with activity rows that are not in the stored registry.
    pub not_in_registry: usize,
    /// The reason recorded with every closure.
    pub reason: String,
    /// Whether the closures were written.
    pub applied: bool,
}

/// The reason recorded with a writeoff closure.
pub fn writeoff_reason(inactive_years: u16) -> String {
    format!(
        "no activity for {inactive_years} year{} (writeoff)",
        if inactive_years == 1 { "" } else { "s" }
    )
}

/// Chooses the enterprises to write off (see the module documentation for the rule).
pub fn plan_writeoff(
    enterprises: &[StoredEnterprise],
    activity: &ActivityYears,
    inactive_years: u16,
    year: Option<u16>,
) -> Result<Writeoff, AppError> {
    if inactive_years == 0 {
        return Err(AppError::Argument {
            message: "`--inactive-years 0` names no inactive year".to_string(),
            hint: Some("give at least 1".to_string()),
        });
    }
    let (Some(&first_year), Some(&latest)) = (activity.years.first(), activity.years.last()) else {
        return Err(AppError::Argument {
            message: format!("`{}` has no activity rows", activity.file),
            hint: Some("a writeoff judges inactivity from an activity file with rows".to_string()),
        });
    };
    let year = year.unwrap_or(latest);
    let first_inactive = year
        .checked_sub(inactive_years - 1)
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| AppError::Argument {
            message: format!("{inactive_years} inactive years before {year} start before 1949"),
            hint: None,
        })?;
    let uncovered: Vec<String> = (first_inactive..=year)
        .filter(|y| !activity.years.contains(y))
        .map(|y| y.to_string())
        .collect();
    if !uncovered.is_empty() {
        return Err(AppError::Argument {
            message: format!(
                "`{}` has no rows for {}: judging {inactive_years} inactive year{} up to {year} \
                 needs activity data for {}",
                activity.file,
                uncovered.join(", "),
                if inactive_years == 1 { "" } else { "s" },
                year_range(first_inactive, year),
            ),
            hint: Some(
                "give an activity file covering those years, a smaller `--inactive-years`, or \
                 another `--year`"
                    .to_string(),
            ),
        });
    }
    let stored: BTreeSet<&Uscc> = enterprises.iter().map(|e| &e.uscc).collect();
    let not_in_registry = activity
        .last_year
        .keys()
        .filter(|u| !stored.contains(u))
        .count();
    let mut suspects = Vec::new();
    let mut kept = Vec::new();
    for e in enterprises {
        if !matches!(e.status, Status::Operating | Status::Suspended) {
            continue;
        }
        let last_activity = activity.last_year.get(&e.uscc).copied();
        if last_activity.is_some_and(|last| last >= first_inactive) {
            continue;
        }
        if let Some(date) = e.status_date.filter(|d| d.year() >= first_inactive) {
            kept.push(Kept {
                enterprise: e.clone(),
                reason: format!(
                    "{} since {date}, dated in or after the inactive years {}",
                    e.status,
                    year_range(first_inactive, year)
                ),
            });
            continue;
        }
        let base = last_activity.unwrap_or(first_year.saturating_sub(1));
        let mut close_date = Date::new(base, 12, 31)
            .ok_or_else(|| AppError::Internal(format!("31 December {base} is not a date")))?;
        if let Some(date) = e.status_date.filter(|d| *d > close_date) {
            close_date = date;
        }
        suspects.push(Suspect {
            enterprise: e.clone(),
            last_activity,
            close_date,
        });
    }
    Ok(Writeoff {
        year,
        inactive_years,
        first_inactive,
        suspects,
        kept,
        not_in_registry,
        reason: writeoff_reason(inactive_years),
        applied: false,
    })
}

/// `2021–2023`, or `2023` for one year.
pub fn year_range(first: u16, last: u16) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}–{last}")
    }
}

/// Lists the enterprises with no activity for `inactive_years` years up to `year` (default: the
/// latest year of the activity file); with `apply`, closes them in one transaction, each with a
/// status-history entry and an audit entry.
pub async fn writeoff(
    store: &Store,
    activity: &Path,
    read: &ReadOptions,
    inactive_years: u16,
    year: Option<u16>,
    apply: bool,
    actor: &str,
) -> Result<Writeoff, AppError> {
    let enterprises = stored_or_empty_error(store).await?;
    let years = activity_years(activity, read)?;
    let mut plan = plan_writeoff(&enterprises, &years, inactive_years, year)?;
    if apply && !plan.suspects.is_empty() {
        let changes: Vec<StatusChange> = plan
            .suspects
            .iter()
            .map(|s| StatusChange {
                uscc: s.enterprise.uscc,
                revision: s.enterprise.revision,
                status: Status::Closed,
                status_date: Some(s.close_date),
                reason: plan.reason.clone(),
            })
            .collect();
        store
            .change_statuses(&changes, WRITEOFF_ACTION, actor)
            .await?;
        plan.applied = true;
    }
    Ok(plan)
}

/// A USCC known to both sides whose region or industry differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The stored record.
    pub stored: StoredEnterprise,
    /// The other source's record.
    pub other: Enterprise,
    /// `region_code` and/or `industry_code`: stored value (old) and the other's (new).
    pub fields: Vec<FieldChange>,
}

/// How another source's records pair with the stored registry. Every list is sorted by USCC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchReport {
    /// USCCs on both sides with the same region and industry.
    pub matched: usize,
    /// USCCs on both sides with a different region or industry.
    pub conflicts: Vec<Conflict>,
    /// Records of the other source with a USCC the registry does not have.
    pub only_in_file: Vec<Enterprise>,
    /// Stored enterprises the other source does not list.
    pub only_in_registry: Vec<StoredEnterprise>,
}

/// Pairs another source's records with the stored ones by USCC.
pub fn match_records(stored: &[StoredEnterprise], other: &Registry) -> MatchReport {
    let by_uscc: BTreeMap<&Uscc, &StoredEnterprise> = stored.iter().map(|s| (&s.uscc, s)).collect();
    let mut listed: Vec<&Enterprise> = other.iter().collect();
    listed.sort_by_key(|e| e.uscc);
    let mut report = MatchReport::default();
    for e in listed {
        let Some(s) = by_uscc.get(&e.uscc) else {
            report.only_in_file.push(e.clone());
            continue;
        };
        let mut fields = Vec::new();
        if s.region != e.region {
            fields.push(FieldChange {
                field: "region_code",
                old: Some(s.region.to_string()),
                new: Some(e.region.to_string()),
            });
        }
        if s.industry != e.industry {
            fields.push(FieldChange {
                field: "industry_code",
                old: Some(s.industry.to_string()),
                new: Some(e.industry.to_string()),
            });
        }
        if fields.is_empty() {
            report.matched += 1;
        } else {
            report.conflicts.push(Conflict {
                stored: (*s).clone(),
                other: e.clone(),
                fields,
            });
        }
    }
    report.only_in_registry = stored
        .iter()
        .filter(|s| other.find(&s.uscc).is_none())
        .cloned()
        .collect();
    report
}

/// Reads a registry-format file from another source and matches it with the stored registry.
pub async fn match_file(
    store: &Store,
    path: &Path,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<MatchReport, AppError> {
    let stored = stored_or_empty_error(store).await?;
    let other = read_file(path, reference, read)?;
    Ok(match_records(&stored, &other))
}

async fn stored_or_empty_error(store: &Store) -> Result<Vec<StoredEnterprise>, AppError> {
    let stored = store.enterprises().await?;
    if stored.is_empty() {
        return Err(AppError::Argument {
            message: "the stored registry is empty".to_string(),
            hint: Some(
                "import one first: `npsc registry import FILE --apply` (or check `--database`)"
                    .to_string(),
            ),
        });
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accounting::codes::{IndustryCode, RegionCode};

    fn stored(uscc: &str, status: Status, date: Option<&str>) -> StoredEnterprise {
        StoredEnterprise {
            uscc: Uscc::parse(uscc).unwrap(),
            name: "示例".to_string(),
            region: RegionCode::parse("130109").unwrap(),
            industry: IndustryCode::parse("D4430").unwrap(),
            status,
            status_date: date.map(|d| Date::parse(d).unwrap()),
            permit_no: None,
            first_seen: String::new(),
            updated_at: String::new(),
            revision: 1,
        }
    }

    const A: &str = "91130109MAK4GR6066";
    const B: &str = "91130123MA2XB6W94M";
    const C: &str = "91130181MA0MG4C44W";
    const D: &str = "91130283MAKJDYJT24";
    const E: &str = "91130207MAJN9LJ503";
    const F: &str = "91130208MA626E6259";

    fn activity(rows: &[(&str, u16)]) -> ActivityYears {
        let mut a = ActivityYears {
            file: "activity.csv".to_string(),
            ..ActivityYears::default()
        };
        for (uscc, year) in rows {
            a.rows += 1;
            a.years.insert(*year);
            let last = a
                .last_year
                .entry(Uscc::parse(uscc).unwrap())
                .or_insert(*year);
            *last = (*last).max(*year);
        }
        a
    }

    #[test]
    fn writeoff_closes_after_the_last_active_year_and_keeps_newer_statuses() {
        let enterprises = [
            stored(A, Status::Operating, None), // active in 2023: kept out
            stored(B, Status::Operating, None), // last active 2020: suspect
            stored(C, Status::Suspended, Some("2020-06-30")), // suspended after its last row
            stored(D, Status::Operating, Some("2022-03-01")), // status inside the window: kept
            stored(E, Status::Closed, Some("2020-12-31")), // already closed: ignored
            stored(F, Status::Operating, None), // no activity at all
        ];
        let years = activity(&[
            (A, 2019),
            (A, 2023),
            (B, 2019),
            (B, 2020),
            (C, 2019),
            (A, 2021),
            (A, 2022),
        ]);
        let plan = plan_writeoff(&enterprises, &years, 3, None).unwrap();
        assert_eq!((plan.year, plan.first_inactive), (2023, 2021));
        let suspects: Vec<_> = plan
            .suspects
            .iter()
            .map(|s| {
                (
                    s.enterprise.uscc.as_str(),
                    s.last_activity,
                    s.close_date.to_string(),
                )
            })
            .collect();
        assert_eq!(
            suspects,
            [
                (B, Some(2020), "2020-12-31".to_string()),
                (C, Some(2019), "2020-06-30".to_string()),
                (F, None, "2018-12-31".to_string()),
            ]
        );
        assert_eq!(plan.kept.len(), 1);
        assert_eq!(plan.kept[0].enterprise.uscc.as_str(), D);
        assert_eq!(plan.reason, "no activity for 3 years (writeoff)");

        // An earlier current year: rows after it count as activity too.
        let plan = plan_writeoff(&enterprises, &years, 1, Some(2020)).unwrap();
        let suspects: Vec<_> = plan
            .suspects
            .iter()
            .map(|s| s.enterprise.uscc.as_str())
            .collect();
        assert_eq!(suspects, [F]);
        assert_eq!(writeoff_reason(1), "no activity for 1 year (writeoff)");
    }

    #[test]
    fn writeoff_refuses_years_the_activity_file_does_not_cover() {
        let enterprises = [stored(A, Status::Operating, None)];
        let years = activity(&[(A, 2021), (A, 2023)]);
        let err = plan_writeoff(&enterprises, &years, 3, None).unwrap_err();
        assert!(err.to_string().contains("no rows for 2022"), "{err}");
        let err = plan_writeoff(&enterprises, &years, 1, Some(2024)).unwrap_err();
        assert!(err.to_string().contains("no rows for 2024"), "{err}");
        assert!(plan_writeoff(&enterprises, &years, 0, None).is_err());
        assert!(plan_writeoff(&enterprises, &activity(&[]), 1, None).is_err());
    }
}
