"""sciml.config: YAML loading, schema validation (unknown keys, wrong types), defaults."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciml.config import domain_section, load_config, load_yaml, merge_yaml_files, merged, schema_for, validate
from sciml.errors import ConfigError

DOMAINS = ("materials", "pde", "proteins")


def test_defaults_are_filled_for_an_empty_config() -> None:
    cfg = validate({})
    assert cfg["data_root"] == "data"
    assert cfg["results_dir"] == "results"
    assert cfg["domains"] == ["materials", "pde", "proteins"]
    for d in DOMAINS:
        # each domain section is filled with its own defaults (at least the seed)
        assert isinstance(cfg[d], dict)
        assert cfg[d]["seed"] == 0


def test_validate_fills_defaults_in_place_and_keeps_given_values() -> None:
    cfg = {"results_dir": "out", "pde": {"seed": 7}}
    out = validate(cfg)
    assert out is cfg
    assert cfg["results_dir"] == "out"
    assert cfg["pde"]["seed"] == 7
    assert cfg["materials"]["seed"] == 0


def test_default_values_are_not_shared_between_calls() -> None:
    a = validate({})
    a["domains"].append("mutated")
    b = validate({})
    assert b["domains"] == ["materials", "pde", "proteins"]


def test_unknown_top_level_key_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        validate({"result_dir": "x"})
    assert info.value.key == "result_dir"
    assert "unknown key" in str(info.value)
    assert "results_dir" in str(info.value)  # the message lists the valid keys


@pytest.mark.parametrize("domain", DOMAINS)
def test_unknown_domain_key_is_named_with_dotted_path(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate({domain: {"definitely_not_a_key": 1}})
    assert info.value.key == f"{domain}.definitely_not_a_key"


@pytest.mark.parametrize("domain", DOMAINS)
def test_wrong_type_is_named(domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate({domain: {"seed": "zero"}})
    assert info.value.key == f"{domain}.seed"
    assert "'zero' is not of type 'integer'" in str(info.value)


def test_enum_violation_names_the_list_item() -> None:
    with pytest.raises(ConfigError) as info:
        validate({"domains": ["materials", "chemistry"]})
    assert info.value.key == "domains.1"


def test_non_mapping_config_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        validate(["a", "list"])  # type: ignore[arg-type]
    assert info.value.key == "<root>"


def test_every_schema_key_has_a_description_and_no_extra_properties() -> None:
    """The schemas are the documentation: every key described, unknown keys refused. One open map is allowed
    where its keys name things the schema cannot list (pde.params: a plugin problem's name), described, with
    its keys checked when they are used (tests/pde/test_user_problem_fixes.py)."""
    open_maps = {"pde.params"}

    def walk(node: dict, where: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            extra = node.get("additionalProperties")
            assert extra is False or (where in open_maps and extra.get("description")), \
                f"{where}: additionalProperties must be false"
            for key, sub in node["properties"].items():
                assert sub.get("description"), f"{where}.{key}: no description"
                walk(sub, f"{where}.{key}")
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")

    walk(schema_for(), "<root>")
    for d in DOMAINS:
        walk(schema_for(d), d)


def test_load_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data_root: data\nresults_dir: [unclosed\nother: 1\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(bad)
    msg = str(info.value)
    assert str(bad) in msg
    assert "line " in msg


def test_load_yaml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)


def test_load_yaml_binary_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.yaml"
    bad.write_bytes(b"\xff\xfe\x00\x81binary\x00")
    with pytest.raises(ConfigError) as info:
        load_yaml(bad)
    assert "garbage.yaml" in str(info.value)


def test_load_yaml_refuses_python_tags(tmp_path: Path) -> None:
    """safe_load: a YAML file cannot construct Python objects (no code execution)."""
    evil = tmp_path / "evil.yaml"
    evil.write_text("data_root: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):
        load_yaml(evil)


def test_load_config_validates_with_file_named(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("domains: [pde]\npde: {seed: -1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg_file)
    assert info.value.key == "pde.seed"
    assert str(cfg_file) in str(info.value)


def test_repo_default_config_is_valid(repo_root: Path) -> None:
    cfg = load_config(repo_root / "config" / "config.yaml")
    assert set(cfg["domains"]) <= set(DOMAINS)


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parent.parent / "config" / "benchmarks").glob("*.yaml")))
def test_every_benchmark_config_is_valid(repo_root: Path, name: str) -> None:
    """Each documented benchmark command runs on a config the schema accepts (merged as Snakemake does).

    An overlay's header documents its command; the config files after its ``--configfile`` are merged in
    that order (an overlay of an overlay needs the whole chain); a file without one is merged alone."""
    path = repo_root / "config" / "benchmarks" / name
    chain = [f"config/benchmarks/{name}"]
    for line in path.read_text().splitlines():
        if line.startswith("#") and "--configfile" in line:
            chain = [w for w in line.split("--configfile", 1)[1].split() if w.endswith(".yaml")]
            break
    assert f"config/benchmarks/{name}" in chain, (name, chain)  # the documented command uses this file
    base = merge_yaml_files([repo_root / f for f in chain], into=load_yaml(repo_root / "config" / "config.yaml"))
    cfg = validate(base)
    assert cfg["domains"], name


def test_domain_section_from_json_and_file(tmp_path: Path) -> None:
    assert domain_section("pde", json.dumps({"seed": 3}))["seed"] == 3
    whole = tmp_path / "whole.yaml"
    whole.write_text("pde: {seed: 4}\n")
    assert domain_section("pde", config_file=whole)["seed"] == 4
    only = tmp_path / "only.yaml"
    only.write_text("seed: 5\n")
    assert domain_section("pde", config_file=only)["seed"] == 5
    assert domain_section("pde")["seed"] == 0


def test_domain_section_takes_a_notebooks_dict_with_paths(tmp_path: Path) -> None:
    cfg = domain_section("materials", {"dataset": {"path": Path("my.csv"), "limit": 5}})
    assert cfg["dataset"]["path"] == "my.csv" and cfg["dataset"]["limit"] == 5 and cfg["seed"] == 0
    # a dict and overrides merge (overrides last); a misspelt key is refused as in a file
    cfg = domain_section("materials", {"seed": 1, "dataset": {"limit": 5}}, overrides={"seed": 2})
    assert (cfg["seed"], cfg["dataset"]["limit"]) == (2, 5)
    with pytest.raises(ConfigError, match="materials.dataset.pth"):
        domain_section("materials", {"dataset": {"pth": "x.csv"}})


def test_domain_section_bad_json_names_domain() -> None:
    with pytest.raises(ConfigError) as info:
        domain_section("pde", "{not json")
    assert info.value.key == "pde"


def test_domain_section_unknown_key_dotted() -> None:
    with pytest.raises(ConfigError) as info:
        domain_section("proteins", json.dumps({"sed": 1}))
    assert info.value.key == "proteins.sed"
    assert info.value.source == "--config-json"


def test_domain_section_overrides_are_merged_and_validated(tmp_path: Path) -> None:
    """A notebook's changes go through the schema: a misspelt key is refused, not silently ignored."""
    cfg = domain_section("pde", json.dumps({"seed": 3}), overrides={"pinn": {"lbfgs_iterations": 50}})
    assert cfg["seed"] == 3 and cfg["pinn"]["lbfgs_iterations"] == 50
    assert cfg["pinn"]["adam_iterations"] == domain_section("pde")["pinn"]["adam_iterations"]  # the rest: defaults
    with pytest.raises(ConfigError) as info:
        domain_section("pde", overrides={"pinn": {"lbfgs_iteration": 50}})
    assert info.value.key == "pde.pinn.lbfgs_iteration" and info.value.source == "overrides"


# ---------------------------------------------------------------- property-based

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=12), _json_values, max_size=5))
def test_validate_never_crashes_on_arbitrary_mappings(instance: dict) -> None:
    """Any mapping either validates (and then has every top-level default) or raises ConfigError."""
    try:
        out = validate(dict(instance))
    except ConfigError as exc:
        assert isinstance(exc.key, str) and str(exc).startswith(f"config key '{exc.key}'")
    else:
        assert {"data_root", "results_dir", "domains"} <= set(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable + "äéøß中\u200b\ufeff", max_size=200))
