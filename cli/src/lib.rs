//! The npsc command line: parse flags, resolve settings, call `app`, print.
//!
//! [`run`] takes the arguments and two writers and returns the exit status, so the end-to-end
//! tests drive the real command line in-process. Exit status: 0 success, 1 bad input, 2 internal
//! error.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use accounting::codes::RegionLevel;
use accounting::engine::{OperationRatePolicy, Policy};
use accounting::totals::Grouping;
use app::account::{AccountSettings, NoProgress, Progress};
use app::output::Format;
use app::validate::FileKind;
use app::{AppError, EncodingChoice, ErrorKind, ReadOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod keyunits;
mod progress;
mod quota;
mod reconcile;
mod reference;
mod registry;
mod report;
mod synth;
mod tax;

const ACCOUNT_EXAMPLES: &str = "\
Examples:
  # Regional totals of the bundled synthetic sample with the first-census excerpt
  npsc account --coefficients coefficients/npsc1-excerpt \\
      --registry datasets/sample-synthetic/registry.csv \\
      --activity datasets/sample-synthetic/activity.csv

  # County x 2-digit industry totals as CSV, and every per-row result with its provenance
  npsc account --coefficients coefficients/npsc1-excerpt --registry registry.csv \\
      --activity activity.xlsx --region-level county --industry-level division \\
      --format csv --out totals.csv --results results.csv";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  npsc validate coefficients/npsc1-excerpt
  npsc validate activity.csv --registry registry.csv
  npsc validate 活动水平.xlsx --sheet 2023年 --kind activity";

const COEFF_EXAMPLES: &str = "\
Examples:
  # The edition workflow (the database is ./npsc.db unless --database or NPSC_DATABASE_URL says otherwise)
  npsc coeff import coefficients/npsc1-excerpt          # stored as a draft
  npsc coeff publish npsc1-excerpt --note \"first census excerpt\"
  npsc coeff list
  npsc coeff resolve npsc1-excerpt --at 2024-03-20 --rule next-month
  npsc coeff export npsc1-excerpt@1 --out excerpt.csv
  npsc coeff retire npsc1-excerpt@1 --note \"superseded\"
  npsc account --coefficients npsc1-excerpt@latest --registry registry.csv --activity activity.csv";

const RUNS_EXAMPLES: &str = "\
Examples:
  npsc account --coefficients npsc1-excerpt@latest --registry registry.csv --activity activity.csv
  npsc runs list
  npsc runs show 1
  npsc runs export 1 --results --out results.csv
  npsc runs stale";

const CODES_EXAMPLES: &str = "\
Examples:
  npsc codes region 110105
  npsc codes region 朝阳
  npsc codes industry 4430
  npsc codes uscc 91350100M000100Y43";

/// Pollution-source emission accounting on China's national census coefficient system.
#[derive(Debug, Parser)]
#[command(name = "npsc", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DatabaseOptions {
    /// The database: `sqlite://FILE` (created on first use) or `postgres://…`.
    #[arg(long, global = true, env = "NPSC_DATABASE_URL", default_value = app::editions::DEFAULT_URL)]
    database: String,
    /// Who is making the change, for the audit log.
    #[arg(long, global = true, env = "NPSC_ACTOR", default_value_t = default_actor())]
    actor: String,
}

