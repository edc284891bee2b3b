"""Shared Lightning plumbing: one Trainer factory and resumable fitting.

Checkpoints live in a folder that is *not* a declared Snakemake output (Snakemake
deletes declared outputs before rerunning a job), so a killed run resumes from
``last.ckpt`` when the same command is run again. Imports of torch/Lightning happen
inside the functions, never at module import.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


@dataclass(frozen=True)
class TrainerSettings:
    """What a domain config says about training hardware and schedule.

    ``accelerator``/``strategy``/``num_nodes`` go to Lightning as they are ("auto"
    picks a GPU when there is one; ``strategy="ddp"`` for several GPUs or nodes, where
    Lightning reads the SLURM allocation itself). ``devices`` is 1 unless a strategy is
    set: ``devices="auto"`` with ``strategy="auto"`` would let Lightning take every GPU
    of a node and start DDP unasked (see :meth:`lightning_devices`). ``precision`` is a
    Lightning precision string ("32-true", "64-true", "16-mixed", "bf16-mixed").
    ``sync_batchnorm`` turns BatchNorm layers into SyncBatchNorm under DDP (GPU only in
    torch), so batch statistics cover the global batch. ``accumulate_grad_batches`` sums
    gradients over that many batches per optimizer step (a one-protein-per-batch model on
    one process then takes the steps of W DDP processes).
    """

    max_epochs: int = 100
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    deterministic: bool | str = False
    patience: int | None = None
    monitor: str = "val_loss"
    gradient_clip_val: float | None = None
    log_every_n_steps: int = 10
    sync_batchnorm: bool = False
    accumulate_grad_batches: int = 1

    def lightning_devices(self) -> int | str:
        """``devices`` for the Trainer: ``"auto"`` means every device only when a strategy is set."""
        if self.devices == "auto" and self.strategy == "auto":
            return 1
        return self.devices

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "TrainerSettings":
        """Pick the known keys out of a config mapping (others are ignored)."""
        known = {k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg}
        return cls(**known)


#: Environment variables a launcher sets to a process's rank: torchrun/Lightning's subprocess
#: launcher (``RANK``, ``LOCAL_RANK``, ``NODE_RANK``/``GROUP_RANK``) and SLURM's srun (``SLURM_PROCID``).
RANK_ENV_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def is_global_zero_env(environ: dict[str, str] | None = None) -> bool:
    """True unless the environment says this process is a non-zero rank of a multi-process run.

    Lightning's DDP launcher re-runs the whole command for ranks >= 1 with ``LOCAL_RANK``
    (and ``NODE_RANK`` on other nodes) set; srun starts one task per rank with
    ``SLURM_PROCID``. This works before any process group exists, so a step can decide at its
    start whether it may write (:func:`sciml.steps.run_step` writes provenance on rank 0 only).
    """
    env = os.environ if environ is None else environ
    for key in RANK_ENV_VARS:
        value = env.get(key, "").strip()
        if value and value != "0":
            return False
    return True


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (and dataloader workers) for a reproducible run."""
    from lightning.pytorch import seed_everything as _seed

    _seed(seed, workers=True)


def last_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """``ckpt_dir/last.ckpt`` if a previous (possibly killed) run left a readable one. A file that is no
    complete checkpoint archive (truncated by a kill or a full disk while an older version of this
    package, or Lightning's own writer, copied it in place) is moved aside to ``last.ckpt.unreadable``
    with a warning on stderr, and training starts afresh instead of failing on every rerun."""
    import zipfile

    path = Path(ckpt_dir) / "last.ckpt"
    if not path.is_file():
        return None
    if not zipfile.is_zipfile(path):  # torch checkpoints are zip archives; a truncated one lacks its directory
        aside = path.with_name("last.ckpt.unreadable")
        os.replace(path, aside)
        print(f"WARNING: {path} is not a complete checkpoint (truncated?): moved to {aside.name}; "
              "training starts from scratch", file=sys.stderr)
        return None
    return path


