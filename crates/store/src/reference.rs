//! Versioned reference tables other than coefficients: the tax's pollution equivalents, rates
//! and item counts, later key-unit lists. Each edition holds the table's canonical CSV (UTF-8,
//! canonical English headers, made by `ingest`) and its SHA-256; `app` decides which kinds exist
//! and validates the content before it is stored.
//!
//! The life cycle is the coefficient editions': a draft (replaced, never edited), published with
//! a mandatory revision note (immutable, enforced here and by triggers), retired (still readable
//! by number, never resolved as `latest`). Every write is one transaction with its audit entry;
//! loading recomputes the hash.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{self, Record};
use crate::editions::EditionStatus;
use crate::{Store, StoreError};

/// Metadata of one edition of a reference table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceInfo {
    /// The table's name, e.g. `tax-rates`.
    pub name: String,
    /// Edition number, from 1.
    pub edition: u32,
    /// What the content is (which reader parses it), e.g. `tax-rates`.
    pub kind: String,
    /// Draft, published or retired.
    pub status: EditionStatus,
    /// SHA-256 of the canonical CSV, hex.
    pub content_hash: String,
    /// Data rows.
    pub row_count: u64,
    /// The file it was imported from (a label).
    pub imported_from: String,
    /// SHA-256 of the file as given.
    pub source_sha256: String,
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

impl ReferenceInfo {
    /// `name@edition`, the name used everywhere.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.edition)
    }
}

/// Which edition of a reference table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSelector {
    /// `name@3`: exactly that edition, whatever its status.
    Fixed {
        /// Table name.
        name: String,
        /// Edition number.
        edition: u32,
    },
    /// `name` or `name@latest`: the newest published edition.
    Latest {
        /// Table name.
        name: String,
    },
    /// `name@draft`: the current draft.
    Draft {
        /// Table name.
        name: String,
    },
}

impl ReferenceSelector {
    /// Parses `name`, `name@N`, `name@latest` or `name@draft`.
    pub fn parse(text: &str) -> Result<ReferenceSelector, StoreError> {
        let text = text.trim();
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => (name.trim(), Some(version.trim())),
            None => (text, None),
        };
        check_name(name)?;
        let name = name.to_string();
        match version {
            None | Some("latest") => Ok(ReferenceSelector::Latest { name }),
            Some("draft") => Ok(ReferenceSelector::Draft { name }),
            Some(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(|edition| ReferenceSelector::Fixed {
                    name: name.clone(),
                    edition,
                })
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "`{text}`: an edition is a number, `latest` or `draft`"
                    ))
                }),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        match self {
            ReferenceSelector::Fixed { name, .. }
            | ReferenceSelector::Latest { name }
            | ReferenceSelector::Draft { name } => name,
        }
    }
}

