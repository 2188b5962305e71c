"""A loaded network: buffers allocated once at load, an allocation-free predict."""

from array import array

from .affine import Affine


def _int8_buffer(count):
    return array("b", bytes(count))


class Net:
    """Integer inference for a checked container.Model with one kernel backend.

    predict() copies the input into the net's own int8 buffer, runs the layers through two
    ping-pong activation buffers and writes the result into `out` or the net's output buffer.
    """

    def __init__(self, model, kernels, backend):
        layers = model.layers
        self.backend = backend
        self.input_shape = tuple(model.input.shape)
        self.output_shape = tuple(model.output.shape)
        self.input_scale = model.input.scale
        self.input_zero_point = model.input.zero_point
        self.output_scale = model.output.scale
        self.output_zero_point = model.output.zero_point
        self._input = Affine(model.input.scale, model.input.zero_point)
        self._output = Affine(model.output.scale, model.output.zero_point)
        self._x = _int8_buffer(model.input.size)
        self._y = _int8_buffer(model.output.size)
        hidden = 0
        unpacked_row = 0
        for layer in layers:
            if layer is not layers[-1] and layer.out_features > hidden:
                hidden = layer.out_features
            if layer.weight_bits != 8 and layer.in_features > unpacked_row:
                unpacked_row = layer.in_features
        ping_pong = (_int8_buffer(hidden), _int8_buffer(hidden))
        row = _int8_buffer(unpacked_row)
        self._run = kernels.fully_connected
        plan = []
        source = self._x
        for index, layer in enumerate(layers):
            last = index == len(layers) - 1
            target = self._y if last else ping_pong[index & 1]
            plan.append((kernels.prepare(layer, row), source, target))
            source = target
        self._plan = tuple(plan)

    def predict(self, x, out=None):
        """Run the network on x (int8 codes, or floats to quantize); return out or own buffer."""
        if out is not None:
            self._check_out(out, self._y, "out")
        self._load_input(x)
        run = self._run
        for params, source, target in self._plan:
            run(params, source, target)
        if out is None:
            return self._y
        y = self._y
        if type(out) is bytearray:
            for i in range(len(y)):
                out[i] = y[i] & 0xFF
        else:
            for i in range(len(y)):
                out[i] = y[i]
        return out

    def quantize(self, x, out=None):
        """Floats to int8 codes with the input's scale and zero point (allocates floats)."""
        if out is None:
            out = _int8_buffer(len(self._x))
        self._check_out(out, self._x, "out")
        self._check_length(x, len(self._x), "x")
        return self._input.quantize(x, out)

    def dequantize(self, q, out=None):
        """int8 output codes to an array('f') of reals with the output's scale and zero point."""
        count = len(self._y)
        if out is None:
            out = array("f", bytes(4 * count))
        self._check_length(q, count, "q")
        self._check_length(out, count, "out")
        return self._output.dequantize(q, out)

    def _load_input(self, x):
        """Copy x into the int8 input buffer, quantizing floats, checking int8 codes."""
        dst = self._x
        count = len(dst)
        self._check_length(x, count, "x")
        if type(x[0]) is float:
            self._input.quantize(x, dst)
            return
        # bytes, bytearray and memoryview may hold the bit patterns 128..255 of negative codes
        top = 255 if type(x) is bytes or type(x) is bytearray or type(x) is memoryview else 127
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

    def _check_out(self, out, own, what):
        if type(out) is not array and type(out) is not bytearray:
            raise ValueError(f"{what} must be an array('b') or a bytearray, got {type(out)}")
        self._check_length(out, len(own), what)
