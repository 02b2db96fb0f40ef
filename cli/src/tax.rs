//! `npsc tax`: the environmental protection tax of monitored monthly emissions.

use std::io::Write;
use std::path::PathBuf;

use accounting::tax::Rounding;
use app::AppError;
use app::tax::{CountOverrides, Particulates, TaxSettings};
use clap::{Args, ValueEnum};

use crate::{InputOptions, block_on, read_options};

pub(crate) const EXAMPLES: &str = "\
Examples:
  # The quarterly declaration of the bundled sample's monitored emissions
  npsc tax --registry datasets/sample-synthetic/registry.csv \\
      --emissions datasets/sample-synthetic/monitored_emissions.csv
  # Totals only as CSV; the whole declaration as an Excel workbook with provenance
  npsc tax ... --view totals --format csv
  npsc tax ... --xlsx tax.xlsx
  # From the numbers of record of a reconciliation (annual, allocated in equal twelfths)
  npsc tax --registry datasets/sample-synthetic/registry.csv \\
      --coefficients coefficients/npsc1-excerpt --activity datasets/sample-synthetic/activity.csv \\
      --reports datasets/sample-synthetic/permit_reports.csv --year 2023
  # Equivalents rounded to 0.01 first, 4 air items in every region, 颗粒物 as process dust
  npsc tax ... --rounding equivalents-first --air-items 4 --particulates 一般性粉尘
  # Provinces' raised item counts from a table (region_code, air_items, water_class_one_items,
  # water_other_items, effective_from)
  npsc tax ... --item-counts item_counts.csv
