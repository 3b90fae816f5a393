"""Read search logs into per-(benchmark, dataset, method) trajectories and summarise them.

Convention (stated in every table caption): the incumbent is chosen by observed validation
accuracy; the plotted value is its noise-free mean validation accuracy; curves and table
entries are the mean +- one standard error over seeds.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from nasstages.errors import NasstagesError

log = logging.getLogger(__name__)

_PATH = re.compile(r"(?P<benchmark>[^/]+)/(?P<dataset>[^/]+)/(?P<method>[^/]+)/seed(?P<seed>\d+)\.csv$")


@dataclass
class MethodRuns:
    """All seeds of one method on one (benchmark, dataset)."""

    benchmark: str
    dataset: str
    method: str
    seeds: list[int]
    incumbent_mean_acc: np.ndarray  # (seeds, queries)
    optimum: float
    elapsed_s: np.ndarray  # (seeds,) real seconds of each run
    surrogate_s: np.ndarray  # (seeds,) of which in the surrogate (fit + acquisition)
    query_rule: str = "string"  # the query protocol every seed ran under (its JSON's protocol block)

    @property
    def error(self) -> np.ndarray:
        """Best-found validation error (100 - incumbent mean accuracy), (seeds, queries)."""
        return 100.0 - self.incumbent_mean_acc


def mean_and_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over axis 0 (SE is NaN with a single seed)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full_like(mean, np.nan)
    return mean, se


def load_runs(csv_paths: Iterable[str | Path]) -> list[MethodRuns]:
    """Group search CSVs (``.../{benchmark}/{dataset}/{method}/seed{S}.csv``) into MethodRuns."""
    groups: dict[tuple[str, str, str], list[tuple[int, np.ndarray, float, float, float, str]]] = {}
    for path in map(Path, csv_paths):
        match = _PATH.search(path.as_posix())
        if match is None:
            raise NasstagesError(f"{path} is not a search log named .../benchmark/dataset/method/seedS.csv")
        meta_path = path.with_suffix(".json")
        try:
            frame = pd.read_csv(path)
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise NasstagesError(f"cannot read search result {path} or {meta_path} ({exc}); rerun its search job") from exc
        if "incumbent_mean_acc" not in frame.columns or frame.empty:
            raise NasstagesError(f"{path} has no incumbent_mean_acc column or no rows; rerun its search job")
        key = (match["benchmark"], match["dataset"], match["method"])
        surrogate = float(frame["surrogate_s"].sum()) if "surrogate_s" in frame.columns else 0.0
        rule = (meta.get("protocol") or {}).get("query_rule")
        if rule is None:
            raise NasstagesError(f"{meta_path} records no query protocol (a result from before it was recorded); "
                                 "rerun its search job")
        groups.setdefault(key, []).append((int(match["seed"]), frame["incumbent_mean_acc"].to_numpy(),
                                           float(meta["optimum"]), float(frame["elapsed_s"].iloc[-1]), surrogate,
                                           rule))
    runs = []
    for (benchmark, dataset, method), items in groups.items():  # input order = config order
        items.sort(key=lambda item: item[0])
        length = min(len(item[1]) for item in items)
        if any(len(item[1]) != length for item in items):
            log.warning("%s/%s/%s: seeds have different budgets; truncating to %d queries", benchmark, dataset, method, length)
        runs.append(MethodRuns(
            benchmark=benchmark, dataset=dataset, method=method,
            seeds=[item[0] for item in items],
            incumbent_mean_acc=np.stack([item[1][:length] for item in items]),
            optimum=items[0][2],
            elapsed_s=np.array([item[3] for item in items]),
            surrogate_s=np.array([item[4] for item in items]),
            query_rule=_one_rule({item[5] for item in items}, f"{benchmark}/{dataset}/{method}"),
        ))
    return runs


def _one_rule(rules: set[str], where: str) -> str:
    if len(rules) != 1:
        raise NasstagesError(f"{where}: seeds ran under different query rules {sorted(rules)}; rerun them under one "
                             "(search.query_rule)")
    return rules.pop()


def protocol_sentence(runs: list[MethodRuns]) -> str:
    """The caption's statement of the query protocol, the same for every method of a table."""
    from nasstages.search.query_rule import QUERY_RULES

    rules = sorted({run.query_rule for run in runs})
    if len(rules) != 1:
        raise NasstagesError(f"one table mixes query rules {rules}: rerun every method under one (search.query_rule)")
    return f"Every method ran under one query rule, {rules[0]!r}: {QUERY_RULES[rules[0]]}."
