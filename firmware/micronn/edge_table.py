"""The edge table of a version 2 container: a model with several inputs or outputs.

container.py imports this module only for a version 2 file (docs/format.md, "Edges"); load()
drops it with the reader. Header bytes 28 and 29 count the inputs and the outputs; the edges
follow the header, the inputs first; the first two are where version 1 has its input and output.
"""

from .container import TENSOR_ENTRY
from .reading import DAMAGED


def more(reader, head, records_at, table_size):
    """Read the edges past the first two (12 bytes each); check the counts and that they fit."""
    n_in, n_out = head[28], head[29]
    if not n_in or not n_out:
        reader.fail(f"{n_in} inputs and {n_out} outputs; a model needs at least one of each")
    size = 12 * (n_in + n_out - 2)
    if records_at + size > table_size:
        tensors = (records_at - 56) // TENSOR_ENTRY
        reader.fail(f"{n_in + n_out} edges and {tensors} tensors do not fit the table", DAMAGED)
    extra = bytearray(size)
    reader.fill(extra, size)
    return extra


def edges(reader, head, extra, shapes):
    """(every edge, checked: the inputs, then the outputs; the input count)."""
    from .container import _edge  # not a global: model.net keeps this module until the net is built

    n_in, count = head[28], head[28] + head[29]
    table = head[32:] + extra
    found = []
    for k in range(count):
        kind = "input" if k < n_in else "output"
        found.append(_edge(reader, table, 12 * k, f"{kind} {k if k < n_in else k - n_in}", shapes))
    return found, n_in


def net(model, *args):
    """The network of a model with several inputs or outputs: net_edges.EdgesNet, imported
    only once load() has dropped the reader (container.py sets model.net to this function)."""
    from .net_edges import EdgesNet

    return EdgesNet(model, *args)
