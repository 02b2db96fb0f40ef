//! Store tests. Every test body runs against SQLite (a temporary file) and, when `TEST_PG_URL`
//! is set, against a fresh PostgreSQL database created for the test. An unreachable
//! `TEST_PG_URL` fails the test; an unset one is reported as skipped.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use accounting::coefficient::{CoefficientSet, SetMeta};
use accounting::date::Date;
use ingest::Source;
use ingest::reference::{Reference, ReferenceSources};

use crate::editions::{DateRule, EditionStatus, Selector};
use crate::{Store, StoreError};

pub(crate) fn reference() -> Reference {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/reference");
    let regions = dir.join("regions_gbt2260.csv");
    let industries = dir.join("industries_gbt4754_2017.csv");
    let pollutants = dir.join("pollutants.csv");
    let equivalents = dir.join("pollution_equivalents.csv");
    ingest::reference::load(ReferenceSources {
        regions: Source::Path(&regions),
        industries: Source::Path(&industries),
        pollutants: Source::Path(&pollutants),
        equivalents: Source::Path(&equivalents),
    })
    .expect("reference data loads")
}

fn excerpt(reference: &Reference) -> CoefficientSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../coefficients/npsc1-excerpt");
    ingest::coefficients::load_set(&dir, reference, &Default::default()).expect("excerpt loads")
}

/// The excerpt under another effective date, and optionally with one value changed, so that
/// editions differ.
fn variant(reference: &Reference, effective: &str, nox: Option<&str>) -> CoefficientSet {
    let base = excerpt(reference);
    let mut rows = base.rows().to_vec();
    if let Some(value) = nox {
        let row = rows
            .iter_mut()
            .find(|r| reference.pollutants.get(r.pollutant).code == "NOX")
            .expect("NOx row");
        row.generation = accounting::formula::Formula::parse(value).expect("formula");
        row.removal = accounting::coefficient::Removal::EmissionCoefficient(row.generation.clone());
    }
    let meta = SetMeta {
        effective_from: Some(Date::parse(effective).expect("date")),
        ..base.meta().clone()
    };
    CoefficientSet::build(meta, rows, &reference.pollutants).expect("variant builds")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs `body` on every available backend.
pub(crate) async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("npsc.db");
    let sqlite = Store::open(file.to_str().expect("utf-8"))
        .await
        .expect("SQLite opens");
    body(sqlite.clone()).await;
    sqlite.close().await;

    match std::env::var("TEST_PG_URL") {
        Ok(url) => {
            let admin = Store::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("TEST_PG_URL is set but unusable: {e}"));
            let name = format!(
                "npsc_test_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            );
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(admin.pool())
                .await
                .expect("create test database");
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            let store = Store::open(&format!("{base}/{name}"))
                .await
                .expect("PostgreSQL opens");
            body(store.clone()).await;
            store.close().await;
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
                .execute(admin.pool())
                .await;
            admin.close().await;
        }
        Err(_) => eprintln!("skipped the PostgreSQL run: TEST_PG_URL is not set"),
    }
}

