rule report:
    input:
        report_sections(),
    output:
        report(f"{RESULTS}/report.html", caption="../report/report.rst", category="Report"),
    params:
        cfg=pipeline_config_json(),
        title=shlex.quote(config["report_title"]),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        "../envs/sciml.yaml"
    shell:
        "sciml report {input:q} --out {output:q} --pipeline-config {params.cfg} --title {params.title} > {log:q} 2>&1"
