//! The shared deployment: several stateless service instances on one PostgreSQL database.
//! Instance A takes an upload and a publish; instance B, with its own connection pool and
//! cache, serves the published edition at once, refuses to publish it again, and both see the
//! same tokens and audit log. Runs when `TEST_PG_URL` is set (`.ci/run` starts a throwaway
//! cluster); without it the test says it was skipped, and fails if `CI` is set.

mod common;

use axum::http::StatusCode;
use common::send;

/// The status and body of [`common::send`], the body read as JSON (`null` when it is not).
fn as_json((status, text): (StatusCode, String)) -> (StatusCode, serde_json::Value) {
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn two_instances_share_one_postgres_database() {
    let Ok(url) = std::env::var("TEST_PG_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: TEST_PG_URL is not set"
        );
        eprintln!("skipped: TEST_PG_URL is not set (`source .ci/postgres` starts a cluster)");
        return;
    };
    // A fresh database for this test.
    let name = format!("npsc_instances_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("TEST_PG_URL is set but unusable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&admin)
    .await
    .expect("drop");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let database = format!("{base}/{name}");

    // Both instances open (and migrate, concurrently) the same database.
    let (a, b) = tokio::join!(
        service::AppState::open(&database),
        service::AppState::open(&database)
    );
    let (a, b) = (a.expect("instance A"), b.expect("instance B"));
    let store = app::editions::open(&database).await.expect("store");
    let (_, token) = app::tokens::create(&store, "publisher", app::tokens::Role::Admin, "setup")
        .await
        .expect("token");
    let table = std::fs::read(common::excerpt().join("coefficients.csv")).expect("table");

    // A token made once works on every instance.
    let (status, draft) = as_json(
        send(
            &a,
            "POST",
            "/api/v1/sets/shared/drafts?provenance=test&effective_from=2024-01-01",
            Some(&token),
            "text/csv",
            table,
        )
        .await,
    );
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let (status, seen) = as_json(
        send(
            &b,
            "GET",
            "/api/v1/sets/shared/editions/draft",
            Some(&token),
            "text/plain",
            vec![],
        )
        .await,
    );
    assert_eq!(
        (status, &seen["content_hash"]),
        (StatusCode::OK, &draft["content_hash"])
    );

    let note = br#"{"note": "published on A"}"#.to_vec();
    let (status, published) = as_json(
        send(
            &a,
            "POST",
            "/api/v1/sets/shared/editions/1/publish",
            Some(&token),
            "application/json",
            note.clone(),
        )
        .await,
    );
    assert_eq!(status, StatusCode::OK, "{published}");
    // B sees the publication at once and cannot publish the same edition again.
    let (status, page) = as_json(
        send(
            &b,
            "GET",
            "/api/v1/sets/shared/editions/1/coefficients?per_page=5",
            None,
            "text/plain",
            vec![],
        )
        .await,
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["edition"]["status"], "published");
    assert_eq!(page["total"], 38);
    let (status, conflict) = as_json(
        send(
            &b,
            "POST",
            "/api/v1/sets/shared/editions/1/publish",
            Some(&token),
            "application/json",
            note,
        )
        .await,
    );
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");

    // A token revoked through one instance is refused by the other.
    app::tokens::revoke(&store, "publisher", "setup")
        .await
        .expect("revoke");
    let (status, _) = as_json(
        send(
            &a,
            "GET",
            "/api/v1/sets/shared/editions/draft",
            Some(&token),
            "text/plain",
            vec![],
        )
        .await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // One audit log: the publish is recorded once, by the token's name.
    let audit = app::editions::audit(&store, 50).await.expect("audit");
    let publishes = audit
        .iter()
        .filter(|e| e.action == "publish" && e.object == "shared@1")
        .count();
    assert_eq!(publishes, 1, "{audit:?}");
    store.close().await;
    admin.close().await;
}
