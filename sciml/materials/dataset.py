"""Processed datasets: validated records -> cached graph tensors -> PyG ``Data`` objects.

``load_or_build`` reads a dataset file through a reader, validates every record (bad
ones go to the quarantine list with their reason), builds the periodic graphs and
stores everything as one torch file in ``cache_dir`` named by a hash of the input bytes
and every setting that changes the result. Folds, reruns and other pipeline steps load
that file (``torch.load(weights_only=True)``) instead of rebuilding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from sciml.errors import DataError
from sciml.io import save_torch_atomic, sha256_file, sha256_tree
from sciml.materials.graphs import GraphSettings
from sciml.materials.readers import RawRecord, format_from_name, matbench_target_column, read_records
from sciml.materials.validation import ParserWarnings, Quarantine, check_record

#: Bump when the cached layout or graph semantics change (invalidates old caches).
#: 3: all_y (targets of every record, for Matbench scoring of quarantined test records);
#: 4: quarantine lines are 1-based file lines, parser_warnings.
CACHE_VERSION = 4


@dataclass
class GraphTable:
    """Concatenated graphs of a dataset (CSR layout).

    ``z`` (N_atoms,), ``atom_ptr`` (n+1,), ``edge_index`` (2, N_edges) with per-graph
    local node indices, ``edge_ptr`` (n+1,), ``distance`` (N_edges,) A, ``y`` (n,) in
    model target units (after ``transform``). ``ids`` the kept record ids; ``all_ids``
    every record id in file order (Matbench folds are defined on it) and ``all_y`` (float64,
    len(all_ids)) their targets in model units, NaN where a record has no usable one (so a
    quarantined test record can still be scored, with a fallback prediction); ``quarantine``
    ``[id, line, reason]`` rows; ``meta`` the settings it was built with; ``parser_warnings``
    ``[id, line, [warning, ...]]`` of every record whose structure parsed with warnings
    (:class:`~sciml.materials.validation.ParserWarnings`).
    """

    ids: list[str]
    all_ids: list[str]
    z: Any
    atom_ptr: Any
    edge_index: Any
    edge_ptr: Any
    distance: Any
    y: Any
    quarantine: list[list[Any]]
    meta: dict[str, Any]
    all_y: Any
    parser_warnings: list[list[Any]] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def graph(self, i: int):
        """The ``torch_geometric.data.Data`` of graph ``i`` (``z``, ``edge_index``, ``distance``, ``y``)."""
        from torch_geometric.data import Data

        a0, a1 = int(self.atom_ptr[i]), int(self.atom_ptr[i + 1])
        e0, e1 = int(self.edge_ptr[i]), int(self.edge_ptr[i + 1])
        return Data(
            z=self.z[a0:a1], edge_index=self.edge_index[:, e0:e1], distance=self.distance[e0:e1],
            y=self.y[i:i + 1], num_nodes=a1 - a0, idx=i,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


#: The built-in dataset (the schema's default path and target column) and the labels of its target.
BUILTIN_DATASET = ("materials/flla_2015_subset1000.csv.gz", "formation_energy_per_atom")
BUILTIN_LABELS = ("formation energy per atom", "eV/atom")
UNIT_NOT_GIVEN = "unit not given"
CLASS_UNIT = "class label (0/1)"
#: The target column of a CSV / ASE file when ``dataset.target_column`` is null (the built-in dataset's).
DEFAULT_TARGET_COLUMN = BUILTIN_DATASET[1]


def dataset_format(dataset_cfg: dict[str, Any]) -> str:
    """The reader of ``dataset_cfg``: ``format``, or for ``auto`` the one the path's name implies
    (as :func:`~sciml.materials.readers.detect_format`; a name without a known suffix is a folder)."""
    fmt = dataset_cfg.get("format", "auto")
    if fmt != "auto":
        return fmt
    return format_from_name(str(dataset_cfg.get("path") or "").rstrip("/")) or "folder"


def target_column(dataset_cfg: dict[str, Any]) -> str | None:
    """The target column the reader reads: None for a folder (the targets are ``id_prop.csv``'s second
    field); for a Matbench file ``target_column`` (None: the reader takes the only non-structure column,
    :func:`resolved_dataset` names it); for CSV / ASE files ``target_column``, null meaning
    :data:`DEFAULT_TARGET_COLUMN`."""
    fmt = dataset_format(dataset_cfg)
    column = dataset_cfg.get("target_column")
    if fmt == "folder":
        return None
    if column is None and fmt in ("csv", "ase"):
        return DEFAULT_TARGET_COLUMN
    return column


def resolved_dataset(dataset_cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """``dataset_cfg`` with ``target_column`` set to the column actually read from ``path`` (a Matbench
    file's only non-structure column when it is null; None for a folder), so labels name that column."""
    fmt = dataset_format(dataset_cfg)
    column = target_column(dataset_cfg)
    if fmt == "matbench_json":
        column = matbench_target_column(path, column)
    return {**dataset_cfg, "target_column": column}


def target_labels(dataset_cfg: dict[str, Any]) -> tuple[str, str]:
    """``(target name, unit)`` for tables and plots: ``dataset.target_name`` / ``unit`` when set; else the
    built-in dataset's labels for the built-in dataset, and for a user's own data the target column's
    name (:func:`target_column`; "target" for a folder's ``id_prop.csv``) and "unit not given" (never
    another dataset's physical label on the user's numbers). ``unit`` is the unit of the raw
    (untransformed) target; :func:`error_unit` gives the unit of an error. A classification target's unit is
    ``class label (0/1)``."""
    name, unit = dataset_cfg.get("target_name"), dataset_cfg.get("unit")
    column = target_column(dataset_cfg)
    builtin = (dataset_cfg.get("path"), column) == BUILTIN_DATASET
    if name is None:
        name = BUILTIN_LABELS[0] if builtin else (column or "target")
    if unit is None:
        unit = CLASS_UNIT if is_classification(dataset_cfg) else BUILTIN_LABELS[1] if builtin else UNIT_NOT_GIVEN
    return name, unit


#: Units that are no unit: a log10 label then names the quantity alone.
_NO_UNIT = {"", "1", "-", "dimensionless", "unitless", "none"}


def value_label(dataset_cfg: dict[str, Any]) -> str:
    """What the model's values are, unit included, for figure axes and captions: ``exfoliation energy
    (meV/atom)``; with ``transform: log10`` the model predicts the decimal log of the target in its unit,
    ``log10(exfoliation energy / meV/atom)`` (``log10(y) (unit not given)`` without a unit). A
    ``target_name`` that already starts with "log" is taken as naming the log values: log10 is not added twice.
    """
    name, unit = target_labels(dataset_cfg)
    if is_classification(dataset_cfg):
        return f"P({name} = 1)"
    if dataset_cfg.get("transform") != "log10" or name.strip().lower().startswith("log"):
        return f"{name} ({unit})"
    if unit == UNIT_NOT_GIVEN:
        return f"log10({name}) ({unit})"
    if unit.strip().lower() in _NO_UNIT:
        return f"log10({name})"
    return f"log10({name} / {unit})"


def error_unit(dataset_cfg: dict[str, Any]) -> str:
    """The unit of an error (MAE, RMSE) of the model's values: the target's unit, or for a log10 target
    ``log10 units (dex)``: the error of a log is a ratio, not an amount in the target's unit; for a
    classification task ``probability`` (the scores are of predicted probabilities)."""
    if is_classification(dataset_cfg):
        return "probability"
    if dataset_cfg.get("transform") == "log10":
        return "log10 units (dex)"
    return target_labels(dataset_cfg)[1]


#: The transform of a classification target (:func:`model_transform`): a class label 0 or 1 is kept, any
#: other value has no label and is quarantined.
CLASS_LABELS = "labels"
#: Why a value has no image under each transform (the quarantine reason's tail).
_TRANSFORM_DOMAIN = {"log10": "must be > 0", CLASS_LABELS: "must be a class label, 0 or 1 (true/false)"}


def repeated_structures(table: GraphTable, tolerance: float = 1e-3) -> list[list[int]]:
    """Groups (kept-record indices, file order) of records whose graphs are the same: the same atoms and the same
    neighbour distances per element pair (rounded to ``tolerance`` A): the same structure written twice, whatever
    its id, site order or origin, or structures that differ only beyond the cutoff (11 groups in matbench_jdft2d,
    layers in cells of other vacuum). A dataset that lists a structure twice puts it in a training fold and a test
    fold alike, and records of one graph with other targets are an error floor no graph model can go below."""
    import hashlib

    import numpy as np

    z, distance = np.asarray(table.z), np.asarray(table.distance)  # views of the table: no copy of every edge
    edges = np.asarray(table.edge_index)
    groups: dict[str, list[int]] = {}
    for i in range(len(table)):
        a0, a1 = int(table.atom_ptr[i]), int(table.atom_ptr[i + 1])
        e0, e1 = int(table.edge_ptr[i]), int(table.edge_ptr[i + 1])
        atoms = np.sort(z[a0:a1]).astype(np.int64)
        # neighbour distances per element pair, so that the same lengths between other atoms do not match
        src, dst = edges[:, e0:e1]
        rounded = np.round(distance[e0:e1].astype(np.float64) / tolerance).astype(np.int64)
        pairs = np.stack([z[a0:a1][src], z[a0:a1][dst], rounded], axis=1)
        pairs = pairs[np.lexsort(pairs.T[::-1])]
        key = hashlib.sha256(atoms.tobytes() + b"|" + pairs.astype(np.int64).tobytes()).hexdigest()
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def repeated_structures_warning(table: GraphTable, transform: str) -> str | None:
    """The prepare warning for :func:`repeated_structures`: how many records repeat another's structure, how
    many of them with another target, and the first group (ids, targets in model units); None without repeats."""
    import numpy as np

    groups = repeated_structures(table)
    if not groups:
        return None
    y = np.asarray(table.y, dtype=np.float64)
    differ = [g for g in groups if np.ptp(y[g]) > 1e-6 * max(1.0, float(np.max(np.abs(y[g]))))]
    shown = (differ or groups)[0][:4]
    units = "" if transform == "none" else f" ({transform} units)"
    first = ", ".join(f"{table.ids[i]} = {y[i]:.6g}" for i in shown)
    return (f"{sum(len(g) - 1 for g in groups)} records have the graph of another record (the same atoms and "
            f"neighbour distances within the cutoff: the same structure written twice, or structures that differ only "
            f"beyond the graph's reach, such as a layer's vacuum), {sum(len(g) - 1 for g in differ)} of them with "
            f"another target{units}; first: {first}. The model cannot tell such records apart, and a repeated "
            "structure lands in training and test folds alike: remove true copies, or keep them knowing it")


def is_classification(dataset_cfg: dict[str, Any]) -> bool:
    """True when ``materials.dataset.task`` is ``classification`` (binary labels 0/1, scored by ROC-AUC)."""
    return dataset_cfg.get("task", "regression") == "classification"


def check_task(cfg: dict[str, Any]) -> None:
    """ConfigError naming the setting when a ``materials`` config asks a classification task for something
    only a regression has (``dataset.transform: log10``, ``train.log_target``, ``train.clip_predictions``), a
    regression for ``train.class_weight``, or both ``transform: log10`` and ``train.log_target``."""
    from sciml.errors import ConfigError

    if not is_classification(cfg["dataset"]):
        if cfg["train"].get("class_weight", "none") != "none":
            raise ConfigError("materials.train.class_weight", f"{cfg['train']['class_weight']!r} weighs the classes "
                                                              "of a classification task; this dataset's task is "
                                                              "regression (set materials.dataset.task)")
        if cfg["train"].get("log_target", False) and cfg["dataset"].get("transform", "none") != "none":
            # the model fitted ln(log10 y): a double log, and records with log10 y <= 0 (y <= 1) left out of training
            raise ConfigError("materials.train.log_target", f"a log of targets already transformed by "
                                                            f"materials.dataset.transform: {cfg['dataset']['transform']} "
                                                            "(a double log, and targets <= 1 dropped from training): "
                                                            "use one of them (transform: log10 is scored in log10 "
                                                            "units as Matbench's log tasks; log_target in the target's "
                                                            "units)")
        return
    clashes = [(key, value) for key, value in (("materials.dataset.transform", cfg["dataset"].get("transform", "none")),
                                               ("materials.train.log_target", cfg["train"].get("log_target", False)),
                                               ("materials.train.clip_predictions",
                                                cfg["train"].get("clip_predictions", False)))
               if value not in ("none", False)]
    if clashes:
        key, value = clashes[0]
        raise ConfigError(key, f"{value!r} applies to a regression target; with materials.dataset.task: "
                               "classification the labels are 0/1 and the model predicts their probability "
                               f"(remove {key.rsplit('.', 1)[1]} from the config, or set task: regression)")


def model_transform(dataset_cfg: dict[str, Any]) -> str:
    """What the readers' targets go through before training: ``dataset.transform`` (``none`` / ``log10``), or
    :data:`CLASS_LABELS` for a classification task (the label check)."""
    return CLASS_LABELS if is_classification(dataset_cfg) else dataset_cfg.get("transform", "none")


def apply_transform(value: float, transform: str) -> float:
    """Target transform: ``none``, ``log10`` (non-positive values become NaN) or :data:`CLASS_LABELS`
    (0 and 1 kept, anything else NaN)."""
    if transform == "none":
        return value
    if transform == "log10":
        return math.log10(value) if value > 0 else math.nan
    if transform == CLASS_LABELS:
        return float(value) if value in (0.0, 1.0) else math.nan
    raise ValueError(f"unknown target transform '{transform}'")


def _input_digest(path: Path) -> str:
    return ("tree:" + sha256_tree(path)) if path.is_dir() else sha256_file(path)


#: ``materials.dataset`` keys that only label the report: editing them reuses the graph cache and the checkpoints.
LABEL_KEYS = ("target_name", "unit", "matbench_task")


def dataset_key(dataset_cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``materials.dataset`` settings that change what is read from ``path``, for cache keys: all but
    the report's labels (:data:`LABEL_KEYS`), with ``target_column`` resolved (:func:`resolved_dataset`),
    so a null column and the column it stands for share one cache."""
    resolved = resolved_dataset(dataset_cfg, path)
    return {k: resolved.get(k) for k in sorted(resolved) if k not in LABEL_KEYS}


def cache_key(path: Path, dataset_cfg: dict[str, Any], graph: GraphSettings, validation: dict[str, Any]) -> str:
    """Hash of the input bytes and every setting that changes the processed graphs."""
    payload = {
        "version": CACHE_VERSION,
        "input": _input_digest(path),
        "dataset": dataset_key(dataset_cfg, path),
        "graph": graph.as_dict(),
        "validation": validation,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _finite_or_nan(target: float | None, transform: str) -> float:
    """A record's target in model units, NaN when missing or not finite after the transform."""
    if target is None or not math.isfinite(target):
        return math.nan
    value = apply_transform(target, transform)
    return value if math.isfinite(value) else math.nan


def admitted_records(records: Iterable[RawRecord], transform: str, limit: int | None, quarantine: Quarantine,
                     all_ids: list[str], all_y: list[float], parser_warnings: ParserWarnings | None = None
                     ) -> Iterator[tuple[RawRecord, RawRecord]]:
    """The record-level checks every representation shares: appends each record's id and target
    (model units, NaN when unusable) to ``all_ids`` / ``all_y`` (Matbench scores every record),
    notes its parser warnings in ``parser_warnings``, quarantines duplicate ids and targets the
    transform cannot take, and yields ``(record, record with its target in model units)`` for the
    representation to check next."""
    seen: set[str] = set()
    for k, rec in enumerate(records):
        if limit is not None and k >= limit:
            break
        if parser_warnings is not None:
            parser_warnings.add(rec)
        all_ids.append(rec.id)
        label_text = transform != CLASS_LABELS and rec.target_note is not None and rec.target is not None \
            and math.isfinite(rec.target)  # true/false text in a regression: no number to score against
        all_y.append(math.nan if label_text else _finite_or_nan(rec.target, transform))
        if rec.id in seen:
            quarantine.add(rec, f"duplicate_id: id '{rec.id}' appears more than once")
            continue
        seen.add(rec.id)
        if label_text and rec.structure is not None:
            quarantine.add(rec, f"bad_target: {rec.target_note} (a regression target must be a finite number; "
                                "a yes/no property is materials.dataset.task: classification)")
            continue
        if transform == CLASS_LABELS and rec.target is not None and math.isnan(rec.target) and rec.structure is not None:
            # a missing value, or a word that is no number, is no label either: say so in the task's terms
            note = (rec.target_note or "target is missing or NaN").replace(" is not a number", " is no class label")
            quarantine.add(rec, f"bad_target: {note} ({_TRANSFORM_DOMAIN[CLASS_LABELS]})")
            continue
        if rec.target is not None and math.isinf(rec.target) and rec.structure is not None:
            # named as written: after the transform an infinite target read "target is nan"
            quarantine.add(rec, f"bad_target: target is {rec.target!r} (must be a finite number)")
            continue
        target = apply_transform(rec.target, transform) if rec.target is not None else None
        # (not ``rec.target or nan``: a target of 0.0 is a finite number, with no log10)
        if target is not None and not math.isfinite(target) and math.isfinite(rec.target):
            what = "is no class label" if transform == CLASS_LABELS else f"has no {transform}"
            quarantine.add(rec, f"bad_target: {rec.target!r} {what} ({_TRANSFORM_DOMAIN[transform]})")
            continue
        yield rec, dataclasses.replace(rec, target=target)


def build_table(records, graph: GraphSettings, transform: str = "none", max_z: int = 100,
                min_distance: float = 0.5, limit: int | None = None) -> GraphTable:
    """Validate ``records`` (an iterable of :class:`RawRecord`) and concatenate their graphs."""
    import torch

    quarantine = Quarantine()
    warned = ParserWarnings()
    ids: list[str] = []
    all_ids: list[str] = []
    all_y: list[float] = []
    zs, eis, ds, ys, n_atoms, n_edges = [], [], [], [], [], []
    for rec, checked in admitted_records(records, transform, limit, quarantine, all_ids, all_y, warned):
        target = checked.target
        g, reason = check_record(checked, graph, max_z=max_z, min_distance=min_distance)
        if reason is not None:
            quarantine.add(rec, reason)
            continue
        ids.append(rec.id)
        zs.append(g.z)
        eis.append(g.edge_index)
        ds.append(g.distance)
        ys.append(target)
        n_atoms.append(len(g.z))
        n_edges.append(g.distance.size)
    atom_ptr = np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)
    edge_ptr = np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64)
    return GraphTable(
        ids=ids,
        all_ids=all_ids,
        z=torch.from_numpy(np.concatenate(zs) if zs else np.zeros(0, np.int64)),
        atom_ptr=torch.from_numpy(atom_ptr),
        edge_index=torch.from_numpy(np.concatenate(eis, axis=1) if eis else np.zeros((2, 0), np.int64)),
        edge_ptr=torch.from_numpy(edge_ptr),
        distance=torch.from_numpy(np.concatenate(ds) if ds else np.zeros(0, np.float32)),
        y=torch.tensor(ys, dtype=torch.float32),
        quarantine=[[r.id, r.line, r.reason] for r in quarantine.items],
        all_y=torch.tensor(all_y, dtype=torch.float64),
        meta={"graph": graph.as_dict(), "transform": transform, "max_z": max_z, "min_distance": min_distance},
        parser_warnings=warned.items,
    )


