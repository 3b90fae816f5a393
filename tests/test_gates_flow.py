"""GATES's op-on-edge form (aw_nas nb201-flow): the cell matrix, the layer formula, which form a space
gets, and epoch selection by a monitor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from nasstages.encoders.gates_flow import GatesEdgeFlowEncoder
from nasstages.encoders.graphs import graph_tensors
from nasstages.encoders.predictors import GatesEncoder, PredictorConfig, RankingPredictor
from nasstages.errors import ConfigError
from nasstages.spaces.nb101 import NB101Space
from nasstages.spaces.nb201 import NB201Space
from nasstages.spaces.tnb101 import TNB101MicroSpace

NB201 = NB201Space()
CELL = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def test_edge_op_matrix_of_a_hand_worked_cell():
    matrix = NB201.edge_op_matrix(NB201.from_string(CELL))
    expected = np.zeros((4, 4), dtype=np.int64)
    # M[to, from]: ops none 0, skip_connect 1, nor_conv_1x1 2, nor_conv_3x3 3, avg_pool_3x3 4
    expected[1, 0], expected[2, 1], expected[3, 0], expected[3, 2] = 3, 1, 4, 2
    assert np.array_equal(matrix, expected)
    micro = TNB101MicroSpace()
    arch = ("nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3", "none", "skip_connect")
    assert micro.edge_op_matrix(arch)[[1, 2, 3, 3], [0, 0, 0, 2]].tolist() == [2, 1, 3, 1]


def test_graph_tensors_carry_the_edge_form_where_ops_sit_on_edges():
    archs = [NB201.from_index(i) for i in (0, 17, 15624)]
    graphs = graph_tensors(NB201, archs)
    assert graphs.edge_vocabulary == NB201.operations
    assert all(np.array_equal(graphs.edge_ops[k], NB201.edge_op_matrix(a)) for k, a in enumerate(archs))
    assert np.array_equal(graphs.subset([2]).edge_ops[0], graphs.edge_ops[2])
    nb101 = NB101Space()
    assert graph_tensors(nb101, [nb101.sample(np.random.default_rng(0))]).edge_ops is None


def _reference_flow(encoder: GatesEdgeFlowEncoder, edge_ops: np.ndarray) -> np.ndarray:
    """The layer written node by node: X'_j = Σ_{i: op_ji ≠ 0} σ(EMB(op_ji) A + a) ⊙ X_i W + [j = 0] X_0 W."""
    with torch.no_grad():
        embedding = encoder.op_embedding.weight.numpy()
        start = np.vstack([encoder.input_node.weight.numpy(), np.zeros((3, embedding.shape[1]))])
        information0 = start @ encoder.x_hidden.weight.numpy().T + encoder.x_hidden.bias.numpy()
        out = []
        for cell in edge_ops:
            information = information0
            for layer, (weight, attention) in enumerate(zip(encoder.weights, encoder.attentions)):
                support = information @ weight.numpy()
                new = np.zeros_like(support)
                new[0] = support[0]
                for j in range(4):
                    for i in range(4):
                        if cell[j, i] != 0:
                            gate = embedding[cell[j, i]] @ attention.weight.numpy().T + attention.bias.numpy()
                            new[j] += support[i] / (1 + np.exp(-gate))
                information = np.maximum(new, 0) if layer < len(encoder.weights) - 1 else new
            out.append(information[-1])
    return np.array(out)


def test_edge_flow_is_the_reference_layer():
    torch.manual_seed(0)
    encoder = GatesEdgeFlowEncoder(len(NB201.operations), layers=(16, 16, 8))
    cells = [NB201.from_string(CELL), NB201.from_index(3), NB201.from_index(9000)]
    edge_ops = np.stack([NB201.edge_op_matrix(a) for a in cells])
    with torch.no_grad():
        ours = encoder(torch.as_tensor(edge_ops)).numpy()
    assert ours.shape == (3, 8)
    assert np.allclose(ours, _reference_flow(encoder, edge_ops), rtol=1e-5, atol=1e-6)


