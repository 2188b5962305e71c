"""micronn.load() one stage at a time, for a VM whose gc.collect() only collects once control is
back at its top level (MicroPython's webassembly port): a generator that yields the name of
each stage as it ends and returns the Net, so that the host's runner reads each stage's live
heap from the top level (docs/memory.md, "32-bit figures").

Nothing imports it but such a runner: load() stays a plain function, whose frame costs a board
no heap. loading() is load()'s body line for line, `yield _done(...)` for `_stage(probe, ...)`
(tests/test_wasm_vm.py compares the two).
"""

from . import (
    FROM_SOURCE,
    LOAD_MODULES,
    READER_MODULES,
    TABLE_MODULES,
    _check_table,
    _collect_as_before,
    _collect_often,
    _family_rules,
    _forget,
    _forget_shared_tables,
    _import_table_reader,
    _make_room,
    _read_table,
    _release_room,
    _stage,
    _update_advice,
    backends,
)
from .infile import CHUNK_BYTES


def _done(name):
    _stage(None, name)
    return name


def _building(stream, source, name, kernel_for, weights, chunk_bytes, own):
    """micronn._build, a stage at a time."""
    model, kernels, placed = yield from _reading(stream, source, weights, kernel_for, chunk_bytes)
    from .net import Net, new_arena

    arena = new_arena(model)  # before the net's other buffers: the reader's room is whole
    placed.loaded()
    keep = own and placed.name != "ram"
    net = (model.net or Net)(model, kernels, name, placed, stream if keep else None, arena)
    _forget_shared_tables()
    _forget(LOAD_MODULES)
    return net, keep


def _reading(stream, source, weights, kernel_for, chunk_bytes):
    """micronn._read, a stage at a time."""
    if not FROM_SOURCE:
        _make_room(stream, weights, kernel_for)
    _import_table_reader()
    yield _done("reader")
    _release_room()
    reader, model, heads = _read_table(stream, source)
    yield _done("table")
    _forget(("container",))
    _check_table(reader, model)
    yield _done("checks")
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
    yield _done("blocks")
    _forget(READER_MODULES)
    return model, kernels, placed


def loading(path, backend="auto", weights="auto", chunk_bytes=CHUNK_BYTES):
    name, kernel_for = backends.select(backend)
    own = not hasattr(path, "readinto")
    source = path if own else "model"
    stream = open(path, "rb") if own else path
    threshold = _collect_often()
    try:
        net, keep = yield from _building(
            stream, source, name, kernel_for, weights, chunk_bytes, own
        )
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
    yield _done("network")
    return net
