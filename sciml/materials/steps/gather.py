"""The ``gather`` step of screening: the scored shards -> one ranked table and a report section.

Reads each shard folder written by ``predict`` (``predictions.csv|parquet``, ``skipped.csv``,
``provenance.json``), checks every shard against ``shards.json`` (scored + skipped = the
records the shard holds: nothing lost silently), and writes into ``out_dir``:

- ``ranked.csv`` (or ``ranked.parquet``): every scored structure, ranked by prediction
  (``order`` descending or ascending; ties by id), columns ``rank, id, formula, n_atoms,
  prediction[, prediction_linear], shard``;
- ``top_k.csv``: its first ``top_k`` rows;
- ``skipped.csv``: every skipped structure of every shard (``shard, id, line, reason``; ``line``
  is the 1-based line of the user's input file, empty for a folder or Matbench JSON input);
- ``histogram.png``: the predicted values, with the top-k threshold;
- ``summary.json``: counts per shard and per skip reason, and the structures that parsed with
  parser warnings (scored; listed in each shard's ``parser_warnings.csv``) with the distinct
  warnings and their counts (no times: byte-stable);
- ``section.json``: the report section (top-k table, per-shard table, histogram, warnings);
- ``provenance.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import atomic_path, read_json_object, write_csv_atomic, write_json_atomic
from sciml.steps import run_step

from sciml.materials.steps.predict import OUTPUT_FILES, SKIPPED_FILE
from sciml.materials.screening import UNSEEN_COLUMN

#: Rows of the top-k table shown in the report (top_k.csv has all ``top_k``).
REPORT_ROWS = 25
RANKED_FILES = {"csv": "ranked.csv", "parquet": "ranked.parquet"}


def _read_shard(shard_dir: Path, fmt: str):
    """(predictions DataFrame, skipped DataFrame, predict stats) of one shard folder."""
    import pandas as pd

    pred_file = shard_dir / OUTPUT_FILES[fmt]
    for needed in (pred_file, shard_dir / SKIPPED_FILE, shard_dir / "provenance.json"):
        if not needed.is_file():  # checked here: pyarrow's FileNotFoundError names no file
            raise DataError(needed, "shard output missing", hint="rerun the shard's predict job")
    try:
        pred = (pd.read_parquet(pred_file) if fmt == "parquet"
                else pd.read_csv(pred_file, dtype={"id": str, "formula": str}, keep_default_na=False,
                                 na_values={"prediction": [""], "prediction_linear": [""]}))
        skipped = pd.read_csv(shard_dir / SKIPPED_FILE, dtype={"id": str, "reason": str}, keep_default_na=False)
        prov = json.loads((shard_dir / "provenance.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:  # removed while reading; the filename may be None (pyarrow)
        raise DataError(shard_dir, f"shard output missing: {exc.filename or exc}",
                        hint="rerun the shard's predict job") from None
    except (ValueError, OSError) as exc:
        raise DataError(shard_dir, f"unreadable shard output ({exc})") from None
    if "prediction" not in pred.columns:
        raise DataError(pred_file, f"no 'prediction' column (columns: {list(pred.columns)})")
    # the model that scored the shard: the sha256 of its weight files (model.json and *.pt) in provenance
    model = tuple(sorted(sha for path, sha in (prov.get("inputs_sha256") or {}).items()
                         if Path(path).name == "model.json" or Path(path).suffix == ".pt"))
    return pred, skipped, {**prov.get("extra", {}), "model_sha256": model}


def gather(cfg: dict[str, Any], shard_dirs: list[str | Path], out_dir: str | Path, *,
           manifest: str | Path | None = None, order: str | None = None, top_k: int | None = None,
           fmt: str | None = None) -> dict[str, Any]:
    """Rank the predictions of ``shard_dirs`` (``predict`` output folders named after their
    shards) into ``out_dir``; settings default to ``cfg["screening"]``. With ``manifest``
    (``shards.json`` from ``shard``), each shard's scored + skipped count must equal what
    the shard holds. Returns the summary (also ``summary.json``)."""
    import numpy as np
    import pandas as pd

    from sciml.materials.dataset import target_labels, value_label
    from sciml.materials.plots import DPI
    from sciml.figures import new_figure, save_figure
    from sciml.report import Figure, write_section

    scfg = cfg["screening"]
    order = order or scfg["order"]
    top_k = int(top_k or scfg["top_k"])
    fmt = fmt or scfg["format"]
    if order not in ("ascending", "descending"):
        raise DataError(out_dir, f"unknown order {order!r} (valid: ascending, descending)")
    shard_dirs = [Path(d) for d in shard_dirs]
    expected = None
    input_warnings: list[str] = []
    inputs = [d / f for d in shard_dirs for f in (OUTPUT_FILES[fmt], SKIPPED_FILE)]
    if manifest is not None:
        doc = read_json_object(manifest, "shard manifest", "written by 'sciml materials shard' as shards.json")
        shards = doc.get("shards")
        if not (isinstance(shards, list) and all(isinstance(s, dict) and "name" in s and "n_structures" in s
                                                  for s in shards)):
            raise DataError(manifest, "not a shard manifest: needs 'shards', a list of {name, n_structures}")
        input_warnings = [w for w in doc.get("warnings", []) if "no structure records" not in w]
        expected = {s["name"]: int(s["n_structures"]) for s in shards}
        missing = sorted(set(expected) - {d.name for d in shard_dirs})
        if missing:
            raise DataError(manifest, f"{len(missing)} shard(s) not gathered: {', '.join(missing[:5])}")
        inputs.append(Path(manifest))
    with run_step("materials.gather", cfg, out_dir, inputs=inputs) as step:
        frames, skipped_rows, per_shard, model_labels, first = [], [], [], {}, None
        for d in shard_dirs:
            pred, skipped, stats = _read_shard(d, fmt)
            # one ranking needs one model: the shards' weight files must agree
            first = first or (d, stats["model_sha256"])
            if stats["model_sha256"] and first[1] and stats["model_sha256"] != first[1]:
                raise DataError(d, f"scored by another model than {first[0].name} (the sha256 of the weight files "
                                   "in their provenance.json differ): one ranking cannot mix models",
                                hint="score every shard with the same --model-dir")
            # what the predictions are, as the model's model.json says (predict records it)
            model_labels = model_labels or {k: stats[k] for k in ("target_name", "unit", "prediction_label")
                                            if k in stats}
            n = len(pred) + len(skipped)
            if expected is not None and d.name in expected and n != expected[d.name]:
                raise DataError(d, f"shard holds {expected[d.name]} structures but {len(pred)} were scored and "
                                   f"{len(skipped)} skipped", hint="rerun the shard's predict job")
            pred["shard"] = d.name
            frames.append(pred)
            reasons = skipped["reason"].str.split(":", n=1).str[0].value_counts().sort_index().to_dict()
            skipped_rows += [[d.name, r["id"], r["line"], r["reason"]] for r in skipped.to_dict("records")]
            per_shard.append({"shard": d.name, "n_structures": n, "n_predicted": len(pred),
                              "n_skipped": len(skipped), "skipped_by_reason": {k: int(v) for k, v in reasons.items()},
                              # None: a shard scored before parser warnings were recorded
                              "n_records_with_parser_warnings": stats.get("n_records_with_parser_warnings"),
                              "parser_warnings": stats.get("parser_warnings", {}),
                              "structures_per_s": stats.get("structures_per_s")})
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", "prediction"])
        # rank: prediction in the chosen order, ties by id (a stable, input-order-free ranking)
        table = table.sort_values(["prediction", "id"], ascending=[order == "ascending", True], kind="mergesort",
                                  na_position="last").reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        ranked = step.output(RANKED_FILES[fmt])
        with atomic_path(ranked) as tmp:
            if fmt == "parquet":
                table.to_parquet(tmp, index=False)
            else:
                table.to_csv(tmp, index=False, float_format="%.6g")
        top = table.head(top_k)
        write_csv_atomic(step.output("top_k.csv"), list(top.columns), top.values.tolist())
        write_csv_atomic(step.output("skipped.csv"), ["shard", "id", "line", "reason"], skipped_rows)

        values = table["prediction"].to_numpy(dtype=float)
        fig, ax = new_figure(figsize=(6.0, 3.6))
        ax.hist(values[np.isfinite(values)], bins=int(scfg["histogram_bins"]), color="#4477aa")
        label, unit = target_labels(cfg["dataset"])
        values_label = value_label(cfg["dataset"])  # the prediction column: log10 values for a log10 target
        if len(model_labels) == 3:  # the model's own labels over the config's (a model from another run)
            label, unit, values_label = (model_labels[k] for k in ("target_name", "unit", "prediction_label"))
        if len(top):
            ax.axvline(float(top["prediction"].iloc[-1]), color="#cc3311", lw=1.2, label=f"top {len(top)} threshold")
            ax.legend(fontsize=8)
        ax.set_xlabel(f"predicted {values_label}")
        ax.set_ylabel("structures")
        hist = save_figure(fig, step.output("histogram.png"), dpi=DPI)

        by_reason: dict[str, int] = {}
        for s in per_shard:
            for k, v in s["skipped_by_reason"].items():
                by_reason[k] = by_reason.get(k, 0) + v
        n_pred, n_skip = len(table), len(skipped_rows)
        summary = {
            "n_structures": n_pred + n_skip, "n_predicted": n_pred, "n_skipped": n_skip,
            "skipped_by_reason": dict(sorted(by_reason.items())), "n_shards": len(shard_dirs), "order": order,
            "top_k": top_k, "target": label, "unit": unit, "values": values_label, **_parser_warnings(per_shard),
            "shards": [{k: v for k, v in s.items() if k != "structures_per_s"} for s in per_shard],
        }
        warnings = list(input_warnings)
        repeated = int(table["id"].duplicated().sum()) if n_pred else 0
        if repeated:
            warnings.append(f"{repeated} scored rows repeat an id of another row: each was scored, but the ids do not "
                            "tell them apart (the input repeats ids, or hand-run shards were read without "
                            "--id-column id)")
        unseen = int((table[UNSEEN_COLUMN].fillna("").astype(str) != "").sum()) if UNSEEN_COLUMN in table else 0
        if unseen:
            warnings.append(f"{unseen} scored structure(s) contain elements that no training record had (column "
                            f"{UNSEEN_COLUMN} of the shards' predictions): those predictions extrapolate")
        if n_pred == 0:
            warnings.append(f"no structure was scored ({n_skip} skipped"
                            + (", see skipped.csv)" if n_skip else "; the input held no structures)"))
        summary["warnings"] = warnings
        for w in warnings:
            print(f"materials gather: WARNING: {w}", file=sys.stderr)
        write_json_atomic(step.output("summary.json"), summary)
        step.record.extra.update({k: summary[k] for k in ("n_structures", "n_predicted", "n_skipped", "n_shards")})
        section = _section(summary, per_shard, top, order, Figure(
            "Predicted values of the screened structures", step.rel(hist),
            f"Histogram of the predicted {values_label} over all scored structures; red line: the "
            f"top-{len(top)} threshold ({order} order)."),
            # the shard step's record holds the sha256 of the user's input file
            ([step.rel(Path(manifest).parent / "provenance.json")]
             if manifest is not None and (Path(manifest).parent / "provenance.json").is_file() else [])
            + [step.rel(d / "provenance.json") for d in shard_dirs] + ["provenance.json"])
        section_path = step.output("section.json")
    write_section(section_path, section)
    return summary


def _parser_warnings(per_shard: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' parser-warning counts summed: ``n_records_with_parser_warnings`` (None when a shard
    did not record it) and ``parser_warnings`` (kind -> structures, most frequent first)."""
    from collections import Counter

    counts = [s["n_records_with_parser_warnings"] for s in per_shard]
    kinds: Counter[str] = Counter()
    for s in per_shard:
        kinds.update(s["parser_warnings"])
    return {"n_records_with_parser_warnings": None if None in counts else sum(counts),
            "parser_warnings": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))}


