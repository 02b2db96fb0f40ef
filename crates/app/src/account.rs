//! The accounting use case: coefficients + registry + activity → results and totals.
//!
//! The activity file is streamed. Per-row results go to a temporary file next to the requested
//! results path and are moved into place only when the whole run succeeded, so a failed run never
//! leaves a partial output behind.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accounting::activity::Exclusion;
use accounting::codes::{IndustryCode, IndustryLevel, RegionCode, RegionLevel};
use accounting::coefficient::{CoefficientSet, ContentHash};
use accounting::date::Date;
use accounting::engine::{Emission, Engine, Flags, Outcome, Policy, Severity};
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity, quantity_into};
use accounting::totals::{Grouping, Totals};
use ingest::activity::{ActivityReader, Next};
use ingest::reference::Reference;
use ingest::spreadsheet::field;
use ingest::table::ReadOptions;
use ingest::{Issue, Issues, Source};

use crate::AppError;

/// What to account, and how. Resolved by the front-end before calling [`account`].
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// A coefficient set folder (with `manifest.toml`) or a single table.
    pub coefficients: PathBuf,
    /// The enterprise registry.
    pub registry: PathBuf,
    /// The activity data.
    pub activity: PathBuf,
    /// How totals are grouped.
    pub grouping: Grouping,
    /// Choices that change numbers.
    pub policy: Policy,
    /// Encoding and sheet options for every input file.
    pub read: ReadOptions,
    /// Where to write one line per activity row and pollutant, if anywhere.
    pub results: Option<PathBuf>,
    /// Fail (and write nothing) when any row matches no coefficient.
    pub deny_unaccounted: bool,
}

/// Progress of a long run, reported in bytes of the activity file.
pub trait Progress {
    /// Called once with the file size, when known.
    fn start(&self, total_bytes: Option<u64>);
    /// Called now and then.
    fn advance(&self, bytes_read: u64);
    /// Called at the end.
    fn finish(&self);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// The coefficient set a run used.
#[derive(Debug, Clone, PartialEq)]
pub struct SetSummary {
    /// Set id.
    pub id: String,
    /// Edition.
    pub edition: u32,
    /// Title.
    pub title: String,
    /// Content hash.
    pub content_hash: ContentHash,
    /// Effective date.
    pub effective_from: Option<Date>,
    /// Whether the set is synthetic.
    pub synthetic: bool,
    /// Number of coefficient rows.
    pub rows: usize,
}

/// One line of totals with names resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalLine {
    /// Year.
    pub year: u16,
    /// Region at the grouping level (`None` = national).
    pub region: Option<RegionCode>,
    /// Its name path, e.g. `河北省 / 石家庄市` (shared by the lines of one region).
    pub region_name: Arc<str>,
    /// Industry at the grouping level (`None` = all).
    pub industry: Option<IndustryCode>,
    /// Its name (shared by the lines of one industry).
    pub industry_name: Arc<str>,
    /// Pollutant id.
    pub pollutant: PollutantId,
    /// Pollutant code.
    pub pollutant_code: Arc<str>,
    /// Pollutant name.
    pub pollutant_name: Arc<str>,
    /// Report unit.
    pub unit: Arc<str>,
    /// Generated.
    pub generated: f64,
    /// Emitted.
    pub emitted: f64,
    /// Activity rows covered.
    pub rows: u64,
    /// Of those, rows with a flagged result.
    pub flagged_rows: u64,
}

/// A row left out of the totals, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RowNote {
    /// 1-based row in the activity file.
    pub row: u64,
    /// Year.
    pub year: u16,
    /// Enterprise.
    pub uscc: String,
    /// Stable code.
    pub code: &'static str,
    /// What happened.
    pub message: String,
    /// A suggestion.
    pub hint: Option<String>,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Non-blank activity rows read.
    pub rows_read: u64,
    /// Rows accounted (in the totals).
    pub rows_accounted: u64,
    /// Rows of closed enterprises, left out.
    pub rows_excluded: u64,
    /// Rows that match no coefficient, left out.
    pub rows_unaccounted: u64,
    /// Results (row × pollutant).
    pub results: u64,
    /// Results that fell back to `直排`.
    pub direct_fallbacks: u64,
    /// Results where k was assumed by policy.
    pub operation_rates_assumed: u64,
    /// Results where a given k was not used (emission-coefficient rows).
    pub operation_rates_unused: u64,
}

