"""Declared problems as users write them (an audit of problems the package never saw): domains far from
the origin or tiny in SI units, fields named like derivatives, a second time derivative with one initial
condition, Neumann conditions at corners, named sides of curved domains, misspelt sides, numbers YAML
reads as strings, reference coordinate columns listed in the file's order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from sciml.config import domain_section
from sciml.errors import ConfigError
from sciml.pde.declaration import Declaration

KEY = "pde.declared.p"


@pytest.fixture(scope="module")
def dde():
    from sciml.pde.pinn import setup_deepxde, torch_precision

    with torch_precision("float64"):
        yield setup_deepxde("float64", 0, 1)


def _decl(geometry, equations=("u_xx",), conditions=({"type": "dirichlet", "value": 0},), **kw):
    return Declaration({"geometry": geometry, "fields": kw.pop("fields", ["u"]), "equations": list(equations),
                        "conditions": list(conditions), **kw}, KEY)


@pytest.mark.parametrize("geometry, time, key", [
    ({"type": "interval", "low": 100000, "high": 100001}, None, "geometry"),  # every point took the boundary's value
    ({"type": "interval", "low": 1000, "high": 1001}, None, "geometry"),  # 21 points instead of 2
    ({"type": "rectangle", "low": [0, 0], "high": [1.0, 1e-6]}, None, "geometry"),  # bottom and top took every point
    ({"type": "interval", "low": 0, "high": 1}, [1000, 1001], "time"),  # the initial condition on a slab
])
def test_a_domain_deepxde_cannot_tell_the_boundary_of_is_refused(dde, geometry, time, key):
    with pytest.raises(ConfigError, match="non-dimensionalise") as err:
        d = _decl(geometry, time=time, **({"equations": ["u_t - u_xx"]} if time else {}))
        d.geometry(dde)
    assert err.value.key == f"{KEY}.{key}"
    _decl({"type": "interval", "low": 10, "high": 11}).geometry(dde)  # a shifted domain of sensible size is fine
    _decl({"type": "interval", "low": 0, "high": 1e-3}).geometry(dde)


def test_geometry_numbers_written_with_an_exponent_are_numbers(dde):
    """YAML 1.1 reads 1e3 (no dot) as the string '1e3': the geometry refused it ('needs 1 finite number')."""
    spec = yaml.safe_load("{type: interval, low: 0, high: 1e3}")
    assert spec["high"] == "1e3"
    assert _decl(spec).bounds(dde) == [(0.0, 1000.0)]


@pytest.mark.parametrize("fields, equations", [(["u", "u_x"], ["u_xx", "u_x - 1"]), (["u", "u_t"], ["u_t - u_xx", "u"])])
def test_a_field_named_like_a_derivative_is_refused(fields, equations):
    """With fields [u, u_x], 'u_x - 1' meant the field u_x, not du/dx: an equation other than the one written."""
    time = [0, 1] if "u_t" in fields else None
    with pytest.raises(ConfigError, match="reads as a derivative of the field 'u'") as err:
        _decl({"type": "interval", "low": 0, "high": 1}, equations, fields=fields, time=time)
    assert err.value.key == f"{KEY}.fields"


def test_a_second_time_derivative_with_its_value_alone_is_warned():
    from sciml.pde.problems.declared import DeclaredProblem

    spec = {"geometry": {"type": "interval", "low": 0, "high": 1}, "time": [0, 1], "fields": ["u"],
            "equations": ["u_tt - u_xx"], "solution": {"u": "sin(pi*x)*cos(pi*t)"},
            "conditions": [{"type": "dirichlet", "value": 0}, {"type": "initial", "value": "sin(pi*x)"}]}
    (warning,) = DeclaredProblem("wave", spec).declaration_warnings()
    assert "u_tt" in warning and "not unique" in warning
    first_order = {**spec, "fields": ["u", "v"], "equations": ["u_t - v", "v_t - u_xx"],
                   "solution": {"u": "sin(pi*x)*cos(pi*t)", "v": "-pi*sin(pi*x)*sin(pi*t)"},
                   "conditions": [{"type": "dirichlet", "field": "u", "value": 0},
                                  {"type": "initial", "field": "u", "value": "sin(pi*x)"},
                                  {"type": "initial", "field": "v", "value": 0}]}
    assert DeclaredProblem("wave1", first_order).declaration_warnings() == []


def test_a_neumann_condition_leaves_the_corners_out(dde):
    """DeepXDE samples a rectangle's corners and averages the two sides' normals there: the right side's flux
    was imposed on a diagonal derivative at (5, -1). Dirichlet conditions keep their corners."""
    d = _decl({"type": "rectangle", "low": [2, -3], "high": [5, -1]}, ["u_xx + u_yy"],
              [{"type": "neumann", "on": "right", "value": 0}, {"type": "robin", "value": "u"},
               {"type": "dirichlet", "on": "top", "value": 0}])
    neumann, robin, dirichlet = d.conditions(dde, d.geometry(dde))
    X = np.array([[5.0, -1.0], [5.0, -2.0], [3.0, -1.0], [2.0, -3.0]])
    on = np.ones(len(X), dtype=bool)
    assert neumann.on_boundary(X, on).tolist() == [False, True, False, False]
    assert robin.on_boundary(X, on).tolist() == [False, True, True, False]
    assert dirichlet.on_boundary(X, on).tolist() == [True, False, True, False]
    tri = _decl({"type": "polygon", "vertices": [[0, 0], [1, 0], [0, 1]]}, ["u_xx + u_yy"],
                [{"type": "neumann", "value": 0}])
    (flux,) = tri.conditions(dde, tri.geometry(dde))
    assert flux.on_boundary(np.array([[1.0, 0.0], [0.5, 0.5]]), np.ones(2, dtype=bool)).tolist() == [False, True]
    holed = _decl({"type": "difference", "of": [{"type": "rectangle", "low": [0, 0], "high": [2, 2]},
                                                {"type": "disk", "center": [1, 1], "radius": 0.5}]}, ["u_xx + u_yy"],
                  [{"type": "neumann", "value": 0}])
    (flux,) = holed.conditions(dde, holed.geometry(dde))
    assert flux.on_boundary(np.array([[2.0, 2.0], [2.0, 1.0], [1.5, 1.0]]), np.ones(3, dtype=bool)).tolist() == \
        [False, True, True]


def test_a_named_side_of_a_disk_and_a_misspelt_side_are_refused(dde):
    """'left' of a disk is its bounding box's side: the condition held at 1 of 2000 boundary points, unsaid."""
    d = _decl({"type": "disk", "center": [0, 0], "radius": 1}, ["u_xx + u_yy"],
              [{"type": "dirichlet", "on": "left", "value": 1}, {"type": "neumann", "value": 0}])
    with pytest.raises(ConfigError, match=r"touches at a point only.*'x < 0'") as err:
        d.conditions(dde, d.geometry(dde))
    assert err.value.key == f"{KEY}.conditions[0].on"
    half = _decl({"type": "disk", "center": [0, 0], "radius": 1}, ["u_xx + u_yy"],
                 [{"type": "dirichlet", "on": "x < 0", "value": 1}, {"type": "neumann", "value": 0}])
    assert len(half.conditions(dde, half.geometry(dde))) == 2
    # an L-shaped polygon's named sides are real sides: kept
    ell = _decl({"type": "polygon", "vertices": [[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]}, ["u_xx + u_yy"],
                [{"type": "dirichlet", "on": "left", "value": 1}, {"type": "dirichlet", "on": "top", "value": 0}])
    assert len(ell.conditions(dde, ell.geometry(dde))) == 2
    with pytest.raises(ConfigError, match=r"unknown boundary part 'Left' \(valid: boundary, left, right, bottom, top"):
        _decl({"type": "rectangle", "low": [0, 0], "high": [1, 1]}, ["u_xx + u_yy"],
              [{"type": "dirichlet", "on": "Left", "value": 0}])


def test_reference_coordinates_listed_in_the_file_s_order_are_refused(tmp_path):
    """coords [y, x] (the file's column order) read column y as x: on a square domain the reference was the
    solution transposed, with no other check to see it."""
    from sciml.pde.steps.common import load_problem

    xs = np.linspace(0, 1, 5)
    rows = [(y, x, np.sin(np.pi * x) * y) for x in xs for y in xs]
    ref = tmp_path / "ref_yx.csv"
    ref.write_text("y,x,u\n" + "".join(f"{y},{x},{u}\n" for y, x, u in rows))
    decl = {"geometry": {"type": "rectangle", "low": [0, 0], "high": [1, 1]}, "fields": ["u"],
            "equations": ["u_xx + u_yy + pi**2*sin(pi*x)*y"], "conditions": [{"type": "dirichlet", "value": "sin(pi*x)*y"}],
            "reference": {"path": str(ref), "columns": {"coords": ["y", "x"], "fields": {"u": "u"}}}}
    cfg = domain_section("pde", json.dumps({"problems": ["mine"], "declared": {"mine": decl}}))
    with pytest.raises(ConfigError, match=r"order of the inputs \['x', 'y'\]") as err:
        load_problem(cfg, "mine").check_reference()
    assert err.value.key.endswith("reference.columns.coords")
    decl["reference"]["columns"]["coords"] = ["x", "y"]
    cfg = domain_section("pde", json.dumps({"problems": ["mine"], "declared": {"mine": decl}}))
    got = load_problem(cfg, "mine").reference()
    pts = got.points()
    assert np.allclose(got.field("u").ravel(), np.sin(np.pi * pts[:, 0]) * pts[:, 1])


@pytest.mark.parametrize("geometry, conditions, free", [
    # the right side forgotten: a quarter of the rectangle's boundary was left free, unsaid
    ({"type": "rectangle", "low": [0, 0], "high": [2, 1]},
     [{"type": "dirichlet", "on": on, "value": 0} for on in ("left", "bottom", "top")], "x = 2"),
    ({"type": "interval", "low": 0, "high": 1}, [{"type": "dirichlet", "on": "left", "value": 0}], "x = 1"),
    ({"type": "rectangle", "low": [0, 0], "high": [1, 1]},  # each side declared, by part and by selector
     [{"type": "dirichlet", "on": "x < 0.5", "value": 0}, {"type": "neumann", "on": "x > 0.5", "value": 0}], None),
    ({"type": "rectangle", "low": [0, 0], "high": [1, 1]},  # periodic in x constrains its partner side too
     [{"type": "periodic", "input": "x"}, {"type": "dirichlet", "on": "bottom", "value": 0},
      {"type": "dirichlet", "on": "top", "value": 0}], None),
    ({"type": "rectangle", "low": [0, 0], "high": [1, 1]},  # declared on the right: the left is its partner
     [{"type": "periodic", "input": "x", "on": "right"}, {"type": "dirichlet", "on": "bottom", "value": 0},
      {"type": "dirichlet", "on": "top", "value": 0}], None),
])
def test_a_boundary_part_no_condition_selects_is_warned_about(dde, geometry, conditions, free):
    """A part no condition selects gets none (free, not zero flux): a forgotten wall trained without a word."""
    eq = "u_xx + u_yy" if geometry["type"] == "rectangle" else "u_xx"
    gaps = _decl(geometry, [eq], conditions).boundary_gaps(dde)
    if free is None:
        assert gaps == []
    else:
        (gap,) = gaps
        assert f"({free.split()[0]} = {free.split()[-1]}" in gap.replace("e.g. ", "") and "field u" in gap
        if geometry["type"] == "rectangle":  # the right side is 1/6 of the perimeter
            n_free, n_all = (int(v) for v in gap.split(" sampled")[0].split(" of "))
            assert 0.12 < n_free / n_all < 0.22


def test_a_field_without_boundary_conditions_or_with_a_hard_constraint_is_not_warned_about():
    """Stokes' pressure has no boundary condition (it is fixed up to a constant); a hard field's conditions
    are its output transform's."""
    from sciml.pde.problems.declared import DeclaredProblem

    spec = {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u", "p"],
            "equations": ["u_xx - p_x", "u_x"], "solution": {"u": "0", "p": "0"},
            "conditions": [{"type": "dirichlet", "field": "u", "value": 0}]}
    assert DeclaredProblem("s", spec).declaration_warnings() == []
    one_side = {"geometry": {"type": "interval", "low": 0, "high": 1}, "fields": ["u"], "equations": ["u_xx + 1"],
                "solution": {"u": "x*(1-x)/2"}, "conditions": [{"type": "dirichlet", "on": "left", "value": 0}]}
    (gap,) = DeclaredProblem("one", one_side).declaration_warnings()
    assert "x = 1" in gap
    hard = {**one_side, "hard": {"u": {"lift": "0", "distance": "x"}}}
    assert DeclaredProblem("h", hard).declaration_warnings() == []
