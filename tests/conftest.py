"""Shared fixtures: the repo root, the real datasets in ../shared/data, and a runner
for tiny Snakemake workflows."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCIML_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the checkout (../shared/data); tests need them."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared datasets not found at {SHARED_DATA} (set SCIML_SHARED_DATA)")
    return SHARED_DATA


def load_script(path: str | Path) -> Any:
    """Import a stand-alone script (a benchmark or generator outside the package) as a module, by its path
    (relative paths from the repo root)."""
    import importlib.util

    path = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def venv_env() -> dict[str, str]:
    """Environment whose PATH starts with this interpreter's bin (for `sciml`/`snakemake`)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_workflow(tmp_path: Path, config: dict, targets: tuple[str, ...] = (),
                 extra_args: tuple[str, ...] = (), cores: int = 2, check: bool = True,
                 timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the root Snakefile with ``config`` (merged over config/config.yaml by Snakemake).

    Results go to ``tmp_path/results`` unless ``config`` sets ``results_dir``.
    ``--nolock`` lets several test workflows share the checkout.
    """
    config = {"results_dir": str(tmp_path / "results"), **config}
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(config))
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"),
        "--directory", str(REPO_ROOT), "--cores", str(cores), "--nolock",
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(cfg_file),
        "--show-failed-logs", *targets, *extra_args,
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=venv_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture
def workflow_runner(tmp_path):
    """``workflow_runner(config, targets=(), extra_args=())`` -> CompletedProcess."""

    def _run(config: dict, targets: tuple[str, ...] = (), extra_args: tuple[str, ...] = (), **kw):
        return run_workflow(tmp_path, config, targets, extra_args, **kw)

    return _run


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    """Environment for subprocesses that call `sciml`/`snakemake` from this venv."""
    return venv_env()


def _write_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """Write ``path`` as a .tar.gz holding ``members`` (name -> bytes) and symlinks (name -> target)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


@pytest.fixture
def write_tar():
    """The tar writer the archive tests share: ``write_tar(path, members, links=None) -> path``."""
    return _write_tar