/// A table name: 1–64 characters of lower-case ASCII letters, digits and `-`, starting with a
/// letter (it appears in URLs and file names).
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{}` is not a reference table name: 1 to 64 lower-case letters, digits and `-`, starting with a letter",
            name.chars().take(80).collect::<String>()
        )))
    }
}

/// The SHA-256 of a canonical CSV, hex.
pub fn content_hash(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a new draft holds.
#[derive(Debug, Clone, Copy)]
pub struct NewReference<'a> {
    /// Table name.
    pub name: &'a str,
    /// Kind of content.
    pub kind: &'a str,
    /// The canonical CSV (validated by the caller).
    pub content: &'a str,
    /// Its data rows.
    pub row_count: u64,
    /// The file it came from (a label).
    pub imported_from: &'a str,
    /// SHA-256 of that file.
    pub source_sha256: &'a str,
}

const COLUMNS: &str = "name, edition, kind, status, content_hash, row_count, imported_from, \
     source_sha256, created_at, created_by, published_at, published_by, revision_note, \
     retired_at, retired_by, retire_note";

impl Store {
    /// Stores `new` as the draft of its table: replaces the existing draft (keeping its number)
    /// or creates the next edition number. A table keeps one kind for all its editions.
    pub async fn import_reference_draft(
        &self,
        new: NewReference<'_>,
        actor: &str,
    ) -> Result<ReferenceInfo, StoreError> {
        check_name(new.name)?;
        let hash = content_hash(new.content);
        let mut tx = self.pool().begin().await?;
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT kind FROM reference_edition WHERE name = $1")
                .bind(new.name)
                .fetch_all(&mut *tx)
                .await?;
        if let Some(other) = kinds.iter().find(|k| *k != new.kind) {
            return Err(StoreError::Conflict(format!(
                "the reference table `{}` holds `{other}` tables, not `{}`",
                new.name, new.kind
            )));
        }
        let draft: Option<(i64, String)> = sqlx::query_as(
            "SELECT edition, content_hash FROM reference_edition \
             WHERE name = $1 AND status = 'draft'",
        )
        .bind(new.name)
        .fetch_optional(&mut *tx)
        .await?;
        let now = crate::now_utc();
        let (edition, before_hash) = match draft {
            Some((edition, old_hash)) => {
                sqlx::query(
                    "UPDATE reference_edition SET content = $3, content_hash = $4, \
                     row_count = $5, imported_from = $6, source_sha256 = $7, created_at = $8, \
                     created_by = $9 WHERE name = $1 AND edition = $2 AND status = 'draft'",
                )
                .bind(new.name)
                .bind(edition)
                .bind(new.content)
                .bind(&hash)
                .bind(new.row_count as i64)
                .bind(new.imported_from)
                .bind(new.source_sha256)
                .bind(&now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                (edition, Some(old_hash))
            }
            None => {
                let max: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(edition) FROM reference_edition WHERE name = $1",
                )
                .bind(new.name)
                .fetch_one(&mut *tx)
                .await?;
                let edition = max.unwrap_or(0) + 1;
                sqlx::query(
                    "INSERT INTO reference_edition (name, edition, kind, status, content_hash, \
                     content, row_count, imported_from, source_sha256, created_at, created_by) \
                     VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(new.name)
                .bind(edition)
                .bind(new.kind)
                .bind(&hash)
                .bind(new.content)
                .bind(new.row_count as i64)
                .bind(new.imported_from)
                .bind(new.source_sha256)
                .bind(&now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                (edition, None)
            }
        };
        let object = format!("{}@{edition}", new.name);
        audit::record(
            &mut tx,
            Record {
                actor,
                action: "import",
                object: &object,
                before_hash: before_hash.as_deref(),
                after_hash: Some(&hash),
                detail: &format!(
                    "{} table, {} rows from {}",
                    new.kind, new.row_count, new.imported_from
                ),
            },
        )
        .await?;
        tx.commit().await?;
        self.reference_edition(new.name, u32::try_from(edition).unwrap_or(u32::MAX))
            .await
    }

    /// Publishes the draft `name@edition` (or the table's draft when `edition` is None) with a
    /// mandatory revision note, after verifying its content hash.
    pub async fn publish_reference(
        &self,
        name: &str,
        edition: Option<u32>,
        note: &str,
        actor: &str,
    ) -> Result<ReferenceInfo, StoreError> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(
                "publishing needs a revision note saying what changed and why".to_string(),
            ));
        }
        let info = match edition {
            Some(n) => self.reference_edition(name, n).await?,
            None => {
                self.resolve_reference(&ReferenceSelector::Draft {
                    name: name.to_string(),
                })
                .await?
            }
        };
        if info.status != EditionStatus::Draft {
            return Err(StoreError::Conflict(format!(
                "{} is already {}; published editions never change (import a new draft instead)",
                info.label(),
                info.status
            )));
        }
        self.load_reference(&info).await?;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE reference_edition SET status = 'published', published_at = $3, \
             published_by = $4, revision_note = $5 WHERE name = $1 AND edition = $2 \
             AND status = 'draft' AND content_hash = $6",
        )
        .bind(name)
        .bind(i64::from(info.edition))
        .bind(crate::now_utc())
        .bind(actor)
        .bind(note.trim())
        .bind(&info.content_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "{} changed while it was being published; nothing was changed",
                info.label()
            )));
        }
        self.finish_reference_transition(tx, &info, "publish", note, actor)
            .await
    }

    /// Retires a published edition: readable by number, never resolved as `latest`.
    pub async fn retire_reference(
        &self,
        name: &str,
        edition: u32,
        note: &str,
        actor: &str,
    ) -> Result<ReferenceInfo, StoreError> {
        if note.trim().is_empty() {
            return Err(StoreError::Invalid(
                "retiring needs a note saying why".to_string(),
            ));
        }
        let info = self.reference_edition(name, edition).await?;
        if info.status != EditionStatus::Published {
            return Err(StoreError::Conflict(format!(
                "{} is {}, only published editions can be retired",
                info.label(),
                info.status
            )));
        }
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE reference_edition SET status = 'retired', retired_at = $3, retired_by = $4, \
             retire_note = $5 WHERE name = $1 AND edition = $2 AND status = 'published'",
        )
        .bind(name)
        .bind(i64::from(edition))
        .bind(crate::now_utc())
        .bind(actor)
        .bind(note.trim())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "{} changed meanwhile; nothing was changed",
                info.label()
            )));
        }
        self.finish_reference_transition(tx, &info, "retire", note, actor)
            .await
    }

    async fn finish_reference_transition(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        info: &ReferenceInfo,
        action: &str,
        note: &str,
        actor: &str,
    ) -> Result<ReferenceInfo, StoreError> {
        audit::commit_transition(tx, &info.label(), &info.content_hash, action, note, actor)
            .await?;
        self.reference_edition(&info.name, info.edition).await
    }

    /// One edition's metadata.
    pub async fn reference_edition(
        &self,
        name: &str,
        edition: u32,
    ) -> Result<ReferenceInfo, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM reference_edition WHERE name = $1 AND edition = $2"
        )))
        .bind(name)
        .bind(i64::from(edition))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => reference_info(&row),
            None => Err(StoreError::NotFound(format!(
                "there is no reference table edition `{name}@{edition}`"
            ))),
        }
    }

    /// All editions of one table or of all tables, by name and number.
    pub async fn reference_editions(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<ReferenceInfo>, StoreError> {
        let rows =
            match name {
                Some(name) => sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM reference_edition WHERE name = $1 ORDER BY name, edition"
                )))
                .bind(name)
                .fetch_all(self.pool())
                .await?,
                None => {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {COLUMNS} FROM reference_edition ORDER BY name, edition"
                    )))
                    .fetch_all(self.pool())
                    .await?
                }
            };
        rows.iter().map(reference_info).collect()
    }

    /// The edition a selector names.
    pub async fn resolve_reference(
        &self,
        selector: &ReferenceSelector,
    ) -> Result<ReferenceInfo, StoreError> {
        let name = selector.name();
        let editions = self.reference_editions(Some(name)).await?;
        if editions.is_empty() {
            return Err(StoreError::NotFound(format!(
                "there is no reference table `{name}` in the database"
            )));
        }
        let found = match selector {
            ReferenceSelector::Fixed { edition, .. } => {
                editions.iter().find(|e| e.edition == *edition)
            }
            ReferenceSelector::Draft { .. } => {
                editions.iter().find(|e| e.status == EditionStatus::Draft)
            }
            ReferenceSelector::Latest { .. } => editions
                .iter()
                .filter(|e| e.status == EditionStatus::Published)
                .max_by_key(|e| e.edition),
        };
        found.cloned().ok_or_else(|| {
            StoreError::NotFound(match selector {
                ReferenceSelector::Fixed { edition, .. } => {
                    format!("there is no reference table edition `{name}@{edition}`")
                }
                ReferenceSelector::Draft { .. } => format!("`{name}` has no draft"),
                ReferenceSelector::Latest { .. } => {
                    format!("`{name}` has no published edition")
                }
            })
        })
    }

    /// An edition's canonical CSV, its hash recomputed and compared with the stored one.
    pub async fn load_reference(&self, info: &ReferenceInfo) -> Result<String, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT content, content_hash FROM reference_edition WHERE name = $1 AND edition = $2",
        )
        .bind(&info.name)
        .bind(i64::from(info.edition))
        .fetch_optional(self.pool())
        .await?;
        let Some((content, stored)) = row else {
            return Err(StoreError::NotFound(format!(
                "there is no reference table edition `{}`",
                info.label()
            )));
        };
        let actual = content_hash(&content);
        if actual != stored || stored != info.content_hash {
            return Err(StoreError::Integrity(format!(
                "{}: the stored content hashes to {actual}, but {stored} is recorded",
                info.label()
            )));
        }
        Ok(content)
    }
}

fn reference_info(row: &AnyRow) -> Result<ReferenceInfo, StoreError> {
    let edition: i64 = row.try_get("edition")?;
    let row_count: i64 = row.try_get("row_count")?;
    Ok(ReferenceInfo {
        name: row.try_get("name")?,
        edition: u32::try_from(edition)
            .map_err(|_| StoreError::Integrity(format!("edition number {edition}")))?,
        kind: row.try_get("kind")?,
        status: EditionStatus::parse(&row.try_get::<String, _>("status")?)?,
        content_hash: row.try_get("content_hash")?,
        row_count: u64::try_from(row_count).unwrap_or(0),
        imported_from: row.try_get("imported_from")?,
        source_sha256: row.try_get("source_sha256")?,
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
