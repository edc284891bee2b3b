# PDE domain: per problem, validate+time the classical solver, train the PINN,
# evaluate it (accuracy, fields, speed table); then one report section.
# Checkpoints live under CHECKPOINTS (outside declared outputs) so a rerun resumes.
# Step folders are passed as --out-dir/--model-dir/--solver-dir, derived from the declared
# files with subpath() so the folder and the files cannot disagree.
# A problem's own files (a declared reference; the plugin files that define it and the reference file
# such a plugin names) are inputs of solve/train/evaluate, so editing one reruns them
# (sciml.pde.workflow.problem_files); an operator's plugin solver is an input of its job.
# Operator surrogates (pde.operators: config files) run one job each; their table joins the section.
# A problem's jobs get the pde section cut to that problem (sciml.pde.workflow.problem_section): adding a
# problem or an operator, or editing another problem's params, reruns none of them.

from sciml.cluster_resources import gpus_per_job
from sciml.pde.workflow import operator_configs as pde_operator_configs
from sciml.pde.workflow import operator_files as pde_operator_files
from sciml.pde.workflow import problem_files as pde_problem_files
from sciml.pde.workflow import problem_section as pde_problem_section

PDE_PROBLEMS = config["pde"]["problems"]
PDE = f"{RESULTS}/pde"
PDE_PROBLEM = f"{PDE}/{{pde_problem}}"
#: operator name (its config file's stem) -> config file (pde.operators)
PDE_OPERATORS = pde_operator_configs(config)
PDE_OPERATOR_DIRS = [f"{PDE}/operator/{name}" for name in PDE_OPERATORS]


wildcard_constraints:
    pde_problem="[a-z_0-9]+",
    pde_operator="[A-Za-z_0-9.-]+",


