//! Regional totals by source category, the way the statistics system makes them: the industrial
//! key units and the non-key estimate ([`crate::keyunits::RegionalEstimate`]), plus domestic,
//! agricultural (livestock), centralized-facility and mobile sources from the user's files
//! ([`accounting::sources`]: every category through the engine's one arithmetic, except mobile
//! emissions, which are taken as supplied). Per region (any level the inputs allow), pollutant
//! and category: the quantity, its share of the region's total, and the change against the base
//! year when the inputs cover it. Every number is traceable: the detail views list each row's
//! activity, coefficient (file and row) and result, the plants' loads and what they remove, and
//! the provenance names every input with its SHA-256.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accounting::codes::{RegionCode, RegionLevel};
use accounting::coefficient::Removal;
use accounting::engine::{OperationRatePolicy, Policy};
use accounting::pollutant::PollutantId;
use accounting::render::{Precision, quantity};
use accounting::sources::{
    self, AreaKind, AreaResult, Category, CategoryCell, CategoryQuantity, Denominator,
    DomesticBalance, FacilityKind, MonitoringResult, SourceCoefficient, SourceProblem,
};
use accounting::totals::CompensatedSum;
use ingest::sources::{
    AREA_ACTIVITY, AreaRow, Located, MobileRow, PlantRow, activity_fields, mobile_fields,
    plant_fields,
};
use ingest::{Issue, Issues, Source};

use crate::keyunits::RegionalEstimate;
use crate::sheet::Sheet;
use crate::upload::{Upload, safe_label, sha256};
use crate::{AppError, ReadOptions, Reference};

/// One input file: a label for messages and provenance, and its bytes (read once, so that what
/// is hashed is what is read).
#[derive(Debug, Clone)]
pub struct CategoryFile {
    /// The path as given, or an upload's safe label.
    pub label: String,
    /// The content.
    pub bytes: Vec<u8>,
}

impl CategoryFile {
    /// Reads a file.
    pub fn read(path: &Path) -> Result<CategoryFile, AppError> {
        let bytes = std::fs::read(path).map_err(|source| AppError::Path {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(CategoryFile {
            label: path.display().to_string(),
            bytes,
        })
    }

    /// An upload (its label reduced to a safe last component).
    pub fn upload(upload: Upload<'_>, fallback: &str) -> CategoryFile {
        CategoryFile {
            label: safe_label(upload.label, fallback),
            bytes: upload.bytes.to_vec(),
        }
    }

    fn source(&self) -> Source<'_> {
        Source::Bytes {
            name: &self.label,
            bytes: &self.bytes,
        }
    }
}

/// The inputs of the categories other than industry; each optional.
#[derive(Debug, Clone, Default)]
pub struct CategoryFiles {
    /// The area-source coefficient table (needed by domestic and livestock).
    pub coefficients: Option<CategoryFile>,
    /// Domestic activity (population, domestic coal).
    pub domestic: Option<CategoryFile>,
    /// Livestock activity (head counts).
    pub livestock: Option<CategoryFile>,
    /// Centralized facilities' monitoring.
    pub plants: Option<CategoryFile>,
    /// Mobile-source emissions as supplied.
    pub mobile: Option<CategoryFile>,
}

impl CategoryFiles {
    /// Whether no file is given.
    pub fn is_empty(&self) -> bool {
        self.coefficients.is_none()
            && self.domestic.is_none()
            && self.livestock.is_none()
            && self.plants.is_none()
            && self.mobile.is_none()
    }

