"""sciml.training: Trainer factory, resume from last.ckpt, NaN guard, checkpoint folder keys."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from sciml.errors import TrainingError  # noqa: E402
from sciml.training import (  # noqa: E402
    TrainerSettings,
    checkpoint_dir,
    fit_resumable,
    last_checkpoint,
    make_trainer,
    seed_everything,
)


class TinyModule(pl.LightningModule):
    """Linear regression on fixed random data; ``nan_at_epoch`` poisons the loss from that epoch on."""

    def __init__(self, nan_at_epoch: int = -1, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        if 0 <= self.hparams.nan_at_epoch <= self.current_epoch:
            loss = loss * float("nan")
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class TinyData(pl.LightningDataModule):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        x = torch.randn(64, 4, generator=g)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(64, 1, generator=g)
        self.ds = torch.utils.data.TensorDataset(x, y)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.ds, batch_size=16, shuffle=True)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.ds, batch_size=64)


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _fit(out: Path, ckpt: Path, epochs: int, **module_kw):
    seed_everything(0)
    trainer = make_trainer(TrainerSettings(max_epochs=epochs, accelerator="cpu", devices=1), out, ckpt)
    module = TinyModule(**module_kw)
    best = fit_resumable(trainer, module, TinyData(), ckpt)
    return trainer, module, best


def _epochs_logged(out: Path) -> list[int]:
    with open(out / "logs" / "version_0" / "metrics.csv") as fh:
        return sorted({int(r["epoch"]) for r in csv.DictReader(fh) if r.get("train_loss")})


def _curve(out: Path) -> list[dict[str, str]]:
    with open(out / "logs" / "version_0" / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_curve_has_one_row_per_epoch_with_train_and_val_losses(tmp_path: Path) -> None:
    _fit(tmp_path / "out", tmp_path / "ckpt", 3)
    rows = _curve(tmp_path / "out")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert all(float(r["train_loss"]) > 0 and float(r["val_loss"]) > 0 for r in rows)
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])  # it learns
    assert (tmp_path / "out" / "logs" / "version_0" / "hparams.yaml").is_file()


def test_settings_from_config_ignores_unknown_keys() -> None:
    s = TrainerSettings.from_config({"max_epochs": 3, "seed": 1, "lr": 0.1, "deterministic": True})
    assert s.max_epochs == 3 and s.deterministic is True and s.accelerator == "auto"


def test_checkpoint_dir_keyed_by_config(tmp_path: Path) -> None:
    a = checkpoint_dir(tmp_path, "pde_train", {"seed": 0, "lr": 1})
    assert a == checkpoint_dir(tmp_path, "pde_train", {"lr": 1, "seed": 0})  # key order irrelevant
    assert a != checkpoint_dir(tmp_path, "pde_train", {"seed": 1, "lr": 1})
    assert a.parent == tmp_path / "pde_train"


def test_trainer_writes_best_and_last_and_metrics(tmp_path: Path) -> None:
    trainer, _, best = _fit(tmp_path / "out", tmp_path / "ckpt", 2)
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()
    assert best == tmp_path / "ckpt" / "best.ckpt" and best.is_file()
    assert _epochs_logged(tmp_path / "out") == [0, 1]
    assert trainer.current_epoch == 2


def test_resume_matches_uninterrupted(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    _fit(tmp_path / "a", ckpt, 2)
    _, resumed, _ = _fit(tmp_path / "b", ckpt, 4)
    _, straight, _ = _fit(tmp_path / "c", tmp_path / "ckpt2", 4)
    for p, q in zip(resumed.parameters(), straight.parameters()):
        assert torch.equal(p, q)


def test_resume_continues_epoch_count(tmp_path: Path) -> None:
    """2 epochs, then the same call with max_epochs=4 resumes at epoch 2."""
    ckpt = tmp_path / "ckpt"
    _fit(tmp_path / "a", ckpt, 2)
    assert torch.load(ckpt / "last.ckpt", weights_only=True, map_location="cpu")["epoch"] == 1
    trainer, _, _ = _fit(tmp_path / "b", ckpt, 4)
    assert trainer.current_epoch == 4
    # only the remaining epochs ran, and the curve still holds every epoch (rows 0-1 came
    # with the checkpoint, equal to those of the first run)
    assert _epochs_logged(tmp_path / "b") == [0, 1, 2, 3]
    assert _curve(tmp_path / "b")[:2] == _curve(tmp_path / "a")


def test_finished_run_rerun_does_nothing(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    _fit(tmp_path / "a", ckpt, 2)
    trainer, _, _ = _fit(tmp_path / "b", ckpt, 2)
    assert trainer.current_epoch == 2
    # a run resumed from its final checkpoint (killed after training, before its outputs)
    # still writes the whole learning curve
    assert _curve(tmp_path / "b") == _curve(tmp_path / "a")
    assert _epochs_logged(tmp_path / "b") == [0, 1]


def test_checkpoints_load_with_weights_only(tmp_path: Path) -> None:
    _fit(tmp_path / "out", tmp_path / "ckpt", 1)
    state = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True, map_location="cpu")
    assert "state_dict" in state and "net.weight" in state["state_dict"]


def test_nan_loss_raises_training_error_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingError) as info:
        _fit(tmp_path / "out", ckpt, 5, nan_at_epoch=2)
    assert "epoch 2" in str(info.value) and str(ckpt) in str(info.value)
    last = torch.load(ckpt / "last.ckpt", weights_only=True, map_location="cpu")
    assert last["epoch"] == 1  # the last completed, finite epoch
    for v in last["state_dict"].values():
        assert torch.isfinite(v).all()
    assert last_checkpoint(ckpt) == ckpt / "last.ckpt"


def test_last_checkpoint_absent(tmp_path: Path) -> None:
    assert last_checkpoint(tmp_path) is None


class WorseEveryEpoch(TinyModule):
    """Validation loss grows every epoch, so only epoch 0 is ever the best."""

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(float(self.current_epoch)))


def test_last_checkpoint_written_every_epoch_even_without_improvement(tmp_path: Path) -> None:
    """A killed run must lose at most one epoch: last.ckpt follows every epoch."""
    seed_everything(0)
    ckpt = tmp_path / "ckpt"
    trainer = make_trainer(TrainerSettings(max_epochs=3, accelerator="cpu", devices=1), tmp_path / "out", ckpt)
    fit_resumable(trainer, WorseEveryEpoch(), TinyData(), ckpt)
    assert torch.load(ckpt / "best.ckpt", weights_only=True)["epoch"] == 0
    assert torch.load(ckpt / "last.ckpt", weights_only=True)["epoch"] == 2


def test_ensemble_members_follow_one_convention(tmp_path: Path) -> None:
    from sciml.training import ensemble_members

    cfg = {"seed": 3, "train": {"lr": 0.1, "ensemble": 3}}
    members = ensemble_members(3, 3, tmp_path / "ckpt", "fold0", cfg, tmp_path / "out")
    assert [m.seed for m in members] == [3, 4, 5]
    assert members[0].log_dir == tmp_path / "out"
    assert members[2].log_dir == tmp_path / "out" / "members" / "member_2"
    assert len({m.checkpoint_dir for m in members}) == 3
    # the ensemble size is not part of the key: a bigger ensemble reuses the members made before
    bigger = ensemble_members(5, 3, tmp_path / "ckpt", "fold0", {"seed": 3, "train": {"lr": 0.1, "ensemble": 5}},
                              tmp_path / "out")
    assert [m.checkpoint_dir for m in bigger[:3]] == [m.checkpoint_dir for m in members]
    # ... but any other config change is
    other = ensemble_members(1, 3, tmp_path / "ckpt", "fold0", {"seed": 3, "train": {"lr": 0.2}}, tmp_path / "out")
    assert other[0].checkpoint_dir != members[0].checkpoint_dir
    with pytest.raises(ValueError):
        ensemble_members(0, 3, tmp_path, "x", cfg, tmp_path)


def test_fit_best_loads_the_best_epoch_and_follows_the_seed(tmp_path: Path) -> None:
    """fit_best returns the best-validation weights (not the last), on CPU, in eval mode, and
    the same seed gives the same weights (the module is built after seeding)."""
    from sciml.training import fit_best

    settings = TrainerSettings(max_epochs=3, accelerator="cpu", devices=1)
    res = fit_best(WorseEveryEpoch, settings, seed=0, log_dir=tmp_path / "a", ckpt_dir=tmp_path / "ca",
                   datamodule=TinyData())
    assert res.is_global_zero and res.epochs_trained == 3 and res.best_score == 0.0
    assert not res.module.training
    best = torch.load(tmp_path / "ca" / "best.ckpt", weights_only=True)
    last = torch.load(tmp_path / "ca" / "last.ckpt", weights_only=True)
    assert best["epoch"] == 0 and last["epoch"] == 2
    w = res.module.state_dict()["net.weight"]
    assert torch.equal(w, best["state_dict"]["net.weight"])
    assert not torch.equal(w, last["state_dict"]["net.weight"])
    again = fit_best(WorseEveryEpoch, settings, seed=0, log_dir=tmp_path / "b", ckpt_dir=tmp_path / "cb",
                     datamodule=TinyData())
    other = fit_best(WorseEveryEpoch, settings, seed=1, log_dir=tmp_path / "c", ckpt_dir=tmp_path / "cc",
                     datamodule=TinyData())
    assert torch.equal(again.module.state_dict()["net.weight"], w)
    assert not torch.equal(other.module.state_dict()["net.weight"], w)


# --------------------------------------------------------------------------- multi-process plumbing

def test_sharded_sampler_one_process_is_the_plain_order_and_reshuffles_per_epoch() -> None:
    from sciml.sampling import ShardedSampler as sharded_sampler

    fixed = sharded_sampler(7)
    assert list(fixed) == list(range(7)) and len(fixed) == 7
    s = sharded_sampler(10, seed=3)
    first = list(s)
    assert sorted(first) == list(range(10)) and first != list(range(10))
    assert list(s) == first  # same epoch, same order (a resumed epoch sees the same batches)
    s.set_epoch(1)
    second = list(s)
    assert sorted(second) == list(range(10)) and second != first
    # the order the materials sampler used before it sharded itself (byte-identical single runs)
    g = torch.Generator().manual_seed(3 * 100003 + 1)
    assert second == torch.randperm(10, generator=g).tolist()


def test_sharded_sampler_splits_each_epoch_across_ranks(monkeypatch) -> None:
    from sciml import sampling as training  # dist_rank_world lives beside the sampler

    s = training.ShardedSampler(11, seed=5)
    for epoch in (0, 1):
        s.set_epoch(epoch)
        monkeypatch.setattr(training, "dist_rank_world", lambda: (0, 1))
        whole = list(s)
        shards = []
        for rank in (0, 1):
            monkeypatch.setattr(training, "dist_rank_world", lambda r=rank: (r, 2))
            shards.append(list(s))
            assert len(s) == 6
        # rank r takes whole[r::2] after padding 11 -> 12 with the first element
        padded = whole + whole[:1]
        assert shards == [padded[0::2], padded[1::2]]
        # step k of both ranks with batch 3 together = step k of one process with batch 6
        for k in range(2):
            assert sorted(shards[0][3 * k:3 * k + 3] + shards[1][3 * k:3 * k + 3]) == sorted(padded[6 * k:6 * k + 6])
    monkeypatch.setattr(training, "dist_rank_world", lambda: (1, 2))
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0  # reshuffled per epoch on every rank


@pytest.mark.parametrize("env, zero", [({}, True), ({"LOCAL_RANK": "0", "NODE_RANK": "0"}, True),
                                       ({"LOCAL_RANK": "1"}, False), ({"NODE_RANK": "1", "LOCAL_RANK": "0"}, False),
                                       ({"SLURM_PROCID": "3"}, False), ({"RANK": "2"}, False)])
def test_is_global_zero_env(env, zero) -> None:
    from sciml.training import is_global_zero_env

    assert is_global_zero_env(env) is zero


def test_devices_default_to_one_unless_a_strategy_is_set(tmp_path) -> None:
    assert TrainerSettings().devices == 1
    assert TrainerSettings(devices="auto").lightning_devices() == 1
    assert TrainerSettings(devices="auto", strategy="ddp").lightning_devices() == "auto"
    assert TrainerSettings(devices=2, strategy="ddp").lightning_devices() == 2
    trainer = make_trainer(TrainerSettings(max_epochs=1, accelerator="cpu", devices="auto"), tmp_path, tmp_path / "ck")
    assert trainer.num_devices == 1
    # the project's samplers shard themselves: Lightning must not wrap them
    assert trainer._accelerator_connector.use_distributed_sampler is False


def test_non_zero_rank_step_writes_no_provenance(tmp_path, monkeypatch) -> None:
    from sciml.steps import run_step

    with run_step("demo", {"seed": 0}, tmp_path / "zero") as step:
        step.output("a.txt").write_text("x")
    assert (tmp_path / "zero" / "provenance.json").is_file()
    monkeypatch.setenv("LOCAL_RANK", "1")
    with run_step("demo", {"seed": 0}, tmp_path / "one") as step:
        assert step.output("a.txt").name == "a.txt"
    assert not (tmp_path / "one" / "provenance.json").exists()


def test_onecycle_is_sized_from_the_trainer(tmp_path) -> None:
    """The one-cycle schedule spans the trainer's estimated stepping batches and anneals fully."""
    from sciml.materials.lightning import CrystalRegressor

    module = CrystalRegressor("cgcnn", {"atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8}, 0.0, 1.0, lr=0.01,
                              max_epochs=3, steps_per_epoch=100)  # a wrong steps_per_epoch is ignored
    data = torch.utils.data.DataLoader(range(5), batch_size=1)

    trainer = make_trainer(TrainerSettings(max_epochs=3, accelerator="cpu", devices=1), tmp_path, tmp_path / "ck",
                           limit_val_batches=0)
    module._trainer = trainer  # attach as trainer.fit does, then size the schedule
    trainer.strategy._lightning_module = module
    trainer._data_connector.attach_data(module, train_dataloaders=data)
    sched = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    assert sched.total_steps == 15  # 3 epochs x 5 batches, not 3 x 100
    for _ in range(14):  # the 15th (last) batch trains with the rate after 14 scheduler steps
        sched.optimizer.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.01 / 25 / 1e4)  # annealed to the very end


