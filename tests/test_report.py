"""sciml.report: section files and the self-contained HTML report."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciml.errors import DataError
from sciml.io import write_json_atomic
from sciml.report import Figure, Section, Table, read_section, write_section
from sciml.report.html import render_report

# A 1x1 transparent PNG (project-made bytes).
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _section_dir(tmp_path: Path, *, title: str = "PDE surrogates") -> Path:
    d = tmp_path / "pde"
    d.mkdir(parents=True, exist_ok=True)
    (d / "fig.png").write_bytes(PNG_1x1)
    write_json_atomic(d / "provenance.json", {
        "step": "pde.train", "seed": 3, "wall_time_s": 1.25, "config": {"seed": 3},
        "inputs_sha256": {"data/x.nc": "ab" * 32}, "packages": {"torch": "2.x"},
        "python": "3.11", "platform": "linux", "host": "h", "device": {}, "git": None,
    })
    write_section(d / "section.json", Section(
        domain="pde", title=title, summary="Summary <b>text</b>",
        tables=[Table("Metrics", ["model", "rmse"], [["pinn", 0.0123456], ["fem", float("nan")]], note="lower is better")],
        figures=[Figure("Loss", "fig.png", "training loss")],
        warnings=["3 records quarantined, see quarantine.csv"],
        provenance=["provenance.json"],
    ))
    return d


def test_section_round_trip(tmp_path: Path) -> None:
    d = _section_dir(tmp_path)
    s = read_section(d / "section.json")
    assert s.domain == "pde" and s.tables[0].columns == ["model", "rmse"]
    assert s.figures[0].path == "fig.png" and s.provenance == ["provenance.json"]
    assert s.warnings == ["3 records quarantined, see quarantine.csv"]


def test_report_is_self_contained_with_embedded_image(tmp_path: Path) -> None:
    d = _section_dir(tmp_path)
    html = render_report([d / "section.json"], pipeline_config={"domains": ["pde"]}, title="My run")
    assert "<title>My run</title>" in html
    assert "data:image/png;base64," + base64.b64encode(PNG_1x1).decode() in html
    # nothing fetched from elsewhere: no external src/href (only in-page anchors)
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "3 records quarantined" in html
    assert "0.01235" in html and "n/a" in html  # number formatting, NaN shown as n/a
    assert "pde.train" in html and "ab" * 32 in html  # provenance embedded
    assert "&lt;b&gt;text&lt;/b&gt;" in html  # autoescaped, no HTML injection


def test_report_escapes_hostile_strings(tmp_path: Path) -> None:
    d = _section_dir(tmp_path, title="<script>alert(1)</script>")
    html = render_report([d / "section.json"])
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_missing_section_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_section(tmp_path / "materials" / "section.json")
    assert "section.json" in str(info.value)


@pytest.mark.parametrize("content", [
    b"", b"{", b"[]", b"42", b'"text"', b'{"title": "no domain"}',
    b'{"domain": "x", "title": "t", "tables": [{"bogus": 1}]}',
    b'{"domain": "x", "title": "t", "figures": ["not a dict"]}',
    b'{"domain": "x", "title": "t", "tables": 5}',
])
def test_bad_section_file_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "section.json"
    p.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_section(p)
    assert str(p) in str(info.value)


def test_binary_section_file_is_a_data_error(tmp_path: Path) -> None:
    p = tmp_path / "section.json"
    p.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(DataError):
        read_section(p)


def test_missing_figure_is_a_data_error(tmp_path: Path) -> None:
    d = _section_dir(tmp_path)
    (d / "fig.png").unlink()
    with pytest.raises(DataError) as info:
        render_report([d / "section.json"])
    assert "fig.png" in str(info.value)


def test_figure_of_unknown_type_is_a_data_error(tmp_path: Path) -> None:
    d = _section_dir(tmp_path)
    s = read_section(d / "section.json")
    s.figures = [Figure("Bad", "fig.exe")]
    (d / "fig.exe").write_bytes(b"MZ")
    write_section(d / "section.json", s)
    with pytest.raises(DataError) as info:
        render_report([d / "section.json"])
    assert "fig.exe" in str(info.value)


def test_bad_provenance_is_a_data_error(tmp_path: Path) -> None:
    d = _section_dir(tmp_path)
    (d / "provenance.json").write_text("{truncated")
    with pytest.raises(DataError) as info:
        render_report([d / "section.json"])
    assert "provenance.json" in str(info.value)


def test_report_cli_writes_html(tmp_path: Path) -> None:
    from sciml.cli import main

    d = _section_dir(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", str(d / "section.json"), "--out", str(out), "--pipeline-config", '{"a": 1}']) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(d / "section.json"), "--out", str(out), "--pipeline-config", "{bad"]) == 2


# ---------------------------------------------------------------- property-based

_text = st.text(max_size=30)
_cell = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), _text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_text, summary=_text, warnings=st.lists(_text, max_size=3),
       rows=st.lists(st.lists(_cell, min_size=2, max_size=2), max_size=4))
def test_any_section_round_trips_and_renders(tmp_path_factory, title, summary, warnings, rows) -> None:
    d = tmp_path_factory.mktemp("sec")
    sec = Section(domain="materials", title=title, summary=summary, warnings=warnings,
                  tables=[Table("t", ["a", "b"], rows)])
    write_section(d / "section.json", sec)
    back = read_section(d / "section.json")
    assert back.title == title and back.warnings == warnings
    assert json.dumps(back.tables[0].rows) == json.dumps(rows)
    render_report([d / "section.json"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200).filter(lambda b: _utf8(b)),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), _text),
                              lambda c: st.one_of(st.lists(c, max_size=3),
                                                  st.dictionaries(st.sampled_from(
                                                      ["domain", "title", "tables", "figures", "warnings",
                                                       "provenance", "summary", "columns", "rows", "path"]),
                                                      c, max_size=5)),
                              max_leaves=15).map(lambda v: json.dumps(v).encode())))
def test_read_section_fuzz(tmp_path_factory, content: bytes) -> None:
    """Any (UTF-8) file content is read as a Section or refused with a DataError naming the file."""
    p = tmp_path_factory.mktemp("fz") / "section.json"
    p.write_bytes(content)
    try:
        read_section(p)
    except DataError as exc:
        assert str(p) in str(exc)


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_sections_of_one_domain_get_their_own_anchors_and_the_config_shows_the_domains_run(tmp_path: Path) -> None:
    """Proteins writes one section per prediction target: each contents link must reach its own
    section; the resolved config leaves out the sections of domains the run did not include."""
    first = _section_dir(tmp_path / "a", title="Families")
    second = _section_dir(tmp_path / "b", title="Target one")
    cfg = {"domains": ["pde"], "seed": 0, "pde": {"problems": ["mine"]},
           "materials": {"dataset": {"path": "materials/flla_2015_subset1000.csv.gz"}}}
    html = render_report([first / "section.json", second / "section.json"], pipeline_config=cfg)
    assert '<a href="#pde">Families</a><a href="#pde-2">Target one</a>' in html
    assert '<h2 id="pde">Families</h2>' in html and '<h2 id="pde-2">Target one</h2>' in html
    assert "problems:" in html and "flla_2015" not in html


def test_the_report_shows_each_steps_command(tmp_path: Path) -> None:
    """A scientist reruns a step from the report: its `sciml ...` command line, quoted as it can be pasted; a step
    run through the API (argv of a notebook kernel) shows none."""
    d = _section_dir(tmp_path)
    prov = json.loads((d / "provenance.json").read_text())
    prov["argv"] = ["/venv/bin/sciml", "pde", "train", "--config-json", '{"seed": 3}', "--out-dir", "a b"]
    write_json_atomic(d / "provenance.json", prov)
    html = render_report([d / "section.json"])
    assert "command: <code>sciml pde train --config-json &#39;{&#34;seed&#34;: 3}&#39; --out-dir &#39;a b&#39;</code>" in html
    prov["argv"] = ["/venv/lib/python3.11/site-packages/ipykernel_launcher.py", "-f", "kernel.json"]
    write_json_atomic(d / "provenance.json", prov)
    assert "command:" not in render_report([d / "section.json"])


def test_a_step_run_on_other_or_uncommitted_code_is_said(tmp_path: Path, monkeypatch) -> None:
    """Each step's 'uncommitted changes' flag was dropped, and the header's commit (the code rendering the
    report) read as the code every step ran: a report rerun after a code edit labelled old results with it."""
    import sciml.report.html as html_mod
    from sciml.report.html import code_note

    d = _section_dir(tmp_path)
    prov = json.loads((d / "provenance.json").read_text())
    prov["git"], prov["cwd"] = {"commit": "a" * 40, "dirty": True}, "/work/run"
    write_json_atomic(d / "provenance.json", prov)
    monkeypatch.setattr("sciml.provenance.git_revision", lambda *a: {"commit": "b" * 40, "dirty": False})
    html = render_report([d / "section.json"])
    assert f"git {'a' * 12} (uncommitted changes)" in html and "in /work/run" in html
    assert f"The steps ran at git {'a' * 12}, 1 of 1 with uncommitted changes; this report was rendered at {'b' * 12}" \
        in html
    clean = {"commit": "b" * 40, "dirty": False}
    assert code_note([{"git": clean}, {"git": None}], clean) == ""  # all on the rendering commit: nothing to say
    assert "ran at git aaaaaaaaaaaa, bbbbbbbbbbbb;" in code_note([{"git": {"commit": "a" * 40}}, {"git": clean}], clean)
    assert html_mod.code_note([], clean) == ""  # no step recorded a revision
