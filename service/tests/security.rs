//! The security sweep of the whole API, driven by the OpenAPI document so that a new endpoint
//! cannot escape it: the role matrix (every operation × no token / each role / a revoked and a
//! malformed token, with anonymous reading allowed and refused), hostile filter values and
//! path segments, malformed uploads, and the document and `/docs` themselves.

mod common;

use std::collections::BTreeMap;

use app::tokens::Role;
use axum::http::StatusCode;
use common::{Db, encode, send};

/// A valid USCC of the bundled synthetic registry.
const USCC: &str = "91152502MA2BPPBJ0K";

/// Who may call each operation of the document: `None` = anyone when anonymous reading is
/// allowed. Every operation in `/openapi.json` must be listed here, and nothing else.
fn minimum_roles() -> BTreeMap<&'static str, Option<Role>> {
    BTreeMap::from([
        ("GET /api/v1/editions", None),
        ("GET /api/v1/sets/{set}/editions/{edition}", None),
        (
            "GET /api/v1/sets/{set}/editions/{edition}/coefficients",
            None,
        ),
        ("GET /api/v1/sets/{set}/resolve", None),
        ("GET /api/v1/sets/{set}/diff", None),
        ("POST /api/v1/sets/{set}/drafts", Some(Role::Admin)),
        (
            "POST /api/v1/sets/{set}/editions/{edition}/publish",
            Some(Role::Admin),
        ),
        (
            "POST /api/v1/sets/{set}/editions/{edition}/retire",
            Some(Role::Admin),
        ),
        ("POST /api/v1/sets/{set}/impact", Some(Role::Reader)),
        ("GET /api/v1/reference-tables", None),
        (
            "GET /api/v1/reference-tables/{table}/editions/{edition}",
            None,
        ),
        (
            "GET /api/v1/reference-tables/{table}/editions/{edition}/content",
            None,
        ),
        (
            "POST /api/v1/reference-tables/{table}/drafts",
            Some(Role::Admin),
        ),
        (
            "POST /api/v1/reference-tables/{table}/editions/{edition}/publish",
            Some(Role::Admin),
        ),
        (
            "POST /api/v1/reference-tables/{table}/editions/{edition}/retire",
            Some(Role::Admin),
        ),
        ("GET /api/v1/runs", Some(Role::Reader)),
        ("GET /api/v1/runs/stale", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}/results", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}/totals", Some(Role::Reader)),
        ("POST /api/v1/runs", Some(Role::Officer)),
        ("GET /api/v1/reconciliations", Some(Role::Reader)),
        ("GET /api/v1/reconciliations/{id}", Some(Role::Reader)),
        (
            "GET /api/v1/reconciliations/{id}/{view}",
            Some(Role::Reader),
        ),
        ("POST /api/v1/reconciliations", Some(Role::Officer)),
        ("GET /api/v1/statistics", Some(Role::Reader)),
        ("POST /api/v1/regional-totals", Some(Role::Reader)),
        ("POST /api/v1/tax", Some(Role::Officer)),
        ("GET /api/v1/reconciliations/{id}/tax", Some(Role::Officer)),
        ("POST /api/v1/runs/{id}/quota", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}/consistency", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}/report", Some(Role::Reader)),
        ("GET /api/v1/runs/{id}/charts/regional", Some(Role::Reader)),
        (
            "GET /api/v1/runs/{id}/charts/year-over-year",
            Some(Role::Reader),
        ),
        ("GET /api/v1/registry/enterprises", Some(Role::Reader)),
        (
            "GET /api/v1/registry/enterprises/{uscc}",
            Some(Role::Reader),
        ),
        ("POST /api/v1/registry", Some(Role::Admin)),
        (
            "POST /api/v1/registry/enterprises/{uscc}/status",
            Some(Role::Admin),
        ),
    ])
}