def test_a_run_that_stopped_early_trains_no_more_epochs_when_run_again(tmp_path: Path) -> None:
    """Early stopping at epoch 2 (patience 2): a rerun from the final checkpoint (a kill after training, before the
    outputs; or a rerun a harmless config edit caused) must not train a third epoch and more on each rerun
    (Lightning restores EarlyStopping's counters, not its stop decision)."""
    ckpt = tmp_path / "ckpt"
    settings = TrainerSettings(max_epochs=20, accelerator="cpu", devices=1, patience=2)
    runs = []
    for name in ("a", "b", "c"):
        seed_everything(0)
        trainer = make_trainer(settings, tmp_path / name, ckpt)
        fit_resumable(trainer, WorseEveryEpoch(), TinyData(), ckpt)
        runs.append(trainer)
    assert [t.current_epoch for t in runs] == [3, 3, 3]
    assert torch.load(ckpt / "last.ckpt", weights_only=True)["epoch"] == 2
    assert _curve(tmp_path / "c") == _curve(tmp_path / "a") and _epochs_logged(tmp_path / "a") == [0, 1, 2]


def test_checkpoints_are_written_by_the_atomic_writer_not_lightning_s_tmpdir_move(tmp_path: Path, monkeypatch) -> None:
    """Lightning's writer stages a checkpoint in $TMPDIR and moves it, copying in place across filesystems
    (node-local /tmp on a cluster), where a kill leaves a truncated last.ckpt. With it disabled, training
    still checkpoints: the package's atomic writer (temporary file beside the checkpoint, rename) is used."""
    import lightning.fabric.plugins.io.torch_io as torch_io

    def refuse(*args, **kwargs):
        raise AssertionError("Lightning's own checkpoint writer was used")

    monkeypatch.setattr(torch_io, "_atomic_save", refuse)
    _fit(tmp_path / "out", tmp_path / "ckpt", 2)
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True, map_location="cpu")["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["best.ckpt", "last.ckpt"]  # no temp files left


def test_a_truncated_last_checkpoint_is_moved_aside_and_training_starts_afresh(tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "ckpt"
    _fit(tmp_path / "a", ckpt, 2)
    data = (ckpt / "last.ckpt").read_bytes()
    (ckpt / "last.ckpt").write_bytes(data[: len(data) // 2])  # a kill during an in-place copy
    trainer, _, _ = _fit(tmp_path / "b", ckpt, 2)
    assert trainer.current_epoch == 2 and _epochs_logged(tmp_path / "b") == [0, 1]
    assert (ckpt / "last.ckpt.unreadable").stat().st_size == len(data) // 2
    assert "not a complete checkpoint" in capsys.readouterr().err
    assert torch.load(ckpt / "last.ckpt", weights_only=True, map_location="cpu")["epoch"] == 1


SLURM_STEP = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "materials_train_fold", "SLURM_PROCID": "0"}


@pytest.mark.parametrize("trainer, environ, refused", [
    # Snakemake's SLURM executor runs a job as `srun -n1`: devices 2 trained one CPU process, said to be ddp x 2
    ({"devices": 2, "strategy": "ddp"}, SLURM_STEP, True),
    ({"devices": 1, "num_nodes": 2, "strategy": "ddp"}, SLURM_STEP, True),
    ({"devices": 2, "strategy": "ddp"}, {**SLURM_STEP, "SLURM_NTASKS": "2"}, False),  # the srun recipe
    ({"devices": 4, "num_nodes": 2, "strategy": "ddp"}, {**SLURM_STEP, "SLURM_NTASKS": "8"}, False),
    ({"devices": 1}, {**SLURM_STEP, "SLURM_NTASKS": "4"}, False),  # one device: Lightning ignores the tasks
    ({"devices": 2, "strategy": "ddp"}, {**SLURM_STEP, "SLURM_JOB_NAME": "bash"}, False),  # interactive: Lightning launches
    ({"devices": 2, "strategy": "ddp"}, {}, False),  # no SLURM
    ({"devices": "auto", "strategy": "ddp"}, SLURM_STEP, False),  # the node's count: not known here
])
def test_a_multi_process_config_in_a_slurm_step_of_other_task_count_is_refused(trainer, environ, refused) -> None:
    from sciml.training import check_slurm_tasks

    settings = TrainerSettings.from_config(trainer)
    if refused:
        with pytest.raises(TrainingError, match="srun recipe"):
            check_slurm_tasks(settings, environ)
    else:
        check_slurm_tasks(settings, environ)
