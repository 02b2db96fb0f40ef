//! The web pages: plain HTML shells whose ES modules call the JSON API of the same origin.
//!
//! Every file is written by hand in `service/assets/` and embedded into the binary, so the pages
//! need no build step, no CDN and no network. Pages are not API: they are plain axum routes,
//! outside the OpenAPI document. Each page is one static shell (no data is ever interpolated into
//! the HTML; the scripts read the path and query themselves and insert text with `textContent`).
//!
//! Assets are served under `/assets/{version}/{file}`, where `version` is a hash of all asset
//! contents, computed at compile time: a new binary with changed assets gets new URLs, so assets
//! are cached as immutable (with a strong `ETag` as well); an old version answers 404. Relative
//! module imports (`./common.js`) stay inside the same version.
//!
//! Every page carries a strict `Content-Security-Policy` (no inline script, `default-src 'self'`)
//! and `X-Content-Type-Options: nosniff`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{ApiError, AppState};

/// The policy of every page: scripts, styles, images and requests only from this origin; no
/// inline script or style, no plugins, no framing, no `<base>`.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: name, content type, bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("common.js", JS),
    asset!("index.js", JS),
    asset!("edition.js", JS),
    asset!("diff.js", JS),
    asset!("runs.js", JS),
    asset!("run.js", JS),
    asset!("chart.js", JS),
    asset!("publish.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// 64-bit FNV-1a, continued from `hash`: enough to tell asset versions apart.
const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The hash of every asset's name and bytes, computed at compile time.
const VERSION: u64 = {
    let mut hash = FNV_OFFSET;
    let mut i = 0;
    while i < ASSETS.len() {
        hash = fnv1a(hash, ASSETS[i].name.as_bytes());
        hash = fnv1a(hash, &[0]);
        hash = fnv1a(hash, ASSETS[i].bytes);
        i += 1;
    }
    hash
};

/// The asset version as it appears in URLs.
fn version() -> String {
    format!("{VERSION:016x}")
}

/// The pages.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| page(Page::Index)))
        .route(
            "/sets/{set}/editions/{edition}",
            get(|| page(Page::Edition)),
        )
        .route("/sets/{set}/diff", get(|| page(Page::Diff)))
        .route("/runs", get(|| page(Page::Runs)))
        .route("/runs/{id}", get(|| page(Page::Run)))
        .route("/publish", get(|| page(Page::Publish)))
        .route("/assets/{version}/{file}", get(asset))
}

#[derive(Clone, Copy, PartialEq)]
enum Page {
    Index,
    Edition,
    Diff,
    Runs,
    Run,
    Publish,
}

impl Page {
    /// The module that renders the page.
    fn script(self) -> &'static str {
        match self {
            Page::Index => "index.js",
            Page::Edition => "edition.js",
            Page::Diff => "diff.js",
            Page::Runs => "runs.js",
            Page::Run => "run.js",
            Page::Publish => "publish.js",
        }
    }

    /// The page's title, Chinese first; the script refines it once it knows the data.
    fn title(self) -> &'static str {
        match self {
            Page::Index => "系数版本 Editions",
            Page::Edition => "系数 Coefficients",
            Page::Diff => "版本比较 Diff",
            Page::Runs => "核算运行 Runs",
            Page::Run => "核算运行 Run",
            Page::Publish => "发布 Publish",
        }
    }

    /// The navigation entry the page belongs to.
    fn section(self) -> &'static str {
        match self {
            Page::Index | Page::Edition | Page::Diff => "/",
            Page::Runs | Page::Run => "/runs",
            Page::Publish => "/publish",
        }
    }
}

const NAV: [(&str, &str); 4] = [
    ("/", "系数版本 Editions"),
    ("/runs", "核算运行 Runs"),
    ("/publish", "发布 Publish"),
    ("/docs/", "接口文档 API docs"),
];

/// The static shell of a page. Nothing in it comes from the request.
fn shell(page: Page) -> String {
    let v = version();
    let title = page.title();
    let script = page.script();
    let mut nav = String::new();
    for (href, label) in NAV {
        let current = if href == page.section() {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!("<a href=\"{href}\"{current}>{label}</a>"));
    }
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · npsc</title>
<link rel="icon" href="/assets/{v}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/{v}/app.css">
<script type="module" src="/assets/{v}/{script}"></script>
</head>
<body>
<header class="top">
<a class="brand" href="/">npsc <span>产排污系数 Coefficients</span></a>
<nav>{nav}</nav>
<span id="who" class="who"></span>
</header>
<main id="main">
<h1>{title}</h1>
<p class="loading">加载中… Loading…</p>
<noscript><p class="error">本页需要 JavaScript。This page needs JavaScript; the JSON API is described at <a href="/docs/">/docs/</a>.</p></noscript>
</main>
<footer>npsc · <a href="/openapi.json">OpenAPI</a> · <a href="/healthz">healthz</a></footer>
</body>
</html>
"#
    )
}

/// Headers every page and asset carries.
fn harden(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

async fn page(page: Page) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        shell(page),
    )
        .into_response();
    harden(response.headers_mut());
    response
}

async fn asset(
    Path((requested, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let found = ASSETS.iter().find(|a| a.name == file);
    let Some(asset) = found.filter(|_| requested == version()) else {
        return Err(ApiError::not_found(
            "no such asset (this page may be from an older version of the service: reload it)",
        ));
    };
    let etag = format!("\"{:016x}\"", fnv1a(FNV_OFFSET, asset.bytes));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    harden(h);
    Ok(response)
}
