//! The enterprise registry (排污单位名录) in the database: the current record of every enterprise,
//! its status history (operating, suspended, closed, deregistered, each with its date, reason,
//! time and actor) and the history of its other fields.
//!
//! A newer registry file is never copied over the stored one: [`changes`] compares it with the
//! stored records and gives a [`ChangeSet`] (new enterprises, changed fields old → new, stored
//! enterprises missing from the file), which [`Store::import_registry`] writes in one transaction
//! with its audit entry. Enterprises missing from a file are reported, never closed or deleted;
//! closing is an explicit status change ([`Store::change_statuses`]).
//!
//! Invariants: enterprises are never deleted and their USCC never changes; the status history
//! and the change history are append-only (the database triggers refuse anything else); the
//! newest status-history entry of an enterprise always holds its current status and status date.
//! Every record carries a revision number, and every update is conditional on the revision it was
//! computed from, so a concurrent change makes the whole write fail instead of being overwritten.

use std::collections::BTreeMap;

use accounting::activity::{Enterprise, Registry, Status};
use accounting::codes::{IndustryCode, RegionCode, Uscc};
use accounting::date::Date;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::{self, Record};
use crate::{Backend, Store, StoreError};

/// An enterprise as stored: its current record and bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnterprise {
    /// 统一社会信用代码.
    pub uscc: Uscc,
    /// 单位名称.
    pub name: String,
    /// 行政区划代码.
    pub region: RegionCode,
    /// 行业代码 (a GB/T 4754-2017 class, with its section letter).
    pub industry: IndustryCode,
    /// 运行状态.
    pub status: Status,
    /// 状态日期.
    pub status_date: Option<Date>,
    /// 排污许可证编号.
    pub permit_no: Option<String>,
    /// When the enterprise was first imported (UTC).
    pub first_seen: String,
    /// When its record last changed (UTC).
    pub updated_at: String,
    /// Incremented by every change; updates are conditional on it.
    pub revision: i64,
}

impl StoredEnterprise {
    /// The record as accounting sees it; `row` is its position in the stored registry.
    pub fn to_enterprise(&self, row: u64) -> Enterprise {
        Enterprise {
            uscc: self.uscc,
            name: self.name.clone(),
            region: self.region,
            industry: self.industry.clone(),
            status: self.status,
            status_date: self.status_date,
            permit_no: self.permit_no.clone(),
            row,
        }
    }
}

/// One entry of an enterprise's status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// Sequence number (history order).
    pub id: i64,
    /// The status from then on.
    pub status: Status,
    /// Its date, when known.
    pub status_date: Option<Date>,
    /// Why, e.g. `import registry-2024.csv` or `no activity for 3 years (writeoff)`.
    pub reason: String,
    /// When it was recorded (UTC).
    pub recorded_at: String,
    /// By whom.
    pub actor: String,
}

/// One recorded change of a field other than the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChangeEntry {
    /// Sequence number.
    pub id: i64,
    /// `name`, `region_code`, `industry_code` or `permit_no`.
    pub field: String,
    /// The value before.
    pub old: Option<String>,
    /// The value after.
    pub new: Option<String>,
    /// Why, e.g. `import registry-2024.csv`.
    pub reason: String,
    /// When it was recorded (UTC).
    pub recorded_at: String,
    /// By whom.
    pub actor: String,
}

/// One field of an enterprise that a file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// `name`, `region_code`, `industry_code`, `status`, `status_date` or `permit_no`.
    pub field: &'static str,
    /// The stored value (`None`: empty).
    pub old: Option<String>,
    /// The file's value (`None`: empty).
    pub new: Option<String>,
}

/// A stored enterprise that a file changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedEnterprise {
    /// The stored record.
    pub before: StoredEnterprise,
    /// The file's record.
    pub after: Enterprise,
    /// The fields that differ, in the order of the registry format.
    pub fields: Vec<FieldChange>,
}

