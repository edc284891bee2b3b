"""Fields on the reference grid as a labelled xarray Dataset (prediction, reference, |error|,
optionally the finest classical solve), written as netCDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sciml.pde.references import Reference

#: CF ``long_name`` of the network inputs; every coordinate and variable carries ``units: "1"``
#: (non-dimensional: the problems are posed without physical units), the description is in long_name.
COORD_NAMES = {"x": "non-dimensional length x", "y": "non-dimensional length y", "z": "non-dimensional length z",
               "t": "non-dimensional time t"}
#: Version of the CF conventions the written files follow (global attribute ``Conventions``).
CONVENTIONS = "CF-1.8"


def global_attrs(attrs: dict[str, Any] | None) -> dict[str, Any]:
    """netCDF global attributes from ``attrs``: a None value is left out (never the string 'None'),
    a bool becomes the integer 0/1 (netCDF has no boolean), a list or tuple of numbers an array;
    strings and numbers as they are; anything else is refused (TypeError naming the key) rather than
    stringified. ``Conventions`` is set to :data:`CONVENTIONS`."""
    out: dict[str, Any] = {}
    for k, v in (attrs or {}).items():
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)):
            out[k] = np.int8(v)
        elif isinstance(v, (str, int, float, np.integer, np.floating)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and v and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v):
            out[k] = np.asarray(v, dtype=float)
        elif isinstance(v, Path):
            out[k] = str(v)
        else:
            raise TypeError(f"netCDF attribute {k!r}: cannot store {type(v).__name__} {v!r}")
    out["Conventions"] = CONVENTIONS
    return out


def _coords(ref: Reference) -> dict[str, Any]:
    """Coordinates with CF ``units`` / ``long_name``: the grid's dims, or for scattered nodes dim
    ``node`` with the input coordinates along it."""
    def attrs(name: str) -> dict[str, str]:
        return {"units": "1", "long_name": COORD_NAMES.get(name, f"non-dimensional coordinate {name}")}

    if ref.nodes is not None:
        coords = {"node": ("node", np.arange(len(ref.nodes)), {"units": "1", "long_name": "reference node index"})}
        return coords | {name: ("node", ref.nodes[:, i].astype(float), attrs(name))
                         for i, name in enumerate(ref.inputs)}
    return {d: (d, np.asarray(ref.coords[d], dtype=float), attrs(d)) for d in ref.dims}


def _var(dims: tuple[str, ...], values: np.ndarray, long_name: str) -> tuple:
    return (dims, values, {"units": "1", "long_name": long_name})


def to_dataset(pred: np.ndarray, ref: Reference, attrs: dict[str, Any] | None = None,
               solver: np.ndarray | None = None, field: str = "u"):
    """xarray Dataset with ``prediction``, ``reference``, ``abs_error`` of ``field`` on the reference
    dims (NaN outside the domain), CF ``units``/``long_name`` on every variable and coordinate
    (non-dimensional: units "1") and global ``attrs`` (:func:`global_attrs`). A scattered reference
    gives dim ``node`` with the node coordinates (``x``, ``y``) as coordinates along it. With
    ``solver`` (the finest in-package solve on the same grid) also ``solver`` and
    ``abs_error_vs_solver``, the PINN's error against it."""
    import xarray as xr

    pred = np.asarray(pred, dtype=float).reshape(ref.shape).copy()
    pred[~ref.mask] = np.nan
    f = field
    ds = xr.Dataset(
        {
            "prediction": _var(ref.dims, pred, f"PINN prediction of non-dimensional {f}"),
            "reference": _var(ref.dims, ref.values, f"reference non-dimensional {f} ({Path(ref.source).name})"),
            "abs_error": _var(ref.dims, np.abs(pred - ref.values), f"|prediction - reference| of {f}"),
        },
        coords=_coords(ref),
        attrs=global_attrs(attrs),
    )
    if solver is not None:
        sol = np.where(ref.mask, np.asarray(solver, dtype=float).reshape(ref.shape), np.nan)
        ds["solver"] = _var(ref.dims, sol, f"classical solution non-dimensional {f} (finest in-package solve)")
        ds["abs_error_vs_solver"] = _var(ref.dims, np.abs(pred - sol), f"|prediction - finest in-package solve| of {f}")
    return ds


def to_dataset_fields(preds: dict[str, np.ndarray], ref: Reference, fields: tuple[str, ...],
                      attrs: dict[str, Any] | None = None):
    """xarray Dataset of a problem with several fields: ``prediction_<f>``, ``reference_<f>`` and
    ``abs_error_<f>`` per field ``f`` on the reference dims (NaN outside the domain), CF
    ``units``/``long_name`` attributes on every variable and coordinate, global ``attrs``
    (:func:`global_attrs`) and ``fields``."""
    import xarray as xr

    data = {}
    for f in fields:
        pred = np.asarray(preds[f], dtype=float).reshape(ref.shape).copy()
        pred[~ref.mask] = np.nan
        refv = np.asarray(ref.field(f), dtype=float)
        data[f"prediction_{f}"] = _var(ref.dims, pred, f"PINN prediction of non-dimensional {f}")
        data[f"reference_{f}"] = _var(ref.dims, refv, f"reference non-dimensional {f} ({Path(ref.source).name})")
        data[f"abs_error_{f}"] = _var(ref.dims, np.abs(pred - refv), f"|prediction - reference| of {f}")
    return xr.Dataset(data, coords=_coords(ref), attrs=global_attrs({**(attrs or {}), "fields": " ".join(fields)}))


def write_netcdf(ds, path: str | Path) -> Path:
    """Write ``ds`` atomically as netCDF: netCDF4 via h5netcdf when h5py is installed,
    else netCDF3 via scipy (both readable by ``xarray.open_dataset``)."""
    import importlib.util

    from sciml.io import atomic_path

    engine = "h5netcdf" if importlib.util.find_spec("h5py") is not None else "scipy"
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=engine)
    return Path(path)
