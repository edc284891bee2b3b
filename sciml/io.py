"""Atomic file output and checksums.

Every output is written to a temporary file in the destination folder and renamed
into place (``os.replace`` is atomic on POSIX), so a killed run never leaves a
partial file that looks finished, and two jobs writing the same cache do not tear it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the suffix so writers that dispatch on it still work.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=f"{TMP_MARK}{path.suffix}", dir=path.parent
        )
    except OSError as exc:  # a read-only folder, a full disk: the output named, not a temporary file
        raise _cannot_write(path, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs get normal modes
    try:
        yield tmp
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _DISK_ERRNOS:  # the output's disk; another OSError (an unreadable input) passes as it is
            raise _cannot_write(path, exc) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _cannot_write(path, exc) from exc


#: OSError numbers of a write that only the output's disk can raise (no space, quota, read-only filesystem); a
#: permission error inside the writing block may be an input's.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
#: What :func:`atomic_path` puts before the suffix of its temporary files (``.name.XXXXXXXX.tmp.suffix``).
TMP_MARK = ".tmp"
#: A temporary file of :func:`atomic_path` older than this (seconds) belongs to a killed run.
STALE_TMP_SECONDS = 300


def _cannot_write(path: Path, exc: OSError) -> Exception:
    """A DataError naming the output ``path`` that could not be written and why (read-only, no space...)."""
    from sciml.errors import DataError

    return DataError(path, f"cannot write this output ({exc.strerror or exc})",
                     hint="check the folder is writable and the disk has space, then rerun (finished outputs are kept)")


def remove_stale_temporaries(folder: str | Path, older_than: float = STALE_TMP_SECONDS) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left in ``folder`` (not its subfolders) when a run was killed
    while writing (a kill skips their clean-up: a checkpoint-sized one per preemption), if older than
    ``older_than`` seconds, so that a write in progress is never touched. Returns what was removed."""
    import re
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = re.compile(r"^\..+\.[A-Za-z0-9_]{8}" + re.escape(TMP_MARK) + r"(\.[^.]*)?$")
    now, removed = time.time(), []
    for item in folder.iterdir():
        try:
            if pattern.match(item.name) and item.is_file() and now - item.stat().st_mtime > older_than:
                item.unlink()
                removed.append(item)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_torch_atomic(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically; return the path.

    Saved through an open file handle, so the archive's inner folder is always ``archive``: given a
    path, torch names that folder after the file, i.e. after the random temporary name, and the same
    weights would get a different sha256 at every save (predict records the model's sha256).
    """
    import torch

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as sorted, indented JSON atomically (byte-stable for equal input)."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_csv_atomic(path: str | Path, header: list[str], rows: Any) -> Path:
    """Write ``header`` and ``rows`` (iterables of cells) as CSV atomically; ``\n`` line ends.

    Cells are written as given (format floats before passing them for byte-stable files).
    """
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buf.getvalue())


class CsvSpool:
    """A CSV written row by row into a temporary file beside ``path`` and renamed onto it by
    :meth:`commit`: for row lists that grow with the input (screening's skipped and warned
    structures), so memory stays flat in their number; ``\n`` line ends as :func:`write_csv_atomic`.
    Until :meth:`commit`, ``path`` is untouched; :meth:`discard` removes the temporary file."""

    def __init__(self, path: str | Path, header: list[str]) -> None:
        import csv

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=f".tmp{self.path.suffix}",
                                        dir=self.path.parent)
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        self._tmp = Path(tmp_name)
        self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(header)
        self.rows_written = 0

    def write(self, row: list[Any]) -> None:
        """Append one row (cells written as given)."""
        self._writer.writerow(row)
        self.rows_written += 1

    def commit(self) -> Path:
        """Flush, fsync and rename the file onto ``path``; return ``path``."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Close and remove the temporary file (``path`` stays as it was)."""
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays and paths appear in metrics; convert without importing numpy.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sha256_stream(fh: Any, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of everything a binary file object still yields (read in chunks)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(chunk_size), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as fh:
        return sha256_stream(fh, chunk_size)


def sha256_tree(root: str | Path) -> str:
    """One sha256 for a folder: over the sorted (relative path, file sha256) pairs.

    A link to a file counts with its target's bytes (the readers follow it: a linked structure edited in
    place must change the folder's checksum and the caches keyed by it); links to folders are not walked
    and dangling or looping links are skipped, so a link loop cannot hang it.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() and not _links_to_file(full):
                continue
            rel = full.relative_to(root).as_posix()
            digest.update(f"{rel}\0{sha256_file(full)}\n".encode())
    return digest.hexdigest()


def _links_to_file(path: Path) -> bool:
    """True when the link ``path`` resolves to a regular file (False for a dangling or looping link)."""
    try:
        return path.resolve(strict=True).is_file()
    except (OSError, RuntimeError):  # missing target, or a loop
        return False


def read_json_object(path: str | Path, what: str, hint: str | None = None) -> dict[str, Any]:
    """The JSON object in ``path`` (``what`` names the file in errors, e.g. "family metrics").

    Raises :class:`~sciml.errors.DataError` naming the file when it is missing (with ``hint``, e.g. which step
    writes it), a folder, unreadable, not UTF-8, not JSON, or JSON that is not an object."""
    from sciml.errors import DataError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = "" if path.parent.is_dir() else f"; its folder {path.parent} does not exist"
        raise DataError(path, f"{what} missing{where}" + (f" ({hint})" if hint else "")) from None
    except IsADirectoryError:
        raise DataError(path, f"{what} is a folder, not a JSON file") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"{what} is not valid JSON ({exc})", hint=hint) from None
    if not isinstance(data, dict):
        raise DataError(path, f"{what} must be a JSON object, got {type(data).__name__}", hint=hint)
    return data


def read_model_json(path: str | Path, fmt: str, version: int, kind: str, producer: str) -> dict[str, Any]:
    """The metadata JSON (``model.json``...) at ``path`` of a saved ``kind`` (e.g. "PINN") written by ``producer``.

    Raises :class:`~sciml.errors.DataError` naming the file when it is missing, not readable JSON, of
    another ``format`` or of another ``format_version``; the hint says which command writes a fresh one.
    """
    from sciml.errors import DataError

    path = Path(path)
    redo = f"retrain with '{producer}'"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(path, f"no {path.name}: not a {kind} folder written by '{producer}'",
                        hint=f"point --model-dir at the output folder of '{producer}'") from None
    except (OSError, ValueError) as exc:
        raise DataError(path, f"{path.name} is not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise DataError(path, f"not a saved {kind} (format {found!r}, expected {fmt!r})")
    if meta.get("format_version") != version:
        raise DataError(path, f"saved {kind} format version {meta.get('format_version')!r}, this sciml reads "
                              f"version {version}", hint=redo)
    return meta
