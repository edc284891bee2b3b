"""Helpers of the Snakemake rules of the proteins domain (``workflows/rules/proteins.smk``).

Kept in the package (standard library only) so that the rule file holds rules alone.
"""

from __future__ import annotations

import os
from typing import Any

#: The keys of a config entry naming files its step reads.
FAMILY_FILES = ("alignment", "structure")
TARGET_FILES = ("alignment", "structure", "scores")


def entry_files(config: dict[str, Any], group: str, name: str, data_root: str) -> list[str]:
    """The input files of entry ``name`` of ``config["proteins"][group]`` (``families`` or
    ``targets``), resolved as the CLI resolves them: an absolute path as it is, else under
    ``data_root``. Only files that exist are listed: the step skips a family/target whose file is
    missing and says why, whereas a declared missing input would stop the whole workflow."""
    keys = FAMILY_FILES if group == "families" else TARGET_FILES
    entry = next((e for e in config["proteins"][group] if e["name"] == name), {})
    files = []
    for key in keys:
        path = entry.get(key)
        if path:
            path = path if os.path.isabs(path) else os.path.join(data_root, path)
            if os.path.isfile(path):
                files.append(path)
    return files
