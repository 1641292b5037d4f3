"""The read model: what eta knew at a time ``now`` — one home for every "known at now" query.

The API (trips, boards), the GTFS-Realtime feed, alerts and the served calibration all read through
here, live, replayed or backtested alike:

* :mod:`eta.read.timetable` — services, calls and locations;
* :mod:`eta.read.predictions` — the served prediction *in force* at ``now``: the newest one made by
  ``now`` (predictions are rows valid from their ``made_at``; ties go to the last written);
* :mod:`eta.read.reports` — the status of calls from the observations received by ``now``;
* :mod:`eta.read.changes` — when the next stored row makes what is known change (replayed clocks).

Nothing here imports from the layers that use it (api, feeds, alerts); it reads the store only.
"""
