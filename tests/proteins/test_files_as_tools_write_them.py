"""Alignments, structures and score files as the tools users run write them (an audit of inputs the
package never shipped): a free amino-acid ligand in a structure, byte-order marks, Stockholm and A3M
content under another file name, Clustal conservation lines with their trailing blanks stripped, stop
codons, plmc's focus numbering."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sciml.errors import DataError

REPO = Path(__file__).resolve().parents[2]
PDB = REPO / "data/proteins/structures/1lpbA.pdb.gz"


def _atom_lines() -> list[str]:
    with gzip.open(PDB, "rt") as fh:
        return [line for line in fh if line.startswith("ATOM")]


def _resseq(line: str) -> int:
    return int(line[22:26])


def test_a_free_amino_acid_ligand_is_no_residue_of_the_chain(tmp_path):
    """A HETATM lysine in a binding site was appended to the chain: the query's next residue mapped onto
    it (89 false native contacts in the audit's case) and L grew by the numbering gap. A HETATM amino
    acid peptide-bonded in the chain (selenomethionine) stays."""
    from sciml.proteins.structures import read_structure

    atoms = _atom_lines()
    first = _resseq(atoms[0])
    chain = [line for line in atoms if _resseq(line) < first + 40]
    plain = tmp_path / "plain.pdb"
    plain.write_text("".join(chain) + "END\n")
    ref = read_structure(plain)
    # residue first+20 as HETATM MSE in place (bonded), and a free LYS beside residue first+10
    mse, last = first + 20, _resseq(chain[-1])  # one inside the chain, one at its C-terminal end (bonded before it)
    as_mse = [("HETATM" + line[6:17] + "MSE" + line[20:]) if _resseq(line) in (mse, last) else line for line in chain]
    ligand = []
    for line in chain:
        if _resseq(line) == first + 10 and line[12:16].strip() in ("N", "CA", "C", "O", "CB"):
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]) + 1.0
            ligand.append("HETATM" + line[6:17] + "LYS" + line[20:22] + " 401" + line[26:30]
                          + "".join(f"{v:8.3f}" for v in xyz) + line[54:])
    water = "HETATM 9999  O   HOH A 501      10.000  10.000  10.000  1.00 20.00           O  \n"
    path = tmp_path / "with_ligand.pdb"
    path.write_text("".join(as_mse) + "TER\n" + "".join(ligand) + water + "END\n")
    st = read_structure(path)
    expected = ref.sequence[: mse - first] + "M" + ref.sequence[mse - first + 1:-1] + "M"
    assert st.sequence == expected and len(st.residue_ids) == len(ref.residue_ids)
    assert any("not bonded to the chain" in n and "LYS401" in n for n in st.notes), st.notes
    assert any("MSE x2" in n for n in st.notes)


ROWS = ["KTRWTREEDEKLKKLVEQNG", "-ADWTDKETLHLLEATLHYG", "------AECKILVAHIHSHG", "-----AEEQLLILELHARWG"]


def _stockholm() -> str:
    body = "".join(f"seq{k}/1-20 {row}\n" for k, row in enumerate(ROWS))
    return "# STOCKHOLM 1.0\n#=GF ID test\n" + body + "//\n"


def test_a_stockholm_file_is_read_whatever_its_name_bom_or_annotation_bytes(tmp_path):
    """Pfam downloads are named PF00001.alignment.full / .txt (read as FASTA: 'sequence data before the first
    header'); a byte-order mark or a Latin-1 byte in a #=GF line made Biopython's parser fail."""
    from sciml.proteins.alignments import read_alignment

    for name, data in (("PF00249.alignment.full", _stockholm().encode()),
                       ("bom.sto", b"\xef\xbb\xbf" + _stockholm().encode()),
                       ("latin1.sto", _stockholm().replace("#=GF ID test", "#=GF AU M\xfcller").encode("latin-1"))):
        (tmp_path / name).write_bytes(data)
        aln = read_alignment(tmp_path / name)
        assert aln.seqs == ROWS, name
    # a byte that is no UTF-8 inside a row is still refused, naming the line
    bad = tmp_path / "bad.sto"
    bad.write_bytes(_stockholm().replace("KTRWTREED", "KTRW\xe9REED").encode("latin-1"))
    with pytest.raises(DataError, match=r"line 3.*no UTF-8"):
        read_alignment(bad)


def test_clustal_without_trailing_blanks_kalign_header_and_fasta_stop_codons(tmp_path):
    from sciml.proteins.alignments import read_alignment

    block = "".join(f"s{k}        {row}\n" for k, row in enumerate(ROWS))
    stripped = tmp_path / "stripped.aln"  # the conservation line ends in unconserved (blank) columns, stripped
    stripped.write_text("CLUSTAL W (1.83) multiple sequence alignment\n\n\n" + block + "              *  :.\n")
    assert read_alignment(stripped).seqs == ROWS
    kalign = tmp_path / "kalign.aln"  # Kalign names the format in words; was read as PSICOV
    kalign.write_text("Kalign (2.0) alignment in ClustalW format\n\n\n" + block + "\n")
    assert read_alignment(kalign).seqs == ROWS
    misaligned = tmp_path / "misaligned.aln"
    misaligned.write_text("CLUSTAL W\n\n\n" + block.replace("s1        ", "s1   ", 1) + "\n")
    with pytest.raises(DataError, match="must start their residues in one column"):
        read_alignment(misaligned)
    stops = tmp_path / "translated.fasta"
    stops.write_text("".join(f">s{k}\n{row}*\n" for k, row in enumerate(ROWS)))
    assert read_alignment(stops).seqs == ROWS
    inner = tmp_path / "inner.fasta"
    inner.write_text(">a\nKT*W\n>b\nKTRW\n")
    with pytest.raises(DataError, match=r"'\*'"):
        read_alignment(inner)


def test_an_a3m_under_a_fasta_name_is_named_as_such(tmp_path):
    from sciml.proteins.alignments import read_alignment

    a3m = tmp_path / "hits.fasta"
    a3m.write_text(">q\nKTRWTREED\n>h\nKTRWtrTREED\n")
    with pytest.raises(DataError, match="A3M insert residues") as err:
        read_alignment(a3m)
    assert "format 'a3m'" in str(err.value)


def test_an_mmcif_with_a_byte_order_mark_is_read(tmp_path):
    from Bio.PDB import MMCIFIO, PDBParser

    from sciml.proteins.structures import read_structure

    with gzip.open(PDB, "rt") as fh:
        structure = PDBParser(QUIET=True).get_structure("x", fh)
    out = tmp_path / "plain.cif"
    io = MMCIFIO()
    io.set_structure(structure)
    io.save(str(out))
    bom = tmp_path / "bom.cif"
    bom.write_bytes(b"\xef\xbb\xbf" + out.read_bytes())
    assert read_structure(bom).sequence == read_structure(out).sequence == read_structure(PDB).sequence


def test_plmc_focus_numbering_whose_first_columns_plmc_left_out(tmp_path):
    """plmc numbers from the focus start (>QUERY/12-31) and leaves out its excluded (lower-case) columns, so the
    first pair was at 14: only a start of 14 was tried, and the file was refused as 'not the query'."""
    from sciml.proteins.predict import read_score_matrix

    query = ROWS[0]  # residues 12..31 of the focus sequence; its first two columns excluded by plmc
    lines = [f"{i + 11} {query[i - 1]} {j + 11} {query[j - 1]} 0 {0.01 * (i + j):.4f}"
             for i in range(3, 21) for j in range(i + 1, 21)]
    path = tmp_path / "plmc_focus.txt"
    path.write_text("\n".join(lines) + "\n")
    notes: list[str] = []
    m = read_score_matrix(path, len(query), sequence=query, notes=notes)
    assert np.isclose(m[2, 5], 0.01 * (3 + 6)) and np.isnan(m[0, 5])  # residue 3 of the query, the first two unscored
    assert any("from 12" in n for n in notes), notes


def test_plmc_without_a_focus_sequence_numbers_the_alignment_columns(tmp_path):
    """plmc run without -f writes 'i - j - 0 score' over the alignment's columns: it was refused as no score
    format. Column 3 (a gap in the query) is left out; the query's residue 3 is column 4."""
    from sciml.proteins.predict import read_score_matrix

    path = tmp_path / "plmc_nofocus.txt"
    path.write_text("".join(f"{i} - {j} - 0 {0.1 * i + 0.01 * j:.3f}\n" for i in range(1, 7) for j in range(i + 1, 7)))
    notes: list[str] = []
    m = read_score_matrix(path, 5, alignment_columns=[0, 1, 3, 4, 5], alignment_length=6, notes=notes)
    assert np.isclose(m[2, 4], 0.1 * 4 + 0.01 * 6) and np.isclose(m[0, 1], 0.1 * 1 + 0.01 * 2)
    assert any("without a focus sequence" in n and "5 pair(s)" in n for n in notes), notes
    beyond = tmp_path / "beyond.txt"
    beyond.write_text("1 - 9 - 0 0.5\n")
    with pytest.raises(DataError, match=r"column 9 outside the alignment's 1\.\.6"):
        read_score_matrix(beyond, 5, alignment_columns=[0, 1, 3, 4, 5], alignment_length=6)


def test_insertion_codes_count_along_the_chain_as_the_atoms_say():
    """Kabat-style numbering 37, 38, 39, 39A, 39B, 39C, 43 (bonded), then a break 43 -> 49B and 49B -> 55:
    '39C' was read as 39 and three phantom residues padded before 43; '49B' read as no number, so the break
    after it counted as adjacent (every separation across it 5 short)."""
    import numpy as np

    from sciml.proteins.query import padded_chain
    from sciml.proteins.structures import ChainStructure, sequence_positions

    ids = ["37", "38", "39", "39A", "39B", "39C", "43", "49B", "55", "56"]
    x = np.array([0, 1, 2, 3, 4, 5, 6, 12, 19, 20], dtype=float) * 3.8  # breaks before 49B and before 55
    ca = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
    st = ChainStructure("s.pdb", 1, "B", "ACDEFGHIKL", ids, ca, ca.copy(), ["CB"] * 10)
    pos, notes = sequence_positions(st)
    # 43 -> 49B: 44-48 missing (5; 49B counts as 49); 49B -> 55: 50-54 missing (5)
    assert pos.tolist() == [0, 1, 2, 3, 4, 5, 6, 12, 18, 19]
    assert not any("counted as adjacent" in n for n in notes)
    bonded = np.concatenate([[False], np.linalg.norm(np.diff(ca, axis=0), axis=1) <= 4.2])
    padded, index = padded_chain(st.sequence, ids, max_gap=20, bonded=bonded)
    assert padded == "ACDEFGH" + "X" * 5 + "I" + "X" * 5 + "KL"  # no X between 39C and 43
    assert padded_chain(st.sequence, ids, max_gap=20)[0].startswith("ACDEFG" + "XXX")  # without the atoms: padded


def test_two_families_of_one_protein_share_a_cross_validation_fold():
    """Two entries for one chain (1guuA and PF00249's 1GUU in proteins_cv.yaml) were split at folds: 4, one tested
    while the network trained on the other. Families of one protein now share a fold; the others keep i % k."""
    import random

    from sciml.proteins.train import fold_assignment, fold_split

    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(60)) for _ in range(8)]
    fams = [{"name": f"f{i}", "sequence": s} for i, s in enumerate(seqs)]
    assert fold_assignment(fams, 4) == ([0, 1, 2, 3, 0, 1, 2, 3], [])  # unrelated families: as before
    fams[6]["sequence"] = seqs[1][:55] + "W" * 3  # a second entry of f1's protein (92 % of 58 residues)
    fold_of, groups = fold_assignment(fams, 4)
    assert groups == [["f1", "f6"]] and fold_of[6] == fold_of[1] == 1
    assert [fold_of[i] for i in (0, 2, 3, 4, 5, 7)] == [0, 2, 3, 0, 1, 3]
    for k in range(4):
        test, val, train = fold_split(fams, k, 4, 1, fold_of)
        names = {d["name"] for d in test}
        assert not ({"f1", "f6"} & names and {"f1", "f6"} & {d["name"] for d in train + val})


