//! API tokens: a name, a role and the SHA-256 of a secret; the secret itself is shown once by the
//! caller that generated it and never stored. Creation and revocation are audited.

use sqlx::Row;

use crate::audit::{self, Record};
use crate::{Store, StoreError};

/// A stored token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id, part of the token text.
    pub id: String,
    /// Unique name, written to the audit log with every write made with the token.
    pub name: String,
    /// `reader`, `officer` or `admin`.
    pub role: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// When it was created.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

impl Store {
    /// Stores a new token.
    pub async fn create_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        secret_hash: &str,
        actor: &str,
    ) -> Result<TokenRecord, StoreError> {
        if !matches!(role, "reader" | "officer" | "admin") {
            return Err(StoreError::Invalid(format!(
                "unknown role `{role}`: use reader, officer or admin"
            )));
        }
        let mut tx = self.pool().begin().await?;
        let taken: Option<String> = sqlx::query_scalar("SELECT id FROM api_token WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a token named `{name}` exists already"
            )));
        }
        sqlx::query(
            "INSERT INTO api_token (id, name, role, secret_hash, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(secret_hash)
        .bind(crate::now_utc())
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            Record {
                actor,
                action: "token-create",
                object: name,
                before_hash: None,
                after_hash: None,
                detail: &format!("role {role}, id {id}"),
            },
        )
        .await?;
        tx.commit().await?;
        self.token(id)
            .await?
            .ok_or_else(|| StoreError::Integrity("a token vanished after its creation".into()))
    }

    /// A token by id.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, created_by, revoked_at \
             FROM api_token WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| token_record(&r)).transpose()
    }

    /// All tokens, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, secret_hash, created_at, created_by, revoked_at \
             FROM api_token ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_record).collect()
    }

    /// Revokes a token by name; it stops working at once.
    pub async fn revoke_token(&self, name: &str, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE api_token SET revoked_at = $2, revoked_by = $3 \
             WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(crate::now_utc())
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!(
                "no active token named `{name}`"
            )));
        }
        audit::record(
            &mut tx,
            Record {
                actor,
                action: "token-revoke",
                object: name,
                before_hash: None,
                after_hash: None,
                detail: "",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn token_record(r: &sqlx::any::AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        secret_hash: r.try_get("secret_hash")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}