    fn each(&self) -> [(&'static str, Option<&CategoryFile>); 5] {
        [
            ("input_source_coefficients", self.coefficients.as_ref()),
            ("input_domestic", self.domestic.as_ref()),
            ("input_livestock", self.livestock.as_ref()),
            ("input_plants", self.plants.as_ref()),
            ("input_mobile", self.mobile.as_ref()),
        ]
    }
}

/// The categories other than industry, read and computed.
#[derive(Debug, Clone)]
pub struct AreaSources {
    /// (role, label, SHA-256) of every input given.
    pub inputs: Vec<(&'static str, String, String)>,
    /// The coefficient rows.
    pub coefficients: Option<Located<SourceCoefficient>>,
    /// Domestic rows and their results.
    pub domestic: Option<Located<AreaRow>>,
    /// Results of the domestic rows.
    pub domestic_results: Vec<AreaResult>,
    /// Livestock rows.
    pub livestock: Option<Located<AreaRow>>,
    /// Results of the livestock rows.
    pub livestock_results: Vec<AreaResult>,
    /// Monitoring rows.
    pub plants: Option<Located<PlantRow>>,
    /// Their loads, by row index.
    pub plant_results: Vec<(usize, MonitoringResult)>,
    /// Domestic emission per region, year and pollutant after the plants' removal.
    pub balances: Vec<DomesticBalance>,
    /// Mobile rows.
    pub mobile: Option<Located<MobileRow>>,
    /// Their emissions in each pollutant's report unit.
    pub mobile_quantities: Vec<f64>,
    /// The operation-rate policy of rows with an efficiency and no k.
    pub policy: Policy,
}

fn issue_of(problem: &SourceProblem, location: ingest::Location) -> Issue {
    let issue = Issue::error(location, problem.code(), problem.to_string());
    match problem.hint() {
        Some(hint) => issue.with_hint(hint),
        None => issue,
    }
}

/// Reads and checks one area-activity file, then accounts it.
fn area(
    file: &CategoryFile,
    kind: AreaKind,
    coefficients: &sources::SourceCoefficients,
    reference: &Reference,
    read: &ReadOptions,
    policy: Policy,
    what: &str,
) -> Result<(Located<AreaRow>, Vec<AreaResult>), AppError> {
    let located = ingest::sources::read_area_activity(file.source(), kind, reference, read)
        .map_err(|issues| AppError::input(what, issues))?;
    let keyed: Vec<(String, RegionCode, u64)> = located
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                format!(
                    "{} `{}`{} {}",
                    kind.chinese(),
                    accounting::text::normalize_name(&r.activity.source),
                    r.scale
                        .map(|s| format!(" ({})", s.label()))
                        .unwrap_or_default(),
                    r.activity.year
                ),
                r.activity.region,
                located.line(i),
            )
        })
        .collect();
    let mut issues = Issues::with_cap(read.issue_cap);
    for (i, problem) in sources::overlaps(&keyed, &reference.regions) {
        issues.push(issue_of(
            &problem,
            located.location(i, activity_fields::REGION),
        ));
    }
    let activities: Vec<_> = located.rows.iter().map(|r| r.activity.clone()).collect();
    let (results, problems) = sources::account_area(
        &activities,
        coefficients,
        &reference.regions,
        &reference.pollutants,
        policy,
    );
    for (i, problem) in problems {
        let field = AREA_ACTIVITY
            .field_index(problem.column())
            .unwrap_or(activity_fields::ACTIVITY);
        issues.push(issue_of(&problem, located.location(i, field)));
    }
    if issues.has_errors() {
        return Err(AppError::input(what, issues));
    }
    Ok((located, results))
}

