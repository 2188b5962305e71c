"""The numpy integer golden model: the definition of a correct result.

Every backend (pure Python, viper, ulab, C) must give exactly these integers for the same
container and input. It follows TensorFlow Lite Micro's int8 reference kernels, with its
double-rounding requantization.
"""

import numpy as np

from micronn import tflite_int8
from micronn.model import Model
from micronn.ops import KERNELS

UINT8_SHIFT = 128  # int8 code = uint8 code - 128 at a uint8 edge (model.TensorSpec)


def sample_shapes(model: Model) -> list[tuple]:
    """The shapes one input sample may take: the model's input shape, that shape without its
    leading 1s ((W, C) for a Conv1D model's (1, W, C)), and flat (input size,)."""
    shape = tuple(model.input.shape)
    squeezed = shape
    while len(squeezed) > 1 and squeezed[0] == 1:
        squeezed = squeezed[1:]
    return list(dict.fromkeys([shape, squeezed, (model.input.size,)]))


def input_rows(model: Model, shape) -> tuple[int, bool]:
    """(rows, single) for inputs shaped `shape`: one sample (see sample_shapes) or a batch of
    them along a leading axis."""
    shape = tuple(shape)
    samples = sample_shapes(model)
    if shape in samples:
        return 1, True
    if len(shape) > 1 and shape[1:] in samples:
        return shape[0], False
    accepted = " or ".join(str(s) for s in samples)
    raise ValueError(
        f"input shape {shape} does not match the model's input {accepted} "
        "(optionally with a leading batch axis)"
    )


def run(model: Model, x) -> np.ndarray:
    """Evaluate int8 input codes: one sample or a batch (see input_rows). The result is shaped
    [batch, *output_shape], or output_shape for one sample."""
    codes = np.asarray(x)
    if codes.dtype != np.int8:
        raise ValueError(f"reference.run takes int8 codes, got {codes.dtype}; quantize first")
    batch, single = input_rows(model, codes.shape)
    values = {model.input_tensor: codes.reshape(batch, *model.shapes[model.input_tensor])}
    for layer in model.layers:
        inputs = [values[t] for t in layer.inputs]
        values[layer.output] = KERNELS[layer.op](layer, inputs, tuple(model.shapes[layer.output]))
    out = values[model.output_tensor].reshape(batch, *model.output.shape)
    return out[0] if single else out


def quantize_input(model: Model, x) -> np.ndarray:
    """Float input to int8 codes with the model's input parameters (TFLite AffineQuantize).

    For a model imported from a uint8 .tflite input (model.input.source_dtype "uint8"), a uint8
    array holds that input's codes: they become int8 codes by subtracting 128, as TFLM's
    QUANTIZE does."""
    x = np.asarray(x)
    if model.input.source_dtype == "uint8" and x.dtype == np.uint8:
        return (x.astype(np.int16) - UINT8_SHIFT).astype(np.int8)
    return tflite_int8.affine_quantize(x, model.input.scale, model.input.zero_point)


def dequantize_output(model: Model, q) -> np.ndarray:
    """int8 output codes to float32 with the model's output parameters."""
    return tflite_int8.affine_dequantize(q, model.output.scale, model.output.zero_point)