#[tokio::test]
async fn draft_publish_and_resolve_lifecycle() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let catalog = &reference.pollutants;
            let set = excerpt(&reference);
            let first = store
                .import_draft(&set, catalog, "excerpt", "alice")
                .await
                .unwrap();
            assert_eq!((first.edition, first.status), (1, EditionStatus::Draft));
            assert_eq!(first.content_hash, set.content_hash().to_string());
            assert_eq!(first.row_count, 38);
            // A draft is replaceable: importing again keeps its number.
            let changed = variant(&reference, "2008-01-01", Some("3"));
            let again = store
                .import_draft(&changed, catalog, "changed", "alice")
                .await
                .unwrap();
            assert_eq!(again.edition, 1);
            assert_ne!(again.content_hash, first.content_hash);
            let again = store
                .import_draft(&set, catalog, "excerpt", "alice")
                .await
                .unwrap();
            assert_eq!(again.content_hash, first.content_hash);

            let missing_note = store
                .publish("npsc1-excerpt", None, " ", "bob", catalog)
                .await;
            assert!(matches!(missing_note, Err(StoreError::Invalid(_))));
            let published = store
                .publish("npsc1-excerpt", None, "first edition", "bob", catalog)
                .await
                .unwrap();
            assert_eq!(published.status, EditionStatus::Published);
            assert_eq!(published.published_by.as_deref(), Some("bob"));
            let twice = store
                .publish("npsc1-excerpt", Some(1), "again", "bob", catalog)
                .await;
            assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");

            // A new import after publishing is the next edition.
            let second = store
                .import_draft(&changed, catalog, "changed", "alice")
                .await
                .unwrap();
            assert_eq!((second.edition, second.status), (2, EditionStatus::Draft));
            let latest =
                Selector::parse("npsc1-excerpt@latest", None, DateRule::Effective).unwrap();
            assert_eq!(store.resolve(&latest).await.unwrap().edition, 1);
            store
                .publish("npsc1-excerpt", Some(2), "NOx 3 kg/t", "bob", catalog)
                .await
                .unwrap();
            assert_eq!(store.resolve(&latest).await.unwrap().edition, 2);

            // Retired editions stay readable but are not resolved by `latest`.
            store
                .retire("npsc1-excerpt", 2, "withdrawn", "carol")
                .await
                .unwrap();
            assert_eq!(store.resolve(&latest).await.unwrap().edition, 1);
            let fixed = Selector::parse("npsc1-excerpt@2", None, DateRule::Effective).unwrap();
            let retired = store.resolve(&fixed).await.unwrap();
            assert_eq!(retired.status, EditionStatus::Retired);
            let loaded = store.load(&retired, catalog).await.unwrap();
            assert_eq!(loaded.content_hash(), changed.content_hash());

            let audit = store.audit(100).await.unwrap();
            let actions: Vec<_> = audit.iter().rev().map(|a| a.action.as_str()).collect();
            assert_eq!(
                actions,
                [
                    "import", "import", "import", "publish", "import", "publish", "retire"
                ]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn resolution_by_date_follows_the_rule() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let catalog = &reference.pollutants;
            for (effective, nox, note) in [
                ("2008-01-01", None, "first census"),
                ("2024-03-15", Some("3"), "revision"),
            ] {
                let set = variant(&reference, effective, nox);
                store
                    .import_draft(&set, catalog, "test", "alice")
                    .await
                    .unwrap();
                store
                    .publish("npsc1-excerpt", None, note, "bob", catalog)
                    .await
                    .unwrap();
            }
            let at = |date: &str, rule| {
                Selector::parse("npsc1-excerpt", Some(Date::parse(date).unwrap()), rule).unwrap()
            };
            let cases = [
                ("2007-12-31", DateRule::Effective, None),
                ("2024-03-14", DateRule::Effective, Some(1)),
                ("2024-03-15", DateRule::Effective, Some(2)),
                ("2024-03-31", DateRule::NextMonth, Some(1)),
                ("2024-04-01", DateRule::NextMonth, Some(2)),
            ];
            for (date, rule, expected) in cases {
                let found = store.resolve(&at(date, rule)).await.ok().map(|e| e.edition);
                assert_eq!(found, expected, "{date} {rule:?}");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_of_one_draft_have_exactly_one_winner() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let set = excerpt(&reference);
            store
                .import_draft(&set, &reference.pollutants, "test", "alice")
                .await
                .unwrap();
            let mut tasks = Vec::new();
            for who in ["bob", "carol", "dave", "erin"] {
                let store = store.clone();
                let catalog = reference.pollutants.clone();
                tasks.push(tokio::spawn(async move {
                    store
                        .publish("npsc1-excerpt", Some(1), "race", who, &catalog)
                        .await
                }));
            }
            let mut wins = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(_) => wins += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            assert_eq!(wins, 1);
            let publishes = store
                .audit(100)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.action == "publish")
                .count();
            assert_eq!(publishes, 1);
        }
    })
    .await;
}

