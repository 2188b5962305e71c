"""Device arithmetic stays inside the boards' 31-bit small ints, checked operation by operation.

The unix VM has 63-bit small ints and would never notice an overflow, so these tests run the
device package under CPython with every integer the predict path touches replaced by Small, an
int whose arithmetic fails the test as soon as a result leaves [-2**30, 2**30 - 1]. The models
sit exactly on the container's bound: (|bias| + in_features * 128 * wmax) * 2**left = 2**30 - 1.
"""

import ast
import importlib
import importlib.util
import operator
from array import array

import numpy as np
import pytest
from device_package import FIRMWARE, import_device_package
from graph_factory import random_graph_model, random_residual_model, spread_outputs
from model_factory import random_dense_model, random_inputs

from micronn import container, reference
from micronn.model import WEIGHT_LIMITS, FullyConnected, Model, TensorSpec

LOW, HIGH = -(2**30), 2**30 - 1
PREDICT_MODULES = ("fixedpoint.py", "python_dense.py", "net.py")


class Int31Overflow(AssertionError):
    pass


class Small(int):
    """An int whose arithmetic results must be board small ints."""

    def __new__(cls, value):
        if not LOW <= value <= HIGH:
            raise Int31Overflow(f"{value} is outside the boards' 31-bit small ints")
        return super().__new__(cls, value)

    def __repr__(self):
        return f"Small({int(self)})"


def _checked(function, reflected=False):
    def method(self, other=None):
        if other is None:
            return Small(function(int(self)))
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        a, b = (int(other), int(self)) if reflected else (int(self), int(other))
        return Small(function(a, b))

    return method


_BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "pow": operator.pow,
}
for _name, _function in _BINARY.items():
    setattr(Small, f"__{_name}__", _checked(_function))
    setattr(Small, f"__r{_name}__", _checked(_function, reflected=True))
for _name, _function in {"neg": operator.neg, "pos": operator.pos, "abs": abs}.items():
    setattr(Small, f"__{_name}__", _checked(_function))
Small.__invert__ = _checked(operator.invert)


def test_small_catches_what_a_board_would():
    assert Small(HIGH) + 0 == HIGH and Small(LOW) - 0 == LOW
    with pytest.raises(Int31Overflow):
        Small(HIGH) + 1
    with pytest.raises(Int31Overflow):
        1 << Small(30)
    with pytest.raises(Int31Overflow):
        -Small(LOW)
    assert isinstance(Small(3) * 4, Small) and isinstance(4 * Small(3), Small)


# ------------------------------------------------------------------ the device package


def _small_copy(value, seen):
    """Integers, int arrays, bytearrays and memoryviews as lists of Small; objects converted
    in place.

    `seen` maps id -> converted object, so a tensor view that two layers use stays one list.
    """
    if isinstance(value, bool) or callable(value) or isinstance(value, float | str | type(None)):
        return value
    if isinstance(value, int):
        return Small(value)
    if id(value) in seen:
        return seen[id(value)][1]
    if isinstance(value, array) and value.typecode in "fd":
        converted = value
    elif isinstance(value, array | bytearray | bytes | memoryview):
        converted = [Small(v) for v in value]
    elif isinstance(value, tuple):
        converted = tuple(_small_copy(v, seen) for v in value)
    elif isinstance(value, list):
        converted = [_small_copy(v, seen) for v in value]
    else:
        converted = value
    seen[id(value)] = (value, converted)  # keeps value alive so that its id stays unique
    if converted is value and hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            setattr(value, key, _small_copy(item, seen))
    return converted


def checked_net(data: bytes):
    """A device Net whose predict-time buffers, parameters and counters are all Small."""
    import io

    net = import_device_package().load(io.BytesIO(data))
    net._own_output()  # the buffer the first predict without out makes, Small too
    return _small_copy(net, {})


def _predict(net, x) -> np.ndarray:
    y = net.predict([Small(int(v)) for v in x])
    assert all(isinstance(v, Small) for v in y)
    return np.array([int(v) for v in y], np.int8)


# ------------------------------------------------------------------ models on the bound


