"""pymatgen's CIF parser warnings (coordinates rounded, sites merged, occupancies changed) are captured
per record and counted in the summaries; before, they went to stderr or were swallowed."""

from __future__ import annotations

import csv
import json

import pytest

from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)

ROUNDED = "3 fractional coordinates rounded to ideal values to avoid issues with finite precision."
ROUNDED_KIND = "<n> fractional coordinates rounded to ideal values to avoid issues with finite precision."


def _cif(name: str, x: str) -> str:
    """A rock-salt-like 2-atom cubic cell; ``x`` = Cl's fractional coordinates (``0.33333`` is rounded
    to 1/3 by pymatgen, with a warning)."""
    return f"""data_{name}
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   4.0
_cell_length_b   4.0
_cell_length_c   4.0
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na  Na0  1  0.0  0.0  0.0  1
  Cl  Cl1  1  {x}  {x}  {x}  1
"""


def test_parse_structure_captures_the_cif_warnings_without_printing(capsys):
    import warnings

    from sciml.materials.readers import parse_structure

    issues: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the parser would raise here
        s = parse_structure(_cif("r", "0.33333"), "cif", issues)
    assert issues == [ROUNDED]  # once, without pymatgen's "Issues encountered ..." repeat of it
    assert s.frac_coords[1][0] == pytest.approx(1 / 3, abs=1e-12)
    clean: list[str] = []
    parse_structure(_cif("c", "0.5"), "cif", clean)
    assert clean == []
    assert capsys.readouterr().err == ""


def _dataset(path):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "structure", "y"])
        w.writerow(["clean", _cif("clean", "0.5"), "1.0"])
        w.writerow(["rounded", _cif("rounded", "0.33333"), "2.0"])
        w.writerow(["rounded2", _cif("rounded2", "0.66667"), "3.0"])
        w.writerow(["broken", "not a crystal", "4.0"])
    return path


