//! Statistical reconciliation of emission measurements by weighted least squares.
//!
//! The unknowns are true emissions (of production units or enterprises); every measurement is
//! the sum of some of them (a coefficient estimate of one unit, a monitored outlet fed by two
//! units, an enterprise's permit report) with a standard deviation that comes from its method.
//! The model `y = A·x + e`, `e ~ N(0, diag(σ²))` is solved with weights `1/σ²`:
//!
//! - the weighted design `Ã = diag(1/σ)·A` is decomposed by SVD (one-sided Jacobi,
//!   [`crate::jacobi`], accurate on small singular values); a rank below the number of
//!   unknowns is the explicit outcome [`Outcome::RankDeficient`] naming the unknowns the
//!   measurements cannot separate (never a silent minimum-norm answer);
//! - emissions cannot be negative: when the unconstrained solution has a negative component the
//!   problem is solved as non-negative least squares (Lawson–Hanson active set), the unknowns held
//!   at zero are reported as `at_zero`, and the statistics use the free unknowns only (the
//!   chi-square distribution is then approximate, which the flag says);
//! - the global test compares `χ² = Σ (rᵢ/σᵢ)²` with the chi-square distribution of `m − n`
//!   degrees of freedom; every redundant measurement gets a normalized residual
//!   `zᵢ = rᵢ / √Cov(r)ᵢᵢ` with `Cov(r) = V − A·Cov(x̂)·Aᵀ`, and measurements beyond the two-sided
//!   critical value at the Šidák-adjusted significance `1 − (1 − α)^(1/t)` (t testable
//!   measurements) are flagged as gross errors, the largest |z| being the most likely wrong.
//!
//! Everything here is pure computation; the special functions (log-gamma, the regularized
//! incomplete gamma function and its inverse by bisection) are implemented below and tested
//! against published values.

use nalgebra::{DMatrix, DVector};

use crate::jacobi::Svd;

/// How a measurement was obtained; decides its default relative standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// Valid automatic (online) monitoring, 自动监测.
    AutomaticMonitoring,
    /// Manual monitoring by a laboratory, 手工监测.
    ManualMonitoring,
    /// Material balance, 物料衡算.
    MaterialBalance,
    /// Production and emission coefficients, 产排污系数.
    Coefficient,
    /// Anything else (其他).
    Other,
}

impl Method {
    /// Every method, in the order of the statistics rule.
    pub const ALL: [Method; 5] = [
        Method::AutomaticMonitoring,
        Method::ManualMonitoring,
        Method::MaterialBalance,
        Method::Coefficient,
        Method::Other,
    ];

    /// The stable word used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::AutomaticMonitoring => "automatic_monitoring",
            Method::ManualMonitoring => "manual_monitoring",
            Method::MaterialBalance => "material_balance",
            Method::Coefficient => "coefficient",
            Method::Other => "other",
        }
    }

    /// Reads the stable word or the Chinese name of a method.
    pub fn parse(text: &str) -> Option<Method> {
        match text.trim() {
            "automatic_monitoring" | "自动监测" | "在线监测" | "自动监测数据" => {
                Some(Method::AutomaticMonitoring)
            }
            "manual_monitoring" | "手工监测" | "监测机构监测" | "手工监测数据" => {
                Some(Method::ManualMonitoring)
            }
            "material_balance" | "物料衡算" => Some(Method::MaterialBalance),
            "coefficient" | "产排污系数" | "排污系数" | "系数法" | "产排污系数法" => {
                Some(Method::Coefficient)
            }
            "other" | "其他" => Some(Method::Other),
            _ => None,
        }
    }
}

/// Relative standard deviations by method (defaults: 5 % automatic monitoring, 15 % manual
/// monitoring, 20 % material balance, 30 % coefficients, 50 % other).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeUncertainty {
    /// Automatic monitoring.
    pub automatic_monitoring: f64,
    /// Manual monitoring.
    pub manual_monitoring: f64,
    /// Material balance.
    pub material_balance: f64,
    /// Coefficients.
    pub coefficient: f64,
    /// Other methods.
    pub other: f64,
}

