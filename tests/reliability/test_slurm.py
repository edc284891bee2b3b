"""The SLURM profile on a real (local, single-node) SLURM cluster.

`snakemake --profile profiles/slurm` runs the tiny pipeline of every domain that has landed;
every rule must become a SLURM job (checked in slurmctld's job-completion log, which lists
every finished job, and in the plugin's per-rule job logs) and the report must be produced.
Only test-local overrides are passed on the command line: no GPU for the PINN (this machine has
none; the other training rules follow the tiny configs' `accelerator: cpu`), faster status polling,
kept job logs, and a private log folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .tiny import REPO_ROOT, TINY, landed_domains, training_rules

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1800)]


def _jobcomp_entries(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields:
            entries.append(fields)
    return entries


def _profile_run(cfg_file: Path, slurm_logs: Path, prefix: str, jobs: int,
                 resources: tuple[str, ...] | list[str] = ()) -> list[str]:
    """`snakemake --profile profiles/slurm` on the tiny config, with the test-local overrides only
    (fast status polling, a private log folder and job-name prefix, `--set-resources`)."""
    return [
        sys.executable, "-m", "snakemake",
        "--profile", str(REPO_ROOT / "profiles" / "slurm"),
        "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(REPO_ROOT), "--nolock",
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(cfg_file),
        "--jobs", str(jobs), "--slurm-init-seconds-before-status-checks", "2",
        "--slurm-logdir", str(slurm_logs), "--slurm-jobname-prefix", prefix,
        *(["--set-resources", *resources] if resources else []),
    ]


def test_profile_files_are_valid_yaml_with_expected_keys() -> None:
    prof = yaml.safe_load((REPO_ROOT / "profiles" / "slurm" / "profile.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert prof["default-resources"]["mem_mb"] > 0 and prof["default-resources"]["runtime"] > 0
    for domain in landed_domains():
        for rule in training_rules(domain):
            # the GPU count comes from the rule (sciml.cluster_resources, from the config's accelerator):
            # a `gpu` here would override it, so `accelerator: cpu` would still ask for a GPU
            assert "gpu" not in prof["set-resources"][rule], f"{rule}: the GPU request belongs to the rule"
            # CPUs per job = the rule's threads (what the step runs with): a cpus_per_gpu left most idle
            assert "cpus_per_gpu" not in prof["set-resources"][rule] and prof["set-resources"][rule]["mem_mb"] > 0
    default = yaml.safe_load((REPO_ROOT / "profiles" / "default" / "profile.yaml").read_text())
    assert "executor" not in default  # the workstation profile never submits anywhere


def test_slurm_profile_runs_tiny_pipeline(slurm_cluster, tmp_path: Path) -> None:
    domains = landed_domains()
    if not domains:
        pytest.skip("no domain has landed yet (no rules)")
    results = tmp_path / "results"
    cfg = {"domains": domains, "results_dir": str(results), **{d: TINY[d] for d in domains}}
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    slurm_logs = tmp_path / "slurm_logs"
    # no training job asks for a GPU because TINY sets accelerator: cpu in every domain (the cluster
    # has no GPU and would refuse a --gpus job)
    cmd = _profile_run(cfg_file, slurm_logs, "scimltest", jobs=2) + ["--slurm-keep-successful-logs"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=slurm_cluster["env"], capture_output=True, text=True,
                          timeout=1700)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake --profile profiles/slurm failed:\n{out[-8000:]}"
    assert (results / "report.html").is_file()
    for d in domains:
        assert json.loads((results / d / "section" / "section.json").read_text())["domain"] == d

    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    # jobid -> rule, from the plugin's own submission messages
    submitted = {jid: rule for jid, rule in re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*?rule_(\w+)", out)}
    assert submitted, out[-4000:]
    jobs = {e["JobId"]: e for e in _jobcomp_entries(slurm_cluster["jobcomp"]) if e.get("Name") == run_id}
    assert set(submitted) <= set(jobs), "a submitted job is missing from slurmctld's job-completion log"
    for jid in submitted:
        assert jobs[jid]["JobState"] == "COMPLETED", jobs[jid]

    # every rule of the DAG (except the target-only `all`) ran as a SLURM job
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory",
         str(REPO_ROOT), "--nolock", "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(cfg_file),
         "--forceall", "-n", "--quiet", "rules"],
        cwd=REPO_ROOT, env=slurm_cluster["env"], capture_output=True, text=True, timeout=300)
    expected = {m for m in re.findall(r"^(\w+)\s+\d+\s*$", dry.stdout, flags=re.M)} - {"all", "total"}
    assert expected, dry.stdout
    assert set(submitted.values()) == expected
    for rule in expected:
        assert any((slurm_logs / f"rule_{rule}").rglob("*.log")), f"no SLURM job log for {rule}"


def test_slurm_two_task_job_trains_with_ddp_like_one_process(slurm_cluster, tmp_path: Path) -> None:
    """The profile's multi-GPU recipe on CPU: `mpi: srun` + `tasks: 2` make the fold one SLURM
    job of 2 tasks whose shell starts `srun --ntasks=2 sciml materials train ...`, and Lightning's
    SLURMEnvironment (not its own launcher) sets the 2 ranks from srun's variables. The fold must
    agree with one process of the same global batch, as the plain DDP test demands."""
    from .test_ddp import RTOL, _assert_close_curves, _materials_args, _materials_cfg, _run

    results = tmp_path / "results"
    cfg = {"domains": ["materials"], "results_dir": str(results),
           "materials": json.loads(_materials_cfg(2, 4, 2))}
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    cmd = _profile_run(cfg_file, tmp_path / "slurm_logs", "scimlddp", jobs=1,
                       resources=["materials_train_fold:mpi='srun'",
                                  "materials_train_fold:tasks=2"])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=slurm_cluster["env"], capture_output=True, text=True,
                          timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"2-task SLURM training failed:\n{out[-8000:]}"
    assert "srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 sciml materials train" in out, out[-4000:]
    fold = results / "materials" / "folds" / "fold_0"
    log = (results / "logs" / "materials_train_fold_0.log").read_text()
    # both ranks initialised inside the one job, from srun's variables
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log, log[-4000:]
    assert "world_size=2 num_nodes=1 devices_per_node=2" in log and "cluster_environment=SLURMEnvironment" in log, \
        log[-4000:]
    assert (results / "report.html").is_file()

    # the same fold in one process with the same global batch (8 = 2 ranks x 4)
    single = tmp_path / "single"
    _run(_materials_args(_materials_cfg(1, 8, 2), single, tmp_path / "ck_single", tmp_path / "cache"), tmp_path,
         tmp_path / "single.log")
    m_slurm = json.loads((fold / "metrics.json").read_text())
    m_one = json.loads((single / "metrics.json").read_text())
    assert m_slurm["ensemble"]["size"] == 2 and m_slurm["n_fit"] == m_one["n_fit"]
    for a, b in zip(m_slurm["ensemble"]["members"], m_one["ensemble"]["members"]):
        assert a["best_val_loss"] == pytest.approx(b["best_val_loss"], rel=RTOL)
        assert a["test_mae"] == pytest.approx(b["test_mae"], abs=1e-4)
    _assert_close_curves(fold / "logs" / "version_0" / "metrics.csv", single / "logs" / "version_0" / "metrics.csv")


@pytest.mark.parametrize("resources, expected", [
    ([], " sciml materials train"),
    (["materials_train_fold:mpi='srun'", "materials_train_fold:tasks=2"],
     "srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 sciml materials train"),
    (["materials_train_fold:mpi='srun'", "materials_train_fold:nodes=2", "materials_train_fold:tasks_per_node=4"],
     "srun --nodes=2 --ntasks-per-node=4 --cpus-per-task=1 sciml materials train"),
    # each rank gets the job's CPUs per task (srun inherits no -c: every rank had one CPU)
    (["materials_train_fold:mpi='srun'", "materials_train_fold:tasks=2", "materials_train_fold:cpus_per_task=4"],
     "srun --nodes=1 --ntasks-per-node=2 --cpus-per-task=4 sciml materials train"),
    (["materials_train_fold:mpi='srun'", "materials_train_fold:nodes=2", "materials_train_fold:tasks=3"],
     "tasks=3 is not a multiple of nodes=2"),
])
def test_training_command_launcher_follows_the_mpi_resource(resources, expected, tmp_path: Path) -> None:
    """Without `mpi` the fold is one process; with it, srun starts nodes x tasks-per-node ranks."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", "--forceall", "--nolock",
           "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(REPO_ROOT),
           "--config", "domains=[materials]", f"results_dir={tmp_path}"]
    if resources:
        cmd += ["--set-resources", *resources]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert expected in out, out[-3000:]
    if not resources:
        assert "srun" not in out
