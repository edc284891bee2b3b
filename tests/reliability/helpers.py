"""Run the real Snakefile in a killable subprocess and collect a domain's metrics files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .tiny import REPO_ROOT, SPEC


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    e["PYTHONHASHSEED"] = "0"
    e["OMP_NUM_THREADS"] = "1"
    e["MKL_NUM_THREADS"] = "1"
    # cuBLAS needs this for deterministic=True on GPU; harmless on CPU.
    e.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return e


def write_config(folder: Path, domain: str, section: dict) -> tuple[Path, Path]:
    """A pipeline config running only ``domain`` with results in ``folder/results``."""
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results"
    cfg_file = folder / "config.yaml"
    cfg_file.write_text(yaml.safe_dump({"domains": [domain], "results_dir": str(results), domain: section}))
    return cfg_file, results


def snakemake_cmd(cfg_file: Path, results: Path, domain: str, cores: int = 2) -> list[str]:
    """The command a scientist would run (and rerun after a crash): same every time."""
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"),
        "--directory", str(REPO_ROOT), "--cores", str(cores), "--nolock",
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(cfg_file),
        "--rerun-incomplete", str(results / domain / "section" / "section.json"),
    ]


def run(cmd: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
    return proc


def run_and_kill_when(cmd: list[str], ready, timeout: float = 600, poll: float = 0.05,
                      delay: float = 0.0) -> bool:
    """Start ``cmd`` in its own process group; SIGKILL the whole group once ``ready()`` is true.

    Returns True when it was killed, False when the command finished first.
    """
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if ready():
                time.sleep(delay)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return True
            time.sleep(poll)
        raise AssertionError(f"condition not reached within {timeout} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def metrics_files(results: Path, domain: str, curves: bool = True) -> dict[str, bytes]:
    """The domain's final metrics files (and, when ``curves``, its per-epoch learning curves,
    the most sensitive fingerprint of a training run), keyed by path relative to results/<domain>."""
    base = results / domain
    globs = SPEC[domain]["metrics"] + (SPEC[domain]["curves"] if curves else ())
    out = {}
    for pattern in globs:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                out[str(path.relative_to(base))] = path.read_bytes()
    return out


def first_difference(a: dict[str, bytes], b: dict[str, bytes]) -> str:
    if set(a) != set(b):
        return f"different metrics files: {sorted(set(a) ^ set(b))}"
    for name in a:
        if a[name] != b[name]:
            la, lb = a[name].decode(errors="replace").splitlines(), b[name].decode(errors="replace").splitlines()
            for i, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    return f"{name} line {i + 1}: {x!r} != {y!r}"
            return f"{name}: lengths differ ({len(la)} vs {len(lb)} lines)"
    return ""
