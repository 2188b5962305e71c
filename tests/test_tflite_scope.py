"""Operators micronn will not run are refused first, in one line that says why."""

import pytest

from micronn.importers.tflite.scope import out_of_scope_reason


@pytest.mark.parametrize(
    ("op", "words"),
    [
        ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int16 state"),
        ("SVDF", "int16 state"),
        ("CUSTOM:SignalRfft", "audio front end"),
        ("CUSTOM:ethos-u", "Ethos-U"),
        ("CUSTOM:MyOp", "custom operator"),
    ],
)
def test_out_of_scope_operators_have_a_reason(op, words):
    assert words in out_of_scope_reason(op)


@pytest.mark.parametrize("op", ["CONV_2D", "MUL", "FULLY_CONNECTED", "PAD"])
def test_builtin_operators_are_in_scope(op):
    assert out_of_scope_reason(op) is None
