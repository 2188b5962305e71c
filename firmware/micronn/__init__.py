"""micronn on the board: load a .mnq model and run integer inference.

    import micronn
    net = micronn.load("model.mnq")
    y = net.predict(x)          # x: int8 codes (array('b'), bytes, ...) or floats

See docs/device-api.md.
"""

import gc
import sys

# The reader and its checks: about half of the package's heap, needed only while a model loads.
# Precompiled (.mpy files), load() imports them when it needs them and forgets the table's
# checks once the table is read, the rest once the data blocks are read, before it builds the
# network; the next load imports them again, which costs no compiler heap. From .py sources
# they are compiled once, first, while the heap is still in one piece, and kept
# (docs/memory.md).
TABLE_MODULES = ("container", "rules", "arena")  # the table's reader (dropped first) and checks
READER_MODULES = (
    "container_blocks",
    "reading",
    "values",
    "model",
    "crc32",
    "ops",
    "edge_table",
    "labels",
)
FROM_SOURCE = __file__.endswith(".py")
LOAD_MODULES = ("placement", "bands")  # dropped once the network is built
if FROM_SOURCE:
    from . import net  # noqa: F401, I001  (first: its compile needs the most room)
    from . import arena, container, container_blocks, placement, rules  # noqa: F401

from . import backends  # noqa: E402
from .infile import CHUNK_BYTES  # noqa: E402

__version__ = "0.1.0"


def load(path, backend="auto", weights="auto", chunk_bytes=CHUNK_BYTES, probe=None):
    """Read and check the model at `path` (or an open binary stream); return a Net.

    backend: "auto" (the fastest available but ulab) or a name from backends.available().
    weights: where the big weight tensors live (placement.py): "ram" (heap arrays),
    "stream" (read from the open file into one scratch buffer of about chunk_bytes, every
    predict), "rom" (straight from a file on a ROMFS mount) or "auto" (ram if it fits the
    free heap, else rom if possible, else stream). For stream and rom the file stays open
    until net.close(); a stream you pass in must stay open as long as the net is used.
    probe: None, or a function called with the name of each stage as it ends ("reader",
    "table", "checks", "blocks", "network"), e.g. to print gc.mem_free(); the first four come
    while the reader's modules are in the heap, when it is fullest.
    Raises ValueError naming the problem for a bad file, an operator this runtime cannot run
    or an unknown backend or placement.
    """
    name, kernel_for = backends.select(backend)
    own = not hasattr(path, "readinto")
    source = path if own else "model"
    stream = open(path, "rb") if own else path
    threshold = _collect_often()
    try:
        net, keep = _build(stream, source, name, kernel_for, weights, chunk_bytes, probe, own)
    except BaseException:
        if own:
            stream.close()
        _forget_shared_tables()
        _forget(TABLE_MODULES + _family_rules() + READER_MODULES + LOAD_MODULES + ("reserve",))
        raise
    finally:
        _collect_as_before(threshold)
    if own and not keep:
        stream.close()
    _stage(probe, "network")
    return net


def _build(stream, source, name, kernel_for, weights, chunk_bytes, probe, own):
    """load()'s work: (the net, whether it keeps the file). A frame of its own, so that the
    model its stale slots hold is garbage once it returns."""
    model, kernels, placed = _read(stream, source, weights, kernel_for, chunk_bytes, probe)
    from .net import Net, new_arena

    arena = new_arena(model)  # before the net's other buffers: the reader's room is whole
    placed.loaded()
    keep = own and placed.name != "ram"
    net = (model.net or Net)(model, kernels, name, placed, stream if keep else None, arena)
    _forget_shared_tables()
    _forget(LOAD_MODULES)
    return net, keep


