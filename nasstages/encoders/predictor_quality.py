"""How well do ranking predictors rank? The GATES / TA-GATES protocol on a tabular benchmark: split
the cells into a training half and a test half once, train on a small random proportion of the
training half (drawn anew per seed, or fixed subsets every seed shares, as the reference's), score
every test cell; report Kendall's τ, Spearman, P@top/bottom-K, BR@K / WR@K and the rank-error biases
of the estimator diagnosis, per seed and as mean ± std over seeds (and over fixed subsets)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from nasstages.encoders.graphs import GraphTensors
from nasstages.encoders.predictors import PredictorConfig, RankingPredictor
from nasstages.errors import ConfigError
from nasstages.analysis.ranking import precision_at_top, rank_error_bias, ranking_metrics

log = logging.getLogger(__name__)

SPLITS = ("half", "all")
# What a model is trained on and scored against: each cell's mean validation accuracy over training
# seeds, or the first seed's alone (a noisier target, as a benchmark logging one run per cell gives)
TARGETS = ("mean", "first_seed")


# How a model's training cells are drawn: ``per_seed`` draws a new subset with every seed (our
# default, so the seed mean averages over subsets); ``fixed`` trains every seed on the same cells,
# the first k of one fixed order of the training pool, nested across proportions, as the reference
# does (aw_nas's GATES / TA-GATES scripts take the first int(n × ratio) cells of their data pickle),
# drawn ``subsets`` times so the spread of one subset's seed mean can be measured
SUBSETS = ("per_seed", "fixed")
FIXED_SUBSETS_DEFAULT = 5


@dataclass(frozen=True)
class ModelProtocol:
    """How one configured model is evaluated, beside its predictor settings: the target it trains and
    is scored on, how its training cells are drawn, and (optionally) the proportions it runs at."""

    target: str = "mean"
    subset: str = "per_seed"
    subsets: int = 1
    proportions: tuple[float, ...] | None = None

    def subset_seeds(self, split_seed: int) -> list[int | None]:
        """The order seed of each fixed subset (from the job's split seed); [None] for per-seed draws."""
        if self.subset == "per_seed":
            return [None]
        return [int(np.random.SeedSequence([split_seed, 1, draw]).generate_state(1)[0]) for draw in range(self.subsets)]


def split_model_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], ModelProtocol]:
    """A configured model's predictor settings and its evaluation protocol: keys ``target`` (default
    mean), ``subset`` (default per_seed), ``subsets`` (fixed only, default 5) and ``proportions``."""
    settings = dict(params)
    target = str(settings.pop("target", "mean"))
    if target not in TARGETS:
        raise ConfigError(f"predictor target must be one of {TARGETS}, not {target!r}")
    subset = str(settings.pop("subset", "per_seed"))
    if subset not in SUBSETS:
        raise ConfigError(f"predictor subset must be one of {SUBSETS}, not {subset!r}")
    subsets = settings.pop("subsets", None)
    if subset == "per_seed" and subsets is not None:
        raise ConfigError("predictor 'subsets' counts fixed training subsets: set 'subset: fixed' or drop 'subsets'")
    if subset == "fixed":
        subsets = FIXED_SUBSETS_DEFAULT if subsets is None else subsets
        if isinstance(subsets, bool) or not isinstance(subsets, int) or subsets < 2:
            raise ConfigError(f"predictor 'subsets' must be an integer >= 2 (the spread needs two), not {subsets!r}")
    proportions = settings.pop("proportions", None)
    if proportions is not None:
        if not isinstance(proportions, (list, tuple)) or not proportions or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p <= 1 for p in proportions):
            raise ConfigError(f"a model's 'proportions' must be a non-empty list of fractions in (0, 1], not "
                              f"{proportions!r}")
        proportions = tuple(float(p) for p in proportions)
    return settings, ModelProtocol(target, subset, int(subsets or 1), proportions)


