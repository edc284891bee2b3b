"""A user's own inputs to ``sciml proteins predict``: Pfam-style Stockholm, query insert states,
Clustal, per-target settings, stale outputs, skipped targets, the CLI and the workflow inputs.

Most checks stop before any fit (a skip, a reader) or run the packaged score refiner (no
Potts fit); the ones that fit a Potts model are marked slow.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sciml.config import domain_section
from sciml.errors import DataError
from sciml.proteins import alignments
from tests.conftest import venv_env

REPO = Path(__file__).resolve().parents[2]
SYN_ALN = REPO / "data/proteins/alignments/1lpbA.aln"
SYN_PDB = REPO / "data/proteins/structures/1lpbA.pdb.gz"

# Pfam style: column 4 is an insert column (lower case in s1 and s3, '.' in s2), with a #=GC RF line;
# column 9 is '.' in every row (an insert column only RF can tell from a deletion).
PFAM_STO = """# STOCKHOLM 1.0
#=GF ID test
s1/1-8   ACDaE-FG.
s2/3-9   ACD.EKFG.
s3/2-9   A-DcEKFG.
#=GC RF  xxx.xxxx.
//
"""


def _quiet(_: str) -> None:
    pass


def _sciml(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True,
                          env=venv_env(), cwd=cwd, timeout=600)


# ----------------------------------------------------------------------------- 1: Pfam-style Stockholm

def test_pfam_stockholm_insert_columns_are_dropped(tmp_path):
    """Biopython reads '.' as '-': the insert column must still be told from the match columns."""
    p = tmp_path / "pf.sto"
    p.write_text(PFAM_STO)
    aln = alignments.read_alignment(p)
    assert aln.seqs == ["ACDE-FG", "ACDEKFG", "A-DEKFG"]
    assert aln.ids == ["s1/1-8", "s2/3-9", "s3/2-9"]
    # each row's own residue numbers: s3's insert residue 'c' is its residue 3
    assert aln.residue_numbers(2) == ([1, 0, 2, 4, 5, 6, 7], 1)
    assert aln.residue_numbers(1) == ([1, 2, 3, 4, 5, 6, 7], 0)
    # without the RF line the lower-case residues still mark the insert column
    no_rf = tmp_path / "norf.sto"
    no_rf.write_text(PFAM_STO.replace("#=GC RF  xxx.xxxx.\n", "").replace("G.\n", "G\n"))
    assert alignments.read_alignment(no_rf).seqs == aln.seqs


def test_stockholm_without_inserts_is_read_as_before(tmp_path):
    p = tmp_path / "x.sto"
    p.write_text("# STOCKHOLM 1.0\nseq1 ACDE-F\nseq2 ACD-GF\n//\n")
    aln = alignments.read_alignment(p)
    assert aln.seqs == ["ACDE-F", "ACD-GF"] and aln.raw == []


@pytest.mark.parametrize("rows,needle,record", [
    ("s1 ACDaE\ns2 ACDAE\n", "column 4 mixes match (upper-case", "record 1"),
    ("s1 ACDE\ns2 AC1E\n", "outside the amino-acid alphabet", "record 2"),
])
def test_stockholm_errors_name_the_record(tmp_path, rows, needle, record):
    p = tmp_path / "bad.sto"
    p.write_text(f"# STOCKHOLM 1.0\n{rows}//\n")
    with pytest.raises(DataError) as err:
        alignments.read_alignment(p)
    assert needle in str(err.value) and str(p) in str(err.value)
    assert err.value.record == record


# ----------------------------------------------------------------------------- 6: query residues in insert states

def _a3m_with_query_inserts(tmp_path: Path) -> tuple[Path, str, str]:
    """1lpbA as A3M, row 3 (the query) with 3 lower-case insert residues after its 30th column.
    Returns the file, the query id and the query's full sequence."""
    rows = SYN_ALN.read_text().split()
    q = rows[2]
    rows[2] = q[:30] + "wyk" + q[30:]
    path = tmp_path / "ins.a3m"
    path.write_text("".join(f">r{k + 1}\n{r}\n" for k, r in enumerate(rows)))
    return path, "r3", (q[:30] + "WYK" + q[30:]).replace("-", "")


