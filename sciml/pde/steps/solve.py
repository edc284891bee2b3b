"""Step ``solve``: validate the classical solver against the reference and time its resolution ladder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciml.pde.steps.common import load_problem, log, reference_label, step_config

#: Written into ``out_dir``.
OUTPUTS = ("solver.json",)


def solve(cfg: dict[str, Any], problem_name: str, out_dir: str | Path, *, data_root: str | Path | None = None,
          threads: int | None = None, log: Callable[[str], None] = log) -> dict[str, Any]:
    """Run the problem's solver at every level of its ladder onto the reference grid and write
    ``solver.json``: per level the wall time (s, best of ``evaluation.timing_repeats``) and the
    relative L2 error against the reference and against the finest level. Returns its content."""
    from sciml.io import write_json_atomic
    from sciml.pde.timing import machine, solver_ladder
    from sciml.steps import resolve_threads, run_step

    from sciml.pde.steps.common import problem_files

    problem = load_problem(cfg, problem_name)
    inputs = problem.reference_inputs(data_root) + problem_files(cfg, problem_name)
    with run_step(f"pde.solve.{problem_name}", cfg, out_dir, inputs=inputs,
                  threads=resolve_threads(threads, cfg), provenance_config=step_config(cfg, problem_name, problem),
                  seed=cfg["seed"]) as step:
        ref = problem.reference(data_root)
        log(f"{problem.describe()}; reference {ref.source} {ref.shape}, {int((~ref.mask).sum())} masked points")
        if not problem.has_solver:  # declared / plugin problems without a classical solver
            log(f"{problem_name}: no classical solver; accuracy is measured against the reference only")
            result = {"problem": problem_name, "reference": reference_label(ref.source, data_root), "reference_shape": list(ref.shape),
                      "masked_points": int((~ref.mask).sum()), "ladder": [], "finest_rel_l2": None,
                      "timing_note": "this problem has no classical solver", "machine": machine("cpu")}
            write_json_atomic(step.output("solver.json"), result)
            return result
        ladder = solver_ladder(problem, ref, cfg["evaluation"]["timing_repeats"], log=log)
        result = {
            "problem": problem_name, "reference": reference_label(ref.source, data_root), "reference_shape": list(ref.shape),
            "masked_points": int((~ref.mask).sum()),
            "ladder": ladder, "finest_rel_l2": ladder[-1]["rel_l2"],
            "timing_note": "seconds: best of timing_repeats wall times of one full solve onto the reference grid",
            "machine": machine("cpu"),  # the classical solvers run on the CPU (numpy / scipy)
        }
        write_json_atomic(step.output("solver.json"), result)
    return result
