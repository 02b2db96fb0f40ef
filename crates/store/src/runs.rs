//! Accounting runs with provenance: which edition (and how it was resolved), the input files'
//! hashes, the options, timing, totals and every per-row result. A run is written in one
//! transaction: the run row first, then results as they stream in, then totals and counts; a run
//! that fails or is killed leaves nothing behind. The run row records how many results and
//! totals were written with it (`result_count`, `total_count`), so a run can be checked as
//! complete after the fact ([`Store::check`]).

//!
//! Bulk rows: on SQLite, results and totals go in multi-row INSERTs of one prepared statement
//! (anonymous `?` placeholders: SQLite looks numbered ones up by a linear scan, which made
//! large statements slow); on PostgreSQL, with `COPY … FROM STDIN` in chunks of bounded size
//! ([`crate::copy`]) through a native connection, in the same transaction as the run row.
//! Exports read a run back in pages by key (the page after the last key read, along the
//! indexes of migration 9), so no reader holds a whole run.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{self, Record};
use crate::copy::{self, COPY_CHUNK, COPY_STATEMENT_ROWS, CopyRows, non_finite};
use crate::{Store, StoreError};

/// What is known when a run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// UTC start time.
    pub started_at: String,
    /// Who ran it.
    pub actor: String,
    /// Coefficient set id.
    pub set_id: String,
    /// Edition number when the set came from the database.
    pub edition: Option<u32>,
    /// Content hash of the coefficients used.
    pub content_hash: String,
    /// How the coefficients were named (`set@latest`, `set` + date, or a path).
    pub selector: String,
    /// `effective` or `next-month` when resolved by date.
    pub rule: Option<String>,
    /// The accounting date, when resolved by date.
    pub accounting_date: Option<String>,
    /// The coefficient folder or table, when read from files.
    pub coefficients_path: Option<String>,
    /// Registry file.
    pub registry_path: String,
    /// SHA-256 of the registry file.
    pub registry_hash: String,
    /// Activity file.
    pub activity_path: String,
    /// SHA-256 of the activity file.
    pub activity_hash: String,
    /// Grouping and policy, as text.
    pub options: String,
}

/// Counts known at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunCounts {
    /// Rows read.
    pub rows_read: u64,
    /// Rows accounted.
    pub rows_accounted: u64,
    /// Rows excluded (closed enterprises).
    pub rows_excluded: u64,
    /// Rows without coefficients.
    pub rows_unaccounted: u64,
}

/// One stored per-row result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// Row in the activity file.
    pub activity_row: u64,
    /// Year.
    pub year: u16,
    /// Enterprise.
    pub uscc: String,
    /// The enterprise's region.
    pub region_code: String,
    /// The row's industry class.
    pub industry_code: String,
    /// Production unit.
    pub unit_id: Option<String>,
    /// Outlet.
    pub outlet_id: Option<String>,
    /// Pollutant code.
    pub pollutant: String,
    /// Generated, in the pollutant's report unit.
    pub generated: f64,
    /// Emitted, in the pollutant's report unit.
    pub emitted: f64,
    /// Row of the coefficient table used.
    pub coefficient_row: u64,
    /// Flags, `;`-separated.
    pub flags: String,
}

/// One stored total.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalRecord {
    /// Year.
    pub year: u16,
    /// Region at the run's level, `None` for national.
    pub region_code: Option<String>,
    /// Industry at the run's level, `None` for all.
    pub industry_code: Option<String>,
    /// Pollutant code.
    pub pollutant: String,
    /// Report unit.
    pub unit: String,
    /// Generated.
    pub generated: f64,
    /// Emitted.
    pub emitted: f64,
    /// Rows covered.
    pub rows: u64,
    /// Rows with a flagged result.
    pub flagged_rows: u64,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Run id.
    pub id: i64,
    /// What was known at the start.
    pub run: NewRun,
    /// UTC end time.
    pub finished_at: String,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Counts.
    pub counts: RunCounts,
}

/// A run being written: an open transaction.
pub struct RunWriter {
    tx: RunTransaction,
    id: i64,
    run: NewRun,
    /// Results written so far.
    results: u64,
}

/// The transaction of a run being written, by engine.
enum RunTransaction {
    /// SQLite through the `Any` pool: multi-row INSERTs.
    Any(sqlx::Transaction<'static, sqlx::Any>),
    /// PostgreSQL through a native connection: `COPY`.
    Postgres(PostgresRun),
}

type PgTransaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// A run being written on PostgreSQL. While its results stream, its transaction is held by a
/// task that sends them with `COPY` (a statement per [`COPY_STATEMENT_ROWS`]), fed encoded
/// chunks through a channel (two queued at most), so that PostgreSQL stores a chunk while the
/// next is encoded; the transaction comes back from the task when the results end.
struct PostgresRun {
    /// Results encoded and not yet queued.
    rows: CopyRows,
    /// Results encoded in all.
    encoded: u64,
    chunks: Option<tokio::sync::mpsc::Sender<Chunk>>,
    task: Option<tokio::task::JoinHandle<Result<PgTransaction, StoreError>>>,
}

/// What the `COPY` task of a run's results receives.
enum Chunk {
    /// Whole rows, encoded, and how many.
    Rows(Vec<u8>, u64),
    /// The end, with the number of rows sent in all.
    End(u64),
}

/// The `COPY` of a run's results: sends each chunk as it comes, in statements of about
/// [`COPY_STATEMENT_ROWS`], checking the number of rows each stored; gives the transaction back
/// at the end. A writer dropped before the end (an error, a cancelled request) closes the
/// channel: the `COPY` is aborted and the transaction, dropped here, rolls back.
async fn copy_results(
    mut tx: PgTransaction,
    mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
) -> Result<PgTransaction, StoreError> {
    let statement = copy_statement("run_result", RESULT_COLUMNS);
    let mut stored = 0;
    loop {
        let mut copy = tx.copy_in_raw(&statement).await?;
        let mut rows = 0;
        let end = loop {
            match chunks.recv().await {
                Some(Chunk::Rows(bytes, count)) => {
                    if let Err(e) = copy::send(&mut copy, &bytes).await {
                        let _ = copy.abort("sending the results failed").await;
                        return Err(e);
                    }
                    rows += count;
                    if rows >= COPY_STATEMENT_ROWS {
                        break None;
                    }
                }
                Some(Chunk::End(all)) => break Some(all),
                None => {
                    let _ = copy.abort("the run was abandoned").await;
                    return Err(StoreError::Invalid(
                        "the run was abandoned before it was finished".to_string(),
                    ));
                }
            }
        };
        copy::finish(copy, rows, "results").await?;
        stored += rows;
        if let Some(all) = end {
            if all != stored {
                return Err(StoreError::Integrity(format!(
                    "COPY stored {stored} results of {all}"
                )));
            }
            return Ok(tx);
        }
    }
}

impl PostgresRun {
    /// Queues a chunk for the `COPY` task; if the task has stopped, its error.
    async fn queue(&mut self, chunk: Chunk) -> Result<(), StoreError> {
        if let Some(chunks) = &self.chunks
            && chunks.send(chunk).await.is_ok()
        {
            return Ok(());
        }
        Err(self.stopped().await)
    }

