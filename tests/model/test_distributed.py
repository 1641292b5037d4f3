"""Scale-out: the same arrival training through xgboost's Dask interface, on a LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest

from eta.config import Settings
from eta.features.frames import Frames
from eta.model import arrival
from eta.model.artefact import Artefact
from tests.model.conftest import TRAIN_FROM, TRAIN_UNTIL

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.mark.parametrize("median_boosters", [1, 2])
def test_dask_training_gives_a_model_as_good_as_local(
    flights_frames: Frames, flights_settings: Settings, flights_model: Artefact, median_boosters: int
) -> None:
    settings = flights_settings.model_copy(
        update={
            "model": flights_settings.model.model_copy(
                update={"median_boosters": median_boosters, "median_share_min_rows": 1000}
            )
        }
    )
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        model = arrival.train(flights_frames, "flight", TRAIN_FROM, TRAIN_UNTIL, settings, dask_client=client)
    finally:
        client.close()
        cluster.close()
    assert model.features == flights_model.features
    assert len(model.extra_median_boosters) == median_boosters - 1
    local, remote = flights_model.meta["metrics"], model.meta["metrics"]
    assert remote["nan_predictions"] == 0
    assert remote["mae_s"] == pytest.approx(local["mae_s"], rel=0.1)
    assert np.isfinite(remote["coverage_p10_p90"])
