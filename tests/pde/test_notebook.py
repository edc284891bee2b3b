"""The pde notebook runs top to bottom through the package API."""

import nbformat
import pytest
from nbclient import NotebookClient


@pytest.mark.slow
def test_pde_notebook_executes(repo_root):
    nb = nbformat.read(repo_root / "notebooks" / "pde_heat_pinn.ipynb", as_version=4)
    # run in notebooks/, where Jupyter starts a notebook's kernel
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "PINN relative L2 error" in outputs


@pytest.mark.slow
def test_own_problem_notebook_trains_a_plugin_and_a_declared_problem(repo_root):
    """notebooks/pde_own_problem.ipynb: a plugin file (< 40 lines) and a config-declared problem,
    neither known to the package, each reach < 1e-2 against its analytic solution (an untrained
    network is ~1 off)."""
    import re

    nb = nbformat.read(repo_root / "notebooks" / "pde_own_problem.ipynb", as_version=4)
    # run in notebooks/, where Jupyter starts a notebook's kernel
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    lines = int(re.search(r"(\d+) lines in my_reaction\.py", outputs).group(1))
    assert lines < 40
    errors = dict(re.findall(r"(\w+): PINN relative L2 error ([0-9.e+-]+)", outputs))
    assert set(errors) == {"my_reaction", "disk_poisson"} and all(float(v) < 1e-2 for v in errors.values()), errors
