//! The consumers of the numbers over HTTP — the environmental protection tax, total-load
//! control, the "same numbers" check and the statistics report — through `service::router`
//! without a socket, on a real SQLite store and the bundled synthetic sample: each answer
//! equals what the command line's `app` calls compute for the same inputs (the tax of the
//! sample's monitored emissions is the hand-computed 59 128.79 yuan of EXPECTED.md), workbooks
//! open with calamine, charts pass `app::report::check_svg`, roles are enforced, and bad
//! uploads get 422 with every located issue.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use app::tax::{Particulates, TaxSettings};
use axum::http::{HeaderMap, StatusCode};
use calamine::Reader;
use common::{Served, bearer, form, json, multipart, request, request_bytes, sample};
use common::{excerpt, sample_dir};
use serde_json::Value;

const BOUNDARY: &str = "npsc-consumers-boundary";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// T1 and T2 of EXPECTED.md, "Environmental protection tax".
const T1: &str = "91130109MAK4GR6066";
const T2: &str = "91370783MAQ848J576";
/// The sample's one enterprise whose numbers of record rest on two outlets.
const TWO_OUTLETS: &str = "91371503MAUB6LCY6H";

async fn fixture() -> Served {
    Served::new("tax office", "statistics office", "provincial office").await
}

/// A request with a token and, when given, a multipart form: status, headers and body bytes.
async fn call(
    f: &Served,
    method: &str,
    uri: &str,
    token: Option<&str>,
    accept: Option<&str>,
    parts: Option<&[(&str, &str, &[u8])]>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let auth = token.map(bearer);
    let content_type = multipart(BOUNDARY);
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    if let Some(accept) = accept {
        headers.push(("accept", accept));
    }
    let body = match parts {
        Some(parts) => {
            headers.push(("content-type", content_type.as_str()));
            form(BOUNDARY, parts)
        }
        None => Vec::new(),
    };
    request_bytes(&f.state, method, uri, &headers, body).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The rows of a JSON view, as cells in column order.
fn rows(view: &Value) -> Vec<Vec<String>> {
    let columns: Vec<&str> = view["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c.as_str().expect("name"))
        .collect();
    view["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row[*c].as_str().expect("a string cell").to_string())
                .collect()
        })
        .collect()
}

/// The JSON views equal `app`'s sheets, name, columns and cells.
fn assert_views(body: &Value, sheets: &[app::sheet::Sheet]) {
    let views = body["views"].as_array().expect("views");
    assert_eq!(views.len(), sheets.len());
    for (view, sheet) in views.iter().zip(sheets) {
        assert_eq!(view["name"], sheet.name.as_str());
        assert_eq!(view["columns"], serde_json::json!(sheet.header));
        assert_eq!(rows(view), sheet.rows, "{}", sheet.name);
    }
}

/// A workbook's sheet names and one sheet's cells as text.
fn workbook(bytes: Vec<u8>) -> calamine::Xlsx<Cursor<Vec<u8>>> {
    calamine::open_workbook_from_rs(Cursor::new(bytes)).expect("the workbook opens")
}

fn cells(book: &mut calamine::Xlsx<Cursor<Vec<u8>>>, sheet: &str) -> Vec<Vec<String>> {
    let range = book.worksheet_range(sheet).expect("sheet");
    range
        .rows()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn provenance_value(body: &Value, key: &str) -> String {
    body["provenance"]
        .as_array()
        .expect("provenance")
        .iter()
        .find(|l| l["key"] == key)
        .and_then(|l| l["value"].as_str())
        .unwrap_or_else(|| panic!("no provenance line `{key}`: {body}"))
        .to_string()
}

fn tables() -> app::tax::TaxTables {
    app::tax::tables(None, None, &app::ReadOptions::default()).expect("tables")
}

fn reference() -> app::Reference {
    app::reference::bundled().expect("reference")
}

/// `npsc tax --registry registry.csv --emissions monitored_emissions.csv` with `settings`.
fn cli_tax(settings: TaxSettings) -> app::tax::Declaration {
    app::tax::declare_file(
        &sample_dir().join("monitored_emissions.csv"),
        &sample_dir().join("registry.csv"),
        &reference(),
        &tables(),
        settings,
        &app::ReadOptions::default(),
    )
    .expect("the sample's tax")
    .0
}

fn tax_parts() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("registry", "registry.csv", sample("registry.csv")),
        (
            "emissions",
            "monitored_emissions.csv",
            sample("monitored_emissions.csv"),
        ),
    ]
}

