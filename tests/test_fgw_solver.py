"""Our compiled FGW solver against POT (the oracle), brute force and itself."""

from __future__ import annotations

import itertools

import numpy as np
import ot
import pytest

from nasstages.distances.fgw_solver import fgw
from nasstages.distances.hotnn import HOTNN, PackedCells
from nasstages.distances.ops import op_distance_table
from nasstages.spaces import get_space

space = get_space("nb201")


def nas_cell_problems(count: int, seed: int = 0, eps: float = 0.5):
    """(M, C1, C2) of random NB201 cell pairs, built exactly as HOTNN builds them."""
    rng = np.random.default_rng(seed)
    cells = [space.to_graph(space.canonicalize(space.sample(rng))).cells["cell"] for _ in range(2 * count)]
    vocabulary = list(cells[0].vocabulary)
    D = op_distance_table(vocabulary)
    packed = PackedCells(cells, vocabulary, D, eps)
    problems = []
    for k in range(count):
        a, b = 2 * k, 2 * k + 1
        h = np.abs(packed.structure[a][:, None, :] - packed.structure[b][None, :, :]).mean(axis=2)
        M = eps * D[packed.ops[a][:, None], packed.ops[b][None, :]] + (1 - eps) * h
        problems.append((M, packed.intra[a], packed.intra[b]))
    return problems


def objective(M, C1, C2, T, lam, loss):
    L = (C1[:, None, :, None] - C2[None, :, None, :])
    L = L**2 if loss == "square" else np.abs(L)
    return lam * np.sum(M * T) + (1 - lam) * np.einsum("ijkl,ij,kl->", L, T, T)


def compare(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(fraction equal-or-lower, mean relative excess) of ours against the reference."""
    scale = np.maximum(np.abs(reference), 1e-12)
    relative = (ours - reference) / scale
    return float(np.mean(relative <= 1e-7)), float(np.mean(np.maximum(relative, 0)))


def test_square_loss_matches_pot_on_nas_cells():
    ours, pot = [], []
    for M, C1, C2 in nas_cell_problems(300):
        p = q = np.full(len(M), 1 / len(M))
        ours.append(fgw(M, C1, C2, lam=0.5, loss="square")[0])
        pot.append(ot.gromov.fused_gromov_wasserstein2(M, C1, C2, p, q, loss_fun="square_loss", alpha=0.5))
    share, excess = compare(np.array(ours), np.array(pot))
    assert share >= 0.95 and excess <= 0.01, (share, excess)


def test_square_loss_matches_pot_on_random_unequal_sizes():
    rng = np.random.default_rng(1)
    ours, pot = [], []
    for _ in range(100):
        n, m = rng.integers(3, 9, size=2)
        x, y = rng.random((n, 2)), rng.random((m, 2))
        M, C1, C2 = ot.dist(x, y), ot.dist(x, x), ot.dist(y, y)
        value, T = fgw(M, C1, C2, lam=0.3, loss="square")
        np.testing.assert_allclose(T.sum(axis=1), 1 / n)
        np.testing.assert_allclose(T.sum(axis=0), 1 / m)
        ours.append(value)
        pot.append(ot.gromov.fused_gromov_wasserstein2(M, C1, C2, np.full(n, 1 / n), np.full(m, 1 / m),
                                                        loss_fun="square_loss", alpha=0.7))
    share, excess = compare(np.array(ours), np.array(pot))
    assert share >= 0.95 and excess <= 0.01, (share, excess)


def test_absolute_loss_matches_pot_generic_conditional_gradient():
    ours, pot = [], []
    for M, C1, C2 in nas_cell_problems(120, seed=2):
        n = len(M)
        p = q = np.full(n, 1 / n)
        L = np.abs(C1[:, None, :, None] - C2[None, :, None, :])  # explicit n²m² loss tensor

        def f(G):
            return np.einsum("ijkl,ij,kl->", L, G, G)

        def df(G):
            return 2 * np.einsum("ijkl,kl->ij", L, G)

        G = ot.optim.cg(p, q, 0.5 * M, 0.5, f, df, G0=np.outer(p, q), numItermax=200)
        pot.append(objective(M, C1, C2, G, 0.5, "absolute"))
        ours.append(fgw(M, C1, C2, lam=0.5, loss="absolute")[0])
    share, excess = compare(np.array(ours), np.array(pot))
    assert share >= 0.95 and excess <= 0.01, (share, excess)


@pytest.mark.parametrize("loss", ["square", "absolute"])
def test_reported_value_is_the_objective_of_the_coupling(loss):
    for M, C1, C2 in nas_cell_problems(30, seed=3):
        value, T = fgw(M, C1, C2, lam=0.4, loss=loss)
        assert value == pytest.approx(objective(M, C1, C2, T, 0.4, loss), rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(T.sum(axis=0), 1 / len(M))


def test_restarts_reach_the_best_permutation_coupling():
    from nasstages.distances import fgw_solver

    rng = np.random.default_rng(4)
    n = 4
    perms = np.array(list(itertools.permutations(range(n))))
    for _ in range(40):
        x, y = rng.random((n, 3)), rng.random((n, 3))
        M, C1, C2 = ot.dist(x, y), ot.dist(x, x, metric="euclidean"), ot.dist(y, y, metric="euclidean")
        brute = min(objective(M, C1, C2, np.eye(n)[list(p)] / n, 0.5, "absolute") for p in perms)
        ws = fgw_solver._alloc(n)
        R1, P1, R2, P2 = np.empty((n, n)), np.empty((n, n + 1)), np.empty((n, n)), np.empty((n, n + 1))
        fgw_solver.sorted_rows(C1, R1, P1)
        fgw_solver.sorted_rows(C2, R2, P2)
        best = fgw_solver.fgw_best_of(M, C1, C2, R1, R2, P2, 0.5, fgw_solver.ABSOLUTE, perms, 100, 1e-9, ws,
                                      np.empty((n, n)))
        assert best <= brute + 1e-12


def test_hotnn_block_is_deterministic_symmetric_and_tile_independent():
    rng = np.random.default_rng(5)
    archs = [space.sample(rng) for _ in range(60)]
    hotnn = HOTNN(space, restarts=2)
    whole = hotnn.pairwise(archs)
    np.testing.assert_array_equal(whole, whole.T)
    assert np.all(np.diag(whole) == 0) and np.all(whole >= 0)
    np.testing.assert_array_equal(hotnn.pairwise(archs), whole)
    np.testing.assert_array_equal(hotnn.pairwise(archs[:25], archs[25:]), whole[:25, 25:])
    np.testing.assert_array_equal(hotnn.pairwise(archs[25:], archs[:25]), whole[25:, :25])
