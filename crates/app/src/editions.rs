//! Coefficient editions in the database: import a draft from files, publish, retire, list,
//! resolve, load for accounting, export back to the canonical CSV, read the audit log.
//!
//! These functions are async because the store is; front-ends run them on their runtime (the
//! command line on a small current-thread runtime, the service on its own).

use std::path::Path;

use accounting::coefficient::{CoefficientSet, Removal};
use accounting::date::Date;
use accounting::render::{Precision, quantity};
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use store::audit::AuditEntry;
use store::editions::DateRule;

pub use store::editions::{EditionInfo, EditionStatus, Selector};
pub use store::{DEFAULT_URL, Store};

use crate::AppError;

/// Opens the database at `url` (creating and migrating an embedded SQLite file on first use).
pub async fn open(url: &str) -> Result<Store, AppError> {
    Ok(Store::open(url).await?)
}

/// Applies pending migrations; returns how many were applied.
pub async fn migrate(url: &str) -> Result<usize, AppError> {
    let store = Store::connect(url).await?;
    let applied = store.migrate().await?;
    store.close().await;
    Ok(applied)
}

/// Reads a coefficient set (folder with manifest, CSV or Excel table) and stores it as its set's
/// draft. Bad input is reported in full and nothing is written.
pub async fn import(
    store: &Store,
    path: &Path,
    reference: &Reference,
    read: &ReadOptions,
    actor: &str,
) -> Result<EditionInfo, AppError> {
    let set = ingest::coefficients::load_set(path, reference, read)
        .map_err(|issues| AppError::input("the coefficient set", issues))?;
    Ok(store
        .import_draft(
            &set,
            &reference.pollutants,
            &path.display().to_string(),
            actor,
        )
        .await?)
}

/// Parses an edition selector: `set@N`, `set@latest`, `set@draft`, or `set` with a date.
pub fn selector(text: &str, at: Option<&str>, rule: &str) -> Result<Selector, AppError> {
    let rule = DateRule::parse(rule).ok_or_else(|| AppError::Argument {
        message: format!("unknown date rule `{rule}`"),
        hint: Some("use `effective` or `next-month`".to_string()),
    })?;
    let at = at
        .map(|d| {
            Date::parse(d).map_err(|e| AppError::Argument {
                message: e.to_string(),
                hint: Some("write dates as `2024-03-01`".to_string()),
            })
        })
        .transpose()?;
    Ok(Selector::parse(text, at, rule)?)
}

/// Resolves a selector to an edition.
pub async fn resolve(store: &Store, selector: &Selector) -> Result<EditionInfo, AppError> {
    Ok(store.resolve(selector).await?)
}

/// Resolves and loads an edition, verifying its content hash.
pub async fn load(
    store: &Store,
    selector: &Selector,
    reference: &Reference,
) -> Result<(EditionInfo, CoefficientSet), AppError> {
    let info = store.resolve(selector).await?;
    let set = store.load(&info, &reference.pollutants).await?;
    Ok((info, set))
}

/// Publishes a draft with its mandatory revision note.
pub async fn publish(
    store: &Store,
    set_id: &str,
    edition: Option<u32>,
    note: &str,
    actor: &str,
    reference: &Reference,
) -> Result<EditionInfo, AppError> {
    Ok(store
        .publish(set_id, edition, note, actor, &reference.pollutants)
        .await?)
}

/// Retires a published edition.
pub async fn retire(
    store: &Store,
    set_id: &str,
    edition: u32,
    note: &str,
    actor: &str,
) -> Result<EditionInfo, AppError> {
    Ok(store.retire(set_id, edition, note, actor).await?)
}

/// Lists editions.
pub async fn list(store: &Store, set_id: Option<&str>) -> Result<Vec<EditionInfo>, AppError> {
    Ok(store.list(set_id).await?)
}

/// The newest audit entries.
pub async fn audit(store: &Store, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
    Ok(store.audit(limit).await?)
}

/// Header of an exported coefficient table: the canonical English column names.
pub const EXPORT_HEADER: [&str; 13] = [
    "industry_code",
    "section",
    "product",
    "raw_material",
    "process",
    "scale",
    "pollutant",
    "unit",
    "generation_coefficient",
    "treatment",
    "removal_efficiency",
    "emission_coefficient",
    "source",
];

/// Writes a set as a canonical coefficient table (UTF-8 CSV, English headers). Importing the
/// result gives the same content hash: the round trip is lossless.
pub fn export_csv(set: &CoefficientSet, reference: &Reference) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(EXPORT_HEADER);
    for row in set.rows() {
        let (efficiency, emission) = match &row.removal {
            Removal::Efficiency { percent } => {
                (quantity(*percent, Precision::Exact), String::new())
            }
            Removal::EmissionCoefficient(f) => (String::new(), f.text().to_string()),
            Removal::None => (String::new(), String::new()),
        };
        let _ = writer.write_record([
            row.industry.digits(),
            row.section.as_deref().unwrap_or(""),
            &row.product,
            &row.raw_material,
            &row.process,
            row.scale.label(),
            &reference.pollutants.get(row.pollutant).name,
            &row.unit.text(),
            row.generation.text(),
            &row.treatment,
            &efficiency,
            &emission,
            row.note.as_deref().unwrap_or(""),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
