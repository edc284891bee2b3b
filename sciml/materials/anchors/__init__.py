"""Published Matbench leaderboard numbers (``matbench_leaderboard.csv`` here, see its header)."""


from __future__ import annotations

import csv
import io
from importlib import resources


def leaderboard(task: str) -> dict[str, object] | None:
    """``{"unit", "n", "best_model", "best_mae", "best_std", "models": {name: mae}}`` of ``task``, or None."""
    text = resources.files("sciml.materials.anchors").joinpath("matbench_leaderboard.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#"))))
    fixed = ("task", "unit", "n", "best_model", "best_mae", "best_std")
    for row in rows:
        if row["task"] == task:
            return {
                "unit": row["unit"], "n": int(row["n"]), "best_model": row["best_model"],
                "best_mae": float(row["best_mae"]), "best_std": float(row["best_std"]),
                "models": {k: float(v) for k, v in row.items() if k not in fixed},
            }
    return None