def test_query_insert_residues_are_reported_and_numbered(tmp_path):
    from sciml.proteins.metrics import write_casp_rr
    from sciml.proteins.query import load_query

    path, qid, full = _a3m_with_query_inserts(tmp_path)
    fam = load_query(path, query=qid)
    L = len(fam.sequence)
    assert fam.full_sequence == full and len(full) == L + 3
    assert any("3 query residue(s) in insert states" in n and f"of the query's {L + 3} residues" in n
               for n in fam.notes)
    # residue numbers skip the 3 inserts: the match residues map back onto the full sequence
    assert "".join(full[k - 1] for k in fam.residue_numbers) == fam.sequence
    n_before = len(SYN_ALN.read_text().split()[2][:30].replace("-", ""))
    assert list(fam.residue_numbers[n_before - 1:n_before + 1]) == [n_before, n_before + 4]
    # the RR: full sequence in the header, pairs in the query's own numbering
    probs = np.random.default_rng(0).random((L, L))
    probs = (probs + probs.T) / 2
    write_casp_rr(tmp_path / "q.rr", fam.full_sequence, probs, max_pairs=5 * L, probabilities=True,
                  numbering=fam.residue_numbers)
    lines = (tmp_path / "q.rr").read_text().splitlines()
    assert "".join(ln for ln in lines[5:] if ln.isalpha() and ln != "END") == full
    pairs = [tuple(map(int, ln.split()[:2])) for ln in lines if ln[:1].isdigit()]
    num = {int(n): k for k, n in enumerate(fam.residue_numbers)}
    for i, j in pairs:
        assert abs(probs[num[i], num[j]] - float(next(ln for ln in lines if ln.startswith(f"{i} {j} ")).split()[4])) < 1e-5
    # row 1 has no inserts: nothing changes for it
    plain = load_query(path)
    assert plain.full_sequence is None and plain.residue_numbers is None


@pytest.mark.slow
def test_predict_numbers_the_rr_in_the_query_sequence_when_it_has_inserts(tmp_path):
    from sciml.proteins.steps import predict

    path, qid, full = _a3m_with_query_inserts(tmp_path)
    m = predict(domain_section("proteins"), None, {"name": "ins", "alignment": str(path), "query": qid},
                tmp_path / "out", threads=1, log=_quiet)
    assert m["query_insert_residues_dropped"] == 3 and m["query_full_length"] == len(full) == m["length"] + 3
    assert any("3 query residue(s) in insert states" in w for w in m["warnings"])
    rr = (tmp_path / "out/prediction/ins.rr").read_text().splitlines()
    assert "".join(ln for ln in rr[5:] if ln.isalpha() and ln != "END") == full
    assert max(int(ln.split()[1]) for ln in rr if ln[:1].isdigit()) <= len(full)
    with np.load(tmp_path / "out/prediction/ins.contacts.npz") as z:
        assert z["probs"].shape == (m["length"], m["length"]) and len(z["residue_numbers"]) == m["length"]
    section = json.loads((tmp_path / "out/section.json").read_text())
    assert any("insert states" in w for w in section["warnings"])


# ----------------------------------------------------------------------------- 2: min_identity 0 / max_length

def test_target_min_identity_zero_is_not_replaced_by_the_section_value(tmp_path):
    """A query at ~86% identity to its structure: min_identity 0.0 on the target lets it past the
    identity check (it then stops at the target's max_length, before any fit)."""
    from sciml.proteins.steps import predict
    from sciml.proteins.steps.predict import _setting

    rows = SYN_ALN.read_text().split()
    q = list(rows[0])
    for k in range(0, len(q), 7):  # every 7th residue changed: identity about 0.86 < 0.9
        if q[k] != "-":
            q[k] = "W" if q[k] != "W" else "A"
    rows[0] = "".join(q)
    aln = tmp_path / "mut.aln"
    aln.write_text("\n".join(rows) + "\n")
    cfg = domain_section("proteins")
    base = {"alignment": str(aln), "structure": str(SYN_PDB), "max_length": 50}
    strict = predict(cfg, None, {"name": "strict", **base}, tmp_path / "strict", threads=1, log=_quiet)
    assert re.search(r"identity 0\.8\d .*need >= 0\.90", strict["skipped"]), strict["skipped"]
    zero = predict(cfg, None, {"name": "zero", **base, "min_identity": 0.0}, tmp_path / "zero", threads=1, log=_quiet)
    assert "query length 85 is above the limit of 50" in zero["skipped"], zero["skipped"]
    assert _setting({"max_length": 0}, {"max_length": 1000}, "max_length", 1000) == 0
    assert _setting({"max_length": None}, {"max_length": 1000}, "max_length", 5) == 1000


