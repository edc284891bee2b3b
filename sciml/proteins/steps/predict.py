"""Step: contact prediction for one target from its alignment, with or without a structure.

A target is ``{name, alignment, format?, query?, structure?, chain?, model?, scores?}``
(paths resolve against the data root like every other input). Writes into ``out_dir``:

- ``prediction/<name>.rr``: CASP RR (``PFRMAT RR``), the top 5 L pairs (|i-j| >= 6) with
  the network's contact probability (its calibrated sigmoid output, not rescaled);
- ``prediction/<name>.contacts.npz``: ``probs`` (L, L) float32 (NaN for |i-j| < 6: no network trains on
  those pairs, so their outputs are no probabilities), the Potts/external and (for an ``alignment`` network)
  mean-field channels, the query ``sequence``;
- ``prediction/<name>.contact_map.png``;
- ``metrics.json``: alignment depth (sequences, N_eff, N_eff/L, Nf, coverage, shallow and its severity),
  with ``scores`` what the external matrix lacked (``scores_input``: unscored pairs, asymmetry),
  the model used, and with a structure the CASP precisions of the network and of the
  coevolution scores it refined, beside the separation-only baseline;
- ``section.json`` (the report section) and ``provenance.json``.

A query without homologues (an alignment of one sequence, e.g. a plain FASTA) is predicted by
the sequence-only model (``sequence_model_dir``, written by ``train-sequence-model``), and
the section says so; so is every target when no contact network is given. The exception: a
network trained with ``network.features: scores`` refines an external ``scores`` matrix given
with the sequence alone (e.g. a GREMLIN/CCMpred matrix computed elsewhere).

A target whose files cannot be used is skipped: ``metrics.json`` holds the reason and ``inputs``
(path and sha256 of each of its files, ``"missing"`` for one that does not exist), the section
shows both, ``prediction/`` stays empty, and nothing else fails.

``metrics.json``'s ``model`` says which model predicted the target (folder, the sha256 of
``model.pt`` and ``model.json``, whether it is the one shipped with sciml); the target's section
shows that in one row, and the proteins section shows each model once with its training record
(training families and their sha256, cross-validation, seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: Sub-folder of the target folder holding the prediction files.
PREDICTION_DIR = "prediction"
#: Note of the report table of a skipped target's (or family's) input files.
SKIPPED_INPUTS_NOTE = ("The files as the step read them, with the sha256 of their bytes when it ran: the exact files "
                       "that were rejected. 'missing': no file at that path.")
#: Endings of the files a prediction writes into PREDICTION_DIR (removed before each run).
PREDICTION_SUFFIXES = (".rr", ".contacts.npz", ".contact_map.png")

#: What is measured of the packaged score refiner's probabilities on matrices of another tool
#: (benchmarks/proteins/refiner_calibration.py, BENCHMARKS.md).
PACKAGED_REFINER_CALIBRATION = (
    "the packaged score refiner's probabilities are over-confident on another tool's matrices: on PSICOV150's "
    "GREMLIN matrices the pairs it gives 0.1-0.9 were contacts 0.06-0.11 less often than predicted, and its "
    "probabilities summed to 1.38x the observed contacts (median per protein): rank by them, but do not read "
    "them as calibrated probabilities")


def clear_predictions(pred_dir: Path) -> list[Path]:
    """Remove the prediction files an earlier run left in ``pred_dir`` (any target name; other
    files are left alone), so a skipped or re-run target never shows a stale prediction.
    Returns the files removed."""
    removed = []
    for p in sorted(pred_dir.iterdir()) if pred_dir.is_dir() else []:
        if p.is_file() and not p.is_symlink() and p.name.endswith(PREDICTION_SUFFIXES):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def model_used_table(model: dict[str, Any]) -> Any:
    """The one-row table of a target's section saying which model predicted it (``metrics.json``'s
    ``model``); the model's training record is shown once, in the proteins section."""
    from sciml.report import Table

    source = (f"shipped with sciml ({Path(model['dir']).name})" if model.get("packaged") else str(model["dir"]))
    return Table("Model", ["kind", "model folder", "model.pt sha256"], [[model["kind"], source, model["sha256"]]],
                 "Its training families with their sha256, its cross-validation metrics and seeds: the proteins "
                 "section (Models used by the prediction targets), or model.json in the model folder.")


