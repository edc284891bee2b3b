"""Problems a user's walkthrough of ``sciml proteins predict`` found with their own files: a duplicated
query id, external scores with gaps or asymmetry, CASP RR lists as --scores, gzipped Stockholm, chain
breaks in the structure, the depth warning, RR remarks, the figure's residue numbering.

None of these fits a Potts model: readers, the packaged score refiner, or small helpers.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from sciml.config import domain_section
from sciml.errors import DataError

from tests.proteins.test_user_inputs import PFAM_STO as STO
from tests.proteins.test_user_inputs import SYN_ALN, SYN_PDB, _quiet

# ----------------------------------------------------------------------------- 1: duplicated query id

def test_a_query_id_on_several_rows_is_refused_naming_the_rows(tmp_path):
    from sciml.proteins.query import load_query

    p = tmp_path / "dup.fasta"
    p.write_text(">q first\nACDEFGHIK\n>h1\nACDEFGHIR\n>q second copy\nACDQFGHIK\n>h2\nACDEFGHIW\n")
    with pytest.raises(DataError) as err:
        load_query(p, query="q")
    msg = str(err.value)
    assert str(p) in msg and "'q' names 2 alignment rows (rows 1, 3)" in msg
    assert load_query(p, query="h2").query_row == 3  # a unique id still picks its row


# ----------------------------------------------------------------------------- 2 / 6: external scores

def test_unscored_pairs_and_asymmetry_of_a_score_matrix_are_reported(tmp_path):
    from sciml.proteins.predict import read_score_matrix

    L = 6
    rng = np.random.default_rng(0)
    S = rng.random((L, L))
    sym = (S + S.T) / 2
    np.fill_diagonal(sym, 0)
    nanrow = sym.copy()
    nanrow[2, :] = np.nan
    nanrow[:, 2] = np.nan
    np.savetxt(tmp_path / "nanrow.mat", nanrow, fmt="%.6f")
    notes, report = [], {}
    m = read_score_matrix(tmp_path / "nanrow.mat", L, notes=notes, report=report)
    assert report["unscored"] == 5 and report["non_finite"] == 5 and report["not_listed"] == 0
    assert report["pairs"] == 15 and not report["symmetrised"]
    assert np.isnan(m[2]).all() and m[0, 1] == pytest.approx(sym[0, 1], abs=1e-6)
    assert "5 of the 15 residue pairs have no score in nanrow.mat (0 not listed, 5 non-finite" in notes[0]

    np.savetxt(tmp_path / "asym.mat", S, fmt="%.6f")
    notes, report = [], {}
    m = read_score_matrix(tmp_path / "asym.mat", L, notes=notes, report=report)
    off = ~np.eye(L, dtype=bool)
    S6 = np.round(S, 6)
    expect = np.abs(S6 - S6.T)[off].max() / np.abs(S6[off]).max()
    assert report["symmetrised"] and report["asymmetry"] == pytest.approx(expect, abs=1e-6)
    assert m[0, 4] == pytest.approx((S6[0, 4] + S6[4, 0]) / 2)
    assert "asymmetric" in notes[0] and "symmetrised" in notes[0]

    (tmp_path / "top.txt").write_text("1 4 0.9\n2 6 0.5\n4 1 0.7\n")  # 2 of the 15 pairs, one listed both ways
    notes, report = [], {}
    m = read_score_matrix(tmp_path / "top.txt", L, notes=notes, report=report)
    assert report["not_listed"] == 13 and report["unscored"] == 13 and report["symmetrised"]
    assert m[0, 3] == m[3, 0] == pytest.approx(0.8) and m[1, 5] == 0.5
    assert "13 of the 15 residue pairs have no score in top.txt (13 not listed, 0 non-finite" in notes[0]


def test_a_matrix_filling_one_triangle_is_mirrored_not_halved(tmp_path):
    from sciml.proteins.predict import read_score_matrix

    rng = np.random.default_rng(1)
    S = np.triu(rng.random((7, 7)) + 0.1, k=1)  # upper triangle only, the rest 0
    np.savetxt(tmp_path / "upper.mat", S, fmt="%.6f")
    notes, report = [], {}
    m = read_score_matrix(tmp_path / "upper.mat", 7, notes=notes, report=report)
    assert m[1, 5] == m[5, 1] == pytest.approx(S[1, 5], abs=1e-6)  # the old code gave S[1, 5] / 2
    assert report["unscored"] == 0 and any("upper triangle only" in n for n in notes)
    assert len(notes) == 1  # said once: not again as one-sided pairs
    np.savetxt(tmp_path / "lower.mat", S.T, fmt="%.6f")
    notes = []
    assert read_score_matrix(tmp_path / "lower.mat", 7, notes=notes)[5, 1] == pytest.approx(S[1, 5], abs=1e-6)
    assert any("lower triangle only" in n for n in notes)


def test_casp_rr_lists_are_read_as_scores(tmp_path, shared_data):
    from sciml.proteins.metrics import write_casp_rr
    from sciml.proteins.predict import read_score_matrix

    seq = "ACDEFGHIKLMNPQRSTVWY"
    L = len(seq)
    rng = np.random.default_rng(2)
    p = rng.random((L, L))
    p = (p + p.T) / 2
    write_casp_rr(tmp_path / "own.rr", seq, p, target="own", max_pairs=10, probabilities=True)
    notes, report = [], {}
    m = read_score_matrix(tmp_path / "own.rr", L, sequence=seq, notes=notes, report=report)
    listed = np.isfinite(m[np.triu_indices(L, 1)])
    assert listed.sum() == 10 and report["format"] == "CASP RR contact list" and report["not_listed"] == 180
    i, j = np.argwhere(np.triu(np.isfinite(m), 1))[0]
    assert m[i, j] == pytest.approx(p[i, j], abs=1e-5)
    with pytest.raises(DataError, match=r"own.rr \(record line 6\): the RR's sequence \(20 residues\) is not the query"):
        read_score_matrix(tmp_path / "own.rr", L, sequence="W" + seq[1:])
    # DeepCov's .con: no header, every pair i < j with its probability
    con = shared_data / "proteins/msa_pairs/1guuA/1guuA.deepcov_prediction.con"
    report = {}
    m = read_score_matrix(con, 50, report=report)
    assert report["unscored"] == 0 and report["pairs"] == 1225
    assert m[0, 1] == m[1, 0] == pytest.approx(0.10569383204)


def test_predict_reports_the_gaps_of_an_external_matrix_in_metrics(tmp_path):
    """The packaged score refiner with a matrix that lacks a residue: it runs, and says so."""
    from sciml.proteins.query import load_query
    from sciml.proteins.steps import predict

    L = len(load_query(SYN_ALN).sequence)
    rng = np.random.default_rng(1)
    s = rng.random((L, L))
    s = (s + s.T) / 2
    s[10, :] = s[:, 10] = np.nan
    np.savetxt(tmp_path / "nanrow.mat", s, fmt="%.5f")
    logged: list[str] = []
    m = predict(domain_section("proteins"), None, {"name": "t", "alignment": str(SYN_ALN),
                                                   "scores": str(tmp_path / "nanrow.mat")},
                tmp_path / "out", threads=1, log=logged.append)
    assert m["scores_input"]["unscored"] == L - 1 and m["scores_input"]["non_finite"] == L - 1
    assert any(f"{L - 1} of the {L * (L - 1) // 2} residue pairs have no score" in w for w in m["warnings"])
    assert [f"t: WARNING: {w}" for w in m["warnings"]] == [x for x in logged if "WARNING" in x]  # on the terminal
    assert json.loads((tmp_path / "out/metrics.json").read_text())["scores_input"] == m["scores_input"]


def test_a_notebook_target_is_checked_like_a_config_one_and_strict_raises(tmp_path):
    """A target dict from a notebook: a name that is no file name is refused (it names the output files);
    ``strict=True`` raises the reason a workflow run would record as a skip."""
    from sciml.errors import ConfigError
    from sciml.proteins.steps import coevolution, predict

    cfg = domain_section("proteins")
    for bad in ("../escaped", "my protein", "..", ".hidden"):
        with pytest.raises(ConfigError, match=r"proteins\.targets\[.*\]\.name"):
            predict(cfg, None, {"name": bad, "alignment": str(SYN_ALN)}, tmp_path / "out", log=_quiet)
    assert not (tmp_path / "escaped.rr").exists() and not (tmp_path / "out").exists()
    missing = {"name": "t", "alignment": str(tmp_path / "nope.aln")}
    assert "skipped" in predict(cfg, None, missing, tmp_path / "skip", log=_quiet)
    with pytest.raises(DataError, match="nope.aln"):
        predict(cfg, None, missing, tmp_path / "strict", log=_quiet, strict=True)
    fam_cfg = domain_section("proteins", {"families": [{"name": "f", "alignment": str(tmp_path / "nope.aln"),
                                                         "structure": str(SYN_PDB)}]})
    assert "skipped" in coevolution(fam_cfg, "f", tmp_path / "coev", log=_quiet)
    with pytest.raises(DataError, match="nope.aln"):
        coevolution(fam_cfg, "f", tmp_path / "coev_strict", log=_quiet, strict=True)


def test_a_structure_of_another_row_names_that_row(shared_data):
    """1atzA's structure is row 2635 of CCMpred's alignment, not row 1: the refusal says which row to name."""
    from sciml.proteins.query import load_query

    folder = shared_data / "proteins" / "msa_pairs" / "1atzA"
    with pytest.raises(DataError) as info:
        load_query(folder / "1atzA.aln", structure=folder / "native_1atzA_ccmgen.pdb")
    assert "identity 0.24" in str(info.value) and "row 2635 (row2635)" in info.value.hint
    assert load_query(folder / "1atzA.aln", query="row2635", structure=folder / "native_1atzA_ccmgen.pdb").identity == 1.0


# ----------------------------------------------------------------------------- 3: gzipped Stockholm

def test_gzipped_stockholm_reads_as_the_plain_file(tmp_path):
    from sciml.proteins.alignments import guess_format, read_alignment

    (tmp_path / "x.sto").write_text(STO)
    with gzip.open(tmp_path / "x.sto.gz", "wt") as fh:
        fh.write(STO)
    assert guess_format(tmp_path / "x.sto.gz") == "stockholm"
    plain, zipped = read_alignment(tmp_path / "x.sto"), read_alignment(tmp_path / "x.sto.gz")
    assert zipped.seqs == plain.seqs == ["ACDE-FG", "ACDEKFG", "A-DEKFG"] and zipped.raw == plain.raw


# ----------------------------------------------------------------------------- 4: training sequences

def test_a_model_without_training_sequences_claims_no_reason():
    from sciml.proteins.steps.predict import check_training_overlap

    why = check_training_overlap("ACDEF", {"training": {"data": "proteins/cgdms"}})
    assert why == {"checked": False, "why": "model.json holds no training sequences to compare the query with"}


def test_cgdms_split_keeps_the_sequences_it_trains_on(shared_data):
    from sciml.data import resolve
    from sciml.proteins.cgdms import read_cgdms
    from sciml.proteins.sequence_model import CGDMS, load_cgdms_split

    root = resolve(CGDMS, shared_data)
    items, skipped, sequences = load_cgdms_split(root, "val", limit=5)
    assert len(items) + len(skipped) == 5 and len(sequences) == len(items)
    pid = next(iter(sequences))
    assert sequences[pid] == read_cgdms(root / "train_val" / f"{pid}.txt").sequence


# ----------------------------------------------------------------------------- 5: structures

def test_chain_breaks_are_placed_by_the_pdb_numbering(tmp_path):
    """Residues 18-23 (PDB numbers) removed from 1lpbA: by sequence alone the gap lands 2 residues off."""
    from sciml.proteins.mapping import _aligner, _map_row
    from sciml.proteins.query import load_query, map_query_to_chain
    from sciml.proteins.structures import read_structure

    st = read_structure(SYN_PDB)
    seq = st.sequence
    keep = [k for k in range(len(seq)) if not 12 <= k < 18]
    chain = "".join(seq[k] for k in keep)
    truth = np.array([keep.index(k) if k in keep else -1 for k in range(len(seq))])
    plain, _, _ = _map_row(_aligner(), seq, chain)
    assert (plain != truth).sum() == 2  # the problem
    q_to_res, identity, n, notes = map_query_to_chain(seq, chain, [st.residue_ids[k] for k in keep])
    assert (q_to_res == truth).all() and identity == 1.0 and n == len(keep)
    assert "2 query residue(s) mapped differently" in notes[0]
    # end to end: a PDB without those residues gives the full structure's contacts on the kept ones
    gone = {st.residue_ids[k] for k in range(12, 18)}
    lines = [ln for ln in gzip.open(SYN_PDB, "rt").read().splitlines()
             if not (ln.startswith(("ATOM", "HETATM")) and ln[22:27].strip() in gone)]
    (tmp_path / "broken.pdb").write_text("\n".join(lines) + "\n")
    full = load_query(SYN_ALN, structure=SYN_PDB).native
    fam = load_query(SYN_ALN, structure=tmp_path / "broken.pdb")
    k = np.array(keep)
    assert np.array_equal(fam.native[np.ix_(k, k)], full[np.ix_(k, k)], equal_nan=True)
    assert np.isnan(fam.native[12:18]).all()


def test_identity_refusal_names_min_identity_and_missing_chain_names_model_1(tmp_path):
    from sciml.proteins.query import load_query
    from sciml.proteins.structures import read_structure

    rows = SYN_ALN.read_text().split()
    q = list(rows[0])
    for k in range(0, len(q), 5):
        if q[k] != "-":
            q[k] = "W" if q[k] != "W" else "A"
    (tmp_path / "mut.aln").write_text("\n".join(["".join(q)] + rows[1:]) + "\n")
    with pytest.raises(DataError, match=r"lower --min-identity \(the target's min_identity key"):
        load_query(tmp_path / "mut.aln", structure=SYN_PDB)
    with pytest.raises(DataError, match=r"\(record model 1\): chain 'Z' not found"):
        read_structure(SYN_PDB, chain="Z")


# ----------------------------------------------------------------------------- 7: depth warning

def test_depth_warning_is_graded_by_n_eff_per_residue():
    from sciml.proteins.query import depth_severity, depth_warning

    def depth(n_eff: float, L: int = 49) -> dict:
        return {"n_eff": n_eff, "length": L, "n_eff_per_length": round(n_eff / L, 4), "nf": round(n_eff / L ** 0.5, 2),
                "severity": depth_severity(n_eff / L, n_eff / L ** 0.5)}

    low, mid, deep = depth(4.0), depth(238.0), depth(1000.0)
    assert (low["severity"], mid["severity"], deep["severity"]) == ("very shallow", "shallow", "deep")
    assert depth_warning(low).startswith("very shallow alignment (N_eff 4 for L = 49 residues: N_eff/L = 0.08")
    assert "coevolution carries little signal" in depth_warning(low)
    assert depth_warning(mid).startswith("moderately shallow alignment (N_eff 238 for L = 49 residues: N_eff/L = 4.86, "
                                         "Nf = N_eff/sqrt(L) = 34.0)")
    assert depth_warning(deep) is None


# ----------------------------------------------------------------------------- 8 / 9: RR remark, figure axes

def test_rescaled_rr_says_column_5_is_not_a_probability(tmp_path):
    from sciml.proteins.metrics import RESCALED_REMARK, write_casp_rr

    seq = "ACDEFGHIKLMN"
    s = np.arange(144, dtype=float).reshape(12, 12)
    s = s + s.T
    coev = write_casp_rr(tmp_path / "c.rr", seq, s).read_text().splitlines()
    assert coev[3] == RESCALED_REMARK and "not a contact probability" in RESCALED_REMARK
    assert coev[-2].endswith(" 0.00000") and coev[7].endswith(" 1.00000")
    prob = write_casp_rr(tmp_path / "p.rr", seq, s / s.max(), probabilities=True).read_text()
    assert "REMARK" not in prob


def test_contact_map_axes_count_residues_from_1(tmp_path, monkeypatch):
    import sciml.figures
    from sciml.proteins import plots

    figs = []
    monkeypatch.setattr(sciml.figures, "save_figure", lambda fig, path, **kw: figs.append(fig) or Path(path))
    L = 30
    p = np.zeros((L, L))
    p[0, 29] = p[29, 0] = 0.9  # the top pair: residues 1 and 30 in the RR
    plots.predicted_map(tmp_path / "m.png", "x", p)
    ax = figs[0].axes[0]
    assert ax.get_xlim() == (0.5, L + 0.5) and ax.get_ylim() == (L + 0.5, 0.5)
    top = ax.collections[0].get_offsets()
    assert [1, 30] in top.tolist() and top.min() >= 1 and top.max() <= L
    assert ax.images[0].get_extent() == [0.5, L + 0.5, L + 0.5, 0.5]


# ----------------------------------------------------------------------------- third walkthrough (2026-12-07)

FULL = "ACDEFGHKLMNPQRS"  # the query's own 15 residues; F G H (5-7) sit in insert states below


def _insert_query(tmp_path):
    """An A3M whose query has 3 insert residues (lower case, residues 5-7): 12 of its 15 residues predicted."""
    from sciml.proteins.query import load_query

    rows = ["ACDEfghKLMNPQRS", "ACDEKLMNPQRT", "ACDQKLMNP-RS", "GCDEKLWNPQRS"]
    p = tmp_path / "ins.a3m"
    p.write_text("".join(f">r{k}\n{r}\n" for k, r in enumerate(rows)))
    fam = load_query(p)
    assert fam.full_sequence == FULL and list(fam.residue_numbers) == [1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15]
    return fam


def _read(path, fam, notes=None):
    from sciml.proteins.predict import read_score_matrix

    return read_score_matrix(path, len(fam.sequence), sequence=fam.sequence, alignment_columns=fam.alignment_columns,
                             alignment_length=fam.alignment_length, notes=notes, residue_numbers=fam.residue_numbers,
                             full_sequence=fam.full_sequence)


def test_score_lists_of_a_query_with_insert_residues_use_its_own_numbering(tmp_path):
    """sciml's RR, plmc and DeepCov number the query's own sequence, insert residues counted: residue 8 is the
    5th predicted one, and a pair with an insert residue has no place (left out, counted); a list whose letters
    show it numbers the predicted residues only is read that way; a matrix over the 15 residues is cut to 12."""
    fam = _insert_query(tmp_path)
    (tmp_path / "own.rr").write_text("PFRMAT RR\n" + FULL + "\n1 15 0 8 0.9\n6 10 0 8 0.8\n8 12 0 8 0.7\nEND\n")
    notes: list[str] = []
    m = _read(tmp_path / "own.rr", fam, notes)
    assert m[0, 11] == pytest.approx(0.9) and m[4, 8] == pytest.approx(0.7)
    assert np.isfinite(m).sum() == 4  # two pairs, both triangles: the pair with residue 6 is not placed
    assert any("1 pair(s) of own.rr involve the query's insert residues" in n for n in notes)
    (tmp_path / "plmc.txt").write_text("8 K 12 P 0 0.5\n1 A 15 S 0 0.25\n")
    m = _read(tmp_path / "plmc.txt", fam)
    assert m[4, 8] == pytest.approx(0.5) and m[0, 11] == pytest.approx(0.25)
    # numbered on the 12 predicted residues, as its sequence lines show
    (tmp_path / "match.rr").write_text("PFRMAT RR\n" + fam.sequence + "\n5 9 0 8 0.6\nEND\n")
    notes = []
    m = _read(tmp_path / "match.rr", fam, notes)
    assert m[4, 8] == pytest.approx(0.6) and any("numbers only the query's 12 predicted residues" in n for n in notes)
    full = np.arange(225, dtype=float).reshape(15, 15)
    np.savetxt(tmp_path / "full.mat", full + full.T)
    m = _read(tmp_path / "full.mat", fam)
    assert m.shape == (12, 12) and m[4, 8] == (full + full.T)[7, 11]


def test_score_files_gzipped_or_unreadable_or_malformed_name_the_file_and_line(tmp_path):
    from sciml.proteins.predict import read_score_matrix

    s = np.random.default_rng(0).random((6, 6))
    s = s + s.T
    with gzip.open(tmp_path / "m.mat.gz", "wt") as fh:
        np.savetxt(fh, s)
    assert np.allclose(read_score_matrix(tmp_path / "m.mat.gz", 6)[~np.eye(6, dtype=bool)], s[~np.eye(6, dtype=bool)])
    (tmp_path / "u16.mat").write_text("1 2 0.5\n", encoding="utf-16")
    with pytest.raises(DataError, match=r"u16.mat: cannot read as UTF-8 text"):
        read_score_matrix(tmp_path / "u16.mat", 6)
    lines = [" ".join(f"{v:.3f}" for v in row) for row in s]
    (tmp_path / "ragged.mat").write_text("\n".join(lines[:3] + [lines[3].rsplit(" ", 1)[0]] + lines[4:]) + "\n")
    with pytest.raises(DataError, match=r"\(record line 4\).*line 4 has 5 values where 5 other lines have 6"):
        read_score_matrix(tmp_path / "ragged.mat", 6)
    (tmp_path / "word.mat").write_text("\n".join(lines[:2] + [lines[2].replace(lines[2].split()[1], "abc")] + lines[3:]))
    with pytest.raises(DataError, match=r"\(record line 3\): not a number: 'abc'"):
        read_score_matrix(tmp_path / "word.mat", 6)


def test_hh_suite_annotation_rows_are_no_sequences_and_a_byte_order_mark_is_skipped(tmp_path):
    from sciml.proteins.query import load_query

    body = ">q\nACDEFGHIK\n>h1\nACDEFGHIR\n>h2\nACDQFGHIK\n"
    (tmp_path / "hh.a3m").write_text(">ss_pred\nCCHHHHHCC\n>ss_conf\n899999998\n" + body)
    fam = load_query(tmp_path / "hh.a3m")
    assert fam.sequence == "ACDEFGHIK" and fam.n_seqs == 3
    assert "2 HH-suite annotation row(s) skipped (not sequences): ss_pred, ss_conf" in fam.notes
    (tmp_path / "bom.fasta").write_text("\ufeff" + body, encoding="utf-8")
    assert load_query(tmp_path / "bom.fasta").sequence == "ACDEFGHIK"
    (tmp_path / "bom.aln").write_text("\ufeffCLUSTAL W\n\nq   ACDEFGHIK\nh1  ACDEFGHIR\n", encoding="utf-8")
    assert load_query(tmp_path / "bom.aln").sequence == "ACDEFGHIK"


def test_two_targets_or_families_of_one_name_are_refused():
    from sciml.config import validate
    from sciml.errors import ConfigError

    cfg = {"proteins": {"targets": [{"name": "t1", "alignment": "a.a3m"}, {"name": "t1", "alignment": "b.a3m"}]}}
    with pytest.raises(ConfigError, match=r"proteins.targets.*name 't1' is given twice \(items 0 and 1\)"):
        validate(cfg)
    fam = {"name": "f", "alignment": "a.aln", "structure": "a.pdb"}
    with pytest.raises(ConfigError, match=r"proteins.families.*name 'f' is given twice"):
        validate({"proteins": {"families": [fam, dict(fam)]}})


def test_a_mismatching_first_chain_names_the_chain_that_matches(tmp_path):
    from Bio.PDB import PDBIO, PDBParser
    from Bio.PDB.Model import Model
    from Bio.PDB.Structure import Structure

    from sciml.proteins.query import load_query

    parser = PDBParser(QUIET=True)
    chains = []
    for path, cid in ((SYN_PDB.parent / "2cviA.pdb.gz", "A"), (SYN_PDB, "B")):
        with gzip.open(path, "rt") as fh:
            chain = next(iter(parser.get_structure(cid, fh)[0]))
        chain.detach_parent()
        chain.id = cid
        chains.append(chain)
    model = Model(0)
    for chain in chains:
        model.add(chain)
    both = Structure("two")
    both.add(model)
    io = PDBIO()
    io.set_structure(both)
    io.save(str(tmp_path / "two.pdb"))
    with pytest.raises(DataError) as err:
        load_query(SYN_ALN, structure=tmp_path / "two.pdb")
    msg = str(err.value)
    assert "chain A (the first protein chain) does not match" in msg and "other chains: B" in msg
    assert "chain B matches the query: pass --chain B" in msg
    assert load_query(SYN_ALN, structure=tmp_path / "two.pdb", chain="B").native is not None


def test_only_a_sequence_with_a_score_matrix_leaves_the_depth_unknown(tmp_path):
    """The score refiner on one sequence and a matrix: the depth of the alignment behind it is unknown, not
    'N_eff 1, very shallow'."""
    from sciml.proteins.query import load_query
    from sciml.proteins.steps import predict

    seq = load_query(SYN_ALN).sequence
    L = len(seq)
    (tmp_path / "one.fasta").write_text(f">q\n{seq}\n")
    s = np.random.default_rng(3).random((L, L))
    np.savetxt(tmp_path / "s.mat", s + s.T, fmt="%.5f")
    m = predict(domain_section("proteins"), None, {"name": "one", "alignment": str(tmp_path / "one.fasta"),
                                                   "scores": str(tmp_path / "s.mat")}, tmp_path / "out", threads=1,
                log=_quiet)
    assert m["depth"]["n_eff"] is None and m["depth"]["shallow"] is None
    assert m["depth"]["severity"].startswith("unknown")
