"""Pipeline-level checks: the workflow parses, lints clean, and the default
pipeline runs end to end into one report with a section per domain."""

from __future__ import annotations

import subprocess
import sys

import pytest



@pytest.fixture
def snakemake(repo_root, tool_env):
    def _run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "snakemake", "--nolock", *args], cwd=repo_root,
                              env=tool_env, capture_output=True, text=True, timeout=600)

    return _run


def test_dry_run_plans_the_report(snakemake, tmp_path):
    proc = snakemake("-n", "--cores", "2", "--config", f"results_dir={tmp_path}/results")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "report" in proc.stdout


def test_a_results_folder_under_home_written_with_a_tilde_is_the_home_folder(snakemake, tmp_path, tool_env):
    """results_dir: ~/results planned every output under a folder named '~' in the working directory."""
    import os

    env_home = tool_env.get("HOME") or os.path.expanduser("~")
    proc = snakemake("-n", "--cores", "1", "--config", "results_dir=~/sciml_dry_run_results", "domains=[pde]")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{env_home}/sciml_dry_run_results/report.html" in proc.stdout
    assert "output: ~/" not in proc.stdout and " ~/sciml_dry_run_results/" not in proc.stdout


def test_lint_is_clean(snakemake):
    proc = snakemake("--lint")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_unknown_config_key_is_rejected_with_key_named(snakemake):
    proc = snakemake("-n", "--cores", "1", "--config", "materials={'no_such_key': 1}")
    assert proc.returncode != 0
    assert "materials.no_such_key' in --config:" in proc.stdout + proc.stderr


def test_a_config_error_names_the_configfile_that_set_the_key(snakemake, tmp_path):
    """With three --configfile files the error named the key only: which file to open was a guess."""
    first, overlay = tmp_path / "first.yaml", tmp_path / "overlay.yaml"
    first.write_text("materials:\n  train:\n    max_epochs: 3\n")
    overlay.write_text("materials:\n  train:\n    max_epoch: 3\n")
    proc = snakemake("-n", "--cores", "1", "--configfile", "config/config.yaml", str(first), str(overlay))
    assert proc.returncode != 0
    assert f"'materials.train.max_epoch' in {overlay}:" in proc.stdout + proc.stderr
    overlay.write_text("materials:\n  train:\n    max_epochs: -3\n")  # both set it: the later one won
    proc = snakemake("-n", "--cores", "1", "--configfile", "config/config.yaml", str(first), str(overlay))
    assert f"'materials.train.max_epochs' in {overlay}:" in proc.stdout + proc.stderr
    overlay.write_text("seed: 010\n")  # Snakemake's loader reads 8
    proc = snakemake("-n", "--cores", "1", "--configfile", "config/config.yaml", str(overlay))
    assert proc.returncode != 0 and f"in {overlay}: line 1: 010 reads as 8" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_default_pipeline_end_to_end(workflow_runner, tmp_path):
    """The README's `make run`, on the embedded data, into a report with every domain."""
    workflow_runner({})
    html = (tmp_path / "results" / "report.html").read_text()
    for domain in ("materials", "pde", "proteins"):
        assert f'id="{domain}"' in html
    assert "data:image/png;base64," in html or "data:image/svg+xml;base64," in html
    assert "Provenance" in html and "sha256" in html
    # a no-op rerun: everything is up to date
    proc = workflow_runner({}, extra_args=("-n",))
    assert "Nothing to be done" in proc.stdout + proc.stderr
