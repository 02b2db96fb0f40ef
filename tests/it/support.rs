//! Shared helpers: paths into the repository, and running accounting on files.

use std::path::{Path, PathBuf};

use accounting::codes::RegionLevel;
use accounting::engine::{OperationRatePolicy, Policy};
use accounting::totals::Grouping;
use app::ReadOptions;
use app::account::{AccountReport, AccountSettings, NoProgress};
use ingest::reference::Reference;

/// The repository root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The bundled reference data, loaded once per test.
pub(crate) fn reference() -> Reference {
    app::reference::bundled().expect("bundled reference data loads")
}

/// The excerpt coefficient set folder.
pub(crate) fn excerpt() -> PathBuf {
    root().join("coefficients/npsc1-excerpt")
}

/// Settings for the bundled sample: province totals, nominal k.
pub(crate) fn sample_settings() -> AccountSettings {
    let sample = root().join("datasets/sample-synthetic");
    AccountSettings {
        coefficients: excerpt(),
        registry: sample.join("registry.csv"),
        activity: sample.join("activity.csv"),
        grouping: Grouping {
            region: RegionLevel::Province,
            industry: None,
        },
        policy: Policy {
            missing_operation_rate: OperationRatePolicy::Nominal,
        },
        read: ReadOptions::default(),
        results: None,
        deny_unaccounted: false,
    }
}

/// Runs accounting and expects success.
pub(crate) fn account_sample(settings: &AccountSettings) -> AccountReport {
    match app::account::account(settings, &reference(), &NoProgress) {
        Ok(report) => report,
        Err(e) => panic!("accounting failed: {e}: {e:?}"),
    }
}

/// Runs the command line in-process; returns (status, stdout, stderr).
pub(crate) fn npsc(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["npsc"];
    argv.extend_from_slice(args);
    let status = cli::run(argv, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).expect("stdout is UTF-8"),
        String::from_utf8(err).expect("stderr is UTF-8"),
    )
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

/// The path as a `&str` for command lines.
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `npsc account` over the bundled sample, with paths relative to the `tests` package (cargo
/// runs the tests there), so that messages and snapshots are stable.
pub(crate) const SAMPLE_ARGS: [&str; 7] = [
    "account",
    "--coefficients",
    "../coefficients/npsc1-excerpt",
    "--registry",
    "../datasets/sample-synthetic/registry.csv",
    "--activity",
    "../datasets/sample-synthetic/activity.csv",
];