    /// Why the `COPY` task stopped early.
    async fn stopped(&mut self) -> StoreError {
        self.chunks = None;
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => StoreError::Integrity("the COPY of the results ended early".into()),
                Err(e) => StoreError::Integrity(format!("the COPY of the results failed: {e}")),
            },
            None => StoreError::Invalid("the run failed before".to_string()),
        }
    }

    /// Queues the chunk of results encoded so far.
    async fn queue_rows(&mut self) -> Result<(), StoreError> {
        let (bytes, rows) = self.rows.take();
        if rows == 0 {
            return Ok(());
        }
        self.encoded += rows;
        self.queue(Chunk::Rows(bytes, rows)).await
    }

    /// Queues the last results and ends their `COPY`; the transaction back.
    async fn end_results(&mut self) -> Result<PgTransaction, StoreError> {
        self.queue_rows().await?;
        self.queue(Chunk::End(self.encoded)).await?;
        self.chunks = None;
        match self.task.take() {
            Some(task) => task.await.map_err(|e| {
                StoreError::Integrity(format!("the COPY of the results failed: {e}"))
            })?,
            None => Err(StoreError::Invalid("the run failed before".to_string())),
        }
    }
}

/// Results per multi-row INSERT on SQLite (13 parameters each). 580 000 results written by
/// `add_results` (release build, the project's 2-core machine, shared) took 2.8 s of CPU with
/// 8 per INSERT, 2.0 s with 16, 1.8 s with 32, 1.7 s with 64 and 2.4–2.5 s with 128 to 512.
const RESULT_BATCH_SQLITE: usize = 64;
/// Totals per multi-row INSERT on SQLite (10 parameters each).
const TOTAL_BATCH_SQLITE: usize = 64;

const RESULT_COLUMNS: &str = "run_id, activity_row, year, uscc, region_code, industry_code, \
                              unit_id, outlet_id, pollutant, generated, emitted, \
                              coefficient_row, flags";
const TOTAL_COLUMNS: &str = "run_id, year, region_code, industry_code, pollutant, unit, generated, emitted, rows, \
     flagged_rows";

/// The order of a run's totals in every listing and export: national and all industries
/// (NULL) first on both engines.
const TOTAL_ORDER: &str = "year, region_code NULLS FIRST, industry_code NULLS FIRST, pollutant";

const INSERT_RUN: &str = "INSERT INTO run (started_at, finished_at, elapsed_ms, actor, set_id, \
     edition, content_hash, selector, rule, accounting_date, coefficients_path, registry_path, \
     registry_hash, activity_path, activity_hash, options, rows_read, rows_accounted, \
     rows_excluded, rows_unaccounted) VALUES ($1, $1, 0, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, 0, 0, 0, 0) RETURNING id";

const FINISH_RUN: &str = "UPDATE run SET finished_at = $2, elapsed_ms = $3, rows_read = $4, \
     rows_accounted = $5, rows_excluded = $6, rows_unaccounted = $7, result_count = $8, \
     total_count = $9 WHERE id = $1";

/// Binds a [`NewRun`] to [`INSERT_RUN`], whichever the engine.
macro_rules! bind_new_run {
    ($query:expr, $run:expr) => {
        $query
            .bind(&$run.started_at)
            .bind(&$run.actor)
            .bind(&$run.set_id)
            .bind($run.edition.map(i64::from))
            .bind(&$run.content_hash)
            .bind(&$run.selector)
            .bind(&$run.rule)
            .bind(&$run.accounting_date)
            .bind(&$run.coefficients_path)
            .bind(&$run.registry_path)
            .bind(&$run.registry_hash)
            .bind(&$run.activity_path)
            .bind(&$run.activity_hash)
            .bind(&$run.options)
    };
}

/// Binds the counts to [`FINISH_RUN`], whichever the engine.
macro_rules! bind_finish {
    ($query:expr, $id:expr, $counts:expr, $elapsed_ms:expr, $results:expr, $totals:expr) => {
        $query
            .bind($id)
            .bind(crate::now_utc())
            .bind($elapsed_ms as i64)
            .bind($counts.rows_read as i64)
            .bind($counts.rows_accounted as i64)
            .bind($counts.rows_excluded as i64)
            .bind($counts.rows_unaccounted as i64)
            .bind($results as i64)
            .bind($totals as i64)
    };
}

