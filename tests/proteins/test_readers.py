"""Alignment, structure and cgdms readers, including malformed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.errors import DataError
from sciml.proteins import alignments, cgdms, structures


def test_psicov_aln_and_encoding(tmp_path):
    p = tmp_path / "x.aln"
    p.write_text("ACDE\nAC-X\n\nBCDE\n")
    aln = alignments.read_alignment(p)
    assert aln.n_seqs == 3 and aln.length == 4
    X = aln.encode()
    assert X.dtype == np.uint8 and X.shape == (3, 4)
    assert X[0].tolist() == [alignments.ALPHABET.index(c) for c in "ACDE"]
    assert X[1, 2] == alignments.GAP and X[1, 3] == alignments.GAP  # gap and ambiguity X -> gap state
    assert aln.lines == [1, 2, 4]


def test_fasta_a2m_stockholm(tmp_path):
    fa = tmp_path / "x.fasta"
    fa.write_text(">a\nAC-D\nEF\n>b\nACKDEF\n")
    aln = alignments.read_alignment(fa)
    assert aln.seqs == ["AC-DEF", "ACKDEF"] and aln.ids == ["a", "b"]
    a2m = tmp_path / "x.a2m"
    a2m.write_text(">a\nACdD\n>b\nAC.D\n")
    assert alignments.read_alignment(a2m).seqs == ["ACD", "ACD"]
    sto = tmp_path / "x.sto"
    sto.write_text("# STOCKHOLM 1.0\nseq1 ACDE-F\nseq2 ACD-GF\n//\n")
    aln = alignments.read_alignment(sto)
    assert aln.seqs == ["ACDE-F", "ACD-GF"] and aln.ids == ["seq1", "seq2"]


def test_a3m_insertions_exact(tmp_path):
    p = tmp_path / "y.a3m"
    p.write_text(">q\nACDE\n>h\nAkkC-E\n")
    assert alignments.read_a3m(p).seqs == ["ACDE", "AC-E"]


@pytest.mark.parametrize("text,fmt,needle,record", [
    ("ACDE\nACD\n", "aln", "differs", "line 2"),
    ("ACDE\nAC1E\n", "aln", "outside the amino-acid alphabet", "line 2"),
    ("ACDE\n", "aln", "single sequence", None),
    (">a\nACDE\n>b\nAC*E\n", "fasta", "'*'", "line 3"),
    (">a\nACDE\n>b\nACE\n", "a3m", "differs", "line 3"),
])
def test_malformed_alignments(tmp_path, text, fmt, needle, record):
    p = tmp_path / f"bad.{fmt}"
    p.write_text(text)
    with pytest.raises(DataError) as err:
        alignments.read_alignment(p, fmt)
    assert needle in str(err.value) and str(p) in str(err.value)
    if record:
        assert err.value.record == record


def test_real_alignments(shared_data):
    aln = alignments.read_alignment(shared_data / "proteins/msa_pairs/1mkcA00/1mkcA00.aln")
    assert (aln.n_seqs, aln.length) == (142, 43)
    a3m = alignments.read_alignment(shared_data / "proteins/msa_pairs/1a3aA/1a3a_1_A.a3m")
    n_headers = sum(1 for ln in open(shared_data / "proteins/msa_pairs/1a3aA/1a3a_1_A.a3m") if ln.startswith(">"))
    assert a3m.n_seqs == n_headers
    assert "-" not in a3m.seqs[0] and all(len(s) == a3m.length for s in a3m.seqs)


def test_sequence_weights_hand_example():
    X = np.array([[0, 1, 2, 3, 4], [0, 1, 2, 3, 5], [6, 7, 8, 9, 10]], dtype=np.uint8)
    w = alignments.sequence_weights(X, threshold=0.8).numpy()
    # rows 0 and 1 share 4/5 = 0.8 identity -> each has 2 neighbours (incl. itself)
    assert np.allclose(w, [0.5, 0.5, 1.0])


PDB_TEXT = """\
ATOM      1  N   GLY A   1       0.000   0.000   0.000  1.00  0.00           N
ATOM      2  CA  GLY A   1       1.000   0.000   0.000  1.00  0.00           C
ATOM      3  C   GLY A   1       2.000   0.000   0.000  1.00  0.00           C
ATOM      4  N   ALA A   2       0.000   5.000   0.000  1.00  0.00           N
ATOM      5  CA  ALA A   2       1.000   5.000   0.000  1.00  0.00           C
ATOM      6  C   ALA A   2       2.000   5.000   0.000  1.00  0.00           C
ATOM      7  CB  ALA A   2       1.000   6.000   0.000  1.00  0.00           C
HETATM    8  N   MSE A   3       0.000  20.000   0.000  1.00  0.00           N
HETATM    9  CA  MSE A   3       1.000  20.000   0.000  1.00  0.00           C
HETATM   10  C   MSE A   3       2.000  20.000   0.000  1.00  0.00           C
HETATM   11  CB  MSE A   3       1.000  13.000   0.000  1.00  0.00           C
ATOM     12  N   SER A   3A      5.000   0.000   0.000  1.00  0.00           N
ATOM     13  CA ASER A   3A      6.000   0.000   0.000  0.60  0.00           C
ATOM     14  CA BSER A   3A      9.000   0.000   0.000  0.40  0.00           C
ATOM     15  C   SER A   3A      7.000   1.000   0.000  1.00  0.00           C
ATOM     16  N   LEU A   4      30.000   0.000   0.000  1.00  0.00           N
HETATM   17  O   HOH A 101      50.000   0.000   0.000  1.00  0.00           O
ATOM     18  CA  ALA B   1       0.000   0.000   9.000  1.00  0.00           C
END
"""


def test_structure_reader_and_native_map(tmp_path):
    p = tmp_path / "toy.pdb"
    p.write_text(PDB_TEXT)
    st = structures.read_structure(p)
    assert st.chain == "A"
    assert st.sequence == "GAMS"  # MSE -> M; LEU 4 has no CA and is dropped; water dropped
    assert st.residue_ids == ["1", "2", "3", "3A"]
    assert st.cb_source == ["CA-gly", "CB", "CB", "virtual"]
    assert np.allclose(st.ca[3], [6.0, 0.0, 0.0])  # highest-occupancy altloc
    text = " ".join(st.notes)
    assert "HOH" in text and "MSE" in text and "without CA" in text and "chain(s) B" in text and "insertion" in text
    # hand-checked C-beta distances: Gly CA (1,0,0); Ala CB (1,6,0); MSE CB (1,13,0)
    d = structures.distance_map(st.cb)
    assert d[0, 1] == pytest.approx(6.0) and d[1, 2] == pytest.approx(7.0) and d[0, 2] == pytest.approx(13.0)
    native = structures.contact_map(st.cb)
    assert native[0, 1] == 1.0 and native[1, 2] == 1.0 and native[0, 2] == 0.0
    assert structures.read_structure(p, chain="B").sequence == "A"


def test_structure_errors(tmp_path):
    p = tmp_path / "noca.pdb"
    p.write_text("ATOM      1  N   GLY A   1       0.000   0.000   0.000  1.00  0.00           N\nEND\n")
    with pytest.raises(DataError, match="no amino-acid residue with a C-alpha"):
        structures.read_structure(p)
    q = tmp_path / "toy.pdb"
    q.write_text(PDB_TEXT)
    with pytest.raises(DataError, match="chain 'Z' not found"):
        structures.read_structure(q, chain="Z")
    with pytest.raises(DataError, match="model index 3"):
        structures.read_structure(q, model=3)


def test_virtual_cb_matches_real_cb(shared_data):
    st = structures.read_structure(shared_data / "proteins/msa_pairs/1guuA/native_1guuA_clean.pdb")
    from Bio.PDB import PDBParser

    chain = next(iter(PDBParser(QUIET=True).get_structure("x", shared_data / "proteins/msa_pairs/1guuA/native_1guuA_clean.pdb")))
    res = [r for r in next(iter(chain)) if "CB" in r and "N" in r and "C" in r]
    err = [np.linalg.norm(structures.virtual_cb(r["N"].coord, r["CA"].coord, r["C"].coord) - r["CB"].coord) for r in res]
    assert np.median(err) < 0.2 and len(err) > 30
    assert st.length > 40


def test_mmcif_reader(tmp_path):
    from Bio.PDB import MMCIFIO, PDBParser

    p = tmp_path / "toy.pdb"
    p.write_text(PDB_TEXT)
    s = PDBParser(QUIET=True).get_structure("toy", p)
    io = MMCIFIO()
    io.set_structure(s)
    io.save(str(tmp_path / "toy.cif"))
    st = structures.read_structure(tmp_path / "toy.cif")
    assert st.sequence == "GAMS"


def test_cgdms_reader(shared_data, tmp_path):
    ch = cgdms.read_cgdms(shared_data / "proteins/cgdms/train_val/1A2X_B.txt")
    assert ch.coords.shape == (len(ch.sequence), 4, 3) and len(ch.ss) == len(ch.sequence)
    assert ch.cb.shape == (len(ch.sequence), 3)
    lines = (shared_data / "proteins/cgdms/train_val/1A2X_B.txt").read_text().splitlines()
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines[:5] + ["1 2 3"] + lines[6:]) + "\n")
    with pytest.raises(DataError) as err:
        cgdms.read_cgdms(bad)
    assert err.value.record == "line 6"
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match="coordinate lines"):
        cgdms.read_cgdms(short)
