"""Step ``operator``: data of an input-function family -> DeepONet chosen on validation inputs ->
test accuracy and speed table; and ``operator_query``: guarded predictions of a saved operator.

Outputs of :func:`operator` in ``out_dir``: ``dataset.npz`` + ``dataset.json`` (reused when its
record matches the config), ``model/operator.pt`` + ``model/operator.json``, ``selection.json``,
``metrics.json`` (accuracy, no times), ``timing.json`` (speed table, break-even), ``report.txt``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciml.errors import ConfigError

#: Written into ``out_dir``.
OUTPUTS = ("dataset.npz", "dataset.json", "model/operator.pt", "model/operator.json", "selection.json",
           "metrics.json", "timing.json", "report.txt")
MODEL_KEYS = ("width", "depth", "latent", "activation", "branch_activation", "branch_depth", "periodic_features",
              "whiten_tol", "pod_tol", "lr", "iterations", "batch_size")


def load_operator_config(path: str | Path) -> dict[str, Any]:
    """The validated operator config of a YAML file (defaults filled). Each of ``model.candidates`` is checked as
    the model it makes (the model keys with the candidate's over them), so a misspelt key is refused naming the
    file before any data is generated, and ``lr: 1e-3`` (a string in YAML 1.1) is the number."""
    from sciml.config import load_yaml, schema_for, validate

    schema = schema_for("pde_operator")
    cfg = validate(load_yaml(path), schema, source=path)
    model = cfg["model"]
    base = {k: v for k, v in model.items() if k != "candidates"}
    for i, cand in enumerate(model["candidates"]):
        checked = validate({**json.loads(json.dumps(base)), **cand}, schema["properties"]["model"], source=path,
                           prefix=f"model.candidates[{i}]")
        model["candidates"][i] = {k: checked[k] for k in cand}
    return cfg


def family_of(cfg: dict[str, Any]):
    """The family object of the config: a built-in one, or (``kind: plugin``) the user's class from
    the ``family.plugin`` file built with ``family.options``, checked before any data is made."""
    from sciml.pde.operator.families import check_family, make_family

    fam = cfg["family"]
    kind = fam["kind"]
    if kind != "plugin":
        return make_family({"kind": kind, **fam["burgers" if kind == "burgers_grf" else "poisson"]})
    from sciml.pde.plugins import load_operator_family

    if not fam.get("plugin"):
        raise ConfigError("family.plugin", "kind: plugin needs family.plugin, the .py file defining the family")
    cls = load_operator_family(fam["plugin"])
    try:
        family = cls(**fam.get("options", {}))
    except Exception as exc:  # noqa: BLE001 -- the user's constructor rejected the options
        raise ConfigError("family.options", f"{cls.__name__}({fam.get('options', {})}) failed: "
                                            f"{type(exc).__name__}: {exc}") from None
    check_family(family, "family.plugin")
    return family


def _dataset(cfg: dict[str, Any], family, path: Path, log: Callable[[str], None], extra: dict[str, Any] | None = None):
    """Read the dataset at ``path`` if its record matches the config (and ``extra``, e.g. the plugin
    file's sha256: an edited solver regenerates the data), else generate and write it."""
    from sciml.pde.operator.datasets import SPLITS, read_dataset, write_dataset
    from sciml.pde.operator.families import split_rng, timed_reference

    want = {"family": family.spec(), "seed": cfg["seed"], "counts": {s: cfg["data"][s] for s in SPLITS},
            **(extra or {})}
    if path.is_file() and path.with_suffix(".json").is_file():
        arrays, record = read_dataset(path)
        if all(record.get(k) == v for k, v in want.items()):
            log(f"reusing {path} (sha256 {record['sha256'][:12]})")
            return arrays, record
    sensors = family.sensors()
    arrays, seconds = {"sensors": sensors, "points": family.points()}, {}
    for split in SPLITS:
        coeffs = family.sample(split_rng(cfg["seed"], split), cfg["data"][split])
        arrays[f"coeffs_{split}"] = coeffs
        arrays[f"inputs_{split}"] = family.input_function(coeffs, sensors[:, 0] if sensors.shape[1] == 1 else sensors)
        arrays[f"outputs_{split}"], seconds[split] = timed_reference(family, coeffs)
        log(f"{split}: {len(coeffs)} reference solves in {seconds[split]:.1f} s")
    record = write_dataset(path, arrays, {"family": family.spec(), "seed": cfg["seed"],
                                          "generation_seconds": seconds, **(extra or {})})
    return arrays, record


def _select(cfg: dict[str, Any], arrays, threads, log) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """(chosen model keys, one row per candidate with its validation score, seconds spent)."""
    import numpy as np

    from sciml.pde.operator import deeponet
    from sciml.pde.operator.evaluate import accuracy

    base = {k: cfg["model"][k] for k in MODEL_KEYS}
    rows, spent = [], 0.0
    for i, cand in enumerate(cfg["model"]["candidates"]):
        unknown = set(cand) - set(MODEL_KEYS) - {"iterations"}
        if unknown:
            raise ConfigError(f"model.candidates[{i}]",
                              f"unknown keys {sorted(unknown)} (known: {', '.join(MODEL_KEYS)})")
        trial = {**base, **cand, "iterations": cfg["model"]["select_iterations"], "seed": cfg["seed"],
                 "accelerator": cfg["accelerator"]}
        sur, info = deeponet.train(arrays, trial, threads=threads, log=log)
        spent += info["train_seconds"]
        val = accuracy(sur, arrays, "validation")["surrogate"]["median"]
        rows.append({"candidate": cand, "validation_median_rel_l2": val, "train_seconds": info["train_seconds"]})
        log(f"candidate {cand}: validation median rel L2 {val:.3e}")
    if not rows:
        return base, rows, spent
    best = rows[int(np.argmin([r["validation_median_rel_l2"] for r in rows]))]["candidate"]
    return {**base, **best, "iterations": cfg["model"]["iterations"]}, rows, spent


def operator(cfg: dict[str, Any], out_dir: str | Path, *, threads: int | None = None,
             log: Callable[[str], None] = print, config_file: str | Path | None = None) -> dict[str, Any]:
    """Generate (or reuse) the dataset, choose the model on validation inputs, train it, score it
    once on the test inputs and time it against the solver ladder. Returns the summary.
    ``config_file``, the YAML ``cfg`` was read from, is recorded with its sha256 among the inputs."""
    from sciml.io import write_json_atomic, write_text_atomic
    from sciml.pde.operator import deeponet
    from sciml.pde.operator import evaluate as evaluate_module
    from sciml.pde.operator.evaluate import (accuracy, break_even_table, format_report, matched_level,
                                             solver_ladder, surrogate_speed)
    from sciml.pde.operator.families import split_rng
    from sciml.steps import resolve_threads, run_step

    threads = resolve_threads(threads, cfg)
    with run_step("pde.operator", cfg, out_dir, threads=threads, seed=cfg["seed"],
                  inputs=[config_file] if config_file else ()) as step:
        family = family_of(cfg)
        extra = None
        if cfg["family"]["kind"] == "plugin":  # the user's solver code is an input of the data
            from sciml.io import sha256_file

            step.add_inputs([cfg["family"]["plugin"]])
            extra = {"plugin_sha256": sha256_file(cfg["family"]["plugin"])}
        arrays, record = _dataset(cfg, family, step.output("dataset.npz"), log, extra)
        step.output("dataset.json")
        chosen, rows, select_s = _select(cfg, arrays, threads, log)
        sur, info = deeponet.train(arrays, {**chosen, "seed": cfg["seed"], "accelerator": cfg["accelerator"]},
                                   data_sha256=record["sha256"], family_spec=family.spec(), threads=threads, log=log)
        step.output("model/operator.pt"), step.output("model/operator.json")
        deeponet.save(step.out_dir / "model", sur)
        write_json_atomic(step.output("selection.json"), {
            "rule": "each candidate trained select_iterations on the train split and scored on the validation "
                    "split; the lowest validation median rel L2 wins and is retrained for iterations. The test "
                    "split is scored once, after the choice.",
            "candidates": rows, "chosen": chosen, "history": info["history"]})
        val, test = accuracy(sur, arrays, "validation"), accuracy(sur, arrays, "test")
        ev = cfg["evaluation"]
        speed_inputs = family.input_function(family.sample(split_rng(cfg["seed"] + 1000, "test"), 100),
                                             arrays["sensors"][:, 0] if arrays["sensors"].shape[1] == 1
                                             else arrays["sensors"])
        speed = surrogate_speed(sur, speed_inputs, tuple(ev["batch_sizes"]), ev["timing_repeats"])
        k = min(ev["ladder_functions"], len(arrays["coeffs_test"]))
        ladder = solver_ladder(family, arrays["coeffs_test"][:k], arrays["outputs_test"][:k], ev["timing_repeats"])
        match = matched_level(ladder, test["surrogate"]["median"])
        gen_s = sum(record.get("generation_seconds", {}).get(s, 0.0) for s in ("train", "validation"))
        cost = gen_s + select_s + info["train_seconds"]
        summary = {"family": family.spec(), "sensors": int(arrays["inputs_train"].shape[1]),
                   "query_points": int(len(arrays["points"])), "counts": record["counts"],
                   "data_sha256": record["sha256"], "device": sur.device, "threads": threads,
                   "selection": {"chosen": chosen, "candidates": rows}, "validation": val, "test": test,
                   "generation_seconds": gen_s, "training_seconds": select_s + info["train_seconds"],
                   "speed": speed, "ladder": ladder, "matched_solver": match,
                   "break_even": break_even_table(cost, speed, match)}
        write_json_atomic(step.output("metrics.json"), {k: summary[k] for k in (
            "family", "sensors", "query_points", "counts", "data_sha256", "selection", "validation", "test")})
        write_json_atomic(step.output("timing.json"), {k: summary[k] for k in (
            "device", "threads", "generation_seconds", "training_seconds", "speed", "ladder", "matched_solver",
            "break_even")} | {"definitions": evaluate_module.__doc__})
        text = format_report(summary)
        write_text_atomic(step.output("report.txt"), text + "\n")
        log(text)
    return summary


def operator_query(model_dir: str | Path, inputs_file: str | Path, out_file: str | Path, *,
                   accelerator: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """Predict with a saved operator for the inputs (n, m) in ``inputs_file`` (npz key ``inputs``,
    or .npy) and write ``u`` (n, q), ``points`` (q, d) and ``out_of_range`` (n,) to ``out_file`` (npz)."""
    import numpy as np

    from sciml.errors import DataError
    from sciml.io import atomic_path
    from sciml.pde.operator import deeponet

    path = Path(inputs_file)
    try:
        raw = np.load(path, allow_pickle=False)
        inputs = raw["inputs"] if hasattr(raw, "files") else raw
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"cannot read query inputs ({exc})",
                        hint="An .npy array or an .npz with key 'inputs'.") from None
    sur = deeponet.load(model_dir, accelerator=accelerator, threads=threads)
    try:
        u, flags = sur.predict(inputs)
    except ValueError as exc:
        raise DataError(path, str(exc)) from None
    with atomic_path(out_file) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, u=u, points=sur.points, out_of_range=flags)
    return {"queries": int(len(u)), "out_of_range": int(flags.sum()), "out": str(out_file)}
