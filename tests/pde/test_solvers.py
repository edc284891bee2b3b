"""Classical solvers against the shipped references and analytic solutions."""

import numpy as np

from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem


def test_burgers_spectral_matches_reference_file(shared_data):
    p = get_problem("burgers")
    ref = p.reference(shared_data)
    err = relative_l2(p.solve(ref, {"n": 1024, "steps_per_output": 8}), ref)
    assert err <= 1e-3, err  # issue target; measured ~1.6e-6 at n=1024
    coarse = relative_l2(p.solve(ref, {"n": 256, "steps_per_output": 2}), ref)
    assert coarse > 10 * err  # refinement really improves it


def test_allen_cahn_spectral_matches_reference_file(shared_data):
    p = get_problem("allen_cahn")
    ref = p.reference(shared_data)
    assert relative_l2(p.solve(ref, {"n": 256, "steps_per_output": 4}), ref) <= 1e-2


def test_heat_crank_nicolson_converges_second_order():
    p = get_problem("heat")
    ref = p.reference()
    e1 = relative_l2(p.solve(ref, {"nx": 16, "steps_per_output": 1}), ref)
    e2 = relative_l2(p.solve(ref, {"nx": 32, "steps_per_output": 2}), ref)
    assert e2 < 1e-3 and 3.5 < e1 / e2 < 4.5


def test_poisson_fem_unit_square_benchmark_value():
    """-Laplace u = 1 on [-1,1]^2: u(0,0) = 0.2946854 (classical series value)."""
    from skfem import Basis, BilinearForm, ElementTriP2, LinearForm, MeshTri, condense, solve
    from skfem.helpers import dot, grad

    from sciml.pde.solvers.poisson_fem import evaluate_on_points

    mesh = MeshTri.init_tensor(np.linspace(-1, 1, 33), np.linspace(-1, 1, 33))
    basis = Basis(mesh, ElementTriP2())
    A = BilinearForm(lambda u, v, _: dot(grad(u), grad(v))).assemble(basis)
    b = LinearForm(lambda v, _: v).assemble(basis)
    u = solve(*condense(A, b, D=basis.get_dofs()))
    assert abs(evaluate_on_points(basis, u, np.array([[-0.0, -0.0]]))[0] - 0.2946854) < 1e-4


def test_poisson_lshape_fem_converges_and_masks(shared_data):
    p = get_problem("poisson_lshape")
    ref = p.reference(shared_data)
    u3 = p.solve(ref, {"refine": 3, "order": 2})
    u4 = p.solve(ref, {"refine": 4, "order": 2})
    assert np.array_equal(np.isnan(u4), ~ref.mask)  # NaN exactly outside the domain
    m = ref.mask
    assert np.linalg.norm(u3[m] - u4[m]) / np.linalg.norm(u4[m]) < 5e-3  # re-entrant corner limits the rate
    # The shipped reference is ~10% below the converged FEM (its discrete Laplacian is
    # ~-0.9, not -1); documented in the report. Pin the gap so a change is noticed.
    assert 0.05 < relative_l2(u4, ref) < 0.15


def test_fem_point_evaluation_equals_scikit_fem_probes_on_a_graded_mesh():
    """Exact point location (fem_points) gives the values of scikit-fem's own probes, on an
    adaptively graded mesh, with NaN exactly outside the L-shape."""
    from skfem import Basis, ElementTriP2, MeshTri

    from sciml.pde.solvers import poisson_fem

    mesh = MeshTri.init_lshaped().refined(2)
    for _ in range(3):  # grade towards the corner
        near = np.flatnonzero(np.linalg.norm(mesh.p[:, mesh.t].mean(axis=1), axis=0) < 0.3)
        mesh = mesh.refined(near)
    basis = Basis(mesh, ElementTriP2())
    u = np.sin(np.arange(basis.N, dtype=float))
    pts = np.random.default_rng(0).uniform(-1, 1, size=(300, 2))
    pts[:3] = [[0.0, -0.5], [-1.0, 0.2], [0.0, 0.0]]  # on the boundary
    inside = ~((pts[:, 0] > 0) & (pts[:, 1] > 0))
    got = poisson_fem.evaluate_on_points(basis, u, pts)
    assert np.array_equal(np.isnan(got), ~inside)
    assert np.allclose(got[inside], basis.probes(pts[inside].T) @ u, rtol=0, atol=1e-12)


def test_lshape_fem_ladder_converges_to_an_independent_finite_difference_solve(shared_data):
    """The finest ladder level (adaptive P2, 25 steps) agrees with benchmarks/pde/lshape_reference_check.py's
    5-point FD solve (h = 1/100) to < 2e-3, while both are ~0.10 from the shipped file; the
    adaptive levels beat the uniform ones, and the adaptive mesh is graded towards the corner."""
    from scipy.interpolate import RegularGridInterpolator
    from skfem import MeshTri, adaptive_theta

    from sciml.pde.solvers.poisson_fem import _assemble_and_solve, jump_estimator

    from tests.conftest import load_script

    check = load_script("benchmarks/pde/lshape_reference_check.py")
    p = get_problem("poisson_lshape")
    ref = p.reference(shared_data)
    m = ref.mask
    assert p.solver_levels()[-1] == {"adaptive_steps": 25, "order": 2}
    fem = p.solve(ref, p.solver_levels()[-1])[m]

    def rel(a):
        return np.linalg.norm(a - fem) / np.linalg.norm(fem)

    g, u = check.finite_difference_solve(200)
    assert rel(RegularGridInterpolator((g, g), u)(ref.points()[m.ravel()])) < 2e-3
    assert 0.09 < rel(ref.values[m]) < 0.11
    assert rel(p.solve(ref, {"adaptive_steps": 15, "order": 2})[m]) < 1e-4
    assert rel(p.solve(ref, {"refine": 5, "order": 2})[m]) > 5e-4
    lap = check.spectral_minus_laplacian(ref)
    assert 0.9 < lap.mean() < 0.96  # the file's own -Laplacian: not 1
    # graded: after 10 steps the smallest elements touch the re-entrant corner (0, 0)
    mesh = MeshTri.init_lshaped().refined(1)
    for _ in range(10):
        basis, uh = _assemble_and_solve(mesh, 1.0, 2)
        mesh = mesh.refined(adaptive_theta(jump_estimator(basis, uh), theta=0.5))
    (x0, x1, x2), (y0, y1, y2) = mesh.p[0, mesh.t], mesh.p[1, mesh.t]
    area = np.abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2
    smallest = mesh.p[:, mesh.t[:, np.argsort(area)[:5]]]
    assert np.abs(smallest).max() < 0.05 and area.max() / area.min() > 1e3