pub(crate) fn default_actor() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".to_string())
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply a coefficient set to activity data: per-row results and regional totals.
    #[command(after_help = ACCOUNT_EXAMPLES)]
    Account(AccountArgs),
    /// Check permit execution reports against the coefficient estimates: flags, numbers of
    /// record (statistics, permit, tax) and a weighted least-squares reconciliation.
    #[command(after_help = reconcile::EXAMPLES)]
    Reconcile(Box<reconcile::ReconcileArgs>),
    /// Total-load control (总量控制): accounted totals against caps per region × pollutant ×
    /// year, progress against reduction targets, enterprises above their permitted quantity.
    #[command(after_help = quota::EXAMPLES)]
    Quota(Box<quota::QuotaArgs>),
    /// The statistician's report: an Excel workbook (按地区, 按行业, 按污染物, 同比, provenance)
    /// and SVG charts (regional bars, year-over-year lines).
    #[command(after_help = report::EXAMPLES)]
    Report(Box<report::ReportArgs>),
    /// The environmental protection tax of monitored monthly emissions: a quarterly
    /// declaration per enterprise (equivalents, taxed items, rates, Art. 13 reductions).
    #[command(after_help = tax::EXAMPLES)]
    Tax(Box<tax::TaxArgs>),
    /// Write SYNTHETIC census-sized data (registry, activity, coefficient set), deterministic by
    /// seed, for benchmarks and scale tests.
    #[command(after_help = synth::EXAMPLES)]
    Synth(synth::SynthArgs),
    /// Stored reconciliations (`npsc reconcile … --database …`): list, show, export a view.
    #[command(after_help = reconcile::STORED_EXAMPLES)]
    Reconciliations {
        #[command(subcommand)]
        what: reconcile::ReconciliationsCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Prove for a stored run that the statistics totals, the per-enterprise results, the tax
    /// input made from them and the total-load ledger add up to the same numbers (exit 1 if not).
    CheckConsistency {
        /// The stored run.
        run: i64,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Check any supported file (coefficient set, registry, activity) and report every issue.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Look up region and industry codes, check unified social credit codes.
    #[command(after_help = CODES_EXAMPLES)]
    Codes {
        #[command(subcommand)]
        what: CodesCommand,
    },
    /// Key units (重点调查单位) of a base-year run: the largest emitters covering 85 % of each
    /// area's emission (or 65 % of generation) per pollutant, and heavy-metal emitters.
    #[command(after_help = keyunits::KEY_UNIT_EXAMPLES)]
    KeyUnits(Box<keyunits::KeyUnitArgs>),
    /// Regional industrial totals: the key units' current emission plus the non-key part
    /// estimated from the base year by the key units' year-over-year change.
    #[command(after_help = keyunits::REGIONAL_EXAMPLES)]
    RegionalTotals(Box<keyunits::RegionalArgs>),
    /// Versioned reference tables in the database (tax equivalents and rates): import a
    /// draft, publish, retire, list, export, diff.
    #[command(after_help = reference::EXAMPLES)]
    Reference {
        #[command(subcommand)]
        what: reference::ReferenceCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Coefficient editions in the database: import a draft, publish, retire, resolve, export.
    #[command(after_help = COEFF_EXAMPLES)]
    Coeff {
        #[command(subcommand)]
        what: CoeffCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Stored accounting runs: list, show, export, and the ones out of date.
    #[command(after_help = RUNS_EXAMPLES)]
    Runs {
        #[command(subcommand)]
        what: RunsCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// The enterprise registry in the database: change-set imports, status history, writeoff of
    /// inactive enterprises, matching other sources by USCC.
    #[command(after_help = registry::EXAMPLES)]
    Registry {
        #[command(subcommand)]
        what: registry::RegistryCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Start the HTTP service (API v1, /healthz, /metrics); stops gracefully on SIGINT/SIGTERM.
    Serve {
        /// Listen address.
        #[arg(long, env = "NPSC_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The database; several instances may share one PostgreSQL.
        #[arg(long, env = "NPSC_DATABASE_URL", default_value = app::editions::DEFAULT_URL)]
        database: String,
        /// Log JSON lines instead of text.
        #[arg(long)]
        json_logs: bool,
        /// Require a token for every request, also for reading published editions.
        #[arg(long)]
        no_anonymous_read: bool,
        /// Largest accepted upload, in MiB.
        #[arg(long, env = "NPSC_UPLOAD_LIMIT_MB", default_value_t = 64)]
        upload_limit_mb: usize,
        /// Seconds a client may take to send a request's headers (also the idle keep-alive time).
        #[arg(long, env = "NPSC_HEADER_TIMEOUT", default_value = "20", value_parser = service::parse_seconds)]
        header_timeout: std::time::Duration,
        /// Seconds to answer a GET or HEAD request.
        #[arg(long, env = "NPSC_READ_TIMEOUT", default_value = "60", value_parser = service::parse_seconds)]
        read_timeout: std::time::Duration,
        /// Seconds to receive and answer an upload, publish or accounting run.
        #[arg(long, env = "NPSC_WRITE_TIMEOUT", default_value = "300", value_parser = service::parse_seconds)]
        write_timeout: std::time::Duration,
        /// Seconds a response may wait for a client that does not read it.
        #[arg(long, env = "NPSC_SEND_TIMEOUT", default_value = "30", value_parser = service::parse_seconds)]
        send_timeout: std::time::Duration,
        /// Most connections open at once (more wait in the listen backlog).
        #[arg(long, env = "NPSC_MAX_CONNECTIONS", default_value = "1024", value_parser = service::parse_connections)]
        max_connections: usize,
    },
    /// API tokens for the service: create (the token is printed once), list, revoke.
    Token {
        #[command(subcommand)]
        what: TokenCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        what: DbCommand,
        #[command(flatten)]
        db: DatabaseOptions,
    },
    /// The append-only log of every write to the database, newest first.
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        db: DatabaseOptions,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and only its hash is kept.
    Create {
        /// reader, officer or admin.
        #[arg(long)]
        role: String,
        /// A unique name, written to the audit log with every write made with the token.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name; it stops working at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// All stored runs, newest first.
    List,
    /// One run's provenance and counts.
    Show {
        /// Run id.
        id: i64,
    },
    /// A run's totals (or, with --results, its per-row results) as CSV.
    Export {
        /// Run id.
        id: i64,
        /// Export the per-row results instead of the totals.
        #[arg(long)]
        results: bool,
        /// The file to write (standard output when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Runs that are out of date: a newer edition would now be resolved, or an input changed.
    Stale,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Apply pending schema migrations (also done automatically on first use).
    Migrate,
    /// Check consistency (exit 1 if any problem): migrations, every edition re-hashed, every
    /// stored run and reconciliation complete, the audit log matching the data, no orphan rows.
    Check,
}

#[derive(Debug, Subcommand)]
enum CoeffCommand {
    /// Store a coefficient set (folder with manifest.toml, CSV or Excel table) as its set's draft.
    Import {
        /// The folder or table.
        path: PathBuf,
        #[command(flatten)]
        input: InputOptions,
    },
    /// List editions, of one set or of all.
    List {
        /// A set id.
        set: Option<String>,
    },
    /// Show which edition a selector resolves to (`set@N`, `set@latest`, `set@draft`, or `set`
    /// with --at), with its metadata.
    #[command(visible_alias = "show")]
    Resolve {
        /// The selector.
        selector: String,
        #[command(flatten)]
        date: DateOptions,
    },
    /// Publish a draft: it becomes immutable and resolvable.
    Publish {
        /// `set` (its draft) or `set@N`.
        edition: String,
        /// What changed and why (mandatory).
        #[arg(long)]
        note: String,
    },
    /// Retire a published edition: still readable by name, never resolved by `latest` or date.
    Retire {
        /// `set@N`.
        edition: String,
        /// Why (mandatory).
        #[arg(long)]
        note: String,
    },
    /// Compare two editions (or coefficient folders/tables): rows changed, added, removed.
    Diff {
        /// The old edition (`set@N`) or a path.
        old: String,
        /// The new edition (`set@N`) or a path.
        new: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Table)]
        format: FormatArg,
    },
    /// Account one registry and activity under two editions and report how the totals change,
    /// largest change first.
    Impact {
        /// The old edition (`set@N`) or a path.
        old: String,
        /// The new edition (`set@N`) or a path.
        new: String,
        /// Enterprise registry.
        #[arg(long, value_name = "FILE")]
        registry: PathBuf,
        /// Activity data.
        #[arg(long, value_name = "FILE")]
        activity: PathBuf,
        #[command(flatten)]
        grouping: GroupingArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FormatArg::Table)]
        format: FormatArg,
        #[command(flatten)]
        input: InputOptions,
    },
    /// Write an edition as a canonical coefficient table (CSV).
    Export {
        /// The selector.
        selector: String,
        #[command(flatten)]
        date: DateOptions,
        /// The CSV file to write (standard output when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DateOptions {
    /// Accounting date: resolve the edition in force on this date.
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
    /// How a date selects an edition: `effective` (in force on the date) or `next-month` (the tax
    /// rule: a revision applies from the first day of the following month).
    #[arg(long, default_value = "effective")]
    rule: String,
}

#[derive(Debug, Args)]
struct InputOptions {
    /// Encoding of CSV inputs: auto detects UTF-8 (with or without BOM) or GBK/GB18030.
    #[arg(long, default_value = "auto", env = "NPSC_ENCODING")]
    encoding: String,
    /// Sheet to read from Excel inputs (default: the first sheet).
    #[arg(long)]
    sheet: Option<String>,
}

/// How totals are grouped.
#[derive(Debug, Args)]
struct GroupingArgs {
    /// Region level of the totals.
    #[arg(long, value_enum, default_value_t = RegionArg::Province)]
    region_level: RegionArg,
    /// Industry level of the totals (all = no industry breakdown).
    #[arg(long, value_enum, default_value_t = IndustryArg::All)]
    industry_level: IndustryArg,
}

impl From<&GroupingArgs> for Grouping {
    fn from(args: &GroupingArgs) -> Grouping {
        Grouping {
            region: args.region_level.into(),
            industry: args.industry_level.into(),
        }
    }
}

#[derive(Debug, Args)]
struct AccountArgs {
    /// Coefficient set: a folder with manifest.toml or a single table; or an edition in the
    /// database (`set@N`, `set@latest`, or `set` with --at).
    #[arg(long, value_name = "PATH|SET@EDITION")]
    coefficients: String,
    #[command(flatten)]
    date: DateOptions,
    /// Store the run (inputs' hashes, edition, options, results, totals) in this database.
    /// Runs using an edition from the database are always stored (in `./npsc.db` by default).
    #[arg(long, env = "NPSC_DATABASE_URL")]
    database: Option<String>,
    /// Who runs it, for the audit log.
    #[arg(long, env = "NPSC_ACTOR", default_value_t = default_actor())]
    actor: String,
    /// Enterprise registry (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// Activity data (CSV or Excel).
    #[arg(long, value_name = "FILE")]
    activity: PathBuf,
    #[command(flatten)]
    grouping: GroupingArgs,
    /// Output format of the totals.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Write the totals to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write one line per activity row and pollutant, with provenance, to this CSV file.
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// What k to assume when a treated row gives no operation rate: nominal (1) or strict (0).
    #[arg(long, value_enum, default_value_t = KArg::Nominal)]
    missing_operation_rate: KArg,
    /// Fail, writing nothing, when any row matches no coefficient.
    #[arg(long)]
    deny_unaccounted: bool,
    #[command(flatten)]
    input: InputOptions,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The file or coefficient set folder.
    path: PathBuf,
    /// What the file is (detected from its headers when omitted).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// A registry to check the activity rows' enterprises against.
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,
    #[command(flatten)]
    input: InputOptions,
}

#[derive(Debug, Subcommand)]
enum CodesCommand {
    /// A GB/T 2260 region by six-digit code, or regions whose name contains the text.
    Region {
        /// Code or part of a name.
        query: String,
    },
    /// A GB/T 4754-2017 industry by code (`4430`, `D4430`, `44`, `D`), or by part of a name.
    Industry {
        /// Code or part of a name.
        query: String,
    },
    /// Check unified social credit codes (GB 32100-2015, with the GB 11714 organization code).
    Uscc {
        /// One or more codes.
        #[arg(required = true)]
        codes: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RegionArg {
    National,
    Province,
    Prefecture,
    County,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IndustryArg {
    All,
    Section,
    Division,
    Group,
    Class,
}

impl From<RegionArg> for RegionLevel {
    fn from(arg: RegionArg) -> RegionLevel {
        match arg {
            RegionArg::National => RegionLevel::National,
            RegionArg::Province => RegionLevel::Province,
            RegionArg::Prefecture => RegionLevel::Prefecture,
            RegionArg::County => RegionLevel::County,
        }
    }
}

impl From<IndustryArg> for Option<accounting::codes::IndustryLevel> {
    fn from(arg: IndustryArg) -> Option<accounting::codes::IndustryLevel> {
        use accounting::codes::IndustryLevel as L;
        match arg {
            IndustryArg::All => None,
            IndustryArg::Section => Some(L::Section),
            IndustryArg::Division => Some(L::Division),
            IndustryArg::Group => Some(L::Group),
            IndustryArg::Class => Some(L::Class),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KArg {
    Nominal,
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Coefficients,
    Registry,
    Activity,
}

/// Runs the real process: arguments from the environment, standard streams, a progress bar when
/// standard error is a terminal.
pub fn main() -> i32 {
    let stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let show_progress = stderr.is_terminal();
    // Standard error is not locked for the whole run: the progress bar draws to it from its own
    // thread, and would wait forever for a lock held here.
    run_with(
        std::env::args_os(),
        &mut stdout.lock(),
        &mut stderr,
        show_progress,
    )
}

/// Runs npsc with these arguments (the first is the program name); returns the exit status.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, out, err, false)
}

fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, show_progress: bool) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    let _ = write!(out, "{e}");
                    return 0;
                }
                _ => 1,
            };
            let _ = write!(err, "{}", e.render());
            return code;
        }
    };
    let result = match cli.command {
        Command::Account(args) => account(args, out, err, show_progress),
        Command::Reconcile(args) => reconcile::run(*args, out, err),
        Command::Quota(args) => quota::run(*args, out, err),
        Command::Tax(args) => tax::run(*args, out, err),
        Command::Synth(args) => synth::run(args, out),
        Command::Report(args) => report::run(*args, err),
        Command::Reconciliations { what, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            let result = reconcile::stored(&store, what, out).await;
            store.close().await;
            result
        }),
        Command::Validate(args) => validate(args, out),
        Command::Codes { what } => codes(what, out),
        Command::Serve {
            listen,
            database,
            json_logs,
            no_anonymous_read,
            upload_limit_mb,
            header_timeout,
            read_timeout,
            write_timeout,
            send_timeout,
            max_connections,
        } => Ok(i32::from(service::run(&service::Config {
            listen,
            database,
            json_logs,
            anonymous_read: !no_anonymous_read,
            upload_limit_bytes: upload_limit_mb << 20,
            limits: service::Limits {
                header_timeout,
                read_timeout,
                write_timeout,
                send_timeout,
                max_connections,
            },
        }))),
        Command::CheckConsistency { run, db } => block_on(async {
            let reference = app::reference::bundled()?;
            let store = app::editions::open(&db.database).await?;
            // The tax tables published in the same database (or the bundled ones).
            let tables = app::reference_tables::tax_tables(
                Some(&store),
                &Default::default(),
                &ReadOptions::default(),
            )
            .await;
            let result = match tables {
                Ok(tables) => app::consistency::check(&store, run, &reference, &tables).await,
                Err(e) => Err(e),
            };
            store.close().await;
            let report = result?;
            for c in report.checks.iter().filter(|c| !c.agrees) {
                let _ = writeln!(
                    out,
                    "{} {}: enterprise results {} vs {}",
                    c.path,
                    c.what,
                    accounting::render::quantity(c.expected, accounting::render::Precision::Exact),
                    accounting::render::quantity(c.found, accounting::render::Precision::Exact)
                );
            }
            let _ = writeln!(out, "{}", report.summary());
            Ok(if report.holds() { 0 } else { 1 })
        }),
        Command::Token { what, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            let result = token(&store, what, &db.actor, out).await;
            store.close().await;
            result
        }),
        Command::Coeff { what, db } => block_on(coeff(what, &db, out, show_progress)),
        Command::KeyUnits(args) => keyunits::key_units(*args, out, err),
        Command::RegionalTotals(args) => keyunits::regional_totals(*args, out, err),
        Command::Reference { what, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            let result = reference::run(what, &store, &db.actor, out).await;
            store.close().await;
            result
        }),
        Command::Runs { what, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            let result = runs(&store, what, out).await;
            store.close().await;
            result
        }),
        Command::Registry { what, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            let result = registry::run(what, &store, &db.actor, out).await;
            store.close().await;
            result
        }),
        Command::Db {
            what: DbCommand::Check,
            db,
        } => block_on(async {
            let reference = app::reference::bundled()?;
            let report = app::editions::check(&db.database, &reference).await?;
            for problem in &report.problems {
                let _ = writeln!(out, "problem: {problem}");
            }
            let _ = writeln!(
                out,
                "{}: {} migrations, {} editions, {} reference table editions, {} runs, \
                 {} reconciliations, {} audit entries checked, {} problems",
                if report.problems.is_empty() {
                    "consistent"
                } else {
                    "inconsistent"
                },
                report.migrations_checked,
                report.editions_checked,
                report.reference_editions_checked,
                report.runs_checked,
                report.reconciliations_checked,
                report.audit_entries_checked,
                report.problems.len()
            );
            Ok(if report.problems.is_empty() { 0 } else { 1 })
        }),
        Command::Db {
            what: DbCommand::Migrate,
            db,
        } => block_on(async {
            let applied = app::editions::migrate(&db.database).await?;
            let _ = writeln!(out, "{applied} migration(s) applied to {}", db.database);
            Ok(0)
        }),
        Command::Audit { limit, db } => block_on(async {
            let store = app::editions::open(&db.database).await?;
            for e in app::editions::audit(&store, limit).await? {
                let _ = writeln!(
                    out,
                    "{:>5}  {}  {:<8}  {:<8}  {}  {}",
                    e.id, e.at, e.actor, e.action, e.object, e.detail
                );
            }
            store.close().await;
            Ok(0)
        }),
    };
    match result {
        Ok(status) => status,
        Err(error) => {
            report_error(&error, err);
            match error.kind() {
                ErrorKind::User => 1,
                ErrorKind::Internal => 2,
            }
        }
    }
}

