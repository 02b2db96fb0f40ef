//! `npsc registry`: the enterprise registry in the database. Import a newer registry file as a
//! change set (a dry run unless `--apply`), show an enterprise and its status history, write off
//! enterprises without activity, match another source's records by USCC.

use std::io::Write;
use std::path::PathBuf;

use app::AppError;
use app::registry::FieldChange;
use clap::Subcommand;

use crate::{InputOptions, read_options};

/// Examples shown by `npsc registry --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  # A first import, then a newer file: the change set is listed; --apply writes it
  npsc registry import datasets/sample-synthetic/registry.csv --apply
  npsc registry import registry-2024.xlsx
  npsc registry import registry-2024.xlsx --apply
  npsc registry show 91130481MA4BPPLX2U
  npsc registry history 91130481MA4BPPLX2U

  # Enterprises with no activity rows in 2022-2023 (suspected zombies); --apply closes them
  npsc registry writeoff --inactive-years 2 --activity activity.csv --year 2023

  # Pair a permit list or another census's registry with the stored one by USCC
  npsc registry match permits.csv";

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Compare a registry file (CSV or Excel) with the stored registry and list the change set:
    /// new enterprises, changed fields (old → new), enterprises missing from the file (kept, never
    /// closed). Nothing is written without --apply.
    Import {
        /// The registry file.
        file: PathBuf,
        /// Write the change set (one transaction, with status history and audit entry).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        input: InputOptions,
    },
    /// An enterprise's current record and the recorded changes of its fields.
    Show {
        /// Unified social credit code.
        uscc: String,
    },
    /// An enterprise's status history, oldest first.
    History {
        /// Unified social credit code.
        uscc: String,
    },
    /// List operating or suspended enterprises without activity rows in the last N years
    /// (suspected zombies); --apply closes them, dated 31 December of their last year with
    /// activity, with the reason `no activity for N years (writeoff)`.
    Writeoff {
        /// N: how many years without activity, up to and including --year.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        inactive_years: u16,
        /// The activity file that tells which enterprises had rows in which years.
        #[arg(long, value_name = "FILE")]
        activity: PathBuf,
        /// The current year (default: the latest year of the activity file).
        #[arg(long, value_name = "YEAR")]
        year: Option<u16>,
        /// Close the listed enterprises (one transaction, status history and audit entries).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        input: InputOptions,
    },
    /// Pair a registry-format file from another source (a census, a permit list) with the stored
    /// registry by USCC: matched, only on one side, and conflicts (same USCC, different region or
    /// industry), never guessed.
    Match {
        /// The other source's file.
        file: PathBuf,
        #[command(flatten)]
        input: InputOptions,
    },
}

