"""Predict the peak heap a model needs on a board, for each weight placement (docs/memory.md).

The device package loads a model in stages (micronn.load's probe names them) and the heap is
fullest at one of them:

    import   the package                              IMPORT
    reader   + kernel modules and room held for the tensors while the reader is imported (.mpy)
    table    + kernel modules (.mpy) + the table's reader + READER + TABLE (the room freed)
    checks   + the table's checks (rules, arena) in place of its reader (.mpy)
    blocks   + the tensors kept in RAM (the blocks' reader, the table's checks gone)
    network  the reader and the table gone (.mpy), the network built: arena, plans, views, scratch
    loaded   what stays while predict runs, with the caller's input row and output buffer

Each stage gets a small measured correction (STAGE_OFFSETS: the mean error over calibration
models), so that what remains is the model-dependent error.

Exact byte counts come from the container (tensors, arena, chunk sizes) rounded to the VM's GC
blocks; the runtime's own objects come from constants measured once per runtime version on a
MicroPython VM (written by tools/measure_memory.py), one set per word size: memory_constants.py
from the 64-bit unix VM (what `micronn simulate` runs), memory_constants_32.py from the 32-bit
webassembly VM (16-byte GC blocks, 4-byte words: every board profile). A backend that VM lacks
(viper, c) takes its own kernel modules and plans from the 64-bit figures (memory_figures.py).
"""

from dataclasses import dataclass, replace

from micronn import memory_constants, qstr_pools
from micronn.bands import geometries, step_bytes
from micronn.boards import Board, load_board
from micronn.memory_figures import FIGURES, PRECOMPILED, figures  # noqa: F401 (FIGURES: measure_memory.py)
from micronn.native_sizes import VIPER_MPY_BYTES
from micronn.packing import packed_size

PLACEMENTS = ("ram", "rom", "stream")  # fastest first
STAGES = ("import", "reader", "table", "checks", "blocks", "network", "loaded")
# the device's reserve.py with 4-byte words (twice these with 8-byte ones): bytes per array
# object, table objects, per layer, the table's checks, and the kept tensors up to which a model
# with its weights in ROMFS holds no room
RESERVE_32 = {"object": 16, "table": 1024, "layer": 384, "checks": 6144, "few": 1024}
# the qemu board's stages differ by up to ~300 B between runs of one model (its collector is
# conservative): a plan with the board's own start (Board.start_bytes) keeps this much over it
BOARD_SPREAD = 512
# the device package: compiled on the board from .py, precompiled .mpy files on its filesystem
# (as micronn flash installs it) or in a ROMFS image (micronn romfs), whose bytecode stays in flash
RUNTIMES = ("py", "mpy", "romfs")
CHUNK_BYTES = 4096  # the device's micronn.placement.CHUNK_BYTES
CHECK_BYTES = 256  # micronn.placement.CHECK_BYTES
MOVABLE = ("FULLY_CONNECTED", "CONV_2D")
BACKENDS_WITH_RUN_ROWS = ("python", "viper", "c")
# rom: the tensors that stay in the file as views (the device's placement.IN_PLACE and its
# kernels' READ_ONLY bits; tests/test_memory_plan.py holds them equal); a MOVABLE layer whose
# weights are not among them reads them through a ROM layer's runner (PLACED_LAYER)
_FILTERS_IN_PLACE = {
    "FULLY_CONNECTED": ("weights", "bias"),
    "CONV_2D": ("weights", "bias"),
    "DEPTHWISE_CONV_2D": ("weights", "bias"),
}
IN_PLACE = {
    "python": _FILTERS_IN_PLACE,
    "viper": {**_FILTERS_IN_PLACE, "FULLY_CONNECTED": ("bias",)},
    "c": dict.fromkeys(_FILTERS_IN_PLACE, ("weights",)),  # its binding takes a bias of 'i' only
}
SKIMMED_IN_PLACE = _FILTERS_IN_PLACE  # what the device's reserve.skim assumes for rom
VIEW_BLOCKS = 2  # a view: its uctypes struct object and its layout tuple, a GC block each
WINDOW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D")
RESIZE_TABLES = {"RESIZE_NEAREST_NEIGHBOR": 1, "RESIZE_BILINEAR": 3}  # tables per axis
# a model with labels (labels.py on the device): the module while the reader runs (from source
# it stays), its objects (a tuple of str) and a few blocks more, measured on both VMs with
# 3 to 400 labels (docs/memory.md, "Labels")
# (romfs: not measured, the .mpy figure: an upper bound, as its code stays in flash)
LABELS_MODULE = {
    64: {"mpy": 1568, "py": 1728, "romfs": 1568},
    32: {"mpy": 1184, "py": 1760, "romfs": 1184},
}
LABELS_EXTRA = 160  # the net's instance dict grows by a block for labels, labels_output
# The c backend's _micronn as a native .mpy: `import micronn` loads it (backends.py probes it).
# MicroPython's rp2, stm32 and qemu ports put a native module's code in the GC heap for good
# (MP_PLAT_ALLOC_EXEC unset): bytes of the .mpy that `make natmod ARCH=...` writes (code and
# relocations, an upper bound of the code); re-measured by tests/test_c_backend_vm.py. The esp32
# port copies native code out to IRAM (esp_native_code_commit) and the unix port maps it outside
# the heap: none counted there. Built into the firmware (USER_C_MODULES), it costs no heap.
# armv7em: a Thumb-2 board without FPU, as MicroPython's qemu port on a Cortex-M3 (MPS2-AN385)
# reports itself (py/persistentcode.h has no armv7m for a board); py/dynruntime.mk builds its
# natmod as ARCH=armv7m (NATMOD_BUILD_ARCH), measured on that board (docs/memory.md)
NATMOD_HEAP_BYTES = {"armv6m": 35016, "armv7em": 26630, "armv7emsp": 25514}
NATMOD_BUILD_ARCH = {"armv7em": "armv7m"}  # board arch -> `make natmod ARCH=` for it
HEAP_NATIVE_ARCHS = tuple(NATMOD_HEAP_BYTES)  # where viper's native code stays in the heap too
EXTRA_EDGE_BYTES = 256  # a net with several inputs or outputs: per edge past the first two, its
# memoryview, Edge object and own output buffer header (estimated from net_edges.py, 64-bit)


