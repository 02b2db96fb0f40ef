//! Stored accounting runs: account and store the run with its provenance in one transaction,
//! list and export runs, and find the runs that are out of date (a newer edition would now be
//! resolved for them, or an input file changed).

use std::path::Path;

use accounting::codes::RegionCode;
use accounting::coefficient::CoefficientSet;
use accounting::engine::Emission;
use accounting::render::{Precision, quantity};
use ingest::reference::Reference;
use sha2::{Digest, Sha256};
use store::editions::{DateRule, Selector};
use store::runs::{NewRun, ResultRecord, RunCounts, TotalRecord};

pub use store::runs::RunInfo;

use crate::AppError;
use crate::account::{AccountReport, AccountSettings, NoProgress, ResultSink};
use crate::editions::Store;

/// How the coefficients of a run were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Edition number, when the set came from the database.
    pub edition: Option<u32>,
    /// The selector or path as the user gave it.
    pub selector: String,
    /// The date rule, when resolved by date.
    pub rule: Option<String>,
    /// The accounting date, when resolved by date.
    pub date: Option<String>,
    /// The folder or table, when read from files.
    pub coefficients_path: Option<String>,
}

/// SHA-256 of a file, hex.
pub fn file_hash(path: &Path) -> Result<String, AppError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|source| AppError::Path {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(|source| AppError::Path {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The absolute path, so that a run's inputs can be re-checked from any working directory.
fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Results per message from the accounting thread to the database writer.
const BATCH: usize = 2000;

struct ChannelSink {
    sender: tokio::sync::mpsc::Sender<Vec<ResultRecord>>,
    batch: Vec<ResultRecord>,
}

impl ChannelSink {
    fn flush(&mut self) -> std::io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.sender
            .blocking_send(batch)
            .map_err(|_| std::io::Error::other("the database writer stopped"))
    }
}

impl ResultSink for ChannelSink {
    fn accept(
        &mut self,
        item: &ingest::activity::ActivityItem<'_>,
        region: RegionCode,
        emissions: &[Emission],
        set: &CoefficientSet,
        reference: &Reference,
    ) -> std::io::Result<()> {
        for e in emissions {
            self.batch.push(ResultRecord {
                activity_row: item.row.row,
                year: item.row.year,
                uscc: item.uscc.as_str().to_string(),
                region_code: region.to_string(),
                industry_code: item.row.industry.to_string(),
                unit_id: item.unit_id.map(str::to_string),
                outlet_id: item.outlet_id.map(str::to_string),
                pollutant: reference.pollutants.get(e.pollutant).code.clone(),
                generated: e.generated,
                emitted: e.emitted,
                coefficient_row: set.row(e.coefficient_row).origin.row,
                flags: e.flags.names().join(";"),
            });
        }
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }
}

/// Accounts and stores the run: the accounting streams on a blocking thread while its results
/// are inserted; the run is committed only if both succeed.
pub async fn account_and_store(
    store: &Store,
    set: CoefficientSet,
    provenance: Provenance,
    settings: AccountSettings,
    reference: Reference,
    actor: &str,
) -> Result<(i64, AccountReport), AppError> {
    let started = std::time::Instant::now();
    let run = NewRun {
        started_at: store::now_utc(),
        actor: actor.to_string(),
        set_id: set.meta().id.clone(),
        edition: provenance.edition,
        content_hash: set.content_hash().to_string(),
        selector: provenance.selector,
        rule: provenance.rule,
        accounting_date: provenance.date,
        coefficients_path: provenance.coefficients_path,
        registry_path: absolute(&settings.registry),
        registry_hash: file_hash(&settings.registry)?,
        activity_path: absolute(&settings.activity),
        activity_hash: file_hash(&settings.activity)?,
        options: format!(
            "region_level={}; industry_level={}; missing_operation_rate={:?}",
            settings.grouping.region,
            settings
                .grouping
                .industry
                .map(|l| l.to_string())
                .unwrap_or_else(|| "all".to_string()),
            settings.policy.missing_operation_rate
        ),
    };
    let mut writer = store.begin_run(run).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<ResultRecord>>(8);
    let accounting = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink {
            sender,
            batch: Vec::with_capacity(BATCH),
        };
        let report = crate::account::account_into(
            &set,
            &settings,
            &reference,
            &NoProgress,
            Some(&mut sink),
        )?;
        sink.flush()
            .map_err(|e| AppError::Internal(format!("storing the results failed: {e}")))?;
        Ok::<_, AppError>((report, reference))
    });
    let mut store_error = None;
    while let Some(batch) = receiver.recv().await {
        if let Err(e) = writer.add_results(&batch).await {
            store_error = Some(e);
            // Dropping the receiver stops the accounting thread at its next send.
            break;
        }
    }
    drop(receiver);
    let (report, reference) = accounting
        .await
        .map_err(|e| AppError::Internal(format!("the accounting thread failed: {e}")))??;
    if let Some(e) = store_error {
        return Err(e.into());
    }
    let totals: Vec<TotalRecord> = report
        .totals
        .iter()
        .map(|t| TotalRecord {
            year: t.year,
            region_code: t.region.map(|r| r.to_string()),
            industry_code: t.industry.as_ref().map(|i| i.to_string()),
            pollutant: t.pollutant_code.clone(),
            unit: t.unit.clone(),
            generated: t.generated,
            emitted: t.emitted,
            rows: t.rows,
            flagged_rows: t.flagged_rows,
        })
        .collect();
    let _ = reference;
    let s = report.summary;
    let id = writer
        .finish(
            RunCounts {
                rows_read: s.rows_read,
                rows_accounted: s.rows_accounted,
                rows_excluded: s.rows_excluded,
                rows_unaccounted: s.rows_unaccounted,
            },
            &totals,
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
        .await?;
    Ok((id, report))
}

/// A run that no longer reflects the current editions or inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleRun {
    /// The run.
    pub run: RunInfo,
    /// Why it is out of date.
    pub reasons: Vec<String>,
}

