"""sciml.io: atomic writes (no partial file, no temp left, safe under concurrent writers) and checksums."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from sciml.errors import DataError
from sciml.io import (atomic_path, read_model_json, sha256_file, sha256_tree, write_bytes_atomic, write_json_atomic,
                      write_text_atomic)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_write_json_atomic_is_sorted_and_byte_stable(tmp_path: Path) -> None:
    a = write_json_atomic(tmp_path / "a.json", {"b": 1, "a": [1.5, 2]})
    b = write_json_atomic(tmp_path / "b.json", {"a": [1.5, 2], "b": 1})
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().endswith("\n")
    assert json.loads(a.read_text()) == {"a": [1.5, 2], "b": 1}
    assert _leftovers(tmp_path) == []


def test_write_json_atomic_converts_numpy_and_paths(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    out = write_json_atomic(tmp_path / "m.json", {"x": np.float32(0.5), "v": np.arange(3), "p": Path("a/b")})
    assert json.loads(out.read_text()) == {"x": 0.5, "v": [0, 1, 2], "p": "a/b"}


def test_unserialisable_object_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "bad.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"x": object()})
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_exception_in_body_leaves_no_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent
            assert tmp.suffix == ".csv"  # writers that dispatch on the suffix still work
            tmp.write_text("half a file")
            raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert _leftovers(target.parent) == []


def test_exception_keeps_previous_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_text_atomic(target, "complete v1\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("partial v2")
            raise KeyboardInterrupt
    assert target.read_text() == "complete v1\n"
    assert _leftovers(tmp_path) == []


def test_atomic_path_body_may_not_create_the_file(tmp_path: Path) -> None:
    """A writer that replaces the temp (e.g. torch.save to the path) still works."""
    target = tmp_path / "x.bin"
    with atomic_path(target) as tmp:
        tmp.unlink()
        tmp.write_bytes(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def _racer(path: str, worker: int, rounds: int) -> None:
    payload = (f"writer {worker}\n" * 20000).encode()  # ~200 kB so writes overlap
    for _ in range(rounds):
        write_bytes_atomic(path, payload)


def _reader(path: str, stop_after: int, bad: "mp.Queue") -> None:
    seen = 0
    while seen < stop_after:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            continue
        seen += 1
        lines = data.decode().splitlines()
        if len(lines) != 20000 or len(set(lines)) != 1:
            bad.put(len(lines))
            return


def test_concurrent_writers_leave_one_complete_file(tmp_path: Path) -> None:
    """Two processes building the same cache at once: readers only ever see a whole file."""
    target = tmp_path / "cache.txt"
    ctx = mp.get_context("spawn")
    bad = ctx.Queue()
    writers = [ctx.Process(target=_racer, args=(str(target), i, 40)) for i in range(2)]
    reader = ctx.Process(target=_reader, args=(str(target), 200, bad))
    for p in writers:
        p.start()
    reader.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    reader.join(120)
    if reader.is_alive():  # writers finished first; the file is complete by now
        reader.terminate()
        reader.join()
    assert bad.empty(), f"a reader saw a torn file with {bad.get()} lines"
    lines = target.read_text().splitlines()
    assert len(lines) == 20000 and len(set(lines)) == 1 and lines[0] in {"writer 0", "writer 1"}
    assert _leftovers(tmp_path) == []


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 + 7)
    f = tmp_path / "f.bin"
    f.write_bytes(data)
    assert sha256_file(f, chunk_size=1000) == hashlib.sha256(data).hexdigest()


def test_sha256_tree_depends_on_names_and_contents(tmp_path: Path) -> None:
    a = tmp_path / "a"
    (a / "sub").mkdir(parents=True)
    (a / "x.txt").write_text("1")
    (a / "sub" / "y.txt").write_text("2")
    h1 = sha256_tree(a)
    assert h1 == sha256_tree(a)
    (a / "sub" / "y.txt").write_text("3")
    h2 = sha256_tree(a)
    assert h2 != h1
    (a / "sub" / "y.txt").rename(a / "sub" / "z.txt")
    assert sha256_tree(a) != h2


@pytest.mark.timeout(30)
def test_sha256_tree_survives_symlink_loop(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text("x")
    before = sha256_tree(root)
    os.symlink(root, root / "d" / "loop")  # directory link back to the root
    os.symlink(root / "d" / "self", root / "d" / "self")  # a link to itself
    assert sha256_tree(root) == before  # folder and dangling links are skipped, the walk terminates


def test_sha256_tree_counts_a_linked_file_by_its_target(tmp_path: Path) -> None:
    """A dataset folder's file linked from elsewhere was left out: editing the target left the recorded checksum
    (and the graph cache keyed by it) unchanged while the readers read the new bytes."""
    root, target = tmp_path / "data", tmp_path / "elsewhere.cif"
    root.mkdir()
    (root / "a.cif").write_text("a")
    target.write_text("Hf")
    os.symlink(target, root / "b.cif")
    before = sha256_tree(root)
    target.write_text("Zr")
    assert sha256_tree(root) != before


@pytest.mark.parametrize("content, message", [
    (None, "no model.json: not a PINN folder written by 'sciml pde train'"),
    ("{not json", "model.json is not readable JSON"),
    ('["a list"]', "not a saved PINN .format None, expected 'sciml.pde.pinn'"),
    ('{"format": "other"}', "not a saved PINN .format 'other', expected 'sciml.pde.pinn'"),
    ('{"format": "sciml.pde.pinn", "format_version": 0}', "format version 0, this sciml reads version 1"),
])
def test_read_model_json_names_the_file_and_what_is_wrong(tmp_path: Path, content, message) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        read_model_json(path, "sciml.pde.pinn", 1, "PINN", "sciml pde train")
    assert str(path) in str(err.value)


def test_read_model_json_returns_the_metadata(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "m.json", {"format": "f", "format_version": 2, "seed": 3})
    assert read_model_json(path, "f", 2, "model", "sciml x")["seed"] == 3


def test_save_torch_atomic_gives_the_same_bytes_for_the_same_weights(tmp_path):
    """Saved through a file handle: the temporary name does not end up inside the archive, so
    identical weights have one sha256 (predict records it) and load back equal."""
    import torch

    from sciml.io import save_torch_atomic, sha256_file

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    a, b = save_torch_atomic(state, tmp_path / "a" / "model.pt"), save_torch_atomic(state, tmp_path / "b.pt")
    assert sha256_file(a) == sha256_file(b)
    assert torch.equal(torch.load(a, weights_only=True)["w"], state["w"])
    assert not [p for p in tmp_path.rglob("*.tmp*")]


def test_csv_spool_writes_rows_as_they_come_and_renames_on_commit(tmp_path: Path) -> None:
    from sciml.io import CsvSpool, write_csv_atomic

    target = tmp_path / "skipped.csv"
    target.write_text("old\n")
    spool = CsvSpool(target, ["id", "line", "reason"])
    rows = [["a", 3, "unparsable: x, y"], ["b", "", 'quote "q"'], ["c\nd", 7, "multi-line id"]]
    for row in rows:
        spool.write(row)
    assert target.read_text() == "old\n"  # untouched until commit
    assert len(_leftovers(tmp_path)) == 1
    spool.commit()
    assert spool.rows_written == 3 and _leftovers(tmp_path) == []
    expected = write_csv_atomic(tmp_path / "expected.csv", ["id", "line", "reason"], rows)
    assert target.read_bytes() == expected.read_bytes()


def test_csv_spool_discard_leaves_the_old_file(tmp_path: Path) -> None:
    from sciml.io import CsvSpool

    target = tmp_path / "skipped.csv"
    target.write_text("old\n")
    spool = CsvSpool(target, ["id"])
    spool.write(["a"])
    spool.discard()
    assert target.read_text() == "old\n" and _leftovers(tmp_path) == []


def test_read_json_object_names_the_file_and_what_is_wrong(tmp_path) -> None:
    from sciml.io import read_json_object

    good = tmp_path / "m.json"
    good.write_text('{"a": 1}')
    assert read_json_object(good, "metrics") == {"a": 1}
    cases = {"missing.json": None, "list.json": "[1]", "bad.json": "{", "latin1.json": b"{\"\xc5\": 1}"}
    messages = {"missing.json": "metrics missing (which step)", "list.json": "must be a JSON object, got list",
                "bad.json": "not valid JSON", "latin1.json": "not UTF-8"}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        with pytest.raises(DataError) as info:
            read_json_object(path, "metrics", "which step")
        assert info.value.path == str(path) and messages[name] in str(info.value)
    with pytest.raises(DataError, match="is a folder"):
        read_json_object(tmp_path, "metrics")


def test_an_unwritable_output_is_named_and_a_killed_run_s_temporaries_are_removed(tmp_path):
    """A read-only folder gave a raw PermissionError naming `.quarantine.csv.3n79375k.tmp.csv`; a kill during a
    write left that temporary file (checkpoint-sized during a save) for good."""
    import os
    import time

    from sciml.errors import DataError
    from sciml.io import remove_stale_temporaries, write_text_atomic

    blocked = tmp_path / "file_not_folder"
    blocked.write_text("x")
    with pytest.raises(DataError, match="quarantine.csv: cannot write this output") as err:
        write_text_atomic(blocked / "quarantine.csv", "a,b\n")  # its folder is a file: cannot be created
    assert ".tmp" not in str(err.value)
    old = tmp_path / ".last.ckpt.kinz3mkg.tmp.ckpt"
    fresh = tmp_path / ".contact_maps.png.h58hyx_g.tmp.png"
    mine = tmp_path / ".hidden_notes.txt"
    for p in (old, fresh, mine):
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    os.utime(mine, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temporaries(tmp_path) == [old]  # a write in progress (fresh) and other files stay
    assert fresh.exists() and mine.exists() and not old.exists()
