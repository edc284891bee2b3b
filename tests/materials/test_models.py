"""Models: shapes, invariance to atom order, and the registry."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from sciml.errors import ConfigError
from sciml.materials.graphs import GraphSettings, structure_graph
from sciml.materials.models import MODEL_NAMES, build_model


def batch_of(structs, perm=None):
    data = []
    for s in structs:
        g = structure_graph(s, GraphSettings())
        data.append(Data(z=torch.from_numpy(g.z), edge_index=torch.from_numpy(g.edge_index),
                         distance=torch.from_numpy(g.distance), num_nodes=len(g.z)))
    return Batch.from_data_list(data)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shape_and_permutation_invariance(name, jdft2d_records):
    torch.manual_seed(0)
    model = build_model(name, cutoff=8.0).eval()
    structs = [r.structure for r in jdft2d_records[:4]]
    out = model(batch_of(structs))
    assert out.shape == (4,) and torch.isfinite(out).all()
    from pymatgen.core import Structure

    reordered = [Structure.from_sites(list(reversed(s.sites))) for s in structs]
    out2 = model(batch_of(reordered))
    torch.testing.assert_close(out, out2, rtol=1e-4, atol=1e-4)


def test_unknown_model_names_valid_values():
    with pytest.raises(ConfigError, match="cgcnn, cogn"):
        build_model("alignn")