impl Summary {
    /// Adds the counts of another part of the same file.
    fn merge(&mut self, other: &Summary) {
        self.rows_read += other.rows_read;
        self.rows_accounted += other.rows_accounted;
        self.rows_excluded += other.rows_excluded;
        self.rows_unaccounted += other.rows_unaccounted;
        self.results += other.results;
        self.direct_fallbacks += other.direct_fallbacks;
        self.operation_rates_assumed += other.operation_rates_assumed;
        self.operation_rates_unused += other.operation_rates_unused;
    }
}

/// Most row notes kept in the report; the summary counts all of them.
pub const NOTE_CAP: usize = 1000;

/// Rows left out for the same reason, counted together so that a reason shared by a million
/// rows reads as one line.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteGroup {
    /// Stable code.
    pub code: &'static str,
    /// The reason, e.g. "no coefficient for industry `C1351`, product `冻牛肉`, …".
    pub message: String,
    /// A suggestion.
    pub hint: Option<String>,
    /// How many rows.
    pub rows: u64,
    /// The first few row numbers.
    pub first_rows: Vec<u64>,
}

/// Most distinct reasons kept; further rows are still counted in the summary.
pub const GROUP_CAP: usize = 1000;
/// Row numbers kept per reason.
const GROUP_ROWS: usize = 5;

/// Groups notes by code and message, in order of first appearance.
#[derive(Default)]
struct Grouper {
    groups: Vec<NoteGroup>,
    index: std::collections::HashMap<(&'static str, String), usize>,
}

impl Grouper {
    /// Adds the groups of the next part of the file (rows in file order).
    fn merge(&mut self, other: Grouper) {
        for group in other.groups {
            match self.index.get(&(group.code, group.message.clone())) {
                Some(&i) => {
                    let mine = &mut self.groups[i];
                    mine.rows += group.rows;
                    let room = GROUP_ROWS.saturating_sub(mine.first_rows.len());
                    mine.first_rows
                        .extend(group.first_rows.into_iter().take(room));
                }
                None if self.groups.len() < GROUP_CAP => {
                    self.index
                        .insert((group.code, group.message.clone()), self.groups.len());
                    self.groups.push(group);
                }
                None => {}
            }
        }
    }

    fn add(&mut self, note: &RowNote, with_uscc: bool) {
        let message = if with_uscc {
            format!("{} {}", note.uscc, note.message)
        } else {
            note.message.clone()
        };
        match self.index.get(&(note.code, message.clone())) {
            Some(&i) => {
                let group = &mut self.groups[i];
                group.rows += 1;
                if group.first_rows.len() < GROUP_ROWS {
                    group.first_rows.push(note.row);
                }
            }
            None if self.groups.len() < GROUP_CAP => {
                self.index
                    .insert((note.code, message.clone()), self.groups.len());
                self.groups.push(NoteGroup {
                    code: note.code,
                    message,
                    hint: note.hint.clone(),
                    rows: 1,
                    first_rows: vec![note.row],
                });
            }
            None => {}
        }
    }
}

/// The outcome of a successful run.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountReport {
    /// The set used.
    pub set: SetSummary,
    /// Grouping of the totals.
    pub grouping: Grouping,
    /// Policy used.
    pub policy: Policy,
    /// Totals, sorted by year, region, industry, pollutant.
    pub totals: Vec<TotalLine>,
    /// Counts.
    pub summary: Summary,
    /// Rows that matched no coefficient (first [`NOTE_CAP`]).
    pub unaccounted: Vec<RowNote>,
    /// Rows of closed enterprises (first [`NOTE_CAP`]).
    pub excluded: Vec<RowNote>,
    /// Unaccounted rows grouped by reason.
    pub unaccounted_groups: Vec<NoteGroup>,
    /// Excluded rows grouped by enterprise and reason.
    pub excluded_groups: Vec<NoteGroup>,
    /// Where per-row results were written.
    pub results_path: Option<PathBuf>,
    /// Parts the activity file was read in, in parallel (1: one pass).
    pub parts: usize,
}

