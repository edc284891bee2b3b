"""Classical reference solvers, one per problem class.

- :mod:`.spectral`: Fourier pseudo-spectral + ETDRK4 (Burgers, Allen-Cahn, periodic in x);
- :mod:`.heat`: Crank-Nicolson finite differences (1D heat);
- :mod:`.poisson_fem`: P2 finite elements with scikit-fem, uniform or adaptively refined towards
  the re-entrant corner (Poisson on the L-shape);
- :mod:`.poisson_holes`: P1/P2 finite elements with scikit-fem on a Delaunay mesh of a box
  with circular holes (PINNacle Poisson2d-C);
- :mod:`.fem_points`: point evaluation of their solutions in bounded memory.

Each solver takes a resolution level and returns the field on a given reference grid,
so its error and wall time can be compared with a PINN's.
"""
