//! Singular value decomposition by one-sided Jacobi rotations (Hestenes), for the small dense
//! blocks of the reconciliation.
//!
//! nalgebra's bidiagonal SVD (0.34) loses accuracy on small singular values
//! (dimforge/nalgebra#1172): on a 9 × 5 weighted design with condition number 92 its solve was
//! off by 30 on a value of 0.1. One-sided Jacobi is slower (`O(m·n²)` per sweep) but computes
//! every singular value to high relative accuracy and `V` orthogonal to rounding, which is what
//! rank decisions and least-squares solves need. Pure computation, no allocation beyond the
//! factors.

use nalgebra::{DMatrix, DVector};

/// `A = U·diag(σ)·Vᵀ` of an `m × n` matrix: `U` is `m × n` with orthonormal columns where
/// `σⱼ > 0` (zero columns where `σⱼ = 0`), `V` is `n × n` orthogonal. The singular values are
/// not sorted; `σ` has `n` entries whatever the shape (`n − m` or more of them are zero when
/// `m < n`).
#[derive(Debug, Clone)]
pub(crate) struct Svd {
    pub(crate) u: DMatrix<f64>,
    pub(crate) singular_values: DVector<f64>,
    pub(crate) v: DMatrix<f64>,
}

/// Sweeps before giving up; convergence is quadratic and a few sweeps suffice in practice.
const MAX_SWEEPS: usize = 80;

