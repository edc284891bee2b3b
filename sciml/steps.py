"""The plumbing every pipeline step repeats, written once.

A step function (``sciml/<domain>/steps/<step>.py``) takes a validated config
section and paths and opens :func:`run_step`, which

- creates the output folder,
- sets the torch CPU threads (one source: the CLI's ``--threads``, which the rules fill
  from the resources Snakemake granted, else the section's ``threads`` key),
- records provenance (config, seed, input sha256, outputs, versions, wall time) into
  ``provenance.json`` beside the outputs when the body succeeds (on rank 0 only: the other
  ranks of a multi-process run write nothing, see :func:`sciml.training.is_global_zero_env`),
- and hands the body a :class:`StepRun` that names outputs (recorded as it goes) and
  writes paths relative to the output folder (what report sections store).

Example::

    with run_step("pde.train.burgers", cfg, out_dir, inputs=[ref_file]) as step:
        write_json_atomic(step.output("train.json"), {...})
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml.provenance import StepRecord, record_step


@dataclass
class StepRun:
    """What a running step body gets: its name, config, output folder and provenance record."""

    name: str
    cfg: dict[str, Any]
    out_dir: Path
    record: StepRecord

    def output(self, name: str | Path) -> Path:
        """``out_dir / name``, recorded as an output of this step (parents created)."""
        path = self.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if str(path) not in self.record.outputs:
            self.record.outputs.append(str(path))
        return path

    def add_inputs(self, paths: Iterable[str | Path]) -> None:
        """Record more input files (their sha256 goes into provenance)."""
        for p in paths:
            if str(p) not in self.record.inputs:
                self.record.inputs.append(str(p))

    def rel(self, path: str | Path, start: str | Path | None = None) -> str:
        """``path`` relative to ``start`` (default: this step's output folder), as report
        sections store figure and provenance paths."""
        return os.path.relpath(Path(path), Path(start) if start is not None else self.out_dir)


def resolve_threads(cli_threads: int | None, cfg: dict[str, Any] | None) -> int | None:
    """The torch thread count of a step: ``--threads`` when given, else ``cfg["threads"]``. A ``--threads``
    other than the config's (Snakemake lowers a rule's threads to ``--cores``) is said on stderr: sums split
    over another number of threads differ in the last digits, so such a run is not byte-identical to one with
    the config's count (provenance.json records the count used, ``device.torch_threads``)."""
    if cli_threads:
        wanted = int(cfg["threads"]) if cfg and cfg.get("threads") else None
        if wanted is not None and int(cli_threads) != wanted:
            print(f"note: running with {int(cli_threads)} thread(s), not the config's threads: {wanted} (Snakemake "
                  "lowers a rule's threads to --cores); results may differ in the last digits from a run with "
                  f"{wanted} (use --cores >= {wanted} to reproduce one)", file=sys.stderr)
        return int(cli_threads)
    if cfg and cfg.get("threads"):
        return int(cfg["threads"])
    return None


def set_torch_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` (imports torch only when a count is given)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@contextmanager
def run_step(name: str, cfg: dict[str, Any], out_dir: str | Path, *,
             inputs: Iterable[str | Path] = (), threads: int | None = None,
             provenance_config: dict[str, Any] | None = None, seed: int | None = None,
             provenance_file: str = "provenance.json") -> Iterator[StepRun]:
    """Run a step body with the shared plumbing (see the module docstring).

    ``threads`` is the CLI's value (None: the section's ``threads`` key, if any; steps
    that run no torch pass ``cfg`` without one). ``provenance_config`` replaces ``cfg``
    in provenance.json where a step depends on only part of its section; ``seed``
    defaults to ``cfg["seed"]``.
    """
    from sciml.io import remove_stale_temporaries
    from sciml.training import is_global_zero_env

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only results folder: one line naming it, not a traceback
        from sciml.errors import DataError

        raise DataError(out, f"cannot create this output folder ({exc.strerror or exc})") from None
    if is_global_zero_env():
        remove_stale_temporaries(out)  # what a killed run was writing
    with process_state_kept():
        set_torch_threads(threads)
        yield from _run_step_body(name, cfg, out, inputs, provenance_config, seed, provenance_file, is_global_zero_env())


def _run_step_body(name: str, cfg: dict[str, Any], out: Path, inputs: Iterable[str | Path],
                   provenance_config: dict[str, Any] | None, seed: int | None, provenance_file: str,
                   global_zero: bool) -> Iterator[StepRun]:
    """The body of :func:`run_step` inside :func:`process_state_kept`."""
    if not global_zero:
        # a non-zero rank of a multi-process (DDP) run: it trains with the others but writes
        # nothing, provenance included (rank 0 writes everything once)
        yield StepRun(name=name, cfg=cfg, out_dir=out,
                      record=StepRecord(step=name, config=cfg, seed=cfg.get("seed"), inputs=[str(p) for p in inputs]))
        return
    with record_step(name, out, config=provenance_config if provenance_config is not None else cfg,
                     seed=seed if seed is not None else cfg.get("seed"), inputs=inputs,
                     filename=provenance_file) as rec:
        yield StepRun(name=name, cfg=cfg, out_dir=out, record=rec)


#: Environment variables a step's training sets for the whole process (Lightning's seed, cuBLAS's
#: deterministic workspace): put back as they were when the step ends.
_STEP_ENVIRONMENT = ("PL_GLOBAL_SEED", "CUBLAS_WORKSPACE_CONFIG")


@contextmanager
def process_state_kept() -> Iterator[None]:
    """Leave the process as a step found it: a notebook calls steps between its own cells, and a step sets
    torch's thread count, seeds the random generators (Python, numpy, torch), turns on torch's deterministic
    algorithms (Lightning's ``deterministic``) and sets :data:`_STEP_ENVIRONMENT`. Each is put back when the
    step ends (torch's only when torch was imported before it; a step that imported it resets deterministic
    mode to torch's default). DeepXDE's float type is put back too."""
    import random

    import numpy as np

    torch = sys.modules.get("torch")
    env = {k: os.environ.get(k) for k in _STEP_ENVIRONMENT}
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = None if torch is None else (torch.get_num_threads(), torch.get_rng_state(),
                                              torch.are_deterministic_algorithms_enabled(),
                                              torch.is_deterministic_algorithms_warn_only_enabled())
    deepxde_config = sys.modules.get("deepxde.config")
    deepxde_precision = None if deepxde_config is None else deepxde_config.real.precision
    try:
        yield
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch = sys.modules.get("torch")
        if torch is not None:
            threads, rng, deterministic, warn_only = torch_state or (None, None, False, False)
            if threads is not None:
                torch.set_num_threads(threads)
                torch.set_rng_state(rng)
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        _restore_deepxde_float(deepxde_precision)


def _restore_deepxde_float(precision: int | None) -> None:
    """Put DeepXDE's own float type (``deepxde.config.real``, which ``set_default_float`` changes
    process-wide and every DeepXDE tensor conversion reads) back to ``precision`` bits; when DeepXDE
    was first imported by the step, back to its import-time float32."""
    config = sys.modules.get("deepxde.config")
    if config is None:
        return
    setter = {16: "set_float16", 32: "set_float32", 64: "set_float64"}.get(precision or 32)
    getattr(config.real, setter)()
