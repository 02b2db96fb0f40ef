//! The append-only audit log: who wrote what, when, with the content hash before and after.
//! Entries are written inside the transaction of the write they record, so a write and its
//! entry land together or not at all.

use sqlx::Row;

use crate::{Store, StoreError};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// UTC time.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What, e.g. `import`, `publish`, `retire`.
    pub action: String,
    /// On what, e.g. `npsc1-excerpt@2`.
    pub object: String,
    /// Content hash before, if any.
    pub before_hash: Option<String>,
    /// Content hash after, if any.
    pub after_hash: Option<String>,
    /// Free text.
    pub detail: String,
}

/// What to record.
pub(crate) struct Record<'a> {
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) object: &'a str,
    pub(crate) before_hash: Option<&'a str>,
    pub(crate) after_hash: Option<&'a str>,
    pub(crate) detail: &'a str,
}

/// The one statement that appends an entry, on both engines.
const INSERT_ENTRY: &str = "INSERT INTO audit_log (at, actor, action, object, before_hash, \
                            after_hash, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: Record<'_>,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_ENTRY)
        .bind(crate::now_utc())
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.object)
        .bind(entry.before_hash)
        .bind(entry.after_hash)
        .bind(entry.detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// [`record`] in a native PostgreSQL transaction (a stored run, written with `COPY`).
pub(crate) async fn record_postgres(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    entry: Record<'_>,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_ENTRY)
        .bind(crate::now_utc())
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.object)
        .bind(entry.before_hash)
        .bind(entry.after_hash)
        .bind(entry.detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a status change of an immutable object (`publish`, `retire`: the content hash is
/// the same before and after) with its note, and commits the transaction.
pub(crate) async fn commit_transition(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    object: &str,
    content_hash: &str,
    action: &str,
    note: &str,
    actor: &str,
) -> Result<(), StoreError> {
    record(
        &mut tx,
        Record {
            actor,
            action,
            object,
            before_hash: Some(content_hash),
            after_hash: Some(content_hash),
            detail: note.trim(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

impl Store {
    /// The newest `limit` entries, newest first.
    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, object, before_hash, after_hash, detail \
             FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    before_hash: r.try_get("before_hash")?,
                    after_hash: r.try_get("after_hash")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
