"""sciml report on malformed section, provenance and figure files: a DataError naming the file and
what is wrong (exit code 2 from the CLI), never a raw traceback, and no report written."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from sciml.errors import DataError
from sciml.report import read_section
from sciml.report.html import render_report

# A 1x1 transparent PNG (project-made bytes).
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _section(d: Path, **fields: object) -> Path:
    """A section file in ``d`` with ``fields`` beside its domain and title."""
    d.mkdir(parents=True, exist_ok=True)
    p = d / "section.json"
    p.write_text(json.dumps({"domain": "x", "title": "t", **fields}))
    return p


def _refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``sciml report`` on ``path``: exit code 2, no HTML written; the error line (stderr)."""
    from sciml.cli import main

    out = path.parent / "report.html"
    assert main(["report", str(path), "--out", str(out)]) == 2
    assert not out.exists()
    return capsys.readouterr().err


def test_provenance_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sec = _section(tmp_path, provenance=["prov.json"])
    (tmp_path / "prov.json").write_bytes(b"\xff\xfe{bad")
    with pytest.raises(DataError) as info:
        render_report([sec])
    assert info.value.path == str(tmp_path / "prov.json") and "UTF-8" in str(info.value)
    assert "prov.json" in _refused(sec, capsys)


def test_provenance_that_is_a_list_or_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sec = _section(tmp_path, provenance=["p2.json"])
    (tmp_path / "p2.json").write_text("[1, 2]")
    with pytest.raises(DataError) as info:
        render_report([sec])
    assert info.value.path == str(tmp_path / "p2.json") and "JSON object" in str(info.value)
    assert "p2.json" in _refused(sec, capsys)
    (tmp_path / "p2.json").unlink()
    (tmp_path / "p2.json").mkdir()
    with pytest.raises(DataError, match="folder"):
        render_report([sec])


@pytest.mark.parametrize("field, value", [("git", "abc"), ("packages", [1]), ("wall_time_s", "slow"),
                                          ("inputs_sha256", "x"), ("git", {"dirty": True})])
def test_provenance_field_of_the_wrong_type(tmp_path: Path, field: str, value: object) -> None:
    sec = _section(tmp_path, provenance=["provenance.json"])
    (tmp_path / "provenance.json").write_text(json.dumps({"step": "s", field: value}))
    with pytest.raises(DataError) as info:
        render_report([sec])
    assert info.value.path == str(tmp_path / "provenance.json") and field in str(info.value)


def test_provenance_lacking_fields_still_renders(tmp_path: Path) -> None:
    """A provenance object without the optional fields is shown with blanks, not a template error."""
    sec = _section(tmp_path, provenance=["provenance.json"])
    (tmp_path / "provenance.json").write_text(json.dumps({"step": "pde.train"}))
    assert "pde.train" in render_report([sec])


def test_figure_path_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sec = _section(tmp_path, figures=[{"title": "a", "path": "figdir.png"}])
    (tmp_path / "figdir.png").mkdir()
    with pytest.raises(DataError) as info:
        render_report([sec])
    assert info.value.path == str(tmp_path / "figdir.png") and "folder" in str(info.value)
    assert "figdir.png" in _refused(sec, capsys)


@pytest.mark.parametrize("fields, where", [
    ({"tables": [{"title": "a", "columns": ["c"], "rows": 5}]}, "tables[0].rows"),
    ({"tables": [{"title": "a", "columns": ["c"], "rows": ["ab"]}]}, "tables[0].rows[0]"),
    ({"tables": [{"title": "a", "columns": 3, "rows": []}]}, "tables[0].columns"),
    ({"tables": {"title": "a"}}, "tables"),
    ({"figures": [{"title": "a", "path": 7}]}, "figures[0].path"),
    ({"warnings": "one warning"}, "warnings"),
    ({"provenance": [3]}, "provenance[0]"),
    ({"summary": ["x"]}, "summary"),
])
def test_section_field_of_the_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         fields: dict[str, object], where: str) -> None:
    sec = _section(tmp_path, **fields)
    with pytest.raises(DataError) as info:
        read_section(sec)
    assert info.value.path == str(sec) and f"'{where}'" in str(info.value)
    err = _refused(sec, capsys)
    assert str(sec) in err and where in err


def test_section_that_is_not_an_object(tmp_path: Path) -> None:
    p = tmp_path / "section.json"
    p.write_text("[1, 2]")
    with pytest.raises(DataError, match="JSON object"):
        read_section(p)


def test_well_formed_section_still_renders(tmp_path: Path) -> None:
    sec = _section(tmp_path, summary=None, tables=[{"title": "a", "columns": ["c"], "rows": [[1.5]], "note": None}],
                   figures=[{"title": "f", "path": "f.png"}], warnings=["w"])
    (tmp_path / "f.png").write_bytes(PNG_1x1)
    html = render_report([sec])
    assert "data:image/png;base64," in html and "<td>1.5</td>" in html
