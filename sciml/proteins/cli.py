"""``sciml proteins ...``: contact prediction steps (stdlib-only imports at top level)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``proteins`` command group."""
    from sciml.cli import add_step_parser

    p = subparsers.add_parser("proteins", help="residue-residue contact prediction (coevolution + trained networks)")
    sub = p.add_subparsers(dest="proteins_cmd", metavar="STEP")

    c = add_step_parser(sub, "coevolution", "one family: read, map to the structure, Potts + mean-field scores, evaluate")
    c.add_argument("--family", required=True, help="family name from the config's 'families' list")
    c.add_argument("--out", required=True, help="output folder for this family")
    c.set_defaults(func=cmd_coevolution)

    t = add_step_parser(sub, "train-network", "family-held-out cross-validation of the 2D residual contact network")
    t.add_argument("--scores", nargs="+", required=True, help="scores.npz files from the coevolution step")
    t.add_argument("--out", required=True, help="metrics JSON path; learning curves and provenance go beside it")
    t.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder (outside Snakemake outputs)")
    t.set_defaults(func=cmd_train_network)

    r = add_step_parser(sub, "report", "write the report section (tables, contact-map figures)")
    r.add_argument("--scores", nargs="+", required=True, help="scores.npz files from the coevolution step")
    r.add_argument("--network", default=None, help="metrics.json of train-network (optional)")
    r.add_argument("--out", required=True, help="section.json path")
    r.set_defaults(func=cmd_report)

    q = add_step_parser(sub, "train-sequence", "sequence-only network on cgdms chains, evaluated on PSICOV150 (benchmark)")
    q.add_argument("--out", required=True, help="metrics JSON path (logs and provenance beside it)")
    q.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder")
    q.set_defaults(func=cmd_train_sequence)

    g = add_step_parser(sub, "gremlin-anchor", "score the published GREMLIN predictions on PSICOV150 natives (benchmark anchor)", config=False)
    g.add_argument("--out", required=True, help="output JSON")
    g.set_defaults(func=cmd_gremlin_anchor)


def _setup(args: argparse.Namespace) -> dict[str, Any]:
    from sciml.config import domain_section

    cfg = domain_section("proteins", args.config_json, args.config_file)
    import torch

    torch.set_num_threads(cfg["threads"])
    return cfg


