"""Step ``train``: train the PINN (Adam, RAR rounds, L-BFGS), resuming from its checkpoint folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciml.pde.steps.common import load_problem, log, step_config, training_key, user_files

#: Written into ``out_dir`` (model.pt and model.json: :mod:`sciml.pde.saved_model`).
OUTPUTS = ("model.pt", "model.json", "train.json", "train_timing.json", "loss_history.csv")


def train(cfg: dict[str, Any], problem_name: str, out_dir: str | Path, *, checkpoint_dir: str | Path,
          threads: int | None = None, log: Callable[[str], None] = log) -> dict[str, Any]:
    """Train the problem's PINN and write the saved model, ``train.json`` (iterations per stage,
    final loss, L-BFGS behaviour, RAR anchors), ``train_timing.json`` (optimizer seconds) and
    ``loss_history.csv`` (iteration, stage, train_loss). Checkpoints go to a folder under
    ``checkpoint_dir`` keyed by the problem's step config (keep it outside the step outputs so
    a rerun resumes). Returns the content of train.json."""
    from sciml.io import write_csv_atomic, write_json_atomic
    from sciml.pde.pinn import build_pinn, train_pinn
    from sciml.pde.saved_model import MODEL_FILES, save_model
    from sciml.pde.timing import machine, torch_device
    from sciml.rounding import round_sig
    from sciml.steps import resolve_threads, run_step
    from sciml.training import checkpoint_dir as keyed_checkpoint_dir

    problem = load_problem(cfg, problem_name)
    scfg = step_config(cfg, problem_name, problem)
    ckpt = keyed_checkpoint_dir(checkpoint_dir, f"pde.train.{problem_name}", training_key(scfg))
    n_threads = resolve_threads(threads, cfg)
    # provenance records what training read: not `evaluation`, which the rule does not pass (it would show
    # the schema's defaults, not the run's settings)
    with run_step(f"pde.train.{problem_name}", cfg, out_dir, inputs=user_files(cfg, problem), threads=n_threads,
                  provenance_config=training_key(scfg), seed=cfg["seed"]) as step:
        problem.check_reference()  # a user's reference file: bad columns / points refused before training
        for w in problem.declaration_warnings():  # said before the hours of training, again in the report
            log(f"{problem_name}: WARNING: {w}")
        pinn = build_pinn(problem, cfg["pinn"], cfg["seed"])  # threads: set by run_step
        log(f"{problem.describe()}; hard constraints: {pinn.hard}; exact symmetry: {pinn.symmetric}; "
            f"precision {cfg['pinn']['precision']}; checkpoints in {ckpt}")
        report = train_pinn(pinn, ckpt, cfg["seed"], log=log)
        for name in MODEL_FILES:
            step.output(name)
        save_model(step.out_dir, pinn)
        final_loss = report.history[-1][2] if report.history else None
        summary = {
            "problem": problem_name, "hard_constraints": pinn.hard, "exact_symmetry": pinn.symmetric,
            "precision": cfg["pinn"]["precision"],
            "iterations": report.iterations, "final_train_loss": round_sig(final_loss),
            "lbfgs_stopped_early": report.lbfgs_stopped_early, "lbfgs_restarts": report.lbfgs_restarts,
            "rar_anchors": report.anchors, "stopped_by_time_budget": report.stopped_by_time_budget,
            "kept_best": report.kept_best,
            "max_train_seconds": cfg["pinn"].get("max_train_seconds"),
        }
        if report.loss_weights is not None:  # adaptive_weights: where the balancing ended
            summary["loss_weights"] = [round_sig(w) for w in report.loss_weights]
        if report.causal_min_weight is not None:  # causal: 1 means every time chunk was training at the end
            summary["causal_min_weight"] = round_sig(report.causal_min_weight)
        write_json_atomic(step.output("train.json"), summary)
        write_json_atomic(step.output("train_timing.json"), {
            "train_seconds": round(report.train_seconds, 3), "resumed_from": report.resumed_from,
            "note": "optimizer wall time summed over all stages and resumed runs; machine: where this run "
                    "trained (earlier runs it resumed from may have run elsewhere)",
            "machine": machine(torch_device(pinn.net)),
        })
        write_csv_atomic(step.output("loss_history.csv"), ["iteration", "stage", "train_loss"],
                         ([it, stage, f"{loss:.6e}"] for it, stage, loss in report.history))
        step.record.extra["checkpoint_dir"] = str(ckpt)
    return summary
