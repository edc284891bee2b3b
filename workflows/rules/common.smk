# Shared helpers for the rule files. Validation uses the package's schema so the
# Snakefile and standalone `sciml` commands agree on keys, types and defaults.
import json
import os
import shlex

from sciml.config import quoted_json
from sciml.config import validate_workflow_config
from snakemake.exceptions import WorkflowError

# an error names the --configfile (or --config) that set the offending key
validate_workflow_config(config, dict(workflow.config_settings.config), list(workflow.configfiles),
                         list(workflow.config_settings.configfiles))

# a leading ~ is the home folder (no shell expands it in a config file: ~/results was a folder named '~')
RESULTS = os.path.expanduser(config["results_dir"])
DATA_ROOT = os.path.expanduser(config["data_root"])
# Checkpoints live outside every declared output: Snakemake deletes a job's outputs
# before rerunning it, and a rerun must resume from them.
CHECKPOINTS = f"{RESULTS}/.checkpoints"


def domain_enabled(domain):
    """True when `domain` is listed in config['domains']."""
    return domain in config["domains"]


def section_json(domain, without=()):
    """The domain's resolved config section, shell-quoted JSON for --config-json; ``without``: keys the
    rule's step never reads, left out so that editing them does not rerun its jobs (the step's CLI
    fills their defaults back in)."""
    section = {k: v for k, v in config[domain].items() if k not in without}
    return quoted_json(section)


def pipeline_config_json():
    """The whole resolved config, shell-quoted JSON (shown in the report)."""
    return quoted_json(config)


def report_sections():
    """The section file of every enabled domain, in a fixed order (screening's after materials')."""
    sections = [section_file(d) for d in ("materials", "pde", "proteins") if domain_enabled(d)]
    if screening_enabled():
        sections.insert(int(domain_enabled("materials")), screening_section_file())
    if domain_enabled("proteins"):  # one section per prediction target, after the proteins one
        sections += [f"{RESULTS}/proteins/targets/{t['name']}/section.json" for t in config["proteins"]["targets"]]
    return sections


def screening_enabled():
    """True when config['materials']['screening']['enabled'] (workflows/rules/screening.smk)."""
    return bool(config["materials"]["screening"]["enabled"])


def screening_section_file():
    """The report section the screening `gather` step writes."""
    return f"{RESULTS}/materials/screening/section/section.json"


def section_dir(domain):
    """The folder of a domain's final `section` step (section.json, its figures, provenance)."""
    return f"{RESULTS}/{domain}/section"


def section_file(domain):
    """The report section a domain's `section` step writes."""
    return f"{section_dir(domain)}/section.json"


def data_root_param(wildcards):
    """The data root as a rule param. A function rather than a string, so that Snakemake's
    linter does not take it for a hard-coded prefix of the input paths."""
    return DATA_ROOT


def folder_param(path):
    """A step's folder (--out-dir, --cv-dir, ...) as a param of a rule. A function rather
    than a string, like data_root_param, so that the linter does not take it for a
    hard-coded prefix of the inputs or outputs."""

    def param(wildcards):
        return path

    return param


def ddp_launcher(wildcards, resources, threads):
    """The launcher prefix of a training command: empty (one process, or Lightning's own
    launcher on a workstation) unless the rule has the `mpi` resource, as the SLURM profile's
    multi-GPU / multi-node example sets it. Then the job is one allocation of `nodes` x
    `tasks_per_node` tasks (or `tasks` on one node), snakemake-executor-plugin-slurm runs the
    rule's shell inside it without its own `srun -n1`, and this prefix (e.g.
    `srun --nodes=2 --ntasks-per-node=4`) starts one process per task; Lightning's
    SLURMEnvironment takes ranks and the master address from the variables srun sets (it
    accepts --ntasks-per-node, not a bare --ntasks). The counts are given explicitly because
    the plugin's job step removes the allocation's SLURM_NTASKS* variables before the shell, and
    so are the CPUs of each task (the `cpus_per_task` resource, else the rule's threads): srun
    inherits no --cpus-per-task from the allocation (Slurm >= 22.05), so each rank got one CPU."""
    launcher = str(resources.get("mpi", "") or "").strip()
    if not launcher:
        return ""
    nodes = int(resources.get("nodes", 1) or 1)
    per_node = resources.get("tasks_per_node")
    if not per_node:
        tasks = int(resources.get("tasks", 1) or 1)
        if tasks % nodes:
            raise WorkflowError(f"resources: tasks={tasks} is not a multiple of nodes={nodes}; "
                                "set tasks_per_node (= the domain's train.devices) instead")
        per_node = tasks // nodes
    cpus = int(resources.get("cpus_per_task", 0) or threads or 1)
    return f"{launcher} --nodes={nodes} --ntasks-per-node={int(per_node)} --cpus-per-task={cpus}"


# Screening helpers (rules in screening.smk): the shard list is known only after the
# `screening_shard` checkpoint has run, so these are input functions.
def screening_shard_names(wildcards):
    """Shard names from the manifest the `screening_shard` checkpoint wrote."""
    manifest = f"{checkpoints.screening_shard.get().output.shards}/shards.json"
    with open(manifest, encoding="utf-8") as fh:
        return [s["name"] for s in json.load(fh)["shards"]]


def screening_scored(wildcards):
    """Every shard's predictions file (the gather step's inputs)."""
    return expand(f"{SCREENING_SCORED}/{SCREENING_PRED}", shard=screening_shard_names(wildcards))


def screening_scored_dirs(wildcards):
    """Every shard's predict folder (gather's --shard-dirs)."""
    return expand(SCREENING_SCORED, shard=screening_shard_names(wildcards))
