"""Shared set-up of the Potts optimiser benchmarks: the rows, weights and settings ``potts.fit`` would fit.

Imported by ``potts_lbfgs_backends.py``, ``potts_centered.py``, ``potts_lbfgs_direction.py``,
``potts_preconditioned.py``, ``potts_meanfield_start.py`` and ``potts_column_blocks.py`` (run as scripts from this folder, so the folder is
on ``sys.path``).
"""

from __future__ import annotations

from typing import Any, Iterator


def load_family_rows(config: str, name: str, threads: int) -> tuple[Any, Any, Any, Any]:
    """One family of the config: (Family with its native, X_unique (M, L) int64, weights (M,), PottsSettings on CPU),
    the rows and weights prepared exactly as :func:`sciml.proteins.potts.fit` prepares them (same seed, subsample
    and weights)."""
    import numpy as np
    import torch

    from sciml.config import load_config
    from sciml.proteins import family, potts

    torch.set_num_threads(threads)
    cfg = load_config(config)
    pc = cfg["proteins"]
    spec = next(s for s in pc["families"] if s["name"] == name)
    fam = family.load_family(spec, cfg["data_root"], pc["min_identity"])
    st = potts.PottsSettings(**{**pc.get("potts", {}), "device": "cpu"})
    Xu, wu, _ = potts.prepare(np.asarray(fam.X), st, pc.get("seed", 0))
    return fam, Xu, wu, st


def family_rows(config: str, families: str, threads: int) -> Iterator[tuple[str, Any, Any, Any]]:
    """For each comma-separated family of the config: (name, X_unique, weights, PottsSettings), as
    :func:`load_family_rows` prepares them."""
    for name in families.split(","):
        _, Xu, wu, st = load_family_rows(config, name, threads)
        yield name, Xu, wu, st


def initial_theta(obj: Any, Xu: Any, wu: Any) -> Any:
    """The start ``potts.fit`` uses (frequency fields, zero couplings) in ``obj``'s parameter layout."""
    import torch

    from sciml.proteins import potts

    L = Xu.shape[1]
    return obj.to_theta(potts._init_fields(Xu, wu), torch.zeros(L * potts.Q, L * potts.Q))


def add_seconds_to_common(runs: list[dict]) -> float:
    """Give each run (a dict with ``objective`` and ``_trace``: (seconds, objective) of every evaluation) its
    ``s_to_common``: the seconds until it first reached the highest final objective of the runs (the one all
    reach; 1e-6 slack for the rounding of the recorded finals). Removes the traces; returns that objective."""
    common = max(r["objective"] for r in runs)
    for r in runs:
        r["s_to_common"] = round(next(t for t, f in r.pop("_trace") if f <= common + 1e-6), 2)
    return common
