"""Float <-> int8 at the network's edges, as TFLite's QUANTIZE / DEQUANTIZE reference ops do.

Quantize: clamp(round_half_away(f32(x) / f32(scale)) + zero_point, -128, 127), with the quotient
rounded to float32. Dequantize: f32(scale * (q - zero_point)). Results are stored through an
array('f'), so they are float32-exact both on float32 boards and on double-precision ports.
Every float is a heap object on most boards: these functions allocate, predict on int8 does not.
"""

from array import array


class Affine:
    """real = scale * (q - zero_point) for int8 codes q."""

    def __init__(self, scale, zero_point):
        self.scale = scale
        self.zero_point = zero_point
        self._f32 = array("f", (0.0,))

    def quantize(self, x, out):
        """Quantize the floats of x into the int8 buffer out (same length)."""
        f32 = self._f32
        scale = self.scale
        zero_point = self.zero_point
        for i in range(len(out)):
            f32[0] = x[i]
            f32[0] = f32[0] / scale
            t = f32[0]
            if t != t:
                raise ValueError(f"input item {i} is NaN; only finite numbers can be quantized")
            if t > 1000.0:  # saturates after rounding anyway; keeps int() small
                t = 1000.0
            elif t < -1000.0:
                t = -1000.0
            a = -t if t < 0 else t
            q = int(a)
            if a - q >= 0.5:  # exact: q <= a < q + 1
                q += 1
            q = (-q if t < 0 else q) + zero_point
            out[i] = -128 if q < -128 else (127 if q > 127 else q)
        return out

    def dequantize(self, q, out):
        """out[i] = f32(scale * (q[i] - zero_point)); bytes-like q holds int8 bit patterns."""
        raw = type(q) is bytes or type(q) is bytearray
        scale = self.scale
        zero_point = self.zero_point
        for i in range(len(out)):
            v = q[i]
            if raw and v > 127:
                v -= 256
            out[i] = scale * (v - zero_point)
        return out