/// Reads every file given and computes the categories. Bad input is an [`AppError::Input`]
/// listing every located problem of the first file that has any.
pub fn area_sources(
    files: &CategoryFiles,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<AreaSources, AppError> {
    if (files.domestic.is_some() || files.livestock.is_some()) && files.coefficients.is_none() {
        return Err(AppError::Argument {
            message: "domestic and livestock activity need the area-source coefficient table"
                .to_string(),
            hint: Some(
                "add --source-coefficients FILE (see datasets/sample-synthetic/categories)"
                    .to_string(),
            ),
        });
    }
    // Domestic and livestock rows give no operation rate as a rule; a treatment's efficiency
    // without k is credited in full, and the provenance says so.
    let policy = Policy {
        missing_operation_rate: OperationRatePolicy::Nominal,
    };
    let inputs = files
        .each()
        .into_iter()
        .filter_map(|(role, f)| f.map(|f| (role, f.label.clone(), sha256(&f.bytes))))
        .collect();
    let (coefficients, table) = match &files.coefficients {
        Some(file) => {
            let what = "the source coefficient table";
            let located = ingest::sources::read_source_coefficients(file.source(), reference, read)
                .map_err(|issues| AppError::input(what, issues))?;
            let table = ingest::sources::build_source_coefficients(&located, reference)
                .map_err(|issues| AppError::input(what, issues))?;
            (Some(located), Some(table))
        }
        None => (None, None),
    };
    let run = |file: Option<&CategoryFile>, kind, what| -> Result<_, AppError> {
        match (file, &table) {
            (Some(file), Some(table)) => {
                area(file, kind, table, reference, read, policy, what).map(Some)
            }
            _ => Ok(None),
        }
    };
    let domestic = run(
        files.domestic.as_ref(),
        AreaKind::Domestic,
        "the domestic activity",
    )?;
    let livestock = run(
        files.livestock.as_ref(),
        AreaKind::Livestock,
        "the livestock activity",
    )?;
    let (domestic, domestic_results) = match domestic {
        Some((located, results)) => (Some(located), results),
        None => (None, Vec::new()),
    };
    let (livestock, livestock_results) = match livestock {
        Some((located, results)) => (Some(located), results),
        None => (None, Vec::new()),
    };
    let domestic_activities: Vec<_> = domestic
        .iter()
        .flat_map(|l| l.rows.iter().map(|r| r.activity.clone()))
        .collect();
    let (plants, plant_results, balances) = match &files.plants {
        Some(file) => {
            let what = "the facility monitoring";
            let located = ingest::sources::read_plants(file.source(), reference, read)
                .map_err(|issues| AppError::input(what, issues))?;
            let monitoring: Vec<_> = located.rows.iter().map(|r| r.monitoring.clone()).collect();
            let (loads, problems) = sources::monitor(&monitoring, &reference.pollutants);
            let mut issues = Issues::with_cap(read.issue_cap);
            for (i, problem) in problems {
                let field = match problem.code() {
                    "unit-mismatch" => plant_fields::WATER_UNIT,
                    "impossible-result" => plant_fields::OUTFLOW,
                    _ => plant_fields::WATER,
                };
                issues.push(issue_of(&problem, located.location(i, field)));
            }
            if issues.has_errors() {
                return Err(AppError::input(what, issues));
            }
            let (balances, problems) = sources::domestic_balance(
                &domestic_activities,
                &domestic_results,
                &monitoring,
                &loads,
                &reference.regions,
                &reference.pollutants,
            );
            for (i, problem) in problems {
                let field = match problem {
                    SourceProblem::NoDomesticGeneration { .. } => plant_fields::DOMESTIC_SHARE,
                    _ => plant_fields::WATER,
                };
                issues.push(issue_of(&problem, located.location(i, field)));
            }
            if issues.has_errors() {
                return Err(AppError::input(what, issues));
            }
            (Some(located), loads, balances)
        }
        None => {
            let (balances, _) = sources::domestic_balance(
                &domestic_activities,
                &domestic_results,
                &[],
                &[],
                &reference.regions,
                &reference.pollutants,
            );
            (None, Vec::new(), balances)
        }
    };
    let (mobile, mobile_quantities) = match &files.mobile {
        Some(file) => {
            let what = "the mobile-source emissions";
            let located = ingest::sources::read_mobile(file.source(), reference, read)
                .map_err(|issues| AppError::input(what, issues))?;
            let mut issues = Issues::with_cap(read.issue_cap);
            let keyed: Vec<(String, RegionCode, u64)> = located
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        format!(
                            "移动源 `{}` {} {}",
                            accounting::text::normalize_name(&r.source),
                            reference.pollutants.get(r.pollutant).name,
                            r.year
                        ),
                        r.region,
                        located.line(i),
                    )
                })
                .collect();
            for (i, problem) in sources::overlaps(&keyed, &reference.regions) {
                issues.push(issue_of(
                    &problem,
                    located.location(i, mobile_fields::REGION),
                ));
            }
            let mut quantities = Vec::with_capacity(located.rows.len());
            for (i, row) in located.rows.iter().enumerate() {
                let report = &reference.pollutants.get(row.pollutant).report_unit;
                match row.unit.convert(row.emission, report) {
                    Ok(q) => quantities.push(q),
                    Err(e) => {
                        quantities.push(0.0);
                        issues.push(
                            Issue::error(
                                located.location(i, mobile_fields::UNIT),
                                "unit-mismatch",
                                e.to_string(),
                            )
                            .with_value(row.unit.symbol()),
                        );
                    }
                }
            }
            if issues.has_errors() {
                return Err(AppError::input(what, issues));
            }
            (Some(located), quantities)
        }
        None => (None, Vec::new()),
    };
    Ok(AreaSources {
        inputs,
        coefficients,
        domestic,
        domestic_results,
        livestock,
        livestock_results,
        plants,
        plant_results,
        balances,
        mobile,
        mobile_quantities,
        policy,
    })
}

/// Where a quantity comes from, for messages.
type Origin = String;

