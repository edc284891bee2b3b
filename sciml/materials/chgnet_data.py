"""Datasets for the pretrained CHGNet model: validated records -> CHGNet's own crystal graphs.

CHGNet needs its own graphs (atom graph within 6 A, bond graph within 3 A, built by
``chgnet.graph.CrystalGraphConverter``), not the PyG graphs of :mod:`sciml.materials.dataset`.
:func:`load_or_build` validates each record (parse, target, elements within CHGNet's 1..94,
too-close pairs and isolated atoms beyond the 6 A atom-graph cutoff, via
:func:`sciml.materials.validation.check_record`), converts the good ones and caches the
graphs' tensors as one torch file (loaded with ``weights_only=True``), named by a hash of
the input bytes and the settings, like the PyG graph cache. A record CHGNet cannot convert
is quarantined with its reason, never a crash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from sciml.materials.dataset import _input_digest, dataset_key, dataset_records, model_transform
from sciml.materials.graphs import GraphSettings, wrapped_frac_coords
from sciml.materials.pretrained_data import PretrainedTable, attach_features, cached_table, convert_records
from sciml.materials.readers import RawRecord
from sciml.materials.validation import check_record

CACHE_VERSION = 3  # 2: quarantine lines are 1-based file lines; parser_warnings; 3: Po-Ra refused
#: CHGNet 0.3.0's graph cutoffs (A): atom graph, bond (angle) graph.
ATOM_GRAPH_CUTOFF = 6.0
BOND_GRAPH_CUTOFF = 3.0
_TENSOR_FIELDS = ("atomic_number", "atom_frac_coord", "atom_graph", "neighbor_image", "directed2undirected",
                  "undirected2directed", "bond_graph", "lattice")


class CHGNetTable(PretrainedTable):
    """CHGNet graphs of a dataset's kept records (:class:`~sciml.materials.pretrained_data.PretrainedTable`);
    ``graphs`` is a list of ``chgnet.graph.CrystalGraph``, ``features`` (n, 65), (n, 68) with ``stacking`` ((n, 70) with ``dispersion`` too), when attached."""

    def n_atoms(self) -> np.ndarray:
        return np.array([len(g.atomic_number) for g in self.graphs], dtype=np.int64)

    def n_edges(self) -> int:
        return int(sum(g.atom_graph.shape[0] for g in self.graphs))


def converter() -> Any:
    """CHGNet's graph converter (its 0.3.0 settings); isolated atoms raise (-> quarantine)."""
    from chgnet.graph import CrystalGraphConverter

    return CrystalGraphConverter(atom_graph_cutoff=ATOM_GRAPH_CUTOFF, bond_graph_cutoff=BOND_GRAPH_CUTOFF,
                                 algorithm="fast", on_isolated_atoms="error")


def as_structure(structure: Any) -> Any:
    """A pymatgen ``Structure`` (from :class:`~sciml.materials.readers.CrystalArrays` if needed)
    with far-out fractional coordinates wrapped (:func:`~sciml.materials.graphs.wrapped_frac_coords`):
    CHGNet's and SevenNet's neighbour searches span the sites' bounding box, so an unwrapped site
    far out (MD frames) costs minutes and gigabytes; an ordinary structure is returned as it is."""
    from sciml.materials.readers import CrystalArrays

    if isinstance(structure, CrystalArrays):
        from pymatgen.core import Lattice, Structure

        return Structure(Lattice(structure.lattice_matrix, pbc=tuple(structure.pbc)),
                         [int(z) for z in structure.z], wrapped_frac_coords(structure.frac_coords, structure.pbc))
    frac = structure.frac_coords
    wrapped = wrapped_frac_coords(frac, structure.lattice.pbc)
    if not np.array_equal(frac, wrapped):
        from pymatgen.core import Structure

        return Structure(structure.lattice, structure.species_and_occu, wrapped,
                         site_properties=structure.site_properties or None)
    return structure