";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RoundingArg {
    /// Equivalents exact, each item's tax rounded to 0.01 yuan.
    TaxPerItem,
    /// Equivalents rounded to 0.01 first, then each item's tax.
    EquivalentsFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TaxView {
    /// Both views.
    All,
    /// One line per enterprise, month, outlet and item.
    Declaration,
    /// Per enterprise and quarter.
    Totals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TaxFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct TaxArgs {
    /// Enterprise registry (CSV or Excel): each enterprise's region selects its rates.
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// Monitored monthly emissions (uscc, outlet_id, pollutant, month `2024-03`, kg; optional
    /// concentration, standard, exceeded, exemption: agriculture, mobile, centralized-treatment,
    /// other, the Art. 12 exemption a line declares).
    #[arg(long, value_name = "FILE", required_unless_present = "reports", conflicts_with_all = ["reports", "activity", "coefficients"])]
    emissions: Option<PathBuf>,
    /// Instead of --emissions: the numbers of record under the tax rule of a reconciliation of
    /// these permit execution reports (annual, per enterprise and outlet, allocated to months in
    /// equal twelfths; needs --coefficients and --activity).
    #[arg(long, value_name = "FILE", requires_all = ["coefficients", "activity"])]
    reports: Option<PathBuf>,
    /// Coefficient set folder or table of the reconciliation (with --reports).
    #[arg(long, value_name = "PATH", requires = "reports")]
    coefficients: Option<PathBuf>,
    /// Activity data of the reconciliation (with --reports).
    #[arg(long, value_name = "FILE", requires = "reports")]
    activity: Option<PathBuf>,
    /// With --reports: only this year's numbers of record.
    #[arg(long, value_name = "YEAR", requires = "reports")]
    year: Option<u16>,
    /// Where amounts are rounded.
    #[arg(long, value_enum, default_value_t = RoundingArg::TaxPerItem)]
    rounding: RoundingArg,
    /// Air items taxed per outlet in every region, instead of the item-count table's (the law:
    /// 3; a province may raise it, never lower it).
    #[arg(long, value_name = "N")]
    air_items: Option<usize>,
    /// Water class I items taxed per outlet in every region, instead of the table's (the law: 5).
    #[arg(long, value_name = "N")]
    water_class_one_items: Option<usize>,
    /// Other water items taxed per outlet in every region, instead of the table's (the law: 3).
    #[arg(long, value_name = "N")]
    water_other_items: Option<usize>,
    /// The item-count table by region and date: a file or a stored edition
    /// (`tax-item-counts@N`); default: the latest published in --database, else the bundled
    /// one. Where no row applies, the law's 3/5/3.
    #[arg(long, value_name = "FILE|NAME@N")]
    item_counts: Option<String>,
    /// What 颗粒物 (particulates) is taxed as: 烟尘 (soot) or 一般性粉尘 (process dust).
    #[arg(long, default_value = "烟尘", value_name = "ITEM")]
    particulates: String,
    /// The law's equivalent table: a file or a stored edition (`tax-equivalents@N`); default:
    /// the latest published in --database, else the bundled one.
    #[arg(long, value_name = "FILE|NAME@N")]
    equivalents: Option<String>,
    /// The rate table: a file or a stored edition (`tax-rates@N`); default: the latest
    /// published in --database, else the bundled 2018 provincial decisions.
    #[arg(long, value_name = "FILE|NAME@N")]
    rates: Option<String>,
    /// The database whose published reference tables are used (see `npsc reference`).
    #[arg(long, env = "NPSC_DATABASE_URL")]
    database: Option<String>,
    /// Which view to print.
    #[arg(long, value_enum, default_value_t = TaxView::All)]
    view: TaxView,
    /// Output format (CSV needs one view).
    #[arg(long, value_enum, default_value_t = TaxFormat::Table)]
    format: TaxFormat,
    /// Write the output to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write both views (Chinese headers) and a provenance sheet to this Excel workbook.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
    #[command(flatten)]
    input: InputOptions,
}

pub(crate) fn run(
    args: TaxArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, AppError> {
    let particulates =
        Particulates::parse(&args.particulates).ok_or_else(|| AppError::Argument {
            message: format!(
                "--particulates `{}` is not 烟尘 or 一般性粉尘",
                args.particulates
            ),
            hint: Some(
                "颗粒物 is taxed as 烟尘 (soot, the default) or 一般性粉尘 (process dust)".into(),
            ),
        })?;
    let counts = CountOverrides {
        air: args.air_items,
        water_class_one: args.water_class_one_items,
        water_other: args.water_other_items,
    };
    counts.check().map_err(|_| AppError::Argument {
        message: "a province may raise the taxed item counts, never lower them".to_string(),
        hint: Some("--air-items ≥ 3, --water-class-one-items ≥ 5, --water-other-items ≥ 3".into()),
    })?;
    if args.format == TaxFormat::Csv && args.view == TaxView::All {
        return Err(AppError::Argument {
            message: "CSV holds one view".to_string(),
            hint: Some("add --view declaration or totals, or use --xlsx".to_string()),
        });
    }
    let settings = TaxSettings {
        counts,
        rounding: match args.rounding {
            RoundingArg::TaxPerItem => Rounding::TaxPerItem,
            RoundingArg::EquivalentsFirst => Rounding::EquivalentsFirst,
        },
        particulates,
    };
    let reference = app::reference::bundled()?;
    let read = read_options(&args.input)?;
    let choice = |arg: &Option<String>| {
        arg.as_deref()
            .map(app::reference_tables::TableChoice::parse)
            .unwrap_or_default()
    };
    let choices = app::reference_tables::TaxTableChoices {
        equivalents: choice(&args.equivalents),
        rates: choice(&args.rates),
        item_counts: choice(&args.item_counts),
    };
    let tables = block_on(async {
        match &args.database {
            Some(url) => {
                let store = app::editions::open(url).await?;
                let tables = app::reference_tables::tax_tables(Some(&store), &choices, &read).await;
                store.close().await;
                let tables = tables?;
                for notice in app::reference_tables::bundled_notice(&tables) {
                    let _ = writeln!(err, "warning: {}", notice.message);
                }
                Ok(tables)
            }
            None => app::reference_tables::tax_tables(None, &choices, &read).await,
        }
    })?;
    let (declaration, emissions, allocation) = match (&args.emissions, &args.reports) {
        (Some(path), _) => {
            let (declaration, emissions) =
                app::tax::declare_file(path, &args.registry, &reference, &tables, settings, &read)?;
            (declaration, emissions, app::tax::MONTHLY.to_string())
        }
        (None, Some(reports)) => {
            let coefficients = args.coefficients.clone().unwrap_or_default();
            let mut reconcile = app::reconcile::ReconcileParameters::default().settings(
                args.registry.clone(),
                args.activity.clone().unwrap_or_default(),
                reports.clone(),
                read.clone(),
            );
            reconcile.account.coefficients = coefficients.clone();
            let set = app::account::load_coefficients(&reconcile.account, &reference)?;
            let report = app::reconcile::reconcile_with(&set, &reconcile, &reference)?;
            let allocated = app::tax::from_records(
                &report.records,
                args.year,
                &reference,
                &tables,
                particulates,
            )?;
            let registry = app::registry::read_file(&args.registry, &reference, &read)?;
            let label = format!("numbers of record (tax rule) of {}", reports.display());
            let declaration =
                app::tax::compute_monitored(&allocated.rows, &label, &registry, &tables, settings)?;
            let inputs = app::reconcile::file_input(reports)?;
            let mut allocation = app::tax::TWELFTHS.to_string();
            allocation.push_str(&format!(
                "; coefficients {} (sha256 {})",
                coefficients.display(),
                set.content_hash()
            ));
            if !allocated.skipped.is_empty() {
                allocation.push_str(&format!("; not taxed: {}", allocated.skipped.join("; ")));
            }
            let _ = writeln!(err, "allocation: {}", app::tax::TWELFTHS);
            (
                declaration,
                app::tax::Hashed {
                    name: label,
                    sha256: inputs.hash,
                },
                allocation,
            )
        }
        (None, None) => {
            return Err(AppError::Argument {
                message: "give --emissions or --reports".to_string(),
                hint: None,
            });
        }
    };
    let provenance = app::tax::provenance(
        &declaration,
        &tables,
        &emissions,
        &args.registry,
        &allocation,
    );
    if let Some(path) = &args.xlsx {
        let bytes = app::tax::workbook(&declaration, &provenance)?;
        app::output::write_file(path, &bytes)?;
        let _ = writeln!(err, "workbook written to {}", path.display());
    }
    let mut sheets = Vec::new();
    if matches!(args.view, TaxView::All | TaxView::Declaration) {
        sheets.push(declaration.declaration_sheet());
    }
    if matches!(args.view, TaxView::All | TaxView::Totals) {
        sheets.push(declaration.totals_sheet());
    }
    let text = match args.format {
        TaxFormat::Table => app::sheet::render_tables(&sheets),
        TaxFormat::Csv => app::sheet::render_csv(&sheets[0])?,
        TaxFormat::Json => app::sheet::render_json(&provenance, &sheets),
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
    for notice in &declaration.notices {
        let _ = writeln!(err, "notice: {notice}");
    }
    let _ = writeln!(err, "{}", declaration.summary());
    Ok(0)
}
