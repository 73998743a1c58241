"""Time the productivity indices and the m-out-of-n bootstrap.

Usage (from the project root)::

    .venv/bin/python benchmarks/bench_indices.py                  # full run
    .venv/bin/python benchmarks/bench_indices.py --quick          # smaller sizes, a smoke run
    .venv/bin/python benchmarks/bench_indices.py --out benchmarks/results/indices.txt

What is timed, in one run:

(a) GML (Oh 2010) on the world panel (168 countries x 28 years, VRS, 2
    inputs, 1 good, 3 bad outputs) with ``nqpf_helpers.indices`` (one
    patched HiGHS model per reference set, column generation on the global
    frontier), against a naive loop that builds one cvxpy ``Problem`` per
    distance (``ddf_cvxpy``), timed on a random sample of distances and
    extrapolated linearly to the 2 x 4,704 distances GML needs.  Target:
    <= 10 s.
(b) The bootstrap of one county-scale year: 2,843 synthetic units
    (``bench_sbm.county_like_panel``: 2 inputs, 1 good, 3 bad outputs),
    B = 200 subsamples of size m = n^0.6, every unit scored against every
    subsample.  Target: <= 60 s.

The machine is shared, so wall-clock times depend on what else runs: the
report gives the load average and the CPU time of this process and its
workers next to every wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sbm import county_like_panel  # noqa: E402

from nqpf_helpers.bootstrap import sbm_bootstrap  # noqa: E402
from nqpf_helpers.data import load_world_panel  # noqa: E402
from nqpf_helpers.indices import ddf_cvxpy, productivity_index  # noqa: E402

WORLD = dict(unit="iso3", time="year", inputs=["labour", "capital"], good=["gdp"], bad=["so2", "nox", "smoke"])


def cpu_seconds() -> float:
    """CPU time of this process plus its live and finished child processes (loky workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime
    try:  # loky keeps its workers alive, so ask them directly (psutil, when installed)
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    except ImportError:
        pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boot", type=int, default=200, help="bootstrap subsamples (default 200)")
    ap.add_argument("--n", type=int, default=2843, help="units in the county-scale year (default 2843)")
    ap.add_argument("--sample", type=int, default=60, help="distances timed with the naive cvxpy loop")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--only", choices=["all", "gml", "bootstrap"], default="all", help="run one part only")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.boot, args.n, args.sample = 10, 600, 20
    lines: list[str] = []

    def say(msg: str = "") -> None:
        print(msg, flush=True)
        lines.append(msg)

    def load() -> str:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())

    say("# Productivity indices and bootstrap benchmark")
    say(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    say(f"load average (1, 5, 15 min) at start: {load()}")

    if args.only != "bootstrap":
        gml_part(args, say, load)
    if args.only != "gml":
        bootstrap_part(args, say, load)
    say(f"\nload average (1, 5, 15 min) at end: {load()}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


def gml_part(args, say, load) -> None:
    """(a) GML on the world panel against a naive cvxpy loop."""
    world = load_world_panel(1990, 2017)
    n_units, n_years = world["iso3"].nunique(), world["year"].nunique()
    say(f"\n## (a) GML, world panel {n_units} x {n_years}, VRS")
    t0, c0 = time.perf_counter(), cpu_seconds()
    gml = productivity_index(world, **WORLD, index="gml")
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    say(f"nqpf_helpers.indices.productivity_index(index='gml'): {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"(load now {load()})   [target <= 10 s]")
    say(f"pairs: {len(gml)}, NaN: {int(gml['gml'].isna().sum())}")
    panel = world.sort_values(["iso3", "year"]).reset_index(drop=True)
    X, Y, B = (panel[c].to_numpy(float) for c in (WORLD["inputs"], WORLD["good"], WORLD["bad"]))
    rng = np.random.default_rng(0)
    rows = rng.choice(len(panel), args.sample, replace=False)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = np.array([ddf_cvxpy((X[i], Y[i], B[i]), X, Y, B)["value"] for i in rows])
    naive = (time.perf_counter() - t0) / args.sample
    naive_cpu = (time.process_time() - c0) / args.sample
    per_year = {y: np.flatnonzero(panel["year"].to_numpy() == y) for y in panel["year"].unique()}
    t0, c0 = time.perf_counter(), time.process_time()
    for i in rows[: max(5, args.sample // 3)]:
        r = per_year[panel["year"].iloc[i]]
        ddf_cvxpy((X[i], Y[i], B[i]), X[r], Y[r], B[r])
    naive_c = (time.perf_counter() - t0) / max(5, args.sample // 3)
    naive_c_cpu = (time.process_time() - c0) / max(5, args.sample // 3)
    naive_total = len(panel) * (naive + naive_c)
    naive_total_cpu = len(panel) * (naive_cpu + naive_c_cpu)
    say(f"naive cvxpy loop: {naive * 1e3:.0f} ms per global and {naive_c * 1e3:.0f} ms per contemporaneous "
        f"distance (sample of {args.sample}) -> extrapolated {naive_total:.0f} s for the {2 * len(panel)} distances")
    say(f"speed-up naive / package: {naive_total / wall:.0f}x wall-clock, "
        f"{naive_total_cpu / cpu:.0f}x CPU (naive loop: {naive_total_cpu:.0f} s CPU extrapolated)")
    d = gml.set_index(["iso3", "year"])
    fast = np.array([d["d_g_t1"].get((panel["iso3"].iloc[i], panel["year"].iloc[i]), np.nan) for i in rows])
    ok = np.isfinite(fast)
    say(f"max |delta D^G| package vs cvxpy on the sample: {np.max(np.abs(fast[ok] - ref[ok])):.1e}")



def bootstrap_part(args, say, load) -> None:
    """(b) the bootstrap of one county-scale year."""
    df = county_like_panel(args.n, 1, seed=0)
    say(f"\n## (b) m-out-of-n bootstrap, one county-scale year: {args.n} units, 2 inputs, 1 good, 3 bad, VRS")
    t0, c0 = time.perf_counter(), cpu_seconds()
    boot = sbm_bootstrap(df, unit="county", time="year", inputs=["labour", "capital"], good=["gdp"],
                         bad=["so2", "nox", "smoke"], n_boot=args.boot, seed=1, n_jobs=args.jobs)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    say(f"sbm_bootstrap(n_boot={args.boot}, m={int(boot['m'].iloc[0])}, n_jobs={args.jobs}): {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU (load now {load()})   [target <= 60 s]")
    say(f"mean interval width {float((boot['upper'] - boot['lower']).mean()):.4f}; "
        f"mean bias {float(boot['bias'].mean()):.4f}; mean rho {float(boot['rho'].mean()):.4f}")


if __name__ == "__main__":
    raise SystemExit(main())
