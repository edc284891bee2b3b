"""User reference files of declared problems (dat / csv / npz / nc), written in tmp_path: layouts,
optional sha256, errors naming the file and line, points outside the domain; one run through the steps."""

import hashlib
import json

import numpy as np
import pytest
import xarray as xr

from sciml.config import domain_section
from sciml.errors import ConfigError, DataError
from sciml.pde.steps import evaluate, solve, train
from sciml.pde.steps.common import load_problem
from sciml.pde.user_references import load_user_reference


def declared_cfg(reference: dict, *, geometry=None, time=None, fields=("u",), equations=None) -> dict:
    decl = {"geometry": geometry or {"type": "rectangle", "low": [0, 0], "high": [1, 1]}, "fields": list(fields),
            "equations": equations or [f"{fields[0]}_xx + {fields[0]}_yy"],
            "conditions": [{"type": "dirichlet", "field": fields[0], "on": "boundary", "value": 0}],
            "reference": reference}
    if time:
        decl["time"] = time
    raw = {"problems": ["mine"], "declared": {"mine": decl}, "evaluation": {"timing_repeats": 1},
           "pinn": {"num_domain": 64, "num_boundary": 8, "adam_iterations": 300, "lbfgs_iterations": 300,
                    "checkpoint_every": 100, "width": 16, "depth": 2}}
    return domain_section("pde", json.dumps(raw))


def test_pinnacle_time_columns_dat(tmp_path):
    path = tmp_path / "heat.dat"
    xy = np.array([[0.25, 0.5], [0.75, 0.5], [0.5, 0.25]])
    times = [0.0, 0.5, 1.0]
    u = np.array([[x + y + t for t in times] for x, y in xy])
    header = ["% Model: mine.mph", "% Dimension: 2", "% X   Y   " + "   ".join(f"u (K) @ t={t:g}" for t in times)]
    path.write_text("\n".join(header + [f"{x} {y} " + " ".join(map(str, row)) for (x, y), row in zip(xy, u)]) + "\n")
    spec = {"path": str(path), "layout": "time_columns", "columns": {"coords": [0, 1], "fields": {"u": 2}}}
    ref = load_problem(declared_cfg(spec, time=[0, 1]), "mine").reference()
    assert ref.nodes.shape == (9, 3) and ref.inputs == ("x", "y", "t")
    # every point carries x + y + t, the value the file holds at it
    assert np.allclose(ref.values, ref.nodes.sum(axis=1))
    bad_t = load_problem(declared_cfg(spec, time=[0, 0.8]), "mine")
    with pytest.raises(DataError, match=r"heat\.dat.*line 4.*outside the domain"):
        bad_t.reference()
    # given times must match the file's time columns (a shorter list silently dropped columns)
    assert np.allclose(load_problem(declared_cfg({**spec, "times": [0, 0.4, 1]}, time=[0, 1]), "mine")
                       .reference().nodes[:3, 2], [0, 0.4, 1])
    for times in ([0.0, 0.5], [0.0, 0.25, 0.5, 1.0]):
        with pytest.raises(ConfigError, match=rf"{len(times)} times given, but .*heat\.dat has 3 columns") as info:
            load_problem(declared_cfg({**spec, "times": times}, time=[0, 1]), "mine").reference()
        assert info.value.key == "pde.declared.mine.reference.times"


def test_plain_dat_errors_name_file_and_line(tmp_path):
    path = tmp_path / "ref.dat"
    spec = {"path": str(path), "columns": {"coords": [0, 1], "fields": {"u": 2}}}
    path.write_text("% x y u\n0.1 0.2 1.0\n0.3 0.4\n")
    with pytest.raises(DataError, match=r"ref\.dat \(record line 3\): 2 columns, expected 3"):
        load_user_reference(spec, "k", ("x", "y"), ("u",))
    path.write_text("% x y u\n0.1 0.2 1.0\n0.3 0.4 abc\n")
    with pytest.raises(DataError, match=r"line 3\): non-numeric"):
        load_user_reference(spec, "k", ("x", "y"), ("u",))
    path.write_text("% x y u\n0.1 0.2 1.0\n1.5 0.4 2.0\n")  # x = 1.5 outside the unit square
    with pytest.raises(DataError, match=r"ref\.dat \(record line 3\).*outside the domain of pde\.declared\.mine"):
        load_problem(declared_cfg(spec), "mine").reference()
    with pytest.raises(ConfigError, match=r"columns\.fields\.u'.*column 5 does not exist"):
        load_user_reference({**spec, "columns": {"coords": [0, 1], "fields": {"u": 5}}}, "k", ("x", "y"), ("u",))
    with pytest.raises(ConfigError, match=r"columns\.coords'.*one column per input"):
        load_user_reference({**spec, "columns": {"coords": [0], "fields": {"u": 2}}}, "k", ("x", "y"), ("u",))


