//! Key units and the regional industrial total as the statistics system makes it: select the
//! key units (重点调查单位) from a base-year run, keep the list as a versioned reference table,
//! then estimate each area's non-key part (非重点调查单位) for a later year from the key units'
//! year-over-year change; the regional industrial total is key + non-key, each part labelled.
//! The rules are [`accounting::keyunits`]'s; the quantities are a stored run's per-row results
//! (one accounting basis, the run's edition hash in the provenance).

use std::collections::{BTreeMap, BTreeSet};

use accounting::codes::{RegionCode, RegionLevel, Uscc};
use accounting::keyunits::{
    self, Estimate, NestingRow, Reason, Selection, SelectionRule, UnitQuantity,
};
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity};
use ingest::Source;
use store::runs::ResultRecord;

use crate::editions::Store;
use crate::reference_tables::{self, ReferenceKind, TableChoice};
use crate::sheet::Sheet;
use crate::{AppError, ReadOptions, Reference};

/// The selection pollutants of the rule: wastewater, COD, NH3-N, SO2, NOx, particulates.
pub const DEFAULT_POLLUTANTS: [&str; 6] = ["WASTEWATER", "COD", "NH3N", "SO2", "NOX", "PM"];
/// The heavy metals whose emitters are key units: mercury, cadmium, chromium (total and
/// hexavalent), arsenic, lead.
pub const DEFAULT_HEAVY_METALS: [&str; 6] = ["HG", "CD", "CR", "CR6", "AS", "PB"];

/// How key units are selected.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUnitSettings {
    /// The areas' level (prefecture).
    pub level: RegionLevel,
    /// Pollutant codes or names ranked.
    pub pollutants: Vec<String>,
    /// Share of emission covered (0.85).
    pub emission_share: f64,
    /// Share of generation covered (0.65), or none.
    pub generation_share: Option<f64>,
    /// Heavy metals (codes or names).
    pub heavy_metals: Vec<String>,
    /// The base year, when the run has several.
    pub year: Option<u16>,
}

impl Default for KeyUnitSettings {
    fn default() -> Self {
        KeyUnitSettings {
            level: RegionLevel::Prefecture,
            pollutants: DEFAULT_POLLUTANTS.map(str::to_string).to_vec(),
            emission_share: 0.85,
            generation_share: Some(0.65),
            heavy_metals: DEFAULT_HEAVY_METALS.map(str::to_string).to_vec(),
            year: None,
        }
    }
}

fn pollutant_ids(names: &[String], reference: &Reference) -> Result<Vec<PollutantId>, AppError> {
    names
        .iter()
        .map(|n| {
            reference
                .pollutants
                .lookup(n)
                .ok_or_else(|| AppError::Argument {
                    message: format!("unknown pollutant `{n}`"),
                    hint: Some(
                        "use a code or name of datasets/reference/pollutants.csv".to_string(),
                    ),
                })
        })
        .collect()
}

fn share(value: f64, what: &str) -> Result<f64, AppError> {
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(AppError::Argument {
            message: format!("the {what} share must be above 0 and at most 1, not {value}"),
            hint: Some("write 0.85 for 85 %".to_string()),
        })
    }
}

/// The year of a run's results to use: the one asked for, or the run's only year.
fn year_of(results: &[ResultRecord], asked: Option<u16>, run: i64) -> Result<u16, AppError> {
    let years: BTreeSet<u16> = results.iter().map(|r| r.year).collect();
    match asked {
        Some(y) if years.contains(&y) => Ok(y),
        Some(y) => Err(AppError::Argument {
            message: format!(
                "run {run} has no results for {y} (it has {})",
                years
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: None,
        }),
        None if years.len() == 1 => Ok(*years.iter().next().unwrap_or(&0)),
        None => Err(AppError::Argument {
            message: format!(
                "run {run} has results for {} years: say which with --year",
                years.len()
            ),
            hint: None,
        }),
    }
}

/// A run's per-row results of one year as unit quantities.
fn quantities(
    results: &[ResultRecord],
    year: u16,
    reference: &Reference,
) -> Result<Vec<UnitQuantity>, AppError> {
    let bad = |what: &str, value: &str| {
        AppError::Internal(format!(
            "a stored result has an unreadable {what} `{value}`"
        ))
    };
    results
        .iter()
        .filter(|r| r.year == year)
        .map(|r| {
            Ok(UnitQuantity {
                uscc: Uscc::parse(&r.uscc).map_err(|_| bad("USCC", &r.uscc))?,
                region: RegionCode::parse(&r.region_code)
                    .map_err(|_| bad("region", &r.region_code))?,
                pollutant: reference
                    .pollutants
                    .lookup(&r.pollutant)
                    .ok_or_else(|| bad("pollutant", &r.pollutant))?,
                generated: r.generated,
                emitted: r.emitted,
            })
        })
        .collect()
}

/// Where a selection's numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBasis {
    /// The run.
    pub run: i64,
    /// Its edition's content hash.
    pub content_hash: String,
    /// `set@N` or the coefficient path.
    pub coefficients: String,
    /// The year used.
    pub year: u16,
}