def _nan_guard():
    """A callback that aborts at the first non-finite training loss.

    It raises inside the batch, before any checkpoint of that epoch is written, so
    ``last.ckpt`` and ``best.ckpt`` keep the last good weights.
    """
    from lightning.pytorch.callbacks import Callback

    from sciml.errors import TrainingError

    class NaNGuard(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            if loss is not None and not math.isfinite(float(loss)):
                ckpt = getattr(trainer.checkpoint_callback, "dirpath", None)
                raise TrainingError(
                    f"training loss became {float(loss)} at epoch {trainer.current_epoch}, batch {batch_idx}; "
                    f"stopped, the last good checkpoint is kept in {ckpt}. Lower the learning rate or check the data"
                )

    return NaNGuard()


def _rng_state_callback():
    """A callback that stores the Python/NumPy/torch RNG states in every checkpoint and
    restores them on resume, so a resumed run draws the same shuffles and dropout masks
    as an uninterrupted one (Lightning does not save RNG states itself).
    Only ints/lists/tensors are stored, so checkpoints still load with weights_only=True."""
    import random

    import numpy as np
    import torch
    from lightning.pytorch.callbacks import Callback

    class RNGState(Callback):
        def state_dict(self):
            version, internal, gauss = random.getstate()
            _, keys, pos, has_gauss, cached = np.random.get_state()
            state = {
                "python": [version, list(internal), gauss],
                "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
                "torch": torch.get_rng_state(),
            }
            if torch.cuda.is_available():
                state["cuda"] = torch.cuda.get_rng_state_all()
            return state

        def load_state_dict(self, state):
            version, internal, gauss = state["python"]
            random.setstate((version, tuple(internal), gauss))
            keys, pos, has_gauss, cached = state["numpy"]
            np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
            torch.set_rng_state(state["torch"])
            if "cuda" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda"])

    return RNGState()


def checkpoint_dir(base: str | Path, step: str, config: dict[str, Any]) -> Path:
    """Checkpoint folder for a step, keyed by a hash of its resolved config.

    Keep ``base`` outside Snakemake's declared outputs (e.g. ``results/.checkpoints``)
    so a rerun resumes; the hash keeps a changed config from resuming stale weights.
    """
    import hashlib
    import json

    key = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(base) / step / key


def check_slurm_tasks(settings: TrainerSettings, environ: Mapping[str, str] | None = None) -> None:
    """Refuse (TrainingError) a multi-process config inside a SLURM job step whose task count differs.

    Under SLURM, Lightning's ``SLURMEnvironment`` takes the world size from srun's ``SLURM_NTASKS`` and
    starts no process itself, and nothing compares it with ``devices``: ``devices: 2`` in a job step of
    one task (Snakemake's SLURM executor runs each job as ``srun -n1``) trained one process, on the CPU
    (such a job requests no GPU), while provenance recorded ddp x 2. Nothing is checked outside SLURM
    (Lightning's test, ``SLURMEnvironment.detect``: ``SLURM_NTASKS`` set and a job name other than
    bash/interactive), for one device, or for ``devices: auto`` with a strategy (the count is the node's)."""
    from sciml.cluster_resources import devices_per_node
    from sciml.errors import TrainingError

    environ = os.environ if environ is None else environ
    if "SLURM_NTASKS" not in environ or environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        return
    per_node = devices_per_node(settings.lightning_devices(), settings.strategy)
    if per_node is None:
        return
    expected = per_node * int(settings.num_nodes or 1)
    tasks = int(environ["SLURM_NTASKS"])
    if expected > 1 and tasks != expected:
        raise TrainingError(
            f"this SLURM job step has {tasks} task(s), but the config asks for devices={settings.devices} x "
            f"num_nodes={settings.num_nodes} = {expected} processes: under SLURM Lightning runs one process per "
            f"srun task and starts none itself, so it would train as {tasks} process(es). Give the training rule "
            "the SLURM profile's srun recipe (resources mpi: srun, nodes, tasks_per_node = devices; "
            "docs/reliability.md), or set devices: 1 and num_nodes: 1")


def make_trainer(settings: TrainerSettings, out_dir: str | Path, ckpt_dir: str | Path,
                 extra_callbacks: list[Any] | None = None, **overrides: Any):
    """A Lightning ``Trainer`` with the project's defaults.

    - ``accelerator``/``devices``/``strategy`` from ``settings`` (one device unless a
      strategy is set);
    - ``use_distributed_sampler=False``: the project's loaders shard themselves across
      ranks (:class:`sciml.sampling.ShardedSampler`; validation loaders are not sharded, so every rank
      scores the whole validation set and the best checkpoint is chosen on all of it);
    - ``ModelCheckpoint`` in ``ckpt_dir`` keeping the best (by ``monitor``) and
      ``last.ckpt``, saved every epoch so a killed run loses at most one epoch;
    - ``EarlyStopping`` on ``monitor`` when ``settings.patience`` is set;
    - the learning curve ``out_dir/logs/version_0/metrics.csv``, one row per epoch, kept in
      the checkpoints so a resumed run still writes every epoch
      (:mod:`sciml.learning_curve`); Lightning's ``CSVLogger`` writes only ``hparams.yaml``;
    - progress bar only when stderr is a terminal; no model summary spam.
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from sciml.learning_curve import learning_curve_callback

    check_slurm_tasks(settings)
    ckpt_dir = Path(ckpt_dir)
    if is_global_zero_env():
        from sciml.io import remove_stale_temporaries

        remove_stale_temporaries(ckpt_dir)  # a checkpoint-sized temporary file per kill during a save
    callbacks: list[Any] = [
        # best.ckpt: the best epoch by `monitor` (first, so trainer.checkpoint_callback is this one).
        ModelCheckpoint(
            dirpath=ckpt_dir, filename="best", monitor=settings.monitor, mode="min",
            save_top_k=1, every_n_epochs=1, enable_version_counter=False,
        ),
        # last.ckpt: every epoch. (save_last=True on the callback above writes last.ckpt only
        # when `monitor` improves in Lightning 2.6, so a killed run could lose many epochs.)
        ModelCheckpoint(
            dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1, every_n_epochs=1,
            enable_version_counter=False,
        ),
        _nan_guard(),
        _rng_state_callback(),
        learning_curve_callback(out_dir),
    ]
    if settings.patience:
        callbacks.append(_resumable_early_stopping(EarlyStopping)(monitor=settings.monitor, patience=settings.patience,
                                                                  mode="min"))
    callbacks.extend(extra_callbacks or [])
    kwargs: dict[str, Any] = dict(
        max_epochs=settings.max_epochs,
        accelerator=settings.accelerator,
        devices=settings.lightning_devices(),
        strategy=settings.strategy,
        sync_batchnorm=settings.sync_batchnorm,
        use_distributed_sampler=False,
        num_nodes=settings.num_nodes,
        precision=settings.precision,
        deterministic=settings.deterministic,
        gradient_clip_val=settings.gradient_clip_val,
        accumulate_grad_batches=settings.accumulate_grad_batches,
        log_every_n_steps=settings.log_every_n_steps,
        callbacks=callbacks,
        logger=_hparams_logger(out_dir),
        plugins=[_atomic_checkpoint_io()],
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        default_root_dir=str(out_dir),
    )
    kwargs.update(overrides)
    quiet_lightning()
    return pl.Trainer(**kwargs)


def _atomic_checkpoint_io() -> Any:
    """Lightning's ``TorchCheckpointIO`` writing each checkpoint atomically beside its destination
    (:func:`sciml.io.save_torch_atomic`: a temporary file in the same folder, fsync, rename). Lightning's own
    writer stages the file in ``$TMPDIR`` and moves it: where that is another filesystem (node-local /tmp,
    checkpoints on a shared one: the usual SLURM set-up) the move copies into ``last.ckpt`` in place, and a
    job killed during the copy leaves a truncated file that every rerun then failed to resume from."""
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    from sciml.io import save_torch_atomic

    class AtomicTorchCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
            if storage_options is not None:
                raise TypeError("storage_options are not supported by this checkpoint writer")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            save_torch_atomic(checkpoint, path)

    return AtomicTorchCheckpointIO()


def _resumable_early_stopping(base: Any) -> Any:
    """Lightning's ``EarlyStopping`` whose stop survives a resume: Lightning restores the callback's counters
    from ``last.ckpt`` but not the trainer's stop flag, so a run that had stopped early trained one more epoch
    on every rerun (a kill after training, or a rerun a label edit caused), and its curve and weights moved."""

    class ResumableEarlyStopping(base):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            super().on_train_start(trainer, pl_module)
            if self.stopped_epoch > 0 or self.wait_count >= self.patience:
                trainer.should_stop = True

    return ResumableEarlyStopping


class _DropAdvertisement:
    """A logging filter dropping Lightning's "Tip: try installing litlogger" line."""

    def filter(self, record: Any) -> bool:
        return "litlogger" not in str(record.getMessage())


def quiet_lightning() -> None:
    """Silence what Lightning prints that does not apply to these runs, so a notebook's or a job's log shows
    ours: its cloud-logger advertisement, a deprecation inside Lightning itself (``LeafSpec``), and the
    ``log_every_n_steps`` advice (every metric here is logged per epoch). Called when a trainer is made,
    never at import; idempotent. Lightning's GPU/TPU lines and its SLURM ``srun`` hint stay."""
    import logging
    import warnings

    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdvertisement) for f in logger.filters):
        logger.addFilter(_DropAdvertisement())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r"The number of training batches .* is smaller than the logging interval")