def _family_spec(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    from sciml.errors import ConfigError

    for f in cfg["families"]:
        if f["name"] == name:
            return f
    raise ConfigError("proteins.families", f"no family named {name!r}; valid: {', '.join(f['name'] for f in cfg['families'])}")


def cmd_coevolution(args: argparse.Namespace) -> int:
    """Write ``scores.npz`` (chain-level scores, native, profile), ``metrics.json``, RR files, provenance."""
    import numpy as np

    from sciml.errors import DataError
    from sciml.io import atomic_path, write_json_atomic
    from sciml.proteins import metrics, pipeline
    from sciml.provenance import record_step

    cfg = _setup(args)
    spec = _family_spec(cfg, args.family)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with record_step("proteins.coevolution", out, config=cfg, seed=cfg["seed"], inputs=[]) as rec:
        try:
            fam = pipeline.load_family(spec, args.data_root, cfg["min_identity"])
        except DataError as exc:
            # one bad family among many: skipped with its reason, surfaced by the report step
            print(f"skipped family {spec['name']}: {exc}", file=sys.stderr)
            with atomic_path(out / "scores.npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, skipped=np.array(str(exc)), name=np.array(spec["name"]))
            write_json_atomic(out / "metrics.json", {"name": spec["name"], "skipped": str(exc)})
            rec.outputs += [str(out / "scores.npz"), str(out / "metrics.json")]
            return 0
        rec.inputs.extend(fam.inputs)
        res = pipeline.coevolution(fam, cfg, log=lambda m: print(m, file=sys.stderr))
        profile = pipeline.profile_features(fam)
        with atomic_path(out / "scores.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, name=np.array(fam.name), sequence=np.array(fam.sequence), native=fam.native,
                                    potts=res["potts"], meanfield=res["meanfield"], profile=profile)
        m = {
            "name": fam.name, "length": len(fam.sequence), "n_seqs": fam.n_seqs, "n_used": res["n_used"],
            "n_eff": round(res["n_eff"], 2), "query_row": fam.query_row + 1, "identity": round(fam.identity, 4),
            "notes": fam.notes, "potts": metrics.evaluate(res["potts"], fam.native),
            "meanfield": metrics.evaluate(res["meanfield"], fam.native),
            "potts_loss": res["potts_loss"], "potts_objective": res["potts_objective"],
            "potts_iterations": res["potts_iterations"],
        }
        write_json_atomic(out / "metrics.json", m)
        # timings vary run to run: kept out of metrics.json so it stays byte-identical
        write_json_atomic(out / "timings.json", {"potts_s": round(res["potts_time_s"], 2),
                                                 "potts_weights_s": round(res["potts_weights_s"], 2),
                                                 "potts_fit_s": round(res["potts_fit_s"], 2),
                                                 "meanfield_s": round(res["meanfield_time_s"], 2)})
        for method in ("potts", "meanfield"):
            metrics.write_casp_rr(out / f"{fam.name}.{method}.rr", fam.sequence, np.nan_to_num(res[method], nan=-np.inf),
                                  target=fam.name, max_pairs=5 * len(fam.sequence))
        rec.outputs += [str(out / f) for f in ("scores.npz", "metrics.json", "timings.json")]
        print(f"{fam.name}: long L/5 potts {m['potts']['long_L/5']:.3f} meanfield {m['meanfield']['long_L/5']:.3f}",
              file=sys.stderr)
    return 0


def cmd_train_network(args: argparse.Namespace) -> int:
    """Cross-validate the network over the families; write ``metrics.json`` (sorted, rounded)."""
    from sciml.errors import ConfigError
    from sciml.io import write_json_atomic
    from sciml.proteins import metrics, train
    from sciml.provenance import record_step

    cfg = _setup(args)
    metrics_path = Path(args.out)
    out = metrics_path.parent
    out.mkdir(parents=True, exist_ok=True)
    fams = [d for d in (train.load_scores(p) for p in args.scores) if d is not None]
    with record_step("proteins.train_network", out, config=cfg, seed=cfg["seed"], inputs=args.scores) as rec:
        if not cfg["network"]["enabled"] or len(fams) < 3:
            why = "disabled in the config" if not cfg["network"]["enabled"] else f"only {len(fams)} usable families (need 3)"
            write_json_atomic(metrics_path, {"skipped": why})
            rec.outputs.append(str(metrics_path))
            return 0
        if cfg["network"]["folds"] < 2:
            raise ConfigError("proteins.network.folds", "need at least 2 folds")
        cv = train.cross_validate(fams, cfg, out, args.checkpoint_dir, log=lambda m: print(m, file=sys.stderr))
        methods = ("network", "potts", "meanfield")
        names = sorted(cv["per_family"])
        cv["mean"] = {m: metrics.mean_metrics([cv["per_family"][n][m] for n in names]) for m in methods}
        if cfg["network"]["ensemble"] > 1:
            cv["member_means"] = [metrics.mean_metrics([cv["per_family"][n]["network_members"][i] for n in names])
                                  for i in range(cfg["network"]["ensemble"])]
        write_json_atomic(metrics_path, cv)
        rec.outputs.append(str(metrics_path))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Section with precision tables, contact maps and warnings (skipped families, notes)."""
    import numpy as np

    from sciml.io import write_text_atomic
    from sciml.proteins import metrics, plots, train
    from sciml.report import Figure, Section, Table, write_section

    cfg = _setup(args)
    out = Path(args.out)
    sec_dir = out.parent
    fams, warnings, quarantine = [], [], ["family,reason"]
    for p in args.scores:
        with np.load(p, allow_pickle=False) as z:
            if "skipped" in z.files:
                reason = str(z["skipped"])
                quarantine.append(f"{z['name']},\"{reason.replace(chr(34), chr(39))}\"")
                warnings.append(f"family {z['name']} skipped: {reason}")
                continue
        fams.append(train.load_scores(p))
    write_text_atomic(sec_dir / "quarantine.csv", "\n".join(quarantine) + "\n")
    if len(quarantine) > 1:
        warnings.append(f"{len(quarantine) - 1} family(ies) skipped; reasons in quarantine.csv")
    net = json.loads(Path(args.network).read_text()) if args.network else {"skipped": "not run"}
    have_net = "per_family" in net
    rows = []
    for d in fams:
        m_p, m_m = metrics.evaluate(d["potts"], d["native"]), metrics.evaluate(d["meanfield"], d["native"])
        row = [d["name"], len(d["sequence"])]
        for m in ([m_p, m_m] + ([net["per_family"][d["name"]]["network"]] if have_net and d["name"] in net["per_family"] else [])):
            row += [round(m["long_L/5"], 3), round(m["long_L/2"], 3), round(m["long_L"], 3)]
        rows.append(row)
    cols = ["family", "L"] + [f"{meth} long {t}" for meth in (["Potts", "mean-field"] + (["network (held out)"] if have_net else []))
                              for t in ("L/5", "L/2", "L")]
    rows = [r + [None] * (len(cols) - len(r)) for r in rows]
    tables = [Table("Long-range (>= 24) precision per family", cols, rows,
                    "Top L/5, L/2, L pairs by score; native = C-beta (C-alpha for Gly) < 8 A. Network columns: "
                    "each family predicted by the fold model that never saw it.")]
    methods = {"Potts (plm)": [metrics.evaluate(d["potts"], d["native"]) for d in fams],
               "mean-field DCA": [metrics.evaluate(d["meanfield"], d["native"]) for d in fams]}
    if have_net:
        scored = [net["per_family"][d["name"]] for d in fams if d["name"] in net["per_family"]]
        members = net["folds"][0].get("members", []) if net.get("folds") else []
        label = f"network (held out, mean of {len(members)} seeds)" if members else "network (held out)"
        methods[label] = [r["network"] for r in scored]
        for i, mem in enumerate(members):  # each ensemble member alone, for the seed spread
            methods[f"network member, seed {mem['seed']}"] = [r["network_members"][i] for r in scored]
    keys = [f"{r}_{t}" for r in metrics.RANGES for t in metrics.TOPS]
    mean_rows = [[name] + [metrics.mean_metrics(v)[k] for k in keys] for name, v in methods.items() if v]
    tables.append(Table("Mean precision over families (all ranges)", ["method"] + keys, mean_rows,
                        "short 6-11, medium 12-23, long >= 24 residues of separation"))
    if not have_net:
        warnings.append(f"contact network not evaluated: {net.get('skipped', 'not run')}")
    figures = []
    panels = []
    for d in fams[:4]:
        panels.append({"name": d["name"], "native": d["native"], "scores": d["potts"], "method": "Potts"})
    if panels:
        plots.contact_map_panels(sec_dir / "contact_maps.png", panels)
        figures.append(Figure("Predicted vs native contacts (Potts)", "contact_maps.png",
                              "Lower triangle: native contacts (|i-j| >= 6). Upper: top-L Potts predictions, blue = correct, red = wrong."))
    notes = []
    for p in args.scores:
        mp = Path(p).parent / "metrics.json"
        if mp.is_file():
            mj = json.loads(mp.read_text())
            for n in mj.get("notes", []):
                notes.append(f"{mj['name']}: {n}")
    warnings += notes
    prov = [str(Path(os.path.relpath(Path(p).parent / "provenance.json", sec_dir))) for p in args.scores]
    if args.network:
        prov.append(str(Path(os.path.relpath(Path(args.network).parent / "provenance.json", sec_dir))))
    summary = (f"{len(fams)} families scored with a pseudo-likelihood Potts model (APC) and mean-field DCA"
               + (", and a 2D residual network cross-validated holding out whole families" if have_net else "")
               + ". Contacts: C-beta < 8 A; precision of the top L/5, L/2, L pairs per range (CASP).")
    write_section(out, Section("proteins", "Protein contact prediction", summary, tables, figures, warnings, prov))
    return 0


def cmd_gremlin_anchor(args: argparse.Namespace) -> int:
    """Mean precision of the shipped GREMLIN scores on the PSICOV150 natives (our evaluation)."""
    import numpy as np

    from sciml.data import data_root
    from sciml.io import write_json_atomic
    from sciml.proteins import metrics
    from sciml.proteins.structures import contact_map, read_structure

    root = data_root(args.data_root) / "proteins" / "psicov150"
    per = {}
    for g in sorted((root / "gremlin_apc_scores").glob("*.gremlin")):
        pid = g.stem
        st = read_structure(root / "pdb_clean_chainA" / f"{pid}.pdb") if (root / "pdb_clean_chainA" / f"{pid}.pdb").exists() \
            else read_structure(next((root / "pdb_clean_chainA").glob(f"{pid}*")))
        s = np.loadtxt(g)
        if s.shape != (st.length, st.length):
            print(f"{pid}: GREMLIN matrix {s.shape} vs chain length {st.length}; skipped", file=sys.stderr)
            continue
        per[pid] = metrics.evaluate(s, contact_map(st.cb))
    write_json_atomic(args.out, {"n": len(per), "mean": metrics.mean_metrics(list(per.values())), "per_protein": per})
    print(json.dumps(metrics.mean_metrics(list(per.values()))))
    return 0



def cmd_train_sequence(args: argparse.Namespace) -> int:
    """Train/evaluate the sequence-only model; write sorted, rounded metrics JSON."""
    from sciml.data import data_root
    from sciml.io import write_json_atomic
    from sciml.proteins.sequence_model import train_and_evaluate
    from sciml.provenance import record_step
    from sciml.training import checkpoint_dir

    cfg = _setup(args)
    out = Path(args.out)
    root = data_root(args.data_root)
    with record_step("proteins.train_sequence", out.parent, config=cfg, seed=cfg["seed"],
                     inputs=[root / "proteins/cgdms", root / "proteins/psicov150/pdb_clean_chainA"]) as rec:
        res = train_and_evaluate(cfg, root, out.parent, checkpoint_dir(args.checkpoint_dir, "proteins_sequence", cfg),
                                 log=lambda m: print(m, file=sys.stderr))
        write_json_atomic(out, res)
        rec.outputs.append(str(out))
    print(json.dumps(res["psicov150"], sort_keys=True))
    return 0
