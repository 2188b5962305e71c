"""The three reference models of issue 6, with random int8 weights (memory and speed depend
only on their shapes): the digits MLP, a micro_speech-sized CNN and a ~200 KB wide MLP."""

import numpy as np

from micronn.fixedpoint import quantize_multiplier
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.ops.conv import prepare_conv2d
from micronn.ops.softmax import OUTPUT_SCALE, prepare_softmax


def _dense(rng, in_features, out_features, activation):
    """Weights of a trained-looking layer (about +-60), requantized into a lively output range."""
    weights = np.clip(rng.normal(0, 40, (out_features, in_features)), -127, 127).astype(np.int8)
    real = 1.0 / (np.sqrt(in_features) * 80) * rng.uniform(0.5, 2, out_features)
    pairs = [quantize_multiplier(float(r)) for r in real]
    out_zp = -128 if activation == "relu" else 0
    return FullyConnected(
        weights=weights,
        bias=rng.integers(-(2**12), 2**12, out_features),
        multiplier=[m for m, _ in pairs],
        shift=[s for _, s in pairs],
        input_zero_point=-128,
        output_zero_point=out_zp,
        act_min=out_zp,
        act_max=127,
        activation=activation,
    )


def digits_mlp(seed=0) -> Model:
    """The shape of examples/digits_demo.py: 8x8 images, 64 -> 64 -> 32 -> 10."""
    rng = np.random.default_rng(seed)
    layers = [
        _dense(rng, 64, 64, "relu"),
        _dense(rng, 64, 32, "relu"),
        _dense(rng, 32, 10, "none"),
    ]
    return Model(TensorSpec((64,), 0.0625, -128), TensorSpec((10,), 0.1, 0), layers)


def wide_mlp(seed=0) -> Model:
    """784 -> 256 -> 10 int8: 203 264 weight bytes, twice the heap of an ESP32."""
    rng = np.random.default_rng(seed)
    layers = [
        _dense(rng, 784, 256, "relu"),
        _dense(rng, 256, 10, "none"),
    ]
    return Model(TensorSpec((784,), 0.0039, -128), TensorSpec((10,), 0.1, 0), layers)


def _conv(rng, shape, out_channels, kernel, stride, scales):
    in_scale, out_scale = scales
    weights = rng.integers(-127, 128, size=(out_channels, *kernel, shape[2]))
    taps = kernel[0] * kernel[1] * shape[2]
    lively = 64 * out_scale / (in_scale * np.sqrt(taps) * 73 * 128)  # outputs about +-64
    return prepare_conv2d(
        weights,
        np.float32(lively * rng.uniform(0.5, 2, size=out_channels)),
        rng.integers(-(2**12), 2**12, size=out_channels),
        input_shape=shape,
        input_scale=in_scale,
        input_zero_point=int(rng.integers(-128, 128)),
        output_scale=out_scale,
        output_zero_point=-128,
        stride=stride,
        padding="same",
        activation="relu",
    )


def speech_cnn(seed=0) -> Model:
    """micro_speech-sized: a 49x40 spectrogram -> CONV 8@10x8/2 -> CONV 8@3x3 -> FC 4 ->
    SOFTMAX; 17 216 weights."""
    rng = np.random.default_rng(seed)
    conv1 = _conv(rng, (49, 40, 1), 8, (10, 8), (2, 2), (0.05, 0.02))
    conv2 = _conv(rng, (25, 20, 8), 8, (3, 3), (1, 1), (0.02, 0.05))
    dense = _dense(rng, 25 * 20 * 8, 4, "none")
    softmax = prepare_softmax((4,), 1.0, 0.5, OUTPUT_SCALE, -128)
    layers = [conv1, conv2, dense, softmax]
    return Model(TensorSpec((49, 40, 1), 0.05, 0), TensorSpec((4,), OUTPUT_SCALE, -128), layers)


def long_row_mlp(seed=0) -> Model:
    """5000 -> 4: an input row longer than any frame of the board agent (person_detect's is
    9216 bytes), which micronn run sends in parts."""
    rng = np.random.default_rng(seed)
    return Model(
        TensorSpec((5000,), 0.02, 0), TensorSpec((4,), 0.1, 0), [_dense(rng, 5000, 4, "none")]
    )


def slow_cnn(seed=0) -> Model:
    """About 9 M multiply-adds on a 49x40 input for 6 KB of weights: three CONV 16@3x3 -> FC
    2; seconds per predict with the python kernels on the VM."""
    rng = np.random.default_rng(seed)
    layers = [
        _conv(rng, (49, 40, 1), 16, (3, 3), (1, 1), (0.05, 0.05)),
        _conv(rng, (49, 40, 16), 16, (3, 3), (1, 1), (0.05, 0.05)),
        _conv(rng, (49, 40, 16), 16, (3, 3), (1, 1), (0.05, 0.05)),
        _dense(rng, 49 * 40 * 16, 2, "none"),
    ]
    return Model(TensorSpec((49, 40, 1), 0.05, 0), TensorSpec((2,), 0.1, 0), layers)


def banded_cnn(seed=0) -> Model:
    """An image model whose first two layers `micronn convert` runs in bands of rows
    (micronn.bands): 32x32x3 -> CONV 16@3x3 -> CONV 16@3x3/2 -> FC 4 -> SOFTMAX; about 1 M
    multiply-adds, a 16 KB tensor between the convolutions when they run whole."""
    rng = np.random.default_rng(seed)
    conv1 = _conv(rng, (32, 32, 3), 16, (3, 3), (1, 1), (0.05, 0.02))
    conv2 = _conv(rng, (32, 32, 16), 16, (3, 3), (2, 2), (0.02, 0.05))
    dense = _dense(rng, 16 * 16 * 16, 4, "none")
    softmax = prepare_softmax((4,), 1.0, 0.5, OUTPUT_SCALE, -128)
    model = Model(
        TensorSpec((32, 32, 3), 0.05, 0),
        TensorSpec((4,), OUTPUT_SCALE, -128),
        [conv1, conv2, dense, softmax],
    )
    model.bands = "auto"
    return model


MODELS = {"digits_mlp": digits_mlp, "speech_cnn": speech_cnn, "wide_mlp": wide_mlp}
