# Materials domain: dataset -> validated, cached periodic graphs -> one training job per
# CV fold (run in parallel on a cluster) -> Matbench-style evaluation -> report section.
MATERIALS = config["materials"]
MATERIALS_OUT = f"{RESULTS}/materials"
MATERIALS_CACHE = f"{RESULTS}/.cache/materials"
MATERIALS_FOLDS = sorted(MATERIALS["cv"]["folds"])
MATERIALS_DATA = f"{DATA_ROOT}/{MATERIALS['dataset']['path']}"


rule materials_prepare:
    input:
        MATERIALS_DATA,
    output:
        summary=f"{MATERIALS_OUT}/prepared/summary.json",
        quarantine=report(
            f"{MATERIALS_OUT}/prepared/quarantine.csv",
            caption="../../sciml/materials/captions/quarantine.rst",
            category="Materials",
        ),
    params:
        data_root=data_root_param,
        cfg=section_json("materials"),
        cache=MATERIALS_CACHE,
    log:
        f"{RESULTS}/logs/materials_prepare.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_prepare.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml materials prepare --config-json {params.cfg} --data-root {params.data_root} "
        "--out-dir $(dirname {output.summary}) --cache-dir {params.cache} > {log} 2>&1"


rule materials_train_fold:
    input:
        summary=f"{MATERIALS_OUT}/prepared/summary.json",
    output:
        metrics=f"{MATERIALS_OUT}/folds/fold_{{fold}}/metrics.json",
        predictions=f"{MATERIALS_OUT}/folds/fold_{{fold}}/predictions.csv",
        model=f"{MATERIALS_OUT}/folds/fold_{{fold}}/model.pt",
        model_json=f"{MATERIALS_OUT}/folds/fold_{{fold}}/model.json",
    params:
        data_root=data_root_param,
        cfg=section_json("materials"),
        ckpt=f"{CHECKPOINTS}/materials",
        cache=MATERIALS_CACHE,
    wildcard_constraints:
        fold=r"\d+",
    log:
        f"{RESULTS}/logs/materials_train_fold_{{fold}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_train_fold_{{fold}}.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml materials train --config-json {params.cfg} --data-root {params.data_root} --fold {wildcards.fold} "
        "--out-dir $(dirname {output.metrics}) --checkpoint-dir {params.ckpt} --cache-dir {params.cache} "
        "--threads {threads} > {log} 2>&1"


rule materials_evaluate:
    input:
        summary=f"{MATERIALS_OUT}/prepared/summary.json",
        metrics=expand(f"{MATERIALS_OUT}/folds/fold_{{fold}}/metrics.json", fold=MATERIALS_FOLDS),
    output:
        section=f"{MATERIALS_OUT}/section.json",
        metrics=f"{MATERIALS_OUT}/evaluation/metrics.json",
        predictions=f"{MATERIALS_OUT}/evaluation/predictions.csv",
        parity=report(
            f"{MATERIALS_OUT}/evaluation/parity.png",
            caption="../../sciml/materials/captions/parity.rst",
            category="Materials",
        ),
    params:
        cfg=section_json("materials"),
    log:
        f"{RESULTS}/logs/materials_evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/materials_evaluate.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml materials evaluate --config-json {params.cfg} --prepared {input.summary} "
        "--fold-dirs {input.metrics} --out-dir $(dirname {output.metrics}) --section {output.section} > {log} 2>&1"
