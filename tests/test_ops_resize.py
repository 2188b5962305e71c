"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: random sizes (up and down), align_corners and
half_pixel_centers, imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import resize

ARENA = 1 << 20
MODES = ((False, False), (False, True), (True, False), (True, True))


def resize_model(op, in_shape, size, align_corners, half_pixel_centers, quantization=(0.1, 3)):
    """op of a [1, H, W, C] int8 input to a constant int32 size (the output keeps the input's
    quantization, as the converter writes it)."""
    kind = (
        "ResizeNearestNeighborOptions"
        if op == "RESIZE_NEAREST_NEIGHBOR"
        else "ResizeBilinearOptions"
    )
    options = tflm_models.options(
        kind, alignCorners=align_corners, halfPixelCenters=half_pixel_centers
    )
    out_shape = (1, *size, in_shape[-1])
    tensors = [
        ((1, *in_shape), *quantization),
        ((2,), None, None, np.array(size, np.int32)),
        (out_shape, *quantization),
    ]
    return tflm_models.graph_model(tensors, [(op, [0, 1], [2], options)], [0], [2])


def _check_viper_ran(result):
    available, modules, _ = result
    if "viper" in available:
        viper = [names for (_, backend), names in modules.items() if backend == "viper"]
        assert viper and all(names == ["viper_resize"] for names in viper), viper


def _random_case(rng, modes=MODES):
    in_shape = (int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 5)))
    size = (int(rng.integers(1, 20)), int(rng.integers(1, 20)))
    align, half = modes[int(rng.integers(len(modes)))]
    return in_shape, size, align, half


def _inputs(rng, in_shape, samples=3):
    x = rng.integers(-128, 128, (samples, *in_shape)).astype(np.int8)
    x.reshape(samples, -1)[0, 0] = -128
    x.reshape(samples, -1)[-1, -1] = 127
    return x


def _matches_tflm(op, cases, rng, modes=MODES):
    refused = 0
    for case in range(cases):
        in_shape, size, align, half = _random_case(rng, modes)
        data = resize_model(op, in_shape, size, align, half)
        x = _inputs(rng, in_shape)
        try:
            model = import_tflite(data, f"resize{case}.tflite")
        except ValueError as error:
            assert "past the image" in str(error), error
            refused += 1
            continue
        expected = tflm_models.run(data, x, arena_size=ARENA)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"case {case}: {in_shape} -> {size}"
        )
    return refused


def test_nearest_matches_tflm_over_random_sizes_and_modes():
    assert _matches_tflm("RESIZE_NEAREST_NEIGHBOR", 300, np.random.default_rng(41)) == 0


def test_nearest_integer_picks_equal_tflms_float32_ones_over_many_sizes():
    for in_size in range(1, 70):
        for out_size in range(1, 200):
            for align, half in MODES:
                mantissa, exponent = resize.nearest_scale(in_size, out_size, align)
                got = [
                    resize.nearest_index(y, in_size, mantissa, exponent, align, half)
                    for y in range(out_size)
                ]
                want = resize.tflm_nearest_index(
                    np.arange(out_size), in_size, out_size, align, half
                )
                assert got == want.tolist(), (in_size, out_size, align, half)


def test_nearest_matches_tflm_where_float32_rounding_matters():
    # exact halves and integers that float32 lands just below or above (found by the test above)
    rng = np.random.default_rng(43)
    for in_size, out_size, align, half in (
        (2, 83, True, False),
        (2, 42, True, True),
        (4, 164, False, False),
        (16, 70, True, True),
    ):
        data = resize_model("RESIZE_NEAREST_NEIGHBOR", (1, in_size, 2), (1, out_size), align, half)
        x = _inputs(rng, (1, in_size, 2))
        got = reference.run(import_tflite(data, "r.tflite"), x.reshape(len(x), -1))
        expected = tflm_models.run(data, x)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("height_scale_mantissa", 2**24, "mantissa"),
        ("out_width", 9, "output tensor"),
        ("width_scale_exponent", 1, "exponent"),
        ("align_corners", 2, "align_corners"),
        ("channels", 0, "channels must be"),
    ],
)
def test_nearest_container_rules_refuse(key, value, message):
    model = import_tflite(
        resize_model("RESIZE_NEAREST_NEIGHBOR", (3, 4, 2), (6, 8), False, True), "r.tflite"
    )
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_nearest_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(42)
    models, inputs = [], []
    for _ in range(8):
        in_shape, size, align, half = _random_case(rng)
        data = resize_model("RESIZE_NEAREST_NEIGHBOR", in_shape, size, align, half)
        models.append(import_tflite(data, "r.tflite"))
        inputs.append(_inputs(rng, in_shape, samples=2).reshape(2, -1))
    _check_viper_ran(run_backends(models, inputs, tmp_path, ("python", "viper", "c")))


def test_bilinear_matches_tflm_over_random_sizes_and_modes():
    modes = ((False, False), (False, True), (True, False))  # TFLM refuses align with half
    assert _matches_tflm("RESIZE_BILINEAR", 300, np.random.default_rng(44), modes) == 0


@pytest.mark.parametrize(("in_size", "size"), [((6, 6, 256), (12, 12)), ((12, 12, 16), (24, 24))])
def test_bilinear_palm_detection_upsampling_matches_tflm(in_size, size):
    rng = np.random.default_rng(45)
    data = resize_model("RESIZE_BILINEAR", in_size, size, False, True)
    x = _inputs(rng, in_size, samples=2)
    got = reference.run(import_tflite(data, "r.tflite"), x.reshape(len(x), -1))
    expected = tflm_models.run(data, x, arena_size=ARENA)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def test_bilinear_refuses_align_corners_with_half_pixel_centers():
    with pytest.raises(ValueError, match="align_corners"):
        resize.prepare_resize_bilinear((2, 2, 1), (4, 4), True, True)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("height_scale", -1, "height_scale"),
        ("width_scale", 4096, "past the input"),
        ("half_pixel_centers", 2, "half_pixel"),
        ("in_height", 4, "input values"),
    ],
)
def test_bilinear_container_rules_refuse(key, value, message):
    model = import_tflite(
        resize_model("RESIZE_BILINEAR", (3, 4, 2), (6, 8), False, True), "r.tflite"
    )
    model.layers[0].params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_bilinear_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(46)
    models, inputs = [], []
    for _ in range(8):
        in_shape, size, align, half = _random_case(rng, MODES[:3])
        data = resize_model("RESIZE_BILINEAR", in_shape, size, align, half)
        models.append(import_tflite(data, "r.tflite"))
        inputs.append(_inputs(rng, in_shape, samples=2).reshape(2, -1))
    data = resize_model("RESIZE_BILINEAR", (6, 6, 8), (12, 12), False, True)
    models.append(import_tflite(data, "r.tflite"))
    inputs.append(_inputs(rng, (6, 6, 8), samples=2).reshape(2, -1))
    _check_viper_ran(run_backends(models, inputs, tmp_path, ("python", "viper", "c")))