#[tokio::test]
async fn the_database_itself_refuses_to_change_published_editions_and_the_audit_log() {
    let reference = reference();
    each_backend(|store| {
        let reference = reference.clone();
        async move {
            let catalog = &reference.pollutants;
            store
                .import_draft(&excerpt(&reference), catalog, "t", "a")
                .await
                .unwrap();
            // Tampering with a draft is possible, and loading notices it.
            sqlx::query(
                "UPDATE coefficient_row SET generation_coefficient = '3' WHERE pollutant = 'NOX'",
            )
            .execute(store.pool())
            .await
            .unwrap();
            let info = store.edition("npsc1-excerpt", 1).await.unwrap();
            assert!(matches!(
                store.load(&info, catalog).await,
                Err(StoreError::Integrity(_))
            ));
            assert!(
                store
                    .publish("npsc1-excerpt", None, "n", "b", catalog)
                    .await
                    .is_err()
            );
            // Restore, publish, then try to change it behind the application's back.
            store
                .import_draft(&excerpt(&reference), catalog, "t", "a")
                .await
                .unwrap();
            store
                .publish("npsc1-excerpt", None, "n", "b", catalog)
                .await
                .unwrap();
            for sql in [
                "UPDATE coefficient_row SET generation_coefficient = '3' WHERE pollutant = 'NOX'",
                "DELETE FROM coefficient_row",
                "UPDATE edition SET content_hash = 'x'",
                "UPDATE edition SET status = 'draft'",
                "DELETE FROM edition",
                "UPDATE audit_log SET actor = 'mallory'",
                "DELETE FROM audit_log",
            ] {
                let result = sqlx::query(sql).execute(store.pool()).await;
                assert!(result.is_err(), "{sql} must be refused");
            }
            let info = store.edition("npsc1-excerpt", 1).await.unwrap();
            store.load(&info, catalog).await.expect("still intact");
        }
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_reopening_keeps_data() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("npsc.db");
    let url = path.to_str().unwrap();
    let store = Store::open(url).await.unwrap();
    store
        .import_draft(&excerpt(&reference), &reference.pollutants, "t", "a")
        .await
        .unwrap();
    assert_eq!(store.migrate().await.unwrap(), 0);
    store.close().await;
    let store = Store::open(url).await.unwrap();
    assert_eq!(store.list(None).await.unwrap().len(), 1);
}

fn result(row: u64, pollutant: &str) -> crate::runs::ResultRecord {
    crate::runs::ResultRecord {
        activity_row: row,
        year: 2023,
        uscc: "91350100M000100Y43".into(),
        region_code: "350100".into(),
        industry_code: "D4430".into(),
        unit_id: Some("MF1".into()),
        outlet_id: None,
        pollutant: pollutant.into(),
        generated: 16.0,
        emitted: 4.8,
        coefficient_row: 36,
        flags: String::new(),
    }
}

fn new_run() -> crate::runs::NewRun {
    crate::runs::NewRun {
        started_at: crate::now_utc(),
        actor: "tester".into(),
        set_id: "npsc1-excerpt".into(),
        edition: Some(1),
        content_hash: "h".into(),
        selector: "npsc1-excerpt@1".into(),
        rule: None,
        accounting_date: None,
        coefficients_path: None,
        registry_path: "/r.csv".into(),
        registry_hash: "rh".into(),
        activity_path: "/a.csv".into(),
        activity_hash: "ah".into(),
        options: "region_level=province".into(),
    }
}

#[tokio::test]
async fn runs_are_all_or_nothing() {
    each_backend(|store| async move {
        // A run abandoned before `finish` (a failed or killed run) leaves nothing behind.
        let mut writer = store.begin_run(new_run()).await.unwrap();
        writer.add_results(&[result(2, "SO2")]).await.unwrap();
        drop(writer);
        assert!(store.runs().await.unwrap().is_empty());

        let mut writer = store.begin_run(new_run()).await.unwrap();
        let many: Vec<_> = (2..1002)
            .flat_map(|r| [result(r, "SO2"), result(r, "NOX")])
            .collect();
        writer.add_results(&many).await.unwrap();
        let totals = [crate::runs::TotalRecord {
            year: 2023,
            region_code: Some("350000".into()),
            industry_code: None,
            pollutant: "SO2".into(),
            unit: "吨".into(),
            generated: 16_000.0,
            emitted: 4_800.0,
            rows: 1000,
            flagged_rows: 0,
        }];
        let counts = crate::runs::RunCounts {
            rows_read: 1000,
            rows_accounted: 1000,
            rows_excluded: 0,
            rows_unaccounted: 0,
        };
        let id = writer.finish(counts, &totals, 12).await.unwrap();
        let run = store.run(id).await.unwrap();
        assert_eq!(run.counts, counts);
        assert_eq!(run.run.selector, "npsc1-excerpt@1");
        assert_eq!(store.run_totals(id).await.unwrap(), totals);
        let results = store.run_results(id).await.unwrap();
        assert_eq!(results.len(), 2000);
        assert_eq!(results[0], result(2, "NOX"));
        let audit = store.audit(10).await.unwrap();
        assert_eq!(audit[0].action, "run");
    })
    .await;
}

/// A database written by the first released schema (migration 1 only: editions and the audit
/// log), by the npsc of that time: `npsc1-excerpt@1` published, `@2` a draft. Keep one fixture per
/// released schema; never regenerate an old one.
const SCHEMA_V1: &str = "tests/fixtures/schema-v1.sqlite3";

#[tokio::test]
async fn a_database_of_the_first_schema_upgrades_and_keeps_its_editions() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_V1), &path).unwrap();
    let store = Store::open(path.to_str().unwrap())
        .await
        .expect("old database opens and migrates");
    let editions = store.list(None).await.unwrap();
    let summary: Vec<_> = editions.iter().map(|e| (e.name(), e.status)).collect();
    assert_eq!(
        summary,
        [
            ("npsc1-excerpt@1".to_string(), EditionStatus::Published),
            ("npsc1-excerpt@2".to_string(), EditionStatus::Draft)
        ]
    );
    let first = store
        .load(&editions[0], &reference.pollutants)
        .await
        .expect("hash still verifies");
    assert_eq!(first.content_hash(), excerpt(&reference).content_hash());
    // The upgraded database is fully usable: publish the old draft, store a run.
    store
        .publish(
            "npsc1-excerpt",
            Some(2),
            "after upgrade",
            "t",
            &reference.pollutants,
        )
        .await
        .unwrap();
    // A run names its published edition's content hash (`check` compares them).
    let run = crate::runs::NewRun {
        content_hash: editions[0].content_hash.clone(),
        ..new_run()
    };
    let writer = store.begin_run(run).await.unwrap();
    writer
        .finish(crate::runs::RunCounts::default(), &[], 1)
        .await
        .unwrap();
    assert!(
        store
            .check(&reference.pollutants)
            .await
            .unwrap()
            .problems
            .is_empty()
    );
    assert_eq!(store.audit(100).await.unwrap().len(), 5);
}