def _hparams_logger(out_dir: str | Path) -> Any:
    """Lightning's ``CSVLogger`` for ``out_dir/logs/version_0/hparams.yaml`` only: its metrics
    file restarts on every resume, so the curve is written by :mod:`sciml.learning_curve`."""
    from lightning.pytorch.loggers import CSVLogger

    class HparamsOnlyCSVLogger(CSVLogger):
        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            return None

    return HparamsOnlyCSVLogger(str(out_dir), name="logs", version=0)


def fit_resumable(trainer: Any, module: Any, datamodule: Any = None, ckpt_dir: str | Path | None = None,
                  **fit_kwargs: Any) -> Path | None:
    """``trainer.fit`` that resumes from ``ckpt_dir/last.ckpt`` when present.

    Returns the best checkpoint path (or ``last.ckpt`` if none was ranked).
    A non-finite loss raises :class:`~sciml.errors.TrainingError` (see ``make_trainer``);
    the checkpoints written before it are kept.
    """
    resume = last_checkpoint(ckpt_dir) if ckpt_dir is not None else None
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None, **fit_kwargs)
    best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
    if best:
        return Path(best)
    return last_checkpoint(ckpt_dir) if ckpt_dir is not None else None


# --------------------------------------------------------------------------- seed ensembles
#
# One convention for every domain: member m of an ensemble trains exactly as the single
# model with seed ``seed + m`` on the same data split (the domain adds its own offset,
# e.g. the fold index, to get the training seed), and its checkpoints live in a folder
# keyed by the run's config *without* the ensemble size plus that member seed. So member
# 0 is the single-model run, and an ensemble of 5 reuses the checkpoints of an ensemble
# of 3 (and of the single run) made with the same config.