rule pde_solve:
    input:
        user=lambda wc: pde_problem_files(config, wc.pde_problem, DATA_ROOT),
    output:
        solver=f"{PDE_PROBLEM}/solve/solver.json",
        prov=f"{PDE_PROBLEM}/solve/provenance.json",
    params:
        data_root=data_root_param,
        cfg=lambda wc: quoted_json(pde_problem_section(config["pde"], wc.pde_problem)),
        out_dir=subpath(output.solver, parent=True),
    log:
        f"{RESULTS}/logs/pde_solve_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_solve_{{pde_problem}}.tsv"
    threads: config["pde"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde solve --config-json {params.cfg} --data-root {params.data_root:q} "
        "--problem {wildcards.pde_problem} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule pde_train:
    input:
        user=lambda wc: pde_problem_files(config, wc.pde_problem, DATA_ROOT),
    output:
        model=f"{PDE_PROBLEM}/train/model.pt",
        model_json=f"{PDE_PROBLEM}/train/model.json",
        train=f"{PDE_PROBLEM}/train/train.json",
        timing=f"{PDE_PROBLEM}/train/train_timing.json",
        history=f"{PDE_PROBLEM}/train/loss_history.csv",
        prov=f"{PDE_PROBLEM}/train/provenance.json",
    params:
        # train reads no evaluation key
        cfg=lambda wc: quoted_json(pde_problem_section(config["pde"], wc.pde_problem, without=("evaluation",))),
        ckpt=f"{CHECKPOINTS}/pde",
        out_dir=subpath(output.train, parent=True),
    log:
        f"{RESULTS}/logs/pde_train_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_train_{{pde_problem}}.tsv"
    threads: config["pde"]["threads"]
    resources:
        gpu=gpus_per_job(config["pde"]["pinn"]),  # 0 with pinn.accelerator: cpu (SLURM then requests none)
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde train --config-json {params.cfg} "
        "--problem {wildcards.pde_problem} --threads {threads} --checkpoint-dir {params.ckpt:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule pde_evaluate:
    input:
        model=f"{PDE_PROBLEM}/train/model.pt",
        model_json=f"{PDE_PROBLEM}/train/model.json",
        train=f"{PDE_PROBLEM}/train/train.json",
        train_timing=f"{PDE_PROBLEM}/train/train_timing.json",
        history=f"{PDE_PROBLEM}/train/loss_history.csv",
        solver=f"{PDE_PROBLEM}/solve/solver.json",
        user=lambda wc: pde_problem_files(config, wc.pde_problem, DATA_ROOT),
    output:
        metrics=f"{PDE_PROBLEM}/evaluate/metrics.json",
        timing=f"{PDE_PROBLEM}/evaluate/timing.json",
        fields=f"{PDE_PROBLEM}/evaluate/fields.nc",
        fig=report(f"{PDE_PROBLEM}/evaluate/fields.png", category="PDE", subcategory="fields"),
        loss=report(f"{PDE_PROBLEM}/evaluate/loss.png", category="PDE", subcategory="loss curves"),
        prov=f"{PDE_PROBLEM}/evaluate/provenance.json",
    params:
        data_root=data_root_param,
        cfg=lambda wc: quoted_json(pde_problem_section(config["pde"], wc.pde_problem)),
        model_dir=subpath(input.model, parent=True),
        solver_dir=subpath(input.solver, parent=True),
        out_dir=subpath(output.metrics, parent=True),
    log:
        f"{RESULTS}/logs/pde_evaluate_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_evaluate_{{pde_problem}}.tsv"
    threads: config["pde"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde evaluate --config-json {params.cfg} --data-root {params.data_root:q} "
        "--problem {wildcards.pde_problem} --threads {threads} --model-dir {params.model_dir:q} "
        "--solver-dir {params.solver_dir:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule pde_operator:
    input:
        cfg=lambda wc: PDE_OPERATORS[wc.pde_operator],
        plugin=lambda wc: pde_operator_files(PDE_OPERATORS[wc.pde_operator]),  # kind: plugin's solver code
    output:
        metrics=f"{PDE}/operator/{{pde_operator}}/metrics.json",
        timing=f"{PDE}/operator/{{pde_operator}}/timing.json",
        report=f"{PDE}/operator/{{pde_operator}}/report.txt",
        prov=f"{PDE}/operator/{{pde_operator}}/provenance.json",
        # the model and its selection record: removed with the other outputs when the job fails or reruns, so a
        # model of an older config is never left beside them (dataset.npz stays undeclared: the step reuses it
        # when its record matches the config)
        model=f"{PDE}/operator/{{pde_operator}}/model/operator.pt",
        model_json=f"{PDE}/operator/{{pde_operator}}/model/operator.json",
        selection=f"{PDE}/operator/{{pde_operator}}/selection.json",
    params:
        out_dir=subpath(output.metrics, parent=True),
    log:
        f"{RESULTS}/logs/pde_operator_{{pde_operator}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_operator_{{pde_operator}}.tsv"
    threads: config["pde"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde operator --config {input.cfg:q} --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule pde_section:
    input:
        metrics=expand(f"{PDE}/{{p}}/evaluate/metrics.json", p=PDE_PROBLEMS),
        timing=expand(f"{PDE}/{{p}}/evaluate/timing.json", p=PDE_PROBLEMS),
        figs=expand(f"{PDE}/{{p}}/evaluate/{{fig}}.png", p=PDE_PROBLEMS, fig=("fields", "loss")),
        prov=expand(f"{PDE}/{{p}}/{{step}}/provenance.json", p=PDE_PROBLEMS, step=("solve", "train", "evaluate")),
        operators=[f"{d}/{f}" for d in PDE_OPERATOR_DIRS for f in ("metrics.json", "timing.json", "provenance.json")],
    output:
        section=section_file("pde"),
        prov=f"{section_dir('pde')}/provenance.json",
    params:
        cfg=section_json("pde"),
        out_dir=subpath(output.section, parent=True),
        evaluate_dirs=expand(f"{PDE}/{{p}}/evaluate", p=PDE_PROBLEMS),
        solve_dirs=expand(f"{PDE}/{{p}}/solve", p=PDE_PROBLEMS),
        train_dirs=expand(f"{PDE}/{{p}}/train", p=PDE_PROBLEMS),
        operator_dirs=" ".join(["--operator-dirs"] + [shlex.quote(d) for d in PDE_OPERATOR_DIRS]) if PDE_OPERATOR_DIRS else "",
    log:
        f"{RESULTS}/logs/pde_section.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_section.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde section --config-json {params.cfg} --out-dir {params.out_dir:q} "
        "--evaluate-dirs {params.evaluate_dirs:q} --solve-dirs {params.solve_dirs:q} "
        "--train-dirs {params.train_dirs:q} {params.operator_dirs} > {log:q} 2>&1"