/// Runs the accounting.
pub fn account(
    settings: &AccountSettings,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<AccountReport, AppError> {
    let set = load_coefficients(settings, reference)?;
    account_with(&set, settings, reference, progress)
}

/// Reads the coefficient set named by `settings.coefficients` (a folder or a table).
pub fn load_coefficients(
    settings: &AccountSettings,
    reference: &Reference,
) -> Result<CoefficientSet, AppError> {
    ingest::coefficients::load_set(&settings.coefficients, reference, &settings.read)
        .map_err(|issues| AppError::input("the coefficient set", issues))
}

/// Runs the accounting with a coefficient set already loaded (e.g. an edition from the
/// database); `settings.coefficients` is ignored.
pub fn account_with(
    set: &CoefficientSet,
    settings: &AccountSettings,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<AccountReport, AppError> {
    account_into(set, settings, reference, progress, None)
}

/// Receives every accounted row's results as they are computed (e.g. to store them). An error
/// stops the run.
pub trait ResultSink {
    /// One activity row and its results.
    fn accept(
        &mut self,
        item: &ingest::activity::ActivityItem<'_>,
        region: RegionCode,
        emissions: &[Emission],
        set: &CoefficientSet,
        reference: &Reference,
    ) -> std::io::Result<()>;
}

/// [`account_with`], also handing every accounted row's results to `sink`.
pub fn account_into(
    set: &CoefficientSet,
    settings: &AccountSettings,
    reference: &Reference,
    progress: &dyn Progress,
    sink: Option<&mut dyn ResultSink>,
) -> Result<AccountReport, AppError> {
    account_in_parts(
        set,
        settings,
        reference,
        progress,
        sink,
        (PARALLEL_PARTS, PARALLEL_MIN_BYTES),
    )
}

/// [`account_into`] with the parts a large file is read in: `(parts, from this many bytes)`.
fn account_in_parts(
    set: &CoefficientSet,
    settings: &AccountSettings,
    reference: &Reference,
    progress: &dyn Progress,
    sink: Option<&mut dyn ResultSink>,
    (parallel_parts, parallel_min_bytes): (usize, u64),
) -> Result<AccountReport, AppError> {
    phase_memory("coefficient set loaded");
    let registry = ingest::registry::read_registry_for_accounting(
        Source::Path(&settings.registry),
        reference,
        &settings.read,
    )
    .map_err(|issues| AppError::input("the registry", issues))?;
    phase_memory("registry read");
    let open = || {
        ActivityReader::open(Source::Path(&settings.activity), &settings.read)
            .map_err(|issues| AppError::input("the activity data", issues))
    };
    let mut results = match &settings.results {
        Some(path) => Some(ResultsWriter::create(path, set)?),
        None => None,
    };
    // A large CSV file without per-row outputs is read in parts, one thread each; the parts
    // depend only on the file (never on the machine), so the totals are the same everywhere.
    let parts = if results.is_none() && sink.is_none() {
        ingest::table::split_csv(&settings.activity, parallel_parts, parallel_min_bytes)
            .ok()
            .flatten()
    } else {
        None
    };
    let mut readers = Vec::new();
    if let Some(parts) = &parts {
        for part in parts {
            let mut reader = open()?;
            if !reader.restrict(*part) {
                readers.clear();
                break;
            }
            readers.push(reader);
        }
    }
    let parts_read = readers.len().max(1);
    let part = if readers.len() > 1 {
        let (first, others) = readers.split_first_mut().expect("two readers or more");
        let scaled = Scaled {
            inner: progress,
            factor: others.len() as u64 + 1,
        };
        progress.start(first.table().total_bytes());
        let registry = &registry;
        let outcomes: Vec<Result<Part, AppError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = others
                .iter_mut()
                .map(|reader| {
                    scope.spawn(move || {
                        account_part(set, settings, reference, registry, reader, None, None, None)
                    })
                })
                .collect();
            let mut outcomes = vec![account_part(
                set,
                settings,
                reference,
                registry,
                first,
                Some(&scaled),
                None,
                None,
            )];
            for handle in handles {
                outcomes.push(handle.join().unwrap_or_else(|_| {
                    Err(AppError::Internal(
                        "a thread accounting part of the file failed".to_string(),
                    ))
                }));
            }
            outcomes
        });
        let mut merged: Option<Part> = None;
        for outcome in outcomes {
            let part = outcome?;
            match &mut merged {
                None => merged = Some(part),
                Some(all) => all.merge(part),
            }
        }
        merged.expect("at least one part")
    } else {
        let mut reader = open()?;
        progress.start(reader.table().total_bytes());
        account_part(
            set,
            settings,
            reference,
            &registry,
            &mut reader,
            Some(progress),
            results.as_mut(),
            sink,
        )?
    };
    phase_memory("activity accounted");
    let Part {
        totals,
        summary,
        issues,
        unaccounted,
        excluded,
        unaccounted_groups,
        excluded_groups,
        write_error,
        sink_error,
    } = part;
    progress.finish();
    if issues.has_errors() {
        return Err(AppError::input("the activity data", issues));
    }
    if let Some(e) = sink_error {
        return Err(AppError::Internal(format!(
            "storing the results failed: {e}"
        )));
    }
    if let Some(e) = write_error {
        return Err(AppError::Path {
            action: "write",
            path: settings.results.clone().unwrap_or_default(),
            source: e,
        });
    }
    let results_path = match results {
        Some(writer) => Some(writer.commit()?),
        None => None,
    };

    // Names are made once per region, industry and pollutant and shared by their lines: a
    // county × industry × pollutant grouping has millions of lines but a few thousand names.
    let mut region_names: HashMap<Option<RegionCode>, Arc<str>> = HashMap::new();
    let mut industry_names: HashMap<Option<IndustryCode>, Arc<str>> = HashMap::new();
    let mut pollutant_names: HashMap<PollutantId, [Arc<str>; 3]> = HashMap::new();
    // The registry is not needed any more, and each group of sums is freed as its lines are
    // made: the sums and their lines are never held twice.
    drop(registry);
    let totals = totals
        .into_rows()
        .map(|t| {
            let region_name = region_names
                .entry(t.region)
                .or_insert_with(|| match t.region {
                    None => Arc::from("全国"),
                    Some(code) => Arc::from(reference.regions.path_name(code).unwrap_or_default()),
                })
                .clone();
            let industry_name = industry_names
                .entry(t.industry.clone())
                .or_insert_with(|| match &t.industry {
                    None => Arc::from("全部行业"),
                    Some(code) => Arc::from(
                        reference
                            .industries
                            .get(code)
                            .map(|i| i.name.as_str())
                            .unwrap_or_default(),
                    ),
                })
                .clone();
            let [pollutant_code, pollutant_name, unit] = pollutant_names
                .entry(t.pollutant)
                .or_insert_with(|| {
                    let p = reference.pollutants.get(t.pollutant);
                    [
                        Arc::from(p.code.as_str()),
                        Arc::from(p.name.as_str()),
                        Arc::from(p.report_unit.symbol()),
                    ]
                })
                .clone();
            TotalLine {
                year: t.year,
                region_name,
                region: t.region,
                industry_name,
                industry: t.industry,
                pollutant: t.pollutant,
                pollutant_code,
                pollutant_name,
                unit,
                generated: t.generated,
                emitted: t.emitted,
                rows: t.rows,
                flagged_rows: t.flagged_rows,
            }
        })
        .collect();
    phase_memory("total lines made");
    let meta = set.meta();
    Ok(AccountReport {
        set: SetSummary {
            id: meta.id.clone(),
            edition: meta.edition,
            title: meta.title.clone(),
            content_hash: set.content_hash(),
            effective_from: meta.effective_from,
            synthetic: meta.synthetic,
            rows: set.rows().len(),
        },
        grouping: settings.grouping,
        policy: settings.policy,
        totals,
        summary,
        unaccounted,
        excluded,
        unaccounted_groups: unaccounted_groups.groups,
        excluded_groups: excluded_groups.groups,
        results_path,
        parts: parts_read,
    })
}