/// `INSERT INTO table (columns) VALUES (?, …), …` for `rows` rows of `width` columns.
fn multi_row_insert(table: &str, columns: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!(
        "INSERT INTO {table} ({columns}) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// The statement of a full batch of results on SQLite, built once: the same text each time, so
/// the connection's statement cache prepares it once.
fn result_insert(rows: usize) -> Arc<str> {
    static FULL: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    if rows == RESULT_BATCH_SQLITE {
        FULL.get_or_init(|| multi_row_insert("run_result", RESULT_COLUMNS, 13, rows).into())
            .clone()
    } else {
        multi_row_insert("run_result", RESULT_COLUMNS, 13, rows).into()
    }
}

/// [`result_insert`] for totals.
fn total_insert(rows: usize) -> Arc<str> {
    static FULL: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    if rows == TOTAL_BATCH_SQLITE {
        FULL.get_or_init(|| multi_row_insert("run_total", TOTAL_COLUMNS, 10, rows).into())
            .clone()
    } else {
        multi_row_insert("run_total", TOTAL_COLUMNS, 10, rows).into()
    }
}

/// Refuses a result whose quantities are not finite numbers.
fn check_result(r: &ResultRecord) -> Result<(), StoreError> {
    for (value, which) in [(r.generated, "generated"), (r.emitted, "emitted")] {
        if !value.is_finite() {
            return Err(non_finite(value, || {
                format!(
                    "the {which} quantity of activity row {}, {}",
                    r.activity_row, r.pollutant
                )
            }));
        }
    }
    Ok(())
}

/// Refuses a total whose quantities are not finite numbers.
fn check_total(t: &TotalRecord) -> Result<(), StoreError> {
    for (value, which) in [(t.generated, "generated"), (t.emitted, "emitted")] {
        if !value.is_finite() {
            return Err(non_finite(value, || {
                format!("the {which} total of {} {}", t.year, t.pollutant)
            }));
        }
    }
    Ok(())
}

fn copy_result(rows: &mut CopyRows, id: i64, r: &ResultRecord) -> Result<(), StoreError> {
    check_result(r)?;
    rows.int(id);
    rows.int(r.activity_row as i64);
    rows.int(i64::from(r.year));
    rows.text(&r.uscc);
    rows.text(&r.region_code);
    rows.text(&r.industry_code);
    rows.optional_text(r.unit_id.as_deref());
    rows.optional_text(r.outlet_id.as_deref());
    rows.text(&r.pollutant);
    rows.float(r.generated, String::new)?;
    rows.float(r.emitted, String::new)?;
    rows.int(r.coefficient_row as i64);
    rows.text(&r.flags);
    rows.end_row();
    Ok(())
}

fn copy_total(rows: &mut CopyRows, id: i64, t: &TotalRecord) -> Result<(), StoreError> {
    check_total(t)?;
    rows.int(id);
    rows.int(i64::from(t.year));
    rows.optional_text(t.region_code.as_deref());
    rows.optional_text(t.industry_code.as_deref());
    rows.text(&t.pollutant);
    rows.text(&t.unit);
    rows.float(t.generated, String::new)?;
    rows.float(t.emitted, String::new)?;
    rows.int(t.rows as i64);
    rows.int(t.flagged_rows as i64);
    rows.end_row();
    Ok(())
}

fn copy_statement(table: &str, columns: &str) -> String {
    format!("COPY {table} ({columns}) FROM STDIN")
}

/// A run's totals with `COPY` (a statement per [`COPY_STATEMENT_ROWS`]), sent in chunks as
/// they are encoded.
async fn copy_totals(
    tx: &mut PgTransaction,
    id: i64,
    totals: &[TotalRecord],
) -> Result<(), StoreError> {
    let statement = copy_statement("run_total", TOTAL_COLUMNS);
    let mut rows = CopyRows::with_capacity(COPY_CHUNK + 4096);
    for part in totals.chunks(usize::try_from(COPY_STATEMENT_ROWS).unwrap_or(usize::MAX)) {
        let mut copy = tx.copy_in_raw(&statement).await?;
        for (i, t) in part.iter().enumerate() {
            let sent = match copy_total(&mut rows, id, t) {
                Ok(()) if rows.len() < COPY_CHUNK && i + 1 < part.len() => Ok(()),
                Ok(()) => copy::send(&mut copy, &rows.take().0).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                let _ = copy.abort("the totals could not be sent").await;
                return Err(e);
            }
        }
        copy::finish(copy, part.len() as u64, "totals").await?;
    }
    Ok(())
}

impl Store {
    /// Starts writing a run. Nothing is visible to others until [`RunWriter::finish`].
    pub async fn begin_run(&self, run: NewRun) -> Result<RunWriter, StoreError> {
        let (tx, id) = match self.pg() {
            Some(pg) => {
                let mut tx = pg.begin().await?;
                let id: i64 = bind_new_run!(sqlx::query_scalar(INSERT_RUN), run)
                    .fetch_one(&mut *tx)
                    .await?;
                let (chunks, receiver) = tokio::sync::mpsc::channel(2);
                let run = PostgresRun {
                    rows: CopyRows::with_capacity(COPY_CHUNK + 4096),
                    encoded: 0,
                    chunks: Some(chunks),
                    task: Some(tokio::spawn(copy_results(tx, receiver))),
                };
                (RunTransaction::Postgres(run), id)
            }
            None => {
                let mut tx = self.pool().begin().await?;
                let id: i64 = bind_new_run!(sqlx::query_scalar(INSERT_RUN), run)
                    .fetch_one(&mut *tx)
                    .await?;
                (RunTransaction::Any(tx), id)
            }
        };
        Ok(RunWriter {
            tx,
            id,
            run,
            results: 0,
        })
    }

    /// All runs, newest first.
    pub async fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        let rows = sqlx::query("SELECT * FROM run ORDER BY id DESC")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(run_info).collect()
    }

    /// One run.
    pub async fn run(&self, id: i64) -> Result<RunInfo, StoreError> {
        let row = sqlx::query("SELECT * FROM run WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(row) => run_info(&row),
            None => Err(StoreError::NotFound(format!("there is no run {id}"))),
        }
    }

    /// A run's totals, by year, region (national first), industry (all first) and pollutant.
    pub async fn run_totals(&self, id: i64) -> Result<Vec<TotalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT year, region_code, industry_code, pollutant, unit, generated, emitted, rows, \
             flagged_rows FROM run_total WHERE run_id = $1 ORDER BY year, \
             region_code NULLS FIRST, industry_code NULLS FIRST, pollutant",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(total_record).collect()
    }

    /// A run's per-row results, in activity-row order.
    pub async fn run_results(&self, id: i64) -> Result<Vec<ResultRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT activity_row, year, uscc, region_code, industry_code, unit_id, outlet_id, \
             pollutant, generated, emitted, coefficient_row, flags FROM run_result \
             WHERE run_id = $1 ORDER BY activity_row, pollutant",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ResultRecord {
                    activity_row: u64::try_from(r.try_get::<i64, _>("activity_row")?).unwrap_or(0),
                    year: u16::try_from(r.try_get::<i64, _>("year")?).unwrap_or(0),
                    uscc: r.try_get("uscc")?,
                    region_code: r.try_get("region_code")?,
                    industry_code: r.try_get("industry_code")?,
                    unit_id: r.try_get("unit_id")?,
                    outlet_id: r.try_get("outlet_id")?,
                    pollutant: r.try_get("pollutant")?,
                    generated: r.try_get("generated")?,
                    emitted: r.try_get("emitted")?,
                    coefficient_row: u64::try_from(r.try_get::<i64, _>("coefficient_row")?)
                        .unwrap_or(0),
                    flags: r.try_get("flags")?,
                })
            })
            .collect()
    }
}

