//! `npsc reference`: versioned reference tables in the database (the tax's pollution
//! equivalents and rates): import a draft from a file or the bundled table, publish, retire,
//! list, export, diff.

use std::io::Write;
use std::path::PathBuf;

use app::AppError;
use app::reference_tables::{self, ReferenceInfo, ReferenceKind};
use clap::Subcommand;

use crate::{InputOptions, read_options, split_edition};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # Put the bundled 2018 tables into the database and publish them
  npsc reference import tax-equivalents --bundled
  npsc reference publish tax-equivalents --note \"附表二 of the law\"
  npsc reference import tax-rates --bundled
  npsc reference publish tax-rates --note \"provincial decisions for 2018-01-01\"
  # A revised rate table (CSV in GBK with Chinese headers, or Excel), checked first
  npsc reference import tax-rates rates-2025.xlsx --dry-run
  npsc reference import tax-rates rates-2025.xlsx
  npsc reference diff tax-rates@1 tax-rates@draft
  npsc reference publish tax-rates --note \"Hebei 2025 decision\"
  npsc reference list
  npsc reference export tax-rates@1 --out rates.csv
  # The tax then uses the latest published tables (or name one: --rates tax-rates@1)
  npsc tax --database sqlite://npsc.db --registry … --emissions …";

#[derive(Debug, Subcommand)]
pub(crate) enum ReferenceCommand {
    /// Check a table and store it as the draft of its reference table (replacing an earlier
    /// draft). Nothing is written when the table has any problem; all are listed.
    Import {
        /// What the table is: tax-equivalents, tax-rates, tax-item-counts or key-units.
        kind: String,
        /// The file (CSV in UTF-8 or GBK, or Excel), Chinese or English headers.
        #[arg(required_unless_present = "bundled", conflicts_with = "bundled")]
        file: Option<PathBuf>,
        /// Import the table bundled with npsc instead of a file.
        #[arg(long)]
        bundled: bool,
        /// The reference table's name (default: the kind).
        #[arg(long)]
        name: Option<String>,
        /// Check only; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        input: InputOptions,
    },
    /// Publish a draft with a revision note: it becomes immutable and `latest`.
    Publish {
        /// `name` (its draft) or `name@N`.
        edition: String,
        /// What changed and why (mandatory).
        #[arg(long)]
        note: String,
    },
    /// Retire a published edition: still readable by number, never `latest`.
    Retire {
        /// `name@N`.
        edition: String,
        /// Why (mandatory).
        #[arg(long)]
        note: String,
    },
    /// List the editions of one table or of all.
    List {
        /// A table name.
        name: Option<String>,
    },
    /// Write an edition's canonical CSV (`name`, `name@N`, `name@latest`, `name@draft`).
    Export {
        /// The selector.
        selector: String,
        /// The file to write (standard output when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rows removed and added between two editions of one table, as CSV.
    Diff {
        /// The old edition.
        old: String,
        /// The new edition.
        new: String,
    },
}

fn print(out: &mut dyn Write, e: &ReferenceInfo) {
    let _ = writeln!(
        out,
        "{:<22} {:<16} {:<9} {:>6} rows  sha256 {}",
        e.label(),
        e.kind,
        e.status.as_str(),
        e.row_count,
        e.content_hash
    );
}

pub(crate) async fn run(
    what: ReferenceCommand,
    store: &app::editions::Store,
    actor: &str,
    out: &mut dyn Write,
) -> Result<i32, AppError> {
    match what {
        ReferenceCommand::Import {
            kind,
            file,
            bundled,
            name,
            dry_run,
            input,
        } => {
            let kind = ReferenceKind::parse(&kind)?;
            let (label, bytes) = match file {
                Some(path) => (
                    path.display().to_string(),
                    std::fs::read(&path).map_err(|source| AppError::Path {
                        action: "read",
                        path: path.clone(),
                        source,
                    })?,
                ),
                None => {
                    debug_assert!(bundled);
                    let (name, bytes) = kind.bundled().ok_or_else(|| AppError::Argument {
                        message: format!("npsc bundles no `{}` table", kind.as_str()),
                        hint: Some("give the file to import".to_string()),
                    })?;
                    (name.to_string(), bytes.to_vec())
                }
            };
            let imported = reference_tables::import(
                store,
                kind,
                name.as_deref(),
                &label,
                &bytes,
                &read_options(&input)?,
                actor,
                dry_run,
            )
            .await?;
            match &imported.info {
                Some(info) => {
                    let _ = write!(out, "imported as draft: ");
                    print(out, info);
                    let _ = writeln!(
                        out,
                        "publish it with: npsc reference publish {} --note \"what changed and why\"",
                        info.label()
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{label}: a valid {} table of {} rows, sha256 {} (dry run: nothing written)",
                        kind.as_str(),
                        imported.rows,
                        imported.content_hash
                    );
                }
            }
            if let Some(latest) = &imported.same_as_latest {
                let _ = writeln!(
                    out,
                    "note: the content is identical to the published edition {latest}"
                );
            }
        }
        ReferenceCommand::Publish { edition, note } => {
            let (name, number) = split_edition(&edition)?;
            let read = app::ReadOptions::default();
            let e = reference_tables::publish(store, &name, number, &note, actor, &read).await?;
            let _ = write!(out, "published: ");
            print(out, &e);
        }
        ReferenceCommand::Retire { edition, note } => {
            let (name, number) = split_edition(&edition)?;
            let number = number.ok_or_else(|| AppError::Argument {
                message: format!("`{edition}` does not name an edition"),
                hint: Some("retire names one edition, e.g. `tax-rates@1`".to_string()),
            })?;
            let e = reference_tables::retire(store, &name, number, &note, actor).await?;
            let _ = write!(out, "retired: ");
            print(out, &e);
        }
        ReferenceCommand::List { name } => {
            let editions = reference_tables::list(store, name.as_deref()).await?;
            if editions.is_empty() {
                let _ = writeln!(
                    out,
                    "no reference tables (import one with `npsc reference import KIND FILE`)"
                );
            }
            for e in &editions {
                print(out, e);
            }
        }
        ReferenceCommand::Export {
            selector,
            out: path,
        } => {
            let (_, content) = reference_tables::export(store, &selector).await?;
            match path {
                Some(path) => app::output::write_file(&path, content.as_bytes())?,
                None => {
                    let _ = out.write_all(content.as_bytes());
                }
            }
        }
        ReferenceCommand::Diff { old, new } => {
            let diff = reference_tables::diff(store, &old, &new).await?;
            let _ = out.write_all(diff.csv().as_bytes());
        }
    }
    Ok(0)
}
