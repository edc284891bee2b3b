"""Step: the contact network as a model artifact, trained on every scored family.

The family-held-out cross-validation (``cross_validate``) stays the honest estimate; this
step fits the same network, with the same settings, on all usable families (the last
``network.val_families`` by name pick the best epoch) and saves it for ``predict``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def train_model(cfg: dict[str, Any], family_dirs: list[str | Path], out_dir: str | Path, checkpoint_dir: str | Path,
                *, cv_dir: str | Path | None = None, threads: int | None = None, log: Any = None) -> dict[str, Any]:
    """Train on the family folders written by ``coevolution`` and write ``out_dir/model.pt``,
    ``model.json`` (format, feature spec, architecture, training/validation families, the
    sha256 of their ``scores.npz`` and their query sequences, and ``cv_dir/metrics.json``'s means when given), learning
    curves under ``logs/`` and ``provenance.json``. Returns model.json's content."""
    from sciml.errors import DataError
    from sciml.io import sha256_file
    from sciml.proteins import family as fam_io
    from sciml.proteins import saved_model, train
    from sciml.steps import resolve_threads, run_step

    log = log or (lambda m: print(m, file=sys.stderr))
    net = cfg["network"]
    inputs = [Path(d) / fam_io.SCORES_FILE for d in family_dirs]
    if cv_dir is not None:
        inputs.append(Path(cv_dir) / "metrics.json")
    from sciml.proteins.workflow import network_section

    with run_step("proteins.train_model", cfg, out_dir, inputs=inputs, threads=resolve_threads(threads, cfg),
                  provenance_config=network_section(cfg)) as step:
        fams, skipped, sha, sequences = [], [], {}, {}
        for d in family_dirs:
            z = fam_io.read_scored_family(d)
            if z is None:
                skipped.append(Path(d).name)
                continue
            fams.append(z)
            sha[z["name"]] = sha256_file(Path(d) / fam_io.SCORES_FILE)
            sequences[z["name"]] = z["sequence"]
        if len(fams) < 2:
            raise DataError(out_dir, f"only {len(fams)} usable scored families (need at least 2 to train and pick an epoch)",
                            hint="add families to proteins.families")
        res = train.train_final(fams, cfg, step.out_dir, checkpoint_dir, log=log)
        meta = {
            "features": saved_model.feature_spec(cfg),
            "architecture": {"name": "ContactResNet", "channels": int(net["channels"]), "blocks": int(net["blocks"])},
            "training": {"train_families": res["train"], "val_families": res["val"], "skipped_families": skipped,
                         "scores_sha256": sha, "epochs_run": res["epochs_run"], "best_val_loss": res["best_val_loss"],
                         # the query sequences, so that predict can tell a training protein from a new one
                         "sequences": sequences,
                         "max_epochs": int(net["max_epochs"]), "lr": float(net["lr"]), "seed": int(cfg["seed"]),
                         # the loss's contact weight: predict removes its bias from the logits
                         "pos_weight": res["pos_weight"]},
            "cross_validation": None,
        }
        if cv_dir is not None:
            from sciml.proteins.step_records import read_cv_record

            cv = read_cv_record(cv_dir)  # a DataError naming the file when it is missing or malformed
            # "skipped": why the whole CV was skipped (None when it ran); "skipped_families": the families
            # coevolution could not use, left out of it; "mean_counts": how many families each mean covers
            meta["cross_validation"] = {"mean": cv.get("mean"), "mean_counts": cv.get("mean_counts"),
                                        "mean_left_out": cv.get("mean_left_out"), "skipped": cv.get("skipped"),
                                        "families": sorted(cv.get("per_family", {})),
                                        "skipped_families": cv.get("skipped_families", [])}
        if not res["is_global_zero"]:
            return meta
        for name in saved_model.MODEL_FILES:
            step.output(name)
        saved_model.save_model(step.out_dir, res["members"], meta)
    return meta
