"""A family, cross-validation or target folder that is wrong or incomplete: the readers the proteins
section, cross-validate and train-model share raise a DataError naming the file and what is wrong
(the CLI: exit code 2 and one line), never a raw FileNotFoundError or JSON traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sciml.config import domain_section
from sciml.errors import DataError
from sciml.proteins import family as fam_io
from sciml.proteins.metrics import casp_precision


def scored_family(root: Path, name: str, L: int, seed: int = 0) -> Path:
    """A scored family folder (metrics.json and scores.npz as the coevolution step writes them) with
    random scores on a random native map of ``L`` residues."""
    rng = np.random.default_rng(seed)
    d = root / name
    d.mkdir(parents=True)
    nat = np.triu((rng.random((L, L)) < 0.1).astype(float), 1)
    nat += nat.T
    s = rng.random((L, L))
    s = (s + s.T) / 2
    m = {"name": name, "length": L, "potts": casp_precision(s, nat), "meanfield": casp_precision(s, nat),
         "notes": []}
    (d / fam_io.METRICS_FILE).write_text(json.dumps(m))
    np.savez(d / fam_io.SCORES_FILE, name=np.array(name), sequence=np.array("A" * L), native=nat, potts=s,
             meanfield=s, profile=np.zeros((L, 22)))
    return d


def _section(tmp_path: Path, family_dirs: list[Path], **kw: object) -> dict[str, object]:
    from sciml.proteins.steps import section

    return section(domain_section("proteins"), family_dirs, tmp_path / "section_out", **kw)


# ----------------------------------------------------------------------------- family metrics.json


def test_empty_family_folder_names_the_missing_metrics(tmp_path: Path) -> None:
    (tmp_path / "famX").mkdir()
    with pytest.raises(DataError) as info:
        fam_io.read_family_metrics(tmp_path / "famX")
    assert info.value.path == str(tmp_path / "famX/metrics.json")
    assert "family metrics missing" in str(info.value) and "sciml proteins coevolution" in str(info.value)
    with pytest.raises(DataError) as info:
        fam_io.read_family_metrics(tmp_path / "nowhere")
    assert "does not exist" in str(info.value)


@pytest.mark.parametrize("content, says", [
    (b"{truncated", "not valid JSON"),
    (b"\xff\xfe{", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'{"length": 5}', "'name'"),
    (b'{"name": "f", "skipped": 3}', "'skipped'"),
    (b'{"name": "f", "potts": {}, "meanfield": {}}', "'length'"),
    (b'{"name": "f", "length": 30, "potts": 0.5, "meanfield": {}}', "'potts'"),
    (b'{"name": "f", "length": 30, "potts": {"long_L": 1}, "meanfield": {}}', "lacks the precision"),
])
def test_malformed_family_metrics(tmp_path: Path, content: bytes, says: str) -> None:
    d = tmp_path / "fam"
    d.mkdir()
    (d / "metrics.json").write_bytes(content)
    with pytest.raises(DataError) as info:
        fam_io.read_family_metrics(d)
    assert info.value.path == str(d / "metrics.json") and says in str(info.value)


def test_metrics_json_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "fam/metrics.json").mkdir(parents=True)
    with pytest.raises(DataError, match="folder"):
        fam_io.read_family_metrics(tmp_path / "fam")


# ----------------------------------------------------------------------------- family scores.npz


def test_scores_missing_or_not_an_npz(tmp_path: Path) -> None:
    d = scored_family(tmp_path, "famA", 30)
    (d / "scores.npz").unlink()
    with pytest.raises(DataError) as info:
        fam_io.read_scored_family(d)
    assert info.value.path == str(d / "scores.npz") and "family scores missing" in str(info.value)
    (d / "scores.npz").write_text("not a zip")
    with pytest.raises(DataError) as info:
        fam_io.read_scored_family(d)
    assert info.value.path == str(d / "scores.npz") and "not a readable scores file" in str(info.value)
    (d / "scores.npz").unlink()
    np.save(d / "scores.npy", np.zeros(3))
    (d / "scores.npy").rename(d / "scores.npz")
    with pytest.raises(DataError, match="not an .npz archive"):
        fam_io.read_scored_family(d)


def test_scores_lacking_an_array_or_of_the_wrong_shape(tmp_path: Path) -> None:
    d = scored_family(tmp_path, "famA", 30)
    np.savez(d / "scores.npz", name=np.array("famA"), sequence=np.array("A" * 30), native=np.zeros((30, 30)))
    with pytest.raises(DataError) as info:
        fam_io.read_scored_family(d)
    assert "lack the array(s) potts, meanfield, profile" in str(info.value)
    np.savez(d / "scores.npz", name=np.array("famA"), sequence=np.array("A" * 30), native=np.zeros((30, 30)),
             potts=np.zeros((29, 29)), meanfield=np.zeros((30, 30)), profile=np.zeros((30, 22)))
    with pytest.raises(DataError, match=r"'potts' must be a numeric \(30, 30\) matrix"):
        fam_io.read_scored_family(d)


def test_scored_family_with_a_skipped_metrics_json(tmp_path: Path) -> None:
    d = scored_family(tmp_path, "famA", 30)
    (d / "metrics.json").write_text(json.dumps({"name": "famA", "skipped": "x.aln: empty"}))
    with pytest.raises(DataError) as info:
        fam_io.read_scored_family(d)
    assert info.value.path == str(d / "metrics.json") and "two different runs" in str(info.value)


def test_good_family_reads_as_before(tmp_path: Path) -> None:
    d = scored_family(tmp_path, "famA", 30)
    z = fam_io.read_scored_family(d)
    assert z["name"] == "famA" and z["sequence"] == "A" * 30 and z["native"].shape == (30, 30)
    assert z["metrics"]["length"] == 30


# ----------------------------------------------------------------------------- the section step and the CLI


def test_section_cli_on_an_empty_family_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sciml.cli import main

    (tmp_path / "famX").mkdir()
    (tmp_path / "prot.yaml").write_text("proteins: {}\n")
    rc = main(["proteins", "section", "--config", str(tmp_path / "prot.yaml"), "--out-dir", str(tmp_path / "out"),
               "--family-dirs", str(tmp_path / "famX")])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'famX/metrics.json'}: family metrics missing" in err and "Traceback" not in err


def test_section_names_a_missing_or_bad_cv_metrics(tmp_path: Path) -> None:
    fams = [scored_family(tmp_path, n, 30, seed=i) for i, n in enumerate(("famA", "famB"))]
    (tmp_path / "cv").mkdir()
    with pytest.raises(DataError) as info:
        _section(tmp_path, fams, cv_dir=tmp_path / "cv")
    assert info.value.path == str(tmp_path / "cv/metrics.json")
    assert "cross-validation metrics missing" in str(info.value) and "cross-validate" in str(info.value)
    for content, says in (("{bad", "not valid JSON"), ("[]", "JSON object"), ("{}", "neither 'per_family'"),
                          ('{"per_family": {"famA": {"network": 1}}}', "per_family.famA.network"),
                          ('{"per_family": {"famA": {"network": {}}}}', "lacks the precision"),
                          ('{"per_family": [], "folds": []}', "'per_family' must be an object")):
        (tmp_path / "cv/metrics.json").write_text(content)
        with pytest.raises(DataError) as info:
            _section(tmp_path, fams, cv_dir=tmp_path / "cv")
        assert info.value.path == str(tmp_path / "cv/metrics.json") and says in str(info.value), content


def test_section_names_a_missing_or_bad_target_metrics(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    with pytest.raises(DataError) as info:
        _section(tmp_path, [], target_dirs=[tmp_path / "t"])
    assert info.value.path == str(tmp_path / "t/metrics.json")
    assert "prediction target metrics missing" in str(info.value) and "sciml proteins predict" in str(info.value)
    for content, says in (("\x00\x01", "not valid JSON"), ('"x"', "JSON object"), ('{"skipped": "x"}', "'name'"),
                          ('{"name": "t", "model": {"dir": "d"}}', "'model' lacks sha256, kind")):
        (tmp_path / "t/metrics.json").write_text(content)
        with pytest.raises(DataError) as info:
            _section(tmp_path, [], target_dirs=[tmp_path / "t"])
        assert info.value.path == str(tmp_path / "t/metrics.json") and says in str(info.value), content


def test_cross_validate_names_a_missing_scores_file(tmp_path: Path) -> None:
    from sciml.proteins.steps import cross_validate

    (tmp_path / "famX").mkdir()
    with pytest.raises(DataError) as info:
        cross_validate(domain_section("proteins"), [tmp_path / "famX"], tmp_path / "cv", tmp_path / "ckpt")
    assert info.value.path == str(tmp_path / "famX/scores.npz") and "family scores missing" in str(info.value)
