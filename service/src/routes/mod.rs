//! The routes of API v1, the operational endpoints and the OpenAPI document.
//!
//! Every API route is registered through [`utoipa_axum::router::OpenApiRouter`] with its
//! `#[utoipa::path]` annotation, so a route cannot exist without being in `/openapi.json`.
//! Each module owns one group of endpoints and returns its `OpenApiRouter`.

mod consistency;
mod editions;
mod pages;
mod quota;
mod reconciliations;
mod reference_tables;
mod regional;
mod registry;
mod reports;
mod runs;
mod statistics;
mod tax;
mod upload;
mod views;

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::{ApiError, AppState};

pub(crate) use editions::CoefficientCache;

/// Who is calling: `None` for an anonymous request.
pub(crate) type Caller = Option<(String, app::tokens::Role)>;

/// Reads the `Authorization: Bearer` token. A token that is present but malformed, unknown or
/// revoked is refused outright rather than treated as anonymous.
pub(crate) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    match app::tokens::verify(&state.store, token).await? {
        Some(caller) => Ok(Some(caller)),
        None => Err(ApiError::unauthorized("unknown or revoked token")),
    }
}

/// Requires a token with at least `role`: 401 without one, 403 with a weaker one. Returns the
/// token's name, which is the actor of every write.
pub(crate) fn require(caller: &Caller, role: app::tokens::Role) -> Result<String, ApiError> {
    match caller {
        None => Err(ApiError::unauthorized(format!(
            "this needs a token with the role `{}`",
            role.as_str()
        ))),
        Some((name, have)) if *have >= role => Ok(name.clone()),
        Some((name, have)) => Err(ApiError::forbidden(format!(
            "token `{name}` has the role `{}`; this needs `{}`",
            have.as_str(),
            role.as_str()
        ))),
    }
}

/// Reading anything but a published or retired edition (runs, statistics, the registry):
/// a token of any role. Anonymous reading, when allowed, covers published editions only.
pub(crate) async fn require_reader(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let caller = caller(state, headers).await?;
    require(&caller, app::tokens::Role::Reader).map(|_| ())
}

/// A body that could not be read: 413 over the upload limit, 400 otherwise.
pub(crate) fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request(format!("cannot read the request body: {rejection}"))
    }
}

/// A query string that does not parse: 400. Handlers take their query as a `Result` and call
/// this after the token check, so that a caller without the right token learns nothing else.
pub(crate) fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query parameter: {}", rejection.body_text()))
}

/// CSV by `?format=csv` or `Accept: text/csv`, JSON otherwise; another `format` is a 400 that
/// quotes at most 40 characters of it.
pub(crate) fn wants_csv(format: Option<&str>, headers: &HeaderMap) -> Result<bool, ApiError> {
    match format {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "format: `{}` is neither `json` nor `csv`",
            other.chars().take(40).collect::<String>()
        ))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

/// A CSV body.
pub(crate) fn csv_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}

/// 413.
pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "the upload is larger than the service accepts",
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "npsc API",
        description = "Pollution-source census coefficient editions, accounting runs, statistics \
                       and the enterprise registry, served from one place so that statistics, \
                       permit and tax offices use the same numbers.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "editions", description = "Coefficient sets and their versioned editions"),
        (name = "runs", description = "Accounting runs: submit inputs, read provenance, totals and per-row results, stale runs, impact of an edition"),
        (name = "statistics", description = "Totals from stored runs by year, pollutant, region level and industry level"),
        (name = "registry", description = "The enterprise registry: search, status histories, change-set imports"),
        (name = "reconciliation", description = "Permit-reported emissions against the coefficient estimates: comparison, numbers of record, weighted least-squares reconciliation, stored with their provenance"),
        (name = "tax", description = "The environmental protection tax of monitored emissions or of a reconciliation's numbers of record: quarterly declaration and totals, money in decimals"),
        (name = "reference tables", description = "Versioned reference tables (tax equivalents, rates, item counts): canonical CSV per edition, published and immutable like coefficient editions"),
        (name = "total-load", description = "Total-load control: a run's totals against caps, progress against the reduction targets, enterprises above their permitted quantity"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("npsc_<id>_<secret>")
                        .build(),
                ),
            );
        }
    }
}

/// The API routes and their OpenAPI document.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(editions::routes())
        .merge(runs::routes())
        .merge(statistics::routes())
        .merge(registry::routes())
        .merge(reconciliations::routes())
        .merge(tax::routes())
        .merge(quota::routes())
        .merge(consistency::routes())
        .merge(reports::routes())
        .merge(reference_tables::routes())
        .merge(regional::routes())
        .split_for_parts()
}

/// The OpenAPI 3 document of API v1, as served at `/openapi.json`.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

pub(crate) fn router(state: AppState) -> Router {
    let (api, doc) = api();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(pages::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .layer(DefaultBodyLimit::max(state.upload_limit_bytes))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state)
}

/// The request timeouts: `GET` and `HEAD` get `limits.read_timeout`, everything else (uploads,
/// publishes, accounting runs: the body is read inside) `limits.write_timeout`. A request over
/// its time gets 503 `timeout`; its handler's future is dropped, which rolls back a write's
/// open transaction (every write is one transaction), so nothing half-done is kept.
async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (limit, which) = if matches!(*request.method(), Method::GET | Method::HEAD) {
        (state.limits.read_timeout, "read")
    } else {
        (state.limits.write_timeout, "write")
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request did not finish within the service's {which} timeout of {} s; \
                 nothing was changed",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// Request ids: a caller's `x-request-id` is kept (when it is short and printable), otherwise
/// one is made; it is logged with the request and returned in the response.
static NEXT_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = state.metrics.in_flight();
    // Nothing is allocated here unless it is logged: this runs for every request.
    let given_id = request
        .headers()
        .get("x-request-id")
        .filter(|v| {
            let v = v.as_bytes();
            !v.is_empty() && v.len() <= 64 && v.iter().all(u8::is_ascii_graphic)
        })
        .cloned();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let log = tracing::enabled!(tracing::Level::INFO);
    let path = log.then(|| request.uri().path().to_string());
    let mut response = one_error_shape(next.run(request).await).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record(
        method.as_str(),
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        status,
        seconds,
    );
    let request_id = given_id.unwrap_or_else(|| {
        let made = format!(
            "{}-{}",
            std::process::id(),
            NEXT_REQUEST.fetch_add(1, Ordering::Relaxed)
        );
        HeaderValue::from_str(&made).unwrap_or_else(|_| HeaderValue::from_static("-"))
    });
    if log {
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            method = %method,
            path = path.as_deref().unwrap_or(""),
            status,
            ms = seconds * 1000.0,
            "request"
        );
    }
    response.headers_mut().insert("x-request-id", request_id);
    response
}

/// Gives every error the one JSON shape: axum's own rejections (a query string or path
/// segment that does not parse, a wrong method, an unreadable body) answer in plain text, so
/// they are rewrapped here, whichever handler they came from.
async fn one_error_shape(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let mut rewrapped = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewrapped.headers_mut().insert(name, value.clone());
        }
    }
    rewrapped
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    // A real query: a service whose database is gone is not healthy.
    app::editions::list(&state.store, Some("")).await?;
    Ok("ok\n")
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
