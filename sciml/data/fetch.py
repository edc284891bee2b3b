"""Download manifest entries from their official URL, verified by sha256 before use.

A download streams into ``<destination>.part`` beside its destination, with a progress
bar on stderr (tqdm). A later call resumes an interrupted ``.part`` with an HTTP Range
request; a server that ignores Range (answers 200) restarts the file cleanly. The file is
moved into place (``os.replace``, atomic) only after its sha256 matched. Entries that sit
inside an archive are taken out member by member (:func:`safe_extract_member`,
:func:`safe_extract_tree`): no member may leave the target folder.

Transport is urllib (standard library, follows redirects, speaks Range through plain
headers), so nothing beyond the project's dependencies is needed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from sciml.data.manifest import DataEntry, data_root, load_manifest, safe_join, verify
from sciml.errors import ChecksumError, DataError
from sciml.io import atomic_path, sha256_file

#: a base URL laid out like the data root (a site mirror): ``$SCIML_DATA_MIRROR/<name>``
#: replaces each entry's official URL (archive entries are then served already unpacked).
ENV_MIRROR = "SCIML_DATA_MIRROR"
#: archives (a PyPI sdist, a repository snapshot) are cached here under the data root while
#: the entries they hold are fetched, so one archive serves many entries.
ARCHIVE_CACHE = ".downloads"
CHUNK = 1 << 16
#: A transfer that brings fewer than STALL_MIN_BYTES in STALL_SECONDS is given up (resumable): a server that
#: trickles a byte every 20 s passes every per-read timeout and held the folder's lock for days.
STALL_SECONDS = 120.0
STALL_MIN_BYTES = 1 << 14
USER_AGENT = "sciml-data-fetch (+https://github.com/; urllib)"


def _mirror_url(entry: DataEntry) -> str | None:
    base = os.environ.get(ENV_MIRROR)
    return f"{base.rstrip('/')}/{entry.name}" if base else None


def _label(entry_name: str, url: str) -> str:
    return f"'{entry_name}' from {url}"


def download(url: str, dest: Path, *, entry_name: str, sha256: str | None = None,
             check: Callable[[Path], None] | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``; resume a partial ``.part``.

    With ``sha256`` the bytes are checked before ``dest`` appears (a mismatch deletes the
    ``.part`` and raises :class:`ChecksumError`); so does ``check`` (called on the complete ``.part``,
    e.g. to verify a gzip by its content). Errors name the entry and the URL. Downloads into one folder
    take turns across processes (two jobs fetching into a shared data root would append to one
    ``.part``): one that waited finds ``dest`` written, and checked, by the other and returns it.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only data root: one line naming it, not a traceback ending a --all run
        raise DataError(dest.parent, f"cannot create the folder for {_label(entry_name, url)} ({exc.strerror or exc})",
                        hint="choose a writable --data-root (or $SCIML_DATA_ROOT)") from None
    before = _stamp(dest)
    with _folder_lock(dest.parent, what=_label(entry_name, url)):
        if dest.exists() and _stamp(dest) != before:  # another process finished it while this one waited
            return dest
        return _download(url, dest, entry_name=entry_name, sha256=sha256, check=check, progress=progress,
                         timeout=timeout)


def _stamp(path: Path) -> tuple[int, int] | None:
    """(inode, modification time in ns) of ``path``, None when absent: tells a file replaced meanwhile."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