/// Runs a registry command on an open store.
pub(crate) async fn run(
    cmd: RegistryCommand,
    store: &app::editions::Store,
    actor: &str,
    out: &mut dyn Write,
) -> Result<i32, AppError> {
    match cmd {
        RegistryCommand::Import { file, apply, input } => {
            let reference = app::reference::bundled()?;
            let read = read_options(&input)?;
            let import =
                app::registry::import(store, &file, &reference, &read, apply, actor).await?;
            let set = &import.changes;
            let name = file.display();
            let _ = writeln!(out, "{name} against the stored registry: {}", set.summary());
            for e in &set.added {
                let _ = writeln!(
                    out,
                    "added    {}  {}  {}  {}  {}{}",
                    e.uscc,
                    e.name,
                    e.region,
                    e.industry,
                    e.status,
                    e.status_date
                        .map(|d| format!(" since {d}"))
                        .unwrap_or_default()
                );
            }
            for c in &set.changed {
                let _ = writeln!(out, "changed  {}  {}", c.before.uscc, c.before.name);
                print_fields(out, &c.fields);
            }
            for e in &set.missing {
                let _ = writeln!(
                    out,
                    "missing  {}  {}  (not in the file: kept as it is, not closed)",
                    e.uscc, e.name
                );
            }
            if set.is_empty() {
                let _ = writeln!(
                    out,
                    "the stored registry already has every record of {name}: nothing to write"
                );
            } else if import.applied {
                let _ = writeln!(
                    out,
                    "applied in one transaction: {} status history entr{} appended, audit entry written",
                    set.added.len() + set.status_changes(),
                    if set.added.len() + set.status_changes() == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                );
            } else {
                let _ = writeln!(
                    out,
                    "dry run: nothing was written; write this change set with `npsc registry import {name} --apply`"
                );
            }
            Ok(0)
        }
        RegistryCommand::Show { uscc } => {
            let reference = app::reference::bundled()?;
            let (e, changes) = app::registry::show(store, &uscc).await?;
            let region = reference
                .regions
                .path_name(e.region)
                .map(|n| format!("{}  {n}", e.region))
                .unwrap_or_else(|| e.region.to_string());
            let industry = reference
                .industries
                .get(&e.industry)
                .map(|i| format!("{}  {}", e.industry, i.name))
                .unwrap_or_else(|| e.industry.to_string());
            for (k, v) in [
                ("uscc", e.uscc.to_string()),
                ("name", e.name.clone()),
                ("region", region),
                ("industry", industry),
                ("status", e.status.to_string()),
                ("status_date", dash(e.status_date.map(|d| d.to_string()))),
                ("permit_no", dash(e.permit_no.clone())),
                ("first_seen", e.first_seen.clone()),
                (
                    "updated_at",
                    format!("{} (revision {})", e.updated_at, e.revision),
                ),
            ] {
                let _ = writeln!(out, "{k:<12} {v}");
            }
            if !changes.is_empty() {
                let _ = writeln!(out, "changes:");
            }
            for c in &changes {
                let _ = writeln!(
                    out,
                    "  {}  {}  {} `{}` → `{}`  ({})",
                    c.recorded_at,
                    c.actor,
                    c.field,
                    dash(c.old.clone()),
                    dash(c.new.clone()),
                    c.reason
                );
            }
            let _ = writeln!(out, "status history: `npsc registry history {}`", e.uscc);
            Ok(0)
        }
        RegistryCommand::History { uscc } => {
            for h in app::registry::history(store, &uscc).await? {
                let _ = writeln!(
                    out,
                    "{}  {:<12}  {:<10}  {:<8}  {}",
                    h.recorded_at,
                    h.status.as_str(),
                    dash(h.status_date.map(|d| d.to_string())),
                    h.actor,
                    h.reason
                );
            }
            Ok(0)
        }
        RegistryCommand::Writeoff {
            inactive_years,
            activity,
            year,
            apply,
            input,
        } => {
            let read = read_options(&input)?;
            let w = app::registry::writeoff(
                store,
                &activity,
                &read,
                inactive_years,
                year,
                apply,
                actor,
            )
            .await?;
            let _ = writeln!(
                out,
                "no activity in {} ({} year{} up to {}) according to {}: {} suspected zombie enterprise{}, {} kept",
                app::registry::year_range(w.first_inactive, w.year),
                w.inactive_years,
                if w.inactive_years == 1 { "" } else { "s" },
                w.year,
                activity.display(),
                w.suspects.len(),
                if w.suspects.len() == 1 { "" } else { "s" },
                w.kept.len()
            );
            for s in &w.suspects {
                let _ = writeln!(
                    out,
                    "suspect  {}  {}  {}  {}  → closed {}",
                    s.enterprise.uscc,
                    s.enterprise.name,
                    s.enterprise.status,
                    s.last_activity
                        .map(|y| format!("last activity {y}"))
                        .unwrap_or_else(|| "no activity in the file".to_string()),
                    s.close_date
                );
            }
            for k in &w.kept {
                let _ = writeln!(
                    out,
                    "kept     {}  {}  {}",
                    k.enterprise.uscc, k.enterprise.name, k.reason
                );
            }
            if w.not_in_registry > 0 {
                let _ = writeln!(
                    out,
                    "note: {} enterprise{} with activity rows {} not in the stored registry",
                    w.not_in_registry,
                    if w.not_in_registry == 1 { "" } else { "s" },
                    if w.not_in_registry == 1 { "is" } else { "are" }
                );
            }
            if w.suspects.is_empty() {
                let _ = writeln!(out, "nothing to write off");
            } else if w.applied {
                let _ = writeln!(
                    out,
                    "closed {} enterprise{} with the reason `{}`; status history and audit log updated",
                    w.suspects.len(),
                    if w.suspects.len() == 1 { "" } else { "s" },
                    w.reason
                );
            } else {
                let _ = writeln!(
                    out,
                    "dry run: nothing was written; close them with --apply (reason `{}`)",
                    w.reason
                );
            }
            Ok(0)
        }
        RegistryCommand::Match { file, input } => {
            let reference = app::reference::bundled()?;
            let read = read_options(&input)?;
            let m = app::registry::match_file(store, &file, &reference, &read).await?;
            let _ = writeln!(
                out,
                "{} against the stored registry: {} matched, {} conflict{}, {} only in the file, {} only in the registry",
                file.display(),
                m.matched,
                m.conflicts.len(),
                if m.conflicts.len() == 1 { "" } else { "s" },
                m.only_in_file.len(),
                m.only_in_registry.len()
            );
            for c in &m.conflicts {
                let _ = writeln!(out, "conflict       {}  {}", c.stored.uscc, c.stored.name);
                for f in &c.fields {
                    let _ = writeln!(
                        out,
                        "                 {:<13} `{}` (registry) ≠ `{}` (file)",
                        f.field,
                        dash(f.old.clone()),
                        dash(f.new.clone())
                    );
                }
            }
            for e in &m.only_in_file {
                let _ = writeln!(out, "only-file      {}  {}", e.uscc, e.name);
            }
            for e in &m.only_in_registry {
                let status = if e.status.is_closed() {
                    format!("  ({})", e.status)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "only-registry  {}  {}{status}", e.uscc, e.name);
            }
            Ok(0)
        }
    }
}

fn print_fields(out: &mut dyn Write, fields: &[FieldChange]) {
    for f in fields {
        let _ = writeln!(
            out,
            "           {:<13} `{}` → `{}`",
            f.field,
            dash(f.old.clone()),
            dash(f.new.clone())
        );
    }
}

fn dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}
