"""The numpy integer golden model: the definition of a correct result.

Every backend (pure Python, viper, ulab, C) must give exactly these integers for the same
container and input. It follows TensorFlow Lite Micro's int8 reference kernels, with its
double-rounding requantization.
"""

import numpy as np

from micronn import inputs, tflite_int8
from micronn.model import Model
from micronn.ops import KERNELS


def sample_shapes(model: Model, index: int = 0) -> list[tuple]:
    """The shapes one sample of input `index` may take (inputs.sample_shapes): the input's
    shape, that shape without its leading 1s ((W, C) for a Conv1D model's (1, W, C)), and flat
    (input size,)."""
    return inputs.sample_shapes(model.inputs[index])


def input_rows(model: Model, shape, index: int = 0) -> tuple[int, bool]:
    """(rows, single) for input `index` shaped `shape`: one sample (see sample_shapes) or a
    batch of them along a leading axis. The same rules as simulate and run (inputs.py)."""
    return inputs.input_rows(model.inputs, shape, index)


def edge_arrays(model: Model, x, what: str = "x") -> list:
    """x as a list of one array per input: x itself for a one-input model, else a sequence of
    len(model.inputs) arrays."""
    return inputs.edge_arrays(len(model.inputs), x, what)


def batch_rows(model: Model, arrays) -> tuple[int, bool]:
    """(rows, single) shared by one array per input (see input_rows); ValueError if they
    disagree."""
    return inputs.batch_rows(model.inputs, arrays)


def run(model: Model, x):
    """Evaluate int8 input codes: one sample or a batch (see input_rows). A one-input model
    takes one array; a model with several inputs a list or tuple of arrays, one per input, all
    one sample or all the same number of rows. Each result is shaped [batch, *output_shape], or
    output_shape for one sample: an array for a one-output model, else a tuple of arrays, one
    per output."""
    arrays = [np.asarray(a) for a in edge_arrays(model, x)]
    for codes in arrays:
        if codes.dtype != np.int8:
            raise ValueError(f"reference.run takes int8 codes, got {codes.dtype}; quantize first")
    batch, single = batch_rows(model, arrays)
    values = {}
    for tensor, codes in zip(model.input_tensors, arrays, strict=True):
        values[tensor] = codes.reshape(batch, *model.shapes[tensor])
    for layer in model.layers:
        inputs = [values[t] for t in layer.inputs]
        values[layer.output] = KERNELS[layer.op](layer, inputs, tuple(model.shapes[layer.output]))
    results = []
    for spec, tensor in zip(model.outputs, model.output_tensors, strict=True):
        out = values[tensor].reshape(batch, *spec.shape)
        results.append(out[0] if single else out)
    return results[0] if len(results) == 1 else tuple(results)


def quantize_input(model: Model, x, index: int = 0) -> np.ndarray:
    """Float input to int8 codes with the parameters of input `index` (TFLite AffineQuantize).

    For an input imported from a uint8 .tflite input (source_dtype "uint8"), a uint8 array holds
    that input's codes: they become int8 codes by subtracting 128, as TFLM's QUANTIZE does."""
    return inputs.quantize(model.inputs[index], x)


def dequantize_output(model: Model, q, index: int = 0) -> np.ndarray:
    """int8 output codes to float32 with the parameters of output `index`."""
    spec = model.outputs[index]
    return tflite_int8.affine_dequantize(q, spec.scale, spec.zero_point)
