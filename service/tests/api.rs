//! API v1 through `service::router` without a socket, and once over a real socket on port 0.

mod common;

use app::tokens::Role;
use axum::http::{StatusCode, header};
use common::{Db, EXCERPT_HASH, bearer, get, json, role_tokens, send};

/// A state over a fresh SQLite file with `npsc1-excerpt@1` published and `@2` a draft.
async fn state() -> (Db, service::AppState) {
    let db = Db::with_excerpt().await;
    db.import(&common::excerpt()).await;
    let state = db.state().await;
    (db, state)
}

#[tokio::test]
async fn health_editions_and_metadata() {
    let (_db, state) = state().await;
    let (status, headers, body) = get(&state, "/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert!(headers.contains_key("x-request-id"));
    let (_, headers, _) = get(&state, "/healthz", &[("x-request-id", "abc-123")]).await;
    assert_eq!(
        headers["x-request-id"], "abc-123",
        "a caller's request id is kept"
    );

    let (status, _, body) = get(&state, "/api/v1/editions?set=npsc1-excerpt", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let list = json(&body);
    assert_eq!(list[0]["name"], "npsc1-excerpt@1");
    assert_eq!(list[0]["status"], "published");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "drafts are not listed anonymously"
    );

    let (status, headers, body) =
        get(&state, "/api/v1/sets/npsc1-excerpt/editions/latest", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["content_hash"], EXCERPT_HASH);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");

    let (status, _, body) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/resolve?at=2024-03-01&rule=next-month",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["name"], "npsc1-excerpt@1");
}

#[tokio::test]
async fn coefficients_filter_paginate_and_cache() {
    let (_db, state) = state().await;
    let uri = "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=D4430&pollutant=SO2";
    let (status, headers, body) = get(&state, uri, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], 6);
    assert_eq!(page["rows"][0]["generation_coefficient"], "16S");
    assert_eq!(page["rows"][2]["removal_efficiency"], "70");
    // A published, numbered edition never changes.
    let etag = headers[header::ETAG].to_str().expect("etag").to_string();
    assert_eq!(etag, format!("\"{EXCERPT_HASH}-json\""));
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let (status, _, body) = get(&state, uri, &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));

    // Industry at any level: the division 13 holds the 30 slaughter rows; pagination.
    let (_, _, body) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=13&per_page=7&page=5",
        &[],
    )
    .await;
    let page = json(&body);
    assert_eq!(
        (
            page["total"].as_u64(),
            page["rows"].as_array().map(Vec::len)
        ),
        (Some(30), Some(2))
    );

    // CSV by query or by Accept, with its own ETag.
    let (status, headers, csv) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=4411&format=csv",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("industry_code,section,product"), "{csv}");
    assert!(
        csv.contains("4411,,电能,煤炭,煤粉炉,≥750兆瓦,工业废气量,标立方米/吨-原料,8271,直排"),
        "{csv}"
    );
    assert!(
        headers[header::ETAG]
            .to_str()
            .expect("etag")
            .ends_with("-csv\"")
    );
    let (_, headers, csv2) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=4411",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(csv, csv2);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");

    // `latest` is never cached as immutable (drafts neither: see the token test).
    let (status, headers, _) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/editions/latest/coefficients",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
}