def test_sha256_checked_when_given(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("x,y,u\n0.5,0.5,1.0\n0.25,0.5,2.0\n")
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = {"path": str(path), "columns": {"coords": ["x", "y"], "fields": {"u": "u"}}}
    ref, lines = load_user_reference({**spec, "sha256": good}, "k", ("x", "y"), ("u",))
    assert ref.nodes.tolist() == [[0.5, 0.5], [0.25, 0.5]] and ref.values.tolist() == [1.0, 2.0]
    assert lines.tolist() == [2, 3]
    with pytest.raises(DataError, match="sha256"):
        load_user_reference({**spec, "sha256": "0" * 64}, "k", ("x", "y"), ("u",))
    with pytest.raises(ConfigError, match=r"column 'w' not in .*columns: x, y, u"):
        load_user_reference({**spec, "columns": {"coords": ["x", "w"], "fields": {"u": "u"}}}, "k", ("x", "y"), ("u",))


def test_npz_grid_and_columns_several_fields(tmp_path):
    n = 5
    x = np.linspace(0, 1, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    arr = np.stack([X.ravel(), Y.ravel(), (X + 2 * Y).ravel()], axis=1)  # like stokes.npz: (n*n, 3), y fastest
    path = tmp_path / "flow.npz"
    np.savez(path, arr_0=arr)
    spec = {"path": str(path), "grid": {"x": [0, 1, n], "y": [0, 1, n]},
            "columns": {"fields": {"u": "arr_0:0", "v": "arr_0:1", "p": "arr_0:2"}}}
    ref, _ = load_user_reference(spec, "k", ("x", "y"), ("u", "v", "p"))
    assert ref.dims == ("x", "y") and ref.shape == (n, n)
    pts = ref.points()
    assert np.allclose(ref.field("u").ravel(), pts[:, 0]) and np.allclose(ref.field("v").ravel(), pts[:, 1])
    assert np.allclose(ref.field("p"), X + 2 * Y)
    with pytest.raises(ConfigError, match=r"no array 'arr_1'"):
        load_user_reference({**spec, "columns": {"fields": {"u": "arr_1", "v": "arr_0:1", "p": "arr_0:2"}}},
                            "k", ("x", "y"), ("u", "v", "p"))
    with pytest.raises(ConfigError, match=r"one column per field"):
        load_user_reference({**spec, "columns": {"fields": {"u": "arr_0:0"}}}, "k", ("x", "y"), ("u", "v", "p"))


def test_grid_keyed_by_input_ignores_key_order_but_not_missing_or_extra_inputs(tmp_path):
    """The workflow's --config-json sorts keys, so {x, t} arrives as {t, x}: order by the inputs."""
    x, t = np.linspace(0, 1, 4), np.linspace(0, 2, 3)
    X, T = np.meshgrid(x, t, indexing="ij")
    path = tmp_path / "heat.npz"
    np.savez(path, u=(X + 10 * T).ravel())  # C order over (x, t)
    spec = {"path": str(path), "grid": {"t": [0, 2, 3], "x": [0, 1, 4]}, "columns": {"fields": {"u": "u"}}}
    ref, _ = load_user_reference(spec, "k", ("x", "t"), ("u",))
    assert ref.dims == ("x", "t") and ref.shape == (4, 3)
    pts = ref.points()
    assert np.allclose(ref.values.ravel(), pts[:, 0] + 10 * pts[:, 1])
    with pytest.raises(ConfigError, match=r"missing \['t'\]") as info:
        load_user_reference({**spec, "grid": {"x": [0, 1, 4]}}, "k", ("x", "t"), ("u",))
    assert info.value.key == "k.grid"
    with pytest.raises(ConfigError, match=r"no input \['y'\]"):
        load_user_reference({**spec, "grid": {**spec["grid"], "y": [0, 1, 2]}}, "k", ("x", "t"), ("u",))


def test_grid_field_as_an_array_of_the_grid_shape(tmp_path):
    """A grid field stored as an N-d array of the grid's shape (axes in input order) reads as the
    flat array in C order; a transposed one is refused, saying the axis order expected."""
    x, t = np.linspace(0, 1, 5), np.linspace(0, 2, 3)
    X, T = np.meshgrid(x, t, indexing="ij")
    path = tmp_path / "heat.npz"
    np.savez(path, u2d=X + 10 * T, flat=(X + 10 * T).ravel(), swapped=(X + 10 * T).T, odd=np.zeros((4, 3)))
    spec = {"path": str(path), "grid": {"x": [0, 1, 5], "t": [0, 2, 3]}, "columns": {"fields": {"u": "u2d"}}}
    ref, _ = load_user_reference(spec, "k", ("x", "t"), ("u",))
    assert ref.shape == (5, 3)
    np.testing.assert_allclose(ref.values, X + 10 * T)
    flat, _ = load_user_reference({**spec, "columns": {"fields": {"u": "flat"}}}, "k", ("x", "t"), ("u",))
    np.testing.assert_array_equal(flat.values, ref.values)
    with pytest.raises(ConfigError, match=r"shape \(3, 5\); its axes are in another order: a grid field needs "
                                          r"shape \(5, 3\), axes in the order of the inputs: x \(5\), t \(3\)") as info:
        load_user_reference({**spec, "columns": {"fields": {"u": "swapped"}}}, "k", ("x", "t"), ("u",))
    assert info.value.key == "k.columns.fields.u"
    with pytest.raises(ConfigError, match=r"shape \(4, 3\); a grid field needs shape \(5, 3\)"):
        load_user_reference({**spec, "columns": {"fields": {"u": "odd"}}}, "k", ("x", "t"), ("u",))


def test_a_reference_in_the_wrong_point_order_is_warned_against_the_initial_condition(tmp_path):
    """A flat grid array written t-major (a tester's file: rel L2 1.4 with no word) disagrees with the declared
    initial condition at t0; the array in the declared order agrees and gets no warning."""
    from sciml.pde.problems.declared import INITIAL_MISMATCH

    x, t = np.linspace(0, 1, 21), np.linspace(0, 1, 11)
    X, T = np.meshgrid(x, t, indexing="ij")
    u = np.exp(-(0.1 * np.pi ** 2 + 1.0) * T) * np.cos(np.pi * X)  # u_t = 0.1 u_xx - u, u(x, 0) = cos(pi x)
    np.savez(tmp_path / "dr.npz", good=u.ravel(), t_major=u.T.ravel())
    spec = {"path": str(tmp_path / "dr.npz"), "grid": {"x": [0, 1, 21], "t": [0, 1, 11]},
            "columns": {"fields": {"u": "good"}}}

    def problem(column: str):
        cfg = declared_cfg({**spec, "columns": {"fields": {"u": column}}}, geometry={"type": "interval", "low": 0,
                           "high": 1}, time=[0, 1], equations=["u_t - 0.1*u_xx + u"])
        cfg["declared"]["mine"]["conditions"] = [{"type": "neumann", "field": "u", "on": "boundary", "value": 0},
                                                 {"type": "initial", "field": "u", "value": "cos(pi*x)"}]
        return load_problem(cfg, "mine")

    good = problem("good")
    assert good.reference_warnings(good.reference()) == []
    bad = problem("t_major")
    (warning,) = bad.reference_warnings(bad.reference())
    rel = float(warning.split(" by ")[1].split()[0])
    assert rel > INITIAL_MISMATCH and "initial condition of u at t = 0" in warning and "point order" in warning

def test_netcdf_tensor_grid(tmp_path):
    x, y = np.linspace(0, 1, 4), np.linspace(0, 1, 3)
    ds = xr.Dataset({"temp": (("yy", "xx"), np.add.outer(10 * y, x))}, coords={"xx": x, "yy": y})
    path = tmp_path / "ref.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    spec = {"path": str(path), "columns": {"coords": ["xx", "yy"], "fields": {"u": "temp"}}}
    ref, _ = load_user_reference(spec, "k", ("x", "y"), ("u",))
    pts = ref.points()
    assert np.allclose(ref.values, pts[:, 0] + 10 * pts[:, 1])


def test_declared_problem_trains_against_a_user_csv(tmp_path):
    rng = np.random.default_rng(0)
    xs = np.sort(rng.uniform(0, 1, 40))
    path = tmp_path / "mine.csv"
    path.write_text("x,u\n" + "".join(f"{float(x)!r},{float(np.sin(np.pi * x))!r}\n" for x in xs))
    cfg = declared_cfg({"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}},
                       geometry={"type": "interval", "low": 0, "high": 1}, equations=["u_xx + pi**2*sin(pi*x)"])
    solve(cfg, "mine", tmp_path / "solve", log=lambda m: None)
    train(cfg, "mine", tmp_path / "train", checkpoint_dir=tmp_path / "ckpt", log=lambda m: None)
    m = evaluate(cfg, "mine", tmp_path / "evaluate", model_dir=tmp_path / "train", solver_dir=tmp_path / "solve",
                 log=lambda m: None)
    assert m["reference"] == str(path.resolve()) and m["evaluated_points"] == 40  # not under the data root
    assert m["rel_l2"] < 1e-2, m  # zeros: 1.0
    prov = json.loads((tmp_path / "evaluate" / "provenance.json").read_text())
    assert "mine.csv" in json.dumps(prov)  # the user's file is a recorded input (with its sha256)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for step in ("solve", "train", "evaluate"):  # train recorded none before
        assert json.loads((tmp_path / step / "provenance.json").read_text())["inputs_sha256"][str(path)] == sha, step
    assert (tmp_path / "evaluate" / "fields.png").is_file()


def test_bad_reference_stops_the_train_step_before_any_training(tmp_path):
    """A reference point outside the domain (or a bad line) is refused by ``train`` itself, naming the
    file and line, before a checkpoint is written: no minutes of training are lost to it."""
    path = tmp_path / "mine.csv"
    path.write_text("x,u\n0.5,1.0\n1.5,0.0\n")
    cfg = declared_cfg({"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}},
                       geometry={"type": "interval", "low": 0, "high": 1}, equations=["u_xx + pi**2*sin(pi*x)"])
    with pytest.raises(DataError, match=r"mine\.csv.*line 3.*outside the domain"):
        train(cfg, "mine", tmp_path / "train", checkpoint_dir=tmp_path / "ckpt", log=lambda m: None)
    assert not any((tmp_path / "ckpt").rglob("*.pt"))


def test_reference_covering_part_of_the_domain_is_named(tmp_path):
    from sciml.pde.steps.evaluate import reference_extent

    path = tmp_path / "half.csv"
    xs, ys = np.meshgrid(np.linspace(0, 0.5, 6), np.linspace(0, 1, 11), indexing="ij")
    rows = ["x,y,u"] + [f"{x},{y},{x * y}" for x, y in zip(xs.ravel(), ys.ravel())]
    path.write_text("\n".join(rows) + "\n")
    spec = {"path": str(path), "columns": {"coords": ["x", "y"], "fields": {"u": "u"}}}
    problem = load_problem(declared_cfg(spec), "mine")
    note = reference_extent(problem, problem.reference())
    assert note is not None and "x in [0, 0.5] of [0, 1]" in note and "y in" not in note
    # a reference over the whole square says nothing
    xs, ys = np.meshgrid(np.linspace(0, 1, 11), np.linspace(0, 1, 11), indexing="ij")
    path.write_text("\n".join(["x,y,u"] + [f"{x},{y},{x * y}" for x, y in zip(xs.ravel(), ys.ravel())]) + "\n")
    assert reference_extent(problem, problem.reference()) is None


def _problems_config(tmp_path, reference: dict) -> str:
    import yaml

    decl = {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"], "equations": ["u_xx"],
            "conditions": [{"type": "dirichlet", "on": "boundary", "value": 0}], "reference": reference}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"pde": {"declared": {"mine": decl}}}))
    return str(cfg)


def test_problems_refuses_a_reference_lacking_a_configured_column(tmp_path, capsys):
    """``sciml pde problems --config`` refuses a declared problem whose reference file lacks the
    configured column, with the loader's own message (what ``train`` would say) and exit 2."""
    from sciml.cli import main

    path = tmp_path / "mine.csv"
    path.write_text("x,U\n0.5,1.0\n")
    spec = {"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}}
    with pytest.raises(ConfigError) as loaded:  # what the steps say about this file
        load_user_reference(spec, "pde.declared.mine.reference", ("x",), ("u",))
    assert main(["pde", "problems", "--config", _problems_config(tmp_path, spec)]) == 2
    err = capsys.readouterr().err
    assert "column 'u' not in" in err and "(columns: x, U)" in err and str(loaded.value) in err
    assert "pde.declared.mine.reference.columns.fields.u" in err
    # a missing file is refused too; a good header passes (data lines are left to train: header only)
    missing = {**spec, "path": str(tmp_path / "nowhere.csv")}
    assert main(["pde", "problems", "--config", _problems_config(tmp_path, missing)]) == 2
    assert "nowhere.csv" in capsys.readouterr().err
    path.write_text("x,u\n0.5,1.0\n0.7,oops\n")
    assert main(["pde", "problems", "--config", _problems_config(tmp_path, spec)]) == 0
    assert "[declared in the config]" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", ["dat", "npz", "nc"])
def test_column_check_gives_the_loaders_error(tmp_path, suffix):
    from sciml.pde.user_references import check_user_reference_columns

    path = tmp_path / f"ref.{suffix}"
    x = np.linspace(0, 1, 4)
    if suffix == "dat":
        path.write_text("% x u\n" + "".join(f"{v} {v}\n" for v in x))
        good, bad = {"coords": [0], "fields": {"u": 1}}, {"coords": [0], "fields": {"u": 2}}
    elif suffix == "npz":
        np.savez(path, x=x, u=x)
        good, bad = {"coords": ["x"], "fields": {"u": "u"}}, {"coords": ["x"], "fields": {"u": "U"}}
    else:
        xr.Dataset({"u": ("n", x), "x": ("n", x)}).to_netcdf(path)
        good, bad = {"coords": ["x"], "fields": {"u": "u"}}, {"coords": ["x"], "fields": {"u": "U"}}
    key = "pde.declared.mine.reference"
    check_user_reference_columns({"path": str(path), "columns": good}, key, ("x",), ("u",))
    spec = {"path": str(path), "columns": bad}
    with pytest.raises(ConfigError) as loaded:
        load_user_reference(spec, key, ("x",), ("u",))
    with pytest.raises(ConfigError) as checked:
        check_user_reference_columns(spec, key, ("x",), ("u",))
    assert str(checked.value) == str(loaded.value) and checked.value.key == loaded.value.key


def test_problems_checks_the_shape_of_a_grid_array(tmp_path, capsys):
    """``sciml pde problems --config`` accepts an npz grid field of the grid's shape and refuses a
    transposed one with the loader's message."""
    from sciml.cli import main

    path = tmp_path / "ref.npz"
    u = np.sin(np.pi * np.linspace(0, 1, 6))
    np.savez(path, u=u, bad=np.stack([u, u]))
    spec = {"path": str(path), "grid": {"x": [0, 1, 6]}, "columns": {"fields": {"u": "u"}}}
    assert main(["pde", "problems", "--config", _problems_config(tmp_path, spec)]) == 0
    capsys.readouterr()
    bad = {**spec, "columns": {"fields": {"u": "bad"}}}
    with pytest.raises(ConfigError) as loaded:
        load_user_reference(bad, "pde.declared.mine.reference", ("x",), ("u",))
    assert main(["pde", "problems", "--config", _problems_config(tmp_path, bad)]) == 2
    err = capsys.readouterr().err
    assert "has shape (2, 6)" in err and str(loaded.value) in err


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    """x,u,u: which u is meant is ambiguous; the loader and the column check refuse it, naming the file and column."""
    from sciml.pde.user_references import check_user_reference_columns

    path = tmp_path / "dup.csv"
    path.write_text("x,u,u\n0.5,1.0,2.0\n")
    spec = {"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}}
    for check in (load_user_reference, check_user_reference_columns):
        with pytest.raises(DataError, match=r"column name 'u' appears more than once in the header \(x, u, u\)") as info:
            check(spec, "k", ("x",), ("u",))
        assert "dup.csv" in str(info.value) and "line 1" in str(info.value)


def test_a_reference_is_named_by_its_path_not_its_file_name(tmp_path):
    """Two problems' references `a/solution.npz` and `b/solution.npz` both read `solution.npz` in the
    accuracy table; a file under the data root is named by its path there, another by its full path."""
    from sciml.pde.steps.common import reference_label

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "solution.npz").write_bytes(b"x")
    assert reference_label(str(root / "a" / "solution.npz"), root) == "a/solution.npz"
    other = tmp_path / "b" / "solution.npz"
    other.parent.mkdir()
    other.write_bytes(b"x")
    assert reference_label(str(other), root) == str(other.resolve())
    assert reference_label("analytic", root) == "analytic"
    assert reference_label("in-package spectral solver (N=512)", root) == "in-package spectral solver (N=512)"