impl Default for RelativeUncertainty {
    fn default() -> Self {
        RelativeUncertainty {
            automatic_monitoring: 0.05,
            manual_monitoring: 0.15,
            material_balance: 0.20,
            coefficient: 0.30,
            other: 0.50,
        }
    }
}

impl RelativeUncertainty {
    /// The relative standard deviation of a method.
    pub fn of(&self, method: Method) -> f64 {
        match method {
            Method::AutomaticMonitoring => self.automatic_monitoring,
            Method::ManualMonitoring => self.manual_monitoring,
            Method::MaterialBalance => self.material_balance,
            Method::Coefficient => self.coefficient,
            Method::Other => self.other,
        }
    }

    /// The standard deviation of a measured `value` by `method`. A zero value gets the
    /// standard deviation of `floor` (a value of the same magnitude as the others), so that a
    /// reported zero still carries weight without being infinitely certain.
    pub fn std_dev(&self, method: Method, value: f64, floor: f64) -> f64 {
        self.of(method) * value.abs().max(floor.abs())
    }
}

/// One measurement: the sum of some unknowns, with its standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The unknowns (indices) whose sum was measured.
    pub unknowns: Vec<usize>,
    /// The measured value.
    pub value: f64,
    /// Its standard deviation (> 0).
    pub std_dev: f64,
}

/// A reconciliation problem of `unknowns` unknowns.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// How many unknowns.
    pub unknowns: usize,
    /// The measurements.
    pub measurements: Vec<Measurement>,
}

/// Options of the tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Significance of the global test and (Šidák-adjusted) of the measurement tests.
    pub alpha: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { alpha: 0.05 }
    }
}

/// A reconciled problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Reconciled value of every unknown (≥ 0).
    pub estimates: Vec<f64>,
    /// Standard error of every unknown; `None` for an unknown held at zero.
    pub std_errors: Vec<Option<f64>>,
    /// The unknowns held at zero by the non-negativity bound.
    pub at_zero: Vec<usize>,
    /// Every measurement's reconciled value (the sum of its reconciled unknowns).
    pub adjusted: Vec<f64>,
    /// Every measurement's normalized residual; `None` when it is not redundant (nothing else
    /// measures what it measures, so it cannot be tested).
    pub normalized_residuals: Vec<Option<f64>>,
    /// `Σ (rᵢ/σᵢ)²`.
    pub chi_square: f64,
    /// Degrees of freedom: measurements minus free unknowns.
    pub degrees_of_freedom: usize,
    /// Probability of a χ² at least this large when every measurement is right; `None` without
    /// redundancy.
    pub p_value: Option<f64>,
    /// Whether the global test rejects the measurements as a whole at `alpha`.
    pub global_test_failed: bool,
    /// The critical |z| of the measurement test (Šidák-adjusted), when anything is testable.
    pub critical_z: Option<f64>,
    /// Measurements whose |z| exceeds the critical value.
    pub gross_errors: Vec<usize>,
    /// The gross error with the largest |z|, the measurement most likely wrong; `None` when
    /// the largest |z| is shared (a single redundancy cannot tell which side is wrong).
    pub suspect: Option<usize>,
}

/// What reconciling gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Reconciled.
    Reconciled(Solution),
    /// The measurements do not determine every unknown: the listed unknowns can be traded
    /// against each other without changing any measurement.
    RankDeficient {
        /// The rank of the design.
        rank: usize,
        /// The unknowns involved in the undetermined combinations.
        unobservable: Vec<usize>,
    },
    /// A value or standard deviation is not a finite number (or a standard deviation is not
    /// positive), or a measurement names an unknown that does not exist.
    InvalidInput {
        /// The measurement.
        measurement: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The non-negative solver did not converge within its iteration limit.
    NotConverged {
        /// Iterations made.
        iterations: usize,
    },
}

