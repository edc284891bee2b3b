"""Choose the pretrained-model settings (CHGNet, SevenNet) on the inner validation split of each training fold only.

For each candidate setting and each requested fold, trains on the fold's fit rows (training
fold minus the 10 % validation carve-out, exactly the rows ``sciml materials train`` fits on)
with the same Lightning fit as the train step, and reports the best-epoch validation MAE
(target units) on the carve-out. The test fold is never loaded into a loader, predicted or
scored here. Writes one JSON with per-fold validation MAEs, the mean and seconds per fit.

Candidates name their model (``model``: ``chgnet`` when absent) and override its
``model.<name>`` section and ``train``; the config's dataset and other train settings are
shared, so CHGNet-frozen and SevenNet-frozen heads are compared like for like:

    OMP_NUM_THREADS=1 python benchmarks/materials/chgnet_select.py \\
        --config config/benchmarks/materials_jdft2d_sevennet_frozen.yaml --data-root ../shared/data \\
        --candidates head_lr5e-3_e200 sevennet0_head_lr5e-3_e200 sevennet_l3i5_head_lr5e-3_e200 \\
        --folds 0 1 2 3 4 --out benchmarks/materials/pretrained_select_jdft2d.json

    OMP_NUM_THREADS=1 python benchmarks/materials/chgnet_select.py \\
        --config config/benchmarks/materials_jdft2d_chgnet_frozen.yaml --data-root ../shared/data \\
        --candidates head_lr5e-3_e200 last1_lr2e-3_e30 none_lr2e-3_s0.1_e30 \\
        --folds 0 1 2 3 4 --out benchmarks/materials/chgnet_select_jdft2d.json
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

#: Candidate settings (name -> model name, overrides of model.<name> / train); fixed before any run.
#: The SevenNet ones reuse the CHGNet frozen row's head settings unchanged (lr 5e-3, 200 epochs,
#: width 64) so the two backbones' features are compared like for like.
CANDIDATES = {
    "head_lr5e-3_e200": {"chgnet": {"freeze": "head"}, "train": {"lr": 0.005, "max_epochs": 200}},
    "last1_lr2e-3_e30": {"chgnet": {"freeze": "last_blocks", "trainable_blocks": 1, "backbone_lr_scale": 0.3},
                         "train": {"lr": 0.002, "max_epochs": 30}},
    "none_lr2e-3_s0.1_e30": {"chgnet": {"freeze": "none", "backbone_lr_scale": 0.1},
                             "train": {"lr": 0.002, "max_epochs": 30}},
    "sevennet0_head_lr5e-3_e200": {"model": "sevennet", "sevennet": {"freeze": "head", "checkpoint": "7net-0"},
                                   "train": {"lr": 0.005, "max_epochs": 200}},
    "sevennet_l3i5_head_lr5e-3_e200": {"model": "sevennet", "sevennet": {"freeze": "head", "checkpoint": "7net-l3i5"},
                                       "train": {"lr": 0.005, "max_epochs": 200}},
    # fine-tuning the last interaction block + energy readout of SevenNet-0 (the cheaper checkpoint: one
    # epoch over a jdft2d training fold costs ~30 s on one CPU core against ~90 s for l3i5), 12 epochs
    # to fit a CPU budget; lr and backbone scale as the CHGNet last-block candidate
    "sevennet0_last1_lr2e-3_e12": {"model": "sevennet",
                                   "sevennet": {"freeze": "last_blocks", "trainable_blocks": 1, "backbone_lr_scale": 0.3,
                                                "checkpoint": "7net-0"},
                                   "train": {"lr": 0.002, "max_epochs": 12}},
    # LP-FT (added 2026-12-05, before either ran): the head is first fitted alone exactly as the frozen
    # candidate head_lr5e-3_e200 (200 epochs at 5e-3 on the frozen features), then everything trains from
    # it for 40 epochs (~5 s per epoch over a fold's fit rows on one core) at a small learning rate;
    # two backbone learning rates, 5e-5 and 2e-4
    "lpft_none_lr5e-4_s0.1_e40": {"chgnet": {"freeze": "none", "backbone_lr_scale": 0.1,
                                             "probe": {"epochs": 200, "lr": 0.005}},
                                  "train": {"lr": 0.0005, "max_epochs": 40}},
    "lpft_none_lr2e-4_s1_e40": {"chgnet": {"freeze": "none", "backbone_lr_scale": 1.0,
                                           "probe": {"epochs": 200, "lr": 0.005}},
                                "train": {"lr": 0.0002, "max_epochs": 40}},
    # restacking descriptors (added 2026-12-06, before it ran): the frozen row's head, settings unchanged, on
    # [CHGNet crystal feature, energy, the three descriptors of sciml.materials.stacking]
    "head_stack_lr5e-3_e200": {"chgnet": {"freeze": "head", "stacking": True}, "train": {"lr": 0.005, "max_epochs": 200}},
    # the better LP-FT candidate above (lpft_none_lr2e-4_s1_e40), with the restacking descriptors; added after the
    # frozen candidate with them won, before this one ran
    "lpft_stack_none_lr2e-4_s1_e40": {"chgnet": {"freeze": "none", "backbone_lr_scale": 1.0, "stacking": True,
                                                 "probe": {"epochs": 200, "lr": 0.005}},
                                      "train": {"lr": 0.0002, "max_epochs": 40}},
    # the adopted six-registry stacking row with every prediction clipped to its fit rows' target range
    # (train.clip_predictions). Added 2026-12-06 AFTER that row's test folds were scored (fold 2: three layers whose
    # binding lies beyond the training rows' were predicted at 2-4x their targets by the log-target head). Rule, fixed
    # before this run: adopt if its 5-fold mean validation MAE is not above the unclipped row's in the same run (the
    # clip changes no prediction inside the fit range, so a tie means it never acted there).
    "head_stack_clip_lr5e-3_e200": {"chgnet": {"freeze": "head", "stacking": True},
                                    "train": {"lr": 0.005, "max_epochs": 200, "clip_predictions": True}},
    # the LP-FT candidate with descriptors (lpft_stack_none_lr2e-4_s1_e40, run with AA descriptors only) again with
    # the six registries and the clip. Added 2026-12-06 after the clipped frozen row was adopted, before this ran.
    # Rule: it becomes the fine-tuned row if its 5-fold mean validation MAE is below the clipped frozen row's 22.46
    # (benchmarks/materials/chgnet_stack_clip_select_jdft2d.json); otherwise no fine-tuned test row.
    "lpft_stack_clip_none_lr2e-4_s1_e40": {"chgnet": {"freeze": "none", "backbone_lr_scale": 1.0, "stacking": True,
                                                      "probe": {"epochs": 200, "lr": 0.005}},
                                           "train": {"lr": 0.0002, "max_epochs": 40, "clip_predictions": True}},
    # D3 dispersion added to the restacking descriptors (model.chgnet.dispersion, sciml.materials.dispersion). Added
    # 2026-12-06 ~14:38 UTC, before either ran, after a look at fold 0's TRAINING rows only (Spearman of the binding with
    # the target 0.73 with D3 vs 0.46 without). Settings otherwise exactly those of the two rows above. Rules, fixed now:
    # - the frozen one replaces the clipped frozen row (head_stack_clip_lr5e-3_e200) if its 5-fold mean validation MAE
    #   is below that row's 22.46 (benchmarks/materials/chgnet_stack_clip_select_jdft2d.json);
    # - the LP-FT one replaces the fine-tuned row (lpft_stack_clip_none_lr2e-4_s1_e40) if its 5-fold mean validation
    #   MAE is below that row's 22.01 (benchmarks/materials/chgnet_lpft_stack_clip_select_jdft2d.json).
    # A replacing row is then scored once on the test folds.
    "head_stack_d3_clip_lr5e-3_e200": {"chgnet": {"freeze": "head", "stacking": True, "dispersion": True},
                                       "train": {"lr": 0.005, "max_epochs": 200, "clip_predictions": True}},
    "lpft_stack_d3_clip_none_lr2e-4_s1_e40": {"chgnet": {"freeze": "none", "backbone_lr_scale": 1.0, "stacking": True,
                                                         "dispersion": True, "probe": {"epochs": 200, "lr": 0.005}},
                                              "train": {"lr": 0.0002, "max_epochs": 40, "clip_predictions": True}},
}


def main() -> None:
    import numpy as np
    import torch
    import yaml

    from sciml.config import schema_for, validate
    from sciml.materials.folds import split_fold
    from sciml.materials.lightning import CrystalRegressor, predict_loader
    from sciml.materials.models import model_kwargs
    from sciml.materials.probe import frozen_feature_table, probe_epochs, probe_head
    from sciml.materials.steps.train import fit_target_range, load_table
    from sciml.training import TrainerSettings, fit_best

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/chgnet_select")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = yaml.safe_load(Path(args.config).read_text())["materials"]
    results = {"config": args.config, "folds": args.folds, "candidates": {}}
    out = Path(args.out)
    if out.is_file():
        results = json.loads(out.read_text())
    for name in args.candidates:
        over = CANDIDATES[name]
        raw = copy.deepcopy(base)
        model_name = over.get("model", "chgnet")
        raw["model"] = {"name": model_name, model_name: {**raw["model"].get(model_name, {}), **over[model_name]}}
        raw["train"] = {**raw.get("train", {}), **over["train"]}
        cfg = validate(raw, schema_for("materials"), prefix="materials")
        tcfg = cfg["train"]
        table, _, loader = load_table(cfg, args.data_root, Path(args.work) / "cache")
        y = table.y.numpy().astype(np.float64)
        feature_table = frozen_feature_table(cfg, table) if probe_epochs(cfg) else None  # LP-FT, once for all folds
        entry = results["candidates"].setdefault(name, {"overrides": over, "val_mae": {}, "seconds": {}})
        for fold in args.folds:
            if str(fold) in entry["val_mae"]:
                continue
            split = split_fold(table, cfg, fold)
            y_fit = np.log(y[split["fit"]]) if tcfg["log_target"] else y[split["fit"]]
            bs = int(tcfg["batch_size"])

            t0 = time.perf_counter()
            work = Path(args.work) / name / f"fold{fold}"
            head = (probe_head(cfg, feature_table, split, loader, float(y_fit.mean()), float(y_fit.std()),
                               cfg["seed"] + fold, work / "probe") if feature_table is not None else None)

            def make_module() -> CrystalRegressor:
                module = CrystalRegressor(model_name=model_name, model_kwargs=model_kwargs(cfg, 0),
                                          target_mean=float(y_fit.mean()), target_std=float(y_fit.std()),
                                          lr=tcfg["lr"], weight_decay=tcfg["weight_decay"], loss=tcfg["loss"],
                                          scheduler=tcfg["scheduler"], max_epochs=tcfg["max_epochs"],
                                          log_target=tcfg["log_target"],
                                          target_range=fit_target_range(y[split["fit"]]) if tcfg["clip_predictions"] else None)
                if head is not None:  # LP-FT, as the train step does
                    module.model.head.load_state_dict(head)
                return module

            fit = fit_best(make_module, TrainerSettings.from_config({**tcfg, "monitor": "val_loss"}),
                           seed=cfg["seed"] + fold, log_dir=work / "logs", ckpt_dir=work / "ckpt",
                           train_dataloaders=loader(table, split["fit"], bs, cfg["seed"] + fold),
                           val_dataloaders=loader(table, split["val"], bs))
            pred = predict_loader(fit.module.float(), loader(table, split["val"], 256))
            mae = float(np.abs(pred - y[split["val"]]).mean())
            entry["val_mae"][str(fold)] = round(mae, 3)
            entry["seconds"][str(fold)] = round(time.perf_counter() - t0, 1)
            entry["mean_val_mae"] = round(float(np.mean(list(entry["val_mae"].values()))), 3)
            out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
            print(name, fold, entry["val_mae"][str(fold)], entry["seconds"][str(fold)], flush=True)


if __name__ == "__main__":
    main()
