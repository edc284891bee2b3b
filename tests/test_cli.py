"""sciml.cli: instant --help, one-line errors with exit 2, --debug tracebacks, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from sciml.cli import build_parser, main


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_works_and_lists_commands() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    assert "report" in proc.stdout and "data" in proc.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    """`sciml --help` stays instant: no torch/lightning/deepxde/pymatgen at import or parse time."""
    code = (
        "import sys\nfrom sciml.cli import build_parser\n"
        "p = build_parser()\n"
        "try:\n    p.parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'lightning', 'deepxde', 'pymatgen', 'torch_geometric', 'matplotlib', 'pandas')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout[-300:]


def test_help_is_fast() -> None:
    start = time.perf_counter()
    proc = _run("--help")
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0
    assert elapsed < 10, f"sciml --help took {elapsed:.1f} s"


def test_every_subcommand_help_works() -> None:
    parser = build_parser()
    groups = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name, sub in groups.choices.items():
        assert sub.format_help(), name
        inner = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        for cmd in (inner[0].choices.values() if inner else []):
            assert cmd.format_help()


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 0
    assert "usage" in capsys.readouterr().out


def test_sciml_error_is_one_line_without_traceback(tmp_path) -> None:
    missing = tmp_path / "nope" / "section.json"
    proc = _run("report", str(missing), "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sciml: error: ") and str(missing) in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_debug_shows_traceback(tmp_path) -> None:
    proc = _run("--debug", "report", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r.html"))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "DataError" in proc.stderr


def test_unknown_subcommand_exits_2() -> None:
    proc = _run("no-such-command")
    assert proc.returncode == 2


def test_data_fetch_unknown_name_is_clean_error(tmp_path) -> None:
    proc = _run("data", "fetch", "no/such.file", "--data-root", str(tmp_path))
    assert proc.returncode == 2 and "not in the data manifest" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_list_runs_on_an_empty_root(tmp_path) -> None:
    proc = _run("data", "list", "--data-root", str(tmp_path))
    assert proc.returncode == 0


@pytest.mark.parametrize("argv", [["--version"]])
def test_version(argv) -> None:
    proc = _run(*argv)
    assert proc.returncode == 0 and "sciml" in proc.stdout


def test_config_files_data_root_is_used_by_every_domain(tmp_path, monkeypatch, capsys, shared_data) -> None:
    """data_root in a --config pipeline file was honoured by proteins only: materials and pde used
    $SCIML_DATA_ROOT / data/. Now every domain: --data-root, else the file's data_root, else the env, else data/."""
    import json

    import yaml

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCIML_DATA_ROOT", str(tmp_path / "env_root"))
    (tmp_path / "in").mkdir()
    mat = {"data_root": str(shared_data), "materials": {"dataset": {
        "path": "materials/matbench_jdft2d.json.gz", "target_column": "exfoliation_en", "limit": 12}}}
    (tmp_path / "in/mat.yaml").write_text(yaml.safe_dump(mat))
    assert main(["materials", "prepare", "--config", "in/mat.yaml", "--out-dir", "out", "--threads", "1"]) == 0
    prov = json.loads((tmp_path / "out/provenance.json").read_text())
    assert str(shared_data / "materials/matbench_jdft2d.json.gz") in prov["inputs_sha256"]
    capsys.readouterr()
    # an explicit --data-root wins over the file's
    assert main(["materials", "prepare", "--config", "in/mat.yaml", "--data-root", "elsewhere", "--out-dir", "o2"]) == 2
    assert "elsewhere/materials/matbench_jdft2d.json.gz: data file not found" in capsys.readouterr().err

    (tmp_path / "in/pde.yaml").write_text(yaml.safe_dump({"data_root": "pde_root", "pde": {}}))
    assert main(["pde", "solve", "--config", "in/pde.yaml", "--problem", "burgers", "--out-dir", "p"]) == 2
    err = capsys.readouterr().err
    assert "pde_root/pde/deepxde/Burgers.npz: data file not found" in err and "env_root" not in err
    # without a data_root in the file: $SCIML_DATA_ROOT, as before
    (tmp_path / "in/plain.yaml").write_text(yaml.safe_dump({"pde": {}}))
    assert main(["pde", "solve", "--config", "in/plain.yaml", "--problem", "burgers", "--out-dir", "p"]) == 2
    assert "env_root/pde/deepxde/Burgers.npz" in capsys.readouterr().err
