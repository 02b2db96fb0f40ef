//! Reference tables over HTTP: an administrator uploads (checked, located issues, dry run),
//! publishes and retires; everyone reads the canonical CSV of published editions, cached as
//! immutable; drafts need a token.

mod common;

use axum::http::StatusCode;
use common::{Db, bearer, get, json, request, send, token};

const RATES: &[u8] = include_bytes!("../../datasets/reference/tax_rates_2018.csv");

#[tokio::test]
async fn reference_tables_are_uploaded_published_and_served_immutable() {
    let db = Db::empty().await;
    let admin = token(&db.store, "admin", app::tokens::Role::Admin).await;
    let reader = token(&db.store, "reader", app::tokens::Role::Reader).await;
    let state = db.state().await;

    // Only an administrator uploads; the kind is checked after the token.
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rates",
        Some(&reader),
        "text/csv",
        RATES.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rate",
        Some(&admin),
        "text/csv",
        RATES.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("unknown reference table kind"), "{body}");

    // A bad table: every issue located, nothing stored.
    let bad = "region_code,medium,pollutant,yuan_per_equivalent,effective_from\n\
               11000,air,*,12,2018-01-01\n110000,air,*,x,2018-01-01\n";
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rates",
        Some(&admin),
        "text/csv",
        bad.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = json(&body)["details"].as_array().expect("details").clone();
    assert_eq!(details.len(), 2, "{body}");
    assert!(
        body.contains(r#""value":"11000""#) && body.contains("yuan_per_equivalent"),
        "{body}"
    );

    // A dry run stores nothing; the real upload makes draft 1.
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rates&dry_run=true",
        Some(&admin),
        "text/csv",
        RATES.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dry = json(&body);
    assert!(dry["draft"].is_null());
    assert_eq!(dry["rows"], 43);
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rates",
        Some(&admin),
        "text/csv",
        RATES.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let draft = json(&body);
    assert_eq!(draft["draft"]["name"], "tax-rates@1");
    assert_eq!(draft["draft"]["status"], "draft");
    assert_eq!(draft["content_hash"], dry["content_hash"]);
    let hash = draft["content_hash"].as_str().expect("hash").to_string();

    // The draft: not listed and not readable without a token.
    let (_, _, list) = get(&state, "/api/v1/reference-tables", &[]).await;
    assert_eq!(json(&list).as_array().expect("list").len(), 0, "{list}");
    let (status, _, _) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/draft/content",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let auth = bearer(&reader);
    let (status, _, text) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/draft/content",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("region_code,region_name,medium,pollutant"));

    // Publish needs a note; then the edition is served to everyone, immutable.
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/editions/1/publish",
        Some(&admin),
        "application/json",
        br#"{"note": " "}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/editions/1/publish",
        Some(&admin),
        "application/json",
        br#"{"note": "provincial decisions for 2018-01-01"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["status"], "published");
    let (status, headers, text) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/1/content",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app::upload::sha256(text.as_bytes()),
        hash,
        "the body is the content the hash names"
    );
    assert_eq!(headers["etag"], format!("\"{hash}\"").as_str());
    assert!(
        headers["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    let etag = format!("\"{hash}\"");
    let (status, _, body) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/1/content",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, headers, _) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/latest/content",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-cache");
    let (_, _, meta) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/latest",
        &[],
    )
    .await;
    let meta = json(&meta);
    assert_eq!(meta["name"], "tax-rates@1");
    assert_eq!(meta["revision_note"], "provincial decisions for 2018-01-01");
    assert_eq!(meta["row_count"], 43);

    // Retired: still readable by number, no longer latest.
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/reference-tables/tax-rates/editions/1/retire",
        Some(&admin),
        "application/json",
        br#"{"note": "superseded"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = get(
        &state,
        "/api/v1/reference-tables/tax-rates/editions/latest",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = request(
        &state,
        "GET",
        "/api/v1/reference-tables/tax-rates/editions/1/content",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Every step is in the audit log, by the token's name.
    let audit = app::editions::audit(&db.store, 50).await.expect("audit");
    for action in ["import", "publish", "retire"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.object == "tax-rates@1" && a.actor == "admin"),
            "{action}"
        );
    }
}