# ----------------------------------------------------------------------------- 3: stale prediction files

def test_skipped_rerun_removes_the_earlier_prediction_files(tmp_path):
    from sciml.proteins.steps import predict

    pred = tmp_path / "out/prediction"
    pred.mkdir(parents=True)
    stale = [pred / "t.rr", pred / "t.contacts.npz", pred / "t.contact_map.png", pred / "older_name.rr"]
    for p in stale:
        p.write_text("from an earlier run")
    (pred / "my_notes.txt").write_text("not ours")
    m = predict(domain_section("proteins"), None, {"name": "t", "alignment": str(SYN_ALN), "query": "nope"},
                tmp_path / "out", threads=1, log=_quiet)
    assert "no alignment row named 'nope'" in m["skipped"]
    assert not any(p.exists() for p in stale)
    assert (pred / "my_notes.txt").read_text() == "not ours"
    assert json.loads((tmp_path / "out/metrics.json").read_text())["skipped"] == m["skipped"]


# ----------------------------------------------------------------------------- 8: N_eff with --scores

def test_alignment_with_scores_reports_the_real_n_eff(tmp_path):
    """The default with a matrix is the score refiner: the alignment gives only the depth, which
    must be the reweighted N_eff (as the Potts fit computes it), not the row count."""
    from sciml.proteins import potts
    from sciml.proteins.query import load_query
    from sciml.proteins.steps import predict

    rows = SYN_ALN.read_text().split()
    aln = tmp_path / "redundant.aln"
    aln.write_text("\n".join(rows + rows[:100]) + "\n")  # 100 duplicated rows: N_eff < number of rows
    fam = load_query(aln)
    L = len(fam.sequence)
    rng = np.random.default_rng(1)
    s = rng.random((L, L))
    np.savetxt(tmp_path / "s.mat", (s + s.T) / 2, fmt="%.5f")
    m = predict(domain_section("proteins"), None,
                {"name": "sc", "alignment": str(aln), "scores": str(tmp_path / "s.mat")},
                tmp_path / "out", threads=1, log=_quiet)
    assert "score_refiner" in m["model"]["dir"] and m["coevolution_source"] == "external score matrix"
    _, _, n_eff = potts.prepare(fam.X, potts.PottsSettings(), 0)
    assert m["depth"]["n_seqs"] == 600 and n_eff <= 500.5
    assert m["depth"]["n_eff"] == round(n_eff, 2)
    assert m["depth"]["nf"] == round(n_eff / np.sqrt(L), 2)
    assert any("score refiner" in w and "depth statistics" in w and "contact_network" in w for w in m["warnings"])


# ----------------------------------------------------------------------------- 9: the contact-map figure

def test_contact_map_leaves_out_pairs_of_residues_missing_from_the_structure(tmp_path):
    from sciml.proteins import plots

    L = 40
    rng = np.random.default_rng(0)
    probs = rng.random((L, L)) * 0.5
    probs[5:12, 25:35] = 0.99  # the most confident pairs are those of the missing residues
    probs = np.maximum(probs, probs.T)
    native = (rng.random((L, L)) < 0.1).astype(float)
    native = np.maximum(native, native.T)
    native[5:12, :] = np.nan
    native[:, 5:12] = np.nan
    pts = plots.predicted_map_points(probs, native)
    drawn = np.concatenate([pts["true"], pts["false"]])
    assert len(drawn) == L
    assert np.isfinite(native[drawn[:, 0], drawn[:, 1]]).all()
    assert (native[pts["true"][:, 0], pts["true"][:, 1]] == 1).all()
    assert (native[pts["false"][:, 0], pts["false"][:, 1]] == 0).all()
    # without a structure the top L are drawn whatever they are
    top = plots.predicted_map_points(probs)["top"]
    assert len(top) == L and ((top[:, 0] >= 5) & (top[:, 0] < 12)).any()
    assert plots.predicted_map(tmp_path / "m.png", "x", probs, native).stat().st_size > 1000


# ----------------------------------------------------------------------------- 5: skipped targets counted

