"""What the pretrained models' datasets (:mod:`~sciml.materials.chgnet_data`, :mod:`~sciml.materials.sevennet_data`) share.

Each pretrained model needs its own graphs, but the bookkeeping around them is the same: the
validated records are converted one by one (a record that fails is quarantined with its reason,
never a crash), the table keeps :class:`~sciml.materials.dataset.GraphTable`'s fields so the fold
split and Matbench fallback scoring apply as is, and the converted graphs are cached as one torch
file (loaded with ``weights_only=True``; a corrupt cache is rebuilt, never trusted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import save_torch_atomic
from sciml.materials.dataset import admitted_records
from sciml.materials.readers import RawRecord
from sciml.materials.validation import ParserWarnings, Quarantine


@dataclass
class PretrainedTable:
    """A pretrained model's graphs of a dataset's kept records, with the same bookkeeping as
    :class:`~sciml.materials.dataset.GraphTable` (``ids``, ``all_ids``, ``all_y``, ``y``,
    ``quarantine``, ``meta``, ``parser_warnings``). ``graphs`` is aligned with ``ids``; ``features`` holds
    the (n, width + 1) frozen features of the kept records once computed (``attach_frozen_features``), else None."""

    ids: list[str]
    all_ids: list[str]
    graphs: list[Any]
    y: Any
    quarantine: list[list[Any]]
    meta: dict[str, Any]
    all_y: Any
    features: Any = None
    parser_warnings: list[list[Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def convert_records(records: Iterable[RawRecord], transform: str, limit: int | None,
                    convert: Callable[[RawRecord], tuple[Any | None, str | None]]) -> dict[str, Any]:
    """Validate ``records`` and convert each admitted one with ``convert`` (``(graph, None)`` or
    ``(None, reason)``); returns the table fields other than ``meta`` (``y`` float32, ``all_y`` float64)."""
    import torch

    quarantine = Quarantine()
    warned = ParserWarnings()
    ids, all_ids, all_y, graphs, ys = [], [], [], [], []
    for rec, checked in admitted_records(records, transform, limit, quarantine, all_ids, all_y, warned):
        g, reason = convert(checked)
        if reason is not None:
            quarantine.add(rec, reason)
            continue
        ids.append(rec.id)
        graphs.append(g)
        ys.append(checked.target)
    return {"ids": ids, "all_ids": all_ids, "graphs": graphs, "y": torch.tensor(ys, dtype=torch.float32),
            "quarantine": [[r.id, r.line, r.reason] for r in quarantine.items],
            "all_y": torch.tensor(all_y, dtype=torch.float64), "parser_warnings": warned.items}


def cached_table(table_cls: type[PretrainedTable], cache_file: Path | None, path: Path, build: Callable[[], Any],
                 model: str, pack: Callable[[Any], Any] = lambda g: g,
                 unpack: Callable[[Any], Any] = lambda g: g) -> tuple[Any, bool]:
    """(table, cache_hit): the table from ``cache_file`` when it loads, else ``build()`` (saved there
    atomically). ``pack``/``unpack`` turn one graph into plain tensors and back for the cache.
    DataError naming ``path`` when no record of the dataset is usable by ``model``."""
    import torch

    if cache_file is not None and cache_file.is_file():
        try:
            raw = torch.load(cache_file, weights_only=True)
            raw["graphs"] = [unpack(d) for d in raw["graphs"]]
            return table_cls(**raw), True
        except Exception:  # a corrupt cache is rebuilt, never trusted
            cache_file.unlink(missing_ok=True)
    table = build()
    if len(table) == 0:
        reasons = sorted({r[2].split(":", 1)[0] for r in table.quarantine})
        first = f"; first: id {table.quarantine[0][0]}: {table.quarantine[0][2]}" if table.quarantine else ""
        raise DataError(path, f"no usable records for {model} ({len(table.quarantine)} quarantined: {reasons}{first})")
    if cache_file is not None:
        raw = {k: getattr(table, k) for k in table.__dataclass_fields__ if k != "features"}
        raw["graphs"] = [pack(g) for g in table.graphs]
        save_torch_atomic(raw, cache_file)
    return table, False


def attach_features(table: PretrainedTable, cache_file: Path | None, width: int,
                    compute: Callable[[list[Any]], Any], batch_size: int) -> PretrainedTable:
    """Store the (n, ``width``) frozen features of every kept record in ``table.features``: from
    ``cache_file`` when it holds the right shape, else ``compute(graphs)`` batch by batch (under
    ``torch.inference_mode``), saved there atomically so the other fold jobs reuse them."""
    import torch

    if cache_file is not None and cache_file.is_file():
        try:
            feats = torch.load(cache_file, weights_only=True)
            if tuple(feats.shape) == (len(table), width):
                table.features = feats
                return table
        except Exception:  # a corrupt cache is recomputed, never trusted
            pass
        cache_file.unlink(missing_ok=True)
    out = []
    with torch.inference_mode():
        for k in range(0, len(table), batch_size):
            out.append(compute(table.graphs[k:k + batch_size]).float())
    table.features = torch.cat(out) if out else torch.zeros((0, width))
    if cache_file is not None:
        save_torch_atomic(table.features, cache_file)
    return table
