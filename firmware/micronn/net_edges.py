"""A network with several inputs or outputs (container version 2): sequences of buffers.

micronn.load() builds an EdgesNet instead of a Net only for such a model, so a model with one
input and one output never imports this module (except for Edge, through net.inputs and
net.outputs). A side with one edge works exactly as a Net: one buffer in, or out.
"""

from array import array

from .net import _BYTE_COPIES, _ITEM_SIZES_DIFFER, _WHOLE, Net, _affine, _int8_buffer


class Edge:
    """One input or output: shape, size (items), and real = scale * (q - zero_point)."""

    def __init__(self, shape, scale, zero_point):
        self.shape = tuple(shape)
        self.scale = scale
        self.zero_point = zero_point
        size = 1
        for dim in shape:
            size *= dim
        self.size = size

    def __repr__(self):
        return f"Edge(shape={self.shape}, scale={self.scale}, zero_point={self.zero_point})"


def _views(arena, model, edges):
    offsets, sizes = model.offsets, model.sizes
    return tuple(arena[offsets[e.tensor] : offsets[e.tensor] + sizes[e.tensor]] for e in edges)


class EdgesNet(Net):
    """predict((x0, x1, ...), (y0, y1, ...)): a tuple or list of buffers, one per input, when
    the model has several inputs (else one buffer), and likewise for the outputs. Without
    `out`, predict returns the net's own tuple of output buffers, overwritten by the next call.
    net.inputs / net.outputs describe the edges; input_shape, input_scale, ... are input 0's
    and output 0's."""

    def __init__(self, model, kernels, backend, placement=None, file=None, arena=None):
        super().__init__(model, kernels, backend, placement, file, arena)
        inputs, outputs = model.edges[: model.n_in], model.edges[model.n_in :]
        self._ins = tuple(Edge(e.shape, e.scale, e.zero_point) for e in inputs)
        self._outs = tuple(Edge(e.shape, e.scale, e.zero_point) for e in outputs)
        self._many_in = len(self._ins) > 1
        self._many_out = len(self._outs) > 1
        arena = memoryview(self._arena)
        self._xs = _views(arena, model, inputs)
        self._results = _views(arena, model, outputs)
        self._ys = tuple(_int8_buffer(e.size) for e in outputs)  # its own output buffers
        self._y = self._ys[0]
        self._wide_ins = [None] * len(self._ins)  # as Net's _wide_in and _wide_out, by edge
        self._wide_outs = [None] * len(self._outs)
        self._in_affines = [None] * len(self._ins)  # as Net's _input and _output, by edge
        self._out_affines = [None] * len(self._outs)

    @property
    def inputs(self):
        """The network's inputs, in order: a tuple of Edge (shape, size, scale, zero_point)."""
        return self._ins

    @property
    def outputs(self):
        """The network's outputs, in order: a tuple of Edge (shape, size, scale, zero_point)."""
        return self._outs

    def predict(self, x, out=None):
        """Run the network; x: one buffer per input, out: None or one buffer per output
        (a tuple or list when there are several). Returns out, or the net's own buffers."""
        ys = self._ys
        many_out = self._many_out
        if out is not None:
            if many_out:
                _check_sequence(out, len(ys), "out", "outputs")
                for k in range(len(ys)):
                    y = out[k]
                    if (
                        not _fits(y, len(ys[k]))
                        or type(y) is not array
                        and type(y) is not bytearray
                    ):
                        self._check_out(y, len(ys[k]), f"out[{k}]")  # raises
            else:
                self._check_out(out, len(self._y), "out")
        if self._many_in:
            xs = self._xs
            _check_sequence(x, len(xs), "x", "inputs")
            for k in range(len(xs)):
                self._load_edge(x[k], xs[k], k)
        else:
            self._load_input(x)
        for run, plan, a, b, y in self._plan:
            run(plan, a, b, y)
        if not many_out:
            if out is None:
                out = self._y
            self._wide_out = store_codes(self._result, out, self._wide_out)
            return out
        if out is None:
            out = ys
        results = self._results
        wides = self._wide_outs
        for k in range(len(results)):
            wides[k] = store_codes(results[k], out[k], wides[k])
        return out

    def _load_edge(self, x, dst, k):
        """Net._load_input for input k into dst."""
        count = len(dst)
        if not _fits(x, count):
            self._check_length(x, count, f"x[{k}]")  # raises; the name only then
        if type(x[0]) is float:
            self._quantize_edge(x, dst, k)
            return
        wides = self._wide_ins
        wides[k] = load_codes(x, dst, count, wides[k], self._above_127)

    def quantize(self, x, out=None, index=0):
        """Floats to int8 codes with the scale and zero point of input `index`."""
        if not self._many_in:
            return Net.quantize(self, x, out, index)
        dst = self._xs[_index(index, len(self._xs), "input")]
        if out is None:
            out = _int8_buffer(len(dst))
        self._check_out(out, len(dst), "out")
        self._check_length(x, len(dst), "x")
        return self._quantize_edge(x, out, index)

    def dequantize(self, q, out=None, index=0):
        """int8 codes of output `index` to an array('f') of reals."""
        if not self._many_out:
            return Net.dequantize(self, q, out, index)
        count = len(self._ys[_index(index, len(self._ys), "output")])
        if out is None:
            out = array("f", bytes(4 * count))
        self._check_length(q, count, "q")
        self._check_length(out, count, "out")
        affine = self._out_affines[index]
        if affine is None:
            edge = self._outs[index]
            affine = self._out_affines[index] = _affine(edge.scale, edge.zero_point)
        return affine.dequantize(q, out)

    def _quantize_edge(self, x, out, k):
        affine = self._in_affines[k]
        if affine is None:
            edge = self._ins[k]
            affine = self._in_affines[k] = _affine(edge.scale, edge.zero_point)
        try:
            return affine.quantize(x, out)
        except TypeError:
            raise ValueError("float input must hold only numbers") from None


