"""Step: the sequence-only contact model as a model artifact, for queries without homologues.

Trains :mod:`sciml.proteins.sequence_model` on the cgdms chains (its train split; the val
split picks the best epoch) and saves it in the format of :mod:`sciml.proteins.saved_model`,
so ``predict`` loads it the same way as the contact network. PSICOV150 is never read here:
it is the benchmark (``config/benchmarks/proteins_psicov150_sequence.yaml``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def train_sequence_model(cfg: dict[str, Any], out_dir: str | Path, checkpoint_dir: str | Path, *,
                         data_root: str | Path | None = None, threads: int | None = None,
                         log: Any = None) -> dict[str, Any]:
    """Train and write ``out_dir/model.pt`` + ``model.json`` (format, feature spec, architecture,
    training chains with the sha256 of the split lists and their sequences (train and val, as
    ``train-model`` keeps its families'), epochs, best validation loss, pos_weight), learning curves under ``logs/`` and ``provenance.json``. Returns model.json's content."""
    from sciml.data import resolve
    from sciml.io import sha256_file
    from sciml.proteins import saved_model
    from sciml.proteins.sequence_model import CGDMS, train_sequence_model as fit_model
    from sciml.steps import resolve_threads, run_step

    log = log or (lambda m: print(m, file=sys.stderr))
    sm = cfg["sequence_model"]
    root = resolve(CGDMS, data_root)
    from sciml.proteins.workflow import sequence_model_section

    with run_step("proteins.train_sequence_model", cfg, out_dir, inputs=[root / "datasets"],
                  threads=resolve_threads(threads, cfg), provenance_config=sequence_model_section(cfg)) as step:
        res = fit_model(cfg, data_root, step.out_dir, checkpoint_dir, log=log)
        fit = res["fit"]
        meta = {
            "features": saved_model.sequence_feature_spec(),
            "architecture": {"name": "ContactResNet", "channels": int(sm["channels"]), "blocks": int(sm["blocks"])},
            "training": {"data": CGDMS, "n_train": res["n_train"], "n_val": res["n_val"], "n_skipped": len(res["skipped"]),
                         "split_sha256": {p.name: sha256_file(p) for p in res["split_files"]},
                         # the chains' sequences, so that predict can tell a training protein from a new one
                         "sequences": res["sequences"],
                         "epochs_run": [fit.epochs_trained],
                         "best_val_loss": [None if fit.best_score is None else round(float(fit.best_score), 6)],
                         "max_epochs": int(sm["max_epochs"]), "lr": float(sm["lr"]), "seed": int(cfg["seed"]),
                         "pos_weight": float(fit.module.hparams.pos_weight)},
            "cross_validation": None,
        }
        if not fit.is_global_zero:
            return meta
        for name in saved_model.MODEL_FILES:
            step.output(name)
        saved_model.save_model(step.out_dir, [fit.module.model.eval()], meta)
        log(f"sequence model: {res['n_train']} train / {res['n_val']} val chains, {fit.epochs_trained} epochs, "
            f"best val loss {fit.best_score}")
    return meta