impl AreaSources {
    /// Every category quantity of the files, with where it comes from.
    pub fn quantities(&self) -> Vec<(CategoryQuantity, Origin)> {
        let mut out = Vec::new();
        let file =
            |l: &Option<Located<AreaRow>>| l.as_ref().map(|l| l.file.clone()).unwrap_or_default();
        for b in &self.balances {
            out.push((
                CategoryQuantity {
                    year: b.year,
                    region: Some(b.region),
                    pollutant: b.pollutant,
                    category: Category::Domestic,
                    quantity: b.emitted,
                },
                format!("{} (region {})", file(&self.domestic), b.region),
            ));
        }
        if let Some(livestock) = &self.livestock {
            for r in &self.livestock_results {
                let a = &livestock.rows[r.activity].activity;
                out.push((
                    CategoryQuantity {
                        year: a.year,
                        region: Some(a.region),
                        pollutant: r.pollutant,
                        category: Category::Agricultural,
                        quantity: r.quantities.emitted,
                    },
                    format!("{}, row {}", livestock.file, livestock.line(r.activity)),
                ));
            }
        }
        if let Some(plants) = &self.plants {
            for (i, load) in &self.plant_results {
                let m = &plants.rows[*i].monitoring;
                if m.kind == FacilityKind::Wastewater {
                    continue;
                }
                out.push((
                    CategoryQuantity {
                        year: m.year,
                        region: Some(m.region),
                        pollutant: m.pollutant,
                        category: Category::Centralized,
                        quantity: load.outflow,
                    },
                    format!("{}, row {}", plants.file, plants.line(*i)),
                ));
            }
        }
        if let Some(mobile) = &self.mobile {
            for (i, (row, q)) in mobile.rows.iter().zip(&self.mobile_quantities).enumerate() {
                out.push((
                    CategoryQuantity {
                        year: row.year,
                        region: Some(row.region),
                        pollutant: row.pollutant,
                        category: Category::Mobile,
                        quantity: *q,
                    },
                    format!("{}, row {}", mobile.file, mobile.line(i)),
                ));
            }
        }
        out
    }

    /// The categories the files supply.
    fn supplied(&self) -> BTreeSet<Category> {
        let mut out = BTreeSet::new();
        if self.domestic.is_some() {
            out.insert(Category::Domestic);
        }
        if self.livestock.is_some() {
            out.insert(Category::Agricultural);
        }
        if self.plants.as_ref().is_some_and(|p| {
            p.rows
                .iter()
                .any(|r| r.monitoring.kind != FacilityKind::Wastewater)
        }) {
            out.insert(Category::Centralized);
        }
        if self.mobile.is_some() {
            out.insert(Category::Mobile);
        }
        out
    }
}

/// The totals by category at one level.
#[derive(Debug, Clone)]
pub struct CategoryReport {
    /// The level of the regions.
    pub level: RegionLevel,
    /// The current year (the estimate's).
    pub current: u16,
    /// The base year, when it differs from the current one.
    pub previous: Option<u16>,
    /// Per region, year, pollutant and category.
    pub cells: BTreeMap<CategoryCell, f64>,
    /// The categories given (industry always).
    pub supplied: BTreeSet<Category>,
    /// Categories given for the current year but with no row of the base year: the base-year
    /// total is then incomplete and not shown.
    pub missing_previous: BTreeSet<Category>,
    /// Rows of other years, left out: (category, year) → count.
    pub left_out: BTreeMap<(Category, u16), usize>,
}

