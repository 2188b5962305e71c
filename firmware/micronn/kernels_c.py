"""The "c" backend: every operator family through the _micronn C module (ulab_ext/).

_micronn is compiled into the firmware (USER_C_MODULES) or installed as a native .mpy. Its
kernels take the layer's params and tensors exactly as the container stores them, check them,
and give the reference's integers; prepare only packs the params into an array('i') once.
"""

from array import array

import _micronn

ABI_VERSION = 1


class Filter:
    """FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D: weights, bias, multiplier, shift."""

    @staticmethod
    def prepare(op, params, tensors):
        weights, bias, multiplier, shift = tensors
        function = _FILTERS[op.name]
        return (function, array("i", params), op.weight_bits, weights, bias, multiplier, shift)

    @staticmethod
    def run(plan, a, b, out):
        function, params, bits, weights, bias, multiplier, shift = plan
        function(params, bits, weights, bias, multiplier, shift, a, out)


class Window:
    """MAX_POOL_2D, AVERAGE_POOL_2D, MEAN: params only."""

    @staticmethod
    def prepare(op, params, tensors):
        return (_WINDOWS[op.name], array("i", params))

    @staticmethod
    def run(plan, a, b, out):
        function, params = plan
        function(params, a, out)


class Add:
    @staticmethod
    def prepare(op, params, tensors):
        return array("i", params)

    @staticmethod
    def run(plan, a, b, out):
        _micronn.add(plan, a, b, out)


class Table:
    """LOGISTIC and TANH (an int8 table) and SOFTMAX (the int32 exp table)."""

    @staticmethod
    def prepare(op, params, tensors):
        function = _micronn.softmax if op.name == "SOFTMAX" else _micronn.lookup
        return (function, array("i", params), tensors[0])

    @staticmethod
    def run(plan, a, b, out):
        function, params, table = plan
        function(params, table, a, out)


_FILTERS = {
    "FULLY_CONNECTED": _micronn.fully_connected,
    "CONV_2D": _micronn.conv_2d,
    "DEPTHWISE_CONV_2D": _micronn.depthwise_conv_2d,
}
_WINDOWS = {
    "MAX_POOL_2D": _micronn.max_pool_2d,
    "AVERAGE_POOL_2D": _micronn.average_pool_2d,
    "MEAN": _micronn.mean,
}

# Operator name -> the object whose prepare / run serve it (backends.c_kernel).
KERNELS = {
    "FULLY_CONNECTED": Filter,
    "CONV_2D": Filter,
    "DEPTHWISE_CONV_2D": Filter,
    "MAX_POOL_2D": Window,
    "AVERAGE_POOL_2D": Window,
    "MEAN": Window,
    "ADD": Add,
    "LOGISTIC": Table,
    "TANH": Table,
    "SOFTMAX": Table,
}


def compatible():
    """True when the installed _micronn speaks the calling convention this file uses."""
    return getattr(_micronn, "ABI_VERSION", None) == ABI_VERSION
