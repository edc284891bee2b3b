"""Download manifest entries from their official URL, verified by sha256 before use."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from sciml.data.manifest import DataEntry, data_root, load_manifest, safe_join, verify
from sciml.errors import DataError
from sciml.io import atomic_path


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError) as exc:  # ValueError: not a URL (e.g. a project-made entry)
        raise DataError(url, f"download failed ({exc})", hint="Check the network, or copy the file into the data root by hand") from None


def safe_extract_member(archive: Path, member: str, dest: Path) -> None:
    """Extract one member of a tar/zip archive to ``dest``.

    Members whose names are absolute or climb out (``..``) are refused, so a hostile
    archive cannot write outside the target folder.
    """
    if member.startswith("/") or ".." in Path(member).parts:
        raise DataError(archive, f"archive member '{member}' escapes the target folder")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            return
        with tarfile.open(archive) as tf:
            info = tf.getmember(member)
            if not info.isfile():
                raise DataError(archive, f"archive member '{member}' is not a regular file")
            src = tf.extractfile(info)
            assert src is not None
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    except KeyError:
        raise DataError(archive, f"archive has no member '{member}'") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(archive, f"cannot read the archive ({exc})") from None


def fetch(name: str, root: str | Path | None = None, force: bool = False) -> Path:
    """Download manifest entry ``name`` into the data root; return its verified path."""
    entries = load_manifest()
    if name not in entries:
        raise DataError(name, "not in the data manifest", hint="Run 'sciml data list' for the known names")
    entry: DataEntry = entries[name]
    if entry.is_tree:
        raise DataError(name, "is a folder dataset; download it by hand from " + entry.url)
    root_path = data_root(root)
    dest = safe_join(root_path, name)
    if dest.exists() and not force:
        verify(dest, entry)
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "download"
        _download(entry.url, raw)
        with atomic_path(dest) as out:
            if entry.archive_member:
                safe_extract_member(raw, entry.archive_member, out)
            else:
                shutil.copyfile(raw, out)
            verify(out, entry)
    return dest
