"""Time the SBM-DEA engine on synthetic data shaped like the Chinese county panel.

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_sbm.py                # full run, ~5-10 min on 2 cores
    .venv/bin/python benchmarks/bench_sbm.py --quick        # smaller sizes, ~1 min
    .venv/bin/python benchmarks/bench_sbm.py --out benchmarks/results/sbm.txt

What is timed, in one run:

(a) the naive approach: a loop that builds a new cvxpy ``Problem`` for every
    DMU (``nqpf_helpers.sbm.sbm_cvxpy``, HiGHS, columns rescaled).  It is
    timed on a random sample of DMUs of one year and extrapolated linearly
    to the whole year; the report says so.
(b) the package: ``nqpf_helpers.sbm.sbm`` on one contemporaneous year of
    2,843 DMUs, and on a global frontier over 2,843 x 32 DMU-years.

The data are synthetic (the authors' county inputs are not public): 2 inputs
(labour, capital), 1 good output (GDP) and 3 bad outputs (SO2, NOx, smoke),
lognormal with a common county-size factor, scales typical of Chinese
counties, and growth over time.  Targets from the issue: (b) one year in
<= 2 s and >= 50x faster than (a); global frontier in <= 10 minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nqpf_helpers.sbm import sbm, sbm_cvxpy

INPUTS, GOOD, BAD = ["labour", "capital"], ["gdp"], ["so2", "nox", "smoke"]

# log-scale means and dispersions: persons, yuan, yuan, tonnes, tonnes, tonnes
_SCALES = {
    "labour": (12.3, 0.8),
    "capital": (23.0, 1.1),
    "gdp": (22.8, 1.0),
    "so2": (8.5, 1.4),
    "nox": (8.0, 1.2),
    "smoke": (7.5, 1.5),
}
_GROWTH = {"labour": 0.005, "capital": 0.10, "gdp": 0.09, "so2": 0.01, "nox": 0.03, "smoke": -0.01}


def county_like_panel(n: int, years: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic county panel: a size factor shared by all variables plus noise."""
    rng = np.random.default_rng(seed)
    size = rng.normal(0.0, 1.0, size=(n, 1))
    t = np.arange(years)[None, :]
    cols = {}
    for c, (mu, sd) in _SCALES.items():
        z = 0.75 * size + 0.66 * rng.normal(0.0, 1.0, size=(n, years))
        cols[c] = np.exp(mu + sd * z + _GROWTH[c] * t).ravel()
    df = pd.DataFrame(cols)
    df.insert(0, "county", np.repeat(np.arange(n), years))
    df.insert(1, "year", np.tile(np.arange(1990, 1990 + years), n))
    return df


def naive_loop(df: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """One fresh cvxpy Problem per DMU, every DMU of ``df`` in the frontier."""
    X, Yg, Yb = df[INPUTS].to_numpy(), df[GOOD].to_numpy(), df[BAD].to_numpy()
    t0 = time.perf_counter()
    rho = np.array([sbm_cvxpy(X, Yg, Yb, int(o), rts="vrs")["rho"] for o in rows])
    return rho, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2843, help="DMUs per year (default 2843 counties)")
    ap.add_argument("--years", type=int, default=32, help="years in the global frontier run (default 32)")
    ap.add_argument("--sample", type=int, default=150, help="DMUs timed with the naive loop (default 150)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for the global run (default 2)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.years, args.sample = 600, 6, 40

    lines: list[str] = []

    def say(msg: str = "") -> None:
        print(msg, flush=True)
        lines.append(msg)

    say("# SBM-DEA benchmark (nqpf_helpers.sbm)")
    say(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    say(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}")
    if hasattr(os, "getloadavg"):  # timings on a shared machine depend on what else runs
        say("load average (1, 5, 15 min) at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    say(f"data: synthetic county-like panel, {args.n} DMUs, 2 inputs, 1 good, 3 bad outputs, VRS")

    panel = county_like_panel(args.n, args.years)
    year = panel[panel["year"] == panel["year"].min()].reset_index(drop=True)
    spans = np.log10(year[INPUTS + GOOD + BAD].max() / year[INPUTS + GOOD + BAD].min())
    say("orders of magnitude spanned per column in one year: " + ", ".join(f"{c} {v:.1f}" for c, v in spans.items()))
    say()

    # warm-up so that imports and first-call costs are not charged to either side
    sbm(year.head(50), unit="county", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    naive_loop(year.head(50), np.arange(3))

    # (b) package, one contemporaneous year
    t0 = time.perf_counter()
    res = sbm(year, unit="county", time="year", inputs=INPUTS, good=GOOD, bad=BAD, frontier="contemporaneous")
    t_fast = time.perf_counter() - t0

    # (a) naive loop on a sample, extrapolated
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(len(year), size=min(args.sample, len(year)), replace=False))
    rho_naive, t_sample = naive_loop(year, rows)
    t_naive = t_sample / len(rows) * len(year)
    delta = np.abs(rho_naive - res["rho"].to_numpy()[rows]).max()

    say(f"## One contemporaneous year, {len(year)} DMUs")
    say(f"(a) naive cvxpy loop: {t_sample:.1f} s for a random sample of {len(rows)} DMUs "
        f"-> extrapolated {t_naive:.0f} s for {len(year)} DMUs ({1e3 * t_sample / len(rows):.1f} ms per DMU)")
    say(f"(b) nqpf_helpers.sbm.sbm (1 process): {t_fast:.2f} s ({1e3 * t_fast / len(year):.2f} ms per DMU)")
    say(f"speed-up (a)/(b): {t_naive / t_fast:.0f}x   [target >= 50x; (b) target <= 2 s]")
    say(f"max |delta rho| between (a) and (b) on the sample: {delta:.2e}")
    say(f"efficient DMUs: {int(res['efficient'].sum())}; mean rho {res['rho'].mean():.4f}; "
        f"max peers {int(res['n_peers'].max())}")
    say()

    # (b) package, global frontier over the whole panel
    say(f"## Global frontier, {args.n} x {args.years} = {len(panel)} DMU-years, n_jobs={args.jobs}")
    t0 = time.perf_counter()
    glob = sbm(panel, unit="county", time="year", inputs=INPUTS, good=GOOD, bad=BAD, frontier="global",
               n_jobs=args.jobs)
    t_glob = time.perf_counter() - t0
    say(f"nqpf_helpers.sbm.sbm: {t_glob:.1f} s = {t_glob / 60:.2f} min "
        f"({1e3 * t_glob / len(panel):.2f} ms per DMU-year)   [target <= 10 min]")
    say(f"efficient DMU-years: {int(glob['efficient'].sum())}; mean rho {glob['rho'].mean():.4f}; "
        f"max peers {int(glob['n_peers'].max())}")
    # spot-check against the naive formulation with the whole panel as reference set
    check = np.sort(rng.choice(len(panel), size=3, replace=False))
    t0 = time.perf_counter()
    ref, _ = naive_loop(panel, check)
    t_check = time.perf_counter() - t0
    say(f"spot check against cvxpy on {len(check)} DMU-years ({t_check / len(check):.1f} s each with "
        f"{len(panel)} lambdas): max |delta rho| {np.abs(ref - glob['rho'].to_numpy()[check]).max():.2e}")

    if hasattr(os, "getloadavg"):
        say("load average (1, 5, 15 min) at end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
        print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
