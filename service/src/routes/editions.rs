//! Coefficient sets and editions: list, read (with filters, pagination, CSV or JSON and
//! immutable caching), resolve by date, diff, and the administrator's upload, publish and retire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use accounting::coefficient::{CoefficientRow, CoefficientSet, Removal};
use accounting::render::{Precision, quantity};
use accounting::text::normalize_name;
use app::editions::{EditionInfo, EditionStatus, Selector};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Caller, caller, require, upload};
use crate::{ApiError, AppState};

/// Reading an edition: drafts need a token (any role); published and retired editions need one
/// unless anonymous reading is allowed.
fn may_read(state: &AppState, caller: &Caller, info: &EditionInfo) -> Result<(), ApiError> {
    if caller.is_some() || (state.anonymous_read && info.status != EditionStatus::Draft) {
        Ok(())
    } else if info.status == EditionStatus::Draft {
        Err(ApiError::unauthorized(format!(
            "{} is a draft: reading it needs a token",
            info.name()
        )))
    } else {
        Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ))
    }
}

/// The edition endpoints.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_editions))
        .routes(routes!(edition))
        .routes(routes!(coefficients))
        .routes(routes!(resolve))
        .routes(routes!(diff))
        .routes(routes!(upload_draft))
        .routes(routes!(publish))
        .routes(routes!(retire))
}

/// An edition as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct EditionDto {
    name: String,
    set_id: String,
    edition: u32,
    status: &'static str,
    title: String,
    effective_from: Option<String>,
    provenance: String,
    synthetic: bool,
    content_hash: String,
    row_count: u64,
    published_at: Option<String>,
    published_by: Option<String>,
    revision_note: Option<String>,
    retired_at: Option<String>,
    retire_note: Option<String>,
}

