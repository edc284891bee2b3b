"""``sciml data fetch`` against a real HTTP server on 127.0.0.1 serving ../shared/data.

The server (http.server in a thread, port 0) honours ``Range: bytes=N-`` unless told not to,
can drop the connection half-way through a file, and records every request, so the tests
can assert what the client asked for. Entries are pointed at it by replacing their URL in
the loaded manifest, or through ``$SCIML_DATA_MIRROR`` (a site mirror laid out like the
data root). Nothing but 127.0.0.1 is contacted: every request the server saw is checked,
and urllib is wrapped so that any other host fails the test.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import threading
import time
import urllib.parse
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import sciml.data.fetch as fetch_mod
import sciml.data.manifest as manifest
from sciml.data.fetch import fetch, names_for_config
from sciml.data.manifest import load_manifest
from sciml.errors import ChecksumError, DataError
from sciml.io import sha256_file, sha256_tree

pytestmark = pytest.mark.timeout(120)

SMALL = "pde/pinnacle/poisson_classic.dat"  # 85 kB, a real manifest entry
REAL_MANIFEST = load_manifest()  # read before any test replaces it


class _Handler(SimpleHTTPRequestHandler):
    """Serves ``/data/<name>`` from the shared data folder and ``/extra/<file>`` from a tmp folder."""

    server: _Server

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range"),
                             "host": self.headers.get("Host"), "client": self.client_address[0]})
        if len(srv.requests) > srv.max_requests:  # bound the loop: a client retrying forever fails the test
            self.send_error(429)
            return
        kind, _, rel = self.path.lstrip("/").partition("/")
        base = {"data": srv.data_dir, "extra": srv.extra_dir}.get(kind)
        path = (base / urllib.parse.unquote(rel)) if base else None
        if path is None or not path.is_file():
            self.send_error(404, "Not Found")
            return
        body = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and not srv.ignore_range and rng.startswith("bytes="):
            start = int(rng[len("bytes="):].split("-")[0])
            if srv.bare_416:  # a server that refuses every range without saying the file's size
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if srv.trickle_next.pop(self.path, False):
            # a stalling server: 100 bytes, then one byte every 0.2 s (each read within any socket timeout)
            try:
                self.wfile.write(payload[:100])
                for k in range(100, min(len(payload), 160)):
                    self.wfile.flush()
                    time.sleep(0.2)
                    self.wfile.write(payload[k:k + 1])
            except OSError:
                pass  # the client gave up
            self.close_connection = True
            return
        if srv.drop_next.pop(self.path, False):
            # a dropped connection: promise every byte, send half, then close the socket
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, data_dir: Path, extra_dir: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data_dir = data_dir
        self.extra_dir = extra_dir
        self.requests: list[dict] = []
        self.ignore_range = False
        self.drop_next: dict[str, bool] = {}
        self.trickle_next: dict[str, bool] = {}
        self.bare_416 = False
        self.max_requests = 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server(shared_data: Path, tmp_path: Path, monkeypatch):
    extra = tmp_path / "extra"
    extra.mkdir()
    srv = _Server(shared_data, extra)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    real_urlopen = urllib.request.urlopen

    def loopback_only(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else str(request)
        assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", f"test tried to contact {url}"
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", loopback_only)
    monkeypatch.delenv(fetch_mod.ENV_MIRROR, raising=False)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
    assert all(r["client"] == "127.0.0.1" for r in srv.requests)
    assert all(r["host"].startswith("127.0.0.1:") for r in srv.requests)


def _use(monkeypatch, entries: dict[str, manifest.DataEntry]) -> None:
    monkeypatch.setattr(fetch_mod, "load_manifest", lambda: entries)
    monkeypatch.setattr(manifest, "load_manifest", lambda: entries)


def _pointed(server: _Server, name: str, **changes) -> manifest.DataEntry:
    """The real manifest entry ``name`` with its URL pointed at the loopback server."""
    real = REAL_MANIFEST[name]
    url = changes.pop("url", f"{server.base}/data/{name}")
    return dataclasses.replace(real, origin="download", url=url, archive_member=None, members=None, **changes)


def test_download_verifies_and_lands(server, monkeypatch, tmp_path, shared_data) -> None:
    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    path = fetch(SMALL, root, progress=False)
    assert path == root / SMALL
    assert sha256_file(path) == entry.sha256 == sha256_file(shared_data / SMALL)
    assert not path.with_name(path.name + ".part").exists()
    assert [r["path"] for r in server.requests] == [f"/data/{SMALL}"]
    assert server.requests[0]["range"] is None
    # already present and verified: skipped, no second request
    fetch(SMALL, root, progress=False)
    assert len(server.requests) == 1


def test_dropped_connection_resumes_with_range(server, monkeypatch, tmp_path, shared_data) -> None:
    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    server.drop_next[f"/data/{SMALL}"] = True
    with pytest.raises(DataError) as info:
        fetch(SMALL, root, progress=False, timeout=10)
    msg = str(info.value)
    assert SMALL in msg and server.base in msg and "resumes" in msg
    part = root / (SMALL + ".part")
    size = (shared_data / SMALL).stat().st_size
    assert part.exists() and 0 < part.stat().st_size < size
    assert not (root / SMALL).exists()
    kept = part.stat().st_size
    path = fetch(SMALL, root, progress=False, timeout=10)
    assert server.requests[-1]["range"] == f"bytes={kept}-"
    assert sha256_file(path) == entry.sha256
    assert not part.exists()


def test_a_stalling_transfer_is_given_up_and_resumed(server, monkeypatch, tmp_path, shared_data) -> None:
    """A server that trickled a byte every 20 s passed every per-read timeout: the fetch ran for days, holding
    the folder's lock. Fewer than STALL_MIN_BYTES in STALL_SECONDS now ends it, resumable."""
    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    monkeypatch.setattr(fetch_mod, "STALL_SECONDS", 1.0)
    root = tmp_path / "root"
    server.trickle_next[f"/data/{SMALL}"] = True
    started = time.monotonic()
    with pytest.raises(DataError, match="stalled") as info:
        fetch(SMALL, root, progress=False, timeout=10)
    assert time.monotonic() - started < 8 and "resumes" in str(info.value)
    part = root / (SMALL + ".part")
    assert 100 <= part.stat().st_size < (shared_data / SMALL).stat().st_size
    path = fetch(SMALL, root, progress=False, timeout=10)
    assert sha256_file(path) == entry.sha256 and server.requests[-1]["range"].startswith("bytes=1")


