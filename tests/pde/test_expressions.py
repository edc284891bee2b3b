"""sciml.pde.expressions: whitelist parsing, derivatives through DeepXDE, numpy evaluation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sciml.errors import ConfigError
from sciml.pde.expressions import parse_expression

XT = dict(inputs=("x", "t"), fields=("u", "v"), params={"nu": 0.01})


@pytest.fixture(scope="module")
def dde():
    from sciml.pde.pinn import setup_deepxde, torch_precision

    with torch_precision("float64"):
        yield setup_deepxde("float64", 0, 1)


@pytest.fixture
def net(dde):
    """x leaf (n, 2) and y = [sin(x0) x1^2, exp(x0 x1)] computed from it."""
    import torch

    dde.grad.clear()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(7, 2, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    y = torch.cat([torch.sin(x[:, :1]) * x[:, 1:] ** 2, torch.exp(x[:, :1] * x[:, 1:])], dim=1)
    yield x, y, x.detach().numpy()
    dde.grad.clear()


def _closed_form(a, b):
    s, c, ex = np.sin(a), np.cos(a), np.exp(a * b)
    return {
        "u": s * b**2, "v": ex, "u_x": c * b**2, "u_t": 2 * s * b, "u_xx": -s * b**2,
        "u_tt": 2 * s, "u_xt": 2 * b * c, "u_tx": 2 * b * c, "u_xxx": -c * b**2,
        "u_xtt": 2 * c, "u_xxtt": -2 * s, "v_t": a * ex, "v_x": b * ex, "v_xt": ex * (1 + a * b),
        "v_ttt": a**3 * ex,
    }


@pytest.mark.parametrize("name", ["u_x", "u_t", "u_xx", "u_tt", "u_xt", "u_tx", "u_xxx", "u_xtt",
                                  "u_xxtt", "v_t", "v_x", "v_xt", "v_ttt"])
def test_derivatives_match_closed_form(dde, net, name):
    x, y, X = net
    e = parse_expression(name, **XT)
    assert e.derivatives == {name}
    r = e.residual(dde)(x, y)
    assert tuple(r.shape) == (7, 1)
    want = _closed_form(X[:, :1], X[:, 1:])[name]
    np.testing.assert_allclose(r.detach().numpy(), want, rtol=1e-12, atol=1e-12)


def test_burgers_style_residual(dde, net):
    x, y, X = net
    e = parse_expression("u_t + u*u_x - nu*u_xx + sin(pi*x)*v_t", **XT)
    assert e.fields_used == {"u", "v"} and e.params_used == {"nu"} and e.inputs_used == {"x", "t"}
    assert e.derivatives == {"u_t", "u_x", "u_xx", "v_t"}
    f = _closed_form(X[:, :1], X[:, 1:])
    want = f["u_t"] + f["u"] * f["u_x"] - 0.01 * f["u_xx"] + np.sin(np.pi * X[:, :1]) * f["v_t"]
    got = e.residual(dde)(x, y).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_single_output_and_constant_residual(dde):
    import torch

    x = torch.tensor([[0.3, 0.5], [1.2, -0.7]], dtype=torch.float64, requires_grad=True)
    y = x[:, :1] ** 3 * x[:, 1:]
    e = parse_expression("u_xx", inputs=("x", "t"), fields=("u",))
    np.testing.assert_allclose(e.residual(dde)(x, y).detach().numpy(), [[0.9], [-5.04]], rtol=1e-12)
    dde.grad.clear()
    c = parse_expression("2*pi", inputs=("x", "t"), fields=("u",)).residual(dde)(x, y)
    assert tuple(c.shape) == (2, 1) and c.dtype == torch.float64
    np.testing.assert_allclose(c.numpy(), 2 * np.pi)


def test_stokes_like_multi_field_residual(dde):
    import torch

    dde.grad.clear()
    x = torch.tensor([[0.1, 0.2], [-0.5, 0.9], [0.7, -0.3]], dtype=torch.float64, requires_grad=True)
    a, b = x[:, :1], x[:, 1:]
    y = torch.cat([torch.sin(a) * b**2, torch.exp(a * b), a**2 * b + torch.cos(b)], dim=1)
    e = parse_expression("u_xx + u_yy - p_x", inputs=("x", "y"), fields=("u", "v", "p"))
    A, B = x.detach().numpy()[:, :1], x.detach().numpy()[:, 1:]
    want = -np.sin(A) * B**2 + 2 * np.sin(A) - 2 * A * B
    np.testing.assert_allclose(e.residual(dde)(x, y).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    dde.grad.clear()
    div = parse_expression("u_x + v_y", inputs=("x", "y"), fields=("u", "v", "p"))
    want = np.cos(A) * B**2 + A * np.exp(A * B)
    np.testing.assert_allclose(div.residual(dde)(x, y).detach().numpy(), want, rtol=1e-12)


def test_evaluate_torch_value_without_derivatives():
    import torch

    X = torch.tensor([[0.5, 1.0], [0.25, 0.0]], dtype=torch.float64)
    Y = torch.tensor([[2.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    e = parse_expression("u - sin(pi*x)*exp(-t)", **XT, allow_derivatives=False)
    want = Y.numpy()[:, :1] - np.sin(np.pi * X.numpy()[:, :1]) * np.exp(-X.numpy()[:, 1:])
    np.testing.assert_allclose(e.evaluate_torch(X, Y).numpy(), want, rtol=1e-14)


def test_numpy_values():
    X = np.array([[0.5, 0.0], [0.25, 1.0], [0.0, 2.0]])
    e = parse_expression("sin(pi*x)*exp(-t)", inputs=("x", "t"))
    assert e.inputs_used == {"x", "t"} and not e.fields_used and not e.is_boolean
    out = e.evaluate_numpy(X)
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out[:, 0], np.sin(np.pi * X[:, 0]) * np.exp(-X[:, 1]), rtol=1e-14)
    const = parse_expression("-(1 + 2)**2 / 3", inputs=("x", "t")).evaluate_numpy(X)
    assert const.shape == (3, 1) and np.all(const == -3.0)
    allf = parse_expression("sqrt(abs(x)) + tanh(t) + log(1 + t) + arctan(x) + heaviside(x - 0.25) "
                            "+ sign(x - 0.25) + cosh(x) - sinh(x) + tan(x) + arcsin(x) + arccos(x)",
                            inputs=("x", "t")).evaluate_numpy(X)[:, 0]
    x, t = X[:, 0], X[:, 1]
    want = (np.sqrt(x) + np.tanh(t) + np.log(1 + t) + np.arctan(x) + np.array([1, 0.5, 0])
            + np.array([1, 0, -1]) + np.exp(-x) + np.tan(x) + np.pi / 2)
    np.testing.assert_allclose(allf, want, rtol=1e-12)
    withy = parse_expression("u*v + 1", **XT).evaluate_numpy(X, np.array([[1, 2], [3, 4], [5, 6]]))
    assert withy[:, 0].tolist() == [3, 13, 31]


def test_numpy_constants_follow_ieee_and_never_compute_big_ints():
    X = np.zeros((2, 1))
    assert np.all(np.isinf(parse_expression("1/0 + 10**10**10", inputs=("x",)).evaluate_numpy(X)))
    assert np.all(np.isnan(parse_expression("(-8)**(1/3)", inputs=("x",)).evaluate_numpy(X)))
    with pytest.raises(ConfigError, match="number too large"):
        parse_expression("1" * 400, inputs=("x",))


def test_numpy_selectors():
    X = np.array([[0.5, 1.0], [-1.0, 1.0], [1.0, 0.5], [0.3, 1.0 + 1e-12], [0.2, 0.2]])
    sel = parse_expression("isclose(y, 1) & (x > 0)", inputs=("x", "y"), allow_comparisons=True)
    assert sel.is_boolean
    out = sel.evaluate_numpy(X)
    assert out.dtype == bool and out.tolist() == [True, False, False, True, False]
    chain = parse_expression("(0 < x <= 0.5) | ~(y < 1)", inputs=("x", "y"), allow_comparisons=True)
    assert chain.evaluate_numpy(X).tolist() == [True, True, False, True, True]
    # a single point (DeepXDE's on_boundary gets one point at a time)
    assert sel.evaluate_numpy(np.array([0.5, 1.0])).tolist() == [True]
    assert parse_expression("1 < 2", inputs=("x",), allow_comparisons=True).evaluate_numpy(
        np.zeros((3, 1))).tolist() == [True] * 3


def test_isclose_tolerates_float32_points_but_not_real_gaps():
    sel = parse_expression("isclose(y, 100.1)", inputs=("y",), allow_comparisons=True)
    assert sel.evaluate_numpy(np.array([[100.1]], dtype=np.float32)).tolist() == [True]
    assert sel.evaluate_numpy(np.array([[100.1 + 1e-5]])).tolist() == [False]
    assert sel.evaluate_numpy(np.array([[100.1 + 1e-12]])).tolist() == [True]


def test_numpy_refuses_derivatives_and_missing_fields():
    with pytest.raises(ConfigError, match="u_x"):
        parse_expression("u_x", **XT).evaluate_numpy(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="uses fields"):
        parse_expression("u + 1", **XT).evaluate_numpy(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        parse_expression("x + 1", **XT).evaluate_numpy(np.zeros((2, 3)))


REFUSED = [
    ("__import__('os')", "function '__import__' is not allowed"),
    ("__import__('os').system('touch pwned')", "attribute access"),
    ("().__class__", "attribute access"),
    ("x.real", "attribute access"),
    ("open('f')", "function 'open' is not allowed"),
    ("u[0]", "subscripts"),
    ("lambda: 1", "lambda"),
    ("'s'", "str literals"),
    ("f(x=1)", "keyword arguments"),
    ("sin(x=1)", "keyword arguments"),
    ("u_t + foo", "unknown name 'foo' at column 7"),
    ("w_x + u", "derivative 'w_x' of a field that does not exist"),
    ("u_q", "'q' is not made of input names"),
    ("x < 1", "comparisons are not allowed"),
    ("u_t +", "syntax error"),
    ("(y := 1)", "assignment expressions"),
    ("sin(*x)", "starred"),
    ("[i for i in x]", "comprehensions"),
    ("x if t else 1", "conditional expressions"),
    ("x and t", "'and'/'or'"),
    ("not x", "operator 'not'"),
    ("x % 2", "operator '%'"),
    ("x ^ 2", "** is power"),
    ("x & t", "operator '&'"),
    ("True + x", "bool literals"),
    ("1j * x", "complex literals"),
    ("sin", "function 'sin' must be called"),
    ("sin(x, t)", "'sin' takes 1 argument"),
    ("sin(x)(t)", "only calls of named functions"),
    ("isclose(x, 1)", "function 'isclose' is not allowed"),
    ("(x, t)", "tuples"),
    ("sin(" * 120 + "x" + ")" * 120, "nested more than"),
    ("+".join(["x"] * 400), "nested more than"),
]


@pytest.mark.parametrize("text,piece", REFUSED, ids=[t[:20] for t, _ in REFUSED])
def test_refusals_name_key_and_piece(text, piece, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        parse_expression(text, **XT, key="pde.equations[0]")
    msg = str(info.value)
    assert "config key 'pde.equations[0]'" in msg and piece in msg, msg
    assert not list(tmp_path.iterdir())  # nothing was executed


def test_derivatives_refused_where_not_allowed_and_column_reported():
    with pytest.raises(ConfigError, match="derivative 'u_x' is not allowed here at column 5"):
        parse_expression("1 + u_x", **XT, allow_derivatives=False)
    with pytest.raises(ConfigError, match="at column 10"):
        parse_expression("sin(x) + x.real", **XT)


def test_selector_precedence_and_kinds():
    kw = dict(inputs=("x", "y"), allow_comparisons=True)
    with pytest.raises(ConfigError, match=r"need comparisons on both sides.*\(x > 0\) & \(y < 1\)"):
        parse_expression("x > 0 & y < 1", **kw)
    with pytest.raises(ConfigError, match="expected a number here"):
        parse_expression("(x > 0) + 1", **kw)
    with pytest.raises(ConfigError, match="expected a number here"):
        parse_expression("sin(x > 0)", **kw)
    with pytest.raises(ConfigError, match="expected a comparison here"):
        parse_expression("~x", **kw)
    with pytest.raises(ConfigError, match="'Is'"):
        parse_expression("x is y", **kw)
    assert not parse_expression("x + 1", **kw).is_boolean


def test_names_and_params_are_checked():
    with pytest.raises(ConfigError, match="distinct identifiers"):
        parse_expression("x", inputs=("x", "x"))
    with pytest.raises(ConfigError, match="distinct identifiers"):
        parse_expression("x", inputs=("x",), params={"sin": 1.0})
    with pytest.raises(ConfigError, match="must be a number"):
        parse_expression("x", inputs=("x",), params={"a": "1"})
    for name in ("pi", "e"):  # would silently replace the constant in every expression
        with pytest.raises(ConfigError, match=f"'{name}' would hide the constant {name}"):
            parse_expression("sin(pi*x) + e", inputs=("x",), params={name: 3.0})
        with pytest.raises(ConfigError, match=f"'{name}' would hide the constant"):
            parse_expression("x", inputs=("x",), fields=(name,))
    with pytest.raises(ConfigError, match="non-empty"):
        parse_expression("  ", inputs=("x",))
    e = parse_expression(0, inputs=("x",))  # YAML may hand over a bare number
    assert e.evaluate_numpy(np.ones((2, 1))).tolist() == [[0.0], [0.0]]
    longest = parse_expression("u_xxy + u_xxx", inputs=("x", "xx", "y"), fields=("u",))
    assert longest.derivative_spec == {"u_xxy": (0, (1, 2)), "u_xxx": (0, (1, 0))}
    sub = parse_expression("u_1_x", inputs=("x",), fields=("u", "u_1"))
    assert sub.derivative_spec == {"u_1_x": (1, (0,))} and sub.fields_used == {"u_1"}


def test_import_is_light():
    code = ("import sys, sciml.pde.expressions; "
            "print(sorted(m for m in ('torch', 'deepxde') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_refused_operator_is_located_at_the_operator():
    """'^' binds loosest in Python, so its node starts at column 1: the column must be the '^' itself."""
    text = "u_xx + sin(pi*x)*x^2"
    with pytest.raises(ConfigError, match=rf"operator '\^' is not allowed .*at column {text.index('^') + 1} "):
        parse_expression(text, **XT)
