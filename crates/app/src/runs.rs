//! Stored accounting runs: account and store the run with its provenance in one transaction,
//! list and export runs, find the runs that are out of date (a newer edition would now be
//! resolved for them, or an input file changed), and aggregate a stored run's figures into
//! statistics at any region and industry level.
//!
//! Inputs read from files are recorded by absolute path and SHA-256; uploaded inputs (see
//! [`crate::upload`]) as `upload:<file name>` and the SHA-256 of their bytes. An upload cannot
//! change after the run, so [`stale`] says nothing about uploaded inputs.

use std::path::Path;
use std::sync::Arc;

use accounting::codes::{IndustryCode, IndustryLevel, RegionCode, RegionLevel};
use accounting::coefficient::CoefficientSet;
use accounting::engine::Emission;
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity};
use accounting::totals::{CompensatedSum, Grouping};
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

/// Whether a command's `--coefficients` text (with its `--at`) names an edition in the database
/// rather than a folder or table.
pub fn names_edition(text: &str, at: Option<&str>) -> bool {
    text.contains('@') || at.is_some()
}

/// The edition a command names (`set@N`, `set@latest`, or `set` with a date and rule), loaded
/// from the database, with its metadata and the provenance a run records.
pub async fn load_edition(
    store: &Store,
    text: &str,
    at: Option<&str>,
    rule: &str,
    reference: &Reference,
) -> Result<(CoefficientSet, crate::editions::EditionInfo, Provenance), AppError> {
    let selector = crate::editions::selector(text, at, rule)?;
    let (info, set) = crate::editions::load(store, &selector, reference).await?;
    let provenance = Provenance {
        edition: Some(info.edition),
        selector: text.to_string(),
        rule: at.map(|_| rule.to_string()),
        date: at.map(str::to_string),
        coefficients_path: None,
    };
    Ok((set, info, provenance))
}

/// A coefficient set folder or table a command names, with the provenance a run records.
pub fn load_files(
    text: &str,
    reference: &Reference,
    read: &ingest::table::ReadOptions,
) -> Result<(CoefficientSet, String, Provenance), AppError> {
    let set = ingest::coefficients::load_set(Path::new(text), reference, read)
        .map_err(|issues| AppError::input("the coefficient set", issues))?;
    let provenance = Provenance {
        edition: None,
        selector: text.to_string(),
        rule: None,
        date: None,
        coefficients_path: Some(text.to_string()),
    };
    Ok((set, text.to_string(), provenance))
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

/// How a run's input is recorded: an absolute path (or `upload:<file name>`) and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Absolute path, or `upload:<file name>`.
    pub path: String,
    /// SHA-256, hex.
    pub hash: String,
}

/// The prefix of an uploaded input's recorded path.
pub const UPLOAD_PREFIX: &str = "upload:";

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
    let inputs = [
        Input {
            path: absolute(&settings.registry),
            hash: file_hash(&settings.registry)?,
        },
        Input {
            path: absolute(&settings.activity),
            hash: file_hash(&settings.activity)?,
        },
    ];
    store_run(
        store,
        Arc::new(set),
        provenance,
        settings,
        Arc::new(reference),
        actor,
        inputs,
    )
    .await
}

