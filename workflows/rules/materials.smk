# Materials domain: dataset -> validated, cached periodic graphs -> one training job per
# CV fold (run in parallel on a cluster) -> Matbench-style fold aggregation + report section.
# Each rule calls one step of sciml.materials.steps through `sciml materials <step>`.
from sciml.cluster_resources import gpus_per_job
from sciml.materials.folds import check_cv as check_materials_cv
from sciml.materials.workflow import SCREENING_KEYS as MATERIALS_SCREENING_KEYS
from sciml.materials.workflow import dataset_files
from sciml.materials.workflow import dataset_path as materials_dataset_path
from sciml.materials.workflow import prepare_section as materials_prepare_section
from sciml.materials.workflow import training_section as materials_training_section

MATERIALS = config["materials"]
MATERIALS_OUT = f"{RESULTS}/materials"
MATERIALS_PREPARED = f"{MATERIALS_OUT}/prepared"
MATERIALS_FOLD = f"{MATERIALS_OUT}/folds/fold_{{fold}}"
MATERIALS_SECTION = section_dir("materials")
MATERIALS_CACHE = f"{RESULTS}/.cache/materials"
check_materials_cv(MATERIALS["cv"])  # a fold outside the split: refused before any job runs
MATERIALS_FOLDS = sorted(MATERIALS["cv"]["folds"])
MATERIALS_DATA = materials_dataset_path(config, DATA_ROOT)
# ensemble members m >= 1 of a fold (train.ensemble > 1): their weights and learning curves
MATERIALS_MEMBERS = range(1, MATERIALS["train"]["ensemble"])
MATERIALS_CURVE = "logs/version_0/metrics.csv"
# prepare and the folds get the section without the screening keys (a screening edit reruns no fold) and
# with cv.folds cut to the folds each job serves (running more folds reruns neither prepare nor the folds
# already trained): sciml.materials.workflow.training_section; prepare only the train/model keys it reads
# (prepare_section), so a learning-rate or epoch edit reruns the folds, not prepare
# the section's score figure: per-fold parity plots of a regression, ROC curves of a classification
MATERIALS_SCORE_FIGURE = "roc" if MATERIALS["dataset"]["task"] == "classification" else "parity"


rule materials_prepare:
    input:
        data=dataset_files(MATERIALS_DATA),
    output:
        summary=f"{MATERIALS_PREPARED}/summary.json",
        quarantine=report(
            f"{MATERIALS_PREPARED}/quarantine.csv",
            caption="../../sciml/materials/captions/quarantine.rst",
            category="Materials",
        ),
        parser_warnings=f"{MATERIALS_PREPARED}/parser_warnings.csv",
        provenance=f"{MATERIALS_PREPARED}/provenance.json",
    params:
        data_root=data_root_param,
        cfg=quoted_json(materials_prepare_section(MATERIALS)),  # the keys prepare reads
        out_dir=folder_param(MATERIALS_PREPARED),
        cache=MATERIALS_CACHE,
    log:
        f"{RESULTS}/logs/materials_prepare.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_prepare.tsv"
    threads: MATERIALS["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml materials prepare --config-json {params.cfg} --data-root {params.data_root:q} "
        "--out-dir {params.out_dir:q} --cache-dir {params.cache:q} --threads {threads} > {log:q} 2>&1"


rule materials_train_fold:
    input:
        # the step reads the dataset (the cache key hashes it) and the graph cache 'prepare' built
        data=dataset_files(MATERIALS_DATA),
        summary=f"{MATERIALS_PREPARED}/summary.json",
    output:
        metrics=f"{MATERIALS_FOLD}/metrics.json",
        predictions=f"{MATERIALS_FOLD}/predictions.csv",
        model=f"{MATERIALS_FOLD}/model.pt",
        model_json=f"{MATERIALS_FOLD}/model.json",
        member_models=[f"{MATERIALS_FOLD}/model_member{m}.pt" for m in MATERIALS_MEMBERS],
        curve=f"{MATERIALS_FOLD}/{MATERIALS_CURVE}",
        hparams=f"{MATERIALS_FOLD}/logs/version_0/hparams.yaml",
        member_curves=[f"{MATERIALS_FOLD}/members/member_{m}/{MATERIALS_CURVE}" for m in MATERIALS_MEMBERS],
        member_hparams=[f"{MATERIALS_FOLD}/members/member_{m}/logs/version_0/hparams.yaml" for m in MATERIALS_MEMBERS],
        provenance=f"{MATERIALS_FOLD}/provenance.json",
    params:
        data_root=data_root_param,
        cfg=lambda wc: quoted_json(materials_training_section(MATERIALS, int(wc.fold))),
        out_dir=MATERIALS_FOLD,
        ckpt=f"{CHECKPOINTS}/materials",
        cache=MATERIALS_CACHE,
        launcher=ddp_launcher,
    wildcard_constraints:
        fold=r"\d+",
    log:
        f"{RESULTS}/logs/materials_train_fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_train_fold_{{fold}}.tsv"
    threads: MATERIALS["threads"]
    resources:
        gpu=gpus_per_job(config["materials"]["train"]),  # 0 with accelerator: cpu (SLURM then requests none)
        mem_mb=6000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "{params.launcher} sciml materials train --config-json {params.cfg} --data-root {params.data_root:q} --fold {wildcards.fold} "
        "--out-dir {params.out_dir:q} --checkpoint-dir {params.ckpt:q} --cache-dir {params.cache:q} "
        "--threads {threads} > {log:q} 2>&1"


rule materials_section:
    input:
        summary=f"{MATERIALS_PREPARED}/summary.json",
        prepared_provenance=f"{MATERIALS_PREPARED}/provenance.json",
        metrics=expand(f"{MATERIALS_FOLD}/metrics.json", fold=MATERIALS_FOLDS),
        predictions=expand(f"{MATERIALS_FOLD}/predictions.csv", fold=MATERIALS_FOLDS),
        curves=expand(f"{MATERIALS_FOLD}/{MATERIALS_CURVE}", fold=MATERIALS_FOLDS),
        fold_provenance=expand(f"{MATERIALS_FOLD}/provenance.json", fold=MATERIALS_FOLDS),
    output:
        section=f"{MATERIALS_SECTION}/section.json",
        metrics=f"{MATERIALS_SECTION}/metrics.json",
        predictions=f"{MATERIALS_SECTION}/predictions.csv",
        score_figure=report(
            f"{MATERIALS_SECTION}/{MATERIALS_SCORE_FIGURE}.png",
            caption=f"../../sciml/materials/captions/{MATERIALS_SCORE_FIGURE}.rst",
            category="Materials",
        ),
        learning_curves=f"{MATERIALS_SECTION}/learning_curves.png",
        provenance=f"{MATERIALS_SECTION}/provenance.json",
    params:
        cfg=section_json("materials", without=MATERIALS_SCREENING_KEYS),  # every fold it gathers
        prepared_dir=folder_param(MATERIALS_PREPARED),
        fold_dirs=expand(MATERIALS_FOLD, fold=MATERIALS_FOLDS),
        out_dir=folder_param(MATERIALS_SECTION),
    log:
        f"{RESULTS}/logs/materials_section.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_section.tsv"
    threads: 1  # no torch in this step: it reads CSV/JSON and draws figures
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml materials section --config-json {params.cfg} --prepared-dir {params.prepared_dir:q} "
        "--fold-dirs {params.fold_dirs:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
