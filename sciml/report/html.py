"""Render report sections into one self-contained HTML page.

Figures are embedded as base64 data URIs so the page can be mailed or archived alone.
Jinja2 (a Snakemake dependency) does the templating with autoescaping on.
"""

from __future__ import annotations

import base64
import datetime as _dt
import shlex
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import read_json_object
from sciml.report.section import Section, read_section

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{border-bottom:3px solid #2b6cb0;padding-bottom:.3em} h2{margin-top:2.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
h3{margin-top:1.5em;color:#2b4c7e} table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:right} th{background:#f0f4f8}
td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.88em;margin-top:-.8em}
.warn{background:#fff4e5;border-left:4px solid #dd6b20;padding:.4em .8em;margin:.4em 0}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}
figure img{max-width:540px;border:1px solid #e2e8f0} figcaption{font-size:.85em;color:#444;max-width:540px}
details{margin:.4em 0} summary{cursor:pointer;font-weight:600} pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.82em}
.meta{color:#555;font-size:.9em} nav a{margin-right:1em}
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">Generated {{ generated }} by sciml {{ version }}{% if git %} &middot; git {{ git.commit[:12] }}{% if git.dirty %} (uncommitted changes){% endif %}{% endif %}</p>
{% if code_note %}<div class="warn">{{ code_note }}</div>{% endif %}
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}<a href="#provenance">Provenance</a></nav>
{% for s in sections %}
<h2 id="{{ s.anchor }}">{{ s.title }}</h2>
{% if s.summary %}<p>{{ s.summary }}</p>{% endif %}
{% for w in s.warnings %}<div class="warn">{{ w }}</div>{% endfor %}
{% for t in s.tables %}
<h3>{{ t.title }}</h3>
<table><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for v in row %}<td>{{ fmt(v) }}</td>{% endfor %}</tr>{% endfor %}
</table>{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}
{% for f in s.figures %}
<figure><img alt="{{ f.title }}" src="{{ f.uri }}"><figcaption><b>{{ f.title }}</b>{% if f.caption %}. {{ f.caption }}{% endif %}</figcaption></figure>
{% endfor %}
{% endfor %}
<h2 id="provenance">Provenance</h2>
<p>Every step records its command, resolved config, seed, package versions, git revision, the sha256 of every input and its wall time.</p>
{% if pipeline_config %}<details><summary>Pipeline configuration (resolved; the domains that ran)</summary><pre>{{ pipeline_config }}</pre></details>{% endif %}
{% for s in sections %}{% for p in s.prov %}
<details><summary>{{ s.title }} &middot; {{ p.step }} &middot; {{ "%.1f"|format(p.wall_time_s or 0) }} s &middot; seed {{ p.seed }}</summary>
<table><tr><th>input</th><th>sha256</th></tr>{% for k, v in (p.inputs_sha256 or {}).items() %}<tr><td>{{ k }}</td><td><code>{{ v }}</code></td></tr>{% endfor %}</table>
<table><tr><th>package</th><th>version</th></tr>{% for k, v in (p.packages or {}).items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
<p class="meta">python {{ p.python }} &middot; {{ p.platform }} &middot; host {{ p.host }}{% if p.device %} &middot; device {{ p.device }}{% endif %}{% if p.git %} &middot; git {{ p.git.commit[:12] }}{% if p.git.dirty %} (uncommitted changes){% endif %}{% endif %}{% if p.cwd %} &middot; in {{ p.cwd }}{% endif %}</p>
{% if p.command %}<p class="meta">command: <code>{{ p.command }}</code></p>{% endif %}
<pre>{{ dump(p.config) }}</pre>
</details>
{% endfor %}{% endfor %}
</body></html>
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return "" if value is None else str(value)


def _data_uri(path: Path) -> str:
    """The figure at ``path`` as a base64 data URI; a DataError naming it when it cannot be embedded."""
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise DataError(path, "figure must be PNG, SVG or JPEG")
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except FileNotFoundError:
        raise DataError(path, "figure file not found") from None
    except IsADirectoryError:
        raise DataError(path, "figure path is a folder, not an image file") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the figure ({exc.strerror or exc})") from None
    return f"data:{mime};base64,{payload}"


#: Provenance fields the report shows that must be an object (or null/absent) to be rendered.
_PROV_OBJECTS = ("inputs_sha256", "packages", "git", "device")


def _load_provenance(path: Path) -> dict[str, Any]:
    """A provenance.json as the report shows it: a DataError naming the file when it is missing,
    unreadable, not UTF-8 JSON, not an object, or a field the report shows has the wrong type.
    Fields it lacks show as blank."""
    raw = read_json_object(path, "provenance file", "written by the step the section names")
    for key in _PROV_OBJECTS:
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise DataError(path, f"provenance field '{key}' must be an object, got {type(raw[key]).__name__}")
    wall = raw.get("wall_time_s")
    if wall is not None and (isinstance(wall, bool) or not isinstance(wall, (int, float))):
        raise DataError(path, f"provenance field 'wall_time_s' must be a number, got {type(wall).__name__}")
    git = raw.get("git")
    if git and not isinstance(git.get("commit"), str):
        raise DataError(path, "provenance field 'git' lacks its 'commit' (text)")
    shown = ("step", "seed", "python", "platform", "host", "config", "wall_time_s", "cwd") + _PROV_OBJECTS
    argv = raw.get("argv")
    # the step's `sciml ...` command line, shell-quoted as it could be pasted; a step run through the API (a
    # notebook's kernel, a test) has none
    command = (shlex.join(["sciml", *argv[1:]]) if isinstance(argv, list) and argv
               and all(isinstance(a, str) for a in argv) and Path(argv[0]).name == "sciml" else None)
    return {**{k: None for k in shown}, **raw, "command": command}


#: Top-level config keys that are a domain's section (``domains`` lists the ones a run includes).
DOMAIN_KEYS = ("materials", "pde", "proteins")


def config_of_run(cfg: dict[str, Any]) -> dict[str, Any]:
    """The resolved config without the sections of domains the run left out (their schema defaults name
    built-in datasets the run never read)."""
    domains = cfg.get("domains")
    if not isinstance(domains, list):
        return cfg
    return {k: v for k, v in cfg.items() if k not in DOMAIN_KEYS or k in domains}


def code_note(provenance: list[dict[str, Any]], rendered_at: dict[str, Any] | None) -> str:
    """A warning when the steps did not all run on the code the report is rendered with (Snakemake reruns no
    step when the package changes, so a report rerun alone would label old results with the new commit): the
    commits they ran at, and how many ran with uncommitted changes; '' when they all ran at ``rendered_at``'s
    clean commit (or no step recorded a git revision)."""
    runs = [p["git"] for p in provenance if p.get("git")]
    if not runs:
        return ""
    commits = sorted({g["commit"][:12] for g in runs})
    dirty = sum(1 for g in runs if g.get("dirty"))
    same = rendered_at is not None and not rendered_at.get("dirty") and commits == [rendered_at["commit"][:12]]
    if same and not dirty:
        return ""
    note = f"The steps ran at git {', '.join(commits)}"
    if dirty:
        note += f", {dirty} of {len(runs)} with uncommitted changes"
    if rendered_at:
        note += f"; this report was rendered at {rendered_at['commit'][:12]}"
        note += " (uncommitted changes)" if rendered_at.get("dirty") else ""
    return note + ": each step's provenance below names the code it ran."


def render_report(section_paths: list[str | Path], pipeline_config: dict[str, Any] | None = None,
                  title: str = "sciml run report") -> str:
    """HTML text of the report for the given section files."""
    import jinja2
    import yaml

    from sciml import __version__
    from sciml.provenance import git_revision

    sections, anchors = [], set()
    for sp in section_paths:
        sp = Path(sp)
        section: Section = read_section(sp)
        base = sp.parent
        figures = [
            {"title": f.title, "caption": f.caption, "uri": _data_uri(base / f.path)} for f in section.figures
        ]
        prov = [_load_provenance(base / p) for p in section.provenance]
        anchor, k = section.domain, 1
        while anchor in anchors:  # one domain may write several sections (proteins: one per target)
            k += 1
            anchor = f"{section.domain}-{k}"
        anchors.add(anchor)
        sections.append({**section.__dict__, "figures": figures, "prov": prov, "anchor": anchor})
    git = git_revision()  # the code rendering the report (the steps' own commits are in their provenance)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals.update(fmt=_fmt, dump=lambda obj: yaml.safe_dump(obj, sort_keys=True))
    return env.from_string(TEMPLATE).render(
        title=title,
        sections=sections,
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        git=git,
        code_note=code_note([p for s in sections for p in s["prov"]], git),
        pipeline_config=yaml.safe_dump(config_of_run(pipeline_config), sort_keys=True) if pipeline_config else "",
    )
