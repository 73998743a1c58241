"""Monte Carlo coverage of the m-out-of-n bootstrap intervals for SBM scores.

Usage (from the project root)::

    .venv/bin/python benchmarks/bootstrap_coverage.py                 # ~20-40 min on 2 cores
    .venv/bin/python benchmarks/bootstrap_coverage.py --reps 20 --boot 50 --n 100   # a quick look
    .venv/bin/python benchmarks/bootstrap_coverage.py --out nqpf_helpers/data/bootstrap_coverage.csv

The CSV is package data (the book reads it with ``nqpf_helpers.data.load_bootstrap_coverage``,
so it works from an installed wheel too); a Markdown twin with the machine and timings is
written to ``benchmarks/results/bootstrap_coverage.md`` (``--md``).

Design (a frontier known in closed form)
----------------------------------------
Two inputs ``x1, x2 ~ U(1, 10)``, one bad output ``b ~ U(1, 10)`` and one good
output on a Cobb-Douglas frontier with half-normal inefficiency::

    y = x1^0.3 x2^0.3 b^0.2 exp(-u),   u ~ |N(0, 0.3^2)|.

The SBM reference technology treats a bad output like an input (its slack
can only lower it, and peers may pollute less), so the true technology is
``T = {(x, y, b): y <= x1^0.3 x2^0.3 b^0.2}``: convex (exponents sum to 0.8)
and freely disposable, which is what the VRS SBM estimator converges to.
The true SBM score of a fixed point is the minimum over targets in ``T`` of
``(1 - (a1 + a2)/2) / (1 + (c + d)/2)`` with input reductions ``a_i``, bad
output reduction ``d`` and good output increase ``c`` (all as fractions of
the point's own values); it is found numerically (many starts, SLSQP).

For each sample size ``n`` and exponent ``kappa`` (``m = n**kappa``), each
replication draws a sample, scores a few fixed points with the full sample
and ``B`` subsamples, forms the nominal 90 % interval of
:mod:`nqpf_helpers.bootstrap` and records whether it contains the true score.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from nqpf_helpers.bootstrap import _intervals, convergence_rate, subsample_scores

ALPHA_X, ALPHA_B, SIGMA_U = 0.3, 0.2, 0.3
# fixed evaluation points: (x1, x2, b, u0); y0 = f(x1, x2, b) exp(-u0)
POINTS = [(5.5, 5.5, 5.5, 0.2), (3.0, 8.0, 4.0, 0.3), (7.0, 4.0, 7.0, 0.1), (5.0, 6.0, 3.0, 0.5)]


def frontier(x1, x2, b):
    return x1**ALPHA_X * x2**ALPHA_X * b**ALPHA_B


def draw_sample(rng: np.random.Generator, n: int):
    X = rng.uniform(1, 10, (n, 2))
    B = rng.uniform(1, 10, (n, 1))
    u = np.abs(rng.normal(0, SIGMA_U, (n, 1)))
    Y = frontier(X[:, :1], X[:, 1:], B) * np.exp(-u)
    return X, Y, B


def true_sbm(x1: float, x2: float, b: float, y: float) -> float:
    """SBM score of (x1, x2, y, b) against the true technology."""

    def score(v):
        a1, a2, d = v
        c = frontier(x1 * (1 - a1), x2 * (1 - a2), b * (1 - d)) / y - 1
        return (1 - (a1 + a2) / 2) / (1 + (c + d) / 2)

    cons = [{"type": "ineq", "fun": lambda v: frontier(x1 * (1 - v[0]), x2 * (1 - v[1]), b * (1 - v[2])) - y}]
    best = 1.0
    grid = np.linspace(0.0, 0.9, 6)
    for a1 in grid:
        for a2 in grid:
            for d in grid:
                start = np.array([a1, a2, d])
                if frontier(x1 * (1 - a1), x2 * (1 - a2), b * (1 - d)) < y:
                    continue
                r = minimize(score, start, method="SLSQP", bounds=[(0, 0.999)] * 3, constraints=cons,
                             options={"ftol": 1e-12, "maxiter": 500})
                if r.success and cons[0]["fun"](r.x) >= -1e-9:
                    best = min(best, float(r.fun))
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100, 200, 400])
    ap.add_argument("--kappa", type=float, nargs="+", default=[0.5, 0.6, 0.7])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=20251201)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None,
                    help="CSV of the coverage table; the book's copy is nqpf_helpers/data/bootstrap_coverage.csv")
    ap.add_argument("--md", type=Path, default=Path(__file__).parent / "results" / "bootstrap_coverage.md",
                    help="Markdown twin of the table with machine and timings (written with --out)")
    args = ap.parse_args(argv)

    pts = np.array([[p[0], p[1], frontier(p[0], p[1], p[2]) * np.exp(-p[3]), p[2]] for p in POINTS])
    truth = np.array([true_sbm(p[0], p[1], p[3], p[2]) for p in pts])
    print("true SBM scores of the evaluation points:", np.round(truth, 4))
    rate = convergence_rate(2, 2, "vrs")
    rows = []
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    for n in args.n:
        for kappa in args.kappa:
            rng = np.random.default_rng([args.seed, n])  # same samples for every kappa
            hits = np.zeros(len(pts))
            width = []
            t = time.perf_counter()
            for r in range(args.reps):
                X, Y, B = draw_sample(rng, n)
                rho_hat, rho_star, m = subsample_scores(
                    X, Y, B, points=(pts[:, :2], pts[:, 2:3], pts[:, 3:]), kappa=kappa, n_boot=args.boot,
                    seed=args.seed + r, backend="loky" if args.n_jobs > 1 else "sequential", n_jobs=args.n_jobs)
                iv = _intervals(rho_hat, rho_star, (m / n) ** rate, args.alpha)
                hits += (iv["lower"] <= truth + 1e-12) & (truth <= iv["upper"] + 1e-12)
                width.append(iv["upper"] - iv["lower"])
            cov = hits / args.reps
            rows.append({"n": n, "kappa": kappa, "m": m, "reps": args.reps, "boot": args.boot,
                         "coverage": float(cov.mean()), **{f"cov_p{i + 1}": float(c) for i, c in enumerate(cov)},
                         "mean_width": float(np.mean(width)), "seconds": round(time.perf_counter() - t, 1)})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        md = args.md
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(
            f"# Coverage of nominal {100 * (1 - args.alpha):.0f}% m-out-of-n intervals (SBM, VRS)\n\n"
            f"Design: see benchmarks/bootstrap_coverage.py. True scores of the {len(pts)} points: "
            f"{', '.join(f'{v:.4f}' for v in truth)}. Rate r = {rate:.2f}.\n\n"
            + table.to_markdown(index=False)
            + f"\n\nMachine: {platform.platform()}, {os.cpu_count()} CPUs, load average at start "
            f"{load0[0]:.2f} / end {os.getloadavg()[0]:.2f}; total {time.perf_counter() - t0:.0f} s.\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