async fn load_run(
    store: &Store,
    run: i64,
    year: Option<u16>,
    reference: &Reference,
) -> Result<(RunBasis, Vec<UnitQuantity>), AppError> {
    let info = store.run(run).await?;
    let results = store.run_results(run).await?;
    let year = year_of(&results, year, run)?;
    let coefficients = match info.run.edition {
        Some(n) => format!("{}@{n}", info.run.set_id),
        None => info.run.coefficients_path.clone().unwrap_or_default(),
    };
    Ok((
        RunBasis {
            run,
            content_hash: info.run.content_hash.clone(),
            coefficients,
            year,
        },
        quantities(&results, year, reference)?,
    ))
}

/// A selection with its basis.
#[derive(Debug, Clone)]
pub struct KeyUnitReport {
    /// Where the numbers come from.
    pub basis: RunBasis,
    /// The settings used.
    pub settings: KeyUnitSettings,
    /// The key units and coverage.
    pub selection: Selection,
    /// Coverage of own and nested lists at county, prefecture and province level.
    pub nesting: Vec<NestingRow>,
}

/// Selects the key units of stored run `run` (see [`accounting::keyunits`]).
pub async fn select(
    store: &Store,
    run: i64,
    settings: &KeyUnitSettings,
    reference: &Reference,
) -> Result<KeyUnitReport, AppError> {
    let rule = SelectionRule {
        level: settings.level,
        pollutants: pollutant_ids(&settings.pollutants, reference)?,
        emission_share: share(settings.emission_share, "emission")?,
        generation_share: settings
            .generation_share
            .map(|s| share(s, "generation"))
            .transpose()?,
        heavy_metals: pollutant_ids(&settings.heavy_metals, reference)?,
    };
    let (basis, quantities) = load_run(store, run, settings.year, reference).await?;
    let selection = keyunits::select(&quantities, &reference.regions, &rule);
    let nesting = keyunits::nesting(
        &quantities,
        &reference.regions,
        &rule,
        &[
            RegionLevel::Province,
            RegionLevel::Prefecture,
            RegionLevel::County,
        ],
    );
    Ok(KeyUnitReport {
        basis,
        settings: settings.clone(),
        selection,
        nesting,
    })
}

fn code(reference: &Reference, id: PollutantId) -> &str {
    &reference.pollutants.get(id).code
}

fn percent(share: f64) -> String {
    format!("{} %", quantity(share * 100.0, Precision::Decimals(1)))
}

fn area_code(area: Option<RegionCode>) -> String {
    area.map(|c| c.to_string()).unwrap_or_default()
}

fn area_name(reference: &Reference, area: Option<RegionCode>) -> String {
    match area {
        Some(c) => reference.regions.name(c).unwrap_or("").to_string(),
        None => "全国".to_string(),
    }
}

/// A reason in words, e.g. `SO2 emission rank 3 (80.0 % covered before)`.
pub fn reason_text(reference: &Reference, reason: &Reason) -> String {
    match reason {
        Reason::Share {
            pollutant,
            basis,
            rank,
            covered_before,
            ..
        } => format!(
            "{} {} rank {rank} ({} covered before)",
            code(reference, *pollutant),
            basis.as_str(),
            percent(*covered_before)
        ),
        Reason::HeavyMetal {
            pollutant,
            quantity: q,
        } => format!(
            "{} emitter ({})",
            code(reference, *pollutant),
            quantity(*q, Precision::Exact)
        ),
    }
}