#: Config keys that say how many members to train; dropped from the checkpoint key.
ENSEMBLE_KEYS = ("ensemble",)


@dataclass(frozen=True)
class EnsembleMember:
    """One member: its index, seed (before the domain's offset), checkpoint and log folders."""

    index: int
    seed: int
    checkpoint_dir: Path
    log_dir: Path


def _without_ensemble(config: Any) -> Any:
    """A deep copy of ``config`` with every ``ensemble`` key removed (at any depth)."""
    if isinstance(config, dict):
        return {k: _without_ensemble(v) for k, v in config.items() if k not in ENSEMBLE_KEYS}
    if isinstance(config, list):
        return [_without_ensemble(v) for v in config]
    return config


def ensemble_members(size: int, seed: int, ckpt_base: str | Path, step: str, config: dict[str, Any],
                     out_dir: str | Path) -> list[EnsembleMember]:
    """The ``size`` members of a seed ensemble (see the convention above).

    Member 0 logs into ``out_dir``, member m >= 1 into ``out_dir/members/member_<m>``;
    checkpoints go to ``checkpoint_dir(ckpt_base, step, config - ensemble + member seed)``.
    """
    if size < 1:
        raise ValueError(f"ensemble size must be >= 1, got {size}")
    base = _without_ensemble(config)
    out_dir = Path(out_dir)
    members = []
    for m in range(size):
        key = {"config": base, "member_seed": seed + m}
        members.append(EnsembleMember(
            index=m, seed=seed + m, checkpoint_dir=checkpoint_dir(ckpt_base, step, key),
            log_dir=out_dir if m == 0 else out_dir / "members" / f"member_{m}",
        ))
    return members