# load_codes and store_codes are Net._load_input's and Net.predict's copies, with the state of
# one edge passed in: Net keeps its own, so that a model with one input and one output pays no
# heap for this module (tests/test_multi_edge.py checks that both give the same codes).


def load_codes(x, dst, count, wide, above_127):
    """Copy the int8 codes x into dst, checking them; return `wide`, or x when its items turn
    out wider than a byte (then copied code by code, now and whenever x is `wide`: a raise
    allocates). above_127: _above_127 or its viper twin."""
    kind = type(x)
    if (
        _BYTE_COPIES
        and x is not wide
        and (kind is bytes or kind is bytearray or kind is memoryview or kind is array)
    ):
        try:
            dst[_WHOLE] = x  # one-byte items: each bit pattern is an int8 code
        except _ITEM_SIZES_DIFFER:  # wider items (array('h'), ...): checked below
            wide = x
        else:
            if kind is not array or not above_127(x, dst, count):
                return wide
    # bytes, bytearray and memoryview may hold the bit patterns 128..255 of negative codes
    top = 255 if kind is bytes or kind is bytearray or kind is memoryview else 127
    i = 0
    item = None
    try:
        for i in range(count):
            item = x[i]
            if item > 127:
                if item > top:
                    break
                dst[i] = item - 256
            elif item < -128:
                break
            else:
                dst[i] = item
        else:
            return wide
    except TypeError:
        pass
    raise ValueError(
        f"input item {i} ({item!r}) is not an int8 code; pass int8 codes (-128..127, or "
        "their bit patterns in bytes / bytearray) or floats to be quantized"
    )


def store_codes(result, out, wide):
    """Copy the output codes `result` into out; return `wide`, or out when its items turn out
    wider than a byte (as load_codes)."""
    if _BYTE_COPIES and out is not wide:
        try:
            out[_WHOLE] = result  # the bytes that storing each code gives
            return wide
        except _ITEM_SIZES_DIFFER:  # an array of wider items
            wide = out
    if type(out) is bytearray:
        for i in range(len(result)):
            out[i] = result[i] & 0xFF
    else:
        for i in range(len(result)):
            out[i] = result[i]
    return wide


def _fits(buffer, count):
    try:
        return len(buffer) == count
    except TypeError:
        return False


def _check_sequence(items, count, what, kind):
    if (type(items) is not tuple and type(items) is not list) or len(items) != count:
        raise ValueError(
            f"the model has {count} {kind}: pass {what} as a tuple or list of {count} buffers, "
            "in order"
        )


def _index(index, count, kind):
    if not 0 <= index < count:
        raise ValueError(f"{kind} {index} does not exist; the model has {count} {kind}s")
    return index
