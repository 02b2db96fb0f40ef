//! `npsc reconcile`: permit execution reports against the coefficient estimates.

use std::io::Write;
use std::path::PathBuf;

use accounting::engine::{OperationRatePolicy, Policy};
use accounting::permit::{PunitiveRule, Tolerances};
use accounting::reconcile::{Options, RelativeUncertainty};
use accounting::totals::Grouping;
use app::AppError;
use app::account::AccountSettings;
use app::reconcile::ReconcileSettings;
use clap::{Args, ValueEnum};

use crate::{DateOptions, InputOptions, KArg, block_on, read_options};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # A permit officer's check of the sample enterprises' 2022–2023 execution reports
  npsc reconcile --coefficients coefficients/npsc1-excerpt \\
      --registry datasets/sample-synthetic/registry.csv \\
      --activity datasets/sample-synthetic/activity.csv \\
      --reports datasets/sample-synthetic/permit_reports.csv
  # Only the problems, as CSV; the whole report as an Excel workbook
  npsc reconcile ... --view comparison --only-flagged --format csv
  npsc reconcile ... --xlsx reconciliation.xlsx
";

/// Which views to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewArg {
    /// Every view.
    All,
    /// Reported against estimated, with flags.
    Comparison,
    /// The numbers of record under the statistics, permit and tax rules.
    Records,
    /// The weighted least-squares reconciliation with its tests.
    Reconciliation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// Coefficient set: a folder with manifest.toml or a table; or an edition (`set@N`,
    /// `set@latest`, or `set` with --at).
    #[arg(long, value_name = "PATH|SET@EDITION")]
    coefficients: String,
    #[command(flatten)]
    date: DateOptions,
    /// The database holding the editions (when --coefficients names one).
    #[arg(long, env = "NPSC_DATABASE_URL", default_value = app::editions::DEFAULT_URL)]
    database: String,
    /// Enterprise registry (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// Activity data (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    activity: PathBuf,
    /// Permit execution reports (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    reports: PathBuf,
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
    /// In the comparison, show only enterprise-pollutant-years with a flag.
    #[arg(long)]
    only_flagged: bool,
    /// Relative difference flagged as a warning.
    #[arg(long, default_value_t = 0.20)]
    warning: f64,
    /// Relative difference flagged as an error.
    #[arg(long, default_value_t = 0.50)]
    error: f64,
    /// Year-over-year change of the reported value that is flagged.
    #[arg(long, default_value_t = 0.20)]
    yoy: f64,
    /// Lowest valid-data capture rate of automatic monitoring in a quarter.
    #[arg(long, default_value_t = 0.75)]
    minimum_capture: f64,
    /// Significance of the reconciliation's tests.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Relative standard deviation of automatic monitoring.
    #[arg(long, default_value_t = 0.05)]
    rsd_automatic: f64,
    /// Relative standard deviation of manual monitoring.
    #[arg(long, default_value_t = 0.15)]
    rsd_manual: f64,
    /// Relative standard deviation of material balance.
    #[arg(long, default_value_t = 0.20)]
    rsd_balance: f64,
    /// Relative standard deviation of coefficient estimates.
    #[arg(long, default_value_t = 0.30)]
    rsd_coefficient: f64,
    /// Relative standard deviation of other methods.
    #[arg(long, default_value_t = 0.50)]
    rsd_other: f64,
    /// Industry code prefixes where the permit rule's punitive accounting applies (comma
    /// separated, e.g. `44,3011`); all industries when omitted.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    punitive_industries: Vec<String>,
    /// What k to assume when a treated row gives no operation rate.
    #[arg(long, value_enum, default_value_t = KArg::Nominal)]
    missing_operation_rate: KArg,
    #[command(flatten)]
    input: InputOptions,
}

fn check_fraction(name: &str, value: f64, max: f64) -> Result<(), AppError> {
    if value.is_finite() && value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(AppError::Argument {
            message: format!("--{name} {value} is out of range (0, {max}]"),
            hint: Some("fractions are written as 0.2 for 20 %".to_string()),
        })
    }
}