fn report_error(error: &AppError, err: &mut dyn Write) {
    let _ = writeln!(err, "error: {error}");
    match error {
        AppError::Input {
            issues, omitted, ..
        } => {
            for issue in issues {
                for line in issue.to_string().lines() {
                    let _ = writeln!(err, "  {line}");
                }
            }
            if *omitted > 0 {
                let _ = writeln!(err, "  … and {omitted} more issues not shown");
            }
            let _ = writeln!(err, "nothing was written");
        }
        AppError::Argument {
            hint: Some(hint), ..
        } => {
            let _ = writeln!(err, "  hint: {hint}");
        }
        _ => {}
    }
}

fn read_options(input: &InputOptions) -> Result<ReadOptions, AppError> {
    let encoding: EncodingChoice = input.encoding.parse().map_err(|_| AppError::Argument {
        message: format!("unknown encoding `{}`", input.encoding),
        hint: Some("use auto, utf-8 or gbk".to_string()),
    })?;
    Ok(ReadOptions {
        encoding,
        sheet: input.sheet.clone(),
        ..ReadOptions::default()
    })
}

fn account(
    args: AccountArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    show_progress: bool,
) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    // An `@` or an accounting date means an edition in the database; anything else is a path.
    let stored = args.coefficients.contains('@') || args.date.at.is_some();
    let settings = AccountSettings {
        coefficients: PathBuf::from(&args.coefficients),
        registry: args.registry.clone(),
        activity: args.activity.clone(),
        grouping: (&args.grouping).into(),
        policy: Policy {
            missing_operation_rate: match args.missing_operation_rate {
                KArg::Nominal => OperationRatePolicy::Nominal,
                KArg::Strict => OperationRatePolicy::Strict,
            },
        },
        read: read_options(&args.input)?,
        results: args.results.clone(),
        deny_unaccounted: args.deny_unaccounted,
    };
    let bar;
    let progress: &dyn Progress = if show_progress {
        bar = progress::Bar::new();
        &bar
    } else {
        &NoProgress
    };
    let database = match (&args.database, stored) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => Some(app::editions::DEFAULT_URL.to_string()),
        (None, false) => None,
    };
    let report = match database {
        None => app::account::account(&settings, &reference, progress)?,
        Some(url) => block_on(async {
            let store = app::editions::open(&url).await?;
            let result = account_stored(&store, &args, settings, &reference, stored, err).await;
            store.close().await;
            result
        })?,
    };
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
    };
    // CSV is written line by line: national county × industry totals run to millions of lines.
    match &args.out {
        Some(path) => {
            if format == Format::Csv {
                app::output::write_file_with(path, |w| app::output::write_csv(&report, w))?;
            } else {
                app::output::write_file(path, app::output::render(&report, format).as_bytes())?;
            }
            let _ = write!(err, "{}", app::output::render_summary(&report));
            let _ = writeln!(err, "totals written to {}", path.display());
        }
        None => {
            if format == Format::Csv {
                let _ = app::output::write_csv(&report, out);
            } else {
                let _ = out.write_all(app::output::render(&report, format).as_bytes());
            }
            if format != Format::Table {
                let _ = write!(err, "{}", app::output::render_summary(&report));
            }
        }
    }
    Ok(0)
}

