"""The saved PINN: the one owner of its format, written by ``train``, read by ``evaluate``.

A model folder holds ``model.pt`` (the network's state dict, loaded with
``torch.load(weights_only=True)``) and ``model.json`` (format name and version, the problem
and its parameters, the network architecture). The network itself is rebuilt from the
config by :func:`sciml.pde.pinn.build_pinn`; :func:`load_model` first checks that
``model.json`` was written in this format version and for the same problem, parameters,
physics (:func:`problem_fingerprint`: a changed equation, condition or geometry) and
architecture, so a config that drifted from the training run fails with a clear message
instead of loading mismatched weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.errors import DataError

#: Format of the model folder; bump :data:`FORMAT_VERSION` when what is saved changes.
FORMAT = "sciml.pde.pinn"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.pt"
META_FILE = "model.json"
#: Both files of a saved model.
MODEL_FILES = (WEIGHTS_FILE, META_FILE)
#: ``pinn`` config keys that define the network (weights of another value do not fit or mean something else).
ARCHITECTURE_KEYS = ("width", "depth", "activation", "precision", "hard_constraints", "periodic_modes", "symmetry",
                     "normalize_inputs", "network", "fourier_features", "weight_factorization")
#: Architecture keys added after format version 1 was first written, with the value every model
#: saved before them was trained with (a plain MLP): such a model.json lacks them, and is read as
#: having these values, so older model folders still load under a config that keeps the defaults.
ADDED_ARCHITECTURE_DEFAULTS = {"network": "fnn", "fourier_features": {"features": 0, "sigma": 1.0},
                               "weight_factorization": {"enabled": False, "mean": 1.0, "std": 0.1}}


#: Keys of a problem's declaration that define the physics its network is trained on.
PHYSICS_KEYS = ("geometry", "time", "fields", "params", "equations", "conditions", "hard")
#: What ``model.json`` records of the problem, checked on load (added to format version 1 later:
#: a model.json without them loads with a warning).
PHYSICS_META = ("problem_fingerprint", "equation")


def problem_fingerprint(problem: Any) -> str | None:
    """A short hash of what defines problem's physics: its declaration's :data:`PHYSICS_KEYS`
    (a declared problem's equations, conditions, geometry, fields, parameters, hard constraint)
    and, for a problem written outside the package (a plugin), its source file; None for a
    built-in problem written in code."""
    import hashlib
    import inspect
    import json

    spec = problem.declaration()
    parts: dict[str, Any] = {} if spec is None else {k: spec[k] for k in PHYSICS_KEYS if k in spec}
    if not type(problem).__module__.startswith("sciml."):
        try:
            parts["source"] = hashlib.sha256(Path(inspect.getfile(type(problem))).read_bytes()).hexdigest()
        except (OSError, TypeError):
            parts["source"] = None
    if not parts:
        return None
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def model_meta(pinn: Any) -> dict[str, Any]:
    """What ``model.json`` records for ``pinn`` (a :class:`sciml.pde.pinn.PINN`)."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "weights": WEIGHTS_FILE,
        "problem": pinn.problem.name, "params": dict(pinn.problem.params),
        "problem_fingerprint": problem_fingerprint(pinn.problem), "equation": getattr(pinn.problem, "equation", None),
        "inputs": list(pinn.problem.inputs),
        "architecture": {k: pinn.cfg.get(k) for k in ARCHITECTURE_KEYS},
        "hard_constraints": pinn.hard, "exact_symmetry": pinn.symmetric,
    }


def save_model(model_dir: str | Path, pinn: Any) -> list[Path]:
    """Write ``model.pt`` and ``model.json`` of ``pinn`` into ``model_dir`` atomically; return both paths."""
    from sciml.io import save_torch_atomic, write_json_atomic

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    save_torch_atomic(pinn.net.state_dict(), model_dir / WEIGHTS_FILE)
    write_json_atomic(model_dir / META_FILE, model_meta(pinn))
    return [model_dir / name for name in MODEL_FILES]


def read_model_meta(model_dir: str | Path) -> dict[str, Any]:
    """``model.json`` of a model folder; DataError when it is missing, unreadable or of another format version."""
    from sciml.io import read_model_json

    return read_model_json(Path(model_dir) / META_FILE, FORMAT, FORMAT_VERSION, "PINN", "sciml pde train")


def load_model(model_dir: str | Path, pinn: Any) -> dict[str, Any]:
    """Load the weights of the model folder into ``pinn`` (built from the config) after checking
    that ``model.json`` matches its problem, parameters and architecture; returns the metadata."""
    import torch

    model_dir = Path(model_dir)
    meta = read_model_meta(model_dir)
    if isinstance(meta.get("architecture"), dict):
        meta["architecture"] = {**ADDED_ARCHITECTURE_DEFAULTS, **meta["architecture"]}
    want = model_meta(pinn)
    diffs = [k for k in ("problem", "params", "architecture") if meta.get(k) != want[k]]
    diffs += _physics_diffs(model_dir, meta, want)
    if diffs:
        detail = "; ".join(_difference(k, meta.get(k), want[k]) for k in diffs)
        raise DataError(model_dir / META_FILE, f"the saved PINN does not match the config ({detail})",
                        hint="Evaluate with the config the model was trained with, or retrain.")
    try:
        state = torch.load(model_dir / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        pinn.net.load_state_dict(state)
    except FileNotFoundError:
        raise DataError(model_dir / WEIGHTS_FILE, "the saved PINN's weights are missing") from None
    except Exception as exc:  # noqa: BLE001 -- torch raises many types for a truncated or foreign file
        raise DataError(model_dir / WEIGHTS_FILE, f"cannot load the saved PINN's weights ({type(exc).__name__}: "
                                                  f"{str(exc)[:200]})", hint="retrain, or restore the file") from None
    return meta


def _physics_diffs(model_dir: Path, meta: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The :data:`PHYSICS_META` keys in which the saved model differs from the config's problem
    (a model trained for another equation, condition or geometry); none, with a warning, for a
    model.json written before the fingerprint was recorded."""
    if "problem_fingerprint" not in meta:
        import warnings

        warnings.warn(f"{model_dir / META_FILE} records no problem fingerprint (saved before it was recorded): "
                      "cannot check that the model was trained for this config's equations and conditions; "
                      "retrain to record it", UserWarning, stacklevel=3)
        return []
    if meta["problem_fingerprint"] == want["problem_fingerprint"]:
        return []
    return [k for k in PHYSICS_META if meta.get(k) != want[k]] or ["problem_fingerprint"]


def _difference(key: str, saved: Any, wanted: Any) -> str:
    """``key: saved X, config Y``; for two dicts only the entries that differ (``architecture.width:
    saved 16, config 32``), not both whole dicts."""
    if isinstance(saved, dict) and isinstance(wanted, dict):
        keys = sorted(set(saved) | set(wanted), key=str)
        return "; ".join(f"{key}.{k}: saved {saved.get(k)!r}, config {wanted.get(k)!r}"
                         for k in keys if saved.get(k) != wanted.get(k))
    return f"{key}: saved {saved!r}, config {wanted!r}"
