"""TW-NAS's kernel with one length-scale per distance term: the GP equals the one-length-scale GP on
the summed distance when the length-scales are equal, its gradient is exact, a fit reaches at least
the shared fit's marginal likelihood, and TW's terms on real NB201 cells add up to the TW distance."""

from __future__ import annotations

import numpy as np
import pytest

from nasstages.distances import make_distance
from nasstages.search.distance_source import TermDistances
from nasstages.spaces import get_space
from nasstages.surrogates import DistanceGP
from nasstages.surrogates.gp import TermwiseDistanceGP


def _tw_terms(n: int, seed: int):
    space = get_space("nb201")
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    distance = make_distance("tw", space, {})
    source = TermDistances(space, distance)
    ids = source.ids(archs)
    return space, archs, distance, source, ids


def test_tw_terms_add_up_to_the_tw_distance():
    space, archs, distance, source, ids = _tw_terms(40, seed=0)
    terms = source.block(ids, ids)
    assert terms.shape == (3, 40, 40)
    np.testing.assert_allclose(terms.sum(axis=0), distance.pairwise(archs), atol=1e-12)
    assert np.all(terms >= 0) and np.all(terms.max(axis=(1, 2)) > 0)  # every term moves on real cells
    sizes = [s.stop - s.start for s in distance.term_slices(archs[0])]
    assert sum(sizes) == distance.features(archs[:1]).shape[1]


@pytest.mark.parametrize("form", ["exp", "squared"])
def test_equal_lengthscales_are_the_shared_gp_on_the_summed_distance(form):
    _, _, _, source, ids = _tw_terms(36, seed=1)
    train, test = ids[:28], ids[28:]
    y = np.linspace(60.0, 90.0, 28) + np.sin(np.arange(28.0))
    shared = {"outputscale": 1.2, "lengthscale": 0.7, "noise": 0.05, "mean": 0.1}
    termwise = {**shared, "lengthscale": (0.7, 0.7, 0.7)}
    stack_train, stack_cross, stack_test = source.block(train, train), source.block(test, train), source.block(test, test)
    if form == "squared":  # Σ (d_t/ℓ)² ≠ (Σ d_t / ℓ)²: compare with one term only
        stack_train, stack_cross, stack_test = stack_train[:1], stack_cross[:1], stack_test[:1]
        termwise["lengthscale"] = (0.7,)
    gp = TermwiseDistanceGP(len(stack_train), form=form).fit(stack_train, y, optimize=False, hyper=termwise)
    reference = DistanceGP(form=form).fit(stack_train.sum(axis=0), y, optimize=False, hyper=shared)
    ours, theirs = gp.predict(stack_cross, stack_test), reference.predict(stack_cross.sum(axis=0), stack_test.sum(axis=0))
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.covariance, theirs.covariance, rtol=1e-10, atol=1e-12)
    anchored = gp.predict_anchored(stack_cross)
    np.testing.assert_allclose(anchored.mean, reference.predict_anchored(stack_cross.sum(axis=0)).mean, rtol=1e-10)
    assert gp.marginal_log_likelihood() == pytest.approx(reference.marginal_log_likelihood(), rel=1e-12)


@pytest.mark.parametrize("form", ["exp", "squared"])
def test_termwise_gradient_is_exact(form):
    _, _, _, source, ids = _tw_terms(30, seed=2)
    d = source.block(ids, ids)
    y = np.linspace(1.0, 5.0, 30) ** 1.5
    gp = TermwiseDistanceGP(3, form=form).fit(d, y, optimize=False, hyper={
        "outputscale": 1.0, "lengthscale": (0.3, 0.1, 0.2), "noise": 1e-2})
    theta = gp._pack(gp.hyperparameters()) + np.array([0.1, -0.2, 0.3, 0.1, 0.2, 0.05])
    _, gradient = gp._negative_mll(theta)
    step = 1e-6
    numeric = [(gp._negative_mll(theta + e)[0] - gp._negative_mll(theta - e)[0]) / (2 * step)
               for e in np.eye(6) * step]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", [3, 4])
def test_termwise_fit_reaches_at_least_the_shared_fit(seed, nb201_bench):
    """A shared length-scale is a special case of per-term ones: the fit, warm-started from the
    shared optimum, can only match or beat its marginal likelihood (on real NB201 accuracies)."""
    _, archs, _, source, ids = _tw_terms(80, seed=seed)
    y = np.array([nb201_bench.mean_valid(a, "cifar100") for a in archs])
    d = source.block(ids, ids)
    shared = DistanceGP(train_iters=80).fit(d.sum(axis=0), y)
    h = shared.hyperparameters()
    termwise = TermwiseDistanceGP(3, train_iters=80).fit(d, y, hyper={**h, "lengthscale": (h["lengthscale"],) * 3})
    assert termwise.marginal_log_likelihood() >= shared.marginal_log_likelihood() - 1e-9
    assert len(set(termwise.hyperparameters()["lengthscale"])) == 3  # the terms got their own scales


def test_twnas_defaults_to_per_term_lengthscales_and_bad_combinations_fail_early():
    from nasstages.errors import ConfigError
    from nasstages.search import method_class

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    twnas = method_class("twnas", None)(space, rng)
    assert isinstance(twnas.gp, TermwiseDistanceGP) and isinstance(twnas.source, TermDistances)
    assert not isinstance(method_class("twnas_shared", None)(space, rng).gp, TermwiseDistanceGP)
    assert isinstance(method_class("twnas_kdpp", None)(space, rng).gp, TermwiseDistanceGP)
    with pytest.raises(ConfigError, match="not a sum of terms"):
        method_class("hotnas", None)(space, rng, lengthscales="per_term")
    with pytest.raises(ConfigError, match="stored matrix holds only their sum"):
        method_class("twnas", None)(space, rng, distance_matrix="any.h5")
