# Proteins domain: per-family coevolution (Potts + mean-field, CASP precision) ->
# family-held-out cross-validation of the contact network -> report section.
# Families come from config (schema defaults = the embedded synthetic families in
# data/proteins/). Checkpoints live under CHECKPOINTS (outside declared outputs) so a
# rerun resumes. Threads: one source, config["proteins"]["threads"], passed as --threads.
from sciml.cluster_resources import gpus_per_job
from sciml.proteins.workflow import NETWORK_OMITS as PROTEINS_NETWORK_OMITS
from sciml.proteins.workflow import coevolution_mem_mb, coevolution_section, predict_mem_mb
from sciml.proteins.workflow import entry_files as proteins_entry_files
from sciml.proteins.workflow import sequence_model_section as proteins_sequence_model_section
from sciml.proteins.workflow import target_section

PROTEIN_FAMILIES = [f["name"] for f in config["proteins"]["families"]]
# prediction targets (rules at the end); the section counts them
PROTEIN_TARGETS = [t["name"] for t in config["proteins"]["targets"]]
PROTEINS = f"{RESULTS}/proteins"


wildcard_constraints:
    family="[A-Za-z0-9_.-]+",


rule proteins_coevolution:
    input:
        # the family's alignment and structure: editing them re-runs the job
        data=lambda wc: proteins_entry_files(config, "families", wc.family, DATA_ROOT),
    output:
        scores=f"{PROTEINS}/families/{{family}}/scores.npz",
        metrics=f"{PROTEINS}/families/{{family}}/metrics.json",
        timings=f"{PROTEINS}/families/{{family}}/timings.json",
        rr=directory(f"{PROTEINS}/families/{{family}}/rr"),
        provenance=f"{PROTEINS}/families/{{family}}/provenance.json",
    params:
        data_root=data_root_param,
        # only what the fit reads: editing the network or the targets does not rerun the Potts fits
        cfg=lambda wc: quoted_json(coevolution_section(config["proteins"], wc.family)),
        out=f"{PROTEINS}/families/{{family}}",
    log:
        f"{RESULTS}/logs/proteins_coevolution/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_coevolution/{{family}}.tsv"
    threads: config["proteins"]["threads"]
    resources:
        mem_mb=lambda wc, attempt: coevolution_mem_mb(attempt),  # doubled on a retry: a fit has no checkpoint
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    # --allow-skip: an unusable family is skipped (its metrics.json says why, with the sha256 of its files) and
    # counted in the section; without it the step exits 3 and would stop the workflow
    shell:
        "sciml proteins coevolution --config-json {params.cfg} --data-root {params.data_root:q} "
        "--family {wildcards.family} --allow-skip --threads {threads} --out-dir {params.out:q} > {log:q} 2>&1"


rule proteins_cross_validate:
    input:
        scores=expand(f"{PROTEINS}/families/{{family}}/scores.npz", family=PROTEIN_FAMILIES),
        metrics=expand(f"{PROTEINS}/families/{{family}}/metrics.json", family=PROTEIN_FAMILIES),
    output:
        metrics=f"{PROTEINS}/cross_validate/metrics.json",
        folds=directory(f"{PROTEINS}/cross_validate/folds"),
        provenance=f"{PROTEINS}/cross_validate/provenance.json",
    params:
        # a new target or a predict-only limit reruns no training
        cfg=section_json("proteins", without=PROTEINS_NETWORK_OMITS),
        family_dirs=expand(f"{PROTEINS}/families/{{family}}", family=PROTEIN_FAMILIES),
        ckpt=f"{CHECKPOINTS}/proteins",
        launcher=ddp_launcher,
        out=folder_param(f"{PROTEINS}/cross_validate"),
    log:
        f"{RESULTS}/logs/proteins_cross_validate.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_cross_validate.tsv"
    threads: config["proteins"]["threads"]
    resources:
        gpu=gpus_per_job(config["proteins"]["network"]),  # 0 with accelerator: cpu (SLURM then requests none)
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/sciml.yaml"
    shell:
        "{params.launcher} sciml proteins cross-validate --config-json {params.cfg} --family-dirs {params.family_dirs:q} "
        "--threads {threads} --checkpoint-dir {params.ckpt:q} --out-dir {params.out:q} > {log:q} 2>&1"


rule proteins_section:
    input:
        scores=expand(f"{PROTEINS}/families/{{family}}/scores.npz", family=PROTEIN_FAMILIES),
        metrics=expand(f"{PROTEINS}/families/{{family}}/metrics.json", family=PROTEIN_FAMILIES),
        provenance=expand(f"{PROTEINS}/families/{{family}}/provenance.json", family=PROTEIN_FAMILIES),
        cv_metrics=f"{PROTEINS}/cross_validate/metrics.json",
        cv_provenance=f"{PROTEINS}/cross_validate/provenance.json",
        # the prediction targets, counted (with the skipped ones) in the section
        targets=expand(f"{PROTEINS}/targets/{{target}}/metrics.json", target=PROTEIN_TARGETS),
        # the models the targets used: the section shows each once with its training record
        models=[f"{PROTEINS}/{m}/{f}" for m in ("model", "sequence_model")
                if m == "model" or config["proteins"]["sequence_model"]["enabled"]
                for f in ("model.pt", "model.json", "provenance.json")] if PROTEIN_TARGETS else [],
    output:
        section=section_file("proteins"),
        maps=report(f"{PROTEINS}/section/contact_maps.png", category="Proteins"),
        quarantine=f"{PROTEINS}/section/quarantine.csv",
        provenance=f"{PROTEINS}/section/provenance.json",
    params:
        cfg=section_json("proteins"),
        family_dirs=expand(f"{PROTEINS}/families/{{family}}", family=PROTEIN_FAMILIES),
        cv_dir=folder_param(f"{PROTEINS}/cross_validate"),
        target_dirs=expand(f"{PROTEINS}/targets/{{target}}", target=PROTEIN_TARGETS),
        out=folder_param(section_dir("proteins")),
    log:
        f"{RESULTS}/logs/proteins_section.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_section.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml proteins section --config-json {params.cfg} --family-dirs {params.family_dirs:q} "
        "--cv-dir {params.cv_dir:q} --target-dirs {params.target_dirs:q} --out-dir {params.out:q} > {log:q} 2>&1"


