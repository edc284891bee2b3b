"""Speed comparison: classical solver vs PINN, and the break-even number of solves.

Definitions (what each number includes):
- solver time: wall time of one call of the problem's solver at one resolution,
  producing the field on the whole reference grid (time stepping / assembly + linear
  solve + evaluation onto the reference points); best of ``repeats`` runs;
- solver time to PINN accuracy: the cheapest resolution on the ladder whose relative
  L2 error against the reference is <= the PINN's error (when the problem finds its
  reference unreliable, ``Problem.reference_is_reliable``: the converged solver differs
  from it by more than ``Problem.UNRELIABLE_REFERENCE_REL_L2``, both errors are measured
  against the finest solve instead, and the finest level itself is excluded);
- PINN training time: optimizer wall time summed over all stages (and over resumed
  runs), excluding model building and checkpoint writes;
- PINN inference time: one ``model.predict`` on N query points, best of ``repeats``;
- break-even solves: smallest n with train + n * inference <= n * solver, i.e.
  ceil(train / (solver - inference)); none if the solver is not slower per query;
- per query (parametric surrogates, e.g. Burgers over nu): the same comparison for each
  parameter value alone: one PINN prediction on that value's grid against one solve of
  that value at the cheapest level reaching the PINN's error on it.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def machine(device: str) -> dict[str, Any]:
    """Where a step's seconds were measured, read at run time: ``cpu`` (:func:`sciml.provenance.cpu_model`),
    ``logical_cpus`` (``os.cpu_count()``), ``torch_threads`` (None when the step ran no torch),
    ``device`` (where the timed work ran: ``cpu`` or a torch device such as ``cuda:0``),
    ``gpus`` where there are any, and ``platform`` as provenance.json records it. No claim about
    other jobs sharing the host: these are the facts, not the load."""
    from sciml.provenance import cpu_model, device_info

    info = device_info()  # torch threads and GPUs, as provenance.json records them (torch not imported: {})
    out = {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "torch_threads": info.get("torch_threads"),
           "device": str(device), "platform": platform.platform()}
    if info.get("gpus"):
        out["gpus"] = info["gpus"]
    return out


def torch_device(module: Any) -> str:
    """Device of a torch module's first parameter (``cpu`` when it has none)."""
    try:
        return str(next(module.parameters()).device)
    except (AttributeError, StopIteration):
        return "cpu"


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Minimum wall time of ``repeats`` calls (seconds) and the last result."""
    best, out = math.inf, None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


#: The key of a solver level that sets its time steps per output interval (the built-in time-dependent problems).
TIME_STEPS_KEY = "steps_per_output"


def fewer_time_steps(steps: int) -> list[int]:
    """The cheaper time resolutions a speed comparison also times for a level of ``steps`` steps per output
    interval: 1 and half of it (none below it for ``steps`` 1)."""
    return sorted({1, steps // 2} - {steps}) if steps > 1 else []


def timed_levels(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ladder a speed comparison times: every level of ``levels`` (coarse to fine), each preceded by the same
    grid with fewer time steps per output interval (1 and half of its own, when it has ``steps_per_output``).

    The built-in ladders refine time with space (e.g. Burgers (512, 4)); where the error is spatial the extra
    steps cost time and buy no accuracy, so "the cheapest solve at the PINN's accuracy" was up to 3-7x slower
    than the cheapest that exists (measured by an audit, 2026-12-07). The finest level stays last (the
    yardstick when the reference file is unreliable)."""
    out: list[dict[str, Any]] = []
    for level in levels:
        steps = level.get(TIME_STEPS_KEY)
        if isinstance(steps, int):
            out += [{**level, TIME_STEPS_KEY: fewer} for fewer in fewer_time_steps(steps)]
        out.append(level)
    return out


