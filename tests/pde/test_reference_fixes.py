"""Fixes to user reference files and declared problems, on files written in tmp_path: time-column
labels that do not fit the columns, csv headers from Excel / R / np.savetxt, a text file given as
npz, netCDF coordinates on other dimensions, one tolerance for points on the domain's boundary,
fields no equation or condition constrains, conditions that do not name their field."""

import json

import numpy as np
import pytest
import xarray as xr

from sciml.config import domain_section
from sciml.errors import ConfigError, DataError
from sciml.pde.steps.common import load_problem
from sciml.pde.user_references import check_user_reference_columns, load_user_reference

KEY = "pde.declared.mine.reference"


def declared_cfg(reference=None, *, geometry=None, time=None, fields=("u",), equations=None, conditions=None,
                 solution=None) -> dict:
    decl = {"geometry": geometry or {"type": "rectangle", "low": [0, 0], "high": [1, 1]}, "fields": list(fields),
            "equations": equations or [f"{f}_xx + {f}_yy" for f in fields],
            "conditions": conditions or [{"type": "dirichlet", "field": f, "value": 0} for f in fields]}
    if reference is not None:
        decl["reference"] = reference
    if solution is not None:
        decl["solution"] = solution
    if time:
        decl["time"] = time
    raw = {"problems": ["mine"], "declared": {"mine": decl}, "evaluation": {"timing_repeats": 1},
           "pinn": {"num_domain": 16, "num_boundary": 8, "adam_iterations": 10, "lbfgs_iterations": 0,
                    "width": 8, "depth": 1}}
    return domain_section("pde", json.dumps(raw))


def both_raise(exc_type, spec, inputs, fields):
    """The loader's and the column check's errors for ``spec`` (they must be the same)."""
    with pytest.raises(exc_type) as loaded:
        load_user_reference(spec, KEY, inputs, fields)
    with pytest.raises(exc_type) as checked:
        check_user_reference_columns(spec, KEY, inputs, fields)
    assert str(loaded.value) == str(checked.value)
    return str(loaded.value)


# -- 1. layout: time_columns -------------------------------------------------------------------------------

def _time_columns_file(path, labels, rows):
    path.write_text("% Model: mine\n% x " + "  ".join(labels) + "\n" + "".join(" ".join(map(str, r)) + "\n"
                                                                           for r in rows))


def test_time_columns_header_labelling_fewer_columns_than_the_data_is_refused(tmp_path):
    """2 labels for 3 time columns dropped the last column without a word; now refused as times: is."""
    path = tmp_path / "short.dat"
    _time_columns_file(path, ["u @ t=0", "u @ t=0.5"], [[0.25, 1, 2, 3], [0.75, 4, 5, 6]])
    spec = {"path": str(path), "layout": "time_columns", "columns": {"coords": [0], "fields": {"u": 1}}}
    msg = both_raise(DataError, spec, ("x", "t"), ("u",))
    assert "short.dat (record line 2)" in msg
    assert "labels 2 time columns" in msg and "3 columns besides the 1 coordinate column" in msg
    # every column labelled: read, each value at its own time
    _time_columns_file(path, ["u @ t=0", "u @ t=0.5", "u @ t=1"], [[0.25, 1, 2, 3], [0.75, 4, 5, 6]])
    ref, lines = load_user_reference(spec, KEY, ("x", "t"), ("u",))
    assert ref.nodes.tolist() == [[0.25, 0], [0.25, 0.5], [0.25, 1], [0.75, 0], [0.75, 0.5], [0.75, 1]]
    assert ref.values.tolist() == [1, 2, 3, 4, 5, 6] and lines.tolist() == [3, 3, 3, 4, 4, 4]


def test_time_columns_interleaved_fields_are_refused_naming_the_layout_expected(tmp_path):
    """u @ t=0  v @ t=0  u @ t=1  v @ t=1 with fields {u: 1, v: 2}: u read v's columns and times twice."""
    path = tmp_path / "inter.dat"
    rows = [[0.25, 1, 10, 2, 20], [0.75, 3, 30, 4, 40]]
    _time_columns_file(path, ["u @ t=0", "v @ t=0", "u @ t=1", "v @ t=1"], rows)
    spec = {"path": str(path), "layout": "time_columns", "columns": {"coords": [0], "fields": {"u": 1, "v": 2}}}
    msg = both_raise(DataError, spec, ("x", "t"), ("u", "v"))
    assert "inter.dat (record line 2)" in msg and "field 'u''s columns 1..2 as u and v" in msg
    assert "each field's columns side by side" in msg and "(u @ t0, u @ t1, .., v @ t0, ..)" in msg
    # repeated times in one field's columns (labels naming no field) are refused too
    _time_columns_file(path, ["@ t=0", "@ t=0", "@ t=1", "@ t=1"], rows)
    msg = both_raise(DataError, spec, ("x", "t"), ("u", "v"))
    assert "times of field 'u''s columns 1..2 are not strictly increasing (t = 0, 0)" in msg
    # the side-by-side export is read, each field from its own columns
    _time_columns_file(path, ["u @ t=0", "u @ t=1", "v @ t=0", "v @ t=1"], [[0.25, 1, 2, 10, 20]])
    spec["columns"]["fields"] = {"u": 1, "v": 3}
    ref, _ = load_user_reference(spec, KEY, ("x", "t"), ("u", "v"))
    assert ref.nodes.tolist() == [[0.25, 0], [0.25, 1]]
    assert ref.field("u").tolist() == [1, 2] and ref.field("v").tolist() == [10, 20]
    # given times: overlapping field columns and times out of order are config errors
    with pytest.raises(ConfigError, match=r"time columns from column 2 overlap those of field 'u'") as info:
        load_user_reference({**spec, "times": [0, 1], "columns": {"coords": [0], "fields": {"u": 1, "v": 2}}},
                            KEY, ("x", "t"), ("u", "v"))
    assert info.value.key == f"{KEY}.columns.fields.v"
    with pytest.raises(ConfigError, match=r"strictly increasing, got \[1\.0, 0\.0\]") as info:
        load_user_reference({**spec, "times": [1, 0]}, KEY, ("x", "t"), ("u", "v"))
    assert info.value.key == f"{KEY}.times"


