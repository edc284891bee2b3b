"""The proteins notebook runs end to end through the package API."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient


@pytest.mark.slow
def test_notebook_executes(repo_root):
    nb = nbformat.read(repo_root / "notebooks/proteins_contact_prediction.ipynb", as_version=4)
    # run in notebooks/, where Jupyter starts a notebook's kernel
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "long L/5" in outputs and "PFRMAT RR" in outputs