impl From<&EditionInfo> for EditionDto {
    fn from(e: &EditionInfo) -> EditionDto {
        EditionDto {
            name: e.name(),
            set_id: e.set_id.clone(),
            edition: e.edition,
            status: e.status.as_str(),
            title: e.title.clone(),
            effective_from: e.effective_from.map(|d| d.to_string()),
            provenance: e.provenance.clone(),
            synthetic: e.synthetic,
            content_hash: e.content_hash.clone(),
            row_count: e.row_count,
            published_at: e.published_at.clone(),
            published_by: e.published_by.clone(),
            revision_note: e.revision_note.clone(),
            retired_at: e.retired_at.clone(),
            retire_note: e.retire_note.clone(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    set: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/editions",
    tag = "editions",
    summary = "List the editions of every set (or one set)",
    params(ListQuery),
    responses(
        (status = 200, description = "Editions, newest first per set", body = Vec<EditionDto>),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn list_editions(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<EditionDto>>, ApiError> {
    let caller = caller(&state, &headers).await?;
    let editions = app::editions::list(&state.store, query.set.as_deref()).await?;
    // Anonymous callers see what they may read.
    let visible: Vec<_> = editions
        .iter()
        .filter(|e| may_read(&state, &caller, e).is_ok())
        .map(EditionDto::from)
        .collect();
    if visible.is_empty() && caller.is_none() && !state.anonymous_read {
        return Err(ApiError::unauthorized(
            "this service needs a token for every request",
        ));
    }
    Ok(Json(visible))
}

/// `N`, `latest` or `draft`.
fn selector(set: &str, edition: &str) -> Result<Selector, ApiError> {
    Ok(app::editions::selector(
        &format!("{set}@{edition}"),
        None,
        "effective",
    )?)
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/editions/{edition}",
    tag = "editions",
    summary = "One edition's metadata",
    params(
        ("set" = String, Path, description = "Coefficient set id, e.g. `npsc1-excerpt`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
    ),
    responses(
        (status = 200, description = "The edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn edition(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let info = app::editions::resolve(&state.store, &selector(&set, &edition)?).await?;
    may_read(&state, &caller, &info)?;
    state
        .metrics
        .editions_served
        .fetch_add(1, Ordering::Relaxed);
    // Metadata changes when an edition is retired, so it is revalidated, never cached as immutable.
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        Json(EditionDto::from(&info)),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ResolveQuery {
    at: Option<String>,
    rule: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/resolve",
    tag = "editions",
    summary = "The edition in force at a date",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ResolveQuery,
    ),
    responses(
        (status = 200, description = "The resolved edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn resolve(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<ResolveQuery>,
    headers: HeaderMap,
) -> Result<Json<EditionDto>, ApiError> {
    let caller = caller(&state, &headers).await?;
    let selector = app::editions::selector(
        &set,
        query.at.as_deref(),
        query.rule.as_deref().unwrap_or("effective"),
    )?;
    let info = app::editions::resolve(&state.store, &selector).await?;
    may_read(&state, &caller, &info)?;
    Ok(Json(EditionDto::from(&info)))
}

/// Loads an edition, from the cache when it is immutable.
pub(super) async fn load(
    state: &AppState,
    info: &EditionInfo,
) -> Result<Arc<CoefficientSet>, ApiError> {
    let immutable = info.status != EditionStatus::Draft;
    if immutable
        && let Some(set) = state
            .editions
            .lock()
            .ok()
            .and_then(|cache| cache.get(&info.content_hash).cloned())
    {
        return Ok(set);
    }
    let selector = Selector::Fixed {
        set: info.set_id.clone(),
        edition: info.edition,
    };
    let (_, set) = app::editions::load(&state.store, &selector, &state.reference).await?;
    let set = Arc::new(set);
    if immutable && let Ok(mut cache) = state.editions.lock() {
        cache.insert(info.content_hash.clone(), set.clone());
    }
    Ok(set)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CoefficientQuery {
    industry: Option<String>,
    product: Option<String>,
    raw_material: Option<String>,
    process: Option<String>,
    pollutant: Option<String>,
    treatment: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
    format: Option<String>,
}

/// Most rows per page.
const MAX_PER_PAGE: usize = 1000;

#[derive(Serialize, ToSchema)]
struct CoefficientDto {
    table: String,
    row: u64,
    industry_code: String,
    section: Option<String>,
    product: String,
    raw_material: String,
    process: String,
    scale: String,
    pollutant: String,
    pollutant_code: String,
    unit: String,
    generation_coefficient: String,
    treatment: String,
    removal_efficiency: Option<String>,
    emission_coefficient: Option<String>,
    source: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct CoefficientPage {
    edition: EditionDto,
    total: usize,
    page: usize,
    per_page: usize,
    rows: Vec<CoefficientDto>,
}

/// The filters of a coefficients request, read once per request rather than once per row.
/// A malformed `industry` or an unknown `pollutant` is an error only when a row reaches that
/// test, as when each row parsed them.
struct Filter {
    industry: Option<Result<accounting::codes::IndustryCode, String>>,
    pollutant: Option<Result<accounting::pollutant::PollutantId, String>>,
    product: Option<String>,
    raw_material: Option<String>,
    process: Option<String>,
    treatment: Option<String>,
}

impl Filter {
    fn new(query: &CoefficientQuery, state: &AppState) -> Filter {
        let name = |given: &Option<String>| given.as_deref().map(normalize_name);
        Filter {
            industry: query.industry.as_deref().map(|industry| {
                accounting::codes::IndustryCode::parse(industry)
                    .map_err(|e| format!("industry: {e}"))
            }),
            pollutant: query.pollutant.as_deref().map(|pollutant| {
                state
                    .reference
                    .pollutants
                    .lookup(pollutant)
                    .ok_or_else(|| format!("pollutant: unknown pollutant `{pollutant}`"))
            }),
            product: name(&query.product),
            raw_material: name(&query.raw_material),
            process: name(&query.process),
            treatment: name(&query.treatment),
        }
    }

    fn matches(&self, row: &CoefficientRow, state: &AppState) -> Result<bool, ApiError> {
        let same = |given: &Option<String>, actual: &str| {
            given.as_deref().is_none_or(|g| g == normalize_name(actual))
        };
        if let Some(industry) = &self.industry {
            let code = industry.as_ref().map_err(ApiError::bad_request)?;
            let section_ok = code.section().is_none_or(|s| {
                state
                    .reference
                    .industries
                    .get(&row.industry)
                    .is_some_and(|i| i.section == s)
            });
            if !section_ok || !row.industry.digits().starts_with(code.digits()) {
                return Ok(false);
            }
        }
        if let Some(pollutant) = &self.pollutant
            && *pollutant.as_ref().map_err(ApiError::bad_request)? != row.pollutant
        {
            return Ok(false);
        }
        Ok(same(&self.product, &row.product)
            && same(&self.raw_material, &row.raw_material)
            && same(&self.process, &row.process)
            && same(&self.treatment, &row.treatment))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/editions/{edition}/coefficients",
    tag = "editions",
    summary = "An edition's coefficients, filtered and paged",
    description = "Published and retired editions are immutable: a numbered edition carries a strong `ETag` (its content hash plus the format) and `Cache-Control: public, max-age=31536000, immutable`. `latest` and drafts are `no-cache`. CSV by `Accept: text/csv` or `?format=csv`.",
    params(
        ("set" = String, Path, description = "Coefficient set id, e.g. `npsc1-excerpt`"),
        ("edition" = String, Path, description = "Edition number, `latest` or `draft`"),
        CoefficientQuery,
    ),
    responses(
        (status = 200, description = "One page of coefficients (JSON), or the selected rows as CSV", body = CoefficientPage),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 304, description = "Not modified (`If-None-Match` matched the ETag)"),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn coefficients(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    Query(query): Query<CoefficientQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let selector = selector(&set, &edition)?;
    let found = resolve_shared(&state, format!("{set}@{edition}"), &selector).await?;
    let info = &found.info;
    may_read(&state, &caller, info)?;
    let csv = super::wants_csv(query.format.as_deref(), &headers)?;
    // Immutable: a numbered edition that is published or retired. `latest` and drafts may change.
    let immutable =
        matches!(selector, Selector::Fixed { .. }) && info.status != EditionStatus::Draft;
    let etag = format!(
        "\"{}-{}\"",
        info.content_hash,
        if csv { "csv" } else { "json" }
    );
    let cache_headers = |response: &mut Response| {
        let h = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, value);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept"));
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut response);
        return Ok(response);
    }
    let per_page = query.per_page.unwrap_or(100).clamp(1, MAX_PER_PAGE);
    let page = query.page.unwrap_or(1).max(1);
    // The rows of a published or retired edition never change (`latest` included, once
    // resolved), so its response is a function of the edition as shown, the format, the filters
    // and the page; drafts are rendered every time.
    let key = (info.status != EditionStatus::Draft).then(|| BodyKey {
        edition: found.shown.clone(),
        csv,
        filters: [
            query.industry.clone(),
            query.pollutant.clone(),
            query.product.as_deref().map(normalize_name),
            query.raw_material.as_deref().map(normalize_name),
            query.process.as_deref().map(normalize_name),
            query.treatment.as_deref().map(normalize_name),
        ],
        page,
        per_page,
    });
    let cached = key.as_ref().and_then(|key| state.coefficients.body(key));
    let body = match cached {
        Some(body) => body,
        None => {
            let body = render(&state, info, &query, csv, page, per_page).await?;
            if let Some(key) = key {
                state.coefficients.keep(key, body.clone());
            }
            body
        }
    };
    state
        .metrics
        .editions_served
        .fetch_add(1, Ordering::Relaxed);
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    cache_headers(&mut response);
    Ok(response)
}

/// The response body: the selected page of rows as a [`CoefficientPage`] (JSON) or as CSV.
async fn render(
    state: &AppState,
    info: &EditionInfo,
    query: &CoefficientQuery,
    csv: bool,
    page: usize,
    per_page: usize,
) -> Result<Bytes, ApiError> {
    let loaded = load(state, info).await?;
    let filter = Filter::new(query, state);
    let mut selected = Vec::new();
    for row in loaded.rows() {
        if filter.matches(row, state)? {
            selected.push(row);
        }
    }
    let total = selected.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let rows = &selected[start..end];
    if csv {
        return Ok(Bytes::from(app::editions::rows_csv(
            rows.iter().copied(),
            &state.reference,
        )));
    }
    let page = CoefficientPage {
        edition: EditionDto::from(info),
        total,
        page,
        per_page,
        rows: rows.iter().map(|row| coefficient_dto(row, state)).collect(),
    };
    serde_json::to_vec(&page).map(Bytes::from).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("cannot serialize the coefficients of {}: {e}", info.name()),
        )
    })
}

fn coefficient_dto(row: &CoefficientRow, state: &AppState) -> CoefficientDto {
    let pollutant = state.reference.pollutants.get(row.pollutant);
    let (efficiency, emission) = match &row.removal {
        Removal::Efficiency { percent } => (Some(quantity(*percent, Precision::Exact)), None),
        Removal::EmissionCoefficient(f) => (None, Some(f.text().to_string())),
        Removal::None => (None, None),
    };
    CoefficientDto {
        table: row.origin.table.clone(),
        row: row.origin.row,
        industry_code: row.industry.to_string(),
        section: row.section.clone(),
        product: row.product.clone(),
        raw_material: row.raw_material.clone(),
        process: row.process.clone(),
        scale: row.scale.label().to_string(),
        pollutant: pollutant.name.clone(),
        pollutant_code: pollutant.code.clone(),
        unit: row.unit.text(),
        generation_coefficient: row.generation.text().to_string(),
        treatment: row.treatment.clone(),
        removal_efficiency: efficiency,
        emission_coefficient: emission,
        source: row.note.clone(),
    }
}

/// What the coefficients read path keeps between requests, one per [`AppState`]: the rendered
/// responses of editions whose rows never change, and the edition look-ups that concurrent
/// requests share.
#[derive(Default)]
pub(crate) struct CoefficientCache {
    bodies: Mutex<Bodies>,
    lookups: Mutex<HashMap<String, Arc<Lookup>>>,
    /// Bumped by every edition write through this instance: a look-up made before it is not
    /// reused.
    generation: AtomicU64,
}

impl CoefficientCache {
    /// Forgets every recent look-up: called after an upload, publish or retire through this
    /// instance, so that its own writes show at once.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// How long the look-up of a numbered published or retired edition is reused without asking
/// the database again. Its rows never change; only a retire (status, note, date) can change what
/// the response shows. Writes through this instance invalidate at once; a retire made elsewhere
/// (another instance, the CLI) shows within this window. (Clients may keep such a response for a
/// year anyway: it is served as immutable.)
const FRESH: std::time::Duration = std::time::Duration::from_millis(100);

/// Most bytes of cached bodies, and most bodies; past either, the least recently used are
/// dropped down to three quarters.
const BODY_BUDGET: usize = 32 << 20;
const MAX_BODIES: usize = 4096;
/// A larger body is not cached.
const MAX_BODY: usize = 4 << 20;
/// Look-ups of selectors that no request is using are forgotten past this many.
const MAX_LOOKUPS: usize = 256;

/// What a response body depends on besides the rows of the edition it names.
#[derive(PartialEq, Eq, Hash)]
struct BodyKey {
    /// The edition as the API shows it, so that a retire, which changes the metadata but not
    /// the rows, gives new bodies.
    edition: Arc<Shown>,
    csv: bool,
    /// `industry` and `pollutant` as given, the name filters normalized as they are compared.
    filters: [Option<String>; 6],
    page: usize,
    per_page: usize,
}

impl BodyKey {
    fn size(&self) -> usize {
        self.edition.json.len()
            + self
                .filters
                .iter()
                .flatten()
                .map(String::len)
                .sum::<usize>()
    }
}

#[derive(Default)]
struct Bodies {
    map: HashMap<BodyKey, Kept>,
    bytes: usize,
    clock: u64,
}

struct Kept {
    body: Bytes,
    size: usize,
    used: u64,
}

impl CoefficientCache {
    fn body(&self, key: &BodyKey) -> Option<Bytes> {
        let mut guard = self.bodies.lock().ok()?;
        let bodies = &mut *guard;
        bodies.clock += 1;
        let kept = bodies.map.get_mut(key)?;
        kept.used = bodies.clock;
        Some(kept.body.clone())
    }

    fn keep(&self, key: BodyKey, body: Bytes) {
        if body.len() > MAX_BODY {
            return;
        }
        let Ok(mut guard) = self.bodies.lock() else {
            return;
        };
        let bodies = &mut *guard;
        bodies.clock += 1;
        let size = body.len() + key.size();
        let kept = Kept {
            body,
            size,
            used: bodies.clock,
        };
        bodies.bytes += size;
        if let Some(old) = bodies.map.insert(key, kept) {
            bodies.bytes -= old.size;
        }
        if bodies.bytes > BODY_BUDGET || bodies.map.len() > MAX_BODIES {
            // Keep the most recently used within three quarters of both limits.
            let mut recent: Vec<(u64, usize)> =
                bodies.map.values().map(|k| (k.used, k.size)).collect();
            recent.sort_unstable_by(|a, b| b.cmp(a));
            let (mut bytes, mut count, mut oldest_kept) = (0, 0, u64::MAX);
            for (used, size) in recent {
                if bytes + size > BODY_BUDGET / 4 * 3 || count + 1 > MAX_BODIES / 4 * 3 {
                    break;
                }
                bytes += size;
                count += 1;
                oldest_kept = used;
            }
            bodies.map.retain(|_, k| k.used >= oldest_kept);
            bodies.bytes = bytes;
        }
    }
}

/// An edition as a look-up found it.
struct Found {
    info: EditionInfo,
    shown: Arc<Shown>,
}

/// An edition's metadata as the API shows it (serialized [`EditionDto`]), made once per
/// database read rather than once per request.
struct Shown {
    json: String,
    hash: u64,
}

impl Shown {
    fn new(info: &EditionInfo) -> Shown {
        let json = serde_json::to_string(&EditionDto::from(info)).unwrap_or_default();
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&json, &mut hasher);
        Shown {
            hash: std::hash::Hasher::finish(&hasher),
            json,
        }
    }
}

impl PartialEq for Shown {
    fn eq(&self, other: &Shown) -> bool {
        self.hash == other.hash && self.json == other.json
    }
}

impl Eq for Shown {}

impl std::hash::Hash for Shown {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The look-ups of one selector. At most one database read is in flight; a request takes the
/// result of a read that started after it arrived, or reads itself. A read that started
/// earlier may predate a publish or retire the caller already saw, so its result is never
/// taken: every request sees the database as it was at some moment after it arrived, as if
/// it had read it itself, while concurrent readers share one read.
#[derive(Default)]
struct Lookup {
    /// Reads started so far.
    started: AtomicU64,
    /// The latest successful read: its number and result.
    last: tokio::sync::Mutex<Option<(u64, Arc<Found>)>>,
    /// The latest read of a numbered published or retired edition: when, under which
    /// generation, and what.
    recent: Mutex<Option<(std::time::Instant, u64, Arc<Found>)>>,
}

/// [`app::editions::resolve`], shared by concurrent requests for the same selector (`name`).
async fn resolve_shared(
    state: &AppState,
    name: String,
    selector: &Selector,
) -> Result<Arc<Found>, ApiError> {
    let found = |info: EditionInfo| {
        Arc::new(Found {
            shown: Arc::new(Shown::new(&info)),
            info,
        })
    };
    let lookup = state.coefficients.lookups.lock().ok().map(|mut lookups| {
        if lookups.len() >= MAX_LOOKUPS && !lookups.contains_key(&name) {
            lookups.retain(|_, lookup| Arc::strong_count(lookup) > 1);
        }
        lookups.entry(name).or_default().clone()
    });
    let Some(lookup) = lookup else {
        return Ok(found(app::editions::resolve(&state.store, selector).await?));
    };
    let fixed = matches!(selector, Selector::Fixed { .. });
    let generation = state.coefficients.generation.load(Ordering::SeqCst);
    if fixed
        && let Some((at, seen, shared)) = lookup.recent.lock().ok().and_then(|r| r.clone())
        && seen == generation
        && at.elapsed() < FRESH
    {
        return Ok(shared);
    }
    let arrived = lookup.started.load(Ordering::SeqCst);
    let mut last = lookup.last.lock().await;
    if let Some((read, shared)) = last.as_ref()
        && *read > arrived
    {
        return Ok(shared.clone());
    }
    let read = lookup.started.fetch_add(1, Ordering::SeqCst) + 1;
    let result = app::editions::resolve(&state.store, selector)
        .await
        .map(found);
    *last = result.as_ref().ok().map(|shared| (read, shared.clone()));
    if fixed
        && let Ok(shared) = &result
        && shared.info.status != EditionStatus::Draft
        && let Ok(mut recent) = lookup.recent.lock()
    {
        *recent = Some((std::time::Instant::now(), generation, shared.clone()));
    }
    Ok(result?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DiffQuery {
    from: String,
    to: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/sets/{set}/diff",
    tag = "editions",
    summary = "Differences between two editions",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "Added, removed and changed rows with key migrations", body = Object),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn diff(
    State(state): State<AppState>,
    Path(set): Path<String>,
    Query(query): Query<DiffQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    for edition in [&query.from, &query.to] {
        let info = app::editions::resolve(&state.store, &selector(&set, edition)?).await?;
        may_read(&state, &caller, &info)?;
    }
    let read = app::ReadOptions::default();
    let old = app::editions::load_any(
        &state.store,
        &format!("{set}@{}", query.from),
        &state.reference,
        &read,
    )
    .await?;
    let new = app::editions::load_any(
        &state.store,
        &format!("{set}@{}", query.to),
        &state.reference,
        &read,
    )
    .await?;
    let diff = accounting::diff::diff(
        &old.set,
        &new.set,
        &state.reference.pollutants,
        &new.set.meta().key_migrations,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        app::editions::diff_json(&diff, &old, &new),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    title: Option<String>,
    effective_from: Option<String>,
    provenance: Option<String>,
    #[serde(default)]
    synthetic: bool,
}

/// Uploads a coefficient table (CSV, or Excel by its content type) as the set's draft.
#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/drafts",
    tag = "editions",
    summary = "Upload a coefficient table as the set's draft (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        UploadQuery,
    ),
    request_body(content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("multipart/form-data")), description = "The table as the raw body (CSV or Excel by `Content-Type`), or a multipart form with a `file` part"),
    responses(
        (status = 201, description = "The draft edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 409, description = "The set has a published edition with the same content", body = crate::error::ErrorBody),
        (status = 413, description = "Over the upload limit", body = crate::error::ErrorBody),
        (status = 422, description = "The table has issues; all of them are listed, located", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn upload_draft(
    State(state): State<AppState>,
    Path(set): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let (actor, query, request) =
        upload::admit(&state, &headers, app::tokens::Role::Admin, query, request).await?;
    let mut parts = upload::read(&state, request, "coefficients").await?;
    let part = if parts.len() == 1 {
        parts.remove(0)
    } else {
        upload::take(&mut parts, "file")?
    };
    let meta = app::editions::UploadMeta {
        set_id: set.clone(),
        title: query.title.unwrap_or_else(|| set.clone()),
        effective_from: query.effective_from,
        provenance: query.provenance.unwrap_or_default(),
        synthetic: query.synthetic,
    };
    let info = app::editions::import_upload(
        &state.store,
        meta,
        &part.file_name,
        &part.bytes,
        &state.reference,
        &actor,
    )
    .await?;
    state.coefficients.invalidate();
    Ok((StatusCode::CREATED, Json(EditionDto::from(&info))).into_response())
}

/// `{"note": "…"}`: the revision note of a publish, the reason of a retirement.
#[derive(Deserialize, ToSchema)]
pub(super) struct NoteBody {
    pub(super) note: String,
}

/// The admin token's name and the `{"note": …}` body shared by publish and retire.
pub(super) async fn admin_with_note(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(String, NoteBody), ApiError> {
    let actor = require(&caller(state, headers).await?, app::tokens::Role::Admin)?;
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("expected `{{\"note\": \"…\"}}`: {e}")))?;
    Ok((actor, body))
}

/// An edition number of a path (at most 40 characters of a bad one are echoed).
pub(super) fn edition_number(edition: &str) -> Result<u32, ApiError> {
    edition.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not an edition number",
            edition.chars().take(40).collect::<String>()
        ))
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/editions/{edition}/publish",
    tag = "editions",
    summary = "Publish a draft with a revision note (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ("edition" = u32, Path, description = "The draft's edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The published edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not a draft, or already published", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn publish(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<EditionDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let info = app::editions::publish(
        &state.store,
        &set,
        Some(edition_number(&edition)?),
        &body.note,
        &actor,
        &state.reference,
    )
    .await?;
    state.coefficients.invalidate();
    Ok(Json(EditionDto::from(&info)))
}

#[utoipa::path(
    post,
    path = "/api/v1/sets/{set}/editions/{edition}/retire",
    tag = "editions",
    summary = "Retire a published edition with a note (administrator)",
    params(
        ("set" = String, Path, description = "Coefficient set id"),
        ("edition" = u32, Path, description = "The edition number"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The retired edition", body = EditionDto),
        (status = 400, description = "A malformed parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No token where one is needed, or an unknown or revoked token", body = crate::error::ErrorBody),
        (status = 403, description = "The token is not an administrator's", body = crate::error::ErrorBody),
        (status = 404, description = "No such set or edition", body = crate::error::ErrorBody),
        (status = 409, description = "Not published", body = crate::error::ErrorBody),
    ),
    security((), ("token" = [])),
)]
async fn retire(
    State(state): State<AppState>,
    Path((set, edition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<EditionDto>, ApiError> {
    let (actor, body) = admin_with_note(&state, &headers, body).await?;
    let info = app::editions::retire(
        &state.store,
        &set,
        edition_number(&edition)?,
        &body.note,
        &actor,
    )
    .await?;
    state.coefficients.invalidate();
    Ok(Json(EditionDto::from(&info)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// A state over a fresh SQLite file with `npsc1-excerpt@1` published.
    async fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
        let state = AppState::open(&url).await.expect("state");
        let excerpt =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../coefficients/npsc1-excerpt");
        let read = app::ReadOptions::default();
        app::editions::import(&state.store, &excerpt, &state.reference, &read, "test")
            .await
            .expect("import");
        app::editions::publish(
            &state.store,
            "npsc1-excerpt",
            None,
            "first",
            "test",
            &state.reference,
        )
        .await
        .expect("publish");
        (dir, state)
    }

    async fn get(state: &AppState, uri: &str) -> (StatusCode, HeaderMap, Bytes) {
        let response = crate::router(state.clone())
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        (parts.status, parts.headers, body)
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).expect("JSON")
    }

    #[tokio::test]
    async fn a_kept_page_is_the_same_bytes_and_a_retire_shows_within_the_window() {
        let (_dir, state) = state().await;
        let uri =
            "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=1351&process=屠宰、分割";
        let (status, headers, first) = get(&state, uri).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let kept = || state.coefficients.bodies.lock().expect("lock").map.len();
        assert_eq!(kept(), 1);
        // The same filter written differently (with a space, which names ignore) is the same page.
        let (_, _, second) = get(
            &state,
            "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=1351&process=%20屠宰、分割",
        )
        .await;
        assert_eq!(first, second);
        assert_eq!(kept(), 1);
        assert_eq!(json(&first)["total"], 30);
        assert_eq!(json(&first)["edition"]["status"], "published");

        // Retiring changes the metadata shown with the rows, not the rows.
        app::editions::retire(&state.store, "npsc1-excerpt", 1, "superseded", "test")
            .await
            .expect("retire");
        // Retired elsewhere (as by the CLI or another instance): shown once the window passed.
        tokio::time::sleep(FRESH + std::time::Duration::from_millis(20)).await;
        let (_, retired_headers, retired) = get(&state, uri).await;
        let (before, after) = (json(&first), json(&retired));
        assert_eq!(after["edition"]["status"], "retired");
        assert_eq!(after["edition"]["retire_note"], "superseded");
        assert_eq!(before["rows"], after["rows"]);
        assert_eq!(headers[header::ETAG], retired_headers[header::ETAG]);
        assert_eq!(kept(), 2);

        // CSV is kept apart from JSON.
        let (_, headers, csv) = get(&state, &format!("{uri}&format=csv")).await;
        assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert!(csv.starts_with(b"industry_code,"));
        assert_eq!(kept(), 3);
    }

    #[tokio::test]
    async fn kept_pages_stay_within_their_limits() {
        let cache = CoefficientCache::default();
        let shown = Arc::new(Shown {
            json: "e".to_string(),
            hash: 0,
        });
        let key = |i: usize| BodyKey {
            edition: shown.clone(),
            csv: false,
            filters: Default::default(),
            page: i,
            per_page: 1,
        };
        let body = Bytes::from(vec![b'x'; 1 << 20]);
        for i in 0..40 {
            cache.keep(key(i), body.clone());
            // The one just read is kept; the least recently used go first.
            assert!(cache.body(&key(0)).is_some(), "after {i}");
        }
        let bodies = cache.bodies.lock().expect("lock");
        assert!(bodies.bytes <= BODY_BUDGET, "{}", bodies.bytes);
        assert_eq!(
            bodies.bytes,
            bodies.map.values().map(|k| k.size).sum::<usize>()
        );
        assert!(bodies.map.contains_key(&key(39)));
        assert!(!bodies.map.contains_key(&key(1)));
        drop(bodies);
        cache.keep(key(99), Bytes::from(vec![b'x'; MAX_BODY + 1]));
        assert!(cache.body(&key(99)).is_none());
    }

    /// Readers share look-ups, yet a request sent after a retire through this instance returned
    /// never gets a look-up that started before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_look_ups_never_predate_the_request() {
        let (_dir, state) = state().await;
        let retired = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..32 {
            let (state, retired, stop) = (state.clone(), retired.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                let (mut before, mut after) = (0u32, 0u32);
                while !stop.load(Ordering::SeqCst) {
                    let sent_after_retire = retired.load(Ordering::SeqCst);
                    let (status, _, body) = get(
                        &state,
                        "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=4430",
                    )
                    .await;
                    assert_eq!(status, StatusCode::OK);
                    let shown = json(&body)["edition"]["status"].clone();
                    if sent_after_retire {
                        assert_eq!(shown, "retired", "a look-up older than the request");
                        after += 1;
                    } else {
                        before += 1;
                    }
                }
                (before, after)
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app::editions::retire(&state.store, "npsc1-excerpt", 1, "superseded", "test")
            .await
            .expect("retire");
        // As the retire handler does after its write: this instance's own writes show at once.
        state.coefficients.invalidate();
        retired.store(true, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        let (mut before, mut after) = (0, 0);
        for reader in readers {
            let (b, a) = reader.await.expect("reader");
            before += b;
            after += a;
        }
        assert!(before > 0 && after > 0, "{before} before, {after} after");
        let reads = state.coefficients.lookups.lock().expect("lock")["npsc1-excerpt@1"]
            .started
            .load(Ordering::SeqCst);
        assert!(
            reads < u64::from(before + after),
            "{reads} database reads for {} requests",
            before + after
        );
    }
}