# -- 2. csv headers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ['\ufeffx,t,u', '"x","t","u"', "# x,t,u", '\ufeff"x", "t", "u"'])
def test_csv_headers_of_excel_r_and_savetxt_are_read(tmp_path, header):
    path = tmp_path / "ref.csv"
    path.write_text(header + "\n0.5,0.25,1.5\n0.75,1,2.5\n", encoding="utf-8")
    spec = {"path": str(path), "columns": {"coords": ["x", "t"], "fields": {"u": "u"}}}
    check_user_reference_columns(spec, KEY, ("x", "t"), ("u",))
    ref, lines = load_user_reference(spec, KEY, ("x", "t"), ("u",))
    assert ref.nodes.tolist() == [[0.5, 0.25], [0.75, 1]] and ref.values.tolist() == [1.5, 2.5]
    assert lines.tolist() == [2, 3]


def test_a_hash_starts_only_the_header_and_a_semicolon_file_is_named_as_such(tmp_path):
    path = tmp_path / "ref.csv"
    spec = {"path": str(path), "columns": {"coords": ["x"], "fields": {"u": "u"}}}
    path.write_text("# x,u\n0.5,1\n# 0.7,2\n")
    with pytest.raises(DataError, match=r"ref\.csv \(record line 3\): non-numeric value in '# 0\.7,2'"):
        load_user_reference(spec, KEY, ("x",), ("u",))
    semi = tmp_path / "semi.csv"
    semi.write_text("x;u\n0,5;1\n")
    msg = both_raise(DataError, {**spec, "path": str(semi)}, ("x",), ("u",))
    assert "semi.csv (record line 1)" in msg and "looks ';'-separated (header 'x;u')" in msg


# -- 3. a non-npz file given as npz ----------------------------------------------------------------------------

def test_a_file_that_is_not_an_npz_archive_is_named_as_such(tmp_path):
    text = tmp_path / "ref.csv"
    text.write_text("x,u\n0.5,1\n")
    spec = {"path": str(text), "format": "npz", "columns": {"coords": ["x"], "fields": {"u": "u"}}}
    msg = both_raise(DataError, spec, ("x",), ("u",))
    assert "ref.csv: not an .npz archive (it begins like a text file)" in msg and "pickle" not in msg
    npy = tmp_path / "arr.npz"
    with open(npy, "wb") as fh:  # np.save to a name ending .npz (np.save would append .npy)
        np.save(fh, np.zeros(3))
    msg = both_raise(DataError, {**spec, "path": str(npy)}, ("x",), ("u",))
    assert "arr.npz: not an .npz archive (it holds a single .npy array)" in msg


# -- 4. netCDF coordinates over differently named dimensions ------------------------------------------------------

def test_netcdf_coordinates_are_matched_to_the_field_by_dimension(tmp_path):
    x, t = np.linspace(0, 1, 4), np.linspace(0, 2, 3)
    u = np.add.outer(10 * t, x)  # (nt, nx)
    path = tmp_path / "dims.nc"
    xr.Dataset({"u": (("nt", "nx"), u), "xc": ("nx", x), "tc": ("nt", t)}).to_netcdf(path, engine="h5netcdf")
    spec = {"path": str(path), "columns": {"coords": ["xc", "tc"], "fields": {"u": "u"}}}
    check_user_reference_columns(spec, KEY, ("x", "t"), ("u",))
    ref, _ = load_user_reference(spec, KEY, ("x", "t"), ("u",))
    pts = ref.points()
    assert len(pts) == 12 and np.allclose(ref.values, pts[:, 0] + 10 * pts[:, 1])
    # a coordinate variable over a dimension the field lacks: named, and not "cannot read as netCDF"
    xr.Dataset({"u": (("nt", "nx"), u), "xc": ("nx", x), "tc": ("ntime", t)}).to_netcdf(path, engine="h5netcdf")
    msg = both_raise(DataError, spec, ("x", "t"), ("u",))
    assert "coordinate variable 'tc' is over dimension 'ntime', which field variable 'u' (nt, nx) does not have" in msg
    assert "cannot read as netCDF" not in msg


