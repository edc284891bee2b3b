"""What the record of a proteins run says: the exact files a skipped family/target was rejected for
(their sha256), the model the targets used (once, with its training record), and the exit code of a
skipped step."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sciml.config import domain_section
from sciml.io import sha256_file
from tests.conftest import venv_env

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data/proteins"
GARBAGE = bytes(range(256)) * 8  # not text, not an alignment


def _quiet(_: str) -> None:
    pass


def _root(tmp_path: Path) -> Path:
    """A data root with a family's files, a structure of another protein and a garbage alignment."""
    root = tmp_path / "root"
    (root / "proteins/alignments").mkdir(parents=True)
    (root / "proteins/structures").mkdir(parents=True)
    for rel in ("alignments/3a4rA.aln", "structures/3a4rA.pdb.gz", "structures/2cviA.pdb.gz"):
        (root / "proteins" / rel).write_bytes((DATA / rel).read_bytes())
    (root / "proteins/alignments/garbage.a3m").write_bytes(GARBAGE)
    return root


FAMILIES = [
    {"name": "good", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/3a4rA.pdb.gz"},
    # the structure is another protein's: it matches no row of the alignment
    {"name": "mismatch", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/2cviA.pdb.gz"},
    {"name": "garbage", "alignment": "proteins/alignments/garbage.a3m", "structure": "proteins/structures/3a4rA.pdb.gz"},
    {"name": "gone", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/nope.pdb"},
]
TINY = {"families": FAMILIES, "threads": 1, "potts": {"epochs": 1, "max_sequences": 50, "max_iter": 20},
        "meanfield": {"max_sequences": 50}}


# ----------------------------------------------------------------------------- skipped families

def test_skipped_family_records_the_sha256_of_each_file(tmp_path):
    """A scientist must tell which exact file a family was rejected for: its skip record (metrics.json,
    provenance.json, quarantine.csv, the section's table) carries the sha256 of every file of the family,
    'missing' for one that does not exist."""
    from sciml.proteins.steps import coevolution, section

    root = _root(tmp_path)
    cfg = domain_section("proteins", json.dumps(TINY))
    aln, pdb, other = (root / "proteins/alignments/3a4rA.aln", root / "proteins/structures/3a4rA.pdb.gz",
                       root / "proteins/structures/2cviA.pdb.gz")
    garbage = root / "proteins/alignments/garbage.a3m"
    expected = {
        "mismatch": ("does not match", {"alignment": (aln, sha256_file(aln)), "structure": (other, sha256_file(other))}),
        "garbage": ("garbage.a3m", {"alignment": (garbage, sha256_file(garbage)), "structure": (pdb, sha256_file(pdb))}),
        "gone": ("nope.pdb: data file not found", {"alignment": (aln, sha256_file(aln)),
                                                    "structure": (root / "proteins/structures/nope.pdb", "missing")}),
    }
    for name, (reason, files) in expected.items():
        m = coevolution(cfg, name, tmp_path / name, data_root=root, threads=1, log=_quiet)
        assert reason in m["skipped"], m
        assert m["inputs"] == {k: {"path": str(p), "sha256": sha} for k, (p, sha) in files.items()}
        assert json.loads((tmp_path / name / "metrics.json").read_text())["inputs"] == m["inputs"]
        prov = json.loads((tmp_path / name / "provenance.json").read_text())["inputs_sha256"]
        assert prov == {str(p): sha for p, sha in files.values() if sha != "missing"}
    section(cfg, [tmp_path / n for n in expected], tmp_path / "section")
    quarantine = (tmp_path / "section/quarantine.csv").read_text().splitlines()
    assert quarantine[0] == "family,reason,alignment,alignment_sha256,structure,structure_sha256"
    assert quarantine[3].startswith("gone,") and quarantine[3].endswith(f"{aln},{sha256_file(aln)},"
                                                                        f"{root / 'proteins/structures/nope.pdb'},missing")
    assert f"{garbage},{sha256_file(garbage)}" in quarantine[2]
    sec = json.loads((tmp_path / "section/section.json").read_text())
    table = next(t for t in sec["tables"] if t["title"] == "Input files of the skipped families and targets")
    assert ["family", "mismatch", "structure", str(other), sha256_file(other)] in table["rows"]
    assert ["family", "gone", "structure", str(root / "proteins/structures/nope.pdb"), "missing"] in table["rows"]
    assert len(table["rows"]) == 6


# ----------------------------------------------------------------------------- skipped targets

def test_skipped_target_records_the_sha256_of_each_file(tmp_path):
    """The same for a prediction target: its metrics.json, provenance.json and section, and the proteins
    section's list of skipped targets."""
    from sciml.proteins.steps import predict, section

    root = _root(tmp_path)
    aln, other = DATA / "alignments/1lpbA.aln", root / "proteins/structures/2cviA.pdb.gz"
    garbage = root / "proteins/alignments/garbage.a3m"
    targets = {
        "wrongpdb": ({"alignment": str(aln), "structure": str(other)}, "does not match the query",
                     {"alignment": (aln, sha256_file(aln)), "structure": (other, sha256_file(other))}),
        "garbage": ({"alignment": str(garbage)}, "garbage.a3m", {"alignment": (garbage, sha256_file(garbage))}),
        # relative paths are read under the data root, as the step reads them
        "nostruct": ({"alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/nope.pdb"},
                     "nope.pdb", {"alignment": (root / "proteins/alignments/3a4rA.aln",
                                                sha256_file(root / "proteins/alignments/3a4rA.aln")),
                                  "structure": (root / "proteins/structures/nope.pdb", "missing")}),
    }
    cfg = domain_section("proteins")
    for name, (entry, reason, files) in targets.items():
        m = predict(cfg, None, {"name": name, **entry}, tmp_path / name, data_root=root, threads=1, log=_quiet)
        assert reason in m["skipped"], m
        assert m["inputs"] == {k: {"path": str(p), "sha256": sha} for k, (p, sha) in files.items()}
        prov = json.loads((tmp_path / name / "provenance.json").read_text())["inputs_sha256"]
        assert {str(p): sha for p, sha in files.values() if sha != "missing"}.items() <= prov.items()
        own = json.loads((tmp_path / name / "section.json").read_text())
        rows = next(t for t in own["tables"] if t["title"] == "Input files of the skipped target")["rows"]
        assert rows == [["target", name, k, str(p), sha] for k, (p, sha) in files.items()]
    out = section(cfg, [], tmp_path / "section", target_dirs=[tmp_path / n for n in targets])
    assert out["targets_skipped"] == 3 and out["models"] == 0
    sec = json.loads((tmp_path / "section/section.json").read_text())
    table = next(t for t in sec["tables"] if t["title"] == "Input files of the skipped families and targets")
    assert ["target", "wrongpdb", "structure", str(other), sha256_file(other)] in table["rows"]
    assert ["target", "garbage", "alignment", str(garbage), sha256_file(garbage)] in table["rows"]
    assert ["target", "nostruct", "structure", str(root / "proteins/structures/nope.pdb"), "missing"] in table["rows"]


def test_a_skip_record_written_before_the_checksums_says_so(tmp_path):
    from sciml.proteins.steps import section

    (tmp_path / "old").mkdir()
    (tmp_path / "old/metrics.json").write_text(json.dumps({"name": "old", "skipped": "x.aln: empty"}))
    section(domain_section("proteins"), [], tmp_path / "section", target_dirs=[tmp_path / "old"])
    sec = json.loads((tmp_path / "section/section.json").read_text())
    table = next(t for t in sec["tables"] if t["title"] == "Input files of the skipped families and targets")
    assert table["rows"] == [["target", "old", "", "", "not recorded"]]


# ----------------------------------------------------------------------------- exit codes

def test_coevolution_cli_exits_3_on_a_skipped_family_unless_allow_skip(tmp_path, capsys):
    """Like predict: a skipped family is a failure for a user running the step alone (exit 3), and a
    counted skip for the workflow, which passes --allow-skip (exit 0)."""
    from sciml.cli import main

    root = _root(tmp_path)
    base = ["proteins", "coevolution", "--config-json", json.dumps(TINY), "--data-root", str(root), "--threads", "1"]
    assert main(base + ["--family", "mismatch", "--out-dir", str(tmp_path / "a")]) == 3
    assert "skipped family mismatch" in capsys.readouterr().err
    assert main(base + ["--family", "garbage", "--out-dir", str(tmp_path / "b")]) == 3
    assert main(base + ["--family", "mismatch", "--allow-skip", "--out-dir", str(tmp_path / "c")]) == 0
    assert "skipped" in json.loads((tmp_path / "c/metrics.json").read_text())
    assert main(base + ["--family", "good", "--out-dir", str(tmp_path / "d")]) == 0
    assert "skipped" not in json.loads((tmp_path / "d/metrics.json").read_text())


def test_workflow_runs_coevolution_with_allow_skip(tmp_path):
    """The workflow must complete with a bad family counted: its coevolution job passes --allow-skip."""
    cfg = {"results_dir": str(tmp_path / "results"), "domains": ["proteins"], "proteins": {"families": FAMILIES[:2]}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "-n", "-p", "--cores", "1", "--configfile",
                           str(REPO / "config/config.yaml"), str(tmp_path / "cfg.yaml"), "--",
                           str(tmp_path / "results/proteins/section/section.json")],
                          cwd=REPO, env=venv_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    commands = re.findall(r"^Shell command:\s+(sciml proteins coevolution .*)$", proc.stdout, re.M)
    assert len(commands) == 2 and all(" --allow-skip " in c for c in commands), commands


# ----------------------------------------------------------------------------- the model the targets used

def test_section_shows_the_packaged_model_once_with_its_training_record(tmp_path):
    """Two targets predicted with the network shipped with sciml: the proteins section says it is the
    packaged one and shows it once (model.pt sha256, training families with the sha256 from its model.json,
    its cross-validation, seeds) with its training provenance; each target's section names the model only."""
    from sciml.proteins import saved_model
    from sciml.proteins.steps import predict, section
    from sciml.report.html import render_report

    cfg = domain_section("proteins")
    aln = DATA / "alignments/1lpbA.aln"
    for name in ("t1", "t2"):
        m = predict(cfg, None, {"name": name, "alignment": str(aln)}, tmp_path / name, threads=1, log=_quiet)
        assert m["model"]["packaged"] is True
    predict(cfg, None, {"name": "bad", "alignment": str(aln), "query": "nope"}, tmp_path / "bad", threads=1, log=_quiet)
    d = saved_model.packaged_model_dir("alignment")
    meta = json.loads((d / "model.json").read_text())
    sha = sha256_file(d / "model.pt")

    for name in ("t1", "t2"):  # per target: which model, nothing more
        own = json.loads((tmp_path / name / "section.json").read_text())
        (model,) = [t for t in own["tables"] if t["title"] == "Model"]
        assert model["rows"] == [["contact network", "shipped with sciml (contact_network)", sha]]
        assert not any("Training" in t["title"] or "Cross-validation" in t["title"] for t in own["tables"])

    out = section(cfg, [], tmp_path / "section", target_dirs=[tmp_path / n for n in ("t1", "t2", "bad")])
    assert out["models"] == 1
    sec = json.loads((tmp_path / "section/section.json").read_text())
    models = next(t for t in sec["tables"] if t["title"] == "Models used by the prediction targets")
    assert len(models["rows"]) == 1  # once, however many targets used it
    row = dict(zip(models["columns"], models["rows"][0]))
    assert row["model.pt sha256"] == sha and row["model.json sha256"] == sha256_file(d / "model.json")
    assert row["source"].startswith("shipped with sciml") and row["targets"] == "t1, t2"
    assert row["seeds"] == "0, 1, 2 (member m: seed + m)" and row["ensemble"] == 3
    fams = next(t for t in sec["tables"] if t["title"] == f"Training families of model {sha[:12]}")
    assert {r[0]: r[2] for r in fams["rows"]} == meta["training"]["scores_sha256"]
    assert {r[0] for r in fams["rows"] if r[1] == "train"} == set(meta["training"]["train_families"])
    cv = next(t for t in sec["tables"] if t["title"].startswith(f"Cross-validation of model {sha[:12]}"))
    assert cv["rows"][0][0] == "network"
    assert cv["rows"][0][cv["columns"].index("long_L/5")] == meta["cross_validation"]["mean"]["network"]["long_L/5"]
    # the train step's record of the packaged network joins the section's provenance, once
    prov = [p for p in sec["provenance"] if (tmp_path / "section" / p).resolve() == (d / "provenance.json").resolve()]
    assert len(prov) == 1
    assert "model(s) the targets used: 1" in sec["summary"].lower()
    html = render_report([tmp_path / "section/section.json"] + [tmp_path / n / "section.json" for n in ("t1", "t2")])
    assert sha in html and meta["training"]["scores_sha256"]["PF00013"] in html


def test_section_does_not_describe_a_model_folder_that_changed_since_the_prediction(tmp_path):
    """A target records the sha256 of the model it used; if the folder now holds another model, its
    model.json is not that model's training record: the section says so instead of showing it."""
    from sciml.proteins import saved_model
    from sciml.proteins.steps import section

    d = tmp_path / "model"
    d.mkdir()
    src = saved_model.packaged_model_dir("alignment")
    for f in ("model.pt", "model.json"):
        (d / f).write_bytes((src / f).read_bytes())
    (tmp_path / "t").mkdir()
    (tmp_path / "t/metrics.json").write_text(json.dumps({"name": "t", "model": {
        "dir": str(d), "sha256": "0" * 64, "meta_sha256": sha256_file(d / "model.json"), "packaged": False,
        "kind": "contact network", "ensemble": 3}}))
    section(domain_section("proteins"), [], tmp_path / "section", target_dirs=[tmp_path / "t"])
    sec = json.loads((tmp_path / "section/section.json").read_text())
    assert any("no longer holds it" in w and "re-run the prediction" in w for w in sec["warnings"])
    assert not any(t["title"].startswith("Training families") for t in sec["tables"])
    models = next(t for t in sec["tables"] if t["title"] == "Models used by the prediction targets")
    assert models["rows"][0][3] == "0" * 64 and models["rows"][0][6] == "unknown"


@pytest.mark.parametrize("packaged", [True, False])
def test_is_packaged(tmp_path, packaged):
    from sciml.proteins import saved_model

    d = saved_model.packaged_model_dir("scores") if packaged else tmp_path / "pretrained" / "score_refiner"
    assert saved_model.is_packaged(d) is packaged


def test_entry_inputs_says_what_is_at_each_path(tmp_path):
    from sciml.proteins.inputs import checksummed_paths, entry_inputs

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.aln").write_bytes(GARBAGE)
    (root / "dangling.pdb").symlink_to(root / "nowhere.pdb")
    entry = {"alignment": "a.aln", "structure": "dangling.pdb", "scores": str(root / "sub"), "chain": "A"}
    got = entry_inputs(entry, ("alignment", "structure", "scores", "format"), root)
    assert got == {"alignment": {"path": str(root / "a.aln"), "sha256": sha256_file(root / "a.aln")},
                   "structure": {"path": str(root / "dangling.pdb"),
                                 "sha256": "missing (a symbolic link that leads to no file)"},
                   "scores": {"path": str(root / "sub"), "sha256": "not a file"}}
    assert checksummed_paths(got) == [str(root / "a.aln")]


def test_a_family_skipped_on_a_rerun_leaves_no_earlier_prediction_and_absolute_paths_are_read(tmp_path):
    """Rerunning coevolution into one folder (a notebook cell) with the family now rejected left the earlier run's
    RR files beside its skip record. A family given by absolute paths (a user's files anywhere) was refused as
    'absolute path not allowed', dropping it from the run (a target took them)."""
    from sciml.proteins.steps import coevolution

    root = _root(tmp_path)
    good = {"name": "good", "alignment": str(root / "proteins/alignments/3a4rA.aln"),
            "structure": str(root / "proteins/structures/3a4rA.pdb.gz")}
    cfg = domain_section("proteins", json.dumps({**TINY, "families": [good]}))
    m = coevolution(cfg, "good", tmp_path / "fam", data_root=tmp_path / "elsewhere", threads=1, log=_quiet)
    assert "skipped" not in m and sorted(p.name for p in (tmp_path / "fam/rr").iterdir()) == \
        ["good.meanfield.rr", "good.potts.rr"]
    rejected = {**good, "structure": str(root / "proteins/structures/2cviA.pdb.gz")}
    cfg = domain_section("proteins", json.dumps({**TINY, "families": [rejected]}))
    m = coevolution(cfg, "good", tmp_path / "fam", data_root=root, threads=1, log=_quiet)
    assert "does not match" in m["skipped"] and list((tmp_path / "fam/rr").iterdir()) == []
