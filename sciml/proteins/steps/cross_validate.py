"""Step 2: family-held-out cross-validation of the contact network over the family folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: Sub-folder of the step's folder holding one ``fold<k>`` folder (learning curves) per fold.
FOLDS_DIR = "folds"
#: Fewest usable families the cross-validation runs on.
MIN_FAMILIES = 3


def cross_validate(cfg: dict[str, Any], family_dirs: list[str | Path], out_dir: str | Path,
                   checkpoint_dir: str | Path, *, threads: int | None = None, log: Any = None) -> dict[str, Any]:
    """Cross-validate the network on the scored families of ``family_dirs`` (coevolution folders).

    Writes ``out_dir/metrics.json``: per held-out family the network's CASP precisions beside
    the Potts and mean-field ones of the coevolution step (reused from each family's
    metrics.json), the folds, means over families (and per ensemble member); learning curves
    in ``out_dir/folds/fold<k>/logs/version_0/metrics.csv`` (ensemble members m >= 1 in
    ``fold<k>/members/member_<m>/logs/...``); ``provenance.json``. With the network
    disabled or fewer than :data:`MIN_FAMILIES` usable families, metrics.json is
    ``{"skipped": reason}``. ``checkpoint_dir`` is the checkpoint base (keep it outside the
    declared outputs so a rerun resumes). Returns what metrics.json holds.
    """
    from sciml.errors import ConfigError
    from sciml.io import write_json_atomic
    from sciml.proteins import family as fam_io
    from sciml.proteins import train
    from sciml.steps import resolve_threads, run_step

    log = log or (lambda m: print(m, file=sys.stderr))
    net = cfg["network"]
    inputs = [Path(d) / f for d in family_dirs for f in (fam_io.SCORES_FILE, fam_io.METRICS_FILE)]
    from sciml.proteins.workflow import network_section

    with run_step("proteins.cross_validate", cfg, out_dir, inputs=inputs,
                  threads=resolve_threads(threads, cfg), provenance_config=network_section(cfg)) as step:
        folds_dir = step.output(FOLDS_DIR)
        folds_dir.mkdir(exist_ok=True)  # empty when the network is skipped
        scored = [(Path(p).name, fam_io.read_scored_family(p)) for p in family_dirs]
        fams = [d for _, d in scored if d is not None]
        left_out = [name for name, d in scored if d is None]  # skipped by coevolution (its metrics.json says why)
        if not net["enabled"] or len(fams) < MIN_FAMILIES:
            why = ("disabled in the config" if not net["enabled"]
                   else f"only {len(fams)} usable families (need {MIN_FAMILIES})")
            result: dict[str, Any] = {"skipped": why}
        else:
            if net["folds"] < 2:
                raise ConfigError("proteins.network.folds", "need at least 2 folds")
            try:
                cv = train.cross_validate(fams, cfg, folds_dir, checkpoint_dir, log=log)
            except train.TooFewProteins as exc:
                cv = None
                result = {"skipped": str(exc)}
            if cv is not None:
                is_global_zero = cv.pop("is_global_zero")
                result = train.summarise(cv, int(net["ensemble"]))
                if not is_global_zero:  # another rank of a multi-process run: only rank 0 writes
                    return result
        if left_out:
            result["skipped_families"] = left_out
        write_json_atomic(step.output("metrics.json"), result)
    return result
