"""sciml.steps (the shared step runner), sciml.rounding, sciml.figures, io.write_csv_atomic."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from sciml.io import write_csv_atomic
from sciml.rounding import round_fixed, round_sig
from sciml.steps import resolve_threads, run_step


def test_run_step_records_outputs_inputs_and_config(tmp_path: Path) -> None:
    src = tmp_path / "input.txt"
    src.write_text("data")
    out = tmp_path / "step"
    with run_step("demo.step", {"seed": 4, "x": 1}, out, inputs=[src]) as step:
        step.output("a.json").write_text("{}")
        step.output("sub/b.txt").write_text("b")
        step.add_inputs([src])  # recorded once
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["step"] == "demo.step" and prov["seed"] == 4 and prov["config"] == {"seed": 4, "x": 1}
    assert prov["outputs"] == [str(out / "a.json"), str(out / "sub" / "b.txt")]
    assert list(prov["inputs_sha256"]) == [str(src)]
    assert step.rel(out / "sub" / "b.txt") == "sub/b.txt"
    assert step.rel(out / "a.json", start=tmp_path) == "step/a.json"


def test_run_step_writes_no_provenance_when_the_body_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with run_step("demo.fail", {"seed": 0}, tmp_path / "s", provenance_config={"only": "this"}):
            raise RuntimeError("boom")
    assert not (tmp_path / "s" / "provenance.json").exists()


def test_run_step_provenance_config_and_threads(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    try:
        with run_step("demo.threads", {"seed": 1, "threads": 9}, tmp_path, threads=1,
                      provenance_config={"part": 1}):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)
    assert json.loads((tmp_path / "provenance.json").read_text())["config"] == {"part": 1}


def test_threads_come_from_the_cli_else_the_config(capsys) -> None:
    assert resolve_threads(3, {"threads": 2}) == 3
    assert resolve_threads(None, {"threads": 2}) == 2
    assert resolve_threads(None, {}) is None
    capsys.readouterr()
    assert resolve_threads(2, {"threads": 2}) == 2 and capsys.readouterr().err == ""
    # Snakemake lowered the rule's threads to --cores 1: the run is not the config's, and says so
    assert resolve_threads(1, {"threads": 2}) == 1
    assert "not the config's threads: 2" in capsys.readouterr().err


def test_a_step_without_threads_does_not_import_torch(tmp_path: Path) -> None:
    import subprocess

    code = ("import sys; from sciml.steps import run_step\n"
            f"with run_step('demo', {{'seed': 0}}, {str(tmp_path)!r}): pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_rounding_rule() -> None:
    assert round_fixed(0.12345678) == 0.123457
    assert round_fixed(float("nan")) is None and round_fixed(None) is None
    assert round_sig(1.23456789e-5) == 1.23457e-05
    assert round_fixed(1.23456789e-5) == 1.2e-05  # why both forms exist: decimals erase small errors
    assert round_sig(0.0) == 0.0 and round_sig(math.inf) is None


def test_write_csv_atomic_is_byte_stable(tmp_path: Path) -> None:
    p = write_csv_atomic(tmp_path / "t.csv", ["id", "value"], [["a", "1.5"], ["b,c", 2]])
    assert p.read_bytes() == b'id,value\na,1.5\n"b,c",2\n'
    assert [q.name for q in tmp_path.iterdir()] == ["t.csv"]  # no temporary left behind


def test_figures_are_headless_and_keep_the_global_backend(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import subprocess

    code = ("import matplotlib; matplotlib.use('svg'); from sciml.figures import new_figure, save_figure\n"
            "fig, ax = new_figure(1, 2, figsize=(4, 2)); ax[0].plot([0, 1], [1, 0]); ax[1].imshow([[0, 1], [1, 0]])\n"
            f"save_figure(fig, {str(tmp_path / 'f.png')!r})\n"
            "import sys; print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["svg", "False"]
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_step_leaves_the_process_as_it_found_it(tmp_path):
    """A notebook calls steps between its own cells: a step set torch's thread count, seeded the global random
    generators, turned on deterministic algorithms and set PL_GLOBAL_SEED for the rest of the kernel."""
    import os
    import random

    import numpy as np
    import torch

    from sciml.steps import run_step

    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)  # earlier tests may have trained with Lightning outside a step
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    expected = (np.random.rand(), random.random(), float(torch.rand(1)))
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    os.environ.pop("PL_GLOBAL_SEED", None)
    with run_step("x.y", {"seed": 0}, tmp_path, threads=1):
        assert torch.get_num_threads() == 1
        np.random.seed(0)
        random.seed(0)
        torch.manual_seed(0)
        torch.use_deterministic_algorithms(True)
        os.environ["PL_GLOBAL_SEED"] = "0"
    assert torch.get_num_threads() == 2 and not torch.are_deterministic_algorithms_enabled()
    assert "PL_GLOBAL_SEED" not in os.environ
    assert (np.random.rand(), random.random(), float(torch.rand(1))) == expected
    torch.set_num_threads(before[0])
    torch.use_deterministic_algorithms(before[1])


def test_a_step_puts_deepxde_float_type_back():
    """A float64 PINN trained in a notebook cell left DeepXDE converting every later cell's data to float64."""
    from sciml.pde.backend import import_deepxde, set_float_quietly
    from sciml.steps import process_state_kept

    dde = import_deepxde()
    set_float_quietly(dde, "float32")
    with process_state_kept():
        set_float_quietly(dde, "float64")
        assert dde.config.real.precision == 64
    assert dde.config.real.precision == 32
