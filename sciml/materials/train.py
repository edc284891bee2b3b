"""Train and test one cross-validation fold.

Outputs in ``out_dir``: ``metrics.json`` (test MAE/RMSE/R2 in target units, the
predict-the-train-mean baseline, sizes; rounded, sorted keys: byte-identical for the
same seed on CPU), ``predictions.csv`` (id, target, prediction for every test record),
``model.pt`` (plain ``state_dict``, loadable with ``torch.load(weights_only=True)``) and
``model.json`` (everything needed to rebuild the model and its graphs), and the learning
curve ``logs/version_0/metrics.csv``. Lightning checkpoints go to ``ckpt_dir`` (outside
the declared outputs) so a killed run resumes from ``last.ckpt``.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from sciml.io import write_json_atomic, write_text_atomic

#: Decimal places kept in metrics JSON (float noise below this must not change the bytes).
METRIC_DECIMALS = 6
#: Seed offset between ensemble members (member k trains with seed + fold + k * stride).
MEMBER_SEED_STRIDE = 7919


def rnd(x: float, nd: int = METRIC_DECIMALS) -> float:
    """Round a metric for stable JSON (NaN stays NaN-free: becomes None)."""
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R^2 and max abs error (target units)."""
    err = p - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": rnd(np.abs(err).mean()),
        "rmse": rnd(np.sqrt((err**2).mean())),
        "r2": rnd(1.0 - float((err**2).sum()) / ss_tot) if ss_tot > 0 else None,
        "max_abs_error": rnd(np.abs(err).max()),
    }


def model_kwargs(cfg: dict[str, Any], max_z: int) -> dict[str, Any]:
    """Constructor arguments of the configured model (graph cutoff and embedding size included)."""
    name = cfg["model"]["name"]
    kw = dict(cfg["model"].get(name, {}))
    kw["cutoff"] = float(cfg["graph"]["cutoff"])
    kw["max_z"] = int(max_z)
    return kw


def split_fold(table, cfg: dict[str, Any], fold: int) -> dict[str, Any]:
    """Indices (into the kept records) of fit / validation / test for ``fold``, Matbench-style.

    Folds are computed over *all* records in file order (so they equal the official
    Matbench folds), then quarantined records are dropped from them.
    """
    from sciml.errors import ConfigError
    from sciml.materials.folds import carve_validation, kfold_indices

    cv = cfg["cv"]
    if not 0 <= fold < cv["n_splits"]:
        raise ConfigError("materials.cv.folds", f"fold {fold} outside 0..{cv['n_splits'] - 1}")
    pos = {rid: k for k, rid in enumerate(table.ids)}
    tr_all, te_all = kfold_indices(len(table.all_ids), cv["n_splits"], cv["split_seed"])[fold]
    train = np.array([pos[table.all_ids[i]] for i in tr_all if table.all_ids[i] in pos], dtype=np.int64)
    test = np.array([pos[table.all_ids[i]] for i in te_all if table.all_ids[i] in pos], dtype=np.int64)
    dropped_test = [table.all_ids[i] for i in te_all if table.all_ids[i] not in pos]
    fit, val = carve_validation(train, cv["val_fraction"], cfg["seed"] + 1000 * fold)
    return {"fit": fit, "val": val, "test": test, "dropped_test": dropped_test}


def _loader(table, idx, batch_size: int, shuffle_seed: int | None):
    from torch_geometric.loader import DataLoader

    from sciml.materials.dataset import GraphSubset
    from sciml.materials.lightning import EpochSeededSampler

    ds = GraphSubset(table, idx)
    sampler = EpochSeededSampler(len(ds), shuffle_seed) if shuffle_seed is not None else None
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=0)