/// With `NPSC_PHASE_MEMORY` set, prints the resident and the peak memory of the process
/// (Linux's `VmRSS` and `VmHWM`) after each phase of a run to stderr: how the figures of the
/// README's performance section were taken. Nothing happens otherwise, or off Linux.
fn phase_memory(phase: &str) {
    if std::env::var_os("NPSC_PHASE_MEMORY").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("?", str::trim)
            .to_string()
    };
    // The process's CPU time and age, in clock ticks (100 a second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // After the `)`: state is field 0 (not a number), utime 11, stime 12, starttime 19; the
    // state is skipped by the parse, so those are 10, 11 and 18 here.
    let (cpu, wall) = match (ticks.get(10), ticks.get(11), ticks.get(18)) {
        (Some(u), Some(s), Some(start)) => ((u + s) / 100.0, uptime - start / 100.0),
        _ => (0.0, 0.0),
    };
    eprintln!(
        "memory after {phase}: {} resident, {} peak; {wall:.2} s wall, {cpu:.2} s CPU",
        field("VmRSS:"),
        field("VmHWM:")
    );
}

/// Parts a large CSV activity file is read in (see [`account_into`]).
const PARALLEL_PARTS: usize = 2;
/// Files smaller than this are read in one part.
const PARALLEL_MIN_BYTES: u64 = 32 << 20;

/// Progress of the first of several parts, scaled to the whole file.
struct Scaled<'a> {
    inner: &'a dyn Progress,
    factor: u64,
}