/// A concrete request for an operation: the path with its parameters filled and a body.
fn concrete(operation: &str) -> (String, String, &'static str, Vec<u8>) {
    let (method, template) = operation.split_once(' ').expect("METHOD path");
    let mut path = template
        .replace("{set}", "npsc1-excerpt")
        .replace("{table}", "tax-rates")
        .replace("{id}", "1")
        .replace("{uscc}", USCC);
    // Publishing targets the draft, everything else the published edition.
    path = path.replace(
        "{edition}",
        if template.ends_with("/publish") {
            "2"
        } else {
            "1"
        },
    );
    if template.ends_with("/diff") {
        path.push_str("?from=1&to=2");
    }
    let (content_type, body) = if template.ends_with("/publish") || template.ends_with("/retire") {
        ("application/json", br#"{"note": "matrix"}"#.to_vec())
    } else if method == "POST" {
        ("text/csv", b"not,a,valid,table\n".to_vec())
    } else {
        ("text/plain", Vec::new())
    };
    (method.to_string(), path, content_type, body)
}

struct Fixture {
    db: Db,
    state: service::AppState,
    tokens: BTreeMap<&'static str, String>,
}

/// `npsc1-excerpt@1` published and `@2` a draft; role tokens and a malformed one.
async fn fixture() -> Fixture {
    let db = Db::with_excerpt().await;
    db.import(&common::excerpt()).await;
    let mut tokens = common::role_tokens(&db.store).await;
    tokens.insert("malformed", "npsc_nothing".to_string());
    let state = db.state().await;
    Fixture { db, state, tokens }
}

/// Every operation of the document as `METHOD path`.
fn operations() -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&service::openapi_json()).expect("the document is JSON");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_document_lists_every_operation_and_the_matrix_covers_it() {
    let documented = operations();
    let listed: Vec<String> = minimum_roles().keys().map(|k| k.to_string()).collect();
    assert_eq!(
        documented, listed,
        "the OpenAPI document and the role matrix must name the same operations"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&service::openapi_json()).expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "OpenAPI 3"
    );
    for operation in &documented {
        let (method, path) = operation.split_once(' ').expect("split");
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op["summary"].is_string(), "{operation} has a summary");
        assert!(
            op["responses"]["401"].is_object(),
            "{operation} documents 401"
        );
        assert!(
            !op["tags"].as_array().is_none_or(Vec::is_empty),
            "{operation} has a tag"
        );
    }
}

#[tokio::test]
async fn every_operation_checks_the_role_of_every_caller() {
    let mut fx = fixture().await;
    // Weakest first, so that the writes that are allowed happen last.
    let callers: [(&str, Option<Role>); 6] = [
        ("anonymous", None),
        ("malformed", None),
        ("revoked", None),
        ("reader", Some(Role::Reader)),
        ("officer", Some(Role::Officer)),
        ("admin", Some(Role::Admin)),
    ];
    for anonymous_read in [false, true] {
        fx.state.anonymous_read = anonymous_read;
        for (operation, minimum) in minimum_roles() {
            for (who, role) in callers {
                let token = match who {
                    "anonymous" => None,
                    other => Some(fx.tokens[other].as_str()),
                };
                let (method, path, content_type, body) = concrete(operation);
                let (status, text) =
                    send(&fx.state, &method, &path, token, content_type, body).await;
                let expected = match (who, role, minimum) {
                    ("malformed" | "revoked", _, _) => Some(StatusCode::UNAUTHORIZED),
                    (_, None, None) if anonymous_read => None,
                    (_, None, _) => Some(StatusCode::UNAUTHORIZED),
                    (_, Some(have), Some(need)) if have < need => Some(StatusCode::FORBIDDEN),
                    _ => None,
                };
                let context = format!(
                    "{operation} as {who} (anonymous read {anonymous_read}): {status} {text}"
                );
                match expected {
                    Some(code) => {
                        assert_eq!(status, code, "{context}");
                        let error: serde_json::Value =
                            serde_json::from_str(&text).expect("JSON error");
                        assert!(error["code"].is_string() && error["message"].is_string());
                    }
                    None => assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{context}"
                    ),
                }
            }
        }
    }
    // Writes name their token in the audit log.
    let audit = app::editions::audit(&fx.db.store, 50).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a.action == "publish" && a.actor == "admin"),
        "{audit:?}"
    );
    fx.db.store.close().await;
}

