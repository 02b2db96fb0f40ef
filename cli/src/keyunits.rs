//! `npsc key-units` (select the key units of a base-year run, keep the list) and `npsc
//! regional-totals` (key + estimated non-key part per region and pollutant, and with the
//! category files the domestic, agricultural, centralized and mobile parts too).

use std::io::Write;
use std::path::PathBuf;

use accounting::codes::RegionLevel;
use app::AppError;
use app::keyunits::{EstimateSettings, KeyUnitSettings};
use app::reference_tables::TableChoice;
use app::sheet::Sheet;
use clap::{Args, ValueEnum};

use crate::{block_on, default_actor};

pub(crate) const KEY_UNIT_EXAMPLES: &str = "\
Examples:
  # Key units of stored run 1 (the base year): 85 % of emission / 65 % of generation per
  # prefecture and pollutant, plus heavy-metal emitters
  npsc key-units --run 1
  # Keep the list as a versioned reference table, then publish it
  npsc key-units --run 1 --store key-units
  npsc reference publish key-units --note \"2020 base year\"
  # Another rule: emission only, 80 %, by county; the list as CSV
  npsc key-units --run 1 --level county --emission-share 0.8 --no-generation --view units --format csv";

pub(crate) const REGIONAL_EXAMPLES: &str = "\
Examples:
  # Key units' current emissions + the non-key estimate, by province
  npsc regional-totals --base-run 1 --run 2 --key-units key-units@1
  # By prefecture, with a documented adjustment of the non-key part, as a workbook
  npsc regional-totals --base-run 1 --run 2 --key-units key-units@1 --report-level prefecture \\
      --adjustment 0.95 --adjustment-note \"closures of 2024 (bureau notice 12)\" --xlsx totals.xlsx
  # Every source category (the bundled SYNTHETIC examples), by prefecture
  C=datasets/sample-synthetic/categories
  npsc regional-totals --base-run 1 --base-year 2022 --run 1 --year 2023 \\
      --key-units key-units@1 --report-level prefecture \\
      --source-coefficients $C/source_coefficients.csv --domestic $C/domestic.csv \\
      --livestock $C/livestock.csv --plants $C/plants.csv --mobile $C/mobile.csv \\
      --view categories";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyUnitView {
    All,
    Units,
    Coverage,
    Nesting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RegionalView {
    All,
    Categories,
    Shares,
    Estimate,
    Totals,
    Domestic,
    DomesticBalance,
    Livestock,
    Plants,
    Mobile,
}