/// Reconciles one problem.
pub fn reconcile(problem: &Problem, options: Options) -> Outcome {
    let n = problem.unknowns;
    let m = problem.measurements.len();
    for (i, meas) in problem.measurements.iter().enumerate() {
        let reason = if !meas.value.is_finite() {
            Some(format!("the value {} is not a finite number", meas.value))
        } else if !(meas.std_dev.is_finite() && meas.std_dev > 0.0) {
            Some(format!(
                "the standard deviation {} is not a positive finite number",
                meas.std_dev
            ))
        } else if meas.unknowns.is_empty() {
            Some("it measures no unknown".to_string())
        } else {
            meas.unknowns
                .iter()
                .find(|&&u| u >= n)
                .map(|u| format!("it names unknown {u} of {n}"))
        };
        if let Some(reason) = reason {
            return Outcome::InvalidInput {
                measurement: i,
                reason,
            };
        }
    }
    if n == 0 {
        return Outcome::RankDeficient {
            rank: 0,
            unobservable: Vec::new(),
        };
    }
    // A: the design; Ã, ỹ: weighted by 1/σ.
    let mut design = DMatrix::<f64>::zeros(m, n);
    for (i, meas) in problem.measurements.iter().enumerate() {
        for &u in &meas.unknowns {
            design[(i, u)] += 1.0;
        }
    }
    let sigma = DVector::from_iterator(m, problem.measurements.iter().map(|x| x.std_dev));
    let values = DVector::from_iterator(m, problem.measurements.iter().map(|x| x.value));
    let weighted = DMatrix::from_fn(m, n, |i, j| design[(i, j)] / sigma[i]);
    let target = values.component_div(&sigma);

    // Rank and the unconstrained solution.
    let svd = Svd::new(&weighted);
    let tolerance = svd.default_tolerance();
    let rank = svd.rank(tolerance);
    if rank < n {
        let unobservable = null_space_unknowns(&svd, tolerance);
        return Outcome::RankDeficient { rank, unobservable };
    }
    let unconstrained = svd.refined_solve(&weighted, &target, tolerance);
    let estimates: Vec<f64> = if unconstrained.iter().all(|&x| x >= 0.0) {
        unconstrained.iter().copied().collect()
    } else {
        match nnls(&weighted, &target) {
            Ok(x) => x,
            Err(iterations) => return Outcome::NotConverged { iterations },
        }
    };
    let free: Vec<usize> = (0..n).filter(|&j| estimates[j] > 0.0).collect();
    let at_zero: Vec<usize> = (0..n).filter(|&j| estimates[j] <= 0.0).collect();
    let estimates: Vec<f64> = estimates.into_iter().map(|x| x.max(0.0)).collect();

    // Covariance of the free unknowns: (Ã_Pᵀ Ã_P)⁻¹, from the SVD of Ã_P.
    let reduced = DMatrix::from_fn(m, free.len(), |i, k| weighted[(i, free[k])]);
    let covariance = inverse_normal_matrix(&reduced);
    let mut std_errors = vec![None; n];
    if let Some(c) = &covariance {
        for (k, &j) in free.iter().enumerate() {
            std_errors[j] = Some(c[(k, k)].max(0.0).sqrt());
        }
    }
    let x = DVector::from_vec(estimates.clone());
    let adjusted_vector = &design * &x;
    let residuals = &values - &adjusted_vector;
    let chi_square: f64 = residuals
        .iter()
        .zip(sigma.iter())
        .map(|(r, s)| (r / s).powi(2))
        .sum();
    let degrees_of_freedom = m.saturating_sub(free.len());

    // Normalized residuals: Cov(r) = V − A_P C A_Pᵀ.
    let design_free = DMatrix::from_fn(m, free.len(), |i, k| design[(i, free[k])]);
    let mut normalized_residuals = vec![None; m];
    if let Some(c) = &covariance {
        let explained = &design_free * c * design_free.transpose();
        for i in 0..m {
            let variance = sigma[i] * sigma[i] - explained[(i, i)];
            // A measurement nothing else checks has (numerically) no residual variance.
            if variance > 1e-9 * sigma[i] * sigma[i] {
                normalized_residuals[i] = Some(residuals[i] / variance.sqrt());
            }
        }
    }
    let p_value = (degrees_of_freedom > 0)
        .then(|| chi_square_survival(chi_square, degrees_of_freedom as f64));
    let global_test_failed = p_value.is_some_and(|p| p < options.alpha);
    let testable = normalized_residuals.iter().flatten().count();
    let critical_z = (testable > 0).then(|| {
        let adjusted_alpha = 1.0 - (1.0 - options.alpha).powf(1.0 / testable as f64);
        normal_two_sided_critical(adjusted_alpha)
    });
    let mut gross_errors = Vec::new();
    if let Some(critical) = critical_z {
        for (i, z) in normalized_residuals.iter().enumerate() {
            if z.is_some_and(|z| z.abs() > critical) {
                gross_errors.push(i);
            }
        }
    }
    // The most likely wrong measurement: the largest |z|, when it stands out. Measurements of
    // a single redundancy share one |z| (e.g. one estimate and one report of the same
    // quantity): the test then says that one of them is wrong, not which, and names none.
    let abs_z = |i: usize| normalized_residuals[i].map_or(0.0, f64::abs);
    let mut ranked = gross_errors.clone();
    ranked.sort_by(|&a, &b| abs_z(b).total_cmp(&abs_z(a)).then(a.cmp(&b)));
    let suspect = match ranked.as_slice() {
        [] => None,
        [only] => Some(*only),
        [first, second, ..] => {
            (abs_z(*first) - abs_z(*second) > 1e-6 * abs_z(*first)).then_some(*first)
        }
    };
    Outcome::Reconciled(Solution {
        estimates,
        std_errors,
        at_zero,
        adjusted: adjusted_vector.iter().copied().collect(),
        normalized_residuals,
        chi_square,
        degrees_of_freedom,
        p_value,
        global_test_failed,
        critical_z,
        gross_errors,
        suspect,
    })
}