/// [`account_and_store`] with the inputs' records given: the registry's, then the activity's.
pub(crate) async fn store_run(
    store: &Store,
    set: Arc<CoefficientSet>,
    provenance: Provenance,
    settings: AccountSettings,
    reference: Arc<Reference>,
    actor: &str,
    inputs: [Input; 2],
) -> Result<(i64, AccountReport), AppError> {
    let started = std::time::Instant::now();
    let [registry, activity] = inputs;
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
        registry_path: registry.path,
        registry_hash: registry.hash,
        activity_path: activity.path,
        activity_hash: activity.hash,
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
            pollutant: t.pollutant_code.to_string(),
            unit: t.unit.to_string(),
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
/// activity file changed or disappeared. Uploaded inputs (`upload:<file name>`) are kept only
/// as their hash and cannot change, so nothing is said about them.
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
            if path.starts_with(UPLOAD_PREFIX) {
                continue;
            }
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

/// Records per page of an export: the memory an export holds is one page and its CSV (a few
/// MB), whatever the size of the run.
pub const EXPORT_PAGE: u64 = 10_000;

const RESULT_HEADER: [&str; 16] = [
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
];

const TOTAL_HEADER: [&str; 13] = [
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
];

/// Where an export is.
enum Position {
    /// Not started: the header comes first.
    Start,
    /// After this result.
    Result(Option<store::runs::ResultKey>),
    /// After this total.
    Total(Option<store::runs::TotalKey>),
    /// Everything written (or an error returned).
    Done,
}

/// A stored run's results or totals as CSV, produced a page at a time (read by key along the
/// index, so each page costs the same): [`Export::next_chunk`] until `None`, or
/// [`Export::write_to`], or [`export_to_file`]. Rows are in activity-row then pollutant order
/// (results), or year, region, industry and pollutant order with national and all industries
/// first (totals), with the run and its edition on every row. At the end the number of rows
/// written is checked against the run's count, so an export is complete or an error.
pub struct Export {
    store: Store,
    run: RunInfo,
    results: bool,
    position: Position,
    page: u64,
    written: u64,
}

/// A run's per-row results as CSV, streamed (see [`Export`]). Fails at once for an unknown run.
pub async fn export_results(store: &Store, id: i64) -> Result<Export, AppError> {
    Export::new(store, id, true).await
}

/// A run's totals as CSV, streamed (see [`Export`]). Fails at once for an unknown run.
pub async fn export_totals(store: &Store, id: i64) -> Result<Export, AppError> {
    Export::new(store, id, false).await
}

impl Export {
    async fn new(store: &Store, id: i64, results: bool) -> Result<Export, AppError> {
        Ok(Export {
            store: store.clone(),
            run: store.run(id).await?,
            results,
            position: Position::Start,
            page: EXPORT_PAGE,
            written: 0,
        })
    }

    /// Pages of `page` records (at least 1) instead of [`EXPORT_PAGE`].
    pub fn with_page(mut self, page: u64) -> Export {
        self.page = page.max(1);
        self
    }

    /// The run exported.
    pub fn run(&self) -> &RunInfo {
        &self.run
    }

    /// The next piece of the CSV (the header with the first page, then a page at a time), or
    /// `None` at the end. After an error, `None`.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        let chunk = self.fill().await;
        if chunk.is_err() {
            self.position = Position::Done;
        }
        chunk
    }

    async fn fill(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
        let csv_error = |e: csv::Error| AppError::Internal(format!("writing the CSV failed: {e}"));
        if matches!(self.position, Position::Start) {
            if self.results {
                writer.write_record(RESULT_HEADER).map_err(csv_error)?;
                self.position = Position::Result(None);
            } else {
                writer.write_record(TOTAL_HEADER).map_err(csv_error)?;
                self.position = Position::Total(None);
            }
        }
        let run = &self.run;
        let id = run.id.to_string();
        let edition = run.run.edition.map(|e| e.to_string()).unwrap_or_default();
        let number = |value: f64| quantity(value, Precision::Exact);
        let rows = match &mut self.position {
            Position::Start | Position::Done => return Ok(None),
            Position::Result(after) => {
                let page = self
                    .store
                    .run_results_after(run.id, after.as_ref(), self.page)
                    .await?;
                if let Some(last) = page.last() {
                    *after = Some(last.key());
                }
                for r in &page {
                    writer
                        .write_record([
                            id.as_str(),
                            &r.activity_row.to_string(),
                            &r.year.to_string(),
                            &r.uscc,
                            &r.region_code,
                            &r.industry_code,
                            r.unit_id.as_deref().unwrap_or_default(),
                            r.outlet_id.as_deref().unwrap_or_default(),
                            &r.pollutant,
                            &number(r.generated),
                            &number(r.emitted),
                            &r.coefficient_row.to_string(),
                            &r.flags,
                            &run.run.set_id,
                            &edition,
                            &run.run.content_hash,
                        ])
                        .map_err(csv_error)?;
                }
                page.len() as u64
            }
            Position::Total(after) => {
                let page = self
                    .store
                    .run_totals_after(run.id, after.as_ref(), self.page)
                    .await?;
                if let Some(last) = page.last() {
                    *after = Some(last.key());
                }
                for t in &page {
                    writer
                        .write_record([
                            id.as_str(),
                            &t.year.to_string(),
                            t.region_code.as_deref().unwrap_or_default(),
                            t.industry_code.as_deref().unwrap_or_default(),
                            &t.pollutant,
                            &t.unit,
                            &number(t.generated),
                            &number(t.emitted),
                            &t.rows.to_string(),
                            &t.flagged_rows.to_string(),
                            &run.run.set_id,
                            &edition,
                            &run.run.content_hash,
                        ])
                        .map_err(csv_error)?;
                }
                page.len() as u64
            }
        };
        self.written += rows;
        if rows < self.page {
            self.position = Position::Done;
            let stored = if self.results {
                self.store.run_result_count(run.id).await?
            } else {
                self.store.run_total_count(run.id).await?
            };
            if stored != self.written {
                return Err(AppError::Internal(format!(
                    "run {} has {stored} {} but {} were exported: the export is incomplete",
                    run.id,
                    if self.results { "results" } else { "totals" },
                    self.written
                )));
            }
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| AppError::Internal(format!("writing the CSV failed: {e}")))?;
        Ok(Some(bytes))
    }

    /// Writes the whole CSV to `out`; returns the number of rows (without the header).
    pub async fn write_to(mut self, out: &mut dyn std::io::Write) -> Result<u64, AppError> {
        while let Some(chunk) = self.next_chunk().await? {
            out.write_all(&chunk)
                .map_err(|e| AppError::Internal(format!("writing the export failed: {e}")))?;
        }
        Ok(self.written)
    }
}