/// One per-row result as aggregation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultFigures {
    /// Year.
    pub year: u16,
    /// The enterprise's region.
    pub region_code: String,
    /// The row's industry class.
    pub industry_code: String,
    /// Pollutant code.
    pub pollutant: String,
    /// Generated.
    pub generated: f64,
    /// Emitted.
    pub emitted: f64,
    /// Whether the result carries a flag.
    pub flagged: bool,
}

impl Store {
    /// The most recent run, if any.
    pub async fn latest_run(&self) -> Result<Option<RunInfo>, StoreError> {
        let row = sqlx::query("SELECT * FROM run ORDER BY id DESC LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(run_info).transpose()
    }

    /// How many per-row results a run has.
    pub async fn run_result_count(&self, id: i64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_result WHERE run_id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One page of a run's per-row results, in activity-row order (then pollutant): at most
    /// `limit` results after the first `offset`.
    pub async fn run_results_page(
        &self,
        id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT activity_row, year, uscc, region_code, industry_code, unit_id, outlet_id, \
             pollutant, generated, emitted, coefficient_row, flags FROM run_result \
             WHERE run_id = $1 ORDER BY activity_row, pollutant LIMIT $2 OFFSET $3",
        )
        .bind(id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(result_record).collect()
    }

    /// The page of a run's per-row results after `after` (from the first when `None`), in
    /// activity-row order, then pollutant: at most `limit`. Read along the index, so every page
    /// costs the same however far into the run it is (an export of millions of results reads
    /// page after page, holding one).
    pub async fn run_results_after(
        &self,
        id: i64,
        after: Option<&ResultKey>,
        limit: u64,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        const SELECT: &str = "SELECT activity_row, year, uscc, region_code, industry_code, \
                              unit_id, outlet_id, pollutant, generated, emitted, \
                              coefficient_row, flags FROM run_result WHERE run_id = $1";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "{SELECT} ORDER BY activity_row, pollutant LIMIT $2"
                )))
                .bind(id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            Some(key) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{SELECT} AND (activity_row, pollutant) > ($2, $3) \
                     ORDER BY activity_row, pollutant LIMIT $4"
                )))
                .bind(id)
                .bind(i64::try_from(key.activity_row).unwrap_or(i64::MAX))
                .bind(key.pollutant.as_str())
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(result_record).collect()
    }

    /// The page of a run's totals after `after` (from the first when `None`), in the order of
    /// [`Store::run_totals`]: at most `limit`. The region and industry may be NULL, which a
    /// comparison of row values cannot pass, so the rest of the run after a key is read as up
    /// to four ranges of the index: the same group's later pollutants, the same region's later
    /// industries, the same year's later regions, the later years.
    pub async fn run_totals_after(
        &self,
        id: i64,
        after: Option<&TotalKey>,
        limit: u64,
    ) -> Result<Vec<TotalRecord>, StoreError> {
        enum Value<'a> {
            Int(i64),
            Text(&'a str),
        }
        /// `column = $n` or `column IS NULL`.
        fn same<'a>(column: &str, value: Option<&'a str>, binds: &mut Vec<Value<'a>>) -> String {
            match value {
                Some(v) => {
                    binds.push(Value::Text(v));
                    format!("{column} = ${}", binds.len() + 1)
                }
                None => format!("{column} IS NULL"),
            }
        }
        /// `column > $n`, or `column IS NOT NULL` after NULL (NULL sorts first).
        fn later<'a>(column: &str, value: Option<&'a str>, binds: &mut Vec<Value<'a>>) -> String {
            match value {
                Some(v) => {
                    binds.push(Value::Text(v));
                    format!("{column} > ${}", binds.len() + 1)
                }
                None => format!("{column} IS NOT NULL"),
            }
        }
        let ranges: Vec<(Vec<String>, Vec<Value<'_>>)> = match after {
            None => vec![(Vec::new(), Vec::new())],
            Some(key) => {
                let year = i64::from(key.year);
                let region = key.region_code.as_deref();
                let industry = key.industry_code.as_deref();
                let mut ranges = Vec::new();
                let mut binds = vec![Value::Int(year)];
                let conditions = vec![
                    "year = $2".to_string(),
                    same("region_code", region, &mut binds),
                    same("industry_code", industry, &mut binds),
                    later("pollutant", Some(&key.pollutant), &mut binds),
                ];
                ranges.push((conditions, binds));
                let mut binds = vec![Value::Int(year)];
                let conditions = vec![
                    "year = $2".to_string(),
                    same("region_code", region, &mut binds),
                    later("industry_code", industry, &mut binds),
                ];
                ranges.push((conditions, binds));
                let mut binds = vec![Value::Int(year)];
                let conditions = vec![
                    "year = $2".to_string(),
                    later("region_code", region, &mut binds),
                ];
                ranges.push((conditions, binds));
                ranges.push((vec!["year > $2".to_string()], vec![Value::Int(year)]));
                ranges
            }
        };
        let mut page = Vec::new();
        for (conditions, binds) in ranges {
            let wanted = limit.saturating_sub(page.len() as u64);
            if wanted == 0 {
                break;
            }
            let mut sql = String::from(
                "SELECT year, region_code, industry_code, pollutant, unit, generated, emitted, \
                 rows, flagged_rows FROM run_total WHERE run_id = $1",
            );
            for condition in &conditions {
                sql.push_str(" AND ");
                sql.push_str(condition);
            }
            sql.push_str(&format!(
                " ORDER BY {TOTAL_ORDER} LIMIT ${}",
                binds.len() + 2
            ));
            // Only column names and placeholders are generated; every value is bound.
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(id);
            for value in binds {
                query = match value {
                    Value::Int(v) => query.bind(v),
                    Value::Text(v) => query.bind(v),
                };
            }
            let rows = query
                .bind(i64::try_from(wanted).unwrap_or(i64::MAX))
                .fetch_all(self.pool())
                .await?;
            for r in &rows {
                page.push(total_record(r)?);
            }
        }
        Ok(page)
    }

    /// How many totals a run has.
    pub async fn run_total_count(&self, id: i64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_total WHERE run_id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Streams every per-row result of a run to `f`, in no particular order, holding one row at
    /// a time: aggregating a run of millions of results needs memory for the groups only.
    pub async fn each_run_result(
        &self,
        id: i64,
        mut f: impl FnMut(ResultFigures),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT year, region_code, industry_code, pollutant, generated, emitted, flags \
             FROM run_result WHERE run_id = $1",
        )
        .bind(id)
        .fetch(self.pool());
        let mut count = 0;
        while let Some(r) = rows.try_next().await? {
            count += 1;
            f(ResultFigures {
                year: u16::try_from(r.try_get::<i64, _>("year")?).unwrap_or(0),
                region_code: r.try_get("region_code")?,
                industry_code: r.try_get("industry_code")?,
                pollutant: r.try_get("pollutant")?,
                generated: r.try_get("generated")?,
                emitted: r.try_get("emitted")?,
                flagged: !r.try_get::<String, _>("flags")?.is_empty(),
            });
        }
        Ok(count)
    }
}