def _read(stream, source, weights, kernel_for, chunk_bytes, probe):
    """load()'s reading stages: the model, its kernels and its weights' placement, with the
    reader's modules forgotten. A frame of its own, so that what the reader left in its stale
    slots is garbage before the net's buffers are made."""
    if not FROM_SOURCE:
        _make_room(stream, weights, kernel_for)
    _import_table_reader()
    _stage(probe, "reader")
    _release_room()
    reader, model, heads = _read_table(stream, source)
    _stage(probe, "table")
    _forget(("container",))
    _check_table(reader, model)
    _stage(probe, "checks")
    _forget(TABLE_MODULES + _family_rules())
    kernels = []
    for index in range(len(model.layers)):
        op = model.layers[index].name
        kernel = kernel_for(op)
        if kernel is None:
            raise ValueError(
                f"{source}: layer {index} uses operator {op} which this runtime does not "
                f"support; {_update_advice()}"
            )
        kernels.append(kernel)
    _forget(("ops",))  # the op table: its room goes to the tensors
    from . import container_blocks, placement

    placed = placement.choose(weights, model, kernels, stream, chunk_bytes)
    container_blocks.read_blocks(
        reader, model, heads, placed.flags, memoryview(placed.check), placed.in_place()
    )
    reader = heads = container_blocks = placement = None
    _stage(probe, "blocks")
    _forget(READER_MODULES)
    return model, kernels, placed


# Each table phase runs in a frame of its own: the slots a call leaves in its caller's frame
# (the function called, its module's globals through it) would keep a dropped module alive.
def _import_table_reader():
    from . import container  # noqa: F401  (imported while the room is held)


def _read_table(stream, source):
    from . import container

    return container.read_table(stream, source)


def _check_table(reader, model):
    from . import rules

    rules.check_table(reader, model)


def _update_advice():
    from .reading import UPDATE  # the reader's modules are gone: only a failure imports it again

    return UPDATE


# TensorFlow's quantize / dequantize (tfquant.py), imported on first use: a model costs nothing.
def quantize(*args, **kwargs):
    return _tfquant().quantize(*args, **kwargs)


def dequantize(*args, **kwargs):
    return _tfquant().dequantize(*args, **kwargs)


def dequantize_fixed(*args, **kwargs):
    return _tfquant().dequantize_fixed(*args, **kwargs)


def _tfquant():
    """Import tfquant and put its functions here, so later calls go to them directly."""
    from . import tfquant

    package = globals()
    for name in ("quantize", "dequantize", "dequantize_fixed"):
        package[name] = getattr(tfquant, name)
    return tfquant


def _make_room(stream, weights, kernel_for):
    """Before the reader is imported: the kernels, and a hold on room for the tensors."""
    from . import reserve
    from .ops import by_code

    for code in reserve.hold(stream, weights):
        entry = by_code(code)
        if entry is not None:
            kernel_for(entry[0])


def _release_room():
    """The table's checks borrow the room held for the tensors; dropped, they give it back."""
    if not FROM_SOURCE:
        from . import reserve

        reserve.release()
        reserve = None
        _forget(("reserve",))


def _collect_often():
    """While a model loads, collect every 1/32 of the heap allocated (gc.threshold): the
    reader's imports then leave their garbage in few big holes, not among the tensors (a 64 KiB
    heap otherwise ends in pieces too small for a layer's bias). Returns the threshold before."""
    if not hasattr(gc, "threshold"):
        return None
    before = gc.threshold()
    gc.threshold((gc.mem_free() + gc.mem_alloc()) // 32)
    return before


def _collect_as_before(threshold):
    if threshold is not None:
        gc.threshold(threshold)


def _stage(probe, name):
    """A stage of load() is over: free its garbage before the next one allocates."""
    gc.collect()
    if probe is not None:
        probe(name)


def _family_rules():
    """The rules_<family> modules the table's check imported (rules.check)."""
    prefix = __name__ + ".rules_"
    return tuple(name[len(__name__) + 1 :] for name in sys.modules if name.startswith(prefix))


def _forget_shared_tables():
    """The kernels' shared tap tables (window.shared_tap_ranges) go to the plans alone."""
    window = sys.modules.get(__name__ + ".window")
    if window is not None:
        window.forget_shared()


def _forget(modules):
    """Drop precompiled modules from sys.modules and this package, and let the GC take them."""
    if FROM_SOURCE:
        return
    package = globals()
    for module in modules:
        sys.modules.pop(__name__ + "." + module, None)
        package.pop(module, None)
    gc.collect()
