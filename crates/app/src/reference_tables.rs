//! Versioned reference tables in the database: the tax's pollution equivalents and rates (and,
//! as further kinds are added, item counts and key-unit lists), kept like coefficient editions —
//! a draft imported from a file, published with a revision note (immutable, content-hashed),
//! retired, listed, exported, compared — so that every consumer of the database computes with
//! the same published numbers.
//!
//! A table's content is its canonical CSV (`ingest::canonical`): the same table given as GBK
//! CSV with Chinese headers or as an Excel sheet is stored as the same bytes with the same hash.
//! Before anything is stored, the file is read by its kind's own reader, and every problem is
//! reported at once, located in the file as given.
//!
//! Which edition a computation uses ([`TableChoice`]): a file, a stored edition by selector
//! (`tax-rates@2`, `tax-rates@latest`), or by default the latest published edition of the
//! table named after its kind when the database has one, otherwise the table bundled with npsc.
//! The choice made is named in the output's provenance with its SHA-256.

use std::path::PathBuf;

use ingest::table::Schema;
use ingest::{Issue, Location, Source};
use store::reference::{NewReference, ReferenceSelector};

pub use store::reference::ReferenceInfo;

use crate::editions::Store;
use crate::tax::TaxTables;
use crate::{AppError, ReadOptions};

/// What a reference table holds (which reader checks and parses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReferenceKind {
    /// The law's pollution equivalents (污染当量值, 附表二).
    TaxEquivalents,
    /// Tax amounts per equivalent by region, medium and item, with effective dates.
    TaxRates,
    /// Items taxed per outlet by region (Art. 9: a province may raise them), with dates.
    TaxItemCounts,
    /// A key-unit list (重点调查单位名录), e.g. as selected by `npsc key-units`.
    KeyUnits,
    /// Area-source coefficients (生活源, 畜禽养殖) for the regional totals by category.
    SourceCoefficients,
}

impl ReferenceKind {
    /// Every kind.
    pub const ALL: [ReferenceKind; 5] = [
        ReferenceKind::TaxEquivalents,
        ReferenceKind::TaxRates,
        ReferenceKind::TaxItemCounts,
        ReferenceKind::KeyUnits,
        ReferenceKind::SourceCoefficients,
    ];

    /// The kind's word, also the default table name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceKind::TaxEquivalents => "tax-equivalents",
            ReferenceKind::TaxRates => "tax-rates",
            ReferenceKind::TaxItemCounts => "tax-item-counts",
            ReferenceKind::KeyUnits => "key-units",
            ReferenceKind::SourceCoefficients => "source-coefficients",
        }
    }

    /// Parses the kind's word.
    pub fn parse(text: &str) -> Result<ReferenceKind, AppError> {
        ReferenceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| AppError::Argument {
                message: format!(
                    "unknown reference table kind `{}`",
                    text.chars().take(60).collect::<String>()
                ),
                hint: Some(format!(
                    "the kinds are {}",
                    ReferenceKind::ALL.map(ReferenceKind::as_str).join(", ")
                )),
            })
    }

    /// What the table is, for people.
    pub fn title(self) -> &'static str {
        match self {
            ReferenceKind::TaxEquivalents => "污染当量值 (pollution equivalents)",
            ReferenceKind::TaxRates => "环境保护税适用税额 (tax amounts per equivalent)",
            ReferenceKind::TaxItemCounts => "应税污染物项目数 (items taxed per outlet)",
            ReferenceKind::KeyUnits => "重点调查单位名录 (key-unit list)",
            ReferenceKind::SourceCoefficients => "生活源、畜禽养殖系数 (area-source coefficients)",
        }
    }

    fn schema(self) -> &'static Schema {
        match self {
            ReferenceKind::TaxEquivalents => &ingest::schemas::EQUIVALENTS,
            ReferenceKind::TaxRates => &ingest::schemas::TAX_RATES,
            ReferenceKind::TaxItemCounts => &ingest::schemas::TAX_ITEM_COUNTS,
            ReferenceKind::KeyUnits => &ingest::keyunits::KEY_UNITS,
            ReferenceKind::SourceCoefficients => &ingest::sources::SOURCE_COEFFICIENTS,
        }
    }

    /// The table bundled with npsc, if there is one: its name and bytes.
    pub fn bundled(self) -> Option<(&'static str, &'static [u8])> {
        match self {
            ReferenceKind::TaxEquivalents => {
                Some((crate::tax::EQUIVALENTS_NAME, crate::reference::EQUIVALENTS))
            }
            ReferenceKind::TaxRates => Some((crate::tax::RATES_NAME, crate::tax::RATES)),
            ReferenceKind::TaxItemCounts => {
                Some((crate::tax::ITEM_COUNTS_NAME, crate::tax::ITEM_COUNTS))
            }
            ReferenceKind::KeyUnits | ReferenceKind::SourceCoefficients => None,
        }
    }
}