def test_load_yaml_never_crashes_on_arbitrary_text(tmp_path_factory, text: str) -> None:
    """Arbitrary text parses to a value or raises ConfigError naming the file."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_yaml(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DOMAINS), st.text(min_size=1, max_size=15), _json_values)
def test_unknown_domain_keys_are_always_named(domain: str, key: str, value) -> None:
    if key in schema_for(domain).get("properties", {}):
        return
    with pytest.raises(ConfigError) as info:
        validate({domain: {key: value}})
    assert info.value.key == f"{domain}.{key}"


def test_yaml_round_trip_of_defaults_is_stable() -> None:
    """The resolved default config survives a YAML dump/load unchanged (what Snakemake sees)."""
    cfg = validate({})
    again = validate(yaml.safe_load(yaml.safe_dump(cfg)))
    assert again == cfg


def test_merge_yaml_files_deep_merges_overlays_in_order(tmp_path: Path) -> None:
    base, over = tmp_path / "base.yaml", tmp_path / "over.yaml"
    base.write_text("results_dir: a\nproteins:\n  network: {blocks: 6, channels: 24}\n  targets: [x]\n")
    over.write_text("results_dir: b\nproteins:\n  network: {blocks: 12}\n")
    merged = merge_yaml_files([base, over])
    assert merged == {"results_dir": "b", "proteins": {"network": {"blocks": 12, "channels": 24}, "targets": ["x"]}}
    assert merge_yaml_files([over, base])["proteins"]["network"]["blocks"] == 6


def test_merged_returns_a_deep_merge_and_leaves_its_inputs_alone() -> None:
    base = {"pinn": {"lr": 1e-3, "fourier": {"enabled": False, "scale": 1.0}}, "problems": ["burgers"]}
    over = {"pinn": {"fourier": {"enabled": True}}, "problems": ["allen_cahn"]}
    out = merged(base, over, {"seed": 3})
    assert out == {"pinn": {"lr": 1e-3, "fourier": {"enabled": True, "scale": 1.0}}, "problems": ["allen_cahn"],
                   "seed": 3}
    assert base["pinn"]["fourier"]["enabled"] is False and base["problems"] == ["burgers"]
    out["problems"].append("x")
    assert over["problems"] == ["allen_cahn"]


ON_KEY_YAML = """
pde:
  problems: [poisson1d]
  evaluation: {timing_repeats: 1}
  pinn: {width: 8, depth: 1, num_domain: 32, num_boundary: 8, adam_iterations: 10, lbfgs_iterations: 0,
         checkpoint_every: 10}
  declared:
    poisson1d:
      geometry: {type: interval, low: 0, high: 1}
      fields: [u]
      equations: ["u_xx + pi**2*sin(pi*x)"]
      conditions:
        - {type: dirichlet, on: left, value: 0}
        - {type: dirichlet, on: right, value: 0}
      solution: {u: "sin(pi*x)"}
