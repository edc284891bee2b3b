"""Validation and quarantine: every rejection reason, counts, and the empty-dataset error."""

from __future__ import annotations

import math

import pytest
from pymatgen.core import Lattice, Structure

from sciml.errors import DataError
from sciml.materials.dataset import build_table, load_or_build
from sciml.materials.graphs import GraphSettings
from sciml.materials.readers import RawRecord
from sciml.materials.validation import Quarantine, check_record

S = GraphSettings(cutoff=8.0, max_neighbors=12)


def nacl():
    return Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_good_record_passes():
    g, reason = check_record(RawRecord("ok", nacl(), 1.0), S)
    assert reason is None and g.z.tolist() == [11, 17]
    assert g.edge_index.shape[1] == 24  # 12 neighbours each


@pytest.mark.parametrize("record, category", [
    (RawRecord("p", None, 1.0, "cannot parse"), "unparsable"),
    (RawRecord("n", nacl(), math.nan), "bad_target"),
    (RawRecord("i", nacl(), math.inf), "bad_target"),
    (RawRecord("c", Structure(Lattice.cubic(5), ["Na", "Na"], [[0, 0, 0], [0.05, 0, 0]]), 1.0), "too_close"),
    (RawRecord("z", Structure(Lattice.cubic(5), ["Es"], [[0, 0, 0]]), 1.0), "element"),
    (RawRecord("iso", Structure(Lattice.cubic(20), ["Na"], [[0, 0, 0]]), 1.0), "isolated_atom"),
])
def test_bad_records_are_rejected_with_reason(record, category):
    settings = GraphSettings(cutoff=8.0, max_neighbors=12)
    g, reason = check_record(record, settings, max_z=98)
    assert g is None and reason.startswith(category + ":")


def test_isolated_atom_among_others():
    # two atoms 9 A apart along z in a tall cell: each sees its own images (a=3), so none isolated;
    # with a cutoff below the lattice constant an atom has no neighbour
    s = Structure(Lattice.cubic(6.0), ["Na"], [[0, 0, 0]])
    _, reason = check_record(RawRecord("x", s, 1.0), GraphSettings(cutoff=5.0, max_neighbors=12))
    assert reason.startswith("isolated_atom")


def test_table_quarantines_and_counts(tmp_path):
    recs = [RawRecord("a", nacl(), 1.0), RawRecord("b", None, 1.0, "garbage"), RawRecord("c", nacl(), math.nan),
            RawRecord("a", nacl(), 2.0)]
    table = build_table(recs, S)
    assert table.ids == ["a"] and table.all_ids == ["a", "b", "c", "a"]
    reasons = [r[2].split(":")[0] for r in table.quarantine]
    assert reasons == ["unparsable", "bad_target", "duplicate_id"]
    q = Quarantine()
    for rid, line, reason in table.quarantine:
        q.add(RawRecord(rid, None, None, line=line), reason)
    q.write(tmp_path / "q.csv")
    lines = (tmp_path / "q.csv").read_text().splitlines()
    assert lines[0] == "id,line,reason" and len(lines) == 4 and lines[1].startswith("b,")


def test_log10_transform_quarantines_non_positive():
    table = build_table([RawRecord("a", nacl(), 100.0), RawRecord("b", nacl(), 0.0)], S, transform="log10")
    assert table.y.tolist() == [2.0] and table.quarantine[0][2].startswith("bad_target")


def test_empty_dataset_is_a_clear_error(tmp_path):
    (tmp_path / "bad.csv").write_text("id,structure,y\na,xx,1\nb,yy,2\n")
    cfg = {"path": "bad.csv", "format": "csv", "target_column": "y", "id_column": "id"}
    with pytest.raises(DataError, match="no usable records"):
        load_or_build(cfg, S, tmp_path, tmp_path / "cache")