/// Values an attacker would try in a query parameter or a path segment.
const HOSTILE: [&str; 12] = [
    "' OR 1=1 --",
    "'; DROP TABLE editions; --",
    "\" OR \"\"=\"",
    "%",
    "_",
    "%' OR '%'='",
    "1; SELECT * FROM tokens",
    "../../../../etc/passwd",
    "..\\..\\windows",
    "\u{0}",
    "二氧化硫' --",
    "\u{202e}gpj.exe",
];

#[tokio::test]
async fn hostile_parameters_are_refused_or_find_nothing_and_change_nothing() {
    let fx = fixture().await;
    let admin = Some(fx.tokens["admin"].as_str());
    let long = "x".repeat(20_000);
    let mut values: Vec<&str> = HOSTILE.to_vec();
    values.push(&long);
    let parameters = [
        "/api/v1/editions?set=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?product=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?raw_material=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?process=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?pollutant=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?treatment=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?page=",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?format=",
        "/api/v1/sets/npsc1-excerpt/resolve?at=",
        "/api/v1/sets/npsc1-excerpt/resolve?rule=",
        "/api/v1/sets/npsc1-excerpt/diff?to=2&from=",
        "/api/v1/reconciliations/1/tax?rounding=",
        "/api/v1/reconciliations/1/tax?particulates=",
        "/api/v1/reconciliations/1/tax?year=",
        "/api/v1/reconciliations/1/tax?view=",
        "/api/v1/runs/1/report?view=",
        "/api/v1/runs/1/report?region_level=",
        "/api/v1/runs/1/report?industry_level=",
        "/api/v1/runs/1/report?format=",
        "/api/v1/runs/1/charts/regional?pollutant=",
        "/api/v1/runs/1/charts/regional?region_level=",
        "/api/v1/runs/1/charts/year-over-year?region=",
    ];
    let segments = [
        "/api/v1/sets/{}/editions/1",
        "/api/v1/sets/npsc1-excerpt/editions/{}",
        "/api/v1/sets/{}/editions/1/coefficients",
        "/api/v1/sets/{}/resolve",
        "/api/v1/reconciliations/{}/tax",
        "/api/v1/runs/{}/consistency",
        "/api/v1/runs/{}/report",
        "/api/v1/runs/{}/charts/regional",
        "/api/v1/runs/{}/charts/year-over-year",
    ];
    let mut checked = 0;
    for value in &values {
        let encoded = encode(value);
        let uris = parameters
            .iter()
            .map(|p| format!("{p}{encoded}"))
            .chain(segments.iter().map(|s| s.replace("{}", &encoded)));
        for uri in uris {
            let (status, body) = send(&fx.state, "GET", &uri, admin, "text/plain", vec![]).await;
            checked += 1;
            assert!(
                status == StatusCode::OK
                    || status == StatusCode::BAD_REQUEST
                    || status == StatusCode::NOT_FOUND,
                "{uri}: {status} {body}"
            );
            if status == StatusCode::OK {
                let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                // A hostile filter matches nothing; a list lists nothing.
                let rows = body.get("rows").or(Some(&body)).expect("rows");
                if let Some(rows) = rows.as_array() {
                    assert!(rows.is_empty(), "{uri} matched {} rows", rows.len());
                }
            } else {
                let error: serde_json::Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("{uri}: {status} `{body}` is not JSON: {e}"));
                assert!(error["message"].is_string(), "{uri}");
            }
        }
        // Uploading under a hostile set name is refused or stored as an inert name.
        let (status, body) = send(
            &fx.state,
            "POST",
            &format!("/api/v1/sets/{encoded}/drafts?provenance=x"),
            admin,
            "text/csv",
            b"industry_code\n".to_vec(),
        )
        .await;
        assert!(
            status.is_client_error(),
            "upload under `{value}`: {status} {body}"
        );
    }
    assert!(checked > 150);
    // The data is intact: the published edition still loads with its hash.
    let report = app::editions::check(&fx.db.url, &app::reference::bundled().expect("reference"))
        .await
        .expect("check");
    assert!(report.problems.is_empty(), "{report:?}");
    let (status, body) = send(
        &fx.state,
        "GET",
        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?per_page=1000",
        None,
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(page["total"], 38);
    fx.db.store.close().await;
}