impl Svd {
    pub(crate) fn new(matrix: &DMatrix<f64>) -> Svd {
        let (m, n) = matrix.shape();
        let mut u = matrix.clone();
        let mut v = DMatrix::<f64>::identity(n, n);
        for _ in 0..MAX_SWEEPS {
            let mut rotated = false;
            for p in 0..n {
                for q in p + 1..n {
                    let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                    for i in 0..m {
                        let (a, b) = (u[(i, p)], u[(i, q)]);
                        alpha += a * a;
                        beta += b * b;
                        gamma += a * b;
                    }
                    if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                        continue;
                    }
                    rotated = true;
                    let zeta = (beta - alpha) / (2.0 * gamma);
                    let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                    let c = 1.0 / (1.0 + t * t).sqrt();
                    let s = c * t;
                    for i in 0..m {
                        let (a, b) = (u[(i, p)], u[(i, q)]);
                        u[(i, p)] = c * a - s * b;
                        u[(i, q)] = s * a + c * b;
                    }
                    for i in 0..n {
                        let (a, b) = (v[(i, p)], v[(i, q)]);
                        v[(i, p)] = c * a - s * b;
                        v[(i, q)] = s * a + c * b;
                    }
                }
            }
            if !rotated {
                break;
            }
        }
        let mut singular_values = DVector::<f64>::zeros(n);
        for j in 0..n {
            let norm = u.column(j).norm();
            singular_values[j] = norm;
            if norm > 0.0 {
                u.column_mut(j).unscale_mut(norm);
            }
        }
        Svd {
            u,
            singular_values,
            v,
        }
    }

    pub(crate) fn largest(&self) -> f64 {
        self.singular_values.iter().copied().fold(0.0, f64::max)
    }

    /// The conventional numerical-rank tolerance `max(m, n)·ε·σ_max`.
    pub(crate) fn default_tolerance(&self) -> f64 {
        (self.u.nrows().max(self.v.nrows()) as f64) * f64::EPSILON * self.largest()
    }

    pub(crate) fn rank(&self, tolerance: f64) -> usize {
        self.singular_values
            .iter()
            .filter(|&&s| s > tolerance)
            .count()
    }

    /// `x = V·diag(1/σ)·Uᵀ·b` over the singular values above `tolerance` (the minimum-norm
    /// least-squares solution of `A·x ≈ b` when the rank is deficient).
    pub(crate) fn solve(&self, target: &DVector<f64>, tolerance: f64) -> DVector<f64> {
        let mut coordinates = self.u.tr_mul(target);
        for (k, c) in coordinates.iter_mut().enumerate() {
            let s = self.singular_values[k];
            *c = if s > tolerance { *c / s } else { 0.0 };
        }
        &self.v * coordinates
    }

    /// The least-squares solution improved by two steps of iterative refinement
    /// (`x += A⁺(b − A·x)`), which takes the residual of a widely weighted problem down to
    /// rounding.
    pub(crate) fn refined_solve(
        &self,
        matrix: &DMatrix<f64>,
        target: &DVector<f64>,
        tolerance: f64,
    ) -> DVector<f64> {
        let mut x = self.solve(target, tolerance);
        for _ in 0..2 {
            let residual = target - matrix * &x;
            x += self.solve(&residual, tolerance);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn reconstruct(svd: &Svd) -> DMatrix<f64> {
        &svd.u * DMatrix::from_diagonal(&svd.singular_values) * svd.v.transpose()
    }

    #[test]
    fn reconstructs_tall_wide_and_deficient_matrices() {
        let cases = [
            DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 2.0, 3.0, 0.0, 4.0]),
            // nalgebra#1117's matrix: a zero column.
            DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 2.0, 3.0, 0.0, 4.0, 5.0, 0.0, 6.0]),
            DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]),
        ];
        for a in cases {
            let svd = Svd::new(&a);
            assert_relative_eq!(reconstruct(&svd), a, epsilon = 1e-13);
            let n = a.ncols();
            assert_relative_eq!(
                svd.v.transpose() * &svd.v,
                DMatrix::identity(n, n),
                epsilon = 1e-14
            );
        }
    }

    #[test]
    fn singular_values_of_a_known_matrix() {
        // [[3, 0], [4, 5]]: σ = √45 and √5.
        let svd = Svd::new(&DMatrix::from_row_slice(2, 2, &[3.0, 0.0, 4.0, 5.0]));
        let mut sigma: Vec<f64> = svd.singular_values.iter().copied().collect();
        sigma.sort_by(f64::total_cmp);
        assert_relative_eq!(sigma[0], 5.0_f64.sqrt(), max_relative = 1e-15);
        assert_relative_eq!(sigma[1], 45.0_f64.sqrt(), max_relative = 1e-15);
        assert_eq!(svd.rank(svd.default_tolerance()), 2);
    }

    #[test]
    fn rank_of_a_zero_column_matrix_is_found() {
        let a = DMatrix::from_row_slice(3, 3, &[1.0, 0.0, 2.0, 3.0, 0.0, 4.0, 5.0, 0.0, 6.0]);
        let svd = Svd::new(&a);
        assert_eq!(svd.rank(svd.default_tolerance()), 2);
    }

    #[test]
    fn solves_a_widely_weighted_consistent_system_exactly() {
        // The reconciliation case nalgebra's SVD solved to 9 956, 32, 132, −38, 0.1.
        let truth = [9988.2030269614, 0.1, 0.1, 0.1, 0.1];
        let rows: [(&[usize], f64); 9] = [
            (&[0], 52.86623245683511),
            (&[1], 43.457079849859156),
            (&[2], 98.00525758653743),
            (&[3], 42.60572387462855),
            (&[4], 9.632419264014077),
            (&[2, 0], 98.21398217939036),
            (&[3, 2], 90.23606498009556),
            (&[0, 1], 0.9371988300907638),
            (&[1, 3], 93.07372091865712),
        ];
        let a = DMatrix::from_fn(9, 5, |i, j| {
            if rows[i].0.contains(&j) {
                1.0 / rows[i].1
            } else {
                0.0
            }
        });
        let b = DVector::from_fn(9, |i, _| {
            rows[i].0.iter().map(|&u| truth[u]).sum::<f64>() / rows[i].1
        });
        let svd = Svd::new(&a);
        let x = svd.refined_solve(&a, &b, svd.default_tolerance());
        for (estimate, expected) in x.iter().zip(truth) {
            assert!(
                (estimate - expected).abs() <= 1e-10 * 1e4,
                "{estimate} vs {expected}"
            );
        }
    }
}
