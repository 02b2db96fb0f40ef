//! The whole-database check (`check`) on every backend: a database written only through the
//! store is consistent, and each kind of damage a crash or a hand edit could leave is named.

use std::path::Path;

use accounting::coefficient::CoefficientSet;
use ingest::reference::Reference;

use crate::check::CheckReport;
use crate::reconciliations::{NewReconciliation, ReconciliationCounts, StoredView};
use crate::reference::NewReference;
use crate::runs::{NewRun, ResultRecord, RunCounts, TotalRecord};
use crate::store_tests::{each_backend, reference};
use crate::{Backend, Store};

fn excerpt(reference: &Reference) -> CoefficientSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../coefficients/npsc1-excerpt");
    ingest::coefficients::load_set(&dir, reference, &Default::default()).expect("excerpt loads")
}

const RATES: &str = "region_code,medium,pollutant,yuan_per_equivalent,effective_from\n\
                     110000,air,*,12,2018-01-01\n";

fn new_run(hash: &str, edition: Option<u32>) -> NewRun {
    NewRun {
        started_at: crate::now_utc(),
        actor: "alice".into(),
        set_id: "npsc1-excerpt".into(),
        edition,
        content_hash: hash.into(),
        selector: "npsc1-excerpt@1".into(),
        rule: None,
        accounting_date: None,
        coefficients_path: None,
        registry_path: "registry.csv".into(),
        registry_hash: "rh".into(),
        activity_path: "activity.csv".into(),
        activity_hash: "ah".into(),
        options: "region_level=province".into(),
    }
}

fn result(row: u64) -> ResultRecord {
    ResultRecord {
        activity_row: row,
        year: 2023,
        uscc: "91350100MA2XYZ1234".into(),
        region_code: "350102".into(),
        industry_code: "4430".into(),
        unit_id: None,
        outlet_id: None,
        pollutant: "SO2".into(),
        generated: 2.0,
        emitted: 1.0,
        coefficient_row: 3,
        flags: String::new(),
    }
}

fn total() -> TotalRecord {
    TotalRecord {
        year: 2023,
        region_code: Some("350000".into()),
        industry_code: None,
        pollutant: "SO2".into(),
        unit: "吨".into(),
        generated: 6.0,
        emitted: 3.0,
        rows: 3,
        flagged_rows: 0,
    }
}

/// Stores a run of three results and one total; returns its id.
async fn store_run(store: &Store, hash: &str, edition: Option<u32>) -> i64 {
    let mut writer = store.begin_run(new_run(hash, edition)).await.unwrap();
    writer
        .add_results(&[result(2), result(3), result(4)])
        .await
        .unwrap();
    writer
        .finish(RunCounts::default(), &[total()], 5)
        .await
        .unwrap()
}

/// Everything written the store's way: a published and a draft edition, a published reference
/// table, a run, a reconciliation and a revoked token. Returns the published edition's hash.
async fn populate(store: &Store, reference: &Reference) -> String {
    let catalog = &reference.pollutants;
    let set = excerpt(reference);
    store
        .import_draft(&set, catalog, "excerpt", "alice")
        .await
        .unwrap();
    // A replaced draft: two imports chained in the audit log.
    store
        .import_draft(&set, catalog, "excerpt again", "alice")
        .await
        .unwrap();
    let published = store
        .publish("npsc1-excerpt", Some(1), "first", "bob", catalog)
        .await
        .unwrap();
    store
        .import_draft(&set, catalog, "excerpt", "alice")
        .await
        .unwrap();
    let rates = NewReference {
        name: "tax-rates",
        kind: "tax-rates",
        content: RATES,
        row_count: 1,
        imported_from: "rates.csv",
        source_sha256: "0f",
    };
    store.import_reference_draft(rates, "alice").await.unwrap();
    store
        .publish_reference("tax-rates", None, "rates", "bob")
        .await
        .unwrap();
    store
        .retire_reference("tax-rates", 1, "superseded", "bob")
        .await
        .unwrap();
    store_run(store, &published.content_hash, Some(1)).await;
    let new = NewReconciliation {
        started_at: crate::now_utc(),
        elapsed_ms: 1,
        actor: "carol".into(),
        set_id: "npsc1-excerpt".into(),
        edition: Some(1),
        content_hash: published.content_hash.clone(),
        selector: "npsc1-excerpt@1".into(),
        rule: None,
        accounting_date: None,
        coefficients_path: None,
        registry_path: "registry.csv".into(),
        registry_hash: "rh".into(),
        activity_path: "activity.csv".into(),
        activity_hash: "ah".into(),
        reports_path: "reports.csv".into(),
        reports_hash: "ph".into(),
        options: String::new(),
        summary: String::new(),
    };
    let view = StoredView {
        name: "comparison".into(),
        title: "comparison".into(),
        header: vec!["a".into()],
        rows: vec![vec!["1".into()], vec!["2".into()]],
    };
    store
        .store_reconciliation(&new, ReconciliationCounts::default(), &[view])
        .await
        .unwrap();
    store
        .create_token("t1", "ci", "reader", "hash", "alice")
        .await
        .unwrap();
    store.revoke_token("ci", "alice").await.unwrap();
    published.content_hash
}

async fn check(store: &Store, reference: &Reference) -> CheckReport {
    store
        .check(&reference.pollutants)
        .await
        .expect("check runs")
}