def predict_loader(model, loader, device: str = "cpu") -> np.ndarray:
    """Predictions (target units) of a ``CrystalRegressor`` over a loader, in loader order."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for batch in loader:
            out.append(model.predict_values(batch.to(device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_fold(cfg: dict[str, Any], fold: int, root: str | Path | None, out_dir: str | Path,
               ckpt_base: str | Path, cache_dir: str | Path | None, threads: int | None = None) -> dict[str, Any]:
    """Train the configured model on fold ``fold`` and test it; returns the metrics dict."""
    import torch

    from sciml.materials.dataset import load_or_build
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.lightning import CrystalRegressor
    from sciml.provenance import record_step
    from sciml.training import TrainerSettings, checkpoint_dir, fit_resumable, make_trainer, seed_everything

    out_dir = Path(out_dir)
    if threads:
        torch.set_num_threads(int(threads))
    tcfg = cfg["train"]
    graph = GraphSettings(**cfg["graph"])
    table, data_path, _ = load_or_build(cfg["dataset"], graph, root, cache_dir, cfg["validation"])
    with record_step(f"materials.train.fold{fold}", out_dir, config=cfg, seed=cfg["seed"], inputs=[data_path]) as rec:
        seed_everything(cfg["seed"] + fold)
        split = split_fold(table, cfg, fold)
        y = table.y.numpy().astype(np.float64)
        y_fit = y[split["fit"]]
        log_target = bool(tcfg["log_target"])
        if log_target:
            if (y_fit <= 0).any():
                from sciml.errors import ConfigError

                raise ConfigError("materials.train.log_target", "needs a positive target; this training fold has values <= 0")
            y_fit = np.log(y_fit)
        mean, std = float(y_fit.mean()), float(y_fit.std())
        bs = int(tcfg["batch_size"])
        steps = int(math.ceil(len(split["fit"]) / bs))
        mk = model_kwargs(cfg, table.meta["max_z"])
        test_idx = split["test"]
        n_members = int(tcfg.get("ensemble", 1))
        members, member_preds, member_info = [], [], []
        trainer = None
        for k in range(n_members):
            # member 0 is exactly the single-model run; members k >= 1 get their own seed,
            # checkpoint folder and learning-curve folder (same fit/validation split)
            member_seed = cfg["seed"] + fold + MEMBER_SEED_STRIDE * k
            seed_everything(member_seed)
            module = CrystalRegressor(
                model_name=cfg["model"]["name"], model_kwargs=mk, target_mean=mean, target_std=std,
                lr=tcfg["lr"], weight_decay=tcfg["weight_decay"], loss=tcfg["loss"], scheduler=tcfg["scheduler"],
                max_epochs=tcfg["max_epochs"], steps_per_epoch=steps, log_target=log_target,
            )
            settings = TrainerSettings.from_config({**tcfg, "monitor": "val_loss"})
            ckpt_dir = checkpoint_dir(ckpt_base, f"fold{fold}" if k == 0 else f"fold{fold}_member{k}", cfg)
            log_dir = out_dir if k == 0 else out_dir / "members" / f"member_{k}"
            trainer = make_trainer(settings, log_dir, ckpt_dir)
            fit_loader = _loader(table, split["fit"], bs, member_seed)
            val_loader = _loader(table, split["val"], bs, None)
            best = fit_resumable(trainer, module, ckpt_dir=ckpt_dir, train_dataloaders=fit_loader,
                                 val_dataloaders=val_loader)
            if trainer.global_rank != 0:
                # under DDP every rank runs this command; only rank 0 tests and writes the outputs
                return {}
            if best is not None and Path(best).is_file():
                state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
                module.load_state_dict(state)
            module = module.to("cpu").float()
            p_k = predict_loader(module, _loader(table, test_idx, 256, None))
            members.append(module)
            member_preds.append(p_k)
            member_info.append({
                "seed": member_seed, "epochs_trained": int(trainer.current_epoch),
                "best_val_loss": rnd(trainer.checkpoint_callback.best_model_score)
                if trainer.checkpoint_callback.best_model_score is not None else None,
                "test_mae": regression_metrics(y[test_idx], p_k)["mae"] if len(test_idx) else None,
                "checkpoint_dir": str(ckpt_dir),
            })
        stacked = np.stack(member_preds, axis=0)
        # mean of the normalised outputs (all members share mean/std): arithmetic mean in
        # target units, geometric mean when trained on log(target)
        preds = np.exp(np.log(stacked).mean(axis=0)) if log_target else stacked.mean(axis=0)
        module = members[0]
        y_test = y[test_idx]
        metrics = {
            "fold": fold,
            "model": cfg["model"]["name"],
            "n_fit": int(len(split["fit"])), "n_val": int(len(split["val"])), "n_test": int(len(test_idx)),
            "test_records_quarantined": split["dropped_test"],
            "epochs_trained": member_info[0]["epochs_trained"],
            "best_val_loss": member_info[0]["best_val_loss"],
            "test": regression_metrics(y_test, preds),
            "baseline_train_mean": regression_metrics(y_test, np.full_like(y_test, float(y[split["fit"]].mean()))),
            "target": cfg["dataset"]["target_name"], "unit": cfg["dataset"]["unit"],
            "transform": cfg["dataset"]["transform"],
        }
        if n_members > 1:
            metrics["ensemble"] = {
                "size": n_members,
                "members": [{k: v for k, v in m.items() if k != "checkpoint_dir"} for m in member_info],
            }
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "fold", "target", "prediction"])
        for i, p in zip(test_idx, preds):
            w.writerow([table.ids[i], fold, f"{y[i]:.6g}", f"{p:.6g}"])
        write_text_atomic(out_dir / "predictions.csv", buf.getvalue())
        weight_files = save_screening_model(members, cfg, table.meta, out_dir)
        write_json_atomic(out_dir / "metrics.json", metrics)
        rec.outputs += [str(out_dir / n) for n in ("metrics.json", "predictions.csv", "model.json", *weight_files)]
        rec.extra["checkpoint_dir"] = member_info[0]["checkpoint_dir"]
        if n_members > 1:
            rec.extra["member_checkpoint_dirs"] = [m["checkpoint_dir"] for m in member_info]
    return metrics


def member_weight_file(k: int) -> str:
    """Weights file of ensemble member ``k`` in a fold folder (member 0 = ``model.pt``)."""
    return "model.pt" if k == 0 else f"model_member{k}.pt"


def save_screening_model(modules, cfg: dict[str, Any], meta: dict[str, Any], out_dir: str | Path) -> list[str]:
    """``model.pt`` (state_dict of the plain model; ``model_member<k>.pt`` for further ensemble
    members) + ``model.json`` (how to rebuild it and its graphs). Returns the weight file names."""
    import torch

    from sciml.io import atomic_path

    out_dir = Path(out_dir)
    modules = modules if isinstance(modules, (list, tuple)) else [modules]
    files = [member_weight_file(k) for k in range(len(modules))]
    for name, mod in zip(files, modules):
        with atomic_path(out_dir / name) as tmp:
            torch.save({k: v.detach().cpu() for k, v in mod.model.state_dict().items()}, tmp)
    module = modules[0]
    hp = module.hparams
    spec = {
        "format": "sciml.materials.model/1",
        "model_name": hp.model_name,
        "model_kwargs": dict(hp.model_kwargs),
        "target_mean": float(module.t_mean), "target_std": float(module.t_std),
        "log_target": bool(hp.log_target),
        "graph": meta["graph"], "max_z": meta["max_z"], "min_distance": meta["min_distance"],
        "target_name": cfg["dataset"]["target_name"], "unit": cfg["dataset"]["unit"],
        "transform": cfg["dataset"]["transform"],
    }
    if len(files) > 1:
        spec["ensemble_weights"] = files
    write_json_atomic(out_dir / "model.json", spec)
    return files