impl ChangedEnterprise {
    /// Whether the status or its date changes (which appends to the status history).
    pub fn status_changed(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.field == "status" || f.field == "status_date")
    }
}

/// What a registry file would change in the stored registry. Every list is sorted by USCC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Enterprises of the file that are not stored.
    pub added: Vec<Enterprise>,
    /// Stored enterprises whose record in the file differs.
    pub changed: Vec<ChangedEnterprise>,
    /// Stored enterprises the file does not list: reported, never closed by an import.
    pub missing: Vec<StoredEnterprise>,
    /// Enterprises of the file identical to their stored record.
    pub unchanged: usize,
}

impl ChangeSet {
    /// Whether applying it would write nothing (missing enterprises are never written).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty()
    }

    /// How many changed enterprises change status or status date.
    pub fn status_changes(&self) -> usize {
        self.changed.iter().filter(|c| c.status_changed()).count()
    }

    /// One line: `2 added, 3 changed (1 status change), 1 not in the file, 25 unchanged`.
    pub fn summary(&self) -> String {
        let status = self.status_changes();
        format!(
            "{} added, {} changed ({status} status change{}), {} not in the file, {} unchanged",
            self.added.len(),
            self.changed.len(),
            if status == 1 { "" } else { "s" },
            self.missing.len(),
            self.unchanged
        )
    }
}

/// Compares a registry file with the stored records. A field counts as changed when its stored
/// text differs from the file's: names are compared exactly as written (after the reader's
/// trimming), codes in their canonical form (`152502`, `C1351`, so `1351` and `C1351` are the
/// same class), dates as dates, an empty permit number as none.
pub fn changes(stored: &[StoredEnterprise], file: &Registry) -> ChangeSet {
    let by_uscc: BTreeMap<&Uscc, &StoredEnterprise> = stored.iter().map(|s| (&s.uscc, s)).collect();
    let mut listed: Vec<&Enterprise> = file.iter().collect();
    listed.sort_by_key(|e| e.uscc);
    let mut set = ChangeSet::default();
    for e in listed {
        match by_uscc.get(&e.uscc) {
            None => set.added.push(e.clone()),
            Some(before) => {
                let fields = differences(before, e);
                if fields.is_empty() {
                    set.unchanged += 1;
                } else {
                    set.changed.push(ChangedEnterprise {
                        before: (*before).clone(),
                        after: e.clone(),
                        fields,
                    });
                }
            }
        }
    }
    set.missing = by_uscc
        .values()
        .filter(|s| file.find(&s.uscc).is_none())
        .map(|s| (*s).clone())
        .collect();
    set
}

fn differences(before: &StoredEnterprise, after: &Enterprise) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    let mut compare = |field: &'static str, old: Option<String>, new: Option<String>| {
        if old != new {
            fields.push(FieldChange { field, old, new });
        }
    };
    compare("name", Some(before.name.clone()), Some(after.name.clone()));
    compare(
        "region_code",
        Some(before.region.to_string()),
        Some(after.region.to_string()),
    );
    compare(
        "industry_code",
        Some(before.industry.to_string()),
        Some(after.industry.to_string()),
    );
    compare(
        "status",
        Some(before.status.to_string()),
        Some(after.status.to_string()),
    );
    compare(
        "status_date",
        before.status_date.map(|d| d.to_string()),
        after.status_date.map(|d| d.to_string()),
    );
    compare(
        "permit_no",
        before.permit_no.clone(),
        after.permit_no.clone(),
    );
    fields
}

/// A status change to record, computed from the stored record at `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The enterprise.
    pub uscc: Uscc,
    /// The revision the change was computed from; if the record changed since, nothing is
    /// written.
    pub revision: i64,
    /// The new status.
    pub status: Status,
    /// Its date.
    pub status_date: Option<Date>,
    /// Why (mandatory).
    pub reason: String,
}