def _setting(target: dict[str, Any], cfg: dict[str, Any], key: str, default: Any) -> Any:
    """The target's own ``key`` when set (0 included), else the section's, else ``default``."""
    value = target.get(key)
    return value if value is not None else cfg.get(key, default)


def separation_baseline(L: int, positions: Any = None) -> Any:
    """(L, L) scores that rank pairs by sequence separation alone (closer = higher), the
    floor a contact predictor must beat; ``positions`` ((L,) int): the residues' places along the
    sequence when they are not 0..L-1 (a query whose insert residues were dropped)."""
    import numpy as np

    pos = np.arange(L) if positions is None else np.asarray(positions)
    return -np.abs(np.subtract.outer(pos, pos)).astype(float)


def target_precisions(fam: Any, probs: Any, coevolution: Any = None) -> dict[str, Any]:
    """CASP precisions of a target with a structure: ``network`` (``probs``), ``coevolution`` (when given) and
    ``separation_baseline``, each (L, L) over the predicted residues. A query with residues in insert states
    (``fam.residue_numbers``) is scored along its own full sequence, as CASP counts: separations between the
    residues' numbers in it and L its full length (the dropped residues unscored)."""
    import numpy as np

    from sciml.proteins import metrics

    pos, length = None, None
    if fam.residue_numbers is not None:
        pos = np.asarray(fam.residue_numbers, dtype=np.int64) - 1
        length = len(fam.full_sequence)
    out = {"network": metrics.casp_precision(probs, fam.native, pos, length)}
    if coevolution is not None:
        out["coevolution"] = metrics.casp_precision(coevolution, fam.native, pos, length)
    out["separation_baseline"] = metrics.casp_precision(separation_baseline(len(probs), pos), fam.native, pos,
                                                        length)
    return out


def target_path(path: str | Path, data_root: str | Path | None) -> Path:
    """An absolute path as it is (the CLI passes the user's files so), else a path under the data root."""
    from sciml.proteins.inputs import entry_path

    return entry_path(path, data_root)


