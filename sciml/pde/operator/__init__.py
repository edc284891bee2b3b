"""Operator surrogates (DeepONet) for families of PDE solves.

- :mod:`~sciml.pde.operator.families`: input-function families (a periodic Gaussian random
  field of Burgers initial conditions; random smooth sources of Poisson on the L-shape), the
  in-package classical solver of each member, and dataset generation;
- :mod:`~sciml.pde.operator.datasets`: the dataset file (atomic npz + JSON record), checked on read;
- :mod:`~sciml.pde.operator.deeponet`: DeepXDE ``DeepONetCartesianProd``: build, train, save,
  load, and guarded prediction;
- :mod:`~sciml.pde.operator.evaluate`: relative L2 over held-out inputs, the speed table and
  the break-even number of queries.

Nothing here imports torch or DeepXDE at import time.
"""
