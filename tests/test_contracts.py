"""Contract tests driven by the registries: every registered search method, distance metric and
search space is held to the same contract, so a new registration is covered without editing a test.
(Benchmark plugins: tests/test_benchmark_plugins.py.)"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from nasstages.distances import DISTANCES, ENCODER_OF_METRIC, make_distance
from nasstages.distances.store import compute_tile, merge_tiles, read_matrix, tile_pairs
from nasstages.errors import ConfigError
from nasstages.search import ENCODER_OF_METHOD, METHODS, check_method_params
from nasstages.search.runner import SearchJob, run_search
from nasstages.spaces import SPACES, get_space

BUDGET = 24
# columns that measure time, not the search
TIMING = ["elapsed_s", "surrogate_s"]


# cheaper model training where a method has these parameters (by name, so new methods get it too):
# the contract is about the loop, not the model's quality
CHEAP = {"epochs": 10, "members": 2}


def _method_params(method: str, embeddings) -> dict:
    params = {key: value for key, value in CHEAP.items() if key in METHODS.parameters(method)}
    return {**params, "embeddings": str(embeddings)} if ENCODER_OF_METHOD.get(method) else params


def _run(bench, job: SearchJob, out, **kwargs) -> pd.DataFrame:
    run_search(job, bench, out, show_progress=False, **kwargs)
    return pd.read_csv(out).drop(columns=TIMING)


@pytest.mark.parametrize("method", METHODS.names())
def test_method_contract(method, nb201_bench, one_hot_embeddings, tmp_path):
    """Budget accounting, determinism by seed, exact resume from a checkpoint, the incumbent rule.
    (The resumed run recomputes its first queries from the seed, so it also checks determinism.)"""
    params = _method_params(method, one_hot_embeddings)
    job = SearchJob("nb201", "cifar100", method, 0, BUDGET, params=params)
    whole = _run(nb201_bench, job, tmp_path / "whole" / "seed0.csv")
    assert list(whole["step"]) == list(range(1, BUDGET + 1))  # one row per query, exactly the budget
    assert whole["arch"].is_unique  # the default query rule: no cell string queried twice
    best = whole["observed_acc"].cummax()
    assert (whole["incumbent_observed_acc"] == best).all()  # incumbent: the best observed so far

    other = _run(nb201_bench, SearchJob("nb201", "cifar100", method, 1, BUDGET, params=params),
                 tmp_path / "other" / "seed1.csv")
    assert list(other["arch"]) != list(whole["arch"])

    cut = tmp_path / "cut" / "seed0.csv"
    with pytest.raises(KeyboardInterrupt):
        run_search(job, nb201_bench, cut, show_progress=False, checkpoint_every=5, stop_after=13)
    assert not cut.exists() and cut.with_suffix(".ckpt.json").exists()
    pd.testing.assert_frame_equal(whole, _run(nb201_bench, job, cut, checkpoint_every=5))


@pytest.mark.parametrize("method", METHODS.names())
def test_method_parameter_validation_names_the_bad_key(method):
    with pytest.raises(ConfigError, match=f"{method}.*no parameter.*no_such_setting.*accepts"):
        check_method_params(method, {"no_such_setting": 1})


@pytest.mark.parametrize("method", METHODS.names())
def test_method_accepts_every_parameter_of_its_base(method):
    """A subclass that redeclares ``__init__`` keeps its base's settings (twnas_kdpp once dropped
    ``candidates`` and ``zs_prefilter``, so its whole-space and prefiltered variants failed)."""
    own = set(METHODS.parameters(method))
    cls = METHODS.get(method)
    for base in cls.__mro__[1:]:
        if base.__init__ is not object.__init__ and "__init__" in vars(base):
            inherited = {p for p in inspect.signature(base).parameters if p not in ("space", "rng")}
            missing = {p for p in inherited if inspect.signature(base).parameters[p].default is not
                       inspect.Parameter.empty} - own
            assert not missing, f"{method} drops {sorted(missing)} of {base.__name__}"


def _metric_params(metric: str, embeddings) -> dict:
    return {"embeddings": str(embeddings)} if ENCODER_OF_METRIC.get(metric) or metric == "embedding_l2" else {}


def _canonical_duplicates(space, rng, wanted: int = 6) -> list[tuple]:
    """Pairs of distinct cell strings with one canonical form (isomorphic once dead parts go)."""
    seen: dict[str, object] = {}
    pairs = []
    while len(pairs) < wanted:
        arch = space.sample(rng)
        key = space.to_string(space.canonicalize(arch))
        if key in seen and space.to_string(seen[key]) != space.to_string(arch):
            pairs.append((seen[key], arch))
        seen.setdefault(key, arch)
    return pairs


@pytest.mark.parametrize("metric", DISTANCES.names())
def test_metric_contract(metric, one_hot_embeddings, tmp_path):
    """Symmetric, non-negative, zero on canonical duplicates (metrics on canonical representatives),
    and tiles merge into the direct matrix. A stacked metric (its ``terms``) holds for every term."""
    space = get_space("nb201")
    rng = np.random.default_rng(5)
    distance = make_distance(metric, space, _metric_params(metric, one_hot_embeddings))
    archs = [space.sample(rng) for _ in range(17)]
    whole = distance.pairwise(archs)
    assert whole.shape == ((len(distance.terms),) if getattr(distance, "stacked", False) else ()) + (17, 17)
    np.testing.assert_allclose(whole, np.swapaxes(whole, -1, -2), atol=1e-9)
    assert np.all(np.diagonal(whole, axis1=-2, axis2=-1) == 0) and np.all(whole >= -1e-9)
    assert all(np.count_nonzero(term) > 0 for term in whole.reshape(-1, 17, 17))
    for a, b in _canonical_duplicates(space, rng) if distance.canonical else []:
        assert np.all(np.abs(distance.pairwise([a, b])[..., 0, 1]) <= 1e-9), (space.to_string(a), space.to_string(b))

    strings = [space.to_string(a) for a in archs]
    tiles = []
    for i, j in tile_pairs(3):
        tiles.append(tmp_path / f"tile{i}{j}.h5")
        compute_tile(distance, archs, strings, 3, i, j, tiles[-1])
    merge_tiles(distance, strings, 3, tiles, tmp_path / "matrix.h5", {})
    np.testing.assert_allclose(read_matrix(tmp_path / "matrix.h5").distances, whole.astype(np.float32), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("space_name", SPACES.names())
def test_space_contract(space_name):
    """String round trip, seeded sampling, valid mutations, hashes invariant under the round trip."""
    space = get_space(space_name)
    rng = np.random.default_rng(11)
    archs = [space.sample(rng) for _ in range(25)]
    again = np.random.default_rng(11)
    assert [space.to_string(space.sample(again)) for _ in range(25)] == [space.to_string(a) for a in archs]
    for arch in archs:
        text = space.to_string(arch)
        parsed = space.from_string(text)
        assert space.to_string(parsed) == text
        assert space.iso_hash(parsed) == space.iso_hash(arch) == space.iso_hash(space.canonicalize(arch))
        child = space.mutate(arch, rng)
        child_text = space.to_string(child)
        assert child_text != text and space.to_string(space.from_string(child_text)) == child_text
    with pytest.raises(Exception):
        space.from_string("not an architecture")


def test_every_encoder_a_method_or_metric_reads_is_registered():
    """A method's or metric's encoder declaration names a registered pretrained encoder, so the
    config check, the targets and the preflight all know it."""
    from nasstages.encoders import PRETRAINED_ENCODERS

    declared = {**{f"method {m}": e for m, e in ENCODER_OF_METHOD.items()},
                **{f"metric {m}": e for m, e in ENCODER_OF_METRIC.items()}}
    assert declared, "no method or metric reads an encoder: the registries changed"
    for who, encoder in declared.items():
        assert encoder in PRETRAINED_ENCODERS, f"{who} reads {encoder!r}, which nasstages.encoders does not register"
