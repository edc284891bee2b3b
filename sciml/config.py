"""Configuration: YAML loading, JSON-schema validation with defaults, per-domain sections.

The schema lives in ``sciml/schemas/`` (``config.schema.yaml`` plus one file per
domain, joined by ``$ref``) so that the Snakefile and a standalone ``sciml`` command
validate the same way. Unknown keys and wrong types are rejected with the key named.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sciml.errors import ConfigError

SCHEMA_PACKAGE = "sciml.schemas"
ROOT_SCHEMA = "config.schema.yaml"


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file with ``yaml.safe_load``; errors name the file and line."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("<file>", "file not found", source=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("<file>", f"cannot read ({exc})", source=path) from None
    try:
        loader = _loader_refusing_yaml11_numbers(path)(text)  # a SafeLoader subclass: no arbitrary objects
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError("<yaml>", f"{where}{getattr(exc, 'problem', exc)}", source=path) from None


def _loader_refusing_yaml11_numbers(path: Path) -> Any:
    """A ``yaml.SafeLoader`` that refuses the YAML 1.1 numbers nobody means: a leading zero (``seed: 010`` is the
    octal 8) and base 60 (``1:30`` is 90), which PyYAML and Snakemake's config loader read without a word.
    The error names the file, line and the value to write instead."""
    import re

    import yaml

    surprising = re.compile(r"^[-+]?(0[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)$")

    class Loader(yaml.SafeLoader):
        pass

    def checked(kind: str) -> Any:
        base = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

        def construct(loader: Any, node: Any) -> Any:
            value = base(loader, node)
            text = str(node.value)
            if surprising.match(text) and (":" in text or value != int(text.replace("_", ""), 10)):
                how = ("base 60: quote it for text such as a time" if ":" in text
                       else "octal: write it without the leading zero, or quote it for text")
                raise ConfigError("<yaml>", f"line {node.start_mark.line + 1}: {text} reads as {value} in YAML 1.1 "
                                            f"(PyYAML and Snakemake read it so; {how})", source=path)
            return value
        return construct

    Loader.add_constructor("tag:yaml.org,2002:int", checked("int"))
    Loader.add_constructor("tag:yaml.org,2002:float", checked("float"))
    return Loader


def merge_yaml_files(paths: list[str | Path], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """A base config and its overlays merged in order (later files win), with the deep merge Snakemake applies
    to its ``--configfile`` list; ``into`` (modified and returned) is the starting dict. Not validated."""
    from snakemake.utils import update_config

    whole: dict[str, Any] = {} if into is None else into
    for path in paths:
        update_config(whole, load_yaml(path) or {})
    return whole


def merged(base: dict[str, Any], *overlays: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``overlays`` deep-merged in order (later wins), as Snakemake merges
    ``--config`` and ``--configfile``. Neither ``base`` nor an overlay is modified. Not validated."""
    import copy

    from snakemake.utils import update_config

    out = copy.deepcopy(base)
    for overlay in overlays:
        update_config(out, copy.deepcopy(overlay))
    return out


@lru_cache(maxsize=None)
def _schema_registry() -> tuple[dict[str, Any], Any]:
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    folder = resources.files(SCHEMA_PACKAGE)
    registry = Registry()
    root = None
    for entry in folder.iterdir():
        if not entry.name.endswith(".schema.yaml"):
            continue
        schema = yaml.safe_load(entry.read_text(encoding="utf-8"))
        # Every file is Draft 7; a `$schema` key would make jsonschema switch to its stock
        # validator class when descending into a $ref, which would skip default-filling.
        schema.pop("$schema", None)
        registry = registry.with_resource(entry.name, Resource.from_contents(schema, DRAFT7))
        if entry.name == ROOT_SCHEMA:
            root = schema
    if root is None:
        raise RuntimeError(f"{ROOT_SCHEMA} missing from {SCHEMA_PACKAGE}")
    return root, registry


def schema_for(name: str | None = None) -> dict[str, Any]:
    """The root schema, or the schema file ``<name>.schema.yaml`` for one domain."""
    root, registry = _schema_registry()
    if name is None:
        return root
    return registry.contents(f"{name}.schema.yaml")