def test_zero_target_under_log10_gets_the_log10_reason_and_is_kept_without_transform():
    """``rec.target or nan`` took a 0.0 target for missing: reported as 'target is nan' under log10."""
    recs = [RawRecord("a", nacl(), 100.0), RawRecord("zero", nacl(), 0.0), RawRecord("neg", nacl(), -5.0)]
    table = build_table(recs, S, transform="log10")
    assert [r[2] for r in table.quarantine] == ["bad_target: 0.0 has no log10 (must be > 0)",
                                                "bad_target: -5.0 has no log10 (must be > 0)"]
    plain = build_table(recs, S)  # a band gap of 0 is a real target without a transform
    assert plain.ids == ["a", "zero", "neg"] and plain.y.tolist() == [100.0, 0.0, -5.0]
    assert plain.all_y.tolist() == [100.0, 0.0, -5.0] and not plain.quarantine


@pytest.mark.parametrize("structure, reason", [
    (Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[math.nan, 0, 0], [0.5, 0.5, 0.5]]),
     "unparsable: non-finite coordinates"),
    (Structure(Lattice([[math.nan, 0, 0], [0, 5, 0], [0, 0, 5]]), ["Na"], [[0, 0, 0]]),
     "unparsable: non-finite lattice"),
    (Structure(Lattice([[5, 0, 0], [0, 5, 0], [5, 5, 0]]), ["Na"], [[0, 0, 0]]), "unparsable: degenerate lattice"),
    (Structure(Lattice.cubic(4), ["X0+", "Na"], [[0, 0, 0], [0.5, 0.5, 0.5]]), "element: placeholder species X"),
])
def test_geometry_and_placeholder_reasons(structure, reason):
    """NaN coordinates were 'isolated_atom', a flat cell a ZeroDivisionError from the neighbour search,
    a placeholder 'X' an atomic number that is pymatgen's hash of the symbol; the same on the fast arrays."""
    from sciml.materials.readers import CrystalArrays

    for s in (structure, CrystalArrays.from_structure(structure)):
        g, why = check_record(RawRecord("r", s, 1.0), S)
        assert g is None and why.startswith(reason), why


def test_no_usable_records_names_the_first_reason(tmp_path):
    (tmp_path / "bad.csv").write_text("id,structure,y\na,xx,1\n")
    cfg = {"path": "bad.csv", "format": "csv", "target_column": "y", "id_column": "id"}
    with pytest.raises(DataError, match="first: id a: unparsable"):
        load_or_build(cfg, S, tmp_path, tmp_path / "cache")


def test_spooled_quarantine_keeps_only_counts_and_writes_the_same_file(tmp_path):
    """Screening spools rejections to disk: nothing grows in memory with their number, same CSV bytes."""
    from sciml.io import CsvSpool
    from sciml.materials.validation import QUARANTINE_COLUMNS

    reasons = ["unparsable: bad CIF", "too_close: 0.1 A", "unparsable: empty"] * 400
    kept, spooled = Quarantine(), Quarantine(spool=CsvSpool(tmp_path / "s.csv", QUARANTINE_COLUMNS))
    for k, reason in enumerate(reasons):
        for q in (kept, spooled):
            q.add(RawRecord(f"r{k}", None, None, line=k + 2), reason)
    assert spooled.items == [] and len(spooled) == len(kept) == 1200
    assert spooled.counts() == kept.counts() == {"too_close": 400, "unparsable": 800}
    assert spooled.write(tmp_path / "s.csv").read_bytes() == kept.write(tmp_path / "k.csv").read_bytes()
    with pytest.raises(ValueError, match="spools to"):
        Quarantine(spool=CsvSpool(tmp_path / "t.csv", QUARANTINE_COLUMNS)).write(tmp_path / "other.csv")


def test_quarantine_built_from_rows_counts_them():
    from sciml.materials.validation import Rejection

    q = Quarantine([Rejection("a", 2, "unparsable: x"), Rejection("b", None, "bad_target: nan")])
    assert len(q) == 2 and q.counts() == {"bad_target": 1, "unparsable": 1}
