//! The whole-database consistency check behind `npsc db check`: what a crash (a `kill -9` in the
//! middle of any write) or a hand edit could have broken, looked for after the fact.
//!
//! - **Migrations**: every applied migration is one this build knows, with the same checksum,
//!   and none is dirty (failed or interrupted).
//! - **Coefficient editions**: the rows of each rebuild and hash to the recorded content hash and
//!   row count; no row or key migration belongs to a missing edition; at most one draft per set;
//!   the status fields agree with the status.
//! - **Reference table editions**: the content hashes to the recorded hash; at most one draft
//!   and one kind per table; the status fields agree with the status.
//! - **Runs**: each run has exactly the results and totals it recorded when it was finished
//!   (`result_count`, `total_count`); no result or total belongs to a missing run; a run names
//!   an edition that exists and, when published, has the run's content hash.
//! - **Reconciliations**: each view has the rows it recorded; no row belongs to a missing view.
//! - **Audit log**: every edition's import, publish and retire entries form an unbroken chain
//!   ending at its content hash and status; every run, reconciliation and token has its entries;
//!   no entry names an object that is not stored.

use std::collections::{BTreeMap, BTreeSet};

use accounting::pollutant::PollutantCatalog;
use sqlx::{AssertSqlSafe, Row};

use crate::editions::EditionStatus;
use crate::{Backend, Store, StoreError};

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Migrations this build knows, compared with the applied ones.
    pub migrations_checked: usize,
    /// Coefficient editions whose rows were reloaded and re-hashed.
    pub editions_checked: usize,
    /// Reference table editions whose content was re-hashed.
    pub reference_editions_checked: usize,
    /// Runs whose results and totals were counted.
    pub runs_checked: usize,
    /// Reconciliations whose views were counted.
    pub reconciliations_checked: usize,
    /// Audit entries matched with the data.
    pub audit_entries_checked: usize,
    /// Every inconsistency found; empty means the database is consistent.
    pub problems: Vec<String>,
}

impl CheckReport {
    fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }
}

/// An edition of either kind, as the audit check needs it.
struct Versioned {
    label: String,
    status: EditionStatus,
    content_hash: String,
}

/// One audit entry, as the check needs it.
struct Entry {
    id: i64,
    action: String,
    object: String,
    before_hash: Option<String>,
    after_hash: Option<String>,
}

/// Problems of one kind listed in full up to this many; the rest are counted.
const EXAMPLES: usize = 5;

