"""Weights left in the model file: what a network needs at predict time to run from them.

placement.py (used only while a model loads) decides which layers keep their weights in the
file; their steps in the network's plan are run_streamed (seek + readinto into one scratch
buffer, a few output channels at a time, each chunk handed to the kernel's
run_rows(plan, a, out, weights, first, count)) or run_rom (the kernel reads the weights straight
from a file on a ROMFS mount). Nothing here allocates.
"""

PLACEMENTS = ("auto", "ram", "stream", "rom")
MOVABLE = ("FULLY_CONNECTED", "CONV_2D")
OP_NAMES = {1: "FULLY_CONNECTED", 2: "CONV_2D"}  # container codes of MOVABLE
CHUNK_BYTES = 4096  # stream: the scratch budget (a chunk holds at least one output channel)
CHECK_BYTES = 256  # the buffer that the reader checks weights left in the file through


class InFile:
    """A weight tensor left in the model file: nbytes at byte offset, count elements. (It lives
    here, not in the reader's modules, because kernel plans may keep it after load.)"""

    def __init__(self, offset, nbytes, count):
        self.offset = offset
        self.nbytes = nbytes
        self.count = count


def run_rom(plan, a, b, out):
    run_rows, prepared, weights, total = plan
    run_rows(prepared, a, out, weights, 0, total)


def run_streamed(plan, a, b, out):
    """Read the layer's weights chunk by chunk into the scratch buffer and run each chunk."""
    where, run_rows, prepared, total, count, full, tail = plan
    stream, position = where
    first = 0
    while first < total:
        view = full
        if total - first <= count:
            count = total - first
            view = tail
        stream.seek(position)
        if stream.readinto(view) != len(view):
            raise OSError("the model file changed or ended while streaming its weights")
        run_rows(prepared, a, out, view, first, count)
        first += count
        position += len(view)
