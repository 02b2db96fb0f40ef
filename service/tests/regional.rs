//! `POST /api/v1/regional-totals` through `service::router` without a socket, on a real SQLite
//! store: the sample stored as a run, its 2022 key units kept and published, the SYNTHETIC
//! category files uploaded. The answer equals what `app` computes for the command line, the
//! hand-computed 石家庄 COD figure is there, the workbook opens, a reader may ask, and bad input
//! is refused before or after the upload is read, as it should be.

mod common;

use std::io::Cursor;

use axum::http::{HeaderMap, StatusCode};
use calamine::Reader;
use common::{Served, bearer, form, json, multipart, request_bytes, sample};
use serde_json::Value;

const BOUNDARY: &str = "npsc-regional-boundary";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn category(name: &str) -> Vec<u8> {
    std::fs::read(common::sample_dir().join("categories").join(name)).expect("category file")
}

async fn call(
    f: &Served,
    uri: &str,
    token: Option<&str>,
    accept: Option<&str>,
    parts: &[(&str, &str, &[u8])],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let auth = token.map(bearer);
    let content_type = multipart(BOUNDARY);
    let mut headers = vec![("content-type", content_type.as_str())];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    if let Some(accept) = accept {
        headers.push(("accept", accept));
    }
    request_bytes(&f.state, "POST", uri, &headers, form(BOUNDARY, parts)).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// Stores the sample as a run (by the officer), keeps its 2022 key units per prefecture and
/// publishes them as `key-units@1`; returns the run.
async fn setup(f: &Served) -> i64 {
    let (registry, activity) = (sample("registry.csv"), sample("activity.csv"));
    let parts: Vec<(&str, &str, &[u8])> = vec![
        ("registry", "registry.csv", &registry),
        ("activity", "activity.csv", &activity),
    ];
    let auth = bearer(&f.officer);
    let content_type = multipart(BOUNDARY);
    let (status, _, body) = request_bytes(
        &f.state,
        "POST",
        "/api/v1/runs?set=npsc1-excerpt&edition=1",
        &[
            ("authorization", auth.as_str()),
            ("content-type", content_type.as_str()),
        ],
        form(BOUNDARY, &parts),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", text(&body));
    let run = json(&text(&body))["run"]["id"].as_i64().expect("run id");
    let reference = app::reference::bundled().expect("reference");
    let settings = app::keyunits::KeyUnitSettings {
        year: Some(2022),
        ..Default::default()
    };
    let report = app::keyunits::select(&f.db.store, run, &settings, &reference)
        .await
        .expect("select");
    app::keyunits::store_list(&f.db.store, "key-units", &report, &reference, "setup")
        .await
        .expect("store");
    app::reference_tables::publish(
        &f.db.store,
        "key-units",
        None,
        "2022 base",
        "setup",
        &app::ReadOptions::default(),
    )
    .await
    .expect("publish");
    run
}

fn uri(run: i64, extra: &str) -> String {
    format!("/api/v1/regional-totals?base_run={run}&base_year=2022&run={run}&year=2023{extra}")
}

#[tokio::test]
async fn regional_totals_by_category_are_the_command_lines() {
    let f = Served::new("officer", "statistics office", "admin").await;
    let run = setup(&f).await;
    let files: Vec<(&str, &str, Vec<u8>)> = [
        ("source_coefficients", "source_coefficients.csv"),
        ("domestic", "domestic.csv"),
        ("livestock", "livestock.csv"),
        ("plants", "plants.csv"),
        ("mobile", "mobile.csv"),
    ]
    .into_iter()
    .map(|(field, name)| (field, name, category(name)))
    .collect();
    let parts: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(field, name, bytes)| (*field, *name, bytes.as_slice()))
        .collect();
    // A reader may ask: nothing is stored.
    let (status, _, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        Some(&f.reader),
        None,
        &parts,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let body = json(&text(&body));
    // What the command line computes with the same files.
    let reference = app::reference::bundled().expect("reference");
    let settings = app::keyunits::EstimateSettings {
        base_run: run,
        base_year: Some(2022),
        current_run: run,
        current_year: Some(2023),
        key_units: app::reference_tables::TableChoice::Stored("key-units@1".to_string()),
        level: None,
        adjustment: None,
        numbers_of_record: None,
    };
    let estimate = app::keyunits::estimate(
        &f.db.store,
        &settings,
        &reference,
        &app::ReadOptions::default(),
    )
    .await
    .expect("estimate");
    let file = |name: &str| {
        Some(app::categories::CategoryFile {
            label: name.to_string(),
            bytes: category(name),
        })
    };
    let category_files = app::categories::CategoryFiles {
        coefficients: file("source_coefficients.csv"),
        domestic: file("domestic.csv"),
        livestock: file("livestock.csv"),
        plants: file("plants.csv"),
        mobile: file("mobile.csv"),
    };
    let level = accounting::codes::RegionLevel::Prefecture;
    let (area, report) = app::categories::categories(
        &estimate,
        &category_files,
        level,
        &reference,
        &app::ReadOptions::default(),
    )
    .expect("categories");
    let (sheets, provenance) = app::categories::regional_views(
        &estimate,
        Some((&area, &report)),
        level,
        &reference,
        accounting::render::Precision::Exact,
    )
    .expect("views");
    let views = body["views"].as_array().expect("views");
    assert_eq!(
        views.iter().map(|v| v["name"].clone()).collect::<Vec<_>>(),
        sheets
            .iter()
            .map(|s| Value::from(s.name.as_str()))
            .collect::<Vec<_>>()
    );
    for (view, sheet) in views.iter().zip(&sheets) {
        assert_eq!(view["columns"], serde_json::json!(sheet.header));
        let rows = view["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), sheet.rows.len(), "{}", sheet.name);
        for (row, cells) in rows.iter().zip(&sheet.rows) {
            for (column, cell) in sheet.header.iter().zip(cells) {
                assert_eq!(row[column], cell.as_str(), "{} {column}", sheet.name);
            }
        }
    }
    let lines = body["provenance"].as_array().expect("provenance");
    assert_eq!(lines.len(), provenance.len());
    assert!(
        lines.iter().any(|l| l["key"] == "input_plants"
            && l["value"]
                .as_str()
                .is_some_and(|v| v.starts_with("plants.csv (sha256 "))),
        "{lines:?}"
    );
    // EXPECTED (README of the category files): 石家庄 COD 2023 = 26 300 + 676.13 t.
    let categories = &views[0]["rows"];
    let shijiazhuang = categories
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["region_code"] == "130100" && r["pollutant"] == "COD")
        .expect("石家庄 COD");
    let total: f64 = shijiazhuang["total"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("total");
    approx::assert_relative_eq!(total, 26_976.13, max_relative = 1e-12);
    // One view as CSV; every view and the provenance as a workbook.
    let (status, _, body) = call(
        &f,
        &uri(
            run,
            "&key_units=key-units@1&report_level=prefecture&view=shares&format=csv",
        ),
        Some(&f.reader),
        None,
        &parts,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&body).starts_with("region_code,region,pollutant,unit,category,"));
    let (status, headers, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        Some(&f.reader),
        Some(XLSX),
        &parts,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], XLSX);
    let book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(body)).expect("the workbook opens");
    let names = book.sheet_names();
    for name in [
        "categories",
        "shares",
        "estimate",
        "domestic_balance",
        "provenance",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    f.db.store.close().await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_bad_files_get_every_located_issue() {
    let f = Served::new("officer", "reader", "admin").await;
    let run = setup(&f).await;
    let coefficients = category("source_coefficients.csv");
    let domestic = category("domestic.csv");
    // No token: 401, before anything else.
    let (status, _, _) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A path is never a key-unit list; an unknown level, view or part is a 400.
    for extra in [
        "&key_units=../../etc/passwd",
        "&key_units=key-units@1&report_level=town",
        "&key_units=key-units@1&view=everything",
        "&key_units=key-units@1&adjustment=0.9",
    ] {
        let (status, _, body) = call(&f, &uri(run, extra), Some(&f.reader), None, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {}", text(&body));
    }
    let (status, _, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        Some(&f.reader),
        None,
        &[("population", "p.csv", &domestic)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    // Domestic activity needs the coefficient table.
    let (status, _, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        Some(&f.reader),
        None,
        &[("domestic", "domestic.csv", &domestic)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    // A bad domestic file: every problem located in the upload's own name.
    let bad = "年份,行政区划代码,来源,活动水平,计量单位,天数\n\
               2023,130100,城镇居民,100,万人,\n\
               2023,130100,农村居民,100,万人,365\n";
    let (status, _, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=prefecture"),
        Some(&f.reader),
        None,
        &[
            ("source_coefficients", "c.csv", &coefficients),
            ("domestic", "d.csv", bad.as_bytes()),
        ],
    )
    .await;
    let body = json(&text(&body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details: Vec<(Value, Value, Value)> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| (d["file"].clone(), d["row"].clone(), d["column"].clone()))
        .collect();
    assert_eq!(
        details,
        [
            (Value::from("d.csv"), Value::from(2), Value::from("天数")),
            (Value::from("d.csv"), Value::from(3), Value::from("来源")),
        ],
        "{body}"
    );
    // Too fine a level for the inputs.
    let (status, _, body) = call(
        &f,
        &uri(run, "&key_units=key-units@1&report_level=county"),
        Some(&f.reader),
        None,
        &[
            ("source_coefficients", "c.csv", &coefficients),
            ("domestic", "d.csv", &domestic),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
    f.db.store.close().await;
}