def test_prepare_counts_records_with_parser_warnings(tmp_path, capsys):
    """The records are kept (a warning is no rejection); summary.json counts them with the distinct
    warnings, parser_warnings.csv lists each with its line."""
    from sciml.materials.steps import prepare

    _dataset(tmp_path / "cifs.csv")
    cfg = tiny_config(dataset={"path": "cifs.csv", "target_column": "y", "id_column": "id", "limit": None})
    summary = prepare(cfg, tmp_path, tmp_path / "prepared")
    assert summary["n_kept"] == 3 and summary["n_quarantined"] == 1
    assert summary["n_records_with_parser_warnings"] == 2
    assert summary["parser_warnings"] == {ROUNDED_KIND: 2}
    assert json.loads((tmp_path / "prepared" / "summary.json").read_text())["parser_warnings"] == {ROUNDED_KIND: 2}
    with open(tmp_path / "prepared" / "parser_warnings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    text = (tmp_path / "cifs.csv").read_text().splitlines()
    lines = {rid: next(k + 1 for k, t in enumerate(text) if t.startswith(f"{rid},")) for rid in ("rounded", "rounded2")}
    assert [(r["id"], int(r["line"]), r["warning"]) for r in rows] == [
        ("rounded", lines["rounded"], ROUNDED), ("rounded2", lines["rounded2"], ROUNDED)]
    assert "2 of 4 structures parsed with parser warnings" in capsys.readouterr().err
    # a second run reads the graph cache: the counts come back from it, no re-parse
    again = prepare(cfg, tmp_path, tmp_path / "prepared2", cache_dir=tmp_path / "prepared" / "cache")
    assert again["parser_warnings"] == {ROUNDED_KIND: 2} and again["n_records_with_parser_warnings"] == 2


def test_real_dielectric_cifs_warn_for_231_records(shared_data):
    """matminer's dielectric_constant: 231 of its 1056 CIFs get coordinates rounded (README of the data)."""
    from sciml.materials.readers import read_structure_csv
    from sciml.materials.validation import ParserWarnings

    warned = ParserWarnings()
    n = sum(1 for _ in warned.tap(read_structure_csv(
        shared_data / "materials/matminer_0.3.9/dielectric_constant.csv.gz", "structure", "n", "material_id")))
    assert n == 1056 and len(warned) == 231
    assert warned.counts() == {ROUNDED_KIND: 231}


def test_section_shows_parser_warnings_beside_the_quarantine():
    from sciml.materials.steps.section import build_section

    cfg = tiny_config()
    metrics = {"unit": "eV/atom", "model": "cgcnn", "per_fold": [], "mae_mean": 0.1, "mae_std": 0.0,
               "baseline_mae_mean": 0.2, "baseline_mae_std": 0.0, "dataset": "x.csv", "n_records": 10,
               "n_quarantined": 1, "quarantine_by_reason": {"unparsable": 1}, "folds_run": [0], "target": "y",
               "n_records_with_parser_warnings": 2, "parser_warnings": {ROUNDED_KIND: 2}}
    sec = build_section(cfg, metrics, [], [], True)
    table = sec.tables[2]
    assert table.columns[:5] == ["dataset", "records", "quarantined", "by reason", "parser warnings"]
    assert table.rows[0][4] == 2 and "prepared/parser_warnings.csv" in table.note
    note = next(w for w in sec.warnings if "parser warnings" in w)
    # not "and were kept": some of them may be quarantined for another reason
    assert note.startswith("2 of 10 structures parsed with parser warnings (") and "were kept" not in note
    assert f"{ROUNDED_KIND} (2)" in note
    quiet = build_section(cfg, {**metrics, "n_records_with_parser_warnings": 0, "parser_warnings": {}}, [], [], True)
    assert quiet.tables[2].rows[0][4] == 0 and not any("parser warnings" in w for w in quiet.warnings)


def test_predict_and_gather_report_parser_warnings(trained_fold, tmp_path):
    """Screening: predict's stats count the structures with parser warnings (they are scored) and list
    them in parser_warnings.csv; gather sums the shards' counts into its summary and section."""
    from sciml.materials.steps import gather, predict, shard
    from sciml.report import read_section

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "cands.csv"
    _dataset(src)
    stats = predict(cfg, fold_dir, src, tmp_path / "one", id_column="id", progress=False)
    assert stats["n_predicted"] == 3 and stats["n_skipped"] == 1
    assert stats["n_records_with_parser_warnings"] == 2 and stats["parser_warnings"] == {ROUNDED_KIND: 2}
    assert any(w.startswith("2 of 4 structures parsed with parser warnings") for w in stats["warnings"])
    with open(tmp_path / "one" / "parser_warnings.csv", newline="") as fh:
        assert [(r["id"], r["warning"]) for r in csv.DictReader(fh)] == [("rounded", ROUNDED), ("rounded2", ROUNDED)]
    prov = json.loads((tmp_path / "one" / "provenance.json").read_text())
    assert prov["extra"]["n_records_with_parser_warnings"] == 2
    # sharded: rounded (record 1) and rounded2 (record 2) land in shards 1 and 0
    cfg = {**cfg, "screening": {**cfg["screening"], "id_column": "id"}}
    m = shard(cfg, src, tmp_path / "shards", n_shards=2)
    dirs = []
    for s in m["shards"]:
        d = tmp_path / "scored" / s["name"]
        predict(cfg, fold_dir, tmp_path / "shards" / s["file"], d, id_column="id", progress=False)
        dirs.append(d)
    summary = gather(cfg, dirs, tmp_path / "section", manifest=tmp_path / "shards" / "shards.json")
    assert summary["n_records_with_parser_warnings"] == 2 and summary["parser_warnings"] == {ROUNDED_KIND: 2}
    assert [s["n_records_with_parser_warnings"] for s in summary["shards"]] == [1, 1]
    sec = read_section(tmp_path / "section" / "section.json")
    assert any(w.startswith("2 of 4 structures parsed with parser warnings") for w in sec.warnings)
    assert sec.tables[1].columns[5] == "parser warnings (scored)" and [r[5] for r in sec.tables[1].rows] == [1, 1]


def test_spooled_parser_warnings_match_the_in_memory_ones(tmp_path):
    from sciml.io import CsvSpool
    from sciml.materials.readers import RawRecord
    from sciml.materials.validation import PARSER_WARNING_COLUMNS, ParserWarnings

    records = [RawRecord(f"r{k}", None, None, line=k + 2,
                         parser_warnings=[f"{k % 3 + 1} fractional coordinates rounded to ideal values to avoid "
                                          "issues with finite precision."] * (1 + k % 2)) for k in range(300)]
    records += [RawRecord("clean", None, None, line=400)]
    kept = ParserWarnings()
    spooled = ParserWarnings(spool=CsvSpool(tmp_path / "w.csv", PARSER_WARNING_COLUMNS))
    for r in records:
        kept.add(r)
        spooled.add(r)
    assert spooled.items == [] and len(spooled) == len(kept) == 300
    assert spooled.summary() == kept.summary() == {"n_records_with_parser_warnings": 300,
                                                   "parser_warnings": {ROUNDED_KIND: 300}}
    assert spooled.write(tmp_path / "w.csv").read_bytes() == kept.write(tmp_path / "k.csv").read_bytes()
    assert ParserWarnings(kept.items).summary() == kept.summary()
