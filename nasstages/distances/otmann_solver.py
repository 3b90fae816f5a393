"""Compiled exact OT for OTMANN: every pair of a block solved in one numba call.

OTMANN's transport problems are tiny (≤ ~25 layers a side) and there are millions of them, so
POT's network simplex, fast in C, spent most of a pair's ~21 µs in Python around it (the call
through its wrapper, the cost slice, the loop). Here the cost matrix of NASBOT eq. 3 is built
and the balanced problem min_Z <Z, C> s.t. Z1 = a, Zᵀ1 = b, Z ≥ 0 is solved by successive
shortest paths with node potentials (Ahuja, Magnanti & Orlin, *Network Flows*, §9.7), started
from the reduced-cost duals and a greedy flow on the arcs they make tight; each
augmentation runs one dense Dijkstra on reduced costs c_ij + π_i − π_j ≥ 0 and saturates a
supply, a demand or a reverse arc, so a problem of n + m nodes ends after a handful of them
(18 on average for TransNAS-Bench-101 macro networks of 25 layers).
The result is the exact optimum (POT's ``emd2`` is the test oracle). A problem that exceeds the
augmentation cap (never seen; a guard against floating-point cycling) is returned as NaN and
solved by POT instead.

The Dijkstra keeps supplies and demands in separate arrays and marks a settled node by an
infinite tentative distance and an infinite additive ``block`` on the arcs into it, so its
selection and relaxation loops have no per-node branch on a "done" flag (1.4× per pair over the
flag-per-node version on TNB101 macro pairs; ``benchmarks/otmann_speed.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

INF = 1e300


@njit(cache=True)
def ssp_workspace(size):
    """Scratch arrays for :func:`emd_ssp` on problems of at most ``size`` nodes a side, in its
    argument order after ``n, m`` (compiled, so the parallel blocks allocate them per chunk)."""
    return (np.empty((size, size)), np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size),
            np.empty(size), np.empty(size), np.empty(size), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64), np.empty(size), np.empty(size))


@njit(cache=True)
def emd_ssp(a, b, C, n, m, flow, supply, demand, pi_s, pi_d, tent_s, tent_d, dist_s, dist_d, prev_s, prev_d,
            block_s, block_d):
    """Exact cost of the balanced OT problem between a[:n] and b[:m] under C[:n, :m] (C ≥ 0).

    Supplies i carry potential pi_s[i], demands j pi_d[j]; arc i → j has reduced cost
    C_ij + pi_s[i] − pi_d[j] ≥ 0, a reverse arc j → i (where flow[i, j] > 0) its negative.
    A virtual source feeds every supply with remaining mass at distance −pi_s[i]; each Dijkstra
    stops at the first demand with remaining mass. Returns NaN if the augmentation cap is hit."""
    total = 0.0
    for i in range(n):
        supply[i] = a[i]
        total += a[i]
        for j in range(m):
            flow[i, j] = 0.0
    for j in range(m):
        demand[j] = b[j]
    tol = 1e-13 * total
    remaining = total
    # dual start by column then row reduction (as the Hungarian method's), then a greedy flow on
    # the arcs it makes tight (reduced cost 0): complementary slackness holds from the start, and
    # most of the mass of two similar networks moves before the first shortest path
    for j in range(m):
        low = INF
        for i in range(n):
            if C[i, j] < low:
                low = C[i, j]
        pi_d[j] = low
    for i in range(n):
        low = INF
        for j in range(m):
            if C[i, j] - pi_d[j] < low:
                low = C[i, j] - pi_d[j]
        pi_s[i] = -low
    for i in range(n):
        for j in range(m):
            if supply[i] <= tol:
                break
            if demand[j] > tol and C[i, j] + pi_s[i] - pi_d[j] <= 1e-12:
                delta = min(supply[i], demand[j])
                flow[i, j] += delta
                supply[i] -= delta
                demand[j] -= delta
                remaining -= delta
    cap = 4 * (n + m) * (n + m) + 100
    for _ in range(cap):
        if remaining <= tol:
            break
        for i in range(n):
            tent_s[i] = -pi_s[i] if supply[i] > tol else INF
            block_s[i] = 0.0
            prev_s[i] = -1
        for j in range(m):
            tent_d[j] = INF
            block_d[j] = 0.0
            prev_d[j] = -1
        target = -1
        reach = INF
        for _step in range(n + m):
            best = INF
            u = -1
            for i in range(n):
                if tent_s[i] < best:
                    best = tent_s[i]
                    u = i
            on_demand_side = False
            for j in range(m):
                if tent_d[j] < best:
                    best = tent_d[j]
                    u = j
                    on_demand_side = True
            if u < 0:
                break
            if not on_demand_side:  # settle supply u, relax its arcs to every unsettled demand
                dist_s[u] = best
                tent_s[u] = INF
                block_s[u] = INF
                base = best + pi_s[u]
                for j in range(m):
                    candidate = base + C[u, j] - pi_d[j] + block_d[j]
                    if candidate < tent_d[j]:
                        tent_d[j] = candidate
                        prev_d[j] = u
            else:
                dist_d[u] = best
                tent_d[u] = INF
                block_d[u] = INF
                if demand[u] > tol:
                    target = u
                    reach = best
                    break
                base = best + pi_d[u]  # reverse arcs u -> i where flow[i, u] > 0, cost −C_iu
                for i in range(n):
                    if flow[i, u] > tol:
                        candidate = base - C[i, u] - pi_s[i] + block_s[i]
                        if candidate < tent_s[i]:
                            tent_s[i] = candidate
                            prev_s[i] = u
        if target < 0:
            return np.nan  # no augmenting path although mass remains: numerical trouble
        # potentials: π_v += min(d_v, d_target) keeps every reduced cost ≥ 0 (settled nodes have
        # d_v ≤ d_target, the rest at least d_target)
        for i in range(n):
            pi_s[i] += dist_s[i] if block_s[i] > 0.0 else reach
        for j in range(m):
            pi_d[j] += dist_d[j] if block_d[j] > 0.0 else reach
        # the path runs target <- supply (forward arc) <- demand (reverse arc) <- ... <- supply
        delta = demand[target]
        j = target
        while True:
            i = prev_d[j]
            back = prev_s[i]
            if back < 0:
                break
            if flow[i, back] < delta:
                delta = flow[i, back]
            j = back
        if supply[i] < delta:
            delta = supply[i]
        j = target
        while True:
            i = prev_d[j]
            flow[i, j] += delta
            back = prev_s[i]
            if back < 0:
                break
            flow[i, back] -= delta
            j = back
        supply[i] -= delta
        demand[target] -= delta
        remaining -= delta
    if remaining > tol:
        return np.nan
    value = 0.0
    for i in range(n):
        for j in range(m):
            if flow[i, j] > 0.0:
                value += flow[i, j] * C[i, j]
    return value


@njit(cache=True, inline="always")
def _fill_cost(first, second, ops, mass, paths, path_count, offsets, table, nu_str, nu_nas, C, a, b):
    """NASBOT eq. 3's cost and masses for (first, second), each augmented by one dummy layer.

    ``paths`` may omit path-length columns that are equal for every network of the call (their
    |difference| adds exactly 0.0, so the sum is bitwise the full one); ``path_count`` is the full
    number of columns, the mean's denominator."""
    s1, e1 = offsets[first], offsets[first + 1]
    s2, e2 = offsets[second], offsets[second + 1]
    n1, n2 = e1 - s1, e2 - s2
    total1 = 0.0
    total2 = 0.0
    for p in range(n1):
        a[p] = mass[s1 + p]
        total1 += a[p]
    for q in range(n2):
        b[q] = mass[s2 + q]
        total2 += b[q]
    a[n1] = total2
    b[n2] = total1
    k = paths.shape[1]
    for p in range(n1):
        for q in range(n2):
            s = 0.0
            for r in range(k):
                s += abs(paths[s1 + p, r] - paths[s2 + q, r])
            C[p, q] = table[ops[s1 + p], ops[s2 + q]] + nu_str * (s / path_count)
        C[p, n2] = nu_nas
    for q in range(n2):
        C[n1, q] = nu_nas
    C[n1, n2] = 0.0
    return n1 + 1, n2 + 1, total1 + total2


@njit(parallel=True, cache=True)
def otmann_block(rows, cols, ops, mass, paths, path_count, offsets, rank, table, nu_str, nu_nas, normalize,
                 upper, max_layers, out):
    """out[r, c] = OTMANN(rows[r], cols[c]) over networks indexed into the packed arrays.

    Each pair is solved in one orientation, the lower ``rank`` first, so a pair's value does not
    depend on which block solves it; ``upper`` solves only c > r (a square block of one set)."""
    for r in prange(len(rows)):
        L = max_layers + 1
        C = np.empty((L, L))
        a = np.empty(L)
        b = np.empty(L)
        work = ssp_workspace(L)
        x = rows[r]
        for c in range(r + 1 if upper else 0, len(cols)):
            y = cols[c]
            if rank[x] == rank[y]:
                out[r, c] = 0.0
                continue
            first, second = (x, y) if rank[x] < rank[y] else (y, x)
            n, m, total = _fill_cost(first, second, ops, mass, paths, path_count, offsets, table, nu_str, nu_nas,
                                     C, a, b)
            value = emd_ssp(a, b, C, n, m, work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7],
                            work[8], work[9], work[10], work[11], work[12])
            out[r, c] = value / total if normalize else value
