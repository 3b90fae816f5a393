"""Where a distance-kernel BO gets its distances: a precomputed matrix over a pool, or a metric
computed on the fly with every solved pair cached. Both name architectures by integer ids so the
BO loop gathers blocks of a matrix instead of re-parsing strings every round."""

from __future__ import annotations

import abc
from typing import Sequence

import numpy as np

from nasstages.errors import ConfigError
from nasstages.spaces import Arch, SearchSpace


class DistanceSource(abc.ABC):
    """Integer ids for architectures and the distances between them."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    @abc.abstractmethod
    def ids(self, archs: Sequence[Arch]) -> np.ndarray:
        """The id of each architecture (registering new ones where the source can)."""

    @abc.abstractmethod
    def arch(self, i: int) -> Arch:
        """The architecture with id ``i``."""

    @abc.abstractmethod
    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distances (len(rows) × len(cols), float64) between two id lists."""

    def observe(self, ids: np.ndarray) -> None:
        """Architectures now observed (a source that caches may keep their distances)."""

    def contains(self, arch: Arch) -> bool:
        """True if the source has distances for ``arch`` (a matrix: its pool; on the fly: always)."""
        return True


class ArchRegistry:
    """Integer ids of the architectures a computing source has seen, by string, in first-seen order."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._id: dict[str, int] = {}
        self.archs: list[Arch] = []

    def register(self, archs: Sequence[Arch]) -> tuple[np.ndarray, list[Arch]]:
        """The id of each architecture, and those seen for the first time (their ids follow the
        earlier ones, in order)."""
        out = np.empty(len(archs), dtype=np.int64)
        fresh: list[Arch] = []
        for k, arch in enumerate(archs):
            key = self.space.to_string(arch)
            if key not in self._id:
                self._id[key] = len(self.archs)
                self.archs.append(arch)
                fresh.append(arch)
            out[k] = self._id[key]
        return out, fresh


class MatrixDistances(DistanceSource):
    """A distance stage matrix file: ids are its rows, so its pool is the finite candidate set.
    A stacked matrix (NASBOT's eight OTMANN distances) gives terms × rows × cols blocks.

    Rows are read when first needed; by symmetry a block (candidates × observed) is the observed
    architectures' rows, so a run reads ~budget rows, not the whole matrix."""

    def __init__(self, space: SearchSpace, path: str, metric: str) -> None:
        super().__init__(space)
        from nasstages.distances.store import MatrixRows

        self.matrix = MatrixRows(path)
        if self.matrix.metric != metric:
            raise ConfigError(f"{path} holds {self.matrix.metric!r} distances, not {metric!r}")
        self.path = path
        self.strings = self.matrix.archs
        self._row = {s: k for k, s in enumerate(self.strings)}
        self._archs: dict[int, Arch] = {}

    @property
    def size(self) -> int:
        return len(self.strings)

    def ids(self, archs: Sequence[Arch]) -> np.ndarray:
        try:
            return np.array([self._row[self.space.to_string(a)] for a in archs], dtype=np.int64)
        except KeyError as exc:
            raise ConfigError(f"architecture {exc.args[0]} is not in the pool of {self.path}") from None

    def contains(self, arch: Arch) -> bool:
        return self.space.to_string(arch) in self._row

    def arch(self, i: int) -> Arch:
        if i not in self._archs:
            self._archs[i] = self.space.from_string(self.strings[i])
        return self._archs[i]

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        if len(cols) < len(rows):  # symmetric: d(r, c) = d(c, r)
            return np.ascontiguousarray(np.swapaxes(self.matrix.rows(cols, rows), -1, -2))
        return self.matrix.rows(rows, cols)


class CachedDistances(DistanceSource):
    """A metric on the fly, every pair against an observed architecture solved once.

    A BO round needs candidates × observed; every observed architecture was a candidate before,
    and candidates recur (mutants of the same parents), so each round solves only new candidates
    against the observed and old candidates against the newest observations. The cache holds
    those columns (architectures seen × observed: a few MB); pairs of two unobserved candidates
    (the joint covariance of Thompson sampling and the k-DPP) are solved each time they are asked.
    Pairs are keyed by canonical form, since every metric works on canonical representatives.

    A metric with ``stacked = True`` (NASBOT's eight OTMANN distances) returns a stack of
    ``len(metric.terms)`` matrices per call; its blocks are then terms × rows × cols, cached alike."""

    def __init__(self, space: SearchSpace, metric) -> None:
        super().__init__(space)
        self.metric = metric
        self.stacked = bool(getattr(metric, "stacked", False))
        self._registry = ArchRegistry(space)
        self._archs = self._registry.archs  # id -> architecture
        self._canonical_id: dict[str, int] = {}  # canonical string -> row of the cache
        self._row: list[int] = []  # id -> row
        self._representative: list[int] = []  # row -> the first id seen with that canonical form
        self._column: dict[int, int] = {}  # row of an observed architecture -> its column
        self._column_rows: list[int] = []  # column -> its row
        self._values = np.full((len(metric.terms) if self.stacked else 1, 0, 0), np.nan)  # term, row, column
        self.solved = 0  # pairs handed to the metric

    def ids(self, archs: Sequence[Arch]) -> np.ndarray:
        out, fresh = self._registry.register(archs)
        for k, arch in enumerate(fresh, start=len(self._archs) - len(fresh)):
            canonical = self.space.to_string(self.space.canonicalize(arch))
            if canonical not in self._canonical_id:
                self._canonical_id[canonical] = len(self._canonical_id)
                self._representative.append(k)
            self._row.append(self._canonical_id[canonical])
        return out

    def arch(self, i: int) -> Arch:
        return self._archs[i]

    def observe(self, ids: np.ndarray) -> None:
        """Mark architectures as observed: their distances to every other one are cached from now on."""
        for i in np.asarray(ids, dtype=np.int64):
            row = self._row[int(i)]
            if row in self._column:
                continue
            slot = self._column[row] = len(self._column)
            self._column_rows.append(row)
            self._reserve()
            # what this row already knows against the earlier observed is their column's entry too
            self._values[:, self._column_rows[:slot], slot] = self._values[:, row, :slot]
            self._values[:, row, slot] = 0.0

    def _reserve(self) -> None:
        rows, cols = len(self._canonical_id), len(self._column)
        have_rows, have_cols = self._values.shape[1:]
        if rows > have_rows or cols > have_cols:
            # each axis doubles only when it is full: doubling both on any growth made the cache
            # 8192 × 1024 after five row growths (64 MB filled with NaN, 9% of an NB201 HOTNAS run)
            shape = (max(rows, 2 * have_rows, 512) if rows > have_rows else have_rows,
                     max(cols, 2 * have_cols, 64) if cols > have_cols else have_cols)
            grown = np.full((len(self._values), *shape), np.nan)
            grown[:, :have_rows, :have_cols] = self._values
            self._values = grown

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        row_keys = np.array([self._row[int(i)] for i in rows], dtype=np.int64)
        col_keys = np.array([self._row[int(j)] for j in cols], dtype=np.int64)
        if not all(int(c) in self._column for c in col_keys):
            direct = self._solve_direct(row_keys, col_keys)
            return direct if self.stacked else direct[0]
        self._reserve()
        slots = np.array([self._column[int(c)] for c in col_keys], dtype=np.int64)
        missing = np.isnan(self._values[0][np.ix_(row_keys, slots)])
        if missing.any():
            # first the rows never solved against any of cols (new candidates), then the others
            # against the columns they lack (usually the newest observations only)
            unseen = missing.all(axis=1)
            self._solve(row_keys[unseen], col_keys)
            # rows grouped by the columns they lack (a row seen rounds ago lacks more of the newest
            # observations than one seen last round): each pair solved once, not each row against
            # the union of what any row lacks
            partial = np.flatnonzero(missing.any(axis=1) & ~unseen)
            groups: dict[bytes, list[int]] = {}
            for r in partial:
                groups.setdefault(missing[r].tobytes(), []).append(int(r))
            for members, columns in _merge_groups(missing, list(groups.values())):
                self._solve(row_keys[members], col_keys[columns])
        if self.stacked:
            return self._values[:, row_keys[:, None], slots[None, :]].astype(np.float64, copy=True)
        return self._values[0][np.ix_(row_keys, slots)].astype(np.float64, copy=True)

    def _representatives(self, keys: np.ndarray) -> list[Arch]:
        return [self._archs[self._representative[int(k)]] for k in keys]

    def _solve(self, row_keys: np.ndarray, col_keys: np.ndarray) -> None:
        row_keys, col_keys = np.unique(row_keys), np.unique(col_keys)
        if not len(row_keys) or not len(col_keys):
            return
        fresh = self._pairwise(row_keys, col_keys)
        slots = np.array([self._column[int(c)] for c in col_keys], dtype=np.int64)
        self._values[:, row_keys[:, None], slots[None, :]] = fresh
        # an observed row is also a column: keep both orientations equal
        for r, row in enumerate(row_keys):
            if int(row) in self._column:
                self._values[:, col_keys, self._column[int(row)]] = fresh[:, r]

    def _solve_direct(self, row_keys: np.ndarray, col_keys: np.ndarray) -> np.ndarray:
        unique_rows, row_index = np.unique(row_keys, return_inverse=True)
        if np.array_equal(row_keys, col_keys):  # a square block (candidates × candidates): half of it
            return self._pairwise(unique_rows, None)[:, row_index[:, None], row_index[None, :]]
        unique_cols, col_index = np.unique(col_keys, return_inverse=True)
        return self._pairwise(unique_rows, unique_cols)[:, row_index[:, None], col_index[None, :]]

    def _pairwise(self, row_keys: np.ndarray, col_keys: np.ndarray | None) -> np.ndarray:
        """The metric between two lists of canonical rows (``None``: the rows against themselves, each
        unordered pair solved once), terms × rows × cols (one term unless stacked); equal rows at 0,
        as the a×a matrices have it."""
        if col_keys is None:
            fresh = self.metric.pairwise(self._representatives(row_keys))
            self.solved += len(row_keys) * (len(row_keys) - 1) // 2
            col_keys = row_keys
        else:
            fresh = self.metric.pairwise(self._representatives(row_keys), self._representatives(col_keys))
            self.solved += len(row_keys) * len(col_keys)
        fresh = fresh if self.stacked else fresh[None]
        fresh[:, row_keys[:, None] == col_keys[None, :]] = 0.0
        return fresh


class TermDistances(DistanceSource):
    """A feature distance that sums terms (TW-NAS: op tree, in- and out-degree chains), each term's
    block returned on its own, terms × rows × cols, for a GP with one length-scale per term
    (:class:`~nasstages.surrogates.gp.TermwiseDistanceGP`). Features are computed once per
    architecture (NB201: ~200 per cell, most of a tree's zero); a block is their per-term L1
    distance, computed on demand, and the observed × observed block grows by its new rows."""

    def __init__(self, space: SearchSpace, metric) -> None:
        super().__init__(space)
        # only an L1 distance splits into per-slice terms that add up to it
        if not hasattr(metric, "term_slices") or getattr(metric, "metric", None) != "cityblock":
            raise ConfigError(f"metric {metric.name!r} is not a sum of terms: use lengthscales: shared")
        self.metric = metric
        self._registry = ArchRegistry(space)
        self._archs = self._registry.archs  # id -> architecture
        self._features = np.zeros((0, 0))
        self._slices: list[slice] | None = None
        self._gram_ids = np.zeros(0, dtype=np.int64)  # the last square block's ids and values
        self._gram_values = np.zeros((0, 0, 0))
        self.solved = 0  # pairs computed (per term-stack entry)

    @property
    def terms(self) -> int:
        return len(self.metric.terms)

    def ids(self, archs: Sequence[Arch]) -> np.ndarray:
        out, fresh = self._registry.register(archs)
        if fresh:
            if self._slices is None:
                self._slices = self.metric.term_slices(fresh[0])
            rows = self.metric.memoized_features(fresh)
            held = len(self._archs) - len(fresh)
            if len(self._features) < len(self._archs):  # doubling: no copy of every row each round
                grown = np.empty((max(len(self._archs), 2 * len(self._features), 256), rows.shape[1]))
                if held:
                    grown[:held] = self._features[:held]
                self._features = grown
            self._features[held:len(self._archs)] = rows
        return out

    def arch(self, i: int) -> Arch:
        return self._archs[i]

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        if np.array_equal(rows, cols):
            return self._gram(rows)
        return self._l1(rows, cols)

    def _gram(self, ids: np.ndarray) -> np.ndarray:
        """The observed × observed stack of a GP fit: each round appends observations, so only the
        new rows are computed against the held ones (the square block would cost the whole n²)."""
        held = self._gram_ids
        if 0 < len(held) <= len(ids) and np.array_equal(ids[:len(held)], held):
            k = len(held)
            out = np.empty((len(self._slices or ()), len(ids), len(ids)))
            out[:, :k, :k] = self._gram_values
            if k < len(ids):
                fresh = self._l1(ids[k:], ids)
                out[:, k:, :] = fresh
                out[:, :k, k:] = fresh[:, :, :k].transpose(0, 2, 1)
        else:
            out = self._l1(ids, ids)
        self._gram_ids, self._gram_values = ids.copy(), out
        return out.copy()

    def _l1(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        a, b = self._features[rows], self._features[cols]
        self.solved += len(a) * len(b)
        assert self._slices is not None
        out = np.zeros((len(self._slices), len(a), len(b)))
        for t, part in enumerate(self._slices):
            # feature by feature, skipping those zero on both sides (most tree slots): no
            # rows × cols × features temporary
            used = np.flatnonzero((a[:, part] != 0).any(axis=0) | (b[:, part] != 0).any(axis=0)) + part.start
            for k in used:
                out[t] += np.abs(a[:, k, None] - b[None, :, k])
        return out


CALL_COST_PAIRS = 100  # a metric call's fixed cost (packing, dispatch), in pairs solved: ~0.5 ms


def _merge_groups(missing: np.ndarray, groups: list[list[int]]) -> list[tuple[list[int], np.ndarray]]:
    """Rows with equal missing columns, merged into fewer metric calls while a merge re-solves
    fewer cached pairs than a call costs. Re-solved pairs get their cached value again."""
    groups = sorted(groups, key=lambda members: int(missing[members[0]].sum()))
    merged: list[tuple[list[int], np.ndarray]] = []
    for members in groups:
        columns = missing[members[0]]
        if merged:
            rows, union = merged[-1]
            joined = union | columns
            needed = int(missing[rows].sum()) + len(members) * int(columns.sum())
            if (len(rows) + len(members)) * int(joined.sum()) - needed <= CALL_COST_PAIRS:
                merged[-1] = (rows + members, joined)
                continue
        merged.append((list(members), columns.copy()))
    return merged
