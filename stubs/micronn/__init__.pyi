"""Type stubs for the device package (firmware/micronn on MicroPython / CircuitPython).

The host package is also called micronn; these stubs describe only the board side. Point an
editor or type checker at stubs/ when writing code that runs on the board.
"""

from array import array
from typing import Protocol

__version__: str

class _IntItems(Protocol):
    """Anything with len() and integer items: array('b'), bytes, bytearray, memoryview, list."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> int: ...

class _FloatItems(Protocol):
    """Anything with len() and float items: array('f'), a list of floats, a float ndarray."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> float: ...

class _BinaryStream(Protocol):
    def readinto(self, buffer: bytearray | memoryview | array, /) -> int | None: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...

Int8Out = array | bytearray  # array('b') or bytearray

class Net:
    backend: str
    """Kernel backend in use: "python" (later also "viper", "ulab", "c")."""
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def predict(self, x: _IntItems | _FloatItems, out: Int8Out | None = None) -> Int8Out:
        """Run the network on one input of prod(input_shape) items.

        x holds int8 codes (-128..127; bytes / bytearray / memoryview may hold their bit
        patterns 128..255) or floats, which are quantized with input_scale / input_zero_point.
        Writes into `out` and returns it; without `out` returns the net's own array('b'),
        overwritten by the next call. Allocates nothing for int8 input.
        Raises ValueError for a wrong length, type or value.
        """

    def quantize(self, x: _FloatItems, out: Int8Out | None = None) -> Int8Out:
        """Floats to int8 codes with the input's scale and zero point (TFLite's QUANTIZE)."""

    def dequantize(self, q: _IntItems, out: array | None = None) -> array:
        """int8 output codes to an array('f') of reals: output_scale * (q - output_zero_point)."""

def load(path: str | _BinaryStream, backend: str = "auto") -> Net:
    """Read and check a .mnq file (a path or an open binary stream) and prepare it to run.

    backend: "auto" or a name from micronn.backends.AVAILABLE. Raises ValueError naming the
    problem and what to do for a damaged or invalid file, an operator this board's micronn
    cannot run, or an unknown backend; OSError when
    the file cannot be opened; MemoryError when the model does not fit the heap.
    """
