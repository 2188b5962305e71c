"""A loaded network: the arena and every plan made once at load, an allocation-free predict."""

from array import array

from .buffers import unfilled


def _affine(scale, zero_point):
    from .affine import Affine  # only for float edges: int8 users never pay for it

    return Affine(scale, zero_point)


def _int8_buffer(count):
    return unfilled("b", count)


def new_arena(model):
    """The int8 arena of every activation: load() makes it before the net's other buffers, so
    that the largest one takes the room the reader's modules left while it is in one piece."""
    return _int8_buffer(model.arena_size)


class _Slices:
    def __getitem__(self, index):
        return index


# slice(None, None, None), made once: `a[:] = b` builds its slice on the heap (MicroPython before
# 1.26, CircuitPython, native code, an array('b') target), a[_WHOLE] = b allocates nothing. It
# copies the bytes when a and b both have one-byte items, else raises ValueError (TypeError on
# CPython, which runs this module in host tests).
_WHOLE = _Slices()[:]
_ITEM_SIZES_DIFFER = (ValueError, TypeError)  # a tuple built in an except clause allocates


def _slice_store_works():
    """False on firmware without slice assignment (MICROPY_PY_ARRAY_SLICE_ASSIGN)."""
    try:
        memoryview(bytearray(1))[_WHOLE] = b"\x01"
    except (TypeError, NotImplementedError):
        return False
    return True


_BYTE_COPIES = _slice_store_works()


def _above_127(x, copied, count):
    """True when the array x holds an item above 127 (an array('B') of non-int8 codes)."""
    return max(x) > 127


def _above_127_finder(backend):
    """_above_127, or its viper twin (viper_input.py) for the fast backends where viper runs."""
    if backend != "python":
        from . import backends

        if "viper" in backends.AVAILABLE:
            try:
                from . import viper_input
            except ImportError:  # a runtime installed without it
                return _above_127
            return viper_input.above_127
    return _above_127


_ranking = None  # ranking.top, imported by the first net.top()


def _import_ranking():
    global _ranking
    from .ranking import top

    _ranking = top