/// Column list of `enterprise`; a constant, so the queries built with it are safe.
const ENTERPRISE_COLUMNS: &str = "uscc, name, region_code, industry_code, status, status_date, \
     permit_no, first_seen, updated_at, revision";

/// Rows per multi-row INSERT: at most 10 parameters each, well under both engines' limits.
const INSERT_BATCH: usize = 200;

impl Store {
    /// Every stored enterprise, ordered by USCC.
    pub async fn enterprises(&self) -> Result<Vec<StoredEnterprise>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        load_enterprises(&mut conn).await
    }

    /// One enterprise's current record.
    pub async fn enterprise(&self, uscc: &Uscc) -> Result<StoredEnterprise, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTERPRISE_COLUMNS} FROM enterprise WHERE uscc = $1"
        )))
        .bind(uscc.as_str())
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => stored_enterprise(&row),
            None => Err(not_stored(uscc)),
        }
    }

    /// The stored registry as accounting uses it: current records, ordered by USCC, `row`
    /// being the 1-based position in that order.
    pub async fn registry(&self) -> Result<Registry, StoreError> {
        let enterprises = self
            .enterprises()
            .await?
            .iter()
            .enumerate()
            .map(|(i, e)| e.to_enterprise(i as u64 + 1))
            .collect();
        Registry::new(enterprises).map_err(|duplicates| {
            StoreError::Integrity(format!("{} enterprises are stored twice", duplicates.len()))
        })
    }

    /// An enterprise's status history, oldest first.
    pub async fn status_history(&self, uscc: &Uscc) -> Result<Vec<StatusEntry>, StoreError> {
        self.enterprise(uscc).await?;
        let rows = sqlx::query(
            "SELECT id, status, status_date, reason, recorded_at, actor \
             FROM enterprise_status WHERE uscc = $1 ORDER BY id",
        )
        .bind(uscc.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusEntry {
                    id: r.try_get("id")?,
                    status: status_from_db(&r.try_get::<String, _>("status")?)?,
                    status_date: date_from_db(r.try_get("status_date")?)?,
                    reason: r.try_get("reason")?,
                    recorded_at: r.try_get("recorded_at")?,
                    actor: r.try_get("actor")?,
                })
            })
            .collect()
    }

    /// The recorded changes of an enterprise's other fields (name, region, industry, permit),
    /// oldest first.
    pub async fn field_changes(&self, uscc: &Uscc) -> Result<Vec<FieldChangeEntry>, StoreError> {
        self.enterprise(uscc).await?;
        let rows = sqlx::query(
            "SELECT id, field, old_value, new_value, reason, recorded_at, actor \
             FROM enterprise_change WHERE uscc = $1 ORDER BY id",
        )
        .bind(uscc.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FieldChangeEntry {
                    id: r.try_get("id")?,
                    field: r.try_get("field")?,
                    old: r.try_get("old_value")?,
                    new: r.try_get("new_value")?,
                    reason: r.try_get("reason")?,
                    recorded_at: r.try_get("recorded_at")?,
                    actor: r.try_get("actor")?,
                })
            })
            .collect()
    }

    /// What importing `file` would change (a dry run: nothing is written).
    pub async fn registry_changes(&self, file: &Registry) -> Result<ChangeSet, StoreError> {
        Ok(changes(&self.enterprises().await?, file))
    }

    /// Imports a registry file: computes the change set against the records as they are in the
    /// transaction, then adds the new enterprises, updates the changed ones (recording every
    /// changed field, and appending to the status history when the status or its date changes,
    /// with the reason `import <source>`) and writes one audit entry, all in one transaction.
    /// Enterprises missing from the file are left as they are. Returns the change set written;
    /// an empty one writes nothing.
    pub async fn import_registry(
        &self,
        file: &Registry,
        source: &str,
        actor: &str,
    ) -> Result<ChangeSet, StoreError> {
        let mut tx = self.pool().begin().await?;
        let set = changes(&load_enterprises(&mut tx).await?, file);
        if set.is_empty() {
            // Nothing to write; the transaction is rolled back when dropped.
            return Ok(set);
        }
        let now = crate::now_utc();
        let reason = format!("import {source}");
        for batch in set.added.chunks(INSERT_BATCH) {
            insert_enterprises(&mut tx, batch, &now).await?;
            let entries: Vec<(&Uscc, Status, Option<Date>)> = batch
                .iter()
                .map(|e| (&e.uscc, e.status, e.status_date))
                .collect();
            insert_statuses(&mut tx, &entries, &reason, &now, actor).await?;
        }
        for c in &set.changed {
            let e = &c.after;
            let done = sqlx::query(
                "UPDATE enterprise SET name = $2, region_code = $3, industry_code = $4, \
                 status = $5, status_date = $6, permit_no = $7, updated_at = $8, \
                 revision = revision + 1 WHERE uscc = $1 AND revision = $9",
            )
            .bind(e.uscc.as_str())
            .bind(&e.name)
            .bind(e.region.to_string())
            .bind(e.industry.to_string())
            .bind(e.status.as_str())
            .bind(e.status_date.map(|d| d.to_string()))
            .bind(e.permit_no.clone())
            .bind(&now)
            .bind(c.before.revision)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(changed_meanwhile(&e.uscc));
            }
            for f in c
                .fields
                .iter()
                .filter(|f| f.field != "status" && f.field != "status_date")
            {
                sqlx::query(
                    "INSERT INTO enterprise_change (uscc, field, old_value, new_value, reason, \
                     recorded_at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(e.uscc.as_str())
                .bind(f.field)
                .bind(f.old.clone())
                .bind(f.new.clone())
                .bind(&reason)
                .bind(&now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            }
            if c.status_changed() {
                insert_statuses(
                    &mut tx,
                    &[(&e.uscc, e.status, e.status_date)],
                    &reason,
                    &now,
                    actor,
                )
                .await?;
            }
        }
        audit::record(
            &mut tx,
            Record {
                actor,
                action: "registry-import",
                object: "registry",
                before_hash: None,
                after_hash: None,
                detail: &format!("{} from {source}", set.summary()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(set)
    }

    /// Records status changes (e.g. the closures of a writeoff) in one transaction: each updates
    /// the enterprise if it is still at the revision the change was computed from, appends to
    /// its status history, and writes an audit entry with `action`. If any enterprise changed
    /// meanwhile, nothing is written.
    pub async fn change_statuses(
        &self,
        list: &[StatusChange],
        action: &str,
        actor: &str,
    ) -> Result<usize, StoreError> {
        if let Some(c) = list.iter().find(|c| c.reason.trim().is_empty()) {
            return Err(StoreError::Invalid(format!(
                "the status change of `{}` needs a reason",
                c.uscc
            )));
        }
        let mut tx = self.pool().begin().await?;
        let now = crate::now_utc();
        for c in list {
            let done = sqlx::query(
                "UPDATE enterprise SET status = $2, status_date = $3, updated_at = $4, \
                 revision = revision + 1 WHERE uscc = $1 AND revision = $5",
            )
            .bind(c.uscc.as_str())
            .bind(c.status.as_str())
            .bind(c.status_date.map(|d| d.to_string()))
            .bind(&now)
            .bind(c.revision)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT revision FROM enterprise WHERE uscc = $1")
                        .bind(c.uscc.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(match exists {
                    None => not_stored(&c.uscc),
                    Some(_) => changed_meanwhile(&c.uscc),
                });
            }
            let reason = c.reason.trim();
            insert_statuses(
                &mut tx,
                &[(&c.uscc, c.status, c.status_date)],
                reason,
                &now,
                actor,
            )
            .await?;
            let date = c
                .status_date
                .map(|d| format!(" on {d}"))
                .unwrap_or_default();
            audit::record(
                &mut tx,
                Record {
                    actor,
                    action,
                    object: c.uscc.as_str(),
                    before_hash: None,
                    after_hash: None,
                    detail: &format!("{}{date}: {reason}", c.status),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(list.len())
    }
}

fn not_stored(uscc: &Uscc) -> StoreError {
    StoreError::NotFound(format!("enterprise `{uscc}` is not in the stored registry"))
}

fn changed_meanwhile(uscc: &Uscc) -> StoreError {
    StoreError::Conflict(format!(
        "enterprise `{uscc}` changed while this was being written; nothing was changed (run it again)"
    ))
}

async fn load_enterprises(conn: &mut AnyConnection) -> Result<Vec<StoredEnterprise>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENTERPRISE_COLUMNS} FROM enterprise ORDER BY uscc"
    )))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(stored_enterprise).collect()
}

/// `($1, $2, …), ($k+1, …)` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::new();
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", i * columns + c + 1));
        }
        sql.push(')');
    }
    sql
}