def test_section_counts_the_skipped_targets(tmp_path):
    from sciml.proteins.steps import section

    dirs = []
    for name, m in (("good", {"name": "good", "length": 50}), ("bad", {"name": "bad", "skipped": "x.aln: empty"}),
                    ("good2", {"name": "good2", "length": 60})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(m))
        dirs.append(tmp_path / name)
    out = section(domain_section("proteins"), [], tmp_path / "section", target_dirs=dirs)
    assert out["targets"] == 3 and out["targets_skipped"] == 1
    sec = json.loads((tmp_path / "section/section.json").read_text())
    assert "1 of 3 prediction target(s) skipped: bad (x.aln: empty)" in sec["warnings"]
    assert "2 of 3 predicted, 1 of 3 skipped" in sec["summary"]


# ----------------------------------------------------------------------------- 10: Clustal

def test_clustal_file_named_aln_is_read_as_clustal(tmp_path):
    from Bio import AlignIO
    from Bio.Align import MultipleSeqAlignment
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    rows = {"q": "ACDEF-GHIK" * 7, "h1": "ACDEFWGHI-" * 7, "h2": "AC-EFWGHIK" * 7}
    p = tmp_path / "x.aln"
    AlignIO.write(MultipleSeqAlignment([SeqRecord(Seq(s), id=k) for k, s in rows.items()]), p, "clustal")
    assert p.read_text().startswith("CLUSTAL")
    assert alignments.guess_format(p) == "clustal"
    aln = alignments.read_alignment(p)
    assert aln.ids == list(rows) and aln.seqs == list(rows.values())
    # a PSICOV .aln is still PSICOV
    assert alignments.guess_format(SYN_ALN) == "aln"


# ----------------------------------------------------------------------------- 7 / 10: the CLI