def _validator_with_defaults(schema: dict[str, Any]):
    """A Draft-7 validator that also fills ``default`` values into the instance, and knows one keyword
    of ours: ``uniqueNames: true`` on an array of objects refuses two items with the same ``name``
    (names become job and file names: a second entry would be dropped or overwrite the first).

    This is the extension pattern from the jsonschema docs (Snakemake's ``validate``
    does the same), written here so the CLI and the Snakefile agree on defaults.
    """
    from jsonschema import Draft7Validator, ValidationError, validators

    _, registry = _schema_registry()
    validate_properties = Draft7Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(prop, json.loads(json.dumps(subschema["default"])))
        yield from validate_properties(validator, properties, instance, schema)

    def unique_names(validator, enabled, instance, schema):
        seen: dict[Any, int] = {}
        for i, item in enumerate(instance if enabled and isinstance(instance, list) else []):
            name = item.get("name") if isinstance(item, dict) else None
            if name is not None and name in seen:
                yield ValidationError(f"name {name!r} is given twice (items {seen[name]} and {i}); names become "
                                      "job and file names, so each must be unique")
            seen.setdefault(name, i)

    validate_type = Draft7Validator.VALIDATORS["type"]

    def type_of_written_value(validator, types, instance, schema):
        """The schema's ``type``, and two values that pass it but are not what the key means: a whole float
        where only an integer is wanted (JSON Schema counts 20.0 as an integer; torch and fold names do not),
        and the text ``null``/``~`` where null is allowed (Snakemake's ``--config`` passes a nested null as
        text). :func:`_numbers_from_strings` turns both into what they say before the final validation."""
        yield from validate_type(validator, types, instance, schema)
        allowed = types if isinstance(types, list) else [types]
        if isinstance(instance, float) and instance.is_integer() and "integer" in allowed and "number" not in allowed:
            yield ValidationError(f"{instance!r} is a whole float where an integer is wanted")
        elif isinstance(instance, str) and instance.strip().lower() in _NULL_TEXT and "null" in allowed:
            yield ValidationError(f"{instance!r} is the text of null")

    cls = validators.extend(Draft7Validator, {"properties": set_defaults, "uniqueNames": unique_names,
                                              "type": type_of_written_value})
    return cls(schema, registry=registry)


def restore_on_keys(instance: dict[str, Any], source: str | Path | None = None, prefix: str = "") -> None:
    """Turn the key ``True`` (or ``"true"``) of every ``pde.declared.<name>.conditions`` entry back
    into ``"on"``, in place and keeping the key order. YAML 1.1 (PyYAML, Snakemake) reads a bare
    key ``on`` as the boolean True, and a dict mixing bool and str keys cannot be dumped with
    ``sort_keys`` (provenance, checkpoint keys, the rules' ``--config-json``). ``instance`` is a
    whole config (``prefix`` empty) or the ``pde`` section (``prefix`` "pde")."""
    section = instance if prefix == "pde" else (instance.get("pde") if not prefix else None)
    declared = section.get("declared") if isinstance(section, dict) else None
    if not isinstance(declared, dict):
        return
    for name, spec in declared.items():
        conditions = spec.get("conditions") if isinstance(spec, dict) else None
        for i, cond in enumerate(conditions if isinstance(conditions, list) else []):
            if not isinstance(cond, dict) or not any(k is True or k == "true" for k in cond):
                continue
            keys = [k for k in cond if k is True or k == "true" or k == "on"]
            if len(keys) > 1:
                raise ConfigError(f"pde.declared.{name}.conditions[{i}].on",
                                  "given twice (a bare YAML key `on` reads as true: quote it, \"on\": ...)", source)
            items = [("on" if k is True or k == "true" else k, v) for k, v in cond.items()]
            cond.clear()
            cond.update(items)


#: A decimal number written as text: YAML 1.1 (PyYAML, Snakemake's config loader) reads ``1e-3`` as a
#: string, and Snakemake's ``--config`` passes numbers nested in a mapping as strings.
_NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


#: Snakemake's ``--config`` passes ``null`` and booleans nested in a mapping (``{unit: null}``) as text: what the
#: words mean where the schema allows null (whatever else it allows) or a boolean (and no string).
_NULL_TEXT = ("null", "~")
_BOOLEAN_TEXT = {"true": True, "false": False}


