"""Readers of the records the proteins steps leave in their folders: a prediction target's and the
cross-validation's ``metrics.json``, checked field by field so that a step reading another step's
output fails with the file named (the section step reads both, ``train-model`` the CV's).
The family step's own record is read by :mod:`sciml.proteins.family`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: What the section says when a --target-dirs / --cv-dir folder lacks its metrics.json.
PREDICT_HINT = "did 'sciml proteins predict' finish for this target?"
CV_HINT = "did 'sciml proteins cross-validate' finish?"


def read_target_record(target_dir: str | Path) -> dict[str, Any]:
    """The ``metrics.json`` of a prediction target folder; a DataError naming it when it is missing,
    unreadable, not JSON or not a target record (``name``; ``skipped`` text; a ``model`` object with
    ``dir``, ``sha256`` and ``kind``)."""
    from sciml.errors import DataError
    from sciml.io import read_json_object

    path = Path(target_dir) / "metrics.json"
    m = read_json_object(path, "prediction target metrics", PREDICT_HINT)
    if not isinstance(m.get("name"), str) or not m["name"]:
        raise DataError(path, "prediction target metrics lack a 'name' (text)", hint=PREDICT_HINT)
    if "skipped" in m and not isinstance(m["skipped"], str):
        raise DataError(path, f"'skipped' must be the reason (text), got {type(m['skipped']).__name__}")
    if "skipped" in m and not isinstance(m.get("inputs", {}), dict):
        raise DataError(path, f"'inputs' must be an object, got {type(m['inputs']).__name__}")
    model = m.get("model")
    if isinstance(model, dict):
        bad = [k for k in ("dir", "sha256", "kind") if not isinstance(model.get(k), str)]
        if bad:
            raise DataError(path, f"'model' lacks {', '.join(bad)} (text)")
    return m


def read_cv_record(cv_dir: str | Path) -> dict[str, Any]:
    """The cross-validation step's ``metrics.json``; a DataError naming it when it is missing,
    unreadable, not JSON, or holds neither ``skipped`` nor well-formed ``per_family`` precisions."""
    from sciml.errors import DataError
    from sciml.io import read_json_object
    from sciml.proteins.family import check_precisions

    path = Path(cv_dir) / "metrics.json"
    net = read_json_object(path, "cross-validation metrics", CV_HINT)
    if "per_family" not in net:
        if not isinstance(net.get("skipped"), str):
            raise DataError(path, "cross-validation metrics hold neither 'per_family' nor a 'skipped' reason",
                            hint=CV_HINT)
        return net
    per = net["per_family"]
    if not isinstance(per, dict):
        raise DataError(path, f"'per_family' must be an object (family: precisions), got {type(per).__name__}")
    folds = net.get("folds", [])
    if not isinstance(folds, list) or not all(isinstance(f, dict) for f in folds):
        raise DataError(path, "'folds' must be a list of objects")
    members = folds[0].get("members", []) if folds else []
    if not isinstance(members, list) or not all(isinstance(x, dict) and "seed" in x for x in members):
        raise DataError(path, "'folds[0].members' must be a list of objects with a 'seed'")
    for name, rec in per.items():
        if not isinstance(rec, dict):
            raise DataError(path, f"'per_family.{name}' must be an object, got {type(rec).__name__}")
        check_precisions(path, rec.get("network"), f"per_family.{name}.network")
        if members:
            runs = rec.get("network_members")
            if not isinstance(runs, list) or len(runs) != len(members):
                raise DataError(path, f"'per_family.{name}.network_members' must list the precisions of the "
                                f"{len(members)} ensemble members")
            for i, r in enumerate(runs):
                check_precisions(path, r, f"per_family.{name}.network_members[{i}]")
    if not isinstance(net.get("calibration", {}), dict):
        raise DataError(path, f"'calibration' must be an object, got {type(net['calibration']).__name__}")
    return net