@contextlib.contextmanager
def _folder_lock(folder: Path, what: str) -> Iterator[None]:
    """An exclusive lock on ``folder`` (``flock`` on the folder itself: no lock file that a folder entry's
    checksum would see) for as long as the block runs; a note on stderr when it has to wait."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another download into {folder} before {what}", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _download(url: str, dest: Path, *, entry_name: str, sha256: str | None,
              check: Callable[[Path], None] | None, progress: bool, timeout: float) -> Path:
    """:func:`download`'s transfer, under the folder's lock."""
    from tqdm import tqdm

    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    what = _label(entry_name, url)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            total = exc.headers.get("Content-Range", "").rpartition("/")[2] if exc.headers else ""
            exc.close()
            if total.isdigit() and int(total) == offset:  # "bytes */N": the .part already holds every byte
                return _finish(part, dest, what, sha256, check)
            # a 416 that does not say the file is complete (no Content-Range, another size): start it again
            # rather than check, and throw away, a half-downloaded .part as if it were the whole file
            part.unlink(missing_ok=True)
            return _download(url, dest, entry_name=entry_name, sha256=sha256, check=check, progress=progress,
                             timeout=timeout)
        exc.close()
        raise DataError(url, f"download of {what} failed: HTTP {exc.code} {exc.reason}",
                        hint="The official location may have moved: run 'sciml data list' for the entry's "
                             f"source, download the file by hand into the data root, or set ${ENV_MIRROR}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataError(url, f"cannot download {what} ({getattr(exc, 'reason', exc)})",
                        hint=f"Check the network or proxy, or set ${ENV_MIRROR} to a mirror of the data root") from None
    with response:
        status = getattr(response, "status", 200)
        resumed = offset > 0 and status == 206 and _range_start(response) == offset
        if not resumed:
            offset = 0  # no Range support (200) or an unexpected range: start the file again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        mode = "ab" if resumed else "wb"
        try:
            out = open(part, mode)
        except OSError as exc:
            raise DataError(part, f"cannot write the download of {what} ({exc.strerror or exc})",
                            hint="choose a writable --data-root (or $SCIML_DATA_ROOT)") from None
        with out, tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=entry_name,
                       file=sys.stderr, disable=not progress, leave=False) as bar:
            _transfer(response, out, bar, url, what, part)
        got = part.stat().st_size
        if total is not None and got < total:
            raise DataError(url, f"download of {what} ended early ({got} of {total} bytes)",
                            hint=f"Run the same command again: it resumes from {part}")
    return _finish(part, dest, what, sha256, check)


def _transfer(response: Any, out: Any, bar: Any, url: str, what: str, part: Path) -> None:
    """Copy ``response`` into the open ``.part`` file ``out``, as the bytes arrive (``read1``: a slow server's
    bytes count as they come, not once a whole chunk is in); a DataError when the network breaks off, the
    transfer stalls (:data:`STALL_SECONDS`) or the local disk refuses the bytes (said as such: no space is
    no network fault)."""
    import time

    window_start, window_bytes = time.monotonic(), 0
    while True:
        try:
            chunk = response.read1(CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            out.flush()
            raise DataError(url, f"download of {what} broke off after {out.tell()} bytes ({exc!r})",
                            hint=f"Run the same command again: it resumes from {part}") from None
        if not chunk:
            return
        try:
            out.write(chunk)
        except OSError as exc:
            raise DataError(part, f"cannot write the download of {what} after {out.tell()} bytes "
                                  f"({exc.strerror or exc}): a local disk error, not the network",
                            hint=f"free space (or choose another --data-root), then rerun: it resumes from {part}") from None
        bar.update(len(chunk))
        window_bytes += len(chunk)
        if time.monotonic() - window_start >= STALL_SECONDS:
            if window_bytes < STALL_MIN_BYTES:
                out.flush()
                raise DataError(url, f"download of {what} stalled: {window_bytes} bytes in the last "
                                     f"{STALL_SECONDS:.0f} s (after {out.tell()} bytes)",
                                hint=f"Run the same command again later: it resumes from {part}")
            window_start, window_bytes = time.monotonic(), 0


def _range_start(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _finish(part: Path, dest: Path, what: str, sha256: str | None,
            check: Callable[[Path], None] | None = None) -> Path:
    """Check the complete ``.part`` and move it onto ``dest`` (atomic rename)."""
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, f"sha256 mismatch for {what} (expected {sha256}, found {actual}); "
                                "the partial download was deleted",
                                hint="Run the command again; if it keeps failing the official file has changed: "
                                     "report it, or download it by hand and check it")
    if check is not None:
        try:
            check(part)
        except ChecksumError as exc:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, f"download of {what} does not match the manifest ({exc.reason}); "
                                "the partial download was deleted",
                                hint="Run the command again; if it keeps failing, report it") from None
    os.replace(part, dest)
    return dest


# ------------------------------------------------------------------ archives


def _check_member_name(archive: Path, member: str) -> None:
    if member.startswith("/") or PurePosixPath(member).is_absolute() or ".." in PurePosixPath(member).parts:
        raise DataError(archive, f"archive member '{member}' escapes the target folder")


def safe_extract_member(archive: Path, member: str, dest: Path) -> None:
    """Extract one member of a tar/zip archive to ``dest``.

    Members whose names are absolute or climb out (``..``) are refused, so a hostile
    archive cannot write outside the target folder.
    """
    _check_member_name(archive, member)
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


def _join(rel: str, sub: str) -> str:
    """``rel/sub`` where ``rel`` "" or "." means the folder itself."""
    if rel in ("", "."):
        return sub
    return f"{rel}/{sub}" if sub else rel


def safe_extract_tree(archive: Path, members: dict[str, str], dest_dir: Path) -> int:
    """Fill ``dest_dir`` from ``archive``: ``members`` maps a path inside ``dest_dir`` to a
    member (a file, or a folder when it ends in ``/``: every regular file under it).

    Names that are absolute or climb out, and links, are refused. Returns the file count.
    """
    dest_dir = Path(dest_dir)
    count = 0

    def place(rel: str, read) -> None:
        nonlocal count
        _check_member_name(archive, rel)
        target = dest_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with read() as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        count += 1

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
                for rel, member in members.items():
                    _check_member_name(archive, member)
                    if member.endswith("/"):
                        for name in names:
                            if name.startswith(member) and not name.endswith("/"):
                                _check_member_name(archive, name)
                                place(_join(rel, name[len(member):]), lambda n=name: zf.open(n))
                    else:
                        place(rel, lambda m=member: zf.open(m))
            return count
        with tarfile.open(archive) as tf:
            infos = tf.getmembers()
            by_name = {i.name: i for i in infos}
            for rel, member in members.items():
                _check_member_name(archive, member)
                chosen = ([i for i in infos if i.name.startswith(member) and i.name != member.rstrip("/")]
                          if member.endswith("/") else [by_name[member]])
                for info in chosen:
                    _check_member_name(archive, info.name)
                    if info.isdir():
                        continue
                    if not info.isfile():
                        raise DataError(archive, f"archive member '{info.name}' is not a regular file")
                    sub = info.name[len(member):] if member.endswith("/") else ""
                    place(_join(rel, sub), lambda i=info: tf.extractfile(i))
    except KeyError as exc:
        raise DataError(archive, f"archive has no member {exc}") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(archive, f"cannot read the archive ({exc})") from None
    return count


# ------------------------------------------------------------------ fetch


def _archive_path(root: Path, url: str) -> Path:
    base = PurePosixPath(url.split("?", 1)[0]).name or "archive"
    tag = hashlib.sha256(url.encode()).hexdigest()[:12]
    return root / ARCHIVE_CACHE / f"{tag}-{base}"


def fetch(name: str, root: str | Path | None = None, force: bool = False, *, progress: bool = True,
          timeout: float = 60.0, keep_archive: bool = True) -> Path:
    """Download manifest entry ``name`` into the data root; return its verified path.

    A present file that verifies is kept (no download) unless ``force``.
    """
    return _fetch(name, root, force, progress=progress, timeout=timeout, keep_archive=keep_archive)


def _fetch(name: str, root: str | Path | None, force: bool, *, progress: bool, timeout: float,
           keep_archive: bool, extracted: dict[tuple[str, str], Path] | None = None) -> Path:
    entries = load_manifest()
    if name not in entries:
        raise DataError(name, "not in the data manifest", hint="Run 'sciml data list' for the known names")
    entry: DataEntry = entries[name]
    root_path = data_root(root)
    dest = safe_join(root_path, name)
    if dest.exists() and not force:
        verify(dest, entry)  # a corrupt file is reported (delete it or use --force), never trusted
        return dest
    mirror = _mirror_url(entry)
    if mirror is None and not entry.downloadable:
        if entry.origin == "project":
            raise DataError(name, f"is made by this project and committed under data/ ({entry.source}); "
                            "there is nothing to download", hint=f"Copy it from the repository's data/{name}")
        raise DataError(name, f"has no direct official download: {entry.instructions or entry.url}",
                        hint="Follow those steps, then put the result under the data root")
    if mirror is not None:
        if entry.is_tree:
            raise DataError(name, f"is a folder; a mirror (${ENV_MIRROR}) serves files only",
                            hint="Unset the mirror to fetch it from its official archive" if entry.downloadable
                            else f"It has no direct official download either: {entry.instructions or entry.url}")
        download(mirror, dest, entry_name=name, check=lambda part: verify(part, entry),
                 progress=progress, timeout=timeout)
        return dest
    url = str(entry.url)
    if not (entry.archive_member or entry.members):
        # verify() on the .part: the sha256, or for a gzip entry the same data under another gzip wrapper
        download(url, dest, entry_name=name, check=lambda part: verify(part, entry), progress=progress,
                 timeout=timeout)
        return dest
    archive = _archive_path(root_path, url)
    if not archive.exists():
        download(url, archive, entry_name=name, sha256=entry.archive_sha256, progress=progress, timeout=timeout)
    try:
        if entry.members:
            _fetch_tree(archive, entry, dest, url)
        else:
            _fetch_member(archive, entry, dest, url, (extracted or {}).get((url, str(entry.archive_member))))
    finally:
        if not keep_archive:
            archive.unlink(missing_ok=True)
    return dest


def _fetch_member(archive: Path, entry: DataEntry, dest: Path, url: str, extracted: Path | None = None) -> None:
    """Put ``entry.archive_member`` of ``archive`` (or its copy ``extracted``) at ``dest``, verified."""
    assert entry.archive_member is not None
    with atomic_path(dest) as out:
        raw = extracted if extracted is not None else out.with_name(out.name + ".member")
        try:
            if extracted is None:
                safe_extract_member(archive, entry.archive_member, raw)
            if entry.compress == "gzip":
                with open(raw, "rb") as src, open(out, "wb") as sink, gzip.GzipFile(
                        filename=PurePosixPath(entry.archive_member).name, mode="wb", fileobj=sink, mtime=0) as gz:
                    shutil.copyfileobj(src, gz)
            else:
                shutil.copyfile(raw, out)
        finally:
            if extracted is None:
                raw.unlink(missing_ok=True)
        try:
            verify(out, entry)
        except ChecksumError as exc:
            raise ChecksumError(dest, f"member {entry.archive_member} of {_label(entry.name, url)} does not "
                                f"match the manifest ({exc}); nothing was put in place",
                                hint="The archive may be a different version; delete "
                                     f"{archive} and run the command again") from None


def _fetch_tree(archive: Path, entry: DataEntry, dest: Path, url: str) -> None:
    assert entry.members is not None
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        safe_extract_tree(archive, entry.members, staging)
        try:
            verify(staging, entry)
        except ChecksumError as exc:
            raise ChecksumError(dest, f"folder built from {_label(entry.name, url)} does not match the manifest "
                                f"({exc}); nothing was put in place",
                                hint=f"The archive may be a different version; delete {archive} and try again") from None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(staging, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_many(names: Iterable[str], root: str | Path | None = None, force: bool = False, *,
               progress: bool = True, keep_archives: bool = False,
               log=None) -> tuple[list[Path], list[tuple[str, DataError]]]:
    """Fetch each name (archives shared between entries are downloaded once).

    Returns (fetched paths, [(name, error)]); one failure does not stop the others.
    Archive downloads are removed at the end unless ``keep_archives``.
    """
    names = list(names)
    root_path = data_root(root)
    done: list[Path] = []
    failed: list[tuple[str, DataError]] = []
    entries = load_manifest()
    scratch = Path(tempfile.mkdtemp(prefix="sciml-members-"))
    try:
        extracted = _pre_extract(names, entries, root_path, force, progress, scratch)
        for name in names:
            dest = root_path / name
            present = dest.exists()
            try:
                path = _fetch(name, root_path, force, progress=progress, timeout=60.0, keep_archive=True,
                              extracted=extracted)
            except DataError as exc:
                failed.append((name, exc))
                if log:
                    log(f"FAILED   {name}: {exc}")
                continue
            done.append(path)
            if log:
                log(f"{'ok      ' if present and not force else 'fetched '} {name}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _drop_archives(names, entries, root_path, keep_archives)
    return done, failed


def _pre_extract(names: list[str], entries: dict[str, DataEntry], root: Path, force: bool, progress: bool,
                 scratch: Path) -> dict[tuple[str, str], Path]:
    """For tar archives that several pending entries share (a PyPI sdist holding 100 files), download
    the archive once and read it in one pass, so each member is not found by decompressing again.
    Failures are left to the per-entry fetch, which reports them with the entry's name."""
    if os.environ.get(ENV_MIRROR):  # a mirror serves the members already unpacked
        return {}
    groups: dict[str, set[str]] = {}
    for name in names:
        entry = entries.get(name)
        if entry is None or not entry.downloadable or not entry.archive_member or entry.members:
            continue
        if (root / name).exists() and not force:
            continue
        groups.setdefault(str(entry.url), set()).add(entry.archive_member)
    out: dict[tuple[str, str], Path] = {}
    for url, members in groups.items():
        if len(members) < 2:
            continue
        sha = next(e.archive_sha256 for e in entries.values() if str(e.url) == url)
        archive = _archive_path(root, url)
        try:
            if not archive.exists():
                download(url, archive, entry_name=PurePosixPath(url).name, sha256=sha, progress=progress)
            if zipfile.is_zipfile(archive):
                continue  # zip members are read by random access anyway
            with tarfile.open(archive) as tf:
                for info in tf:
                    if info.name in members and info.isfile():
                        _check_member_name(archive, info.name)
                        target = scratch / f"{len(out)}.member"
                        src = tf.extractfile(info)
                        assert src is not None
                        with src, open(target, "wb") as fh:
                            shutil.copyfileobj(src, fh)
                        out[(url, info.name)] = target
        except (DataError, tarfile.TarError, OSError, EOFError):
            continue
    return out


