"""The input files of a family or target entry with their sha256: what the record of a skip names.

A family or target that is skipped (unreadable alignment, query not found, structure that does not
match, too shallow, ...) never reaches the point where its files are recorded as inputs. Its skip
record must still say which exact files were rejected: :func:`entry_inputs` resolves each file of
the entry as the steps do (an absolute path as it is, else under the data root) and checksums it,
``"missing"`` for a file that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

def entry_path(path: str | Path, data_root: str | Path | None) -> Path:
    """A family's or target's file as the steps read it: an absolute path as it is (a user's own file
    anywhere), else a path under the data root (:func:`sciml.data.resolve`, which checks a shipped file's
    checksum). A missing absolute file is a DataError naming it."""
    from sciml.data import resolve
    from sciml.errors import DataError

    p = Path(path).expanduser()
    if p.is_absolute():
        if not p.is_file():
            raise DataError(p, "file not found")
        return p
    return resolve(str(path), data_root)


#: The sha256 field of a file that does not exist.
MISSING = "missing"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def entry_inputs(entry: dict[str, Any], keys: tuple[str, ...], data_root: str | Path | None) -> dict[str, dict[str, str]]:
    """``{key: {"path", "sha256"}}`` for each file ``key`` of ``entry`` that is set (e.g. ``alignment``,
    ``structure``, ``scores``): the path as the step reads it and the sha256 of its bytes, or ``"missing"``
    when there is no file there (also said of a symbolic link that leads nowhere; ``"not a file"`` for a folder,
    ``"unreadable: ..."`` when it cannot be read)."""
    from sciml.data import data_root as root_of
    from sciml.io import sha256_file

    out = {}
    for key in keys:
        value = entry.get(key)
        if not value:
            continue
        path = Path(value)
        if not path.is_absolute():
            path = root_of(data_root) / path
        if path.is_file():
            try:
                digest = sha256_file(path)
            except OSError as exc:
                digest = f"unreadable: {exc.strerror or exc}"
        elif path.exists():
            digest = "not a file"
        elif path.is_symlink():
            digest = f"{MISSING} (a symbolic link that leads to no file)"
        else:
            digest = MISSING
        out[key] = {"path": str(path), "sha256": digest}
    return out


def checksummed_paths(inputs: dict[str, dict[str, str]]) -> list[str]:
    """The paths of ``inputs`` (as :func:`entry_inputs` returns) that were read and checksummed, for provenance."""
    return [v["path"] for v in inputs.values() if _DIGEST.fullmatch(v.get("sha256", ""))]


def input_rows(kind: str, name: str, inputs: dict[str, dict[str, str]]) -> list[list[str]]:
    """Report table rows ``[kind, name, file, path, sha256]`` of a skipped entry's inputs (one row saying
    so when none was recorded, e.g. a record written before the checksums were)."""
    if not inputs:
        return [[kind, name, "", "", "not recorded"]]
    return [[kind, name, key, v["path"], v["sha256"]] for key, v in inputs.items()]
