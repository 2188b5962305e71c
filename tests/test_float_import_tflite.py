"""Float .tflite models: imported as a FloatGraph, then quantized from calibration data.

The float graph must compute what TFLM's float kernels compute on the same file (hybrid int8
weights rewritten as their float values, see float_tflite_zoo.float_weights), and the quantized
model must stay close to the float one. Models: tests/data/zoo/SOURCES.tsv.
"""

import numpy as np
import pytest
from float_tflite_zoo import ZOO, calibration_inputs, test_inputs, tflm_float_outputs
from tflite_builder import Op, T, build_tflite, dense_float, dense_int8

from micronn import reference
from micronn.cli import main
from micronn.convert import convert_to_model
from micronn.importers.tflite import read_tflite
from micronn.importers.tflite.float_graph import float_graph

# model -> the quantized outputs' allowed (max, mean) abs error as fractions of the float
# outputs' max abs, and whether it is a classifier (then the argmax agrees on 7 of 8 inputs)
ZOO_MODELS = {
    "tflm__examples__hello_world__models__hello_world_float": (0.05, 0.02, False),
    "tiny__model_ToyCar_quant": (0.1, 0.01, False),  # hybrid: int8 weights, float activations
    "tiny__kws_ref_model_float32": (0.1, 0.02, True),  # hybrid CONV_2D, float DEPTHWISE_CONV_2D
    "tiny__pretrainedResnet": (0.1, 0.02, True),
}
RNG = np.random.default_rng(5)


def _graph(data: bytes, name: str = "model.tflite"):
    return float_graph(read_tflite(data, name))


def _assert_close_to_tflm(data: bytes, inputs) -> None:
    floats = _graph(data).predict(inputs)
    tflm = tflm_float_outputs(data, inputs).reshape(floats.shape)
    span = float(np.abs(tflm).max())
    np.testing.assert_allclose(floats, tflm, rtol=1e-4, atol=1e-5 * max(span, 1.0))


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_the_float_graph_computes_what_tflm_computes(name):
    _assert_close_to_tflm((ZOO / f"{name}.tflite").read_bytes(), test_inputs(name))


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_the_quantized_model_stays_close_to_the_float_one(name):
    path = ZOO / f"{name}.tflite"
    max_fraction, mean_fraction, classifier = ZOO_MODELS[name]
    x = test_inputs(name)
    floats = _graph(path.read_bytes(), name).predict(x)
    model = convert_to_model(path, calibration=calibration_inputs(name))
    codes = reference.run(model, reference.quantize_input(model, x))
    quantized = reference.dequantize_output(model, codes).reshape(floats.shape)
    error, span = np.abs(quantized - floats), np.abs(floats).max()
    assert error.max() <= max_fraction * span and error.mean() <= mean_fraction * span
    if classifier:
        assert np.sum(quantized.argmax(1) == floats.argmax(1)) >= 7


def _every_float_op() -> bytes:
    """A float model with pools, a standalone RELU, ADD, MEAN, TANH and LOGISTIC, per-channel
    hybrid CONV_2D weights and a RELU6 fused into it."""
    scales = (0.01, 0.02, 0.03)
    tensors = [
        T("x", (1, 6, 6, 2), "FLOAT32", signature=(-1, 6, 6, 2)),
        T(
            "conv/w",
            (3, 3, 3, 2),
            data=RNG.integers(-127, 128, (3, 3, 3, 2)).astype(np.int8),
            scale=scales,
            zero_point=(0, 0, 0),
        ),
        T("conv/b", (3,), "FLOAT32", np.float32([0.1, -0.2, 0.3])),
        T("conv", (1, 6, 6, 3), "FLOAT32"),
        T("pool", (1, 3, 3, 3), "FLOAT32"),
        T("dw/w", (1, 3, 3, 3), "FLOAT32", RNG.normal(0, 0.5, (1, 3, 3, 3)).astype(np.float32)),
        T("dw/b", (3,), "FLOAT32", np.float32([0.0, 0.1, -0.1])),
        T("dw", (1, 3, 3, 3), "FLOAT32"),
        T("relu", (1, 3, 3, 3), "FLOAT32"),
        T("avg", (1, 3, 3, 3), "FLOAT32"),
        T("add", (1, 3, 3, 3), "FLOAT32"),
        T("axes", (2,), "INT32", np.int32([1, 2])),
        T("mean", (1, 3), "FLOAT32"),
        T("fc/w", (4, 3), "FLOAT32", RNG.normal(0, 1, (4, 3)).astype(np.float32)),
        T("fc/b", (4,), "FLOAT32", np.float32([0.5, -0.5, 0.0, 0.2])),
        T("fc", (1, 4), "FLOAT32"),
        T("tanh", (1, 4), "FLOAT32"),
        T("logistic", (1, 4), "FLOAT32"),
    ]
    same = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
    operators = [
        Op("CONV_2D", (0, 1, 2), (3,), {**same, "fused_activation_function": "RELU6"}),
        Op(
            "MAX_POOL_2D",
            (3,),
            (4,),
            {
                "filter_width": 2,
                "filter_height": 2,
                "stride_w": 2,
                "stride_h": 2,
                "padding": "VALID",
            },
        ),
        Op("DEPTHWISE_CONV_2D", (4, 5, 6), (7,), {**same, "depth_multiplier": 1}),
        Op("RELU", (7,), (8,)),
        Op("AVERAGE_POOL_2D", (8,), (9,), {**same, "filter_width": 3, "filter_height": 3}),
        Op("ADD", (9, 8), (10,)),
        Op("MEAN", (10, 11), (12,), {"keep_dims": False}),
        Op("FULLY_CONNECTED", (12, 13, 14), (15,)),
        Op("TANH", (15,), (16,)),
        Op("LOGISTIC", (16,), (17,)),
    ]
    return build_tflite(tensors, operators, (0,), (17,))


