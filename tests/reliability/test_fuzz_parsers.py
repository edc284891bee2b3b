"""Property-based fuzzing (hypothesis) of each domain's parsers: any input ends in a parsed
value, a record marked bad (counted by validation), or a DataError naming the file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sciml.errors import DataError

from .tiny import landed

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
_fieldish = st.one_of(_text, st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "", "1,5", "0x10"]))


@pytest.mark.skipif(not landed("materials"), reason="materials domain not landed")
class TestMaterialsParsers:
    @FUZZ
    @given(value=st.one_of(_text, st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                           st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), _text), max_size=4)))
    def test_parse_structure_never_crashes(self, value) -> None:
        from sciml.materials.readers import parse_structure

        try:
            parse_structure(value)
        except (ValueError, DataError):
            # parse errors are turned into a bad record by the readers (tested below)
            pass

    @FUZZ
    @given(rows=st.lists(st.tuples(_text, _fieldish, _text), max_size=6), gz=st.booleans())
    def test_read_structure_csv_records_or_data_error(self, tmp_path: Path, rows, gz: bool) -> None:
        import csv
        import io

        from sciml.materials.readers import read_structure_csv

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "formation_energy_per_atom", "structure"])
        w.writerows(rows)
        data = buf.getvalue().encode("utf-8")
        path = tmp_path / ("f.csv.gz" if gz else "f.csv")
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        try:
            records = list(read_structure_csv(path, "structure", "formation_energy_per_atom", "id"))
        except DataError as exc:
            assert path.name in str(exc)
            return
        for r in records:
            assert r.structure is not None or r.error, r

    @FUZZ
    @given(content=st.one_of(st.binary(max_size=400), _text.map(str.encode),
                             st.recursive(st.one_of(st.none(), st.integers(), st.floats(), _text),
                                          lambda c: st.one_of(st.lists(c, max_size=3),
                                                              st.dictionaries(st.sampled_from(
                                                                  ["index", "columns", "data", "structure"]),
                                                                  c, max_size=4)),
                                          max_leaves=12).map(lambda v: json.dumps(v).encode())))
    @example(content=b'{"index": null, "columns": null, "data": null}')
    @example(content=b"[" * 5000 + b"]" * 5000)
    def test_read_matbench_json_records_or_data_error(self, tmp_path: Path, content: bytes) -> None:
        from sciml.materials.readers import read_matbench_json

        path = tmp_path / "m.json"
        path.write_bytes(content)
        try:
            records = list(read_matbench_json(path))
        except DataError as exc:
            assert path.name in str(exc)
            return
        for r in records:
            assert r.structure is not None or r.error, r


@pytest.mark.skipif(not landed("proteins"), reason="proteins domain not landed")
class TestProteinsParsers:
    @FUZZ
    @given(fmt=st.sampled_from(["aln", "a3m", "fasta", "a2m", "stockholm"]),
           lines=st.lists(st.one_of(st.text(alphabet="ACDEFGHIKLMNPQRSTVWY-.acdefxz>#/ =\t", max_size=40),
                                    st.sampled_from([">seq1", "# STOCKHOLM 1.0", "//", "", "#=GF ID x"])),
                          max_size=12))
    def test_read_alignment_alignment_or_data_error(self, tmp_path: Path, fmt: str, lines: list[str]) -> None:
        from sciml.proteins.alignments import read_alignment

        path = tmp_path / f"a.{fmt}"
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        try:
            aln = read_alignment(path, fmt)
        except DataError as exc:
            assert path.name in str(exc)
            return
        assert aln.seqs and len({len(s) for s in aln.seqs}) == 1  # a usable, rectangular alignment

    @FUZZ
    @given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8"))))
    def test_read_structure_structure_or_data_error(self, tmp_path: Path, content: bytes) -> None:
        from sciml.proteins.structures import read_structure

        path = tmp_path / "s.pdb"
        path.write_bytes(content)
        try:
            read_structure(path)
        except DataError as exc:
            assert path.name in str(exc)
