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

// ---------------------------------------------------------------------------------------------
// Search, uploaded files and single status changes (used by the HTTP service).

pub use store::registry::{EnterpriseFilter, EnterprisePage, TextMatch};

/// The audit action of a status change recorded by hand (not by an import or a writeoff).
pub const STATUS_ACTION: &str = "registry-status";

/// The longest free-text query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The most enterprises per page.
pub const MAX_PER_PAGE: u64 = 1000;

/// A search of the stored registry as a person writes it; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Part of the name (compared after `normalize_name`), or the start of a USCC.
    pub q: Option<String>,
    /// A GB/T 2260 code at any level: `44` or `440000` (province), `4401` or `440100`
    /// (prefecture), `440103` (county).
    pub region: Option<String>,
    /// A GB/T 4754-2017 code at any level: `C`, `13`, `C13`, `135`, `1351`.
    pub industry: Option<String>,
    /// `operating`, `suspended`, `closed`, `deregistered` or the Chinese words.
    pub status: Option<String>,
}

fn argument(message: String, hint: &str) -> AppError {
    AppError::Argument {
        message,
        hint: Some(hint.to_string()),
    }
}

/// The digits a region code given at any level starts with: 2 for a province, 4 for a
/// prefecture, 6 for a county. Two or four digits stand for the code padded with zeros.
pub fn region_prefix(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    let hint = "give a GB/T 2260 code: `44` or `440000` (province), `4401` or `440100` \
                (prefecture), `440103` (county)";
    let shown: String = text.chars().take(40).collect();
    if !matches!(text.len(), 2 | 4 | 6) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(argument(
            format!("region `{shown}` is not 2, 4 or 6 digits"),
            hint,
        ));
    }
    let code = accounting::codes::RegionCode::parse(&format!("{text:0<6}"))
        .map_err(|e| argument(format!("region `{shown}`: {e}"), hint))?;
    let digits = code.to_string();
    Ok(match code.structural_level() {
        accounting::codes::RegionLevel::Province => digits[..2].to_string(),
        accounting::codes::RegionLevel::Prefecture => digits[..4].to_string(),
        _ => digits,
    })
}

/// What the canonical code (`C1351`) of an enterprise in the given industry starts with: the
/// code resolved through the GB/T 4754-2017 table, so `13`, `c13` and `C13` are the same and an
/// unknown code or a wrong section letter is refused.
pub fn industry_prefix(text: &str, reference: &Reference) -> Result<String, AppError> {
    let hint = "give a GB/T 4754-2017 code at any level: `C`, `13`, `C13`, `135` or `1351`; \
                look codes up with `npsc codes industry`";
    let shown: String = text.trim().chars().take(40).collect();
    let code = accounting::codes::IndustryCode::parse(text)
        .map_err(|e| argument(format!("industry `{shown}`: {e}"), hint))?;
    let industry = reference
        .industries
        .resolve(&code)
        .map_err(|e| argument(format!("industry `{shown}`: {e}"), hint))?;
    Ok(industry.code.to_string())
}

/// A status in English or Chinese.
pub fn parse_status(text: &str) -> Result<Status, AppError> {
    Status::parse(text).ok_or_else(|| {
        argument(
            format!(
                "status `{}` is unknown",
                text.trim().chars().take(40).collect::<String>()
            ),
            "use operating, suspended, closed or deregistered (运行, 停产, 关闭, 注销)",
        )
    })
}

/// The store filter for a search: codes resolved to prefixes, the text normalised; refuses
/// anything malformed with a message naming the parameter.
pub fn search_filter(search: &Search, reference: &Reference) -> Result<EnterpriseFilter, AppError> {
    let mut filter = EnterpriseFilter::default();
    if let Some(q) = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(argument(
                format!(
                    "q is {} characters long; at most {MAX_QUERY_CHARS} are accepted",
                    q.chars().count()
                ),
                "search by a part of the name or the start of the USCC",
            ));
        }
        if q.chars().any(char::is_control) {
            return Err(argument(
                "q contains a control character".to_string(),
                "search by a part of the name or the start of the USCC",
            ));
        }
        let uscc_prefix = q.to_ascii_uppercase();
        let uscc_prefix = (uscc_prefix.len() <= 18
            && uscc_prefix
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()))
        .then_some(uscc_prefix);
        filter.text = Some(TextMatch {
            name: accounting::text::normalize_name(q),
            uscc_prefix,
        });
    }
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.trim().is_empty())
    }
    filter.region_prefix = given(&search.region).map(region_prefix).transpose()?;
    filter.industry_prefix = given(&search.industry)
        .map(|i| industry_prefix(i, reference))
        .transpose()?;
    filter.status = given(&search.status).map(parse_status).transpose()?;
    Ok(filter)
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// How many enterprises match in all.
    pub total: u64,
    /// The page number, from 1.
    pub page: u64,
    /// Enterprises per page.
    pub per_page: u64,
    /// The page, ordered by USCC.
    pub enterprises: Vec<StoredEnterprise>,
}

