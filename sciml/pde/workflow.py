"""Helpers of the Snakemake rules of the pde domain (``workflows/rules/pde.smk``).

Kept in the package (standard library only) so that the rule file holds rules alone.
"""

from __future__ import annotations

import os
from typing import Any


def problem_files(config: dict[str, Any], name: str) -> list[str]:
    """The user's files problem ``name``'s steps read, as the CLI resolves them (a path as
    given: absolute, or relative to the working directory): a declared problem's reference
    file (``pde.declared.<name>.reference.path``), else the plugin files (``pde.plugins``).
    Declared as inputs of the rules, so an edited file reruns solve, train and evaluate.
    Only files that exist are listed: the step refuses a missing one with its config key,
    which says more than Snakemake's missing-input error."""
    pde = config["pde"]
    declared = pde.get("declared") or {}
    if name in declared:
        ref = declared[name].get("reference") or {}
        paths = [ref.get("path")] if isinstance(ref, dict) else []
    else:
        paths = list(pde.get("plugins") or [])
    return [p for p in paths if isinstance(p, str) and p and os.path.isfile(p)]


def operator_configs(config: dict[str, Any]) -> dict[str, str]:
    """Operator name (its config file's name without the suffix, the folder of its job) -> config file, for
    ``pde.operators``. Two files of one name (``a/op.yaml``, ``b/op.yaml``) would share a folder, and one
    of them would silently never run: a ValueError naming both (Snakemake shows it when it reads the rules)."""
    out: dict[str, str] = {}
    for path in config["pde"].get("operators", []) or []:
        name = os.path.splitext(os.path.basename(path))[0]
        if name in out:
            raise ValueError(f"pde.operators: {out[name]!r} and {path!r} have one name, {name!r}, and would share "
                             f"the folder operator/{name}: rename one of the files")
        out[name] = path
    return out
