# Proteins domain: per-family coevolution (Potts + mean-field) -> family-held-out
# network cross-validation -> report section. Families come from config (schema defaults
# = the embedded synthetic families in data/proteins/).

PROTEIN_FAMILIES = [f["name"] for f in config["proteins"]["families"]]


wildcard_constraints:
    family="[A-Za-z0-9_.-]+",


rule proteins_coevolution:
    output:
        scores=f"{RESULTS}/proteins/families/{{family}}/scores.npz",
        metrics=f"{RESULTS}/proteins/families/{{family}}/metrics.json",
    params:
        data_root=data_root_param,
        cfg=section_json("proteins"),
        outdir=f"{RESULTS}/proteins/families/{{family}}",
    log:
        f"{RESULTS}/logs/proteins_coevolution/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_coevolution/{{family}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml proteins coevolution --config-json {params.cfg} --data-root {params.data_root} "
        "--family {wildcards.family} --out {params.outdir} > {log} 2>&1"


rule proteins_train_network:
    input:
        expand(f"{RESULTS}/proteins/families/{{family}}/scores.npz", family=PROTEIN_FAMILIES),
    output:
        metrics=f"{RESULTS}/proteins/network/metrics.json",
    params:
        data_root=data_root_param,
        cfg=section_json("proteins"),
        ckpt=f"{CHECKPOINTS}/proteins",
    log:
        f"{RESULTS}/logs/proteins_train_network.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_train_network.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml proteins train-network --config-json {params.cfg} --data-root {params.data_root} "
        "--scores {input} --out {output.metrics} --checkpoint-dir {params.ckpt} > {log} 2>&1"


rule proteins_report:
    input:
        scores=expand(f"{RESULTS}/proteins/families/{{family}}/scores.npz", family=PROTEIN_FAMILIES),
        network=f"{RESULTS}/proteins/network/metrics.json",
    output:
        section=f"{RESULTS}/proteins/section.json",
        maps=report(f"{RESULTS}/proteins/contact_maps.png", category="Proteins"),
    params:
        data_root=data_root_param,
        cfg=section_json("proteins"),
    log:
        f"{RESULTS}/logs/proteins_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/proteins_report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml proteins report --config-json {params.cfg} --data-root {params.data_root} "
        "--scores {input.scores} --network {input.network} --out {output.section} > {log} 2>&1"
