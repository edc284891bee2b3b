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
    assert "materials.no_such_key" in proc.stdout + proc.stderr


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
