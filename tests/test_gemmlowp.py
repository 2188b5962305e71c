"""micronn.gemmlowp against a scalar transcription of gemmlowp and against the real numbers."""

import math

import numpy as np
import pytest
import tflm_scalar_ops as scalar

from micronn import gemmlowp

INT32_MAX = 2**31 - 1
RNG_SEED = 77


def _random_raw(rng, low, high, count):
    values = rng.integers(low, high, count, dtype=np.int64)
    edges = np.array([low, low + 1, high - 1, (low + high) // 2], np.int64)
    return np.concatenate([edges[(edges >= low) & (edges < high)], values])


@pytest.mark.parametrize("integer_bits", [4, 5, 6])
def test_exp_on_negative_values_matches_the_scalar_transcription(integer_bits):
    rng = np.random.default_rng(RNG_SEED + integer_bits)
    a = _random_raw(rng, -(2**31), 1, 3000)
    got = gemmlowp.exp_on_negative_values(a, integer_bits)
    expected = [scalar.exp_on_negative_values(int(v), integer_bits) for v in a]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "function", ["one_over_one_plus_x_for_x_in_0_1", "one_minus_x_over_one_plus_x_for_x_in_0_1"]
)
def test_newton_divisions_match_the_scalar_transcription(function):
    rng = np.random.default_rng(RNG_SEED)
    a = _random_raw(rng, 0, 2**31, 3000)
    got = getattr(gemmlowp, function)(a)
    np.testing.assert_array_equal(got, [getattr(scalar, function)(int(v)) for v in a])


@pytest.mark.parametrize("function", ["logistic", "tanh"])
@pytest.mark.parametrize("integer_bits", [4, 5])
def test_logistic_and_tanh_match_the_scalar_transcription(function, integer_bits):
    rng = np.random.default_rng(RNG_SEED + integer_bits)
    a = _random_raw(rng, -(2**31) + 1, 2**31, 3000)
    got = getattr(gemmlowp, function)(a, integer_bits)
    expected = [getattr(scalar, function)(int(v), integer_bits) for v in a]
    np.testing.assert_array_equal(got, expected)


def test_exact_values_at_the_special_points():
    assert gemmlowp.exp_on_negative_values(0, 5) == INT32_MAX  # exp(0) = One(), saturated
    assert gemmlowp.logistic(0, 4) == 2**30  # exactly one half
    assert gemmlowp.tanh(0, 4) == 0
    assert gemmlowp.one_over_one_plus_x_for_x_in_0_1(0) == INT32_MAX  # 1 / (1 + 0)
    # exp(-32) is below 2**-31 once rescaled: the barrel shifter reaches 0 for Q5.26's minimum
    assert gemmlowp.exp_on_negative_values(-(2**31), 5) == 0


def test_symmetries_hold_exactly():
    a = np.arange(-(2**30), 2**30, 2**30 // 997, dtype=np.int64)
    logistic = gemmlowp.logistic(a, 4)
    np.testing.assert_array_equal(
        logistic + gemmlowp.logistic(-a, 4), np.where(a == 0, 2**31, INT32_MAX)
    )
    np.testing.assert_array_equal(gemmlowp.tanh(a, 4), -gemmlowp.tanh(-a, 4))


@pytest.mark.parametrize("integer_bits", [4, 5])
def test_exp_is_close_to_the_real_exp(integer_bits):
    a = np.linspace(-(2**31) + 1, 0, 4001).astype(np.int64)
    real = np.exp(a / 2.0 ** (31 - integer_bits))
    error = np.abs(gemmlowp.exp_on_negative_values(a, integer_bits) / 2.0**31 - real)
    assert error.max() < 3e-7  # the 4th-order Taylor polynomial's error, near 0


def test_barrel_shifter_constants_are_exp_of_minus_powers_of_two():
    for exponent, multiplier in gemmlowp.BARREL_SHIFTER:
        assert multiplier == round(math.exp(-(2.0**exponent)) * 2**31)


def test_divisions_and_sigmoids_are_close_to_the_real_functions():
    a = np.linspace(0, 2**31 - 1, 2001).astype(np.int64)
    x = a / 2.0**31
    reciprocal = gemmlowp.one_over_one_plus_x_for_x_in_0_1(a) / 2.0**31
    assert np.abs(reciprocal - 1 / (1 + x)).max() < 1e-8
    ratio = gemmlowp.one_minus_x_over_one_plus_x_for_x_in_0_1(a) / 2.0**31
    assert np.abs(ratio - (1 - x) / (1 + x)).max() < 1e-8
    b = np.linspace(-(2**31) + 1, 2**31 - 1, 2001).astype(np.int64)
    real = b / 2.0**27
    assert np.abs(gemmlowp.logistic(b, 4) / 2.0**31 - 1 / (1 + np.exp(-real))).max() < 3e-7
    assert np.abs(gemmlowp.tanh(b, 4) / 2.0**31 - np.tanh(real)).max() < 3e-7


def test_count_leading_zeros():
    values = [0, 1, 2, 3, 2**19, 2**30 - 1, 2**30, 2**31 - 1, -1, -(2**31)]
    expected = [32, 31, 30, 30, 12, 2, 1, 1, 0, 0]
    np.testing.assert_array_equal(gemmlowp.count_leading_zeros32(values), expected)