/// Uploads that are not what they claim to be: `(what, content type, body)`.
fn malformed_uploads() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("empty body", "text/csv", vec![]),
        ("binary noise", "text/csv", (0..=255u8).cycle().take(4096).collect()),
        (
            "not a workbook",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK\x03\x04 this is not a zip".to_vec(),
        ),
        (
            "multipart without a boundary",
            "multipart/form-data",
            b"--x\r\n".to_vec(),
        ),
        (
            "truncated multipart",
            "multipart/form-data; boundary=XYZ",
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nindustry_code,pro"
                .to_vec(),
        ),
        (
            "multipart with a traversal file name",
            "multipart/form-data; boundary=XYZ",
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../../etc/passwd\"\r\n\r\nindustry_code\n\r\n--XYZ--\r\n"
                .to_vec(),
        ),
    ]
}

#[tokio::test]
async fn malformed_uploads_get_a_clear_client_error() {
    let fx = fixture().await;
    let admin = Some(fx.tokens["admin"].as_str());
    let uri = "/api/v1/sets/upload-test/drafts?provenance=x";
    for (what, content_type, body) in malformed_uploads() {
        let (status, text) = send(&fx.state, "POST", uri, admin, content_type, body).await;
        assert!(status.is_client_error(), "{what}: {status} {text}");
        let error: serde_json::Value = serde_json::from_str(&text).expect("JSON error");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {text}"
        );
        assert!(
            !text.contains("/etc/passwd") || text.contains("file.csv") || !text.contains(".."),
            "{what}: the client's path is not echoed as a path: {text}"
        );
    }
    let list = app::editions::list(&fx.db.store, Some("upload-test"))
        .await
        .expect("list");
    assert!(list.is_empty(), "nothing was stored");
    fx.db.store.close().await;
}

/// The tax and total-load uploads: malformed bodies, and well-formed forms whose files are
/// noise or carry a client's path as their name, get a JSON client error that never echoes a
/// path.
#[tokio::test]
async fn malformed_tax_and_quota_uploads_get_a_clear_client_error() {
    let fx = fixture().await;
    let admin = Some(fx.tokens["admin"].as_str());
    let noise: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let form = |fields: &[&str]| {
        let parts: Vec<(&str, &str, &[u8])> = fields
            .iter()
            .map(|f| (*f, "../../../etc/passwd", noise.as_slice()))
            .collect();
        common::form("XYZ", &parts)
    };
    let mut cases = malformed_uploads();
    cases.push((
        "noise in every part",
        "multipart/form-data; boundary=XYZ",
        form(&["registry", "emissions", "caps", "targets", "reports"]),
    ));
    for uri in ["/api/v1/tax", "/api/v1/runs/1/quota"] {
        for (what, content_type, body) in &cases {
            let (status, text) =
                send(&fx.state, "POST", uri, admin, content_type, body.clone()).await;
            assert!(status.is_client_error(), "{uri}, {what}: {status} {text}");
            let error: serde_json::Value = serde_json::from_str(&text).expect("JSON error");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{uri}, {what}: {text}"
            );
            assert!(
                !text.contains("/etc/passwd") && !text.contains("npsc-upload-"),
                "{uri}, {what}: neither the client's path nor a staging path is echoed: {text}"
            );
        }
    }
    fx.db.store.close().await;
}