/// A table's bytes with the name they are reported under (`tax-rates@2`, a file name, or the
/// bundled file's name).
#[derive(Debug, Clone)]
pub struct Named {
    /// Name in provenance and messages.
    pub name: String,
    /// The content.
    pub bytes: Vec<u8>,
}

/// Which edition of a table a computation uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TableChoice {
    /// The latest published edition of the table named after the kind, if the database has
    /// one; otherwise the bundled table.
    #[default]
    Default,
    /// A file.
    File(PathBuf),
    /// A stored edition: `name`, `name@N`, `name@latest` or `name@draft`.
    Stored(String),
}

impl TableChoice {
    /// A command-line value: a selector when it contains `@`, otherwise a file.
    pub fn parse(text: &str) -> TableChoice {
        if text.contains('@') {
            TableChoice::Stored(text.trim().to_string())
        } else {
            TableChoice::File(PathBuf::from(text))
        }
    }
}

/// Checks `bytes` (named `file` in messages; CSV or Excel by its extension) as a table of
/// `kind` and returns its canonical CSV and row count. Every problem is reported at once.
pub async fn check(
    store: Option<&Store>,
    kind: ReferenceKind,
    file: &str,
    bytes: &[u8],
    read: &ReadOptions,
) -> Result<ingest::canonical::Canonical, AppError> {
    let source = Source::Bytes { name: file, bytes };
    let what = format!("the {} table", kind.as_str());
    let canonical = ingest::canonical::canonical_csv(source, kind.schema(), read)
        .map_err(|issues| AppError::input(&what, issues))?;
    // The kind's reader on the file as given (located messages), then on the canonical form,
    // which must read to the same table.
    let context = Context::of(store, kind, read).await?;
    context.parse(kind, file, bytes, read)?;
    context
        .parse(
            kind,
            &format!("{file} (canonical form)"),
            canonical.csv.as_bytes(),
            read,
        )
        .map_err(|e| AppError::Internal(format!("the canonical form does not read back: {e}")))?;
    Ok(canonical)
}

/// What a kind's reader needs besides the table, resolved once per check: the equivalents in
/// force for rates (the latest published, or the bundled table), the reference lists for
/// area-source coefficients.
enum Context {
    None,
    Equivalents(ingest::tax::EquivalentTable),
    Reference(Box<crate::Reference>),
}

impl Context {
    async fn of(
        store: Option<&Store>,
        kind: ReferenceKind,
        read: &ReadOptions,
    ) -> Result<Context, AppError> {
        Ok(match kind {
            ReferenceKind::TaxRates => {
                let equivalents =
                    resolve(store, ReferenceKind::TaxEquivalents, &TableChoice::Default).await?;
                Context::Equivalents(
                    ingest::tax::read_equivalents(
                        Source::Bytes {
                            name: &equivalents.name,
                            bytes: &equivalents.bytes,
                        },
                        read,
                    )
                    .map_err(|issues| AppError::input("the equivalent table", issues))?,
                )
            }
            ReferenceKind::SourceCoefficients => {
                Context::Reference(Box::new(crate::reference::bundled()?))
            }
            _ => Context::None,
        })
    }