def planned_backends() -> tuple:
    """The backends with measured figures (memory_constants.OP_MODULES), python first."""
    return tuple(memory_constants.OP_MODULES)


def heap_bytes(nbytes: int, block: int = memory_constants.GC_BLOCK) -> int:
    """An array / bytearray of nbytes items on the heap: its object (one GC block on either word
    size) and its items, in blocks of `block` bytes."""
    return block + -(-nbytes // block) * block


@dataclass(frozen=True)
class LayerMemory:
    index: int
    op: str
    weight_bytes: int  # the weight tensor as stored (packed)
    other_bytes: int  # bias, multipliers, shifts, tables: always in RAM
    activation_bytes: int  # the layer's input(s) and output in the arena
    plan_bytes: int  # what the kernel's prepare keeps (limbs, tap tables, unpack rows)
    chunk_bytes: int  # stream: the scratch this layer needs (0 when it cannot stream)
    movable: bool  # its weights may stay in the file (stream / rom)


@dataclass(frozen=True)
class PlacementMemory:
    placement: str
    stages: dict  # stage -> predicted live heap bytes
    peak: int  # the largest stage: what `micronn simulate` reports as peak heap
    needed: int  # the heap to ask for: peak + transients and fragmentation (see heap_needed)
    fits: bool  # needed <= the board's heap


@dataclass(frozen=True)
class MemoryPlan:
    board: Board
    runtime: str  # a RUNTIMES form: "py", "mpy" (as micronn flash installs it) or "romfs"
    backend: str
    layers: list
    placements: dict  # placement -> PlacementMemory
    arena_bytes: int
    word_bits: int = 64  # whose measured figures: the 64-bit VM's or the 32-bit VM's
    resident: int = 0  # the runtime's own heap while the model runs (resident_bytes)

    @property
    def best(self):
        """The fastest placement whose needed heap fits the board's, or None; rom only for the
        romfs runtime (micronn romfs puts the models in the image too): it needs the file on a
        ROMFS mount, which micronn flash does not make."""
        for name in ("ram", "rom", "stream") if self.runtime == "romfs" else ("ram", "stream"):
            if self.placements[name].fits:
                return name
        return None


def _tensor_bytes(layer) -> tuple:
    """(weight bytes as stored, bytes of every other tensor)."""
    weight = 0
    other = 0
    for name, kind in layer.spec.tensors:
        tensor = layer.tensors[name]
        if kind == "weights":
            weight = packed_size(tensor.size, layer.weight_bits)
        else:
            other += tensor.size * (4 if kind == "int32" else 1)
    return weight, other


def _kept_arrays(
    layer, keep_weights: bool, block: int = memory_constants.GC_BLOCK, in_place=()
) -> int:
    """Heap bytes of the layer's tensors kept in RAM (each one array); a tensor named in
    in_place is a view onto the file instead (rom)."""
    total = 0
    for name, kind in layer.spec.tensors:
        tensor = layer.tensors[name]
        if name in in_place:
            total += VIEW_BLOCKS * block
        elif kind == "weights":
            if keep_weights:
                total += heap_bytes(packed_size(tensor.size, layer.weight_bits), block)
        else:
            total += heap_bytes(tensor.size * (4 if kind == "int32" else 1), block)
    return total


def in_place_tensors(layer, placement: str, backend: str) -> tuple:
    """The names of the layer's tensors that stay in the file as views."""
    if placement != "rom":
        return ()
    return IN_PLACE.get(backend, {}).get(layer.op, ())


def _row_and_channels(layer) -> tuple:
    p = layer.params
    if layer.op == "FULLY_CONNECTED":
        return p["in_features"], p["out_features"]
    return p["kernel_height"] * p["kernel_width"] * p["in_channels"], p["out_channels"]


def stream_chunk_bytes(layer, budget: int = CHUNK_BYTES) -> int:
    """The device's placement.scratch_nbytes: whole output channels, at least one, ending on a
    byte boundary, as many as fit the budget."""
    row, channels = _row_and_channels(layer)
    row_bits = row * layer.weight_bits
    align = 1
    while (align * row_bits) % 8:
        align += 1
    count = max((budget * 8 // row_bits) // align * align, align)
    return packed_size(min(count, channels) * row, layer.weight_bits)


def _channels(layer) -> int:
    """Requantization channels: one set of multiplier limbs each (1 when per-tensor)."""
    multiplier = layer.tensors.get("multiplier")
    return 0 if multiplier is None else int(multiplier.size)


def _tap_item(layer, backend: str, axis: str) -> int:
    """Bytes per entry of a window layer's tap table along axis ("height" / "width"):
    window.tap_ranges' a byte up to 255 taps (python), viper's own table of int32."""
    if backend == "viper":
        return 4
    p = layer.params
    kernel = p.get(f"kernel_{axis}", p.get(f"filter_{axis}", 256))
    return 1 if kernel < 256 else 4


def tap_geometry(layer, axis: str) -> tuple:
    """A window layer's geometry along axis ("height" / "width"), as window.shared_tap_ranges
    keys its tables: (out size, stride, pad, kernel, dilation, in size)."""
    p = layer.params
    pad = p["pad_top"] if axis == "height" else p["pad_left"]
    kernel = p.get(f"kernel_{axis}", p.get(f"filter_{axis}"))
    dilation = p.get(f"dilation_{axis}", 1)
    return (p[f"out_{axis}"], p[f"stride_{axis}"], pad, kernel, dilation, p[f"in_{axis}"])


def exact_plan_bytes(
    layer, block: int = memory_constants.GC_BLOCK, backend="python", shared=None
) -> int:
    """The parts of a kernel's prepared plan known exactly: tap tables, a row to unpack into.
    (The python kernels' per-channel requantization costs nothing more than the multiplier and
    shift tensors: fixedpoint.Requant writes its limbs over them.) The c kernels keep neither:
    _micronn computes the taps and unpacks on its stack. shared: None (each layer's own
    tables), or the set of the geometries whose tables earlier layers made, which this adds to."""
    if backend == "c":
        return 0
    p = layer.params
    total = 0
    if layer.op in WINDOW_OPS:
        # first / end tap per output row and column; the python kernels share a geometry's
        # tables between axes and layers (window.shared_tap_ranges): `shared` holds those seen
        for axis, size in (("height", p["out_height"]), ("width", p["out_width"])):
            key = tap_geometry(layer, axis)
            if backend == "viper" or shared is None or key not in shared:
                total += 2 * heap_bytes(_tap_item(layer, backend, axis) * size, block)
            if shared is not None and backend != "viper":
                shared.add(key)
    if layer.op in RESIZE_TABLES:
        # source offsets (bilinear: low, high, fraction) per output row and column, array('i')
        rows = heap_bytes(4 * p["out_height"], block)
        columns = heap_bytes(4 * p["out_width"], block)
        total += RESIZE_TABLES[layer.op] * (rows + columns)
    if "weights" in layer.tensors and layer.weight_bits != 8:
        if layer.op == "FULLY_CONNECTED":
            row = p["in_features"]
        elif layer.op == "CONV_2D":
            row = p["kernel_height"] * p["kernel_width"] * p["in_channels"]
        else:
            row = p["kernel_height"] * p["kernel_width"]
        total += heap_bytes(row, block)
    return total


VIPER_ACC_WORDS = 128  # firmware viper_conv: ACC_WORDS, GATHER_TAPS, GATHER_WORDS
VIPER_GATHER_TAPS = 8192
VIPER_GATHER_WORDS = 512


def viper_scratch_words(layer) -> int:
    """viper_conv.scratch_words: the int32 scratch of a CONV_2D / DEPTHWISE_CONV_2D plan."""
    p = layer.params
    out_c = p["out_channels"]
    taps = p["kernel_height"] * p["kernel_width"]
    if layer.op == "CONV_2D":
        taps *= p["in_channels"]
    words = max(out_c, VIPER_ACC_WORDS)
    gather = 2 * out_c + (taps + 3) // 4
    gathers = layer.op == "CONV_2D" and layer.weight_bits == 8 and taps <= VIPER_GATHER_TAPS
    return gather if gathers and words < gather <= VIPER_GATHER_WORDS else words


def _plan_bytes(layer, backend: str, f, shared=None) -> int:
    """What the kernel's prepare keeps for this layer, with its step in the net's plan."""
    key = (backend, layer.op) if (backend, layer.op) in f.PLANS else ("python", layer.op)
    base, per_channel = f.PLANS.get(key, (0, 0))  # (0, 0): not measured yet
    exact = exact_plan_bytes(layer, f.GC_BLOCK, backend, shared)
    total = base + per_channel * _channels(layer) + exact
    if backend == "viper" and layer.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        # the fit holds the usual scratch; a scratch grown for the gathered window is extra
        usual = max(layer.params["out_channels"], VIPER_ACC_WORDS)
        grown = viper_scratch_words(layer)
        total += heap_bytes(4 * grown, f.GC_BLOCK) - heap_bytes(4 * usual, f.GC_BLOCK)
    return total


def _kernel_module_names(model, backend: str, f) -> set:
    """The kernel modules of the model's operators and the modules they import (MODULE_DEPS)."""
    modules = {f.OP_MODULES[backend].get(layer.op) for layer in model.layers}
    deps = getattr(f, "MODULE_DEPS", {})
    return modules | {dep for module in modules for dep in deps.get(module, ())}


def qstr_counts(model, backend: str, runtime: str, f) -> dict:
    """stage -> names interned by its end (the VM's, the package's, the modules imported so
    far: none is ever freed); empty for figures that do not count them."""
    if not hasattr(f, "QSTRS"):
        return {}
    measured = f.MODULE_QSTRS
    counted = f.QSTRS[runtime]
    names = _kernel_module_names(model, backend, f)
    modules = sum(measured.get((backend, runtime, m), 0) for m in names)
    rules = getattr(f, "RULES_MODULES", {})
    families = {rules[layer.op] for layer in model.layers if layer.op in rules}
    checks = counted.get("checks", 0) + sum(
        measured.get(("rules", runtime, m), 0) for m in families
    )
    # precompiled, load() imports the kernels before the reader; from source, the reader came
    # with the package
    early = modules if runtime in PRECOMPILED else 0
    start = counted["import"]
    if model.bands is not None:  # bands.py comes with the table's checks
        checks += measured.get(("optional", runtime, "bands"), 0)
    late = start + modules + checks + counted.get("late", 0)  # net.py and the rest
    return {
        "import": start,
        "reader": start + early + counted.get("reader", 0),
        "table": start + early + counted.get("table", 0),
        "checks": start + early + checks,
        "blocks": late - counted.get("network", 0),  # net.py's come once the reader is dropped
        "network": late,
        "loaded": late,
    }


def qstr_pool_bytes(model, backend: str, runtime: str, f) -> dict:
    """stage -> the heap of the name pools its names need beyond the pools in IMPORT."""
    counts = qstr_counts(model, backend, runtime, f)
    start = counts.get("import", 0)
    # an upper bound's allowance: the counts, sums of modules measured alone, fall a few names
    # short of the VM's, and a pool of 2 KB or more comes with the name that fills the last one
    margin = getattr(f, "QSTR_MARGIN", 0)
    return {
        stage: qstr_pools.added_bytes(
            count + (margin if stage != "import" else 0), start, f.QSTR_POOL, f.GC_BLOCK
        )
        for stage, count in counts.items()
    }


def _kernel_modules(model, backend: str, runtime: str, f) -> int:
    """The kernel modules' heap, and once each the modules they import (figures without
    MODULE_DEPS count those in every kernel module)."""
    modules = _kernel_module_names(model, backend, f)
    return sum(f.MODULES.get((backend, runtime, module), 0) for module in modules)


def native_heap_bytes(model, backend: str, arch: str) -> int:
    """Native code a board of `arch` keeps in its GC heap for the model, which no VM figure
    holds (docs/memory.md, "Native code on a board"): the _micronn natmod for c; for viper the
    .mpy bytes of its viper modules (an upper bound of their code); the viper probe that `import
    micronn` loads for every backend."""
    if arch not in HEAP_NATIVE_ARCHS:
        return 0
    sizes = VIPER_MPY_BYTES.get(arch, {})
    total = sizes.get("viper_probe", 0)
    if backend == "c":
        total += NATMOD_HEAP_BYTES[arch]
    if backend == "viper":
        names = _kernel_module_names(model, backend, figures(64, backend))
        total += sum(sizes.get(name, 0) for name in names if name and name.startswith("viper_"))
    return total


def _banded_plan_bytes(model, index, backend: str, f, shared) -> int:
    """A layer of the model's banded stage (micronn.bands): a plan per band geometry, each
    after the first prepared from fresh copies of the layer's other tensors, with its params;
    the stage's first layer also carries the bands' steps and views (bands.step_bytes)."""
    stage = model.bands
    layer = model.layers[index]
    block = f.GC_BLOCK
    copies = _kept_arrays(layer, False, block)  # every tensor but the weights
    params = heap_bytes(block // 4 * len(layer.params), block)  # the tuple, its header a block
    total = step_bytes(model, stage, figures_word_bits(f)) if index == stage.first else 0
    for n, cut in enumerate(geometries(model, stage)[index - stage.first]):
        total += _plan_bytes(replace(layer, params=cut), backend, f, shared)
        total += (copies + params) if n else 0
    return total


def layer_memory(
    model, backend: str = "python", chunk_bytes: int = CHUNK_BYTES, word_bits: int = 64
) -> list:
    f = figures(word_bits, backend)
    rows = []
    shared = set()  # the tap tables' geometries so far (exact_plan_bytes)
    stage = model.bands
    for index, layer in enumerate(model.layers):
        if stage is not None and stage.first <= index <= stage.last:
            plan_bytes = _banded_plan_bytes(model, index, backend, f, shared)
        else:
            plan_bytes = _plan_bytes(layer, backend, f, shared)
        weight, other = _tensor_bytes(layer)
        movable = layer.op in MOVABLE and backend in BACKENDS_WITH_RUN_ROWS
        touched = [*layer.inputs, layer.output]
        rows.append(
            LayerMemory(
                index=index,
                op=layer.op,
                weight_bytes=weight,
                other_bytes=other,
                activation_bytes=sum(model.activation_sizes[t] for t in touched),
                plan_bytes=plan_bytes,
                chunk_bytes=stream_chunk_bytes(layer, chunk_bytes) if movable else 0,
                movable=movable,
            )
        )
    return rows


def figures_word_bits(f) -> int:
    """The word size of measured figures: their GC block is four machine words."""
    return 2 * f.GC_BLOCK


def reserve_figures(word_bits: int) -> dict:
    """The device's reserve.py figures on a VM or board of `word_bits`."""
    return {name: value * word_bits // 32 for name, value in RESERVE_32.items()}


def _room_bytes(model, keep, word_bits: int = 64, placement: str = "stream") -> int:
    """The device's reserve.skim: the kept tensors, the check buffer and an allowance; none at
    all for a few bytes of tensors beside weights in ROMFS."""
    reserve = reserve_figures(word_bits)
    kept = 0
    for layer, keep_weights in zip(model.layers, keep, strict=True):
        skipped = SKIMMED_IN_PLACE.get(layer.op, ()) if placement == "rom" else ()
        for name, kind in layer.spec.tensors:
            if (kind == "weights" and not keep_weights) or name in skipped:
                continue
            bits = layer.weight_bits if kind == "weights" else 32 if kind == "int32" else 8
            kept += packed_size(layer.tensors[name].size, bits) + reserve["object"]
    if placement == "rom" and kept <= reserve["few"]:
        return 0
    allowance = reserve["table"] + reserve["layer"] * len(model.layers)
    if kept > 4 * reserve["checks"]:
        allowance += reserve["checks"]
    return kept + CHECK_BYTES + reserve["object"] + allowance


def _round(nbytes: int, block: int) -> int:
    return -(-nbytes // block) * block


def labels_bytes(labels, word_bits: int) -> int:
    """Heap bytes of the device's net.labels: a tuple and one str object per label, each str's
    bytes (and a NUL) in blocks of their own."""
    if not labels:
        return 0
    word = word_bits // 8
    block = 4 * word  # the GC block: 16 bytes on a 32-bit board, 32 on the 64-bit VM
    strings = sum(_round(4 * word, block) + _round(len(s.encode()) + 1, block) for s in labels)
    return _round(word * (2 + len(labels)), block) + strings + LABELS_EXTRA


def _labels_stages(model, runtime: str, word_bits: int) -> dict:
    """What a labels section adds to each stage: while the blocks are read, the module, the
    section read whole and the labels; from then on the labels (and the module from source)."""
    if not model.labels:
        return {}
    from micronn.labels import pack_section

    kept = labels_bytes(model.labels, word_bits)
    module = LABELS_MODULE[word_bits][runtime]
    section = heap_bytes(len(pack_section(model.labels)), 4 * word_bits // 8)
    later = kept + (module if runtime == "py" else 0)
    return {"blocks": kept + module + section, "network": later, "loaded": later}


def _table_layer(f, op: str) -> int:
    """The checked table's bytes for a layer: TABLE's per-layer figure (per op if so measured)."""
    per_layer = f.TABLE[1]
    if isinstance(per_layer, dict):
        return per_layer.get(op, max(per_layer.values()))
    return per_layer


def rules_bytes(model, runtime: str, f) -> int:
    """The rules_<family> modules the table's check imports for the model's later operators
    (dropped with the checks when precompiled, kept from source); 0 without such figures."""
    rules = getattr(f, "RULES_MODULES", {})
    modules = {rules[layer.op] for layer in model.layers if layer.op in rules}
    return sum(f.MODULES.get(("rules", runtime, module), 0) for module in modules)


def own_output_bytes(model, block: int) -> int:
    """The net's own output buffers: one per output for a model of several edges (net_edges.py);
    a net of one input and one output makes its buffer at the first predict without `out`, and
    the caller's buffer stands in for it."""
    if len(model.inputs) + len(model.outputs) <= 2:
        return 0
    return sum(heap_bytes(spec.size, block) for spec in model.outputs)


def _stages(model, layers, arena_bytes, placement, backend, runtime, f) -> dict:
    block = f.GC_BLOCK
    keep = [placement == "ram" or not row.movable for row in layers]
    kept = sum(
        _kept_arrays(layer, k, block, in_place_tensors(layer, placement, backend))
        for layer, k in zip(model.layers, keep, strict=True)
    )
    # the layers that run through a streamed or ROM layer's runner (rom: weights not a view)
    streamed = sum(
        not k and "weights" not in in_place_tensors(layer, placement, backend)
        for layer, k in zip(model.layers, keep, strict=True)
    )
    table = f.TABLE[0] + sum(_table_layer(f, layer.op) for layer in model.layers)
    net = (
        f.NET
        + heap_bytes(arena_bytes, block)
        + own_output_bytes(model, block)
        + EXTRA_EDGE_BYTES * (len(model.inputs) + len(model.outputs) - 2)
        + sum(row.plan_bytes for row in layers)
        + f.PLACED_LAYER * streamed
    )
    if placement == "stream" and streamed:
        net += heap_bytes(
            max(row.chunk_bytes for row, k in zip(layers, keep, strict=True) if not k), block
        )
    base = f.IMPORT[runtime]
    modules = _kernel_modules(model, backend, runtime, f)
    reader = f.READER[runtime]
    # precompiled, load() imports the kernels before the reader and holds room for the tensors
    # while it imports the reader (reserve.py); from source, the reader came with the package
    early = modules if runtime in PRECOMPILED else 0
    word_bits = figures_word_bits(f)
    room = _room_bytes(model, keep, word_bits, placement)
    room = heap_bytes(room, block) if runtime in PRECOMPILED else 0
    check = heap_bytes(CHECK_BYTES, block)
    # while predict runs, the caller holds an output buffer per edge, as simulate's runner and
    # the board agent do; with one input it reads the rows into net.input, with several it
    # holds an input row per edge too
    held = [*model.inputs, *model.outputs] if len(model.inputs) > 1 else model.outputs
    caller = sum(heap_bytes(spec.size, block) for spec in held)
    stages = {
        "import": base,
        "reader": base + early + room + reader["reader"],
        "table": base + early + reader["table"] + table,
        "checks": base + early + reader["checks"] + table,
        "blocks": base + modules + reader["blocks"] + table + kept + check,
        "network": base + modules + reader["residue"] + kept + net,
        "loaded": base + modules + reader["residue"] + kept + net + caller,
    }
    # an upper bound's allowance per layer: the rounding of its arrays and records to GC blocks
    # that the least-squares fits average out (the 32-bit figures' LAYER_MARGIN)
    for stage in ("table", "checks", "blocks", "network", "loaded"):
        stages[stage] += getattr(f, "LAYER_MARGIN", 0) * len(model.layers)
    rules = rules_bytes(model, runtime, f)
    for stage in (
        ("checks",) if runtime in PRECOMPILED else ("checks", "blocks", "network", "loaded")
    ):
        stages[stage] += rules
    for stage in ("network", "loaded"):  # net.py comes once the reader is dropped
        stages[stage] += getattr(f, "NET_MODULE", {}).get(runtime, 0)
    if len(model.inputs) + len(model.outputs) > 2:
        # edge_table.py comes with the reader (from source it stays), net_edges.py with the net
        for stage in ("table", "checks", "blocks"):
            stages[stage] += f.EDGE_TABLE_MODULE[runtime]
        for stage in ("network", "loaded"):
            stages[stage] += f.NET_EDGES_MODULE[runtime]
            stages[stage] += f.EDGE_TABLE_MODULE[runtime] if runtime == "py" else 0
    if model.bands is not None:
        # the table's checks import bands.py for the BANDS flag; precompiled, load() drops it
        # with the network built, from source it stays
        for stage in ("checks", "blocks") + (("network", "loaded") if runtime == "py" else ()):
            stages[stage] += f.BANDS_MODULE[runtime]
    for stage, extra in _labels_stages(model, runtime, word_bits).items():
        stages[stage] += extra
    for stage, extra in qstr_pool_bytes(model, backend, runtime, f).items():
        stages[stage] += extra
    offsets = f.STAGE_OFFSETS[runtime]
    return {stage: value + offsets.get(stage, 0) for stage, value in stages.items()}


def resident_bytes(model, backend: str, runtime: str, f) -> int:
    """The runtime's own heap while a model runs, without the model's data (tensors, arena,
    plans, buffers): the package, the kernel modules the model uses, net.py, what the reader leaves,
    the pools of the names they interned; not the VM's own objects and the measuring script's,
    which IMPORT holds (SCRIPT)."""
    base = f.IMPORT[runtime] + f.STAGE_OFFSETS[runtime].get("import", 0) - getattr(f, "SCRIPT", 0)
    pools = qstr_pool_bytes(model, backend, runtime, f).get("loaded", 0)
    modules = _kernel_modules(model, backend, runtime, f)
    net = getattr(f, "NET_MODULE", {}).get(runtime, 0)  # imported once the reader is dropped
    return base + modules + net + f.READER[runtime]["residue"] + pools


EARLY_STAGES = ("reader", "table", "checks", "blocks")  # the reader's modules and names in the heap


def heap_needed(model, layers, arena_bytes, placement, runtime, stages, f=memory_constants) -> int:
    """The heap a load needs: one free run of bytes for each big buffer made after the reader
    has cut up the heap (the arena, the stream scratch; precompiled, also the largest tensor
    when the room held for the tensors was lent to the table's checks), found above all that
    the reader's stages left, however little of the reader's room they take (on the 32-bit
    qemu board KWS needed 85-86.5 KB: its reader stage and these runs); at least the live
    peak; and beyond that the compiler's parse trees when the package comes as .py and a share
    for fragmentation."""
    peak = max(stages.values())
    early = max(stages[stage] for stage in EARLY_STAGES)
    block = f.GC_BLOCK
    late = heap_bytes(arena_bytes, block)
    movable = [row for row in layers if row.movable]
    if placement == "stream" and movable:
        late += heap_bytes(max(row.chunk_bytes for row in movable), block)
    keep = [placement == "ram" or not row.movable for row in layers]
    word_bits = figures_word_bits(f)
    kept = _room_bytes(model, keep, word_bits, placement)
    if runtime in PRECOMPILED and kept <= 4 * reserve_figures(word_bits)["checks"]:
        late += max(
            (
                heap_bytes(packed_size(layer.tensors["weights"].size, layer.weight_bits), block)
                for layer, k in zip(model.layers, keep, strict=True)
                if k and "weights" in layer.tensors
            ),
            default=0,
        )
    return max(peak, early + late) + _margin(f, runtime, peak)


def _margin(f, runtime: str, peak: int) -> int:
    return f.SLACK[runtime] + round(f.FRAGMENTATION * peak)


def heap_margin(plan, peak: int) -> int:
    """What `plan` (a MemoryPlan) adds to a live `peak` for parse trees and fragmentation."""
    return _margin(figures(plan.word_bits, plan.backend), plan.runtime, peak)


def plan_memory(
    model,
    arena_bytes: int,
    board="rp2040",
    backend: str = "python",
    runtime: str = "mpy",
    chunk_bytes: int = CHUNK_BYTES,
    word_bits=None,
) -> MemoryPlan:
    """The predicted stages and peak of every placement of `model` (a host micronn Model with
    the container's `arena_bytes`) on `board` (a name or a Board). word_bits: whose figures,
    the board's own (32 for every profile) by default; 64 for the unix VM of `micronn
    simulate`."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime form {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    if backend not in memory_constants.OP_MODULES:
        known = ", ".join(memory_constants.OP_MODULES)
        raise ValueError(f"no memory figures for backend {backend!r}; measured: {known}")
    profile = board if isinstance(board, Board) else load_board(board)
    on_board = word_bits is None or word_bits == profile.word_bits  # not the unix VM's figures
    code_in_heap = on_board and profile.mpy_arch in HEAP_NATIVE_ARCHS
    f = figures(profile.word_bits if word_bits is None else word_bits, backend, code_in_heap)
    word_bits = figures_word_bits(f)
    layers = layer_memory(model, backend, chunk_bytes, word_bits)
    placements = {}
    for name in PLACEMENTS:
        stages = _stages(model, layers, arena_bytes, name, backend, runtime, f)
        peak = max(stages.values())
        needed = heap_needed(model, layers, arena_bytes, name, runtime, stages, f)
        placements[name] = PlacementMemory(name, stages, peak, needed, needed <= profile.heap_bytes)
    resident = resident_bytes(model, backend, runtime, f)
    native = native_heap_bytes(model, backend, profile.mpy_arch) if on_board else 0
    resident += native
    # the live heap with a connected board's own start in place of the VM's and its runner's,
    # and the spread of a board's stages between runs; the needed heap keeps the VM's start,
    # over which the slack was measured on the qemu board (SLACK["mpy"])
    start = (
        profile.start_bytes + BOARD_SPREAD - getattr(f, "SCRIPT", 0)
        if on_board and profile.start_bytes is not None
        else 0
    )
    if native + start:
        for name, placed in placements.items():
            stages = {stage: value + native + start for stage, value in placed.stages.items()}
            needed = placed.needed + native
            placements[name] = PlacementMemory(
                name, stages, placed.peak + native + start, needed, needed <= profile.heap_bytes
            )
    return MemoryPlan(
        profile, runtime, backend, layers, placements, arena_bytes, word_bits, resident
    )


def plan_container(data: bytes, board="rp2040", **options) -> MemoryPlan:
    """plan_memory for the bytes of a .mnq file."""
    from micronn import container

    model = container.read(data)
    arena_bytes = int.from_bytes(data[24:28], "little")
    return plan_memory(model, arena_bytes, board, **options)
