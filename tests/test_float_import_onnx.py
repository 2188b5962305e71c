"""ONNX import: the float graph computes what ONNX's own reference evaluator (and PyTorch at
export time) computes, and unsupported graphs stop with a message naming the node."""

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from micronn import container, convert  # noqa: E402
from micronn.importers.onnx import load_onnx  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "torch_onnx_digits"
RNG = np.random.default_rng(11)


def _weight(name, *shape, scale=0.5):
    return numpy_helper.from_array(RNG.normal(0, scale, shape).astype(np.float32), name)


def _save(tmp_path, nodes, initializers, in_shape, out_shape, name="m.onnx", batch="batch"):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, *out_shape])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, path)
    return path, model


def _compare(path, model, x_nchw, to_channels_last):
    expected = ReferenceEvaluator(model).run(None, {"x": x_nchw})[0]
    graph = load_onnx(path)
    got = graph.predict(to_channels_last(x_nchw))
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)
    return graph


def test_pytorch_export_matches_pytorch_outputs():
    expected = np.load(EXAMPLE / "expected.npz")
    graph = load_onnx(EXAMPLE / "digits_torch.onnx")
    got = graph.predict(expected["inputs"].transpose(0, 2, 3, 1))
    np.testing.assert_allclose(got, expected["outputs"], rtol=1e-4, atol=1e-4)


def test_image_ops_match_the_onnx_reference_evaluator(tmp_path):
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "w1", "b1"],
            ["c1"],
            name="conv",
            strides=[2, 1],
            pads=[1, 0, 1, 1],
            dilations=[1, 2],
        ),  # fmt: skip
        helper.make_node(
            "BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["n1"], name="bn"
        ),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu"),
        helper.make_node(
            "MaxPool",
            ["r1"],
            ["p1"],
            name="maxpool",
            kernel_shape=[3, 3],
            strides=[2, 2],
            auto_pad="SAME_UPPER",
        ),  # fmt: skip
        helper.make_node(
            "Conv",
            ["p1", "w2", "b2"],
            ["c2"],
            name="depthwise",
            group=4,
            pads=[1, 1, 1, 1],
            kernel_shape=[3, 3],
        ),  # fmt: skip
        helper.make_node("Clip", ["c2", "zero", "six"], ["r2"], name="relu6"),
        helper.make_node(
            "AveragePool",
            ["r2"],
            ["p2"],
            name="avgpool",
            kernel_shape=[2, 2],
            strides=[1, 1],
            pads=[0, 0, 1, 1],
        ),  # fmt: skip
        helper.make_node("GlobalAveragePool", ["p2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w3", "b3"], ["d"], name="fc", transB=1, alpha=0.5),
        helper.make_node("Sigmoid", ["d"], ["y"], name="sigmoid"),
    ]
    initializers = [
        _weight("w1", 4, 3, 3, 3),
        _weight("b1", 4),
        _weight("g", 4),
        _weight("beta", 4),
        _weight("mean", 4),
        numpy_helper.from_array(RNG.uniform(0.5, 2, 4).astype(np.float32), "var"),
        _weight("w2", 8, 1, 3, 3),
        _weight("b2", 8),
        numpy_helper.from_array(np.float32(0), "zero"),
        numpy_helper.from_array(np.float32(6), "six"),
        _weight("w3", 5, 8),
        _weight("b3", 5),
    ]
    path, model = _save(tmp_path, nodes, initializers, (3, 9, 8), (5,))
    x = RNG.normal(size=(6, 3, 9, 8)).astype(np.float32)
    graph = _compare(path, model, x, lambda a: a.transpose(0, 2, 3, 1))
    ops = [node.op for node in graph.nodes]
    assert "scale_shift" not in ops and ops.count("depthwise_conv2d") == 1  # BN folded


def test_flatten_of_an_image_keeps_channel_first_feature_order(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "w2"], ["m"], name="matmul"),
        helper.make_node("Add", ["m", "b2"], ["a"], name="bias"),
        helper.make_node("Softmax", ["a"], ["y"], name="softmax"),
    ]
    initializers = [_weight("w1", 3, 2, 3, 3), _weight("w2", 3 * 4 * 5, 6), _weight("b2", 6)]
    path, model = _save(tmp_path, nodes, initializers, (2, 4, 5), (6,))
    x = RNG.normal(size=(5, 2, 4, 5)).astype(np.float32)
    graph = _compare(path, model, x, lambda a: a.transpose(0, 2, 3, 1))
    assert [node.op for node in graph.nodes] == ["conv2d", "reshape", "dense", "softmax"]


