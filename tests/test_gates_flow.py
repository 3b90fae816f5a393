"""GATES's and TA-GATES's op-on-edge forms (aw_nas nb201-flow / nb201-fbflow): the cell matrix, the
layer formula, the TA-GATES rounds, and which form a space gets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau

from nasstages.encoders.gates_flow import EdgeFlowLayer, GatesEdgeFlowEncoder, TAGatesEdgeFlowEncoder, flow
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
        start = np.vstack([encoder.start.input_node.weight.numpy(), np.zeros((3, embedding.shape[1]))])
        information0 = start @ encoder.start.x_hidden.weight.numpy().T + encoder.start.x_hidden.bias.numpy()
        out = []
        for cell in edge_ops:
            information = information0
            for k, layer in enumerate(encoder.layers):
                weight, attention = layer.weight, layer.attention
                support = information @ weight.numpy()
                new = np.zeros_like(support)
                new[0] = support[0]
                for j in range(4):
                    for i in range(4):
                        if cell[j, i] != 0:
                            gate = embedding[cell[j, i]] @ attention.weight.numpy().T + attention.bias.numpy()
                            new[j] += support[i] / (1 + np.exp(-gate))
                information = np.maximum(new, 0) if k < len(encoder.layers) - 1 else new
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


def test_cell_form_auto_reads_edges_on_nb201_and_nodes_on_nb101():
    nb201_graphs = graph_tensors(NB201, [NB201.from_index(i) for i in range(4)])
    auto = RankingPredictor(PredictorConfig(encoder="gates", epochs=1, hidden=16), seed=0).fit(
        nb201_graphs, np.arange(4.0))
    assert isinstance(auto.model.encoder, GatesEdgeFlowEncoder) and auto.model.encoder.out_dim == 16
    node = RankingPredictor(PredictorConfig(encoder="gates", cell_form="node", epochs=1), seed=0).fit(
        nb201_graphs, np.arange(4.0))
    assert isinstance(node.model.encoder, GatesEncoder)
    nb101 = NB101Space()
    nb101_graphs = graph_tensors(nb101, [nb101.sample(np.random.default_rng(k)) for k in range(4)])
    on_nodes = RankingPredictor(PredictorConfig(encoder="gates", epochs=1), seed=0).fit(nb101_graphs, np.arange(4.0))
    assert isinstance(on_nodes.model.encoder, GatesEncoder)
    with pytest.raises(ConfigError, match="cell_form 'node' or 'auto'"):
        RankingPredictor(PredictorConfig(encoder="gates", cell_form="edge"), seed=0).fit(nb101_graphs, np.arange(4.0))
    with pytest.raises(ConfigError, match="cell_form"):
        PredictorConfig(cell_form="edges")


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


def _tagates(symmetry_breaking: float = 0.1, seed: int = 0, **kwargs) -> TAGatesEdgeFlowEncoder:
    torch.manual_seed(seed)
    conv = ["conv" in op for op in NB201.operations]
    return TAGatesEdgeFlowEncoder(len(NB201.operations), 4, op_dim=8, node_dim=8, hid_dim=12, width=16,
                                  symmetry_breaking=symmetry_breaking, updated_ops=conv, **kwargs)


def test_a_layer_keeps_the_named_node_and_passes_skip_edges_unchanged():
    """reverse (keep the last node) and skip_connection_index 1, written out on one cell."""
    torch.manual_seed(1)
    layer = EdgeFlowLayer(6, 5, 4, keep=-1, skip_index=1)
    edge_ops = torch.as_tensor(NB201.edge_op_matrix(NB201.from_string(CELL)))[None]  # 2<-1 is a skip edge
    op_vectors, information = torch.randn(1, 4, 4, 4), torch.randn(1, 4, 6)
    with torch.no_grad():
        out, messages = layer(information, edge_ops, op_vectors)
        support = information[0] @ layer.weight
        gate = torch.sigmoid(layer.attention(op_vectors[0]))
        expected = torch.zeros(4, 5)
        expected[3] += support[3]
        for j, i in [(1, 0), (3, 0), (3, 2)]:
            expected[j] += gate[j, i] * support[i]
        expected[2] += support[1]  # skip: gate 1
    assert torch.allclose(out[0], expected, atol=1e-6)
    assert torch.equal(messages[0, 2, 1], support[1]) and torch.count_nonzero(messages[0, 2, 0]) == 0


def test_tagates_updates_move_only_conv_edges_and_scale_linearly():
    edge_ops = torch.as_tensor(NB201.edge_op_matrix(NB201.from_string(CELL)))[None]
    with torch.no_grad():
        small, _ = _tagates(update_scale=0.1).embeddings(edge_ops)
        large, _ = _tagates(update_scale=0.2).embeddings(edge_ops)
    conv = [(1, 0), (3, 2)]  # nor_conv_3x3 and nor_conv_1x1; 2<-1 skip, 3<-0 avg_pool, the rest none
    fixed = [(2, 1), (3, 0), (2, 0), (3, 1), (0, 0)]
    for later in small[1:]:
        for j, i in fixed:
            assert torch.equal(later[0, j, i], small[0][0, j, i])
        for j, i in conv:
            assert not torch.allclose(later[0, j, i], small[0][0, j, i])
    assert torch.allclose(large[1] - large[0], 2 * (small[1] - small[0]), atol=1e-6)


def test_tagates_backward_messages_reach_only_edges_on_a_path_to_the_output():
    """Edges into node 2 carry no backward message when node 2 feeds nothing (2->3 none)."""
    encoder = _tagates()
    arch = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "nor_conv_1x1", "none")
    edge_ops = torch.as_tensor(NB201.edge_op_matrix(arch))[None]
    with torch.no_grad():
        information, _ = flow(encoder.forward_layers, encoder.start(1, 4), edge_ops, encoder.op_embedding(edge_ops))
        start = torch.zeros_like(information)
        start[:, -1] = encoder.conversion(information[:, -1])
        _, backward = flow(encoder.backward_layers, start, edge_ops.transpose(1, 2),
                           encoder.op_embedding(edge_ops).transpose(1, 2))
    # backward[b, receiver i, sender j]: the message back along edge i -> j
    assert torch.count_nonzero(backward[0, 0, 2]) == 0 and torch.count_nonzero(backward[0, 1, 2]) == 0
    assert torch.count_nonzero(backward[0, 0, 3]) > 0 and torch.count_nonzero(backward[0, 1, 3]) > 0


def test_tagates_symmetric_edges_stay_equal_only_without_symmetry_breaking():
    """1<-0 and 2<-0 both conv with 2<-1 none and both feeding node 3 the same way: symmetric."""
    arch = ("nor_conv_3x3", "nor_conv_3x3", "none", "none", "nor_conv_1x1", "nor_conv_1x1")
    edge_ops = torch.as_tensor(NB201.edge_op_matrix(arch))[None]
    with torch.no_grad():
        plain, _ = _tagates(0.0).embeddings(edge_ops)
        broken, _ = _tagates(0.1).embeddings(edge_ops)
    assert all(torch.equal(e[0, 1, 0], e[0, 2, 0]) for e in plain)
    assert not torch.allclose(plain[0], plain[-1])
    assert all(not torch.allclose(e[0, 1, 0], e[0, 2, 0]) for e in broken)
