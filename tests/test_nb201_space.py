"""NB201 space: strings, official indices, isomorphism hash, graph form, mutation."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from nasstages.spaces import get_space
from nasstages.spaces.nb201 import EDGES, OPS, canonical_form

space = get_space("nb201")


def test_index_string_round_trip_all_cells():
    strings = []
    for index in range(space.size):
        arch = space.from_index(index)
        text = space.to_string(arch)
        assert space.from_string(text) == arch
        assert space.to_index(arch) == index
        strings.append(text)
    assert len(set(strings)) == space.size == 15625
    assert [space.to_string(a) for a in space.enumerate()] == strings


def test_official_index_matches_mirror(nb201_mirror):
    table = pd.read_csv(nb201_mirror / "nb201_12ep.csv.gz", usecols=["arch_index", "arch_str"])
    assert len(table) == 15625
    for index, text in zip(table["arch_index"], table["arch_str"]):
        assert space.to_index(space.from_string(text)) == index


@pytest.mark.parametrize(
    "text, token",
    [
        ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_5x5"),
        ("|skip_connect~1|+|none~0|none~1|+|none~0|none~1|none~2|", "skip_connect~1"),
        ("|none~0|+|none~0|none~1|", "found 2"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "none~0|"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "has 1"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "none0"),
    ],
)
def test_bad_string_names_the_token(text, token):
    with pytest.raises(ValueError, match=r"invalid NB201 cell") as info:
        space.from_string(text)
    assert token in str(info.value)


def test_bad_index_raises():
    with pytest.raises(ValueError, match="out of range"):
        space.from_index(15625)


def _cell(ops: dict[tuple[int, int], str]) -> tuple[str, ...]:
    return tuple(ops.get(edge, "none") for edge in EDGES)


def test_hash_ignores_edges_cut_off_by_none():
    # Node 1 receives nothing (1<-0 is none), so whatever leaves node 1 is dead.
    base = {(2, 0): "nor_conv_3x3", (3, 2): "nor_conv_1x1", (3, 0): "skip_connect"}
    hashes = {space.iso_hash(_cell({**base, (2, 1): a, (3, 1): b})) for a in OPS for b in OPS}
    assert len(hashes) == 1
    # Node 2 does not reach the output (3<-2 is none): its incoming ops are irrelevant.
    base = {(1, 0): "avg_pool_3x3", (3, 1): "nor_conv_3x3"}
    hashes = {space.iso_hash(_cell({**base, (2, 0): a, (2, 1): b})) for a in OPS for b in OPS}
    assert len(hashes) == 1


def test_hash_merges_swapped_intermediate_nodes_everywhere():
    # With 2<-1 = none, nodes 1 and 2 are interchangeable: swap (1<-0, 2<-0) and (3<-1, 3<-2).
    for arch in space.enumerate():
        if arch[2] != "none":
            continue
        swapped = (arch[1], arch[0], "none", arch[3], arch[5], arch[4])
        assert space.iso_hash(swapped) == space.iso_hash(arch)


def test_hash_merges_all_disconnected_cells():
    disconnected = [a for a in space.enumerate() if canonical_form(a) == "0"]
    assert len(disconnected) > 100
    assert len({space.iso_hash(a) for a in disconnected}) == 1
    assert space.iso_hash(_cell({(3, 0): "nor_conv_3x3"})) != space.iso_hash(disconnected[0])


def test_hash_keeps_distinct_cells_apart():
    # Without none/skip and with 2<-1 present, no two cells compute the same function.
    parametric = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    cells = list(itertools.product(parametric, repeat=len(EDGES)))
    assert len({space.iso_hash(c) for c in cells}) == len(cells) == 729
    assert space.iso_hash(_cell({(3, 0): "nor_conv_3x3"})) != space.iso_hash(_cell({(3, 0): "nor_conv_1x1"}))
    # x + x is not x: duplicated paths are kept.
    assert space.iso_hash(_cell({(3, 0): "skip_connect"})) != space.iso_hash(
        _cell({(3, 0): "skip_connect", (1, 0): "skip_connect", (3, 1): "skip_connect"})
    )


def _official_unique_str(arch):
    """NAS-Bench-201's own CellStructure.to_unique_str(consider_zero=True), the reference."""
    nodes = {0: "0"}
    for node in range(1, 4):
        terms = []
        for (to, source), op in zip(EDGES, arch):
            if to != node:
                continue
            if op == "none" or nodes[source] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[source])
            else:
                terms.append(f"({nodes[source]})@{op}")
        nodes[node] = "+".join(sorted(terms))
    return nodes[3]


def test_hash_is_coarser_than_the_official_unique_string():
    # Every pair the official API calls isomorphic we merge too; we also merge the cells it
    # misses (zero terms and dead nodes are dropped), so we have fewer classes than its 6466.
    classes = defaultdict(set)
    for arch in space.enumerate():
        classes[_official_unique_str(arch)].add(space.iso_hash(arch))
    assert len(classes) == 6466  # the number published in the NAS-Bench-201 paper
    assert all(len(hashes) == 1 for hashes in classes.values())
    assert len({h for hashes in classes.values() for h in hashes}) < len(classes)


def test_graph_form():
    arch = space.from_string("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
    graph = space.to_graph(arch).cells["cell"]
    adjacency = graph.adjacency
    assert adjacency.shape == (8, 8)
    assert np.all(np.tril(adjacency) == 0), "topologically ordered DAG"
    assert set(np.flatnonzero(adjacency[0])) == {1, 2, 4}  # edges leaving the input node
    assert set(np.flatnonzero(adjacency[:, 7])) == {4, 5, 6}  # edges into the output node
    assert set(np.flatnonzero(adjacency[:, 3])) == {1}  # 2<-1 reads node 1 = op of 1<-0
    assert set(np.flatnonzero(adjacency[:, 6])) == {2, 3}  # 3<-2 reads node 2 = ops of 2<-0, 2<-1
    assert graph.ops == ("input", *arch, "output")
    one_hot = graph.one_hot()
    assert one_hot.shape == (8, 7) and np.all(one_hot.sum(axis=1) == 1)


def test_mutation_and_neighbours():
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    for _ in range(200):
        child = space.mutate(arch, rng)
        assert sum(a != b for a, b in zip(arch, child)) == 1
    neighbours = space.neighbours(arch)
    assert len(neighbours) == len(set(neighbours)) == 24
    assert all(sum(a != b for a, b in zip(arch, n)) == 1 for n in neighbours)


def test_sampling_is_seeded_and_covers_ops():
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(1)
    draws = [space.sample(rng) for _ in range(2000)]
    counts = pd.Series([op for d in draws for op in d]).value_counts()
    assert set(counts.index) == set(OPS)
    assert counts.min() > 0.8 * counts.mean()
    unique = space.sample_unique(300, rng, by="iso")
    assert len({space.iso_hash(u) for u in unique}) == 300