def bound_model(bits, in_features, multiplier) -> Model:
    """One layer, two outputs per shift: accumulators of +max and -max for x = -128."""
    wmax = WEIGHT_LIMITS[bits]
    top = 0
    while in_features * 128 * wmax << (top + 1) <= HIGH:
        top += 1
    weights, bias, shifts = [], [], []
    for shift in (top, top // 2, 0, -1, -15, -30, -31):
        room = (HIGH >> max(shift, 0)) - in_features * 128 * wmax
        weights += [[-wmax] * in_features, [wmax] * in_features]
        bias += [room, -room]
        shifts += [shift, shift]
    layer = FullyConnected(
        weights=np.array(weights, np.int8),
        bias=np.array(bias, np.int32),
        multiplier=np.full(len(shifts), multiplier, np.int32),
        shift=np.array(shifts, np.int32),
        input_zero_point=0,
        output_zero_point=0,
        act_min=-128,
        act_max=127,
        weight_bits=bits,
    )
    assert layer.accumulator_bounds().max() == HIGH
    size = layer.out_features
    return Model(TensorSpec((in_features,), 0.5, 0), TensorSpec((size,), 0.25, 0), [layer])


BOUND_CASES = [
    (bits, in_features, multiplier)
    for bits in (8, 4, 2)
    for in_features in (1, 3, 64, 1000)
    for multiplier in (2**30, 2**30 + 0x7FFF, 2**31 - 1)
]


@pytest.mark.parametrize(("bits", "in_features", "multiplier"), BOUND_CASES)
def test_accumulators_on_the_bound_stay_small(bits, in_features, multiplier):
    model = bound_model(bits, in_features, multiplier)
    net = checked_net(container.write(model))
    for x in (np.full(in_features, -128, np.int8), np.full(in_features, 127, np.int8)):
        np.testing.assert_array_equal(_predict(net, x), reference.run(model, x))


def test_random_stacks_stay_small():
    rng = np.random.default_rng(31)
    for _ in range(60):
        model = random_dense_model(rng, max_width=24)
        net = checked_net(container.write(model))
        for x in random_inputs(rng, model, 3):
            np.testing.assert_array_equal(_predict(net, x), reference.run(model, x))


def test_random_graphs_with_adds_stay_small():
    """Tensor views onto one arena, layers reading earlier tensors, ADD joining branches."""
    rng = np.random.default_rng(32)
    for index in range(40):
        model = random_residual_model(rng) if index % 2 else random_graph_model(rng)
        x = rng.integers(-128, 128, size=(3, *model.input.shape)).astype(np.int8)
        if index % 4 < 2:
            model = spread_outputs(rng, model, x)
        net = checked_net(container.write(model))
        for row in x:
            expected = reference.run(model, row).reshape(-1)
            np.testing.assert_array_equal(_predict(net, row.reshape(-1)), expected)


def test_requantize_at_every_shift_and_extreme_multiplier():
    device = import_device_package()
    fixedpoint = importlib.import_module("micronn_device.fixedpoint")
    from micronn.fixedpoint import multiply_by_quantized_multiplier

    multipliers = [0, 2**30, 2**30 + 1, 2**30 + 0x7FFF, 2**31 - 2, 2**31 - 1]
    for shift in range(-31, 31):
        rq = _small_copy(fixedpoint.Requant(multipliers, [shift] * len(multipliers)), {})
        top = HIGH >> max(shift, 0)
        for c, multiplier in enumerate(multipliers):
            accs = {top, -top, top - 1, 1 - top, 1, -1, 0, top // 3, -top // 3}
            for acc in (a for a in accs if abs(a) <= top):
                got = fixedpoint.requantize(Small(acc), rq, c)
                assert got == multiply_by_quantized_multiplier(acc, multiplier, shift)
    assert device.__version__


def test_a_direct_acc_times_multiplier_is_caught(monkeypatch):
    """The checker catches the mistake it exists for: multiplying by the whole multiplier."""
    import_device_package()
    fixedpoint = importlib.import_module("micronn_device.fixedpoint")

    def naive_srdhm(x, q2, q1, q0):
        multiplier = (q2 << 30) + (q1 << 15) + q0
        product = x * multiplier
        nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
        quotient = abs(product + nudge) >> 31
        return quotient if product + nudge >= 0 else -quotient

    model = bound_model(8, 3, 2**31 - 1)
    monkeypatch.setattr(fixedpoint, "srdhm", naive_srdhm)
    net = checked_net(container.write(model))
    with pytest.raises(Int31Overflow):
        _predict(net, np.full(model.input.size, -128, np.int8))


def _constant(node):
    """The value of an int literal or of a constant expression of int literals, else None."""
    try:
        value = ast.literal_eval(node) if not isinstance(node, ast.BinOp) else None
    except ValueError:
        return None
    if isinstance(node, ast.BinOp):
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(left, int) and isinstance(right, int):
            ops = {ast.LShift: operator.lshift, ast.Pow: operator.pow, ast.Mult: operator.mul}
            ops |= {ast.Add: operator.add, ast.Sub: operator.sub}
            function = ops.get(type(node.op))
            return function(left, right) if function else None
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def assert_small_constants(module: str) -> None:
    """A literal such as 1 << 30 would be a long int on a board even if every input is small."""
    tree = ast.parse((FIRMWARE / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.BinOp | ast.UnaryOp):
            value = _constant(node)
            if value is not None:
                assert LOW <= value <= HIGH, f"{module}:{node.lineno}: constant {value}"


@pytest.mark.parametrize("module", PREDICT_MODULES)
def test_no_big_int_constants_in_predict_code(module):
    assert_small_constants(module)


def test_the_checked_net_really_is_checked():
    net = checked_net(container.write(bound_model(4, 3, 2**30)))
    run, plan, a, b, out = net._plan[0]
    assert a is net._x and b is None and out is net._result
    assert all(isinstance(v, Small) for v in net._x)
    requant = plan[6]
    assert isinstance(requant.limbs, list) and all(isinstance(v, Small) for v in requant.limbs)