/// Rolls the industrial estimate and the other categories up to `level`.
pub fn report(
    estimate: &RegionalEstimate,
    area: &AreaSources,
    level: RegionLevel,
    reference: &Reference,
) -> Result<CategoryReport, AppError> {
    let current = estimate.current.year;
    let previous = (estimate.base.year != current).then_some(estimate.base.year);
    let mut items: Vec<(CategoryQuantity, Origin)> = Vec::new();
    let industrial = format!(
        "the industrial estimate ({} level)",
        estimate.level.as_str()
    );
    for e in &estimate.estimates {
        let mut push = |year, category, quantity| {
            items.push((
                CategoryQuantity {
                    year,
                    region: e.area,
                    pollutant: e.pollutant,
                    category,
                    quantity,
                },
                industrial.clone(),
            ))
        };
        push(current, Category::IndustrialKey, e.key_current);
        push(current, Category::IndustrialNonKey, e.nonkey_current);
        if let Some(previous) = previous {
            push(previous, Category::IndustrialKey, e.key_base);
            push(previous, Category::IndustrialNonKey, e.nonkey_base);
        }
    }
    let mut left_out: BTreeMap<(Category, u16), usize> = BTreeMap::new();
    for (q, origin) in area.quantities() {
        if q.year == current || Some(q.year) == previous {
            items.push((q, origin));
        } else {
            *left_out.entry((q.category, q.year)).or_default() += 1;
        }
    }
    let quantities: Vec<CategoryQuantity> = items.iter().map(|(q, _)| *q).collect();
    let cells = sources::roll_up(&quantities, &reference.regions, level).map_err(|coarse| {
        let mut origins: Vec<String> = Vec::new();
        for &i in &coarse {
            if !origins.contains(&items[i].1) {
                origins.push(items[i].1.clone());
            }
        }
        let coarsest = sources::finest_common_level(&quantities, &reference.regions);
        AppError::Argument {
            message: format!(
                "the totals cannot be split to {} level: {} give coarser regions",
                level.as_str(),
                origins
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            hint: Some(format!(
                "report at {} level or coarser (--report-level)",
                coarsest.as_str()
            )),
        }
    })?;
    let mut supplied = area.supplied();
    supplied.insert(Category::IndustrialKey);
    supplied.insert(Category::IndustrialNonKey);
    let missing_previous = match previous {
        Some(p) => supplied
            .iter()
            .copied()
            .filter(|c| {
                quantities
                    .iter()
                    .any(|q| q.category == *c && q.year == current)
                    && !quantities.iter().any(|q| q.category == *c && q.year == p)
            })
            .collect(),
        None => BTreeSet::new(),
    };
    Ok(CategoryReport {
        level,
        current,
        previous,
        cells,
        supplied,
        missing_previous,
        left_out,
    })
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

fn percent(value: f64) -> String {
    format!("{} %", quantity(value * 100.0, Precision::Decimals(1)))
}

/// A region at the report level and a pollutant.
type Row = (Option<RegionCode>, PollutantId);

impl CategoryReport {
    /// Per region and pollutant, per category: (current, previous).
    fn rows(&self) -> BTreeMap<Row, BTreeMap<Category, (f64, Option<f64>)>> {
        let mut rows: BTreeMap<Row, BTreeMap<Category, (f64, Option<f64>)>> = BTreeMap::new();
        for (&(region, year, pollutant, category), &value) in &self.cells {
            let entry = rows
                .entry((region, pollutant))
                .or_default()
                .entry(category)
                .or_insert((0.0, None));
            if year == self.current {
                entry.0 = value;
            } else {
                entry.1 = Some(value);
            }
        }
        rows
    }

    /// The previous year's value of a category, when that year is reported and the category has
    /// rows of it.
    fn previous_of(&self, category: Category, value: Option<f64>) -> Option<f64> {
        self.previous?;
        if self.missing_previous.contains(&category) {
            return None;
        }
        Some(value.unwrap_or(0.0))
    }

    /// The two views: the categories side by side with the total and the change against the base
    /// year, and one line per category with its share.
    pub fn sheets(&self, reference: &Reference, precision: Precision) -> Vec<Sheet> {
        let mut header: Vec<&str> = vec!["region_code", "region", "pollutant", "unit"];
        header.extend(Category::ALL.iter().map(|c| c.as_str()));
        header.extend(["total", "previous_total", "change"]);
        let title = match self.previous {
            Some(p) => format!(
                "分类别合计 Totals by category, {} (change against {p})",
                self.current
            ),
            None => format!("分类别合计 Totals by category, {}", self.current),
        };
        let mut wide = Sheet::new("categories", &title, &header);
        let mut shares = Sheet::new(
            "shares",
            "分类别占比 Share of each category (categories with nothing in either year left out)",
            &[
                "region_code",
                "region",
                "pollutant",
                "unit",
                "category",
                "category_name",
                "year",
                "quantity",
                "share",
                "previous_year",
                "previous",
                "change",
            ],
        );
        let change = |now: f64, before: Option<f64>| match before {
            Some(b) if b > 0.0 => percent((now - b) / b),
            _ => String::new(),
        };
        for ((region, pollutant), values) in self.rows() {
            let p = reference.pollutants.get(pollutant);
            let total: f64 = Category::ALL
                .iter()
                .filter_map(|c| values.get(c).map(|v| v.0))
                .collect::<CompensatedSum>()
                .value();
            let previous_total = if self.previous.is_some() && self.missing_previous.is_empty() {
                Some(
                    Category::ALL
                        .iter()
                        .filter_map(|c| values.get(c).and_then(|v| v.1))
                        .collect::<CompensatedSum>()
                        .value(),
                )
            } else {
                None
            };
            let mut cells = vec![
                area_code(region),
                area_name(reference, region),
                p.code.clone(),
                p.report_unit.to_string(),
            ];
            for category in Category::ALL {
                cells.push(if self.supplied.contains(&category) {
                    quantity(values.get(&category).map_or(0.0, |v| v.0), precision)
                } else {
                    String::new()
                });
            }
            cells.push(quantity(total, precision));
            cells.push(
                previous_total
                    .map(|t| quantity(t, precision))
                    .unwrap_or_default(),
            );
            cells.push(change(total, previous_total));
            wide.push(cells);
            for category in Category::ALL {
                if !self.supplied.contains(&category) {
                    continue;
                }
                let (now, before) = values.get(&category).copied().unwrap_or((0.0, None));
                let before = self.previous_of(category, before);
                if now == 0.0 && before.is_none_or(|b| b == 0.0) {
                    continue;
                }
                shares.push(vec![
                    area_code(region),
                    area_name(reference, region),
                    p.code.clone(),
                    p.report_unit.to_string(),
                    category.as_str().to_string(),
                    category.chinese().to_string(),
                    self.current.to_string(),
                    quantity(now, precision),
                    if total > 0.0 {
                        percent(now / total)
                    } else {
                        String::new()
                    },
                    self.previous.map(|y| y.to_string()).unwrap_or_default(),
                    before.map(|b| quantity(b, precision)).unwrap_or_default(),
                    change(now, before),
                ]);
            }
        }
        vec![wide, shares]
    }
}

fn coefficient_origin(area: &AreaSources, index: usize) -> String {
    area.coefficients
        .as_ref()
        .map(|c| format!("{}, row {}", c.file, c.line(index)))
        .unwrap_or_default()
}

fn removal_text(removal: &Removal) -> String {
    match removal {
        Removal::EmissionCoefficient(f) => f.text().to_string(),
        Removal::Efficiency { percent } => format!("η {percent} %"),
        Removal::None => String::new(),
    }
}

impl AreaSources {
    /// The detail views of the files given: each activity row's coefficient and result, the
    /// domestic balance per region, the plants' loads, the mobile emissions.
    pub fn sheets(&self, reference: &Reference, precision: Precision) -> Vec<Sheet> {
        let mut out = Vec::new();
        let coefficients = self.coefficients.as_ref().map(|c| &c.rows);
        let detail =
            |name: &str, title: &str, located: &Located<AreaRow>, results: &[AreaResult]| {
                let mut sheet = Sheet::new(
                    name,
                    title,
                    &[
                        "year",
                        "region_code",
                        "region",
                        "source",
                        "scale",
                        "pollutant",
                        "activity",
                        "activity_unit",
                        "days",
                        "parameters",
                        "generation_coefficient",
                        "emission_coefficient",
                        "coefficient_unit",
                        "coefficient_row",
                        "coefficient_note",
                        "generated",
                        "emitted",
                        "row",
                    ],
                );
                for r in results {
                    let row = &located.rows[r.activity];
                    let a = &row.activity;
                    let c = coefficients.and_then(|rows| rows.get(r.coefficient));
                    let parameters: Vec<String> = a
                        .parameters
                        .names()
                        .map(|n| format!("{n}={}", a.parameters.get(n).unwrap_or(0.0)))
                        .collect();
                    sheet.push(vec![
                        a.year.to_string(),
                        a.region.to_string(),
                        reference.regions.name(a.region).unwrap_or("").to_string(),
                        a.source.clone(),
                        row.scale.map(|s| s.label().to_string()).unwrap_or_default(),
                        reference.pollutants.get(r.pollutant).code.clone(),
                        quantity(a.amount, Precision::Exact),
                        a.unit.symbol().to_string(),
                        a.days
                            .map(|d| quantity(d, Precision::Exact))
                            .unwrap_or_default(),
                        parameters.join(";"),
                        c.map(|c| c.generation.text().to_string())
                            .unwrap_or_default(),
                        c.map(|c| removal_text(&c.removal)).unwrap_or_default(),
                        c.map(|c| c.unit.text()).unwrap_or_default(),
                        coefficient_origin(self, r.coefficient),
                        c.and_then(|c| c.note.clone()).unwrap_or_default(),
                        quantity(r.quantities.generated, precision),
                        quantity(r.quantities.emitted, precision),
                        format!("{}, row {}", located.file, located.line(r.activity)),
                    ]);
                }
                sheet
            };
        if let Some(domestic) = &self.domestic {
            out.push(detail(
                "domestic",
                "生活源 Domestic rows (before the plants' removal)",
                domestic,
                &self.domestic_results,
            ));
            let mut balance = Sheet::new(
                "domestic_balance",
                "生活源 Domestic emission = emission of the rows − domestic removal of the wastewater plants",
                &[
                    "year",
                    "region_code",
                    "region",
                    "pollutant",
                    "generated",
                    "before_removal",
                    "removed_by_plants",
                    "emitted",
                    "plants",
                ],
            );
            for b in &self.balances {
                let plants: Vec<String> = b
                    .plants
                    .iter()
                    .filter_map(|&i| {
                        let p = self.plants.as_ref()?;
                        Some(format!(
                            "{} (row {})",
                            p.rows[i].monitoring.facility,
                            p.line(i)
                        ))
                    })
                    .collect();
                balance.push(vec![
                    b.year.to_string(),
                    b.region.to_string(),
                    reference.regions.name(b.region).unwrap_or("").to_string(),
                    reference.pollutants.get(b.pollutant).code.clone(),
                    quantity(b.generated, precision),
                    quantity(b.before_removal, precision),
                    quantity(b.removed, precision),
                    quantity(b.emitted, precision),
                    plants.join("; "),
                ]);
            }
            out.push(balance);
        }
        if let Some(livestock) = &self.livestock {
            out.push(detail(
                "livestock",
                "畜禽养殖 Livestock rows (only 规模化 farms are taxable)",
                livestock,
                &self.livestock_results,
            ));
        }
        if let Some(plants) = &self.plants {
            let mut sheet = Sheet::new(
                "plants",
                "集中式污染治理设施 Facilities: load = Q × C × 10⁻⁶",
                &[
                    "year",
                    "region_code",
                    "region",
                    "facility",
                    "facility_type",
                    "pollutant",
                    "water",
                    "water_unit",
                    "inflow_mg_l",
                    "outflow_mg_l",
                    "inflow_load",
                    "outflow_load",
                    "removed",
                    "domestic_share",
                    "domestic_removed",
                    "counted_as",
                    "row",
                ],
            );
            for (i, load) in &self.plant_results {
                let m = &plants.rows[*i].monitoring;
                let counted = match m.kind {
                    FacilityKind::Wastewater => "removal off domestic; discharge inside domestic",
                    FacilityKind::Other(_) => "centralized (discharge)",
                };
                sheet.push(vec![
                    m.year.to_string(),
                    m.region.to_string(),
                    reference.regions.name(m.region).unwrap_or("").to_string(),
                    m.facility.clone(),
                    m.kind.label().to_string(),
                    reference.pollutants.get(m.pollutant).code.clone(),
                    quantity(m.water, Precision::Exact),
                    m.water_unit.symbol().to_string(),
                    quantity(m.inflow, Precision::Exact),
                    quantity(m.outflow, Precision::Exact),
                    quantity(load.inflow, precision),
                    quantity(load.outflow, precision),
                    quantity(load.removed, precision),
                    quantity(m.domestic_share, Precision::Exact),
                    quantity(load.domestic_removed, precision),
                    counted.to_string(),
                    format!("{}, row {}", plants.file, plants.line(*i)),
                ]);
            }
            out.push(sheet);
        }
        if let Some(mobile) = &self.mobile {
            let mut sheet = Sheet::new(
                "mobile",
                "移动源 Mobile emissions as supplied",
                &[
                    "year",
                    "region_code",
                    "region",
                    "source",
                    "pollutant",
                    "emission",
                    "unit",
                    "quantity",
                    "report_unit",
                    "row",
                ],
            );
            for (i, (row, q)) in mobile.rows.iter().zip(&self.mobile_quantities).enumerate() {
                let p = reference.pollutants.get(row.pollutant);
                sheet.push(vec![
                    row.year.to_string(),
                    row.region.to_string(),
                    reference.regions.name(row.region).unwrap_or("").to_string(),
                    row.source.clone(),
                    p.code.clone(),
                    quantity(row.emission, Precision::Exact),
                    row.unit.symbol().to_string(),
                    quantity(*q, precision),
                    p.report_unit.to_string(),
                    format!("{}, row {}", mobile.file, mobile.line(i)),
                ]);
            }
            out.push(sheet);
        }
        out
    }

    /// Provenance lines: the inputs with their SHA-256 and the rules applied.
    pub fn provenance(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(String, String)> = self
            .inputs
            .iter()
            .map(|(role, label, hash)| (role.to_string(), format!("{label} (sha256 {hash})")))
            .collect();
        let per_day = self.coefficients.as_ref().is_some_and(|c| {
            c.rows
                .iter()
                .any(|r| matches!(r.unit.denominator, Denominator::CountTime(..)))
        });
        if self.domestic.is_some() {
            lines.push((
                "rule_domestic".to_string(),
                "domestic = Σ activity × coefficient (persons × days × per-capita coefficient; coal × formula such as 16S kg/t, S in %) − the wastewater plants' domestic removal in the region".to_string(),
            ));
        }
        if self.livestock.is_some() {
            lines.push((
                "rule_agricultural".to_string(),
                "agricultural = Σ heads × days × per-head emission coefficient (the generation coefficient where none); 规模化 rows are the taxable part (Environmental Protection Tax Law Art. 12 (1))".to_string(),
            ));
        }
        if self.plants.is_some() {
            lines.push((
                "rule_centralized".to_string(),
                "load = Q × C × 10⁻⁶ t (Q t of water, C mg/L); wastewater plants: (inflow − outflow) × domestic share comes off domestic and their discharge is not added again; other facilities' discharge is centralized".to_string(),
            ));
        }
        if self.mobile.is_some() {
            lines.push((
                "rule_mobile".to_string(),
                "mobile = the emissions as supplied, converted exactly to the report unit (no coefficients are shipped)".to_string(),
            ));
        }
        if per_day || self.domestic.is_some() || self.livestock.is_some() {
            lines.push((
                "operation_rate".to_string(),
                match self.policy.missing_operation_rate {
                    OperationRatePolicy::Nominal => "nominal (k = 1 where a row gives no k)",
                    OperationRatePolicy::Strict => "strict (k = 0 where a row gives no k)",
                }
                .to_string(),
            ));
        }
        lines
    }
}

/// Key–value provenance lines, in order.
pub type Provenance = Vec<(String, String)>;

/// Every view of `npsc regional-totals` and its provenance lines: the categories (when files are
/// given), the industrial estimate and totals, and the detail views.
pub fn regional_views(
    estimate: &RegionalEstimate,
    categories: Option<(&AreaSources, &CategoryReport)>,
    level: RegionLevel,
    reference: &Reference,
    precision: Precision,
) -> Result<(Vec<Sheet>, Provenance), AppError> {
    let mut industrial = estimate.sheets(level, reference, precision)?;
    let mut provenance: Vec<(String, String)> =
        match industrial.iter().position(|s| s.name == "provenance") {
            Some(i) => industrial
                .remove(i)
                .rows
                .into_iter()
                .map(|mut r| {
                    let value = r.pop().unwrap_or_default();
                    (r.pop().unwrap_or_default(), value)
                })
                .collect(),
            None => Vec::new(),
        };
    let Some((area, report)) = categories else {
        return Ok((industrial, provenance));
    };
    let mut views = report.sheets(reference, precision);
    views.extend(industrial);
    views.extend(area.sheets(reference, precision));
    provenance.extend(area.provenance());
    provenance.push((
        "years".to_string(),
        match report.previous {
            Some(p) => format!(
                "{} against the base year {p}{}",
                report.current,
                if report.missing_previous.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (no {p} rows for {}: the {p} total is not shown)",
                        report
                            .missing_previous
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            None => report.current.to_string(),
        },
    ));
    if !report.left_out.is_empty() {
        provenance.push((
            "left_out".to_string(),
            report
                .left_out
                .iter()
                .map(|((c, y), n)| format!("{n} {} quantities of {y}", c.as_str()))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    provenance.push((
        "categories".to_string(),
        "industrial_key, industrial_nonkey (the estimate), domestic, agricultural, centralized, mobile; total = their sum per region and pollutant".to_string(),
    ));
    Ok((views, provenance))
}

/// The whole report for callers holding the estimate: reads and computes the files, rolls up.
pub fn categories(
    estimate: &RegionalEstimate,
    files: &CategoryFiles,
    level: RegionLevel,
    reference: &Reference,
    read: &ReadOptions,
) -> Result<(AreaSources, CategoryReport), AppError> {
    let area = area_sources(files, reference, read)?;
    let report = report(estimate, &area, level, reference)?;
    Ok((area, report))
}