/// The same first-schema database on PostgreSQL, as a `pg_dump --inserts` script.
const SCHEMA_V1_POSTGRES: &str = "tests/fixtures/schema-v1.postgres.sql";

#[tokio::test]
async fn a_postgres_database_of_the_first_schema_upgrades_too() {
    let Ok(url) = std::env::var("TEST_PG_URL") else {
        eprintln!("skipped the PostgreSQL upgrade test: TEST_PG_URL is not set");
        return;
    };
    let reference = reference();
    let admin = Store::connect(&url).await.expect("TEST_PG_URL is usable");
    let name = format!("npsc_upgrade_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let target = format!("{base}/{name}");
    // The dump sets an empty search_path on its connection, so it runs on a pool of its own.
    let restore = Store::connect(&target).await.unwrap();
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_V1_POSTGRES))
            .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(restore.pool())
        .await
        .expect("the fixture restores");
    restore.close().await;

    let store = Store::open(&target).await.expect("old database migrates");
    let editions = store.list(None).await.unwrap();
    let summary: Vec<_> = editions.iter().map(|e| (e.name(), e.status)).collect();
    assert_eq!(
        summary,
        [
            ("npsc1-excerpt@1".to_string(), EditionStatus::Published),
            ("npsc1-excerpt@2".to_string(), EditionStatus::Draft)
        ]
    );
    store
        .load(&editions[0], &reference.pollutants)
        .await
        .expect("hash still verifies");
    store
        .publish(
            "npsc1-excerpt",
            Some(2),
            "after upgrade",
            "t",
            &reference.pollutants,
        )
        .await
        .unwrap();
    assert!(
        store
            .check(&reference.pollutants)
            .await
            .unwrap()
            .problems
            .is_empty()
    );
    store.close().await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await;
    admin.close().await;
}
