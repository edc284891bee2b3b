"""Classical solvers against the shipped references and analytic solutions."""

import numpy as np

from sciml.pde.evaluate import relative_l2
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