/// The unknowns with a noticeable weight in a right singular vector of a (near-)zero singular
/// value: the combinations the measurements cannot see.
fn null_space_unknowns(svd: &Svd, tolerance: f64) -> Vec<usize> {
    let null: Vec<usize> = (0..svd.singular_values.len())
        .filter(|&k| svd.singular_values[k] <= tolerance)
        .collect();
    // An unknown is undetermined when it has a part in the null space (the length of its
    // projection, which does not depend on the basis the decomposition chose).
    (0..svd.v.nrows())
        .filter(|&j| null.iter().map(|&k| svd.v[(j, k)].powi(2)).sum::<f64>() > 1e-16)
        .collect()
}

/// `(MᵀM)⁻¹` of a full-column-rank `M`, by its SVD.
fn inverse_normal_matrix(matrix: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    if matrix.ncols() == 0 {
        return Some(DMatrix::zeros(0, 0));
    }
    let svd = Svd::new(matrix);
    let tolerance = svd.default_tolerance();
    if svd.singular_values.iter().any(|&s| s <= tolerance) {
        return None;
    }
    let inverse_squares = DMatrix::from_diagonal(&svd.singular_values.map(|s| 1.0 / (s * s)));
    Some(&svd.v * inverse_squares * svd.v.transpose())
}