impl Store {
    /// Checks the whole database (see the module documentation). The migrations are checked
    /// first; when they are consistent, pending ones are applied (as opening the database for
    /// any command does) and the data is checked. A store opened with [`Store::connect`] can be
    /// checked before anything is migrated.
    pub async fn check(&self, catalog: &PollutantCatalog) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        self.check_migrations(&mut report).await?;
        if !report.problems.is_empty() {
            return Ok(report);
        }
        self.migrate().await?;
        let editions = self.check_editions(catalog, &mut report).await?;
        let references = self.check_reference_editions(&mut report).await?;
        let runs = self.check_runs(&mut report).await?;
        let reconciliations = self.check_reconciliations(&mut report).await?;
        self.check_audit(&editions, &references, &runs, &reconciliations, &mut report)
            .await?;
        Ok(report)
    }

    async fn check_migrations(&self, report: &mut CheckReport) -> Result<(), StoreError> {
        let migrator = self.migrator();
        report.migrations_checked = migrator.iter().count();
        let exists: i64 = sqlx::query_scalar(match self.backend() {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        })
        .fetch_one(self.pool())
        .await?;
        if exists == 0 {
            // A new database: nothing applied yet, nothing to disagree with.
            return Ok(());
        }
        let dirty: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE NOT success")
                .fetch_all(self.pool())
                .await?;
        for version in dirty {
            report.problem(format!(
                "migration {version} is partially applied (it failed or was interrupted); \
                 restore a backup or repair the schema by hand"
            ));
        }
        let applied = sqlx::query(
            "SELECT version, description, checksum FROM _sqlx_migrations WHERE success \
             ORDER BY version",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &applied {
            let version: i64 = row.try_get("version")?;
            let description: String = row.try_get("description")?;
            let checksum: Vec<u8> = row.try_get("checksum")?;
            match migrator.iter().find(|m| m.version == version) {
                None => report.problem(format!(
                    "migration {version} ({description}) is applied but unknown to this npsc: \
                     the database was written by a newer version"
                )),
                Some(m) if *m.checksum != *checksum => report.problem(format!(
                    "migration {version} ({description}) was applied from other SQL than this \
                     npsc's"
                )),
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn check_editions(
        &self,
        catalog: &PollutantCatalog,
        report: &mut CheckReport,
    ) -> Result<Vec<Versioned>, StoreError> {
        for (table, what) in [
            ("coefficient_row", "coefficient rows"),
            ("key_migration", "key migrations"),
        ] {
            let orphans: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} r WHERE NOT EXISTS \
                 (SELECT 1 FROM edition e WHERE e.set_id = r.set_id AND e.edition = r.edition)"
            )))
            .fetch_one(self.pool())
            .await?;
            if orphans > 0 {
                report.problem(format!("{orphans} {what} belong to no edition"));
            }
        }
        let lonely: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM edition e WHERE NOT EXISTS \
             (SELECT 1 FROM coefficient_set s WHERE s.id = e.set_id)",
        )
        .fetch_one(self.pool())
        .await?;
        if lonely > 0 {
            report.problem(format!("{lonely} editions belong to no coefficient set"));
        }
        let mut drafts = BTreeMap::<String, usize>::new();
        let mut editions = Vec::new();
        for info in self.list(None).await? {
            report.editions_checked += 1;
            if let Err(e) = self.load(&info, catalog).await {
                report.problem(e.to_string());
            }
            if info.status == EditionStatus::Draft {
                *drafts.entry(info.set_id.clone()).or_default() += 1;
            }
            status_fields(
                &info.name(),
                info.status,
                [
                    info.published_at.is_some(),
                    info.published_by.is_some(),
                    info.revision_note.is_some(),
                ],
                info.retired_at.is_some(),
                report,
            );
            editions.push(Versioned {
                label: info.name(),
                status: info.status,
                content_hash: info.content_hash,
            });
        }
        for (set, n) in drafts.into_iter().filter(|(_, n)| *n > 1) {
            report.problem(format!("the coefficient set `{set}` has {n} drafts"));
        }
        Ok(editions)
    }

    async fn check_reference_editions(
        &self,
        report: &mut CheckReport,
    ) -> Result<Vec<Versioned>, StoreError> {
        let mut drafts = BTreeMap::<String, usize>::new();
        let mut kinds = BTreeMap::<String, BTreeSet<String>>::new();
        let mut editions = Vec::new();
        for info in self.reference_editions(None).await? {
            report.reference_editions_checked += 1;
            if let Err(e) = self.load_reference(&info).await {
                report.problem(e.to_string());
            }
            if info.status == EditionStatus::Draft {
                *drafts.entry(info.name.clone()).or_default() += 1;
            }
            kinds
                .entry(info.name.clone())
                .or_default()
                .insert(info.kind.clone());
            status_fields(
                &info.label(),
                info.status,
                [
                    info.published_at.is_some(),
                    info.published_by.is_some(),
                    info.revision_note.is_some(),
                ],
                info.retired_at.is_some(),
                report,
            );
            editions.push(Versioned {
                label: info.label(),
                status: info.status,
                content_hash: info.content_hash,
            });
        }
        for (name, n) in drafts.into_iter().filter(|(_, n)| *n > 1) {
            report.problem(format!("the reference table `{name}` has {n} drafts"));
        }
        for (name, kinds) in kinds.into_iter().filter(|(_, k)| k.len() > 1) {
            report.problem(format!(
                "the reference table `{name}` holds editions of {} kinds: {}",
                kinds.len(),
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(editions)
    }

    /// Returns each run's id and content hash.
    async fn check_runs(&self, report: &mut CheckReport) -> Result<Vec<(i64, String)>, StoreError> {
        for (table, what) in [("run_result", "per-row results"), ("run_total", "totals")] {
            let orphans: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS \
                 (SELECT 1 FROM run r WHERE r.id = t.run_id)"
            )))
            .fetch_one(self.pool())
            .await?;
            if orphans > 0 {
                report.problem(format!("{orphans} {what} belong to no run"));
            }
        }
        let rows = sqlx::query(
            "SELECT r.id, r.set_id, r.edition, r.content_hash, r.result_count, r.total_count, \
             (SELECT COUNT(*) FROM run_result x WHERE x.run_id = r.id) AS results, \
             (SELECT COUNT(*) FROM run_total t WHERE t.run_id = r.id) AS totals, \
             e.status AS edition_status, e.content_hash AS edition_hash \
             FROM run r LEFT JOIN edition e ON e.set_id = r.set_id AND e.edition = r.edition \
             ORDER BY r.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            report.runs_checked += 1;
            let id: i64 = row.try_get("id")?;
            let set_id: String = row.try_get("set_id")?;
            let edition: Option<i64> = row.try_get("edition")?;
            let hash: String = row.try_get("content_hash")?;
            for (recorded, actual, what) in [
                ("result_count", "results", "per-row results"),
                ("total_count", "totals", "totals"),
            ] {
                let recorded: Option<i64> = row.try_get(recorded)?;
                let actual: i64 = row.try_get(actual)?;
                // NULL: stored before the counts were recorded (migration 8).
                if let Some(recorded) = recorded
                    && recorded != actual
                {
                    report.problem(format!(
                        "run {id} recorded {recorded} {what} but has {actual}"
                    ));
                }
            }
            if let Some(edition) = edition {
                let status: Option<String> = row.try_get("edition_status")?;
                let stored: Option<String> = row.try_get("edition_hash")?;
                match (status.as_deref(), stored) {
                    (None, _) => report.problem(format!(
                        "run {id} names the edition {set_id}@{edition}, which is not stored"
                    )),
                    // A draft may have been replaced since; a published edition never changes.
                    (Some("published" | "retired"), Some(stored)) if stored != hash => report
                        .problem(format!(
                            "run {id} used {set_id}@{edition} with content hash {hash}, but the \
                             published edition has {stored}"
                        )),
                    _ => {}
                }
            }
            runs.push((id, hash));
        }
        Ok(runs)
    }

    /// Returns each reconciliation's id and content hash.
    async fn check_reconciliations(
        &self,
        report: &mut CheckReport,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reconciliation_row r WHERE NOT EXISTS \
             (SELECT 1 FROM reconciliation_view v WHERE v.reconciliation_id = r.reconciliation_id \
             AND v.name = r.view_name)",
        )
        .fetch_one(self.pool())
        .await?;
        if orphans > 0 {
            report.problem(format!(
                "{orphans} reconciliation rows belong to no stored view"
            ));
        }
        let views: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reconciliation_view v WHERE NOT EXISTS \
             (SELECT 1 FROM reconciliation c WHERE c.id = v.reconciliation_id)",
        )
        .fetch_one(self.pool())
        .await?;
        if views > 0 {
            report.problem(format!(
                "{views} reconciliation views belong to no reconciliation"
            ));
        }
        let uneven = sqlx::query(
            "SELECT v.reconciliation_id, v.name, v.rows, \
             (SELECT COUNT(*) FROM reconciliation_row r WHERE r.reconciliation_id = \
             v.reconciliation_id AND r.view_name = v.name) AS actual \
             FROM reconciliation_view v ORDER BY v.reconciliation_id, v.position",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &uneven {
            let recorded: i64 = row.try_get("rows")?;
            let actual: i64 = row.try_get("actual")?;
            if recorded != actual {
                let id: i64 = row.try_get("reconciliation_id")?;
                let name: String = row.try_get("name")?;
                report.problem(format!(
                    "reconciliation {id}: the view `{name}` recorded {recorded} rows but has \
                     {actual}"
                ));
            }
        }
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, content_hash FROM reconciliation ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        report.reconciliations_checked = rows.len();
        Ok(rows)
    }

    async fn check_audit(
        &self,
        editions: &[Versioned],
        references: &[Versioned],
        runs: &[(i64, String)],
        reconciliations: &[(i64, String)],
        report: &mut CheckReport,
    ) -> Result<(), StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(self.pool())
            .await?;
        report.audit_entries_checked = usize::try_from(total).unwrap_or(0);
        // Every entry but the per-enterprise ones (which can be millions): those are matched
        // in SQL below.
        let rows = sqlx::query(
            "SELECT id, action, object, before_hash, after_hash FROM audit_log \
             WHERE action NOT LIKE 'registry-%' ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut by_object = BTreeMap::<(&str, String), Vec<Entry>>::new();
        let mut unknown = Vec::new();
        for row in &rows {
            let entry = Entry {
                id: row.try_get("id")?,
                action: row.try_get("action")?,
                object: row.try_get("object")?,
                before_hash: row.try_get("before_hash")?,
                after_hash: row.try_get("after_hash")?,
            };
            let family = match entry.action.as_str() {
                "import" | "publish" | "retire" => "edition",
                "run" => "run",
                "reconcile" => "reconciliation",
                "token-create" | "token-revoke" => "token",
                _ => {
                    unknown.push(format!("{} (`{}`)", entry.id, entry.action));
                    continue;
                }
            };
            by_object
                .entry((family, entry.object.clone()))
                .or_default()
                .push(entry);
        }
        if !unknown.is_empty() {
            report.problem(format!(
                "{} audit entries have an action this npsc does not know: {}",
                unknown.len(),
                examples(&unknown)
            ));
        }

        // Editions: an unbroken chain of imports, then publish, then retire. A name used by a
        // coefficient set and a reference table alike is ambiguous and only checked to exist.
        let coefficient: BTreeSet<&str> = editions.iter().map(|e| e.label.as_str()).collect();
        let ambiguous: BTreeSet<&str> = references
            .iter()
            .map(|e| e.label.as_str())
            .filter(|l| coefficient.contains(l))
            .collect();
        for e in editions.iter().chain(references) {
            let entries = by_object.remove(&("edition", e.label.clone()));
            if ambiguous.contains(e.label.as_str()) {
                continue;
            }
            if let Err(problem) = edition_chain(e, entries.as_deref().unwrap_or_default()) {
                report.problem(format!("audit log of {}: {problem}", e.label));
            }
        }
        for label in &ambiguous {
            by_object.remove(&("edition", (*label).to_string()));
        }

        for (family, what, stored) in [
            ("run", "run", runs),
            ("reconciliation", "reconciliation", reconciliations),
        ] {
            for (id, hash) in stored {
                let object = format!("{what} {id}");
                match by_object.remove(&(family, object.clone())).as_deref() {
                    Some([entry]) if entry.after_hash.as_deref() == Some(hash.as_str()) => {}
                    Some([entry]) => report.problem(format!(
                        "audit entry {} records {object} with content hash {}, but the \
                         {what} has {hash}",
                        entry.id,
                        entry.after_hash.as_deref().unwrap_or("none")
                    )),
                    Some(entries) if !entries.is_empty() => report.problem(format!(
                        "{object} has {} audit entries instead of one",
                        entries.len()
                    )),
                    _ => report.problem(format!("{object} has no audit entry")),
                }
            }
        }

        let tokens: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, revoked_at FROM api_token ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        for (name, revoked_at) in tokens {
            let entries = by_object
                .remove(&("token", name.clone()))
                .unwrap_or_default();
            let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            let expected: &[&str] = if revoked_at.is_some() {
                &["token-create", "token-revoke"]
            } else {
                &["token-create"]
            };
            if actions != expected {
                report.problem(format!(
                    "the token `{name}` has the audit entries [{}] instead of [{}]",
                    actions.join(", "),
                    expected.join(", ")
                ));
            }
        }

        // Whatever is left names something that is not stored.
        let missing: Vec<String> = by_object
            .into_values()
            .flatten()
            .map(|e| format!("{} ({} `{}`)", e.id, e.action, e.object))
            .collect();
        if !missing.is_empty() {
            report.problem(format!(
                "{} audit entries name objects that are not stored: {}",
                missing.len(),
                examples(&missing)
            ));
        }

        // Registry entries: imports name the registry; status changes name a stored enterprise.
        let strays: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT a.id, a.action, a.object FROM audit_log a WHERE a.action LIKE 'registry-%' \
             AND ((a.action = 'registry-import' AND a.object <> 'registry') \
             OR (a.action <> 'registry-import' \
             AND NOT EXISTS (SELECT 1 FROM enterprise e WHERE e.uscc = a.object))) \
             ORDER BY a.id LIMIT 100",
        )
        .fetch_all(self.pool())
        .await?;
        if !strays.is_empty() {
            let strays: Vec<String> = strays
                .into_iter()
                .map(|(id, action, object)| format!("{id} ({action} `{object}`)"))
                .collect();
            report.problem(format!(
                "{}{} registry audit entries name no stored enterprise: {}",
                if strays.len() == 100 { "at least " } else { "" },
                strays.len(),
                examples(&strays)
            ));
        }
        let enterprises: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enterprise")
            .fetch_one(self.pool())
            .await?;
        let imports: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'registry-import'")
                .fetch_one(self.pool())
                .await?;
        if enterprises > 0 && imports == 0 {
            report.problem(format!(
                "{enterprises} enterprises are stored but no registry import is in the audit log"
            ));
        }
        Ok(())
    }
}

