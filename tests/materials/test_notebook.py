"""The materials notebook runs top to bottom through the package API."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_materials_notebook_executes(repo_root):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(repo_root / "notebooks" / "materials_screening.ipynb", as_version=4)
    # run in notebooks/, where Jupyter starts a notebook's kernel
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(repo_root / "notebooks")}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "test MAE" in outputs and "n_predicted" in outputs and "unparsable" in outputs