#[tokio::test]
async fn openapi_and_offline_docs_are_served() {
    let fx = fixture().await;
    let (status, body) = send(
        &fx.state,
        "GET",
        "/openapi.json",
        None,
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let served: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let built: serde_json::Value = serde_json::from_str(&service::openapi_json()).expect("JSON");
    assert_eq!(served["paths"], built["paths"]);
    let (status, page) = send(&fx.state, "GET", "/docs/", None, "text/plain", vec![]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Everything the page loads is served from here: no CDN.
    for needle in ["src=\"http", "href=\"http", "unpkg", "cdn."] {
        assert!(
            !page.contains(needle),
            "the docs page loads `{needle}`: {page}"
        );
    }
    assert!(page.contains("swagger-ui"), "{page}");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let (status, body) = send(&fx.state, "GET", asset, None, "text/plain", vec![]).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(body.len() > 10_000, "{asset} is the real file");
    }
    fx.db.store.close().await;
}

/// CSV formula injection: a name an uploader chose that a spreadsheet would run as a formula is
/// exported with a leading `'` (numbers are not), and importing the export gives the same data.
#[tokio::test]
async fn exports_quote_formula_looking_cells_and_import_again_unchanged() {
    let fx = fixture().await;
    let admin = Some(fx.tokens["admin"].as_str());
    let hostile = "=HYPERLINK(\"http://evil.example\",\"点击\")";

    // The registry: an enterprise named like a formula, a permit number like one.
    let registry = format!(
        "uscc,name,region_code,industry_code,status,status_date,permit_no\n\
         {USCC},\"{}\",152502,1351,运行,,@SUM(1)\n",
        hostile.replace('"', "\"\"")
    );
    let (status, text) = send(
        &fx.state,
        "POST",
        "/api/v1/registry",
        admin,
        "text/csv",
        registry.into_bytes(),
    )
    .await;
    assert!(status.is_success(), "{status} {text}");
    let (status, exported) = send(
        &fx.state,
        "GET",
        "/api/v1/registry/enterprises?format=csv",
        admin,
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    let line = exported
        .lines()
        .find(|l| l.starts_with(USCC))
        .expect("the enterprise is exported");
    assert!(
        line.contains("\"'=HYPERLINK(") && line.ends_with(",'@SUM(1)"),
        "{line}"
    );
    assert!(
        !exported.contains(",=") && !exported.contains(",@"),
        "{exported}"
    );
    // Imported again: nothing changes.
    let (status, text) = send(
        &fx.state,
        "POST",
        "/api/v1/registry?dry_run=true",
        admin,
        "text/csv",
        exported.clone().into_bytes(),
    )
    .await;
    assert!(status.is_success(), "{status} {text}");
    let change: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        !text.contains("'=HYPERLINK"),
        "the quote is not part of the name: {text}"
    );
    assert_eq!(change["counts"]["added"], 0, "{text}");
    assert_eq!(change["counts"]["changed"], 0, "{text}");
    assert_eq!(change["counts"]["unchanged"], 1, "{text}");
    let (status, text) = send(
        &fx.state,
        "GET",
        &format!("/api/v1/registry/enterprises/{USCC}"),
        admin,
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let enterprise: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(enterprise["enterprise"]["name"], hostile, "{text}");
    assert_eq!(enterprise["field_changes"], serde_json::json!([]), "{text}");

    // A coefficient table: a product named like a formula survives export and re-import with
    // the same content hash; the coefficients (numbers) are not quoted.
    let table = std::fs::read_to_string(common::excerpt().join("coefficients.csv"))
        .expect("table")
        .replacen("冻羊肉", "-1+cmd|' /C calc'!A0", 1);
    let upload = |body: String| {
        let state = fx.state.clone();
        let admin = admin.map(str::to_string);
        async move {
            let (status, text) = send(
                &state,
                "POST",
                "/api/v1/sets/hostile/drafts?provenance=test",
                admin.as_deref(),
                "text/csv",
                body.into_bytes(),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{text}");
            let info: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            info["content_hash"].as_str().expect("hash").to_string()
        }
    };
    let first = upload(table).await;
    let (status, csv) = send(
        &fx.state,
        "GET",
        "/api/v1/sets/hostile/editions/1/coefficients?format=csv&per_page=1000",
        admin,
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.contains(",'-1+cmd|' /C calc'!A0,"), "{csv}");
    assert!(!csv.contains(",-1+cmd"), "{csv}");
    assert!(csv.contains(",0.261,"), "numbers are not quoted: {csv}");
    let second = upload(csv).await;
    assert_eq!(first, second, "the export imports as the same content");
    fx.db.store.close().await;
}

/// The routes outside the OpenAPI document (operations, web pages, their assets, the API
/// documentation): each is public and serves nothing of the database but a health word and
/// counters. `(path as registered, a concrete path)`.
fn public_routes() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("/healthz", "/healthz"),
        ("/metrics", "/metrics"),
        ("/", "/"),
        (
            "/sets/{set}/editions/{edition}",
            "/sets/npsc1-excerpt/editions/1",
        ),
        ("/sets/{set}/diff", "/sets/npsc1-excerpt/diff"),
        ("/runs", "/runs"),
        ("/runs/{id}", "/runs/1"),
        ("/publish", "/publish"),
        ("/assets/{version}/{file}", "/assets/0/app.css"),
        ("/docs", "/docs/"),
        ("/openapi.json", "/openapi.json"),
    ])
}

