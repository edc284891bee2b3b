"""Datasets for the pretrained SevenNet models: validated records -> SevenNet's own neighbour graphs.

SevenNet evaluates on a radius graph within its 5 A cutoff, built by sevenn's own
neighbour-list code (``sevenn.train.dataload.unlabeled_atoms_to_graph``, matscipy's
neighbour list) so the pretrained weights see exactly the graphs they were trained on.
:func:`load_or_build` validates each record (parse, target, too-close pairs and isolated
atoms beyond the 5 A cutoff, via :func:`sciml.materials.validation.check_record`, then
elements the checkpoint does not embed), converts the good ones and caches the graphs'
tensors as one torch file (loaded with ``weights_only=True``) named by a hash of the input
bytes, the settings and the checkpoint. A record that fails is quarantined with its reason
(naming the record), never a crash; a quarantined test record is scored with the
training-fold mean by the train step, as for CHGNet.

With ``freeze: head`` the frozen features of every kept record are computed once
(:func:`attach_frozen_features`) and cached beside the graphs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from sciml.materials.chgnet_data import as_structure
from sciml.materials.dataset import _input_digest, dataset_key, dataset_records, model_transform
from sciml.materials.graphs import GraphSettings
from sciml.materials.pretrained_data import PretrainedTable, attach_features, cached_table, convert_records
from sciml.materials.readers import RawRecord
from sciml.materials.validation import check_record

CACHE_VERSION = 2  # 2: quarantine lines are 1-based file lines; parser_warnings
_GRAPH_FIELDS = ("z", "edge_index", "edge_vec")


class SevenNetTable(PretrainedTable):
    """SevenNet graphs of a dataset's kept records (:class:`~sciml.materials.pretrained_data.PretrainedTable`);
    ``graphs`` is a list of dicts ``z`` (n,), ``edge_index`` (2, E), ``edge_vec`` (E, 3)."""

    def n_atoms(self) -> np.ndarray:
        return np.array([len(g["z"]) for g in self.graphs], dtype=np.int64)

    def n_edges(self) -> int:
        return int(sum(g["edge_index"].shape[1] for g in self.graphs))


def structure_graph(structure: Any) -> dict[str, Any]:
    """SevenNet's neighbour graph of one structure (pymatgen ``Structure`` or
    :class:`~sciml.materials.readers.CrystalArrays`) within its cutoff, by sevenn's own code."""
    import ase
    import torch
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    from sciml.materials.models.sevennet import SEVENNET_CUTOFF

    s = as_structure(structure)
    atoms = ase.Atoms(numbers=[site.specie.Z for site in s], cell=np.array(s.lattice.matrix),
                      scaled_positions=np.array(s.frac_coords), pbc=tuple(bool(p) for p in s.lattice.pbc))
    g = unlabeled_atoms_to_graph(atoms, SEVENNET_CUTOFF)
    return {"z": torch.as_tensor(np.asarray(g["atomic_numbers"]), dtype=torch.int64),
            "edge_index": torch.as_tensor(np.asarray(g["edge_index"]), dtype=torch.int64),
            "edge_vec": torch.as_tensor(np.asarray(g["edge_vec"]), dtype=torch.float32)}


def convert_record(rec: RawRecord, known_z: frozenset[int], checkpoint: str, min_distance: float,
                   need_target: bool = True) -> tuple[dict[str, Any] | None, str | None]:
    """``(graph, None)`` or ``(None, reason)`` for one record (reasons as
    :func:`~sciml.materials.validation.check_record`, plus ``element`` for an element the
    checkpoint does not know and ``sevennet_graph``)."""
    from sciml.materials.models.sevennet import SEVENNET_CUTOFF

    _, reason = check_record(rec, GraphSettings(cutoff=SEVENNET_CUTOFF, max_neighbors=0), max_z=118,
                             min_distance=min_distance, need_target=need_target)
    if reason is not None:
        return None, reason
    from pymatgen.core.periodic_table import Element

    s = as_structure(rec.structure)
    unknown = sorted({int(site.specie.Z) for site in s} - set(known_z))
    if unknown:
        names = ", ".join(f"{Element.from_Z(z).symbol} (Z={z})" for z in unknown)
        return None, (f"element: {names} not among the {len(known_z)} elements pretrained SevenNet {checkpoint} "
                      f"knows (record {rec.id})")
    try:
        return structure_graph(s), None
    except Exception as exc:  # sevenn's neighbour list on a structure it cannot handle
        return None, f"sevennet_graph: {type(exc).__name__}: {str(exc)[:160]}"


