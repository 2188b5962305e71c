"""Where the big weight tensors live while a network runs: "ram", "stream" or "rom" (load time
only: load() drops this module once the network is built; infile.py runs the chosen steps).

Only tensor 0 of FULLY_CONNECTED and CONV_2D layers moves (rom: also the tensors of
IN_PLACE that the kernel only reads, as views); every other tensor is an array in RAM.
ram: the weights are arrays on the heap. stream: the file stays open and each predict reads a
layer's weights with seek + readinto into ONE scratch buffer, a few output channels at a time,
and hands each chunk to the kernel's run_rows(plan, a, out, weights, first, count).
rom: the file lives on a ROMFS mount (MicroPython >= 1.25), so memoryview(file) is the file's
own bytes in flash; the kernels read the weights (and biases, depthwise weights) there, nothing
is copied.
"auto" keeps the weights in RAM when they fit the free heap, else uses rom when the file is on
ROMFS, else stream. A kernel module without run_rows keeps its layers in RAM.
"""

import gc

from .buffers import unfilled
from .infile import CHECK_BYTES, CHUNK_BYTES, MOVABLE, PLACEMENTS, run_rom, run_streamed

try:
    import uctypes
except ImportError:  # CircuitPython: no uctypes and no ROMFS
    uctypes = None

# rom: the tensors of these layers that their kernel only reads (its READ_ONLY bits: 1 the
# weights, 2 the bias) stay in the file, as views; multipliers and shifts never do (prepare
# rewrites them). By op: the bits that may apply. A MOVABLE layer whose weights are a view
# runs as in RAM (its kernel's run); one whose kernel may not take a view runs its rows from
# a view made by step() (run_rom).
IN_PLACE = {"FULLY_CONNECTED": 3, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3}

# auto's estimate of what a layer costs besides its tensors (plans, limbs, views), and a margin
LAYER_BYTES = 512
RESERVE_BYTES = 2048


def row_elements(name, params):
    """Weights per output channel: in_features, or kernel_h * kernel_w * in_channels."""
    return params[0] if name == "FULLY_CONNECTED" else params[6] * params[7] * params[2]


def channels(name, params):
    return params[1] if name == "FULLY_CONNECTED" else params[5]