impl Progress for Scaled<'_> {
    fn start(&self, _: Option<u64>) {}
    fn advance(&self, bytes_read: u64) {
        self.inner.advance(bytes_read.saturating_mul(self.factor));
    }
    fn finish(&self) {}
}

/// What one part of the activity file gave.
struct Part {
    totals: Totals,
    summary: Summary,
    issues: Issues,
    unaccounted: Vec<RowNote>,
    excluded: Vec<RowNote>,
    unaccounted_groups: Grouper,
    excluded_groups: Grouper,
    write_error: Option<std::io::Error>,
    sink_error: Option<std::io::Error>,
}

impl Part {
    /// Adds the next part (in file order).
    fn merge(&mut self, next: Part) {
        self.totals.merge(next.totals);
        self.summary.merge(&next.summary);
        self.issues.extend(next.issues);
        for (mine, theirs) in [
            (&mut self.unaccounted, next.unaccounted),
            (&mut self.excluded, next.excluded),
        ] {
            let room = NOTE_CAP.saturating_sub(mine.len());
            mine.extend(theirs.into_iter().take(room));
        }
        self.unaccounted_groups.merge(next.unaccounted_groups);
        self.excluded_groups.merge(next.excluded_groups);
        self.write_error = self.write_error.take().or(next.write_error);
        self.sink_error = self.sink_error.take().or(next.sink_error);
    }
}

/// Accounts the rows of one reader (a whole file, or a part of it).
#[allow(clippy::too_many_arguments)]
fn account_part(
    set: &CoefficientSet,
    settings: &AccountSettings,
    reference: &Reference,
    registry: &accounting::activity::Registry,
    reader: &mut ActivityReader,
    progress: Option<&dyn Progress>,
    mut results: Option<&mut ResultsWriter>,
    mut sink: Option<&mut dyn ResultSink>,
) -> Result<Part, AppError> {
    let mut engine = Engine::new(set, &reference.pollutants, registry, settings.policy);
    let mut totals = Totals::new();
    let mut regions_at_level: accounting::FastMap<RegionCode, Option<RegionCode>> =
        accounting::FastMap::default();
    let mut industries_at_level: accounting::FastMap<IndustryCode, Option<IndustryCode>> =
        accounting::FastMap::default();
    let mut issues = Issues::with_cap(settings.read.issue_cap);
    let mut summary = Summary::default();
    let mut unaccounted = Vec::new();
    let mut excluded = Vec::new();
    let mut unaccounted_groups = Grouper::default();
    let mut excluded_groups = Grouper::default();
    let mut emissions: Vec<Emission> = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    let mut sink_error: Option<std::io::Error> = None;

    loop {
        emissions.clear();
        let next = reader
            .next(reference, registry, &mut issues, |item| {
                let row = &item.row;
                let outcome = match engine.account(row, &mut emissions) {
                    Ok(Outcome::Accounted(_)) => {
                        let enterprise = registry.get(row.enterprise);
                        // Both look-ups walk a table: done once per region and industry.
                        let region =
                            *regions_at_level
                                .entry(enterprise.region)
                                .or_insert_with(|| {
                                    reference
                                        .regions
                                        .at_level(enterprise.region, settings.grouping.region)
                                });
                        let industry = match industries_at_level.get(row.industry) {
                            Some(found) => found.clone(),
                            None => {
                                let found = settings.grouping.industry.and_then(|level| {
                                    reference.industries.at_level(row.industry, level)
                                });
                                industries_at_level.insert(row.industry.clone(), found.clone());
                                found
                            }
                        };
                        totals.add_row(row.year, region, industry.as_ref(), &emissions);
                        if let Some(writer) = results.as_mut().filter(|_| write_error.is_none())
                            && let Err(e) = writer.accept(
                                item,
                                enterprise.region,
                                &emissions,
                                engine.set(),
                                reference,
                            )
                        {
                            write_error = Some(e);
                        }
                        if let Some(sink) = sink.as_mut().filter(|_| sink_error.is_none())
                            && let Err(e) = sink.accept(
                                item,
                                enterprise.region,
                                &emissions,
                                engine.set(),
                                reference,
                            )
                        {
                            sink_error = Some(e);
                        }
                        RowResult::Accounted
                    }
                    Ok(Outcome::Excluded(exclusion)) => RowResult::Excluded(exclusion),
                    Err(problem) => RowResult::Problem(problem),
                };
                (row.row, *item.uscc, row.year, outcome)
            })
            .map_err(|issue| {
                let mut all = Issues::new();
                all.push(issue);
                AppError::input("the activity data", all)
            })?;
        let (row, uscc, year, outcome) = match next {
            Next::End => break,
            Next::Bad => {
                summary.rows_read += 1;
                continue;
            }
            Next::Row(outcome) => outcome,
        };
        summary.rows_read += 1;
        if summary.rows_read % 65_536 == 0
            && let Some(progress) = progress
        {
            progress.advance(reader.table().bytes_read());
        }
        match outcome {
            RowResult::Accounted => {
                summary.rows_accounted += 1;
                for emission in &emissions {
                    summary.results += 1;
                    if emission.flags.contains(Flags::DIRECT_FALLBACK) {
                        summary.direct_fallbacks += 1;
                    }
                    if emission.flags.contains(Flags::OPERATION_RATE_ASSUMED) {
                        summary.operation_rates_assumed += 1;
                    }
                    if emission.flags.contains(Flags::OPERATION_RATE_UNUSED) {
                        summary.operation_rates_unused += 1;
                    }
                }
            }
            RowResult::Excluded(exclusion) => {
                summary.rows_excluded += 1;
                let note = RowNote {
                    row,
                    year,
                    uscc: uscc.as_str().to_string(),
                    code: match exclusion {
                        Exclusion::ClosedBefore { .. } => "closed",
                        Exclusion::ClosedUndated { .. } => "closed-undated",
                    },
                    message: exclusion.to_string(),
                    hint: None,
                };
                excluded_groups.add(&note, true);
                if excluded.len() < NOTE_CAP {
                    excluded.push(note);
                }
            }
            RowResult::Problem(problem) => {
                let field = column_index(problem.column());
                let mut issue = match problem.severity() {
                    Severity::Error => Issue::error(
                        reader.location(row, field),
                        problem.code(),
                        problem.to_string(),
                    ),
                    Severity::Unaccounted => Issue::warning(
                        reader.location(row, field),
                        problem.code(),
                        problem.to_string(),
                    ),
                };
                if let Some(hint) = problem.hint() {
                    issue = issue.with_hint(hint);
                }
                if problem.severity() == Severity::Unaccounted {
                    summary.rows_unaccounted += 1;
                    let note = RowNote {
                        row,
                        year,
                        uscc: uscc.as_str().to_string(),
                        code: problem.code(),
                        message: problem.to_string(),
                        hint: problem.hint(),
                    };
                    unaccounted_groups.add(&note, false);
                    if unaccounted.len() < NOTE_CAP {
                        unaccounted.push(note);
                    }
                    if settings.deny_unaccounted {
                        issues.push(Issue {
                            severity: ingest::Severity::Error,
                            ..issue
                        });
                    }
                } else {
                    issues.push(issue);
                }
            }
        }
    }
    Ok(Part {
        totals,
        summary,
        issues,
        unaccounted,
        excluded,
        unaccounted_groups,
        excluded_groups,
        write_error,
        sink_error,
    })
}

