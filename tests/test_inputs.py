"""micronn.inputs: the one set of input rules of simulate and run (shapes, dtypes, NaN)."""

import warnings

import numpy as np
import pytest

from micronn.inputs import input_codes, quantize
from micronn.model import TensorSpec

CONV1D = TensorSpec((1, 64, 1), 0.05, -3)
DENSE = TensorSpec((5,), 0.1, 0)


def _codes(shape, seed=0):
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


@pytest.mark.parametrize(
    ("shape", "rows", "single"),
    [
        ((1, 64, 1), 1, True),  # the model's shape
        ((64, 1), 1, True),  # without its leading 1
        ((64,), 1, True),  # flat
        ((7, 1, 64, 1), 7, False),
        ((7, 64, 1), 7, False),  # a Conv1D batch, as Keras holds it
        ((7, 64), 7, False),  # flat rows
    ],
)
def test_every_accepted_shape_gives_the_same_rows(shape, rows, single):
    flat = _codes((rows, 64))
    got, one = input_codes([CONV1D], flat.reshape(shape))
    assert one is single
    np.testing.assert_array_equal(got, flat)


@pytest.mark.parametrize("shape", [(7, 65), (64, 2), (2, 7, 64, 1), (63,), ()])
def test_other_shapes_are_refused_naming_the_expected_ones(shape):
    with pytest.raises(ValueError) as error:
        input_codes([CONV1D], np.zeros(shape, np.int8))
    message = str(error.value)
    assert "\n" not in message
    assert f"input shape {shape} does not match the model's input" in message
    assert "(1, 64, 1) or (64, 1) or (64,)" in message and "batch axis" in message


def test_several_inputs_take_a_list_and_agree_on_the_batch():
    a, b = _codes((3, 64)), _codes((3, 5), seed=1)
    got, single = input_codes([CONV1D, DENSE], [a.reshape(3, 64, 1), b])
    assert not single
    np.testing.assert_array_equal(got, np.concatenate([a, b], axis=1))
    got, single = input_codes([CONV1D, DENSE], (a[0], b[0]))
    assert single and got.shape == (1, 69)
    with pytest.raises(ValueError, match="input 1 shape \\(6,\\) does not match.*\\(5,\\)"):
        input_codes([CONV1D, DENSE], [a[0], np.zeros(6, np.int8)])
    with pytest.raises(ValueError, match="disagree on the batch.*one sample, 3 rows"):
        input_codes([CONV1D, DENSE], [a[0], b])
    with pytest.raises(ValueError, match="list or tuple of 2 arrays"):
        input_codes([CONV1D, DENSE], a)


def test_floats_are_quantized_and_other_dtypes_refused():
    x = np.random.default_rng(3).uniform(-2, 2, (4, 5)).astype(np.float32)
    got, _ = input_codes([DENSE], x)
    np.testing.assert_array_equal(got, quantize(DENSE, x))
    for dtype in (np.int64, np.uint8, bool):
        with pytest.raises(ValueError, match="int8 codes or float values, got"):
            input_codes([DENSE], np.zeros((4, 5), dtype))


def test_a_nan_is_refused_naming_its_sample_and_item_without_a_numpy_warning():
    x = np.zeros((6, 64, 1), np.float32)
    x[3, 63, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError) as error:
            input_codes([CONV1D], x)
        assert str(error.value).startswith("input sample 3 item 63 is NaN; only finite numbers")
        with pytest.raises(ValueError, match="^input item 63 is NaN; only finite numbers"):
            input_codes([CONV1D], x[3])
        two = [np.zeros((6, 64)), np.where(np.arange(5) == 2, np.nan, 0.0) * np.ones((6, 1))]
        with pytest.raises(ValueError, match="^input 1 sample 0 item 2 is NaN"):
            input_codes([CONV1D, DENSE], two)


def test_infinities_saturate_as_on_the_board_without_a_numpy_warning():
    x = np.array([np.inf, -np.inf, 1e300, -1e300, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, single = input_codes([DENSE], x)
    assert single
    np.testing.assert_array_equal(got, [[127, -128, 127, -128, 0]])
