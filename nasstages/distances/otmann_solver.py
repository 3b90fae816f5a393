"""Compiled exact OT for OTMANN: every pair of a block solved in one numba call.

OTMANN's transport problems are tiny (≤ ~25 layers a side) and there are millions of them, so
POT's network simplex, fast in C, spent most of a pair's ~21 µs in Python around it (the call
through its wrapper, the cost slice, the loop). Here the cost matrix of NASBOT eq. 3 is built
and the balanced problem min_Z <Z, C> s.t. Z1 = a, Zᵀ1 = b, Z ≥ 0 is solved by successive
shortest paths with node potentials (Ahuja, Magnanti & Orlin, *Network Flows*, §9.7), started
from the reduced-cost duals and a greedy flow on the arcs they make tight; each
augmentation runs one dense Dijkstra on reduced costs c_ij + π_i − π_j ≥ 0 and saturates a
supply, a demand or a reverse arc, so a problem of n + m nodes ends after a handful of them.
The result is the exact optimum (POT's ``emd2`` is the test oracle). A problem that exceeds the
augmentation cap (never seen; a guard against floating-point cycling) is returned as NaN and
solved by POT instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

INF = 1e300


@njit(cache=True)
def emd_ssp(a, b, C, n, m, flow, supply, demand, pi, dist, prev, done):
    """Exact cost of the balanced OT problem between a[:n] and b[:m] under C[:n, :m] (C ≥ 0).

    Nodes 0..n-1 are the supplies, n..n+m-1 the demands; a virtual source S feeds every supply
    with remaining mass (reduced cost −π_i) and every demand with remaining mass drains to a
    virtual sink. Returns NaN if the augmentation cap is hit."""
    V = n + m
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
        pi[n + j] = low
    for i in range(n):
        low = INF
        for j in range(m):
            if C[i, j] - pi[n + j] < low:
                low = C[i, j] - pi[n + j]
        pi[i] = -low
    for i in range(n):
        for j in range(m):
            if supply[i] <= tol:
                break
            if demand[j] > tol and C[i, j] + pi[i] - pi[n + j] <= 1e-12:
                delta = min(supply[i], demand[j])
                flow[i, j] += delta
                supply[i] -= delta
                demand[j] -= delta
                remaining -= delta
    cap = 4 * V * V + 100
    for _ in range(cap):
        if remaining <= tol:
            break
        for v in range(V):
            dist[v] = INF
            prev[v] = -1
            done[v] = False
        for i in range(n):
            if supply[i] > tol:
                dist[i] = -pi[i]
        target = -1
        for _step in range(V):
            u = -1
            best = INF
            for v in range(V):
                if not done[v] and dist[v] < best:
                    best = dist[v]
                    u = v
            if u < 0:
                break
            done[u] = True
            if u >= n:
                if demand[u - n] > tol:
                    target = u
                    break
                j = u - n  # reverse arcs j -> i where flow[i, j] > 0, cost −C_ij
                for i in range(n):
                    if not done[i] and flow[i, j] > tol:
                        d = best - C[i, j] + pi[u] - pi[i]
                        if d < dist[i]:
                            dist[i] = d
                            prev[i] = u
            else:
                for j in range(m):
                    w = n + j
                    if not done[w]:
                        d = best + C[u, j] + pi[u] - pi[w]
                        if d < dist[w]:
                            dist[w] = d
                            prev[w] = u
        if target < 0:
            return np.nan  # no augmenting path although mass remains: numerical trouble
        reach = dist[target]
        for v in range(V):  # potentials: π_v += min(d_v, d_t) keeps every reduced cost ≥ 0
            pi[v] += dist[v] if (done[v] and dist[v] < reach) else reach
        # bottleneck along the path: the start's supply, the target's demand, reverse-arc flows
        delta = demand[target - n]
        v = target
        while prev[v] >= 0:
            u = prev[v]
            if u >= n:  # reverse arc (sink u) -> (source v)
                if flow[v, u - n] < delta:
                    delta = flow[v, u - n]
            v = u
        if supply[v] < delta:
            delta = supply[v]
        supply[v] -= delta
        demand[target - n] -= delta
        remaining -= delta
        v = target
        while prev[v] >= 0:
            u = prev[v]
            if u >= n:
                flow[v, u - n] -= delta
            else:
                flow[u, v - n] += delta
            v = u
    if remaining > tol:
        return np.nan
    value = 0.0
    for i in range(n):
        for j in range(m):
            if flow[i, j] > 0.0:
                value += flow[i, j] * C[i, j]
    return value


@njit(cache=True, inline="always")
def _fill_cost(first, second, ops, mass, paths, offsets, table, nu_str, nu_nas, C, a, b):
    """NASBOT eq. 3's cost and masses for (first, second), each augmented by one dummy layer."""
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
            C[p, q] = table[ops[s1 + p], ops[s2 + q]] + nu_str * (s / k)
        C[p, n2] = nu_nas
    for q in range(n2):
        C[n1, q] = nu_nas
    C[n1, n2] = 0.0
    return n1 + 1, n2 + 1, total1 + total2


@njit(parallel=True, cache=True)
def otmann_block(rows, cols, ops, mass, paths, offsets, rank, table, nu_str, nu_nas, normalize,
                 upper, max_layers, out):
    """out[r, c] = OTMANN(rows[r], cols[c]) over networks indexed into the packed arrays.

    Each pair is solved in one orientation, the lower ``rank`` first, so a pair's value does not
    depend on which block solves it; ``upper`` solves only c > r (a square block of one set)."""
    for r in prange(len(rows)):
        L = max_layers + 1
        C = np.empty((L, L))
        a = np.empty(L)
        b = np.empty(L)
        flow = np.empty((L, L))
        supply = np.empty(L)
        demand = np.empty(L)
        pi = np.empty(2 * L)
        dist = np.empty(2 * L)
        prev = np.empty(2 * L, dtype=np.int64)
        done = np.empty(2 * L, dtype=np.bool_)
        x = rows[r]
        for c in range(r + 1 if upper else 0, len(cols)):
            y = cols[c]
            if rank[x] == rank[y]:
                out[r, c] = 0.0
                continue
            first, second = (x, y) if rank[x] < rank[y] else (y, x)
            n, m, total = _fill_cost(first, second, ops, mass, paths, offsets, table, nu_str, nu_nas, C, a, b)
            value = emd_ssp(a, b, C, n, m, flow, supply, demand, pi, dist, prev, done)
            out[r, c] = value / total if normalize else value