def dataset_records(path: Path, dataset_cfg: dict[str, Any]) -> Iterator[RawRecord]:
    """The raw records of the dataset file ``path``, read with the ``materials.dataset`` columns/format."""
    return read_records(
        path, fmt=dataset_cfg.get("format", "auto"), structure_column=dataset_cfg.get("structure_column", "structure"),
        target_column=target_column(dataset_cfg), id_column=dataset_cfg.get("id_column"),
        structure_format=dataset_cfg.get("structure_format", "auto"),
    )


def load_or_build(dataset_cfg: dict[str, Any], graph: GraphSettings, root: str | Path | None,
                  cache_dir: str | Path | None, validation: dict[str, Any] | None = None) -> tuple[GraphTable, Path, bool]:
    """The processed dataset described by ``dataset_cfg`` (cached); returns (table, input path, cache_hit).

    Raises :class:`DataError` when no record survives validation.
    """
    import torch

    from sciml.data import resolve

    validation = validation or {"max_z": 100, "min_distance": 0.5}
    path = resolve(dataset_cfg["path"], root)
    key = cache_key(path, dataset_cfg, graph, validation)
    cache_file = Path(cache_dir) / f"graphs-{key}.pt" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            raw = torch.load(cache_file, weights_only=True)
            return GraphTable(**raw), path, True
        except Exception:  # a corrupt cache is rebuilt, never trusted
            cache_file.unlink(missing_ok=True)
    records = dataset_records(path, dataset_cfg)
    table = build_table(records, graph, transform=model_transform(dataset_cfg),
                        max_z=validation["max_z"], min_distance=validation["min_distance"],
                        limit=dataset_cfg.get("limit"))
    if len(table) == 0:
        reasons = sorted({r[2].split(":", 1)[0] for r in table.quarantine})
        first = f"; first: id {table.quarantine[0][0]}: {table.quarantine[0][2]}" if table.quarantine else ""
        raise DataError(path, f"no usable records after validation ({len(table.quarantine)} quarantined: "
                              f"{reasons}{first})", hint="check the structure/target columns and the graph cutoff")
    if cache_file is not None:
        save_torch_atomic(table.to_dict(), cache_file)
    return table, path, False


class GraphSubset:
    """A map-style dataset over some graphs of a :class:`GraphTable` (for PyG's DataLoader)."""

    def __init__(self, table: GraphTable, indices):
        self.table = table
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int):
        return self.table.graph(self.indices[k])


def graph_loader(table: GraphTable, indices: Any, batch_size: int, shuffle_seed: int | None = None,
                 num_workers: int = 0) -> Any:
    """A PyG ``DataLoader`` over ``table``'s graphs at ``indices`` (int sequence).

    In that order, or shuffled per epoch with ``shuffle_seed``
    (:data:`~sciml.materials.lightning.EpochSeededSampler`), which also splits the order
    across DDP ranks (a training loader); an unshuffled (evaluation) loader is not sharded,
    so every rank sees every graph. ``num_workers`` loading processes
    (0 = in the main process; the config's ``train.num_workers``).
    """
    from torch_geometric.loader import DataLoader

    from sciml.materials.lightning import EpochSeededSampler

    ds = GraphSubset(table, indices)
    sampler = EpochSeededSampler(len(ds), shuffle_seed) if shuffle_seed is not None else None
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=int(num_workers),
                      persistent_workers=int(num_workers) > 0)
