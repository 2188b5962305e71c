"""REDUCE_MAX, MEAN (over any axes: MEAN_AXES) and SUM: random shapes, axes, keep_dims, scales
and zero points, imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite

OPS = ("REDUCE_MAX", "MEAN", "SUM")
LAYERS = {"REDUCE_MAX": "REDUCE_MAX", "MEAN": "MEAN_AXES", "SUM": "SUM"}


def reduce_model(op, shape, axes, input, output, keep_dims=False) -> bytes:
    """op of an int8 tensor [1, *shape] over `axes` (of the batched tensor) to int8."""
    full = (1, *shape)
    rank = len(full)
    reduced = {a % rank for a in axes if -rank <= a < rank}
    if keep_dims:
        out_shape = [1 if a in reduced else d for a, d in enumerate(full)]
    else:
        out_shape = [d for a, d in enumerate(full) if a not in reduced]
    tensors = [
        (full, *input),
        ((len(axes),), None, None, np.array(axes, np.int32)),
        (tuple(out_shape), *output),
    ]
    options = tflm_models.options("ReducerOptions", keepDims=keep_dims)
    return tflm_models.graph_model(tensors, [(op, [0, 1], [2], options)], [0], [2])


def _tflm(data, x):
    """TFLM's outputs, one flat row per sample (a reduced batch axis leaves no batch dim)."""
    runtime, _ = tflm_models._modules()
    interpreter = runtime.Interpreter.from_bytes(data)
    rows = []
    for sample in x:
        interpreter.set_input(sample[np.newaxis], 0)
        interpreter.invoke()
        rows.append(interpreter.get_output(0).reshape(-1).copy())
    return np.stack(rows)


def _random_case(rng, op):
    rank = int(rng.integers(1, 4))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    full_rank = rank + 1
    axes = sorted(
        {int(a) for a in rng.choice(full_rank, int(rng.integers(1, full_rank + 1)), False)}
    )
    axes = [a - full_rank if rng.random() < 0.3 else a for a in axes]
    scale = float(np.float32(10 ** rng.uniform(-3, 0)))
    zero_point = int(rng.integers(-128, 128))
    if op == "REDUCE_MAX":
        return shape, axes, (scale, zero_point), (scale, zero_point)
    ratio = 10 ** rng.uniform(-1, 1) * (10 if op == "SUM" else 1)
    out = (float(np.float32(scale * ratio)), int(rng.integers(-128, 128)))
    return shape, axes, (scale, zero_point), out


def _inputs(rng, shape, samples=3):
    x = rng.integers(-128, 128, (samples, *shape)).astype(np.int8)
    x.reshape(samples, -1)[0, 0] = -128
    x.reshape(samples, -1)[-1, -1] = 127
    return x


@pytest.mark.parametrize("op", OPS)
def test_matches_tflm_over_random_shapes_axes_and_scales(op):
    rng = np.random.default_rng(50 + OPS.index(op))
    refused = 0
    for case in range(150):
        shape, axes, input, output = _random_case(rng, op)
        data = reduce_model(op, shape, axes, input, output, keep_dims=bool(case % 2))
        x = _inputs(rng, shape)
        try:
            model = import_tflite(data, f"{op}{case}.tflite")
        except ValueError as error:
            if "drops it" in str(error):  # the batch axis reduced away: tested below
                continue
            assert "31-bit" in str(error), error
            refused += 1
            continue
        expected = _tflm(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"case {case}: {shape} {axes}"
        )
    assert refused < 15


def test_a_spatial_mean_keeps_record_6():
    data = reduce_model("MEAN", (4, 4, 3), [1, 2], (0.1, 0), (0.1, 0))
    assert [layer.op for layer in import_tflite(data, "m.tflite").layers] == ["MEAN"]
    data = reduce_model("MEAN", (4, 4, 3), [3], (0.1, 0), (0.1, 0))
    assert [layer.op for layer in import_tflite(data, "m.tflite").layers] == ["MEAN_AXES"]


def test_refusals():
    with pytest.raises(ValueError, match="same input and output"):
        import_tflite(reduce_model("REDUCE_MAX", (4, 3), [1], (0.1, 0), (0.2, 0)), "m.tflite")
    with pytest.raises(ValueError, match="axis 5"):
        import_tflite(reduce_model("SUM", (4, 3), [5], (0.1, 0), (0.2, 0)), "m.tflite")
    with pytest.raises(ValueError, match="reduces the batch axis"):
        import_tflite(reduce_model("MEAN", (3, 4, 2), [0, 3], (0.1, 0), (0.2, 0)), "m.tflite")
    with pytest.raises(ValueError, match="31-bit"):
        import_tflite(reduce_model("SUM", (40, 30), [1, 2], (0.1, 0), (1e-5, 0)), "m.tflite")


@pytest.mark.parametrize(
    ("op", "key", "value", "message"),
    [
        ("REDUCE_MAX", "reduce1", 2, "flags"),
        ("REDUCE_MAX", "dim3", 4, "input tensor"),
        ("MEAN", "shift", 22, "31-bit"),
        ("SUM", "multiplier", 5, "multipliers"),
        ("SUM", "output_zero_point", 128, "output_zero_point"),
    ],
)
def test_container_rules_refuse(op, key, value, message):
    output = (0.1, 0) if op == "REDUCE_MAX" else (0.3, 1)
    model = import_tflite(reduce_model(op, (4, 3), [1], (0.1, 0), output), "m.tflite")
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(55)
    models, inputs = [], []
    for case in range(12):
        op = OPS[case % 3]
        shape, axes, input, output = _random_case(rng, op)
        try:
            model = import_tflite(reduce_model(op, shape, axes, input, output), "m.tflite")
        except ValueError:
            continue
        assert model.layers[-1].op in (LAYERS[op], "MEAN")
        models.append(model)
        inputs.append(_inputs(rng, shape, samples=2).reshape(2, -1))
    assert len(models) >= 9
    available, modules, _ = run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
    if "viper" in available:
        for (index, backend), names in modules.items():
            if backend == "viper" and models[index].layers[-1].op != "MEAN":
                assert names == ["viper_reduce"], names
