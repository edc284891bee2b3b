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


def _casp_reference(scores: np.ndarray, native: np.ndarray, seq_pos: np.ndarray, length: int) -> dict[str, float]:
    """CASP precision written from its definition, independently of the package: pairs i < j of observed
    residues, separation and L counted along the sequence (``seq_pos``), top L/k by score within a range."""
    out = {}
    ranges = {"short": (6, 11), "medium": (12, 23), "long": (24, None)}
    for rname, (lo, hi) in ranges.items():
        pairs = []
        for a in range(len(seq_pos)):
            for b in range(a + 1, len(seq_pos)):
                sep = seq_pos[b] - seq_pos[a]
                if sep >= lo and (hi is None or sep <= hi):
                    pairs.append((-scores[a, b], seq_pos[a], seq_pos[b], native[a, b]))
        pairs.sort()
        for tname, div in (("L", 1), ("L/2", 2), ("L/5", 5)):
            top = pairs[:max(1, length // div)]
            out[f"{rname}_{tname}"] = round(float(np.mean([p[3] for p in top])), 6)
    return out


def test_casp_precision_counts_residues_missing_from_the_structure():
    """A 40-residue chain whose residues 11-20 are not in the model: the pair 5-25 is 20 apart along the
    sequence (medium range), not the 10 of the 30 observed residues, and L is 40. The family path scored the
    compressed index (an auditor's finding, reproduced here)."""
    rng = np.random.default_rng(3)
    seq_pos = np.r_[0:10, 20:40]  # observed residues, 0-based along the sequence
    n = len(seq_pos)
    native = (rng.random((n, n)) < 0.3).astype(float)
    native = np.triu(native, 1) + np.triu(native, 1).T
    scores = rng.random((n, n))
    scores = scores + scores.T
    got = metrics.casp_precision(scores, native, seq_pos)
    assert got == pytest.approx(_casp_reference(scores, native, seq_pos, 40), abs=1e-6)
    compressed = metrics.casp_precision(scores, native)  # what the family path gave
    assert compressed != got
    # a chain without gaps: positions change nothing
    assert metrics.casp_precision(scores, native, np.arange(n)) == compressed


def test_sequence_positions_count_missing_residues_by_their_numbers_only_across_a_break():
    from sciml.proteins.structures import ChainStructure, sequence_positions

    step = np.array([3.8, 0.0, 0.0])
    ca = np.cumsum(np.tile(step, (6, 1)), axis=0)
    ca[3:] += [20.0, 0.0, 0.0]  # a break between the 3rd and 4th observed residue
    ids = ["1", "2", "3", "7", "8", "200"]  # 3 missing by the numbers; 8 -> 200 bonded: renumbering, none
    st = ChainStructure("x.pdb", 0, "A", "GGGGGG", ids, ca, ca, ["CA-gly"] * 6)
    pos, notes = sequence_positions(st)
    assert pos.tolist() == [0, 1, 2, 6, 7, 8]
    assert "3 residue(s) missing" in notes[0] and "9 residues" in notes[0]
    st.residue_ids = ["1", "2", "3", "4", "5", "6"]  # a break the numbers do not show: adjacent, said
    pos, notes = sequence_positions(st)
    assert pos.tolist() == [0, 1, 2, 3, 4, 5] and "3-4" in notes[0]


@pytest.mark.slow
def test_a_family_whose_structure_misses_a_residue_is_scored_along_its_sequence(shared_data, tmp_path):
    """PF00498's 3GQS_A lacks residue 12 (11 -> 13, C-alphas 5.2 A apart): the coevolution step scores L = 101
    and separations across the gap along the sequence, says so, and keeps the positions for the CV."""
    from sciml.config import domain_section
    from sciml.proteins import family as fam_io
    from sciml.proteins.steps import coevolution

    spec = {"name": "PF00498", "alignment": "proteins/pfam40/natural_alignments/PF00498.align.80", "format": "fasta",
            "min_identity": 0.75, "structure": "proteins/pfam40/domains/PF00498/3GQS_A.pdb", "chain": "A"}
    cfg = domain_section("proteins", {"families": [spec], "potts": {"max_sequences": 300}})
    m = coevolution(cfg, "PF00498", tmp_path / "f", data_root=shared_data, threads=1, log=lambda s: None)
    assert m["length"] == 100 and any("1 residue(s) missing" in n and "101 residues" in n for n in m["notes"])
    d = fam_io.read_scored_family(tmp_path / "f")
    assert sorted(np.diff(d["positions"]).tolist()) == [1] * 98 + [2] and d["positions"][-1] == 100
    for method in ("potts", "meanfield"):
        assert m[method] == metrics.casp_precision(d[method], d["native"], d["positions"])
    assert m["meanfield"] != metrics.casp_precision(d["meanfield"], d["native"])  # the compressed index's numbers


def test_a_query_with_insert_residues_is_scored_along_its_full_sequence():
    """predict drops a query's insert-state residues (lower case in an A3M) from the prediction; the CASP scores
    count separations and L along the query's own sequence (as its RR is numbered), not over the residues kept."""
    import types

    from sciml.proteins.steps.predict import separation_baseline, target_precisions

    rng = np.random.default_rng(5)
    numbers = np.r_[1:11, 14:45]  # residues 11-13 of a 44-residue query were inserts: dropped
    n = len(numbers)
    native = np.triu((rng.random((n, n)) < 0.3).astype(float), 1)
    native = native + native.T
    probs = rng.random((n, n))
    probs = probs + probs.T
    fam = types.SimpleNamespace(native=native, residue_numbers=numbers, full_sequence="A" * 44)
    got = target_precisions(fam, probs)
    assert got["network"] == pytest.approx(_casp_reference(probs, native, numbers - 1, 44), abs=1e-6)
    assert got["network"] != metrics.casp_precision(probs, native)  # the kept residues' index: other numbers
    plain = types.SimpleNamespace(native=native, residue_numbers=None, full_sequence=None)
    assert target_precisions(plain, probs, probs) == {
        "network": metrics.casp_precision(probs, native), "coevolution": metrics.casp_precision(probs, native),
        "separation_baseline": metrics.casp_precision(separation_baseline(n), native)}