def number_from_text(value: Any) -> Any:
    """``value``, or the number a string such as ``"1e-3"`` or ``"3"`` writes (an int when written without a
    point or exponent): for values the schema leaves free-form (a plugin's params, a declared geometry), which
    YAML 1.1 reads as strings when written ``1e-3``."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and not any(c in value for c in ".eE") else number
    return value


def quoted_json(value: Any) -> str:
    """``value`` as the rules pass a config to a step's ``--config-json``: JSON with sorted keys (a stable
    Snakemake params value), shell-quoted."""
    import shlex

    return shlex.quote(json.dumps(value, sort_keys=True))


def _numbers_from_strings(instance: dict[str, Any], validator: Any) -> None:
    """Turn, in place, each string such as ``"1e-3"`` or ``"3"`` that sits where the schema wants a number
    (or an integer, when it is whole) into that number, so ``lr: 1e-3`` in a YAML file means 0.001 and
    ``--config 'materials={train: {max_epochs: 3}}'`` means 3; a whole float where the schema wants an integer
    (``width: 20.0``, ``folds: [0.0]``) into the integer (torch and the fold names need one); the text
    ``null``/``~`` where the schema allows null, and ``true``/``false`` where it wants a boolean and no string
    (``--config`` passes ``{unit: null}`` nested in a mapping as the text "null"). Any other string where a
    string may stand is kept."""
    for _ in range(1000):  # each pass fixes every such value it sees; nested ones may need another pass
        fixes = []
        for err in validator.iter_errors(instance):
            if err.validator != "type":
                continue
            types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            if isinstance(err.instance, float) and "integer" in types and err.instance.is_integer():
                fixes.append((list(err.absolute_path), int(err.instance)))
                continue
            if not isinstance(err.instance, str):
                continue
            word = err.instance.strip().lower()
            if word in _NULL_TEXT and "null" in types:
                fixes.append((list(err.absolute_path), None))
                continue
            if word in _BOOLEAN_TEXT and "boolean" in types and "string" not in types:
                fixes.append((list(err.absolute_path), _BOOLEAN_TEXT[word]))
                continue
            if not _NUMBER_TEXT.fullmatch(err.instance.strip()):
                continue
            value = float(err.instance)
            if "integer" in types and value.is_integer():
                fixes.append((list(err.absolute_path), int(value)))
            elif "number" in types:
                fixes.append((list(err.absolute_path), value))
        if not fixes:
            return
        for path, value in fixes:
            parent = instance
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value


def validate(instance: dict[str, Any], schema: dict[str, Any] | None = None,
             source: str | Path | None = None, prefix: str = "") -> dict[str, Any]:
    """Validate ``instance`` (in place, filling defaults, a pde condition's key True turned back
    into "on": :func:`restore_on_keys`) and return it. Both the CLI (:func:`domain_section`) and
    the Snakefile (``workflows/rules/common.smk``) pass through here before anything is dumped.

    Raises :class:`ConfigError` naming the first offending key (dotted path).
    """
    schema = schema if schema is not None else schema_for()
    if instance is None:
        instance = {}
    if not isinstance(instance, dict):
        raise ConfigError(prefix or "<root>", "must be a mapping of keys to values", source)
    if not prefix:  # a domain section with every key commented out (`materials:` alone) is read as null
        for domain in ("materials", "pde", "proteins"):
            if domain in instance and instance[domain] is None:
                instance[domain] = {}
    restore_on_keys(instance, source, prefix)
    validator = _validator_with_defaults(schema)
    _numbers_from_strings(instance, validator)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = [prefix] if prefix else []
        path += [str(p) for p in err.absolute_path]
        key = ".".join(path) or "<root>"
        if err.validator == "additionalProperties":
            extra = sorted((k for k in err.instance if k not in err.schema.get("properties", {})), key=str)
            known = ", ".join(sorted(err.schema.get("properties", {})))
            key = ".".join(path + [str(k) for k in extra[:1]])
            quote = (" (YAML 1.1 reads a bare key on/off/yes/no/y/n as a boolean, and a number as a number: "
                     "quote it)") if extra and not isinstance(extra[0], str) else ""
            raise ConfigError(key, f"unknown key{quote} (known keys here: {known})", source)
        desc = err.schema.get("description")
        msg = err.message + (f" — {desc}" if desc else "")
        raise ConfigError(key, msg, source)
    return instance


def validate_workflow_config(config: dict[str, Any], overrides: dict[str, Any] | None,
                             loaded: list[str | Path], given: list[str | Path]) -> dict[str, Any]:
    """:func:`validate` for the Snakefile, whose ``config`` merges its own ``configfile:`` (in
    ``loaded``, Snakemake's ``workflow.configfiles``), the ``--configfile`` files (``given``, in order)
    and ``--config`` (``overrides``): an error names where the offending key was set, looking where
    the value that won came from first."""
    for path in loaded:  # YAML 1.1 numbers Snakemake's loader read silently (seed: 010 is 8): named here
        load_yaml(path)
    try:
        return validate(config, source="config (after --configfile/--config)")
    except ConfigError as err:
        given = [str(p) for p in given]
        by_precedence = [str(p) for p in loaded if str(p) not in given] + given
        raise ConfigError(err.key, err.detail, _key_origin(err.key, overrides, by_precedence)) from None


def _key_origin(key: str, overrides: dict[str, Any] | None, configfiles: list[str | Path]) -> str:
    """Where dotted ``key`` (or its closest enclosing key) was set: '--config', else the last of
    ``configfiles`` (lowest precedence first) that has it, else all of them (a value the schema filled in)."""
    parts = key.split(".")
    sources = [("--config", overrides or {})]
    for path in reversed([str(p) for p in configfiles]):
        try:
            sources.append((path, load_yaml(path)))
        except Exception:  # noqa: BLE001 - a file Snakemake read; naming it is all this is for
            continue
    for depth in range(len(parts), 0, -1):
        for name, tree in sources:
            node: Any = tree
            for part in parts[:depth]:
                node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is not _MISSING:
                return name
    files = ", ".join(str(p) for p in configfiles) or "no config file"
    return f"config ({files}, then --config)"


_MISSING = object()


def load_config(path: str | Path) -> dict[str, Any]:
    """Load and validate a whole pipeline config file (defaults filled)."""
    return validate(load_yaml(path), source=path)


def domain_section(name: str, config_json: str | dict[str, Any] | None = None,
                   config_file: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The validated config section of one domain.

    ``config_json`` is the section as JSON (what the Snakemake rules pass), or as a dict (a notebook's);
    ``config_file`` a YAML file holding either a whole pipeline config (any top-level key of the root
    schema: ``data_root``, ``domains``, a domain's section...; its top level is validated too, and a
    missing ``name:`` section means the defaults) or just the section. With neither, the section's defaults.
    ``overrides`` (a notebook's changes, e.g. ``{"pinn": {"lbfgs_iterations": 50}}``) are
    deep-merged in before validation, so a misspelt key is refused like one in a file; changing
    the returned dict by hand is not checked. ``pathlib.Path`` values in a dict become strings.
    """
    source: str | Path | None = None
    if isinstance(config_json, dict):  # a notebook's section: taken as overrides of the defaults
        overrides = merged(config_json, overrides or {})
        config_json = None
    if overrides:
        overrides = _paths_as_strings(overrides)
    if config_json is not None:
        try:
            section = json.loads(config_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(name, f"--config-json is not valid JSON ({exc})") from None
        source = "--config-json"
    elif config_file is not None:
        data = load_yaml(config_file) or {}
        root_keys = set(schema_for()["properties"])  # data_root, domains, ... and the domain sections
        if isinstance(data, dict) and any(isinstance(k, str) and k in root_keys for k in data):
            # a whole pipeline config: its top level is checked as the workflow checks it (a misspelt
            # data_root was ignored), and a file without this domain's section means its defaults
            validate(json.loads(json.dumps(data, default=str)), source=config_file)
            section = data.get(name) or {}
        else:
            section = data
        source = config_file
    else:
        section = {}
    if overrides:
        section = merged(section if isinstance(section, dict) else {}, overrides)
        source = f"{source} + overrides" if source else "overrides"
    return validate(section, schema_for(name), source=source, prefix=name)


def _paths_as_strings(value: Any) -> Any:
    """``value`` with every ``pathlib.Path`` in it (nested dicts and lists) turned into its string: a
    notebook passes paths as Path objects, the schema knows strings."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _paths_as_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_paths_as_strings(v) for v in value]
    return value
