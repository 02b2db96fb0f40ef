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

pub use store::editions::{CheckReport, EditionInfo, EditionStatus, Selector};
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

/// Checks the database's consistency (`store::check`): the migrations first (before pending
/// ones are applied), then every edition re-hashed, every run and reconciliation counted, the
/// audit log matched with the data, no orphan rows.
pub async fn check(url: &str, reference: &Reference) -> Result<CheckReport, AppError> {
    let store = Store::connect(url).await?;
    let report = store.check(&reference.pollutants).await;
    store.close().await;
    Ok(report?)
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
    rows_csv(set.rows().iter(), reference)
}

/// Writes coefficient rows as a canonical coefficient table (UTF-8 CSV, English headers).
pub fn rows_csv<'a>(
    rows: impl IntoIterator<Item = &'a accounting::coefficient::CoefficientRow>,
    reference: &Reference,
) -> String {
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(EXPORT_HEADER);
    for row in rows {
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

/// A coefficient set loaded for comparison, from the database or from files.
pub struct Loaded {
    /// `set@N` for an edition, the path for files.
    pub name: String,
    /// Content hash.
    pub hash: String,
    /// The set.
    pub set: CoefficientSet,
}

/// Loads `text` as an edition (anything with `@`) from the database, or as a folder or table.
pub async fn load_any(
    store: &Store,
    text: &str,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<Loaded, AppError> {
    if text.contains('@') {
        let selector = Selector::parse(text, None, DateRule::Effective)?;
        let (info, set) = load(store, &selector, reference).await?;
        Ok(Loaded {
            name: info.name(),
            hash: info.content_hash,
            set,
        })
    } else {
        let set = ingest::coefficients::load_set(Path::new(text), reference, read)
            .map_err(|issues| AppError::input("the coefficient set", issues))?;
        Ok(Loaded {
            name: text.to_string(),
            hash: set.content_hash().to_string(),
            set,
        })
    }
}

/// Renders the diff of two editions: one line per change, for people (`csv = false`) or as CSV
/// with the columns `change, key, new_key, field, old, new, relative`.
pub fn render_diff(
    diff: &accounting::diff::EditionDiff,
    old: &Loaded,
    new: &Loaded,
    csv: bool,
) -> String {
    let mut lines: Vec<[String; 7]> = Vec::new();
    let relative = |r: Option<f64>| r.map(|r| quantity(r, Precision::Exact)).unwrap_or_default();
    for c in &diff.changed {
        for f in &c.fields {
            lines.push([
                "changed".into(),
                c.old_key.to_string(),
                if c.old_key == c.new_key {
                    String::new()
                } else {
                    c.new_key.to_string()
                },
                f.field.to_string(),
                f.old.clone(),
                f.new.clone(),
                relative(f.relative),
            ]);
        }
    }
    for (key, _) in &diff.added {
        lines.push([
            "added".into(),
            key.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for (key, _) in &diff.removed {
        lines.push([
            "removed".into(),
            key.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for c in &diff.renamed {
        lines.push([
            "renamed".into(),
            c.old_key.to_string(),
            c.new_key.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    if csv {
        let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
        let _ = writer.write_record([
            "change", "key", "new_key", "field", "old", "new", "relative",
        ]);
        for line in &lines {
            let _ = writer.write_record(line);
        }
        return String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    }
    let mut out = format!(
        "{} ({}) → {} ({}): {} changed, {} added, {} removed, {} renamed, {} unchanged\n",
        old.name,
        &old.hash[..12],
        new.name,
        &new.hash[..12],
        diff.changed.len(),
        diff.added.len(),
        diff.removed.len(),
        diff.renamed.len(),
        diff.unchanged
    );
    for [change, key, new_key, field, old_value, new_value, rel] in lines {
        let mut line = format!("{change:<8} {key}");
        if !new_key.is_empty() {
            line.push_str(&format!(" → {new_key}"));
        }
        if !field.is_empty() {
            line.push_str(&format!(": {field} `{old_value}` → `{new_value}`"));
            if let Ok(r) = rel.parse::<f64>() {
                line.push_str(&format!(" ({:+.2} %)", r * 100.0));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One line of an impact report: a total under two editions.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactLine {
    /// Year.
    pub year: u16,
    /// Region code or `None` for national.
    pub region: Option<String>,
    /// Region name.
    pub region_name: String,
    /// Industry code or `None` for all.
    pub industry: Option<String>,
    /// Pollutant name.
    pub pollutant: String,
    /// Report unit.
    pub unit: String,
    /// Emitted under the old edition.
    pub old_emitted: f64,
    /// Emitted under the new edition.
    pub new_emitted: f64,
    /// Generated under the old edition.
    pub old_generated: f64,
    /// Generated under the new edition.
    pub new_generated: f64,
}

impl ImpactLine {
    /// new − old emitted.
    pub fn change(&self) -> f64 {
        self.new_emitted - self.old_emitted
    }

    /// (new − old)/old emitted, when old is not zero.
    pub fn relative(&self) -> Option<f64> {
        (self.old_emitted != 0.0).then(|| self.change() / self.old_emitted)
    }
}

/// Accounts the same registry and activity under two coefficient sets and pairs their totals,
/// largest absolute change of emissions first (ties in key order).
pub fn impact(
    old: &CoefficientSet,
    new: &CoefficientSet,
    settings: &crate::account::AccountSettings,
    reference: &Reference,
) -> Result<Vec<ImpactLine>, AppError> {
    use std::collections::BTreeMap;
    let progress = crate::account::NoProgress;
    let before = crate::account::account_with(old, settings, reference, &progress)?;
    let after = crate::account::account_with(new, settings, reference, &progress)?;
    type Key = (u16, Option<String>, Option<String>, String);
    let mut lines: BTreeMap<Key, ImpactLine> = BTreeMap::new();
    for (side, report) in [(0, &before), (1, &after)] {
        for t in &report.totals {
            let key = (
                t.year,
                t.region.map(|r| r.to_string()),
                t.industry.as_ref().map(|i| i.to_string()),
                t.pollutant_code.to_string(),
            );
            let line = lines.entry(key).or_insert_with(|| ImpactLine {
                year: t.year,
                region: t.region.map(|r| r.to_string()),
                region_name: t.region_name.to_string(),
                industry: t.industry.as_ref().map(|i| i.to_string()),
                pollutant: t.pollutant_name.to_string(),
                unit: t.unit.to_string(),
                old_emitted: 0.0,
                new_emitted: 0.0,
                old_generated: 0.0,
                new_generated: 0.0,
            });
            if side == 0 {
                line.old_emitted = t.emitted;
                line.old_generated = t.generated;
            } else {
                line.new_emitted = t.emitted;
                line.new_generated = t.generated;
            }
        }
    }
    let mut out: Vec<ImpactLine> = lines.into_values().collect();
    // A stable sort keeps key order among equal changes.
    out.sort_by(|a, b| b.change().abs().total_cmp(&a.change().abs()));
    Ok(out)
}

/// Renders an impact report as an aligned table or CSV.
pub fn render_impact(lines: &[ImpactLine], old: &str, new: &str, csv: bool) -> String {
    let header = [
        "year",
        "region",
        "region_name",
        "industry",
        "pollutant",
        "unit",
        "old_emitted",
        "new_emitted",
        "change",
        "relative",
    ];
    let rows: Vec<[String; 10]> = lines
        .iter()
        .map(|l| {
            [
                l.year.to_string(),
                l.region.clone().unwrap_or_else(|| "000000".into()),
                l.region_name.clone(),
                l.industry.clone().unwrap_or_default(),
                l.pollutant.clone(),
                l.unit.clone(),
                quantity(
                    l.old_emitted,
                    if csv {
                        Precision::Exact
                    } else {
                        Precision::Decimals(4)
                    },
                ),
                quantity(
                    l.new_emitted,
                    if csv {
                        Precision::Exact
                    } else {
                        Precision::Decimals(4)
                    },
                ),
                quantity(
                    l.change(),
                    if csv {
                        Precision::Exact
                    } else {
                        Precision::Decimals(4)
                    },
                ),
                l.relative()
                    .map(|r| {
                        if csv {
                            quantity(r, Precision::Exact)
                        } else {
                            format!("{:+.2} %", r * 100.0)
                        }
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    if csv {
        let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
        let _ = writer.write_record(header);
        for row in &rows {
            let _ = writer.write_record(row);
        }
        return String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default();
    }
    let mut out =
        format!("impact of {new} against {old} on emitted totals, largest change first\n\n");
    let mut lines_out = vec![header.map(String::from)];
    lines_out.extend(rows);
    let widths: Vec<usize> = (0..10)
        .map(|c| {
            lines_out
                .iter()
                .map(|r| crate::output::display_width(&r[c]))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &lines_out {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - crate::output::display_width(cell);
            if c >= 6 {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The diff as JSON: the two editions with their hashes, counts, and every change with its
/// fields (numbers as strings rendered by `render::quantity`).
pub fn diff_json(diff: &accounting::diff::EditionDiff, old: &Loaded, new: &Loaded) -> String {
    use serde_json::json;
    let changed: Vec<_> = diff
        .changed
        .iter()
        .map(|c| {
            json!({
                "key": c.old_key.to_string(),
                "new_key": c.new_key.to_string(),
                "fields": c.fields.iter().map(|f| json!({
                    "field": f.field.to_string(),
                    "old": f.old,
                    "new": f.new,
                    "relative": f.relative.map(|r| quantity(r, Precision::Exact)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let keys = |v: &[(accounting::diff::RowKey, u32)]| -> Vec<String> {
        v.iter().map(|(k, _)| k.to_string()).collect()
    };
    let renamed: Vec<_> = diff
        .renamed
        .iter()
        .map(|c| json!({"key": c.old_key.to_string(), "new_key": c.new_key.to_string()}))
        .collect();
    let value = json!({
        "old": {"name": old.name, "content_hash": old.hash},
        "new": {"name": new.name, "content_hash": new.hash},
        "unchanged": diff.unchanged,
        "changed": changed,
        "added": keys(&diff.added),
        "removed": keys(&diff.removed),
        "renamed": renamed,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// The impact report as JSON, largest change first.
pub fn impact_json(lines: &[ImpactLine], old: &str, new: &str) -> String {
    use serde_json::json;
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            json!({
                "year": l.year,
                "region_code": l.region,
                "region_name": l.region_name,
                "industry_code": l.industry,
                "pollutant": l.pollutant,
                "unit": l.unit,
                "old_emitted": quantity(l.old_emitted, Precision::Exact),
                "new_emitted": quantity(l.new_emitted, Precision::Exact),
                "change": quantity(l.change(), Precision::Exact),
                "relative": l.relative().map(|r| quantity(r, Precision::Exact)),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({"old": old, "new": new, "totals": rows}))
        .unwrap_or_default();
    text.push('\n');
    text
}

/// What an uploaded draft says about itself (the manifest of a folder, given by the uploader).
#[derive(Debug, Clone)]
pub struct UploadMeta {
    /// Set id.
    pub set_id: String,
    /// Title.
    pub title: String,
    /// Effective date, `YYYY-MM-DD`.
    pub effective_from: Option<String>,
    /// Where the numbers come from (mandatory).
    pub provenance: String,
    /// Whether the numbers are synthetic.
    pub synthetic: bool,
}

/// Imports an uploaded table (CSV, or Excel when `file_name` ends in `.xlsx`, `.xls`, `.ods`…)
/// as the set's draft. Bad input is reported in full and nothing is written.
pub async fn import_upload(
    store: &Store,
    meta: UploadMeta,
    file_name: &str,
    bytes: &[u8],
    reference: &Reference,
    actor: &str,
) -> Result<EditionInfo, AppError> {
    if meta.provenance.trim().is_empty() {
        return Err(AppError::Argument {
            message: "an uploaded coefficient table needs its provenance".to_string(),
            hint: Some(
                "say where the numbers come from, e.g. `?provenance=MEE 2021 No. 24`".to_string(),
            ),
        });
    }
    let effective_from = meta
        .effective_from
        .as_deref()
        .map(|d| {
            Date::parse(d).map_err(|e| AppError::Argument {
                message: e.to_string(),
                hint: Some("write dates as `2024-03-01`".to_string()),
            })
        })
        .transpose()?;
    let set_meta = accounting::coefficient::SetMeta {
        id: meta.set_id,
        edition: 0,
        title: meta.title,
        effective_from,
        provenance: meta.provenance,
        synthetic: meta.synthetic,
        key_migrations: Vec::new(),
    };
    let source = ingest::Source::Bytes {
        name: file_name,
        bytes,
    };
    let set = ingest::coefficients::build(
        set_meta,
        &[(source, file_name.to_string())],
        reference,
        &ReadOptions::default(),
    )
    .map_err(|issues| AppError::input("the uploaded coefficient table", issues))?;
    Ok(store
        .import_draft(
            &set,
            &reference.pollutants,
            &format!("upload {file_name}"),
            actor,
        )
        .await?)
}
