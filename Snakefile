# sciml: raw scientific data -> trained models -> one reproducible report.
# Thin by design: config + validation + rule files + the target. Rules call the
# `sciml` CLI, so every step also runs alone, from a notebook or on a cluster node.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "workflows/rules/common.smk"
include: "workflows/rules/materials.smk"
include: "workflows/rules/screening.smk"
include: "workflows/rules/pde.smk"
include: "workflows/rules/proteins.smk"
include: "workflows/rules/report.smk"


report: "workflows/report/workflow.rst"


rule all:
    input:
        f"{RESULTS}/report.html",
    default_target: True