class Net:
    """Integer inference for a checked container.Model, one kernel module per layer.

    All activations live in one int8 arena, planned on the host; each tensor is a memoryview
    onto it, made at load. predict() copies the input into its tensor, runs the prebuilt plan
    of (run, plan, a, b, out) steps and copies the output tensor into `out` or the net's own
    output buffer.
    """

    labels = None  # or a tuple of str naming the last axis of output labels_output (labels.py)
    labels_output = 0

    def __init__(self, model, kernels, backend, placement=None, file=None, arena=None):
        self.backend = backend
        self.weights = "ram" if placement is None else placement.name
        self._file = file  # the model file the net opened and reads its weights from
        first_in, first_out = model.edges[0], model.edges[model.n_in]  # more: net_edges.py
        self.input_shape = tuple(first_in.shape)
        self.output_shape = tuple(first_out.shape)
        self.input_scale = first_in.scale
        self.input_zero_point = first_in.zero_point
        self.output_scale = first_out.scale
        self.output_zero_point = first_out.zero_point
        self._input = None  # Affine, made when floats first come in or go out (affine.py)
        self._output = None
        self._above_127 = _above_127_finder(backend)
        self._wide_in = None  # the last input, and output, whose items are wider than a byte
        self._wide_out = None
        self._arena = new_arena(model) if arena is None else arena
        arena = memoryview(self._arena)
        offsets, sizes = model.offsets, model.sizes
        if model.bands is not None:
            from .bands import slot_sizes

            sizes = slot_sizes(model)
        views = [arena[offsets[t] : offsets[t] + sizes[t]] for t in range(len(sizes))]
        self._x = views[first_in.tensor]
        self._result = views[first_out.tensor]
        self._y = None  # the net's own output buffer, made by the first predict without out
        plan = []
        layers = model.layers
        first, last = model.bands[:2] if model.bands is not None else (-1, -1)
        for index in range(len(layers)):
            if first <= index <= last:
                if index == first:
                    from .bands import band_steps

                    band_steps(plan, model, kernels, views, placement)
                continue
            layer = layers[index]
            kernel = kernels[index]
            a = views[layer.inputs[0]] if layer.inputs else None
            b = views[layer.inputs[1]] if len(layer.inputs) > 1 else None
            prepared = kernel.prepare(layer, layer.params, layer.tensors)
            run = kernel.run
            if placement is not None:
                run, prepared = placement.step(index, layer, kernel, prepared)
            plan.append((run, prepared, a, b, views[layer.output]))
            if placement is not None:
                layers[index] = layer = None  # load's model: its record goes as its plan comes
        self._plan = tuple(plan)

    def close(self):
        """Close the model file the net reads its weights from (weights "stream" or "rom")."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def input(self):
        """The input tensor in the arena, int8 codes: fill it and call predict(net.input) to
        skip the copy. Later layers may overwrite it, so fill it again before each predict."""
        return self._x

    def predict(self, x, out=None):
        """Run the network on x (int8 codes, or floats to quantize); return out or own buffer."""
        if out is not None:
            self._check_out(out, len(self._result), "out")
        if x is not self._x:
            self._load_input(x)
        for run, plan, a, b, y in self._plan:
            run(plan, a, b, y)
        result = self._result
        if out is None:
            out = self._y or self._own_output()
        if _BYTE_COPIES and out is not self._wide_out:
            try:
                out[_WHOLE] = result  # the bytes that storing each code gives
                return out
            except _ITEM_SIZES_DIFFER:  # an array of wider items
                self._wide_out = out  # code by code, now and next time
        if type(out) is bytearray:
            for i in range(len(result)):
                out[i] = result[i] & 0xFF
        else:
            for i in range(len(result)):
                out[i] = result[i]
        return out

    def top(self, out, k=1, into=None):
        """The indices of the k largest items of `out` (an output buffer, or one row of it),
        largest first, the lower index first among equals, written into `into` (an array of
        at least k ints) or the net's own array("H") of k items, which the next call with
        another k replaces. No allocation on int8 codes once that array exists; the first call
        imports ranking.py."""
        if _ranking is None:
            _import_ranking()
        return _ranking(self, out, k, into)

    def quantize(self, x, out=None):
        """Floats to int8 codes with the input's scale and zero point (allocates floats)."""
        if out is None:
            out = _int8_buffer(len(self._x))
        self._check_out(out, len(self._x), "out")
        self._check_length(x, len(self._x), "x")
        return self._quantize(x, out)

    def dequantize(self, q, out=None):
        """int8 output codes to an array('f') of reals with the output's scale and zero point."""
        count = len(self._result)
        if out is None:
            out = array("f", bytes(4 * count))
        self._check_length(q, count, "q")
        self._check_length(out, count, "out")
        if self._output is None:
            self._output = _affine(self.output_scale, self.output_zero_point)
        return self._output.dequantize(q, out)

    def _load_input(self, x):
        """Copy x into the int8 input buffer, quantizing floats, checking int8 codes."""
        dst = self._x
        count = len(dst)
        self._check_length(x, count, "x")
        if type(x[0]) is float:
            self._quantize(x, dst)
            return
        kind = type(x)
        if (
            _BYTE_COPIES
            and x is not self._wide_in
            and (kind is bytes or kind is bytearray or kind is memoryview or kind is array)
        ):
            try:
                dst[_WHOLE] = x  # one-byte items: each bit pattern is an int8 code
            except _ITEM_SIZES_DIFFER:  # wider items (array('h'), ...): checked below
                self._wide_in = x  # and next time straight away: a raise allocates
            else:
                if kind is not array or not self._above_127(x, dst, count):
                    return
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
                return
        except TypeError:
            pass
        raise ValueError(
            f"input item {i} ({item!r}) is not an int8 code; pass int8 codes (-128..127, or "
            "their bit patterns in bytes / bytearray) or floats to be quantized"
        )

    def _quantize(self, x, out):
        try:
            if self._input is None:
                self._input = _affine(self.input_scale, self.input_zero_point)
            return self._input.quantize(x, out)
        except TypeError:
            raise ValueError("float input must hold only numbers") from None

    def _check_length(self, buffer, count, what):
        try:
            length = len(buffer)
        except TypeError:
            length = -1
        if length != count:
            raise ValueError(
                f"{what} must be a buffer of {count} items (shape {self.input_shape} in, "
                f"{self.output_shape} out), got {type(buffer).__name__} of length {length}"
            )

    def _check_out(self, out, count, what):
        if type(out) is not array and type(out) is not bytearray:
            raise ValueError(f"{what} must be an array('b') or a bytearray, got {type(out)}")
        self._check_length(out, count, what)

    def _own_output(self):
        self._y = _int8_buffer(len(self._result))
        return self._y