/// Where a page of a run's results starts: after this activity row and pollutant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResultKey {
    /// Row in the activity file.
    pub activity_row: u64,
    /// Pollutant code.
    pub pollutant: String,
}

impl ResultRecord {
    /// The result's place in a run: its activity row and pollutant (unique within a run).
    pub fn key(&self) -> ResultKey {
        ResultKey {
            activity_row: self.activity_row,
            pollutant: self.pollutant.clone(),
        }
    }
}

/// Where a page of a run's totals starts: after this year, region, industry and pollutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalKey {
    /// Year.
    pub year: u16,
    /// Region, `None` for national.
    pub region_code: Option<String>,
    /// Industry, `None` for all.
    pub industry_code: Option<String>,
    /// Pollutant code.
    pub pollutant: String,
}

impl TotalRecord {
    /// The total's place in a run (unique within a run).
    pub fn key(&self) -> TotalKey {
        TotalKey {
            year: self.year,
            region_code: self.region_code.clone(),
            industry_code: self.industry_code.clone(),
            pollutant: self.pollutant.clone(),
        }
    }
}

fn total_record(r: &AnyRow) -> Result<TotalRecord, StoreError> {
    Ok(TotalRecord {
        year: u16::try_from(r.try_get::<i64, _>("year")?).unwrap_or(0),
        region_code: r.try_get("region_code")?,
        industry_code: r.try_get("industry_code")?,
        pollutant: r.try_get("pollutant")?,
        unit: r.try_get("unit")?,
        generated: r.try_get("generated")?,
        emitted: r.try_get("emitted")?,
        rows: u64::try_from(r.try_get::<i64, _>("rows")?).unwrap_or(0),
        flagged_rows: u64::try_from(r.try_get::<i64, _>("flagged_rows")?).unwrap_or(0),
    })
}

fn result_record(r: &AnyRow) -> Result<ResultRecord, StoreError> {
    Ok(ResultRecord {
        activity_row: u64::try_from(r.try_get::<i64, _>("activity_row")?).unwrap_or(0),
        year: u16::try_from(r.try_get::<i64, _>("year")?).unwrap_or(0),
        uscc: r.try_get("uscc")?,
        region_code: r.try_get("region_code")?,
        industry_code: r.try_get("industry_code")?,
        unit_id: r.try_get("unit_id")?,
        outlet_id: r.try_get("outlet_id")?,
        pollutant: r.try_get("pollutant")?,
        generated: r.try_get("generated")?,
        emitted: r.try_get("emitted")?,
        coefficient_row: u64::try_from(r.try_get::<i64, _>("coefficient_row")?).unwrap_or(0),
        flags: r.try_get("flags")?,
    })
}