def test_pools_mean_add_and_activations_compute_what_tflm_computes():
    data = _every_float_op()
    assert [node.op for node in _graph(data).nodes] == [
        "conv2d", "max_pool", "depthwise_conv2d", "avg_pool", "add", "mean", "dense", "tanh",
        "logistic",
    ]  # fmt: skip
    _assert_close_to_tflm(data, RNG.normal(0, 1, (6, 6, 6, 2)).astype(np.float32))


def test_float16_weights_behind_a_dequantize_are_read_as_float32():
    weight = RNG.normal(0, 1, (3, 4)).astype(np.float16)
    tensors = [
        T("x", (1, 4), "FLOAT32"),
        T("w16", (3, 4), "FLOAT16", weight),
        T("w", (3, 4), "FLOAT32"),
        T("b", (3,), "FLOAT32", np.float32([1, 2, 3])),
        T("y", (1, 3), "FLOAT32"),
    ]
    operators = [Op("DEQUANTIZE", (1,), (2,)), Op("FULLY_CONNECTED", (0, 2, 3), (4,))]
    graph = _graph(build_tflite(tensors, operators, (0,), (4,)))
    x = RNG.normal(0, 1, (5, 4)).astype(np.float32)
    expected = x @ weight.astype(np.float32).T + np.float32([1, 2, 3])
    np.testing.assert_allclose(graph.predict(x), expected, rtol=1e-5, atol=1e-5)


def test_convert_on_the_command_line(tmp_path):
    name = "tflm__examples__hello_world__models__hello_world_float"
    np.save(tmp_path / "x.npy", calibration_inputs(name))
    args = [str(ZOO / f"{name}.tflite"), "-o", str(tmp_path / "m.mnq")]
    assert main(["convert", *args, "--calibration", str(tmp_path / "x.npy")]) == 0
    assert (tmp_path / "m.mnq").stat().st_size > 0


def test_a_float_tflite_without_calibration_says_to_pass_it(tmp_path):
    path = tmp_path / "float.tflite"
    path.write_bytes(dense_float())
    with pytest.raises(ValueError, match=r"float32.*pass --calibration X.npy .*\[N, 4\]"):
        convert_to_model(path)


def test_an_int8_tflite_still_refuses_calibration(tmp_path):
    path = tmp_path / "int8.tflite"
    path.write_bytes(dense_int8())
    with pytest.raises(ValueError, match="int8 .tflite carries its own activation ranges"):
        convert_to_model(path, calibration=np.zeros((2, 4), np.float32))


def _dense_then(op: str, inputs=(3,), options=None, extra=()) -> bytes:
    """dense_float's x[1, 4] -> y[1, 3], then `op` reading `inputs` and writing [1, 3]."""
    tensors = [
        T("x", (1, 4), "FLOAT32"),
        T("w", (3, 4), "FLOAT32", np.ones((3, 4), np.float32)),
        T("b", (3,), "FLOAT32", np.zeros(3, np.float32)),
        T("y", (1, 3), "FLOAT32"),
        *extra,
    ]
    tensors.append(T("out", (1, 3), "FLOAT32"))
    operators = [
        Op("FULLY_CONNECTED", (0, 1, 2), (3,)),
        Op(op, inputs, (len(tensors) - 1,), options or {}),
    ]
    return build_tflite(tensors, operators, (0,), (len(tensors) - 1,))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _dense_then("SQUARE"),
            r"SQUARE \(operator 1, output 'out'\) is not supported in a float "
            r"\.tflite; micronn imports .*FULLY_CONNECTED",
        ),
        (
            _dense_then(
                "ADD", (4, 4), extra=[T("c", (1, 3), "FLOAT32", np.ones((1, 3), np.float32))]
            ),
            "ADD .* has no computed input",
        ),
        (
            _dense_then("SOFTMAX", options={"beta": 2.0}),
            "has beta 2.0; micronn's softmax has beta 1",
        ),
    ],
)
def test_what_a_float_graph_lacks_is_refused_in_one_line(data, message):
    with pytest.raises(ValueError, match=message) as error:
        _graph(data, "model.tflite")
    assert "\n" not in str(error.value) and str(error.value).startswith("model.tflite: ")