    /// Reads a table of `kind` with its reader, for the check only.
    fn parse(
        &self,
        kind: ReferenceKind,
        file: &str,
        bytes: &[u8],
        read: &ReadOptions,
    ) -> Result<(), AppError> {
        let source = Source::Bytes { name: file, bytes };
        let what = format!("the {} table", kind.as_str());
        let input = |issues| AppError::input(&what, issues);
        match (kind, self) {
            (ReferenceKind::TaxEquivalents, _) => {
                ingest::tax::read_equivalents(source, read).map_err(input)?;
            }
            (ReferenceKind::TaxRates, Context::Equivalents(items)) => {
                ingest::tax::read_rates(source, items, read).map_err(input)?;
            }
            (ReferenceKind::TaxItemCounts, _) => {
                ingest::tax::read_item_counts(source, read).map_err(input)?;
            }
            (ReferenceKind::KeyUnits, _) => {
                ingest::keyunits::read_key_units(source, read).map_err(input)?;
            }
            (ReferenceKind::SourceCoefficients, Context::Reference(reference)) => {
                ingest::sources::read_source_coefficients(source, reference, read)
                    .map_err(input)?;
            }
            _ => {
                return Err(AppError::Internal(format!(
                    "no context to check a `{}` table",
                    kind.as_str()
                )));
            }
        }
        Ok(())
    }
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone)]
pub struct Imported {
    /// The stored draft; `None` for a dry run.
    pub info: Option<ReferenceInfo>,
    /// Rows of the table.
    pub rows: u64,
    /// SHA-256 of the canonical CSV.
    pub content_hash: String,
    /// Whether the latest published edition already has exactly this content.
    pub same_as_latest: Option<String>,
}