/// Searches the stored registry; the database filters, counts and pages. `page` counts from 1;
/// `per_page` is 1 to [`MAX_PER_PAGE`].
pub async fn search(
    store: &Store,
    search: &Search,
    page: u64,
    per_page: u64,
    reference: &Reference,
) -> Result<SearchResult, AppError> {
    if page == 0 {
        return Err(argument(
            "page 0 does not exist".to_string(),
            "pages count from 1",
        ));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(argument(
            format!("per_page {per_page} is outside 1–{MAX_PER_PAGE}"),
            "page through larger results",
        ));
    }
    let filter = search_filter(search, reference)?;
    let found = store
        .search_enterprises(&filter, (page - 1).saturating_mul(per_page), per_page)
        .await?;
    Ok(SearchResult {
        total: found.total,
        page,
        per_page,
        enterprises: found.enterprises,
    })
}

/// The header of [`enterprises_csv`]: the registry format's English column names.
pub const REGISTRY_HEADER: [&str; 7] = [
    "uscc",
    "name",
    "region_code",
    "industry_code",
    "status",
    "status_date",
    "permit_no",
];

/// Enterprises as a registry file (CSV, UTF-8): what is exported can be imported again.
pub fn enterprises_csv(enterprises: &[StoredEnterprise]) -> String {
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(REGISTRY_HEADER);
    for e in enterprises {
        let _ = writer.write_record([
            e.uscc.as_str(),
            &e.name,
            &e.region.to_string(),
            &e.industry.to_string(),
            e.status.as_str(),
            &e.status_date.map(|d| d.to_string()).unwrap_or_default(),
            e.permit_no.as_deref().unwrap_or(""),
        ]);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// An enterprise with both of its histories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseRecord {
    /// The current record.
    pub enterprise: StoredEnterprise,
    /// Its status history, oldest first.
    pub statuses: Vec<StatusEntry>,
    /// The recorded changes of its other fields, oldest first.
    pub changes: Vec<FieldChangeEntry>,
}

/// An enterprise's record and histories; an invalid USCC is an argument error, an unknown one
/// not found.
pub async fn record(store: &Store, uscc: &str) -> Result<EnterpriseRecord, AppError> {
    let uscc = parse_uscc(uscc)?;
    Ok(EnterpriseRecord {
        enterprise: store.enterprise(&uscc).await?,
        statuses: store.status_history(&uscc).await?,
        changes: store.field_changes(&uscc).await?,
    })
}

/// Like [`import`], for an uploaded file: `file_name` is only a label (its extension tells the
/// format); the status-history reason is `import upload <file_name>`.
pub async fn import_upload(
    store: &Store,
    file_name: &str,
    bytes: &[u8],
    reference: &Reference,
    apply: bool,
    actor: &str,
) -> Result<Import, AppError> {
    let file = ingest::registry::read_registry(
        Source::Bytes {
            name: file_name,
            bytes,
        },
        reference,
        &ReadOptions::default(),
    )
    .map_err(|issues| AppError::input("the uploaded registry", issues))?;
    let changes = if apply {
        store
            .import_registry(&file, &format!("upload {file_name}"), actor)
            .await?
    } else {
        store.registry_changes(&file).await?
    };
    Ok(Import {
        applied: apply && !changes.is_empty(),
        changes,
    })
}

/// A status change recorded by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The new status (English or Chinese).
    pub status: String,
    /// Its date, `2024-05-31`, when known.
    pub date: Option<String>,
    /// Why; recorded in the status history and the audit log.
    pub note: String,
    /// The revision the caller saw; when given and the record has changed since, nothing is
    /// written.
    pub revision: Option<i64>,
}

