"""Safe expressions for user-declared PDEs, boundary values and boundary selectors.

Text from config is parsed with :mod:`ast` (never ``eval``) and every node is checked
against a whitelist before anything is built. The grammar::

    expr     := number | name | func "(" expr, ... ")" | "(" expr ")"
              | expr ("+" | "-" | "*" | "/" | "**") expr | ("-" | "+") expr
    name     := input | field | param | "pi" | "e" | derivative
    derivative := field "_" input+          e.g. u_x, u_xx, u_xy, u_t, u_xxx
    func     := sin cos tan exp log sqrt tanh sinh cosh arctan arcsin arccos abs sign
                heaviside              (heaviside(0) = 0.5)

and, only with ``allow_comparisons=True`` (boundary selectors)::

    expr     := expr ("<" | "<=" | ">" | ">=" | "==") expr ...   (chains allowed)
              | expr "&" expr | expr "|" expr | "~" expr | isclose(expr, expr)

``&``, ``|`` and ``~`` take comparisons; since ``&`` binds tighter than ``<``, write
``(x > 0) & (y < 1)``. ``isclose(a, b)`` is ``|a - b| <= tol * max(1, |a|, |b|)`` with
``tol = 1e-8`` for float64 data and ``1e-6`` for float32 (points sampled in float32 sit a
few ulps off a boundary). Derivative suffixes are split greedily against the input names,
longest name first; ``u_xy`` is d/dy(du/dx). Numbers are floats; arithmetic on constants
follows IEEE rules (``1/0`` is inf). Anything else (attributes, subscripts, keyword
arguments, strings, lambdas, comprehensions, ``:=``, ``*args``, ...) raises
:class:`~sciml.errors.ConfigError` naming the key, the piece and its column (1-based).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sciml.errors import ConfigError

#: function name -> number of arguments; each has a numpy and a torch implementation
FUNCTIONS = {name: 1 for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh",
                                  "arctan", "arcsin", "arccos", "abs", "sign", "heaviside")}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.Pow: operator.pow}
_LOGIC = {ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq}
_UN = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_LENGTH, MAX_DEPTH = 1000, 100
_OP_NAMES = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
             ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.Invert: "~", ast.Not: "not"}
_REFUSED = {ast.Attribute: "attribute access is", ast.Subscript: "subscripts/indexing are",
            ast.Lambda: "lambda is", ast.NamedExpr: "assignment expressions (:=) are",
            ast.Starred: "starred arguments are", ast.IfExp: "conditional expressions are",
            ast.BoolOp: "'and'/'or' (use & and |) are", ast.Tuple: "tuples are",
            ast.List: "lists are", ast.Dict: "dicts are", ast.Set: "sets are",
            ast.JoinedStr: "strings are", ast.Slice: "slices are",
            **dict.fromkeys((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
                            "comprehensions are")}


def _split_suffix(suffix: str, inputs: Sequence[str]) -> list[int] | None:
    """Split ``suffix`` into input names, longest name first; None if impossible."""
    out: list[int] = []
    order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    while suffix:
        for i in order:
            if suffix.startswith(inputs[i]):
                out.append(i)
                suffix = suffix[len(inputs[i]):]
                break
        else:
            return None
    return out


class _Checker:
    """Walks the tree once: refuses what is not whitelisted, resolves names, infers kinds."""

    def __init__(self, text, key, inputs, fields, params, allow_derivatives, allow_comparisons):
        self.text, self.key = text, key
        self.inputs, self.fields, self.params = inputs, fields, params
        self.allow_d, self.allow_c = allow_derivatives, allow_comparisons
        self.funcs = dict(FUNCTIONS, **({"isclose": 2} if allow_comparisons else {}))
        self.names: set[str] = set()
        self.derivatives: dict[str, tuple[int, tuple[int, ...]]] = {}

    def fail(self, node: ast.AST | None, what: str, hint: str = "", column: int | None = None) -> ConfigError:
        """A ConfigError on ``node`` (its 1-based ``column``: by default where the node starts)."""
        if column is None and hasattr(node, "col_offset"):
            column = node.col_offset + 1
        where = f" at column {column}" if column else ""
        piece = ast.get_source_segment(self.text, node) if hasattr(node, "col_offset") else None
        piece = f" ('{piece}')" if piece and piece not in what and piece != self.text else ""
        hint = f" ({hint})" if hint else ""
        return ConfigError(self.key, f"{what}{piece}{where} in '{self.text}'{hint}")

    def operator_column(self, node: ast.AST, op: str) -> int | None:
        """1-based column of a binary operator ``op`` in the text (between its operands), else None
        (a BinOp's own column is where its left operand starts, far from the operator)."""
        if not isinstance(node, ast.BinOp) or getattr(node.left, "end_col_offset", None) is None:
            return None
        at = self.text.find(op, node.left.end_col_offset, node.right.col_offset)
        return at + 1 if at >= 0 else None

    def known(self) -> str:
        return ", ".join([*self.inputs, *self.fields, *self.params, *CONSTANTS]) or "none"

    def name(self, node: ast.Name) -> None:
        n = node.id
        self.names.add(n)
        if n in self.inputs or n in self.fields or n in self.params or n in CONSTANTS:
            return
        if n in self.funcs:
            raise self.fail(node, f"function '{n}' must be called")
        field_ = max((f for f in self.fields if n.startswith(f + "_")), key=len, default=None)
        if field_ is None:
            base, _, suffix = n.partition("_")
            if base and suffix and _split_suffix(suffix, self.inputs) is not None:
                raise self.fail(node, f"derivative '{n}' of a field that does not exist",
                                f"fields: {', '.join(self.fields) or 'none'}")
            raise self.fail(node, f"unknown name '{n}'", f"known: {self.known()}")
        suffix = n[len(field_) + 1:]
        idx = _split_suffix(suffix, self.inputs)
        if idx is None:
            raise self.fail(node, f"derivative '{n}': '{suffix}' is not made of input names",
                            f"inputs: {', '.join(self.inputs)}")
        if not self.allow_d:
            raise self.fail(node, f"derivative '{n}' is not allowed here")
        self.derivatives[n] = (self.fields.index(field_), tuple(idx))

    def kind(self, node: ast.AST) -> str:
        """Check ``node``; return 'num' or 'bool'."""
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.fail(node, f"{type(v).__name__} literals are not allowed", "numbers only")
            return "num"
        if isinstance(node, ast.Name):
            self.name(node)
            return "num"
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            self.need(node.left, "num")
            self.need(node.right, "num")
            return "num"
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UN:
            return self.need(node.operand, "num")
        if self.allow_c and isinstance(node, ast.BinOp) and type(node.op) in _LOGIC:
            for side in (node.left, node.right):
                if self.kind(side) != "bool":
                    raise self.fail(side, "'&' and '|' need comparisons on both sides",
                                    "write (x > 0) & (y < 1)")
            return "bool"
        if self.allow_c and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.need(node.operand, "bool")
        if isinstance(node, ast.Compare):
            if not self.allow_c:
                raise self.fail(node, "comparisons are not allowed here")
            for op in node.ops:
                if type(op) not in _CMP:
                    raise self.fail(node, f"comparison '{type(op).__name__}' is not allowed",
                                    "allowed: < <= > >= ==")
            for operand in (node.left, *node.comparators):
                self.need(operand, "num")
            return "bool"
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            op = _OP_NAMES.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"operator '{op}' is not allowed", "allowed: + - * / **"
                            + (" & | ~" if self.allow_c else "") + ("; ** is power" if op == "^" else ""),
                            column=self.operator_column(node, op))
        raise self.fail(node, _REFUSED.get(type(node), f"'{type(node).__name__}' is") + " not allowed")

    def need(self, node: ast.AST, want: str) -> str:
        got = self.kind(node)
        if got != want and want == "num":
            raise self.fail(node, "expected a number here, got a comparison",
                            "combine comparisons only with & | ~")
        if got != want:
            raise self.fail(node, "expected a comparison here, got a number",
                            "wrap comparisons in parentheses: (x > 0) & (y < 1)")
        return got

    def call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name):
            self.kind(node.func)  # names what is wrong with it (e.g. attribute access) first
            raise self.fail(node, "only calls of named functions are allowed")
        f = node.func.id
        if node.keywords:
            raise self.fail(node, f"keyword arguments are not allowed in a call of '{f}'")
        if f not in self.funcs:
            raise self.fail(node, f"function '{f}' is not allowed",
                            f"allowed: {', '.join(sorted(self.funcs))}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "starred arguments are not allowed")
        if len(node.args) != self.funcs[f]:
            raise self.fail(node, f"'{f}' takes {self.funcs[f]} argument(s), got {len(node.args)}")
        for a in node.args:
            self.need(a, "num")
        return "bool" if f == "isclose" else "num"


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression; see :meth:`residual`, :meth:`evaluate_numpy`, :meth:`evaluate_torch`."""

    text: str
    key: str
    inputs: tuple[str, ...]
    fields: tuple[str, ...]
    params: Mapping[str, float]
    tree: ast.Expression = field(repr=False)
    names_used: frozenset[str]  # every name in the text
    derivatives: frozenset[str]
    fields_used: frozenset[str]  # used as values or differentiated
    inputs_used: frozenset[str]  # used as values or differentiated against
    params_used: frozenset[str]
    derivative_spec: Mapping[str, tuple[int, tuple[int, ...]]]  # name -> (field, inputs) indices
    is_boolean: bool  # a selector

    def residual(self, dde: Any) -> Callable[[Any, Any], Any]:
        """A DeepXDE (pytorch) PDE function ``(x, y) -> (n, 1)`` tensor."""
        return lambda x, y: self.evaluate_torch(x, y, dde)

    def evaluate_torch(self, X: Any, Y: Any = None, dde: Any = None) -> Any:
        """Evaluate on torch tensors X (n, d) and Y (n, n_fields); result (n, 1).

        Derivatives need ``dde`` and a Y computed from X (X with ``requires_grad``).
        """
        import torch

        if self.derivative_spec and dde is None:
            raise ConfigError(self.key, f"'{self.text}' uses derivatives: pass dde")
        env = self._env(X, Y)
        for n, (c, idx) in self.derivative_spec.items():
            env[n] = _derivative(dde, Y, X, c, idx)
        r = _eval(self.tree.body, env, _torch_ops())
        if not isinstance(r, torch.Tensor):
            dtype = torch.bool if isinstance(r, bool) else X.dtype
            r = torch.full((X.shape[0], 1), r, dtype=dtype, device=X.device)
        return r

    def evaluate_numpy(self, X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
        """Evaluate with numpy on points X (n, d) (and field values Y (n, n_fields)).

        Values come back as (n, 1), selectors as boolean (n,). DeepXDE reads a callback's
        arity (two arguments means ``aux_var``): hand it ``lambda X: e.evaluate_numpy(X)``.
        """
        if self.derivative_spec:
            raise ConfigError(self.key, f"'{self.text}' uses derivatives "
                              f"({', '.join(sorted(self.derivative_spec))}); they need the network "
                              "and cannot be evaluated on points")
        X = np.atleast_2d(np.asarray(X))
        r = _eval(self.tree.body, self._env(X, None if Y is None else np.atleast_2d(Y)), _NP_OPS)
        r = np.broadcast_to(np.asarray(r), (X.shape[0], 1)).copy()
        return r.reshape(-1) if self.is_boolean else r

    def _env(self, X: Any, Y: Any) -> dict[str, Any]:
        if X.ndim != 2 or X.shape[1] != len(self.inputs):
            raise ValueError(f"{self.key}: X must be (n, {len(self.inputs)}), got {tuple(X.shape)}")
        env: dict[str, Any] = {**CONSTANTS, **self.params}
        env.update({n: X[:, i:i + 1] for i, n in enumerate(self.inputs)})
        if self.names_used & set(self.fields) or self.derivative_spec:
            if Y is None or Y.ndim != 2 or Y.shape[1] != len(self.fields):
                got = None if Y is None else tuple(Y.shape)
                raise ValueError(f"{self.key}: '{self.text}' uses fields: Y must be "
                                 f"(n, {len(self.fields)}), got {got}")
            env.update({n: Y[:, c:c + 1] for c, n in enumerate(self.fields)})
        return env


def parse_expression(text: str, *, inputs: Sequence[str], fields: Sequence[str] = (),
                     params: Mapping[str, float] | None = None, key: str = "<expression>",
                     allow_derivatives: bool = True, allow_comparisons: bool = False) -> Expression:
    """Parse and check ``text`` (see the module docstring for the grammar); raise ConfigError."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(key, f"must be a non-empty expression string, got {text!r}")
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise ConfigError(key, f"expression is longer than {MAX_LENGTH} characters")
    inputs, fields = tuple(inputs), tuple(fields)
    clean = {n: v for n, v in (params or {}).items()}
    names = [*inputs, *fields, *clean]
    shadow = [n for n in names if n in CONSTANTS]
    if shadow:
        raise ConfigError(key, f"'{shadow[0]}' would hide the constant {shadow[0]} = {CONSTANTS[shadow[0]]:.6g}: "
                          "inputs, fields and parameters may not be named pi or e (rename it)")
    bad = [n for n in names if not isinstance(n, str) or not n.isidentifier() or n in FUNCTIONS
           or n == "isclose"]
    if bad or len(set(names)) != len(names):
        raise ConfigError(key, f"inputs, fields and parameters must be distinct identifiers that "
                          f"are not function names, got {names}")
    for n, v in clean.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(key, f"parameter '{n}' must be a number, got {v!r}")
        clean[n] = float(v)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise ConfigError(key, f"syntax error{col} in '{text}': {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConfigError(key, f"cannot parse '{text}': {exc}") from None
    stack = [(tree, 0)]
    while stack:  # bound the depth before the recursive checker and evaluator see the tree
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(key, f"'{text}' is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    chk = _Checker(text, key, inputs, fields, clean, allow_derivatives, allow_comparisons)
    kind = chk.kind(tree.body)
    for node in ast.walk(tree):  # constants become floats (no big-int arithmetic at run time)
        if isinstance(node, ast.Constant):
            try:
                node.value = float(node.value)
            except OverflowError:
                raise chk.fail(node, "number too large") from None
    names, spec = frozenset(chk.names), dict(chk.derivatives)
    d_fields = {fields[c] for c, _ in spec.values()}
    d_inputs = {inputs[i] for _, idx in spec.values() for i in idx}
    return Expression(text, key, inputs, fields, clean, tree, names, frozenset(spec),
                      frozenset(d_fields | (names & set(fields))),
                      frozenset(d_inputs | (names & set(inputs))), names & frozenset(clean), spec,
                      kind == "bool")


def _derivative(dde: Any, y: Any, x: Any, component: int, idx: tuple[int, ...]) -> Any:
    """d^k y[:, component] / dx_idx[0] ... dx_idx[-1] with dde.grad (higher orders nested)."""
    if len(idx) == 1:
        return dde.grad.jacobian(y, x, i=component, j=idx[0])
    d = dde.grad.hessian(y, x, component=component, i=idx[0], j=idx[1])
    for j in idx[2:]:
        d = dde.grad.jacobian(d, x, i=0, j=j)
    return d


def _eval(node: ast.AST, env: Mapping[str, Any], ops: Mapping[str, Callable]) -> Any:
    """Evaluate a checked node. Operations on plain Python scalars go through numpy float64."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        op = _BIN.get(type(node.op)) or _LOGIC[type(node.op)]
        return _apply(op, _eval(node.left, env, ops), _eval(node.right, env, ops))
    if isinstance(node, ast.UnaryOp):
        op = operator.invert if isinstance(node.op, ast.Invert) else _UN[type(node.op)]
        return _apply(op, _eval(node.operand, env, ops))
    if isinstance(node, ast.Compare):
        vals = [_eval(v, env, ops) for v in (node.left, *node.comparators)]
        out = None
        for op, a, b in zip(node.ops, vals, vals[1:]):
            r = _apply(_CMP[type(op)], a, b)
            out = r if out is None else _apply(operator.and_, out, r)
        return out
    args = [_eval(a, env, ops) for a in node.args]
    return _apply(_NP_OPS[node.func.id], *args, fn=ops[node.func.id])


def _apply(op: Callable, *args: Any, fn: Callable | None = None) -> Any:
    """``fn(*args)`` (default ``op``); all-scalar arguments use numpy ``op`` with IEEE results."""
    if all(isinstance(a, (bool, int, float)) for a in args):
        with np.errstate(all="ignore"):
            return op(*(np.bool_(a) if isinstance(a, bool) else np.float64(a) for a in args)).item()
    return (fn or op)(*args)


def _np_isclose(a: Any, b: Any) -> Any:
    d = np.abs(np.subtract(a, b))
    tol = 1e-6 if np.result_type(d) in (np.float32, np.float16) else 1e-8
    return d <= tol * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))


_NP_OPS: dict[str, Callable] = {n: getattr(np, n) for n in FUNCTIONS if n != "heaviside"}
_NP_OPS.update(heaviside=lambda a: np.heaviside(a, 0.5), isclose=_np_isclose)


def _torch_ops() -> dict[str, Callable]:
    import torch

    def isclose(a: Any, b: Any) -> Any:
        a, b = (torch.as_tensor(v) for v in (a, b))
        d = (a - b).abs()
        tol = 1e-6 if d.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-8
        return d <= tol * torch.clamp(torch.maximum(a.abs(), b.abs()), min=1.0)

    ops = {n: getattr(torch, n) for n in FUNCTIONS if hasattr(torch, n)}
    ops.update(arctan=torch.atan, arcsin=torch.asin, arccos=torch.acos, isclose=isclose,
               heaviside=lambda a: (a > 0).to(a.dtype) + 0.5 * (a == 0).to(a.dtype))
    return ops
