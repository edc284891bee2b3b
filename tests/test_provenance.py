"""sciml.provenance: what a step's provenance.json records, and that failures write none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciml.io import sha256_file
from sciml.provenance import git_revision, input_checksums, package_versions, record_step


def test_record_step_contents(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    inp = tmp_path / "in.csv"
    inp.write_text("a,b\n1,2\n")
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "f").write_text("x")
    out = tmp_path / "out"
    cfg = {"seed": 11, "lr": 0.01}
    with record_step("pde.train", out, config=cfg, seed=11, inputs=[inp, folder, tmp_path / "absent"]) as rec:
        rec.outputs.append(str(out / "metrics.json"))
        rec.extra["epochs"] = 3
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["step"] == "pde.train"
    assert prov["config"] == cfg and prov["seed"] == 11
    assert prov["inputs_sha256"][str(inp)] == sha256_file(inp)
    assert prov["inputs_sha256"][str(folder)].startswith("tree:")
    assert str(tmp_path / "absent") not in prov["inputs_sha256"]
    assert prov["outputs"] == [str(out / "metrics.json")]
    assert prov["extra"] == {"epochs": 3}
    assert prov["wall_time_s"] >= 0 and prov["started_unix"] > 1.6e9
    assert prov["slurm_job_id"] == "4242"
    assert "sciml" in prov["packages"] and "snakemake" in prov["packages"]
    assert prov["python"].count(".") == 2
    for key in ("platform", "host", "git", "device", "argv"):
        assert key in prov


def test_failed_step_writes_no_provenance(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with record_step("x.y", tmp_path, config={}):
            raise ValueError("boom")
    assert not (tmp_path / "provenance.json").exists()


def test_package_versions_skips_absent() -> None:
    v = package_versions(["sciml", "definitely-not-installed-pkg"])
    assert set(v) == {"sciml"}


def test_git_revision_outside_a_checkout(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None


def test_git_revision_in_repo(repo_root: Path) -> None:
    rev = git_revision(repo_root)
    if rev is None:
        pytest.skip("not a git checkout")
    assert len(rev["commit"]) == 40 and isinstance(rev["dirty"], bool)


def test_input_checksums_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert input_checksums([loop]) == {}


def test_provenance_names_the_working_folder_and_the_code_that_ran(tmp_path: Path, monkeypatch) -> None:
    """Relative input paths (a data root of 'data') named no file without the folder they are relative to."""
    import sciml

    monkeypatch.chdir(tmp_path)
    with record_step("x.y", tmp_path / "out", config={}):
        pass
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["cwd"] == str(tmp_path) and prov["sciml_path"] == str(Path(sciml.__file__).resolve().parent)


def test_a_new_file_in_the_checkout_marks_it_dirty(tmp_path: Path) -> None:
    """A plugin or module added to the checkout (untracked) runs too: it was not 'uncommitted changes'."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("results/\n")
    git("add", "a.py", ".gitignore")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "init")
    assert git_revision(tmp_path)["dirty"] is False
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics.json").write_text("{}")  # ignored outputs: still clean
    assert git_revision(tmp_path)["dirty"] is False
    (tmp_path / "my_plugin.py").write_text("y = 2\n")
    assert git_revision(tmp_path)["dirty"] is True