# --------------------------------------------------------------------------- prediction targets
# Proteins nobody has scored: the network trained on every family (train-model), then one
# predict job per entry of proteins.targets (structure optional), each with its own section.

wildcard_constraints:
    target="[A-Za-z0-9_.-]+",


rule proteins_train_model:
    input:
        scores=expand(f"{PROTEINS}/families/{{family}}/scores.npz", family=PROTEIN_FAMILIES),
        cv_metrics=f"{PROTEINS}/cross_validate/metrics.json",
    output:
        weights=f"{PROTEINS}/model/model.pt",
        meta=f"{PROTEINS}/model/model.json",
        provenance=f"{PROTEINS}/model/provenance.json",
    params:
        # a new target or a predict-only limit reruns no training
        cfg=section_json("proteins", without=PROTEINS_NETWORK_OMITS),
        family_dirs=expand(f"{PROTEINS}/families/{{family}}", family=PROTEIN_FAMILIES),
        ckpt=f"{CHECKPOINTS}/proteins",
        cv_dir=folder_param(f"{PROTEINS}/cross_validate"),
        out=folder_param(f"{PROTEINS}/model"),
        launcher=ddp_launcher,  # '' unless the profile gives the rule the srun recipe (mpi), as cross-validate
    log:
        f"{RESULTS}/logs/proteins_train_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_train_model.tsv"
    threads: config["proteins"]["threads"]
    resources:
        gpu=gpus_per_job(config["proteins"]["network"]),  # 0 with accelerator: cpu (SLURM then requests none)
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/sciml.yaml"
    shell:
        "{params.launcher} sciml proteins train-model --config-json {params.cfg} --family-dirs {params.family_dirs:q} "
        "--cv-dir {params.cv_dir:q} --threads {threads} --checkpoint-dir {params.ckpt:q} --out-dir {params.out:q} > {log:q} 2>&1"


SEQUENCE_MODEL = config["proteins"]["sequence_model"]["enabled"]
# predict's --sequence-model-dir when the workflow trains the sequence-only model
SEQUENCE_MODEL_ARG = f"--sequence-model-dir {shlex.quote(f'{PROTEINS}/sequence_model')}" if SEQUENCE_MODEL else ""


rule proteins_train_sequence_model:
    output:
        weights=f"{PROTEINS}/sequence_model/model.pt",
        meta=f"{PROTEINS}/sequence_model/model.json",
        provenance=f"{PROTEINS}/sequence_model/provenance.json",
    params:
        # only what it reads: a new target, a family or a network edit reruns no sequence-model training
        cfg=lambda wc: quoted_json(proteins_sequence_model_section(config["proteins"])),
        data_root=data_root_param,
        ckpt=f"{CHECKPOINTS}/proteins",
        out=folder_param(f"{PROTEINS}/sequence_model"),
        launcher=ddp_launcher,  # '' unless the profile gives the rule the srun recipe (mpi)
    log:
        f"{RESULTS}/logs/proteins_train_sequence_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_train_sequence_model.tsv"
    threads: config["proteins"]["threads"]
    resources:
        gpu=gpus_per_job(config["proteins"]["sequence_model"]),  # 0 with accelerator: cpu (SLURM then requests none)
        mem_mb=6000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "{params.launcher} sciml proteins train-sequence-model --config-json {params.cfg} --data-root {params.data_root:q} "
        "--threads {threads} --checkpoint-dir {params.ckpt:q} --out-dir {params.out:q} > {log:q} 2>&1"


rule proteins_predict:
    input:
        # the target's alignment, structure and scores: editing them re-runs the job
        data=lambda wc: proteins_entry_files(config, "targets", wc.target, DATA_ROOT),
        weights=f"{PROTEINS}/model/model.pt",
        meta=f"{PROTEINS}/model/model.json",
        sequence_model=[f"{PROTEINS}/sequence_model/model.pt", f"{PROTEINS}/sequence_model/model.json"]
        if SEQUENCE_MODEL else [],
    output:
        metrics=f"{PROTEINS}/targets/{{target}}/metrics.json",
        section=f"{PROTEINS}/targets/{{target}}/section.json",
        prediction=directory(f"{PROTEINS}/targets/{{target}}/prediction"),
        provenance=f"{PROTEINS}/targets/{{target}}/provenance.json",
    params:
        # this target's entry only: adding or editing another target does not rerun this one
        cfg=lambda wc: quoted_json(target_section(config["proteins"], wc.target)),
        data_root=data_root_param,
        model=folder_param(f"{PROTEINS}/model"),
        sequence_model=SEQUENCE_MODEL_ARG,
        out=f"{PROTEINS}/targets/{{target}}",
    log:
        f"{RESULTS}/logs/proteins_predict/{{target}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_predict/{{target}}.tsv"
    threads: config["proteins"]["threads"]
    resources:
        mem_mb=lambda wc, attempt: predict_mem_mb(config["proteins"], attempt),  # max_memory_gb + 1 GiB
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml proteins predict --config-json {params.cfg} --data-root {params.data_root:q} --target {wildcards.target} "
        "--model-dir {params.model:q} {params.sequence_model} --allow-skip --threads {threads} --out-dir {params.out:q} "
        "> {log:q} 2>&1"
