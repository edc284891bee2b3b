"""Reference loaders: shapes, masking, wrong-shape files."""

import numpy as np
import pytest

from sciml.errors import DataError
from sciml.pde.accuracy import relative_l2
from sciml.pde.problems import get_problem
from sciml.pde.references import Reference, load_burgers, load_poisson_lshape


@pytest.mark.parametrize("name, shape", [
    ("burgers", (256, 100)), ("allen_cahn", (201, 101)), ("poisson_lshape", (161, 161)), ("heat", (101, 101)),
])
def test_reference_shapes(shared_data, name, shape):
    ref = get_problem(name).reference(shared_data)
    assert ref.shape == shape
    assert ref.points().shape == (np.prod(shape), 2)


def test_poisson_nan_points_are_masked_not_bad_data(shared_data):
    ref = get_problem("poisson_lshape").reference(shared_data)
    pts = ref.points()[~ref.mask.ravel()]
    assert len(pts) == 6400
    assert np.all((pts[:, 0] > 0) & (pts[:, 1] > 0))  # exactly the cut-out quadrant
    # rel L2 ignores masked points: a prediction that is garbage there still scores 0
    pred = np.where(ref.mask, ref.values, 1e9)
    assert relative_l2(pred, ref) == 0.0


def test_points_follow_network_input_order():
    ref = Reference(("x", "t"), {"x": np.array([0.0, 1.0]), "t": np.array([0.0, 0.5, 1.0])},
                    np.zeros((2, 3)), "test", inputs=("x", "t"))
    pts = ref.points()
    assert pts[:3].tolist() == [[0.0, 0.0], [0.0, 0.5], [0.0, 1.0]]


def test_wrong_shape_reference_file_names_problem(tmp_path):
    bad = tmp_path / "Burgers.npz"
    np.savez(bad, x=np.zeros((256, 1)), t=np.zeros((100, 1)), usol=np.zeros((100, 256)))
    with pytest.raises(DataError) as exc:
        load_burgers(bad, "burgers")
    assert "burgers" in str(exc.value) and "usol" in str(exc.value) and str(bad) in str(exc.value)


def test_missing_array_and_unreadable_file(tmp_path):
    f = tmp_path / "P.npz"
    np.savez(f, X_test=np.zeros((4, 2)))
    with pytest.raises(DataError, match="y_ref"):
        load_poisson_lshape(f, "poisson_lshape")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(DataError, match="poisson_lshape"):
        load_poisson_lshape(junk, "poisson_lshape")


def test_checksum_mismatch_detected(tmp_path, shared_data):
    from sciml.data import resolve
    from sciml.errors import ChecksumError

    (tmp_path / "pde" / "deepxde").mkdir(parents=True)
    (tmp_path / "pde" / "deepxde" / "Burgers.npz").write_bytes(b"tampered")
    with pytest.raises(ChecksumError):
        resolve("pde/deepxde/Burgers.npz", tmp_path)