def test_a_416_that_does_not_say_the_file_is_complete_restarts_the_download(server, monkeypatch, tmp_path,
                                                                            shared_data) -> None:
    """A 416 without `Content-Range: bytes */N` was taken for 'the .part is complete': a half file was checked,
    deleted and reported as not matching the manifest."""
    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    part = root / (SMALL + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes((shared_data / SMALL).read_bytes()[:1000])
    server.bare_416 = True
    path = fetch(SMALL, root, progress=False, timeout=10)
    assert sha256_file(path) == entry.sha256 and not part.exists()
    assert [r["range"] for r in server.requests] == ["bytes=1000-", None]


def test_a_data_root_that_cannot_be_written_is_one_error_naming_it(server, monkeypatch, tmp_path) -> None:
    """A read-only data root was an OSError traceback, ending a whole --all run."""
    _use(monkeypatch, {SMALL: _pointed(server, SMALL)})
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    with pytest.raises(DataError, match="cannot create the folder") as info:
        fetch(SMALL, blocked / "root", progress=False, timeout=10)
    assert str(blocked) in str(info.value)


def test_server_ignoring_range_restarts_cleanly(server, monkeypatch, tmp_path) -> None:
    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    part = root / (SMALL + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes of some other attempt" * 100)
    server.ignore_range = True
    path = fetch(SMALL, root, progress=False)
    assert server.requests[-1]["range"] == f"bytes={len(b'stale bytes of some other attempt') * 100}-"
    assert sha256_file(path) == entry.sha256  # the stale prefix was thrown away, not appended to


def test_wrong_checksum_fails_and_leaves_nothing(server, monkeypatch, tmp_path) -> None:
    entry = _pointed(server, SMALL, sha256="0" * 64)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    with pytest.raises(ChecksumError) as info:
        fetch(SMALL, root, progress=False)
    msg = str(info.value)
    assert "sha256 mismatch" in msg and SMALL in msg and server.base in msg
    assert not (root / SMALL).exists()
    assert not (root / (SMALL + ".part")).exists()
    assert [p.name for p in (root / SMALL).parent.iterdir()] == []


def test_404_fails_clearly(server, monkeypatch, tmp_path) -> None:
    url = f"{server.base}/data/pde/pinnacle/moved_away.dat"
    entry = _pointed(server, SMALL, url=url)
    _use(monkeypatch, {SMALL: entry})
    with pytest.raises(DataError) as info:
        fetch(SMALL, tmp_path / "root", progress=False)
    msg = str(info.value)
    assert "HTTP 404" in msg and url in msg and SMALL in msg
    assert not (tmp_path / "root" / SMALL).exists()


def test_archive_member_unpacks_and_verifies(write_tar, server, monkeypatch, tmp_path, shared_data) -> None:
    data = (shared_data / SMALL).read_bytes()
    archive = write_tar(server.extra_dir / "PINNacle-main.tar.gz", {"PINNacle-main/ref/poisson1_cg_data.dat": data,
                                                               "PINNacle-main/README.md": b"x"})
    entry = _pointed(server, SMALL, url=f"{server.base}/extra/{archive.name}",
                     archive_sha256=sha256_file(archive))
    entry = dataclasses.replace(entry, archive_member="PINNacle-main/ref/poisson1_cg_data.dat")
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    path = fetch(SMALL, root, progress=False, keep_archive=False)
    assert path.read_bytes() == data
    assert not (root / fetch_mod.ARCHIVE_CACHE).exists() or not any((root / fetch_mod.ARCHIVE_CACHE).iterdir())


def test_gzip_of_a_package_member_verifies_by_content(server, monkeypatch, tmp_path, shared_data) -> None:
    """A PyPI-style entry: the file is the gzip of a package member; our gzip bytes differ from
    the manifest's file, its uncompressed content does not, and that is what is checked."""
    name = "materials/matbench_v0.1_folds.json.gz"
    real = REAL_MANIFEST[name]
    assert real.origin == "pypi" and real.compress == "gzip" and real.content_sha256
    content = b'{"splits": {}}\n'
    wheel = server.extra_dir / "pkg.zip"
    import zipfile

    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/validation.json", content)
    entry = dataclasses.replace(real, url=f"{server.base}/extra/pkg.zip", archive_member="pkg/validation.json",
                                archive_sha256=sha256_file(wheel),
                                sha256=hashlib.sha256(b"other gzip bytes").hexdigest(),
                                content_sha256=hashlib.sha256(content).hexdigest())
    _use(monkeypatch, {name: entry})
    path = fetch(name, tmp_path / "root", progress=False)
    assert gzip.decompress(path.read_bytes()) == content
    manifest.verify(path, entry)  # passes by content
    bad = dataclasses.replace(entry, content_sha256="1" * 64)
    with pytest.raises(ChecksumError):
        manifest.verify(path, bad)


def test_folder_entry_from_archive(write_tar, server, monkeypatch, tmp_path, shared_data) -> None:
    folder = shared_data / "proteins" / "msa_pairs" / "1guuA"
    files = {f"DeepCov-abc/examples/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
    write_tar(server.extra_dir / "snap.tar.gz", {**files, "DeepCov-abc/other.txt": b"not ours"})
    name = "proteins/msa_pairs/1guuA"
    entry = manifest.DataEntry(name=name, sha256="tree:" + sha256_tree(folder), licence="GPL-3.0", source="test",
                               url=f"{server.base}/extra/snap.tar.gz", members={".": "DeepCov-abc/examples/"})
    _use(monkeypatch, {name: entry})
    path = fetch(name, tmp_path / "root", progress=False)
    assert sha256_tree(path) == sha256_tree(folder)
    assert sorted(p.name for p in path.iterdir()) == sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("hostile", ["DeepCov-abc/examples/../../../evil.txt", "link"])
def test_hostile_archive_member_is_refused(write_tar, server, monkeypatch, tmp_path, hostile) -> None:
    members = {"DeepCov-abc/examples/ok.txt": b"ok"}
    links = {}
    if hostile == "link":
        links = {"DeepCov-abc/examples/passwd": "/etc/passwd"}
    else:
        members[hostile] = b"pwned"
    write_tar(server.extra_dir / "evil.tar.gz", members, links)
    name = "proteins/msa_pairs/evil"
    entry = manifest.DataEntry(name=name, sha256="tree:" + "0" * 64, licence="x", source="test",
                               url=f"{server.base}/extra/evil.tar.gz", members={".": "DeepCov-abc/examples/"})
    _use(monkeypatch, {name: entry})
    root = tmp_path / "root"
    with pytest.raises(DataError) as info:
        fetch(name, root, progress=False)
    assert ("escapes the target folder" in str(info.value)) or ("not a regular file" in str(info.value))
    assert not (root / name).exists()
    assert not list(tmp_path.rglob("evil.txt"))
    assert not [p for p in (root / "proteins" / "msa_pairs").iterdir() if p.name != fetch_mod.ARCHIVE_CACHE]


def test_all_for_a_config_through_the_cli(server, monkeypatch, tmp_path, shared_data, repo_root, capsys) -> None:
    """``sciml data fetch --all --config`` fetches exactly the entries the benchmark config reads
    (here from a mirror of the data root on the loopback server), and skips them the second time."""
    from sciml.cli import main

    config = repo_root / "config" / "benchmarks" / "proteins_msa_pairs.yaml"
    wanted = names_for_config(config)
    assert len(wanted) == 14 and all(n.startswith("proteins/msa_pairs/") for n in wanted)
    monkeypatch.setenv(fetch_mod.ENV_MIRROR, f"{server.base}/data")
    root = tmp_path / "root"
    assert main(["data", "fetch", "--all", "--config", str(config), "--data-root", str(root), "--no-progress"]) == 0
    assert sorted(r["path"] for r in server.requests) == sorted(f"/data/{n}" for n in wanted)
    for n in wanted:
        manifest.verify(root / n, manifest.load_manifest()[n])
        assert sha256_file(root / n) == sha256_file(shared_data / n)
    seen = len(server.requests)
    assert main(["data", "fetch", "--all", "--config", str(config), "--data-root", str(root), "--no-progress"]) == 0
    assert len(server.requests) == seen  # present and verified: nothing downloaded again
    out = capsys.readouterr().out
    assert out.count("ok       proteins/msa_pairs/") == 14


def test_cli_fetch_failure_names_entry_url_and_exit_code(server, monkeypatch, tmp_path, capsys) -> None:
    from sciml.cli import main

    url = f"{server.base}/data/nowhere.dat"
    _use(monkeypatch, {SMALL: _pointed(server, SMALL, url=url)})
    assert main(["data", "fetch", SMALL, "--data-root", str(tmp_path / "r"), "--no-progress"]) == 2
    out = capsys.readouterr().err  # failures go to stderr with the other errors
    assert "FAILED" in out and SMALL in out and url in out and "404" in out


def test_names_for_config_includes_implicit_reads(repo_root) -> None:
    bench = repo_root / "config" / "benchmarks"
    assert names_for_config(bench / "pde_burgers.yaml") == ["pde/deepxde/Burgers.npz"]
    assert names_for_config(bench / "materials_jdft2d.yaml") == [
        "materials/matbench_jdft2d.json.gz", "materials/matbench_v0.1_folds.json.gz"]
    cv = names_for_config(bench / "proteins_cv.yaml")
    assert len([n for n in cv if n.startswith("proteins/pfam40/")]) == 80  # 40 alignments + 40 structures
    assert len([n for n in cv if n.startswith("proteins/msa_pairs/")]) == 14
    assert len(cv) == 94
    assert "proteins/cgdms" in names_for_config(bench / "proteins_psicov150_sequence.yaml")  # the sequence model's
    assert "proteins/cgdms" not in cv


def test_progress_goes_to_stderr(server, monkeypatch, tmp_path, capsys) -> None:
    _use(monkeypatch, {SMALL: _pointed(server, SMALL)})
    fetch(SMALL, tmp_path / "root", progress=True)
    captured = capsys.readouterr()
    assert SMALL in captured.err and captured.out == ""



def test_entries_sharing_an_archive_download_it_once(write_tar, server, monkeypatch, tmp_path, shared_data) -> None:
    """Like the 108 MDAnalysisTests files in one sdist: one request, one pass, every entry verified,
    and the archive removed afterwards."""
    from sciml.data.fetch import fetch_many

    names = ["proteins/mdanalysis_dssp50/1ahsA.pdb.gz", "proteins/mdanalysis_dssp50/1ahsA.pdb.dssp",
             "proteins/structures/1lpbA.pdb.gz"]
    files = {REAL_MANIFEST[n].archive_member.replace("mdanalysistests-2.11.0", "pkg-1"): (
        shared_data / n if (shared_data / n).exists() else repo_root_data(n)).read_bytes() for n in names}
    archive = write_tar(server.extra_dir / "pkg-1.tar.gz", {**files, "pkg-1/setup.py": b"#"})
    url = f"{server.base}/extra/pkg-1.tar.gz"
    entries = {n: dataclasses.replace(REAL_MANIFEST[n], url=url, archive_sha256=sha256_file(archive),
                                      archive_member=REAL_MANIFEST[n].archive_member.replace(
                                          "mdanalysistests-2.11.0", "pkg-1")) for n in names}
    _use(monkeypatch, entries)
    root = tmp_path / "root"
    done, failed = fetch_many(names, root, progress=False)
    assert failed == [] and len(done) == 3
    assert [r["path"] for r in server.requests] == ["/extra/pkg-1.tar.gz"]
    for n in names:
        manifest.verify(root / n, REAL_MANIFEST[n])
    assert not (root / fetch_mod.ARCHIVE_CACHE).exists()


def repo_root_data(name: str) -> Path:
    return Path(__file__).resolve().parents[1] / "data" / name


def test_every_downloadable_file_entry_fetches_and_verifies_through_a_mirror(server, monkeypatch, tmp_path,
                                                                              shared_data) -> None:
    """Each file entry of the real manifest with a download or PyPI origin that the shared data root
    holds (211 of them) comes through the loopback mirror of that root and verifies against its own
    sha256 (or content_sha256 for re-gzipped package members), byte-identical to the shared copy.
    The folder entry goes through its archive (test_folder_entry_from_archive); entries the shared
    root lacks (the official jdft2d file, package files committed under data/) are counted, not fetched."""
    monkeypatch.setenv(fetch_mod.ENV_MIRROR, f"{server.base}/data")
    server.max_requests = len(REAL_MANIFEST)  # one request per entry at most
    root = tmp_path / "root"
    fetched, skipped = [], []
    for name, entry in sorted(REAL_MANIFEST.items()):
        if entry.origin not in ("download", "pypi"):
            continue
        if entry.sha256.startswith("tree:") or not (shared_data / name).is_file():
            skipped.append(name)
            continue
        path = fetch(name, root, progress=False)
        assert sha256_file(path) == sha256_file(shared_data / name), name
        fetched.append(name)
    assert len(fetched) >= 200, (len(fetched), skipped)
    assert len(skipped) <= 10, skipped
    assert sorted(r["path"] for r in server.requests) == sorted(f"/data/{n}" for n in fetched)


def test_two_fetches_of_one_file_at_once_take_turns_and_both_get_it(server, monkeypatch, tmp_path, shared_data) -> None:
    """Two jobs fetching the same entry into a shared data root appended to one .part (sha256 mismatch, or a
    crash when the other renamed it). Now the second waits for the first and finds the file done: one
    download, both calls return the verified file."""
    import time

    entry = _pointed(server, SMALL)
    _use(monkeypatch, {SMALL: entry})
    root = tmp_path / "root"
    started = threading.Event()
    real_finish = fetch_mod._finish

    def slow_finish(*args, **kwargs):  # hold the first download open long enough for the second to start
        started.set()
        time.sleep(1.0)
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(fetch_mod, "_finish", slow_finish)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(fetch(SMALL, root, progress=False))
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    first = threading.Thread(target=run)
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=run)
    second.start()
    first.join(60)
    second.join(60)
    assert not errors, errors
    assert results == [root / SMALL, root / SMALL] and sha256_file(root / SMALL) == entry.sha256
    assert [r["path"] for r in server.requests] == [f"/data/{SMALL}"]  # downloaded once
    assert not (root / SMALL).with_name(Path(SMALL).name + ".part").exists()