def training_and_test_cells(n: int, proportion: float, seed: int, split: str, split_seed: int,
                            nested: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``half``: a fixed split (by ``split_seed``) into ceil(n/2) training and floor(n/2) test cells,
    ``round(proportion × ceil(n/2))`` training cells drawn by ``seed``; ``all``: that proportion of all
    cells, tested on every other cell. ``nested``: the first cells of one order drawn by ``seed``
    alone, so a smaller proportion's cells are a prefix of a larger one's (the reference's design)."""
    if split not in SPLITS:
        raise ConfigError(f"predictor evaluation split must be one of {SPLITS}, not {split!r}")
    if split == "half":
        order = np.random.default_rng(split_seed).permutation(n)
        pool, test = order[: (n + 1) // 2], np.sort(order[(n + 1) // 2:])
    else:
        pool, test = np.arange(n), None
    key = [seed] if nested else [seed, int(round(proportion * 1e6))]
    picked = np.random.default_rng(key).permutation(len(pool))
    train = pool[picked[: max(2, int(round(proportion * len(pool))))]]
    if test is None:
        test = np.setdiff1d(pool, train)
    return train, test


def evaluate_predictors(graphs: GraphTensors, accuracy: np.ndarray, models: dict[str, dict[str, Any]],
                        proportions: Sequence[float], seeds: Sequence[int], top: float = 0.05,
                        device: str = "cpu", progress=None, split: str = "half", split_seed: int = 0,
                        covariates: Mapping[str, np.ndarray] | None = None,
                        targets: Mapping[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per (model, proportion, subset, seed): ranking metrics on every test cell, and the
    Spearman bias of the rank error against each covariate (``bias_<name>``). ``accuracy`` is the mean
    target; a model with ``target: first_seed`` trains and is scored on ``targets['first_seed']``; a
    model with ``subset: fixed`` trains all seeds on each of its fixed subsets in turn."""
    rows = []
    for name, params in models.items():
        settings, protocol = split_model_params(params)
        config = PredictorConfig.from_params(settings)
        if protocol.target == "mean":
            values = accuracy
        elif targets is None or protocol.target not in targets:
            raise ConfigError(f"predictor model {name!r}: target {protocol.target!r} was not provided")
        else:
            values = targets[protocol.target]
        for proportion in protocol.proportions or proportions:
            for draw, order_seed in enumerate(protocol.subset_seeds(split_seed)):
                for seed in seeds:
                    fixed = order_seed is not None  # fixed: the subset's order draws the cells, not the seed
                    train, test = training_and_test_cells(len(graphs), proportion, order_seed if fixed else seed,
                                                          split, split_seed, nested=fixed)
                    predictor = RankingPredictor(config, seed, device).fit(graphs.subset(train), values[train])
                    predicted = predictor.predict(graphs.subset(test))
                    row = {"model": name, "target": protocol.target, "subset": protocol.subset,
                           "draw": draw if fixed else None, "proportion": proportion, "seed": seed,
                           "train_archs": len(train), "test_archs": len(test),
                           **ranking_metrics(predicted, values[test]),
                           f"precision_top{top:g}": precision_at_top(predicted, values[test], top),
                           "fit_seconds": predictor.seconds}
                    for covariate, covariate_values in (covariates or {}).items():
                        row[f"bias_{covariate}"] = rank_error_bias(predicted, values[test], covariate_values[test])
                    rows.append(row)
                    log.info("%s at %g (%d archs)%s, seed %d: tau %.4f", name, proportion, len(train),
                             f", subset {draw}" if fixed else "", seed, row["kendall_tau"])
                    if progress is not None:
                        progress.update(1)
    return rows


IDENTITY = ("model", "target", "subset", "draw", "proportion", "seed", "train_archs", "test_archs", "fit_seconds")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over a (model, proportion)'s fits of every metric; for fixed subsets also
    ``<metric>_subset_std``, the std (ddof 1) over subsets of a subset's seed mean."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    metric_columns = [c for c in frame.columns if c not in IDENTITY and c != "n"]
    grouped = frame.groupby(["model", "proportion"], sort=False)
    out = []
    for (model, proportion), group in grouped:
        subset = str(group["subset"].iloc[0]) if "subset" in group else "per_seed"
        entry = {"model": model, "target": str(group["target"].iloc[0]) if "target" in group else "mean",
                 "subset": subset, "proportion": float(proportion), "train_archs": int(group["train_archs"].iloc[0]),
                 "test_archs": int(group["test_archs"].iloc[0]) if "test_archs" in group else None,
                 "seeds": int(group["seed"].nunique()), "fits": int(len(group)),
                 "fit_seconds": float(group["fit_seconds"].mean())}
        if subset == "fixed":
            entry["subsets"] = int(group["draw"].nunique())
        for column in metric_columns:
            entry[column] = float(group[column].mean())
            entry[f"{column}_std"] = float(group[column].std(ddof=0))
            if subset == "fixed":
                entry[f"{column}_subset_std"] = float(group.groupby("draw")[column].mean().std(ddof=1))
        out.append(entry)
    return out


@dataclass(frozen=True)
class EvaluationSettings:
    """What one predictor evaluation runs (the config's ``predictors.<benchmark>`` minus datasets and
    run settings): models by name, training proportions, seeds, the top fraction of P@K, the split."""

    models: Mapping[str, Mapping[str, Any]]
    proportions: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1)
    seeds: int = 5
    top: float = 0.05
    split: str = "half"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "EvaluationSettings":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"predictor evaluation: unknown key(s) {unknown}; accepted: {sorted(known)}")
        models = {name: dict(model or {}) for name, model in (params.get("models") or {"gates_hinge": {}}).items()}
        proportions = tuple(float(p) for p in params.get("proportions", cls.proportions))
        for name, model in models.items():
            try:
                predictor_settings, protocol = split_model_params(model)
                PredictorConfig.from_params(predictor_settings)
            except ConfigError as exc:
                raise ConfigError(f"predictor evaluation model {name!r}: {exc}") from None
            extra = sorted(set(protocol.proportions or ()) - set(proportions))
            if extra:
                raise ConfigError(f"predictor evaluation model {name!r}: proportions {extra} are not among the "
                                  f"evaluation's {list(proportions)}; a model runs a subset of them")
        settings = cls(models=models, proportions=proportions,
                       seeds=int(params.get("seeds", cls.seeds)), top=float(params.get("top", cls.top)),
                       split=str(params.get("split", cls.split)))
        if settings.split not in SPLITS:
            raise ConfigError(f"predictor evaluation split must be one of {SPLITS}, not {settings.split!r}")
        return settings

    def fits(self) -> int:
        """How many predictors the evaluation trains (for the progress bar)."""
        total = 0
        for model in self.models.values():
            protocol = split_model_params(model)[1]
            total += len(protocol.proportions or self.proportions) * protocol.subsets * self.seeds
        return total


def evaluate_on_benchmark(bench, dataset: str, settings: EvaluationSettings, seeds: Sequence[int], split_seed: int,
                          device: str, progress=None) -> dict[str, Any]:
    """The whole evaluation of ``settings`` on every cell of ``bench``'s space: the record the
    predictor table and figure read (per-fit rows and their summary)."""
    from nasstages.analysis.estimators import bias_covariates
    from nasstages.encoders.graphs import graph_tensors

    bench.check_dataset(dataset)
    archs = bench.archs()  # in row order, as mean_valid_all
    wanted = {split_model_params(model)[1].target for model in settings.models.values()}
    targets = {"first_seed": np.asarray(bench.valid_of_seed_all(dataset, 0))} if "first_seed" in wanted else None
    rows = evaluate_predictors(graph_tensors(bench.space, archs), np.asarray(bench.mean_valid_all(dataset)),
                               dict(settings.models), list(settings.proportions), list(seeds), settings.top, device,
                               progress=progress, split=settings.split, split_seed=split_seed,
                               covariates=bias_covariates(bench, dataset, archs), targets=targets)
    return {"benchmark": bench.name, "dataset": dataset, "cells": len(archs), "top": settings.top,
            "split": settings.split, "summary": summarize(rows), "runs": rows}