impl KeyUnitReport {
    /// The list in the key-unit list format (`ingest::keyunits::KEY_UNITS`), to be kept as a
    /// reference table.
    pub fn list_csv(&self, reference: &Reference) -> String {
        let mut writer = ingest::spreadsheet::SafeWriter::new(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new()),
        );
        let _ = writer.write_record([
            "uscc",
            "name",
            "area_code",
            "level",
            "reasons",
            "base_year",
            "note",
        ]);
        let note = format!(
            "run {} ({}, sha256 {})",
            self.basis.run, self.basis.coefficients, self.basis.content_hash
        );
        for u in &self.selection.units {
            let reasons: Vec<String> = u
                .reasons
                .iter()
                .map(|r| reason_text(reference, r))
                .collect();
            let _ = writer.write_record([
                u.uscc.as_str(),
                "",
                &area_code(u.area),
                self.settings.level.as_str(),
                &reasons.join("; "),
                &self.basis.year.to_string(),
                &note,
            ]);
        }
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let areas: BTreeSet<Option<RegionCode>> =
            self.selection.units.iter().map(|u| u.area).collect();
        format!(
            "{} key units in {} {} area(s) from run {} ({}), base year {}",
            self.selection.units.len(),
            areas.len(),
            self.settings.level.as_str(),
            self.basis.run,
            self.basis.coefficients,
            self.basis.year
        )
    }

    /// The views: key units, coverage per area and pollutant, nesting across levels.
    pub fn sheets(&self, reference: &Reference, precision: Precision) -> Vec<Sheet> {
        let mut units = Sheet::new(
            "key_units",
            "重点调查单位 Key units",
            &["area_code", "area", "uscc", "reasons"],
        );
        for u in &self.selection.units {
            units.push(vec![
                area_code(u.area),
                area_name(reference, u.area),
                u.uscc.as_str().to_string(),
                u.reasons
                    .iter()
                    .map(|r| reason_text(reference, r))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]);
        }
        let mut coverage = Sheet::new(
            "coverage",
            "覆盖率 Coverage",
            &[
                "area_code",
                "area",
                "pollutant",
                "enterprises",
                "key_units",
                "emitted",
                "key_emitted",
                "key_share",
                "generated",
                "key_generated",
            ],
        );
        for c in &self.selection.coverage {
            coverage.push(vec![
                area_code(c.area),
                area_name(reference, c.area),
                code(reference, c.pollutant).to_string(),
                c.enterprises.to_string(),
                c.key_enterprises.to_string(),
                quantity(c.emitted, precision),
                quantity(c.key_emitted, precision),
                percent(c.emission_share()),
                quantity(c.generated, precision),
                quantity(c.key_generated, precision),
            ]);
        }
        let mut nesting = Sheet::new(
            "nesting",
            "分级名录叠加 Lists nested across levels (share of the national emission)",
            &[
                "pollutant",
                "level",
                "own_units",
                "own_share",
                "nested_units",
                "nested_share",
            ],
        );
        for n in &self.nesting {
            nesting.push(vec![
                code(reference, n.pollutant).to_string(),
                n.level.as_str().to_string(),
                n.own_units.to_string(),
                percent(n.own_share),
                n.nested_units.to_string(),
                percent(n.nested_share),
            ]);
        }
        vec![units, coverage, nesting]
    }
}

/// Keeps a selection as the draft of the reference table `name` (kind `key-units`).
pub async fn store_list(
    store: &Store,
    name: &str,
    report: &KeyUnitReport,
    reference: &Reference,
    actor: &str,
) -> Result<reference_tables::Imported, AppError> {
    let csv = report.list_csv(reference);
    reference_tables::import(
        store,
        ReferenceKind::KeyUnits,
        Some(name),
        &format!("key units of run {}", report.basis.run),
        csv.as_bytes(),
        &ReadOptions::default(),
        actor,
        false,
    )
    .await
}

/// A region (`None` for the whole country) and a pollutant.
pub type Cell = (Option<RegionCode>, PollutantId);

