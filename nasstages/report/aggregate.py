"""One tidy table of every run's per-query log, for pandas users (``pd.read_csv(path)``).

CSV (gzip) rather than Parquet: pandas reads and writes it without pyarrow (a ~40 MB dependency
nothing else here needs), every tool opens it, and at one row per query the default config's
runs take well under a megabyte compressed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from nasstages.analysis.curves import simple_regret
from nasstages.io import atomic_path
from nasstages.report.trajectories import MethodRuns

KEYS = ("benchmark", "dataset", "method", "seed")


def tidy_runs(runs: list[MethodRuns]) -> pd.DataFrame:
    """Every query of every run: its identity (benchmark, dataset, method, seed), the protocol it
    ran under (its JSON's protocol block, one column per field), the benchmark's optimum, then the
    search log's columns and the incumbent's regret (optimum - incumbent mean accuracy)."""
    frames = []
    for run in runs:
        protocol = {k: (v if v is None or np.isscalar(v) else json.dumps(v, sort_keys=True))
                    for k, v in (run.protocol or {}).items()}
        for seed, log in zip(run.seeds, run.logs):
            frame = log.copy()
            head = {"benchmark": run.benchmark, "dataset": run.dataset, "method": run.method, "seed": seed,
                    **protocol, "optimum": run.optimum}
            for position, (name, value) in enumerate(head.items()):
                frame.insert(position, name, value)
            frame["regret"] = simple_regret(frame["incumbent_mean_acc"].to_numpy(), run.optimum)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*KEYS])
    return pd.concat(frames, ignore_index=True)


def write_tidy_runs(runs: list[MethodRuns], path: Path) -> Path:
    """Write :func:`tidy_runs` to ``path`` (gzip CSV, byte-reproducible: no timestamp) atomically."""
    text = tidy_runs(runs).to_csv(index=False)
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(text.encode("utf-8"))  # no file name or time in the header, so equal runs give equal bytes
    return path
