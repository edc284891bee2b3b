"""The per-epoch learning curve (``logs/version_0/metrics.csv``) that survives a resume.

Why not Lightning's ``CSVLogger`` for the curve: on a resumed run it deletes the
previous ``metrics.csv`` and starts a new one, so a run killed and resumed ends with only
the epochs after the checkpoint, and a run resumed from its final checkpoint (killed
after training, before its outputs were written) ends with no curve at all. Here the
rows travel inside every checkpoint (callback state, plain floats, so checkpoints still
load with ``weights_only=True``) and the whole curve is rewritten atomically on rank 0
after every epoch and at the end of fitting. The ``CSVLogger`` still writes
``hparams.yaml``.

The file has one row per epoch: ``epoch``, ``step`` (optimizer steps so far) and every
scalar metric the module logged with ``on_epoch=True`` (e.g. ``train_loss``,
``val_loss``, ``val_mae``), in sorted column order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Where the curve lies under a training step's output folder.
CURVE_RELPATH = Path("logs") / "version_0" / "metrics.csv"


def read_curve_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a learning-curve CSV as dicts of strings (empty list for an empty file)."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def learning_curve_callback(out_dir: str | Path) -> Any:
    """A Lightning callback that keeps the learning curve in checkpoints and writes
    ``out_dir/logs/version_0/metrics.csv`` (see the module docstring)."""
    from lightning.pytorch.callbacks import Callback

    from sciml.io import write_csv_atomic

    path = Path(out_dir) / CURVE_RELPATH

    class LearningCurve(Callback):
        def __init__(self) -> None:
            self.rows: list[dict[str, float | int]] = []

        # It runs before ModelCheckpoint (a "monitoring" callback) in on_train_epoch_end, so
        # the checkpoint of an epoch already holds that epoch's row.
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            row: dict[str, float | int] = {"epoch": int(trainer.current_epoch), "step": int(trainer.global_step)}
            for key, value in trainer.callback_metrics.items():
                if key in row or getattr(value, "numel", lambda: 1)() != 1:
                    continue
                row[key] = float(value)
            self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
            self._write(trainer)

        def on_fit_end(self, trainer, pl_module) -> None:
            self._write(trainer)

        def _write(self, trainer) -> None:
            if not trainer.is_global_zero:
                return
            keys = sorted({k for r in self.rows for k in r} - {"epoch", "step"})
            header = ["epoch", "step", *keys]
            write_csv_atomic(path, header, ([_cell(r.get(k)) for k in header] for r in self.rows))

        def state_dict(self) -> dict[str, Any]:
            return {"rows": [dict(r) for r in self.rows]}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.rows = [dict(r) for r in state.get("rows", [])]

    return LearningCurve()


def _cell(value: float | int | None) -> str:
    """A CSV cell: ints as ints, floats with ``repr`` (round-trips exactly), missing as empty."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return repr(float(value))