/// Published and retired editions carry their publication; only retired ones their retirement.
fn status_fields(
    label: &str,
    status: EditionStatus,
    published: [bool; 3],
    retired: bool,
    report: &mut CheckReport,
) {
    let is_published = published.iter().all(|p| *p);
    let any_published = published.iter().any(|p| *p);
    let wrong = match status {
        EditionStatus::Draft => any_published || retired,
        EditionStatus::Published => !is_published || retired,
        EditionStatus::Retired => !is_published || !retired,
    };
    if wrong {
        report.problem(format!(
            "{label} is {status} but its publication and retirement fields say otherwise"
        ));
    }
}

/// The audit entries of one edition, oldest first: `import` (first with no hash before, each
/// next one replacing the previous one's hash), then `publish` and `retire` as the status says,
/// ending at the edition's content hash.
fn edition_chain(edition: &Versioned, entries: &[Entry]) -> Result<(), String> {
    let imports = entries.iter().take_while(|e| e.action == "import").count();
    if imports == 0 {
        return Err("no import entry".to_string());
    }
    let mut before: Option<&str> = None;
    for e in &entries[..imports] {
        if e.before_hash.as_deref() != before {
            return Err(format!(
                "import entry {} replaces {}, but the hash before was {}",
                e.id,
                e.before_hash.as_deref().unwrap_or("nothing"),
                before.unwrap_or("nothing")
            ));
        }
        before = e.after_hash.as_deref();
    }
    let hash = edition.content_hash.as_str();
    if before != Some(hash) {
        return Err(format!(
            "the last import recorded the content hash {}, but the edition has {hash}",
            before.unwrap_or("none")
        ));
    }
    let rest: Vec<&str> = entries[imports..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    let expected: &[&str] = match edition.status {
        EditionStatus::Draft => &[],
        EditionStatus::Published => &["publish"],
        EditionStatus::Retired => &["publish", "retire"],
    };
    if rest != expected {
        return Err(format!(
            "the edition is {} but its entries after the imports are [{}]",
            edition.status,
            rest.join(", ")
        ));
    }
    if let Some(e) = entries[imports..]
        .iter()
        .find(|e| e.before_hash.as_deref() != Some(hash) || e.after_hash.as_deref() != Some(hash))
    {
        return Err(format!(
            "the {} entry {} records another content hash than the edition's {hash}",
            e.action, e.id
        ));
    }
    Ok(())
}

fn examples(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(EXAMPLES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > EXAMPLES {
        text.push_str(&format!(", … ({} more)", items.len() - EXAMPLES));
    }
    text
}