def convert_record(rec: RawRecord, conv: Any, max_z: int, min_distance: float,
                   need_target: bool = True) -> tuple[Any | None, str | None]:
    """``(CrystalGraph, None)`` or ``(None, reason)`` for one record (reasons as
    :func:`~sciml.materials.validation.check_record`, plus ``chgnet_graph``)."""
    from sciml.materials.models.chgnet import CHGNET_MAX_Z, CHGNET_UNTRAINED_Z

    _, reason = check_record(rec, GraphSettings(cutoff=ATOM_GRAPH_CUTOFF, max_neighbors=0),
                             max_z=min(int(max_z), CHGNET_MAX_Z), min_distance=min_distance, need_target=need_target)
    if reason is not None:
        return None, reason
    structure = as_structure(rec.structure)
    untrained = sorted({int(site.specie.Z) for site in structure} & CHGNET_UNTRAINED_Z)
    if untrained:
        from pymatgen.core.periodic_table import Element

        names = ", ".join(f"{Element.from_Z(z).symbol} (Z={z})" for z in untrained)
        return None, (f"element: {names} not among the 89 elements pretrained CHGNet 0.3.0 was trained on "
                      "(its embedding of it is untrained)")
    try:
        return conv(structure, graph_id=str(rec.id)), None
    except Exception as exc:  # CHGNet's converter on a structure it cannot handle
        return None, f"chgnet_graph: {type(exc).__name__}: {str(exc)[:160]}"


def _graph_dict(g: Any) -> dict[str, Any]:
    d = {k: getattr(g, k).detach().clone() for k in _TENSOR_FIELDS}
    d.update(graph_id=str(g.graph_id), composition=str(g.composition))
    return d


def _graph_from_dict(d: dict[str, Any]) -> Any:
    from chgnet.graph import CrystalGraph

    return CrystalGraph(atom_graph_cutoff=ATOM_GRAPH_CUTOFF, bond_graph_cutoff=BOND_GRAPH_CUTOFF, mp_id=None,
                        **{k: d[k] for k in _TENSOR_FIELDS}, graph_id=d["graph_id"], composition=d["composition"])


def cache_key(path: Path, dataset_cfg: dict[str, Any], validation: dict[str, Any]) -> str:
    payload = {"version": CACHE_VERSION, "kind": "chgnet", "input": _input_digest(path),
               "dataset": dataset_key(dataset_cfg, path),
               "cutoffs": [ATOM_GRAPH_CUTOFF, BOND_GRAPH_CUTOFF], "validation": validation}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def build_table(records, transform: str = "none", max_z: int = 94, min_distance: float = 0.5,
                limit: int | None = None) -> CHGNetTable:
    """Validate and convert ``records`` (an iterable of :class:`RawRecord`)."""
    from sciml.materials.models.chgnet import CHGNET_MAX_Z

    conv = converter()
    fields = convert_records(records, transform, limit, lambda rec: convert_record(rec, conv, max_z, min_distance))
    return CHGNetTable(**fields, meta={"graph": {"cutoff": ATOM_GRAPH_CUTOFF, "max_neighbors": 0}, "transform": transform,
                                       "max_z": min(int(max_z), CHGNET_MAX_Z), "min_distance": min_distance})


def load_or_build(dataset_cfg: dict[str, Any], root: str | Path | None, cache_dir: str | Path | None,
                  validation: dict[str, Any] | None = None) -> tuple[CHGNetTable, Path, bool]:
    """The CHGNet graphs of ``dataset_cfg`` (cached); returns (table, input path, cache_hit)."""
    from sciml.data import resolve

    validation = validation or {"max_z": 100, "min_distance": 0.5}
    path = resolve(dataset_cfg["path"], root)
    key = cache_key(path, dataset_cfg, validation)
    cache_file = Path(cache_dir) / f"chgnet-graphs-{key}.pt" if cache_dir else None

    def build() -> CHGNetTable:
        return build_table(dataset_records(path, dataset_cfg), transform=model_transform(dataset_cfg),
                           max_z=validation["max_z"], min_distance=validation["min_distance"],
                           limit=dataset_cfg.get("limit"))

    table, hit = cached_table(CHGNetTable, cache_file, path, build, "CHGNet", pack=_graph_dict, unpack=_graph_from_dict)
    table.meta["cache_key"] = key
    return table, path, hit