"""


def test_unquoted_on_key_is_restored_where_the_snakefile_validates() -> None:
    """YAML 1.1 reads `on:` as True; the whole-config validation common.smk runs (in place, on
    Snakemake's `config`) turns it back, so section_json's sort_keys dump works."""
    cfg = yaml.safe_load(ON_KEY_YAML)
    assert True in cfg["pde"]["declared"]["poisson1d"]["conditions"][0]
    validate(cfg, source="config")
    cond = cfg["pde"]["declared"]["poisson1d"]["conditions"]
    assert cond[0] == {"type": "dirichlet", "on": "left", "value": 0, "derivative_order": 0}
    assert list(cond[1])[:3] == ["type", "on", "value"]  # the key order is kept
    section = json.dumps(cfg["pde"], sort_keys=True)  # what section_json passes as --config-json
    again = domain_section("pde", section)
    assert again["declared"]["poisson1d"]["conditions"][1]["on"] == "right"


def test_on_key_given_both_quoted_and_unquoted_is_refused() -> None:
    cfg = yaml.safe_load(ON_KEY_YAML)
    cfg["pde"]["declared"]["poisson1d"]["conditions"][0]["on"] = "right"
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert info.value.key == "pde.declared.poisson1d.conditions[0].on" and "twice" in str(info.value)


def test_unquoted_on_key_runs_through_the_cli_with_config_file(tmp_path: Path, capsys) -> None:
    """`sciml pde solve/train --config file.yaml` with the documented `on: left` (a YAML bool key):
    provenance and the checkpoint key dump the config with sort_keys."""
    from sciml.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(ON_KEY_YAML)
    common = ["--config", str(path), "--problem", "poisson1d"]
    assert main(["pde", "solve", *common, "--out-dir", str(tmp_path / "solve")]) == 0
    assert main(["pde", "train", *common, "--out-dir", str(tmp_path / "train"),
                 "--checkpoint-dir", str(tmp_path / "ckpt")]) == 0, capsys.readouterr().err
    prov = json.loads((tmp_path / "solve" / "provenance.json").read_text())
    assert '"on": "left"' in json.dumps(prov)
    assert (tmp_path / "train" / "train.json").is_file()


def test_values_as_yaml_and_snakemake_write_them_mean_what_they_say():
    """A whole float where an integer is wanted (width: 20.0 crashed torch, folds: [0.0] named fold_0.0), and
    null/true/false that Snakemake's --config passes as text when nested (unit: 'null' was the unit 'null')."""
    from sciml.config import domain_section

    pde = domain_section("pde", {"pinn": {"width": 20.0, "hard_constraints": "false", "num_test": "null"}})
    assert pde["pinn"]["width"] == 20 and isinstance(pde["pinn"]["width"], int)
    assert pde["pinn"]["hard_constraints"] is False and pde["pinn"]["num_test"] is None
    mat = domain_section("materials", {"cv": {"folds": [0.0, 1.0]}, "dataset": {"unit": "null", "transform": "none"},
                                       "train": {"lr": 1.0, "devices": "0,1"}})
    assert mat["cv"]["folds"] == [0, 1] and all(isinstance(f, int) for f in mat["cv"]["folds"])
    assert mat["dataset"]["unit"] is None and mat["dataset"]["transform"] == "none"  # an enum word stays
    assert mat["train"]["lr"] == 1.0 and isinstance(mat["train"]["lr"], float)


@pytest.mark.parametrize("section, over, message", [
    ("materials", {"train": {"devices": 0}}, "materials.train.devices"),
    ("materials", {"train": {"devices": "banana"}}, "materials.train.devices"),
    ("materials", {"train": {"accelerator": "gpuu"}}, "materials.train.accelerator"),
    ("proteins", {"network": {"devices": -2}}, "proteins.network.devices"),
    ("materials", {"screening": {True: 1}}, r"materials\.screening\.True.*read.*as a boolean.*quote it"),
])
def test_trainer_settings_and_keys_yaml_reads_as_booleans_are_refused_naming_the_key(section, over, message):
    """devices: 0 or accelerator: gpuu failed late with a Lightning traceback; a bare key `on:` crashed
    validation with a TypeError (a bool among the str keys)."""
    from sciml.config import domain_section

    with pytest.raises(ConfigError, match=message):
        domain_section(section, over)


def test_a_whole_config_given_to_the_cli_is_checked_at_its_top_level(tmp_path):
    """A misspelt data_root in a whole pipeline config given with --config was ignored (the built-in dataset
    was prepared); a whole config without the domain's section was read as that section."""
    from sciml.config import domain_section

    typo = tmp_path / "typo.yaml"
    typo.write_text("data_rot: /somewhere\nmaterials: {dataset: {limit: 5}}\n")
    with pytest.raises(ConfigError, match="data_rot.*unknown key") as err:
        domain_section("materials", config_file=typo)
    assert str(typo) in str(err.value)
    other = tmp_path / "other.yaml"
    other.write_text("data_root: data\ndomains: [pde]\n")
    assert domain_section("pde", config_file=other)["problems"] == domain_section("pde")["problems"]
    section_only = tmp_path / "section.yaml"
    section_only.write_text("train: {max_epochs: 2}\n")
    assert domain_section("materials", config_file=section_only)["train"]["max_epochs"] == 2


def test_a_domain_section_with_every_key_commented_out_means_its_defaults():
    """`materials:` alone (its keys commented out) is null in YAML: the workflow refused 'None is not of type
    object'."""
    cfg = validate(yaml.safe_load("domains: [materials]\nmaterials:\n#  train: {lr: 0.01}\n"))
    assert cfg["materials"]["train"]["lr"] == domain_section("materials")["train"]["lr"]


@pytest.mark.parametrize("text, read_as", [("seed: 010", "8"), ("runtime: 1:30", "90")])
def test_yaml_11_octal_and_base_60_numbers_are_refused_naming_file_and_line(tmp_path, text, read_as):
    """PyYAML and Snakemake read `seed: 010` as 8 and `1:30` as 90, without a word."""
    from sciml.config import load_yaml

    path = tmp_path / "mine.yaml"
    path.write_text("domains: [pde]\n" + text + "\n")
    with pytest.raises(ConfigError, match=f"line 2: {text.split(': ')[1]} reads as {read_as} in YAML 1.1") as err:
        load_yaml(path)
    assert str(path) in str(err.value)
    path.write_text("seed: 10\nzero: 00\nseven: 07\nquoted: '010'\n")  # what they mean, read as they say
    assert load_yaml(path) == {"seed": 10, "zero": 0, "seven": 7, "quoted": "010"}