/// Every path literal the service's sources register outside the OpenAPI routers:
/// `.route("…"`, `SwaggerUi::new("…")` and its `.url("…"`.
fn registered_plain_routes() -> Vec<String> {
    let mut found = Vec::new();
    let mut files = vec![common::repo().join("service/src/lib.rs")];
    for dir in ["service/src", "service/src/routes"] {
        for entry in std::fs::read_dir(common::repo().join(dir)).expect("sources") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files.dedup();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        // rustfmt may break `.route(` and its path onto two lines.
        let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join("");
        for marker in [".route(\"", "SwaggerUi::new(\"", ".url(\""] {
            for (i, _) in squeezed.match_indices(marker) {
                let rest = &squeezed[i + marker.len()..];
                let path = &rest[..rest.find('"').expect("closing quote")];
                found.push(path.to_string());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_route_outside_the_document_is_listed_as_public() {
    let registered = registered_plain_routes();
    let listed: Vec<String> = public_routes().keys().map(|k| k.to_string()).collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(
        registered, listed_sorted,
        "every route registered outside the OpenAPI document must be in public_routes() (and \
         every entry must exist); a route that needs a token belongs in the document"
    );
}

#[tokio::test]
async fn public_routes_answer_without_a_token_and_expose_no_data() {
    let mut fx = fixture().await;
    // Even with anonymous reading refused: none of these needs a token.
    fx.state.anonymous_read = false;
    for (route, path) in public_routes() {
        let (status, body) = send(&fx.state, "GET", path, None, "text/plain", vec![]).await;
        // An asset of another version is a 404 by design; everything else answers.
        if route == "/assets/{version}/{file}" {
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        } else {
            assert_eq!(status, StatusCode::OK, "{path}: {body:.200}");
        }
        // Nothing of the database's content: no coefficient row, no enterprise, no token.
        for secret in ["冻羊肉", USCC] {
            assert!(
                !body.contains(secret) || path == "/openapi.json" || path == "/docs/",
                "{path} serves `{secret}`"
            );
        }
        for token in fx.tokens.values() {
            assert!(!body.contains(token.as_str()), "{path} serves a token");
        }
    }
    fx.db.store.close().await;
}
