"""Helpers of the Snakemake rules of the materials domain (``workflows/rules/materials.smk`` and
``screening.smk``). Kept in the package (standard library only) so that the rule files hold rules alone.
"""

from __future__ import annotations

import os


def dataset_files(path: str) -> list[str]:
    """The files a dataset path stands for, as rule inputs: the path itself and, for a folder, every
    file in it. Snakemake compares a folder's own mtime only, which editing a file inside does not
    change: a folder's ``id_prop.csv`` or CIFs edited in place must rerun prepare and the folds."""
    if not os.path.isdir(path):
        return [path]
    return [path] + sorted(e.path for e in os.scandir(path) if e.is_file())
