"""Step 1: one family's coevolution scores and their CASP precisions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: Sub-folder of the family folder holding the CASP RR predictions (``<family>.<method>.rr``).
RR_DIR = "rr"


def family_spec(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The entry of ``cfg["families"]`` named ``name`` (ConfigError listing the valid names)."""
    from sciml.errors import ConfigError

    for f in cfg["families"]:
        if f["name"] == name:
            return f
    raise ConfigError("proteins.families", f"no family named {name!r}; valid: {', '.join(f['name'] for f in cfg['families'])}")


def coevolution(cfg: dict[str, Any], family: str, out_dir: str | Path, *, data_root: str | Path | None = None,
                threads: int | None = None, log: Any = None, strict: bool = False) -> dict[str, Any]:
    """Score family ``family`` of ``cfg["families"]`` into ``out_dir``.

    Writes ``scores.npz`` (chain-level (L, L) Potts and mean-field scores, native map,
    (L, 22) profile), ``metrics.json`` (CASP precisions of both, alignment statistics),
    ``timings.json`` (seconds; kept apart so metrics.json stays byte-identical), the CASP RR
    files ``rr/<family>.potts.rr``/``rr/<family>.meanfield.rr`` and ``provenance.json``.
    A family whose files cannot be used is skipped: ``scores.npz`` and ``metrics.json`` then
    hold the reason, ``metrics.json`` also ``inputs`` (the path and sha256 of each of its files,
    ``"missing"`` for one that does not exist, :func:`sciml.proteins.inputs.entry_inputs`; the
    existing ones go into provenance.json too), ``timings.json`` is ``{}`` and ``rr/`` empty (one
    bad family among many is reported by the section, not a crash; the CLI exits 3 unless
    ``--allow-skip``). ``strict=True`` raises the :class:`~sciml.errors.DataError` instead (a notebook's
    choice). Returns ``metrics.json``'s content.
    """
    import numpy as np

    from sciml.errors import DataError
    from sciml.io import write_json_atomic
    from sciml.proteins import family as fam_io
    from sciml.proteins import metrics
    from sciml.proteins.inputs import checksummed_paths, entry_inputs
    from sciml.proteins.workflow import FAMILY_FILES, coevolution_section
    from sciml.rounding import round_fixed
    from sciml.steps import resolve_threads, run_step

    log = log or (lambda m: print(m, file=sys.stderr))
    spec = family_spec(cfg, family)
    with run_step("proteins.coevolution", cfg, out_dir, threads=resolve_threads(threads, cfg),
                  provenance_config=coevolution_section(cfg, spec["name"])) as step:
        try:
            fam = fam_io.load_family(spec, data_root, cfg["min_identity"])
        except DataError as exc:
            if strict:
                raise
            log(f"skipped family {spec['name']}: {exc}")
            fam_io.write_skipped_scores(step.output(fam_io.SCORES_FILE), spec["name"], str(exc))
            # which exact files were rejected: their sha256 ("missing" for one that does not exist)
            inputs = entry_inputs(spec, FAMILY_FILES, data_root)
            step.add_inputs(checksummed_paths(inputs))
            m = {"name": spec["name"], "skipped": str(exc), "inputs": inputs}
            write_json_atomic(step.output(fam_io.METRICS_FILE), m)
            write_json_atomic(step.output("timings.json"), {})  # nothing was fitted
            rr = step.output(RR_DIR)
            rr.mkdir(exist_ok=True)
            for stale in rr.glob("*.rr"):  # no predictions: an earlier run's into this folder are not this run's
                stale.unlink()
            return m
        step.add_inputs(fam.inputs)
        res = fam_io.coevolution(fam, cfg, log=log)
        fam_io.write_scores(step.output(fam_io.SCORES_FILE), fam, res["potts"], res["meanfield"],
                            fam_io.profile_features(fam))
        m = {
            "name": fam.name, "length": len(fam.sequence), "n_seqs": fam.n_seqs, "n_used": res["n_used"],
            "n_eff": round_fixed(res["n_eff"], 2), "query_row": fam.query_row + 1, "identity": round_fixed(fam.identity, 4),
            "notes": fam.notes, "potts": metrics.casp_precision(res["potts"], fam.native, fam.positions),
            "meanfield": metrics.casp_precision(res["meanfield"], fam.native, fam.positions),
            "potts_loss": res["potts_loss"], "potts_objective": res["potts_objective"],
            "potts_iterations": res["potts_iterations"], "potts_converged": res["potts_converged"],
            "potts_optimizer": res["potts_optimizer"],
        }
        write_json_atomic(step.output(fam_io.METRICS_FILE), m)
        # timings vary run to run: kept out of metrics.json so it stays byte-identical
        write_json_atomic(step.output("timings.json"), {
            "potts_s": round_fixed(res["potts_time_s"], 2), "potts_weights_s": round_fixed(res["potts_weights_s"], 2),
            "potts_fit_s": round_fixed(res["potts_fit_s"], 2), "meanfield_s": round_fixed(res["meanfield_time_s"], 2)})
        for method in ("potts", "meanfield"):
            metrics.write_casp_rr(step.output(f"{RR_DIR}/{fam.name}.{method}.rr"), fam.sequence,
                                  np.nan_to_num(res[method], nan=-np.inf), target=fam.name,
                                  max_pairs=5 * len(fam.sequence))
        if not res["potts_converged"] and res["potts_optimizer"].startswith("lbfgs"):
            log(f"{fam.name}: WARNING the Potts fit stopped at the iteration cap (proteins.potts.max_iter) before "
                "converging; raise it for a converged fit")
        log(f"{fam.name}: long L/5 potts {m['potts']['long_L/5']:.3f} meanfield {m['meanfield']['long_L/5']:.3f}")
    return m
