"""Step 3: the proteins report section (precision tables, contact maps, warnings)."""

from __future__ import annotations

import json
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


def target_summary(target_dirs: list[Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """Names of the predicted targets and ``(name, reason)`` of the skipped ones, from each
    target folder's ``metrics.json`` (written by the predict step, also for a skip)."""
    predicted, skipped = [], []
    for d in target_dirs:
        m = json.loads((d / "metrics.json").read_text())
        if "skipped" in m:
            skipped.append((m["name"], m["skipped"]))
        else:
            predicted.append(m["name"])
    return predicted, skipped


def section(cfg: dict[str, Any], family_dirs: list[str | Path], out_dir: str | Path, *,
            cv_dir: str | Path | None = None, target_dirs: list[str | Path] | None = None) -> dict[str, Any]:
    """Write the report section of the family folders and the cross-validation folder.

    Reads each family's ``metrics.json`` (precisions, notes, skip reasons; nothing is
    re-scored) and the ``scores.npz`` of the first :data:`MAP_PANELS` scored families (the
    figure), and ``cv_dir/metrics.json`` when given. Writes ``out_dir/section.json``,
    ``contact_maps.png``, ``quarantine.csv`` (``family,reason`` of the skipped families) and
    ``provenance.json``; figure and provenance paths in the section are relative to
    ``out_dir``. ``target_dirs``: the predict folders of ``proteins.targets``, counted in the
    summary with the skipped ones and their reasons. Returns ``{"families", "skipped",
    "network", "targets", "targets_skipped"}`` counts/flags.
    """
    from sciml.io import write_csv_atomic
    from sciml.proteins import family as fam_io
    from sciml.proteins import metrics, plots
    from sciml.report import Figure, Section, Table, write_section
    from sciml.steps import run_step

    family_dirs = [Path(d) for d in family_dirs]
    inputs = [d / f for d in family_dirs for f in (fam_io.SCORES_FILE, fam_io.METRICS_FILE)]
    if cv_dir is not None:
        inputs.append(Path(cv_dir) / "metrics.json")
    target_dirs = [Path(d) for d in (target_dirs or [])]
    inputs += [d / "metrics.json" for d in target_dirs]
    with run_step("proteins.section", cfg, out_dir, inputs=inputs) as step:
        scored, warnings, quarantine = [], [], []
        for d in family_dirs:
            m = fam_io.read_family_metrics(d)
            if "skipped" in m:
                quarantine.append([m["name"], m["skipped"].replace('"', "'")])
                warnings.append(f"family {m['name']} skipped: {m['skipped']}")
            else:
                scored.append((d, m))
        write_csv_atomic(step.output("quarantine.csv"), ["family", "reason"], quarantine)
        if quarantine:
            warnings.append(f"{len(quarantine)} family(ies) skipped; reasons in quarantine.csv")
        predicted, skipped_targets = target_summary(target_dirs)
        if skipped_targets:
            warnings.append(f"{len(skipped_targets)} of {len(target_dirs)} prediction target(s) skipped: "
                            + "; ".join(f"{n} ({why})" for n, why in skipped_targets))
        net = json.loads((Path(cv_dir) / "metrics.json").read_text()) if cv_dir is not None else {"skipped": "not run"}
        have_net = "per_family" in net

        rows = []
        for _, m in scored:
            row = [m["name"], m["length"]] + _long_range(m["potts"]) + _long_range(m["meanfield"])
            if have_net and m["name"] in net["per_family"]:
                row += _long_range(net["per_family"][m["name"]]["network"])
            rows.append(row)
        methods_cols = ["Potts", "mean-field"] + (["network (held out)"] if have_net else [])
        cols = ["family", "L"] + [f"{meth} long {t}" for meth in methods_cols for t in ("L/5", "L/2", "L")]
        rows = [r + [None] * (len(cols) - len(r)) for r in rows]
        tables = [Table("Long-range (>= 24) precision per family", cols, rows,
                        "Top L/5, L/2, L pairs by score; native = C-beta (C-alpha for Gly) < 8 A. Network columns: "
                        "each family predicted by the fold model that never saw it.")]

        methods = {"Potts (plm)": [m["potts"] for _, m in scored],
                   "mean-field DCA": [m["meanfield"] for _, m in scored]}
        if have_net:
            held = [net["per_family"][m["name"]] for _, m in scored if m["name"] in net["per_family"]]
            members = net["folds"][0].get("members", []) if net.get("folds") else []
            label = f"network (held out, mean of {len(members)} seeds)" if members else "network (held out)"
            methods[label] = [r["network"] for r in held]
            for i, mem in enumerate(members):  # each ensemble member alone, for the seed spread
                methods[f"network member, seed {mem['seed']}"] = [r["network_members"][i] for r in held]
        keys = [f"{r}_{t}" for r in metrics.RANGES for t in metrics.TOPS]
        mean_rows = [[name] + [metrics.mean_metrics(v)[k] for k in keys] for name, v in methods.items() if v]
        tables.append(Table("Mean precision over families (all ranges)", ["method"] + keys, mean_rows,
                            "short 6-11, medium 12-23, long >= 24 residues of separation"))
        if not have_net:
            warnings.append(f"contact network not evaluated: {net.get('skipped', 'not run')}")
        elif net.get("calibration", {}).get("pairs"):
            tables.append(_calibration_table(net["calibration"]))
            if (net["calibration"].get("brier_skill") or 0.0) <= 0.0:
                warnings.append("the network's held-out contact probabilities are no better calibrated than the "
                                "base rate (Brier skill <= 0): read them as ranks, not probabilities")

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
        prov.append("provenance.json")  # this step's own
        summary = (f"{len(scored)} families scored with a pseudo-likelihood Potts model (APC) and mean-field DCA"
                   + (", and a 2D residual network cross-validated holding out whole families" if have_net else "")
                   + ". Contacts: C-beta < 8 A; precision of the top L/5, L/2, L pairs per range (CASP)."
                   + (f" Prediction targets: {len(predicted)} of {len(target_dirs)} predicted, "
                      f"{len(skipped_targets)} of {len(target_dirs)} skipped (each has its own section below)."
                      if target_dirs else ""))
        write_section(step.output("section.json"),
                      Section("proteins", "Protein contact prediction", summary, tables, figures, warnings, prov))
    return {"families": len(scored), "skipped": len(quarantine), "network": have_net,
            "targets": len(target_dirs), "targets_skipped": len(skipped_targets)}