impl RegionalView {
    /// The sheet the view names (`None` for all).
    fn sheet(self) -> Option<&'static str> {
        Some(match self {
            RegionalView::All => return None,
            RegionalView::Categories => "categories",
            RegionalView::Shares => "shares",
            RegionalView::Estimate => "estimate",
            RegionalView::Totals => "totals",
            RegionalView::Domestic => "domestic",
            RegionalView::DomesticBalance => "domestic_balance",
            RegionalView::Livestock => "livestock",
            RegionalView::Plants => "plants",
            RegionalView::Mobile => "mobile",
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct Output {
    /// Output format (CSV needs one view).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write every view and a provenance sheet to this Excel workbook.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyUnitArgs {
    /// The stored run of the base year.
    #[arg(long, value_name = "N")]
    run: i64,
    /// The base year, when the run has several.
    #[arg(long)]
    year: Option<u16>,
    /// The level of the areas within which units are ranked.
    #[arg(long, default_value = "prefecture", value_parser = level)]
    level: RegionLevel,
    /// Pollutants ranked (codes or names, comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = app::keyunits::DEFAULT_POLLUTANTS.map(str::to_string))]
    pollutants: Vec<String>,
    /// Share of each area's emission to cover.
    #[arg(long, default_value_t = 0.85)]
    emission_share: f64,
    /// Share of each area's generation to cover.
    #[arg(long, default_value_t = 0.65, conflicts_with = "no_generation")]
    generation_share: f64,
    /// Rank by emission only.
    #[arg(long)]
    no_generation: bool,
    /// Heavy metals whose emitters are all key units (codes or names, comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = app::keyunits::DEFAULT_HEAVY_METALS.map(str::to_string))]
    heavy_metals: Vec<String>,
    /// Keep the list as the draft of this reference table (kind key-units).
    #[arg(long, value_name = "NAME")]
    store: Option<String>,
    /// Which view to print.
    #[arg(long, value_enum, default_value_t = KeyUnitView::All)]
    view: KeyUnitView,
    #[command(flatten)]
    output: Output,
    /// The database holding the run.
    #[arg(long, env = "NPSC_DATABASE_URL", default_value = app::editions::DEFAULT_URL)]
    database: String,
    /// Who keeps the list, for the audit log.
    #[arg(long, env = "NPSC_ACTOR", default_value_t = default_actor())]
    actor: String,
}

#[derive(Debug, Args)]
pub(crate) struct RegionalArgs {
    /// The stored run of the base year (key and non-key units).
    #[arg(long, value_name = "N")]
    base_run: i64,
    /// The base year, when the base run has several.
    #[arg(long)]
    base_year: Option<u16>,
    /// The stored run of the current year (its key units are used).
    #[arg(long, value_name = "N")]
    run: i64,
    /// The current year, when the run has several.
    #[arg(long)]
    year: Option<u16>,
    /// The key-unit list: a stored edition (`key-units@1`, `key-units@latest`) or a file.
    #[arg(long, value_name = "LIST", default_value = "key-units@latest")]
    key_units: String,
    /// The level at which the key units' ratio is formed (default: the list's level).
    #[arg(long, value_parser = level)]
    level: Option<RegionLevel>,
    /// The level of the totals (the estimate's level or coarser).
    #[arg(long, default_value = "province", value_parser = level)]
    report_level: RegionLevel,
    /// A factor applied to every non-key estimate (needs --adjustment-note).
    #[arg(long, requires = "adjustment_note")]
    adjustment: Option<f64>,
    /// Why the adjustment is made (kept in the provenance).
    #[arg(long, requires = "adjustment")]
    adjustment_note: Option<String>,
    /// A stored reconciliation (`npsc reconcile … --database`) whose numbers of record under
    /// the statistics rule replace the coefficient estimates of the enterprises' emission in
    /// both years, where it has one.
    #[arg(long, value_name = "ID")]
    numbers_of_record: Option<i64>,
    /// Area-source coefficient table (生活源 and 畜禽养殖 coefficients: 类别, 来源, 行政区划代码,
    /// 污染物, 单位, 产污系数, 排污系数, 去除效率), for --domestic and --livestock: a file, or a
    /// stored edition (`source-coefficients@N`, see `npsc reference`).
    #[arg(long, value_name = "FILE|NAME@N")]
    source_coefficients: Option<String>,
    /// Domestic activity (年份, 行政区划代码, 来源, 活动水平, 计量单位, 天数, 参数): resident
    /// population, domestic coal.
    #[arg(long, value_name = "FILE", requires = "source_coefficients")]
    domestic: Option<PathBuf>,
    /// Livestock activity (the same columns and 养殖规模): head counts of 生猪, 奶牛, 肉牛, 蛋鸡,
    /// 肉鸡.
    #[arg(long, value_name = "FILE", requires = "source_coefficients")]
    livestock: Option<PathBuf>,
    /// Centralized facilities' monitoring (年份, 行政区划代码, 设施名称, 设施类型, 污染物,
    /// 处理水量, 进水浓度, 出水浓度, 生活污水比例): load = Q × C × 10⁻⁶.
    #[arg(long, value_name = "FILE")]
    plants: Option<PathBuf>,
    /// Mobile-source emissions as supplied (年份, 行政区划代码, 来源, 污染物, 排放量).
    #[arg(long, value_name = "FILE")]
    mobile: Option<PathBuf>,
    /// Which view to print.
    #[arg(long, value_enum, default_value_t = RegionalView::All)]
    view: RegionalView,
    #[command(flatten)]
    output: Output,
    /// The database holding the runs and the list.
    #[arg(long, env = "NPSC_DATABASE_URL", default_value = app::editions::DEFAULT_URL)]
    database: String,
}

/// Three decimals for people, every digit in files.
fn precision(format: Format) -> accounting::render::Precision {
    match format {
        Format::Table => accounting::render::Precision::Decimals(3),
        _ => accounting::render::Precision::Exact,
    }
}

fn level(text: &str) -> Result<RegionLevel, String> {
    RegionLevel::parse(text)
        .ok_or_else(|| format!("`{text}`: use national, province, prefecture or county"))
}

/// Prints the chosen sheets and writes the workbook of all of them.
fn emit(
    all: &[Sheet],
    chosen: Vec<Sheet>,
    provenance: &[(String, String)],
    output: &Output,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), AppError> {
    if let Some(path) = &output.xlsx {
        let bytes = app::sheet::render_xlsx(all, provenance)?;
        app::output::write_file(path, &bytes)?;
        let _ = writeln!(err, "workbook written to {}", path.display());
    }
    let text = match output.format {
        Format::Table => app::sheet::render_tables(&chosen),
        Format::Csv => match chosen.as_slice() {
            [one] => app::sheet::render_csv(one)?,
            _ => {
                return Err(AppError::Argument {
                    message: "CSV holds one view".to_string(),
                    hint: Some("add --view, or use --xlsx".to_string()),
                });
            }
        },
        Format::Json => app::sheet::render_json(provenance, &chosen),
    };
    match &output.out {
        Some(path) => {
            app::output::write_file(path, text.as_bytes())?;
            let _ = writeln!(err, "written to {}", path.display());
        }
        None => {
            let _ = out.write_all(text.as_bytes());
        }
    }
    Ok(())
}

pub(crate) fn key_units(
    args: KeyUnitArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let settings = KeyUnitSettings {
        level: args.level,
        pollutants: args.pollutants.clone(),
        emission_share: args.emission_share,
        generation_share: (!args.no_generation).then_some(args.generation_share),
        heavy_metals: args.heavy_metals.clone(),
        year: args.year,
    };
    let (report, stored) = block_on(async {
        let store = app::editions::open(&args.database).await?;
        let result = async {
            let report = app::keyunits::select(&store, args.run, &settings, &reference).await?;
            let stored = match &args.store {
                Some(name) => Some(
                    app::keyunits::store_list(&store, name, &report, &reference, &args.actor)
                        .await?,
                ),
                None => None,
            };
            Ok((report, stored))
        }
        .await;
        store.close().await;
        result
    })?;
    let all = report.sheets(&reference, accounting::render::Precision::Exact);
    let chosen: Vec<Sheet> = report
        .sheets(&reference, precision(args.output.format))
        .iter()
        .filter(|s| match args.view {
            KeyUnitView::All => true,
            KeyUnitView::Units => s.name == "key_units",
            KeyUnitView::Coverage => s.name == "coverage",
            KeyUnitView::Nesting => s.name == "nesting",
        })
        .cloned()
        .collect();
    let provenance = vec![
        (
            "run".to_string(),
            format!(
                "{} ({}, sha256 {})",
                report.basis.run, report.basis.coefficients, report.basis.content_hash
            ),
        ),
        ("base_year".to_string(), report.basis.year.to_string()),
        ("level".to_string(), args.level.as_str().to_string()),
        (
            "rule".to_string(),
            format!(
                "largest first until {} of emission{} per area and pollutant ({}); emitters of {}",
                args.emission_share,
                settings
                    .generation_share
                    .map(|g| format!(" or {g} of generation"))
                    .unwrap_or_default(),
                args.pollutants.join(", "),
                args.heavy_metals.join(", ")
            ),
        ),
        ("summary".to_string(), report.summary()),
        ("npsc".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
    emit(&all, chosen, &provenance, &args.output, out, err)?;
    let _ = writeln!(err, "{}", report.summary());
    if let Some(imported) = stored.and_then(|s| s.info) {
        let _ = writeln!(
            err,
            "kept as draft {} (sha256 {}); publish it with: npsc reference publish {} --note \"…\"",
            imported.label(),
            imported.content_hash,
            imported.label()
        );
    }
    Ok(0)
}

pub(crate) fn regional_totals(
    args: RegionalArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let settings = EstimateSettings {
        base_run: args.base_run,
        base_year: args.base_year,
        current_run: args.run,
        current_year: args.year,
        key_units: TableChoice::parse(&args.key_units),
        level: args.level,
        adjustment: args.adjustment.zip(args.adjustment_note.clone()),
        numbers_of_record: args.numbers_of_record,
    };
    let (estimate, coefficients) = block_on(async {
        let store = app::editions::open(&args.database).await?;
        let result = async {
            let estimate = app::keyunits::estimate(
                &store,
                &settings,
                &reference,
                &app::ReadOptions::default(),
            )
            .await?;
            // The coefficient table: a file, or a stored edition by name.
            let coefficients = match &args.source_coefficients {
                Some(text) => {
                    let named = app::reference_tables::resolve(
                        Some(&store),
                        app::reference_tables::ReferenceKind::SourceCoefficients,
                        &TableChoice::parse(text),
                    )
                    .await?;
                    Some(app::categories::CategoryFile {
                        label: named.name,
                        bytes: named.bytes,
                    })
                }
                None => None,
            };
            Ok((estimate, coefficients))
        }
        .await;
        store.close().await;
        result
    })?;
    let read = |path: &Option<PathBuf>| {
        path.as_deref()
            .map(app::categories::CategoryFile::read)
            .transpose()
    };
    let files = app::categories::CategoryFiles {
        coefficients,
        domestic: read(&args.domestic)?,
        livestock: read(&args.livestock)?,
        plants: read(&args.plants)?,
        mobile: read(&args.mobile)?,
    };
    let categories = if files.is_empty() {
        None
    } else {
        Some(app::categories::categories(
            &estimate,
            &files,
            args.report_level,
            &reference,
            &app::ReadOptions::default(),
        )?)
    };
    let categories = categories.as_ref().map(|(area, report)| (area, report));
    let (workbook, provenance) = app::categories::regional_views(
        &estimate,
        categories,
        args.report_level,
        &reference,
        accounting::render::Precision::Exact,
    )?;
    let (views, _) = app::categories::regional_views(
        &estimate,
        categories,
        args.report_level,
        &reference,
        precision(args.output.format),
    )?;
    let chosen: Vec<Sheet> = match args.view.sheet() {
        None => views,
        Some(name) => {
            let chosen: Vec<Sheet> = views.into_iter().filter(|s| s.name == name).collect();
            if chosen.is_empty() {
                return Err(AppError::Argument {
                    message: format!("there is no `{name}` view without its input file"),
                    hint: Some(
                        "the category views need --domestic, --livestock, --plants or --mobile"
                            .to_string(),
                    ),
                });
            }
            chosen
        }
    };
    emit(&workbook, chosen, &provenance, &args.output, out, err)?;
    let _ = writeln!(
        err,
        "{} areas × pollutants estimated at {} level from {} key units",
        estimate.estimates.len(),
        estimate.level.as_str(),
        estimate.key_count
    );
    if let Some((_, report)) = categories {
        let _ = writeln!(
            err,
            "{} regions × pollutants × categories at {} level, {}{}",
            report.cells.len(),
            report.level.as_str(),
            report.current,
            report
                .previous
                .map(|p| format!(" against {p}"))
                .unwrap_or_default()
        );
    }
    Ok(0)
}
