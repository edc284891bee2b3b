"""sciml.data: manifest, data root, checksum verification, safe paths, archive member extraction."""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path

import pytest

import sciml.data.manifest as manifest
from sciml.data import data_root, load_manifest, resolve, safe_join, verify
from sciml.data.fetch import fetch, safe_extract_member
from sciml.errors import ChecksumError, DataError
from sciml.io import sha256_tree

URL = "https://example.org/official/dataset.csv"


@pytest.fixture
def fake_manifest(monkeypatch, tmp_path: Path):
    """A manifest with one file entry and one folder entry, and a data root holding both."""
    root = tmp_path / "root"
    (root / "dom").mkdir(parents=True)
    good = root / "dom" / "file.csv"
    good.write_text("a,b\n1,2\n")
    folder = root / "dom" / "tree"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    entries = {
        "dom/file.csv": manifest.DataEntry(
            name="dom/file.csv", sha256=hashlib.sha256(good.read_bytes()).hexdigest(), url=URL,
            licence="CC-BY-4.0", source="Example et al. 2024"),
        "dom/tree": manifest.DataEntry(
            name="dom/tree", sha256="tree:" + sha256_tree(folder), url=URL + ".tar.gz",
            licence="CC0", source="Example"),
        "dom/missing.csv": manifest.DataEntry(
            name="dom/missing.csv", sha256="0" * 64, url=URL + "?missing", licence="CC0",
            source="Example", archive_member="inner/missing.csv"),
    }
    monkeypatch.setattr(manifest, "load_manifest", lambda: entries)
    return root, entries


def test_real_manifests_are_well_formed(repo_root: Path) -> None:
    """Every shipped entry has a sha256 (64 hex, or tree:), a licence, a source and a 'verified' note,
    and an origin: a direct http(s) URL (download), a PyPI package with the path inside it and its
    file URL (pypi), a committed copy under data/ (project), or instructions for the user (manual)."""
    from sciml.data.manifest import ORIGINS

    entries = load_manifest()
    assert len(entries) >= 200
    for name, entry in entries.items():
        digest = entry.sha256.removeprefix("tree:")
        assert len(digest) == 64 and int(digest, 16) >= 0, name
        assert entry.origin in ORIGINS, name
        assert entry.licence and entry.source and entry.verified, name
        assert not Path(name).is_absolute() and ".." not in Path(name).parts, name
        if entry.origin in ("download", "pypi"):
            assert entry.downloadable and entry.url.startswith("https://"), name
            assert "pypi.org/project" not in entry.url and not re.fullmatch(r"https://github\.com/[^/]+/[^/]+/?", entry.url), \
                f"{name}: {entry.url} is a web page, not a file"
            if "raw.githubusercontent.com" in entry.url:
                commit = entry.url.split("/")[5]
                assert len(commit) == 40 and int(commit, 16) >= 0, f"{name}: raw URL not pinned to a commit"
        if entry.origin == "pypi":
            assert "==" in entry.pypi and entry.pypi_path and (entry.archive_member or entry.members), name
        if entry.origin == "project":
            assert (repo_root / "data" / name).exists(), f"{name}: project-made but not committed under data/"
        if entry.origin == "manual":
            assert entry.instructions and not entry.downloadable, name


def test_manifest_errors_name_file_and_entry() -> None:
    from sciml.data.manifest import _entry

    with pytest.raises(DataError) as info:
        _entry("d/x.csv", {"sha256": "0" * 64, "licence": "CC0", "source": "s", "url": "https://x", "colour": 1},
               "sciml/data/manifests/d.yaml")
    assert "d.yaml" in str(info.value) and "d/x.csv" in str(info.value) and "colour" in str(info.value)
    with pytest.raises(DataError) as info:
        _entry("d/x.csv", {"sha256": "0" * 64, "licence": "CC0", "source": "s", "origin": "manual"}, "m.yaml")
    assert "instructions" in str(info.value)
    with pytest.raises(DataError) as info:
        _entry("d/x.csv", {"sha256": "0" * 64, "licence": "CC0", "source": "s", "origin": "pypi",
                           "url": "https://x"}, "m.yaml")
    assert "pypi" in str(info.value)


