"""Per domain that trains, through the real Snakefile on CPU:

- reproducibility: the same config and seed, run twice, give byte-identical metrics files
  (final metrics JSON and the per-epoch learning curves);
- resume: SIGKILL the pipeline mid-training once a ``last.ckpt`` exists, rerun the same
  command; training resumes from the checkpoint (kept outside the declared outputs) and the
  final metrics and learning curves equal those of the uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import helpers
from .tiny import SPEC, TINY, landed_domains, training_rules

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(1800)]

TRAINING_DOMAINS = [d for d in landed_domains() if training_rules(d)]

#: A domain whose run is known to differ, with the reason reported to the lead.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _params():
    if not TRAINING_DOMAINS:
        return [pytest.param("none", marks=pytest.mark.skip(reason="no domain with a training rule has landed"))]
    out = []
    for d in TRAINING_DOMAINS:
        out.append(d)
    return out


def _xfail_if_known(request, domain: str, kind: str) -> None:
    reason = KNOWN_FAILURES.get((domain, kind))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory):
    """One uninterrupted run per domain (shared by both tests), computed lazily."""
    cache: dict[str, tuple[Path, dict[str, bytes], dict[str, bytes]]] = {}

    def get(domain: str):
        if domain not in cache:
            folder = tmp_path_factory.mktemp(f"{domain}_reference")
            cfg_file, results = helpers.write_config(folder, domain, TINY[domain])
            helpers.run(helpers.snakemake_cmd(cfg_file, results, domain))
            cache[domain] = (results, helpers.metrics_files(results, domain),
                             helpers.metrics_files(results, domain, curves=False))
        return cache[domain]

    return get


@pytest.mark.parametrize("domain", _params())
def test_two_runs_same_seed_identical_metrics(domain: str, reference_runs, tmp_path: Path, request) -> None:
    _xfail_if_known(request, domain, "reproducibility")
    _, first, _ = reference_runs(domain)
    assert first, f"{domain} wrote no metrics files"
    cfg_file, results = helpers.write_config(tmp_path, domain, TINY[domain])
    helpers.run(helpers.snakemake_cmd(cfg_file, results, domain))
    second = helpers.metrics_files(results, domain)
    diff = helpers.first_difference(first, second)
    assert not diff, f"{domain}: two runs with the same seed differ: {diff}"


@pytest.mark.parametrize("domain", _params())
def test_sigkill_mid_training_then_rerun_resumes_to_same_metrics(domain: str, reference_runs, tmp_path: Path,
                                                                 request) -> None:
    _xfail_if_known(request, domain, "resume")
    _, full_reference, reference = reference_runs(domain)
    cfg_file, results = helpers.write_config(tmp_path, domain, TINY[domain])
    cmd = helpers.snakemake_cmd(cfg_file, results, domain)
    ckpt_root = results / ".checkpoints"

    ckpt_name = SPEC[domain]["checkpoint"]

    def has_last_ckpt() -> bool:
        return ckpt_root.is_dir() and any(ckpt_root.rglob(ckpt_name))

    killed = helpers.run_and_kill_when(cmd, has_last_ckpt)
    assert killed, (f"{domain}: training finished before a {ckpt_name} appeared in {ckpt_root}; "
                    "checkpoints must be written every epoch outside the declared outputs")
    assert not (results / domain / "section" / "section.json").exists()
    partial = helpers.metrics_files(results, domain, curves=False)
    assert partial != reference, "the pipeline had already finished when it was killed"

    proc = helpers.run(cmd)  # the very same command
    logs = "\n".join(p.read_text(errors="replace") for rule in training_rules(domain)
                     for p in (results / "logs").glob(f"{rule}*.log"))
    assert any(marker in logs for marker in SPEC[domain]["resumed"]), (
        f"{domain}: the rerun did not resume from {ckpt_name}:\n{logs[-3000:]}\n{proc.stdout[-2000:]}")
    resumed = helpers.metrics_files(results, domain)  # the learning curves too: they travel in the checkpoint
    diff = helpers.first_difference(full_reference, resumed)
    assert not diff, f"{domain}: resumed run differs from the uninterrupted one: {diff}"
