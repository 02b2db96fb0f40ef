//! API tokens: `npsc_<id>_<secret>`, 32 random bytes of secret; the store keeps the SHA-256 of the
//! secret only (a fast hash is right here: the secret is random, not a password, and argon2 would
//! cost ~50 ms per request on two cores), and verification compares hashes in constant time.

use sha2::{Digest, Sha256};

use crate::AppError;
use crate::editions::Store;

pub use store::tokens::TokenRecord;

/// The roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything.
    Reader,
    /// Also submits accounting runs.
    Officer,
    /// Also publishes and retires editions and changes the registry.
    Admin,
}

impl Role {
    /// `reader`, `officer` or `admin`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "reader" => Some(Role::Reader),
            "officer" => Some(Role::Officer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Officer => "officer",
            Role::Admin => "admin",
        }
    }
}

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
    Ok(hex(&buffer))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Creates a token; returns its record and the token text, which is shown once and never stored.
pub async fn create(
    store: &Store,
    name: &str,
    role: Role,
    actor: &str,
) -> Result<(TokenRecord, String), AppError> {
    if name.trim().is_empty() {
        return Err(AppError::Argument {
            message: "a token needs a name".to_string(),
            hint: Some("the name is written to the audit log with every write".to_string()),
        });
    }
    let id = random_hex(6)?;
    let secret = random_hex(32)?;
    let record = store
        .create_token(
            &id,
            name.trim(),
            role.as_str(),
            &secret_hash(&secret),
            actor,
        )
        .await?;
    Ok((record, format!("npsc_{id}_{secret}")))
}

/// All tokens.
pub async fn list(store: &Store) -> Result<Vec<TokenRecord>, AppError> {
    Ok(store.tokens().await?)
}

/// Revokes a token by name.
pub async fn revoke(store: &Store, name: &str, actor: &str) -> Result<(), AppError> {
    Ok(store.revoke_token(name, actor).await?)
}

/// Checks a presented token; `None` when it is malformed, unknown or revoked.
pub async fn verify(store: &Store, token: &str) -> Result<Option<(String, Role)>, AppError> {
    let Some(rest) = token.trim().strip_prefix("npsc_") else {
        return Ok(None);
    };
    let Some((id, secret)) = rest.split_once('_') else {
        return Ok(None);
    };
    let Some(record) = store.token(id).await? else {
        return Ok(None);
    };
    if record.revoked_at.is_some() {
        return Ok(None);
    }
    if !constant_time_eq(
        secret_hash(secret).as_bytes(),
        record.secret_hash.as_bytes(),
    ) {
        return Ok(None);
    }
    Ok(Role::parse(&record.role).map(|role| (record.name, role)))
}

/// Compares without an early exit, so the time taken says nothing about where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_orders() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(Role::Reader < Role::Officer && Role::Officer < Role::Admin);
        assert_eq!(secret_hash("").len(), 64);
    }
}
