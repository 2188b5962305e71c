"""The "c" backend: every operator family through the _micronn C module (ulab_ext/).

_micronn is compiled into the firmware (USER_C_MODULES) or installed as a native .mpy. Its
kernels take the layer's params and tensors exactly as the container stores them, check them,
and give the reference's integers; prepare only packs the params into an array('i') once.
"""

from array import array

import _micronn

from .backends import C_ABI_VERSION as ABI_VERSION


class Filter:
    """FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D: weights, bias, multiplier, shift."""

    READ_ONLY = 1  # the weights may be a view on ROMFS; the binding takes a bias of typecode 'i'

    @staticmethod
    def prepare(op, params, tensors):
        weights, bias, multiplier, shift = tensors
        function = _function(op.name)
        return (function, array("i", params), op.weight_bits, weights, bias, multiplier, shift)

    @staticmethod
    def run(plan, a, b, out):
        function, params, bits, weights, bias, multiplier, shift = plan
        function(params, bits, weights, bias, multiplier, shift, a, out)

    @staticmethod
    def run_rows(plan, a, out, weights, first, count):
        """Output channels first .. first+count-1 only; weights[0] is the first weight of
        channel `first` (placement.py: a streamed chunk, or the whole tensor with first 0)."""
        function, params, bits, _, bias, multiplier, shift = plan
        function(params, bits, weights, bias, multiplier, shift, a, out, first, first + count, 0)


class Window:
    """MAX_POOL_2D, AVERAGE_POOL_2D, MEAN: params only."""

    @staticmethod
    def prepare(op, params, tensors):
        return (_function(op.name), array("i", params))

    @staticmethod
    def run(plan, a, b, out):
        function, params = plan
        function(params, a, out)


class Binary:
    """ADD, MUL: two activations, params only."""

    @staticmethod
    def prepare(op, params, tensors):
        return (_function(op.name), array("i", params))

    @staticmethod
    def run(plan, a, b, out):
        function, params = plan
        function(params, a, b, out)


class Table:
    """LOGISTIC, TANH and LOOKUP (an int8 table), SOFTMAX and LOG_SOFTMAX (the int32 exp
    table)."""

    @staticmethod
    def prepare(op, params, tensors):
        if op.name == "LOOKUP":
            params = params[:1]  # the lookup kernel reads the size; source is informative
        return (_function(op.name), array("i", params), tensors[0])

    @staticmethod
    def run(plan, a, b, out):
        function, params, table = plan
        function(params, table, a, out)


def _c_name(op_name):
    """The _micronn function of an operator: its name in lower case; LOGISTIC, TANH and LOOKUP
    share lookup."""
    return "lookup" if op_name in ("LOGISTIC", "TANH", "LOOKUP") else op_name.lower()


def _function(op_name):
    return getattr(_micronn, _c_name(op_name))


def _convention(kinds, inputs):
    """The calling convention of an operator's _micronn function, from its record's shape."""
    if kinds == "wiii":
        return Filter
    if inputs == 2:
        return Binary
    return Table if kinds else Window  # LOG_SOFTMAX: its exp table, the C kernel needs no other


def kernel(op_name):
    """The object whose prepare / run serve op_name (backends.c_kernel), or None for an
    operator without a C kernel (no inputs: CONSTANT) or whose function this _micronn lacks
    (built before its kernel existed); that operator runs with its python module. Looked up
    when a model loads (ops.py is in the heap then), not at import: the probe of
    `import micronn` imports this file too, and a table built there costs the heap it needs
    to compile the package from source (tests/test_device_predict.py, 100 KiB)."""
    from .ops import entries

    for _, name, _, kinds, inputs, _ in entries():
        if name == op_name:
            if inputs and hasattr(_micronn, _c_name(name)):
                return _convention(kinds, inputs)
            return None
    return None


def compatible():
    """True when the installed _micronn speaks the calling convention this file uses."""
    return getattr(_micronn, "ABI_VERSION", None) == ABI_VERSION
