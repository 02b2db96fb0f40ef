//! Reconciliation benchmark input and solver.
//!
//! `reconcile_blocks generate N FILE [SEED]` writes N enterprise blocks, deterministic by seed:
//! 1–4 production units each, a coefficient estimate per unit (30 %), one or two monitored
//! outlets each fed by some units (automatic 5 % or manual 15 %), sometimes an enterprise-level
//! report (coefficient-method 30 %), and about 2 % of blocks with a report ten standard
//! deviations off. One block per line: `units;sum:value:sd;…` with `sum` as unit indices joined
//! by `+`.
//!
//! `reconcile_blocks solve FILE` reads the blocks, reconciles each with `accounting::reconcile`
//! and prints the count of blocks, of failed global tests and of gross errors, and the sum of
//! the reconciled values (to check against the peer `reconcile_blocks.py`).
//!
//! Used by `crates/accounting/bench/reconcile.sh`.

use std::io::{BufRead, BufWriter, Write};

use accounting::reconcile::{Measurement, Options, Outcome, Problem, reconcile};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A standard normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn generate(n: usize, path: &str, seed: u64) -> std::io::Result<()> {
    let mut rng = Rng(seed);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for _ in 0..n {
        let units = 1 + rng.below(4) as usize;
        let truth: Vec<f64> = (0..units).map(|_| 1.0 + 200.0 * rng.uniform()).collect();
        let mut measurements: Vec<(Vec<usize>, f64, f64)> = Vec::new();
        for (i, t) in truth.iter().enumerate() {
            let sd = 0.30 * t;
            measurements.push((vec![i], (t + sd * rng.normal()).max(0.0), sd));
        }
        // Outlets: split the units into one or two groups.
        let split = if units > 1 && rng.below(2) == 0 {
            1 + rng.below(units as u64 - 1) as usize
        } else {
            units
        };
        for group in [0..split, split..units] {
            if group.is_empty() {
                continue;
            }
            let sum: f64 = truth[group.clone()].iter().sum();
            let rsd = if rng.below(3) == 0 { 0.15 } else { 0.05 };
            let sd = rsd * sum;
            let mut value = sum + sd * rng.normal();
            if rng.below(50) == 0 {
                value += 10.0 * sd;
            }
            measurements.push((group.collect(), value.max(0.0), sd));
        }
        if rng.below(5) == 0 {
            let sum: f64 = truth.iter().sum();
            let sd = 0.30 * sum;
            measurements.push(((0..units).collect(), (sum + sd * rng.normal()).max(0.0), sd));
        }
        let cells: Vec<String> = measurements
            .iter()
            .map(|(u, v, sd)| {
                let sum: Vec<String> = u.iter().map(|i| i.to_string()).collect();
                format!("{}:{v}:{sd}", sum.join("+"))
            })
            .collect();
        writeln!(out, "{units};{}", cells.join(";"))?;
    }
    out.flush()
}

fn parse(line: &str) -> Option<Problem> {
    let mut parts = line.split(';');
    let unknowns: usize = parts.next()?.parse().ok()?;
    let mut measurements = Vec::new();
    for cell in parts {
        let mut fields = cell.split(':');
        let unknowns_of = fields
            .next()?
            .split('+')
            .map(|u| u.parse().ok())
            .collect::<Option<Vec<usize>>>()?;
        let value = fields.next()?.parse().ok()?;
        let std_dev = fields.next()?.parse().ok()?;
        measurements.push(Measurement {
            unknowns: unknowns_of,
            value,
            std_dev,
        });
    }
    Some(Problem {
        unknowns,
        measurements,
    })
}

fn solve(path: &str) -> std::io::Result<()> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let (mut blocks, mut failed, mut gross, mut other) = (0u64, 0u64, 0u64, 0u64);
    let mut total = 0.0;
    for (number, line) in file.lines().enumerate() {
        let line = line?;
        let Some(problem) = parse(&line) else {
            eprintln!("{path}:{}: not a block", number + 1);
            std::process::exit(1);
        };
        blocks += 1;
        match reconcile(&problem, Options::default()) {
            Outcome::Reconciled(s) => {
                failed += u64::from(s.global_test_failed);
                gross += s.gross_errors.len() as u64;
                total += s.estimates.iter().sum::<f64>();
            }
            _ => other += 1,
        }
    }
    println!(
        "blocks {blocks} global_test_failed {failed} gross_errors {gross} not_reconciled {other} sum_reconciled {total:.6}"
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("generate") if args.len() >= 4 => {
            let n = args[2].parse().unwrap_or(100_000);
            let seed = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2024);
            generate(n, &args[3], seed)
        }
        Some("solve") if args.len() >= 3 => solve(&args[2]),
        _ => {
            eprintln!("usage: reconcile_blocks generate N FILE [SEED] | solve FILE");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