fn validate(args: ValidateArgs, out: &mut dyn Write) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let kind = args.kind.map(|k| match k {
        KindArg::Coefficients => FileKind::Coefficients,
        KindArg::Registry => FileKind::Registry,
        KindArg::Activity => FileKind::Activity,
    });
    let read = read_options(&args.input)?;
    let report = app::validate::validate(
        &args.path,
        kind,
        args.registry.as_deref(),
        &reference,
        &read,
    )?;
    for issue in &report.issues {
        let _ = writeln!(out, "{issue}");
    }
    if report.omitted > 0 {
        let _ = writeln!(out, "… and {} more issues not shown", report.omitted);
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let errors = report
        .issues
        .iter()
        .filter(|i| i.severity == app::Severity::Error)
        .count() as u64
        + report.omitted;
    let warnings = report.issues.len() as u64 + report.omitted - errors;
    let _ = writeln!(
        out,
        "{}: {} ({}), {} records, {} error{}, {} warning{}",
        if report.has_errors() {
            "invalid"
        } else {
            "valid"
        },
        report.file,
        report.kind,
        report.records,
        errors,
        if errors == 1 { "" } else { "s" },
        warnings,
        if warnings == 1 { "" } else { "s" },
    );
    Ok(if report.has_errors() { 1 } else { 0 })
}

