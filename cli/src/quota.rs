//! `npsc quota`: total-load control — accounted totals against caps, progress against the
//! reduction targets, enterprises above their permitted quantity.

use std::io::Write;
use std::path::PathBuf;

use app::AppError;
use app::quota::QuotaInputs;
use clap::{Args, ValueEnum};

use crate::{DateOptions, InputOptions, block_on, named_coefficients, read_options};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # The sample's provinces against their (synthetic) caps, 2023 progress against 2022
  npsc quota --coefficients coefficients/npsc1-excerpt \\
      --registry datasets/sample-synthetic/registry.csv \\
      --activity datasets/sample-synthetic/activity.csv \\
      --caps datasets/sample-synthetic/caps.csv --base-year 2022 \\
      --reports datasets/sample-synthetic/permit_reports.csv
  # Only the ledger, as CSV; everything as an Excel workbook with a provenance sheet
  npsc quota ... --view ledger --format csv
  npsc quota ... --xlsx quota.xlsx
  # The totals of a stored run (grouped at the caps' level or finer)
  npsc quota --run 1 --database sqlite://npsc.db --registry registry.csv --caps caps.csv
";

/// Which views to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewArg {
    /// Every view.
    All,
    /// Total, cap, utilization and headroom per region × pollutant × year.
    Ledger,
    /// Progress against the reduction targets.
    Progress,
    /// Enterprises above their permitted quantity.
    Permits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct QuotaArgs {
    /// Coefficient set: a folder with manifest.toml or a table; or an edition (`set@N`,
    /// `set@latest`, or `set` with --at).
    #[arg(
        long,
        value_name = "PATH|SET@EDITION",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    coefficients: Option<String>,
    /// Take the totals of stored accounting run N instead of accounting --activity afresh.
    #[arg(long, value_name = "N")]
    run: Option<i64>,
    #[command(flatten)]
    date: DateOptions,
    /// The database holding the editions or the run (`./npsc.db` when omitted).
    #[arg(long, env = "NPSC_DATABASE_URL")]
    database: Option<String>,
    /// Enterprise registry (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// Activity data (CSV or Excel).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    activity: Option<PathBuf>,
    /// Caps: 行政区划代码, 污染物, 年份, 总量控制指标(吨) (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    caps: PathBuf,
    /// The base year of the reduction targets.
    #[arg(long, default_value_t = 2020)]
    base_year: u16,
    /// Reduction targets: 污染物, 减排目标(%) (the 14th five-year plan's when omitted).
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Permit execution reports with permitted quantities (许可排放量), for the enterprises
    /// above them.
    #[arg(long, value_name = "FILE")]
    reports: Option<PathBuf>,
    /// Which view to print.
    #[arg(long, value_enum, default_value_t = ViewArg::All)]
    view: ViewArg,
    /// Output format (CSV needs one view).
    #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
    format: ViewFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write every view and a provenance sheet to this Excel workbook.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
    #[command(flatten)]
    input: InputOptions,
}

pub(crate) fn run(
    args: QuotaArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    if args.format == ViewFormat::Csv && args.view == ViewArg::All {
        return Err(AppError::Argument {
            message: "CSV holds one view".to_string(),
            hint: Some("add --view ledger, progress or permits, or use --xlsx".to_string()),
        });
    }
    let reference = app::reference::bundled()?;
    let read = read_options(&args.input)?;
    let inputs = QuotaInputs {
        registry: args.registry.clone(),
        activity: args.activity.clone().unwrap_or_default(),
        caps: args.caps.clone(),
        targets: args.targets.clone(),
        reports: args.reports.clone(),
        base_year: args.base_year,
        read: read.clone(),
    };
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| app::editions::DEFAULT_URL.to_string());
    let mut provenance: Vec<(String, String)> = Vec::new();
    let report = match (args.run, args.coefficients.as_deref()) {
        (Some(run), _) => {
            let (info, report) = block_on(async {
                let store = app::editions::open(&database).await?;
                let result = app::quota::quota_run(&store, run, &inputs, &reference).await;
                store.close().await;
                result
            })?;
            let _ = writeln!(
                err,
                "using the totals of run {run} ({}, sha256 {})",
                info.run.selector, info.run.content_hash
            );
            provenance.push((
                "coefficients".to_string(),
                format!("run {run}: {}", info.run.selector),
            ));
            provenance.push((
                "activity".to_string(),
                format!(
                    "run {run}: {} (sha256 {})",
                    info.run.activity_path, info.run.activity_hash
                ),
            ));
            report
        }
        (None, coefficients) => {
            let coefficients = coefficients.unwrap_or_default().to_string();
            let (set, _, _) =
                named_coefficients(&coefficients, &args.date, &database, &reference, &read)?;
            let _ = writeln!(err, "using {coefficients} (sha256 {})", set.content_hash());
            provenance.push(("coefficients".to_string(), coefficients.clone()));
            if let Some(activity) = &args.activity {
                provenance.push(app::quota::input_hash("activity", activity)?);
            }
            app::quota::quota_with(&set, &inputs, &reference)?
        }
    };
    provenance.insert(1, ("content_hash".to_string(), report.content_hash.clone()));
    provenance.push(app::quota::input_hash("registry", &args.registry)?);
    provenance.push(app::quota::input_hash("caps", &args.caps)?);
    match &args.targets {
        Some(path) => provenance.push(app::quota::input_hash("targets", path)?),
        None => provenance.push(("targets".to_string(), report.targets_source.clone())),
    }
    if let Some(path) = &args.reports {
        provenance.push(app::quota::input_hash("reports", path)?);
    }
    provenance.push(("base_year".to_string(), args.base_year.to_string()));
    let summary = report.summary();
    provenance.push(("summary".to_string(), summary.clone()));
    provenance.push(("npsc".to_string(), env!("CARGO_PKG_VERSION").to_string()));

    let precision = match args.format {
        ViewFormat::Table => accounting::render::Precision::Decimals(3),
        _ => accounting::render::Precision::Exact,
    };
    let mut sheets = Vec::new();
    if matches!(args.view, ViewArg::All | ViewArg::Ledger) {
        sheets.push(report.ledger_sheet(&reference, precision));
    }
    if matches!(args.view, ViewArg::All | ViewArg::Progress) {
        sheets.push(report.progress_sheet(&reference, precision));
    }
    if matches!(args.view, ViewArg::All | ViewArg::Permits) {
        sheets.push(report.permits_sheet(&reference, precision));
    }
    if let Some(path) = &args.xlsx {
        let bytes = app::sheet::render_xlsx(
            &report.sheets(&reference, accounting::render::Precision::Exact),
            &provenance,
        )?;
        app::output::write_file(path, &bytes)?;
        let _ = writeln!(err, "workbook written to {}", path.display());
    }
    let text = match args.format {
        ViewFormat::Table => app::sheet::render_tables(&sheets),
        ViewFormat::Csv => app::sheet::render_csv(&sheets[0])?,
        ViewFormat::Json => app::sheet::render_json(&provenance, &sheets),
    };
    match &args.out {
        Some(path) => {
            app::output::write_file(path, text.as_bytes())?;
            let _ = writeln!(err, "written to {}", path.display());
        }
        None => {
            let _ = out.write_all(text.as_bytes());
        }
    }
    let _ = writeln!(err, "{summary}");
    Ok(0)
}