async fn insert_enterprises(
    conn: &mut AnyConnection,
    batch: &[Enterprise],
    now: &str,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    // Only placeholders are generated here; every value is bound.
    let sql = format!(
        "INSERT INTO enterprise ({ENTERPRISE_COLUMNS}) VALUES {}",
        placeholders(batch.len(), 10)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for e in batch {
        query = query
            .bind(e.uscc.as_str().to_string())
            .bind(e.name.clone())
            .bind(e.region.to_string())
            .bind(e.industry.to_string())
            .bind(e.status.as_str())
            .bind(e.status_date.map(|d| d.to_string()))
            .bind(e.permit_no.clone())
            .bind(now.to_string())
            .bind(now.to_string())
            .bind(1_i64);
    }
    query.execute(&mut *conn).await.map_err(|e| {
        if e.as_database_error()
            .is_some_and(|d| d.is_unique_violation())
        {
            StoreError::Conflict(
                "enterprises were added while this import was being written; nothing was changed (run it again)"
                    .to_string(),
            )
        } else {
            StoreError::Database(e)
        }
    })?;
    Ok(())
}

async fn insert_statuses(
    conn: &mut AnyConnection,
    entries: &[(&Uscc, Status, Option<Date>)],
    reason: &str,
    now: &str,
    actor: &str,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    // Only placeholders are generated here; every value is bound.
    let sql = format!(
        "INSERT INTO enterprise_status (uscc, status, status_date, reason, recorded_at, actor) \
         VALUES {}",
        placeholders(entries.len(), 6)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (uscc, status, date) in entries {
        query = query
            .bind(uscc.as_str().to_string())
            .bind(status.as_str())
            .bind(date.map(|d| d.to_string()))
            .bind(reason.to_string())
            .bind(now.to_string())
            .bind(actor.to_string());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

fn status_from_db(text: &str) -> Result<Status, StoreError> {
    match text {
        "operating" => Ok(Status::Operating),
        "suspended" => Ok(Status::Suspended),
        "closed" => Ok(Status::Closed),
        "deregistered" => Ok(Status::Deregistered),
        other => Err(StoreError::Integrity(format!(
            "unknown enterprise status `{other}`"
        ))),
    }
}

fn date_from_db(text: Option<String>) -> Result<Option<Date>, StoreError> {
    text.as_deref()
        .map(Date::parse)
        .transpose()
        .map_err(|e| StoreError::Integrity(format!("stored status date: {e}")))
}

fn stored_enterprise(row: &AnyRow) -> Result<StoredEnterprise, StoreError> {
    let bad = |what: &str, value: &str, e: String| {
        StoreError::Integrity(format!("stored {what} `{value}` does not parse: {e}"))
    };
    let uscc: String = row.try_get("uscc")?;
    let region: String = row.try_get("region_code")?;
    let industry: String = row.try_get("industry_code")?;
    Ok(StoredEnterprise {
        uscc: Uscc::parse(&uscc).map_err(|e| bad("USCC", &uscc, e.to_string()))?,
        name: row.try_get("name")?,
        region: RegionCode::parse(&region)
            .map_err(|e| bad("region code", &region, e.to_string()))?,
        industry: IndustryCode::parse(&industry)
            .map_err(|e| bad("industry code", &industry, e.to_string()))?,
        status: status_from_db(&row.try_get::<String, _>("status")?)?,
        status_date: date_from_db(row.try_get("status_date")?)?,
        permit_no: row.try_get("permit_no")?,
        first_seen: row.try_get("first_seen")?,
        updated_at: row.try_get("updated_at")?,
        revision: row.try_get("revision")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Searching the stored registry.

/// A search of the stored registry: every condition given must hold. The values are bound as
/// parameters, never written into the SQL; `%`, `_` and `\` in the name text match themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnterpriseFilter {
    /// Name text or USCC prefix.
    pub text: Option<TextMatch>,
    /// Digits the region code starts with: 2 (province), 4 (prefecture) or 6 (county).
    pub region_prefix: Option<String>,
    /// What the canonical industry code starts with: a section letter alone (`C`) or the letter
    /// and 2–4 digits (`C13`, `C135`, `C1351`).
    pub industry_prefix: Option<String>,
    /// The current status.
    pub status: Option<Status>,
}

/// Free text: the enterprise's name, normalised as [`accounting::text::normalize_name`] does,
/// contains `name`; or (when given) its USCC starts with `uscc_prefix`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextMatch {
    /// Already normalised (`normalize_name`) text; empty matches every name.
    pub name: String,
    /// Upper-case letters and digits, at most 18.
    pub uscc_prefix: Option<String>,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterprisePage {
    /// How many enterprises match in all.
    pub total: u64,
    /// The page, ordered by USCC.
    pub enterprises: Vec<StoredEnterprise>,
}

/// Every character Rust calls whitespace (what `normalize_name` removes), in code-point order.
fn whitespace_chars() -> &'static [char] {
    static CHARS: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    CHARS.get_or_init(|| {
        (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect()
    })
}

/// `text` as an SQL string literal.
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The characters whose `normalize_name` form is the ASCII character `c`: itself, its
/// upper-case letter and their full-width forms. Any other character stands only for itself.
fn preimage(c: char) -> Vec<char> {
    let mut chars = vec![c];
    if c.is_ascii_lowercase() {
        chars.push(c.to_ascii_uppercase());
    }
    if c.is_ascii_graphic() {
        let wide: Vec<char> = chars
            .iter()
            .filter_map(|a| char::from_u32(*a as u32 + 0xFEE0))
            .collect();
        chars.extend(wide);
    }
    chars
}

/// A GLOB pattern (SQLite) for one character of a normalised text: the character, or a class
/// of the characters that normalise to it (`[aAａＡ]`). In a class `]` goes first, `^` never
/// first and `-` last, so all three stand for themselves.
fn glob_class(c: char) -> String {
    let mut set = preimage(c);
    set.sort_unstable();
    set.dedup();
    if set.len() == 1 && !matches!(c, '*' | '?' | '[') {
        return c.to_string();
    }
    let mut class = String::from("[");
    if set.contains(&']') {
        class.push(']');
    }
    class.extend(set.iter().filter(|c| !matches!(c, ']' | '^' | '-')));
    if set.contains(&'^') {
        class.push('^');
    }
    if set.contains(&'-') {
        class.push('-');
    }
    class.push(']');
    class
}

/// GLOB patterns (SQLite) for a normalised text: `*[aAａＡ][bBｂＢ]羊*` matches a name holding
/// a run of characters that normalises to it; `*[aAａＡ]*[bBｂＢ]*羊*` (the characters in order,
/// anything between) is a cheaper necessary condition, which also holds when whitespace
/// separates them.
fn glob_patterns(normalized: &str) -> (String, String) {
    let (mut run, mut ordered) = (String::from("*"), String::from("*"));
    for c in normalized.chars() {
        let class = glob_class(c);
        run.push_str(&class);
        ordered.push_str(&class);
        ordered.push('*');
    }
    run.push('*');
    (run, ordered)
}

/// SQLite: `name` without whitespace (nested `REPLACE`s, one per whitespace character), and a
/// GLOB pattern matching names that hold any whitespace. Constants only.
fn sqlite_whitespace_sql() -> &'static (String, String) {
    static SQL: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut stripped = "name".to_string();
        let mut class = String::from("*[");
        for c in whitespace_chars() {
            stripped = format!("REPLACE({stripped}, {}, '')", sql_literal(&c.to_string()));
            class.push(*c);
        }
        class.push_str("]*");
        (stripped, sql_literal(&class))
    })
}

/// PostgreSQL: `normalize_name(name)` in one `translate`: full-width forms to ASCII (letters
/// straight to lower case), ASCII capitals to lower case (`lower` would also lower non-ASCII
/// letters, which `normalize_name` keeps) and every whitespace character deleted. Constants only.
fn postgres_normalized_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let (mut from, mut to) = (String::new(), String::new());
        for code in 0xFF01_u32..=0xFF5E {
            if let (Some(wide), Some(narrow)) =
                (char::from_u32(code), char::from_u32(code - 0xFEE0))
            {
                from.push(wide);
                to.push(narrow.to_ascii_lowercase());
            }
        }
        for c in 'A'..='Z' {
            from.push(c);
            to.push(c.to_ascii_lowercase());
        }
        // Characters of `from` beyond the end of `to` are deleted.
        from.extend(whitespace_chars());
        format!(
            "translate(name, {}, {})",
            sql_literal(&from),
            sql_literal(&to)
        )
    })
}

