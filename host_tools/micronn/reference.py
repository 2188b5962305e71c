"""The numpy integer golden model: the definition of a correct result.

Every backend (pure Python, viper, ulab, C) must give exactly these integers for the same
container and input. It follows TensorFlow Lite Micro's int8 reference kernels, with its
double-rounding requantization.
"""

import numpy as np

from micronn import tflite_int8
from micronn.fixedpoint import multiply_by_quantized_multiplier
from micronn.model import FullyConnected, Model


def fully_connected(layer: FullyConnected, x: np.ndarray) -> np.ndarray:
    """int8 [batch, in] -> int8 [batch, out]."""
    acc = x.astype(np.int64) @ layer.weights.astype(np.int64).T + layer.bias.astype(np.int64)
    scaled = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift)
    out = scaled + layer.output_zero_point
    return np.clip(out, layer.act_min, layer.act_max).astype(np.int8)


KERNELS = {"FULLY_CONNECTED": fully_connected}


def run(model: Model, x) -> np.ndarray:
    """Evaluate int8 input codes shaped [batch, *input_shape] or input_shape."""
    codes = np.asarray(x)
    if codes.dtype != np.int8:
        raise ValueError(f"reference.run takes int8 codes, got {codes.dtype}; quantize first")
    single = codes.shape == tuple(model.input.shape)
    if not single and codes.shape[1:] != tuple(model.input.shape):
        raise ValueError(
            f"input shape {codes.shape} does not match the model's {model.input.shape} "
            "(optionally with a leading batch axis)"
        )
    activations = codes.reshape(1 if single else codes.shape[0], model.input.size)
    for layer in model.layers:
        activations = KERNELS[layer.op](layer, activations)
    out = activations.reshape((-1, *model.output.shape))
    return out[0] if single else out


def quantize_input(model: Model, x) -> np.ndarray:
    """Float input to int8 codes with the model's input parameters (TFLite AffineQuantize)."""
    return tflite_int8.affine_quantize(x, model.input.scale, model.input.zero_point)


def dequantize_output(model: Model, q) -> np.ndarray:
    """int8 output codes to float32 with the model's output parameters."""
    return tflite_int8.affine_dequantize(q, model.output.scale, model.output.zero_point)