/// How the non-key part is estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateSettings {
    /// The base-year run and year.
    pub base_run: i64,
    /// The base year when the run has several.
    pub base_year: Option<u16>,
    /// The current-year run (only its key units are used).
    pub current_run: i64,
    /// The current year when the run has several.
    pub current_year: Option<u16>,
    /// The key-unit list: a stored edition (`key-units@1`) or a file.
    pub key_units: TableChoice,
    /// The level at which the ratio is formed (the list's level by default).
    pub level: Option<RegionLevel>,
    /// A factor applied to every non-key estimate, with the reason (1 and none by default).
    pub adjustment: Option<(f64, String)>,
    /// A stored reconciliation whose numbers of record under the statistics rule replace the
    /// coefficient estimates of the enterprises' emission, in the base and the current year,
    /// where it has one.
    pub numbers_of_record: Option<i64>,
}

/// The regional industrial totals: key + non-key per area and pollutant.
#[derive(Debug, Clone)]
pub struct RegionalEstimate {
    /// The base run.
    pub base: RunBasis,
    /// The current run.
    pub current: RunBasis,
    /// The list used: its name (`key-units@1` or a file) and SHA-256.
    pub key_units: (String, String),
    /// Key units in the list.
    pub key_count: usize,
    /// The level of the estimate.
    pub level: RegionLevel,
    /// The reason for the adjustment, if any.
    pub adjustment_note: Option<String>,
    /// Where the key units' current emission comes from when numbers of record were used.
    pub numbers_of_record: Option<String>,
    /// Per area and pollutant.
    pub estimates: Vec<Estimate>,
}