fn codes(what: CodesCommand, out: &mut dyn Write) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    match what {
        CodesCommand::Region { query } => {
            let found = app::lookup::regions(&reference, &query);
            for m in &found {
                let _ = writeln!(out, "{}  {:<10}  {}", m.code, m.level, m.path);
            }
            not_found(out, found.is_empty(), "region", &query)
        }
        CodesCommand::Industry { query } => {
            let found = app::lookup::industries(&reference, &query);
            for m in &found {
                let _ = writeln!(out, "{:<6}  {:<8}  {}", m.code, m.level, m.path);
            }
            not_found(out, found.is_empty(), "industry", &query)
        }
        CodesCommand::Uscc { codes } => {
            let mut status = 0;
            for text in codes {
                let check = app::lookup::uscc(&reference, &text);
                match &check.result {
                    Ok(code) => {
                        let _ = writeln!(
                            out,
                            "valid    {}  organization code {}{}",
                            code.as_str(),
                            code.organization_code(),
                            check
                                .region
                                .as_deref()
                                .map(|r| format!("  registered in {r}"))
                                .unwrap_or_default()
                        );
                    }
                    Err(reason) => {
                        status = 1;
                        let _ = writeln!(out, "invalid  {}  {reason}", check.text);
                        if let Some(hint) = &check.hint {
                            let _ = writeln!(out, "  hint: {hint}");
                        }
                    }
                }
            }
            Ok(status)
        }
    }
}