/// `text` as a LIKE pattern matching itself anywhere (escape character `\`).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A cheap necessary condition for a normalised name match, as a LIKE pattern: the non-ASCII
/// characters of the normalised text in order (`%羊%肉%`). They can only come from themselves
/// (folding, whitespace removal and lower-casing all produce or change ASCII), so a name
/// without them cannot match; `None` when the text has none.
fn prefilter_pattern(normalized: &str) -> Option<String> {
    let wide: Vec<char> = normalized.chars().filter(|c| !c.is_ascii()).collect();
    if wide.is_empty() {
        return None;
    }
    let mut pattern = String::from("%");
    for c in wide {
        pattern.push(c);
        pattern.push('%');
    }
    Some(pattern)
}

fn invalid_filter(what: &str, value: &str, expected: &str) -> StoreError {
    StoreError::Invalid(format!("{what} `{value}`: expected {expected}"))
}

impl EnterpriseFilter {
    /// The WHERE clause (` WHERE …` or empty) and its values, in placeholder order. Refuses
    /// values that are not what the fields promise, so that nothing else reaches a LIKE.
    fn where_clause(&self, backend: Backend) -> Result<(String, Vec<String>), StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let bind = |value: String, values: &mut Vec<String>| {
            values.push(value);
            format!("${}", values.len())
        };
        if let Some(text) = &self.text {
            // SQLite reads a pattern up to its first NUL, PostgreSQL refuses NUL in text.
            if text.name.contains('\0') {
                return Err(invalid_filter(
                    "name text",
                    &text.name.replace('\0', "\\0"),
                    "no NUL character",
                ));
            }
            let name = match backend {
                // Exact without normalising every name: GLOB classes stand for case and width,
                // and only names that hold the characters in order and some whitespace (rare)
                // are stripped of it.
                Backend::Sqlite => {
                    let (stripped, any_whitespace) = sqlite_whitespace_sql();
                    let (run, ordered) = glob_patterns(&text.name);
                    let ordered = bind(ordered, &mut values);
                    let run = bind(run, &mut values);
                    format!(
                        "name GLOB {ordered} AND (name GLOB {run} OR \
                         (name GLOB {any_whitespace} AND {stripped} GLOB {run}))"
                    )
                }
                Backend::Postgres => {
                    let mut name = String::new();
                    if let Some(pre) = prefilter_pattern(&text.name) {
                        name.push_str(&format!("name LIKE {} AND ", bind(pre, &mut values)));
                    }
                    name.push_str(&format!(
                        "{} LIKE {} ESCAPE '\\'",
                        postgres_normalized_sql(),
                        bind(contains_pattern(&text.name), &mut values)
                    ));
                    name
                }
            };
            match &text.uscc_prefix {
                Some(prefix) => {
                    if prefix.is_empty()
                        || prefix.len() > 18
                        || !prefix
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                    {
                        return Err(invalid_filter(
                            "USCC prefix",
                            prefix,
                            "1 to 18 upper-case letters and digits",
                        ));
                    }
                    conditions.push(format!(
                        "(uscc LIKE {} OR ({name}))",
                        bind(format!("{prefix}%"), &mut values)
                    ));
                }
                None => conditions.push(format!("({name})")),
            }
        }
        if let Some(prefix) = &self.region_prefix {
            if ![2, 4, 6].contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_filter("region prefix", prefix, "2, 4 or 6 digits"));
            }
            conditions.push(format!(
                "region_code LIKE {}",
                bind(format!("{prefix}%"), &mut values)
            ));
        }
        if let Some(prefix) = &self.industry_prefix {
            let bytes = prefix.as_bytes();
            let ok = bytes.first().is_some_and(u8::is_ascii_uppercase)
                && bytes.len() != 2
                && bytes.len() <= 5
                && bytes[1..].iter().all(u8::is_ascii_digit);
            if !ok {
                return Err(invalid_filter(
                    "industry prefix",
                    prefix,
                    "a section letter alone or with 2 to 4 digits",
                ));
            }
            conditions.push(format!(
                "industry_code LIKE {}",
                bind(format!("{prefix}%"), &mut values)
            ));
        }
        if let Some(status) = self.status {
            conditions.push(format!(
                "status = {}",
                bind(status.as_str().to_string(), &mut values)
            ));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        Ok((clause, values))
    }
}

