"""tests/tflite_builder.py writes the operator options TFLM reads, with the meaning intended.

Each case is one operator built twice: as a micronn Layer straight from its op family's prepare
helper, and as a .tflite through the builder with the same geometry. The TensorFlow Lite Micro
interpreter on the .tflite, and micronn's import of it, must both give exactly reference.run on
the Layer. Strides and dilations differ between height and width, so a swapped or dropped field
shows. The bench's model_tflite (tools/model_tflite.py) is checked the same way on the three
reference models.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import tflm_models
from tflite_builder import Op, T, build_tflite

from micronn import container, reference
from micronn.importers.tflite import import_tflite
from micronn.model import Model, TensorSpec
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.mean import prepare_mean
from micronn.ops.pooling import prepare_pool
from micronn.ops.softmax import prepare_softmax

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import bench_backends  # noqa: E402
import model_tflite  # noqa: E402

SAMPLES = 6
IN = (0.05, -3)  # input scale, zero point
OUT = (0.1, 5)


def _check(layer, in_shape, out_quantization, tensors, operator):
    """TFLM on the .tflite (tensor 0 in, last tensor out) and its import equal the layer."""
    size = int(np.prod(tensors[-1].shape))
    model = Model(TensorSpec(in_shape, *IN), TensorSpec((size,), *out_quantization), [layer])
    data = build_tflite(tensors, [operator], (0,), (len(tensors) - 1,))
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (SAMPLES, *in_shape)).astype(np.int8)
    expected = reference.run(model, x).reshape(SAMPLES, -1)
    assert len(np.unique(expected)) > 4  # outputs that show a wrong option
    np.testing.assert_array_equal(tflm_models.run(data, x).reshape(SAMPLES, -1), expected)
    again = import_tflite(data, "builder.tflite")
    np.testing.assert_array_equal(reference.run(again, x).reshape(SAMPLES, -1), expected)


def _activation(name, shape, quantization):
    return T(name, (1, *shape), scale=quantization[:1], zero_point=quantization[1:])


def _window_options(padding, stride, dilation, activation):
    return {
        "padding": padding.upper(),
        "stride_h": stride[0],
        "stride_w": stride[1],
        "dilation_h_factor": dilation[0],
        "dilation_w_factor": dilation[1],
        "fused_activation_function": activation.upper(),
    }


def _convolution(depthwise, padding, activation):
    rng = np.random.default_rng(0)
    in_shape = (9, 8, 3)
    stride, dilation = ((1, 2), (2, 1)) if depthwise else ((2, 1), (1, 2))
    if depthwise:
        codes = rng.integers(-127, 128, (3, 2, 6)).astype(np.int8)  # depth multiplier 2
        stored, axis, prepare = codes[np.newaxis], 3, prepare_depthwise_conv2d
    else:
        codes = rng.integers(-127, 128, (4, 3, 2, 3)).astype(np.int8)
        stored, axis, prepare = codes, 0, prepare_conv2d
    channels = stored.shape[axis]
    scales = (0.002 * (1 + np.arange(channels))).astype(np.float32)
    bias = rng.integers(-3000, 3000, channels).astype(np.int32)
    layer = prepare(
        codes,
        scales,
        bias,
        input_shape=in_shape,
        input_scale=IN[0],
        input_zero_point=IN[1],
        output_scale=OUT[0],
        output_zero_point=OUT[1],
        stride=stride,
        dilation=dilation,
        padding=padding,
        activation=activation,
    )
    p = layer.params
    tensors = [
        _activation("x", in_shape, IN),
        T("w", stored.shape, data=stored, scale=tuple(scales), axis=axis),
        T("b", bias.shape, "INT32", bias, scale=tuple(IN[0] * scales.astype(np.float64))),
        _activation("y", (p["out_height"], p["out_width"], channels), OUT),
    ]
    options = _window_options(padding, stride, dilation, activation)
    if depthwise:
        options["depth_multiplier"] = 2
    name = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    return layer, in_shape, tensors, Op(name, (0, 1, 2), (3,), options)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize(("padding", "activation"), [("same", "relu6"), ("valid", "none")])
def test_convolution_options(depthwise, padding, activation):
    layer, in_shape, tensors, operator = _convolution(depthwise, padding, activation)
    _check(layer, in_shape, OUT, tensors, operator)


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize(("padding", "activation"), [("same", "relu"), ("valid", "none")])
def test_pool_options(op, padding, activation):
    in_shape, size, stride = (9, 7, 2), (3, 2), (2, 1)
    layer = prepare_pool(
        op,
        input_shape=in_shape,
        filter_size=size,
        stride=stride,
        padding=padding,
        scale=IN[0],
        zero_point=IN[1],
        activation=activation,
    )
    p = layer.params
    options = {
        "padding": padding.upper(),
        "stride_h": stride[0],
        "stride_w": stride[1],
        "filter_height": size[0],
        "filter_width": size[1],
        "fused_activation_function": activation.upper(),
    }
    tensors = [
        _activation("x", in_shape, IN),
        _activation("y", (p["out_height"], p["out_width"], in_shape[2]), IN),
    ]
    _check(layer, in_shape, IN, tensors, Op(op, (0,), (1,), options))


def test_softmax_beta():
    layer = prepare_softmax((7,), 0.37, IN[0], 1 / 256, -128)
    tensors = [_activation("x", (7,), IN), _activation("y", (7,), (1 / 256, -128))]
    _check(layer, (7,), (1 / 256, -128), tensors, Op("SOFTMAX", (0,), (1,), {"beta": 0.37}))


@pytest.mark.parametrize("keep_dims", [False, True])
def test_mean_options(keep_dims):
    in_shape = (5, 4, 6)
    layer = prepare_mean(
        input_shape=in_shape,
        input_scale=IN[0],
        input_zero_point=IN[1],
        output_scale=0.004,
        output_zero_point=-2,
    )
    out_shape = (1, 1, 6) if keep_dims else (6,)
    tensors = [
        _activation("x", in_shape, IN),
        T("axes", (2,), "INT32", np.array([1, 2], np.int32)),
        _activation("y", out_shape, (0.004, -2)),
    ]
    operator = Op("MEAN", (0, 1), (2,), {"keep_dims": keep_dims})
    _check(layer, in_shape, (0.004, -2), tensors, operator)


def test_an_unknown_option_is_refused():
    with pytest.raises(ValueError, match="Conv2DOptions has no field 'stride'"):
        build_tflite([_activation("x", (4, 4, 1), IN)], [Op("CONV_2D", (0,), (0,), {"stride": 2})],
                     (0,), (0,))  # fmt: skip


@pytest.fixture(scope="module")
def bench_models_built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    return {
        name: container.read(build(folder).read_bytes())
        for name, build in bench_backends.MODELS.items()
    }


@pytest.mark.parametrize("name", list(bench_backends.MODELS))
def test_bench_model_tflite_runs_in_tflm_as_the_container(name, bench_models_built):
    model = bench_models_built[name]
    data = model_tflite.model_tflite(model)
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (SAMPLES, *model.input.shape)).astype(np.int8)
    expected = reference.run(model, x).reshape(SAMPLES, -1)
    np.testing.assert_array_equal(tflm_models.run(data, x).reshape(SAMPLES, -1), expected)
    assert model_tflite.same_plan(model, import_tflite(data, f"{name}.tflite"))