def test_data_list_marks_pypi_project_and_manual(capsys) -> None:
    from sciml.cli import main

    assert main(["data", "list", "--data-root", "/nonexistent"]) == 0
    lines = {line.split()[2]: line for line in capsys.readouterr().out.splitlines()}
    assert len(lines) == len(load_manifest())
    assert "PyPI matbench==0.6: matbench/matbench_v0.1_validation.json" in lines["materials/matbench_v0.1_folds.json.gz"]
    assert "pip install mdanalysistests==2.11.0" in lines["proteins/mdanalysis_dssp50/1ahsA.pdb.gz"]
    assert "project-made, committed in data/" in lines["materials/flla_2015_subset1000.csv.gz"]
    assert "NO DIRECT DOWNLOAD" in lines["proteins/psicov150"] and "GREMLIN_RF" in lines["proteins/psicov150"]
    assert "raw.githubusercontent.com/lululxvi/deepxde/" in lines["pde/deepxde/Burgers.npz"]


def test_real_manifests_match_shared_data(shared_data: Path) -> None:
    """The checksums in the manifests are those of the files in the shared data folder."""
    checked = 0
    for name, entry in load_manifest().items():
        path = shared_data / name
        if path.exists():
            verify(path, entry)
            checked += 1
    if load_manifest() and not checked:
        pytest.fail("no manifest entry is present under the shared data root")