def test_lower_case_columns_of_a_file_read_as_fasta_are_noted(tmp_path):
    """An A2M read as FASTA kept its insert columns as match columns without a note (79 columns, not 76)."""
    from sciml.proteins.alignments import read_fasta

    path = tmp_path / "mine.fasta"
    path.write_text(">q\nACDEF-GH\n>s1\nACdEF-GH\n>s2\nAC-EFkGH\n")
    aln = read_fasta(path)
    assert any("2 of 8 columns hold lower-case letters" in n and "a2m" in n for n in aln.notes), aln.notes
    path.write_text(">q\nACDEF-GH\n>s1\nACDEF-GH\n")
    assert not any("lower-case" in n for n in read_fasta(path).notes)


def test_a_family_whose_first_chain_is_another_protein_says_which_chain_matches(tmp_path, shared_data):
    """A two-chain file without `chain:` read chain A: 'chain sequence does not match any row' named neither the
    chain read nor the chain that matches (a target's error says 'pass --chain B')."""
    from sciml.errors import DataError
    from sciml.proteins.family import load_family

    pairs = shared_data / "proteins" / "msa_pairs"

    def atoms(pdb, chain):
        return [ln[:21] + chain + ln[22:] for ln in pdb.read_text().splitlines() if ln.startswith("ATOM")]

    two = tmp_path / "two.pdb"  # chain A: another protein (1mkcA00); chain B: the family's own (1guuA)
    two.write_text("\n".join(atoms(pairs / "1mkcA00" / "native_1mkcA00.pdb", "A") + ["TER"]
                             + atoms(pairs / "1guuA" / "native_1guuA_clean.pdb", "B") + ["END"]) + "\n")
    spec = {"name": "x", "alignment": str(pairs / "1guuA" / "1guuA.aln"), "structure": str(two)}
    with pytest.raises(DataError, match="chain A was read, and chain B matches") as err:
        load_family(spec)
    assert "chain: B" in err.value.hint
    assert len(load_family({**spec, "chain": "B"}).sequence) > 40


def test_fewer_proteins_than_folds_leave_no_fold_without_a_test_family():
    import random

    from sciml.proteins.train import fold_assignment

    rng = random.Random(1)
    seqs = ["".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(60)) for _ in range(2)]
    fams = [{"name": "a", "sequence": seqs[0]}, {"name": "a2", "sequence": seqs[0]}, {"name": "b", "sequence": seqs[1]}]
    fold_of, groups = fold_assignment(fams, 3)
    assert groups == [["a", "a2"]] and fold_of == [0, 0, 1]  # two folds: the caller runs len(set(fold_of))