def config_target(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """The entry of ``cfg["targets"]`` named ``name`` (ConfigError listing the valid names)."""
    from sciml.errors import ConfigError

    for t in cfg.get("targets", []):
        if t["name"] == name:
            return t
    raise ConfigError("proteins.targets", f"no target named {name!r}; valid: "
                      + (", ".join(t["name"] for t in cfg.get("targets", [])) or "none configured"))


def target_name_pattern() -> str:
    """The target-name pattern of the schema (``proteins.targets[].name``)."""
    from sciml.config import schema_for

    return schema_for("proteins")["properties"]["targets"]["items"]["properties"]["name"]["pattern"]


def file_target(alignment: str | Path, *, name: str | None = None, fmt: str | None = None, query: str | None = None,
                structure: str | Path | None = None, chain: str | None = None, min_identity: float | None = None,
                scores: str | Path | None = None) -> dict[str, Any]:
    """A target entry for the user's own files (paths resolved from the working directory, as given on the
    command line); ``name`` defaults to the alignment's file name up to the first dot, and a name that is not
    allowed in file names and the RR is a DataError naming the file."""
    import re

    from sciml.errors import DataError

    def local(p: str | Path | None) -> str | None:
        return None if p is None else str(Path(p).resolve())

    if name is None:
        name = Path(alignment).name.split(".")[0]
        if not re.fullmatch(target_name_pattern(), name):
            raise DataError(alignment, f"the file name gives the target name {name!r}, which is not allowed in "
                                       "file names and the RR (letters, digits and _ . - only)",
                            hint="pass --name with a valid name")
    return {"name": name, "alignment": local(alignment), "format": fmt, "query": query, "structure": local(structure),
            "chain": chain, "min_identity": min_identity, "scores": local(scores)}


def check_training_overlap(query: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Whether ``query`` is one of the model's training proteins (:func:`sciml.proteins.mapping.training_overlap`
    over model.json's training sequences): ``{"family", "identity", "aligned"}``, ``{"family": None}`` when none
    is that close, or ``{"checked": False, "why"}`` for a model.json without training sequences (``train-model`` and
    ``train-sequence-model`` keep them)."""
    from sciml.proteins.mapping import TRAINING_OVERLAP_IDENTITY, training_overlap

    sequences = (meta.get("training") or {}).get("sequences")
    if not sequences:
        return {"checked": False, "why": "model.json holds no training sequences to compare the query with"}
    hit = training_overlap(query, sequences)
    return {"checked": True, "threshold": TRAINING_OVERLAP_IDENTITY, **(hit or {"family": None})}


def check_target_keys(target: dict[str, Any]) -> None:
    """Refuse a target entry (a notebook's dict; the config's are validated already) with a key that
    ``proteins.targets`` does not know (a misspelt ``structure`` would be ignored silently) or
    without ``name`` / ``alignment``: ConfigError naming the key and the known ones."""
    import copy

    from sciml.config import schema_for, validate
    from sciml.errors import ConfigError

    item = schema_for("proteins")["properties"]["targets"]["items"]
    known = item["properties"]
    for key in target:
        if key not in known:
            raise ConfigError(f"proteins.targets[{target.get('name', '?')}].{key}",
                              f"unknown key (known: {', '.join(known)})")
    for key in item["required"]:
        if not target.get(key):
            raise ConfigError(f"proteins.targets[{target.get('name', '?')}].{key}", "required, not given")
    # types and the name's pattern (letters, digits, _ . -: the name becomes file names, so no '/' or '..')
    validate(copy.deepcopy({k: str(v) if isinstance(v, Path) else v for k, v in target.items()}), item,
             prefix=f"proteins.targets[{target.get('name', '?')}]")


def predict(cfg: dict[str, Any], model_dir: str | Path | None, target: dict[str, Any], out_dir: str | Path, *,
            sequence_model_dir: str | Path | None = None, data_root: str | Path | None = None,
            threads: int | None = None, log: Any = None, strict: bool = False) -> dict[str, Any]:
    """Predict ``target`` with the saved network in ``model_dir`` (alignments) or the sequence-only
    model in ``sequence_model_dir`` (single sequences); with neither, the network shipped in the
    package (:func:`sciml.proteins.saved_model.default_model_dir`). Returns metrics.json's content.

    Writes into ``out_dir`` (one target per folder: a run removes the prediction files it finds there)
    ``prediction/<name>.rr`` (CASP RR), ``prediction/<name>.contacts.npz`` (``probs``: the (L, L)
    probabilities, NaN for |i-j| < 6, with the coevolution channels) and ``prediction/<name>.contact_map.png``, plus
    metrics.json, section.json and provenance.json. A target whose inputs cannot be used is skipped (the
    returned dict then has ``skipped``: the reason, and the workflow counts it); ``strict=True`` raises
    the :class:`~sciml.errors.DataError` instead, as a notebook wants."""
    import numpy as np

    from sciml.errors import DataError
    from sciml.io import atomic_path, sha256_file, write_json_atomic
    from sciml.proteins import metrics, plots, saved_model
    from sciml.proteins.inputs import checksummed_paths, entry_inputs, input_rows
    from sciml.proteins.predict import (check_length, model_cv_warning, predict_sequence, predict_target,
                                        read_score_matrix)
    from sciml.proteins.query import alignment_depth, depth_warning, load_query
    from sciml.report import Figure, Section, Table, write_section
    from sciml.rounding import round_fixed
    from sciml.proteins.workflow import TARGET_FILES
    from sciml.steps import resolve_threads, run_step

    log = log or (lambda m: print(m, file=sys.stderr))
    check_target_keys(target)
    name = str(target["name"])
    target_model_dir = model_dir
    # neither model given: the network shipped in the package
    model_dir = saved_model.default_model_dir(model_dir, sequence_model_dir, bool(target.get("scores")), log)
    dirs = [Path(d) for d in (model_dir, sequence_model_dir) if d is not None]
    with run_step("proteins.predict", cfg, out_dir, inputs=[d / f for d in dirs for f in saved_model.MODEL_FILES],
                  threads=resolve_threads(threads, cfg)) as step:
        pred_dir = step.output(PREDICTION_DIR)
        pred_dir.mkdir(exist_ok=True)
        for p in clear_predictions(pred_dir):  # a skip or a re-run must not leave the last run's files
            log(f"removed the earlier prediction file {p}")
        # a broken model fails every target: raise
        network = saved_model.load_model(model_dir) if model_dir is not None else None
        sequence = saved_model.load_model(sequence_model_dir) if sequence_model_dir is not None else None
        for d, loaded, want in ((model_dir, network, False), (sequence_model_dir, sequence, True)):
            if loaded is not None and saved_model.is_sequence_model(loaded[1]) != want:
                raise DataError(Path(d) / saved_model.META_FILE, "is a " + ("contact network" if want else "sequence-only model")
                                + " but was given as the " + ("sequence-only model" if want else "contact network"))
        try:
            aln_path = target_path(target["alignment"], data_root)
            st_path = target_path(target["structure"], data_root) if target.get("structure") else None
            fam = load_query(aln_path, target.get("format"), target.get("query"), st_path, target.get("chain"),
                             int(target.get("model", 0)), float(_setting(target, cfg, "min_identity", 0.9)),
                             name=name, min_rows=1)
            # one sequence: the sequence-only model, unless a scores network refines a given matrix
            refine_alone = (network is not None and bool(target.get("scores"))
                            and saved_model.feature_set(network[1]) == "scores")
            use_sequence = network is None or (fam.n_seqs < 2 and not refine_alone)
            fits_potts = not use_sequence and not target.get("scores")
            saved_potts = (network[1]["features"].get("potts") or {}) if fits_potts else {}
            check_length(fam, str(aln_path), int(_setting(target, cfg, "max_length", 1000)),
                         max_memory_gb=float(cfg.get("max_memory_gb", 8.0)), history=int(saved_potts.get("history", 5)),
                         fit_potts=fits_potts, symmetric=bool(saved_potts.get("symmetric", False)))
            if use_sequence and target.get("scores"):
                if network is None:
                    raise DataError(aln_path, "external scores were given, but a contact network (--model-dir) is "
                                              "needed to refine them: the sequence-only model reads no scores")
                raise DataError(aln_path, "a single sequence with external scores: the given contact network also "
                                          "reads alignment channels (profile, mean-field), which one sequence cannot give",
                                hint="use a network trained with proteins.network.features: scores (leave --model-dir "
                                     "out for the packaged score refiner), or give the alignment")
            if use_sequence and sequence is None:
                raise DataError(aln_path, "only a single sequence: coevolution needs an alignment of many homologues, "
                                          "and no sequence-only model was given",
                                hint="pass --sequence-model-dir (train one with 'sciml proteins train-sequence-model', or "
                                     "set proteins.sequence_model.enabled in the workflow), or give an alignment")
            scores, scores_report = None, {}
            if target.get("scores"):
                sc_path = target_path(target["scores"], data_root)
                scores = read_score_matrix(sc_path, len(fam.sequence), sequence=fam.sequence,
                                           alignment_columns=fam.alignment_columns,
                                           alignment_length=fam.alignment_length, notes=fam.notes,
                                           report=scores_report, residue_numbers=fam.residue_numbers,
                                           full_sequence=fam.full_sequence)
                fam.inputs.append(str(sc_path))
        except DataError as exc:
            if strict:
                raise
            log(f"skipped target {name}: {exc}")
            # which exact files were rejected: their sha256 ("missing" for one that does not exist)
            inputs = entry_inputs(target, TARGET_FILES, data_root)
            step.add_inputs(checksummed_paths(inputs))
            m = {"name": name, "skipped": str(exc), "inputs": inputs}
            write_json_atomic(step.output("metrics.json"), m)
            write_section(step.output("section.json"), Section(
                "proteins", f"Contact prediction: {name}", "",
                [Table("Input files of the skipped target", ["skipped", "name", "file", "path", "sha256"],
                       input_rows("target", name, inputs), SKIPPED_INPUTS_NOTE)],
                [], [f"target {name} skipped: {exc}"], ["provenance.json"]))
            return m
        step.add_inputs(fam.inputs)
        members, meta = sequence if use_sequence else network
        used_dir = Path(sequence_model_dir if use_sequence else model_dir)
        res = predict_sequence(fam, members, meta) if use_sequence else predict_target(fam, members, meta, scores=scores, log=log)
        probs, L = res["probs"], len(fam.sequence)
        depth = alignment_depth(fam, None if refine_alone and fam.n_seqs < 2 else res["n_eff"])
        warnings = list(fam.notes)
        if use_sequence:
            warnings.append(("a single sequence" if fam.n_seqs < 2 else "no contact network given")
                            + ": predicted by the sequence-only model (amino acids and separation, no coevolution); "
                            "expect far lower precision than from a deep alignment")
        elif refine_alone and fam.n_seqs >= 2:
            warnings.append(f"the model is a score refiner ({used_dir}): it reads the external score matrix and "
                            "the sequence only, so the alignment was used for its depth statistics (N_eff) alone"
                            + (" (the packaged default with --scores; to use the alignment's profile and "
                               "mean-field channels with the matrix as well, pass the alignment network as "
                               f"--model-dir {saved_model.packaged_model_dir('alignment')})"
                               if target_model_dir is None else ""))
            warnings += [w for w in [depth_warning(depth)] if w]
        elif refine_alone and fam.n_seqs < 2:
            warnings.append("only the sequence was given with the external score matrix: the depth of the "
                            "alignment it came from is unknown here, and so is how far its contacts can be trusted")
        elif depth_warning(depth):
            warnings.append(depth_warning(depth))
        if refine_alone and target_model_dir is None:
            warnings.append(PACKAGED_REFINER_CALIBRATION)
        if not use_sequence and model_cv_warning(meta):
            warnings.append(model_cv_warning(meta))
        overlap = check_training_overlap(fam.sequence, meta)
        if overlap and overlap.get("family"):
            warnings.append(f"the query is {overlap['identity']:.0%} identical over {overlap['aligned']} residues to "
                            f"{overlap['family']}, a training protein of this model: its precision here is not a "
                            "held-out estimate")
        elif not overlap["checked"]:
            warnings.append(f"this query was not compared with the model's training proteins ({overlap['why']}: "
                            f"{used_dir / saved_model.META_FILE}): if it is one of them, its precision is not a "
                            "held-out estimate")
        # RR: the top 5 L pairs at |i-j| >= 6, probabilities as the network gives them
        # a query with residues in insert states: the RR is numbered in its own full sequence
        metrics.write_casp_rr(pred_dir / f"{name}.rr", fam.full_sequence or fam.sequence, probs, target=name,
                              max_pairs=5 * L, probabilities=True, numbering=fam.residue_numbers)
        # the pairs closer than 6 in sequence are outside the loss the networks train on (and every CASP range):
        # their outputs are no probabilities, so the array and the figure leave them NaN
        from sciml.proteins.calibration import MIN_SEPARATION

        probs = np.where(-separation_baseline(L) >= MIN_SEPARATION, probs, np.nan)
        with atomic_path(pred_dir / f"{name}.contacts.npz") as tmp:
            with open(tmp, "wb") as fh:
                channels = {} if use_sequence else {"coevolution": res["potts"]}
                if not use_sequence and res["meanfield"] is not None:
                    channels["meanfield"] = res["meanfield"]
                if fam.residue_numbers is not None:  # only for a query with insert residues
                    channels["residue_numbers"] = np.asarray(fam.residue_numbers, dtype=np.int64)
                    channels["full_sequence"] = np.array(fam.full_sequence)
                np.savez_compressed(fh, probs=probs.astype(np.float32), sequence=np.array(fam.sequence), **channels)
        plots.predicted_map(pred_dir / f"{name}.contact_map.png", name, probs, fam.native,
                            title=f"{name}: {'sequence-only' if use_sequence else 'network'} contact probability (L={L})")
        m: dict[str, Any] = {
            "name": name, "length": L, "query_row": fam.query_row + 1, "depth": depth,
            "coevolution_source": res["potts_source"], "structure": fam.native is not None,
            "model": {"dir": str(used_dir), "sha256": sha256_file(used_dir / saved_model.WEIGHTS_FILE),
                      "meta_sha256": sha256_file(used_dir / saved_model.META_FILE),
                      "packaged": saved_model.is_packaged(used_dir),
                      "kind": "sequence-only" if use_sequence else "contact network", "ensemble": meta["ensemble"],
                      "train_families": meta["training"].get("train_families"),
                      "cross_validation_mean": (meta.get("cross_validation") or {}).get("mean")},
            "training_overlap": overlap,
            "warnings": warnings,
        }
        if scores is not None:  # unscored pairs and asymmetry of the external matrix (also in warnings)
            m["scores_input"] = scores_report
        if fam.full_sequence is not None:
            m["query_insert_residues_dropped"] = len(fam.full_sequence) - L
            m["query_full_length"] = len(fam.full_sequence)
            m["rr_numbering"] = "the query's own sequence (insert residues counted)"
        rows = []
        if fam.native is not None:
            m["identity"] = round_fixed(fam.identity, 4)
            m.update(target_precisions(fam, probs, None if use_sequence else res["potts"]))
            keys = sorted(m["network"])
            methods = [("sequence-only model" if use_sequence else "network", "network")]
            methods += [] if use_sequence else [(res["potts_source"], "coevolution")]
            rows = [[method] + [m[key][k] for k in keys] for method, key in methods + [("separation only", "separation_baseline")]]
        write_json_atomic(step.output("metrics.json"), m)
        for w in warnings:  # on the terminal too, not only in metrics.json and the section
            log(f"{name}: WARNING: {w}")
        tables = [Table("Alignment depth", list(depth), [list(depth.values())],
                        "N_eff: sequences reweighted at 80% identity; Nf = N_eff / sqrt(L); coverage: mean fraction "
                        "of the query's residues a row covers.")]
        if rows:
            tables.append(Table("CASP precision against the given structure", ["method"] + keys, rows))
        tables.append(model_used_table(m["model"]))
        source = ("the sequence-only model (no coevolution)" if use_sequence else
                  f"the saved network ({meta['ensemble']} member(s)) on {res['potts_source']} and "
                  + ("the sequence" if saved_model.feature_set(meta) == "scores" else "mean-field channels"))
        summary = (f"{name}: {L} residues, {depth['n_seqs']} sequences (N_eff {depth['n_eff'] or 'unknown'}); contact probabilities "
                   f"from {source}." + ("" if fam.native is not None else " No structure was given: the map is a prediction only."))
        figures = [Figure(f"{name}: predicted contact map", f"{PREDICTION_DIR}/{name}.contact_map.png",
                          "Upper triangle: contact probability. Lower: top-L predictions (|i-j| >= 6)"
                          + (", blue = native contact, red = not; grey = native contacts." if fam.native is not None
                             else ".")
                          + (" Pairs with a residue missing from the structure (contact unknown) are left out, as "
                             "in the precision table." if fam.native is not None and np.isnan(fam.native).any() else ""))]
        write_section(step.output("section.json"), Section("proteins", f"Contact prediction: {name}", summary, tables,
                                                           figures, warnings, ["provenance.json"]))
        log(f"{name}: L={L}, N_eff {depth['n_eff'] or 'unknown'}" + (f", long L/5 {m['model']['kind']} {m['network']['long_L/5']:.3f}"
                                                       if fam.native is not None else ""))
    return m