pub(crate) fn run(
    args: ReconcileArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    for (name, value, max) in [
        ("warning", args.warning, 10.0),
        ("error", args.error, 10.0),
        ("yoy", args.yoy, 10.0),
        ("minimum-capture", args.minimum_capture, 1.0),
        ("alpha", args.alpha, 0.5),
        ("rsd-automatic", args.rsd_automatic, 10.0),
        ("rsd-manual", args.rsd_manual, 10.0),
        ("rsd-balance", args.rsd_balance, 10.0),
        ("rsd-coefficient", args.rsd_coefficient, 10.0),
        ("rsd-other", args.rsd_other, 10.0),
    ] {
        check_fraction(name, value, max)?;
    }
    if args.error < args.warning {
        return Err(AppError::Argument {
            message: format!("--error {} is below --warning {}", args.error, args.warning),
            hint: None,
        });
    }
    for code in &args.punitive_industries {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) || code.len() > 4 {
            return Err(AppError::Argument {
                message: format!("--punitive-industries: `{code}` is not an industry code prefix"),
                hint: Some("give 1 to 4 digits of GB/T 4754-2017 codes, e.g. 44,3011".to_string()),
            });
        }
    }
    if args.format == ViewFormat::Csv && args.view == ViewArg::All {
        return Err(AppError::Argument {
            message: "CSV holds one view".to_string(),
            hint: Some(
                "add --view comparison, records or reconciliation, or use --xlsx".to_string(),
            ),
        });
    }
    let reference = app::reference::bundled()?;
    let read = read_options(&args.input)?;
    let settings = ReconcileSettings {
        account: AccountSettings {
            coefficients: PathBuf::from(&args.coefficients),
            registry: args.registry.clone(),
            activity: args.activity.clone(),
            grouping: Grouping {
                region: accounting::codes::RegionLevel::National,
                industry: None,
            },
            policy: Policy {
                missing_operation_rate: match args.missing_operation_rate {
                    KArg::Nominal => OperationRatePolicy::Nominal,
                    KArg::Strict => OperationRatePolicy::Strict,
                },
            },
            read: read.clone(),
            results: None,
            deny_unaccounted: false,
        },
        reports: args.reports.clone(),
        tolerances: Tolerances {
            warning: args.warning,
            error: args.error,
            year_over_year: args.yoy,
            minimum_capture: args.minimum_capture,
        },
        uncertainty: RelativeUncertainty {
            automatic_monitoring: args.rsd_automatic,
            manual_monitoring: args.rsd_manual,
            material_balance: args.rsd_balance,
            coefficient: args.rsd_coefficient,
            other: args.rsd_other,
        },
        options: Options { alpha: args.alpha },
        punitive: PunitiveRule {
            industries: args.punitive_industries.clone(),
        },
    };
    let from_database = args.coefficients.contains('@') || args.date.at.is_some();
    let (set, edition) = if from_database {
        block_on(async {
            let store = app::editions::open(&args.database).await?;
            let selector = app::editions::selector(
                &args.coefficients,
                args.date.at.as_deref(),
                &args.date.rule,
            );
            let loaded = match selector {
                Ok(selector) => app::editions::load(&store, &selector, &reference).await,
                Err(e) => Err(e),
            };
            store.close().await;
            let (info, set) = loaded?;
            Ok((set, info.name()))
        })?
    } else {
        let set = app::account::load_coefficients(&settings.account, &reference)?;
        (set, args.coefficients.clone())
    };
    let _ = writeln!(err, "using {edition} (sha256 {})", set.content_hash());
    let mut report = app::reconcile::reconcile_with(&set, &settings, &reference)?;
    let summary = report.summary();
    if args.only_flagged {
        report.comparisons.retain(|c| !c.flags.is_empty());
    }
    let precision = match args.format {
        ViewFormat::Table => accounting::render::Precision::Decimals(3),
        _ => accounting::render::Precision::Exact,
    };
    let mut sheets = Vec::new();
    if matches!(args.view, ViewArg::All | ViewArg::Comparison) {
        sheets.push(report.comparison_sheet(&reference, precision));
    }
    if matches!(args.view, ViewArg::All | ViewArg::Records) {
        sheets.push(report.records_sheet(&reference, precision));
    }
    if matches!(args.view, ViewArg::All | ViewArg::Reconciliation) {
        sheets.push(report.reconciliation_sheet(&reference, precision));
    }
    let provenance = vec![
        ("coefficients".to_string(), edition.clone()),
        ("content_hash".to_string(), report.content_hash.clone()),
        ("registry".to_string(), args.registry.display().to_string()),
        ("activity".to_string(), args.activity.display().to_string()),
        ("reports".to_string(), args.reports.display().to_string()),
        (
            "tolerances".to_string(),
            format!(
                "warning {} error {} yoy {} minimum_capture {}",
                args.warning, args.error, args.yoy, args.minimum_capture
            ),
        ),
        (
            "relative_std_dev".to_string(),
            format!(
                "automatic {} manual {} balance {} coefficient {} other {}",
                args.rsd_automatic,
                args.rsd_manual,
                args.rsd_balance,
                args.rsd_coefficient,
                args.rsd_other
            ),
        ),
        ("alpha".to_string(), args.alpha.to_string()),
        (
            "punitive_industries".to_string(),
            if args.punitive_industries.is_empty() {
                "all".to_string()
            } else {
                args.punitive_industries.join(",")
            },
        ),
        ("summary".to_string(), summary.clone()),
        ("npsc".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
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
