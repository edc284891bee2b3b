"""Accuracy of an operator surrogate on held-out inputs, and its speed against the classical solver.

Definitions (what each number includes):
- relative L2 of one input function: ||u_pred - u_ref|| / ||u_ref|| over the query points;
  reported as the median and the 10th/90th percentiles over the held-out functions;
- baseline: predicting the mean training solution for every input (what a model that ignores
  its input scores);
- surrogate time: wall time of ``Surrogate.predict`` (query guard + normalisation + forward
  pass + de-normalisation) for a batch of n inputs, median of ``repeats`` after one warm-up;
- solver time: one classical solve of one input onto the query points at a ladder level,
  median of ``repeats`` after one warm-up; for Poisson both from scratch (mesh, assembly,
  factorisation, load, solve, evaluation) and with the factorised matrix reused (load,
  triangular solves, evaluation), since a user solving many sources would reuse it;
- matched level: the fastest ladder level whose median relative L2 against the reference
  solve (over ``ladder_functions`` test inputs) is <= the surrogate's test median;
- break-even queries: smallest n with data generation + training (all selection runs
  included) + n * surrogate time per query <= n * matched solver time
  (:func:`sciml.pde.timing.break_even`); None when the solver is faster per query.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from sciml.pde.operator.families import rel_l2


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time (s) of ``repeats`` calls of ``fn`` after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def spread(errors: np.ndarray) -> dict[str, float]:
    """Median, 10th/90th percentile and max of per-function errors."""
    return {"median": float(np.median(errors)), "p10": float(np.percentile(errors, 10)),
            "p90": float(np.percentile(errors, 90)), "max": float(np.max(errors)), "n": int(len(errors))}


def accuracy(sur, arrays: dict[str, np.ndarray], split: str) -> dict[str, Any]:
    """Relative L2 of the surrogate and of the mean-training-solution baseline on ``split``."""
    x, y = arrays[f"inputs_{split}"], arrays[f"outputs_{split}"]
    pred = sur.predict_raw(x)
    base = np.broadcast_to(arrays["outputs_train"].mean(axis=0), y.shape)
    return {"surrogate": spread(rel_l2(pred, y)), "baseline_mean_solution": spread(rel_l2(base, y))}


def surrogate_speed(sur, inputs: np.ndarray, sizes: tuple[int, ...], repeats: int) -> list[dict[str, Any]]:
    """Batch time of ``predict`` for each batch size in ``sizes`` (rows of ``inputs`` reused)."""
    rows = []
    for n in sizes:
        batch = np.resize(inputs, (n, inputs.shape[1]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timing only; the guard still runs
            seconds = median_time(lambda: sur.predict(batch), repeats if n < 10000 else max(1, repeats // 2))
        rows.append({"inputs": n, "batch_seconds": seconds, "seconds_per_query": seconds / n})
    return rows


def solver_ladder(family, coeffs: np.ndarray, refs: np.ndarray, repeats: int) -> list[dict[str, Any]]:
    """Per ladder level: median rel L2 against ``refs`` over the rows of ``coeffs`` and the median
    time of one solve (from scratch; for Poisson also with the factorisation reused)."""
    rows = []
    reuse = family.kind == "poisson_lshape"
    for level in family.timed_ladder():
        errs = rel_l2(np.stack([family.solve(c, level) for c in coeffs]), refs)
        row = {"level": list(level) if isinstance(level, (list, tuple)) else level, "median_rel_l2": float(np.median(errs)),
               "seconds": median_time(lambda: family.solve(coeffs[0], level), repeats)}
        if reuse:
            row["seconds_reused_factorisation"] = median_time(lambda: family.solve(coeffs[0], level, reuse=True),
                                                              repeats)
        rows.append(row)
    return rows


def matched_level(ladder: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The fastest ladder row with median_rel_l2 <= target (None: no level that coarse/fine)."""
    ok = [r for r in ladder if r["median_rel_l2"] <= target]
    return min(ok, key=lambda r: r["seconds"]) if ok else None


def break_even_table(cost_s: float, speed: list[dict[str, Any]],
                     solver: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Break-even number of queries for each batch size and each solver timing of the matched level."""
    from sciml.pde.timing import break_even

    if solver is None:
        return []
    keys = [k for k in ("seconds", "seconds_reused_factorisation") if k in solver]
    return [{"batch": r["inputs"], "solver_timing": k, "solver_seconds": solver[k],
             "surrogate_seconds_per_query": r["seconds_per_query"],
             "speedup_per_query": solver[k] / r["seconds_per_query"],
             "break_even_queries": break_even(cost_s, r["seconds_per_query"], solver[k])}
            for r in speed for k in keys]


def format_report(summary: dict[str, Any]) -> str:
    """The figures as plain text (what the CLI prints)."""
    a = summary["test"]["surrogate"]
    b = summary["test"]["baseline_mean_solution"]
    lines = [f"family: {summary['family']['kind']}  ({summary['query_points']} query points, "
             f"{summary['sensors']} sensors)",
             f"chosen on validation: {summary['selection']['chosen']}  "
             f"(validation median rel L2 {summary['validation']['surrogate']['median']:.3e})",
             f"TEST median rel L2 {a['median']:.3e}  (p10 {a['p10']:.3e}, p90 {a['p90']:.3e}, max {a['max']:.3e}, "
             f"n={a['n']});  mean-solution baseline {b['median']:.3e}",
             f"cost: data generation {summary['generation_seconds']:.1f} s + training {summary['training_seconds']:.1f} s "
             f"(all selection runs)",
             "surrogate predict:  " + "; ".join(f"{r['inputs']} inputs {r['batch_seconds']:.4g} s "
                                                f"({r['seconds_per_query']:.3g} s/query)" for r in summary["speed"])]
    m = summary["matched_solver"]
    lines.append("solver ladder (level: median rel L2, s/solve): " + "; ".join(
        f"{r['level']}: {r['median_rel_l2']:.2e}, {r['seconds']:.4f}"
        + (f" ({r['seconds_reused_factorisation']:.4f} reused)" if "seconds_reused_factorisation" in r else "")
        for r in summary["ladder"]))
    if m is None:
        lines.append("no ladder level is as accurate as the surrogate's median: no matched solver time")
    else:
        lines.append(f"matched solver level {m['level']}: rel L2 {m['median_rel_l2']:.2e}, {m['seconds']:.4g} s/solve")
    for r in summary["break_even"]:
        be = r["break_even_queries"]
        lines.append(f"  batch {r['batch']:>5}: speed-up per query x{r['speedup_per_query']:.3g} vs solver "
                     f"({r['solver_timing']}); " + (f"break-even after {be} queries" if be is not None
                                                    else "never breaks even (the solver is faster per query)"))
    return "\n".join(lines)