def test_cli_config_file_data_root_and_skip_exit_codes(tmp_path):
    """--config with a whole pipeline config: its data_root places relative target paths; a
    skipped --target exits 3 (0 with --allow-skip, as the workflow passes)."""
    root = tmp_path / "myroot"
    (root / "in").mkdir(parents=True)
    (root / "in/x.aln").write_text(SYN_ALN.read_text())
    cfg = {"data_root": str(root), "proteins": {"targets": [{"name": "rel", "alignment": "in/x.aln", "query": "nope"}]}}
    (tmp_path / "user.yaml").write_text(yaml.safe_dump(cfg))
    base = ["proteins", "predict", "--config", "user.yaml", "--target", "rel", "--threads", "1"]
    r = _sciml(base + ["--out-dir", "out"], tmp_path)
    assert r.returncode == 3, r.stderr[-2000:]
    assert "no alignment row named 'nope'" in r.stderr and "not found" not in r.stderr
    r = _sciml(base + ["--allow-skip", "--out-dir", "out2"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "skipped" in json.loads((tmp_path / "out2/metrics.json").read_text())
    # an explicit --data-root wins over the file's
    r = _sciml(base + ["--data-root", str(tmp_path / "elsewhere"), "--out-dir", "out3"], tmp_path)
    assert r.returncode == 3 and "data file not found" in r.stderr


def test_cli_checks_format_and_name_as_flags(tmp_path):
    r = _sciml(["proteins", "predict", "--alignment", str(SYN_ALN), "--format", "clustalw", "--out-dir", "o"], tmp_path)
    assert r.returncode == 2 and "argument --format" in r.stderr and "clustal" in r.stderr
    assert "config key" not in r.stderr
    r = _sciml(["proteins", "predict", "--alignment", str(SYN_ALN), "--name", "my protein (v2)", "--out-dir", "o"],
               tmp_path)
    assert r.returncode == 2 and "argument --name" in r.stderr and "not a valid target name" in r.stderr
    spaced = tmp_path / "my protein (v2).aln"
    spaced.write_text(SYN_ALN.read_text())
    r = _sciml(["proteins", "predict", "--alignment", str(spaced), "--out-dir", "o"], tmp_path)
    assert r.returncode == 2 and "'my protein (v2)'" in r.stderr and "--name" in r.stderr
    assert not (tmp_path / "o").exists()


def test_cli_min_identity_reaches_the_target(tmp_path, monkeypatch, capsys):
    """--min-identity lets a user score against a homologue's structure without a YAML config."""
    import sciml.proteins.steps as steps
    from sciml.cli import main

    seen = {}
    monkeypatch.setattr(steps, "predict", lambda cfg, model_dir, target, out_dir, **kw: seen.update(target) or {})
    args = ["proteins", "predict", "--alignment", str(SYN_ALN), "--structure", str(SYN_PDB), "--out-dir",
            str(tmp_path / "o")]
    assert main(args + ["--min-identity", "0.8"]) == 0 and seen["min_identity"] == 0.8
    assert main(args) == 0 and seen["min_identity"] is None  # the config's proteins.min_identity
    with pytest.raises(SystemExit):
        main(args + ["--min-identity", "80"])
    assert "argument --min-identity" in capsys.readouterr().err


# ----------------------------------------------------------------------------- 4: workflow inputs

def _dry_run_jobs(tmp_path: Path, proteins: dict) -> dict[tuple[str, str], str]:
    """``snakemake -n`` of the proteins section with ``proteins``; {(rule, wildcard value): input line}."""
    cfg = {"results_dir": str(tmp_path / "results"), "domains": ["proteins"], "proteins": proteins}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "-n", "--cores", "1", "--configfile",
                           str(REPO / "config/config.yaml"), str(tmp_path / "cfg.yaml"), "--",
                           str(tmp_path / "results/proteins/section/section.json")],
                          cwd=REPO, env=venv_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    jobs = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        inp = re.search(r"^\s+input: (.*)$", block, re.M)
        wc = re.search(r"^\s+wildcards: \w+=(\S+)$", block, re.M)
        jobs[(rule, wc.group(1) if wc else "")] = inp.group(1) if inp else ""
    return jobs


def test_workflow_declares_the_files_each_target_and_family_reads(tmp_path):
    """Editing a target's alignment/structure/scores (or a family's) must re-run its job: they are
    its inputs, resolved like the CLI (absolute as is, else under data_root). A missing file is
    not declared, so that target is skipped by the step instead of stopping the workflow."""
    own = tmp_path / "own.aln"
    own.write_text(SYN_ALN.read_text())
    (tmp_path / "own.mat").write_text("0\n")
    jobs = _dry_run_jobs(tmp_path, {"targets": [
        {"name": "abs", "alignment": str(own), "scores": str(tmp_path / "own.mat")},
        {"name": "rel", "alignment": "proteins/alignments/1lpbA.aln", "structure": "proteins/structures/1lpbA.pdb.gz"},
        {"name": "gone", "alignment": str(tmp_path / "missing.aln")},
    ]})
    assert str(own) in jobs[("proteins_predict", "abs")] and str(tmp_path / "own.mat") in jobs[("proteins_predict", "abs")]
    rel = jobs[("proteins_predict", "rel")]
    assert "data/proteins/alignments/1lpbA.aln" in rel and "data/proteins/structures/1lpbA.pdb.gz" in rel
    assert "missing.aln" not in jobs[("proteins_predict", "gone")]
    fam = jobs[("proteins_coevolution", "3a4rA")]
    assert "data/proteins/alignments/3a4rA.aln" in fam and "data/proteins/structures/3a4rA.pdb.gz" in fam
    assert "targets/gone/metrics.json" in jobs[("proteins_section", "")]


def test_clustal_file_forced_to_psicov_says_so(tmp_path):
    p = tmp_path / "c.aln"
    p.write_text("CLUSTAL W (1.83) multiple sequence alignment\n\nq   ACDE\nh   ACDF\n")
    with pytest.raises(DataError, match="Clustal header in a file read as PSICOV") as err:
        alignments.read_alignment(p, "aln")
    assert err.value.record == "line 1"
    assert alignments.read_alignment(p).seqs == ["ACDE", "ACDF"]


def test_a_notebooks_target_with_a_misspelt_key_is_refused(tmp_path):
    """The step took {"structure_file": ...} and predicted without the structure, silently."""
    from sciml.config import domain_section
    from sciml.errors import ConfigError
    from sciml.proteins.steps.predict import check_target_keys, predict

    cfg = domain_section("proteins")
    with pytest.raises(ConfigError) as info:
        predict(cfg, None, {"name": "x", "alignment": "a.aln", "structure_file": "x.pdb"}, tmp_path / "out")
    assert info.value.key == "proteins.targets[x].structure_file" and "structure" in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before anything is written
    with pytest.raises(ConfigError, match="required"):
        check_target_keys({"name": "x"})
    check_target_keys({"name": "x", "alignment": "a.aln", "structure": None, "chain": "A"})  # known keys pass
