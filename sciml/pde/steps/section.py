"""Step ``section``: the pde report section from the evaluated problems."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciml.pde.steps.common import load_problem

#: Read from every ``evaluate`` folder.
EVALUATE_INPUTS = ("metrics.json", "timing.json", "fields.png", "loss.png")
#: Keys of a per-parameter row that are not the parameter itself.
_QUERY_KEYS = {"pinn_rel_l2", "pinn_inference_seconds", "points", "solver_level", "solver_seconds", "solver_rel_l2"}


def _fmt(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from sciml.errors import DataError

    try:
        return (json.loads((folder / "metrics.json").read_text()), json.loads((folder / "timing.json").read_text()))
    except (OSError, ValueError) as exc:
        raise DataError(folder, f"evaluation outputs missing or invalid ({exc})") from None


def operator_rows(folder: Path) -> tuple[list[Any], list[str]]:
    """One row of the operator table (and its warnings) from a ``pde operator`` output folder."""
    from sciml.errors import DataError

    try:
        m = json.loads((folder / "metrics.json").read_text())
        t = json.loads((folder / "timing.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(folder, f"operator outputs missing or invalid ({exc})") from None
    test = m["test"]["surrogate"]
    largest = max(t["speed"], key=lambda r: r["inputs"])
    matched = t.get("matched_solver") or {}
    best = [r for r in t["break_even"] if r["batch"] == largest["inputs"]]
    fastest = min((r["solver_seconds"] for r in best), default=None)
    be = next((r for r in best if r["solver_seconds"] == fastest), None)
    row = [folder.name, m["family"]["kind"], f"{test['median']:.3g} ({test['p90']:.3g})",
           _fmt(m["test"]["baseline_mean_solution"]["median"]),
           _fmt(t["generation_seconds"] + t["training_seconds"], ".4g"),
           f"{largest['inputs']}: {largest['seconds_per_query']:.3g}",
           f"{matched.get('level')}: {_fmt(fastest)}" if matched else "not reached",
           _fmt(be["speedup_per_query"], ".3g") if be else "-",
           (str(be["break_even_queries"]) if be and be["break_even_queries"] is not None else "never")]
    warnings = []
    if be is None or be["break_even_queries"] is None:
        warnings.append(f"operator {folder.name}: the classical solver is faster per query than the surrogate; "
                        "the surrogate never pays back its data and training")
    return row, warnings


def section(cfg: dict[str, Any], out_dir: str | Path, *, evaluate_dirs: Sequence[str | Path],
            solve_dirs: Sequence[str | Path] = (), train_dirs: Sequence[str | Path] = (),
            operator_dirs: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Write ``out_dir/section.json`` (accuracy and speed tables, figures, warnings) from the
    ``evaluate`` folders, one per problem. ``solve_dirs`` and ``train_dirs`` (same order as
    ``evaluate_dirs``, or empty) are the problems' other step folders, whose provenance the
    section lists; ``operator_dirs`` are output folders of ``pde operator`` (a table of operator
    surrogates); figure and provenance paths are relative to ``out_dir``. Returns
    ``{"section": path, "problems": [...], "warnings": n}``."""
    from sciml.errors import ConfigError
    from sciml.pde.problems.base import AGAINST_REFERENCE
    from sciml.report import Figure, Section, Table, write_section
    from sciml.steps import run_step

    evaluate_dirs = [Path(d) for d in evaluate_dirs]
    for what, dirs in (("solve", solve_dirs), ("train", train_dirs)):
        if dirs and len(dirs) != len(evaluate_dirs):
            raise ConfigError(f"pde.section.{what}_dirs", f"{len(dirs)} {what} folders for {len(evaluate_dirs)} "
                              "evaluate folders: give one per problem, in the same order")
    solve_dirs = [Path(d) for d in solve_dirs] or [None] * len(evaluate_dirs)
    train_dirs = [Path(d) for d in train_dirs] or [None] * len(evaluate_dirs)
    inputs = [d / n for d in evaluate_dirs for n in EVALUATE_INPUTS]
    acc_rows, check_rows, speed_rows, query_rows, figures, warnings, provenance, names = [], [], [], [], [], [], [], []
    no_solver: list[str] = []  # problems without a classical solver: no row in the speed table
    with run_step("pde.section", cfg, out_dir, inputs=inputs) as step:
        for folder, solve_dir, train_dir in zip(evaluate_dirs, solve_dirs, train_dirs):
            m, t = _read(folder)
            name = m["problem"]
            names.append(name)
            target = m["target_rel_l2"]
            its = m["iterations"]
            built_in = ("yes" if m["hard_constraints"] else "no") + (", odd symmetry" if m.get("exact_symmetry") else "")
            together = f" ({', '.join(m['fields'])} together)" if m.get("fields") else ""
            solver_field = f" ({m['solver_field']})" if m.get("solver_field") else ""
            acc_rows.append([name, m["reference"], m["evaluated_points"], _fmt(m["rel_l2"]) + together,
                             _fmt(m.get("rel_l2_after_initial_time")), _fmt(target),
                             _fmt(m["rel_l2_vs_finest_solver"]) + solver_field,
                             _fmt(m["solver_finest_rel_l2"]), m["precision"], built_in,
                             " / ".join(f"{k} {v}" for k, v in its.items())])
            v = m.get("validation") or {}
            per_field = m.get("rel_l2_per_field") or {}
            check_rows.append([name, _fmt(v.get("residual_rms")), _fmt(v.get("weak_residual")), _fmt(v.get("condition_rms")),
                               ", ".join(f"{f} {_fmt(e)}" for f, e in per_field.items()) or "-",
                               ", ".join(f"{g} {_fmt(e)}" for g, e in (m.get("rel_l2_groups") or {}).items()) or "-",
                               ", ".join(f"{f} {_fmt(s)}" for f, s in (m.get("gauge_shift") or {}).items()) or "-"])
            if m.get("reference_partial_coverage"):
                warnings.append(f"{name}: {m['reference_partial_coverage']}.")
            warnings += [f"{name}: {w}." for w in m.get("declaration_warnings", []) + m.get("reference_warnings", [])]
            # evaluate matched accuracies against the finest solve: the problem found its reference unreliable
            file_off = t.get("accuracy_matched_against", AGAINST_REFERENCE) != AGAINST_REFERENCE
            if target is not None and m["rel_l2"] > target:
                vs_fem = (f" Against the converged in-package solver it is {m['rel_l2_vs_finest_solver']:.3g}"
                          f" ({'within' if m['rel_l2_vs_finest_solver'] <= target else 'also above'} the target)."
                          if file_off else "")
                warnings.append(f"{name}: PINN relative L2 {m['rel_l2']:.3g} misses the target {target:g}.{vs_fem}")
            if m["lbfgs_stopped_early"]:
                qn = [k for k in m.get("iterations", {}) if k in ("bfgs", "ssbfgs")]
                if qn:  # dense BFGS runs in float64 only; its line search failed at some point
                    warnings.append(f"{name}: the {qn[0]} line search failed before its iteration budget "
                                    f"({m['lbfgs_restarts']} restarts from a fresh inverse Hessian).")
                else:
                    warnings.append(f"{name}: L-BFGS stopped before its iteration budget ({m['lbfgs_restarts']} "
                                    "restarts); common in float32, consider precision float64.")
            if m.get("kept_best"):
                kb = m["kept_best"]
                warnings.append(f"{name}: training ended on the weights kept before a point redraw (keep_best): "
                                f"validation score {kb['kept_score']:.3g} against {kb['last_score']:.3g} for the last "
                                "weights; the loss history is the optimiser's, of the last weights.")
            if file_off:
                caveat = load_problem(cfg, name).reference_caveat
                warnings.append(f"{name}: the converged in-package solver differs from {m['reference']} by "
                                f"{m['solver_finest_rel_l2']:.3g} relative L2, so errors against the file are bounded "
                                "below by about that; solver accuracy is matched against the finest solve."
                                + (f" {caveat}" if caveat else ""))
            lvl = t["solver_level_at_pinn_accuracy"]
            matched = (f"{_fmt(m['rel_l2_vs_finest_solver'])} (vs finest solve)" if file_off else _fmt(t["pinn_rel_l2"]))
            if t.get("pinn_rel_l2_field"):  # multi-field: matched on the field the solver computes
                matched += f" ({t['pinn_rel_l2_field']})"
            if t["solver_seconds_finest"] is None:  # an empty solver ladder: nothing to compare the PINN with
                no_solver.append(name)
            else:
                speed_rows.append([name, matched,
                                   ", ".join(f"{k}={v}" for k, v in lvl.items()) if lvl else "not reached",
                                   _fmt(t["solver_seconds_at_pinn_accuracy"], ".3g"), _fmt(t["solver_seconds_finest"], ".3g"),
                                   _fmt(t["pinn_train_seconds"], ".4g"), t["inference_points"],
                                   _fmt(t["pinn_inference_seconds"], ".3g"),
                                   _fmt(t["break_even_solves"]) if t["break_even_solves"] is not None else "never"])
            for q in m.get("per_parameter", []):
                par = next(k for k in q if k not in _QUERY_KEYS)
                query_rows.append([name, f"{par} = {q[par]:.4g}", _fmt(q["pinn_rel_l2"]), q["points"],
                                   _fmt(q["pinn_inference_seconds"]),
                                   ", ".join(f"{k}={v}" for k, v in q["solver_level"].items()) if q["solver_level"] else "not reached",
                                   _fmt(q["solver_seconds"])])
            figures.append(Figure(f"{name}: reference, PINN, error", step.rel(folder / "fields.png"),
                                  f"{name}: reference solution, PINN prediction and absolute error on the reference grid."))
            figures.append(Figure(f"{name}: training loss", step.rel(folder / "loss.png"),
                                  f"{name}: total training loss per stage (Adam, RAR rounds, L-BFGS)."))
            for prov in [d / "provenance.json" for d in (solve_dir, train_dir) if d is not None] + [folder / "provenance.json"]:
                if prov.is_file():
                    step.add_inputs([prov])
                    provenance.append(step.rel(prov))
        op_rows = []
        for folder in map(Path, operator_dirs):
            row, warn = operator_rows(folder)
            op_rows.append(row)
            warnings += warn
            step.add_inputs([folder / "metrics.json", folder / "timing.json"])
            if (folder / "provenance.json").is_file():
                provenance.append(step.rel(folder / "provenance.json"))
        provenance.append(step.rel(step.out_dir / "provenance.json"))  # this step's own, written on exit
        sec = Section(
            domain="pde",
            title="PDE: physics-informed neural networks vs classical solvers",
            summary=("PINNs (DeepXDE, PyTorch backend) trained with Adam, optional residual-based adaptive refinement "
                     "and L-BFGS, measured by relative L2 error against each problem's reference (the Accuracy "
                     "table names it: a shipped file, your own file or an analytic solution), and, where the problem "
                     "has an in-package classical solver, timed against it run to the same accuracy. "
                     f"Problems: {', '.join(names)}. Timings were taken on the machine that ran the pipeline "
                     "(possibly shared with other jobs)."),
            tables=[
                Table("Accuracy (relative L2 on the reference grid)",
                      ["problem", "reference", "reference points", "PINN rel. L2", "PINN rel. L2 after the initial time",
                       "target", "PINN vs finest solver",
                       "finest solver vs reference", "precision", "hard IC/BC (built-in symmetry)", "iterations"], acc_rows,
                      "Relative L2 = ||PINN - reference|| / ||reference|| over the reference's points, each point "
                      "weight 1 (no area or time-step weights, as PINNacle and DeepXDE score), so where a reference's "
                      "points are dense weighs more; a time-dependent problem in one space-time norm, its initial "
                      "slice included (the next column leaves it out); several fields summed together (per field in "
                      "the next table); a field fixed up to a constant measured about its reference's mean. Masked "
                      "points (outside the domain) are excluded. 'finest solver vs reference' validates the "
                      "in-package solver."),
                Table("Reference-free checks and fields",
                      ["problem", "PDE residual RMS (fresh points)", "PDE residual, dual norm (box domains)",
                       "condition misfit RMS (fresh points)",
                       "rel. L2 per field", "rel. L2 per group", "shift of fields fixed up to a constant"], check_rows,
                      "Residual and misfit on points never used in training (they read no reference: what settings "
                      "are chosen on); condition misfit covers "
                      "Dirichlet and initial conditions of declared problems ('-' where none, or built into the network)."),
                Table("Speed: solver to PINN accuracy vs PINN",
                      ["problem", "PINN rel. L2", "solver resolution at PINN accuracy", "solver s (that resolution)",
                       "solver s (finest)", "PINN training s", "N query points", "PINN inference s (N points)",
                       "break-even solves"], speed_rows,
                      "Solver time: one full solve onto the reference grid, best of repeats, cheapest resolution (grid "
                      "and time steps) whose error <= the PINN's, timed back to back with the PINN's inference "
                      "(the evaluate step); the finest solve's time is the solve step's own measurement. "
                      "Training: optimizer wall time. Break-even: smallest n with train + n*inference <= n*solver "
                      "('never' if the solver is faster per query); it counts repeated solves of the same problem, "
                      "which a stored solution answers without solving again, so it is a pay-off only where each "
                      "query is a new input (the parametric and operator tables)."
                      + (f" No classical solver for {', '.join(no_solver)} (no row)." if no_solver else "")),
            ] + ([Table("Parametric surrogate, per query (one parameter value each)",
                        ["problem", "query", "PINN rel. L2", "grid points", "PINN inference s",
                         "solver resolution at PINN accuracy", "solver s (that resolution)"], query_rows,
                        "One trained network answers every parameter value; each row is one value alone, against one "
                        "solve of that value at the cheapest resolution whose error <= the PINN's on it.")]
                 if query_rows else [])
              + ([Table("Operator surrogates (DeepONet) on held-out input functions",
                        ["operator", "family", "test median rel. L2 (p90)", "mean-solution baseline",
                         "data + training s", "inputs per batch: s per query", "matched solver level: s per solve",
                         "speed-up per query", "break-even queries"], op_rows,
                        "Settings chosen on validation input functions; test functions scored once. Matched solver: "
                        "the cheapest solver level whose error is <= the surrogate's test median (for Poisson the "
                        "faster of a solve from scratch and one reusing the factorisation). Break-even counts data "
                        "generation and training.")] if op_rows else []),
            figures=figures, warnings=warnings, provenance=provenance,
        )
        path = write_section(step.output("section.json"), sec)
    return {"section": str(path), "problems": names, "warnings": len(warnings)}
