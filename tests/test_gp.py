"""The distance GP against an exact closed-form GP and against the GPyTorch model it replaced
(posterior to 1e-8 at fixed hyperparameters, at least its marginal likelihood after fitting), its
analytic gradient, and its PSD repair."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from nasstages.surrogates import DistanceGP
from nasstages.surrogates.gpytorch_gp import GPyTorchDistanceGP


def closed_form(dist_train, dist_cross, dist_test, y, outputscale, lengthscale, noise, form):
    """Textbook GP posterior (Rasmussen & Williams, eq. 2.25–2.26) on standardized y."""
    k = (lambda d: outputscale * np.exp(-d / lengthscale)) if form == "exp" else \
        (lambda d: outputscale * np.exp(-0.5 * (d / lengthscale) ** 2))
    mu, sd = y.mean(), y.std()
    z = (y - mu) / sd
    K = k(dist_train) + noise * np.eye(len(y))
    Ks = k(dist_cross)
    alpha = np.linalg.solve(K, z)
    mean = Ks @ alpha
    cov = k(dist_test) - Ks @ np.linalg.solve(K, Ks.T)
    return mean * sd + mu, cov * sd**2


@pytest.mark.parametrize("form", ["exp", "squared"])
def test_matches_closed_form_gp(form):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 3))
    d = np.linalg.norm(points[:, None] - points[None], axis=2)  # Euclidean: both forms positive definite
    train, test = np.arange(22), np.arange(22, 30)
    y = np.sin(points[train].sum(axis=1)) * 5 + 80
    hyper = {"outputscale": 1.3, "lengthscale": 2.0, "noise": 0.05}
    gp = DistanceGP(form=form).fit(d[np.ix_(train, train)], y, optimize=False, hyper=hyper)
    post = gp.predict(d[np.ix_(test, train)], d[np.ix_(test, test)])
    mean, cov = closed_form(d[np.ix_(train, train)], d[np.ix_(test, train)], d[np.ix_(test, test)], y,
                            form=form, **hyper)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(post.covariance, cov, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gp.predict(d[np.ix_(test, train)]).var, np.diag(cov), rtol=1e-6, atol=1e-8)
    assert gp.repairs == 0


def test_fitting_raises_the_marginal_likelihood():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(40, 2))
    d = np.abs(points[:, None] - points[None]).sum(axis=2)
    y = points[:, 0] * 3 + rng.normal(scale=0.1, size=40)
    fixed = DistanceGP().fit(d, y, optimize=False, hyper={"outputscale": 1.0, "lengthscale": 0.05, "noise": 0.5})
    fitted = DistanceGP(train_iters=80).fit(d, y, hyper={"outputscale": 1.0, "lengthscale": 0.05, "noise": 0.5})
    assert fitted.marginal_log_likelihood() > fixed.marginal_log_likelihood() + 0.1


@pytest.mark.parametrize("psd", ["clip", "jitter"])
def test_indefinite_kernel_is_repaired_and_logged(psd, caplog):
    # shortest-path metric of the graph K_{2,3}: not negative definite, exp(-d/5) is indefinite
    d = np.full((5, 5), 2.0)
    d[np.ix_([0, 1], [2, 3, 4])] = d[np.ix_([2, 3, 4], [0, 1])] = 1.0
    np.fill_diagonal(d, 0.0)
    assert np.linalg.eigvalsh(np.exp(-d / 5.0)).min() < -0.02
    with caplog.at_level(logging.WARNING):
        gp = DistanceGP(psd=psd).fit(d, np.array([1.0, 2.0, 3.0, 4.0, 5.0]), optimize=False,
                                     hyper={"outputscale": 1.0, "lengthscale": 5.0, "noise": 1e-3})
        post = gp.predict(d[:2])
    assert np.all(np.isfinite(post.mean)) and np.all(post.var >= 0)
    assert gp.repairs >= 1
    assert any("not PSD" in r.message for r in caplog.records)


def test_marginals_equal_the_joint_posterior_diagonal():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(70, 3))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    y = np.sin(points[:, 0]) + 0.1 * rng.normal(size=70)
    gp = DistanceGP(form="exp").fit(distances[:40, :40], y[:40])
    joint = gp.predict(distances[40:, :40], distances[40:, 40:])
    marginal = gp.predict(distances[40:, :40])
    np.testing.assert_allclose(marginal.mean, joint.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(marginal.var, joint.var, rtol=1e-8, atol=1e-12)


def _hotnn_problem(n: int, seed: int):
    from nasstages.distances import make_distance
    from nasstages.spaces import get_space

    rng = np.random.default_rng(seed)
    space = get_space("nb201")
    archs = space.sample_unique(n, rng, by="iso")
    d = make_distance("hotnn", space).pairwise(archs)
    return d, rng.normal(size=n) * 3 + 85


@pytest.mark.parametrize("form", ["exp", "squared"])
@pytest.mark.parametrize("problem", ["euclidean", "hotnn"])
def test_posterior_equals_the_gpytorch_model_at_fixed_hyperparameters(form, problem):
    if problem == "hotnn":
        d, y = _hotnn_problem(50, seed=3)
        lengthscale = (0.1 if form == "exp" else 0.03) * float(np.median(d))  # short: the HOTNN Gram needs no repair
    else:
        rng = np.random.default_rng(2)
        points = rng.normal(size=(50, 3))
        d = np.linalg.norm(points[:, None] - points[None], axis=2)
        y = np.cos(points.sum(axis=1)) * 4 + 70
        lengthscale = float(np.median(d))
    train, test = np.arange(35), np.arange(35, 50)
    old = GPyTorchDistanceGP(form=form).fit(d[np.ix_(train, train)], y[train], optimize=False,
                                           hyper={"outputscale": 0.8, "lengthscale": lengthscale, "noise": 0.02})
    hyper = old.hyperparameters()  # GPyTorch's constraint transforms round the values it was given
    new = DistanceGP(form=form).fit(d[np.ix_(train, train)], y[train], optimize=False, hyper=hyper)
    assert new.repairs == 0 and old.repairs == 0
    args = d[np.ix_(test, train)], d[np.ix_(test, test)]
    ours, theirs = new.predict(*args), old.predict(*args)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.covariance, theirs.covariance, rtol=0, atol=1e-8)
    np.testing.assert_allclose(new.predict(args[0]).var, old.predict(args[0]).var, rtol=0, atol=1e-8)
    assert new.marginal_log_likelihood() == pytest.approx(old.marginal_log_likelihood(), abs=1e-8)


def test_clipped_gram_predictions_do_not_blow_up_as_the_noise_shrinks():
    # HOTNN, squared form at the median lengthscale: the Gram needs clipping. Along the clipped
    # directions only the noise τ is left to invert: the GPyTorch model's predictions grow like
    # 1/τ (152, 1495, 15055 accuracy points off the mean at τ = 1e-2, 1e-3, 1e-4); ours, with the
    # cross covariances projected onto the kept eigenvectors, stay bounded
    d, y = _hotnn_problem(50, seed=3)
    train, test = np.arange(35), np.arange(35, 50)

    def deviation(model, noise):
        hyper = {"outputscale": 0.8, "lengthscale": float(np.median(d)), "noise": noise}
        gp = model(form="squared").fit(d[np.ix_(train, train)], y[train], optimize=False, hyper=hyper)
        mean = gp.predict(d[np.ix_(test, train)]).mean
        assert gp.repairs >= 1
        return np.abs(mean - y[train].mean()).max()

    assert deviation(DistanceGP, 1e-4) < 3 * deviation(DistanceGP, 1e-2)
    assert deviation(GPyTorchDistanceGP, 1e-4) > 50 * deviation(GPyTorchDistanceGP, 1e-2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_reaches_at_least_the_gpytorch_marginal_likelihood(seed):
    d, y = _hotnn_problem(60, seed)
    old = GPyTorchDistanceGP(train_iters=40).fit(d, y)
    new = DistanceGP(train_iters=40).fit(d, y)
    assert new.marginal_log_likelihood() >= old.marginal_log_likelihood() - 1e-9


@pytest.mark.parametrize("psd", ["clip", "jitter"])
@pytest.mark.parametrize("form", ["exp", "squared"])
def test_marginal_likelihood_gradient_is_exact(psd, form):
    # K_{2,3}'s shortest-path metric at ℓ = 5 needs the repair, so its derivative is exercised too
    d = np.full((5, 5), 2.0)
    d[np.ix_([0, 1], [2, 3, 4])] = d[np.ix_([2, 3, 4], [0, 1])] = 1.0
    np.fill_diagonal(d, 0.0)
    for distances in (d, _hotnn_problem(30, seed=4)[0]):
        y = np.linspace(1.0, 5.0, len(distances)) ** 1.5
        gp = DistanceGP(form=form, psd=psd).fit(distances, y, optimize=False,
                                                  hyper={"outputscale": 1.0, "lengthscale": 5.0, "noise": 1e-2})
        theta = gp._pack(gp.hyperparameters()) + np.array([0.1, -0.2, 0.3, 0.05])
        _, gradient = gp._negative_mll(theta)
        step = 1e-6
        numeric = [(gp._negative_mll(theta + e)[0] - gp._negative_mll(theta - e)[0]) / (2 * step)
                   for e in np.eye(4) * step]
        np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-7)


def test_pool_posterior_updated_round_by_round_equals_a_fresh_prediction():
    from nasstages.surrogates.gp import PoolPosterior

    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 3))
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    y = np.sin(points.sum(axis=1))
    pool, gp, hyper = PoolPosterior(300), DistanceGP(), None
    ids = list(rng.choice(300, 10, replace=False))
    asked: list[int] = []
    for round_ in range(30):  # a BO run: refits every 5 observations, one observation per round
        train = np.array(ids)
        gp.fit(d[np.ix_(train, train)], y[train], hyper=hyper, optimize=round_ % 5 == 0)
        hyper = gp.hyperparameters()
        incremental = pool.posterior(gp, train, lambda rows: (asked.extend(map(int, rows)), d[rows])[1])
        fresh = gp.predict(d[:, train])
        np.testing.assert_allclose(incremental.mean, fresh.mean, rtol=0, atol=1e-9)
        np.testing.assert_allclose(incremental.var, fresh.var, rtol=0, atol=1e-9)
        ids.append(int(rng.choice(np.setdiff1d(np.arange(300), ids))))
    assert pool.full_updates == 6  # one per refit; the other rounds only added a row
    # rows asked: a refit the whole training set (10, 15, ..., 35 points), any other round its one new point
    assert len(asked) == sum(range(10, 40, 5)) + 24


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_quasi_newton_reaches_scipy_lbfgsb_optimum(seed):
    from scipy.optimize import minimize

    d, y = _hotnn_problem(50, seed)
    gp = DistanceGP(train_iters=200).fit(d, y)  # our box-constrained BFGS
    theta0 = gp._pack({"outputscale": 1.0, "lengthscale": float(np.median(d[d > 0])), "noise": 0.1, "mean": 0.0})
    positive = d[np.triu_indices(len(d), 1)]
    lo = np.log(positive[positive > 0].min()) - 5.0
    hi = np.log(positive.max()) + 5.0
    reference = minimize(gp._negative_mll, theta0, jac=True, method="L-BFGS-B",
                         bounds=[(-9, 9), (lo, hi), (np.log(1e-4), np.log(10.0)), (-10, 10)], options={"maxiter": 200})
    assert -gp.marginal_log_likelihood() <= reference.fun + 1e-6


def test_normal_cdf_matches_scipy():
    from scipy.special import ndtr

    from nasstages.search.acquisition import normal_cdf

    z = np.concatenate([np.linspace(-37, 10, 2001), [0.0, -1e-300, 1e-8]])  # Φ(−37) ≈ 6e-300: both tails
    np.testing.assert_allclose(normal_cdf(z), ndtr(z), rtol=1e-12, atol=0)


def test_joint_posterior_is_a_gp_on_an_indefinite_hotnn_kernel():
    d, y = _hotnn_problem(100, seed=11)
    train, cross, test, y = d[:40, :40], d[40:, :40], d[40:, 40:], y[:40]
    gp = DistanceGP(form="exp", psd="clip")
    gp.fit(train, y, hyper={"outputscale": 1.0, "lengthscale": float(np.median(train)), "noise": 1e-3, "mean": 0.0},
           optimize=False)
    joint = np.block([[train, cross.T], [cross, test]])
    assert np.linalg.eigvalsh(np.exp(-joint / float(np.median(train))))[0] < -1e-3  # indefinite: not vacuous
    post = gp.predict_joint(cross, test, covariance=True)
    scale = float(np.max(np.diag(post.covariance)))
    assert np.linalg.eigvalsh(post.covariance)[0] > -1e-9 * scale  # what Thompson sampling and the k-DPP get
    assert gp.clipped_variances == 0 and gp.joint_repairs == 1
    np.testing.assert_allclose(post.var, np.diag(post.covariance))
    marginal = gp.predict_joint(cross, test)
    np.testing.assert_allclose(marginal.mean, post.mean, rtol=1e-10)
    np.testing.assert_allclose(marginal.var, post.var, rtol=1e-8, atol=1e-12)
    # the training-block repair alone hands the acquisition an invalid covariance on the same problem
    old = gp.predict(cross, test)
    assert np.linalg.eigvalsh(old.covariance)[0] < -1e-3 * scale


def _psd_kernel_problem() -> tuple[DistanceGP, np.ndarray]:
    """A GP fitted on 20 of 50 points under an L1 distance (exp(-d/ℓ) is PD), and the distances."""
    rng = np.random.default_rng(2)
    points = rng.normal(size=(50, 3))
    d = np.abs(points[:, None, :] - points[None, :, :]).sum(axis=2)
    gp = DistanceGP(form="exp")
    gp.fit(d[:20, :20], np.sin(points[:20, 0]))
    return gp, d


def test_joint_posterior_equals_the_plain_one_when_the_kernel_is_psd():
    gp, d = _psd_kernel_problem()
    plain, joint = gp.predict(d[20:, :20], d[20:, 20:]), gp.predict_joint(d[20:, :20], d[20:, 20:], covariance=True)
    assert gp.joint_repairs == 0
    np.testing.assert_allclose(joint.mean, plain.mean, rtol=1e-8)
    np.testing.assert_allclose(joint.covariance, plain.covariance, atol=1e-8)


def _anchored_prior_by_hand(train: np.ndarray, cross: np.ndarray, lengthscale: float) -> tuple[np.ndarray, int]:
    """The anchored joint prior (base units) built from its definition, independently of the GP code:
    A = clip(B) + δI, cross covariances projected on clip(B)'s kept eigenvectors and shrunk to
    q ≤ 1, test block k̂ᵀA⁻¹k̂' off the diagonal and 1 on it. Also the number of shrunk rows."""
    B = np.exp(-train / lengthscale)
    values, vectors = np.linalg.eigh(0.5 * (B + B.T))
    kept = values > 0
    A = (vectors * np.clip(values, 0, None)) @ vectors.T + 1e-10 * np.eye(len(B))
    coords = np.exp(-cross / lengthscale) @ vectors[:, kept]  # in A's eigenbasis: A⁻¹ without an inverse
    q = np.sum(coords**2 / (values[kept] + 1e-10), axis=1)
    coords = coords / np.sqrt(np.maximum(q, 1.0))[:, None]
    test = (coords / (values[kept] + 1e-10)) @ coords.T
    np.fill_diagonal(test, 1.0)
    k = coords @ vectors[:, kept].T
    return np.block([[A, k.T], [k, test]]), int(np.count_nonzero(q > 1 + 1e-9))


