"""Step 3: the proteins report section (precision tables, contact maps, warnings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Families drawn in the contact-map figure (the first ones of the config).
MAP_PANELS = 4


def _long_range(m: dict[str, Any]) -> list[float | None]:
    """Long-range L/5, L/2, L precisions of a metrics dict, at 3 decimals (table cells)."""
    from sciml.rounding import round_fixed

    return [round_fixed(m[f"long_{t}"], 3) for t in ("L/5", "L/2", "L")]


def _calibration_table(cal: dict[str, Any]) -> Any:
    """Reliability table of the network's held-out probabilities (cross-validation)."""
    from sciml.report import Table

    rows = [[f"{b['bin'][0]:.1f}-{b['bin'][1]:.1f}", b["mean_predicted"], b["observed"], b["pairs"]]
            for b in cal["reliability"]]
    note = (f"{cal['pairs']} pairs (|i-j| >= 6) of the held-out families; Brier {cal['brier']} vs "
            f"{cal['brier_base_rate']} for the base rate {cal['contact_rate']} (skill {cal['brier_skill']}); "
            f"expected calibration error {cal['ece']}.")
    return Table("Calibration of the network's contact probabilities (held out)",
                 ["probability bin", "mean predicted", "observed contact rate", "pairs"], rows, note)


def coverage_note(methods: dict[str, dict[str, dict[str, float | None]]], families: list[str],
                  keys: list[str]) -> tuple[dict[str, dict[str, int]], str]:
    """How many of ``families`` each mean of the mean-precision table covers, and a note naming the
    means that cover fewer (with the families left out); the note is "" when every mean covers all.

    ``methods``: per method (table row), its precisions per family; a family absent from a method
    (not held out by the cross-validation) or without a value for a key (a range with no scorable
    pair: a chain too short for long-range pairs) is left out of that mean by
    :func:`sciml.proteins.metrics.mean_metrics`. Returns ``(counts per method and key, note)``."""
    from sciml.proteins.metrics import left_out

    counts, parts = {}, []
    for method, named in methods.items():
        absent = [f for f in families if f not in named]
        gaps = left_out(named)
        counts[method] = {k: len(named) - len(gaps.get(k, [])) for k in keys}
        groups: dict[tuple[str, ...], list[str]] = {}
        for k in keys:
            out = tuple(f for f in families if f in absent or f in gaps.get(k, []))
            if out:
                groups.setdefault(out, []).append(k)
        for out, ks in groups.items():
            n = len(families) - len(out)
            parts.append(f"{method}: {', '.join(ks)} over {n} of {len(families)} families (left out: "
                         f"{', '.join(out)})")
    note = ""
    if parts:
        note = ("Not every mean covers all families scored (a family with no scorable pair in a range, or not "
                "held out by the cross-validation, drops out of that mean): " + "; ".join(parts) + ".")
    return counts, note