/// Estimates the regional industrial totals (see [`accounting::keyunits::estimate`]).
pub async fn estimate(
    store: &Store,
    settings: &EstimateSettings,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<RegionalEstimate, AppError> {
    let list = reference_tables::resolve(Some(store), ReferenceKind::KeyUnits, &settings.key_units)
        .await?;
    let units = ingest::keyunits::read_key_units(
        Source::Bytes {
            name: &list.name,
            bytes: &list.bytes,
        },
        read,
    )
    .map_err(|issues| AppError::input("the key-unit list", issues))?;
    let list_levels: BTreeSet<RegionLevel> = units.iter().map(|u| u.level).collect();
    let level = match (settings.level, list_levels.iter().next()) {
        (Some(level), _) => level,
        (None, Some(level)) if list_levels.len() == 1 => *level,
        _ => RegionLevel::Prefecture,
    };
    let keys: BTreeSet<Uscc> = units.iter().map(|u| u.uscc).collect();
    let (base, mut base_q) =
        load_run(store, settings.base_run, settings.base_year, reference).await?;
    let (current, mut current_q) = load_run(
        store,
        settings.current_run,
        settings.current_year,
        reference,
    )
    .await?;
    // Numbers of record replace the estimates in both years, so that the ratio compares like
    // with like.
    let numbers_of_record = match settings.numbers_of_record {
        Some(id) => {
            let mut said = Vec::new();
            for (year, quantities) in [(base.year, &mut base_q), (current.year, &mut current_q)] {
                let records = statistics_records(store, id, year, reference).await?;
                let used = apply_records(quantities, &records);
                said.push(format!("{year}: {used} of {}", records.len()));
            }
            Some(format!(
                "reconciliation {id}, statistics rule: numbers of record (enterprise × pollutant) replace the coefficient estimates ({})",
                said.join("; ")
            ))
        }
        None => None,
    };
    let factor = match &settings.adjustment {
        Some((f, note)) if *f > 0.0 && f.is_finite() && !note.trim().is_empty() => *f,
        Some((_, note)) if note.trim().is_empty() => {
            return Err(AppError::Argument {
                message: "an adjustment needs a note saying why".to_string(),
                hint: Some("add --adjustment-note \"…\"".to_string()),
            });
        }
        Some((f, _)) => {
            return Err(AppError::Argument {
                message: format!("the adjustment must be a positive number, not {f}"),
                hint: None,
            });
        }
        None => 1.0,
    };
    let mut adjustments = BTreeMap::new();
    let estimates = keyunits::estimate(
        &base_q,
        &current_q,
        &keys,
        &reference.regions,
        level,
        &adjustments,
    );
    let estimates = if factor != 1.0 {
        for e in &estimates {
            adjustments.insert((e.area, e.pollutant), factor);
        }
        keyunits::estimate(
            &base_q,
            &current_q,
            &keys,
            &reference.regions,
            level,
            &adjustments,
        )
    } else {
        estimates
    };
    Ok(RegionalEstimate {
        base,
        current,
        key_units: (list.name.clone(), crate::upload::sha256(&list.bytes)),
        key_count: keys.len(),
        level,
        adjustment_note: settings.adjustment.as_ref().map(|(_, n)| n.clone()),
        numbers_of_record,
        estimates,
    })
}

/// The numbers of record under the statistics rule of stored reconciliation `id` for `year`,
/// per enterprise and pollutant, in the pollutant's report unit.
async fn statistics_records(
    store: &Store,
    id: i64,
    year: u16,
    reference: &Reference,
) -> Result<BTreeMap<(Uscc, PollutantId), f64>, AppError> {
    let view = store.reconciliation_view(id, "records").await?;
    let column = |name: &str| {
        view.header.iter().position(|h| h == name).ok_or_else(|| {
            AppError::Internal(format!(
                "reconciliation {id}: its records view has no `{name}` column"
            ))
        })
    };
    let (rule, year_at, uscc_at, pollutant_at, unit_at, value_at) = (
        column("rule")?,
        column("year")?,
        column("uscc")?,
        column("pollutant")?,
        column("unit")?,
        column("value")?,
    );
    let bad = |what: &str, value: &str| {
        AppError::Internal(format!(
            "reconciliation {id}: a stored record has an unreadable {what} `{value}`"
        ))
    };
    let mut records = BTreeMap::new();
    for row in &view.rows {
        if row[rule] != "statistics" || row[year_at] != year.to_string() {
            continue;
        }
        let uscc = Uscc::parse(&row[uscc_at]).map_err(|_| bad("USCC", &row[uscc_at]))?;
        let pollutant = reference
            .pollutants
            .lookup(&row[pollutant_at])
            .ok_or_else(|| bad("pollutant", &row[pollutant_at]))?;
        let value: f64 = row[value_at]
            .parse()
            .map_err(|_| bad("value", &row[value_at]))?;
        let report = &reference.pollutants.get(pollutant).report_unit;
        let value = if row[unit_at] == report.symbol() {
            value
        } else {
            let unit = accounting::units::Unit::parse(&row[unit_at])
                .map_err(|_| bad("unit", &row[unit_at]))?;
            let factor = unit
                .conversion_to(report)
                .map_err(|_| bad("unit", &row[unit_at]))?;
            value * factor.to_f64()
        };
        records.insert((uscc, pollutant), value);
    }
    Ok(records)
}

/// Replaces the emitted quantity of every enterprise × pollutant that has a number of record:
/// its first row takes the number, its other rows none (generation stays the coefficient
/// estimate). Returns how many numbers were used.
fn apply_records(
    quantities: &mut [UnitQuantity],
    records: &BTreeMap<(Uscc, PollutantId), f64>,
) -> usize {
    let mut used = BTreeSet::new();
    for q in quantities.iter_mut() {
        if let Some(value) = records.get(&(q.uscc, q.pollutant)) {
            q.emitted = if used.insert((q.uscc, q.pollutant)) {
                *value
            } else {
                0.0
            };
        }
    }
    used.len()
}

impl RegionalEstimate {
    /// Totals rolled up from the estimate's areas to `level` (the same or coarser): sums, so
    /// that county → prefecture → province adds up exactly. Per region and pollutant: (key,
    /// non-key).
    pub fn rolled_up(
        &self,
        level: RegionLevel,
        reference: &Reference,
    ) -> Result<BTreeMap<Cell, (f64, f64)>, AppError> {
        if level > self.level {
            return Err(AppError::Argument {
                message: format!(
                    "the non-key part is estimated per {}; it cannot be split to {} level",
                    self.level.as_str(),
                    level.as_str()
                ),
                hint: Some(format!(
                    "report at {} level or coarser, or estimate at a finer level with --level",
                    self.level.as_str()
                )),
            });
        }
        let mut sums: BTreeMap<Cell, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for e in &self.estimates {
            let region = e.area.and_then(|a| reference.regions.at_level(a, level));
            let entry = sums.entry((region, e.pollutant)).or_default();
            entry.0.push(e.key_current);
            entry.1.push(e.nonkey_current);
        }
        Ok(sums
            .into_iter()
            .map(|(k, (key, nonkey))| {
                let sum = |v: Vec<f64>| {
                    v.into_iter()
                        .collect::<accounting::totals::CompensatedSum>()
                        .value()
                };
                (k, (sum(key), sum(nonkey)))
            })
            .collect())
    }

    /// The views: the estimate per area, the totals at `level`, and the provenance.
    pub fn sheets(
        &self,
        level: RegionLevel,
        reference: &Reference,
        precision: Precision,
    ) -> Result<Vec<Sheet>, AppError> {
        let mut estimate = Sheet::new(
            "estimate",
            "非重点调查单位估算 Non-key estimate",
            &[
                "area_code",
                "area",
                "pollutant",
                "key_base",
                "nonkey_base",
                "key_current",
                "ratio",
                "adjustment",
                "nonkey_current",
                "total",
                "note",
            ],
        );
        for e in &self.estimates {
            let note = match (e.ratio, e.ignored_nonkey_rows) {
                (None, _) => {
                    "no key unit emitted it in the base year: non-key base carried forward"
                }
                (Some(_), n) if n > 0 => {
                    "non-key units in the current run are not surveyed: left out"
                }
                _ => "",
            };
            estimate.push(vec![
                area_code(e.area),
                area_name(reference, e.area),
                code(reference, e.pollutant).to_string(),
                quantity(e.key_base, precision),
                quantity(e.nonkey_base, precision),
                quantity(e.key_current, precision),
                e.ratio.map(|r| quantity(r, precision)).unwrap_or_default(),
                quantity(e.adjustment, precision),
                quantity(e.nonkey_current, precision),
                quantity(e.total(), precision),
                note.to_string(),
            ]);
        }
        let mut totals = Sheet::new(
            "totals",
            "工业源合计 Industrial totals (key + non-key)",
            &[
                "region_code",
                "region",
                "pollutant",
                "unit",
                "key",
                "nonkey",
                "total",
                "key_share",
            ],
        );
        for ((region, pollutant), (key, nonkey)) in self.rolled_up(level, reference)? {
            let total = key + nonkey;
            let p = reference.pollutants.get(pollutant);
            totals.push(vec![
                area_code(region),
                area_name(reference, region),
                p.code.clone(),
                p.report_unit.to_string(),
                quantity(key, precision),
                quantity(nonkey, precision),
                quantity(total, precision),
                if total > 0.0 {
                    percent(key / total)
                } else {
                    String::new()
                },
            ]);
        }
        let mut provenance = Sheet::new("provenance", "来源 Provenance", &["item", "value"]);
        for (item, value) in [
            (
                "base",
                format!(
                    "run {} ({}, sha256 {}), year {}",
                    self.base.run, self.base.coefficients, self.base.content_hash, self.base.year
                ),
            ),
            (
                "current",
                format!(
                    "run {} ({}, sha256 {}), year {}",
                    self.current.run,
                    self.current.coefficients,
                    self.current.content_hash,
                    self.current.year
                ),
            ),
            (
                "key_units",
                format!(
                    "{} ({} units, sha256 {})",
                    self.key_units.0, self.key_count, self.key_units.1
                ),
            ),
            ("estimate_level", self.level.as_str().to_string()),
            ("report_level", level.as_str().to_string()),
            (
                "rule",
                "non-key = non-key base × key units' current / base emission × adjustment; total = key + non-key"
                    .to_string(),
            ),
            (
                "adjustment",
                self.adjustment_note
                    .clone()
                    .unwrap_or_else(|| "none".to_string()),
            ),
            (
                "industrial_emission",
                self.numbers_of_record.clone().unwrap_or_else(|| {
                    "the runs' coefficient estimates".to_string()
                }),
            ),
        ] {
            provenance.push(vec![item.to_string(), value]);
        }
        Ok(vec![estimate, totals, provenance])
    }
}
