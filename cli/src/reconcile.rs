//! `npsc reconcile`: permit execution reports against the coefficient estimates.

use std::io::Write;
use std::path::PathBuf;

use accounting::engine::OperationRatePolicy;
use app::AppError;
use app::reconcile::{ParameterNames, ReconcileParameters};
use clap::{Args, Subcommand, ValueEnum};

use crate::{
    DateOptions, InputOptions, KArg, block_on, default_actor, named_coefficients, read_options,
};

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
  # Store it (provenance, every view) for later: `npsc reconciliations list|show|export`
  npsc reconcile ... --database sqlite://npsc.db
";

pub(crate) const STORED_EXAMPLES: &str = "\
Examples:
  npsc reconcile --coefficients npsc1-excerpt@latest --registry registry.csv \\
      --activity activity.csv --reports permit_reports.csv --database sqlite://npsc.db
  npsc reconciliations list
  npsc reconciliations show 1
  npsc reconciliations export 1 --view comparison --format csv --out comparison.csv
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
    #[arg(
        long,
        value_name = "PATH|SET@EDITION",
        required_unless_present = "run",
        conflicts_with = "run"
    )]
    coefficients: Option<String>,
    /// Take the estimates from stored accounting run N (its edition, its results) instead of
    /// accounting --activity afresh.
    #[arg(long, value_name = "N")]
    run: Option<i64>,
    #[command(flatten)]
    date: DateOptions,
    /// Store the reconciliation (provenance, inputs' hashes, every view) in this database; also
    /// the database holding the editions when --coefficients names one (`./npsc.db` when
    /// omitted, then nothing is stored).
    #[arg(long, env = "NPSC_DATABASE_URL")]
    database: Option<String>,
    /// Who reconciles, for the audit log of a stored reconciliation.
    #[arg(long, env = "NPSC_ACTOR", default_value_t = default_actor())]
    actor: String,
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

pub(crate) fn run(
    args: ReconcileArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    let parameters = ReconcileParameters {
        warning: args.warning,
        error: args.error,
        yoy: args.yoy,
        minimum_capture: args.minimum_capture,
        alpha: args.alpha,
        rsd_automatic: args.rsd_automatic,
        rsd_manual: args.rsd_manual,
        rsd_balance: args.rsd_balance,
        rsd_coefficient: args.rsd_coefficient,
        rsd_other: args.rsd_other,
        punitive_industries: args.punitive_industries.clone(),
        missing_operation_rate: match args.missing_operation_rate {
            KArg::Nominal => OperationRatePolicy::Nominal,
            KArg::Strict => OperationRatePolicy::Strict,
        },
    };
    parameters.check(ParameterNames::Flags)?;
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
    let mut settings = parameters.settings(
        args.registry.clone(),
        args.activity.clone().unwrap_or_default(),
        args.reports.clone(),
        read.clone(),
    );
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| app::editions::DEFAULT_URL.to_string());
    let started_at = app::reconcile::now_utc();
    let started = std::time::Instant::now();
    let (mut report, provenance, inputs) = match (args.run, args.coefficients.as_deref()) {
        (Some(run), _) => {
            let (info, report) = block_on(async {
                let store = app::editions::open(&database).await?;
                let result =
                    app::reconcile::reconcile_run(&store, run, &settings, &reference).await;
                store.close().await;
                result
            })?;
            let _ = writeln!(
                err,
                "using the results of run {run} ({}, sha256 {})",
                info.run.selector, info.run.content_hash
            );
            let provenance = app::runs::Provenance {
                edition: info.run.edition,
                selector: format!("run {run}: {}", info.run.selector),
                rule: info.run.rule.clone(),
                date: info.run.accounting_date.clone(),
                coefficients_path: info.run.coefficients_path.clone(),
            };
            let registry = app::reconcile::file_input(&settings.account.registry)?;
            let reports = app::reconcile::file_input(&settings.reports)?;
            let activity = app::runs::Input {
                path: format!("run {run}: {}", info.run.activity_path),
                hash: info.run.activity_hash.clone(),
            };
            (report, provenance, [registry, activity, reports])
        }
        (None, coefficients) => {
            let coefficients = coefficients.unwrap_or_default().to_string();
            settings.account.coefficients = PathBuf::from(&coefficients);
            let (set, edition, provenance) =
                named_coefficients(&coefficients, &args.date, &database, &reference, &read)?;
            let _ = writeln!(err, "using {edition} (sha256 {})", set.content_hash());
            let report = app::reconcile::reconcile_with(&set, &settings, &reference)?;
            (report, provenance, app::reconcile::file_inputs(&settings)?)
        }
    };
    let edition = provenance.selector.clone();
    let summary = report.summary();
    if let Some(url) = &args.database {
        // The whole report is stored, whatever this command shows of it.
        let made = app::reconcile::Made {
            provenance,
            inputs,
            parameters: parameters.clone(),
            actor: args.actor.clone(),
            started_at,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let info = block_on(async {
            let store = app::editions::open(url).await?;
            let stored = app::reconcile::store(&store, &report, &made, &reference).await;
            store.close().await;
            stored
        })?;
        let _ = writeln!(err, "stored as reconciliation {}", info.id);
    }
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
        (
            "activity".to_string(),
            match (&args.activity, args.run) {
                (Some(path), _) => path.display().to_string(),
                (None, Some(run)) => format!("the results of stored run {run}"),
                (None, None) => String::new(),
            },
        ),
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

/// One view of a stored reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StoredViewArg {
    /// Reported against estimated, with flags.
    Comparison,
    /// The numbers of record under the statistics, permit and tax rules.
    Records,
    /// The weighted least-squares reconciliation with its tests.
    Reconciliation,
}

