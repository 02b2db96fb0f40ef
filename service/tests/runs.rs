//! Accounting runs, statistics and impact over HTTP, through `service::router` without a socket:
//! the bundled sample submitted as files and as JSON, its totals checked against the CLI's
//! figures (`datasets/sample-synthetic/expected_totals.csv`), roles, all-or-nothing bad input,
//! provenance of pinned and dated editions, statistics at several levels, CSV variants, stale
//! runs after a new edition, and the impact of that edition.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{EXCERPT_HASH, Served as Fixture, bearer, json, multipart, request, sample};
use serde_json::Value;

const BOUNDARY: &str = "npsc-runs-boundary";

/// `npsc1-excerpt@1` published, and officer, reader and admin tokens.
async fn fixture() -> Fixture {
    Fixture::new("statistics office", "tax office", "provincial office").await
}

/// Publishes `npsc1-excerpt@2`: the 4411 flue-gas coefficient 8271 → 9000, in force from
/// 2025-01-01.
async fn publish_second_edition(f: &Fixture) {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = common::excerpt();
    for name in ["manifest.toml", "coefficients.csv"] {
        let text = std::fs::read_to_string(from.join(name)).expect("excerpt");
        let text = text.replace("8271,直排,,8271", "9000,直排,,9000").replace(
            "effective_from = \"2008-01-01\"",
            "effective_from = \"2025-01-01\"",
        );
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    f.db.import(dir.path()).await;
    let info = f.db.publish("flue gas").await;
    assert_eq!(info.edition, 2);
}

/// A GET through `f`'s state with `headers`: status and body.
async fn get(f: &Fixture, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let (status, _, body) = common::get(&f.state, uri, headers).await;
    (status, body)
}

/// A JSON body posted by `f`'s officer: status and body.
async fn post_json(f: &Fixture, uri: &str, body: Vec<u8>) -> (StatusCode, String) {
    common::send(
        &f.state,
        "POST",
        uri,
        Some(&f.officer),
        "application/json",
        body,
    )
    .await
}

/// A multipart form with the parts `registry` and `activity`.
fn form(registry: (&str, &[u8]), activity: (&str, &[u8])) -> Vec<u8> {
    common::form(
        BOUNDARY,
        &[
            ("registry", registry.0, registry.1),
            ("activity", activity.0, activity.1),
        ],
    )
}

async fn submit(f: &Fixture, query: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let multipart = multipart(BOUNDARY);
    let auth = bearer(token);
    let (status, _, text) = request(
        &f.state,
        "POST",
        &format!("/api/v1/runs?{query}"),
        &[
            ("authorization", auth.as_str()),
            ("content-type", multipart.as_str()),
        ],
        body,
    )
    .await;
    (status, json(&text))
}

async fn submit_sample(f: &Fixture, query: &str) -> Value {
    let body = form(
        ("registry.csv", &sample("registry.csv")),
        ("activity.csv", &sample("activity.csv")),
    );
    let (status, run) = submit(f, query, &f.officer, body).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run
}

/// The CLI's figures: (year, province, pollutant name) → (generated, emitted, rows); the file
/// also holds the national lines, under `000000`.
fn expected_all() -> BTreeMap<(u16, String, String), (f64, f64, u64)> {
    let text = String::from_utf8(sample("expected_totals.csv")).expect("utf-8");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let c: Vec<&str> = line.split(',').collect();
            (
                (
                    c[0].parse().expect("year"),
                    c[1].to_string(),
                    c[2].to_string(),
                ),
                (
                    c[3].parse().expect("generated"),
                    c[4].parse().expect("emitted"),
                    c[6].parse().expect("rows"),
                ),
            )
        })
        .collect()
}

/// The province lines of the CLI's figures.
fn expected() -> BTreeMap<(u16, String, String), (f64, f64, u64)> {
    expected_all()
        .into_iter()
        .filter(|((_, code, _), _)| code != "000000")
        .collect()
}