def _section(summary: dict[str, Any], per_shard: list[dict[str, Any]], top: Any, order: str, figure: Any,
             provenance: list[str]):
    """The screening report section."""
    from sciml.materials.validation import describe_parser_warnings
    from sciml.report import Section, Table

    values = summary.get("values", f"{summary['target']} ({summary['unit']})")  # log10(...) for a log10 model
    cols = [c for c in ("rank", "id", "formula", "n_atoms", "prediction", UNSEEN_COLUMN) if c in top.columns]
    shown = top.head(REPORT_ROWS)
    top_table = Table(f"Top {len(shown)} of {summary['n_predicted']} ({order}, predicted {values})",
                      cols, shown[cols].values.tolist(),
                      note=f"All {len(top)} top-ranked structures are in top_k.csv, every scored one in the ranked table.")
    shard_table = Table(
        "Shards", ["shard", "structures", "scored", "skipped", "skipped by reason", "parser warnings (scored)",
                   "structures/s"],
        [[s["shard"], s["n_structures"], s["n_predicted"], s["n_skipped"],
          ", ".join(f"{k}: {v}" for k, v in s["skipped_by_reason"].items()) or "none",
          "not recorded" if s["n_records_with_parser_warnings"] is None else s["n_records_with_parser_warnings"],
          s["structures_per_s"]]
         for s in per_shard],
        note="Each shard is scored by its own job (sciml materials predict); structures/s is that job's rate.")
    warnings = list(summary["warnings"])
    if summary["n_skipped"]:
        reasons = ", ".join(f"{k}: {v}" for k, v in summary["skipped_by_reason"].items())
        warnings.append(f"{summary['n_skipped']} of {summary['n_structures']} structures skipped ({reasons}); "
                        "see skipped.csv")
    parser_note = describe_parser_warnings(summary, summary["n_structures"], "parser_warnings.csv of each shard")
    if parser_note:
        warnings.append(parser_note)
    best = (f"best {top['prediction'].iloc[0]:.4g} ({top['id'].iloc[0]})" if len(top) else "nothing scored")
    return Section(
        domain="materials_screening", title="Materials: screening",
        summary=(f"{summary['n_predicted']} of {summary['n_structures']} structures scored in "
                 f"{summary['n_shards']} shards, ranked by predicted {values} ({order}); {best}."),
        tables=[top_table, shard_table], figures=[figure], warnings=warnings, provenance=provenance)