enum RowResult {
    Accounted,
    Excluded(Exclusion),
    Problem(accounting::engine::RowProblem),
}

fn column_index(name: &str) -> usize {
    ingest::schemas::ACTIVITY
        .fields
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(ingest::schemas::activity::ACTIVITY)
}

/// Parses a region level name for the command line and the API.
pub fn parse_region_level(text: &str) -> Result<RegionLevel, AppError> {
    RegionLevel::parse(text).ok_or_else(|| AppError::Argument {
        message: format!("unknown region level `{text}`"),
        hint: Some("use national, province, prefecture or county".to_string()),
    })
}

/// Parses an industry level name; `all` means no industry breakdown.
pub fn parse_industry_level(text: &str) -> Result<Option<IndustryLevel>, AppError> {
    if matches!(text.trim(), "all" | "none" | "全部") {
        return Ok(None);
    }
    IndustryLevel::parse(text)
        .map(Some)
        .ok_or_else(|| AppError::Argument {
            message: format!("unknown industry level `{text}`"),
            hint: Some("use all, section, division (2), group (3) or class (4)".to_string()),
        })
}

/// Writes per-row results to a temporary file, renamed into place by [`ResultsWriter::commit`].
struct ResultsWriter {
    path: PathBuf,
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    /// `,set_id,edition,content_hash`, written as fields.
    provenance: String,
    /// Per coefficient row (by index), made when first used: the fields that depend only on
    /// the row, each exactly as the one CSV writer writes it (`ingest::spreadsheet::field`):
    /// `pollutant_code,pollutant,unit`, `treatment,removal`, and
    /// `coefficient_table,coefficient_row,generation_coefficient,coefficient_unit`.
    rows: Vec<Option<[String; 3]>>,
    /// The `flags` field per set of flags.
    flags: accounting::FastMap<Flags, String>,
    line: String,
}