impl Store {
    /// One page of the enterprises matching `filter`, ordered by USCC, and how many match in
    /// all. The filtering, counting and paging happen in the database: only the page is read.
    pub async fn search_enterprises(
        &self,
        filter: &EnterpriseFilter,
        offset: u64,
        limit: u64,
    ) -> Result<EnterprisePage, StoreError> {
        let (clause, values) = filter.where_clause(self.backend())?;
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // Only constant fragments and placeholder numbers are formatted in; values are bound.
        let count_sql = format!("SELECT COUNT(*) AS n FROM enterprise{clause}");
        // SQLite would walk the USCC index and look every entry's row up until a page of
        // matches is found (seconds for a rare region among millions); with a filter, `+uscc`
        // makes it scan once and keep the top of a sort instead, as the count scans anyway.
        let order = if self.backend() == Backend::Sqlite && !clause.is_empty() {
            "+uscc"
        } else {
            "uscc"
        };
        let page_sql = format!(
            "SELECT {ENTERPRISE_COLUMNS} FROM enterprise{clause} ORDER BY {order} LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        // One transaction, so that the count and the page see the same registry on SQLite.
        let mut tx = self.pool().begin().await?;
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        for v in &values {
            count = count.bind(v.clone());
        }
        let total = count.fetch_one(&mut *tx).await?;
        let mut page = sqlx::query(AssertSqlSafe(page_sql));
        for v in &values {
            page = page.bind(v.clone());
        }
        let rows = page
            .bind(as_i64(limit))
            .bind(as_i64(offset))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(EnterprisePage {
            total: u64::try_from(total).unwrap_or(0),
            enterprises: rows
                .iter()
                .map(stored_enterprise)
                .collect::<Result<_, _>>()?,
        })
    }
}
