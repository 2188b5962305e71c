"""The numpy integer golden model: the definition of a correct result.

Every backend (pure Python, viper, ulab, C) must give exactly these integers for the same
container and input. It follows TensorFlow Lite Micro's int8 reference kernels, with its
double-rounding requantization.
"""

import numpy as np

from micronn import tflite_int8
from micronn.model import Model
from micronn.ops import KERNELS


def run(model: Model, x) -> np.ndarray:
    """Evaluate int8 input codes shaped [batch, *input_shape] or input_shape."""
    codes = np.asarray(x)
    if codes.dtype != np.int8:
        raise ValueError(f"reference.run takes int8 codes, got {codes.dtype}; quantize first")
    in_shape = tuple(model.input.shape)
    single = codes.shape == in_shape or (codes.size == model.input.size and codes.ndim == 1)
    if not single and codes.shape[1:] != in_shape and codes.shape[1:] != (model.input.size,):
        raise ValueError(
            f"input shape {codes.shape} does not match the model's {in_shape} "
            "(optionally with a leading batch axis)"
        )
    batch = 1 if single else codes.shape[0]
    values = {model.input_tensor: codes.reshape(batch, *model.shapes[model.input_tensor])}
    for layer in model.layers:
        inputs = [values[t] for t in layer.inputs]
        values[layer.output] = KERNELS[layer.op](layer, inputs, tuple(model.shapes[layer.output]))
    out = values[model.output_tensor].reshape(batch, *model.output.shape)
    return out[0] if single else out


def quantize_input(model: Model, x) -> np.ndarray:
    """Float input to int8 codes with the model's input parameters (TFLite AffineQuantize)."""
    return tflite_int8.affine_quantize(x, model.input.scale, model.input.zero_point)


def dequantize_output(model: Model, q) -> np.ndarray:
    """int8 output codes to float32 with the model's output parameters."""
    return tflite_int8.affine_dequantize(q, model.output.scale, model.output.zero_point)
