"""Query-to-structure mapping, CASP precision on a hand-computed example, RR format, APC."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.errors import DataError
from sciml.proteins import mapping, metrics


def test_mapping_query_not_first_row():
    structure = "MKVLAAGIVGHLWQ"
    seqs = ["--QQQQRRRRSSSS", "-KVLAAG-VGHLW-", "AAAAAAAAAAAAAA"]
    cm = mapping.map_query(seqs, structure, min_identity=0.9)
    assert cm.row == 1 and cm.identity == 1.0
    # column 1 'K' -> residue 1; column 7 gap -> -1; column 8 'V' -> residue 8 (row skips structure's I7)
    assert cm.col_to_res[1] == 1 and cm.col_to_res[0] == -1 and cm.col_to_res[7] == -1
    assert cm.col_to_res[8] == 8 and cm.col_to_res[12] == 12 and 7 not in cm.col_to_res


def test_mapping_with_offset_and_mismatch():
    structure = "GSHM" + "ACDEFGHIKLMNPQRSTVWY"
    seqs = ["ACDEFGHIKLMNPQRSTVWY", "ACDEFGHIKL-NPQRSTVWY"]
    cm = mapping.map_query(seqs, structure)
    assert cm.row == 0 and cm.col_to_res[0] == 4 and cm.col_to_res[19] == 23
    with pytest.raises(DataError, match="does not match"):
        mapping.map_query(["WWWWWWWWWWPPPPPPPPPP", "WWWWWWWWWWPPPPPPPPPP"], "ACDEFGHIKLMNPQRSTVWY",
                          structure_path="x.pdb")


def test_an_exact_query_is_found_beyond_the_rows_that_are_aligned_pairwise():
    structure = "ACDEFGHIKLMNPQRSTVWY"
    decoys = ["WWWWWWWWWWPPPPPPPPPP"] * 5
    cm = mapping.map_query(decoys + ["-CDEFGHIKLMNPQRSTVW-"], structure, max_rows=2)
    assert cm.row == 5 and cm.identity == 1.0 and cm.col_to_res[1] == 1 and cm.col_to_res[0] == -1
    with pytest.raises(DataError, match="only the 2 of 6 rows sharing the most 3-mers with the chain were aligned"):
        mapping.map_query(decoys + ["-CDEFGHIKLMNPQRSTVW-"], "MMMMMMMMMMMMMMMMMMMM", max_rows=2)


def test_a_close_homolog_deep_in_a_large_alignment_is_aligned():
    """With no exact row, the rows aligned pairwise in a deep alignment are those sharing the most 3-mers with the
    chain, not the first ones: a 95 % identical homolog at the end is found (PF00076's closest row is 2339 of 3658)."""
    structure = "ACDEFGHIKLMNPQRSTVWY"
    rows = ["WWWWWWWWWWPPPPPPPPPP"] * 5 + ["ACDEFGHIKLANPQRSTVWY"]  # one mismatch (M -> A)
    cm = mapping.map_query(rows, structure, max_rows=2)
    assert cm.row == 5 and cm.identity == pytest.approx(0.95) and (cm.col_to_res == np.arange(20)).all()
    assert mapping._most_similar_rows(rows, structure, 2) == [0, 5]  # the homolog, then the first of the ties


def test_a_full_length_exact_row_wins_over_an_earlier_exact_fragment():
    """A fragment row is an exact substring of the chain too (1guuA's row 191 lacks the first 8 residues): the
    exact match covering the most residues is the query, so no residue loses its prediction."""
    structure = "ACDEFGHIKLMNPQRSTVWY"
    seqs = ["--------KLMNPQRSTVWY", "ACDEFGHIKLMNPQRSTVW-", "ACDEFGHIKLMNPQRSTVWY"]
    cm = mapping.map_query(seqs, structure)
    assert cm.row == 2 and (cm.col_to_res == np.arange(20)).all()
    cm = mapping.map_query(seqs[:2], structure)  # without it, the longer of the two partial rows
    assert cm.row == 1 and cm.col_to_res[19] == -1 and cm.col_to_res[0] == 0


def test_the_1atz_query_deep_in_ccmpreds_alignment_maps_its_native(shared_data):
    """CCMpred's 1atzA.aln holds the native's sequence at row 2635 of 3068 (it was skipped while only the first 2000
    rows were searched); its 75 columns are the native's 75 residues."""
    from sciml.proteins.family import load_family

    fam = load_family({"name": "1atzA", "alignment": "proteins/msa_pairs/1atzA/1atzA.aln",
                       "structure": "proteins/msa_pairs/1atzA/native_1atzA_ccmgen.pdb"}, shared_data)
    assert fam.query_row == 2634 and fam.identity == 1.0 and fam.n_seqs == 3068
    assert (fam.res == np.arange(75)).all()


def test_precision_hand_example():
    L = 30
    native = np.zeros((L, L))
    for i, j in [(0, 25), (1, 29), (2, 10)]:
        native[i, j] = native[j, i] = 1.0
    scores = np.zeros((L, L))
    # long range (>= 24): (0,25) TP score 0.9, (3,28) FP 0.8, (1,29) TP 0.7, (4,29) FP 0.6
    for (i, j), s in {(0, 25): 0.9, (3, 28): 0.8, (1, 29): 0.7, (4, 29): 0.6, (2, 10): 0.95}.items():
        scores[i, j] = scores[j, i] = s
    # L/5 = 6 long pairs: 2 TP + 4 others (score 0, not contacts) -> 2/6
    assert metrics.precision(scores, native, 24, None, 5) == pytest.approx(2 / 6)
    # top L/30 = 1 -> (0,25) -> 1.0; the 0.95 pair (sep 8) is short range, not counted here
    assert metrics.precision(scores, native, 24, None, 30) == 1.0
    assert metrics.precision(scores, native, 6, 11, 30) == 1.0
    # medium range: no contact exists -> 0
    assert metrics.precision(scores, native, 12, 23, 5) == 0.0
    # unknown native pairs (NaN) are never counted
    native2 = native.copy()
    native2[3, 28] = native2[28, 3] = np.nan
    native2[4, 29] = native2[29, 4] = np.nan
    assert metrics.precision(scores, native2, 24, None, 15) == 1.0  # top 2: (0,25), (1,29)
    ev = metrics.casp_precision(scores, native)
    assert set(ev) == {f"{r}_{t}" for r in ("short", "medium", "long") for t in ("L/5", "L/2", "L")}
    assert ev["long_L/5"] == round(2 / 6, 6) and ev["medium_L/5"] == 0.0
    # a range without any scorable pair has no precision: None (JSON null), skipped by the mean
    tiny = metrics.casp_precision(np.zeros((8, 8)), np.zeros((8, 8)))
    assert tiny["long_L/5"] is None and tiny["short_L/5"] == 0.0
    mean = metrics.mean_metrics([ev, tiny])
    assert mean["long_L/5"] == ev["long_L/5"] and mean["short_L/5"] == round(ev["short_L/5"] / 2, 6)
    assert metrics.mean_metrics([tiny])["long_L"] is None


def test_apc_and_rr_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    F = rng.random((10, 10))
    F = F + F.T
    A = metrics.symmetrize_apc(F)
    assert np.allclose(A, A.T) and np.allclose(np.diag(A), 0)
    raw = F.copy()
    np.fill_diagonal(raw, 0)
    expect = raw[2, 5] - raw[2].sum() / 9 * raw[5].sum() / 9 / (raw.sum() / 90)
    assert A[2, 5] == pytest.approx(expect)
    seq = "ACDEFGHIKL"
    metrics.write_casp_rr(tmp_path / "x.rr", seq, F, target="T1", min_sep=6)
    text = (tmp_path / "x.rr").read_text().splitlines()
    assert text[0] == "PFRMAT RR" and text[-1] == "END" and seq in text
    back = metrics.read_casp_rr(tmp_path / "x.rr", 10)
    order_in = np.argsort(-F[np.triu_indices(10, 6)])
    order_back = np.argsort(-back[np.triu_indices(10, 6)])
    assert (order_in == order_back).all()


def test_read_deepcov_rr(shared_data):
    s = metrics.read_casp_rr(shared_data / "proteins/msa_pairs/1guuA/1guuA.deepcov_prediction.con", 50)
    assert np.isfinite(s).sum() > 100