const RESULT_HEADER: [&str; 23] = [
    "year",
    "uscc",
    "region_code",
    "industry_code",
    "unit_id",
    "outlet_id",
    "activity_row",
    "pollutant_code",
    "pollutant",
    "unit",
    "generated",
    "emitted",
    "treatment",
    "removal",
    "operation_rate",
    "flags",
    "set_id",
    "edition",
    "content_hash",
    "coefficient_table",
    "coefficient_row",
    "generation_coefficient",
    "coefficient_unit",
];

impl ResultsWriter {
    fn create(path: &Path, set: &CoefficientSet) -> Result<ResultsWriter, AppError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".npsc-results-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|source| AppError::Path {
                action: "write",
                path: path.to_path_buf(),
                source,
            })?;
        let mut file = std::io::BufWriter::with_capacity(1 << 18, temp);
        let header: Vec<String> = RESULT_HEADER.iter().map(|h| field(h)).collect();
        writeln!(file, "{}", header.join(",")).map_err(|source| AppError::Path {
            action: "write",
            path: path.to_path_buf(),
            source,
        })?;
        let meta = set.meta();
        Ok(ResultsWriter {
            path: path.to_path_buf(),
            file,
            provenance: format!(
                ",{},{},{}",
                field(&meta.id),
                field(&meta.edition.to_string()),
                field(&set.content_hash().to_string())
            ),
            rows: vec![None; set.rows().len()],
            flags: accounting::FastMap::default(),
            line: String::with_capacity(1024),
        })
    }
}