def test_anchored_posterior_is_the_gp_of_a_psd_prior_on_an_indefinite_hotnn_kernel():
    d, y = _hotnn_problem(100, seed=11)
    train, cross, y = d[:40, :40], d[40:, :40], y[:40]  # no test x test distances: the point of it
    ell, noise = float(np.median(train)), 1e-3
    gp = DistanceGP(form="exp", psd="clip")
    gp.fit(train, y, hyper={"outputscale": 1.3, "lengthscale": ell, "noise": noise, "mean": 0.2}, optimize=False)
    post = gp.predict_anchored(cross, covariance=True)
    prior, shrunk = _anchored_prior_by_hand(train, cross, ell)
    assert shrunk > 0 and gp.anchored_shrinks == shrunk  # the kernel asks too much of some rows: not vacuous
    assert np.linalg.eigvalsh(prior)[0] > -1e-9  # PSD on training ∪ test by construction
    # the exact GP posterior (R&W eqs. 2.25-2.26) under that prior, in standardized units
    z = (y - y.mean()) / y.std()
    K = 1.3 * prior[:40, :40] + noise * np.eye(40)
    Ks = 1.3 * prior[40:, :40]
    mean = (0.2 + Ks @ np.linalg.solve(K, z - 0.2)) * y.std() + y.mean()
    cov = (1.3 * prior[40:, 40:] - Ks @ np.linalg.solve(K, Ks.T)) * y.std() ** 2
    np.testing.assert_allclose(post.mean, mean, rtol=1e-8)
    np.testing.assert_allclose(post.covariance, cov, atol=1e-8 * y.std() ** 2)
    assert np.linalg.eigvalsh(post.covariance)[0] > -1e-9 * float(np.max(np.diag(cov)))  # what TS and the k-DPP get
    assert gp.clipped_variances == 0  # no variance below zero before clipping
    marginal = gp.predict_anchored(cross)
    np.testing.assert_allclose(marginal.mean, post.mean, rtol=1e-12)
    np.testing.assert_allclose(marginal.var, np.diag(post.covariance), rtol=1e-8, atol=1e-12)


def test_anchored_marginals_equal_the_exact_posterior_when_the_kernel_is_psd():
    gp, d = _psd_kernel_problem()
    plain, anchored = gp.predict(d[20:, :20]), gp.predict_anchored(d[20:, :20])
    assert gp.anchored_shrinks == 0
    np.testing.assert_allclose(anchored.mean, plain.mean, rtol=1e-8)
    np.testing.assert_allclose(anchored.var, plain.var, rtol=1e-6, atol=1e-10)
