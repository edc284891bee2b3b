# PDE domain: per problem, validate+time the classical solver, train the PINN,
# evaluate it (accuracy, fields, speed table); then one report section.
# Checkpoints live under CHECKPOINTS (outside declared outputs) so a rerun resumes.

PDE_PROBLEMS = config["pde"]["problems"]
PDE = f"{RESULTS}/pde"


wildcard_constraints:
    pde_problem="[a-z_0-9]+",


rule pde_solve:
    output:
        f"{PDE}/{{pde_problem}}/solve/solver.json",
        f"{PDE}/{{pde_problem}}/solve/provenance.json",
    params:
        data_root=data_root_param,
        cfg=section_json("pde"),
        out=f"{PDE}/{{pde_problem}}/solve",
    log:
        f"{RESULTS}/logs/pde_solve_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_solve_{{pde_problem}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde solve --config-json {params.cfg} --data-root {params.data_root} "
        "--problem {wildcards.pde_problem} --threads {threads} --out {params.out} > {log} 2>&1"


rule pde_train:
    output:
        f"{PDE}/{{pde_problem}}/train/model.pt",
        f"{PDE}/{{pde_problem}}/train/train.json",
        f"{PDE}/{{pde_problem}}/train/train_timing.json",
        f"{PDE}/{{pde_problem}}/train/loss_history.csv",
        f"{PDE}/{{pde_problem}}/train/provenance.json",
    params:
        data_root=data_root_param,
        cfg=section_json("pde"),
        ckpt=f"{CHECKPOINTS}/pde",
        out=f"{PDE}/{{pde_problem}}/train",
    log:
        f"{RESULTS}/logs/pde_train_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_train_{{pde_problem}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde train --config-json {params.cfg} --data-root {params.data_root} "
        "--problem {wildcards.pde_problem} --threads {threads} --checkpoint-dir {params.ckpt} "
        "--out {params.out} > {log} 2>&1"


rule pde_evaluate:
    input:
        model=f"{PDE}/{{pde_problem}}/train/model.pt",
        train=f"{PDE}/{{pde_problem}}/train/train.json",
        solver=f"{PDE}/{{pde_problem}}/solve/solver.json",
    output:
        metrics=f"{PDE}/{{pde_problem}}/evaluate/metrics.json",
        timing=f"{PDE}/{{pde_problem}}/evaluate/timing.json",
        fields=f"{PDE}/{{pde_problem}}/evaluate/fields.nc",
        fig=report(f"{PDE}/{{pde_problem}}/evaluate/fields.png", category="PDE", subcategory="fields"),
        loss=report(f"{PDE}/{{pde_problem}}/evaluate/loss.png", category="PDE", subcategory="loss curves"),
        prov=f"{PDE}/{{pde_problem}}/evaluate/provenance.json",
    params:
        data_root=data_root_param,
        cfg=section_json("pde"),
        out=f"{PDE}/{{pde_problem}}/evaluate",
    log:
        f"{RESULTS}/logs/pde_evaluate_{{pde_problem}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_evaluate_{{pde_problem}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml pde evaluate --config-json {params.cfg} --data-root {params.data_root} "
        "--problem {wildcards.pde_problem} --threads {threads} --model {input.model} --solver {input.solver} "
        "--out {params.out} > {log} 2>&1"


rule pde_section:
    input:
        metrics=expand(f"{PDE}/{{pde_problem}}/evaluate/metrics.json", pde_problem=PDE_PROBLEMS),
        timing=expand(f"{PDE}/{{pde_problem}}/evaluate/timing.json", pde_problem=PDE_PROBLEMS),
    output:
        f"{PDE}/section.json",
    params:
        cfg=section_json("pde"),
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
        "sciml pde section --config-json {params.cfg} --out {output} {input.metrics} > {log} 2>&1"
