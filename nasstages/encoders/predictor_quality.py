"""How well do ranking predictors rank? GATES's protocol on a tabular benchmark: train on a small
random fraction of all cells, score every held-out cell, report Kendall's τ and P@top-K%."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from scipy.stats import kendalltau

from nasstages.encoders.graphs import GraphTensors
from nasstages.encoders.predictors import PredictorConfig, RankingPredictor
from nasstages.report.ranking import precision_at_top

log = logging.getLogger(__name__)


def evaluate_predictors(graphs: GraphTensors, accuracy: np.ndarray, models: dict[str, dict[str, Any]],
                        proportions: Sequence[float], seeds: Sequence[int], top: float = 0.05,
                        device: str = "cpu", progress=None) -> list[dict[str, Any]]:
    """One row per (model, proportion, seed): τ and P@top on every cell not trained on."""
    rows = []
    for name, params in models.items():
        config = PredictorConfig.from_params(params)
        for proportion in proportions:
            for seed in seeds:
                rng = np.random.default_rng([seed, int(round(proportion * 1e6))])
                order = rng.permutation(len(graphs))
                n_train = max(2, int(round(proportion * len(graphs))))
                train, test = order[:n_train], order[n_train:]
                predictor = RankingPredictor(config, seed, device).fit(graphs.subset(train), accuracy[train])
                predicted = predictor.predict(graphs.subset(test))
                rows.append({"model": name, "proportion": proportion, "seed": seed, "train_archs": n_train,
                             "kendall_tau": float(kendalltau(predicted, accuracy[test]).statistic),
                             f"precision_top{top:g}": precision_at_top(predicted, accuracy[test], top),
                             "fit_seconds": predictor.seconds})
                log.info("%s at %g (%d archs), seed %d: tau %.4f", name, proportion, n_train, seed,
                         rows[-1]["kendall_tau"])
                if progress is not None:
                    progress.update(1)
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over seeds per (model, proportion)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    metric_columns = [c for c in frame.columns if c == "kendall_tau" or c.startswith("precision_top")]
    grouped = frame.groupby(["model", "proportion"], sort=False)
    out = []
    for (model, proportion), group in grouped:
        entry = {"model": model, "proportion": float(proportion), "train_archs": int(group["train_archs"].iloc[0]),
                 "seeds": int(len(group)), "fit_seconds": float(group["fit_seconds"].mean())}
        for column in metric_columns:
            entry[column] = float(group[column].mean())
            entry[f"{column}_std"] = float(group[column].std(ddof=0))
        out.append(entry)
    return out