/// Records a status change: appends to the status history and writes an audit entry
/// ([`STATUS_ACTION`]) in one transaction, conditional on the record's revision. Refuses a
/// change to the status and date the enterprise already has. Returns the updated record.
pub async fn change_status(
    store: &Store,
    uscc: &str,
    update: &StatusUpdate,
    actor: &str,
) -> Result<StoredEnterprise, AppError> {
    let uscc = parse_uscc(uscc)?;
    let status = parse_status(&update.status)?;
    let status_date = update
        .date
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| Date::parse(d).map_err(|e| argument(e.to_string(), "write dates as `2024-05-31`")))
        .transpose()?;
    let note = update.note.trim();
    if note.is_empty() {
        return Err(argument(
            "a status change needs a note saying why".to_string(),
            "e.g. `{\"status\": \"closed\", \"date\": \"2024-05-31\", \"note\": \"closure notice 2024-17\"}`",
        ));
    }
    let current = store.enterprise(&uscc).await?;
    if let Some(revision) = update.revision.filter(|r| *r != current.revision) {
        return Err(AppError::Store {
            message: format!(
                "enterprise `{uscc}` is at revision {}, not {revision}: it changed since it was read; nothing was changed",
                current.revision
            ),
            code: "conflict",
        });
    }
    if current.status == status && current.status_date == status_date {
        return Err(AppError::Store {
            message: format!(
                "enterprise `{uscc}` is already {status}{}: nothing to record",
                status_date
                    .map(|d| format!(" since {d}"))
                    .unwrap_or_default()
            ),
            code: "conflict",
        });
    }
    store
        .change_statuses(
            &[StatusChange {
                uscc,
                revision: current.revision,
                status,
                status_date,
                reason: note.to_string(),
            }],
            STATUS_ACTION,
            actor,
        )
        .await?;
    Ok(store.enterprise(&uscc).await?)
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

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn region_codes_at_any_level_become_prefixes() {
        for (given, prefix) in [
            ("44", "44"),
            ("440000", "44"),
            ("4400", "44"),
            ("4401", "4401"),
            ("440100", "4401"),
            (" 440103 ", "440103"),
            ("441900", "4419"),
        ] {
            assert_eq!(region_prefix(given).unwrap(), prefix, "{given}");
        }
        for bad in [
            "4",
            "440",
            "44010",
            "4401031",
            "00",
            "99",
            "44%",
            "4_",
            "' OR 1=1 --",
            "４４",
        ] {
            let err = region_prefix(bad).unwrap_err();
            assert!(matches!(err, AppError::Argument { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn industry_codes_resolve_to_their_section() {
        let reference = crate::reference::bundled().unwrap();
        for (given, prefix) in [
            ("C", "C"),
            ("c", "C"),
            ("13", "C13"),
            ("C13", "C13"),
            ("135", "C135"),
            ("1351", "C1351"),
            ("d4430", "D4430"),
        ] {
            assert_eq!(
                industry_prefix(given, &reference).unwrap(),
                prefix,
                "{given}"
            );
        }
        for bad in ["A1351", "9999", "1", "13511", "U", "C_", "%", "' OR 1=1 --"] {
            let err = industry_prefix(bad, &reference).unwrap_err();
            assert!(matches!(err, AppError::Argument { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn free_text_is_a_normalised_name_and_maybe_a_uscc_prefix() {
        let reference = crate::reference::bundled().unwrap();
        let filter = |q: &str| {
            search_filter(
                &Search {
                    q: Some(q.to_string()),
                    ..Search::default()
                },
                &reference,
            )
        };
        assert_eq!(
            filter("9113abc").unwrap().text,
            Some(TextMatch {
                name: "9113abc".to_string(),
                uscc_prefix: Some("9113ABC".to_string()),
            })
        );
        assert_eq!(
            filter(" （样例） Ａ").unwrap().text,
            Some(TextMatch {
                name: "(样例)a".to_string(),
                uscc_prefix: None,
            })
        );
        assert_eq!(filter("   ").unwrap().text, None);
        assert!(
            filter("a\u{0}b").is_err(),
            "SQLite would cut the pattern at a NUL"
        );
        assert!(filter(&"羊".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(filter(&"羊".repeat(MAX_QUERY_CHARS + 1)).is_err());
        let status = search_filter(
            &Search {
                status: Some("关闭".to_string()),
                ..Search::default()
            },
            &reference,
        )
        .unwrap();
        assert_eq!(status.status, Some(Status::Closed));
        assert!(parse_status("paused").is_err());
    }
}