impl RunWriter {
    /// The run's id (valid once finished).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Appends per-row results. On PostgreSQL they are buffered (at most about 1 MiB) and sent
    /// with `COPY`; everything lands with [`RunWriter::finish`] or not at all.
    pub async fn add_results(&mut self, results: &[ResultRecord]) -> Result<(), StoreError> {
        match &mut self.tx {
            RunTransaction::Postgres(run) => {
                for r in results {
                    copy_result(&mut run.rows, self.id, r)?;
                    if run.rows.len() >= COPY_CHUNK {
                        run.queue_rows().await?;
                    }
                }
            }
            RunTransaction::Any(tx) => {
                for r in results {
                    check_result(r)?;
                }
                for batch in results.chunks(RESULT_BATCH_SQLITE) {
                    // Only placeholders are generated; every value is bound.
                    let mut query = sqlx::query(AssertSqlSafe(result_insert(batch.len())));
                    for r in batch {
                        query = query
                            .bind(self.id)
                            .bind(r.activity_row as i64)
                            .bind(i64::from(r.year))
                            .bind(r.uscc.as_str())
                            .bind(r.region_code.as_str())
                            .bind(r.industry_code.as_str())
                            .bind(r.unit_id.as_deref())
                            .bind(r.outlet_id.as_deref())
                            .bind(r.pollutant.as_str())
                            .bind(r.generated)
                            .bind(r.emitted)
                            .bind(r.coefficient_row as i64)
                            .bind(r.flags.as_str());
                    }
                    query.execute(&mut **tx).await?;
                }
            }
        }
        self.results += results.len() as u64;
        Ok(())
    }

    /// Writes totals and counts (with the numbers of results and totals written, the run's
    /// completion marker), records the run in the audit log and commits.
    pub async fn finish(
        self,
        counts: RunCounts,
        totals: &[TotalRecord],
        elapsed_ms: u64,
    ) -> Result<i64, StoreError> {
        let RunWriter {
            tx,
            id,
            run,
            results,
        } = self;
        let object = format!("run {id}");
        let detail = format!(
            "{} with {} ({} rows accounted of {})",
            run.activity_path, run.selector, counts.rows_accounted, counts.rows_read
        );
        let entry = Record {
            actor: &run.actor,
            action: "run",
            object: &object,
            before_hash: None,
            after_hash: Some(&run.content_hash),
            detail: &detail,
        };
        match tx {
            RunTransaction::Postgres(mut run) => {
                for t in totals {
                    check_total(t)?;
                }
                let mut tx = run.end_results().await?;
                bind_finish!(
                    sqlx::query(FINISH_RUN),
                    id,
                    counts,
                    elapsed_ms,
                    results,
                    totals.len()
                )
                .execute(&mut *tx)
                .await?;
                copy_totals(&mut tx, id, totals).await?;
                audit::record_postgres(&mut tx, entry).await?;
                tx.commit().await?;
            }
            RunTransaction::Any(mut tx) => {
                bind_finish!(
                    sqlx::query(FINISH_RUN),
                    id,
                    counts,
                    elapsed_ms,
                    results,
                    totals.len()
                )
                .execute(&mut *tx)
                .await?;
                for t in totals {
                    check_total(t)?;
                }
                for batch in totals.chunks(TOTAL_BATCH_SQLITE) {
                    // Only placeholders are generated; every value is bound.
                    let mut query = sqlx::query(AssertSqlSafe(total_insert(batch.len())));
                    for t in batch {
                        query = query
                            .bind(id)
                            .bind(i64::from(t.year))
                            .bind(t.region_code.as_deref())
                            .bind(t.industry_code.as_deref())
                            .bind(t.pollutant.as_str())
                            .bind(t.unit.as_str())
                            .bind(t.generated)
                            .bind(t.emitted)
                            .bind(t.rows as i64)
                            .bind(t.flagged_rows as i64);
                    }
                    query.execute(&mut *tx).await?;
                }
                audit::record(&mut tx, entry).await?;
                tx.commit().await?;
            }
        }
        Ok(id)
    }
}

