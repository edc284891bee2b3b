"""The pde notebook runs top to bottom through the package API."""

import nbformat
import pytest
from nbclient import NotebookClient


@pytest.mark.slow
def test_pde_notebook_executes(repo_root):
    nb = nbformat.read(repo_root / "notebooks" / "pde_heat_pinn.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(repo_root)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "PINN relative L2 error" in outputs