fn not_found(out: &mut dyn Write, empty: bool, what: &str, query: &str) -> Result<i32, AppError> {
    if empty {
        let _ = writeln!(out, "no {what} matches `{query}`");
        Ok(1)
    } else {
        Ok(0)
    }
}

/// Runs a future on a small current-thread runtime: the command line does one thing at a time.
/// The coefficient set a command's `--coefficients` (and `--at`, `--rule`) names: an edition from
/// `database` (opened only then) or a folder or table; with its name and the run provenance.
fn named_coefficients(
    text: &str,
    date: &DateOptions,
    database: &str,
    reference: &app::Reference,
    read: &ReadOptions,
) -> Result<
    (
        accounting::coefficient::CoefficientSet,
        String,
        app::runs::Provenance,
    ),
    AppError,
> {
    if !app::runs::names_edition(text, date.at.as_deref()) {
        return app::runs::load_files(text, reference, read);
    }
    block_on(async {
        let store = app::editions::open(database).await?;
        let loaded =
            app::runs::load_edition(&store, text, date.at.as_deref(), &date.rule, reference).await;
        store.close().await;
        loaded.map(|(set, info, provenance)| (set, info.name(), provenance))
    })
}

fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

pub(crate) fn split_edition(text: &str) -> Result<(String, Option<u32>), AppError> {
    match text.split_once('@') {
        None => Ok((text.trim().to_string(), None)),
        Some((set, n)) => n
            .trim()
            .parse::<u32>()
            .map(|n| (set.trim().to_string(), Some(n)))
            .map_err(|_| AppError::Argument {
                message: format!("`{text}` does not name an edition"),
                hint: Some("write `set@2`".to_string()),
            }),
    }
}

fn print_edition(out: &mut dyn Write, e: &app::editions::EditionInfo) {
    let _ = writeln!(
        out,
        "{:<28} {:<9} effective {:<10}  {:>6} rows  sha256 {}",
        e.name(),
        e.status.as_str(),
        e.effective_from
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into()),
        e.row_count,
        e.content_hash
    );
}

async fn coeff(
    what: CoeffCommand,
    db: &DatabaseOptions,
    out: &mut dyn Write,
    show_progress: bool,
) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let store = app::editions::open(&db.database).await?;
    let result = coeff_on(&store, what, db, &reference, out, show_progress).await;
    store.close().await;
    result
}

