"""How well do ranking predictors rank? The GATES / TA-GATES protocol on a tabular benchmark: split
the cells into a training half and a test half once, train on a small random proportion of the
training half, score every test cell; report Kendall's τ, Spearman, P@top/bottom-K, BR@K / WR@K and
the rank-error biases of the estimator diagnosis, per seed and as mean ± std over seeds."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np

from nasstages.encoders.graphs import GraphTensors
from nasstages.encoders.predictors import PredictorConfig, RankingPredictor
from nasstages.errors import ConfigError
from nasstages.analysis.ranking import precision_at_top, rank_error_bias, ranking_metrics

log = logging.getLogger(__name__)

SPLITS = ("half", "all")


def training_and_test_cells(n: int, proportion: float, seed: int, split: str, split_seed: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """``half``: a fixed split (by ``split_seed``) into ceil(n/2) training and floor(n/2) test cells,
    ``round(proportion × ceil(n/2))`` training cells drawn by ``seed``; ``all``: that proportion of all
    cells, tested on every other cell."""
    if split not in SPLITS:
        raise ConfigError(f"predictor evaluation split must be one of {SPLITS}, not {split!r}")
    if split == "half":
        order = np.random.default_rng(split_seed).permutation(n)
        pool, test = order[: (n + 1) // 2], np.sort(order[(n + 1) // 2:])
    else:
        pool, test = np.arange(n), None
    picked = np.random.default_rng([seed, int(round(proportion * 1e6))]).permutation(len(pool))
    train = pool[picked[: max(2, int(round(proportion * len(pool))))]]
    if test is None:
        test = np.setdiff1d(pool, train)
    return train, test


def evaluate_predictors(graphs: GraphTensors, accuracy: np.ndarray, models: dict[str, dict[str, Any]],
                        proportions: Sequence[float], seeds: Sequence[int], top: float = 0.05,
                        device: str = "cpu", progress=None, split: str = "half", split_seed: int = 0,
                        covariates: Mapping[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per (model, proportion, seed): ranking metrics on every test cell, and the Spearman
    bias of the rank error against each covariate (``bias_<name>``)."""
    rows = []
    for name, params in models.items():
        config = PredictorConfig.from_params(params)
        for proportion in proportions:
            for seed in seeds:
                train, test = training_and_test_cells(len(graphs), proportion, seed, split, split_seed)
                predictor = RankingPredictor(config, seed, device).fit(graphs.subset(train), accuracy[train])
                predicted = predictor.predict(graphs.subset(test))
                row = {"model": name, "proportion": proportion, "seed": seed, "train_archs": len(train),
                       "test_archs": len(test), **ranking_metrics(predicted, accuracy[test]),
                       f"precision_top{top:g}": precision_at_top(predicted, accuracy[test], top),
                       "fit_seconds": predictor.seconds}
                for covariate, values in (covariates or {}).items():
                    row[f"bias_{covariate}"] = rank_error_bias(predicted, accuracy[test], values[test])
                rows.append(row)
                log.info("%s at %g (%d archs), seed %d: tau %.4f", name, proportion, len(train), seed,
                         row["kendall_tau"])
                if progress is not None:
                    progress.update(1)
    return rows


IDENTITY = ("model", "proportion", "seed", "train_archs", "test_archs", "fit_seconds")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds of every metric, per (model, proportion)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    metric_columns = [c for c in frame.columns if c not in IDENTITY and c != "n"]
    grouped = frame.groupby(["model", "proportion"], sort=False)
    out = []
    for (model, proportion), group in grouped:
        entry = {"model": model, "proportion": float(proportion), "train_archs": int(group["train_archs"].iloc[0]),
                 "test_archs": int(group["test_archs"].iloc[0]) if "test_archs" in group else None,
                 "seeds": int(len(group)), "fit_seconds": float(group["fit_seconds"].mean())}
        for column in metric_columns:
            entry[column] = float(group[column].mean())
            entry[f"{column}_std"] = float(group[column].std(ddof=0))
        out.append(entry)
    return out
