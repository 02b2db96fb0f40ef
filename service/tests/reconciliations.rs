//! Reconciliations over HTTP, through `service::router` without a socket: the bundled sample's
//! registry, activity and permit reports submitted by an officer against `npsc1-excerpt@1`, the
//! stored views read back and compared cell for cell with what `npsc reconcile --format json`
//! computes for the same files, the E21 SO2 2022 under-report found, roles and parameters, and a
//! bad reports file refused with every located issue and nothing stored.

mod common;

use axum::http::{HeaderMap, StatusCode};
use common::{
    EXCERPT_HASH, Served as Fixture, bearer, form, json, multipart, repo, request, sample,
    sample_dir,
};
use serde_json::Value;

const BOUNDARY: &str = "npsc-reconciliations-boundary";
/// E21 of EXPECTED.md: its 2022 SO2 report is 59 % under the estimate.
const E21: &str = "91130684MA9XTBUW4C";

/// `npsc1-excerpt@1` published, and officer, reader and admin tokens.
async fn fixture() -> Fixture {
    Fixture::new("permit office", "tax office", "provincial office").await
}

fn sample_form(reports: (&str, &[u8])) -> Vec<u8> {
    form(
        BOUNDARY,
        &[
            ("registry", "registry.csv", &sample("registry.csv")),
            ("activity", "activity.csv", &sample("activity.csv")),
            ("reports", reports.0, reports.1),
        ],
    )
}

async fn submit(
    f: &Fixture,
    query: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Value) {
    let multipart = multipart(BOUNDARY);
    let auth = token.map(bearer);
    let mut headers = vec![("content-type", multipart.as_str())];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let (status, response_headers, text) = request(
        &f.state,
        "POST",
        &format!("/api/v1/reconciliations?{query}"),
        &headers,
        body,
    )
    .await;
    (status, response_headers, json(&text))
}