/// Writes an export to a file: to a temporary file next to it, renamed into place only when
/// the whole export was written (as [`crate::output::write_file`] does). Returns the number
/// of rows.
pub async fn export_to_file(mut export: Export, path: &Path) -> Result<u64, AppError> {
    let fail = |source: std::io::Error| AppError::Path {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".npsc-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, temp.as_file_mut());
        while let Some(chunk) = export.next_chunk().await? {
            out.write_all(&chunk).map_err(fail)?;
        }
        out.flush().map_err(fail)?;
    }
    crate::output::make_readable(temp.as_file()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(export.written)
}

/// All runs, newest first.
pub async fn list(store: &Store) -> Result<Vec<RunInfo>, AppError> {
    Ok(store.runs().await?)
}

/// One run.
pub async fn show(store: &Store, id: i64) -> Result<RunInfo, AppError> {
    Ok(store.run(id).await?)
}

/// The grouping a run's totals were stored at, read back from its recorded options
/// (`region_level=…; industry_level=…`); province and all industries when not recorded.
pub fn run_grouping(run: &RunInfo) -> Grouping {
    let mut grouping = Grouping {
        region: RegionLevel::Province,
        industry: None,
    };
    for part in run.run.options.split(';') {
        match part.trim().split_once('=') {
            Some(("region_level", level)) => {
                if let Some(level) = RegionLevel::parse(level) {
                    grouping.region = level;
                }
            }
            Some(("industry_level", level)) => {
                if let Ok(level) = crate::account::parse_industry_level(level) {
                    grouping.industry = level;
                }
            }
            _ => {}
        }
    }
    grouping
}

/// What statistics to compute from a stored run.
#[derive(Debug, Clone, Default)]
pub struct StatisticsQuery {
    /// The run; the most recent one when `None`.
    pub run: Option<i64>,
    /// Only this year.
    pub year: Option<u16>,
    /// Only this pollutant (code or name).
    pub pollutant: Option<String>,
    /// Region level; the run's own when `None`.
    pub region_level: Option<RegionLevel>,
    /// Industry level (`Some(None)` = all industries together); the run's own when `None`.
    pub industry_level: Option<Option<IndustryLevel>>,
}

/// Where statistics were aggregated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatisticsSource {
    /// The run's stored totals (the requested levels are as coarse as the run's or coarser).
    Totals,
    /// The run's stored per-row results (a level finer than the run's totals).
    Results,
}

impl StatisticsSource {
    /// `totals` or `results`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatisticsSource::Totals => "totals",
            StatisticsSource::Results => "results",
        }
    }
}

