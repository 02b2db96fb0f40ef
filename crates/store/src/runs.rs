//! Accounting runs with provenance: which edition (and how it was resolved), the input files'
//! hashes, the options, timing, totals and every per-row result. A run is written in one
//! transaction: the run row first, then results as they stream in, then totals and counts; a run
//! that fails or is killed leaves nothing behind. The run row records how many results and
//! totals were written with it (`result_count`, `total_count`), so a run can be checked as
//! complete after the fact ([`Store::check`]).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{self, Record};
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
    tx: sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    run: NewRun,
    /// Results per INSERT on this backend.
    batch: usize,
    /// Results written so far.
    results: u64,
}

/// Results per multi-row INSERT (13 parameters each) on PostgreSQL, where a large batch saves
/// round trips.
const RESULT_BATCH_POSTGRES: usize = 400;
/// Results per multi-row INSERT on SQLite, where binding costs grow faster than the number of
/// placeholders of one statement: a 10 050-row run with 35 400 results, accounted and stored,
/// took 5.6 s with 400 results per INSERT, 0.8 s with 32, 0.55 s with 16, 0.44 s with 8 and
/// 0.6 s again with 4 (release build, the project's 2-core machine).
const RESULT_BATCH_SQLITE: usize = 8;

impl Store {
    /// Starts writing a run. Nothing is visible to others until [`RunWriter::finish`].
    pub async fn begin_run(&self, run: NewRun) -> Result<RunWriter, StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO run (started_at, finished_at, elapsed_ms, actor, set_id, edition, \
             content_hash, selector, rule, accounting_date, coefficients_path, registry_path, \
             registry_hash, activity_path, activity_hash, options, rows_read, rows_accounted, \
             rows_excluded, rows_unaccounted) VALUES ($1, $1, 0, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, 0, 0, 0, 0) RETURNING id",
        )
        .bind(&run.started_at)
        .bind(&run.actor)
        .bind(&run.set_id)
        .bind(run.edition.map(i64::from))
        .bind(&run.content_hash)
        .bind(&run.selector)
        .bind(&run.rule)
        .bind(&run.accounting_date)
        .bind(&run.coefficients_path)
        .bind(&run.registry_path)
        .bind(&run.registry_hash)
        .bind(&run.activity_path)
        .bind(&run.activity_hash)
        .bind(&run.options)
        .fetch_one(&mut *tx)
        .await?;
        let batch = match self.backend() {
            crate::Backend::Sqlite => RESULT_BATCH_SQLITE,
            crate::Backend::Postgres => RESULT_BATCH_POSTGRES,
        };
        Ok(RunWriter {
            tx,
            id,
            run,
            batch,
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

    /// A run's totals, in the order they were stored.
    pub async fn run_totals(&self, id: i64) -> Result<Vec<TotalRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT year, region_code, industry_code, pollutant, unit, generated, emitted, rows, \
             flagged_rows FROM run_total WHERE run_id = $1 ORDER BY year, region_code, \
             industry_code, pollutant",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
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
            })
            .collect()
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

    /// Appends per-row results.
    pub async fn add_results(&mut self, results: &[ResultRecord]) -> Result<(), StoreError> {
        for batch in results.chunks(self.batch) {
            const COLUMNS: usize = 13;
            let mut sql = String::from(
                "INSERT INTO run_result (run_id, activity_row, year, uscc, region_code, \
                 industry_code, unit_id, outlet_id, pollutant, generated, emitted, \
                 coefficient_row, flags) VALUES ",
            );
            for i in 0..batch.len() {
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for c in 0..COLUMNS {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("${}", i * COLUMNS + c + 1));
                }
                sql.push(')');
            }
            // Only placeholders are generated; every value is bound.
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for r in batch {
                query = query
                    .bind(self.id)
                    .bind(r.activity_row as i64)
                    .bind(i64::from(r.year))
                    .bind(r.uscc.clone())
                    .bind(r.region_code.clone())
                    .bind(r.industry_code.clone())
                    .bind(r.unit_id.clone())
                    .bind(r.outlet_id.clone())
                    .bind(r.pollutant.clone())
                    .bind(r.generated)
                    .bind(r.emitted)
                    .bind(r.coefficient_row as i64)
                    .bind(r.flags.clone());
            }
            query.execute(&mut *self.tx).await?;
            self.results += batch.len() as u64;
        }
        Ok(())
    }

    /// Writes totals and counts (with the numbers of results and totals written, the run's
    /// completion marker), records the run in the audit log and commits.
    pub async fn finish(
        mut self,
        counts: RunCounts,
        totals: &[TotalRecord],
        elapsed_ms: u64,
    ) -> Result<i64, StoreError> {
        sqlx::query(
            "UPDATE run SET finished_at = $2, elapsed_ms = $3, rows_read = $4, \
             rows_accounted = $5, rows_excluded = $6, rows_unaccounted = $7, \
             result_count = $8, total_count = $9 WHERE id = $1",
        )
        .bind(self.id)
        .bind(crate::now_utc())
        .bind(elapsed_ms as i64)
        .bind(counts.rows_read as i64)
        .bind(counts.rows_accounted as i64)
        .bind(counts.rows_excluded as i64)
        .bind(counts.rows_unaccounted as i64)
        .bind(self.results as i64)
        .bind(totals.len() as i64)
        .execute(&mut *self.tx)
        .await?;
        for t in totals {
            sqlx::query(
                "INSERT INTO run_total (run_id, year, region_code, industry_code, pollutant, \
                 unit, generated, emitted, rows, flagged_rows) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(self.id)
            .bind(i64::from(t.year))
            .bind(t.region_code.clone())
            .bind(t.industry_code.clone())
            .bind(t.pollutant.clone())
            .bind(t.unit.clone())
            .bind(t.generated)
            .bind(t.emitted)
            .bind(t.rows as i64)
            .bind(t.flagged_rows as i64)
            .execute(&mut *self.tx)
            .await?;
        }
        let object = format!("run {}", self.id);
        let detail = format!(
            "{} with {} ({} rows accounted of {})",
            self.run.activity_path, self.run.selector, counts.rows_accounted, counts.rows_read
        );
        audit::record(
            &mut self.tx,
            Record {
                actor: &self.run.actor,
                action: "run",
                object: &object,
                before_hash: None,
                after_hash: Some(&self.run.content_hash),
                detail: &detail,
            },
        )
        .await?;
        self.tx.commit().await?;
        Ok(self.id)
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
}
