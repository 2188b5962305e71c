"""Inputs as the device package takes them: one set of rules for `simulate` (the VM) and `run`
(a board), so that both accept the same arrays and refuse the same ones with the same words.

For each input of the model, x holds int8 codes or floats (quantized on the host with that
input's scale and zero point) as one sample, in the input's shape, that shape without its
leading 1s ((W, C) for a Conv1D model's (1, W, C)) or flat (size,); or as a batch of N such
samples along a leading axis: (N, *shape), (N, W, C), (N, size). A model with several inputs
takes a list or tuple of such arrays, one per input, all one sample or all N rows.
"""

import numpy as np

from micronn import tflite_int8

UINT8_SHIFT = 128  # int8 code = uint8 code - 128 at a uint8 edge (model.TensorSpec)


def sample_shapes(spec) -> list[tuple]:
    """The shapes one sample of the input `spec` (a model.TensorSpec) may take."""
    shape = tuple(spec.shape)
    squeezed = shape
    while len(squeezed) > 1 and squeezed[0] == 1:
        squeezed = squeezed[1:]
    return list(dict.fromkeys([shape, squeezed, (spec.size,)]))


def _which(specs, index) -> str:
    return "input" if len(specs) == 1 else f"input {index}"


def input_rows(specs, shape, index: int = 0) -> tuple[int, bool]:
    """(rows, single) for input `index` of `specs` shaped `shape`: one sample (see
    sample_shapes) or a batch of them along a leading axis."""
    shape = tuple(shape)
    samples = sample_shapes(specs[index])
    if shape in samples:
        return 1, True
    if len(shape) > 1 and shape[1:] in samples:
        return shape[0], False
    accepted = " or ".join(str(s) for s in samples)
    which = _which(specs, index)
    raise ValueError(
        f"{which} shape {shape} does not match the model's {which} {accepted} "
        "(optionally with a leading batch axis)"
    )


def edge_arrays(count: int, x, what: str = "x") -> list:
    """x as a list of one array per input: x itself for a one-input model, else a sequence of
    `count` arrays."""
    if count == 1:
        return [x]
    if isinstance(x, np.ndarray) or not isinstance(x, (list, tuple)) or len(x) != count:
        raise ValueError(
            f"the model has {count} inputs; pass {what} as a list or tuple of {count} arrays, "
            "one per input in order"
        )
    return list(x)


def batch_rows(specs, arrays) -> tuple[int, bool]:
    """(rows, single) shared by one array per input (see input_rows); ValueError if they
    disagree."""
    found = [input_rows(specs, np.shape(a), k) for k, a in enumerate(arrays)]
    if len(set(found)) != 1:
        got = ", ".join("one sample" if single else f"{rows} rows" for rows, single in found)
        raise ValueError(
            "the inputs disagree on the batch: give every input one sample, or every input "
            f"the same number of rows (got {got})"
        )
    return found[0]


def quantize(spec, x) -> np.ndarray:
    """Float input to int8 codes with the parameters of `spec` (TFLite AffineQuantize).

    For an input imported from a uint8 .tflite input (source_dtype "uint8"), a uint8 array holds
    that input's codes: they become int8 codes by subtracting 128, as TFLM's QUANTIZE does."""
    x = np.asarray(x)
    if spec.source_dtype == "uint8" and x.dtype == np.uint8:
        return (x.astype(np.int16) - UINT8_SHIFT).astype(np.int8)
    return tflite_int8.affine_quantize(x, spec.scale, spec.zero_point)


def _check_numbers(which: str, floats: np.ndarray, rows: int, single: bool) -> None:
    """ValueError naming the first NaN, as the device's affine.quantize does ("input item 63
    is NaN"), with the sample for a batch. inf is a number: it saturates, there as here."""
    flat = floats.reshape(rows, -1)
    bad = np.isnan(flat)
    if not bad.any():
        return
    row, item = (int(k) for k in np.argwhere(bad)[0])
    where = f"{which} item {item}" if single else f"{which} sample {row} item {item}"
    raise ValueError(
        f"{where} is NaN; only finite numbers can be quantized: replace it, or leave that "
        "sample out"
    )


def input_codes(specs, x) -> tuple[np.ndarray, bool]:
    """int8 rows [n, total input size] for the device (each row: the inputs' codes one after
    the other) and whether x was a single sample. specs: the model's inputs (TensorSpec)."""
    specs = list(specs)
    arrays = [np.asarray(a) for a in edge_arrays(len(specs), x)]
    for array in arrays:
        if not (np.issubdtype(array.dtype, np.floating) or array.dtype == np.int8):
            raise ValueError(
                f"input must be int8 codes or float values, got {array.dtype}; "
                "cast quantized data to int8 or pass floats to quantize on the host"
            )
    rows, single = batch_rows(specs, arrays)
    codes = []
    for k, (spec, array) in enumerate(zip(specs, arrays, strict=True)):
        if array.dtype != np.int8:
            _check_numbers(_which(specs, k), array, rows, single)
            array = quantize(spec, array)
        codes.append(np.ascontiguousarray(array).reshape(rows, spec.size))
    return (codes[0] if len(codes) == 1 else np.concatenate(codes, axis=1)), single