/// One line of statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsLine {
    /// Year.
    pub year: u16,
    /// Region at the level (`None` = national).
    pub region: Option<RegionCode>,
    /// Its name path, `全国` for national.
    pub region_name: String,
    /// Industry at the level (`None` = all).
    pub industry: Option<IndustryCode>,
    /// Its name, `全部行业` for all.
    pub industry_name: String,
    /// Pollutant code.
    pub pollutant_code: String,
    /// Pollutant name.
    pub pollutant_name: String,
    /// Report unit.
    pub unit: String,
    /// Generated (compensated sum).
    pub generated: f64,
    /// Emitted (compensated sum).
    pub emitted: f64,
    /// Results covered.
    pub rows: u64,
    /// Of those, flagged.
    pub flagged_rows: u64,
}

/// Statistics of a stored run, with the run for provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// The run aggregated.
    pub run: RunInfo,
    /// The levels of the lines.
    pub grouping: Grouping,
    /// What was aggregated.
    pub source: StatisticsSource,
    /// Sorted by year, region, industry and pollutant (catalog order).
    pub lines: Vec<StatisticsLine>,
}

type StatKey = (u16, Option<RegionCode>, Option<IndustryCode>, PollutantId);

#[derive(Default)]
struct StatCell {
    generated: CompensatedSum,
    emitted: CompensatedSum,
    rows: u64,
    flagged_rows: u64,
}

/// Totals of a stored run at any region and industry level, filtered by year and pollutant.
/// Levels as coarse as the run's own (or coarser) are summed from its stored totals; a finer
/// level is aggregated from its per-row results, streamed from the database so that memory
/// holds the groups only. Sums are compensated; the order is deterministic.
pub async fn statistics(
    store: &Store,
    reference: &Reference,
    query: &StatisticsQuery,
) -> Result<Statistics, AppError> {
    let run = match query.run {
        Some(id) => store.run(id).await?,
        None => store.latest_run().await?.ok_or_else(|| AppError::Store {
            message: "there is no stored run yet".to_string(),
            code: "not-found",
        })?,
    };
    let own = run_grouping(&run);
    let grouping = Grouping {
        region: query.region_level.unwrap_or(own.region),
        industry: query.industry_level.unwrap_or(own.industry),
    };
    let pollutant = query
        .pollutant
        .as_deref()
        .map(|p| {
            reference
                .pollutants
                .lookup(p)
                .ok_or_else(|| AppError::Argument {
                    message: format!("unknown pollutant `{p}`"),
                    hint: Some("use a code such as `SO2` or a name such as `二氧化硫`".to_string()),
                })
        })
        .transpose()?;
    let industry_from_totals = match (grouping.industry, own.industry) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(wanted), Some(have)) => wanted <= have,
    };
    let source = if grouping.region <= own.region && industry_from_totals {
        StatisticsSource::Totals
    } else {
        StatisticsSource::Results
    };
    let mut cells: std::collections::BTreeMap<StatKey, StatCell> = Default::default();
    let mut unknown: Option<String> = None;
    {
        let mut add = |year: u16,
                       region: Option<&str>,
                       industry: Option<&str>,
                       code: &str,
                       figures: (f64, f64, u64, u64)| {
            if query.year.is_some_and(|y| y != year) {
                return;
            }
            let Some(id) = reference.pollutants.lookup(code) else {
                unknown.get_or_insert_with(|| format!("pollutant `{code}`"));
                return;
            };
            if pollutant.is_some_and(|p| p != id) {
                return;
            }
            let region = match region.map(RegionCode::parse) {
                None => None,
                Some(Ok(code)) => reference.regions.at_level(code, grouping.region),
                Some(Err(_)) => {
                    unknown.get_or_insert_with(|| format!("region `{}`", region.unwrap_or("")));
                    return;
                }
            };
            let industry = match (grouping.industry, industry.map(IndustryCode::parse)) {
                (None, _) | (_, None) => None,
                (Some(level), Some(Ok(code))) => {
                    reference.industries.at_level(&code, level).or(Some(code))
                }
                (Some(_), Some(Err(_))) => {
                    unknown.get_or_insert_with(|| format!("industry `{}`", industry.unwrap_or("")));
                    return;
                }
            };
            let cell = cells.entry((year, region, industry, id)).or_default();
            cell.generated.add(figures.0);
            cell.emitted.add(figures.1);
            cell.rows += figures.2;
            cell.flagged_rows += figures.3;
        };
        match source {
            StatisticsSource::Totals => {
                for t in store.run_totals(run.id).await? {
                    add(
                        t.year,
                        t.region_code.as_deref(),
                        t.industry_code.as_deref(),
                        &t.pollutant,
                        (t.generated, t.emitted, t.rows, t.flagged_rows),
                    );
                }
            }
            StatisticsSource::Results => {
                store
                    .each_run_result(run.id, |r| {
                        add(
                            r.year,
                            Some(&r.region_code),
                            Some(&r.industry_code),
                            &r.pollutant,
                            (r.generated, r.emitted, 1, u64::from(r.flagged)),
                        );
                    })
                    .await?;
            }
        }
    }
    if let Some(what) = unknown {
        return Err(AppError::Internal(format!(
            "run {} holds a {what} that the reference data does not know",
            run.id
        )));
    }
    let lines = cells
        .into_iter()
        .map(|((year, region, industry, id), cell)| {
            let pollutant = reference.pollutants.get(id);
            StatisticsLine {
                year,
                region_name: match region {
                    None => "全国".to_string(),
                    Some(code) => reference.regions.path_name(code).unwrap_or_default(),
                },
                region,
                industry_name: match &industry {
                    None => "全部行业".to_string(),
                    Some(code) => reference
                        .industries
                        .get(code)
                        .map(|i| i.name.clone())
                        .unwrap_or_default(),
                },
                industry,
                pollutant_code: pollutant.code.clone(),
                pollutant_name: pollutant.name.clone(),
                unit: pollutant.report_unit.symbol().to_string(),
                generated: cell.generated.value(),
                emitted: cell.emitted.value(),
                rows: cell.rows,
                flagged_rows: cell.flagged_rows,
            }
        })
        .collect();
    Ok(Statistics {
        run,
        grouping,
        source,
        lines,
    })
}

