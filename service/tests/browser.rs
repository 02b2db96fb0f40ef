//! The web pages: served as static shells with a strict policy (checked through the router), and
//! end to end in Debian's headless Chromium driven by playwright-core (`tests/browser/`): the
//! service runs on a real socket over a seeded SQLite database and the Node tests compare what
//! the pages show with what the API answers.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`), Node.js and
//! `npm ci --prefix service/tests/browser`. Without them the end-to-end test fails when `CI` is
//! set and is skipped loudly otherwise. `NPSC_SCREENSHOTS=<dir>` keeps the screenshots there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use common::{Db, excerpt, get};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Tokens of the seeded database.
struct Seeded {
    dir: tempfile::TempDir,
    url: String,
    admin: String,
    reader: String,
}

/// The second edition: NOx 2.94 → 3.1, one SO2 efficiency 15 → 20, one treatment row removed
/// and one added.
fn second_edition(table: &str) -> String {
    let mut lines: Vec<String> = table
        .lines()
        .filter(|l| !l.contains(",添加固硫剂,"))
        .map(|l| {
            l.replace(",2.94,直排,,2.94,", ",3.1,直排,,3.1,")
                .replace(",湿法除尘法,15,", ",湿法除尘法,20,")
        })
        .collect();
    lines.push(
        "4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,16S,石灰石-石膏法,90,,browser test addition"
            .to_string(),
    );
    lines.join("\n") + "\n"
}

/// `npsc1-excerpt@1` and `@2` published, `@3` a draft; an admin and a reader token.
async fn seed() -> Seeded {
    use app::tokens::Role;
    let db = Db::empty().await;
    db.import(&excerpt()).await;
    db.publish("first edition").await;
    db.import(&common::revised(db.dir.path(), "v2", second_edition))
        .await;
    db.publish("NOx 3.1, wet scrubber 20 %").await;
    let v3 = common::revised(db.dir.path(), "v3", |t| {
        second_edition(t).replace(",3.1,直排,,3.1,", ",3.2,直排,,3.2,")
    });
    db.import(&v3).await;
    let admin = common::token(&db.store, "provincial office", Role::Admin).await;
    let reader = common::token(&db.store, "statistics office", Role::Reader).await;
    let Db { dir, url, store } = db;
    store.close().await;
    Seeded {
        dir,
        url,
        admin,
        reader,
    }
}

/// Stores a run of the synthetic sample over `npsc1-excerpt@1` through `POST /api/v1/runs`
/// (multipart, as a browser would send it); returns its id.
async fn seed_run(state: &service::AppState, token: &str) -> i64 {
    let boundary = "npsc-browser-test-boundary";
    let (registry, activity) = (
        common::sample("registry.csv"),
        common::sample("activity.csv"),
    );
    let body = common::form(
        boundary,
        &[
            ("registry", "registry.csv", &registry),
            ("activity", "activity.csv", &activity),
        ],
    );
    let (status, _, body) = common::request(
        state,
        "POST",
        "/api/v1/runs?set=npsc1-excerpt&edition=1&region_level=province",
        &[
            ("authorization", &common::bearer(token)),
            ("content-type", &common::multipart(boundary)),
        ],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).expect("json");
    run["run"]["id"].as_i64().expect("run id")
}

/// The `src`/`href` of every `/assets/…` reference in a page.
fn asset_urls(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect()
}

/// The modules a script imports (`from "./x.js"`), as absolute URLs next to it.
fn imports(url: &str, script: &str) -> Vec<String> {
    let base = &url[..url.rfind('/').map_or(0, |i| i + 1)];
    script
        .split("from \"./")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|file| format!("{base}{file}"))
        .collect()
}