/// Finds the runs that are out of date: a newer published edition of their set would now be
/// resolved for their accounting date (or as `latest` when they had none), or the registry or
/// activity file changed or disappeared.
pub async fn stale(store: &Store) -> Result<Vec<StaleRun>, AppError> {
    let mut out = Vec::new();
    for run in store.runs().await? {
        let mut reasons = Vec::new();
        if let Some(edition) = run.run.edition {
            let rule = run
                .run
                .rule
                .as_deref()
                .and_then(DateRule::parse)
                .unwrap_or(DateRule::Effective);
            let date = run
                .run
                .accounting_date
                .as_deref()
                .and_then(|d| accounting::date::Date::parse(d).ok());
            let selector = Selector::parse(&run.run.set_id, date, rule)?;
            if let Ok(now) = store.resolve(&selector).await
                && now.edition != edition
            {
                reasons.push(format!(
                    "{} would now resolve to {} (was {}@{edition})",
                    run.run.selector,
                    now.name(),
                    run.run.set_id
                ));
            }
        }
        for (what, path, hash) in [
            ("registry", &run.run.registry_path, &run.run.registry_hash),
            ("activity", &run.run.activity_path, &run.run.activity_hash),
        ] {
            match file_hash(Path::new(path)) {
                Ok(now) if &now == hash => {}
                Ok(_) => reasons.push(format!("the {what} file `{path}` changed")),
                Err(_) => reasons.push(format!("the {what} file `{path}` is gone")),
            }
        }
        if !reasons.is_empty() {
            out.push(StaleRun { run, reasons });
        }
    }
    Ok(out)
}

/// A run's totals as CSV.
pub async fn export_totals(store: &Store, id: i64) -> Result<String, AppError> {
    let run = store.run(id).await?;
    let totals = store.run_totals(id).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "run",
        "year",
        "region_code",
        "industry_code",
        "pollutant_code",
        "unit",
        "generated",
        "emitted",
        "rows",
        "flagged_rows",
        "set_id",
        "edition",
        "content_hash",
    ]);
    for t in totals {
        let _ = writer.write_record([
            run.id.to_string(),
            t.year.to_string(),
            t.region_code.unwrap_or_default(),
            t.industry_code.unwrap_or_default(),
            t.pollutant,
            t.unit,
            quantity(t.generated, Precision::Exact),
            quantity(t.emitted, Precision::Exact),
            t.rows.to_string(),
            t.flagged_rows.to_string(),
            run.run.set_id.clone(),
            run.run.edition.map(|e| e.to_string()).unwrap_or_default(),
            run.run.content_hash.clone(),
        ]);
    }
    Ok(String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default())
}

/// A run's per-row results as CSV.
pub async fn export_results(store: &Store, id: i64) -> Result<String, AppError> {
    let run = store.run(id).await?;
    let results = store.run_results(id).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "run",
        "activity_row",
        "year",
        "uscc",
        "region_code",
        "industry_code",
        "unit_id",
        "outlet_id",
        "pollutant_code",
        "generated",
        "emitted",
        "coefficient_row",
        "flags",
        "set_id",
        "edition",
        "content_hash",
    ]);
    for r in results {
        let _ = writer.write_record([
            run.id.to_string(),
            r.activity_row.to_string(),
            r.year.to_string(),
            r.uscc,
            r.region_code,
            r.industry_code,
            r.unit_id.unwrap_or_default(),
            r.outlet_id.unwrap_or_default(),
            r.pollutant,
            quantity(r.generated, Precision::Exact),
            quantity(r.emitted, Precision::Exact),
            r.coefficient_row.to_string(),
            r.flags,
            run.run.set_id.clone(),
            run.run.edition.map(|e| e.to_string()).unwrap_or_default(),
            run.run.content_hash.clone(),
        ]);
    }
    Ok(String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default())
}

/// All runs, newest first.
pub async fn list(store: &Store) -> Result<Vec<RunInfo>, AppError> {
    Ok(store.runs().await?)
}

/// One run.
pub async fn show(store: &Store, id: i64) -> Result<RunInfo, AppError> {
    Ok(store.run(id).await?)
}