fn run_info(r: &AnyRow) -> Result<RunInfo, StoreError> {
    let count = |name: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(r.try_get::<i64, _>(name)?).unwrap_or(0))
    };
    Ok(RunInfo {
        id: r.try_get("id")?,
        run: NewRun {
            started_at: r.try_get("started_at")?,
            actor: r.try_get("actor")?,
            set_id: r.try_get("set_id")?,
            edition: r
                .try_get::<Option<i64>, _>("edition")?
                .and_then(|e| u32::try_from(e).ok()),
            content_hash: r.try_get("content_hash")?,
            selector: r.try_get("selector")?,
            rule: r.try_get("rule")?,
            accounting_date: r.try_get("accounting_date")?,
            coefficients_path: r.try_get("coefficients_path")?,
            registry_path: r.try_get("registry_path")?,
            registry_hash: r.try_get("registry_hash")?,
            activity_path: r.try_get("activity_path")?,
            activity_hash: r.try_get("activity_hash")?,
            options: r.try_get("options")?,
        },
        finished_at: r.try_get("finished_at")?,
        elapsed_ms: count("elapsed_ms")?,
        counts: RunCounts {
            rows_read: count("rows_read")?,
            rows_accounted: count("rows_accounted")?,
            rows_excluded: count("rows_excluded")?,
            rows_unaccounted: count("rows_unaccounted")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::store_tests::each_backend;

    use super::*;

    fn run(actor: &str) -> NewRun {
        NewRun {
            started_at: crate::now_utc(),
            actor: actor.into(),
            set_id: "npsc1-excerpt".into(),
            edition: Some(1),
            content_hash: "h".into(),
            selector: "npsc1-excerpt@1".into(),
            rule: None,
            accounting_date: None,
            coefficients_path: None,
            registry_path: "upload:registry.csv".into(),
            registry_hash: "rh".into(),
            activity_path: "upload:activity.json".into(),
            activity_hash: "ah".into(),
            options: "region_level=province; industry_level=all".into(),
        }
    }

    fn result(row: u64, pollutant: &str, emitted: f64, flags: &str) -> ResultRecord {
        ResultRecord {
            activity_row: row,
            year: 2023,
            uscc: "91350100MA2XYZ1234".into(),
            region_code: if row.is_multiple_of(2) {
                "350102"
            } else {
                "130481"
            }
            .into(),
            industry_code: "4430".into(),
            unit_id: None,
            outlet_id: None,
            pollutant: pollutant.into(),
            generated: emitted * 2.0,
            emitted,
            coefficient_row: row + 10,
            flags: flags.into(),
        }
    }

    #[tokio::test]
    async fn results_are_paged_counted_and_streamed() {
        each_backend(|store| async move {
            assert_eq!(store.latest_run().await.unwrap(), None);
            let mut writer = store.begin_run(run("first")).await.unwrap();
            // Written out of order: pages come back in activity-row order.
            let results: Vec<_> = (2..=501)
                .rev()
                .flat_map(|r| {
                    [
                        result(r, "SO2", r as f64, ""),
                        result(r, "NOX", 0.5, "direct_fallback"),
                    ]
                })
                .collect();
            writer.add_results(&results).await.unwrap();
            let first = writer.finish(RunCounts::default(), &[], 1).await.unwrap();
            let writer = store.begin_run(run("second")).await.unwrap();
            let second = writer.finish(RunCounts::default(), &[], 1).await.unwrap();

            let latest = store.latest_run().await.unwrap().expect("a run");
            assert_eq!((latest.id, latest.run.actor.as_str()), (second, "second"));
            assert_eq!(store.run_result_count(first).await.unwrap(), 1000);
            assert_eq!(store.run_result_count(second).await.unwrap(), 0);

            let page = store.run_results_page(first, 0, 3).await.unwrap();
            assert_eq!(
                page.iter()
                    .map(|r| (r.activity_row, r.pollutant.as_str()))
                    .collect::<Vec<_>>(),
                [(2, "NOX"), (2, "SO2"), (3, "NOX")]
            );
            let last = store.run_results_page(first, 998, 10).await.unwrap();
            assert_eq!(last.len(), 2);
            assert_eq!(last[1], result(501, "SO2", 501.0, ""));
            assert!(
                store
                    .run_results_page(first, 1000, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );

            let mut emitted = 0.0;
            let mut flagged = 0;
            let mut regions = std::collections::BTreeSet::new();
            let count = store
                .each_run_result(first, |r| {
                    emitted += r.emitted;
                    flagged += usize::from(r.flagged);
                    regions.insert(r.region_code);
                })
                .await
                .unwrap();
            assert_eq!(count, 1000);
            // 2 + … + 501 = 125 750, plus 500 × 0.5.
            assert_eq!(emitted, 125_750.0 + 250.0);
            assert_eq!(flagged, 500);
            assert_eq!(
                regions.into_iter().collect::<Vec<_>>(),
                ["130481", "350102"]
            );
        })
        .await;
    }

    /// Texts that the COPY text format must escape, or that look like its markers.
    const AWKWARD: [&str; 10] = [
        "tab\there",
        "line\nbreak",
        "carriage\rreturn",
        "back\\slash",
        "\\N",
        "\\.",
        "quotes \" ' and , ;",
        "中文：二氧化硫",
        "",
        "=1+2",
    ];
    /// Floats that must come back bit for bit.
    const FLOATS: [f64; 9] = [
        0.1 + 0.2,
        1e-300,
        5e-324,
        1e300,
        f64::MAX,
        2.0 / 3.0,
        0.0,
        123_456_789.125,
        1.0 / 3.0e10,
    ];

    fn awkward_result(i: usize) -> ResultRecord {
        let text = |k: usize| AWKWARD[(i + k) % AWKWARD.len()].to_string();
        ResultRecord {
            activity_row: 1 + (i / 3) as u64,
            year: 2023,
            uscc: text(0),
            region_code: text(1),
            industry_code: text(2),
            unit_id: i.is_multiple_of(2).then(|| text(3)),
            outlet_id: (!i.is_multiple_of(3)).then(|| text(4)),
            pollutant: ["SO2", "NOX", "COD"][i % 3].into(),
            generated: FLOATS[i % FLOATS.len()],
            emitted: FLOATS[(i + 4) % FLOATS.len()],
            coefficient_row: i as u64 * 1_000_003,
            flags: text(5),
        }
    }

    /// Totals with NULL and non-NULL regions and industries mixed in one run (a division
    /// level leaves rows of a coarser industry without one), keys unique.
    fn awkward_totals() -> Vec<TotalRecord> {
        let mut totals = Vec::new();
        for year in [2023, 2022] {
            for region in [Some("350102"), None, Some("130481"), Some("中文\t\\N")] {
                for industry in [None, Some("C26"), Some("A01"), Some("\\.")] {
                    for (p, pollutant) in ["SO2", "NOX", "COD", "NH3N"].iter().enumerate() {
                        let i = totals.len();
                        totals.push(TotalRecord {
                            year,
                            region_code: region.map(str::to_string),
                            industry_code: industry.map(str::to_string),
                            pollutant: (*pollutant).into(),
                            unit: AWKWARD[i % AWKWARD.len()].into(),
                            generated: FLOATS[i % FLOATS.len()],
                            emitted: FLOATS[(i + p) % FLOATS.len()],
                            rows: i as u64,
                            flagged_rows: (i / 2) as u64,
                        });
                    }
                }
            }
        }
        totals
    }

    fn bits(records: &[ResultRecord]) -> Vec<(u64, String, u64, u64)> {
        records
            .iter()
            .map(|r| {
                (
                    r.activity_row,
                    r.pollutant.clone(),
                    r.generated.to_bits(),
                    r.emitted.to_bits(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn awkward_texts_and_floats_round_trip_and_pages_follow_the_order() {
        each_backend(|store| async move {
            let mut writer = store.begin_run(run("awkward")).await.unwrap();
            // Written in reverse and in uneven slices: more than one COPY chunk on PostgreSQL
            // (each result is over 50 bytes).
            let results: Vec<_> = (0..30_000).rev().map(awkward_result).collect();
            for slice in results.chunks(4_999) {
                writer.add_results(slice).await.unwrap();
            }
            let mut totals = awkward_totals();
            totals.reverse();
            let id = writer
                .finish(RunCounts::default(), &totals, 1)
                .await
                .unwrap();

            let mut expected = results.clone();
            expected.sort_by_key(ResultRecord::key);
            let stored = store.run_results(id).await.unwrap();
            assert_eq!(stored.len(), expected.len());
            assert_eq!(bits(&stored), bits(&expected));
            assert_eq!(stored, expected);
            // By hand: activity row 1 holds results 2, 1 and 0 (COD, NOX, SO2).
            assert_eq!(
                stored[..3]
                    .iter()
                    .map(|r| (r.pollutant.as_str(), r.generated.to_bits(), r.uscc.as_str()))
                    .collect::<Vec<_>>(),
                [
                    ("COD", 1, "carriage\rreturn"),
                    ("NOX", 1e-300f64.to_bits(), "line\nbreak"),
                    ("SO2", (0.1f64 + 0.2).to_bits(), "tab\there"),
                ]
            );
            // Pages by key, of an odd size, give the same sequence.
            let mut paged = Vec::new();
            let mut after: Option<ResultKey> = None;
            loop {
                let page = store
                    .run_results_after(id, after.as_ref(), 777)
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(last.key());
                assert!(page.len() <= 777);
                paged.extend(page);
            }
            assert_eq!(paged, expected);

            // Totals: NULL (national, all industries) first on both engines.
            let mut expected = awkward_totals();
            expected.sort_by(|a, b| {
                (a.year, &a.region_code, &a.industry_code, &a.pollutant).cmp(&(
                    b.year,
                    &b.region_code,
                    &b.industry_code,
                    &b.pollutant,
                ))
            });
            let stored = store.run_totals(id).await.unwrap();
            assert_eq!(stored, expected);
            assert_eq!(
                (
                    stored[0].region_code.as_deref(),
                    stored[0].industry_code.as_deref()
                ),
                (None, None)
            );
            assert_eq!(store.run_total_count(id).await.unwrap(), 2 * 4 * 4 * 4);
            for size in [1, 3, 4, 5, 16, 17, 1000] {
                let mut paged = Vec::new();
                let mut after: Option<TotalKey> = None;
                loop {
                    let page = store
                        .run_totals_after(id, after.as_ref(), size)
                        .await
                        .unwrap();
                    let Some(last) = page.last() else { break };
                    after = Some(last.key());
                    assert!(page.len() <= size as usize);
                    paged.extend(page);
                }
                assert_eq!(paged, expected, "pages of {size}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn a_run_not_finished_or_with_a_non_finite_number_leaves_nothing() {
        each_backend(|store| async move {
            // Dropped after more than one COPY chunk was sent: rolled back.
            let mut writer = store.begin_run(run("dropped")).await.unwrap();
            let results: Vec<_> = (0..30_000).map(awkward_result).collect();
            writer.add_results(&results).await.unwrap();
            drop(writer);

            let mut writer = store.begin_run(run("nan")).await.unwrap();
            let mut bad = awkward_result(4);
            bad.emitted = f64::NAN;
            writer.add_results(&results[..100]).await.unwrap();
            let error = writer
                .add_results(&[awkward_result(5), bad])
                .await
                .unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("the emitted quantity of activity row 2, NOX is `NaN`"),
                "{error}"
            );
            drop(writer);

            let writer = store.begin_run(run("infinite total")).await.unwrap();
            let mut totals = awkward_totals();
            totals[7].generated = f64::INFINITY;
            let error = writer
                .finish(RunCounts::default(), &totals, 1)
                .await
                .unwrap_err();
            assert!(error.to_string().contains("is `inf`"), "{error}");

            // PostgreSQL refuses a NUL in a text (as it refused it as a bound parameter); the
            // COPY reports it when it ends, and the run rolls back. SQLite keeps it.
            let mut writer = store.begin_run(run("nul")).await.unwrap();
            let mut nul = awkward_result(1);
            nul.flags = "a\0b".into();
            writer.add_results(&results[..20_000]).await.unwrap();
            writer.add_results(&[nul]).await.unwrap();
            let finished = writer.finish(RunCounts::default(), &[], 1).await;
            match store.backend() {
                crate::Backend::Postgres => {
                    let error = finished.unwrap_err().to_string();
                    assert!(error.contains("0x00"), "{error}");
                }
                crate::Backend::Sqlite => {
                    let id = finished.unwrap();
                    let stored = store.run_results(id).await.unwrap();
                    assert_eq!(stored.len(), 20_001);
                    assert!(stored.iter().any(|r| r.flags == "a\0b"));
                    sqlx::query("DELETE FROM run WHERE id = $1")
                        .bind(id)
                        .execute(store.pool())
                        .await
                        .unwrap();
                }
            }

            assert_eq!(store.runs().await.unwrap(), Vec::new());
            assert_eq!(store.latest_run().await.unwrap(), None);
            // The connection of a rolled-back run is usable again.
            let writer = store.begin_run(run("after")).await.unwrap();
            let id = writer.finish(RunCounts::default(), &[], 1).await.unwrap();
            assert_eq!(store.run_result_count(id).await.unwrap(), 0);
            assert_eq!(store.runs().await.unwrap().len(), 1);
        })
        .await;
    }
}