def attach_frozen_features(table: CHGNetTable, model: Any, batch_size: int = 128,
                           cache_dir: str | Path | None = None) -> CHGNetTable:
    """Compute ``model.features`` (the frozen pretrained backbone's (n, 65) crystal features, (n, 68) with
    ``stacking``, (n, 70) with ``dispersion`` too) of every kept record once and store them in ``table.features``: with ``freeze: head``
    the backbone never changes, so every epoch reuses them and a fold's training takes seconds. Cached in
    ``cache_dir`` beside the graphs (when the table came from :func:`load_or_build`), named by the graphs'
    key and the model's feature settings, so the other fold jobs reuse them."""
    key = table.meta.get("cache_key")
    cache_file = (Path(cache_dir) / f"chgnet-features-{key}-{model.feature_key()}.pt" if cache_dir and key else None)
    model.eval()
    return attach_features(table, cache_file, model.head[0].in_features,
                           lambda graphs: model.features(collate_graphs(graphs)), batch_size)


class FeatureBatch:
    """A batch of precomputed frozen features ``features`` (B, 65), (B, 68) with ``stacking`` (B, 70 with ``dispersion``), with targets ``y`` (B,)."""

    def __init__(self, features: Any, y: Any):
        self.features = features
        self.y = y

    @property
    def num_graphs(self) -> int:
        return int(self.features.shape[0])

    def to(self, device: Any) -> "FeatureBatch":
        return FeatureBatch(self.features.to(device), self.y.to(device))


class CHGNetBatch:
    """A batch for :class:`~sciml.materials.models.chgnet.CHGNetRegressor`: ``graphs`` (list of
    CrystalGraph), ``y`` (B,) targets; ``.to(device)`` so Lightning can move it."""

    def __init__(self, graphs: list[Any], y: Any):
        self.graphs = graphs
        self.y = y

    @property
    def num_graphs(self) -> int:
        return len(self.graphs)

    def to(self, device: Any) -> "CHGNetBatch":
        return CHGNetBatch([g.to(str(device)) for g in self.graphs], self.y.to(device))


def collate_graphs(graphs: list[Any], y: Any = None) -> CHGNetBatch:
    import torch

    return CHGNetBatch(list(graphs), torch.zeros(len(graphs)) if y is None else y)


class _Subset:
    """Rows ``indices`` of a CHGNet or SevenNet table: (frozen features or graph, target)."""

    def __init__(self, table: Any, indices: Any):
        self.table = table
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[Any, Any]:
        i = self.indices[k]
        if self.table.features is not None:
            return self.table.features[i], self.table.y[i]
        return self.table.graphs[i], self.table.y[i]


def _collate(items: list[tuple[Any, Any]], collate_graphs: Any) -> Any:
    import torch

    y = torch.stack([y for _, y in items])
    if isinstance(items[0][0], torch.Tensor):
        return FeatureBatch(torch.stack([f for f, _ in items]), y)
    return collate_graphs([g for g, _ in items], y)


def table_loader(table: Any, indices: Any, batch_size: int, collate_graphs: Any, shuffle_seed: int | None = None,
                 num_workers: int = 0) -> Any:
    """A torch ``DataLoader`` over a pretrained model's table (CHGNet's or SevenNet's) at ``indices``:
    :class:`FeatureBatch` es when the table has frozen ``features``, else ``collate_graphs(graphs, y)``;
    in order, or shuffled per epoch and sharded across DDP ranks with ``shuffle_seed``, as
    :func:`sciml.materials.dataset.graph_loader`."""
    import functools

    from torch.utils.data import DataLoader

    from sciml.materials.lightning import EpochSeededSampler

    ds = _Subset(table, indices)
    sampler = EpochSeededSampler(len(ds), shuffle_seed) if shuffle_seed is not None else None
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, shuffle=False,
                      collate_fn=functools.partial(_collate, collate_graphs=collate_graphs),
                      num_workers=int(num_workers), persistent_workers=int(num_workers) > 0)


def chgnet_loader(table: CHGNetTable, indices: Any, batch_size: int, shuffle_seed: int | None = None,
                  num_workers: int = 0) -> Any:
    """A torch ``DataLoader`` of :class:`CHGNetBatch` es (of :class:`FeatureBatch` es when the table
    has frozen ``features``) over ``table`` at ``indices`` (in order,
    or shuffled per epoch and sharded across DDP ranks with ``shuffle_seed``, as
    :func:`sciml.materials.dataset.graph_loader`)."""
    return table_loader(table, indices, batch_size, _chgnet_batch, shuffle_seed, num_workers)


def _chgnet_batch(graphs: list[Any], y: Any) -> CHGNetBatch:
    return CHGNetBatch(list(graphs), y)