def chunk_channels(name, params, bits, budget):
    """Output channels per streamed chunk: as many as fit `budget` bytes, at least one, and a
    multiple of the few channels after which a packed row ends on a byte boundary."""
    row_bits = row_elements(name, params) * bits
    align = 1
    while (align * row_bits) % 8:
        align += 1
    count = (budget * 8 // row_bits) // align * align
    if count < align:
        count = align
    total = channels(name, params)
    return count if count < total else total


def chunk_nbytes(name, params, bits, count):
    return (count * row_elements(name, params) * bits + 7) // 8


def scratch_nbytes(name, params, bits, budget):
    """Bytes of the scratch buffer a streamed layer needs with a budget of `budget` bytes."""
    return chunk_nbytes(name, params, bits, chunk_channels(name, params, bits, budget))


def movable(model, kernels):
    """Flags by layer index: 1 where the weights may stay in the file."""
    flags = bytearray(len(model.layers))
    for index in range(len(flags)):
        if model.layers[index].name in MOVABLE and hasattr(kernels[index], "run_rows"):
            flags[index] = 1
    return flags


def add_views(flags, model, kernels):
    """rom: bit t + 1 of a layer's flag where its tensor t stays in the file as a view."""
    for index in range(len(flags)):
        name = model.layers[index].name
        bits = IN_PLACE.get(name, 0) & getattr(kernels[index], "READ_ONLY", 0)
        if bits & 1:
            flags[index] &= ~1  # the weights are a view, not an InFile
        flags[index] |= bits << 1


def _tensor_bytes(layer):
    total = 0
    for t in range(2, len(layer.tensors), 3):  # (dtype, offset, nbytes) each: the blocks are
        total += layer.tensors[t]  # not read yet
    return total


def ram_fits(model, flags):
    """auto: would every weight tensor fit the free heap, with the rest of the network?"""
    moved = 0
    other = 0
    for index in range(len(model.layers)):
        layer = model.layers[index]
        if flags[index]:
            moved += layer.tensors[2]  # tensor 0's nbytes
        other += _tensor_bytes(layer)
    other -= moved
    # the other tensors are read and then prepared (limbs, tables): count them twice
    need = moved + 2 * other + model.arena_size + LAYER_BYTES * len(model.layers)
    if not hasattr(gc, "mem_free"):
        return True  # CPython (host tests): no heap limit to respect
    gc.collect()
    return need + RESERVE_BYTES <= gc.mem_free()


def rom_view(stream):
    """memoryview straight onto the file's bytes when it lives on ROMFS, else None."""
    if uctypes is None:
        return None
    try:
        return memoryview(stream)
    except TypeError:
        return None


def choose(weights, model, kernels, stream, chunk_bytes=CHUNK_BYTES):
    """The Placement for weights = "auto", "ram", "stream" or "rom" (see the module's text)."""
    if weights not in PLACEMENTS:
        raise ValueError(
            f"unknown weights placement {weights!r}; use one of: {', '.join(PLACEMENTS)}"
        )
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be at least 1, got {chunk_bytes}")
    flags = movable(model, kernels)
    if weights == "auto":
        if ram_fits(model, flags):
            weights = "ram"
        elif rom_view(stream) is not None:
            weights = "rom"
        else:
            weights = "stream"
    if weights == "rom":
        add_views(flags, model, kernels)
    return Placement(weights, model, stream, flags, chunk_bytes)


class Placement:
    """The placement chosen at load: which layers keep their weights in the file (flags, None
    for ram), the small buffer the reader checks them through, and step() that gives each layer
    its runner (stream: all share one scratch buffer, allocated with the network)."""

    def __init__(self, name, model, stream, flags, chunk_bytes):
        self.name = name
        self.stream = stream
        self.chunk_bytes = chunk_bytes
        self.flags = None if name == "ram" else flags
        self.view = None
        self.scratch_bytes = 0
        if name == "rom":
            self.view = rom_view(stream)
            if self.view is None:
                raise ValueError(
                    "weights='rom' needs the model file on a ROMFS mount (MicroPython 1.25 or "
                    "later, vfs.VfsRom); use weights='stream' or 'ram'"
                )
        elif name == "stream":
            layers = model.layers
            self._streamed = [
                (layers[i].name, layers[i].params, layers[i].weight_bits)
                for i in range(len(flags))
                if flags[i] & 1
            ]
            self.scratch_bytes = self._scratch_nbytes()
        self.check = unfilled("b", CHECK_BYTES)  # the reader passes weights left in the file
        self.scratch = None

    def _scratch_nbytes(self):
        nbytes = 0
        for name, params, bits in self._streamed:
            need = scratch_nbytes(name, params, bits, self.chunk_bytes)
            if need > nbytes:
                nbytes = need
        return nbytes

    def loaded(self):
        """The blocks are read: the check buffer goes, and stream's scratch is made (after the
        reader's modules are gone, where the heap has room). Where the free heap is in pieces
        too small for it, a smaller budget is taken (fewer channels a read), down to one
        channel's weights."""
        self.check = None
        while self.scratch_bytes:
            try:
                self.scratch = unfilled("b", self.scratch_bytes)
                return
            except MemoryError:
                tried = self.scratch_bytes
                self.chunk_bytes //= 2
                self.scratch_bytes = self._scratch_nbytes()
                if self.chunk_bytes < 1 or self.scratch_bytes >= tried:
                    raise

    def step(self, index, layer, kernel, prepared):
        """(run, plan) for layer `index` of the net's plan."""
        if self.flags is None or not self.flags[index] & 1:
            return kernel.run, prepared
        weights = layer.tensors[0]  # an InFile
        name, params, bits = layer.name, layer.params, layer.weight_bits
        total = channels(name, params)
        if self.name == "rom":
            view = self.rom_tensor(weights.offset, layer.weight_bits, weights.count, weights.nbytes)
            return run_rom, (kernel.run_rows, prepared, view, total)
        count = chunk_channels(name, params, bits, self.chunk_bytes)
        last = total - (total - 1) // count * count  # channels in the last chunk
        scratch = memoryview(self.scratch)
        full = scratch[: chunk_nbytes(name, params, bits, count)]
        tail = scratch[: chunk_nbytes(name, params, bits, last)]
        where = (self.stream, weights.offset)
        return run_streamed, (where, kernel.run_rows, prepared, total, count, full, tail)

    def in_place(self):
        """For the reader: None, or (rom) how to make a view of a tensor left in the file."""
        return self.rom_tensor if self.name == "rom" else None

    def rom_tensor(self, at, dtype_bits, count, nbytes):
        """A view of the tensor at byte `at` of the file; None for an int32 tensor that is not
        4-byte aligned in memory (the reader then keeps it in RAM)."""
        address = uctypes.addressof(self.view) + at
        if dtype_bits == 32:
            if address % 4:
                return None
            kind = uctypes.INT32
        elif dtype_bits == 8:
            kind = uctypes.INT8
        else:
            return self.view[at : at + nbytes]  # packed bytes, read unsigned
        layout = {"t": (uctypes.ARRAY | 0, kind | count)}
        return uctypes.struct(address, layout, uctypes.LITTLE_ENDIAN).t
