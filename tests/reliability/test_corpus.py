"""The malformed-input corpus (tests/corpus/) through every domain's reading step.

Each case must end in one of two ways, never a crash (traceback) and never silence:
- the step refuses the file: exit status 2 and one line naming the file (a DataError), or
- the step runs and counts the bad records: they are in the quarantine with a reason, and
  kept + quarantined = records in the file.

The steps run in-process through ``sciml.cli.main`` so a crash shows its traceback here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from sciml.cli import main

from .tiny import landed

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
GENERIC = sorted(p.name for p in (CORPUS / "generic").iterdir() if p.is_file())

#: Cases that fail today, with the bug reported to the lead (file, line, fix). strict=True: the
#: marker must be removed when the fix lands.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _known(domain: str, case: str):
    reason = KNOWN_BUGS.get((domain, case))
    return pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=reason)) if reason else case


def _run(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)  # any exception other than SciMLError propagates and fails the test
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


def _data_root_with(tmp_path: Path, *cases: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    for c in cases:
        shutil.copy(c, root / c.name)
    return root


def _special_cases(root: Path) -> dict[str, str]:
    """Cases git cannot hold: name -> path relative to the data root."""
    outside = root.parent / "outside.csv"
    outside.write_text("id,formation_energy_per_atom,structure\n")
    (root / "loop.csv").symlink_to(root / "loop.csv")
    (root / "a_folder.csv").mkdir()
    (root / "link_out.csv").symlink_to(outside)
    return {
        "climbs_out": "../outside.csv",
        "climbs_out_nested": "sub/../../outside.csv",
        "absolute": str(outside),
        "symlink_loop": "loop.csv",
        "symlink_escaping_root": "link_out.csv",
        "folder_not_file": "a_folder.csv",
        "missing": "does_not_exist.csv",
    }


# ------------------------------------------------------------------ materials

needs_materials = pytest.mark.skipif(not landed("materials"), reason="materials domain not landed")


def _materials_prepare(rel: str, root: Path, out: Path, capsys, **dataset) -> tuple[int, str]:
    cfg = {"dataset": {"path": rel, **dataset}}
    return _run(["materials", "prepare", "--config-json", json.dumps(cfg), "--data-root", str(root),
                 "--out-dir", str(out), "--cache-dir", str(out / "cache")], capsys)


def _assert_refused_naming(rc: int, text: str, name: str) -> None:
    assert rc == 2, f"expected a clean refusal (exit 2), got {rc}:\n{text[-2000:]}"
    assert name in text, f"the error does not name the file {name!r}:\n{text[-2000:]}"
    assert "Traceback" not in text


def _count_rows(path: Path) -> int:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.DictReader(line for line in fh if not line.startswith("#")))


@needs_materials
@pytest.mark.parametrize("name", [_known("materials", n) for n in GENERIC])
def test_materials_generic_corpus_refused(name: str, tmp_path: Path, capsys) -> None:
    root = _data_root_with(tmp_path, CORPUS / "generic" / name)
    rc, text = _materials_prepare(name, root, tmp_path / "out", capsys)
    _assert_refused_naming(rc, text, name)
    assert not (tmp_path / "out" / "summary.json").exists()


@needs_materials
@pytest.mark.parametrize("case", [_known("materials", c) for c in (
    "climbs_out", "climbs_out_nested", "absolute", "symlink_loop", "symlink_escaping_root", "folder_not_file",
    "missing")])
def test_materials_bad_paths_refused(case: str, tmp_path: Path, capsys) -> None:
    root = _data_root_with(tmp_path)
    rel = _special_cases(root)[case]
    rc, text = _materials_prepare(rel, root, tmp_path / "out", capsys)
    _assert_refused_naming(rc, text, Path(rel).name)


@needs_materials
@pytest.mark.parametrize("name", ["bad_records.csv", "bad_records.csv.gz", "ragged_rows.csv"])
def test_materials_bad_records_are_counted(name: str, tmp_path: Path, capsys) -> None:
    src = CORPUS / "materials" / name
    root = _data_root_with(tmp_path, src)
    out = tmp_path / "out"
    rc, text = _materials_prepare(name, root, out, capsys)
    assert rc == 0, text[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    n_rows = _count_rows(src)
    assert summary["n_quarantined"] >= 1
    assert summary["n_kept"] + summary["n_quarantined"] == n_rows, summary
    with open(out / "quarantine.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary["n_quarantined"]
    assert all(any(v for k, v in r.items() if "reason" in k.lower()) for r in rows), rows[:3]


@needs_materials
@pytest.mark.parametrize("name", ["header_only.csv", "all_records_bad.csv", "missing_target_column.csv"])
def test_materials_nothing_usable_is_not_silent(name: str, tmp_path: Path, capsys) -> None:
    """A file with no usable record is refused, or its records are all quarantined; never 0 kept silently."""
    root = _data_root_with(tmp_path, CORPUS / "materials" / name)
    rc, text = _materials_prepare(name, root, tmp_path / "out", capsys)
    if rc == 2:
        _assert_refused_naming(rc, text, name)
        return
    assert rc == 0, text[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_quarantined"] >= 1, f"{name}: nothing kept and nothing quarantined: {summary}"


def test_corpus_is_committed_and_regenerates_identically(tmp_path: Path) -> None:
    """tests/corpus/make_corpus.py reproduces the committed files byte for byte."""
    from tests.conftest import load_script

    mod = load_script(CORPUS / "make_corpus.py")
    for folder, files in (("generic", mod.generic()), ("materials", mod.materials())):
        for name, data in files.items():
            assert (CORPUS / folder / name).read_bytes() == data, f"{folder}/{name} differs; rerun make_corpus.py"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files anyway")
@needs_materials
def test_materials_unreadable_file_refused(tmp_path: Path, capsys) -> None:
    root = _data_root_with(tmp_path, CORPUS / "materials" / "bad_records.csv")
    (root / "bad_records.csv").chmod(0)
    rc, text = _materials_prepare("bad_records.csv", root, tmp_path / "out", capsys)
    _assert_refused_naming(rc, text, "bad_records.csv")


# ------------------------------------------------------------------ pde (reference files)

needs_pde = pytest.mark.skipif(not landed("pde"), reason="pde domain not landed")
PDE_LOADERS = {"load_burgers": ".npz", "load_allen_cahn": ".mat", "load_poisson_lshape": ".npz"}
_PDE_KNOWN: dict[tuple[str, str], str] = {}


def _pde_params():
    out = []
    for name in GENERIC:
        for loader in sorted(PDE_LOADERS):
            reason = _PDE_KNOWN.get((name, loader))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(loader, name, marks=marks, id=f"{name}-{loader}"))
    return out


@needs_pde
@pytest.mark.parametrize(("loader", "name"), _pde_params())
def test_pde_reference_loaders_refuse_generic_corpus(loader: str, name: str, tmp_path: Path) -> None:
    """Each generic corpus file, given the suffix the loader expects, is refused with a DataError naming it."""
    from sciml.errors import DataError
    from sciml.pde import references

    path = tmp_path / (Path(name).stem.replace(".", "_") + "_as" + PDE_LOADERS[loader])
    shutil.copy(CORPUS / "generic" / name, path)
    with pytest.raises(DataError) as info:
        getattr(references, loader)(path)
    assert path.name in str(info.value)


@needs_pde
@pytest.mark.parametrize("case", [
    "nan_field", "inf_grid",
    "wrong_shape", "object_array", "missing", "folder", "symlink_loop"])
def test_pde_burgers_bad_arrays_refused(case: str, tmp_path: Path) -> None:
    import numpy as np

    from sciml.errors import DataError
    from sciml.pde.references import load_burgers

    path = tmp_path / "Burgers.npz"
    x, t = np.linspace(-1, 1, 8)[:, None], np.linspace(0, 1, 5)[:, None]
    u = np.zeros((8, 5))
    if case == "nan_field":
        u[3, 2] = np.nan
        np.savez(path, x=x, t=t, usol=u)
    elif case == "inf_grid":
        x[0, 0] = np.inf
        np.savez(path, x=x, t=t, usol=u)
    elif case == "wrong_shape":
        np.savez(path, x=x, t=t, usol=u.T)
    elif case == "object_array":
        np.savez(path, x=np.array([{"a": 1}], dtype=object), t=t, usol=u)
    elif case == "folder":
        path.mkdir()
    elif case == "symlink_loop":
        path.symlink_to(path)
    with pytest.raises(DataError) as info:
        load_burgers(path)
    assert path.name in str(info.value)


# ------------------------------------------------------------------ proteins (alignments, structures)

needs_proteins = pytest.mark.skipif(not landed("proteins"), reason="proteins domain not landed")
REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def _proteins_coevolution(root: Path, alignment: str, structure: str, out: Path, capsys) -> tuple[int, str]:
    fam = {"name": "fam", "alignment": alignment, "structure": structure}
    cfg = {"families": [fam, {**fam, "name": "b"}, {**fam, "name": "c"}], "threads": 1,
           "potts": {"epochs": 1, "max_sequences": 50}, "meanfield": {"max_sequences": 50}}
    return _run(["proteins", "coevolution", "--config-json", json.dumps(cfg), "--data-root", str(root),
                 "--family", "fam", "--out-dir", str(out)], capsys)


def _assert_refused_or_family_skipped(rc: int, text: str, name: str, out: Path) -> None:
    """Proteins treat a family as a record: a bad file skips that family (counted, reason kept,
    shown in the report) -- or the step refuses cleanly."""
    if rc == 2:
        _assert_refused_naming(rc, text, name)
        return
    assert rc == 3, text[-2000:]  # a skipped family exits 3 (the workflow passes --allow-skip)
    metrics = json.loads((out / "metrics.json").read_text())
    assert name in metrics.get("skipped", ""), f"the family was neither refused nor skipped with a reason: {metrics}"


def _proteins_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(REPO_DATA / "proteins", root / "proteins")
    return root


@needs_proteins
@pytest.mark.parametrize("suffix", [".aln", ".a3m", ".fasta"])
@pytest.mark.parametrize("name", GENERIC)
def test_proteins_generic_corpus_as_alignment_refused(name: str, suffix: str, tmp_path: Path, capsys) -> None:
    root = _proteins_root(tmp_path)
    bad = "bad_" + Path(name).stem.replace(".", "_") + suffix
    shutil.copy(CORPUS / "generic" / name, root / bad)
    rc, text = _proteins_coevolution(root, bad, "proteins/structures/1lpbA.pdb.gz", tmp_path / "out", capsys)
    _assert_refused_or_family_skipped(rc, text, bad, tmp_path / "out")



@needs_proteins
@pytest.mark.parametrize("name", GENERIC)
def test_proteins_generic_corpus_as_structure_refused(name: str, tmp_path: Path, capsys) -> None:
    root = _proteins_root(tmp_path)
    bad = "bad_" + Path(name).stem.replace(".", "_") + (".pdb.gz" if name.endswith(".gz") else ".pdb")
    shutil.copy(CORPUS / "generic" / name, root / bad)
    rc, text = _proteins_coevolution(root, "proteins/alignments/1lpbA.aln", bad, tmp_path / "out", capsys)
    _assert_refused_or_family_skipped(rc, text, bad, tmp_path / "out")


@needs_proteins
@pytest.mark.parametrize("case", [_known("proteins", c) for c in (
    "climbs_out", "climbs_out_nested", "absolute", "symlink_loop", "symlink_escaping_root", "folder_not_file",
    "missing")])
def test_proteins_bad_paths_refused(case: str, tmp_path: Path, capsys) -> None:
    root = _proteins_root(tmp_path)
    rel = _special_cases(root)[case]
    rc, text = _proteins_coevolution(root, rel, "proteins/structures/1lpbA.pdb.gz", tmp_path / "out", capsys)
    _assert_refused_or_family_skipped(rc, text, Path(rel).name, tmp_path / "out")
