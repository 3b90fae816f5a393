"""Read search logs into per-(benchmark, dataset, method) trajectories and summarise them.

Convention (stated in every table caption): the incumbent is chosen by observed validation
accuracy; the plotted value is its noise-free mean validation accuracy; curves and table
entries are the mean +- one standard error over seeds.
"""

from __future__ import annotations

import hashlib
import io
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
    sim_time_s: np.ndarray | None = None  # (seeds, queries) simulated training time spent up to each query
    logs: tuple[pd.DataFrame, ...] = ()  # each seed's verified per-query log, in ``seeds`` order
    protocol: dict | None = None  # the protocol block of the first seed's JSON (every seed ran under its rule)

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
    groups: dict[tuple[str, str, str], list[tuple[int, np.ndarray, float, float, float, str, pd.DataFrame, dict]]] = {}
    for path in map(Path, csv_paths):
        match = _PATH.search(path.as_posix())
        if match is None:
            raise NasstagesError(f"{path} is not a search log named .../benchmark/dataset/method/seedS.csv")
        meta_path = path.with_suffix(".json")
        try:
            raw = path.read_bytes()
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise NasstagesError(f"cannot read search result {path} or {meta_path} ({exc}); rerun its search job") from exc
        frame = verified_search_log(path, raw, meta)
        key = (match["benchmark"], match["dataset"], match["method"])
        surrogate = float(frame["surrogate_s"].sum()) if "surrogate_s" in frame.columns else 0.0
        rule = (meta.get("protocol") or {}).get("query_rule")
        if rule is None:
            raise NasstagesError(f"{meta_path} records no query protocol (a result from before it was recorded); "
                                 "rerun its search job")
        groups.setdefault(key, []).append((int(match["seed"]), frame["incumbent_mean_acc"].to_numpy(),
                                           float(meta["optimum"]), float(frame["elapsed_s"].iloc[-1]), surrogate,
                                           rule, frame, meta["protocol"]))
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
            sim_time_s=np.stack([item[6]["sim_time_s"].to_numpy(dtype=float)[:length] for item in items]),
            logs=tuple(item[6] for item in items),
            protocol=items[0][7],
        ))
    return runs


def verified_search_log(path: Path, raw: bytes, meta: dict) -> pd.DataFrame:
    """The search log ``path`` (its bytes ``raw``) as a frame, after checking it against its JSON
    record ``meta``: the CSV checksum, one row per query of the budget, the final incumbent, and
    no accuracy above the benchmark's optimum. A log that fails any is refused, naming the fix."""
    fix = f"delete {path} and {path.with_suffix('.json')} and rerun the workflow (it recomputes that run only)"
    recorded = meta.get("csv_sha256")
    if recorded is None:
        raise NasstagesError(f"{path.with_suffix('.json')} records no csv_sha256 (a result from before search logs "
                             f"were checksummed), so {path} cannot be verified: {fix}")
    if hashlib.sha256(raw).hexdigest() != recorded:
        raise NasstagesError(f"{path} does not match the checksum its JSON records (edited, truncated or "
                             f"corrupted since it was written): {fix}")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except ValueError as exc:
        raise NasstagesError(f"cannot parse {path} ({exc}): {fix}") from exc
    budget = (meta.get("protocol") or {}).get("budget")
    missing = [c for c in ("step", "incumbent_mean_acc", "sim_time_s") if c not in frame.columns]
    if missing or frame.empty:
        raise NasstagesError(f"{path} has no {', '.join(missing)} column or no rows: {fix}" if missing
                             else f"{path} has no rows: {fix}")
    if budget is not None and (len(frame) != budget or list(frame["step"]) != list(range(1, budget + 1))):
        raise NasstagesError(f"{path} has {len(frame)} rows, not the {budget} queries its JSON records: {fix}")
    final = (meta.get("final") or {}).get("incumbent_mean_acc")
    if final is not None and not np.isclose(frame["incumbent_mean_acc"].iloc[-1], final, rtol=0, atol=1e-9):
        raise NasstagesError(f"{path}'s final incumbent accuracy {frame['incumbent_mean_acc'].iloc[-1]} disagrees "
                             f"with its JSON's {final}: {fix}")
    optimum = float(meta["optimum"])
    if (frame["incumbent_mean_acc"] > optimum + 1e-9).any():
        raise NasstagesError(f"{path} reports an accuracy above the benchmark's optimum {optimum} (impossible): {fix}")
    return frame


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
