"""GPU engine for the iFGW blocks of HOTNN: the CPU solver's algorithm, one cell pair per thread.

Same conditional gradient as ``fgw_solver.py`` (exact Hungarian linear steps, closed-form line
search, product start plus the same fixed permutation restarts, same pair orientation), written
with numba-cuda device functions and per-thread local arrays, so results agree with the CPU
engine to rounding. Cells must all have the same number of nodes (n = m), at most ``NMAX``.
Tests run this code on the CPU through numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64, int64

NMAX = 12
NMAX1 = 13  # NMAX + 1, spelled as a literal: local array shapes must be compile-time constants
THREADS = 128
GRID = 2.0**36  # as in fgw_solver: the assignment sees the gradient on this grid


def cuda_available() -> bool:
    """True when a CUDA GPU (or the simulator) can run the kernels."""
    try:
        return bool(cuda.is_available())
    except Exception:  # pragma: no cover - driver problems mean "no"
        return False


@cuda.jit(device=True, inline=True)
def _loss(x, y, kind):
    d = x - y
    return d * d if kind == 0 else abs(d)


@cuda.jit(device=True)
def _assign(cost, n, u, v, p, way, minv, used, col_of_row):
    inf = 1e300
    for i in range(n + 1):
        u[i] = 0.0
        v[i] = 0.0
        p[i] = 0
        way[i] = 0
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        for j in range(n + 1):
            minv[j] = inf
            used[j] = 0
        while True:
            used[j0] = 1
            i0 = p[j0]
            delta = inf
            j1 = 0
            for j in range(1, n + 1):
                if used[j] == 0:
                    cur = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n + 1):
                if used[j] == 1:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    for j in range(1, n + 1):
        col_of_row[p[j] - 1] = j - 1


@cuda.jit(device=True)
def _fgw_cg(M, C1, C2, R1, R2, P2, n, lam, kind, perm, max_iter, tol,
            T, LT, LG, grad, u, v, p, way, minv, used, col):
    """CG from the product start (perm[0] < 0) or the permutation coupling ``perm``."""
    if perm[0] < 0:
        scale = 1.0 / (n * n)
        for i in range(n):
            for j in range(n):
                T[i, j] = scale
        if kind == 0:
            for i in range(n):
                for j in range(n):
                    s1 = 0.0
                    q1 = 0.0
                    s2 = 0.0
                    q2 = 0.0
                    for k in range(n):
                        s1 += C1[i, k]
                        q1 += C1[i, k] * C1[i, k]
                        s2 += C2[j, k]
                        q2 += C2[j, k] * C2[j, k]
                    LT[i, j] = (n * q1 + n * q2 - 2.0 * s1 * s2) * scale
        else:
            for i in range(n):
                for j in range(n):
                    total = 0.0
                    r = 0
                    for k in range(n):
                        a = R1[i, k]
                        while r < n and R2[j, r] <= a:
                            r += 1
                        total += a * r - P2[j, r] + (P2[j, n] - P2[j, r]) - a * (n - r)
                    LT[i, j] = total * scale
    else:
        for i in range(n):
            for j in range(n):
                T[i, j] = 0.0
        for i in range(n):
            T[i, perm[i]] = 1.0 / n
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += _loss(C1[i, k], C2[j, perm[k]], kind)
                LT[i, j] = acc / n
    mt = 0.0
    ltt = 0.0
    for i in range(n):
        for j in range(n):
            mt += M[i, j] * T[i, j]
            ltt += LT[i, j] * T[i, j]
    f = lam * mt + (1.0 - lam) * ltt
    w = 1.0 / n
    it = 0
    while it < max_iter:
        it += 1
        for i in range(n):
            for j in range(n):
                # snapped to a 2^-36 grid so that near-ties (rounding, FMA) break alike on CPU and GPU
                grad[i, j] = math.floor((lam * M[i, j] + 2.0 * (1.0 - lam) * LT[i, j]) * GRID + 0.5)
        _assign(grad, n, u, v, p, way, minv, used, col)
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for t in range(n):
                    acc += _loss(C1[i, t], C2[j, col[t]], kind)
                LG[i, j] = acc * w
        mg = 0.0
        ltg = 0.0
        lgg = 0.0
        for t in range(n):
            mg += M[t, col[t]]
            ltg += LT[t, col[t]]
            lgg += LG[t, col[t]]
        mg *= w
        ltg *= w
        lgg *= w
        a = (1.0 - lam) * (lgg - 2.0 * ltg + ltt)
        b = lam * (mg - mt) + 2.0 * (1.0 - lam) * (ltg - ltt)
        if a > 0.0:
            tau = min(1.0, max(0.0, -b / (2.0 * a)))
        else:
            tau = 1.0 if a + b < 0.0 else 0.0
        if tau == 0.0:
            break
        f_new = f + b * tau + a * tau * tau
        s = 1.0 - tau
        for i in range(n):
            for j in range(n):
                T[i, j] *= s
                LT[i, j] = s * LT[i, j] + tau * LG[i, j]
        for t in range(n):
            T[t, col[t]] += tau * w
        ltt = s * s * ltt + 2.0 * tau * s * ltg + tau * tau * lgg
        mt = s * mt + tau * mg
        delta = abs(f_new - f)
        f = f_new
        if delta <= tol * abs(f) or delta <= tol:
            break
    return lam * mt + (1.0 - lam) * ltt


@cuda.jit
def _ifgw_kernel(ops_a, S_a, C_a, R_a, P_a, rank_a, ops_b, S_b, C_b, R_b, P_b, rank_b, n, D, eps, lam, kind,
                 perms, max_iter, tol, symmetric, out):
    t = cuda.grid(1)
    kb = ops_b.shape[0]
    if t >= ops_a.shape[0] * kb:
        return
    i = t // kb
    j = t - i * kb
    if symmetric and j <= i:
        return
    M = cuda.local.array((NMAX, NMAX), float64)
    T = cuda.local.array((NMAX, NMAX), float64)
    LT = cuda.local.array((NMAX, NMAX), float64)
    LG = cuda.local.array((NMAX, NMAX), float64)
    grad = cuda.local.array((NMAX, NMAX), float64)
    u = cuda.local.array(NMAX1, float64)
    v = cuda.local.array(NMAX1, float64)
    minv = cuda.local.array(NMAX1, float64)
    p = cuda.local.array(NMAX1, int64)
    way = cuda.local.array(NMAX1, int64)
    used = cuda.local.array(NMAX1, int64)
    col = cuda.local.array(NMAX, int64)
    perm = cuda.local.array(NMAX, int64)
    first_is_a = rank_a[i] <= rank_b[j]
    dims = S_a.shape[2]
    for x in range(n):
        for y in range(n):
            h = 0.0
            if first_is_a:
                for k in range(dims):
                    h += abs(S_a[i, x, k] - S_b[j, y, k])
                M[x, y] = eps * D[ops_a[i, x], ops_b[j, y]] + (1.0 - eps) * h / dims
            else:
                for k in range(dims):
                    h += abs(S_b[j, x, k] - S_a[i, y, k])
                M[x, y] = eps * D[ops_b[j, x], ops_a[i, y]] + (1.0 - eps) * h / dims
    perm[0] = -1
    best = 0.0
    for r in range(perms.shape[0] + 1):
        if r > 0:
            for x in range(n):
                perm[x] = perms[r - 1, x]
        if first_is_a:
            value = _fgw_cg(M, C_a[i], C_b[j], R_a[i], R_b[j], P_b[j], n, lam, kind, perm, max_iter, tol,
                            T, LT, LG, grad, u, v, p, way, minv, used, col)
        else:
            value = _fgw_cg(M, C_b[j], C_a[i], R_b[j], R_a[i], P_a[i], n, lam, kind, perm, max_iter, tol,
                            T, LT, LG, grad, u, v, p, way, minv, used, col)
        if r == 0 or value < best:
            best = value
    out[i, j] = best


def ifgw_block_cuda(pa, rank_a, pb, rank_b, D, eps, lam, kind, perms, max_iter, tol, symmetric) -> np.ndarray:
    """GPU counterpart of ``fgw_solver.ifgw_block`` on PackedCells ``pa``, ``pb``."""
    n = int(pa.sizes[0])
    if not (np.all(pa.sizes == n) and np.all(pb.sizes == n)) or n > NMAX:
        raise ValueError(f"the GPU engine needs cells of one size <= {NMAX} nodes")
    ka, kb = len(pa.sizes), len(pb.sizes)
    to = cuda.to_device
    args_a = [to(np.ascontiguousarray(x)) for x in (pa.ops, pa.structure, pa.intra, pa.sorted_intra,
                                                    pa.prefix_intra, rank_a)]
    args_b = args_a if symmetric else [to(np.ascontiguousarray(x)) for x in (pb.ops, pb.structure, pb.intra,
                                                                              pb.sorted_intra, pb.prefix_intra, rank_b)]
    out = cuda.to_device(np.zeros((ka, kb)))
    restart_perms = np.ascontiguousarray(perms[n, :, :n]) if perms.shape[1] else np.zeros((0, n), np.int64)
    blocks = math.ceil(ka * kb / THREADS)
    _ifgw_kernel[blocks, THREADS](*args_a, *args_b, n, to(D), eps, lam, kind, to(restart_perms), max_iter, tol,
                                  symmetric, out)
    result = out.copy_to_host()
    if symmetric:
        result = np.triu(result, 1)
        result = result + result.T
    return result
