//! Coefficient editions: a set has numbered editions; an edition is a draft (replaceable) until
//! it is published (immutable, identified by set, number and content hash, with effective date,
//! publisher, time and revision note); a published edition can be retired (still readable, never
//! resolved by `latest` or by date).
//!
//! Publishing is a conditional update (`… WHERE status = 'draft'`), so of two concurrent
//! publishes of one draft exactly one changes a row and wins; the other gets a conflict. Loading
//! an edition recomputes its content hash and refuses rows that no longer match it.

use std::fmt;

use accounting::codes::IndustryCode;
use accounting::coefficient::{CoefficientRow, CoefficientSet, Removal, RowOrigin, SetMeta};
use accounting::date::Date;
use accounting::diff::{KeyMigration, KeyPattern};
use accounting::formula::Formula;
use accounting::pollutant::PollutantCatalog;
use accounting::scale::ScaleClass;
use accounting::units::CoefficientUnit;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{self, Record};
pub use crate::check::CheckReport;
use crate::{Store, StoreError};

/// Where an edition is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EditionStatus {
    /// Editable and replaceable; never resolved except by name.
    Draft,
    /// Immutable and in force from its effective date.
    Published,
    /// Immutable, readable, never resolved by `latest` or by date.
    Retired,
}

impl EditionStatus {
    pub(crate) fn parse(text: &str) -> Result<EditionStatus, StoreError> {
        match text {
            "draft" => Ok(EditionStatus::Draft),
            "published" => Ok(EditionStatus::Published),
            "retired" => Ok(EditionStatus::Retired),
            other => Err(StoreError::Integrity(format!(
                "unknown edition status `{other}`"
            ))),
        }
    }

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            EditionStatus::Draft => "draft",
            EditionStatus::Published => "published",
            EditionStatus::Retired => "retired",
        }
    }
}

impl fmt::Display for EditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An edition's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionInfo {
    /// Set id.
    pub set_id: String,
    /// Edition number, from 1.
    pub edition: u32,
    /// Draft, published or retired.
    pub status: EditionStatus,
    /// Title.
    pub title: String,
    /// In force from.
    pub effective_from: Option<Date>,
    /// Where the numbers come from.
    pub provenance: String,
    /// Whether the numbers are synthetic.
    pub synthetic: bool,
    /// SHA-256 of the canonical serialization of the rows.
    pub content_hash: String,
    /// Number of coefficient rows.
    pub row_count: u64,
    /// The file or folder it was imported from.
    pub imported_from: String,
    /// When the draft was (last) imported.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// When it was published.
    pub published_at: Option<String>,
    /// By whom.
    pub published_by: Option<String>,
    /// The mandatory revision note.
    pub revision_note: Option<String>,
    /// When it was retired.
    pub retired_at: Option<String>,
    /// By whom.
    pub retired_by: Option<String>,
    /// Why.
    pub retire_note: Option<String>,
}

impl EditionInfo {
    /// `set@edition`, the name used everywhere.
    pub fn name(&self) -> String {
        format!("{}@{}", self.set_id, self.edition)
    }
}

/// How an accounting date selects an edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// The edition in force on the date: the latest effective date on or before it.
    Effective,
    /// The tax rule (MEE/MoF/STA 2021 No. 16): a revision applies from the first day of the month
    /// after its effective date.
    NextMonth,
}

impl DateRule {
    /// `effective` or `next-month`.
    pub fn parse(text: &str) -> Option<DateRule> {
        match text {
            "effective" => Some(DateRule::Effective),
            "next-month" => Some(DateRule::NextMonth),
            _ => None,
        }
    }
}

/// Which edition to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `set@3`: exactly that edition, whatever its status.
    Fixed {
        /// Set id.
        set: String,
        /// Edition number.
        edition: u32,
    },
    /// `set@latest`: the newest published edition.
    Latest {
        /// Set id.
        set: String,
    },
    /// `set@draft`: the current draft.
    Draft {
        /// Set id.
        set: String,
    },
    /// `set` with an accounting date and a rule.
    At {
        /// Set id.
        set: String,
        /// The accounting date.
        date: Date,
        /// The rule.
        rule: DateRule,
    },
}