def solver_ladder(problem, ref, repeats: int, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Time (s) and relative L2 error of the solver at every level of :func:`timed_levels` (coarse to fine):
    one row ``{level, seconds, rel_l2, rel_l2_vs_finest}`` per level, errors against ``ref`` and against the
    finest level's field."""
    from sciml.pde.accuracy import masked_like, relative_l2

    rows, fields = [], []
    levels = timed_levels(problem.solver_levels())
    problem.solve(ref, levels[0])  # untimed warm-up: lazy imports and first-call overheads
    for level in levels:
        seconds, u = best_time(lambda: problem.solve(ref, level), repeats)
        err = relative_l2(u, ref)
        rows.append({"level": level, "seconds": seconds, "rel_l2": err})
        fields.append(u)
        log(f"solver {level}: rel L2 {err:.3e} in {seconds:.3f} s")
    finest = masked_like(fields[-1], ref, "finest solve")
    for row, u in zip(rows, fields):
        row["rel_l2_vs_finest"] = relative_l2(u, finest)
    return rows


def matching_level(ladder: list[dict[str, Any]], target: float, key: str = "rel_l2") -> dict[str, Any] | None:
    """The fastest ladder entry with ``entry[key] <= target`` (None if none reaches it).

    ``key`` is ``rel_l2`` (error against the reference) or ``rel_l2_vs_finest`` (against
    the finest solve, used when the reference file itself disagrees with the converged solver).
    """
    ok = [r for r in ladder[:-1] if r[key] <= target] if key == "rel_l2_vs_finest" else \
        [r for r in ladder if r[key] <= target]
    return min(ok, key=lambda r: r["seconds"]) if ok else None


def break_even(train_s: float, infer_s: float, solver_s: float) -> int | None:
    """Number of solves after which training + inference beats repeated solving (None: never)."""
    gain = solver_s - infer_s
    if gain <= 0:
        return None
    return max(1, math.ceil(train_s / gain))


def per_parameter_queries(problem, ref, predict: Callable[[Any], Any], pred: Any, repeats: int,
                          log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """A parametric surrogate compared per query: for each value of the problem's first
    parameter dim (e.g. nu), the PINN's relative L2 on that slice, its inference time for
    the slice, and the cheapest solver level that reaches the same error (vs the reference
    slice) with its time. ``pred`` is the PINN prediction on the whole reference grid."""
    from sciml.pde.accuracy import relative_l2
    from sciml.pde.references import Reference

    dim = problem.parameter_dims[0]
    axis = ref.dims.index(dim)
    pred = np.asarray(pred, dtype=float).reshape(ref.shape)
    rows = []
    for i, value in enumerate(ref.coords[dim]):
        take = [slice(None)] * len(ref.dims)
        take[axis] = slice(i, i + 1)
        sub = Reference(ref.dims, {**ref.coords, dim: ref.coords[dim][i:i + 1]}, ref.values[tuple(take)],
                        ref.source, inputs=ref.inputs)
        err = relative_l2(pred[tuple(take)], sub)
        pts = sub.points()
        infer_s, _ = best_time(lambda: predict(pts), repeats)
        match = None
        # coarse to fine, each grid with its fewest time steps first; stop at the first that is good enough
        for level in timed_levels(problem.solver_levels()):
            seconds, u = best_time(lambda: problem.solve(sub, level), repeats)
            if relative_l2(u, sub) <= err:
                match = {"level": level, "seconds": seconds, "rel_l2": relative_l2(u, sub)}
                break
        rows.append({dim: float(value), "pinn_rel_l2": err, "pinn_inference_seconds": infer_s, "points": len(pts),
                     "solver_level": match["level"] if match else None,
                     "solver_seconds": match["seconds"] if match else None,
                     "solver_rel_l2": match["rel_l2"] if match else None})
        log(f"{dim}={value:.5g}: PINN rel L2 {err:.3e}, inference {infer_s:.4f} s; solver "
            + (f"{match['level']} {match['seconds']:.4f} s" if match else "finer than its finest level needed"))
    return rows