#[tokio::test]
async fn errors_have_one_shape() {
    let (_db, state) = state().await;
    for (uri, status, code) in [
        (
            "/api/v1/sets/nothing/editions/1",
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            "/api/v1/sets/npsc1-excerpt/editions/x",
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?pollutant=CO2x",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?format=xml",
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            "/api/v1/sets/npsc1-excerpt/resolve?at=yesterday",
            StatusCode::BAD_REQUEST,
            "bad-argument",
        ),
        ("/no/such/thing", StatusCode::NOT_FOUND, "not-found"),
    ] {
        let (got, _, body) = get(&state, uri, &[]).await;
        assert_eq!(got, status, "{uri}: {body}");
        let error = json(&body);
        assert_eq!(error["code"], code, "{uri}: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(error["details"].is_array(), "{body}");
    }
}

#[tokio::test]
async fn diff_and_metrics() {
    let (db, state) = state().await;
    let token = common::token(&db.store, "reader", Role::Reader).await;
    let auth = bearer(&token);
    let (status, _, body) = get(
        &state,
        "/api/v1/sets/npsc1-excerpt/diff?from=1&to=2",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["unchanged"], 38);
    get(&state, "/api/v1/sets/npsc1-excerpt/editions/1", &[]).await;
    let (status, headers, metrics) = get(&state, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/plain")
    );
    assert!(metrics.contains("npsc_http_requests_total{method=\"GET\",route=\"/api/v1/sets/{set}/diff\",status=\"200\"} 1"), "{metrics}");
    assert!(
        metrics.contains("npsc_editions_served_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_real_socket_on_port_0() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_db, state) = state().await;
    let (address, server) = common::serve(state).await;
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("ok\n"), "{response}");
    server.abort();
}

#[tokio::test]
async fn tokens_guard_drafts_and_can_be_required_for_everything() {
    let (db, mut state) = state().await;
    let reader = common::token(&db.store, "statistics office", Role::Reader).await;
    let revoked = common::token(&db.store, "old laptop", Role::Admin).await;
    app::tokens::revoke(&db.store, "old laptop", "admin")
        .await
        .expect("revoke");

    let draft = "/api/v1/sets/npsc1-excerpt/editions/2/coefficients";
    let published = "/api/v1/sets/npsc1-excerpt/editions/1/coefficients";
    let cases: [(&str, Option<String>, StatusCode); 7] = [
        (draft, None, StatusCode::UNAUTHORIZED),
        (draft, Some(bearer(&reader)), StatusCode::OK),
        (draft, Some(bearer(&revoked)), StatusCode::UNAUTHORIZED),
        (
            draft,
            Some(bearer("npsc_0000_deadbeef")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            draft,
            Some("Basic abc".to_string()),
            StatusCode::UNAUTHORIZED,
        ),
        (published, None, StatusCode::OK),
        (published, Some(bearer(&revoked)), StatusCode::UNAUTHORIZED),
    ];
    for (uri, auth, expected) in cases {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let (status, response_headers, body) = get(&state, uri, &headers).await;
        assert_eq!(status, expected, "{uri} with {auth:?}: {body}");
        if status == StatusCode::OK && uri == draft {
            assert_eq!(
                response_headers[header::CACHE_CONTROL],
                "no-cache",
                "drafts change"
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(json(&body)["code"], "unauthorized");
        }
    }
    // Anonymous callers do not even see drafts listed.
    let (_, _, body) = get(&state, "/api/v1/editions", &[]).await;
    assert_eq!(json(&body).as_array().map(Vec::len), Some(1));

    state.anonymous_read = false;
    let (status, _, _) = get(&state, published, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(&state, published, &[("authorization", &bearer(&reader))]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&state, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK, "health needs no token");
}

#[tokio::test]
async fn publishing_over_http_with_roles_validation_and_limits() {
    let (db, mut state) = state().await;
    let tokens = role_tokens(&db.store).await;
    let table = std::fs::read(common::excerpt().join("coefficients.csv")).expect("table");

    // The role matrix of the write endpoints: only admin may write.
    let upload = "/api/v1/sets/mee-test/drafts?provenance=test%20upload&effective_from=2024-03-15";
    let note = br#"{"note": "checked"}"#.to_vec();
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("reader"), StatusCode::FORBIDDEN),
        (Some("officer"), StatusCode::FORBIDDEN),
        (Some("revoked"), StatusCode::UNAUTHORIZED),
    ] {
        let token = who.map(|w| tokens[w].as_str());
        for (method, uri, body) in [
            ("POST", upload, table.clone()),
            (
                "POST",
                "/api/v1/sets/npsc1-excerpt/editions/2/publish",
                note.clone(),
            ),
            (
                "POST",
                "/api/v1/sets/npsc1-excerpt/editions/1/retire",
                note.clone(),
            ),
        ] {
            let (status, body) = send(&state, method, uri, token, "application/json", body).await;
            assert_eq!(status, expected, "{uri} as {who:?}: {body}");
        }
    }
    let admin = Some(tokens["admin"].as_str());

    // Upload, publish, publish again (409), and the audit log names the token.
    let (status, body) = send(&state, "POST", upload, admin, "text/csv", table.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(json(&body)["content_hash"], EXCERPT_HASH);
    assert_eq!(json(&body)["status"], "draft");
    let publish = "/api/v1/sets/mee-test/editions/1/publish";
    let (status, body) = send(
        &state,
        "POST",
        publish,
        admin,
        "application/json",
        note.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["published_by"], "admin");
    let (status, body) = send(
        &state,
        "POST",
        publish,
        admin,
        "application/json",
        note.clone(),
    )
    .await;
    assert_eq!(
        (status, json(&body)["code"].clone()),
        (StatusCode::CONFLICT, "conflict".into())
    );
    let (status, _) = send(
        &state,
        "POST",
        publish,
        admin,
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A table with bad cells: 422 listing every one of them, nothing stored.
    let bad = "industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,treatment,removal_efficiency\n\
               4430,蒸汽,煤炭,层燃炉,所有规模,二氧化碳,千克/吨-原料,16S,直排,0\n\
               4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/公升-原料,16S,直排,0\n";
    let (status, body) = send(
        &state,
        "POST",
        "/api/v1/sets/bad/drafts?provenance=x",
        admin,
        "text/csv",
        bad.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = json(&body);
    let codes: Vec<_> = error["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["unknown-pollutant", "unknown-unit"], "{body}");
    assert_eq!(error["details"][0]["row"], 2);
    let (_, _, list) = get(&state, "/api/v1/editions?set=bad", &[]).await;
    assert_eq!(list, "[]");

    // Over the upload limit: 413 in the usual shape.
    state.upload_limit_bytes = 1000;
    let (status, body) = send(&state, "POST", upload, admin, "text/csv", table).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(json(&body)["code"], "too-large");

    let audit = app::editions::audit(&db.store, 10).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a.action == "publish" && a.actor == "admin" && a.object == "mee-test@1")
    );
}

/// Waits (up to a minute) until `counter` reaches `at_least`.
async fn wait_for_at_least(counter: &std::sync::atomic::AtomicU32, at_least: u32, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while counter.load(std::sync::atomic::Ordering::Relaxed) < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than {at_least} {what} within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_wholly_the_old_or_wholly_the_new_edition_during_a_publish() {
    let (db, state) = state().await;
    // The revision: NOx 3.1 instead of 2.94, as the draft @2 of the set.
    let revised = common::revised(db.dir.path(), "v2", |table| {
        table.replace(",2.94,直排,,2.94,", ",3.1,直排,,3.1,")
    });
    let store = &db.store;
    let reference = app::reference::bundled().expect("reference");
    let draft = app::editions::import(
        store,
        &revised,
        &reference,
        &app::ReadOptions::default(),
        "test",
    )
    .await
    .expect("draft");
    let new_hash = draft.content_hash.clone();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Reads completed so far of the old and of the new edition: the publish
    // waits for old reads and the stop for new ones, so a slow (cold, loaded
    // CI) machine cannot make the test see only one side.
    let old_reads = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let new_reads = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut readers = Vec::new();
    for _ in 0..64 {
        let state = state.clone();
        let stop = stop.clone();
        let (old_reads, new_reads) = (old_reads.clone(), new_reads.clone());
        let new_hash = new_hash.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _, body) = get(
                    &state,
                    "/api/v1/sets/npsc1-excerpt/editions/latest/coefficients?industry=4430&pollutant=NOx",
                    &[],
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let page = json(&body);
                let hash = page["edition"]["content_hash"].as_str().expect("hash").to_string();
                let value = page["rows"][0]["generation_coefficient"].as_str().expect("value").to_string();
                // The page and the edition it names always agree.
                if hash == EXCERPT_HASH {
                    assert_eq!(value, "2.94");
                    seen.0 += 1;
                    old_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    assert_eq!(hash, new_hash);
                    assert_eq!(value, "3.1");
                    seen.1 += 1;
                    new_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    wait_for_at_least(&old_reads, 64, "reads of the old edition").await;
    app::editions::publish(
        store,
        "npsc1-excerpt",
        Some(draft.edition),
        "NOx 3.1",
        "test",
        &reference,
    )
    .await
    .expect("publish while reading");
    wait_for_at_least(&new_reads, 64, "reads of the new edition").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut old, mut new) = (0, 0);
    for reader in readers {
        let (o, n) = reader.await.expect("reader");
        old += o;
        new += n;
    }
    assert!(
        old > 0 && new > 0,
        "reads before ({old}) and after ({new}) the publish"
    );
}