/// Imports a file as the draft of the reference table `name` (default: the kind's word). Bad
/// input is reported in full and nothing is written; `dry_run` checks without writing.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    store: &Store,
    kind: ReferenceKind,
    name: Option<&str>,
    file: &str,
    bytes: &[u8],
    read: &ReadOptions,
    actor: &str,
    dry_run: bool,
) -> Result<Imported, AppError> {
    let name = name.unwrap_or(kind.as_str());
    store::reference::check_name(name)?;
    let canonical = check(Some(store), kind, file, bytes, read).await?;
    let content_hash = store::reference::content_hash(&canonical.csv);
    let same_as_latest = match store
        .resolve_reference(&ReferenceSelector::Latest {
            name: name.to_string(),
        })
        .await
    {
        Ok(latest) => (latest.content_hash == content_hash).then(|| latest.label()),
        Err(store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let info = if dry_run {
        None
    } else {
        Some(
            store
                .import_reference_draft(
                    NewReference {
                        name,
                        kind: kind.as_str(),
                        content: &canonical.csv,
                        row_count: canonical.rows,
                        imported_from: file,
                        source_sha256: &crate::upload::sha256(bytes),
                    },
                    actor,
                )
                .await?,
        )
    };
    Ok(Imported {
        info,
        rows: canonical.rows,
        content_hash,
        same_as_latest,
    })
}

/// Publishes a table's draft (or draft `edition`) with a revision note; the content is read
/// back and checked by its kind's reader first.
pub async fn publish(
    store: &Store,
    name: &str,
    edition: Option<u32>,
    note: &str,
    actor: &str,
    read: &ReadOptions,
) -> Result<ReferenceInfo, AppError> {
    let draft = match edition {
        Some(n) => store.reference_edition(name, n).await?,
        None => {
            store
                .resolve_reference(&ReferenceSelector::Draft {
                    name: name.to_string(),
                })
                .await?
        }
    };
    let kind = ReferenceKind::parse(&draft.kind)?;
    let content = store.load_reference(&draft).await?;
    Context::of(Some(store), kind, read).await?.parse(
        kind,
        &draft.label(),
        content.as_bytes(),
        read,
    )?;
    Ok(store.publish_reference(name, edition, note, actor).await?)
}

/// Retires a published edition.
pub async fn retire(
    store: &Store,
    name: &str,
    edition: u32,
    note: &str,
    actor: &str,
) -> Result<ReferenceInfo, AppError> {
    Ok(store.retire_reference(name, edition, note, actor).await?)
}

/// Every edition of one table or of all tables.
pub async fn list(store: &Store, name: Option<&str>) -> Result<Vec<ReferenceInfo>, AppError> {
    Ok(store.reference_editions(name).await?)
}

/// The edition a selector names and its canonical CSV (hash verified).
pub async fn export(store: &Store, selector: &str) -> Result<(ReferenceInfo, String), AppError> {
    let selector = ReferenceSelector::parse(selector)?;
    let info = store.resolve_reference(&selector).await?;
    let content = store.load_reference(&info).await?;
    Ok((info, content))
}

/// Rows of `new` not in `old` and of `old` not in `new` (whole canonical lines, in table order;
/// a changed row shows as one removed and one added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceDiff {
    /// `name@N` of the old edition.
    pub old: String,
    /// `name@N` of the new edition.
    pub new: String,
    /// The canonical header (the same for both: one kind).
    pub header: String,
    /// Rows only in the old edition.
    pub removed: Vec<String>,
    /// Rows only in the new edition.
    pub added: Vec<String>,
}

impl ReferenceDiff {
    /// The diff as CSV: a `change` column (`removed`/`added`) before the table's columns. Each
    /// canonical line is parsed and written again, so that a formula-looking cell of an edition
    /// stored before canonical forms were made spreadsheet-safe is quoted too
    /// (`ingest::spreadsheet`).
    pub fn csv(&self) -> String {
        let mut writer = ingest::spreadsheet::SafeWriter::new(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new()),
        );
        let cells = |line: &str| -> Vec<String> {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .and_then(Result::ok)
                .map(|record| {
                    record
                        .iter()
                        .map(|c| ingest::spreadsheet::unquote(c).to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        // Writing into a Vec cannot fail.
        let _ =
            writer.write_record(std::iter::once("change".to_string()).chain(cells(&self.header)));
        for (change, rows) in [("removed", &self.removed), ("added", &self.added)] {
            for row in rows {
                let _ = writer.write_record(std::iter::once(change.to_string()).chain(cells(row)));
            }
        }
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// Compares two editions of one table.
pub async fn diff(store: &Store, old: &str, new: &str) -> Result<ReferenceDiff, AppError> {
    let (old_info, old_csv) = export(store, old).await?;
    let (new_info, new_csv) = export(store, new).await?;
    if old_info.kind != new_info.kind {
        return Err(AppError::Argument {
            message: format!(
                "{} is a `{}` table and {} a `{}` table",
                old_info.label(),
                old_info.kind,
                new_info.label(),
                new_info.kind
            ),
            hint: None,
        });
    }
    let rows = |csv: &str| -> Vec<String> { csv.lines().skip(1).map(str::to_string).collect() };
    let (old_rows, new_rows) = (rows(&old_csv), rows(&new_csv));
    let old_set: std::collections::BTreeSet<&String> = old_rows.iter().collect();
    let new_set: std::collections::BTreeSet<&String> = new_rows.iter().collect();
    Ok(ReferenceDiff {
        old: old_info.label(),
        new: new_info.label(),
        header: new_csv.lines().next().unwrap_or("").to_string(),
        removed: old_rows
            .iter()
            .filter(|r| !new_set.contains(r))
            .cloned()
            .collect(),
        added: new_rows
            .iter()
            .filter(|r| !old_set.contains(r))
            .cloned()
            .collect(),
    })
}

/// The bytes a choice names for `kind`.
pub async fn resolve(
    store: Option<&Store>,
    kind: ReferenceKind,
    choice: &TableChoice,
) -> Result<Named, AppError> {
    let stored = |info: ReferenceInfo, content: String| -> Result<Named, AppError> {
        if info.kind != kind.as_str() {
            return Err(AppError::Argument {
                message: format!(
                    "{} is a `{}` table, not a `{}` table",
                    info.label(),
                    info.kind,
                    kind.as_str()
                ),
                hint: None,
            });
        }
        Ok(Named {
            name: info.label(),
            bytes: content.into_bytes(),
        })
    };
    match choice {
        TableChoice::File(path) => Ok(Named {
            name: path.display().to_string(),
            bytes: std::fs::read(path).map_err(|source| AppError::Path {
                action: "read",
                path: path.clone(),
                source,
            })?,
        }),
        TableChoice::Stored(selector) => {
            let store = store.ok_or_else(|| AppError::Argument {
                message: format!("`{selector}` names a stored table, but no database was given"),
                hint: Some("add --database URL".to_string()),
            })?;
            let (info, content) = export(store, selector).await?;
            stored(info, content)
        }
        TableChoice::Default => {
            if let Some(store) = store {
                let latest = store
                    .resolve_reference(&ReferenceSelector::Latest {
                        name: kind.as_str().to_string(),
                    })
                    .await;
                match latest {
                    Ok(info) => {
                        let content = store.load_reference(&info).await?;
                        return stored(info, content);
                    }
                    Err(store::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let (name, bytes) = kind.bundled().ok_or_else(|| AppError::Store {
                message: format!(
                    "there is no published `{}` table in the database, and npsc bundles none",
                    kind.as_str()
                ),
                code: "not-found",
            })?;
            Ok(Named {
                name: name.to_string(),
                bytes: bytes.to_vec(),
            })
        }
    }
}

/// The tax tables a computation uses: for each, a file, a stored edition or the default (see
/// the module notes).
#[derive(Debug, Clone, Default)]
pub struct TaxTableChoices {
    /// The pollution equivalents.
    pub equivalents: TableChoice,
    /// The rates.
    pub rates: TableChoice,
    /// The item counts.
    pub item_counts: TableChoice,
}

/// Resolves and reads the tax tables.
pub async fn tax_tables(
    store: Option<&Store>,
    choices: &TaxTableChoices,
    read: &ReadOptions,
) -> Result<TaxTables, AppError> {
    let equivalents = resolve(store, ReferenceKind::TaxEquivalents, &choices.equivalents).await?;
    let rates = resolve(store, ReferenceKind::TaxRates, &choices.rates).await?;
    let counts = resolve(store, ReferenceKind::TaxItemCounts, &choices.item_counts).await?;
    crate::tax::tables_from(
        (&equivalents.name, &equivalents.bytes),
        (&rates.name, &rates.bytes),
        (&counts.name, &counts.bytes),
        read,
    )
}

/// A warning that a table is the bundled one although a database is in use (so that nobody
/// mistakes it for a published edition).
pub fn bundled_notice(tables: &TaxTables) -> Vec<Issue> {
    [
        (&tables.equivalents_source.name, ReferenceKind::TaxEquivalents),
        (&tables.rates_source.name, ReferenceKind::TaxRates),
        (&tables.item_counts_source.name, ReferenceKind::TaxItemCounts),
    ]
    .into_iter()
    .filter(|(name, kind)| kind.bundled().is_some_and(|(bundled, _)| name.as_str() == bundled))
    .map(|(name, kind)| {
        Issue::warning(
            Location::file(name.clone()),
            "bundled-table",
            format!(
                "the database has no published `{}` table; the table bundled with npsc was used",
                kind.as_str()
            ),
        )
        .with_hint(format!(
            "publish one with `npsc reference import {0} --bundled` and `npsc reference publish {0}`",
            kind.as_str()
        ))
    })
    .collect()
}