impl Selector {
    /// Parses `set@N`, `set@latest`, `set@draft`, or `set` (which needs `at`; without a date it
    /// means `latest`).
    pub fn parse(text: &str, at: Option<Date>, rule: DateRule) -> Result<Selector, StoreError> {
        let text = text.trim();
        let (set, version) = match text.split_once('@') {
            Some((set, version)) => (set.trim(), Some(version.trim())),
            None => (text, None),
        };
        if set.is_empty() {
            return Err(StoreError::Invalid(format!(
                "`{text}` names no coefficient set"
            )));
        }
        let set = set.to_string();
        match (version, at) {
            (Some("latest"), None) => Ok(Selector::Latest { set }),
            (Some("draft"), None) => Ok(Selector::Draft { set }),
            (Some(n), None) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(|edition| Selector::Fixed {
                    set: set.clone(),
                    edition,
                })
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "`{text}`: an edition is a number, `latest` or `draft`"
                    ))
                }),
            (Some(_), Some(_)) => Err(StoreError::Invalid(format!(
                "`{text}` names an edition and an accounting date: give one or the other"
            ))),
            (None, Some(date)) => Ok(Selector::At { set, date, rule }),
            (None, None) => Ok(Selector::Latest { set }),
        }
    }
}

/// Column list of `edition`; a constant, so the queries built with it are safe.
const EDITION_COLUMNS: &str = "set_id, edition, status, title, effective_from, provenance, \
     synthetic, content_hash, row_count, imported_from, created_at, created_by, published_at, \
     published_by, revision_note, retired_at, retired_by, retire_note";

/// Rows per multi-row INSERT: 19 parameters each stays well under both engines' limits.
const INSERT_BATCH: usize = 200;

impl Store {
    /// Stores `set` as the draft of its set: replaces the existing draft (keeping its number) or
    /// creates the next edition number. One transaction; the audit entry is part of it.
    pub async fn import_draft(
        &self,
        set: &CoefficientSet,
        catalog: &PollutantCatalog,
        imported_from: &str,
        actor: &str,
    ) -> Result<EditionInfo, StoreError> {
        let meta = set.meta();
        let hash = set.content_hash().to_string();
        let now = crate::now_utc();
        let mut tx = self.pool().begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM coefficient_set WHERE id = $1")
                .bind(&meta.id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            sqlx::query("INSERT INTO coefficient_set (id, created_at) VALUES ($1, $2)")
                .bind(&meta.id)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        let draft: Option<(i64, String)> = sqlx::query_as(
            "SELECT edition, content_hash FROM edition WHERE set_id = $1 AND status = 'draft'",
        )
        .bind(&meta.id)
        .fetch_optional(&mut *tx)
        .await?;
        let (edition, before_hash) = match draft {
            Some((edition, old_hash)) => {
                for table in ["coefficient_row", "key_migration"] {
                    sqlx::query(AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE set_id = $1 AND edition = $2"
                    )))
                    .bind(&meta.id)
                    .bind(edition)
                    .execute(&mut *tx)
                    .await?;
                }
                (edition, Some(old_hash))
            }
            None => {
                let max: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(edition) FROM edition WHERE set_id = $1")
                        .bind(&meta.id)
                        .fetch_one(&mut *tx)
                        .await?;
                let edition = max.unwrap_or(0) + 1;
                // An empty draft row, filled in below like a replaced draft.
                sqlx::query(
                    "INSERT INTO edition (set_id, edition, status, title, provenance, synthetic, \
                     content_hash, row_count, imported_from, created_at, created_by) \
                     VALUES ($1, $2, 'draft', '', '', 0, '', 0, '', '', '')",
                )
                .bind(&meta.id)
                .bind(edition)
                .execute(&mut *tx)
                .await?;
                (edition, None)
            }
        };
        sqlx::query(
            "UPDATE edition SET title = $3, effective_from = $4, provenance = $5, \
             synthetic = $6, content_hash = $7, row_count = $8, imported_from = $9, \
             created_at = $10, created_by = $11 \
             WHERE set_id = $1 AND edition = $2 AND status = 'draft'",
        )
        .bind(&meta.id)
        .bind(edition)
        .bind(&meta.title)
        .bind(meta.effective_from.map(|d| d.to_string()))
        .bind(&meta.provenance)
        .bind(i64::from(meta.synthetic))
        .bind(&hash)
        .bind(set.rows().len() as i64)
        .bind(imported_from)
        .bind(&now)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        for (batch_index, batch) in set.rows().chunks(INSERT_BATCH).enumerate() {
            insert_rows(
                &mut tx,
                &meta.id,
                edition,
                batch_index * INSERT_BATCH,
                batch,
                catalog,
            )
            .await?;
        }
        for (ordinal, m) in meta.key_migrations.iter().enumerate() {
            sqlx::query(
                "INSERT INTO key_migration (set_id, edition, ordinal, from_industry_code, \
                 from_product, from_raw_material, from_process, from_scale, to_industry_code, \
                 to_product, to_raw_material, to_process, to_scale, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&meta.id)
            .bind(edition)
            .bind(ordinal as i64)
            .bind(m.from.industry.clone())
            .bind(m.from.product.clone())
            .bind(m.from.raw_material.clone())
            .bind(m.from.process.clone())
            .bind(m.from.scale.clone())
            .bind(m.to.industry.clone())
            .bind(m.to.product.clone())
            .bind(m.to.raw_material.clone())
            .bind(m.to.process.clone())
            .bind(m.to.scale.clone())
            .bind(&m.note)
            .execute(&mut *tx)
            .await?;
        }
        let object = format!("{}@{edition}", meta.id);
        audit::record(
            &mut tx,
            Record {
                actor,
                action: "import",
                object: &object,
                before_hash: before_hash.as_deref(),
                after_hash: Some(&hash),
                detail: &format!("{} rows from {imported_from}", set.rows().len()),
            },
        )
        .await?;
        tx.commit().await?;
        self.edition(&meta.id, u32::try_from(edition).unwrap_or(u32::MAX))
            .await
    }