fn borrowed<'a>(parts: &'a [(&'a str, &'a str, Vec<u8>)]) -> Vec<(&'a str, &'a str, &'a [u8])> {
    parts
        .iter()
        .map(|(f, n, b)| (*f, *n, b.as_slice()))
        .collect()
}

#[tokio::test]
async fn the_tax_of_the_sample_is_the_hand_computed_one_in_every_format() {
    let f = fixture().await;
    let parts = tax_parts();
    let parts = borrowed(&parts);
    let officer = Some(f.officer.as_str());

    let (status, _, body) = call(&f, "POST", "/api/v1/tax", officer, None, Some(&parts)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    // EXPECTED.md: T1 52 495.79, T2 6 633.00, all 59 128.79 yuan.
    assert_eq!(body["total_tax"], "59128.79");
    let declaration = cli_tax(TaxSettings::default());
    assert_views(&body, &declaration.sheets());
    assert_eq!(body["summary"], declaration.summary().as_str());
    let totals = rows(&body["views"][1]);
    let tax_of = |uscc: &str| {
        totals
            .iter()
            .find(|r| r[1] == uscc)
            .map(|r| r[5].clone())
            .expect("a total")
    };
    assert_eq!(tax_of(T1), "52495.79");
    assert_eq!(tax_of(T2), "6633.00");
    let last = totals.last().expect("合计");
    assert_eq!(
        (
            last[0].as_str(),
            last[3].as_str(),
            last[4].as_str(),
            last[5].as_str()
        ),
        ("合计", "49668.79", "9460.00", "59128.79")
    );
    // Money is a string with two decimals everywhere.
    for line in rows(&body["views"][0]) {
        let tax = &line[15];
        assert!(
            tax.split_once('.').is_some_and(|(_, d)| d.len() == 2),
            "{tax}"
        );
    }
    assert_eq!(
        provenance_value(&body, "emissions"),
        "upload:monitored_emissions.csv"
    );
    assert_eq!(
        provenance_value(&body, "emissions_sha256"),
        app::upload::sha256(&sample("monitored_emissions.csv"))
    );
    assert_eq!(
        provenance_value(&body, "registry_sha256"),
        app::upload::sha256(&sample("registry.csv"))
    );

    // Rounding equivalents first changes February's NOx of T1 by one fen.
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/tax?rounding=equivalents-first&view=totals",
        officer,
        None,
        Some(&parts),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    assert_eq!(body["total_tax"], "59128.78");
    assert_eq!(body["views"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["views"][0]["name"], "totals");

    // CSV of one view, by format or by Accept: the command line's CSV.
    for (uri, accept) in [
        ("/api/v1/tax?view=declaration&format=csv", None),
        ("/api/v1/tax?view=declaration", Some("text/csv")),
    ] {
        let (status, headers, body) = call(&f, "POST", uri, officer, accept, Some(&parts)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {}", text(&body));
        assert!(
            headers["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/csv")
        );
        assert_eq!(
            text(&body),
            app::sheet::render_csv(&declaration.declaration_sheet()).expect("csv")
        );
    }

    // The workbook, by Accept or by format: Chinese headers, numbers, the provenance sheet.
    for (uri, accept) in [
        ("/api/v1/tax", Some(XLSX)),
        ("/api/v1/tax?format=xlsx", None),
    ] {
        let (status, headers, body) = call(&f, "POST", uri, officer, accept, Some(&parts)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["content-type"], XLSX);
        assert!(
            headers["content-disposition"]
                .to_str()
                .expect("disposition")
                .contains("tax.xlsx")
        );
        let mut book = workbook(body);
        assert_eq!(
            book.sheet_names(),
            ["declaration", "totals", "provenance"].map(String::from)
        );
        let totals = cells(&mut book, "totals");
        assert_eq!(totals[0][5], "应纳税额(元)");
        let all = totals.last().expect("合计");
        assert_eq!((all[0].as_str(), all[5].as_str()), ("合计", "59128.79"));
        let provenance = cells(&mut book, "provenance");
        assert!(
            provenance
                .iter()
                .any(|r| r[0] == "total_tax" && r[1] == "59128.79"),
            "{provenance:?}"
        );
    }

    // Choices that the command line refuses are refused before the upload is read.
    for (uri, why) in [
        ("/api/v1/tax?format=csv", "CSV holds one view"),
        ("/api/v1/tax?air_items=2", "never lower"),
        ("/api/v1/tax?rounding=nearest", "rounding"),
        (
            "/api/v1/tax?particulates=%E9%A2%97%E7%B2%92%E7%89%A9",
            "particulates",
        ),
        ("/api/v1/tax?view=lines", "view"),
        ("/api/v1/tax?format=pdf", "format"),
    ] {
        let (status, _, body) = call(&f, "POST", uri, officer, None, Some(&parts)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(text(&body).contains(why), "{uri}: {}", text(&body));
    }
    let (status, _, body) = call(&f, "POST", "/api/v1/tax", officer, None, Some(&parts[..1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&body).contains("`emissions`"), "{}", text(&body));
    f.db.store.close().await;
}

#[tokio::test]
async fn tax_needs_an_officer_and_bad_emissions_get_every_located_issue() {
    let f = fixture().await;
    let parts = tax_parts();
    let parts = borrowed(&parts);
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(f.reader.as_str()), StatusCode::FORBIDDEN),
        (Some(f.admin.as_str()), StatusCode::OK),
    ] {
        let (status, _, body) = call(&f, "POST", "/api/v1/tax", token, None, Some(&parts)).await;
        assert_eq!(status, expected, "{}", text(&body));
    }

    // Row 3 (the first data row is 2): a month that does not exist; row 5: a pollutant that is
    // not one of npsc's.
    let original = text(&sample("monitored_emissions.csv"));
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    lines[2] = lines[2].replace("2024-01", "2024-13");
    let pollutant = lines[4].split(',').nth(2).expect("pollutant").to_string();
    lines[4] = lines[4].replacen(&format!(",{pollutant},"), ",不是污染物,", 1);
    let bad = lines.join("\n") + "\n";
    let registry = sample("registry.csv");
    let bad_parts: Vec<(&str, &str, &[u8])> = vec![
        ("registry", "registry.csv", &registry),
        ("emissions", "../../etc/月度排放.csv", bad.as_bytes()),
    ];
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/tax",
        Some(&f.officer),
        None,
        Some(&bad_parts),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&body));
    let body = json(&text(&body));
    assert_eq!(body["code"], "bad-input");
    let details = body["details"].as_array().expect("details");
    let located: Vec<(u64, String)> = details
        .iter()
        .map(|d| {
            assert_eq!(d["file"], "月度排放.csv", "the label, never a path: {d}");
            (
                d["row"].as_u64().expect("a row"),
                d["column"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(located.contains(&(3, "month".to_string())), "{located:?}");
    assert!(
        located.contains(&(5, "pollutant".to_string())),
        "{located:?}"
    );
    assert!(!body.to_string().contains("npsc-upload-"), "{body}");

    // An enterprise missing from the registry is located at its row and column.
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen(T1, "91110000MA01ABCD1X", 1);
    let unknown = lines.join("\n") + "\n";
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/tax",
        Some(&f.officer),
        None,
        Some(&[
            ("registry", "registry.csv", &registry),
            ("emissions", "e.csv", unknown.as_bytes()),
        ]),
    )
    .await;
    let body = json(&text(&body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let detail = &body["details"][0];
    assert_eq!(
        (&detail["file"], &detail["row"], &detail["column"]),
        (&Value::from("e.csv"), &Value::from(4), &Value::from("uscc")),
        "{body}"
    );
    f.db.store.close().await;
}

/// Submits the sample as a run (province totals, the default) and returns its id.
async fn sample_run(f: &Served, query: &str) -> i64 {
    let (registry, activity) = (sample("registry.csv"), sample("activity.csv"));
    let parts: Vec<(&str, &str, &[u8])> = vec![
        ("registry", "registry.csv", &registry),
        ("activity", "activity.csv", &activity),
    ];
    let (status, _, body) = call(
        f,
        "POST",
        &format!("/api/v1/runs?set=npsc1-excerpt&edition=1{query}"),
        Some(&f.officer),
        None,
        Some(&parts),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    json(&text(&body))["run"]["id"].as_i64().expect("run id")
}

fn quota_inputs(reports: bool) -> app::quota::QuotaInputs {
    app::quota::QuotaInputs {
        registry: sample_dir().join("registry.csv"),
        activity: PathBuf::new(),
        caps: sample_dir().join("caps.csv"),
        targets: None,
        reports: reports.then(|| sample_dir().join("permit_reports.csv")),
        base_year: 2022,
        read: app::ReadOptions::default(),
    }
}

#[tokio::test]
async fn quota_of_a_stored_run_is_the_command_lines() {
    let f = fixture().await;
    let run = sample_run(&f, "").await;
    let reference = reference();
    let registry = sample("registry.csv");
    let caps = sample("caps.csv");
    let reports = sample("permit_reports.csv");
    let parts: Vec<(&str, &str, &[u8])> = vec![
        ("caps", "caps.csv", &caps),
        ("registry", "registry.csv", &registry),
        ("reports", "permit_reports.csv", &reports),
    ];
    let uri = format!("/api/v1/runs/{run}/quota?base_year=2022");
    // A reader may: nothing is stored.
    let (status, _, body) = call(&f, "POST", &uri, Some(&f.reader), None, Some(&parts)).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    // `npsc quota --run N --registry … --caps … --reports … --base-year 2022`.
    let (_, expected) = app::quota::quota_run(&f.db.store, run, &quota_inputs(true), &reference)
        .await
        .expect("quota");
    let sheets = expected.sheets(&reference, accounting::render::Precision::Exact);
    assert_views(&body, &sheets);
    assert_eq!(body["summary"], expected.summary().as_str());
    assert_eq!(body["content_hash"], common::EXCERPT_HASH);
    // EXPECTED.md: 河北 NOx exceeds its (synthetic) cap in both years, 山东 NOx is within.
    let ledger = rows(&body["views"][0]);
    let status_of = |year: &str, region: &str, pollutant: &str| {
        ledger
            .iter()
            .find(|r| r[0] == year && r[1] == region && r[3] == pollutant)
            .map(|r| r[8].clone())
            .expect("a ledger line")
    };
    assert_eq!(status_of("2022", "130000", "氮氧化物"), "exceeded");
    assert_eq!(status_of("2023", "130000", "氮氧化物"), "exceeded");
    assert_eq!(status_of("2022", "370000", "氮氧化物"), "within");
    let total_2022_hebei_nox: f64 = ledger
        .iter()
        .find(|r| r[0] == "2022" && r[1] == "130000" && r[3] == "氮氧化物")
        .map(|r| r[4].parse().expect("a number"))
        .expect("line");
    approx::assert_relative_eq!(total_2022_hebei_nox, 273.126, max_relative = 1e-9);
    assert!(
        provenance_value(&body, "caps").starts_with("upload:caps.csv (sha256 "),
        "{body}"
    );
    assert_eq!(provenance_value(&body, "base_year"), "2022");

    // Without permit reports: no enterprise compared, the ledger unchanged.
    let (status, _, body) = call(&f, "POST", &uri, Some(&f.reader), None, Some(&parts[..1])).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    assert_eq!(rows(&body["views"][0]), sheets[0].rows);
    assert!(rows(&body["views"][2]).is_empty());

    // A targets file replaces the 14th five-year plan's: progress for its pollutants only.
    let targets = "污染物,减排目标(%)\n氮氧化物,5\n".as_bytes();
    let (status, _, body) = call(
        &f,
        "POST",
        &uri,
        Some(&f.reader),
        None,
        Some(&[
            ("caps", "caps.csv", &caps),
            ("targets", "目标.csv", targets),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("targets.csv"), targets).expect("write");
    let mut inputs = quota_inputs(false);
    inputs.targets = Some(dir.path().join("targets.csv"));
    let (_, with_targets) = app::quota::quota_run(&f.db.store, run, &inputs, &reference)
        .await
        .expect("quota");
    let progress = with_targets.progress_sheet(&reference, accounting::render::Precision::Exact);
    assert!(!progress.rows.is_empty());
    assert!(progress.rows.iter().all(|r| r[2] == "氮氧化物"));
    assert_eq!(rows(&body["views"][1]), progress.rows);
    assert!(
        provenance_value(&body, "targets").starts_with("upload:目标.csv (sha256 "),
        "{body}"
    );

    // One view as CSV; every view and the provenance as a workbook.
    let (status, _, csv) = call(
        &f,
        "POST",
        &format!("{uri}&view=ledger&format=csv"),
        Some(&f.reader),
        None,
        Some(&parts),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&csv), app::sheet::render_csv(&sheets[0]).expect("csv"));
    let (status, headers, xlsx) =
        call(&f, "POST", &uri, Some(&f.reader), Some(XLSX), Some(&parts)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], XLSX);
    let mut book = workbook(xlsx);
    assert_eq!(
        book.sheet_names(),
        ["ledger", "progress", "above_permitted", "provenance"].map(String::from)
    );
    assert_eq!(cells(&mut book, "ledger").len(), sheets[0].rows.len() + 1);

    // Roles, parts, and a caps file with bad cells, every one located.
    let (status, _, _) = call(&f, "POST", &uri, None, None, Some(&parts)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = call(&f, "POST", &uri, Some(&f.reader), None, Some(&parts[..2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&body).contains("`reports`"), "{}", text(&body));
    let bad_caps = text(&caps)
        .replacen(",600\n", ",六百\n", 1)
        .replacen("150000,", "159999,", 1);
    let (status, _, body) = call(
        &f,
        "POST",
        &uri,
        Some(&f.reader),
        None,
        Some(&[("caps", "总量指标.csv", bad_caps.as_bytes())]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&body));
    let body = json(&text(&body));
    let details = body["details"].as_array().expect("details");
    assert!(details.len() >= 2, "{body}");
    for d in details {
        assert_eq!(d["file"], "总量指标.csv", "{d}");
        assert!(d["row"].as_u64().is_some_and(|r| r >= 2), "{d}");
        assert!(d["column"].is_string(), "{d}");
    }
    let (status, _, _) = call(
        &f,
        "POST",
        "/api/v1/runs/999/quota",
        Some(&f.reader),
        None,
        Some(&parts[..1]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A run of national totals cannot be set against provincial caps.
    let national = sample_run(&f, "&region_level=national").await;
    let (status, _, body) = call(
        &f,
        "POST",
        &format!("/api/v1/runs/{national}/quota"),
        Some(&f.reader),
        None,
        Some(&parts[..1]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    assert!(
        text(&body).contains("grouped by national"),
        "{}",
        text(&body)
    );
    f.db.store.close().await;
}

#[tokio::test]
async fn a_stored_run_holds_the_same_numbers_and_its_report_is_the_command_lines() {
    let f = fixture().await;
    let run = sample_run(&f, "").await;
    let reference = reference();
    let reader = Some(f.reader.as_str());

    // `npsc check-consistency RUN`.
    let uri = format!("/api/v1/runs/{run}/consistency");
    let (status, _, body) = call(&f, "GET", &uri, reader, None, None).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    let expected = app::consistency::check(&f.db.store, run, &reference, &tables())
        .await
        .expect("check");
    assert!(expected.holds());
    assert_eq!(body["holds"], true);
    assert_eq!(body["summary"], expected.summary().as_str());
    assert_eq!(body["content_hash"], common::EXCERPT_HASH);
    let checks = body["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), expected.checks.len());
    for path in ["statistics", "tax", "ledger"] {
        assert!(checks.iter().any(|c| c["path"] == path), "{path}");
    }
    for (c, e) in checks.iter().zip(&expected.checks) {
        assert_eq!(c["what"], e.what.as_str());
        let found: f64 = c["found"].as_str().expect("found").parse().expect("number");
        assert_eq!(found, e.found, "{c}");
        assert_eq!(c["agrees"], true);
    }
    for (token, status_expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (reader, StatusCode::NOT_FOUND),
    ] {
        let (status, _, _) =
            call(&f, "GET", "/api/v1/runs/999/consistency", token, None, None).await;
        assert_eq!(status, status_expected);
    }

    // `npsc report --run N` (province, all industries, the latest year: 2023).
    let report = app::report::StatisticsReport::from_run(
        &f.db.store,
        &reference,
        run,
        accounting::codes::RegionLevel::Province,
        None,
        vec![],
    )
    .await
    .expect("report");
    let sheets = report.sheets(2023);
    let (status, _, body) = call(
        &f,
        "GET",
        &format!("/api/v1/runs/{run}/report"),
        reader,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    assert_eq!(body["year"], 2023);
    assert_views(&body, &sheets);
    assert!(
        sheets[0].header.iter().any(|h| h.contains("（吨）")),
        "units in headers: {:?}",
        sheets[0].header
    );
    assert_eq!(
        provenance_value(&body, "content_hash"),
        common::EXCERPT_HASH
    );
    let (status, _, csv) = call(
        &f,
        "GET",
        &format!("/api/v1/runs/{run}/report?view=by-pollutant&format=csv"),
        reader,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&csv), app::sheet::render_csv(&sheets[2]).expect("csv"));
    let (status, headers, xlsx) = call(
        &f,
        "GET",
        &format!("/api/v1/runs/{run}/report?format=xlsx&year=2023"),
        reader,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], XLSX);
    let mut book = workbook(xlsx);
    assert_eq!(
        book.sheet_names(),
        ["按地区", "按行业", "按污染物", "同比", "provenance"].map(String::from)
    );
    let by_region = cells(&mut book, "按地区");
    assert_eq!(by_region[0], sheets[0].header);
    assert_eq!(by_region.len(), sheets[0].rows.len() + 1);
    let provenance = cells(&mut book, "provenance");
    assert!(
        provenance
            .iter()
            .any(|r| r[0] == "content_hash" && r[1] == common::EXCERPT_HASH),
        "{provenance:?}"
    );
    for (query, why) in [
        ("year=1999", "no year 1999"),
        ("region_level=planet", "planet"),
        ("format=csv", "CSV holds one view"),
    ] {
        let (status, _, body) = call(
            &f,
            "GET",
            &format!("/api/v1/runs/{run}/report?{query}"),
            reader,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(text(&body).contains(why), "{query}: {}", text(&body));
    }

    // The charts: `app`'s SVG, served as SVG with a policy of its own.
    let so2 = reference.pollutants.lookup("SO2").expect("SO2");
    let hebei = accounting::codes::RegionCode::parse("130000").expect("code");
    for (uri, expected) in [
        (
            format!("/api/v1/runs/{run}/charts/regional?pollutant=SO2&year=2023"),
            report.regional_bars_svg(so2, 2023).expect("bars"),
        ),
        (
            format!(
                "/api/v1/runs/{run}/charts/regional?pollutant=%E4%BA%8C%E6%B0%A7%E5%8C%96%E7%A1%AB"
            ),
            report.regional_bars_svg(so2, 2023).expect("bars"),
        ),
        (
            format!("/api/v1/runs/{run}/charts/year-over-year"),
            report.yoy_lines_svg(None).expect("lines"),
        ),
        (
            format!("/api/v1/runs/{run}/charts/year-over-year?region=130000"),
            report.yoy_lines_svg(Some(hebei)).expect("lines"),
        ),
    ] {
        let (status, headers, body) = call(&f, "GET", &uri, reader, None, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {}", text(&body));
        assert_eq!(headers["content-type"], "image/svg+xml", "{uri}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .expect("policy")
                .starts_with("default-src 'none'"),
            "{uri}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let svg = text(&body);
        assert_eq!(svg, expected, "{uri}");
        app::report::check_svg(&svg).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert!(!svg.contains("<script") && !svg.contains("href"), "{uri}");
    }
    for (uri, why) in [
        ("charts/regional?pollutant=PLUTONIUM", "PLUTONIUM"),
        ("charts/regional?year=1999", "no year 1999"),
        ("charts/year-over-year?region=13", "six-digit"),
        ("charts/year-over-year?region=650000", "no totals"),
    ] {
        let (status, _, body) = call(
            &f,
            "GET",
            &format!("/api/v1/runs/{run}/{uri}"),
            reader,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {}", text(&body));
        assert!(text(&body).contains(why), "{uri}: {}", text(&body));
    }
    let (status, _, _) = call(
        &f,
        "GET",
        &format!("/api/v1/runs/{run}/charts/regional"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    f.db.store.close().await;
}

/// The sample's rows of enterprises in 河北 (13) and 山东 (37), whose counties have rates in
/// the bundled 2018 table (内蒙古's have none), with the header. A row without a USCC names its
/// enterprise by the permit number in the next column, which starts with the USCC.
fn hebei_and_shandong(file: &str, uscc_column: usize) -> Vec<u8> {
    let original = text(&sample(file));
    let mut lines = original.lines();
    let mut out = format!("{}\n", lines.next().expect("header"));
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let id = match fields[uscc_column] {
            "" => fields[uscc_column + 1],
            uscc => uscc,
        };
        if matches!(&id[2..4], "13" | "37") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// `npsc tax --registry … --coefficients coefficients/npsc1-excerpt --activity … --reports …`
/// on files in `dir`, with `tables`.
fn cli_tax_of_reports(dir: &Path, tables: &app::tax::TaxTables) -> app::tax::Declaration {
    let reference = reference();
    let read = app::ReadOptions::default();
    let mut settings = app::reconcile::ReconcileParameters::default().settings(
        sample_dir().join("registry.csv"),
        dir.join("activity.csv"),
        dir.join("permit_reports.csv"),
        read.clone(),
    );
    settings.account.coefficients = excerpt();
    let set = app::account::load_coefficients(&settings.account, &reference).expect("set");
    let report = app::reconcile::reconcile_with(&set, &settings, &reference).expect("reconcile");
    let allocated = app::tax::from_records(
        &report.records,
        None,
        &reference,
        tables,
        Particulates::default(),
    )
    .expect("allocated");
    let registry = app::registry::read_file(&sample_dir().join("registry.csv"), &reference, &read)
        .expect("registry");
    app::tax::compute_monitored(
        &allocated.rows,
        "records",
        &registry,
        tables,
        TaxSettings::default(),
    )
    .expect("declaration")
}

#[tokio::test]
async fn the_tax_of_a_stored_reconciliation_is_the_tax_of_its_numbers_of_record() {
    let f = fixture().await;
    let activity = hebei_and_shandong("activity.csv", 1);
    let reports = hebei_and_shandong("permit_reports.csv", 0);
    let registry = sample("registry.csv");
    let parts: Vec<(&str, &str, &[u8])> = vec![
        ("registry", "registry.csv", &registry),
        ("activity", "activity.csv", &activity),
        ("reports", "permit_reports.csv", &reports),
    ];
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/reconciliations?set=npsc1-excerpt&edition=1",
        Some(&f.officer),
        None,
        Some(&parts),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let id = json(&text(&body))["reconciliation"]["id"]
        .as_i64()
        .expect("id");
    let uri = format!("/api/v1/reconciliations/{id}/tax");

    // The counties come from the stored registry: before it is imported, every enterprise is
    // an issue located in the reconciliation's records view.
    let (status, _, body) = call(&f, "GET", &uri, Some(&f.officer), None, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&body));
    let body = json(&text(&body));
    assert!(
        body["message"].as_str().is_some_and(
            |m| m.starts_with(&format!("the numbers of record of reconciliation {id}"))
        ),
        "{body}"
    );
    // One issue per enterprise (the sample's 河北 and 山东 ones with numbers of record).
    let details = body["details"].as_array().expect("details");
    let enterprises: std::collections::BTreeSet<&str> = details
        .iter()
        .map(|d| d["value"].as_str().expect("uscc"))
        .collect();
    assert_eq!(enterprises.len(), details.len(), "{body}");
    assert!(enterprises.contains(T1), "{body}");
    let detail = &details[0];
    assert_eq!(detail["file"], format!("reconciliation {id}, records"));
    assert_eq!(detail["column"], "uscc");
    assert!(detail["row"].as_u64().is_some_and(|r| r >= 2), "{detail}");
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/registry",
        Some(&f.admin),
        None,
        Some(&[("file", "registry.csv", &registry)]),
    )
    .await;
    assert!(status.is_success(), "{}", text(&body));

    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(f.reader.as_str()), StatusCode::FORBIDDEN),
    ] {
        let (status, _, _) = call(&f, "GET", &uri, token, None, None).await;
        assert_eq!(status, expected);
    }
    let (status, _, body) = call(&f, "GET", &uri, Some(&f.officer), None, None).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));

    // The command line's tax of the same files (per outlet numbers of record).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("activity.csv"), &activity).expect("write");
    std::fs::write(dir.path().join("permit_reports.csv"), &reports).expect("write");
    let expected = cli_tax_of_reports(dir.path(), &tables());
    let served = rows(&body["views"][0]);
    let cli = expected.declaration_sheet().rows;
    // Columns: 2 uscc, 5 outlet_id, 7 item, 8 kg, 15 tax.
    let of = |lines: &[Vec<String>], keep: &dyn Fn(&[String]) -> bool| -> Vec<Vec<String>> {
        lines.iter().filter(|l| keep(l)).cloned().collect()
    };
    let single = |l: &[String]| l[2] != TWO_OUTLETS;
    assert!(!of(&cli, &single).is_empty());
    assert_eq!(of(&served, &single), of(&cli, &single));
    // The enterprise with two outlets: one outlet `DA001+DA002` carrying their sum.
    let merged = of(&served, &|l| l[2] == TWO_OUTLETS);
    assert!(!merged.is_empty());
    for line in &merged {
        assert_eq!(line[5], "DA001+DA002", "{line:?}");
        let sum: f64 = cli
            .iter()
            .filter(|c| c[2] == TWO_OUTLETS && c[1] == line[1] && c[7] == line[7])
            .map(|c| c[8].parse::<f64>().expect("kg"))
            .sum();
        let kg: f64 = line[8].parse().expect("kg");
        approx::assert_relative_eq!(kg, sum, max_relative = 1e-12);
    }
    let allocation = provenance_value(&body, "allocation");
    assert!(allocation.starts_with("equal twelfths"), "{allocation}");
    assert!(
        allocation.contains(&format!("2022 {TWO_OUTLETS} DA001+DA002")),
        "{allocation}"
    );
    assert_eq!(
        provenance_value(&body, "content_hash"),
        common::EXCERPT_HASH
    );

    // One year, one view as CSV, and the workbook.
    let (status, _, body) = call(
        &f,
        "GET",
        &format!("{uri}?year=2023&view=totals"),
        Some(&f.officer),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body = json(&text(&body));
    let quarters: Vec<String> = rows(&body["views"][0])
        .into_iter()
        .map(|r| r[0].clone())
        .filter(|q| q != "合计")
        .collect();
    assert!(!quarters.is_empty() && quarters.iter().all(|q| q.starts_with("2023Q")));
    let (status, _, xlsx) = call(&f, "GET", &uri, Some(&f.officer), Some(XLSX), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        workbook(xlsx).sheet_names(),
        ["declaration", "totals", "provenance"].map(String::from)
    );
    let (status, _, _) = call(
        &f,
        "GET",
        "/api/v1/reconciliations/999/tax",
        Some(&f.officer),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    f.db.store.close().await;
}

#[tokio::test]
async fn the_tax_takes_the_rate_table_published_in_the_database() {
    let f = fixture().await;
    let (registry, activity, reports) = (
        sample("registry.csv"),
        sample("activity.csv"),
        sample("permit_reports.csv"),
    );
    let parts: Vec<(&str, &str, &[u8])> = vec![
        ("registry", "registry.csv", &registry),
        ("activity", "activity.csv", &activity),
        ("reports", "permit_reports.csv", &reports),
    ];
    let (status, _, body) = call(
        &f,
        "POST",
        "/api/v1/reconciliations?set=npsc1-excerpt&edition=1",
        Some(&f.officer),
        None,
        Some(&parts),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let id = json(&text(&body))["reconciliation"]["id"]
        .as_i64()
        .expect("id");
    let (status, _, _) = call(
        &f,
        "POST",
        "/api/v1/registry",
        Some(&f.admin),
        None,
        Some(&[("file", "registry.csv", &registry)]),
    )
    .await;
    assert!(status.is_success());
    let uri = format!("/api/v1/reconciliations/{id}/tax");

    // The bundled 2018 rates have none for 内蒙古: every such month and item is named.
    let (status, _, body) = call(&f, "GET", &uri, Some(&f.officer), None, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", text(&body));
    let body = json(&text(&body));
    let details = body["details"].as_array().expect("details");
    assert!(!details.is_empty());
    for d in details {
        let message = d["message"].as_str().expect("message");
        assert!(
            message.contains("tax rate") && message.contains(" in region 15"),
            "{d}"
        );
    }

    // An administrator publishes rates with 内蒙古's (synthetic) added: the same request now
    // taxes every enterprise with them, as the command line does with that table as a file.
    let mut rates = text(
        &std::fs::read(common::repo().join("datasets/reference/tax_rates_2018.csv"))
            .expect("rates"),
    );
    rates.push_str("150000,内蒙古自治区,air,*,1.2,2018-01-01,test only\n");
    rates.push_str("150000,内蒙古自治区,water,*,1.4,2018-01-01,test only\n");
    let admin = bearer(&f.admin);
    for (uri, content_type, body) in [
        (
            "/api/v1/reference-tables/tax-rates/drafts?kind=tax-rates",
            "text/csv",
            rates.clone().into_bytes(),
        ),
        (
            "/api/v1/reference-tables/tax-rates/editions/1/publish",
            "application/json",
            br#"{"note": "2018 decisions and test rates for Inner Mongolia"}"#.to_vec(),
        ),
    ] {
        let (status, _, body) = request(
            &f.state,
            "POST",
            uri,
            &[
                ("authorization", admin.as_str()),
                ("content-type", content_type),
            ],
            body,
        )
        .await;
        assert!(status.is_success(), "{uri}: {status} {body}");
    }
    let (status, _, body) = call(&f, "GET", &uri, Some(&f.officer), None, None).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    assert!(
        provenance_value(&body, "rates").starts_with("tax-rates@1"),
        "{}",
        provenance_value(&body, "rates")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in [
        ("activity.csv", &activity),
        ("permit_reports.csv", &reports),
        ("rates.csv", &rates.clone().into_bytes()),
    ] {
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    let tables = app::tax::tables_with(
        None,
        Some(&dir.path().join("rates.csv")),
        None,
        &app::ReadOptions::default(),
    )
    .expect("tables");
    let expected = cli_tax_of_reports(dir.path(), &tables)
        .declaration_sheet()
        .rows;
    let single = |lines: Vec<Vec<String>>| -> Vec<Vec<String>> {
        lines.into_iter().filter(|l| l[2] != TWO_OUTLETS).collect()
    };
    let served = single(rows(&body["views"][0]));
    assert!(
        served.iter().any(|l| l[4].starts_with("15")),
        "内蒙古 is taxed"
    );
    assert_eq!(served, single(expected));
    f.db.store.close().await;
}
