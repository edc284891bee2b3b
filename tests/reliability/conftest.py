"""Fixtures for the reliability tests: a local single-node SLURM cluster and helpers that run
the real Snakefile in a subprocess (so it can be killed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "slurm" / "local_cluster.sh"
SLURM_STATE = Path(os.environ.get("SCIML_SLURM_STATE", "/tmp/sciml-slurm-test"))


def _slurm_installed() -> bool:
    return all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in ("sbatch", "slurmctld", "slurmd", "munged"))


def _install_slurm() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "slurm-wlm", "munge"],
                   check=True, env=env, capture_output=True, timeout=1200)


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start (or reuse) the local SLURM cluster; yield the environment client commands need.

    Installs slurm-wlm and munge with apt-get when missing, but only as root with CI set;
    otherwise the test is skipped with the reason.
    """
    if sys.platform != "linux":
        pytest.skip("the local SLURM cluster needs Linux")
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munged by hand needs root")
    if not _slurm_installed():
        if not os.environ.get("CI"):
            pytest.skip("slurm-wlm/munge not installed (apt-get install -y slurm-wlm munge; or set CI=1 to let "
                        "the test install them)")
        _install_slurm()
    if importlib_missing("snakemake_executor_plugin_slurm"):
        pytest.skip("snakemake-executor-plugin-slurm not installed (pip install 'sciml[slurm]')")
    started_here = not (SLURM_STATE / "slurmctld.pid").exists()
    proc = subprocess.run(["bash", str(CLUSTER_SCRIPT), "start", str(SLURM_STATE)],
                          capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f"local SLURM cluster did not start:\n{proc.stdout}\n{proc.stderr}")
    env = dict(os.environ)
    env["SLURM_CONF"] = str(SLURM_STATE / "slurm.conf")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/sbin", env.get("PATH", "")])
    env.setdefault("PYTHONHASHSEED", "0")
    env["OMP_NUM_THREADS"] = "1"
    yield {"env": env, "state": SLURM_STATE, "jobcomp": SLURM_STATE / "jobcomp.log"}
    if started_here and not os.environ.get("SCIML_KEEP_SLURM"):
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(SLURM_STATE)], capture_output=True, timeout=120)


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None
