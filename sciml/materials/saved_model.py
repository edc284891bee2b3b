"""The saved-model format of the materials models: written by training, read by screening.

A model folder (a fold folder written by ``sciml materials train``) holds

- ``model.pt``: the plain ``state_dict`` of the wrapped ``nn.Module`` (tensors only, so it
  loads with ``torch.load(weights_only=True)``); an ensemble's further members are
  ``model_member<k>.pt``;
- ``model.json``: ``format`` (:data:`FORMAT`), the model name and constructor arguments,
  the target normalisation, the graph settings and validation limits the model was
  trained with, the target's name/unit/transform, the range predictions are clipped to
  (``target_range``, only with ``train.clip_predictions``), ``task: classification`` for a
  classifier (its outputs are logits; absent for a regression), for an ensemble the member
  weight files (``ensemble_weights``), the sha256 of every weight file (``weights_sha256``: checked
  at load, so a corrupted file or another fold's model.json is refused) and the training records'
  elements (``training_atomic_numbers``).

:func:`save` and :func:`load` are the only code that knows this layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sciml.errors import ConfigError, DataError
from sciml.io import save_torch_atomic, sha256_file, write_json_atomic

#: Format tag written into (and required in) ``model.json``.
FORMAT = "sciml.materials.model/1"
SPEC_FILE = "model.json"


def member_weight_file(k: int) -> str:
    """Weights file of ensemble member ``k`` in a model folder (member 0 = ``model.pt``)."""
    return "model.pt" if k == 0 else f"model_member{k}.pt"


def transformed_range(target_range: Any, log_target: bool) -> tuple[float, float] | None:
    """``target_range`` ((low, high) in target units, or None) in the space the model's outputs are decoded
    from: ``log`` of it with ``log_target``. Predictions are clipped there, member by member, so an ensemble's
    mean stays inside the range too."""
    if target_range is None:
        return None
    import math

    low, high = (float(v) for v in target_range)
    return (math.log(low), math.log(high)) if log_target else (low, high)


def check_target_range(value: Any, log_target: bool, spec_path: Path) -> None:
    """DataError naming ``spec_path`` unless ``value`` is ``[low, high]``: finite numbers, low <= high, and
    low > 0 for a model trained on log(target)."""
    import math

    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
          and value[0] <= value[1] and (value[0] > 0 or not log_target))
    if not ok:
        raise DataError(spec_path, f"target_range must be [low, high], finite, low <= high"
                                   f"{', low > 0 (log_target)' if log_target else ''}; found {value!r}")


def save(modules: Any, cfg: dict[str, Any], meta: dict[str, Any], out_dir: str | Path,
         training_atomic_numbers: Any = None) -> list[str]:
    """Write the weights of ``modules`` (one ``CrystalRegressor`` or a list: an ensemble) and
    ``model.json`` into ``out_dir``; ``meta`` is the graph table's ``meta`` (graph settings,
    ``max_z``, ``min_distance``); ``training_atomic_numbers``: the elements of the records the
    weights were fitted on (``predict`` flags structures with others). Returns the weight file
    names (member order)."""
    from sciml.materials.dataset import target_labels

    out_dir = Path(out_dir)
    modules = modules if isinstance(modules, (list, tuple)) else [modules]
    files = [member_weight_file(k) for k in range(len(modules))]
    for name, mod in zip(files, modules):
        save_torch_atomic({k: v.detach().cpu() for k, v in mod.model.state_dict().items()}, out_dir / name)
    module = modules[0]
    hp = module.hparams
    spec = {
        "format": FORMAT,
        "model_name": hp.model_name,
        "model_kwargs": dict(hp.model_kwargs),
        "target_mean": float(module.t_mean), "target_std": float(module.t_std),
        "log_target": bool(hp.log_target),
        "graph": meta["graph"], "max_z": meta["max_z"], "min_distance": meta["min_distance"],
        **dict(zip(("target_name", "unit"), target_labels(cfg["dataset"]))),
        "transform": cfg["dataset"]["transform"],
    }
    if hp.get("target_range") is not None:
        spec["target_range"] = [float(v) for v in hp.target_range]
    if hp.get("task", "regression") == "classification":
        spec["task"] = "classification"
    if len(files) > 1:
        spec["ensemble_weights"] = files
    # ties model.json to these weights: a corrupted file or another fold's model.json is refused at load
    spec["weights_sha256"] = {name: sha256_file(out_dir / name) for name in files}
    if training_atomic_numbers is not None:
        spec["training_atomic_numbers"] = sorted(int(z) for z in training_atomic_numbers)
    write_json_atomic(out_dir / SPEC_FILE, spec)
    return files


def graph_atomic_numbers(graph: Any) -> list[int]:
    """The atomic numbers of one graph of any of the three representations (a PyG ``Data`` with ``z``,
    CHGNet's ``CrystalGraph``, SevenNet's dict)."""
    if isinstance(graph, dict):
        z = graph["z"]
    else:
        z = graph.atomic_number if hasattr(graph, "atomic_number") else graph.z
    return [int(v) for v in (z.tolist() if hasattr(z, "tolist") else z)]


def table_atomic_numbers(table: Any, rows: Any) -> set[int]:
    """The elements (atomic numbers) of records ``rows`` of a graph table (:class:`~sciml.materials.dataset.GraphTable`
    or a pretrained model's table with ``graphs``)."""
    out: set[int] = set()
    for i in (int(r) for r in rows):
        if hasattr(table, "atom_ptr"):
            out.update(int(v) for v in table.z[int(table.atom_ptr[i]):int(table.atom_ptr[i + 1])].tolist())
        else:
            out.update(graph_atomic_numbers(table.graphs[i]))
    return out


def read_spec(model_dir: str | Path) -> dict[str, Any]:
    """``model.json`` of a model folder, checked for the format tag and the weight file list."""
    spec_path = Path(model_dir) / SPEC_FILE
    if not spec_path.is_file():
        raise DataError(spec_path, "model file missing",
                        hint="point --model-dir at a fold folder written by 'sciml materials train'")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(spec_path, f"not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        found = spec.get("format") if isinstance(spec, dict) else None
        raise DataError(spec_path, f"unknown model format {found!r} (this version reads {FORMAT!r})",
                        hint="retrain the model with this version of sciml")
    if "target_range" in spec:
        check_target_range(spec["target_range"], bool(spec.get("log_target")), spec_path)
    if spec.get("task", "regression") not in ("regression", "classification"):
        raise DataError(spec_path, f"unknown task {spec['task']!r} (regression, classification)")
    names = spec.get("ensemble_weights", [member_weight_file(0)])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and Path(n).name == n for n in names):
        raise DataError(spec_path, "ensemble_weights must be a non-empty list of file names in the model folder")
    return spec


def weight_files(model_dir: str | Path, spec: dict[str, Any]) -> list[Path]:
    """The weight files a model folder's ``model.json`` lists (member order)."""
    return [Path(model_dir) / n for n in spec.get("ensemble_weights", [member_weight_file(0)])]


def read_weights(path: Path) -> tuple[Any, str]:
    """(state dict, sha256 hex digest) of the weight file ``path``, read once (``torch.load(weights_only=True)``
    on its bytes); an empty, truncated or otherwise unreadable file is a :class:`~sciml.errors.DataError` naming it."""
    import hashlib
    import io
    import pickle
    import zipfile

    import torch

    data = path.read_bytes()
    if not data:
        raise DataError(path, "empty weight file", hint="rerun 'sciml materials train' for this fold")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (EOFError, OSError, RuntimeError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0].split(". ")[0][:160] if str(exc).strip() else ""  # torch adds advice
        raise DataError(path, f"unreadable weight file, truncated or corrupt ({type(exc).__name__}: {first})",
                        hint="rerun 'sciml materials train' for this fold") from None
    return state, hashlib.sha256(data).hexdigest()


def load(model_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """``(model, spec)`` of a model folder: the plain ``nn.Module`` in eval mode (an
    :class:`~sciml.materials.models.ensemble.EnsembleMean` of the members for an ensemble,
    giving the fold's test predictions) and the parsed ``model.json``.

    Weights load with ``torch.load(weights_only=True)``; a missing file, an unknown format
    or weights that do not fit the model raise :class:`~sciml.errors.DataError`.
    """
    from sciml.materials.models import build_model

    spec = read_spec(model_dir)
    members = []
    for weights in weight_files(model_dir, spec):
        if not weights.is_file():
            raise DataError(weights, "model file missing",
                            hint="point --model-dir at a fold folder written by 'sciml materials train'")
        state, digest = read_weights(weights)  # an empty or truncated file: said as such
        expected = (spec.get("weights_sha256") or {}).get(weights.name)
        if expected is not None and digest != expected:
            raise DataError(weights, "sha256 differs from the one model.json records for it: the file is corrupted, "
                                     "or model.json belongs to other weights (another fold or run)",
                            hint="copy the fold folder whole, or rerun 'sciml materials train' for this fold")
        try:
            model = build_model(spec["model_name"], **spec["model_kwargs"])
        except (TypeError, ValueError, KeyError, ConfigError) as exc:
            raise DataError(Path(model_dir) / SPEC_FILE, f"model_kwargs do not build a {spec['model_name']} model "
                                                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
        try:
            model.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(weights, f"weights do not fit the model in model.json ({str(exc)[:200]})") from None
        members.append(model)
    if len(members) == 1:
        model = members[0]
    else:
        from sciml.materials.models.ensemble import EnsembleMean

        model = EnsembleMean(members)
    model.eval()
    return model, spec
