"""The graph cache and the no-usable-record error shared by the CHGNet and SevenNet datasets."""

from __future__ import annotations

import pytest
import torch

from sciml.errors import DataError
from sciml.materials.pretrained_data import PretrainedTable, cached_table


def _table(n: int) -> PretrainedTable:
    return PretrainedTable(ids=[f"r{k}" for k in range(n)], all_ids=[f"r{k}" for k in range(n + 1)],
                           graphs=[{"z": torch.tensor([k, k])} for k in range(n)], y=torch.arange(n, dtype=torch.float32),
                           quarantine=[[f"r{n}", 7, "element: Og (Z=118) unknown"]], meta={"m": 1},
                           all_y=torch.arange(n + 1, dtype=torch.float64))


def test_the_cache_round_trips_and_a_corrupt_cache_is_rebuilt(tmp_path):
    cache, builds = tmp_path / "graphs.pt", []

    def build():
        builds.append(1)
        return _table(3)

    pack = lambda g: {"z2": g["z"] * 2}  # noqa: E731  (a visible change, undone by unpack)
    unpack = lambda d: {"z": d["z2"] // 2}  # noqa: E731
    first, hit = cached_table(PretrainedTable, cache, tmp_path / "data.csv", build, "CHGNet", pack, unpack)
    assert not hit and cache.is_file()
    again, hit = cached_table(PretrainedTable, cache, tmp_path / "data.csv", build, "CHGNet", pack, unpack)
    assert hit and len(builds) == 1
    assert again.ids == first.ids and again.quarantine == first.quarantine
    assert [g["z"].tolist() for g in again.graphs] == [[0, 0], [1, 1], [2, 2]]
    cache.write_bytes(b"not a torch file")
    _, hit = cached_table(PretrainedTable, cache, tmp_path / "data.csv", build, "CHGNet", pack, unpack)
    assert not hit and len(builds) == 2


def test_no_usable_record_names_the_file_and_the_reasons(tmp_path):
    # the first quarantined record's reason is named too (a wrong column otherwise said only ['bad_target'])
    with pytest.raises(DataError, match=r"no usable records for SevenNet \(1 quarantined: \['element'\]; "
                                        r"first: id r0: element: Og") as err:
        cached_table(PretrainedTable, tmp_path / "g.pt", tmp_path / "mine.csv", lambda: _table(0), "SevenNet")
    assert "mine.csv" in str(err.value) and not (tmp_path / "g.pt").exists()


def test_frozen_features_are_cached_for_the_other_fold_jobs(tmp_path):
    from sciml.materials.pretrained_data import attach_features

    calls = []

    def compute(graphs):
        calls.append(len(graphs))
        return torch.stack([g["z"].float() for g in graphs])

    cache = tmp_path / "features.pt"
    first = attach_features(_table(5), cache, 2, compute, batch_size=2)
    assert calls == [2, 2, 1] and first.features.shape == (5, 2) and cache.is_file()
    again = attach_features(_table(5), cache, 2, compute, batch_size=2)
    assert calls == [2, 2, 1] and torch.equal(again.features, first.features)
    attach_features(_table(5), cache, 3, lambda g: torch.zeros(len(g), 3), batch_size=8)  # another width: recomputed
    assert torch.load(cache, weights_only=True).shape == (5, 3)