def cache_key(path: Path, dataset_cfg: dict[str, Any], validation: dict[str, Any], checkpoint: str) -> str:
    from sciml.materials.models.sevennet import KNOWN_WEIGHTS, SEVENNET_CUTOFF

    payload = {"version": CACHE_VERSION, "kind": "sevennet", "input": _input_digest(path),
               "dataset": dataset_key(dataset_cfg, path),
               "cutoff": SEVENNET_CUTOFF, "validation": validation, "checkpoint": KNOWN_WEIGHTS[checkpoint][1]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def build_table(records, checkpoint: str = "7net-0", transform: str = "none", max_z: int = 100,
                min_distance: float = 0.5, limit: int | None = None) -> SevenNetTable:
    """Validate and convert ``records`` (an iterable of :class:`RawRecord`); elements above
    ``max_z`` or unknown to ``checkpoint`` are quarantined."""
    from sciml.materials.models.sevennet import SEVENNET_CUTOFF, known_atomic_numbers

    known = frozenset(z for z in known_atomic_numbers(checkpoint) if z <= int(max_z))
    fields = convert_records(records, transform, limit,
                             lambda rec: convert_record(rec, known, checkpoint, min_distance))
    return SevenNetTable(**fields, meta={"graph": {"cutoff": SEVENNET_CUTOFF, "max_neighbors": 0}, "transform": transform,
                                         "max_z": max(known), "min_distance": min_distance})


def load_or_build(dataset_cfg: dict[str, Any], root: str | Path | None, cache_dir: str | Path | None,
                  validation: dict[str, Any] | None = None, checkpoint: str = "7net-0"
                  ) -> tuple[SevenNetTable, Path, bool]:
    """The SevenNet graphs of ``dataset_cfg`` (cached); returns (table, input path, cache_hit)."""
    from sciml.data import resolve

    validation = validation or {"max_z": 100, "min_distance": 0.5}
    path = resolve(dataset_cfg["path"], root)
    key = cache_key(path, dataset_cfg, validation, checkpoint)
    cache_file = Path(cache_dir) / f"sevennet-graphs-{key}.pt" if cache_dir else None

    def build() -> SevenNetTable:
        return build_table(dataset_records(path, dataset_cfg), checkpoint=checkpoint,
                           transform=model_transform(dataset_cfg), max_z=validation["max_z"],
                           min_distance=validation["min_distance"], limit=dataset_cfg.get("limit"))

    table, hit = cached_table(SevenNetTable, cache_file, path, build, "SevenNet")
    table.meta["cache_key"] = key
    return table, path, hit


def attach_frozen_features(table: SevenNetTable, model: Any, batch_size: int = 32,
                           cache_dir: str | Path | None = None) -> SevenNetTable:
    """Compute ``model.features`` (the frozen backbone's per-structure features) of every kept
    record once and store them in ``table.features`` (cached in ``cache_dir`` beside the
    graphs when the table came from :func:`load_or_build`): with ``freeze: head`` the backbone
    never changes, so every epoch reuses them and a fold trains only the head."""
    key = table.meta.get("cache_key")
    cache_file = Path(cache_dir) / f"sevennet-features-{key}.pt" if cache_dir and key else None
    model.eval()
    return attach_features(table, cache_file, model.feature_dim, lambda graphs: model.features(collate_graphs(graphs)),
                           batch_size)


class SevenNetBatch:
    """A batch for :class:`~sciml.materials.models.sevennet.SevenNetRegressor`: ``data`` (a PyG
    batch of sevenn ``AtomGraphData``), ``y`` (B,) targets; ``.to(device)`` so Lightning can move it."""

    def __init__(self, data: Any, y: Any, n: int):
        self.data = data
        self.y = y
        self._n = n

    @property
    def num_graphs(self) -> int:
        return self._n

    def to(self, device: Any) -> "SevenNetBatch":
        return SevenNetBatch(self.data.to(device), self.y.to(device), self._n)


def collate_graphs(graphs: list[dict[str, Any]], y: Any = None) -> SevenNetBatch:
    import torch
    from sevenn.atom_graph_data import AtomGraphData
    from torch_geometric.data import Batch

    items = [AtomGraphData(x=g["z"], edge_index=g["edge_index"], atomic_numbers=g["z"], edge_vec=g["edge_vec"],
                           num_atoms=torch.tensor(len(g["z"]))) for g in graphs]
    data = Batch.from_data_list(items)
    return SevenNetBatch(data, torch.zeros(len(graphs)) if y is None else y, len(graphs))


def sevennet_loader(table: SevenNetTable, indices: Any, batch_size: int, shuffle_seed: int | None = None,
                    num_workers: int = 0) -> Any:
    """A torch ``DataLoader`` over ``table`` at ``indices`` (of :class:`~sciml.materials.chgnet_data.FeatureBatch` es when the
    table has frozen ``features``), in order or shuffled per epoch with ``shuffle_seed``, as
    :func:`sciml.materials.chgnet_data.chgnet_loader`."""
    from sciml.materials.chgnet_data import table_loader

    return table_loader(table, indices, batch_size, collate_graphs, shuffle_seed, num_workers)