def test_an_unsupported_fused_activation_is_refused():
    tensors = [
        T("x", (1, 4), "FLOAT32"),
        T("w", (3, 4), "FLOAT32", np.ones((3, 4), np.float32)),
        T("y", (1, 3), "FLOAT32"),
    ]
    ops = [Op("FULLY_CONNECTED", (0, 1, -1), (2,), {"fused_activation_function": "RELU_N1_TO_1"})]
    with pytest.raises(ValueError, match="fused activation RELU_N1_TO_1; micronn supports relu"):
        _graph(build_tflite(tensors, ops, (0,), (2,)))


def _movers() -> bytes:
    """A float model with PAD (channels), TRANSPOSE, CONCATENATION, STRIDED_SLICE and SLICE."""
    tensors = [
        T("x", (1, 4, 4, 2), "FLOAT32"),
        T("conv/w", (3, 1, 1, 2), "FLOAT32", RNG.normal(0, 1, (3, 1, 1, 2)).astype(np.float32)),
        T("conv/b", (3,), "FLOAT32", np.float32([0.1, -0.2, 0.3])),
        T("conv", (1, 4, 4, 3), "FLOAT32"),
        T("paddings", (4, 2), "INT32", np.int32([[0, 0], [0, 0], [0, 0], [0, 1]])),
        T("pad", (1, 4, 4, 4), "FLOAT32"),
        T("perm", (4,), "INT32", np.int32([0, 2, 1, 3])),
        T("transpose", (1, 4, 4, 4), "FLOAT32"),
        T("concat", (1, 4, 4, 8), "FLOAT32"),
        T("begin", (4,), "INT32", np.int32([0, 0, 1, 0])),
        T("end", (4,), "INT32", np.int32([1, 4, 4, 8])),
        T("strides", (4,), "INT32", np.int32([1, 1, 1, 2])),
        T("strided", (1, 4, 3, 4), "FLOAT32"),
        T("slice_begin", (4,), "INT32", np.int32([0, 1, 0, 0])),
        T("slice_size", (4,), "INT32", np.int32([1, -1, -1, 3])),
        T("slice", (1, 3, 3, 3), "FLOAT32"),
    ]
    operators = [
        Op("CONV_2D", (0, 1, 2), (3,), {"padding": "VALID", "stride_w": 1, "stride_h": 1}),
        Op("PAD", (3, 4), (5,)),
        Op("TRANSPOSE", (5, 6), (7,)),
        Op("CONCATENATION", (7, 5), (8,), {"axis": 3}),
        Op("STRIDED_SLICE", (8, 9, 10, 11), (12,)),
        Op("SLICE", (12, 13, 14), (15,)),
    ]
    return build_tflite(tensors, operators, (0,), (15,))


def test_data_movers_compute_what_tflm_computes_and_quantize_close_to_it(tmp_path):
    data = _movers()
    ops = [node.op for node in _graph(data).nodes]
    assert ops == ["conv2d", "pad", "transpose", "concat", "slice", "slice"]
    x = RNG.normal(0, 1, (8, 4, 4, 2)).astype(np.float32)
    _assert_close_to_tflm(data, x)
    path = tmp_path / "movers.tflite"
    path.write_bytes(data)
    model = convert_to_model(path, calibration=RNG.normal(0, 1, (64, 4, 4, 2)).astype(np.float32))
    assert [layer.op for layer in model.layers] == [
        "CONV_2D", "PAD", "TRANSPOSE", "CONCATENATION", "STRIDED_SLICE", "STRIDED_SLICE",
    ]  # fmt: skip
    concat = model.layers[3]
    assert concat.inputs[1] == model.layers[1].output  # the PAD's output, read twice
    floats = _graph(data).predict(x)
    codes = reference.run(model, reference.quantize_input(model, x))
    quantized = reference.dequantize_output(model, codes).reshape(floats.shape)
    assert np.abs(quantized - floats).max() <= 0.05 * np.abs(floats).max()
