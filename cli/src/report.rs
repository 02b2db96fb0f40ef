//! `npsc report`: the statistician's workbook (按地区, 按行业, 按污染物, 同比, provenance) and SVG
//! charts, from a fresh accounting or a stored run.

use std::io::Write;
use std::path::PathBuf;

use accounting::codes::RegionCode;
use accounting::engine::{OperationRatePolicy, Policy};
use accounting::totals::Grouping;
use app::AppError;
use app::account::{AccountSettings, NoProgress};
use app::report::StatisticsReport;
use clap::Args;

use crate::{
    DateOptions, GroupingArgs, InputOptions, KArg, block_on, named_coefficients, read_options,
};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # The statistics report of the bundled sample, with charts of 2023 sulphur dioxide
  npsc report --coefficients coefficients/npsc1-excerpt \\
      --registry datasets/sample-synthetic/registry.csv \\
      --activity datasets/sample-synthetic/activity.csv \\
      --xlsx report.xlsx --svg-dir charts --pollutant SO2 --year 2023
  # With published edition 2 of a coefficient set in the database (or `set@latest`, or `set`
  # with --at DATE)
  npsc report --coefficients npsc1-excerpt@2 --database sqlite://npsc.db \\
      --registry datasets/sample-synthetic/registry.csv \\
      --activity datasets/sample-synthetic/activity.csv --xlsx report.xlsx
  # From stored run 3, by prefecture and 2-digit industry
  npsc report --run 3 --database sqlite://npsc.db --xlsx run3.xlsx \\
      --region-level prefecture --industry-level division";

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Coefficient set: a folder with manifest.toml or a single table; or an edition in the
    /// database (`set@N`, `set@latest`, or `set` with --at).
    #[arg(
        long,
        value_name = "PATH|SET@EDITION",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    coefficients: Option<String>,
    #[command(flatten)]
    date: DateOptions,
    /// Enterprise registry (CSV or Excel).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    registry: Option<PathBuf>,
    /// Activity data (CSV or Excel).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    activity: Option<PathBuf>,
    /// Report on stored accounting run N instead of accounting afresh.
    #[arg(long, value_name = "N", requires = "database")]
    run: Option<i64>,
    /// The database holding the run or the edition (`./npsc.db` for an edition when omitted).
    #[arg(long, env = "NPSC_DATABASE_URL")]
    database: Option<String>,
    /// The Excel workbook to write.
    #[arg(long, value_name = "FILE")]
    xlsx: PathBuf,
    /// Also write the SVG charts to this folder (created when missing).
    #[arg(long, value_name = "DIR")]
    svg_dir: Option<PathBuf>,
    #[command(flatten)]
    grouping: GroupingArgs,
    /// Pollutant of the regional bars (code or name).
    #[arg(long, default_value = "SO2")]
    pollutant: String,
    /// Year of the bars and of the year-over-year sheet (the latest when omitted).
    #[arg(long)]
    year: Option<u16>,
    /// Region (code at --region-level) of the year-over-year lines; national when omitted.
    #[arg(long, value_name = "CODE")]
    region: Option<String>,
    /// What k to assume when a treated row gives no operation rate.
    #[arg(long, value_enum, default_value_t = KArg::Nominal)]
    missing_operation_rate: KArg,
    #[command(flatten)]
    input: InputOptions,
}

