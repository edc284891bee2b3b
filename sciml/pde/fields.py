"""Fields on the reference grid as a labelled xarray Dataset (prediction, reference, |error|,
optionally the finest classical solve), written as netCDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sciml.pde.references import Reference

COORD_UNITS = {"x": "1 (non-dimensional length)", "y": "1 (non-dimensional length)", "t": "1 (non-dimensional time)"}


def to_dataset(pred: np.ndarray, ref: Reference, attrs: dict[str, Any] | None = None,
               solver: np.ndarray | None = None):
    """xarray Dataset with ``prediction``, ``reference``, ``abs_error`` on the reference dims
    (NaN outside the domain), coordinates and units in ``attrs``. A scattered reference gives
    dim ``node`` with the node coordinates (``x``, ``y``) as coordinates along it. With
    ``solver`` (the finest in-package solve on the same grid) also ``solver`` and
    ``abs_error_vs_solver``, the PINN's error against it."""
    import xarray as xr

    pred = np.asarray(pred, dtype=float).reshape(ref.shape).copy()
    pred[~ref.mask] = np.nan
    if ref.nodes is not None:  # scattered nodes: dim "node", coordinates x, y along it
        coords = {"node": ("node", np.arange(len(ref.nodes)), {"long_name": "reference node index"})}
        coords |= {name: ("node", ref.nodes[:, i].astype(float), {"units": COORD_UNITS.get(name, "1")})
                   for i, name in enumerate(ref.inputs)}
    else:
        coords = {d: (d, np.asarray(ref.coords[d], dtype=float), {"units": COORD_UNITS.get(d, "1")}) for d in ref.dims}
    u = {"units": "1 (non-dimensional u)"}
    ds = xr.Dataset(
        {
            "prediction": (ref.dims, pred, {**u, "long_name": "PINN prediction of u"}),
            "reference": (ref.dims, ref.values, {**u, "long_name": f"reference u ({Path(ref.source).name})"}),
            "abs_error": (ref.dims, np.abs(pred - ref.values), {**u, "long_name": "|prediction - reference|"}),
        },
        coords=coords,
        attrs={k: (str(v) if not isinstance(v, (int, float, str)) else v) for k, v in (attrs or {}).items()},
    )
    if solver is not None:
        sol = np.where(ref.mask, np.asarray(solver, dtype=float).reshape(ref.shape), np.nan)
        ds["solver"] = (ref.dims, sol, {**u, "long_name": "classical solution u (finest in-package solve)"})
        ds["abs_error_vs_solver"] = (ref.dims, np.abs(pred - sol),
                                     {**u, "long_name": "|prediction - finest in-package solve|"})
    return ds


def _coords(ref: Reference) -> dict[str, Any]:
    if ref.nodes is not None:  # scattered nodes: dim "node", the input coordinates along it
        coords = {"node": ("node", np.arange(len(ref.nodes)), {"long_name": "reference node index"})}
        return coords | {name: ("node", ref.nodes[:, i].astype(float), {"units": COORD_UNITS.get(name, "1"),
                                                                         "long_name": f"coordinate {name}"})
                         for i, name in enumerate(ref.inputs)}
    return {d: (d, np.asarray(ref.coords[d], dtype=float), {"units": COORD_UNITS.get(d, "1"), "long_name": f"coordinate {d}"})
            for d in ref.dims}


def to_dataset_fields(preds: dict[str, np.ndarray], ref: Reference, fields: tuple[str, ...],
                      attrs: dict[str, Any] | None = None):
    """xarray Dataset of a problem with several fields: ``prediction_<f>``, ``reference_<f>`` and
    ``abs_error_<f>`` per field ``f`` on the reference dims (NaN outside the domain), CF
    ``units``/``long_name`` attributes on every variable and coordinate."""
    import xarray as xr

    data = {}
    for f in fields:
        pred = np.asarray(preds[f], dtype=float).reshape(ref.shape).copy()
        pred[~ref.mask] = np.nan
        refv = np.asarray(ref.field(f), dtype=float)
        u = {"units": f"1 (non-dimensional {f})"}
        data[f"prediction_{f}"] = (ref.dims, pred, {**u, "long_name": f"PINN prediction of {f}"})
        data[f"reference_{f}"] = (ref.dims, refv, {**u, "long_name": f"reference {f} ({Path(ref.source).name})"})
        data[f"abs_error_{f}"] = (ref.dims, np.abs(pred - refv), {**u, "long_name": f"|prediction - reference| of {f}"})
    attrs = {**(attrs or {}), "fields": " ".join(fields), "Conventions": "CF-1.8"}
    return xr.Dataset(data, coords=_coords(ref),
                      attrs={k: (str(v) if not isinstance(v, (int, float, str)) else v) for k, v in attrs.items()})


def write_netcdf(ds, path: str | Path) -> Path:
    """Write ``ds`` atomically as netCDF: netCDF4 via h5netcdf when h5py is installed,
    else netCDF3 via scipy (both readable by ``xarray.open_dataset``)."""
    import importlib.util

    from sciml.io import atomic_path

    engine = "h5netcdf" if importlib.util.find_spec("h5py") is not None else "scipy"
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=engine)
    return Path(path)
