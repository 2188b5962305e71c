"""TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT and SPLIT_V of int8 activations: random shapes,
permutations, slices (negative strides, masks) and splits, imported from .tflite and run by the
reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite

I32 = np.int32


def _one_op(op, shape, constants, out_shape, quantization, options=None) -> bytes:
    tensors = [(shape, *quantization)]
    for value in constants:
        tensors.append((np.shape(value), None, None, np.asarray(value, I32)))
    tensors.append((out_shape, *quantization))
    inputs, out = list(range(len(tensors) - 1)), len(tensors) - 1
    return tflm_models.graph_model(tensors, [(op, inputs, [out], options)], [0], [out])


def transpose_model(shape, perm, quantization):
    out_shape = tuple(shape[p] for p in perm)
    return _one_op("TRANSPOSE", shape, [perm], out_shape, quantization)


def strided_slice_model(shape, begin, end, strides, quantization, masks=(0, 0, 0)):
    index = []
    for axis in range(len(shape)):
        start = None if masks[0] >> axis & 1 else int(begin[axis])
        stop = None if masks[1] >> axis & 1 else int(end[axis])
        if masks[2] >> axis & 1:
            start = start if start is not None else 0
            index.append(start)
        else:
            index.append(slice(start, stop, int(strides[axis])))
    out_shape = np.zeros(shape)[tuple(index)].shape
    options = tflm_models.options(
        "StridedSliceOptions", beginMask=masks[0], endMask=masks[1], shrinkAxisMask=masks[2]
    )
    constants = [begin, end, strides]
    return _one_op("STRIDED_SLICE", shape, constants, out_shape, quantization, options), out_shape


def slice_model(shape, begin, size, quantization):
    out_shape = tuple(d - b if n == -1 else n for d, b, n in zip(shape, begin, size, strict=True))
    return _one_op("SLICE", shape, [begin, size], out_shape, quantization)


def split_model(shape, axis, sizes, quantization, variable=False):
    """SPLIT (equal sizes) or SPLIT_V of the input, then a CONCATENATION of the parts in
    reverse order along the same axis (a model has one output)."""
    tensors = [(shape, *quantization)]
    parts = []
    for size in sizes:
        part = list(shape)
        part[axis] = size
        parts.append(len(tensors))
        tensors.append((tuple(part), *quantization))
    constant = len(tensors)
    if variable:
        tensors.append(((len(sizes),), None, None, np.array(sizes, I32)))
        tensors.append(((1,), None, None, np.array([axis], I32)))
        split = ("SPLIT_V", [0, constant, constant + 1], parts)
        split += (tflm_models.options("SplitVOptions", numSplits=len(sizes)),)
    else:
        tensors.append(((1,), None, None, np.array([axis], I32)))
        split = ("SPLIT", [constant, 0], parts)
        split += (tflm_models.options("SplitOptions", numSplits=len(sizes)),)
    out = len(tensors)
    tensors.append((shape, *quantization))
    concat = ("CONCATENATION", parts[::-1], [out])
    concat += (tflm_models.options("ConcatenationOptions", axis=axis),)
    return tflm_models.graph_model(tensors, [split, concat], [0], [out])


def _quantization(rng):
    return (float(np.float32(10 ** rng.uniform(-3, 0))), int(rng.integers(-128, 128)))


def _shape(rng):
    rank = int(rng.integers(2, 5))
    return (1, *(int(d) for d in rng.integers(1, 7, rank - 1)))


def _inputs(rng, shape, samples=3):
    return rng.integers(-128, 128, (samples, *shape[1:])).astype(np.int8)


def _matches_tflm(rng, data, shape, op):
    model = import_tflite(data, "m.tflite")
    assert op in [layer.op for layer in model.layers]
    x = _inputs(rng, shape)
    expected = tflm_models.run(data, x)
    got = reference.run(model, x.reshape(len(x), -1))
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    return model


def _random_slice(rng, shape):
    begin, end, strides = [0], [1], [1]
    for dim in shape[1:]:
        step = int(rng.choice([1, 1, 2, 3, -1, -2]))
        start, stop = (int(v) for v in rng.integers(-dim, dim + 1, 2))
        if len(range(*slice(start, stop, step).indices(dim))) == 0:
            start, stop = (0, dim) if step > 0 else (dim - 1, -dim - 1)
        begin.append(start)
        end.append(stop)
        strides.append(step)
    return begin, end, strides


def test_transpose_matches_tflm_over_random_shapes_and_permutations():
    rng = np.random.default_rng(321)
    for _ in range(40):
        shape = _shape(rng)
        perm = [0, *(1 + rng.permutation(len(shape) - 1))]  # the batch stays first (it is 1)
        _matches_tflm(rng, transpose_model(shape, perm, _quantization(rng)), shape, "TRANSPOSE")


def test_transpose_nchw_to_nhwc_walks_one_long_inner_dim():
    model = import_tflite(transpose_model((1, 3, 8, 8), (0, 2, 3, 1), (0.1, 0)), "t.tflite")
    params = model.layers[0].params
    assert [params[f"out_dim{k}"] for k in range(4)] == [1, 1, 64, 3]
    assert [params[f"in_stride{k}"] for k in range(4)] == [0, 0, 1, 64]


def test_strided_slice_matches_tflm_over_random_slices_and_masks():
    rng = np.random.default_rng(322)
    done = 0
    while done < 60:
        shape = _shape(rng)
        begin, end, strides = _random_slice(rng, shape)
        rank = len(shape)
        masks = tuple(
            int(rng.integers(0, 2**rank)) & ~1 if rng.random() < 0.4 else 0 for _ in "bes"
        )
        for axis in range(rank):  # TFLM's walk of a shrunk axis is empty with a negative stride
            if masks[2] >> axis & 1:
                strides[axis] = 1
                begin[axis] = min(max(begin[axis], -shape[axis]), shape[axis] - 1)
        data, out_shape = strided_slice_model(shape, begin, end, strides, _quantization(rng), masks)
        if 0 in out_shape:
            continue
        _matches_tflm(rng, data, shape, "STRIDED_SLICE")
        done += 1


def test_slice_matches_tflm():
    rng = np.random.default_rng(323)
    for _ in range(30):
        shape = _shape(rng)
        begin = [0, *(int(rng.integers(0, d)) for d in shape[1:])]
        size = [1]
        for d, b in zip(shape[1:], begin[1:], strict=True):
            size.append(-1 if rng.random() < 0.3 else int(rng.integers(1, d - b + 1)))
        _matches_tflm(
            rng,
            slice_model(shape, begin, size, _quantization(rng)),
            shape,
            "STRIDED_SLICE",
        )


@pytest.mark.parametrize("variable", [False, True], ids=["split", "split_v"])
def test_split_matches_tflm(variable):
    rng = np.random.default_rng(324 + variable)
    for _ in range(20):
        shape = _shape(rng)
        axis = int(rng.integers(1, len(shape)))
        dim = shape[axis]
        if variable:
            cuts = sorted(
                {int(c) for c in rng.integers(1, dim, int(rng.integers(0, 3)))}
                if dim > 1
                else set()
            )
            sizes = [b - a for a, b in zip([0, *cuts], [*cuts, dim], strict=True)]
        else:
            count = int(rng.choice([k for k in (1, 2, 3) if dim % k == 0]))
            sizes = [dim // count] * count
        model = _matches_tflm(
            rng,
            split_model(shape, axis, sizes, _quantization(rng), variable),
            shape,
            "CONCATENATION" if len(sizes) > 1 else "STRIDED_SLICE",
        )
        assert sum(layer.op == "STRIDED_SLICE" for layer in model.layers) == len(sizes)


@pytest.mark.parametrize(
    ("op", "key", "value", "message"),
    [
        ("TRANSPOSE", "in_stride3", -1, "strides must be in 0"),
        ("TRANSPOSE", "in_stride2", 100, "leaves the input"),
        ("TRANSPOSE", "out_dim3", 7, "output tensor size"),
        ("STRIDED_SLICE", "offset", -1, "offset"),
        ("STRIDED_SLICE", "in_stride3", -10, "leaves the input"),
    ],
)
def test_container_rules_refuse(op, key, value, message):
    if op == "TRANSPOSE":
        data = transpose_model((1, 2, 3, 4), (0, 2, 1, 3), (0.1, 0))
    else:
        data, _ = strided_slice_model((1, 4, 5), [0, 1, 4], [1, 3, 0], [1, 1, -2], (0.1, 0))
    model = import_tflite(data, "m.tflite")
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(326)
    models, inputs = [], []
    for case in range(9):
        shape = _shape(rng)
        if case % 3 == 0:
            perm = [0, *(1 + rng.permutation(len(shape) - 1))]
            data = transpose_model(shape, perm, _quantization(rng))
        elif case % 3 == 1:
            data, out_shape = strided_slice_model(shape, *_random_slice(rng, shape), (0.1, 2))
        else:
            data = split_model(shape, len(shape) - 1, [shape[-1]], (0.1, 2), variable=True)
        models.append(import_tflite(data, "m.tflite"))
        inputs.append(_inputs(rng, shape, samples=2).reshape(2, -1))
    run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
