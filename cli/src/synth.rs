//! `npsc synth`: SYNTHETIC census-sized data (registry, activity, coefficient set) for benchmarks
//! and scale tests.

use std::io::Write;
use std::path::PathBuf;

use app::AppError;
use app::synth::SynthSettings;
use clap::Args;

pub(crate) const EXAMPLES: &str = "\
Examples:
  # 50 000 invented enterprises, two years, and their accounting
  npsc synth --enterprises 50000 --years 2 --seed 7 --out /tmp/synth
  npsc account --coefficients /tmp/synth/coefficients --registry /tmp/synth/registry.csv \\
      --activity /tmp/synth/activity.csv --region-level county --industry-level division

  # The national scale (2.5 million enterprises, about 7.5 million activity rows)
  npsc synth --enterprises 2500000 --out /tmp/national

  # One row in a thousand broken on purpose (listed in bad_rows.csv)
  npsc synth --enterprises 1000 --out /tmp/bad --bad-rows 0.001
";

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    /// Number of enterprises in the registry.
    #[arg(long)]
    enterprises: u64,
    /// Years of activity, ending in 2023.
    #[arg(long, default_value_t = 1)]
    years: u16,
    /// The seed: the same seed and sizes give the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The folder to write (created if missing; registry.csv, activity.csv, coefficients/,
    /// bad_rows.csv and manifest.toml in it are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Fraction (0–1) of activity rows to break on purpose, each in one located way.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    bad_rows: f64,
}

pub(crate) fn run(args: SynthArgs, out: &mut dyn Write) -> Result<i32, AppError> {
    let reference = app::reference::bundled()?;
    let settings = SynthSettings {
        enterprises: args.enterprises,
        years: args.years,
        seed: args.seed,
        out: args.out,
        bad_rows: args.bad_rows,
    };
    let started = std::time::Instant::now();
    let r = app::synth::synth(&settings, &reference)?;
    let dir = r.out.display();
    let _ = writeln!(
        out,
        "wrote SYNTHETIC data to {dir} in {:.1} s (seed {})",
        started.elapsed().as_secs_f64(),
        settings.seed
    );
    let _ = writeln!(
        out,
        "  registry: {} enterprises ({} closed or deregistered) in {} counties",
        r.enterprises, r.closed_enterprises, r.counties
    );
    let _ = writeln!(
        out,
        "  activity: {} rows, {}–{}: {} to account ({} with formula parameters), {} excluded (closed), {} broken on purpose",
        r.activity_rows,
        r.years.0,
        r.years.1,
        r.accounted_rows(),
        r.formula_rows,
        r.excluded_rows,
        r.bad_rows
    );
    let _ = writeln!(
        out,
        "  coefficients: {} rows ({} with a formula), {} keys, {} industries",
        r.coefficient_rows, r.formula_coefficient_rows, r.coefficient_keys, r.industries
    );
    let _ = writeln!(
        out,
        "account it with: npsc account --coefficients {dir}/coefficients --registry {dir}/registry.csv --activity {dir}/activity.csv --region-level county --industry-level division"
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    /// The command writes the files and says what it wrote; a bad argument is exit status 1.
    #[test]
    fn writes_a_data_set_and_refuses_bad_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = crate::run(
            ["npsc", "synth", "--enterprises", "20", "--out", path],
            &mut out,
            &mut err,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(status, 0, "{}", String::from_utf8_lossy(&err));
        assert!(text.contains("registry: 20 enterprises"), "{text}");
        for name in [
            "registry.csv",
            "activity.csv",
            "bad_rows.csv",
            "manifest.toml",
            "coefficients/manifest.toml",
            "coefficients/coefficients.csv",
        ] {
            assert!(dir.path().join(name).is_file(), "{name}");
        }
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = crate::run(
            [
                "npsc",
                "synth",
                "--enterprises",
                "20",
                "--bad-rows",
                "1.5",
                "--out",
                path,
            ],
            &mut out,
            &mut err,
        );
        assert_eq!(status, 1);
        assert!(String::from_utf8_lossy(&err).contains("--bad-rows 1.5 is not a fraction"));
    }
}