def test_signals_residual_and_reduce_mean(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[2, 2]),
        helper.make_node("Tanh", ["c1"], ["t"], name="tanh"),
        helper.make_node(
            "Conv",
            ["t", "w2", "b2"],
            ["c2"],
            name="conv2",
            auto_pad="SAME_UPPER",
            kernel_shape=[3],
        ),  # fmt: skip
        helper.make_node("Add", ["t", "c2"], ["s"], name="residual"),
        helper.make_node("Relu", ["s"], ["r"], name="relu"),
        helper.make_node("ReduceMean", ["r"], ["m"], name="gap", axes=[2], keepdims=0),
        helper.make_node("Gemm", ["m", "w3", "b3"], ["y"], name="fc"),
    ]
    initializers = [
        _weight("w1", 4, 2, 5),
        _weight("b1", 4),
        _weight("w2", 4, 4, 3),
        _weight("b2", 4),
        _weight("w3", 4, 3),
        _weight("b3", 3),
    ]
    path, model = _save(tmp_path, nodes, initializers, (2, 12), (3,))
    x = RNG.normal(size=(7, 2, 12)).astype(np.float32)
    graph = _compare(path, model, x, lambda a: a.transpose(0, 2, 1))
    assert graph.input_shape == (1, 12, 2)
    assert [n.activation for n in graph.nodes if n.op == "add"] == ["relu"]
    data = convert(path, calibration=x.transpose(0, 2, 1))
    assert [layer.op for layer in container.read(data).layers] == [
        "CONV_2D",
        "TANH",
        "CONV_2D",
        "ADD",
        "MEAN",
        "FULLY_CONNECTED",
    ]


def _one_node(tmp_path, node, initializers=(), in_shape=(4, 4, 4), out_shape=(4, 4, 4), **kw):
    return _save(tmp_path, [node], list(initializers), in_shape, out_shape, **kw)[0]


def test_unsupported_operator_names_the_node_and_what_to_do(tmp_path):
    node = helper.make_node("Elu", ["x"], ["y"], name="elu_1", alpha=0.1)
    with pytest.raises(ValueError, match=r"'elu_1' \(Elu\) is not supported.*Export"):
        load_onnx(_one_node(tmp_path, node))


def test_dynamic_shapes_are_refused(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    path = _one_node(tmp_path, node, in_shape=(4, "height", 4))
    with pytest.raises(ValueError, match="static shapes apart from the batch axis"):
        load_onnx(path)


@pytest.mark.parametrize(
    ("node", "initializers", "message"),
    [
        (
            helper.make_node("Conv", ["x", "w"], ["y"], name="grouped", group=2),
            [_weight("w", 4, 2, 1, 1)],
            "group=2",
        ),
        (
            helper.make_node("Conv", ["x", "x"], ["y"], name="dynamic_weights"),
            [],
            "must be a constant",
        ),
    ],
)
def test_unsupported_options_are_explained(tmp_path, node, initializers, message):
    with pytest.raises(ValueError, match=message):
        load_onnx(_one_node(tmp_path, node, initializers))


def test_float_onnx_without_calibration_asks_for_it():
    with pytest.raises(ValueError, match="needs calibration data"):
        convert(EXAMPLE / "digits_torch.onnx")


def _ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def test_pad_slice_concat_and_transpose_match_the_onnx_reference_evaluator(tmp_path):
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("Slice", ["p", "starts", "ends", "axes"], ["s"], name="slice"),
        helper.make_node("Concat", ["s", "x"], ["c"], name="concat", axis=1),
        helper.make_node("Transpose", ["c"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["t"], ["u"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Slice", ["u", "r0", "r1", "r2", "r3"], ["y"], name="reverse"),
    ]
    initializers = [
        _ints("pads", [0, 1, 1, 0, 0, 0, 0, 0]),
        _ints("starts", [1, 0]),
        _ints("ends", [5, 100]),
        _ints("axes", [2, 3]),
        _ints("r0", [-1]),
        _ints("r1", [-1000]),
        _ints("r2", [3]),
        _ints("r3", [-2]),
    ]
    path, model = _save(tmp_path, nodes, initializers, (2, 4, 5), (5, 4, 3))
    x = RNG.normal(size=(4, 2, 4, 5)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    graph = load_onnx(path)
    got = graph.predict(x.transpose(0, 2, 3, 1))  # held channels-last
    np.testing.assert_array_equal(got.transpose(0, 3, 1, 2), expected)
    ops = ["pad", "slice", "concat", "transpose", "transpose", "slice"]
    assert [node.op for node in graph.nodes] == ops
    data = convert(str(path), calibration=RNG.normal(size=(32, 2, 4, 5)).astype(np.float32))
    ops = [layer.op for layer in container.read(data).layers]
    assert ops == [
        "PAD",
        "STRIDED_SLICE",
        "CONCATENATION",
        "TRANSPOSE",
        "TRANSPOSE",
        "STRIDED_SLICE",
    ]


def test_a_transpose_to_channels_first_feeds_a_convolution(tmp_path):
    # an NHWC input permuted to NCHW before a Conv (a common PyTorch export); micronn holds
    # every 3-D ONNX input as (C, H, W) channels-last, so the transpose is a real one
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["y"], name="conv"),
    ]
    path, model = _save(tmp_path, nodes, [_weight("w", 3, 2, 1, 1)], (4, 5, 2), (3, 4, 5))
    x = RNG.normal(size=(3, 4, 5, 2)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    graph = load_onnx(path)
    assert [node.op for node in graph.nodes] == ["transpose", "conv2d"]
    got = graph.predict(x.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(got.transpose(0, 3, 1, 2), expected, rtol=1e-5, atol=1e-5)