impl ResultSink for ResultsWriter {
    fn accept(
        &mut self,
        item: &ingest::activity::ActivityItem<'_>,
        region: RegionCode,
        emissions: &[Emission],
        set: &CoefficientSet,
        reference: &Reference,
    ) -> std::io::Result<()> {
        use std::fmt::Write as _;
        let row = &item.row;
        // The fields of the activity row, once for all its results.
        let mut prefix = String::new();
        for (i, cell) in [
            row.year.to_string().as_str(),
            item.uscc.as_str(),
            region.to_string().as_str(),
            row.industry.to_string().as_str(),
            item.unit_id.unwrap_or(""),
            item.outlet_id.unwrap_or(""),
            row.row.to_string().as_str(),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                prefix.push(',');
            }
            prefix.push_str(&field(cell));
        }
        for e in emissions {
            let [pollutant, treatment, origin] = self.rows[e.coefficient_row as usize]
                .get_or_insert_with(|| {
                    let coefficient = set.row(e.coefficient_row);
                    let p = reference.pollutants.get(e.pollutant);
                    let removal = match &coefficient.removal {
                        accounting::coefficient::Removal::Efficiency { percent } => {
                            format!("efficiency {percent}%")
                        }
                        accounting::coefficient::Removal::EmissionCoefficient(f) => {
                            format!("emission coefficient {}", f.canonical())
                        }
                        accounting::coefficient::Removal::None => "none".to_string(),
                    };
                    [
                        format!(
                            "{},{},{}",
                            field(&p.code),
                            field(&p.name),
                            field(p.report_unit.symbol())
                        ),
                        format!("{},{}", field(&coefficient.treatment), field(&removal)),
                        format!(
                            "{},{},{},{}",
                            field(&coefficient.origin.table),
                            coefficient.origin.row,
                            field(&coefficient.generation.canonical()),
                            field(&coefficient.unit.text())
                        ),
                    ]
                });
            let flags = self
                .flags
                .entry(e.flags)
                .or_insert_with(|| field(&e.flags.names().join(";")));
            let line = &mut self.line;
            line.clear();
            // Writing into a String cannot fail.
            let _ = write!(line, "{prefix},{pollutant},");
            number_field(line, e.generated);
            line.push(',');
            number_field(line, e.emitted);
            let _ = write!(line, ",{treatment},");
            if let Some(k) = e.operation_rate {
                number_field(line, k);
            }
            let _ = write!(line, ",{flags}{},{origin}", self.provenance);
            line.push('\n');
            self.file.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// A quantity as a CSV field: written directly when it is a plain non-negative number (what
/// the engine gives), through [`field`] otherwise.
fn number_field(line: &mut String, value: f64) {
    if value.is_finite() && value >= 0.0 {
        quantity_into(line, value, Precision::Exact);
    } else {
        line.push_str(&field(&quantity(value, Precision::Exact)));
    }
}

impl ResultsWriter {
    fn commit(self) -> Result<PathBuf, AppError> {
        let path = self.path;
        let fail = |source: std::io::Error| AppError::Path {
            action: "write",
            path: path.clone(),
            source,
        };
        let temp = self
            .file
            .into_inner()
            .map_err(|e| fail(std::io::Error::other(e.to_string())))?;
        crate::output::make_readable(temp.as_file()).map_err(fail)?;
        temp.as_file().sync_all().map_err(fail)?;
        temp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accounting::engine::OperationRatePolicy;

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    /// The sample's activity rows 40 times over, with rows that match no coefficient, rows of a
    /// closed enterprise and, when `bad`, rows with errors spread through the file.
    fn activity(dir: &Path, bad: bool) -> PathBuf {
        let sample = std::fs::read_to_string(repo("datasets/sample-synthetic/activity.csv"))
            .expect("sample activity");
        let mut lines = sample.lines();
        let header = lines.next().expect("header");
        let rows: Vec<&str> = lines.collect();
        let mut text = format!("{header}\n");
        for copy in 0..40 {
            for (i, row) in rows.iter().enumerate() {
                text.push_str(row);
                text.push('\n');
                if bad && i == copy % rows.len() {
                    // A year out of range: a located error.
                    text.push_str(&row.replacen("202", "302", 1));
                    text.push('\n');
                }
            }
        }
        let path = dir.join("activity.csv");
        std::fs::write(&path, text).expect("write");
        path
    }

    fn settings(activity: PathBuf, region: RegionLevel) -> AccountSettings {
        AccountSettings {
            coefficients: repo("coefficients/npsc1-excerpt"),
            registry: repo("datasets/sample-synthetic/registry.csv"),
            activity,
            grouping: Grouping {
                region,
                industry: Some(IndustryLevel::Class),
            },
            policy: Policy {
                missing_operation_rate: OperationRatePolicy::Nominal,
            },
            read: ReadOptions::default(),
            results: None,
            deny_unaccounted: false,
        }
    }

    #[test]
    fn a_file_read_in_parts_gives_what_it_gives_in_one() {
        let reference = crate::reference::bundled().expect("reference");
        let dir = tempfile::tempdir().expect("dir");
        let path = activity(dir.path(), false);
        let settings = settings(path, RegionLevel::County);
        let set = load_coefficients(&settings, &reference).expect("set");
        let run = |parts: usize| {
            account_in_parts(&set, &settings, &reference, &NoProgress, None, (parts, 0))
                .expect("accounts")
        };
        let whole = run(1);
        assert_eq!(whole.parts, 1);
        assert!(whole.summary.rows_excluded > 0 && whole.summary.rows_unaccounted > 0);
        for parts in [2, 3, 8] {
            let split = run(parts);
            assert_eq!(split.parts, parts, "read in parts");
            assert_eq!(split.summary, whole.summary, "{parts} parts");
            assert_eq!(split.unaccounted, whole.unaccounted, "{parts} parts");
            assert_eq!(split.excluded, whole.excluded, "{parts} parts");
            assert_eq!(split.unaccounted_groups, whole.unaccounted_groups);
            assert_eq!(split.excluded_groups, whole.excluded_groups);
            assert_eq!(split.totals.len(), whole.totals.len());
            for (a, b) in split.totals.iter().zip(&whole.totals) {
                assert_eq!(
                    (a.year, a.region, &a.industry, a.pollutant, a.rows),
                    (b.year, b.region, &b.industry, b.pollutant, b.rows)
                );
                approx::assert_relative_eq!(a.emitted, b.emitted, max_relative = 1e-12);
                approx::assert_relative_eq!(a.generated, b.generated, max_relative = 1e-12);
            }
        }
    }

    #[test]
    fn every_error_of_a_file_read_in_parts_is_reported_with_its_row() {
        let reference = crate::reference::bundled().expect("reference");
        let dir = tempfile::tempdir().expect("dir");
        let path = activity(dir.path(), true);
        let settings = settings(path, RegionLevel::Province);
        let set = load_coefficients(&settings, &reference).expect("set");
        let issues = |parts: usize| match account_in_parts(
            &set,
            &settings,
            &reference,
            &NoProgress,
            None,
            (parts, 0),
        ) {
            Err(AppError::Input { issues, .. }) => issues,
            other => panic!("expected located errors, got {other:?}"),
        };
        let whole = issues(1);
        assert_eq!(whole.len(), 40);
        assert_eq!(issues(2), whole);
        assert_eq!(issues(5), whole);
    }
}