async fn get(
    f: &Fixture,
    uri: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> (StatusCode, String) {
    let auth = token.map(bearer);
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    if let Some(accept) = accept {
        headers.push(("accept", accept));
    }
    let (status, _, body) = common::get(&f.state, uri, &headers).await;
    (status, body)
}

/// What `npsc reconcile --coefficients coefficients/npsc1-excerpt --registry … --activity …
/// --reports … --format json` computes for the sample files (the same app calls, default
/// options, exact numbers), with the reports' path written as the upload's label: the command
/// line names the file by the path it was given, the service by the uploaded file's name.
fn cli_sheets() -> Vec<app::sheet::Sheet> {
    let reference = app::reference::bundled().expect("reference");
    let parameters = app::reconcile::ReconcileParameters::default();
    let mut settings = parameters.settings(
        sample_dir().join("registry.csv"),
        sample_dir().join("activity.csv"),
        sample_dir().join("permit_reports.csv"),
        app::ReadOptions::default(),
    );
    settings.account.coefficients = common::excerpt();
    let set = app::account::load_coefficients(&settings.account, &reference).expect("excerpt");
    let report = app::reconcile::reconcile_with(&set, &settings, &reference).expect("reconciles");
    let prefix = format!("{}/", sample_dir().display());
    report
        .sheets(&reference, accounting::render::Precision::Exact)
        .into_iter()
        .map(|mut sheet| {
            for cell in sheet.rows.iter_mut().flatten() {
                *cell = cell.replace(&prefix, "");
            }
            sheet
        })
        .collect()
}

/// The `"<view>"` member of the command line's JSON for one sheet.
fn cli_json_rows(sheet: &app::sheet::Sheet) -> Value {
    json(&app::sheet::render_json(&[], std::slice::from_ref(sheet)))[&sheet.name].clone()
}

#[tokio::test]
async fn the_sample_is_stored_with_its_provenance_and_the_clis_cells() {
    let f = fixture().await;
    let (status, headers, body) = submit(
        &f,
        "set=npsc1-excerpt&edition=1",
        Some(&f.officer),
        sample_form(("permit_reports.csv", &sample("permit_reports.csv"))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let r = &body["reconciliation"];
    let id = r["id"].as_i64().expect("id");
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/reconciliations/{id}").as_str())
    );
    assert_eq!(r["edition"]["name"], "npsc1-excerpt@1");
    assert_eq!(r["edition"]["content_hash"], EXCERPT_HASH);
    assert_eq!(r["selector"], "npsc1-excerpt@1");
    assert_eq!(r["actor"], "permit office");
    let inputs = r["inputs"].as_array().expect("inputs");
    for (input, (role, file)) in inputs.iter().zip([
        ("registry", "registry.csv"),
        ("activity", "activity.csv"),
        ("reports", "permit_reports.csv"),
    ]) {
        assert_eq!(input["role"], role);
        assert_eq!(input["label"], file);
        assert_eq!(input["uploaded"], true);
        assert_eq!(input["sha256"], app::upload::sha256(&sample(file)).as_str());
    }
    assert!(
        r["summary"].as_str().is_some_and(|s| s.starts_with(
            "156 enterprise-pollutant-years compared (5 with errors, 15 with warnings only)"
        )),
        "{r}"
    );
    assert_eq!(r["counts"]["comparisons"], 156);
    assert_eq!(r["counts"]["with_errors"], 5);
    assert!(
        r["options"]
            .as_str()
            .is_some_and(|o| o.starts_with("warning=0.2; error=0.5;")),
        "{r}"
    );
    let names: Vec<&str> = body["views"]
        .as_array()
        .expect("views")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["comparison", "records", "reconciliation"]);

    // Read back by a reader: the list, the reconciliation, every view.
    let (status, list) = get(&f, "/api/v1/reconciliations", Some(&f.reader), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(json(&list)[0]["id"], id);
    let (status, shown) = get(
        &f,
        &format!("/api/v1/reconciliations/{id}"),
        Some(&f.reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(json(&shown)["views"], body["views"]);

    let expected = cli_sheets();
    assert_eq!(expected.len(), 3);
    for sheet in &expected {
        let uri = format!("/api/v1/reconciliations/{id}/{}", sheet.name);
        let (status, text) = get(&f, &uri, Some(&f.reader), None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            !text.contains("npsc-upload-"),
            "no staging path leaks: {text}"
        );
        let view = json(&text);
        assert_eq!(view["columns"], serde_json::json!(sheet.header));
        assert_eq!(view["reconciliation"]["id"], id);
        assert!(!sheet.rows.is_empty(), "{}", sheet.name);
        assert_eq!(
            view["rows"],
            cli_json_rows(sheet),
            "the stored {} view is the command line's",
            sheet.name
        );
        // CSV by query and by Accept: the command line's CSV of the view.
        let (status, csv) = get(&f, &format!("{uri}?format=csv"), Some(&f.reader), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(csv, app::sheet::render_csv(sheet).expect("csv"));
        let (status, by_accept) = get(&f, &uri, Some(&f.reader), Some("text/csv")).await;
        assert_eq!((status, by_accept), (StatusCode::OK, csv));
    }

    // The deliberate under-report: E21's 2022 SO2 is an error.
    let (_, text) = get(
        &f,
        &format!("/api/v1/reconciliations/{id}/comparison"),
        Some(&f.reader),
        None,
    )
    .await;
    let comparison = json(&text);
    let e21: Vec<&Value> = comparison["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["uscc"] == E21 && row["year"] == "2022" && row["pollutant"] == "二氧化硫")
        .collect();
    assert_eq!(e21.len(), 1, "{comparison}");
    assert_eq!(e21[0]["level"], "error");
    assert_eq!(e21[0]["flags"], "under_reported:error");
    assert_eq!(e21[0]["estimate"], "199.144");
    assert!(
        e21[0]["report_rows"]
            .as_str()
            .is_some_and(|o| o.starts_with("permit_reports.csv, row")),
        "{}",
        e21[0]
    );

    // The audit log names the officer's token.
    let audit = app::editions::audit(&f.db.store, 5).await.expect("audit");
    assert_eq!(audit[0].action, "reconcile");
    assert_eq!(audit[0].actor, "permit office");
    assert_eq!(audit[0].object, format!("reconciliation {id}"));
}

#[tokio::test]
async fn roles_and_parameters_are_checked_before_anything_is_stored() {
    let mut f = fixture().await;
    f.state.anonymous_read = true;
    let body = || sample_form(("permit_reports.csv", &sample("permit_reports.csv")));
    let (status, _, error) = submit(&f, "set=npsc1-excerpt", None, body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let (status, _, error) = submit(&f, "set=npsc1-excerpt", Some(&f.reader), body()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    // The token is checked before the query: an anonymous caller learns nothing about it.
    let (status, _, _) = submit(&f, "warning=x", None, body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (query, message) in [
        ("warning=x", "bad query parameter"),
        (
            "set=npsc1-excerpt&warning=0.6&error=0.5",
            "error 0.5 is below warning 0.6",
        ),
        (
            "set=npsc1-excerpt&alpha=0.9",
            "alpha 0.9 is out of range (0, 0.5]",
        ),
        (
            "set=npsc1-excerpt&punitive_industries=44,x1",
            "`x1` is not an industry code prefix",
        ),
        (
            "set=npsc1-excerpt&missing_operation_rate=maybe",
            "`maybe` is neither",
        ),
        (
            "set=npsc1-excerpt&edition=1&at=2024-01-01",
            "either an edition or an accounting date",
        ),
    ] {
        let (status, _, error) = submit(&f, query, Some(&f.officer), body()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(message)),
            "{query}: {error}"
        );
    }
    let (status, _, error) = submit(&f, "set=no-such-set", Some(&f.officer), body()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let without_reports = form(
        BOUNDARY,
        &[
            ("registry", "registry.csv", &sample("registry.csv")),
            ("activity", "activity.csv", &sample("activity.csv")),
        ],
    );
    let (status, _, error) =
        submit(&f, "set=npsc1-excerpt", Some(&f.officer), without_reports).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("`reports`")),
        "{error}"
    );

    // Readers need a token even when published editions may be read anonymously.
    let (status, _) = get(&f, "/api/v1/reconciliations", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, list) = get(&f, "/api/v1/reconciliations", Some(&f.reader), None).await;
    assert_eq!(
        (status, json(&list)),
        (StatusCode::OK, serde_json::json!([]))
    );

    // Options given are the options used and recorded.
    let (status, _, stored) = submit(
        &f,
        "set=npsc1-excerpt&warning=0.05&error=0.1&punitive_industries=44",
        Some(&f.officer),
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let r = &stored["reconciliation"];
    assert!(
        r["options"]
            .as_str()
            .is_some_and(|o| o.starts_with("warning=0.05; error=0.1;")
                && o.contains("punitive_industries=44;")),
        "{r}"
    );
    assert!(
        r["counts"]["with_errors"].as_u64() > Some(5),
        "tighter thresholds flag more: {r}"
    );
    let id = r["id"].as_i64().expect("id");
    for (uri, expected) in [
        (
            format!("/api/v1/reconciliations/{id}/totals"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/v1/reconciliations/{id}/comparison?format=xml"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/reconciliations/x/comparison".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/reconciliations/999".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/reconciliations/999/records".to_string(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, text) = get(&f, &uri, Some(&f.reader), None).await;
        assert_eq!(status, expected, "{uri}: {text}");
        assert!(json(&text)["message"].is_string(), "{uri}: {text}");
    }
    let (status, _) = get(
        &f,
        &format!("/api/v1/reconciliations/{id}/records"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_reports_file_gets_every_located_issue_and_nothing_is_stored() {
    let f = fixture().await;
    let bad =
        std::fs::read(repo().join("tests/fixtures/bad/permit-reports-bad.csv")).expect("fixture");
    let (status, _, error) = submit(
        &f,
        "set=npsc1-excerpt",
        Some(&f.officer),
        sample_form(("permit-reports-bad.csv", &bad)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "bad-input");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("the permit reports have")),
        "{error}"
    );
    let details = error["details"].as_array().expect("details");
    assert!(details.len() >= 3, "every issue is listed: {error}");
    for detail in details {
        // Located by the uploaded file's name, never by a temporary path.
        assert_eq!(detail["file"], "permit-reports-bad.csv", "{detail}");
        assert!(
            detail["message"].is_string() && detail["code"].is_string(),
            "{detail}"
        );
    }
    assert!(
        details
            .iter()
            .all(|d| d["row"].as_u64().is_some_and(|r| r >= 2)),
        "each issue names its row: {error}"
    );
    assert!(!error.to_string().contains("npsc-upload-"), "{error}");
    // Nothing stored, nothing audited.
    assert!(
        app::reconcile::list(&f.db.store)
            .await
            .expect("list")
            .is_empty()
    );
    let audit = app::editions::audit(&f.db.store, 10).await.expect("audit");
    assert!(audit.iter().all(|a| a.action != "reconcile"), "{audit:?}");
}