fn number(value: &Value) -> f64 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a number as a string: {value}"))
        .parse()
        .expect("number")
}

/// Province lines (`region_code`, `pollutant`, `generated`, `emitted`, `rows`) against the CLI.
fn assert_province_totals(lines: &Value, name_key: &str) {
    let expected = expected();
    let lines = lines.as_array().expect("lines");
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for line in lines {
        let key = (
            u16::try_from(line["year"].as_u64().expect("year")).expect("year"),
            line["region_code"].as_str().expect("region").to_string(),
            line[name_key].as_str().expect("pollutant").to_string(),
        );
        let (generated, emitted, rows) = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected line {key:?}"));
        approx::assert_relative_eq!(number(&line["generated"]), *generated, max_relative = 1e-9);
        approx::assert_relative_eq!(number(&line["emitted"]), *emitted, max_relative = 1e-9);
        assert_eq!(line["rows"].as_u64(), Some(*rows), "{key:?}");
    }
}

/// A CSV file (no quoted fields) as a JSON array of objects; numbers stay strings except the
/// year and the activity, which become JSON numbers; empty cells are null.
fn csv_to_json(bytes: &[u8]) -> Value {
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    Value::Array(
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut object = serde_json::Map::new();
                for (key, cell) in header.iter().zip(line.split(',')) {
                    let value = if cell.is_empty() {
                        Value::Null
                    } else if matches!(*key, "year" | "activity") {
                        serde_json::from_str(cell).expect("number")
                    } else {
                        Value::String(cell.to_string())
                    };
                    object.insert((*key).to_string(), value);
                }
                Value::Object(object)
            })
            .collect(),
    )
}