@dataclass
class FitResult:
    """A fitted module with its best weights loaded (on CPU, eval mode), and what the fit did.

    ``is_global_zero`` is False on the other ranks of a multi-process run: they train
    too (every rank must take part in every fit) but write nothing. ``resumed_from``: the
    ``last.ckpt`` the fit continued from (a killed or finished earlier run), None for a fresh fit.
    """

    module: Any
    trainer: Any
    best_checkpoint: Path | None
    epochs_trained: int
    best_score: float | None
    is_global_zero: bool
    resumed_from: Path | None = None


def load_best_weights(module: Any, checkpoint: str | Path | None) -> Any:
    """Load the ``state_dict`` of a Lightning checkpoint into ``module`` (``weights_only=True``)."""
    import torch

    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return module


def describe_processes(trainer: Any) -> str:
    """One line saying how a multi-process fit ran: world size, nodes, devices per node and
    the cluster environment Lightning chose (``SLURMEnvironment`` under ``srun``,
    ``LightningEnvironment`` when Lightning started the processes itself)."""
    env = getattr(trainer.strategy, "cluster_environment", None)
    return (f"world_size={trainer.world_size} num_nodes={trainer.num_nodes} "
            f"devices_per_node={trainer.num_devices} accelerator={type(trainer.accelerator).__name__} "
            f"cluster_environment={type(env).__name__ if env is not None else None}")


def peak_gpu_memory_mib() -> float | None:
    """Peak CUDA memory allocated by this process (MiB) since it started, or None without CUDA."""
    import torch

    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def fit_best(make_module: Any, settings: TrainerSettings, *, seed: int, log_dir: str | Path,
             ckpt_dir: str | Path, datamodule: Any = None, train_dataloaders: Any = None,
             val_dataloaders: Any = None, extra_callbacks: list[Any] | None = None) -> FitResult:
    """The one training path of every Lightning model.

    Seeds everything with ``seed``, builds the module (``make_module()``, after seeding,
    so the initial weights follow the seed), fits it with resume from
    ``ckpt_dir/last.ckpt``, loads the best checkpoint's weights and returns the module
    on CPU in eval mode.
    """
    seed_everything(seed)
    module = make_module()
    trainer = make_trainer(settings, log_dir, ckpt_dir, extra_callbacks=extra_callbacks)
    resumed_from = last_checkpoint(ckpt_dir)
    best = fit_resumable(trainer, module, datamodule, ckpt_dir, train_dataloaders=train_dataloaders,
                         val_dataloaders=val_dataloaders)
    load_best_weights(module, best)
    module = module.to("cpu")
    module.eval()
    cb = trainer.checkpoint_callback
    score = cb.best_model_score if cb is not None else None
    if trainer.is_global_zero and trainer.world_size > 1:
        print(f"sciml: trained on {describe_processes(trainer)}", file=sys.stderr, flush=True)
    peak = peak_gpu_memory_mib()
    if peak is not None:  # every rank: each holds its own replica
        print(f"sciml: rank {trainer.global_rank} peak_gpu_memory_mib={peak:.0f}", file=sys.stderr, flush=True)
    return FitResult(module=module, trainer=trainer, best_checkpoint=best,
                     epochs_trained=int(trainer.current_epoch),
                     best_score=float(score) if score is not None else None,
                     is_global_zero=bool(trainer.is_global_zero), resumed_from=resumed_from)