impl StoredViewArg {
    fn name(self) -> &'static str {
        match self {
            StoredViewArg::Comparison => "comparison",
            StoredViewArg::Records => "records",
            StoredViewArg::Reconciliation => "reconciliation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormatArg {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReconciliationsCommand {
    /// All stored reconciliations, newest first.
    List,
    /// One reconciliation's provenance, counts and views.
    Show {
        /// Reconciliation id.
        id: i64,
    },
    /// One view of a stored reconciliation, cells exactly as stored (CSV, or JSON in the shape
    /// of `npsc reconcile --format json`).
    Export {
        /// Reconciliation id.
        id: i64,
        /// Which view.
        #[arg(long, value_enum)]
        view: StoredViewArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Csv)]
        format: ExportFormatArg,
        /// The file to write (standard output when omitted).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

fn print_reconciliation(out: &mut dyn Write, r: &app::reconcile::ReconciliationInfo) {
    let x = &r.reconciliation;
    let _ = writeln!(
        out,
        "reconciliation {:<4} {}  {:<24} {:>5} compared {:>4} errors {:>4} warnings  {}",
        r.id,
        x.started_at,
        match x.edition {
            Some(e) => format!("{}@{e}", x.set_id),
            None => x.selector.clone(),
        },
        r.counts.comparisons,
        r.counts.with_errors,
        r.counts.with_warnings,
        x.reports_path
    );
}

/// `npsc reconciliations …`.
pub(crate) async fn stored(
    store: &app::editions::Store,
    what: ReconciliationsCommand,
    out: &mut dyn Write,
) -> Result<i32, AppError> {
    match what {
        ReconciliationsCommand::List => {
            let list = app::reconcile::list(store).await?;
            if list.is_empty() {
                let _ = writeln!(
                    out,
                    "no stored reconciliations (`npsc reconcile … --database …` stores one)"
                );
            }
            for r in &list {
                print_reconciliation(out, r);
            }
        }
        ReconciliationsCommand::Show { id } => {
            let (info, views) = app::reconcile::show(store, id).await?;
            print_reconciliation(out, &info);
            for (k, v) in app::reconcile::provenance(&info).into_iter().skip(1) {
                let _ = writeln!(out, "  {k:<16} {v}");
            }
            for v in &views {
                let _ = writeln!(out, "  view {:<14} {:>5} rows  {}", v.name, v.rows, v.title);
            }
        }
        ReconciliationsCommand::Export {
            id,
            view,
            format,
            out: path,
        } => {
            let format = match format {
                ExportFormatArg::Csv => app::reconcile::ExportFormat::Csv,
                ExportFormatArg::Json => app::reconcile::ExportFormat::Json,
            };
            let text = app::reconcile::export(store, id, view.name(), format).await?;
            match path {
                Some(path) => app::output::write_file(&path, text.as_bytes())?,
                None => {
                    let _ = out.write_all(text.as_bytes());
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    fn sample(name: &str) -> String {
        format!(
            "{}/../datasets/sample-synthetic/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// The `"<view>": [ … ]` member of a pretty-printed JSON export.
    fn view_json<'a>(text: &'a str, view: &str) -> &'a str {
        let start = text
            .find(&format!("\n  \"{view}\": ["))
            .unwrap_or_else(|| panic!("no {view} in {text}"));
        let end = start + text[start..].find("\n  ]").expect("the end of the view");
        &text[start..end]
    }

    fn npsc(args: &[&str]) -> (i32, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let status = crate::run(
            std::iter::once("npsc").chain(args.iter().copied()),
            &mut out,
            &mut err,
        );
        (
            status,
            String::from_utf8(out).expect("utf-8"),
            String::from_utf8(err).expect("utf-8"),
        )
    }

    #[test]
    fn a_stored_reconciliation_exports_the_cells_that_reconcile_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
        let coefficients = format!(
            "{}/../coefficients/npsc1-excerpt",
            env!("CARGO_MANIFEST_DIR")
        );
        let (registry, activity, reports) = (
            sample("registry.csv"),
            sample("activity.csv"),
            sample("permit_reports.csv"),
        );
        let reconcile = |extra: &[&str]| {
            let mut args = vec![
                "reconcile",
                "--coefficients",
                &coefficients,
                "--registry",
                &registry,
                "--activity",
                &activity,
                "--reports",
                &reports,
            ];
            args.extend_from_slice(extra);
            npsc(&args)
        };
        // Shown without --database: nothing stored.
        let (status, printed_csv, err) = reconcile(&["--view", "comparison", "--format", "csv"]);
        assert_eq!(status, 0, "{err}");
        assert!(!err.contains("stored as"), "{err}");
        let (status, printed_json, err) = reconcile(&["--view", "comparison", "--format", "json"]);
        assert_eq!(status, 0, "{err}");
        // Stored, while showing only the flagged comparisons: the whole report is stored.
        let (status, flagged, err) = reconcile(&[
            "--view",
            "comparison",
            "--only-flagged",
            "--database",
            &url,
            "--actor",
            "permit office",
        ]);
        assert_eq!(status, 0, "{err}");
        assert!(err.contains("stored as reconciliation 1\n"), "{err}");
        assert!(flagged.lines().count() < printed_csv.lines().count());

        let (status, csv, err) = npsc(&[
            "reconciliations",
            "export",
            "1",
            "--view",
            "comparison",
            "--database",
            &url,
        ]);
        assert_eq!(status, 0, "{err}");
        assert_eq!(csv, printed_csv, "the stored cells are the printed cells");
        let (status, json, err) = npsc(&[
            "reconciliations",
            "export",
            "1",
            "--view",
            "comparison",
            "--format",
            "json",
            "--database",
            &url,
        ]);
        assert_eq!(status, 0, "{err}");
        // The JSON export holds the view in the shape `npsc reconcile --format json` prints it.
        assert_eq!(
            view_json(&json, "comparison"),
            view_json(&printed_json, "comparison")
        );
        assert!(json.contains("\"actor\": \"permit office\""), "{json}");
        assert!(json.contains("\"reports_sha256\": \""), "{json}");
        assert!(
            json.contains(
                "\"content_hash\": \"db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115\""
            ),
            "{json}"
        );

        let (status, list, _) = npsc(&["reconciliations", "list", "--database", &url]);
        assert_eq!(status, 0);
        assert!(list.starts_with("reconciliation 1 "), "{list}");
        let (status, show, _) = npsc(&["reconciliations", "show", "1", "--database", &url]);
        assert_eq!(status, 0);
        for needle in [
            "view comparison",
            "view records",
            "view reconciliation",
            "permit office",
        ] {
            assert!(show.contains(needle), "{needle}: {show}");
        }
        let (status, _, err) = npsc(&[
            "reconciliations",
            "export",
            "2",
            "--view",
            "records",
            "--database",
            &url,
        ]);
        assert_eq!(status, 1);
        assert!(err.contains("there is no reconciliation 2"), "{err}");
    }
}
