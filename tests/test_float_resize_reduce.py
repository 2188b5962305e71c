"""Resizing and reductions in the float path: Keras UpSampling2D, ONNX Resize / Upsample /
ReduceMax / ReduceMean over any axes, float .tflite RESIZE_* / REDUCE_MAX / MEAN. The float graph
computes what the framework (or TFLM's float kernels) computes, and the quantized model uses the
int8 records and stays close to it."""

import numpy as np
import pytest
from float_tflite_zoo import tflm_float_outputs
from test_float_import_keras import _input, _layer, write_keras
from tflite_builder import Op, T, build_tflite

from micronn import reference
from micronn.convert import convert_to_model
from micronn.importers.keras import load_keras
from micronn.importers.tflite import read_tflite
from micronn.importers.tflite.float_graph import float_graph

RNG = np.random.default_rng(61)


def _quantized_close(path, graph, x, calibration, fraction=0.05):
    model = convert_to_model(path, calibration=calibration)
    floats = graph.predict(x)
    codes = reference.run(model, reference.quantize_input(model, x))
    quantized = reference.dequantize_output(model, codes).reshape(floats.shape)
    assert np.abs(quantized - floats).max() <= fraction * np.abs(floats).max()
    return [layer.op for layer in model.layers]


def _bilinear_half_pixel(x, factor):
    """tf.image.resize(bilinear) of [N, H, W, C] by an integer factor, written out directly."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * factor, w * factor, c), np.float64)
    for y in range(h * factor):
        sy = min(max((y + 0.5) / factor - 0.5, 0.0), h - 1)
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for xx in range(w * factor):
            sx = min(max((xx + 0.5) / factor - 0.5, 0.0), w - 1)
            x0 = int(np.floor(sx))
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = x[:, y0, x0] * (1 - fx) + x[:, y0, x1] * fx
            bottom = x[:, y1, x0] * (1 - fx) + x[:, y1, x1] * fx
            out[:, y, xx] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_keras_upsampling2d(tmp_path, interpolation):
    pytest.importorskip("h5py")
    layers = [
        _input((4, 5, 3)),
        _layer("UpSampling2D", "up", size=[2, 2], interpolation=interpolation),
    ]
    path = write_keras(tmp_path / "up.keras", layers)
    graph = load_keras(path)
    x = RNG.normal(size=(6, 4, 5, 3)).astype(np.float32)
    if interpolation == "nearest":
        expected = x.repeat(2, axis=1).repeat(2, axis=2)
    else:
        expected = _bilinear_half_pixel(x, 2)
    np.testing.assert_allclose(graph.predict(x), expected, rtol=1e-5, atol=1e-5)
    ops = _quantized_close(path, graph, x, x)
    assert ops == ["RESIZE_NEAREST_NEIGHBOR" if interpolation == "nearest" else "RESIZE_BILINEAR"]


def _onnx_model(tmp_path, nodes, initializers, in_shape, out_shape, opset=17):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, *out_shape])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path, model


ONNX_CASES = {
    "resize nearest": (
        [("Resize", ["x", "", "scales"], {"mode": "nearest", "coordinate_transformation_mode":
          "asymmetric", "nearest_mode": "floor"})],
        {"scales": np.float32([1, 1, 2, 3])}, (3, 4, 5), (3, 8, 15), "RESIZE_NEAREST_NEIGHBOR",
    ),
    "resize linear half pixel": (
        [("Resize", ["x", "", "", "sizes"], {"mode": "linear"})],
        {"sizes": np.int64([1, 3, 8, 10])}, (3, 4, 5), (3, 8, 10), "RESIZE_BILINEAR",
    ),
    "resize linear align corners": (
        [("Resize", ["x", "", "", "sizes"], {"mode": "linear",
          "coordinate_transformation_mode": "align_corners"})],
        {"sizes": np.int64([1, 3, 7, 9])}, (3, 4, 5), (3, 7, 9), "RESIZE_BILINEAR",
    ),
    "reduce max over channels": (
        [("ReduceMax", ["x"], {"axes": [1], "keepdims": 1})],
        {}, (3, 4, 5), (1, 4, 5), "REDUCE_MAX",
    ),
    "reduce mean over width": (
        [("ReduceMean", ["x"], {"axes": [3], "keepdims": 1})],
        {}, (3, 4, 5), (3, 4, 1), "MEAN_AXES",
    ),
    "reduce mean over space": (
        [("ReduceMean", ["x"], {"axes": [2, 3], "keepdims": 0})],
        {}, (3, 4, 5), (3,), "MEAN",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ONNX_CASES)
def test_onnx_resize_and_reductions(tmp_path, case):
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from micronn.importers.onnx import load_onnx

    specs, constants, in_shape, out_shape, op = ONNX_CASES[case]
    nodes = [
        helper.make_node(kind, inputs, ["y"], name="n", **attrs) for kind, inputs, attrs in specs
    ]
    initializers = [numpy_helper.from_array(value, name) for name, value in constants.items()]
    path, model = _onnx_model(tmp_path, nodes, initializers, in_shape, out_shape)
    x = RNG.normal(size=(8, *in_shape)).astype(np.float32)
    expected = np.concatenate([ReferenceEvaluator(model).run(None, {"x": s[None]})[0] for s in x])
    graph = load_onnx(path)
    channels_last = x.transpose(0, 2, 3, 1)
    got = graph.predict(channels_last)
    if len(out_shape) == 3:
        expected = expected.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)
    assert _quantized_close(path, graph, channels_last, channels_last, 0.06) == [op]
    del onnx


def _float_tflite(op, in_shape, second, out_shape, options):
    tensors = [
        T("x", (1, *in_shape), "FLOAT32"),
        T("arg", (len(second),), "INT32", np.int32(second)),
        T("y", (1, *out_shape), "FLOAT32"),
    ]
    return build_tflite(tensors, [Op(op, (0, 1), (2,), options)], (0,), (2,))


TFLITE_CASES = {
    "nearest half pixel": ("RESIZE_NEAREST_NEIGHBOR", (3, 4, 2), (7, 9), (7, 9, 2),
                           {"half_pixel_centers": True}, "RESIZE_NEAREST_NEIGHBOR"),
    "bilinear": ("RESIZE_BILINEAR", (3, 4, 2), (6, 8), (6, 8, 2),
                 {"half_pixel_centers": True}, "RESIZE_BILINEAR"),
    "max over channels": ("REDUCE_MAX", (3, 4, 2), (3,), (3, 4), {"keep_dims": False},
                          "REDUCE_MAX"),
    "mean over height": ("MEAN", (3, 4, 2), (1,), (1, 4, 2), {"keep_dims": True}, "MEAN_AXES"),
}  # fmt: skip


@pytest.mark.parametrize("case", TFLITE_CASES)
def test_float_tflite_resize_and_reductions(tmp_path, case):
    op, in_shape, second, out_shape, options, layer = TFLITE_CASES[case]
    data = _float_tflite(op, in_shape, second, out_shape, options)
    graph = float_graph(read_tflite(data, "m.tflite"))
    x = RNG.normal(size=(6, *in_shape)).astype(np.float32)
    expected = tflm_float_outputs(data, x)
    np.testing.assert_allclose(graph.predict(x).reshape(expected.shape), expected, atol=1e-5)
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    assert _quantized_close(path, graph, x, x, 0.06) == [layer]