def test_data_root_precedence(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SCIML_DATA_ROOT", raising=False)
    assert data_root() == Path("data")
    monkeypatch.setenv("SCIML_DATA_ROOT", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("explicit") == Path("explicit")


def test_resolve_verifies_file_and_tree(fake_manifest) -> None:
    root, _ = fake_manifest
    assert resolve("dom/file.csv", root) == root / "dom" / "file.csv"
    assert resolve("dom/tree", root) == root / "dom" / "tree"


def test_missing_file_names_file_and_official_url(fake_manifest) -> None:
    root, _ = fake_manifest
    with pytest.raises(DataError) as info:
        resolve("dom/missing.csv", root)
    msg = str(info.value)
    assert str(root / "dom" / "missing.csv") in msg
    assert URL + "?missing" in msg
    assert "inner/missing.csv" in msg  # the archive member to take
    assert "sciml data fetch dom/missing.csv" in msg


def test_missing_unlisted_file_says_where_to_put_it(fake_manifest) -> None:
    root, _ = fake_manifest
    with pytest.raises(DataError) as info:
        resolve("mine/own.csv", root)
    assert "own.csv" in str(info.value) and "data root" in str(info.value)


def test_checksum_mismatch(fake_manifest) -> None:
    root, _ = fake_manifest
    (root / "dom" / "file.csv").write_text("a,b\n1,3\n")
    with pytest.raises(ChecksumError) as info:
        resolve("dom/file.csv", root)
    assert "sha256 mismatch" in str(info.value) and "file.csv" in str(info.value)
    assert resolve("dom/file.csv", root, check=False).exists()


def test_tree_checksum_mismatch(fake_manifest) -> None:
    root, _ = fake_manifest
    (root / "dom" / "tree" / "extra.txt").write_text("new")
    with pytest.raises(ChecksumError):
        resolve("dom/tree", root)


def test_a_file_read_alone_from_a_listed_folder_is_checked_with_the_folder(fake_manifest, capsys) -> None:
    """One PSICOV150 structure read by its own path matched no entry and was read unchecked, a moved atom and all.
    A mismatch is warned about (once), not refused: a user's own file added to the folder changes its checksum."""
    root, _ = fake_manifest
    assert resolve("dom/tree/x.txt", root) == root / "dom" / "tree" / "x.txt"
    assert "WARNING" not in capsys.readouterr().err
    (root / "dom" / "tree" / "x.txt").write_text("yy")  # another size: checked again, not the cached pass
    assert resolve("dom/tree/x.txt", root).exists()
    err = capsys.readouterr().err
    assert "WARNING" in err and "differs from the manifest's 'dom/tree'" in err
    resolve("dom/tree/x.txt", root)
    assert capsys.readouterr().err == ""  # once per state of the folder


def test_unlisted_user_file_resolves_without_check(fake_manifest) -> None:
    root, _ = fake_manifest
    (root / "mine.csv").write_text("x")
    assert resolve("mine.csv", root) == root / "mine.csv"


@pytest.mark.parametrize("rel", ["../secret", "dom/../../secret", "a/b/../../../x", "..", "dom/tree/../../.."])
def test_safe_join_refuses_climbing_out(tmp_path: Path, rel: str) -> None:
    with pytest.raises(DataError) as info:
        safe_join(tmp_path, rel)
    assert "escapes the data root" in str(info.value)


def test_safe_join_refuses_absolute(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        safe_join(tmp_path, "/etc/passwd")
    assert "absolute" in str(info.value)


def test_safe_join_allows_inner_dotdot_and_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    assert safe_join(root, "a/../b.txt") == root / "a/../b.txt"
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(DataError, match="through the symbolic link .*link -> .*outside"):  # said, not "escapes"
        safe_join(root, "link/file")


@pytest.mark.timeout(30)
def test_resolve_symlink_loop_is_a_data_error(tmp_path: Path) -> None:
    """A symlink loop in the data root ends in a DataError (or not-found), never a hang or OSError."""
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(root / "loop", root / "loop")
    with pytest.raises(DataError) as info:
        resolve("loop", root)
    assert "loop" in str(info.value)


def test_resolve_refuses_dotdot_names(fake_manifest) -> None:
    root, _ = fake_manifest
    with pytest.raises(DataError):
        resolve("../root/dom/file.csv", root / "dom")


# ------------------------------------------------------------- archives / fetch


def _zip_with(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "inner/../../evil.txt", "/etc/evil.txt"])
@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_extract_refuses_escaping_members(write_tar, tmp_path: Path, member: str, kind: str) -> None:
    members = {member: b"pwned"}
    archive = write_tar(tmp_path / "a.tar.gz", members) if kind == "tar" else _zip_with(tmp_path, members)
    dest = tmp_path / "out" / "file.txt"
    dest.parent.mkdir()
    with pytest.raises(DataError) as info:
        safe_extract_member(archive, member, dest)
    assert "escapes the target folder" in str(info.value)
    assert not dest.exists()
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_extract_good_member(write_tar, tmp_path: Path, kind: str) -> None:
    members = {"inner/data.csv": b"a,b\n"}
    archive = write_tar(tmp_path / "a.tar.gz", members) if kind == "tar" else _zip_with(tmp_path, members)
    dest = tmp_path / "data.csv"
    safe_extract_member(archive, "inner/data.csv", dest)
    assert dest.read_bytes() == b"a,b\n"


def test_extract_refuses_symlink_member(write_tar, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "a.tar.gz", {}, links={"inner/link": "/etc/passwd"})
    with pytest.raises(DataError) as info:
        safe_extract_member(archive, "inner/link", tmp_path / "x")
    assert "not a regular file" in str(info.value)


def test_extract_missing_member_is_a_data_error(write_tar, tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "a.tar.gz", {"a.txt": b"a"})
    with pytest.raises(DataError) as info:
        safe_extract_member(archive, "b.txt", tmp_path / "x")
    assert "b.txt" in str(info.value)


def test_extract_from_garbage_archive_is_a_data_error(tmp_path: Path) -> None:
    archive = tmp_path / "garbage.tar.gz"
    archive.write_bytes(os.urandom(512))
    with pytest.raises(DataError) as info:
        safe_extract_member(archive, "a.txt", tmp_path / "x")
    assert "garbage.tar.gz" in str(info.value)


def test_fetch_unknown_name(fake_manifest, monkeypatch) -> None:
    import sciml.data.fetch as fetch_mod

    monkeypatch.setattr(fetch_mod, "load_manifest", lambda: fake_manifest[1])
    with pytest.raises(DataError) as info:
        fetch("nope.csv", fake_manifest[0])
    assert "not in the data manifest" in str(info.value)


def test_fetch_entry_without_download_url_is_a_data_error(monkeypatch, tmp_path: Path) -> None:
    import sciml.data.fetch as fetch_mod

    monkeypatch.delenv(fetch_mod.ENV_MIRROR, raising=False)
    entry = manifest.DataEntry(name="p/made.aln", sha256="0" * 64, origin="project", licence="CC0", source="us")
    monkeypatch.setattr(fetch_mod, "load_manifest", lambda: {"p/made.aln": entry})
    with pytest.raises(DataError):
        fetch("p/made.aln", tmp_path)


def test_a_data_root_under_home_written_with_a_tilde(monkeypatch, tmp_path):
    from sciml.data.manifest import data_root

    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root("~/sciml-data") == tmp_path / "sciml-data"
