//! Reference table editions on every backend (see `store_tests::each_backend`).

use crate::editions::EditionStatus;
use crate::reference::{NewReference, ReferenceSelector, content_hash};
use crate::store_tests::each_backend;
use crate::{Store, StoreError};

const RATES_V1: &str = "region_code,medium,pollutant,yuan_per_equivalent,effective_from\n\
                        110000,air,*,12,2018-01-01\n";
const RATES_V2: &str = "region_code,medium,pollutant,yuan_per_equivalent,effective_from\n\
                        110000,air,*,12,2018-01-01\n410000,air,*,4.8,2018-01-01\n";

fn new<'a>(name: &'a str, kind: &'a str, content: &'a str, rows: u64) -> NewReference<'a> {
    NewReference {
        name,
        kind,
        content,
        row_count: rows,
        imported_from: "rates.csv",
        source_sha256: "0f",
    }
}

async fn latest(store: &Store, name: &str) -> Result<crate::reference::ReferenceInfo, StoreError> {
    store
        .resolve_reference(&ReferenceSelector::parse(name).expect("selector"))
        .await
}

#[tokio::test]
async fn reference_tables_have_the_edition_life_cycle() {
    each_backend(|store| async move {
        // A draft, replaced in place (same number), then published.
        let first = store
            .import_reference_draft(new("tax-rates", "tax-rates", RATES_V2, 2), "alice")
            .await
            .expect("draft");
        assert_eq!((first.edition, first.status), (1, EditionStatus::Draft));
        let replaced = store
            .import_reference_draft(new("tax-rates", "tax-rates", RATES_V1, 1), "alice")
            .await
            .expect("replaced draft");
        assert_eq!(replaced.edition, 1);
        assert_eq!(replaced.content_hash, content_hash(RATES_V1));
        assert!(matches!(
            latest(&store, "tax-rates").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.publish_reference("tax-rates", None, " ", "bob").await,
            Err(StoreError::Invalid(_))
        ));
        let published = store
            .publish_reference("tax-rates", None, "2018 decisions", "bob")
            .await
            .expect("publish");
        assert_eq!(published.status, EditionStatus::Published);
        assert_eq!(published.revision_note.as_deref(), Some("2018 decisions"));
        assert!(matches!(
            store
                .publish_reference("tax-rates", Some(1), "again", "bob")
                .await,
            Err(StoreError::Conflict(_))
        ));
        // The next import is edition 2; latest stays 1 until 2 is published.
        let second = store
            .import_reference_draft(new("tax-rates", "tax-rates", RATES_V2, 2), "alice")
            .await
            .expect("second draft");
        assert_eq!(second.edition, 2);
        assert_eq!(latest(&store, "tax-rates").await.unwrap().edition, 1);
        assert_eq!(latest(&store, "tax-rates@draft").await.unwrap().edition, 2);
        store
            .publish_reference("tax-rates", Some(2), "Henan added", "bob")
            .await
            .expect("publish 2");
        let now = latest(&store, "tax-rates@latest").await.unwrap();
        assert_eq!(now.edition, 2);
        assert_eq!(store.load_reference(&now).await.unwrap(), RATES_V2);
        // Retired: readable by number, no longer latest.
        store
            .retire_reference("tax-rates", 2, "wrong Henan rate", "bob")
            .await
            .expect("retire");
        assert_eq!(latest(&store, "tax-rates").await.unwrap().edition, 1);
        let two = latest(&store, "tax-rates@2").await.unwrap();
        assert_eq!(two.status, EditionStatus::Retired);
        assert_eq!(store.load_reference(&two).await.unwrap(), RATES_V2);
        // A table keeps its kind.
        assert!(matches!(
            store
                .import_reference_draft(new("tax-rates", "tax-equivalents", RATES_V1, 1), "alice")
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Every write is audited.
        let audit = store.audit(100).await.unwrap();
        let actions: Vec<(String, String)> = audit
            .iter()
            .filter(|a| a.object.starts_with("tax-rates@"))
            .map(|a| (a.action.clone(), a.object.clone()))
            .collect();
        for expected in [
            ("import", "tax-rates@1"),
            ("publish", "tax-rates@1"),
            ("import", "tax-rates@2"),
            ("publish", "tax-rates@2"),
            ("retire", "tax-rates@2"),
        ] {
            assert!(
                actions
                    .iter()
                    .any(|(a, o)| a == expected.0 && o == expected.1),
                "{expected:?} in {actions:?}"
            );
        }
        let listed = store.reference_editions(None).await.unwrap();
        assert_eq!(listed.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn the_database_refuses_to_change_a_published_reference_table() {
    each_backend(|store| async move {
        store
            .import_reference_draft(new("tax-rates", "tax-rates", RATES_V1, 1), "alice")
            .await
            .unwrap();
        // A tampered draft is noticed when loaded and cannot be published.
        sqlx::query("UPDATE reference_edition SET content = 'x' WHERE edition = 1")
            .execute(store.pool())
            .await
            .unwrap();
        let info = store.reference_edition("tax-rates", 1).await.unwrap();
        assert!(matches!(
            store.load_reference(&info).await,
            Err(StoreError::Integrity(_))
        ));
        assert!(
            store
                .publish_reference("tax-rates", None, "n", "bob")
                .await
                .is_err()
        );
        store
            .import_reference_draft(new("tax-rates", "tax-rates", RATES_V1, 1), "alice")
            .await
            .unwrap();
        store
            .publish_reference("tax-rates", None, "n", "bob")
            .await
            .unwrap();
        for sql in [
            "UPDATE reference_edition SET content = 'x'",
            "UPDATE reference_edition SET content_hash = 'x'",
            "UPDATE reference_edition SET kind = 'other'",
            "UPDATE reference_edition SET status = 'draft'",
            "DELETE FROM reference_edition",
        ] {
            let result = sqlx::query(sql).execute(store.pool()).await;
            assert!(result.is_err(), "{sql} must be refused");
        }
        let info = store.reference_edition("tax-rates", 1).await.unwrap();
        assert_eq!(store.load_reference(&info).await.unwrap(), RATES_V1);
    })
    .await;
}

#[test]
fn selectors_and_names() {
    assert_eq!(
        ReferenceSelector::parse("tax-rates@3").unwrap(),
        ReferenceSelector::Fixed {
            name: "tax-rates".into(),
            edition: 3
        }
    );
    assert_eq!(
        ReferenceSelector::parse(" tax-rates ").unwrap(),
        ReferenceSelector::Latest {
            name: "tax-rates".into()
        }
    );
    for bad in [
        "",
        "Tax",
        "tax rates",
        "tax-rates@0",
        "tax-rates@x",
        "../x",
        "1abc",
    ] {
        assert!(ReferenceSelector::parse(bad).is_err(), "{bad}");
    }
}
