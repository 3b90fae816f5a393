"""TA-GATES: its backward flow, symmetry breaking, and determinism by seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasstages.encoders.graphs import graph_tensors
from nasstages.encoders.predictors import (PredictorConfig, RankingPredictor, sampled_pairs,
                                           sampled_pairs_hinge_loss)
from nasstages.encoders.tagates import TAGatesEncoder
from nasstages.spaces import get_space

# input -> {1, 2} -> 3 -> output: nodes 1 and 2 sit at symmetric positions (same predecessors and successors)
DIAMOND = torch.tensor([[0, 1, 1, 0, 0],
                        [0, 0, 0, 1, 0],
                        [0, 0, 0, 1, 0],
                        [0, 0, 0, 0, 1],
                        [0, 0, 0, 0, 0]], dtype=torch.float32)[None]
DIAMOND_OPS = torch.nn.functional.one_hot(torch.tensor([[0, 1, 1, 2, 3]]), 4).float()  # 1 and 2: same op


def _encoder(symmetry_breaking: float, seed: int = 0, **kwargs) -> TAGatesEncoder:
    torch.manual_seed(seed)
    return TAGatesEncoder(n_ops=4, n_nodes=5, op_dim=8, hidden=16, steps=3, symmetry_breaking=symmetry_breaking,
                          **kwargs)


def test_updates_change_only_parametrized_ops_and_scale_linearly():
    """The reference's update: only conv ops' embeddings move (op 1 here), by updateopemb_scale x U."""
    with torch.no_grad():
        small = _encoder(0.1, updated_ops=[False, True, False, False], update_scale=0.1).embeddings(DIAMOND, DIAMOND_OPS)
        large = _encoder(0.1, updated_ops=[False, True, False, False], update_scale=0.2).embeddings(DIAMOND, DIAMOND_OPS)
    for later in small[1:]:
        assert torch.equal(later[0, [0, 3, 4]], small[0][0, [0, 3, 4]])  # input, op 2, output: fixed
        assert not torch.allclose(later[0, [1, 2]], small[0][0, [1, 2]])
    first_small, first_large = small[1] - small[0], large[1] - large[0]
    assert torch.allclose(first_large, 2 * first_small, atol=1e-6)


def test_predictor_defaults_are_the_reference_settings():
    """aw_nas nb201_cfgs/tagates.yaml: 4 time steps (3 updates), scale 0.1, conv ops only."""
    space = get_space("nb201")
    graphs = graph_tensors(space, [space.sample(np.random.default_rng(0)) for _ in range(4)])
    for cell_form, vocabulary in (("auto", graphs.edge_vocabulary), ("node", graphs.vocabulary)):
        encoder = RankingPredictor(PredictorConfig(encoder="tagates", cell_form=cell_form), seed=0)._build(graphs).encoder
        assert (encoder.steps, encoder.update_scale) == (3, 0.1)
        flagged = {op for op, flag in zip(vocabulary, encoder.updated_ops.tolist()) if flag}
        assert flagged == {"nor_conv_1x1", "nor_conv_3x3"}
    # nb201-fbflow: 3 forward and 3 backward 128-wide layers, skip edges with gate 1 (skip_connection_index 1)
    edge = RankingPredictor(PredictorConfig(encoder="tagates"), seed=0)._build(graphs).encoder
    assert [tuple(layer.weight.shape) for layer in edge.forward_layers] == [(96, 128), (128, 128), (128, 128)]
    assert [tuple(layer.weight.shape) for layer in edge.backward_layers] == [(128, 128)] * 3
    assert {layer.skip_index for layer in [*edge.forward_layers, *edge.backward_layers]} == {1}
    assert graphs.edge_vocabulary[1] == "skip_connect"


def test_same_ops_at_symmetric_positions_stay_identical_without_symmetry_breaking():
    with torch.no_grad():
        history = _encoder(0.0).embeddings(DIAMOND, DIAMOND_OPS)
    for embeddings in history:
        assert torch.equal(embeddings[0, 1], embeddings[0, 2])
    assert not torch.allclose(history[0], history[-1])  # the updates did change the embeddings


def test_symmetry_breaking_separates_them_and_the_updates_act_on_the_difference():
    with torch.no_grad():
        history = _encoder(0.1).embeddings(DIAMOND, DIAMOND_OPS)
    gaps = [float((e[0, 1] - e[0, 2]).norm()) for e in history]
    assert gaps[0] > 0
    # the update depends on the embedding itself, so the gap is not just the initial noise carried along
    noise_gap = (_encoder(0.1).position_noise[1] - _encoder(0.1).position_noise[2]).norm()
    assert abs(gaps[-1] - float(noise_gap)) > 1e-4


def test_backward_signal_reaches_only_nodes_with_a_path_to_the_output():
    adjacency = DIAMOND.clone()
    adjacency[0, 2, 3] = 0  # node 2 now a dead end: nothing flows back into it
    encoder = _encoder(0.1)
    with torch.no_grad():
        embeddings = encoder.embeddings(adjacency, DIAMOND_OPS)[0]
        information, _ = encoder._forward_flow(adjacency, embeddings)
        gradients = encoder._backward_flow(adjacency, embeddings, information)
    assert torch.count_nonzero(gradients[0, 2]) == 0
    assert torch.count_nonzero(gradients[0, 1]) > 0 and torch.count_nonzero(gradients[0, 0]) > 0


def test_tagates_is_deterministic_by_seed():
    space = get_space("nb201")
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(120)]
    graphs = graph_tensors(space, archs)
    # a target the encoder can learn: number of convolutions, ties broken by position
    y = np.array([sum(op.startswith("nor_conv") for op in a) + 0.01 * i / len(archs) for i, a in enumerate(archs)])
    config = PredictorConfig(encoder="tagates", epochs=5, min_steps=20, hidden=32)
    first = RankingPredictor(config, seed=7).fit(graphs.subset(np.arange(80)), y[:80])
    again = RankingPredictor(config, seed=7).fit(graphs.subset(np.arange(80)), y[:80])
    other = RankingPredictor(config, seed=8).fit(graphs.subset(np.arange(80)), y[:80])
    held_out = graphs.subset(np.arange(80, 120))
    assert np.array_equal(first.predict(held_out), again.predict(held_out))
    assert torch.equal(first.model.encoder.position_noise, again.model.encoder.position_noise)
    assert not np.allclose(first.predict(held_out), other.predict(held_out))
    assert not torch.equal(first.model.encoder.position_noise, other.model.encoder.position_noise)


def test_reference_head_batch_and_pairs_are_aw_nas_settings():
    """nb201_cfgs/tagates.yaml and aw_nas's NB201 GATES config: mlp_hiddens [300] x 5 with mlp_dropout
    0.1, batch 512, max_compare_ratio 4; the MLP / LSTM baselines keep one layer of ``hidden`` units
    without dropout, on every ordered pair."""
    space = get_space("nb201")
    graphs = graph_tensors(space, [space.sample(np.random.default_rng(0)) for _ in range(4)])
    config = PredictorConfig(encoder="tagates")
    assert (config.batch_size, config.head, config.head_dropout, config.pairs_per_arch) == (512, (300,) * 5, 0.1, 4.0)
    head = RankingPredictor(config, seed=0)._build(graphs).head
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(128, 300)] + [(300, 300)] * 4 + [(300, 1)]
    assert [m.p for m in head if isinstance(m, torch.nn.Dropout)] == [0.1] * 5
    gates = PredictorConfig(encoder="gates", hidden=64)
    assert (gates.batch_size, gates.head, gates.head_dropout, gates.pairs_per_arch) == (512, (300,) * 5, 0.1, 4.0)
    mlp = PredictorConfig(encoder="mlp", hidden=64)
    assert (mlp.batch_size, mlp.head, mlp.head_dropout, mlp.pairs_per_arch) == (128, (64,), 0.0, 0.0)
    mlp_head = RankingPredictor(mlp, seed=0)._build(graphs).head
    assert [type(m).__name__ for m in mlp_head] == ["Linear", "ReLU", "Linear"]
    earlier = PredictorConfig(encoder="tagates", head=[128], head_dropout=0.0, pairs_per_arch=0, batch_size=128)
    assert (earlier.head, earlier.pairs_per_arch) == ((128,), 0.0)


def test_sampled_pairs_follow_the_training_script():
    """At most ratio x n pairs, drawn among pairs whose targets differ, each ordered better-first; with
    fewer such pairs than the limit, all of them."""
    y = np.array([0.3, 0.1, 0.3, 0.7, 0.5, 0.2, 0.9, 0.4])
    better, worse = sampled_pairs(y, 1.0, np.random.default_rng(0))
    assert len(better) == 8
    assert np.all(y[better] > y[worse])
    assert len({tuple(sorted(p)) for p in zip(better, worse)}) == 8  # no pair twice
    everything = sampled_pairs(y, 100.0, np.random.default_rng(0))
    assert len(everything[0]) == 28 - 1  # 8 choose 2, less the tied pair (0, 2)
    scores = torch.tensor([0.0, 1.0, 0.5, 0.2, 0.2, 0.0, 0.3, 0.1])
    b, w = torch.as_tensor(everything[0]), torch.as_tensor(everything[1])
    expected = np.mean([max(0.0, 0.1 - (scores[i] - scores[j]).item()) for i, j in zip(*everything)])
    assert sampled_pairs_hinge_loss(scores, b, w, 0.1).item() == pytest.approx(expected, rel=1e-6)