async fn coeff_on(
    store: &app::editions::Store,
    what: CoeffCommand,
    db: &DatabaseOptions,
    reference: &app::Reference,
    out: &mut dyn Write,
    show_progress: bool,
) -> Result<i32, AppError> {
    match what {
        CoeffCommand::Import { path, input } => {
            let spinner =
                show_progress.then(|| progress::spinner(&format!("importing {}", path.display())));
            let info =
                app::editions::import(store, &path, reference, &read_options(&input)?, &db.actor)
                    .await;
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
            let info = info?;
            let _ = write!(out, "imported as draft: ");
            print_edition(out, &info);
            let _ = writeln!(
                out,
                "publish it with: npsc coeff publish {} --note \"what changed and why\"",
                info.name()
            );
        }
        CoeffCommand::List { set } => {
            let editions = app::editions::list(store, set.as_deref()).await?;
            if editions.is_empty() {
                let _ = writeln!(
                    out,
                    "no editions (import one with `npsc coeff import PATH`)"
                );
            }
            for e in &editions {
                print_edition(out, e);
            }
        }
        CoeffCommand::Resolve { selector, date } => {
            let selector = app::editions::selector(&selector, date.at.as_deref(), &date.rule)?;
            let e = app::editions::resolve(store, &selector).await?;
            print_edition(out, &e);
            let _ = writeln!(out, "title: {}", e.title);
            if let Some(note) = &e.revision_note {
                let _ = writeln!(
                    out,
                    "published {} by {}: {note}",
                    e.published_at.as_deref().unwrap_or("-"),
                    e.published_by.as_deref().unwrap_or("-")
                );
            }
            if let Some(note) = &e.retire_note {
                let _ = writeln!(
                    out,
                    "retired {}: {note}",
                    e.retired_at.as_deref().unwrap_or("-")
                );
            }
        }
        CoeffCommand::Publish { edition, note } => {
            let (set, number) = split_edition(&edition)?;
            let e =
                app::editions::publish(store, &set, number, &note, &db.actor, reference).await?;
            let _ = write!(out, "published: ");
            print_edition(out, &e);
            let stale = app::runs::stale(store).await?;
            let made_stale = stale
                .iter()
                .filter(|r| r.reasons.iter().any(|x| x.contains(&e.name())))
                .count();
            if made_stale > 0 {
                let _ = writeln!(
                    out,
                    "{made_stale} stored run(s) of `{}` are now out of date: see `npsc runs stale`",
                    e.set_id
                );
            }
        }
        CoeffCommand::Retire { edition, note } => {
            let (set, number) = split_edition(&edition)?;
            let number = number.ok_or_else(|| AppError::Argument {
                message: format!("`{edition}` does not name an edition"),
                hint: Some("retire names one edition, e.g. `npsc1-excerpt@1`".to_string()),
            })?;
            let e = app::editions::retire(store, &set, number, &note, &db.actor).await?;
            let _ = write!(out, "retired: ");
            print_edition(out, &e);
        }
        CoeffCommand::Diff { old, new, format } => {
            let read = ReadOptions::default();
            let old = app::editions::load_any(store, &old, reference, &read).await?;
            let new = app::editions::load_any(store, &new, reference, &read).await?;
            // The new edition carries the key changes it declares against earlier ones.
            let diff = accounting::diff::diff(
                &old.set,
                &new.set,
                &reference.pollutants,
                &new.set.meta().key_migrations,
            );
            let text = match format {
                FormatArg::Json => app::editions::diff_json(&diff, &old, &new),
                FormatArg::Csv => app::editions::render_diff(&diff, &old, &new, true),
                FormatArg::Table => app::editions::render_diff(&diff, &old, &new, false),
            };
            let _ = out.write_all(text.as_bytes());
        }
        CoeffCommand::Impact {
            old,
            new,
            registry,
            activity,
            grouping,
            format,
            input,
        } => {
            let read = read_options(&input)?;
            let old = app::editions::load_any(store, &old, reference, &read).await?;
            let new = app::editions::load_any(store, &new, reference, &read).await?;
            let settings = AccountSettings {
                coefficients: PathBuf::new(),
                registry,
                activity,
                grouping: (&grouping).into(),
                policy: Policy {
                    missing_operation_rate: OperationRatePolicy::Nominal,
                },
                read,
                results: None,
                deny_unaccounted: false,
            };
            let lines = app::editions::impact(&old.set, &new.set, &settings, reference)?;
            let text = match format {
                FormatArg::Json => app::editions::impact_json(&lines, &old.name, &new.name),
                FormatArg::Csv => app::editions::render_impact(&lines, &old.name, &new.name, true),
                FormatArg::Table => {
                    app::editions::render_impact(&lines, &old.name, &new.name, false)
                }
            };
            let _ = out.write_all(text.as_bytes());
        }
        CoeffCommand::Export {
            selector,
            date,
            out: path,
        } => {
            let selector = app::editions::selector(&selector, date.at.as_deref(), &date.rule)?;
            let (_, set) = app::editions::load(store, &selector, reference).await?;
            let text = app::editions::export_csv(&set, reference);
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

/// Accounts with the store: resolves the edition (or reads the files), runs, stores the run.
async fn account_stored(
    store: &app::editions::Store,
    args: &AccountArgs,
    settings: AccountSettings,
    reference: &app::Reference,
    from_database: bool,
    err: &mut dyn Write,
) -> Result<app::account::AccountReport, AppError> {
    let (set, provenance) = if from_database {
        let (set, info, provenance) = app::runs::load_edition(
            store,
            &args.coefficients,
            args.date.at.as_deref(),
            &args.date.rule,
            reference,
        )
        .await?;
        let _ = writeln!(
            err,
            "using {} ({}, sha256 {})",
            info.name(),
            info.status,
            info.content_hash
        );
        (set, provenance)
    } else {
        let (set, _, provenance) =
            app::runs::load_files(&args.coefficients, reference, &settings.read)?;
        (set, provenance)
    };
    let (id, report) = app::runs::account_and_store(
        store,
        set,
        provenance,
        settings,
        reference.clone(),
        &args.actor,
    )
    .await?;
    let _ = writeln!(err, "stored as run {id}");
    Ok(report)
}

fn print_run(out: &mut dyn Write, r: &app::runs::RunInfo) {
    let _ = writeln!(
        out,
        "run {:<4} {}  {:<24} {:>8} of {:>8} rows  {} ms  {}",
        r.id,
        r.run.started_at,
        match r.run.edition {
            Some(e) => format!("{}@{e}", r.run.set_id),
            None => r.run.selector.clone(),
        },
        r.counts.rows_accounted,
        r.counts.rows_read,
        r.elapsed_ms,
        r.run.activity_path
    );
}

async fn runs(
    store: &app::editions::Store,
    what: RunsCommand,
    out: &mut dyn Write,
) -> Result<i32, AppError> {
    match what {
        RunsCommand::List => {
            let runs = app::runs::list(store).await?;
            if runs.is_empty() {
                let _ = writeln!(
                    out,
                    "no stored runs (`npsc account --database …` stores one)"
                );
            }
            for r in &runs {
                print_run(out, r);
            }
        }
        RunsCommand::Show { id } => {
            let r = app::runs::show(store, id).await?;
            print_run(out, &r);
            let run = &r.run;
            let edition = run
                .edition
                .map(|e| e.to_string())
                .unwrap_or_else(|| "- (files)".into());
            for (k, v) in [
                (
                    "coefficients",
                    format!("{} (sha256 {})", run.selector, run.content_hash),
                ),
                ("set", format!("{} edition {edition}", run.set_id)),
                (
                    "rule",
                    format!(
                        "{} {}",
                        run.rule.as_deref().unwrap_or("-"),
                        run.accounting_date.as_deref().unwrap_or("")
                    ),
                ),
                (
                    "registry",
                    format!("{} (sha256 {})", run.registry_path, run.registry_hash),
                ),
                (
                    "activity",
                    format!("{} (sha256 {})", run.activity_path, run.activity_hash),
                ),
                ("options", run.options.clone()),
                ("actor", run.actor.clone()),
                ("finished", r.finished_at.clone()),
                (
                    "rows",
                    format!(
                        "{} read, {} accounted, {} excluded, {} unaccounted",
                        r.counts.rows_read,
                        r.counts.rows_accounted,
                        r.counts.rows_excluded,
                        r.counts.rows_unaccounted
                    ),
                ),
            ] {
                let _ = writeln!(out, "  {k:<12} {v}");
            }
        }
        RunsCommand::Export {
            id,
            results,
            out: path,
        } => {
            let export = if results {
                app::runs::export_results(store, id).await?
            } else {
                app::runs::export_totals(store, id).await?
            };
            match path {
                Some(path) => {
                    app::runs::export_to_file(export, &path).await?;
                }
                None => {
                    export.write_to(out).await?;
                }
            }
        }
        RunsCommand::Stale => {
            let stale = app::runs::stale(store).await?;
            if stale.is_empty() {
                let _ = writeln!(out, "no stored run is out of date");
            }
            for s in &stale {
                print_run(out, &s.run);
                for reason in &s.reasons {
                    let _ = writeln!(out, "  out of date: {reason}");
                }
            }
        }
    }
    Ok(0)
}

async fn token(
    store: &app::editions::Store,
    what: TokenCommand,
    actor: &str,
    out: &mut dyn Write,
) -> Result<i32, AppError> {
    match what {
        TokenCommand::Create { role, name } => {
            let role = app::tokens::Role::parse(&role).ok_or_else(|| AppError::Argument {
                message: format!("unknown role `{role}`"),
                hint: Some("use reader, officer or admin".to_string()),
            })?;
            let (record, token) = app::tokens::create(store, &name, role, actor).await?;
            let _ = writeln!(out, "{token}");
            let _ = writeln!(
                out,
                "token `{}` ({}) created; it is shown only now: keep it secret",
                record.name, record.role
            );
        }
        TokenCommand::List => {
            for t in app::tokens::list(store).await? {
                let _ = writeln!(
                    out,
                    "{:<20} {:<8} id {}  created {} by {}{}",
                    t.name,
                    t.role,
                    t.id,
                    t.created_at,
                    t.created_by,
                    t.revoked_at
                        .map(|r| format!("  REVOKED {r}"))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { name } => {
            app::tokens::revoke(store, &name, actor).await?;
            let _ = writeln!(out, "token `{name}` revoked");
        }
    }
    Ok(0)
}
