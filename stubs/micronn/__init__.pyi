"""Type stubs for the device package (firmware/micronn on MicroPython / CircuitPython).

The host package is also called micronn; these stubs describe only the board side. Point an
editor or type checker at stubs/ when writing code that runs on the board.
"""

from array import array
from collections.abc import Callable, Sequence
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
_Input = _IntItems | _FloatItems

class Edge:
    """One input or output of a network (EdgesNet.inputs / EdgesNet.outputs)."""

    shape: tuple[int, ...]
    size: int
    """prod(shape): the items of its buffer."""
    scale: float
    zero_point: int
    """real = scale * (q - zero_point)."""

class Net:
    backend: str
    """Kernel backend in use: "c", "viper", "ulab" or "python" (docs/device-api.md)."""
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    weights: str
    """Where the big weight tensors live: "ram", "stream" or "rom" (docs/memory.md)."""
    @property
    def input(self) -> memoryview:
        """The input tensor in the arena (int8 codes): fill it, then predict(net.input) copies
        nothing. Later layers may overwrite it: fill it again before each predict."""

    def close(self) -> None:
        """Close the model file a "stream" / "rom" net opened and reads its weights from."""

    def predict(self, x: _IntItems | _FloatItems, out: Int8Out | None = None) -> Int8Out:
        """Run the network on one input of prod(input_shape) items.

        x holds int8 codes (-128..127; bytes / bytearray / memoryview may hold their bit
        patterns 128..255) or floats, which are quantized with input_scale / input_zero_point.
        Writes into `out` and returns it; without `out` returns the net's own array('b'),
        overwritten by the next call. Allocates nothing for int8 input.
        Raises ValueError for a wrong length, type or value.
        """

    # -- labels (container version 3) --------------------------------------------------
    labels: tuple[str, ...] | None
    """The class names of the last axis of output `labels_output`, or None (no labels)."""
    labels_output: int
    """Which output the labels name (0 for a model of one output)."""

    def top(self, out: _IntItems | _FloatItems, k: int = 1, into: array | None = None) -> array:
        """The indices of the k largest items of `out` (an output buffer or one row of it),
        largest first, the lower index first among equals: net.labels[net.top(out)[0]].

        Writes into `into` (an array of at least k ints) and returns it, or returns the net's
        own array('H') of k items (replaced when k changes). Allocates nothing on int8 codes
        once that array exists (the first call imports ranking.py). ValueError when k is not
        1..len(out) or `into` is too short.
        """

    def quantize(self, x: _FloatItems, out: Int8Out | None = None) -> Int8Out:
        """Floats to int8 codes with the input's scale and zero point (TFLite's QUANTIZE)."""

    def dequantize(self, q: _IntItems, out: array | None = None) -> array:
        """int8 output codes to an array('f') of reals: output_scale * (q - output_zero_point)."""

class EdgesNet(Net):
    """What load() returns for a model with several inputs or outputs (container version 2).

    A side with several edges takes (returns) a tuple or list of buffers, one per edge, in the
    model's order; a side with one edge takes one buffer, as Net. input_shape, input_scale, ...
    are input 0's and output 0's. A plain Net has no `inputs` / `outputs`:
    hasattr(net, "inputs") tells the two apart."""

    inputs: tuple[Edge, ...]
    outputs: tuple[Edge, ...]

    def predict(  # type: ignore[override]
        self,
        x: _Input | Sequence[_Input],
        out: Int8Out | Sequence[Int8Out] | None = None,
    ) -> Int8Out | Sequence[Int8Out]:
        """Run the network on one buffer per input (a tuple or list when there are several).

        Writes into `out` (one buffer per output) and returns it; without `out` returns the
        net's own tuple of output buffers (or its one buffer), overwritten by the next call.
        Allocates nothing for int8 input. Raises ValueError for a wrong number of buffers, a
        wrong length (naming the edge, x[1] ...), type or value.
        """

    def quantize(  # type: ignore[override]
        self, x: _FloatItems, out: Int8Out | None = None, index: int = 0
    ) -> Int8Out:
        """Floats to int8 codes with input `index`'s scale and zero point."""

    def dequantize(  # type: ignore[override]
        self, q: _IntItems, out: array | None = None, index: int = 0
    ) -> array:
        """int8 codes of output `index` to an array('f') of reals."""

def load(
    path: str | _BinaryStream,
    backend: str = "auto",
    weights: str = "auto",
    chunk_bytes: int = 4096,
    probe: Callable[[str], None] | None = None,
) -> Net:
    """Read and check a .mnq file (a path or an open binary stream) and prepare it to run.

    backend: "auto" or a name from micronn.backends.AVAILABLE. weights: "ram" (every weight
    tensor in the heap), "stream" (read from the open file into one scratch buffer of about
    chunk_bytes, at every predict), "rom" (read in place from a file on a ROMFS mount) or
    "auto" (ram if it fits the free heap, else rom if possible, else stream); see
    docs/memory.md. probe(stage) is called as each load stage ends ("reader", "table",
    "blocks", "network"). Raises ValueError naming the problem and what to do for a damaged or
    invalid file, an operator this board's micronn cannot run, or an unknown backend or
    placement; OSError when the file cannot be opened; MemoryError when the model does not fit
    the heap. A model with several inputs or outputs gives an EdgesNet.
    """

# TensorFlow's quantize / dequantize (firmware/micronn/tfquant.py; docs/device-api.md)

def quantize(
    x: _FloatItems,
    min_range: float | Sequence[float],
    max_range: float | Sequence[float],
    T: str,
    mode: str = "MIN_COMBINED",
    round_mode: str = "HALF_AWAY_FROM_ZERO",
    narrow_range: bool = False,
    axis: int | None = None,
    ensure_minimum_range: float = 0.01,
    shape: Sequence[int] | None = None,
    out: array | None = None,
) -> tuple[array, float | array, float | array]:
    """tf.quantization.quantize: floats (array('f'), flat, of `shape`) to codes of T ("b",
    "B", "h", "H", "i" or TF's name); returns (out, output_min, output_max), the ranges floats
    per tensor or array('f') per slice along axis. TensorFlow's float32 results and refusals
    (ValueError with TF's message)."""

def dequantize(
    q: _IntItems,
    min_range: float | Sequence[float],
    max_range: float | Sequence[float],
    mode: str = "MIN_COMBINED",
    narrow_range: bool = False,
    axis: int | None = None,
    T: str | None = None,
    dtype: str = "float32",
    shape: Sequence[int] | None = None,
    out: array | None = None,
) -> array:
    """tf.quantization.dequantize: codes (an array of T's typecode; T needed unless q is bytes
    or bytearray) to an array('f'); dtype "bfloat16" rounds each result to bfloat16."""

def dequantize_fixed(
    q: _IntItems,
    min_range: float | Sequence[float],
    max_range: float | Sequence[float],
    frac_bits: int,
    mode: str = "MIN_COMBINED",
    narrow_range: bool = False,
    axis: int | None = None,
    T: str | None = None,
    shape: Sequence[int] | None = None,
    out: array | None = None,
) -> array:
    """dequantize to array('i') with frac_bits (0..31) fraction bits: floor(2**frac_bits *
    (offset + (c + half) * scale) + 1/2) of TF's float32 constants, exact, saturated to int32;
    integers only per code."""