/// Non-negative least squares `min ‖Mx − b‖, x ≥ 0` (Lawson–Hanson active set). Returns the
/// iterations made when it does not converge.
fn nnls(matrix: &DMatrix<f64>, target: &DVector<f64>) -> Result<Vec<f64>, usize> {
    let n = matrix.ncols();
    let limit = 30 * n.max(1) + 30;
    let mut x = DVector::<f64>::zeros(n);
    let mut passive = vec![false; n];
    let tolerance = 1e-12 * (matrix.norm() * target.norm()).max(f64::MIN_POSITIVE);
    let mut iterations = 0;
    loop {
        let gradient = matrix.transpose() * (target - matrix * &x);
        let candidate = (0..n)
            .filter(|&j| !passive[j] && gradient[j] > tolerance)
            .max_by(|&a, &b| gradient[a].total_cmp(&gradient[b]));
        let Some(enter) = candidate else {
            return Ok(x.iter().copied().collect());
        };
        passive[enter] = true;
        loop {
            iterations += 1;
            if iterations > limit {
                return Err(iterations);
            }
            let columns: Vec<usize> = (0..n).filter(|&j| passive[j]).collect();
            let sub = DMatrix::from_fn(matrix.nrows(), columns.len(), |i, k| {
                matrix[(i, columns[k])]
            });
            let svd = Svd::new(&sub);
            let z_sub = svd.refined_solve(&sub, target, svd.default_tolerance());
            if z_sub.iter().all(|&z| z > 0.0) {
                x.fill(0.0);
                for (k, &j) in columns.iter().enumerate() {
                    x[j] = z_sub[k];
                }
                break;
            }
            // Step towards z as far as feasibility allows, then drop the variables at zero.
            let mut step = 1.0_f64;
            for (k, &j) in columns.iter().enumerate() {
                if z_sub[k] <= 0.0 {
                    let denominator = x[j] - z_sub[k];
                    if denominator > 0.0 {
                        step = step.min(x[j] / denominator);
                    }
                }
            }
            for (k, &j) in columns.iter().enumerate() {
                x[j] += step * (z_sub[k] - x[j]);
            }
            for &j in &columns {
                if x[j] <= tolerance.max(1e-15) {
                    x[j] = 0.0;
                    passive[j] = false;
                }
            }
        }
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, nine terms; relative error ≈ 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized upper incomplete gamma function `Q(a, x) = Γ(a, x) / Γ(a)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let prefix = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series for P(a, x) = x^a e^-x / Γ(a+1) · Σ xⁿ / ((a+1)…(a+n)).
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut denominator = a;
        for _ in 0..10_000 {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - prefix * sum).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (prefix * h).clamp(0.0, 1.0)
    }
}

/// `P(χ²_k ≥ x)`.
pub fn chi_square_survival(x: f64, k: f64) -> f64 {
    gamma_q(k / 2.0, x / 2.0)
}

/// The `x` with `P(χ²_k ≥ x) = alpha`, by bisection.
pub fn chi_square_critical(alpha: f64, k: f64) -> f64 {
    let (mut low, mut high) = (0.0_f64, k.max(1.0));
    while chi_square_survival(high, k) > alpha {
        high *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if chi_square_survival(mid, k) > alpha {
            low = mid;
        } else {
            high = mid;
        }
        if high - low <= 1e-14 * high {
            break;
        }
    }
    0.5 * (low + high)
}

/// The `z` with `P(|Z| ≥ z) = alpha` for a standard normal `Z` (`Z²` is χ² with one degree of
/// freedom).
pub fn normal_two_sided_critical(alpha: f64) -> f64 {
    chi_square_critical(alpha, 1.0).sqrt()
}

/// Splits a problem's unknowns into independent blocks (connected through shared
/// measurements); returns, per block, its unknowns and measurements (indices into the problem).
pub fn blocks(problem: &Problem) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = problem.unknowns;
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for meas in &problem.measurements {
        let mut valid = meas.unknowns.iter().copied().filter(|&u| u < n);
        if let Some(first) = valid.next() {
            for other in valid {
                let (a, b) = (find(&mut parent, first), find(&mut parent, other));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, (Vec<usize>, Vec<usize>)> =
        std::collections::BTreeMap::new();
    for u in 0..n {
        let root = find(&mut parent, u);
        by_root.entry(root).or_default().0.push(u);
    }
    for (i, meas) in problem.measurements.iter().enumerate() {
        if let Some(&u) = meas.unknowns.iter().find(|&&u| u < n) {
            let root = find(&mut parent, u);
            by_root.entry(root).or_default().1.push(i);
        }
    }
    by_root.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn measurement(unknowns: &[usize], value: f64, std_dev: f64) -> Measurement {
        Measurement {
            unknowns: unknowns.to_vec(),
            value,
            std_dev,
        }
    }

    fn solved(outcome: Outcome) -> Solution {
        match outcome {
            Outcome::Reconciled(s) => s,
            other => panic!("not reconciled: {other:?}"),
        }
    }

    #[test]
    fn special_functions_match_published_values() {
        assert_relative_eq!(ln_gamma(5.0), 24.0_f64.ln(), max_relative = 1e-14);
        assert_relative_eq!(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            max_relative = 1e-14
        );
        assert_relative_eq!(ln_gamma(0.1), 2.252_712_651_734_206, max_relative = 1e-13);
        // χ² critical values (e.g. NIST/SEMATECH table of the chi-square distribution).
        assert_relative_eq!(
            chi_square_critical(0.05, 1.0),
            3.841_458_820_694_124,
            max_relative = 1e-10
        );
        assert_relative_eq!(
            chi_square_critical(0.05, 2.0),
            5.991_464_547_107_979,
            max_relative = 1e-10
        );
        assert_relative_eq!(
            chi_square_critical(0.05, 10.0),
            18.307_038_053_275_146,
            max_relative = 1e-10
        );
        assert_relative_eq!(
            chi_square_critical(0.01, 3.0),
            11.344_866_730_144_373,
            max_relative = 1e-10
        );
        assert_relative_eq!(
            normal_two_sided_critical(0.05),
            1.959_963_984_540_054,
            max_relative = 1e-10
        );
        // Q(1, x) = e^-x exactly.
        for x in [0.1, 1.0, 3.0, 30.0] {
            assert_relative_eq!(gamma_q(1.0, x), (-x).exp(), max_relative = 1e-12);
        }
    }

    #[test]
    fn two_measurements_of_one_quantity_give_the_inverse_variance_mean() {
        // 100 ± 10 (monitoring) and 130 ± 30 (coefficient): weights 1/100 and 1/900.
        let problem = Problem {
            unknowns: 1,
            measurements: vec![
                measurement(&[0], 100.0, 10.0),
                measurement(&[0], 130.0, 30.0),
            ],
        };
        let s = solved(reconcile(&problem, Options::default()));
        // x̂ = (100/100 + 130/900) / (1/100 + 1/900) = 103; var = 1 / (1/100 + 1/900) = 90.
        assert_relative_eq!(s.estimates[0], 103.0, max_relative = 1e-12);
        assert_relative_eq!(
            s.std_errors[0].expect("se"),
            90.0_f64.sqrt(),
            max_relative = 1e-12
        );
        // χ² = (3/10)² + (27/30)² = 0.09 + 0.81 = 0.9 with one degree of freedom.
        assert_relative_eq!(s.chi_square, 0.9, max_relative = 1e-12);
        assert_eq!(s.degrees_of_freedom, 1);
        // Both residuals normalize to the same |z| = √0.9 (one redundancy): r₁ = −3,
        // Var(r₁) = 100 − 90 = 10 → z₁ = −3/√10; r₂ = 27, Var(r₂) = 900 − 90 = 810 → z₂ = 27/√810.
        assert_relative_eq!(
            s.normalized_residuals[0].expect("z"),
            -3.0 / 10.0_f64.sqrt(),
            max_relative = 1e-10
        );
        assert_relative_eq!(
            s.normalized_residuals[1].expect("z"),
            27.0 / 810.0_f64.sqrt(),
            max_relative = 1e-10
        );
        assert!(!s.global_test_failed);
        assert!(s.gross_errors.is_empty() && s.suspect.is_none());
    }

    #[test]
    fn a_plant_of_three_units_behind_two_outlets() {
        // Units 0, 1 vent through outlet A (monitored 150 ± 7.5), unit 2 through outlet B
        // (monitored 40 ± 2); coefficients estimate 80 ± 24, 60 ± 18 and 50 ± 15.
        let problem = Problem {
            unknowns: 3,
            measurements: vec![
                measurement(&[0], 80.0, 24.0),
                measurement(&[1], 60.0, 18.0),
                measurement(&[2], 50.0, 15.0),
                measurement(&[0, 1], 150.0, 7.5),
                measurement(&[2], 40.0, 2.0),
            ],
        };
        let s = solved(reconcile(&problem, Options::default()));
        // Block {0,1}: the outlet fixes the sum; the misfit 150 − 140 = 10 is shared in
        // proportion to the variances 576 and 324 against 576 + 324 + 56.25 = 956.25:
        // x₀ = 80 + 10·576/956.25, x₁ = 60 + 10·324/956.25.
        assert_relative_eq!(
            s.estimates[0],
            80.0 + 10.0 * 576.0 / 956.25,
            max_relative = 1e-12
        );
        assert_relative_eq!(
            s.estimates[1],
            60.0 + 10.0 * 324.0 / 956.25,
            max_relative = 1e-12
        );
        // Unit 2: (50/225 + 40/4) / (1/225 + 1/4).
        let x2 = (50.0 / 225.0 + 40.0 / 4.0) / (1.0 / 225.0 + 1.0 / 4.0);
        assert_relative_eq!(s.estimates[2], x2, max_relative = 1e-12);
        assert_relative_eq!(
            s.adjusted[3],
            s.estimates[0] + s.estimates[1],
            max_relative = 1e-12
        );
        assert_eq!(s.degrees_of_freedom, 2);
        assert!(!s.global_test_failed, "{s:?}");
    }

    #[test]
    fn an_injected_gross_error_is_found() {
        // Five consistent measurements of two units and their sum, then one reported value
        // ten standard deviations off.
        let mut problem = Problem {
            unknowns: 2,
            measurements: vec![
                measurement(&[0], 100.0, 5.0),
                measurement(&[0], 102.0, 15.0),
                measurement(&[1], 50.0, 2.5),
                measurement(&[1], 49.0, 7.5),
                measurement(&[0, 1], 151.0, 7.5),
            ],
        };
        let clean = solved(reconcile(&problem, Options::default()));
        assert!(
            !clean.global_test_failed && clean.gross_errors.is_empty(),
            "{clean:?}"
        );
        problem.measurements[3].value = 49.0 + 10.0 * 7.5;
        let s = solved(reconcile(&problem, Options::default()));
        assert!(s.global_test_failed, "{s:?}");
        assert_eq!(s.suspect, Some(3), "{s:?}");
        assert!(s.gross_errors.contains(&3));
    }

    #[test]
    fn one_redundancy_flags_both_sides_and_names_no_suspect() {
        // A report ten standard deviations from the estimate of the same quantity.
        let problem = Problem {
            unknowns: 1,
            measurements: vec![
                measurement(&[0], 100.0, 30.0),
                measurement(&[0], 1000.0, 50.0),
            ],
        };
        let s = solved(reconcile(&problem, Options::default()));
        assert!(s.global_test_failed);
        assert_eq!(s.gross_errors, vec![0, 1]);
        assert_eq!(s.suspect, None);
    }

    #[test]
    fn an_undetermined_split_is_an_explicit_outcome() {
        // Only the sum of units 0 and 1 is measured; unit 2 is fine.
        let problem = Problem {
            unknowns: 3,
            measurements: vec![measurement(&[0, 1], 10.0, 1.0), measurement(&[2], 5.0, 1.0)],
        };
        assert_eq!(
            reconcile(&problem, Options::default()),
            Outcome::RankDeficient {
                rank: 2,
                unobservable: vec![0, 1]
            }
        );
        // More unknowns than measurements.
        let wide = Problem {
            unknowns: 3,
            measurements: vec![measurement(&[0, 1, 2], 10.0, 1.0)],
        };
        assert!(matches!(
            reconcile(&wide, Options::default()),
            Outcome::RankDeficient { rank: 1, ref unobservable } if unobservable == &[0, 1, 2]
        ));
    }

    #[test]
    fn invalid_input_is_named() {
        for (value, sd, unknowns) in [
            (f64::NAN, 1.0, vec![0]),
            (1.0, 0.0, vec![0]),
            (1.0, f64::INFINITY, vec![0]),
            (1.0, 1.0, vec![3]),
            (1.0, 1.0, vec![]),
        ] {
            let problem = Problem {
                unknowns: 1,
                measurements: vec![
                    measurement(&[0], 1.0, 1.0),
                    measurement(&unknowns, value, sd),
                ],
            };
            assert!(
                matches!(
                    reconcile(&problem, Options::default()),
                    Outcome::InvalidInput { measurement: 1, .. }
                ),
                "{value} {sd} {unknowns:?}"
            );
        }
    }

    #[test]
    fn reconciled_emissions_are_never_negative() {
        // The outlet says 100, the units' estimates say 90 and 40 with the second far less
        // certain; a measurement of unit 1 near zero pushes the unconstrained answer below 0.
        let problem = Problem {
            unknowns: 2,
            measurements: vec![
                measurement(&[0], 120.0, 1.0),
                measurement(&[0, 1], 100.0, 1.0),
                measurement(&[1], 0.0, 1.0),
            ],
        };
        let s = solved(reconcile(&problem, Options::default()));
        assert!(s.estimates.iter().all(|&x| x >= 0.0), "{s:?}");
        assert_eq!(s.at_zero, vec![1]);
        assert_eq!(s.std_errors[1], None);
        // With x₁ = 0, x₀ minimizes (x₀ − 120)² + (x₀ − 100)² → 110.
        assert_relative_eq!(s.estimates[0], 110.0, max_relative = 1e-12);
    }

    #[test]
    fn independent_blocks_are_found() {
        let problem = Problem {
            unknowns: 5,
            measurements: vec![
                measurement(&[0], 1.0, 1.0),
                measurement(&[3, 1], 1.0, 1.0),
                measurement(&[2], 1.0, 1.0),
                measurement(&[1], 1.0, 1.0),
                measurement(&[4, 2], 1.0, 1.0),
            ],
        };
        assert_eq!(
            blocks(&problem),
            vec![
                (vec![0], vec![0]),
                (vec![1, 3], vec![1, 3]),
                (vec![2, 4], vec![2, 4])
            ]
        );
    }

    #[test]
    fn methods_read_their_chinese_names() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(Method::parse("自动监测"), Some(Method::AutomaticMonitoring));
        assert_eq!(Method::parse("产排污系数"), Some(Method::Coefficient));
        assert_eq!(Method::parse("估算"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Consistent measurements (each the exact sum of its unknowns) come back unchanged
            /// with χ² = 0, whatever their standard deviations.
            #[test]
            fn consistent_measurements_are_returned_unchanged(
                truth in proptest::collection::vec(0.1f64..1e4, 1..6),
                sds in proptest::collection::vec(0.01f64..100.0, 12),
                seed in 0u64..1000,
            ) {
                let n = truth.len();
                let mut measurements = Vec::new();
                for j in 0..n {
                    measurements.push(measurement(&[j], truth[j], sds[j % 12]));
                }
                // Sums of neighbours, picked by the seed.
                for k in 0..n {
                    let a = (k + seed as usize) % n;
                    let b = (k * 7 + 3 + seed as usize) % n;
                    let unknowns: Vec<usize> = if a == b { vec![a] } else { vec![a, b] };
                    let value = unknowns.iter().map(|&u| truth[u]).sum();
                    measurements.push(measurement(&unknowns, value, sds[(k + 6) % 12]));
                }
                let s = solved(reconcile(&Problem { unknowns: n, measurements: measurements.clone() }, Options::default()));
                // Rounding errors scale with the largest quantity of the block (and with the
                // spread of the weights, here up to 10⁴): a 0.1 beside a 3 724.8 measured ±0.01
                // is recovered to about 10⁻⁸, not to 10⁻⁹ of itself (a saved failing case).
                let scale = truth.iter().copied().fold(1.0, f64::max);
                for (estimate, true_value) in s.estimates.iter().zip(&truth) {
                    prop_assert!((estimate - true_value).abs() <= 1e-9 * scale);
                }
                for (i, m) in measurements.iter().enumerate() {
                    prop_assert!((s.adjusted[i] - m.value).abs() <= 1e-9 * scale);
                }
                prop_assert!(s.chi_square < 1e-12);
                prop_assert!(s.gross_errors.is_empty());
            }
        }
    }
}