def test_cells_whose_output_gets_nothing_share_one_encoding():
    """Every edge into node 3 'none': no information reaches the output, whatever the other edges are
    (NB201's ~10%-accuracy cells, which are equal)."""
    encoder = GatesEdgeFlowEncoder(len(NB201.operations))
    dead = [("nor_conv_3x3", "skip_connect", "avg_pool_3x3", "none", "none", "none"),
            ("skip_connect", "nor_conv_1x1", "none", "none", "none", "none")]
    alive = ("skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "none", "none")
    with torch.no_grad():
        codes = encoder(torch.as_tensor(np.stack([NB201.edge_op_matrix(a) for a in [*dead, alive]])))
    assert torch.equal(codes[0], codes[1]) and not torch.equal(codes[0], codes[2])


def test_gates_form_auto_reads_edges_on_nb201_and_nodes_on_nb101():
    nb201_graphs = graph_tensors(NB201, [NB201.from_index(i) for i in range(4)])
    auto = RankingPredictor(PredictorConfig(encoder="gates", epochs=1, hidden=16), seed=0).fit(
        nb201_graphs, np.arange(4.0))
    assert isinstance(auto.model.encoder, GatesEdgeFlowEncoder) and auto.model.encoder.out_dim == 16
    node = RankingPredictor(PredictorConfig(encoder="gates", gates_form="node", epochs=1), seed=0).fit(
        nb201_graphs, np.arange(4.0))
    assert isinstance(node.model.encoder, GatesEncoder)
    nb101 = NB101Space()
    nb101_graphs = graph_tensors(nb101, [nb101.sample(np.random.default_rng(k)) for k in range(4)])
    on_nodes = RankingPredictor(PredictorConfig(encoder="gates", epochs=1), seed=0).fit(nb101_graphs, np.arange(4.0))
    assert isinstance(on_nodes.model.encoder, GatesEncoder)
    with pytest.raises(ConfigError, match="gates_form 'node' or 'auto'"):
        RankingPredictor(PredictorConfig(encoder="gates", gates_form="edge"), seed=0).fit(nb101_graphs, np.arange(4.0))
    with pytest.raises(ConfigError, match="gates_form"):
        PredictorConfig(gates_form="edges")


def test_reference_training_runs_exactly_its_epochs():
    assert PredictorConfig(encoder="gates").min_steps == 0 and PredictorConfig(encoder="tagates").min_steps == 0
    assert PredictorConfig(encoder="mlp").min_steps == 400
    with pytest.raises(ConfigError, match="min_steps"):
        PredictorConfig(min_steps=-1)


def test_edge_gates_ranks_nb201_cells(nb201_bench):
    """1% of NB201's cells, the reference's GATES training (200 steps): it ranks the others."""
    rng = np.random.default_rng(1)
    archs = [NB201.from_index(int(i)) for i in rng.choice(NB201.size, 2000, replace=False)]
    graphs = graph_tensors(NB201, archs)
    accuracy = np.array([nb201_bench.mean_valid(a, "cifar10-valid") for a in archs])
    predictor = RankingPredictor(PredictorConfig(encoder="gates", epochs=100), seed=0)
    predictor.fit(graphs.subset(np.arange(150)), accuracy[:150])
    tau = kendalltau(predictor.predict(graphs.subset(np.arange(150, 2000))), accuracy[150:]).statistic
    assert tau > 0.5, tau


def test_a_monitor_keeps_the_best_epochs_weights():
    """Selecting epoch 3 of 8 gives exactly the model trained for 3 epochs: the training stream
    is the same, and scoring in eval mode draws nothing from it."""
    graphs = graph_tensors(NB201, [NB201.from_index(i) for i in range(0, 15625, 97)])
    y = np.random.default_rng(0).random(len(graphs))
    config = dict(encoder="gates", hidden=16, batch_size=32, min_steps=0)
    calls = []

    def monitor(predictor: RankingPredictor) -> float:
        calls.append(predictor.model.training)
        return -abs(len(calls) - 3)  # best at the third call, epoch 3

    selected = RankingPredictor(PredictorConfig(epochs=8, **config), seed=4).fit(graphs, y, monitor=monitor)
    assert selected.selected_epoch == 3 and [e for e, _ in selected.monitor_curve] == list(range(1, 9))
    assert calls == [False] * 8
    three = RankingPredictor(PredictorConfig(epochs=3, **config), seed=4).fit(graphs, y)
    assert np.array_equal(selected.predict(graphs), three.predict(graphs))
    last = RankingPredictor(PredictorConfig(epochs=8, **config), seed=4).fit(graphs, y)
    assert not np.array_equal(last.predict(graphs), three.predict(graphs))