pub(crate) fn run(args: ReportArgs, err: &mut dyn Write) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let grouping: Grouping = (&args.grouping).into();
    let pollutant = reference
        .pollutants
        .lookup(&args.pollutant)
        .ok_or_else(|| AppError::Argument {
            message: format!("unknown pollutant `{}`", args.pollutant),
            hint: Some("use a code such as `SO2` or a name such as `二氧化硫`".to_string()),
        })?;
    let region = args
        .region
        .as_deref()
        .map(|text| {
            RegionCode::parse(text).map_err(|_| AppError::Argument {
                message: format!("`{text}` is not a six-digit region code"),
                hint: Some("look it up with `npsc codes region NAME`".to_string()),
            })
        })
        .transpose()?;
    let options = (
        "options".to_string(),
        format!(
            "pollutant={}; year={}; region={}; missing_operation_rate={:?}",
            reference.pollutants.get(pollutant).code,
            args.year
                .map(|y| y.to_string())
                .unwrap_or_else(|| "latest".into()),
            args.region.as_deref().unwrap_or("national"),
            args.missing_operation_rate,
        ),
    );
    let report = match args.run {
        Some(id) => {
            let url = args.database.clone().unwrap_or_default();
            block_on(async {
                let store = app::editions::open(&url).await?;
                let result = StatisticsReport::from_run(
                    &store,
                    &reference,
                    id,
                    grouping.region,
                    grouping.industry,
                    vec![options],
                )
                .await;
                store.close().await;
                result
            })?
        }
        None => {
            let coefficients = args.coefficients.clone().unwrap_or_default();
            let registry = args.registry.clone().unwrap_or_default();
            let activity = args.activity.clone().unwrap_or_default();
            let read = read_options(&args.input)?;
            let database = args
                .database
                .clone()
                .unwrap_or_else(|| app::editions::DEFAULT_URL.to_string());
            let (set, name, chosen) =
                named_coefficients(&coefficients, &args.date, &database, &reference, &read)?;
            let settings = AccountSettings {
                coefficients: PathBuf::from(&coefficients),
                registry: registry.clone(),
                activity: activity.clone(),
                grouping,
                policy: Policy {
                    missing_operation_rate: match args.missing_operation_rate {
                        KArg::Nominal => OperationRatePolicy::Nominal,
                        KArg::Strict => OperationRatePolicy::Strict,
                    },
                },
                read,
                results: None,
                deny_unaccounted: false,
            };
            let account = app::account::account_with(&set, &settings, &reference, &NoProgress)?;
            let mut provenance = vec![("coefficients".to_string(), coefficients.clone())];
            if let Some(edition) = chosen.edition {
                provenance.push((
                    "edition".to_string(),
                    format!(
                        "{name} (edition {edition}{}) from the database",
                        match (&chosen.date, &chosen.rule) {
                            (Some(date), Some(rule)) => format!(", in force on {date} by {rule}"),
                            _ => String::new(),
                        },
                    ),
                ));
            }
            for (name, path) in [("registry", &registry), ("activity", &activity)] {
                let input = app::reconcile::file_input(path)?;
                provenance.push((name.to_string(), input.path));
                provenance.push((format!("{name}_sha256"), input.hash));
            }
            provenance.push((
                "rows".to_string(),
                format!(
                    "read {} accounted {} excluded {} unaccounted {}",
                    account.summary.rows_read,
                    account.summary.rows_accounted,
                    account.summary.rows_excluded,
                    account.summary.rows_unaccounted
                ),
            ));
            provenance.push(options);
            StatisticsReport::from_account(&account, provenance)
        }
    };
    let year = report.current_year(args.year)?;
    let workbook = report.xlsx(year)?;
    app::output::write_file(&args.xlsx, &workbook)?;
    let _ = writeln!(err, "statistics report written to {}", args.xlsx.display());
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Path {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let code = reference.pollutants.get(pollutant).code.clone();
        let bars = report.regional_bars_svg(pollutant, year)?;
        let bars_path = dir.join(format!("regional-{code}-{year}.svg"));
        app::output::write_file(&bars_path, bars.as_bytes())?;
        let lines = report.yoy_lines_svg(region)?;
        let lines_path = dir.join(format!(
            "year-over-year-{}.svg",
            region
                .map(|r| r.to_string())
                .unwrap_or_else(|| "national".into())
        ));
        app::output::write_file(&lines_path, lines.as_bytes())?;
        let _ = writeln!(
            err,
            "charts written to {} and {}",
            bars_path.display(),
            lines_path.display()
        );
    }
    Ok(0)
}