def used_models(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The models the predicted targets of ``records`` (their metrics.json) used, once each (by the
    sha256 of model.pt, in order of first use): ``{"model": the target's ``model`` entry, "targets": names}``."""
    models: dict[str, dict[str, Any]] = {}
    for m in records:
        if "skipped" in m or not isinstance(m.get("model"), dict):
            continue
        models.setdefault(m["model"]["sha256"], {"model": m["model"], "targets": []})["targets"].append(m["name"])
    return list(models.values())


def _seeds(meta: dict[str, Any]) -> str:
    """The training seeds of a model.json: member m of an ensemble trains with seed + m."""
    seed, n = meta["training"].get("seed"), int(meta.get("ensemble", 1))
    if seed is None:
        return "not recorded"
    return ", ".join(str(int(seed) + m) for m in range(n)) + (" (member m: seed + m)" if n > 1 else "")


def model_record(used: list[dict[str, Any]]) -> dict[str, Any]:
    """What the proteins section shows of the models the targets used, once per model: a table of the
    models (kind, packaged or trained, sha256 of model.pt and model.json, seeds, targets), per model its
    training data with their sha256 and its cross-validation means (from its model.json), and warnings.

    A model folder whose model.pt or model.json no longer has the sha256 the targets recorded is not
    described (its model.json is another model's): a warning says so. Returns ``{"tables", "warnings",
    "inputs" (model files, for provenance), "provenance" (the train step's provenance.json of each model
    that has one)}``."""
    from sciml.errors import DataError
    from sciml.io import sha256_file
    from sciml.proteins import metrics, saved_model
    from sciml.report import Table

    rows, tables, warnings, inputs, prov = [], [], [], [], []
    for u in used:
        info, targets = u["model"], ", ".join(u["targets"])
        d, label = Path(info["dir"]), info["sha256"][:12]
        files = {n: d / n for n in saved_model.MODEL_FILES}
        now = {n: sha256_file(p) if p.is_file() else "missing" for n, p in files.items()}
        inputs += [p for p in files.values() if p.is_file()]
        meta, recorded_meta = None, info.get("meta_sha256")  # None in a record written before it was kept
        if now[saved_model.WEIGHTS_FILE] != info["sha256"] or recorded_meta not in (None, now[saved_model.META_FILE]):
            warnings.append(f"model {label} (used by {targets}): {d} no longer holds it (sha256 now: model.pt "
                            f"{now[saved_model.WEIGHTS_FILE]}, model.json {now[saved_model.META_FILE]}); its training "
                            "record cannot be shown: re-run the prediction(s)")
        else:
            try:
                meta = saved_model.read_model_meta(d)
            except DataError as exc:
                warnings.append(f"model {label} (used by {targets}): its model.json cannot be read ({exc})")
        if (d / "provenance.json").is_file() and meta is not None:
            prov.append(d / "provenance.json")
        source = (f"shipped with sciml (pretrained/{d.name}; its training record is its model.json)"
                  if info.get("packaged") else f"model folder {d}")
        training = (meta or {}).get("training") or {}
        fams = training.get("train_families", []) + training.get("val_families", [])
        rows.append([label, info["kind"], source, info["sha256"], recorded_meta or now[saved_model.META_FILE],
                     (meta or info).get("ensemble"), _seeds(meta) if meta else "unknown",
                     len(fams) if fams else training.get("n_train"), targets])
        if meta is None:
            continue
        if "scores_sha256" in training:
            role = {**{f: "train" for f in training.get("train_families", [])},
                    **{f: "validation (picks the epoch)" for f in training.get("val_families", [])}}
            fam_rows = [[f, role.get(f, "?"), sha] for f, sha in training["scores_sha256"].items()]
            fam_rows += [[f, "skipped (not used)", ""] for f in training.get("skipped_families", [])]
            tables.append(Table(f"Training families of model {label}", ["family", "role", "scores.npz sha256"],
                                fam_rows, "The sha256 of each family's scores.npz (the coevolution step's output) "
                                "the network was trained on, from its model.json"
                                + ("; the train step's provenance.json (Provenance below) lists them with their paths."
                                   if d / "provenance.json" in prov else ".")))
        elif "split_sha256" in training:
            tables.append(Table(f"Training data of model {label}", ["file", "sha256"],
                                [[f, sha] for f, sha in training["split_sha256"].items()],
                                f"{training.get('data')}: {training.get('n_train')} training and "
                                f"{training.get('n_val')} validation chains (the split lists' sha256)."))
        cv = meta.get("cross_validation")
        if cv and cv.get("mean"):
            keys = [f"{r}_{t}" for r in metrics.RANGES for t in metrics.TOPS]
            tables.append(Table(f"Cross-validation of model {label}'s config (families held out)", ["method"] + keys,
                                [[method] + [v.get(k) for k in keys] for method, v in
                                 sorted(cv["mean"].items(), key=lambda kv: kv[0] != "network")],
                                f"Means over {len(cv.get('families', []))} families, each predicted by a network of "
                                "this config that never saw it (from its model.json); coevolution channels computed "
                                f"with seed {meta.get('features', {}).get('seed', 'not recorded')}."))
        elif info["kind"] != "sequence-only":
            warnings.append(f"model {label}: no cross-validation recorded in its model.json"
                            + (f" ({cv['skipped']})" if cv and cv.get("skipped") else
                               " (trained without --cv-dir)"))
    if rows:
        tables.insert(0, Table("Models used by the prediction targets",
                               ["model", "kind", "source", "model.pt sha256", "model.json sha256", "ensemble",
                                "seeds", "training families", "targets"], rows,
                               "Each model once; each target's own section names the model it used."))
    return {"tables": tables, "warnings": warnings, "inputs": inputs, "provenance": prov}


def section(cfg: dict[str, Any], family_dirs: list[str | Path], out_dir: str | Path, *,
            cv_dir: str | Path | None = None, target_dirs: list[str | Path] | None = None) -> dict[str, Any]:
    """Write the report section of the family folders and the cross-validation folder.

    Reads each family's ``metrics.json`` (precisions, notes, skip reasons; nothing is
    re-scored) and the ``scores.npz`` of the first :data:`MAP_PANELS` scored families (the
    figure), and ``cv_dir/metrics.json`` when given. Writes ``out_dir/section.json``,
    ``contact_maps.png``, ``quarantine.csv`` (``family,reason`` of the skipped families) and
    ``provenance.json``; figure and provenance paths in the section are relative to
    ``out_dir``. ``target_dirs``: the predict folders of ``proteins.targets``, counted in the
    summary with the skipped ones and their reasons. The files of every skipped family and target
    are listed with their sha256 (``"missing"`` for one that did not exist; also in quarantine.csv).
    Each model the predicted targets used is shown once (:func:`model_record`: its sha256, packaged
    or trained, training families with their sha256, cross-validation, seeds), and its folder's
    ``provenance.json`` (the train step's record) joins the section's provenance. Returns
    ``{"families", "skipped", "network", "targets", "targets_skipped", "models"}`` counts/flags and
    ``mean_counts`` (per row of the mean-precision table and key, how many families that mean covers; the
    table's note names the means over fewer families than scored, and the families they leave out).
    A missing, unreadable or malformed metrics.json or scores.npz raises a DataError naming the file.
    """
    from sciml.errors import DataError
    from sciml.io import write_csv_atomic
    from sciml.proteins import family as fam_io
    from sciml.proteins import metrics, plots
    from sciml.proteins.inputs import input_rows
    from sciml.proteins.step_records import read_cv_record, read_target_record
    from sciml.proteins.steps.predict import SKIPPED_INPUTS_NOTE
    from sciml.proteins.workflow import FAMILY_FILES
    from sciml.report import Figure, Section, Table, write_section
    from sciml.steps import run_step

    family_dirs = [Path(d) for d in family_dirs]
    inputs = [d / f for d in family_dirs for f in (fam_io.SCORES_FILE, fam_io.METRICS_FILE)]
    if cv_dir is not None:
        inputs.append(Path(cv_dir) / "metrics.json")
    target_dirs = [Path(d) for d in (target_dirs or [])]
    inputs += [d / "metrics.json" for d in target_dirs]
    with run_step("proteins.section", cfg, out_dir, inputs=inputs) as step:
        scored, warnings, quarantine, skipped_inputs = [], [], [], []
        for d in family_dirs:
            m = fam_io.read_family_metrics(d)
            if "skipped" in m:
                files = m.get("inputs", {})
                quarantine.append([m["name"], m["skipped"].replace('"', "'")]
                                  + [files.get(k, {}).get(f, "") for k in FAMILY_FILES for f in ("path", "sha256")])
                skipped_inputs += input_rows("family", m["name"], files)
                warnings.append(f"family {m['name']} skipped: {m['skipped']}")
            else:
                scored.append((d, m))
        write_csv_atomic(step.output("quarantine.csv"),
                         ["family", "reason"] + [f"{k}{f}" for k in FAMILY_FILES for f in ("", "_sha256")], quarantine)
        if quarantine:
            warnings.append(f"{len(quarantine)} family(ies) skipped; reasons and the sha256 of their files in "
                            "quarantine.csv")
        records = [read_target_record(d) for d in target_dirs]
        predicted = [m["name"] for m in records if "skipped" not in m]
        skipped_targets = [(m["name"], m["skipped"]) for m in records if "skipped" in m]
        skipped_inputs += [row for m in records if "skipped" in m for row in input_rows("target", m["name"],
                                                                                           m.get("inputs", {}))]
        if skipped_targets:
            warnings.append(f"{len(skipped_targets)} of {len(target_dirs)} prediction target(s) skipped: "
                            + "; ".join(f"{n} ({why})" for n, why in skipped_targets))
        used = used_models(records)
        models = model_record(used)
        warnings += models["warnings"]
        step.add_inputs(models["inputs"])
        net = read_cv_record(cv_dir) if cv_dir is not None else {"skipped": "not run"}
        have_net = "per_family" in net

        from sciml.proteins.query import VERY_SHALLOW_NEFF_PER_L

        rows = []
        for _, m in scored:
            # the alignment's depth beside its precisions, as a target's section has it
            row = [m["name"], m["length"], m.get("n_seqs"), m.get("n_eff")] + _long_range(m["potts"]) \
                + _long_range(m["meanfield"])
            if m.get("n_eff") is not None and m["length"] and m["n_eff"] / m["length"] < VERY_SHALLOW_NEFF_PER_L:
                warnings.append(f"family {m['name']}: very shallow alignment (N_eff {m['n_eff']:g} for L = "
                                f"{m['length']}): its coevolution precisions rest on little signal")
            if have_net and m["name"] in net["per_family"]:
                row += _long_range(net["per_family"][m["name"]]["network"])
            rows.append(row)
        methods_cols = ["Potts", "mean-field"] + (["network (held out)"] if have_net else [])
        cols = ["family", "L", "sequences", "N_eff"] + [f"{meth} long {t}" for meth in methods_cols
                                                        for t in ("L/5", "L/2", "L")]
        rows = [r + [None] * (len(cols) - len(r)) for r in rows]
        tables = [Table("Long-range (>= 24) precision per family", cols, rows,
                        "Top L/5, L/2, L pairs by score; native = C-beta (C-alpha for Gly) < 8 A. Network columns: "
                        "each family predicted by the fold model that never saw it.")]

        # per method (table row): its precisions per family, named (to say which families a mean leaves out)
        methods = {"Potts (plm)": {m["name"]: m["potts"] for _, m in scored},
                   "mean-field DCA": {m["name"]: m["meanfield"] for _, m in scored}}
        if have_net:
            held = {m["name"]: net["per_family"][m["name"]] for _, m in scored if m["name"] in net["per_family"]}
            members = net["folds"][0].get("members", []) if net.get("folds") else []
            label = f"network (held out, mean of {len(members)} seeds)" if members else "network (held out)"
            methods[label] = {n: r["network"] for n, r in held.items()}
            for i, mem in enumerate(members):  # each ensemble member alone, for the seed spread
                methods[f"network member, seed {mem['seed']}"] = {n: r["network_members"][i] for n, r in held.items()}
        methods = {name: v for name, v in methods.items() if v}
        keys = [f"{r}_{t}" for r in metrics.RANGES for t in metrics.TOPS]
        mean_rows = [[name] + [metrics.mean_metrics(list(v.values()))[k] for k in keys] for name, v in methods.items()]
        mean_counts, coverage = coverage_note(methods, [m["name"] for _, m in scored], keys)
        tables.append(Table("Mean precision over families (all ranges)", ["method"] + keys, mean_rows,
                            "short 6-11, medium 12-23, long >= 24 residues of separation"
                            + (f". {coverage}" if coverage else "")))
        if have_net:
            also_trained = [f["fold"] for f in net.get("folds", []) if f.get("val") and set(f["val"]) <= set(f["train"])]
            if also_trained:  # too few families per fold to hold any out for validation (fold_split)
                warnings.append(f"cross-validation fold(s) {also_trained}: too few families to hold validation "
                                "families out, so the best epoch was picked on families the model trained on (its "
                                "test families stay held out); use more folds (fewer test families each) or more families")
            for group in net.get("same_protein_groups", []):  # kept in one fold: none tested while another trains
                warnings.append(f"families {', '.join(group)} are one protein (>= 90 % identical): the cross-validation "
                                "kept them in one fold; their precisions are not independent results")
        if not have_net:
            warnings.append(f"contact network not evaluated: {net.get('skipped', 'not run')}")
        elif net.get("calibration", {}).get("pairs"):
            try:
                tables.append(_calibration_table(net["calibration"]))
            except (KeyError, TypeError, IndexError, ValueError) as exc:
                raise DataError(Path(cv_dir) / "metrics.json",
                                f"malformed 'calibration' entry ({type(exc).__name__}: {exc})") from None
            if (net["calibration"].get("brier_skill") or 0.0) <= 0.0:
                warnings.append("the network's held-out contact probabilities are no better calibrated than the "
                                "base rate (Brier skill <= 0): read them as ranks, not probabilities")

        if skipped_inputs:
            tables.append(Table("Input files of the skipped families and targets",
                                ["skipped", "name", "file", "path", "sha256"], skipped_inputs, SKIPPED_INPUTS_NOTE))
        tables += models["tables"]

        figures = []
        panels = []
        for d, m in scored[:MAP_PANELS]:
            z = fam_io.read_scored_family(d)
            panels.append({"name": z["name"], "native": z["native"], "scores": z["potts"], "method": "Potts"})
        if panels:
            plots.contact_map_panels(step.output("contact_maps.png"), panels)
            figures.append(Figure("Predicted vs native contacts (Potts)", "contact_maps.png",
                                  "Lower triangle: native contacts (|i-j| >= 6). Upper: top-L Potts predictions, "
                                  "blue = correct, red = wrong."))
        warnings += [f"{m['name']}: {n}" for _, m in scored for n in m.get("notes", [])]
        prov = [step.rel(d / "provenance.json") for d in family_dirs]
        if cv_dir is not None:
            prov.append(step.rel(Path(cv_dir) / "provenance.json"))
        prov += [step.rel(p) for p in models["provenance"]]  # the train step's record of each model the targets used
        prov.append("provenance.json")  # this step's own
        summary = (f"{len(scored)} families scored with a pseudo-likelihood Potts model (APC) and mean-field DCA"
                   + (", and a 2D residual network cross-validated holding out whole families" if have_net else "")
                   + ". Contacts: C-beta < 8 A; precision of the top L/5, L/2, L pairs per range (CASP)."
                   + (f" Prediction targets: {len(predicted)} of {len(target_dirs)} predicted, "
                      f"{len(skipped_targets)} of {len(target_dirs)} skipped (each has its own section below)."
                      if target_dirs else "")
                   + (f" Model(s) the targets used: {len(used)}, each shown once below with its training families, "
                      "their sha256, its cross-validation and seeds." if used else ""))
        write_section(step.output("section.json"),
                      Section("proteins", "Protein contact prediction", summary, tables, figures, warnings, prov))
    return {"families": len(scored), "skipped": len(quarantine), "network": have_net,
            "targets": len(target_dirs), "targets_skipped": len(skipped_targets), "models": len(used),
            "mean_counts": mean_counts}
