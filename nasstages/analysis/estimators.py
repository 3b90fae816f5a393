"""The estimator diagnosis: how each cheap estimator (zero-shot proxy, low-fidelity training) ranks
the architectures of a pool against their 200-epoch mean validation accuracy, and whether its
rank errors depend on size (#params) or on the number of parameter-free ops (skip, pooling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasstages.analysis.ranking import rank_error_bias, ranking_metrics, true_percentile
from nasstages.benchmarks.nb201_12ep import COLUMNS as TWELVE_EPOCH_COLUMNS
from nasstages.distances.ops import category

PARAMETER_FREE_CATEGORIES = ("identity", "pool")  # skip and pooling ops of every space (NB201, NB101's maxpool)
#: NB201 dataset -> the mirror's 12-epoch validation column (the low-fidelity estimator), as the
#: nb201_12ep benchmark reads it
LOW_FIDELITY_COLUMN = TWELVE_EPOCH_COLUMNS


def bias_covariates(bench, dataset: str, archs: list) -> dict[str, np.ndarray]:
    """What rank errors are checked against: #params (the benchmark's params_mb on ``dataset``) and
    the number of parameter-free ops of each of ``archs``."""
    rows = [bench.row(arch) for arch in archs]
    return {"params": bench.params_mb(dataset)[rows],
            "free_ops": np.array([parameter_free_ops(bench.space, arch) for arch in archs])}


def parameter_free_ops(space, arch) -> int:
    """How many ops of ``arch``'s cells are parameter-free (skip, pooling), read from its graph so
    that any space counts them (NB201's edge ops, NB101's node ops)."""
    return sum(category(op) in PARAMETER_FREE_CATEGORIES
               for cell in space.to_graph(arch).cells.values() for op in cell.ops)


def _ranked_last(scores: np.ndarray) -> np.ndarray:
    """Architectures an estimator cannot score (NaN, inf: e.g. no input-output path) rank last."""
    scores = np.asarray(scores, dtype=float)
    finite = np.isfinite(scores)
    floor = scores[finite].min() - 1.0 if finite.any() else 0.0
    return np.where(finite, scores, floor)


def _diagnose_one(scores: np.ndarray, actual: np.ndarray, params: np.ndarray, free_ops: np.ndarray
                  ) -> dict[str, Any]:
    ranked = _ranked_last(scores)
    row: dict[str, Any] = {"unscored": int((~np.isfinite(scores)).sum()), **ranking_metrics(ranked, actual)}
    # per-architecture rankings (fractions, 1/n = best) for the rank-vs-rank figure
    row["true_rank"] = np.round(true_percentile(actual), 6).tolist()
    row["estimated_rank"] = np.round(true_percentile(ranked), 6).tolist()
    row["bias_params"] = rank_error_bias(ranked, actual, params)
    row["bias_free_ops"] = rank_error_bias(ranked, actual, free_ops)
    return row


def diagnose(name: str, scores: np.ndarray, actual: np.ndarray, params: np.ndarray, free_ops: np.ndarray,
             data: str, seconds: float) -> dict[str, Any]:
    """One estimator's row: ranking metrics, biases, unscorable count, data used and cost. Scores of
    several seeds (one column each) give the mean of each metric over seeds and τ's std over seeds
    (the figure shows the first seed)."""
    scores = np.asarray(scores, dtype=float)
    columns = scores[:, None] if scores.ndim == 1 else scores
    per_seed = [_diagnose_one(columns[:, k], actual, params, free_ops) for k in range(columns.shape[1])]
    row: dict[str, Any] = {"estimator": name, "data": data, "seconds": seconds, **per_seed[0],
                           "seeds": len(per_seed)}
    if len(per_seed) > 1:
        for key, value in per_seed[0].items():
            if isinstance(value, float):
                row[key] = float(np.mean([r[key] for r in per_seed]))
        row["kendall_tau_std"] = float(np.std([r["kendall_tau"] for r in per_seed]))
    return row


def diagnose_pool(bench, dataset: str, archs: list, estimators: list[tuple[str, np.ndarray, str, float]]
                  ) -> list[dict[str, Any]]:
    """Diagnosis rows of every ``(name, scores, data, seconds)`` estimator over ``archs``, plus the
    benchmark's own low-fidelity accuracies where it has them, against the 200-epoch mean accuracy."""
    covariates = bias_covariates(bench, dataset, archs)
    actual = np.array([bench.mean_valid(arch, dataset) for arch in archs])
    rows = list(estimators)
    low = LOW_FIDELITY_COLUMN.get(dataset)
    if low and low in getattr(bench, "low_fidelity", {}):
        index = [bench.row(arch) for arch in archs]
        rows.append((f"low fidelity ({low})", bench.low_fidelity[low][index], "the benchmark's 12-epoch runs", 0.0))
    return [diagnose(name, scores, actual, covariates["params"], covariates["free_ops"], data, seconds)
            for name, scores, data, seconds in rows]