#[tokio::test]
async fn pages_are_static_shells_with_a_strict_policy_and_cached_assets() {
    let seeded = seed().await;
    let state = service::AppState::open(&seeded.url).await.expect("state");
    let pages = [
        "/",
        "/sets/npsc1-excerpt/editions/1",
        "/sets/npsc1-excerpt/diff?from=1&to=2",
        "/runs",
        "/runs/1",
        "/publish",
        // Path segments never reach the HTML: the same static shell whatever they hold.
        "/sets/%3Cscript%3Ealert(1)%3C%2Fscript%3E/editions/1",
    ];
    let mut assets = std::collections::BTreeSet::new();
    for uri in pages {
        let (status, headers, html) = get(&state, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{uri}"
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{uri}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert!(
            html.contains("系数版本 Editions"),
            "Chinese label first: {html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "nothing inline: {html}"
        );
        assert!(!html.contains("alert(1)"), "{uri}: the path is not echoed");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no CDN: {html}"
        );
        let scripts = html
            .matches("<script type=\"module\" src=\"/assets/")
            .count();
        assert_eq!(scripts, 1, "{uri}: one module per page");
        assets.extend(asset_urls(&html));
    }
    assert!(
        assets.len() >= 7,
        "a stylesheet, an icon and a module per page: {assets:?}"
    );

    // Every asset and every module they import: immutable, with an ETag and 304.
    let mut queue: Vec<String> = assets.into_iter().collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(url) = queue.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        let (status, headers, text) = get(&state, &url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{url}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{url}");
        let etag = headers[header::ETAG].to_str().expect("etag").to_string();
        let (status, _, empty) = get(&state, &url, &[("if-none-match", &etag)]).await;
        assert_eq!(
            (status, empty.len()),
            (StatusCode::NOT_MODIFIED, 0),
            "{url}"
        );
        // No external address; the SVG namespace is a name, not a request.
        let outside = text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !outside.contains("http://") && !outside.contains("https://"),
            "{url}: no external address"
        );
        if url.ends_with(".js") {
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            // Data goes into the DOM as text only.
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(banned), "{url} uses {banned}");
            }
            queue.extend(imports(&url, &text));
        }
    }
    for module in ["common.js", "chart.js"] {
        assert!(
            seen.iter().any(|u| u.ends_with(module)),
            "{module} is imported: {seen:?}"
        );
    }

    // Another version's URL (an old page after an upgrade) or an unknown file: 404 in the API's shape.
    for url in [
        "/assets/0000000000000000/app.css",
        &format!(
            "{}/nothing.js",
            seen.iter()
                .next()
                .and_then(|u| u.rsplit_once('/'))
                .map(|(d, _)| d)
                .unwrap_or("")
        ),
    ] {
        let (status, _, body) = get(&state, url, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(error["code"], "not-found");
    }
    // Pages are not API: the OpenAPI document does not list them.
    let doc = service::openapi_json();
    assert!(
        !doc.contains("\"/publish\"") && !doc.contains("\"/assets/"),
        "pages are not in the API document"
    );
    drop(seeded.dir);
}

/// Whether the browser test can run here; the reason when it cannot.
fn missing_tools(browser_dir: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!(
            "{CHROMIUM} is missing: apt-get install -y chromium"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing: install Node.js (20 or later)".to_string());
    }
    if !browser_dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Some(format!(
            "playwright-core is missing: npm ci --prefix {}",
            browser_dir.display()
        ));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_headless_chromium_show_what_the_api_answers() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(reason) = missing_tools(&browser_dir) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {reason}"
        );
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED: the web pages were NOT tested in a browser.");
        eprintln!("!!! {reason}");
        eprintln!("!!! (with CI set, this is a failure)");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        return;
    }
    let seeded = seed().await;
    let state = service::AppState::open(&seeded.url).await.expect("state");
    let run = seed_run(&state, &seeded.admin).await;
    let (address, server) = common::serve(state).await;

    // Upload fixtures: a table with located problems and a good one.
    let files = seeded.dir.path().join("uploads");
    std::fs::create_dir_all(&files).expect("mkdir");
    let bad = files.join("bad-coefficients.csv");
    std::fs::write(
        &bad,
        "industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,treatment,removal_efficiency\n\
         4430,蒸汽,煤炭,层燃炉,所有规模,二氧化碳,千克/吨-原料,16S,直排,0\n\
         4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/公升-原料,16S,直排,0\n\
         4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,16S,直排,150\n",
    )
    .expect("bad file");
    let good = files.join("coefficients.csv");
    std::fs::copy(excerpt().join("coefficients.csv"), &good).expect("good file");
    let screenshots = match std::env::var_os("NPSC_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => seeded.dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).expect("screenshots dir");
    let log = seeded.dir.path().join("node.log");

    let mut command = Command::new("node");
    command
        .current_dir(&browser_dir)
        .args(["--test", "--test-reporter=spec", "pages.test.mjs"])
        .env("NPSC_BASE_URL", format!("http://{address}"))
        .env("NPSC_ADMIN_TOKEN", &seeded.admin)
        .env("NPSC_READER_TOKEN", &seeded.reader)
        .env("NPSC_RUN_ID", run.to_string())
        .env("NPSC_BAD_TABLE", &bad)
        .env("NPSC_GOOD_TABLE", &good)
        .env("NPSC_SCREENSHOTS", &screenshots)
        .env("NPSC_CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
        .stderr(Stdio::from(
            std::fs::File::create(log.with_extension("err")).expect("log"),
        ));
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("start node");
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("node");
    server.abort();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let errors = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    println!("{output}\n{errors}");
    println!(
        "browser tests took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    let status = status.expect("the browser tests finish within 5 minutes");
    assert!(
        status.success(),
        "the browser tests failed ({status}):\n{output}\n{errors}"
    );
    // The Node runner ran the scenarios and none was skipped.
    for line in ["ℹ fail 0", "ℹ cancelled 0", "ℹ skipped 0"] {
        assert!(output.contains(line), "{output}");
    }
    assert!(
        output.contains("ℹ pass ") && !output.contains("ℹ pass 0"),
        "{output}"
    );
    let shots = std::fs::read_dir(&screenshots)
        .expect("screenshots")
        .count();
    assert!(shots >= 5, "one screenshot per page: {shots}");
}
