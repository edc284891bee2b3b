"""benchmarks/materials/fold_validation_mae.py: the kept epoch's validation MAE from a fold's Lightning log."""

from __future__ import annotations

import pytest

from tests.conftest import load_script


def _script():
    return load_script("benchmarks/materials/fold_validation_mae.py")


def test_the_lowest_validation_loss_picks_the_epoch_not_the_lowest_mae(tmp_path):
    # CSVLogger layout: training rows leave the validation columns empty
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train_loss,val_loss,val_mae\n"
                   "0,10,0.9,,\n0,10,,0.50,0.40\n"
                   "1,20,0.5,,\n1,20,,0.30,0.35\n"
                   "2,30,0.4,,\n2,30,,0.30,0.20\n"  # a tie on the loss: the first epoch stays kept
                   "3,40,0.3,,\n3,40,,0.45,0.10\n")  # lowest MAE, not the kept epoch
    assert _script().kept_epoch_val_mae(log) == (1, pytest.approx(0.35))


def test_a_log_without_validation_rows_is_an_error_naming_it(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,train_loss,val_loss,val_mae\n0,10,0.9,,\n")
    with pytest.raises(ValueError, match="metrics.csv: no row"):
        _script().kept_epoch_val_mae(log)
