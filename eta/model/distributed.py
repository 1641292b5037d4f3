"""Scale-out: the same arrival training through xgboost's Dask interface (optional extra ``eta[dask]``).

Features are computed as usual (one process, pandas); the training matrix is split into partitions and the
boosting runs on the Dask workers. ``eta train --dask tcp://scheduler:8786`` points it at a real cluster
(every worker needs ``pip install "eta[dask]"``); ``--dask local`` starts a local cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from eta.errors import EtaError

PARTITION_ROWS = 200_000


def _require_dask() -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise EtaError('Dask training needs the extra: pip install "eta[dask]"') from exc


def connect(address: str) -> Any:
    """A Dask client for ``address`` (``local``: a local cluster in this process's threads)."""
    _require_dask()
    from distributed import Client, LocalCluster

    if address == "local":
        return Client(LocalCluster(n_workers=1, threads_per_worker=2, processes=False))
    try:
        return Client(address, timeout="10s")
    except OSError as exc:
        raise EtaError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def fit_on_dask(
    client: Any, params: dict[str, Any], features: pd.DataFrame, target: pd.Series, n_rounds: int
) -> xgb.Booster:
    """Train a booster on the cluster behind ``client``; same parameters as local training."""
    _require_dask()
    import dask.dataframe as dd
    from xgboost import dask as dxgb

    n_parts = max(1, len(features) // PARTITION_ROWS)
    x = dd.from_pandas(features.reset_index(drop=True), npartitions=n_parts)
    y = dd.from_pandas(pd.Series(target.to_numpy(), name="target"), npartitions=n_parts)
    matrix = dxgb.DaskDMatrix(client, x, y, enable_categorical=True, missing=np.nan)
    dask_params = {k: v for k, v in params.items() if k != "nthread"}
    result = dxgb.train(client, dask_params, matrix, num_boost_round=n_rounds)
    booster: xgb.Booster = result["booster"]
    return booster
