"""Caches shared between rules are safe when two jobs build them at once, and a corrupt or
truncated cache file is rebuilt, never trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .tiny import REPO_ROOT, landed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(not landed("materials"), reason="materials domain not landed")]

CFG = json.dumps({"dataset": {"limit": 40}})


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _prepare(out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["sciml", "materials", "prepare", "--config-json", CFG, "--data-root", "data", "--out-dir", str(out),
         "--cache-dir", str(cache)], cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def test_two_jobs_building_the_same_graph_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    procs = [_prepare(tmp_path / f"out{i}", cache) for i in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].endswith(".pt"), files  # one complete cache file, no temp left
    s0, s1 = (json.loads((tmp_path / f"out{i}" / "summary.json").read_text()) for i in range(2))
    assert s0["n_kept"] == s1["n_kept"] == 40
    # a third job reuses it
    third = _prepare(tmp_path / "out2", cache)
    assert third.communicate(timeout=600)[0] and third.returncode == 0
    prov = json.loads((tmp_path / "out2" / "provenance.json").read_text())
    assert prov["extra"]["cache_hit"] is True


def test_truncated_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _prepare(tmp_path / "out0", cache)
    assert first.communicate(timeout=600)[0] and first.returncode == 0
    (cache_file,) = list(cache.iterdir())
    data = cache_file.read_bytes()
    cache_file.write_bytes(data[: len(data) // 2])  # as if a non-atomic writer had been killed
    again = _prepare(tmp_path / "out1", cache)
    log = again.communicate(timeout=600)[0]
    assert again.returncode == 0, log
    prov = json.loads((tmp_path / "out1" / "provenance.json").read_text())
    assert prov["extra"]["cache_hit"] is False
    assert json.loads((tmp_path / "out1" / "summary.json").read_text())["n_kept"] == 40
