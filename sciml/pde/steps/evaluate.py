"""Step ``evaluate``: the trained PINN on the reference grid (accuracy, netCDF fields, plots)
and the speed comparison with the classical solver."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciml.pde.steps.common import load_problem, log, reference_label, step_config

#: Read from the ``train`` folder (``--model-dir``) and the ``solve`` folder (``--solver-dir``).
MODEL_INPUTS = ("model.pt", "model.json", "train.json", "train_timing.json", "loss_history.csv")
SOLVER_INPUTS = ("solver.json",)
#: Written into ``out_dir``.
OUTPUTS = ("metrics.json", "timing.json", "fields.nc", "fields.png", "loss.png")
#: train.json keys copied into metrics.json.
TRAIN_KEYS = ("iterations", "final_train_loss", "hard_constraints", "precision", "lbfgs_stopped_early",
              "lbfgs_restarts", "rar_anchors")


def _read_step_outputs(problem_name: str, model_dir: Path, solver_dir: Path) -> tuple[dict, dict, float, list]:
    """solver.json, train.json, the training seconds and the loss history rows; DataError if incomplete."""
    import csv

    from sciml.errors import DataError

    try:
        solver = json.loads((solver_dir / "solver.json").read_text())
        train = json.loads((model_dir / "train.json").read_text())
        train_time = json.loads((model_dir / "train_timing.json").read_text())["train_seconds"]
        history = list(csv.reader((model_dir / "loss_history.csv").read_text().splitlines()))[1:]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(model_dir, f"problem '{problem_name}': incomplete step outputs ({exc})") from None
    return solver, train, train_time, history


#: Seed offset of the fresh points of the reference-free validation metrics.
VALIDATION_SEED_OFFSET = 2000


def validation_metrics(problem: Any, pinn: Any, n: int, seed: int) -> dict[str, float | None]:
    """Reference-free checks of a trained PINN on ``n`` fresh points (none used in training):
    ``residual_rms``, the RMS of the PDE residual (summed |residuals| for several equations)
    inside the domain, and ``condition_rms``, the RMS misfit of the declared Dirichlet and
    initial conditions on fresh boundary / initial points (None where the problem has none, or
    gives no declaration(): a plugin writing its conditions in code); on a box domain of a problem
    with a declaration (not parametric) also ``weak_residual``, the residual's dual norm
    (:mod:`sciml.pde.weak_residual`), which a singular corner cannot dominate. Settings are
    chosen on these, never on the reference."""
    from sciml.rounding import round_sig

    seed = seed + VALIDATION_SEED_OFFSET
    rms, misfit = pinn.reference_free_checks(problem.uniform_points(n, seed), n, seed)
    out = {"points": n, "residual_rms": round_sig(rms), "condition_rms": round_sig(misfit)}
    n_space = _box_space_dims(problem)
    if n_space is not None:
        from sciml.pde.weak_residual import weak_residual

        weak = weak_residual(pinn.residuals, problem.bounds(), n_space, n)
        out["weak_residual"] = round_sig(weak["weak_residual"])
        out["weak_residual_per_equation"] = [round_sig(v) for v in weak["weak_residual_per_equation"]]
        out["weak_modes"], out["weak_points"] = weak["weak_modes"], weak["weak_points"]
    return out


#: Declared geometries whose sine modes vanish on the boundary (what the weak residual needs).
BOX_GEOMETRIES = ("interval", "rectangle", "box")


def _box_space_dims(problem: Any) -> int | None:
    """Spatial dimension of a declared box domain (optionally times a time interval), or None
    (other geometries, problems written in code, parametric problems): where the weak residual
    (:mod:`sciml.pde.weak_residual`) is defined."""
    physics = problem.physics()
    if physics is None or physics.spec["geometry"]["type"] not in BOX_GEOMETRIES or problem.parameter_dims:
        return None
    if len(problem.bounds()) != physics.dim + (physics.time is not None):
        return None
    return physics.dim


#: Fraction of an input's range below which the reference is said to cover only part of the domain.
MIN_REFERENCE_EXTENT = 0.9


def reference_extent(problem: Any, ref: Any) -> str | None:
    """None when the reference's points span at least ``MIN_REFERENCE_EXTENT`` of every input's
    range (``problem.bounds()``); else a sentence naming each input it covers only in part, e.g.
    ``x in [0, 0.5] of [0, 1]`` (the error is then measured on that part only)."""
    import numpy as np

    pts = ref.points()[np.asarray(ref.mask).ravel()]
    if not len(pts):
        return None
    short = []
    for k, (name, (lo, hi)) in enumerate(zip(problem.inputs, problem.bounds())):
        a, b = float(pts[:, k].min()), float(pts[:, k].max())
        if hi > lo and (b - a) < MIN_REFERENCE_EXTENT * (hi - lo):
            short.append(f"{name} in [{a:.4g}, {b:.4g}] of [{lo:.4g}, {hi:.4g}]")
    return ("reference points span " + ", ".join(short) + ": the error is measured there only") if short else None


def solver_comparison_line(problem_name: str, err: float, vs: str, ladder: list, solver_s: float | None,
                           train_s: float, infer_s: float, n_query: int) -> str:
    """The closing log line of ``evaluate``: the PINN's error (``vs``: against the finest solve, or
    "no classical solver"), the solver seconds at that accuracy (only where there is a solver ladder,
    so a problem without a solver says so once), training and inference seconds."""
    parts = [f"{problem_name}: PINN rel L2 {err:.3e} ({vs})"]
    if ladder:
        parts.append(f"solver at that accuracy {solver_s} s" if solver_s is not None
                     else "no solver level reaches that accuracy")
    parts += [f"train {train_s} s", f"inference {infer_s:.4f} s for {n_query} pts"]
    return "; ".join(parts)


def evaluate(cfg: dict[str, Any], problem_name: str, out_dir: str | Path, *, model_dir: str | Path,
             solver_dir: str | Path, data_root: str | Path | None = None, threads: int | None = None,
             log: Callable[[str], None] = log) -> dict[str, Any]:
    """Evaluate the PINN saved in ``model_dir`` (a ``train`` folder) against the reference and the
    finest solve, and time it against the solver ladder of ``solver_dir`` (a ``solve`` folder).

    Writes ``metrics.json`` (relative L2 vs the reference and vs the finest solve, the target,
    max |error|, training summary; per parameter value for parametric problems),
    ``timing.json`` (solver seconds at the PINN's accuracy, training and inference seconds,
    break-even solves), ``fields.nc`` and the two figures. Returns the metrics.
    """
    import numpy as np

    from sciml.io import write_json_atomic
    from sciml.pde import plots
    from sciml.pde.accuracy import masked_like, relative_l2
    from sciml.pde.fields import to_dataset, write_netcdf
    from sciml.pde.pinn import build_pinn
    from sciml.pde.problems.base import AGAINST_REFERENCE
    from sciml.pde.saved_model import load_model
    from sciml.pde.timing import best_time, break_even, machine, matching_level, per_parameter_queries, torch_device
    from sciml.rounding import round_sig
    from sciml.steps import resolve_threads, run_step

    from sciml.pde.accuracy import REL_L2_NORM, after_initial_time, joint_relative_l2, max_abs_errors, rms_error
    from sciml.pde.fields import to_dataset_fields
    from sciml.pde.steps.common import problem_files

    problem = load_problem(cfg, problem_name)
    model_dir, solver_dir = Path(model_dir), Path(solver_dir)
    inputs = (problem.reference_inputs(data_root) + problem_files(cfg, problem_name)
              + [model_dir / n for n in MODEL_INPUTS] + [solver_dir / n for n in SOLVER_INPUTS])
    n_threads = resolve_threads(threads, cfg)
    repeats = cfg["evaluation"]["timing_repeats"]
    with run_step(f"pde.evaluate.{problem_name}", cfg, out_dir, inputs=inputs, threads=n_threads,
                  provenance_config=step_config(cfg, problem_name, problem), seed=cfg["seed"]) as step:
        ref = problem.reference(data_root)
        pinn = build_pinn(problem, cfg["pinn"], cfg["seed"])  # threads: set by run_step
        load_model(model_dir, pinn)
        fields = problem.fields
        multi = len(fields) > 1
        raw = pinn.predict(ref.points())
        preds = ({f: raw[:, i].reshape(ref.shape) for i, f in enumerate(fields)} if multi
                 else {fields[0]: raw.reshape(ref.shape)})
        gauge = {}
        for f in problem.up_to_constant:  # compare modulo the additive constant the problem leaves free
            gauge[f] = float(np.nanmean(ref.field(f)[ref.mask] - preds[f][ref.mask]))
            preds[f] = preds[f] + gauge[f]
        pred = preds[fields[0]]
        centered = problem.up_to_constant  # their norm is taken about the reference's mean (accuracy.py)
        err = joint_relative_l2(preds, ref, fields, centered) if multi or centered else relative_l2(pred, ref)
        # the solver ladder is scored on the first field: the PINN is matched to it on that field alone
        err_first = joint_relative_l2(preds, ref, fields[:1], centered) if multi else err
        solver, train, train_time, history = _read_step_outputs(problem_name, model_dir, solver_dir)
        # Ground truth from the finest in-package solve as a second yardstick (where there is a solver).
        finest = problem.solve(ref, problem.finest_level()) if problem.has_solver else None
        err_vs_solver = relative_l2(pred, masked_like(finest, ref, "solver")) if finest is not None else None
        max_errs = max_abs_errors(preds, ref, fields)
        metrics = {
            "problem": problem_name, "reference": reference_label(ref.source, data_root),
            "rel_l2": round_sig(err), "rel_l2_vs_finest_solver": round_sig(err_vs_solver),
            "solver_finest_rel_l2": round_sig(solver["finest_rel_l2"]),
            "target_rel_l2": problem.target(),
            "max_abs_error": round_sig(max(max_errs.values())), "rel_l2_norm": REL_L2_NORM,
            "masked_points": int((~ref.mask).sum()), "evaluated_points": int(ref.mask.sum()),
            **{k: train[k] for k in TRAIN_KEYS},
            "exact_symmetry": bool(train.get("exact_symmetry", False)),
            **{k: train[k] for k in ("loss_weights", "causal_min_weight", "stopped_by_time_budget", "kept_best") if k in train},
        }
        if multi:  # rel_l2 above is over all fields together
            metrics["fields"] = list(fields)
            metrics["rel_l2_per_field"] = {f: round_sig(joint_relative_l2(preds, ref, (f,), centered)) for f in fields}
            metrics["rms_error_per_field"] = {f: round_sig(rms_error(preds[f], ref, f)) for f in fields}
            metrics["max_abs_error_per_field"] = {f: round_sig(v) for f, v in max_errs.items()}
            if problem.has_solver:  # the solver's figures (rel_l2_vs_finest_solver, the ladder) are of this field
                metrics["solver_field"] = fields[0]
            zero = [f for f, v in metrics["rel_l2_per_field"].items() if v is None]
            if zero:  # a relative error of a zero field is undefined: its rms error (absolute) stands for it
                metrics["rel_l2_undefined"] = zero
                log(f"{problem_name}: the reference of {', '.join(zero)} is identically zero: its relative L2 is "
                    "undefined (null in rel_l2_per_field); rms_error_per_field gives its absolute error")
        if problem.inputs[-1] == "t":
            later = after_initial_time(ref, problem.bounds()[-1][0])
            if later is not None:  # the initial slice, exact under hard constraints, left out
                metrics["rel_l2_after_initial_time"] = round_sig(joint_relative_l2(preds, ref, fields, centered, later))
        if gauge:
            metrics["gauge_shift"] = {f: round_sig(v) for f, v in gauge.items()}
        if problem.groups:
            metrics["rel_l2_groups"] = {g: round_sig(joint_relative_l2(preds, ref, members, centered))
                                        for g, members in problem.groups.items()}
        partial = reference_extent(problem, ref)
        if partial:  # the error is measured where the reference has points, not over the whole domain
            metrics["reference_partial_coverage"] = partial
            log(f"{problem_name}: the reference covers only part of the domain: {partial}")
        posed = problem.declaration_warnings()
        if posed:  # the solution is not unique: the error against one reference says little about the network
            metrics["declaration_warnings"] = posed
            for w in posed:
                log(f"{problem_name}: WARNING: {w}")
        mismatch = problem.reference_warnings(ref)
        if mismatch:  # the reference may be read in the wrong point order: its rel L2 would mean nothing
            metrics["reference_warnings"] = mismatch
            for w in mismatch:
                log(f"{problem_name}: WARNING: {w}")
        metrics["validation"] = validation_metrics(problem, pinn, int(ref.mask.sum()), cfg["seed"])
        if problem.parameter_dims:
            rows = per_parameter_queries(problem, ref, pinn.predict, pred, repeats, log=log)
            metrics["per_parameter"] = [{k: round_sig(v) if isinstance(v, float) else v for k, v in row.items()}
                                        for row in rows]
        write_json_atomic(step.output("metrics.json"), metrics)
        attrs = {"problem": problem_name, "equation": problem.describe(), "rel_l2": metrics["rel_l2"],
                 "rel_l2_vs_finest_solver": metrics["rel_l2_vs_finest_solver"]}
        vs = (f"{err_vs_solver:.2e} vs finest solver" if err_vs_solver is not None else "no classical solver")
        if multi:
            ds = to_dataset_fields(preds, ref, fields, attrs)
            write_netcdf(ds, step.output("fields.nc"))
            plots.plot_fields(ds, step.output("fields.png"), f"{problem.title}: PINN rel. L2 = {err:.2e} "
                                                             f"(all fields) vs reference", fields=fields)
        else:
            ds = to_dataset(pred, ref, attrs, solver=finest, field=fields[0])
            write_netcdf(ds, step.output("fields.nc"))
            plots.plot_fields(ds, step.output("fields.png"), f"{problem.title}: PINN rel. L2 = {err:.2e} vs reference, {vs}")
        plots.plot_loss([[int(h[0]), h[1], float(h[2])] for h in history], step.output("loss.png"),
                        f"{problem.title}: training loss")

        n_query = cfg["evaluation"]["inference_points"] or int(ref.mask.sum())
        Xq = problem.uniform_points(n_query, cfg["seed"] + 1000)
        infer_s, _ = best_time(lambda: pinn.predict(Xq), repeats)
        # Match the solver to the PINN's accuracy against the reference, or against the finest
        # solve where the problem finds the reference unreliable (Poisson L-shape's file).
        yardstick = (problem.accuracy_yardstick(solver["finest_rel_l2"]) if solver["ladder"]
                     else AGAINST_REFERENCE)
        match = (matching_level(solver["ladder"], err_first) if yardstick == AGAINST_REFERENCE
                 else matching_level(solver["ladder"], err_vs_solver, "rel_l2_vs_finest"))
        solver_s = None
        if match:  # re-timed here, back to back with the inference: the solve step may have run beside training
            problem.solve(ref, match["level"])  # untimed warm-up, as the ladder's
            solver_s, _ = best_time(lambda: problem.solve(ref, match["level"]), repeats)
        timing = {
            "problem": problem_name, "pinn_rel_l2": round_sig(err_first),
            **({"pinn_rel_l2_field": fields[0]} if multi else {}),
            "solver_level_at_pinn_accuracy": match["level"] if match else None,
            "solver_rel_l2_at_that_level": match["rel_l2"] if match else None,
            "accuracy_matched_against": yardstick,
            "solver_seconds_at_pinn_accuracy": solver_s,
            "solver_seconds_at_pinn_accuracy_in_solve_step": match["seconds"] if match else None,
            "solver_seconds_finest": solver["ladder"][-1]["seconds"] if solver["ladder"] else None,
            "pinn_train_seconds": train_time, "inference_points": n_query, "pinn_inference_seconds": infer_s,
            "break_even_solves": break_even(train_time, infer_s, solver_s) if solver_s is not None else None,
            "note": "see sciml/pde/timing.py for what each number includes; the solver seconds at the PINN's "
                    "accuracy and the inference seconds are timed back to back in this step (machine: where); "
                    "solver.json and train_timing.json record where theirs were. break_even_solves counts repeated "
                    "solves of this one problem, which a stored solution would answer without solving again: it "
                    "means a pay-off only where each query is a new input (a parameter, an operator's input)",
            "machine": machine(torch_device(pinn.net)),
        }
        write_json_atomic(step.output("timing.json"), timing)
        log(solver_comparison_line(problem_name, err_first, vs, solver["ladder"], solver_s, train_time, infer_s, n_query))
    return metrics