# -- 5. points on the boundary, one tolerance for every geometry ---------------------------------------------------

@pytest.mark.parametrize("geometry, near, far", [
    ({"type": "interval", "low": 0, "high": 1}, [[1 + 1e-13], [-1e-13]], [1 + 1e-5]),
    ({"type": "rectangle", "low": [0, 0], "high": [1, 1]}, [[1 + 1e-13, 0.5], [1 + 1e-13, -1e-13]], [1 + 1e-5, 0.5]),
    ({"type": "difference", "of": [{"type": "rectangle", "low": [0, 0], "high": [1, 1]},
                                   {"type": "disk", "center": [0.5, 0.5], "radius": 0.25}]},
     [[float(0.5 + 0.25 * np.sqrt(0.5) - 1e-13)] * 2, [1 + 1e-13, 1 + 1e-13]], [0.5, 0.5]),
])
def test_roundoff_outside_the_boundary_is_accepted_by_every_geometry_and_far_points_refused(tmp_path, geometry,
                                                                                           near, far):
    dim = len(far)
    names = ["x", "y"][:dim]
    path = tmp_path / "ref.csv"
    inside = [[0.1] * dim]
    spec = {"path": str(path), "columns": {"coords": names, "fields": {"u": "u"}}}
    problem = load_problem(declared_cfg(spec, geometry=geometry, equations=["u_xx" if dim == 1 else "u_xx + u_yy"]),
                           "mine")
    path.write_text(",".join(names) + ",u\n" + "".join(",".join(map(repr, p)) + ",0\n" for p in inside + near))
    assert len(problem.reference().points()) == 1 + len(near)
    path.write_text(",".join(names) + ",u\n" + "".join(",".join(map(repr, p)) + ",0\n"
                                                      for p in inside + near + [far, [v + 1e-3 for v in far]]))
    with pytest.raises(DataError, match=r"ref\.csv \(record line %d\): 2 reference points lie outside the domain"
                       % (3 + len(near))):
        problem.reference()


def test_time_gets_the_same_relative_tolerance(tmp_path):
    path = tmp_path / "ref.csv"
    spec = {"path": str(path), "columns": {"coords": ["x", "t"], "fields": {"u": "u"}}}
    problem = load_problem(declared_cfg(spec, geometry={"type": "interval", "low": 0, "high": 1}, time=[0, 100],
                                        equations=["u_t - u_xx"]), "mine")
    path.write_text("x,t,u\n0.5,0,0\n0.5,100.00000001,0\n")  # 1e-10 of the span
    assert len(problem.reference().points()) == 2
    path.write_text("x,t,u\n0.5,0,0\n0.5,100.001,0\n")
    with pytest.raises(DataError, match=r"line 3\): 1 reference points lie outside"):
        problem.reference()


# -- 6. and 7. fields of a declared problem ------------------------------------------------------------------------

def test_a_field_in_no_equation_and_no_condition_is_refused():
    cfg = declared_cfg(geometry={"type": "interval", "low": 0, "high": 1}, fields=("u", "v"),
                       equations=["u_xx + pi**2*sin(pi*x)"], conditions=[{"type": "dirichlet", "field": "u",
                                                                          "value": 0}],
                       solution={"u": "sin(pi*x)", "v": "pi*cos(pi*x)"})
    with pytest.raises(ConfigError) as info:
        load_problem(cfg, "mine")
    assert info.value.key == "pde.declared.mine.fields"
    assert "field 'v' of problem 'mine' appears in no equation and no condition" in str(info.value)
    # used in a condition only (or an equation only), it is constrained: accepted
    cfg["declared"]["mine"]["conditions"].append({"type": "dirichlet", "field": "v", "value": 0})
    assert load_problem(cfg, "mine").fields == ("u", "v")


def test_a_condition_of_a_problem_of_several_fields_must_name_its_field():
    cfg = declared_cfg(geometry={"type": "interval", "low": 0, "high": 1}, fields=("u", "v"),
                       equations=["u_xx + 2", "v_xx"], conditions=[{"type": "dirichlet", "field": "u", "value": 0},
                                                                   {"type": "dirichlet", "value": 0}],
                       solution={"u": "x*(1 - x)", "v": "0"})
    with pytest.raises(ConfigError) as info:
        load_problem(cfg, "mine")
    assert info.value.key == "pde.declared.mine.conditions[1].field"
    assert "must name its field (field: u) when the problem has several fields (u, v)" in str(info.value)
    assert "None" not in str(info.value)


def test_a_dat_file_with_column_names_on_a_plain_first_line_is_told_about_the_percent_header(tmp_path):
    p = tmp_path / "hdr.dat"
    p.write_text("x y u\n0 0 0\n1 1 0\n")
    spec = {"path": str(p), "columns": {"coords": [0, 1], "fields": {"u": 2}}}
    with pytest.raises(DataError, match=r"hdr.dat \(record line 1\): non-numeric value in 'x y u'.*start with '%'"):
        load_user_reference(spec, KEY, ("x", "y"), ("u",))