#[tokio::test]
async fn the_sample_as_files_gives_the_clis_totals_with_provenance() {
    let f = fixture().await;
    let run = submit_sample(&f, "set=npsc1-excerpt&edition=1").await;
    let r = &run["run"];
    assert_eq!(r["edition"]["name"], "npsc1-excerpt@1");
    assert_eq!(r["edition"]["content_hash"], EXCERPT_HASH);
    assert_eq!(r["selector"], "npsc1-excerpt@1");
    assert_eq!(r["rule"], Value::Null);
    assert_eq!(r["actor"], "statistics office");
    assert_eq!(r["region_level"], "province");
    assert_eq!(r["industry_level"], "all");
    let activity_hash = app::upload::sha256(&sample("activity.csv"));
    assert_eq!(r["inputs"][1]["label"], "activity.csv");
    assert_eq!(r["inputs"][1]["uploaded"], true);
    assert_eq!(r["inputs"][1]["sha256"], activity_hash.as_str());
    assert_eq!(r["inputs"][0]["role"], "registry");
    let s = &run["summary"];
    assert_eq!(
        (
            &s["rows_read"],
            &s["rows_accounted"],
            &s["rows_excluded"],
            &s["rows_unaccounted"]
        ),
        (&67.into(), &65.into(), &1.into(), &1.into())
    );
    assert_eq!(s["unaccounted_groups"][0]["rows"], 1);
    assert_province_totals(&run["totals"], "pollutant");

    // Read back: the run, its totals, its results naming their coefficient rows.
    let id = r["id"].as_i64().expect("id");
    let auth = bearer(&f.reader);
    let reader = [("authorization", auth.as_str())];
    let (status, body) = get(&f, &format!("/api/v1/runs/{id}"), &reader).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["edition"]["content_hash"], EXCERPT_HASH);
    let (status, body) = get(&f, "/api/v1/runs", &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)[0]["id"], id);
    let (status, body) = get(&f, &format!("/api/v1/runs/{id}/totals"), &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_province_totals(&json(&body)["totals"], "pollutant");

    let (status, body) = get(
        &f,
        &format!("/api/v1/runs/{id}/results?per_page=4&page=2"),
        &reader,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], s["results"]);
    let results = page["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    for result in results {
        assert_eq!(result["coefficient"]["content_hash"], EXCERPT_HASH);
        assert_eq!(result["coefficient"]["edition"], 1);
        assert_eq!(result["coefficient"]["set_id"], "npsc1-excerpt");
        assert!(
            result["coefficient"]["row"]
                .as_u64()
                .is_some_and(|r| r >= 2)
        );
    }
    // The first data row of the file is row 2: page 2 of 4 starts within the first rows.
    assert!(results[0]["activity_row"].as_u64().is_some_and(|r| r >= 2));

    // CSV variants, by query and by Accept.
    let (status, csv) = get(&f, &format!("/api/v1/runs/{id}/totals?format=csv"), &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("run,year,region_code,industry_code,pollutant_code"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), expected().len() + 1);
    assert!(csv.contains(EXCERPT_HASH));
    let accept = [("authorization", auth.as_str()), ("accept", "text/csv")];
    let (status, csv2) = get(&f, &format!("/api/v1/runs/{id}/totals"), &accept).await;
    assert_eq!((status, &csv2), (StatusCode::OK, &csv));
    let (status, csv) = get(&f, &format!("/api/v1/runs/{id}/results"), &accept).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("run,activity_row,year,uscc"), "{csv}");
    assert_eq!(
        csv.lines().count() as u64,
        s["results"].as_u64().expect("results") + 1
    );
    let (status, body) = get(&f, "/api/v1/runs/999", &reader).await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not-found"))
    );

    // Counted in the metrics.
    let (_, metrics) = get(&f, "/metrics", &[]).await;
    assert!(
        metrics.contains("npsc_runs_total{outcome=\"stored\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_sample_as_json_gives_the_same_totals() {
    let f = fixture().await;
    let body = serde_json::json!({
        "registry": csv_to_json(&sample("registry.csv")),
        "activity": csv_to_json(&sample("activity.csv")),
    });
    let (status, text) = post_json(
        &f,
        "/api/v1/runs?set=npsc1-excerpt&at=2024-03-20&rule=next-month",
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let run = json(&text);
    assert_province_totals(&run["totals"], "pollutant");
    // Resolved by date: the rule and the date are recorded with the edition they chose.
    let r = &run["run"];
    assert_eq!(r["selector"], "npsc1-excerpt");
    assert_eq!(r["rule"], "next-month");
    assert_eq!(r["date"], "2024-03-20");
    assert_eq!(r["edition"]["name"], "npsc1-excerpt@1");
    assert_eq!(r["inputs"][0]["label"], "registry.json");
    assert_eq!(r["inputs"][1]["label"], "activity.json");
    assert_eq!(run["summary"]["rows_read"], 67);

    // The README's example body: one enterprise, one row keyed partly in Chinese.
    let readme = std::fs::read_to_string(common::repo().join("README.md")).expect("README");
    let start = readme
        .find("-d '{\n  \"registry\"")
        .expect("the README example")
        + 4;
    let end = start + readme[start..].find("}' 'localhost").expect("its end") + 1;
    let (status, text) = post_json(
        &f,
        "/api/v1/runs?set=npsc1-excerpt&at=2024-03-20&rule=next-month",
        readme.as_bytes()[start..end].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(json(&text)["summary"]["rows_accounted"], 1, "{text}");

    // A JSON upload with a bad element is located by element.
    let mut activity = csv_to_json(&sample("activity.csv"));
    activity[4]["activity"] = serde_json::json!([1, 2]);
    let body =
        serde_json::json!({"registry": csv_to_json(&sample("registry.csv")), "activity": activity});
    let (status, text) = post_json(
        &f,
        "/api/v1/runs?set=npsc1-excerpt",
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let error = json(&text);
    let detail = &error["details"][0];
    assert_eq!(
        (
            detail["code"].as_str(),
            detail["file"].as_str(),
            detail["row"].as_u64(),
            detail["column"].as_str()
        ),
        (
            Some("json-nested-value"),
            Some("activity.json"),
            Some(5),
            Some("activity")
        )
    );
    let (status, text) = post_json(
        &f,
        "/api/v1/runs?set=npsc1-excerpt",
        br#"{"registry": []}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("`activity`"), "{text}");
}

#[tokio::test]
async fn roles_and_all_or_nothing() {
    let f = fixture().await;
    let body = || {
        form(
            ("registry.csv", &sample("registry.csv")),
            ("activity.csv", &sample("activity.csv")),
        )
    };
    let multipart = multipart(BOUNDARY);
    let (status, _, text) = request(
        &f.state,
        "POST",
        "/api/v1/runs?set=npsc1-excerpt",
        &[("content-type", multipart.as_str())],
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let (status, error) = submit(&f, "set=npsc1-excerpt", &f.reader, body()).await;
    assert_eq!(
        (status, &error["code"]),
        (StatusCode::FORBIDDEN, &"forbidden".into())
    );
    let (status, _) = submit(&f, "set=npsc1-excerpt", &f.admin, body()).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an administrator may account too"
    );

    // Bad activity: every located issue, and nothing stored.
    let activity = String::from_utf8(sample("activity.csv"))
        .expect("utf-8")
        .replacen("\n2022,", "\n20x2,", 1)
        .replace(",612000,头,", ",6l2000,头,");
    let (status, error) = submit(
        &f,
        "set=npsc1-excerpt",
        &f.officer,
        form(
            ("registry.csv", &sample("registry.csv")),
            ("../../secret/活动.csv", activity.as_bytes()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "bad-input");
    let details = error["details"].as_array().expect("details");
    let located: Vec<(String, u64, String)> = details
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap_or_default().to_string(),
                d["row"].as_u64().unwrap_or_default(),
                d["column"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        located.contains(&("活动.csv".to_string(), 2, "year".to_string())),
        "{located:?}"
    );
    assert!(
        located.contains(&("活动.csv".to_string(), 2, "activity".to_string())),
        "{located:?}"
    );
    assert!(
        !error.to_string().contains("npsc-upload-"),
        "temporary paths never show: {error}"
    );
    // Unaccounted rows refused on request.
    let (status, error) = submit(
        &f,
        "set=npsc1-excerpt&deny_unaccounted=true",
        &f.officer,
        body(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let auth = bearer(&f.reader);
    let (_, list) = get(&f, "/api/v1/runs", &[("authorization", auth.as_str())]).await;
    assert_eq!(
        json(&list).as_array().map(Vec::len),
        Some(1),
        "only the administrator's run is stored"
    );
    let (_, metrics) = get(&f, "/metrics", &[]).await;
    assert!(
        metrics.contains("npsc_runs_total{outcome=\"rejected\"} 2"),
        "{metrics}"
    );

    // Bad parameters and missing parts.
    for (query, code) in [
        (
            "set=npsc1-excerpt&region_level=planet",
            StatusCode::BAD_REQUEST,
        ),
        (
            "set=npsc1-excerpt&missing_operation_rate=maybe",
            StatusCode::BAD_REQUEST,
        ),
        (
            "set=npsc1-excerpt&edition=1&at=2024-01-01",
            StatusCode::BAD_REQUEST,
        ),
        ("set=npsc1-excerpt&edition=draft", StatusCode::BAD_REQUEST),
        ("set=npsc1-excerpt&rule=next-month", StatusCode::BAD_REQUEST),
        ("set=npsc1-excerpt&edition=7", StatusCode::NOT_FOUND),
        ("set=nothing", StatusCode::NOT_FOUND),
    ] {
        let (status, error) = submit(&f, query, &f.officer, body()).await;
        assert_eq!(status, code, "{query}: {error}");
    }
    let mut one_part = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"registry\"; \
         filename=\"r.csv\"\r\n\r\n"
    )
    .into_bytes();
    one_part.extend(sample("registry.csv"));
    one_part.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
    let (status, error) = submit(&f, "set=npsc1-excerpt", &f.officer, one_part).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("`activity`")),
        "{error}"
    );
}

#[tokio::test]
async fn statistics_at_every_level_from_totals_or_results() {
    let f = fixture().await;
    let auth = bearer(&f.reader);
    let reader = [("authorization", auth.as_str())];
    let (status, body) = get(&f, "/api/v1/statistics", &reader).await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not-found"))
    );

    let run = submit_sample(&f, "set=npsc1-excerpt&edition=1").await;
    let id = run["run"]["id"].as_i64().expect("id");
    // Province: the run's own level, from its totals.
    let (status, body) = get(&f, "/api/v1/statistics?region_level=province", &reader).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = json(&body);
    assert_eq!(stats["source"], "totals");
    assert_eq!(stats["run"]["id"], id);
    assert_eq!(stats["run"]["edition"]["content_hash"], EXCERPT_HASH);
    assert_province_totals(&stats["lines"], "pollutant");

    // National: coarser, summed from the totals; the CLI's national lines, which the sample's
    // hand computation checks to be the sums of the provinces.
    let national: BTreeMap<(u16, String), (f64, f64, u64)> = expected_all()
        .into_iter()
        .filter(|((_, code, _), _)| code == "000000")
        .map(|((year, _, pollutant), figures)| ((year, pollutant), figures))
        .collect();
    assert!(!national.is_empty());
    let (status, body) = get(
        &f,
        &format!("/api/v1/statistics?run={id}&region_level=national"),
        &reader,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = json(&body);
    assert_eq!(stats["source"], "totals");
    let lines = stats["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), national.len());
    for line in lines {
        assert_eq!(line["region_code"], Value::Null);
        assert_eq!(line["region_name"], "全国");
        let key = (
            u16::try_from(line["year"].as_u64().expect("year")).expect("year"),
            line["pollutant"].as_str().expect("pollutant").to_string(),
        );
        let (g, e, rows) = national[&key];
        approx::assert_relative_eq!(number(&line["generated"]), g, max_relative = 1e-9);
        approx::assert_relative_eq!(number(&line["emitted"]), e, max_relative = 1e-9);
        assert_eq!(line["rows"].as_u64(), Some(rows));
    }

    // County and industry class: finer than the run's totals, from its results; summed back to
    // provinces they give the CLI's figures again.
    let (status, body) = get(
        &f,
        "/api/v1/statistics?region_level=county&industry_level=class&year=2022&pollutant=SO2",
        &reader,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = json(&body);
    assert_eq!(stats["source"], "results");
    let lines = stats["lines"].as_array().expect("lines");
    assert!(lines.len() > 3, "{lines:#?}");
    let mut by_province: BTreeMap<String, f64> = BTreeMap::new();
    for line in lines {
        assert_eq!(line["year"], 2022);
        assert_eq!(line["pollutant_code"], "SO2");
        assert_eq!(line["industry_code"], "D4430");
        let county = line["region_code"].as_str().expect("county");
        *by_province
            .entry(format!("{}0000", &county[..2]))
            .or_default() += number(&line["emitted"]);
    }
    let expected = expected();
    for (province, emitted) in by_province {
        let (_, e, _) = expected[&(2022, province, "二氧化硫".to_string())];
        approx::assert_relative_eq!(emitted, e, max_relative = 1e-9);
    }

    // CSV, by query and by Accept.
    let (status, csv) = get(
        &f,
        "/api/v1/statistics?region_level=national&format=csv",
        &reader,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("year,region_level,region_code,region_name,industry_level"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), national.len() + 1);
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.contains(",national,,全国,all,")),
        "{csv}"
    );
    let (_, csv2) = get(
        &f,
        "/api/v1/statistics?region_level=national",
        &[("authorization", auth.as_str()), ("accept", "text/csv")],
    )
    .await;
    assert_eq!(csv, csv2);
    for bad in [
        "region_level=planet",
        "industry_level=sector",
        "pollutant=CO2x",
        "format=xml",
        "run=x",
    ] {
        let (status, body) = get(&f, &format!("/api/v1/statistics?{bad}"), &reader).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = get(&f, "/api/v1/statistics?run=99", &reader).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stale_runs_after_a_new_edition_and_its_impact() {
    let f = fixture().await;
    let pinned = submit_sample(&f, "set=npsc1-excerpt&edition=1").await;
    let dated = submit_sample(&f, "set=npsc1-excerpt&at=2024-03-20&rule=next-month").await;
    let auth = bearer(&f.reader);
    let reader = [("authorization", auth.as_str())];
    let (status, body) = get(&f, "/api/v1/runs/stale", &reader).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "[]"),
        "uploads are never gone"
    );

    publish_second_edition(&f).await;
    let (status, body) = get(&f, "/api/v1/runs/stale", &reader).await;
    assert_eq!(status, StatusCode::OK);
    let stale = json(&body);
    let stale = stale.as_array().expect("stale");
    // The pinned run would now resolve `latest` to @2; the run dated 2024 keeps @1 (in force
    // until 2025).
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert_eq!(stale[0]["run"]["id"], pinned["run"]["id"]);
    assert!(
        stale[0]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("npsc1-excerpt@2")),
        "{stale:#?}"
    );
    assert_ne!(stale[0]["run"]["id"], dated["run"]["id"]);

    // The impact of @2 on the same data: only the flue gas of 4411 changes, by 9000/8271.
    let multipart = multipart(BOUNDARY);
    let body = form(
        ("registry.csv", &sample("registry.csv")),
        ("activity.csv", &sample("activity.csv")),
    );
    let (status, _, text) = request(
        &f.state,
        "POST",
        "/api/v1/sets/npsc1-excerpt/impact?from=1&to=2",
        &[
            ("authorization", auth.as_str()),
            ("content-type", multipart.as_str()),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let impact = json(&text);
    assert_eq!(
        (&impact["old"], &impact["new"]),
        (&"npsc1-excerpt@1".into(), &"npsc1-excerpt@2".into())
    );
    let totals = impact["totals"].as_array().expect("totals");
    let changed: Vec<&Value> = totals
        .iter()
        .filter(|t| t["change"].as_str() != Some("0"))
        .collect();
    assert!(!changed.is_empty());
    for line in &changed {
        assert_eq!(line["pollutant"], "工业废气量", "{line}");
        approx::assert_relative_eq!(
            number(&line["new_emitted"]),
            number(&line["old_emitted"]) * 9000.0 / 8271.0,
            max_relative = 1e-12
        );
    }
    // Largest change first: 2022 Hebei's 2 067 750 → 2 250 000 is among them.
    assert!(changed.iter().any(|l| l["year"] == 2022
        && l["region_code"] == "130000"
        && (number(&l["new_emitted"]) - 2_250_000.0).abs() < 1e-6));
    let (status, _, csv) = request(
        &f.state,
        "POST",
        "/api/v1/sets/npsc1-excerpt/impact?from=1&to=2&format=csv",
        &[
            ("authorization", auth.as_str()),
            ("content-type", multipart.as_str()),
        ],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with("year,region,region_name,industry,pollutant,unit,old_emitted"),
        "{csv}"
    );
    assert!(
        csv.lines().nth(1).is_some_and(|l| l.contains("工业废气量")),
        "{csv}"
    );
}

/// The 10 000-row figure of the issue: the sample's 67 activity rows repeated to 10 050 rows,
/// submitted as a multipart upload and stored with every per-row result. Not a timed test (run
/// it in release to measure: `cargo test --release -p service --test runs -- --ignored
/// --nocapture`); it checks the run and prints the wall time.
#[tokio::test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn ten_thousand_rows_end_to_end() {
    let f = fixture().await;
    let text = String::from_utf8(sample("activity.csv")).expect("utf-8");
    let (header, body) = text.split_once('\n').expect("header");
    let mut activity = format!("{header}\n");
    for _ in 0..150 {
        activity.push_str(body);
    }
    let form = form(
        ("registry.csv", &sample("registry.csv")),
        ("activity.csv", activity.as_bytes()),
    );
    let started = std::time::Instant::now();
    let (status, run) = submit(&f, "set=npsc1-excerpt&edition=1", &f.officer, form).await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["summary"]["rows_read"], 67 * 150);
    assert_eq!(run["summary"]["rows_accounted"], 65 * 150);
    println!(
        "10 050 activity rows ({} results) accounted and stored over HTTP in {:.0} ms (the run \
         itself: {} ms)",
        run["summary"]["results"],
        elapsed.as_secs_f64() * 1000.0,
        run["run"]["duration_ms"]
    );
}

/// A run's whole CSV streams a page at a time: the same bytes whatever the page size; at most
/// `EXPORTS_AT_ONCE` exports stream at once, each holding its permit until its body has been
/// read or dropped (a client that stops reading holds one page, and its permit).
#[tokio::test]
async fn whole_run_exports_stream_two_at_a_time() {
    use tower::ServiceExt;

    let mut f = fixture().await;
    let run = submit_sample(&f, "set=npsc1-excerpt&edition=1&region_level=county").await;
    let id = run["run"]["id"].as_i64().expect("id");
    let auth = bearer(&f.reader);
    let reader = [("authorization", auth.as_str())];
    let results_uri = format!("/api/v1/runs/{id}/results?format=csv");
    let totals_uri = format!("/api/v1/runs/{id}/totals?format=csv");
    let (status, results) = get(&f, &results_uri, &reader).await;
    assert_eq!(status, StatusCode::OK);
    let count = run["summary"]["results"].as_u64().expect("results");
    assert!(count > 100, "{count}");
    assert_eq!(results.lines().count() as u64, count + 1);
    let (status, totals) = get(&f, &totals_uri, &reader).await;
    assert_eq!(status, StatusCode::OK);
    for page in [1, 3, 1000] {
        f.state.export_page = page;
        assert_eq!(get(&f, &results_uri, &reader).await.1, results, "{page}");
        assert_eq!(get(&f, &totals_uri, &reader).await.1, totals, "{page}");
    }

    f.state.export_page = 3;
    let router = service::router(f.state.clone());
    let request = |uri: &str| {
        axum::http::Request::builder()
            .uri(uri)
            .header("authorization", auth.as_str())
            .body(axum::body::Body::empty())
            .expect("request")
    };
    // Two answered exports whose bodies nobody reads yet.
    let first = router
        .clone()
        .oneshot(request(&results_uri))
        .await
        .expect("first");
    let second = router
        .clone()
        .oneshot(request(&totals_uri))
        .await
        .expect("second");
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(first.headers()["content-type"], "text/csv; charset=utf-8");
    // A third waits for a permit…
    let third = router.clone().oneshot(request(&results_uri));
    tokio::pin!(third);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), &mut third)
            .await
            .is_err(),
        "a third export ran while two held their permits"
    );
    // … until a client goes away: its body is dropped, its export stops.
    drop(first);
    let third = tokio::time::timeout(std::time::Duration::from_secs(30), third)
        .await
        .expect("the third export started")
        .expect("third");
    let body = |response: axum::response::Response| async move {
        use http_body_util::BodyExt;
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    };
    assert_eq!(body(third).await, results);
    assert_eq!(body(second).await, totals);
    // Unknown runs are still a proper 404 before anything streams.
    let (status, text) = get(&f, "/api/v1/runs/999/results?format=csv", &reader).await;
    assert_eq!(
        (status, json(&text)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not-found"))
    );
}
