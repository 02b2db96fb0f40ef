#!/usr/bin/env python3
"""The peer of `reconcile_blocks solve`: the same weighted least-squares reconciliation of every
block with NumPy and SciPy, the tools a statistician would reach for.

Per block: weighted design, rank check (numpy.linalg.matrix_rank), least squares
(numpy.linalg.lstsq), non-negative least squares (scipy.optimize.nnls) when a component is
negative, chi-square global test (scipy.stats.chi2), normalized residuals and the Sidak-adjusted
measurement test (scipy.stats.norm). Prints the same summary line as the Rust solver.

usage: reconcile_blocks.py FILE
"""
import sys

import numpy as np
from scipy.optimize import nnls
from scipy.stats import chi2, norm

ALPHA = 0.05


def solve(line):
    cells = line.rstrip("\n").split(";")
    n = int(cells[0])
    rows = []
    for cell in cells[1:]:
        units, value, sd = cell.split(":")
        rows.append(([int(u) for u in units.split("+")], float(value), float(sd)))
    m = len(rows)
    a = np.zeros((m, n))
    for i, (units, _, _) in enumerate(rows):
        a[i, units] += 1.0
    y = np.array([r[1] for r in rows])
    sd = np.array([r[2] for r in rows])
    aw = a / sd[:, None]
    yw = y / sd
    if np.linalg.matrix_rank(aw) < n:
        return None
    x = np.linalg.lstsq(aw, yw, rcond=None)[0]
    if (x < 0).any():
        x = nnls(aw, yw)[0]
    free = x > 0
    r = y - a @ x
    chi = float(((r / sd) ** 2).sum())
    dof = m - int(free.sum())
    failed = dof > 0 and chi2.sf(chi, dof) < ALPHA
    gross = 0
    if free.any():
        af = aw[:, free]
        cov = np.linalg.inv(af.T @ af)
        explained = a[:, free] @ cov @ a[:, free].T
        var = sd ** 2 - np.diag(explained)
        testable = var > 1e-9 * sd ** 2
        t = int(testable.sum())
        if t > 0:
            z = np.abs(r[testable]) / np.sqrt(var[testable])
            critical = norm.isf((1 - (1 - ALPHA) ** (1 / t)) / 2)
            gross = int((z > critical).sum())
    return failed, gross, float(x.sum())


def main():
    blocks = failed = gross = other = 0
    total = 0.0
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            blocks += 1
            result = solve(line)
            if result is None:
                other += 1
                continue
            failed += result[0]
            gross += result[1]
            total += result[2]
    print(
        f"blocks {blocks} global_test_failed {failed} gross_errors {gross} "
        f"not_reconciled {other} sum_reconciled {total:.6f}"
    )


if __name__ == "__main__":
    main()