async fn execute(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn a_database_written_through_the_store_is_consistent() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let empty = check(&store, &reference).await;
            assert_eq!(empty.problems, Vec::<String>::new());
            assert_eq!(empty.migrations_checked, 9);
            populate(&store, &reference).await;
            let report = check(&store, &reference).await;
            assert_eq!(report.problems, Vec::<String>::new());
            assert_eq!(
                (
                    report.editions_checked,
                    report.reference_editions_checked,
                    report.runs_checked,
                    report.reconciliations_checked,
                ),
                (2, 1, 1, 1)
            );
            // 3 imports + publish, import + publish + retire, run, reconcile, 2 token entries.
            assert_eq!(report.audit_entries_checked, 11);
        }
    })
    .await;
}

#[tokio::test]
async fn a_partial_run_and_a_run_without_its_audit_entry_are_found() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let hash = populate(&store, &reference).await;
            let id = store_run(&store, &hash, Some(1)).await;
            // What a crash between two INSERTs of a run would leave without its transaction.
            execute(
                &store,
                &format!("DELETE FROM run_result WHERE run_id = {id} AND activity_row = 3"),
            )
            .await;
            execute(
                &store,
                &format!("DELETE FROM run_total WHERE run_id = {id}"),
            )
            .await;
            // A run written around the store: no counts, no audit entry, an edition not stored.
            execute(
                &store,
                "INSERT INTO run (started_at, finished_at, elapsed_ms, actor, set_id, edition, \
                 content_hash, selector, registry_path, registry_hash, activity_path, \
                 activity_hash, options, rows_read, rows_accounted, rows_excluded, \
                 rows_unaccounted) VALUES ('t', 't', 0, 'x', 'npsc1-excerpt', 9, 'h', 's', \
                 'r', 'rh', 'a', 'ah', '', 0, 0, 0, 0)",
            )
            .await;
            let report = check(&store, &reference).await;
            let stray = id + 1;
            assert_eq!(
                report.problems,
                [
                    format!("run {id} recorded 3 per-row results but has 2"),
                    format!("run {id} recorded 1 totals but has 0"),
                    format!("run {stray} names the edition npsc1-excerpt@9, which is not stored"),
                    format!("run {stray} has no audit entry"),
                ]
            );
            assert_eq!(report.runs_checked, 3);
        }
    })
    .await;
}

#[tokio::test]
async fn audit_entries_must_match_the_data() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let hash = populate(&store, &reference).await;
            // An entry for an edition that does not exist, and a publish behind the log's back
            // (the draft npsc1-excerpt@2 set to published by hand, without its audit entry).
            execute(
                &store,
                "INSERT INTO audit_log (at, actor, action, object, before_hash, after_hash, \
                 detail) VALUES ('t', 'x', 'import', 'ghost@1', NULL, 'h', '')",
            )
            .await;
            execute(
                &store,
                "UPDATE edition SET status = 'published', published_at = 't', \
                 published_by = 'x', revision_note = 'n' WHERE edition = 2",
            )
            .await;
            // A run whose recorded hash is not its published edition's.
            let wrong = store_run(&store, "0000", Some(1)).await;
            let report = check(&store, &reference).await;
            assert_eq!(
                report.problems,
                [
                    format!(
                        "run {wrong} used npsc1-excerpt@1 with content hash 0000, but the \
                         published edition has {hash}"
                    ),
                    "audit log of npsc1-excerpt@2: the edition is published but its entries \
                     after the imports are []"
                        .to_string(),
                    "1 audit entries name objects that are not stored: 12 (import `ghost@1`)"
                        .to_string(),
                ]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn reconciliation_views_and_status_fields_are_counted() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            populate(&store, &reference).await;
            execute(
                &store,
                "DELETE FROM reconciliation_row WHERE row_number = 2",
            )
            .await;
            // A draft that claims a publication.
            execute(
                &store,
                "UPDATE edition SET published_at = 't' WHERE edition = 2",
            )
            .await;
            let report = check(&store, &reference).await;
            assert_eq!(
                report.problems,
                [
                    "npsc1-excerpt@2 is draft but its publication and retirement fields say \
                     otherwise",
                    "reconciliation 1: the view `comparison` recorded 2 rows but has 1",
                ]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn migrations_must_be_complete_and_this_builds() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            populate(&store, &reference).await;
            execute(
                &store,
                "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 8",
            )
            .await;
            let report = check(&store, &reference).await;
            assert_eq!(
                report.problems,
                [
                    "migration 8 is partially applied (it failed or was interrupted); restore a \
                  backup or repair the schema by hand"
                ]
            );
            // The data is not checked on a schema in an unknown state.
            assert_eq!(report.editions_checked, 0);

            execute(&store, "UPDATE _sqlx_migrations SET success = TRUE").await;
            let zero = match store.backend() {
                Backend::Sqlite => "X'00'",
                Backend::Postgres => "'\\x00'::bytea",
            };
            execute(
                &store,
                &format!("UPDATE _sqlx_migrations SET checksum = {zero} WHERE version = 2"),
            )
            .await;
            execute(
                &store,
                &format!(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                     execution_time) VALUES (99, 'from the future', TRUE, {zero}, 1)"
                ),
            )
            .await;
            let report = check(&store, &reference).await;
            assert_eq!(
                report.problems,
                [
                    "migration 2 (runs) was applied from other SQL than this npsc's",
                    "migration 99 (from the future) is applied but unknown to this npsc: the \
                     database was written by a newer version",
                ]
            );
        }
    })
    .await;
}
