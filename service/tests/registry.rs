//! The enterprise registry over HTTP, through `service::router` without a socket: the sample
//! registry is imported by an administrator through the API, then searched, read, changed.

mod common;

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use common::{Db, bearer, encode, json, send};

const SHEEP: &str = "91152502MA2BPPBJ0K";
const BOILER: &str = "91130109MAK4GR6066";
const CLOSED: &str = "91130481MA4BPPLX2U";
const SUSPENDED: &str = "91370782MA4KKHC12P";
const GONE: &str = "91371503MAUB6LCY6H";
/// Valid, but not in the sample.
const UNKNOWN: &str = "91110105MA01ABCD5F";

/// The sample registry.
fn sample() -> Vec<u8> {
    common::sample("registry.csv")
}

/// The sample with one enterprise renamed, one closed, one missing and one new.
fn newer() -> Vec<u8> {
    let text = String::from_utf8(sample()).expect("utf-8");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(GONE) {
            continue;
        } else if line.starts_with(BOILER) {
            out.push_str(&format!(
                "{BOILER},示例石家庄藁城供热有限公司（样例）,130109,4430,关闭,2024-05-31,\n"
            ));
        } else if line.starts_with(SHEEP) {
            out.push_str(&format!(
                "{SHEEP},示例锡林浩特草原羊肉集团有限公司（样例）,152525,1351,运行,,{SHEEP}001P\n"
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "{UNKNOWN},示例朝阳区新建热力有限公司（样例）,110105,4430,运行,2024-03-01,\n"
    ));
    out.into_bytes()
}

#[derive(Debug)]
struct Audit {
    action: String,
    actor: String,
    object: String,
    detail: String,
}

struct Fixture {
    db: Db,
    state: service::AppState,
    tokens: BTreeMap<&'static str, String>,
}

impl Fixture {
    fn token(&self, who: &str) -> Option<&str> {
        self.tokens.get(who).map(String::as_str)
    }

    /// The audit log, newest first.
    async fn audit(&self) -> Vec<Audit> {
        app::editions::audit(&self.db.store, 1000)
            .await
            .expect("audit")
            .into_iter()
            .map(|a| Audit {
                action: a.action,
                actor: a.actor,
                object: a.object,
                detail: a.detail,
            })
            .collect()
    }
}

/// An empty registry with a reader, an officer, an admin and a revoked admin token.
async fn fixture() -> Fixture {
    let db = Db::empty().await;
    let tokens = common::role_tokens(&db.store).await;
    let state = db.state().await;
    Fixture { db, state, tokens }
}

/// A fixture whose registry is the sample, imported through the API by `admin`.
async fn imported() -> Fixture {
    let f = fixture().await;
    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry",
        f.token("admin"),
        "text/csv",
        sample(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    f
}

/// A GET as the fixture's reader unless `headers` carry an `authorization` of their own.
async fn get(
    f: &Fixture,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        return common::get(&f.state, uri, headers).await;
    }
    let auth = bearer(&f.tokens["reader"]);
    let mut with_token = headers.to_vec();
    with_token.push(("authorization", auth.as_str()));
    common::get(&f.state, uri, &with_token).await
}

/// The USCCs of a search page, and its total.
async fn search(f: &Fixture, query: &str) -> (u64, Vec<String>) {
    let (status, _, body) = get(f, &format!("/api/v1/registry/enterprises?{query}"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let page = json(&body);
    let usccs = page["enterprises"]
        .as_array()
        .expect("enterprises")
        .iter()
        .map(|e| e["uscc"].as_str().expect("uscc").to_string())
        .collect();
    (page["total"].as_u64().expect("total"), usccs)
}

#[tokio::test]
async fn an_admin_imports_a_registry_file_and_the_audit_log_names_the_token() {
    let f = fixture().await;
    let admin = f.token("admin");
    // A dry run reports the change set and writes nothing.
    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry?dry_run=true",
        admin,
        "text/csv",
        sample(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = json(&body);
    assert_eq!(
        (
            &report["dry_run"],
            &report["applied"],
            &report["counts"]["added"]
        ),
        (&true.into(), &false.into(), &30.into())
    );
    assert_eq!(search(&f, "").await.0, 0, "a dry run changes nothing");
    assert!(
        f.audit()
            .await
            .iter()
            .all(|a| a.action != "registry-import")
    );

    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry",
        admin,
        "text/csv",
        sample(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = json(&body);
    assert_eq!(report["applied"], true);
    assert_eq!(report["file"], "registry.csv");
    assert_eq!(
        report["summary"],
        "30 added, 0 changed (0 status changes), 0 not in the file, 0 unchanged"
    );
    assert_eq!(report["added"][0]["uscc"], "91130109MAK4GR6066");
    assert_eq!(search(&f, "").await.0, 30);
    let audit = f.audit().await;
    let imports: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "registry-import")
        .collect();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].actor, "admin");
    assert!(
        imports[0].detail.ends_with("from upload registry.csv"),
        "{}",
        imports[0].detail
    );

    // The same file again: nothing to write, no audit entry.
    let (_, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry",
        admin,
        "text/csv",
        sample(),
    )
    .await;
    let report = json(&body);
    assert_eq!(
        (&report["applied"], &report["counts"]["unchanged"]),
        (&false.into(), &30.into())
    );

    // A newer file as a multipart form: the change set, then its dry run and application.
    let boundary = "npsc-test-boundary";
    let form = common::form(boundary, &[("file", "../registry-2024.csv", &newer())]);
    let multipart = common::multipart(boundary);
    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry?dry_run=true",
        admin,
        &multipart,
        form.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dry = json(&body);
    assert_eq!(
        dry["summary"],
        "1 added, 2 changed (1 status change), 1 not in the file, 27 unchanged"
    );
    assert_eq!(
        dry["file"], "registry-2024.csv",
        "a client path is only a label"
    );
    assert_eq!(dry["changed"][0]["uscc"], BOILER);
    assert_eq!(dry["changed"][0]["status_changed"], true);
    assert_eq!(
        dry["changed"][0]["fields"][0],
        json(r#"{"field": "status", "old": "operating", "new": "closed"}"#)
    );
    assert_eq!(dry["missing"][0]["uscc"], GONE);
    let (_, _, before) = get(&f, &format!("/api/v1/registry/enterprises/{BOILER}"), &[]).await;
    assert_eq!(json(&before)["enterprise"]["status"], "operating");

    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry",
        admin,
        &multipart,
        form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let applied = json(&body);
    assert_eq!(
        (applied["applied"].clone(), applied["summary"].clone()),
        (true.into(), dry["summary"].clone())
    );
    let (_, _, after) = get(&f, &format!("/api/v1/registry/enterprises/{BOILER}"), &[]).await;
    let record = json(&after);
    assert_eq!(record["enterprise"]["status"], "closed");
    assert_eq!(record["enterprise"]["status_date"], "2024-05-31");
    assert_eq!(record["enterprise"]["revision"], 2);
    let history = record["status_history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["reason"], "import upload registry-2024.csv");
    assert_eq!(history[1]["actor"], "admin");
    assert_eq!(record["field_changes"][0]["field"], "permit_no");
    // The enterprise the newer file does not list is kept as it was.
    let (status, _, gone) = get(&f, &format!("/api/v1/registry/enterprises/{GONE}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&gone)["enterprise"]["status"], "operating");
    assert_eq!(search(&f, "").await.0, 31);
}

#[tokio::test]
async fn search_by_name_uscc_region_industry_status_with_pages() {
    let f = imported().await;
    let s = &f;
    // Name: a part of it, full-width and half-width alike, spaces and case ignored.
    let (total, usccs) = search(s, &format!("q={}", encode("羊肉"))).await;
    assert_eq!(total, 6);
    assert!(usccs.contains(&SHEEP.to_string()));
    assert_eq!(search(s, &format!("q={}", encode("(样例)"))).await.0, 30);
    assert_eq!(search(s, &format!("q={}", encode("（样例）"))).await.0, 30);
    assert_eq!(
        search(s, &format!("q={}", encode("供 热 有限公司")))
            .await
            .0,
        5
    );
    assert_eq!(
        search(s, &format!("q={}", encode("石家庄藁城"))).await.1,
        [BOILER]
    );
    // The start of a USCC, in either case.
    let (total, usccs) = search(s, "q=911301").await;
    assert_eq!(total, 3);
    assert_eq!(usccs[0], BOILER);
    assert_eq!(search(s, "q=91130109mak").await.1, [BOILER]);
    assert_eq!(search(s, &format!("q={SHEEP}")).await.1, [SHEEP]);
    // Region at every level, by either spelling.
    for (region, total) in [
        ("15", 12),
        ("150000", 12),
        ("1525", 6),
        ("152500", 6),
        ("152502", 1),
        ("13", 9),
        ("1304", 2),
        ("130481", 1),
        ("37", 9),
        ("44", 0),
    ] {
        assert_eq!(
            search(s, &format!("region={region}")).await.0,
            total,
            "region {region}"
        );
    }
    assert_eq!(search(s, "region=152502").await.1, [SHEEP]);
    // Industry at every level, with or without the section letter.
    for (industry, total) in [
        ("C", 13),
        ("c", 13),
        ("13", 13),
        ("C13", 13),
        ("135", 13),
        ("1351", 13),
        ("C1351", 13),
        ("D", 17),
        ("44", 17),
        ("441", 2),
        ("4411", 2),
        ("D4430", 15),
        ("A", 0),
    ] {
        assert_eq!(
            search(s, &format!("industry={industry}")).await.0,
            total,
            "industry {industry}"
        );
    }
    // Status, in English or Chinese.
    assert_eq!(search(s, "status=closed").await.1, [CLOSED]);
    assert_eq!(
        search(s, &format!("status={}", encode("关闭"))).await.1,
        [CLOSED]
    );
    assert_eq!(search(s, "status=suspended").await.1, [SUSPENDED]);
    assert_eq!(search(s, "status=operating").await.0, 28);
    assert_eq!(search(s, "status=deregistered").await.0, 0);
    // Combined.
    let (total, _) = search(
        s,
        &format!(
            "region=37&industry=4430&status=operating&q={}",
            encode("供汽")
        ),
    )
    .await;
    assert_eq!(total, 3);

    // Pages: ordered by USCC, the total on every page.
    let (_, all) = search(s, "per_page=1000").await;
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!((all.len(), &all), (30, &sorted));
    let mut paged = Vec::new();
    for page in 1..=5 {
        let (total, usccs) = search(s, &format!("per_page=7&page={page}")).await;
        assert_eq!(total, 30);
        assert_eq!(usccs.len(), if page == 5 { 2 } else { 7 });
        paged.extend(usccs);
    }
    assert_eq!(paged, all);
    assert_eq!(search(s, "per_page=7&page=6").await, (30, vec![]));
    let (status, headers, body) = get(s, "/api/v1/registry/enterprises?per_page=2", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-total-count"], "30");
    let page = json(&body);
    assert_eq!(
        (page["page"].clone(), page["per_page"].clone()),
        (1.into(), 2.into())
    );
    // Names of codes come from the bundled lists.
    let (_, _, body) = get(s, &format!("/api/v1/registry/enterprises?q={SHEEP}"), &[]).await;
    let sheep = &json(&body)["enterprises"][0];
    assert_eq!(sheep["industry_code"], "C1351");
    assert!(
        sheep["region_name"]
            .as_str()
            .is_some_and(|n| n.contains("锡林浩特")),
        "{sheep}"
    );
    assert!(
        sheep["industry_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    for bad in [
        "per_page=0",
        "per_page=1001",
        "page=0",
        "page=x",
        "format=xml",
    ] {
        let (status, _, body) = get(s, &format!("/api/v1/registry/enterprises?{bad}"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            json(&body)["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn csv_is_a_registry_file_that_imports_again_unchanged() {
    let f = imported().await;
    let (status, headers, csv) = get(
        &f,
        "/api/v1/registry/enterprises?format=csv&per_page=1000",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(headers["x-total-count"], "30");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "uscc,name,region_code,industry_code,status,status_date,permit_no"
    );
    assert_eq!(lines.len(), 31);
    assert!(
        lines.contains(&"91130481MA4BPPLX2U,示例武安市铸造园区锅炉房有限公司（样例）,130481,D4430,closed,2022-09-30,91130481MA4BPPLX2U001P"),
        "{csv}"
    );
    let (_, _, by_accept) = get(
        &f,
        "/api/v1/registry/enterprises?per_page=1000",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(by_accept, csv);
    let (_, _, filtered) = get(
        &f,
        "/api/v1/registry/enterprises?format=csv&status=suspended",
        &[],
    )
    .await;
    assert_eq!(filtered.lines().count(), 2);
    assert!(
        filtered
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(SUSPENDED))
    );

    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry?dry_run=true",
        f.token("admin"),
        "text/csv",
        csv.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["summary"],
        "0 added, 0 changed (0 status changes), 0 not in the file, 30 unchanged"
    );
}

#[tokio::test]
async fn one_enterprise_with_its_histories_404_when_unknown_400_when_invalid() {
    let f = imported().await;
    let (status, headers, body) =
        get(&f, &format!("/api/v1/registry/enterprises/{CLOSED}"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let record = json(&body);
    assert_eq!(record["enterprise"]["uscc"], CLOSED);
    assert_eq!(record["enterprise"]["status"], "closed");
    assert_eq!(
        record["status_history"][0],
        json(&format!(
            r#"{{"status": "closed", "status_date": "2022-09-30", "reason": "import upload registry.csv", "recorded_at": {}, "actor": "admin"}}"#,
            record["status_history"][0]["recorded_at"]
        ))
    );
    assert_eq!(record["field_changes"], json("[]"));
    // Lower case is the same code.
    let (status, _, _) = get(
        &f,
        &format!("/api/v1/registry/enterprises/{}", CLOSED.to_lowercase()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = get(&f, &format!("/api/v1/registry/enterprises/{UNKNOWN}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(json(&body)["code"], "not-found");
    assert!(
        json(&body)["message"]
            .as_str()
            .is_some_and(|m| m.contains(UNKNOWN))
    );

    // A wrong check character, a wrong length, a forbidden letter: 400 saying what is wrong.
    for (bad, says) in [
        ("91130481MA4BPPLX2V", "check"),
        ("91130481MA4BPPLX2", "18"),
        ("91130481MA4BPPLX2UU", "18"),
        ("9113048IMA4BPPLX2U", "I"),
        ("%27%20OR%201%3D1%20--", "18"),
    ] {
        let (status, _, body) = get(&f, &format!("/api/v1/registry/enterprises/{bad}"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let error = json(&body);
        assert_eq!(error["code"], "bad-argument", "{body}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(says)),
            "{bad}: {body}"
        );
    }
}

#[tokio::test]
async fn roles_readers_read_admins_write() {
    let mut f = imported().await;
    let search_uri = "/api/v1/registry/enterprises?q=911301";
    let record_uri = format!("/api/v1/registry/enterprises/{SHEEP}");
    for (who, anonymous_read, expected) in [
        // Anonymous reading covers published editions only, never the registry.
        (None, true, StatusCode::UNAUTHORIZED),
        (None, false, StatusCode::UNAUTHORIZED),
        (Some("reader"), false, StatusCode::OK),
        (Some("officer"), false, StatusCode::OK),
        (Some("admin"), false, StatusCode::OK),
        (Some("revoked"), true, StatusCode::UNAUTHORIZED),
        (Some("unknown"), true, StatusCode::UNAUTHORIZED),
    ] {
        f.state.anonymous_read = anonymous_read;
        let auth = who.map(|w| bearer(f.token(w).unwrap_or("npsc_0000_deadbeef")));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        for uri in [search_uri, record_uri.as_str()] {
            let (status, _, body) = common::get(&f.state, uri, &headers).await;
            assert_eq!(
                status, expected,
                "{uri} as {who:?} (anonymous {anonymous_read}): {body}"
            );
        }
    }
    f.state.anonymous_read = true;

    let status_uri = format!("/api/v1/registry/enterprises/{SHEEP}/status");
    let change = br#"{"status": "suspended", "date": "2024-02-01", "note": "inspection"}"#.to_vec();
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("reader"), StatusCode::FORBIDDEN),
        (Some("officer"), StatusCode::FORBIDDEN),
        (Some("revoked"), StatusCode::UNAUTHORIZED),
    ] {
        let token = who.and_then(|w| f.token(w));
        let (status, body) = send(
            &f.state,
            "POST",
            "/api/v1/registry",
            token,
            "text/csv",
            newer(),
        )
        .await;
        assert_eq!(status, expected, "upload as {who:?}: {body}");
        let (status, body) = send(
            &f.state,
            "POST",
            &status_uri,
            token,
            "application/json",
            change.clone(),
        )
        .await;
        assert_eq!(status, expected, "status as {who:?}: {body}");
        let code = if expected == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "unauthorized"
        };
        assert_eq!(json(&body)["code"], code);
    }
    // Nothing was written by the refused requests.
    assert_eq!(search(&f, "").await.0, 30);
    assert_eq!(search(&f, "status=suspended").await.0, 1);
    let (status, body) = send(
        &f.state,
        "POST",
        &status_uri,
        f.token("admin"),
        "application/json",
        change,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn injection_attempts_in_every_parameter_are_values_never_sql() {
    let f = imported().await;
    let audit_before = f.audit().await.len();
    let long = "' OR 1=1 --".repeat(1000);
    let percents = "%".repeat(5000);
    let payloads = [
        "' OR 1=1 --",
        "' OR '1'='1",
        "1' OR '1'='1' --",
        "%",
        "%%",
        "_",
        "___",
        ";DROP TABLE enterprises",
        ";DROP TABLE enterprise; --",
        "'; DELETE FROM enterprise; --",
        "\") OR 1=1 --",
        "'",
        "\"",
        "''",
        "\\",
        "\\%",
        "44%",
        "C%",
        "1 UNION SELECT uscc FROM enterprise",
        "＇ ＯＲ １＝１ －－",
        "\u{0}",
        long.as_str(),
        percents.as_str(),
    ];
    let mut seen = BTreeMap::new();
    for parameter in [
        "q", "region", "industry", "status", "page", "per_page", "format",
    ] {
        for payload in payloads {
            let uri = format!(
                "/api/v1/registry/enterprises?{parameter}={}",
                encode(payload)
            );
            let (status, _, body) = get(&f, &uri, &[]).await;
            let shown: String = payload.chars().take(30).collect();
            match status {
                StatusCode::OK => {
                    let page = json(&body);
                    assert_eq!(
                        page["total"], 0,
                        "{parameter}={shown}: a value, so nothing matches: {body}"
                    );
                }
                StatusCode::BAD_REQUEST => {
                    let error = json(&body);
                    assert!(
                        error["message"].as_str().is_some_and(|m| !m.is_empty()),
                        "{parameter}={shown}: {body}"
                    );
                    assert!(error["details"].is_array());
                }
                other => panic!("{parameter}={shown}: {other}: {body}"),
            }
            *seen.entry((parameter, status.as_u16())).or_insert(0) += 1;
        }
        // The path parameter too.
        for payload in payloads {
            let uri = format!("/api/v1/registry/enterprises/{}", encode(payload));
            let (status, _, body) = get(&f, &uri, &[]).await;
            assert!(
                status == StatusCode::BAD_REQUEST,
                "/{}: {status}: {body}",
                payload.chars().take(30).collect::<String>()
            );
        }
    }
    // Free text is searched for as written, except the two long strings and the NUL; codes
    // and numbers are refused.
    assert_eq!(seen.get(&("q", 200)), Some(&(payloads.len() - 3)));
    assert_eq!(seen.get(&("q", 400)), Some(&3));
    for parameter in ["region", "industry", "status", "page", "per_page", "format"] {
        assert_eq!(
            seen.get(&(parameter, 400)),
            Some(&payloads.len()),
            "{parameter}"
        );
    }
    // The table is intact and nothing was written.
    let (total, usccs) = search(&f, "per_page=1000").await;
    assert_eq!((total, usccs.len()), (30, 30));
    assert_eq!(f.audit().await.len(), audit_before);
    let (status, _, _) = get(&f, &format!("/api/v1/registry/enterprises/{SHEEP}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_registry_file_is_422_with_every_located_issue_and_changes_nothing() {
    let f = imported().await;
    let audit_before = f.audit().await.len();
    // A new good enterprise, then four bad cells on three rows, and a changed good one.
    let bad = format!(
        "uscc,name,region_code,industry_code,status,status_date,permit_no\n\
         {UNKNOWN},示例朝阳区新建热力有限公司（样例）,110105,4430,运行,,\n\
         91110105MA01ABCD5X,示例坏代码有限公司,110105,4430,运行,,\n\
         91130109MAK4GR6066,示例石家庄藁城供热有限公司（样例）,999999,4430,停业了,,\n\
         91152502MA2BPPBJ0K,示例锡林浩特草原羊肉食品有限公司（样例）,152502,1351,关闭,2024-13-45,\n"
    );
    let (status, body) = send(
        &f.state,
        "POST",
        "/api/v1/registry",
        f.token("admin"),
        "text/csv",
        bad.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = json(&body);
    assert_eq!(error["code"], "bad-input");
    let located: Vec<(u64, String, String)> = error["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            assert_eq!(d["file"], "registry.csv", "{d}");
            (
                d["row"].as_u64().expect("row"),
                d["column"].as_str().expect("column").to_string(),
                d["code"].as_str().expect("code").to_string(),
            )
        })
        .collect();
    let rows_and_codes: Vec<(u64, &str)> =
        located.iter().map(|(r, _, c)| (*r, c.as_str())).collect();
    assert_eq!(
        rows_and_codes,
        [
            (3, "bad-uscc"),
            (4, "bad-region-code"),
            (4, "bad-status"),
            (5, "bad-date")
        ],
        "{body}"
    );
    assert!(located.iter().all(|(_, column, _)| !column.is_empty()));
    // Nothing changed: not the good new row, not the good rows' changes.
    assert_eq!(search(&f, "").await.0, 30);
    let (status, _, _) = get(&f, &format!("/api/v1/registry/enterprises/{UNKNOWN}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(search(&f, "status=closed").await.1, [CLOSED]);
    assert_eq!(f.audit().await.len(), audit_before);

    // An empty body and a file that is not a registry are 422 too.
    for body in [Vec::new(), b"a,b\n1,2\n".to_vec()] {
        let (status, text) = send(
            &f.state,
            "POST",
            "/api/v1/registry",
            f.token("admin"),
            "text/csv",
            body,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert!(
            !json(&text)["details"]
                .as_array()
                .expect("details")
                .is_empty()
        );
    }
    assert_eq!(f.audit().await.len(), audit_before);
}

#[tokio::test]
async fn an_admin_records_a_status_change_with_date_and_note() {
    let f = imported().await;
    let admin = f.token("admin");
    let uri = format!("/api/v1/registry/enterprises/{SHEEP}/status");
    let post = |body: &str| {
        let state = f.state.clone();
        let uri = uri.clone();
        let body = body.as_bytes().to_vec();
        async move { send(&state, "POST", &uri, admin, "application/json", body).await }
    };
    let (status, body) =
        post(r#"{"status": "关闭", "date": "2024-05-31", "note": "closure notice 2024-17", "revision": 1}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = json(&body);
    assert_eq!(record["enterprise"]["status"], "closed");
    assert_eq!(record["enterprise"]["status_date"], "2024-05-31");
    assert_eq!(record["enterprise"]["revision"], 2);
    let history = record["status_history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1]["reason"].clone(), history[1]["actor"].clone()),
        ("closure notice 2024-17".into(), "admin".into())
    );
    let audit = f.audit().await;
    assert!(
        audit.iter().any(|a| a.action == "registry-status"
            && a.actor == "admin"
            && a.object == SHEEP
            && a.detail == "closed on 2024-05-31: closure notice 2024-17"),
        "{audit:?}"
    );
    assert_eq!(search(&f, "status=closed").await.0, 2);

    for (body, expected, code) in [
        // The same status and date again, or a revision that is no longer current.
        (
            r#"{"status": "closed", "date": "2024-05-31", "note": "again"}"#,
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            r#"{"status": "operating", "note": "reopened", "revision": 1}"#,
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            r#"{"status": "paused", "note": "x"}"#,
            StatusCode::BAD_REQUEST,
            "bad-argument",
        ),
        (
            r#"{"status": "operating", "date": "2024-02-30", "note": "x"}"#,
            StatusCode::BAD_REQUEST,
            "bad-argument",
        ),
        (
            r#"{"status": "operating", "note": "  "}"#,
            StatusCode::BAD_REQUEST,
            "bad-argument",
        ),
        (
            r#"{"status": "operating"}"#,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        ("not json", StatusCode::BAD_REQUEST, "bad-request"),
    ] {
        let (status, text) = post(body).await;
        assert_eq!(status, expected, "{body}: {text}");
        assert_eq!(json(&text)["code"], code, "{body}: {text}");
    }
    for (target, expected) in [
        (UNKNOWN, StatusCode::NOT_FOUND),
        ("91152502MA2BPPBJ0X", StatusCode::BAD_REQUEST),
    ] {
        let (status, text) = send(
            &f.state,
            "POST",
            &format!("/api/v1/registry/enterprises/{target}/status"),
            admin,
            "application/json",
            br#"{"status": "closed", "note": "x"}"#.to_vec(),
        )
        .await;
        assert_eq!(status, expected, "{target}: {text}");
    }
    // The refused requests wrote nothing.
    let (_, _, body) = get(&f, &format!("/api/v1/registry/enterprises/{SHEEP}"), &[]).await;
    assert_eq!(
        json(&body)["status_history"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        f.audit()
            .await
            .iter()
            .filter(|a| a.action == "registry-status")
            .count(),
        1
    );
}

#[test]
fn the_registry_endpoints_are_in_the_openapi_document() {
    let doc = json(&service::openapi_json());
    for (path, method) in [
        ("/api/v1/registry/enterprises", "get"),
        ("/api/v1/registry/enterprises/{uscc}", "get"),
        ("/api/v1/registry", "post"),
        ("/api/v1/registry/enterprises/{uscc}/status", "post"),
    ] {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["tags"][0], "registry", "{method} {path}");
    }
    assert!(
        doc["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "registry"))
    );
}
