"""The data manifest and the data root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sciml.errors import ChecksumError, DataError
from sciml.io import sha256_file, sha256_tree

DEFAULT_DATA_ROOT = "data"
ENV_DATA_ROOT = "SCIML_DATA_ROOT"


@dataclass(frozen=True)
class DataEntry:
    """One dataset file or folder.

    ``name`` is its path relative to the data root; ``sha256`` the hex digest of the
    file (or ``tree:<digest>`` of a folder, see :func:`sciml.io.sha256_tree`);
    ``url`` where the official copy lives (``archive_member`` when the file sits inside
    an archive at that URL); ``licence`` and ``source`` for attribution.
    """

    name: str
    sha256: str
    url: str
    licence: str
    source: str
    archive_member: str | None = None

    @property
    def is_tree(self) -> bool:
        return self.sha256.startswith("tree:")


@lru_cache(maxsize=None)
def load_manifest() -> dict[str, DataEntry]:
    """All entries of ``sciml/data/manifests/*.yaml`` keyed by name."""
    import yaml

    entries: dict[str, DataEntry] = {}
    for item in resources.files("sciml.data.manifests").iterdir():
        if not item.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(item.read_text(encoding="utf-8")) or {}
        for name, spec in (raw.get("entries") or {}).items():
            entries[name] = DataEntry(name=name, **spec)
    return entries


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else ``$SCIML_DATA_ROOT``, else ``data/``."""
    if root is None:
        root = os.environ.get(ENV_DATA_ROOT) or DEFAULT_DATA_ROOT
    return Path(root)


def safe_join(root: str | Path, relative: str | Path) -> Path:
    """``root / relative``, refusing absolute paths and paths that climb out of ``root``."""
    rel = Path(relative)
    if rel.is_absolute():
        raise DataError(relative, f"absolute path not allowed here; give a path inside the data root {root}")
    try:
        root_resolved = Path(root).resolve()
        candidate = (root_resolved / rel).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on Python < 3.13
        raise DataError(relative, f"cannot resolve the path under the data root {root} ({exc}); "
                        "is it a symbolic-link loop?") from None
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise DataError(relative, f"path escapes the data root {root}")
    return Path(root) / rel


def _how_to_get(entry: DataEntry | None, root: Path) -> str:
    if entry is None:
        return f"Put the file under the data root {root} (set it with --data-root or ${ENV_DATA_ROOT})"
    member = f" (member {entry.archive_member})" if entry.archive_member else ""
    return (
        f"Download it from {entry.url}{member} ({entry.licence}; {entry.source}) with "
        f"'sciml data fetch {entry.name} --data-root {root}', or point --data-root / "
        f"${ENV_DATA_ROOT} at a folder that has it"
    )


def verify(path: Path, entry: DataEntry) -> None:
    """Raise :class:`ChecksumError` unless ``path`` matches ``entry.sha256``."""
    actual = ("tree:" + sha256_tree(path)) if entry.is_tree else sha256_file(path)
    if actual != entry.sha256:
        raise ChecksumError(
            path,
            f"sha256 mismatch for '{entry.name}' (expected {entry.sha256}, found {actual})",
            hint="The file is corrupt or a different version; delete it and fetch it again",
        )


def resolve(name: str, root: str | Path | None = None, check: bool = True) -> Path:
    """Path of dataset ``name`` under the data root, checksum-verified when listed.

    Names not in the manifest (a user's own files) resolve without verification.
    """
    root_path = data_root(root)
    entry = load_manifest().get(name)
    path = safe_join(root_path, name)
    if not path.exists():
        raise DataError(path, "data file not found", hint=_how_to_get(entry, root_path))
    if check and entry is not None:
        verify(path, entry)
    return path