/// Statistics as CSV: the columns of `npsc account --format csv` plus the run and its edition.
pub fn statistics_csv(stats: &Statistics) -> String {
    let mut writer = ingest::spreadsheet::SafeWriter::from_writer(Vec::new());
    let _ = writer.write_record([
        "year",
        "region_level",
        "region_code",
        "region_name",
        "industry_level",
        "industry_code",
        "industry_name",
        "pollutant_code",
        "pollutant",
        "unit",
        "generated",
        "emitted",
        "rows",
        "flagged_rows",
        "run",
        "set_id",
        "edition",
        "content_hash",
    ]);
    let industry_level = stats.grouping.industry.map(|l| l.as_str()).unwrap_or("all");
    for l in &stats.lines {
        let _ = writer.write_record([
            l.year.to_string(),
            stats.grouping.region.as_str().to_string(),
            l.region.map(|r| r.to_string()).unwrap_or_default(),
            l.region_name.clone(),
            industry_level.to_string(),
            l.industry
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default(),
            l.industry_name.clone(),
            l.pollutant_code.clone(),
            l.pollutant_name.clone(),
            l.unit.clone(),
            quantity(l.generated, Precision::Exact),
            quantity(l.emitted, Precision::Exact),
            l.rows.to_string(),
            l.flagged_rows.to_string(),
            stats.run.id.to_string(),
            stats.run.run.set_id.clone(),
            stats
                .run
                .run
                .edition
                .map(|e| e.to_string())
                .unwrap_or_default(),
            stats.run.run.content_hash.clone(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One page of a run's per-row results (activity-row order), and how many there are.
pub async fn results_page(
    store: &Store,
    id: i64,
    page: u64,
    per_page: u64,
) -> Result<(RunInfo, u64, Vec<store::runs::ResultRecord>), AppError> {
    let run = store.run(id).await?;
    let total = store.run_result_count(id).await?;
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let results = store.run_results_page(id, offset, per_page).await?;
    Ok((run, total, results))
}

/// A run's totals as stored (at the run's own grouping).
pub async fn totals(
    store: &Store,
    id: i64,
) -> Result<(RunInfo, Vec<store::runs::TotalRecord>), AppError> {
    let run = store.run(id).await?;
    let totals = store.run_totals(id).await?;
    Ok((run, totals))
}

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;