    /// Publishes the draft `set@edition` (or the set's draft when `edition` is None). The
    /// revision note is mandatory. The rows are re-read and their hash verified first.
    pub async fn publish(
        &self,
        set_id: &str,
        edition: Option<u32>,
        note: &str,
        actor: &str,
        catalog: &PollutantCatalog,
    ) -> Result<EditionInfo, StoreError> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(
                "publishing needs a revision note saying what changed and why".to_string(),
            ));
        }
        let info = match edition {
            Some(n) => self.edition(set_id, n).await?,
            None => {
                self.resolve(&Selector::Draft {
                    set: set_id.to_string(),
                })
                .await?
            }
        };
        if info.status != EditionStatus::Draft {
            return Err(StoreError::Conflict(format!(
                "{} is already {}; published editions never change (import a new draft instead)",
                info.name(),
                info.status
            )));
        }
        // Verifies the stored rows against the hash recorded at import.
        self.load(&info, catalog).await?;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE edition SET status = 'published', published_at = $3, published_by = $4, \
             revision_note = $5 WHERE set_id = $1 AND edition = $2 AND status = 'draft' \
             AND content_hash = $6",
        )
        .bind(set_id)
        .bind(i64::from(info.edition))
        .bind(crate::now_utc())
        .bind(actor)
        .bind(note.trim())
        .bind(&info.content_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "{} changed while it was being published (published by someone else, or its draft was replaced); nothing was changed",
                info.name()
            )));
        }
        self.finish_transition(tx, &info, "publish", note, actor)
            .await
    }

    /// Retires a published edition: it stays readable and nameable (`set@N`) but is no longer
    /// resolved by `latest` or by date.
    pub async fn retire(
        &self,
        set_id: &str,
        edition: u32,
        note: &str,
        actor: &str,
    ) -> Result<EditionInfo, StoreError> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(
                "retiring needs a note saying why".to_string(),
            ));
        }
        let info = self.edition(set_id, edition).await?;
        if info.status != EditionStatus::Published {
            return Err(StoreError::Conflict(format!(
                "{} is {}, only published editions can be retired",
                info.name(),
                info.status
            )));
        }
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE edition SET status = 'retired', retired_at = $3, retired_by = $4, \
             retire_note = $5 WHERE set_id = $1 AND edition = $2 AND status = 'published'",
        )
        .bind(set_id)
        .bind(i64::from(edition))
        .bind(crate::now_utc())
        .bind(actor)
        .bind(note.trim())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "{} changed meanwhile; nothing was changed",
                info.name()
            )));
        }
        self.finish_transition(tx, &info, "retire", note, actor)
            .await
    }

    /// Records a status change of `info` in the audit log, commits, and returns the new state.
    async fn finish_transition(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        info: &EditionInfo,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<EditionInfo, StoreError> {
        audit::commit_transition(tx, &info.name(), &info.content_hash, action, note, actor).await?;
        self.edition(&info.set_id, info.edition).await
    }

    /// One edition's metadata.
    pub async fn edition(&self, set_id: &str, edition: u32) -> Result<EditionInfo, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {EDITION_COLUMNS} FROM edition WHERE set_id = $1 AND edition = $2"
        )))
        .bind(set_id)
        .bind(i64::from(edition))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => edition_info(&row),
            None => Err(StoreError::NotFound(format!(
                "there is no edition `{set_id}@{edition}`"
            ))),
        }
    }

    /// All editions, of one set or of all sets, ordered by set and number.
    pub async fn list(&self, set_id: Option<&str>) -> Result<Vec<EditionInfo>, StoreError> {
        let rows = match set_id {
            Some(id) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {EDITION_COLUMNS} FROM edition WHERE set_id = $1 ORDER BY set_id, edition"
            )))
            .bind(id)
            .fetch_all(self.pool())
            .await?,
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {EDITION_COLUMNS} FROM edition ORDER BY set_id, edition"
                )))
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(edition_info).collect()
    }

    /// Finds the edition a selector names.
    pub async fn resolve(&self, selector: &Selector) -> Result<EditionInfo, StoreError> {
        let set = match selector {
            Selector::Fixed { set, .. }
            | Selector::Latest { set }
            | Selector::Draft { set }
            | Selector::At { set, .. } => set,
        };
        let editions = self.list(Some(set)).await?;
        if editions.is_empty() {
            return Err(StoreError::NotFound(format!(
                "there is no coefficient set `{set}` in the database"
            )));
        }
        let in_force = editions
            .iter()
            .filter(|e| e.status == EditionStatus::Published);
        let found = match selector {
            Selector::Fixed { edition, .. } => editions.iter().find(|e| e.edition == *edition),
            Selector::Draft { .. } => editions.iter().find(|e| e.status == EditionStatus::Draft),
            Selector::Latest { .. } => in_force.max_by_key(|e| e.edition),
            Selector::At { date, rule, .. } => in_force
                .filter_map(|e| {
                    let from = e.effective_from?;
                    let applies = match rule {
                        DateRule::Effective => from,
                        DateRule::NextMonth => first_of_next_month(from),
                    };
                    (applies <= *date).then_some((applies, e.edition, e))
                })
                .max_by_key(|(applies, edition, _)| (*applies, *edition))
                .map(|(_, _, e)| e),
        };
        found.cloned().ok_or_else(|| {
            StoreError::NotFound(match selector {
                Selector::Fixed { edition, .. } => format!("there is no edition `{set}@{edition}`"),
                Selector::Draft { .. } => format!("`{set}` has no draft"),
                Selector::Latest { .. } => format!("`{set}` has no published edition"),
                Selector::At { date, .. } => {
                    format!("no published edition of `{set}` is in force on {date}")
                }
            })
        })
    }

    /// Loads an edition's rows as a coefficient set, verifying the content hash.
    pub async fn load(
        &self,
        info: &EditionInfo,
        catalog: &PollutantCatalog,
    ) -> Result<CoefficientSet, StoreError> {
        let rows = sqlx::query(
            "SELECT source_table, source_row, industry_code, section, product, raw_material, \
             process, scale, pollutant, unit, generation_coefficient, treatment, removal_kind, \
             removal_efficiency, emission_coefficient, note \
             FROM coefficient_row WHERE set_id = $1 AND edition = $2 ORDER BY ordinal",
        )
        .bind(&info.set_id)
        .bind(i64::from(info.edition))
        .fetch_all(self.pool())
        .await?;
        let rows = rows
            .iter()
            .map(|r| coefficient_row(r, catalog))
            .collect::<Result<Vec<_>, _>>()?;
        let migrations = sqlx::query(
            "SELECT from_industry_code, from_product, from_raw_material, from_process, from_scale, \
             to_industry_code, to_product, to_raw_material, to_process, to_scale, note \
             FROM key_migration WHERE set_id = $1 AND edition = $2 ORDER BY ordinal",
        )
        .bind(&info.set_id)
        .bind(i64::from(info.edition))
        .fetch_all(self.pool())
        .await?;
        let pattern = |r: &AnyRow, side: &str| -> Result<KeyPattern, StoreError> {
            let get = |name: &str| -> Result<Option<String>, StoreError> {
                Ok(r.try_get::<Option<String>, _>(format!("{side}_{name}").as_str())?)
            };
            Ok(KeyPattern {
                industry: get("industry_code")?,
                product: get("product")?,
                raw_material: get("raw_material")?,
                process: get("process")?,
                scale: get("scale")?,
            })
        };
        let key_migrations = migrations
            .iter()
            .map(|r| {
                Ok(KeyMigration {
                    from: pattern(r, "from")?,
                    to: pattern(r, "to")?,
                    note: r.try_get("note")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let meta = SetMeta {
            id: info.set_id.clone(),
            edition: info.edition,
            title: info.title.clone(),
            effective_from: info.effective_from,
            provenance: info.provenance.clone(),
            synthetic: info.synthetic,
            key_migrations,
        };
        let set = CoefficientSet::build(meta, rows, catalog).map_err(|problems| {
            StoreError::Integrity(format!(
                "{} no longer builds: {}",
                info.name(),
                problems
                    .iter()
                    .take(3)
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let hash = set.content_hash().to_string();
        if hash != info.content_hash || set.rows().len() as u64 != info.row_count {
            return Err(StoreError::Integrity(format!(
                "{} has content hash {hash} and {} rows, but {} and {} rows were recorded",
                info.name(),
                set.rows().len(),
                info.content_hash,
                info.row_count
            )));
        }
        Ok(set)
    }
}

/// The first day of the month after `date`.
pub fn first_of_next_month(date: Date) -> Date {
    let (year, month) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    Date::new(year, month, 1).unwrap_or(date)
}

async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    set_id: &str,
    edition: i64,
    first_ordinal: usize,
    rows: &[CoefficientRow],
    catalog: &PollutantCatalog,
) -> Result<(), StoreError> {
    const COLUMNS: usize = 19;
    let mut sql = String::from(
        "INSERT INTO coefficient_row (set_id, edition, ordinal, source_table, source_row, \
         industry_code, section, product, raw_material, process, scale, pollutant, unit, \
         generation_coefficient, treatment, removal_kind, removal_efficiency, \
         emission_coefficient, note) VALUES ",
    );
    for i in 0..rows.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", i * COLUMNS + c + 1));
        }
        sql.push(')');
    }
    // Only placeholders are generated here; every value is bound.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (i, row) in rows.iter().enumerate() {
        let (kind, efficiency, emission) = match &row.removal {
            Removal::Efficiency { percent } => ("efficiency", Some(*percent), None),
            Removal::EmissionCoefficient(f) => ("emission", None, Some(f.text().to_string())),
            Removal::None => ("none", None, None),
        };
        query = query
            .bind(set_id.to_string())
            .bind(edition)
            .bind((first_ordinal + i) as i64)
            .bind(row.origin.table.clone())
            .bind(row.origin.row as i64)
            .bind(row.industry.to_string())
            .bind(row.section.clone())
            .bind(row.product.clone())
            .bind(row.raw_material.clone())
            .bind(row.process.clone())
            .bind(row.scale.label().to_string())
            .bind(catalog.get(row.pollutant).code.clone())
            .bind(row.unit.text())
            .bind(row.generation.text().to_string())
            .bind(row.treatment.clone())
            .bind(kind)
            .bind(efficiency)
            .bind(emission)
            .bind(row.note.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

fn edition_info(row: &AnyRow) -> Result<EditionInfo, StoreError> {
    let edition: i64 = row.try_get("edition")?;
    let effective: Option<String> = row.try_get("effective_from")?;
    let synthetic: i64 = row.try_get("synthetic")?;
    let row_count: i64 = row.try_get("row_count")?;
    Ok(EditionInfo {
        set_id: row.try_get("set_id")?,
        edition: u32::try_from(edition)
            .map_err(|_| StoreError::Integrity(format!("edition number {edition}")))?,
        status: EditionStatus::parse(&row.try_get::<String, _>("status")?)?,
        title: row.try_get("title")?,
        effective_from: effective
            .as_deref()
            .map(Date::parse)
            .transpose()
            .map_err(|e| StoreError::Integrity(e.to_string()))?,
        provenance: row.try_get("provenance")?,
        synthetic: synthetic != 0,
        content_hash: row.try_get("content_hash")?,
        row_count: u64::try_from(row_count).unwrap_or(0),
        imported_from: row.try_get("imported_from")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        published_at: row.try_get("published_at")?,
        published_by: row.try_get("published_by")?,
        revision_note: row.try_get("revision_note")?,
        retired_at: row.try_get("retired_at")?,
        retired_by: row.try_get("retired_by")?,
        retire_note: row.try_get("retire_note")?,
    })
}

fn coefficient_row(row: &AnyRow, catalog: &PollutantCatalog) -> Result<CoefficientRow, StoreError> {
    let bad = |what: &str, value: &str, e: String| {
        StoreError::Integrity(format!("stored {what} `{value}` does not parse: {e}"))
    };
    let text = |name: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(name)?) };
    let industry = text("industry_code")?;
    let scale = text("scale")?;
    let pollutant = text("pollutant")?;
    let unit = text("unit")?;
    let generation = text("generation_coefficient")?;
    let kind = text("removal_kind")?;
    let source_row: i64 = row.try_get("source_row")?;
    let removal = match kind.as_str() {
        "efficiency" => Removal::Efficiency {
            percent: row
                .try_get::<Option<f64>, _>("removal_efficiency")?
                .ok_or_else(|| StoreError::Integrity("efficiency row without efficiency".into()))?,
        },
        "emission" => {
            let text = row
                .try_get::<Option<String>, _>("emission_coefficient")?
                .unwrap_or_default();
            Removal::EmissionCoefficient(
                Formula::parse(&text)
                    .map_err(|e| bad("emission coefficient", &text, e.to_string()))?,
            )
        }
        _ => Removal::None,
    };
    Ok(CoefficientRow {
        origin: RowOrigin {
            table: text("source_table")?,
            row: u64::try_from(source_row).unwrap_or(0),
        },
        industry: IndustryCode::parse(&industry)
            .map_err(|e| bad("industry code", &industry, e.to_string()))?,
        section: row.try_get("section")?,
        product: text("product")?,
        raw_material: text("raw_material")?,
        process: text("process")?,
        scale: ScaleClass::parse(&scale).map_err(|e| bad("scale", &scale, e.to_string()))?,
        pollutant: catalog.lookup(&pollutant).ok_or_else(|| {
            bad(
                "pollutant",
                &pollutant,
                "not in the pollutant list".to_string(),
            )
        })?,
        unit: CoefficientUnit::parse(&unit).map_err(|e| bad("unit", &unit, e.to_string()))?,
        generation: Formula::parse(&generation)
            .map_err(|e| bad("generation coefficient", &generation, e.to_string()))?,
        treatment: text("treatment")?,
        removal,
        note: row.try_get("note")?,
    })
}