def _drop_archives(names: list[str], entries: dict[str, DataEntry], root: Path, keep: bool) -> None:
    if keep:
        return
    cache = root / ARCHIVE_CACHE
    wanted = set(names)
    for url in {str(e.url) for n, e in entries.items() if n in wanted and e.url}:
        _archive_path(root, url).unlink(missing_ok=True)
    if cache.is_dir() and not any(cache.iterdir()):
        cache.rmdir()


# ------------------------------------------------------------------ selections


def downloadable_names(domain: str | None = None) -> list[str]:
    """Every entry ``sciml data fetch`` can download (optionally of one domain), sorted."""
    return sorted(n for n, e in load_manifest().items()
                  if e.downloadable and (domain is None or e.domain == domain))


def names_for_config(config_path: str | Path) -> list[str]:
    """The manifest entries a config reads: every string value naming an entry (or a file
    inside a folder entry), plus what its domains read implicitly (a PDE problem's shipped
    reference file, the Matbench folds for a Matbench task, the cgdms chains of the sequence-only model)."""
    from sciml.config import load_yaml

    doc = load_yaml(config_path)
    entries = load_manifest()
    trees = sorted((n for n, e in entries.items() if e.is_tree), key=len, reverse=True)
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            if node in entries:
                found.add(node)
            else:
                for tree in trees:
                    if node.startswith(tree + "/"):
                        found.add(tree)
                        break

    walk(doc)
    pde = doc.get("pde") if isinstance(doc, dict) else None
    if isinstance(pde, dict) and pde.get("problems"):
        from sciml.pde.problems import REGISTRY

        for problem in pde["problems"]:
            name = problem if isinstance(problem, str) else (problem or {}).get("name")
            cls = REGISTRY.get(str(name))
            if cls is not None and cls.reference_file and cls.reference_file in entries:
                found.add(cls.reference_file)
    materials = doc.get("materials") if isinstance(doc, dict) else None
    if isinstance(materials, dict) and (materials.get("dataset") or {}).get("matbench_task"):
        found.add("materials/matbench_v0.1_folds.json.gz")
    proteins = doc.get("proteins") if isinstance(doc, dict) else None
    if isinstance(proteins, dict) and (proteins.get("sequence_model") or {}).get("enabled"):
        from sciml.proteins.sequence_model import CGDMS

        found.add(CGDMS)  # the sequence-only model trains on the cgdms chains
    return sorted(n for n in found if n in entries)
