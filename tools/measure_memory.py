"""Measure the device runtime's own heap costs on a MicroPython VM for the memory planner.

    .venv/bin/python tools/measure_memory.py                     # print the 64-bit constants
    .venv/bin/python tools/measure_memory.py --write             # rewrite memory_constants.py
    .venv/bin/python tools/measure_memory.py --vm wasm32 --write  # memory_constants_32.py

Run it again whenever firmware/micronn or a MicroPython VM changes. --vm unix (the default) is
the 64-bit unix port, python and viper backends; --c-natmod PATH measures the c backend's figures
there with an x64 _micronn natmod and keeps the rest; --vm wasm32 the 32-bit webassembly port
(micronn.wasm_vm, `make wasm-vm`), python backend only: it has no native code. Every figure is
the live heap (gc.mem_alloc() right after gc.collect(); on the webassembly port read once the
collection it asks for has run at its top level: the scripts are generators) of the VM, for the
package compiled on the VM from .py ("py"), precompiled with mpy-cross ("mpy", as `micronn
flash` installs it) and precompiled in a ROMFS image ("romfs", as `micronn romfs` writes it; the
image's own bytes are left out, romfs_vm.py):

- IMPORT: after `import micronn` in micronn.simulate's runner (the runner's own objects included;
  SCRIPT: before it, what the resident runtime leaves out);
- READER: the table's reader loaded with the room's module (reader), without it (table), the
  table's checks in the reader's place (checks), both dropped (blocks), and what stays once
  load() has dropped the rest (residue: interned names);
- MODULES: each kernel module's own import over a fresh `import micronn` (and the op table),
  what it imports already imported (MODULE_DEPS: those are counted once however many kernels
  share them); likewise the table's rules_<family> modules (RULES_MODULES) and
  EDGE_TABLE_MODULE and NET_EDGES_MODULE, the modules a model of several inputs or outputs adds,
  and BANDS_MODULE, the one a model with a banded stage adds (micronn.bands); NET_MODULE,
  net.py, which load() imports once the reader's modules are dropped (from source the package
  imports it: 0);
- TABLE, NET, PLANS, PLACED_LAYER: least-squares fits over calibration models loaded in one VM
  (modules already imported), of the table stage's objects, the network's fixed and per-tensor
  objects, each operator's prepared plan (base + per requantization channel) and each streamed or
  ROM layer's runner; exact parts (tensors, arena, chunks, tap tables, unpack rows) are
  subtracted first with memory_plan's own formulas;
- STAGE_OFFSETS: per stage, the mean (64-bit: the planner matches `micronn simulate`) or the
  largest (32-bit: the planner is an upper bound for a board) of measured - predicted over the
  offset models;
- SLACK: the smallest heap that runs each slack model, found by bisection on the unix VM. The
  webassembly port grows its heap instead of running out, so the 32-bit figures take the
  precompiled package's slack and the fragmentation share from a 32-bit qemu board
  (BOARD_SLACK_MPY, BOARD_FRAGMENTATION) and keep the 64-bit slack of the .py package.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from micronn import container, memory_constants, memory_plan, wasm_vm
from micronn.boards import load_board
from micronn.fixedpoint import quantize_multiplier
from micronn.graph_builder import GraphBuilder
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.ops import OPERATORS
from micronn.ops.add import prepare_add
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.log_softmax import OUTPUT_SCALE as LOG_SOFTMAX_SCALE
from micronn.ops.log_softmax import prepare_log_softmax
from micronn.ops.lookup import prepare_lookup
from micronn.ops.mean import prepare_mean
from micronn.ops.pooling import prepare_pool
from micronn.ops.reduce import prepare_mean_or_sum
from micronn.ops.softmax import OUTPUT_SCALE, prepare_softmax
from micronn.plan import quantize_network
from micronn.precompiled import package_for_target, precompiled_package, vm_mpy_target
from micronn.resources import device_package_dir
from micronn.romfs import build_image
from micronn.romfs_vm import on_vm
from micronn.runtime import decode_mpy
from micronn.runtime_export import romfs_files
from micronn.simulate import (
    QSTR_TAG,
    SimulationError,
    find_micropython,
    parse_qstr_counts,
    simulate,
)

HOST_PACKAGE = Path(__file__).resolve().parents[1] / "host_tools" / "micronn"
OUTPUTS = {
    "unix": HOST_PACKAGE / "memory_constants.py",
    "wasm32": HOST_PACKAGE / "memory_constants_32.py",
}
WORD_BITS = {"unix": 64, "wasm32": 32}
BACKENDS = {"unix": ("python", "viper"), "wasm32": ("python",)}
OPS = tuple(OPERATORS)  # every operator the device runs
DEVICE_RULES = Path(__file__).resolve().parents[1] / "firmware" / "micronn" / "rules.py"
RNG = np.random.default_rng(0)
SLACK_MARGIN = 2048
# A 32-bit board's slack and fragmentation share, from the smallest heaps that ran zoo models
# under `micronn run` on the 32-bit qemu board (MPS2-AN385, docs/flashing.md; python backend,
# weights streamed): KWS 85.0-86.5 KB, AD 56-58 KB, ResNet-8 119.2-120 KB, person_detect
# 176-180 KB; the planner's needed heap without slack or share (the free runs above the
# reader's stages, and the agent's) was above each by 2.5 KB or more. The webassembly VM cannot
# find these (its heap grows), and the precompiled package is all micronn flash installs: the
# compiler's slack (.py) stays the 64-bit VM's.
BOARD_SLACK_MPY = SLACK_MARGIN
BOARD_FRAGMENTATION = 0.02
# 32-bit upper bound: beyond the largest error over the calibration models, for layouts they do
# not have (a zoo model's stage came within 200 B of the largest)
UPPER_MARGIN = 512
LAYER_MARGIN = 48  # and per layer (memory_plan: the GC-block rounding the fits average out)
# and names per stage: the counts are sums of modules measured alone (seen up to 20 short of the
# VM's, MEAN_AXES at the table's checks), and a pool of 2 KB or more comes with the name that
# fills the last one
QSTR_MARGIN = 24

LIVE = """
import gc
import json
import sys
import micropython
TOP_LEVEL = sys.platform == "webassembly"  # its collections wait for the top level
def live():
    gc.collect()
    if TOP_LEVEL:
        yield
    return gc.mem_alloc()
def fill_qstr_pools():
    # interns 2,540 names: the pools then end in one of 2,560 names with room for all the
    # package's, so that the costs measured after it hold no pool (memory_plan counts the
    # pools apart: micronn.qstr_pools)
    class Names:
        pass
    names = Names()
    for index in range(2540):
        setattr(names, "_q%d" % index, None)
def count_qstrs(stage):
    print("MICRONN-QSTRS", stage)
    micropython.qstr_info()
"""
# the script's main() is a generator: wasm_vm.mjs resumes it from the top level, one step at a
# time; the unix port runs it through
DRIVE = """
STEPS = main()
if TOP_LEVEL:
    TOP_LEVEL_STEP = STEPS.send
else:
    for _ in STEPS:
        pass
"""

READER_SCRIPT = (
    LIVE
    + """
def main():
    fill_qstr_pools()
    import micronn
    base = yield from live()
    count_qstrs("import")
    for module in ("reserve", "container"):
        __import__("micronn." + module)  # no name bound here: _forget can let them go
    imported = (yield from live()) - base
    count_qstrs("reader")
    micronn._forget(("reserve",))
    table = (yield from live()) - base
    count_qstrs("table")
    micronn._forget(("container",))
    for module in ("rules", "arena"):
        __import__("micronn." + module)
    checks = (yield from live()) - base
    count_qstrs("checks")
    micronn._forget(micronn.TABLE_MODULES)
    blocks = (yield from live()) - base
    micronn._forget(micronn.READER_MODULES)
    residue = (yield from live()) - base
    stages = {"reader": imported, "table": table, "checks": checks, "blocks": blocks}
    stages["residue"] = residue
    print(json.dumps(stages))
"""
    + DRIVE
)

MODULE_SCRIPT = (
    LIVE
    + """
def main():
    fill_qstr_pools()
    import micronn
    from micronn import backends
    __import__("micronn.ops")  # the op table: the reader's, imported before the kernels
    for name in sys.argv[3].split(","):
        if name:
            __import__("micronn." + name)  # what the measured module imports: counted apart
    base = yield from live()
    count_qstrs("before")
    kernel = None
    if sys.argv[1] == "module":
        __import__(("" if sys.argv[2].startswith("_") else "micronn.") + sys.argv[2])
    else:
        kernel = backends.select(sys.argv[1])[1](sys.argv[2])
    cost = (yield from live()) - base
    count_qstrs("after")
    name = getattr(kernel, "__name__", "")  # a module's, or a kernels_c class's
    print(json.dumps([cost, sorted(m for m in sys.modules if m.startswith("micronn.")), name]))
"""
    + DRIVE
)

CALIBRATION_SCRIPT = (
    LIVE
    + """
import micronn
HELPER = [0]  # micronn.loading's own import: the measuring's, not a board's
def load(path, backend, placement, stages, base):
    if not TOP_LEVEL:
        def probe(stage):
            gc.collect()
            stages[stage] = gc.mem_alloc() - base
        return micronn.load(path, backend=backend, weights=placement, probe=probe)
    from micronn.loading import loading
    steps = loading(path, backend=backend, weights=placement)
    while True:
        try:
            stage = next(steps)
        except StopIteration as done:
            return done.value
        stages[stage] = (yield from live()) - base - HELPER[0]
def main():
    from micronn import backends
    backend, count = sys.argv[1], int(sys.argv[2])
    fill_qstr_pools()
    finder = backends.select(backend)[1]
    for op in OPS:
        finder(op)
    if TOP_LEVEL:
        before = yield from live()
        from micronn.loading import loading
        HELPER[0] = (yield from live()) - before
    yield from load("m0.mnq", backend, "ram", {}, 0)  # interns the reader's names
    base = (yield from live()) - HELPER[0]
    for index in range(count):
        for placement in ("ram", "stream"):
            stages = {}
            net = yield from load("m%d.mnq" % index, backend, placement, stages, base)
            stages["loaded"] = (yield from live()) - base - HELPER[0]
            net.close()
            net = None
            print(json.dumps([index, placement, stages]))
"""
    + DRIVE
)


class OnRomfs:
    """The precompiled package in a ROMFS image that the script mounts first (romfs_vm.py),
    with `extra` folders on the VM's path."""

    def __init__(self, vm: str, extra=()):
        self.vm = vm
        self.extra = list(extra)
        self.name = "romfs"

    def __str__(self):
        return f"romfs:{self.vm}:{','.join(map(str, self.extra))}"


def _vm_target(vm: str):
    return decode_mpy(wasm_vm.mpy_value()) if vm == "wasm32" else vm_mpy_target(find_micropython())


def _vm_output(vm: str, script: str, package, cwd: Path, *args) -> str:
    path = cwd / "_measure.py"
    path.write_text(script)
    heap = 4 << 20
    folders = [package]
    romfs = None
    if isinstance(package, OnRomfs):
        image = build_image(romfs_files(_vm_target(vm)))
        folders = package.extra
        path, romfs, held = on_vm(cwd, path, image, None if vm == "wasm32" else 32)
        heap += held
    if vm == "wasm32":
        done = wasm_vm.run(path, args, cwd=cwd, path=folders, heap=heap, timeout=600, romfs=romfs)
    else:
        done = subprocess.run(
            [find_micropython(), "-X", f"heapsize={heap}", str(path), *map(str, args)],
            cwd=cwd,
            env=dict(os.environ, MICROPYPATH=os.pathsep.join(map(str, folders))),
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the VM failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _vm(vm: str, script: str, package: Path, cwd: Path, *args) -> str:
    """The script's output on the VM, without the name counts (count_qstrs) it printed."""
    return _vm_counted(vm, script, package, cwd, *args)[0]


def _vm_counted(vm: str, script: str, package: Path, cwd: Path, *args) -> tuple:
    """(the script's output without its name counts, stage -> names interned)."""
    out = _vm_output(vm, script, package, cwd, *args)
    lines = out.splitlines()
    kept = [
        line
        for index, line in enumerate(lines)
        if not line.startswith(QSTR_TAG) and not (index and lines[index - 1].startswith(QSTR_TAG))
    ]
    return "\n".join(kept) + "\n", parse_qstr_counts(out)


def calibration_runs(vm: str, script: str, package, work: Path, backend: str, count: int) -> list:
    """[index, placement, stages] of each calibration load, each stage the smaller of two heap
    layouts (the script run from two folders whose names differ in length): the collector is
    conservative, and a dead block that a stale word points at on one layout stays live there
    for the rest of the run (it once added 2.3 KB to every later table stage and threw the
    table's fit off)."""
    other = work / "second-heap-layout"
    other.mkdir(exist_ok=True)
    for index in range(count):
        shutil.copy(work / f"m{index}.mnq", other / f"m{index}.mnq")
    runs = [
        [json.loads(line) for line in _vm(vm, script, package, folder, backend, count).splitlines()]
        for folder in (work, other)
    ]
    merged = []
    for (index, placement, stages), (_, _, more) in zip(*runs, strict=True):
        merged.append([index, placement, {k: min(v, more[k]) for k, v in stages.items()}])
    return merged


def _package(runtime: str, vm: str):
    if runtime == "py":
        return device_package_dir().parent
    if runtime == "romfs":
        return OnRomfs(vm)
    if vm == "wasm32":
        return package_for_target(decode_mpy(wasm_vm.mpy_value()))
    return precompiled_package(find_micropython())


# -- calibration models ------------------------------------------------------------------


def _dense(in_features, out_features, channels, bits=8):
    weights = RNG.integers(
        -7 if bits == 4 else -1 if bits == 2 else -127, 2, (out_features, in_features)
    )
    pairs = [quantize_multiplier(1e-3) for _ in range(channels)]
    return FullyConnected(
        weights=weights,
        bias=np.zeros(out_features, np.int32),
        multiplier=[m for m, _ in pairs],
        shift=[s for _, s in pairs],
        input_zero_point=0,
        output_zero_point=0,
        act_min=-128,
        act_max=127,
        weight_bits=bits,
    )


def _chain(shape, layers):
    return Model(TensorSpec(shape, 0.1, 0), TensorSpec(_out_shape(layers[-1]), 0.1, 0), layers)


def _out_shape(layer):
    p = layer.params
    if layer.op == "FULLY_CONNECTED":
        return (p["out_features"],)
    if "out_channels" in p:
        return (p["out_height"], p["out_width"], p["out_channels"])
    if "out_height" in p:
        return (p["out_height"], p["out_width"], p["channels"])
    if layer.op == "MEAN":
        return (p["channels"],)
    if layer.op == "SOFTMAX":
        return (p["rows"] * p["depth"],)
    return (p["size"],)


def _conv(shape, out_channels, depthwise=False):
    kh, kw = 3, 3
    if depthwise:
        weights = RNG.integers(-127, 128, (kh, kw, shape[2]))
        return prepare_depthwise_conv2d(weights, _scales(shape[2]), None, **_conv_options(shape))
    weights = RNG.integers(-127, 128, (out_channels, kh, kw, shape[2]))
    return prepare_conv2d(weights, _scales(out_channels), None, **_conv_options(shape))


def _scales(channels):
    """Per-channel weight scales: one multiplier per channel, as converted models have."""
    return RNG.uniform(5e-4, 2e-3, channels).astype(np.float32)


def _conv_options(shape):
    return {
        "input_shape": shape,
        "input_scale": 0.05,
        "input_zero_point": 0,
        "output_scale": 0.05,
        "output_zero_point": 0,
        "padding": "same",
    }


def _single(op, size):
    """A one-layer model of op with `size` channels (or values)."""
    if op == "FULLY_CONNECTED":
        return _chain((16,), [_dense(16, size, size)])
    if op == "CONV_2D":
        return _chain((6, 5, 2), [_conv((6, 5, 2), size)])
    if op == "DEPTHWISE_CONV_2D":
        return _chain((6, 5, size), [_conv((6, 5, size), size, depthwise=True)])
    if op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        layer = prepare_pool(
            op,
            input_shape=(6, 5, size),
            filter_size=(2, 2),
            stride=(2, 2),
            padding="same",
            scale=0.1,
            zero_point=0,
        )
        return _chain((6, 5, size), [layer])
    if op == "MEAN":
        layer = prepare_mean(
            input_shape=(6, 5, size),
            input_scale=0.1,
            input_zero_point=0,
            output_scale=0.1,
            output_zero_point=0,
        )
        return _chain((6, 5, size), [layer])
    if op == "ADD":
        layer = prepare_add(size, 0.1, 0, 0.1, 0, 0.2, 0, inputs=(0, 0), output=1)
        edges = TensorSpec((size,), 0.1, 0), TensorSpec((size,), 0.2, 0)
        return Model(*edges, [layer], shapes=[(size,), (size,)], input_tensor=0, output_tensor=1)
    if op in ("LOGISTIC", "TANH"):
        scale, zero = (1 / 256, -128) if op == "LOGISTIC" else (1 / 128, 0)
        layer = prepare_lookup(op, size, 0.05, 0, scale, zero)
        return Model(TensorSpec((size,), 0.05, 0), TensorSpec((size,), scale, zero), [layer])
    if op == "SOFTMAX":
        layer = prepare_softmax((size,), 1.0, 0.5, OUTPUT_SCALE, -128)
        return Model(TensorSpec((size,), 0.5, 0), TensorSpec((size,), OUTPUT_SCALE, -128), [layer])
    if op == "LOG_SOFTMAX":
        layer = prepare_log_softmax((size,), 0.1, LOG_SOFTMAX_SCALE, 127)
        edges = TensorSpec((size,), 0.1, 0), TensorSpec((size,), LOG_SOFTMAX_SCALE, 127)
        return Model(*edges, [layer])
    if op == "SUM":
        layer = prepare_mean_or_sum("SUM", (6, 5, size), (0,), (0.1, 0), (0.5, 0))
        return Model(TensorSpec((6, 5, size), 0.1, 0), TensorSpec((5, size), 0.5, 0), [layer])
    return _quantized_graph(op, size)


def _quantized_graph(op, size):
    """op (with a CONSTANT operand where it takes one) in a float graph, quantized as
    `micronn convert` quantizes one, on a (6, 5, size) input."""
    shape = (6, 5, size)
    b = GraphBuilder(shape)
    x = b.input
    build = {
        "SUB": lambda: b.binary("sub", x, b.constant(RNG.normal(size=(size,)))),
        "ADD_BROADCAST": lambda: b.binary("add", x, b.constant(RNG.normal(size=(size,)))),
        "PRELU": lambda: b.binary("prelu", x, b.constant(RNG.uniform(0.1, 0.5, size=(size,)))),
        "CONSTANT": lambda: b.binary("mul", x, b.constant(RNG.uniform(0.5, 1.5, size=shape))),
        "MUL": lambda: b.binary("mul", x, x),
        "MAXIMUM": lambda: b.binary("maximum", x, x),
        "MINIMUM": lambda: b.binary("minimum", x, x),
        "LOOKUP": lambda: b.unary("hard_swish", x),
        "CONCATENATION": lambda: b.concat([x, x], axis=2),
        "PAD": lambda: b.pad(x, ((1, 1), (1, 1), (0, 0))),
        "TRANSPOSE": lambda: b.transpose(x, (1, 0, 2)),
        "STRIDED_SLICE": lambda: b.slice(x, ((1, 4, 1), (0, 3, 2), (0, size, 1))),
        "RESIZE_NEAREST_NEIGHBOR": lambda: b.resize(x, (12, 10), "nearest"),
        "RESIZE_BILINEAR": lambda: b.resize(x, (12, 10), "bilinear"),
        "REDUCE_MAX": lambda: b.reduce("reduce_max", x, (0, 1)),
        "MEAN_AXES": lambda: b.reduce("reduce_mean", x, (0,)),
    }[op]
    calibration = RNG.normal(size=(32, *shape)).astype(np.float32)
    model = quantize_network(b.build(build()), calibration)
    if op not in [layer.op for layer in model.layers]:
        raise RuntimeError(f"the {op} calibration graph became {model.layers}")
    return model


def write_calibration_models(work: Path) -> list:
    """[(model, container bytes)] of calibration_models(), written to work as m0.mnq, m1.mnq, ..."""
    models = []
    for index, (model, _) in enumerate(calibration_models()):
        data = container.write(model)
        (work / f"m{index}.mnq").write_bytes(data)
        models.append((model, data))
    return models


def calibration_models():
    """(model, label): FC stacks of 1-4 layers (table and net fits), a chain of convolutions,
    then each op at two sizes."""
    models = []
    for depth in (1, 2, 4):
        layers = [_dense(12, 12, 12) for _ in range(depth)]
        models.append((_chain((12,), layers), f"fc x{depth}"))
    shape, layers = (8, 6, 3), []
    for channels in (16, 16, 32, 32, 64, 64):  # a deep convolution chain, as zoo models are
        layers.append(_conv(shape, channels, depthwise=channels == shape[2]))
        shape = (8, 6, channels)
    models.append((_chain((8, 6, 3), layers), "conv x6"))
    for op in OPS:
        for size in (4, 40):
            models.append((_single(op, size), f"{op} {size}"))
    return models


# -- fits ---------------------------------------------------------------------------------


def _arena(data) -> int:
    return int.from_bytes(data[24:28], "little")


def _exact_net(model, data, placement, backend, bits):
    """The parts of the network memory_plan computes exactly, and the layer rows."""
    block = memory_plan.FIGURES[bits].GC_BLOCK
    rows = memory_plan.layer_memory(model, backend, word_bits=bits)
    exact = memory_plan.heap_bytes(_arena(data), block)
    exact += memory_plan.own_output_bytes(model, block)
    streamed = [row for row in rows if row.movable and placement != "ram"]  # ram and stream only
    if placement == "stream" and streamed:
        exact += memory_plan.heap_bytes(max(row.chunk_bytes for row in streamed), block)
    return exact, rows, len(streamed)


def _kept(model, placement, rows, block):
    return sum(
        memory_plan._kept_arrays(layer, placement == "ram" or not row.movable, block)
        for layer, row in zip(model.layers, rows, strict=True)
    )


def fit(results, models, reader, backend, bits, constants):
    """TABLE (base, bytes per layer of each op), NET, PLANS and PLACED_LAYER from the
    calibration runs of one backend.

    Every calibration model is a chain (activation tensors = layers + 1), so per-tensor costs
    are folded into the per-layer ones; the FC stacks of 1, 2 and 4 layers separate the net's
    own base from the per-layer bases."""
    block = memory_plan.FIGURES[bits].GC_BLOCK
    table_rows, table_y, net_rows, net_y = [], [], [], []
    ops = list(OPS)
    for index, placement, stages in results:
        model, data = models[index]
        exact, rows, streamed = _exact_net(model, data, placement, backend, bits)
        kept = _kept(model, placement, rows, block)
        table_rows.append([1] + [sum(layer.op == op for layer in model.layers) for op in ops])
        table_y.append(stages["table"] - (reader["table"] - reader["residue"]))
        features = [1] + [0] * (2 * len(ops)) + [streamed]
        known = kept + exact
        shared = set()  # a load's tap tables (window.shared_tap_ranges)
        for layer in model.layers:
            k = ops.index(layer.op)
            features[1 + 2 * k] += 1
            features[2 + 2 * k] += memory_plan._channels(layer)
            known += memory_plan.exact_plan_bytes(layer, block, backend, shared)
        net_rows.append(features)
        net_y.append(stages["loaded"] - known)
    table = np.linalg.lstsq(np.array(table_rows, float), np.array(table_y, float), rcond=None)[0]
    solution = np.linalg.lstsq(np.array(net_rows, float), np.array(net_y, float), rcond=None)[0]
    plans = {}
    for k, op in enumerate(ops):
        plans[(backend, op)] = (round(solution[1 + 2 * k]), round(solution[2 + 2 * k]))
    per_op = {op: round(table[1 + k]) for k, op in enumerate(ops)}
    return (round(table[0]), per_op), round(solution[0]), plans, round(solution[-1])


# -- main ---------------------------------------------------------------------------------

OPTIONAL_MODULES = {  # the modules load() imports besides the reader's, or only some models
    "NET_MODULE": "net",  # every model's, once the reader is dropped (from source: the package's)
    "EDGE_TABLE_MODULE": "edge_table",
    "NET_EDGES_MODULE": "net_edges",
    "BANDS_MODULE": "bands",
}


def rules_modules() -> dict:
    """op -> the rules_<family> module the table's check imports for it (rules.py's _CHECKS
    holds the others' rules; a family module is dropped with the checks, once per model)."""
    source = DEVICE_RULES.read_text(encoding="utf-8")
    block = source[source.index("_CHECKS = {") :]
    own = set(re.findall(r'^    "([A-Z0-9_]+)":', block[: block.index("\n}")], re.M))
    return {op: f"rules_{OPERATORS[op].family}" for op in OPS if op not in own}


_BASELINES = {}  # (vm, package) -> micronn modules loaded by `import micronn` and the op table


def _loaded(out) -> tuple:
    cost, modules, _ = json.loads(out)
    return cost, {m[len("micronn.") :] for m in modules}


def _kernel_name(out) -> str:
    return json.loads(out)[2]


def own_cost(vm, package, work, mode, target) -> tuple:
    """(module, heap bytes, what it imports, names it interns) of importing one module (mode
    "module") or the kernel of op `target` (mode: a backend) over `import micronn` and the op
    table, with what it imports already imported: the modules several kernels share are
    counted once."""
    key = (vm, str(package))
    if key not in _BASELINES:
        _BASELINES[key] = _loaded(_vm(vm, MODULE_SCRIPT, package, work, "module", "ops", ""))[1]
    out = _vm(vm, MODULE_SCRIPT, package, work, mode, target, "")
    _, loaded = _loaded(out)
    module = target if mode == "module" else _family_module(mode, target, loaded)
    if mode == "c" and not _kernel_name(out).startswith("micronn."):
        module = "kernels_c"  # a kernels_c class: the operator runs in _micronn
    deps = tuple(sorted(loaded - _BASELINES[key] - {module}))
    out, names = _vm_counted(vm, MODULE_SCRIPT, package, work, mode, target, ",".join(deps))
    return module, _loaded(out)[0], deps, names["after"] - names["before"]


QSTR_POOL_SCRIPT = """
import micropython
class Names:
    pass
names = Names()
for index in range(1400):
    setattr(names, "_q%d" % index, None)
    print("MICRONN-QSTRS", index)
    micropython.qstr_info()
"""
QSTR_LINE = re.compile(r"n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def measure_qstr_pool(vm: str, work: Path) -> tuple:
    """(names in the first pool, bytes per name, bytes of a pool's header) of the VM's name
    pools (micronn.qstr_pools), from the pool bytes micropython.qstr_info() reports as the
    names fill them one at a time."""
    out = _vm_output(vm, QSTR_POOL_SCRIPT, work, work)
    steps = []  # (names when a pool was added, that pool's bytes)
    previous = None
    for found in QSTR_LINE.finditer(out):
        pools, count, text, total = map(int, found.groups())
        if previous is not None and pools != previous[0]:
            steps.append((count - 1, (total - previous[3]) - (text - previous[2])))
        previous = pools, count, text, total
    first = steps[0][0]  # the first pool was full at that many names
    # the two largest pools: the text's chunks, which the smaller steps also hold, round less
    (small_at, small), (large_at, large) = steps[-2], steps[-1]
    # the pool added when n names are held holds n + first
    per_name = (large - small) // (large_at - small_at)
    return first, per_name, small - per_name * (small_at + first)


def _planned_names(model, runtime: str, constants: dict) -> int:
    """The names memory_plan counts for `model` once loaded with python (without "late": the
    modules load() imports after the reader's, net.py and the rest, which QSTRS["late"] is)."""
    names = dict(constants["QSTRS"][runtime], late=0)
    counted = SimpleNamespace(**{**constants, "QSTRS": {runtime: names}})
    return memory_plan.qstr_counts(model, "python", runtime, counted)["loaded"]


def measure(vm: str = "unix") -> dict:
    bits = WORD_BITS[vm]
    block = 16 if bits == 32 else 32  # 4 machine words
    constants = {"GC_BLOCK": block, "IMPORT": {}, "READER": {}, "MODULES": {}, "OP_MODULES": {}}
    constants.update(MODULE_DEPS={}, QSTRS={}, MODULE_QSTRS={})
    constants["RULES_MODULES"] = rules_modules()
    constants.update({name: {} for name in OPTIONAL_MODULES})
    with tempfile.TemporaryDirectory(prefix="micronn-measure-") as scratch:
        work = Path(scratch)
        constants["QSTR_POOL"] = measure_qstr_pool(vm, work)
        models = write_calibration_models(work)
        probe = models[0][1]
        x = np.zeros(models[0][0].input.size, np.int8)
        for runtime in memory_plan.RUNTIMES:
            package = _package(runtime, vm)
            result = simulate(probe, x, board="rp2040", backend="python", vm=vm, **_form(runtime))
            stages = result.heap_stages
            if runtime == "romfs":  # its script also mounts the image: that code is not micronn's
                own = stages["import"] - stages["script"]
                constants["IMPORT"][runtime] = own + constants["SCRIPT"]
            else:
                constants["IMPORT"][runtime] = stages["import"]
                constants["SCRIPT"] = stages["script"]
            interned = {"import": result.qstr_stages["import"]}
            if runtime != "py":
                out, counts = _vm_counted(vm, READER_SCRIPT, package, work)
                reader = json.loads(out)
                stages = ("reader", "table", "checks")
                interned.update({s: counts[s] - counts["import"] for s in stages})
            else:
                reader = {"reader": 0, "table": 0, "checks": 0, "blocks": 0, "residue": 0}
            constants["QSTRS"][runtime] = interned
            constants["READER"][runtime] = reader
            for name, module in OPTIONAL_MODULES.items():
                _, cost, _, names = own_cost(vm, package, work, "module", module)
                constants[name][runtime] = max(cost, 0)  # below 0: collector noise (imported)
                constants["MODULE_QSTRS"][("optional", runtime, module)] = names
            for module in sorted(set(constants["RULES_MODULES"].values())):
                _, cost, _, names = own_cost(vm, package, work, "module", module)
                constants["MODULES"][("rules", runtime, module)] = cost
                constants["MODULE_QSTRS"][("rules", runtime, module)] = names
            for backend in BACKENDS[vm]:
                op_modules = constants["OP_MODULES"].setdefault(backend, {})
                for op in OPS:
                    module, cost, deps, names = own_cost(vm, package, work, backend, op)
                    op_modules[op] = module
                    constants["MODULE_DEPS"][module] = deps
                    constants["MODULES"][(backend, runtime, module)] = cost
                    constants["MODULE_QSTRS"][(backend, runtime, module)] = names
                    for dep in deps:
                        if (backend, runtime, dep) not in constants["MODULES"]:
                            _, cost, _, names = own_cost(vm, package, work, "module", dep)
                            constants["MODULES"][(backend, runtime, dep)] = cost
                            constants["MODULE_QSTRS"][(backend, runtime, dep)] = names
            interned["network"] = result.qstr_stages["network"] - result.qstr_stages["blocks"]
            interned["late"] = result.qstr_stages["loaded"] - _planned_names(
                models[0][0], runtime, constants
            )
        # the fits use the precompiled package: the runtime form changes no object sizes
        package = _package("mpy", vm)
        reader = constants["READER"]["mpy"]
        script = CALIBRATION_SCRIPT.replace("for op in OPS:", f"for op in {list(OPS)!r}:")
        for backend in BACKENDS[vm]:
            results = calibration_runs(vm, script, package, work, backend, len(models))
            figures = memory_plan.FIGURES[bits]
            figures.MODULES, figures.RULES_MODULES = (
                constants["MODULES"],
                constants["RULES_MODULES"],
            )
            table, net, plans, placed = fit(results, models, reader, backend, bits, constants)
            constants["TABLE"] = table
            constants.setdefault("NET", net)
            constants.setdefault("PLANS", {}).update(plans)
            constants.setdefault("PLACED_LAYER", placed)
    figures = memory_plan.FIGURES[bits]
    for name, value in constants.items():
        setattr(figures, name, value)
    # the offsets' plans take a slack before it is measured: the last one, or .mpy's for a new form
    figures.SLACK = {
        runtime: figures.SLACK.get(runtime, figures.SLACK["mpy"])
        for runtime in memory_plan.RUNTIMES
    }
    if vm == "wasm32":
        constants["LAYER_MARGIN"] = figures.LAYER_MARGIN = LAYER_MARGIN
        constants["QSTR_MARGIN"] = figures.QSTR_MARGIN = QSTR_MARGIN
        constants["STAGE_OFFSETS"] = measure_offsets(vm, np.max, UPPER_MARGIN)
        constants["SLACK"] = {**memory_constants.SLACK, "mpy": BOARD_SLACK_MPY}
        constants["FRAGMENTATION"] = BOARD_FRAGMENTATION
    else:
        constants["STAGE_OFFSETS"] = measure_offsets(vm, np.mean)
        figures.STAGE_OFFSETS = constants["STAGE_OFFSETS"]
        constants["SLACK"] = measure_slack()
    figures.STAGE_OFFSETS = constants["STAGE_OFFSETS"]
    figures.SLACK = constants["SLACK"]
    figures.FRAGMENTATION = constants.setdefault("FRAGMENTATION", 0.05)
    return constants


NATMOD_SCRIPT = (
    LIVE
    + """
def main():
    fill_qstr_pools()
    base = yield from live()
    import _micronn
    print(json.dumps((yield from live()) - base))
"""
    + DRIVE
)


def _with_natmod(package, natmod: Path, work: Path):
    """A folder holding the package (micronn/) and the _micronn natmod beside it (in a ROMFS
    image: the image, and a folder of the natmod, as a board's /lib holds it)."""
    folder = work / f"with-natmod-{package.name}"
    folder.mkdir(parents=True)
    (folder / "_micronn.mpy").write_bytes(natmod.read_bytes())
    if isinstance(package, OnRomfs):
        return OnRomfs(package.vm, [folder])
    (folder / "micronn").symlink_to(package / "micronn", target_is_directory=True)
    return folder


def measure_c(natmod: Path) -> dict:
    """The c backend's entries of the 64-bit constants, with the x64 _micronn natmod (make
    natmod ARCH=x64): the natmod's objects (the unix VM maps its code outside the heap; on a
    board memory_plan.NATMOD_HEAP_BYTES counts it), kernels_c and the python modules of the
    operators _micronn has no kernel for, and each operator's plan, fitted as for the other
    backends."""
    vm, bits = "unix", 64
    constants = {"OP_MODULES": {"c": {}}, "MODULE_DEPS": {}, "MODULES": {}, "MODULE_QSTRS": {}}
    with tempfile.TemporaryDirectory(prefix="micronn-measure-") as scratch:
        work = Path(scratch)
        models = write_calibration_models(work)
        for runtime in memory_plan.RUNTIMES:
            package = _with_natmod(_package(runtime, vm), natmod, work)
            natmod_cost = json.loads(_vm(vm, NATMOD_SCRIPT, package, work))
            constants["MODULES"][("c", runtime, "_micronn")] = natmod_cost
            for op in OPS:
                module, cost, deps, names = own_cost(vm, package, work, "c", op)
                if module == "kernels_c":
                    deps = ("_micronn", *deps)
                constants["OP_MODULES"]["c"][op] = module
                constants["MODULE_DEPS"][module] = deps
                constants["MODULES"][("c", runtime, module)] = cost
                constants["MODULE_QSTRS"][("c", runtime, module)] = names
                for dep in deps:
                    if ("c", runtime, dep) not in constants["MODULES"]:
                        _, cost, _, names = own_cost(vm, package, work, "module", dep)
                        constants["MODULES"][("c", runtime, dep)] = cost
                        constants["MODULE_QSTRS"][("c", runtime, dep)] = names
        package = _with_natmod(_package("mpy", vm), natmod, work / "fit")
        script = CALIBRATION_SCRIPT.replace("for op in OPS:", f"for op in {list(OPS)!r}:")
        results = calibration_runs(vm, script, package, work, "c", len(models))
        figures = memory_plan.FIGURES[bits]
        saved = figures.MODULES, figures.OP_MODULES, figures.MODULE_DEPS
        figures.MODULES = {**figures.MODULES, **constants["MODULES"]}
        figures.OP_MODULES = {**figures.OP_MODULES, **constants["OP_MODULES"]}
        figures.MODULE_DEPS = {**figures.MODULE_DEPS, **constants["MODULE_DEPS"]}
        try:
            reader = figures.READER["mpy"]
            constants["PLANS"] = fit(results, models, reader, "c", bits, constants)[2]
        finally:
            figures.MODULES, figures.OP_MODULES, figures.MODULE_DEPS = saved
    return constants


def current_constants(vm: str) -> dict:
    """The constants module of `vm` as render() takes them."""
    module = memory_plan.FIGURES[WORD_BITS[vm]]
    names = [
        "GC_BLOCK", "IMPORT", "SCRIPT", "READER", "TABLE", "NET", "PLACED_LAYER",
        "STAGE_OFFSETS", "SLACK", "NET_MODULE", "EDGE_TABLE_MODULE", "NET_EDGES_MODULE",
        "BANDS_MODULE", "OP_MODULES",
        "RULES_MODULES", "MODULE_DEPS", "MODULES", "PLANS", "LAYER_MARGIN", "QSTR_MARGIN",
        "QSTR_POOL", "QSTRS", "MODULE_QSTRS",
    ]  # fmt: skip
    return {name: getattr(module, name) for name in names if hasattr(module, name)}


def with_c(constants: dict, c: dict) -> dict:
    """constants with the c backend's entries replaced by c's."""
    merged = {
        key: dict(value) if isinstance(value, dict) else value for key, value in constants.items()
    }
    merged["OP_MODULES"]["c"] = c["OP_MODULES"]["c"]
    merged["MODULES"] = {k: v for k, v in merged["MODULES"].items() if k[0] != "c"}
    merged["MODULES"].update(c["MODULES"])
    merged["MODULE_DEPS"].update(c["MODULE_DEPS"])
    merged["PLANS"] = {k: v for k, v in merged["PLANS"].items() if k[0] != "c"}
    merged["PLANS"].update(c["PLANS"])
    names = {k: v for k, v in merged.get("MODULE_QSTRS", {}).items() if k[0] != "c"}
    merged["MODULE_QSTRS"] = {**names, **c.get("MODULE_QSTRS", {})}
    for table in ("MODULES", "MODULE_QSTRS"):  # c figures measured before the ROMFS form:
        for (backend, runtime, module), value in list(merged[table].items()):  # .mpy's bound it
            if backend == "c" and runtime == "mpy":
                merged[table].setdefault(("c", "romfs", module), value)
    return merged


def c_entries(constants: dict) -> dict:
    """The c backend's entries of a constants dict (empty when it has none)."""
    if "c" not in constants.get("OP_MODULES", {}):
        return {}
    modules = set(constants["OP_MODULES"]["c"].values())
    return {
        "OP_MODULES": {"c": constants["OP_MODULES"]["c"]},
        "MODULES": {k: v for k, v in constants["MODULES"].items() if k[0] == "c"},
        "MODULE_DEPS": {m: constants["MODULE_DEPS"][m] for m in modules},
        "PLANS": {k: v for k, v in constants["PLANS"].items() if k[0] == "c"},
        "MODULE_QSTRS": {k: v for k, v in constants.get("MODULE_QSTRS", {}).items() if k[0] == "c"},
    }


def measure_offsets(vm: str, summary, margin: int = 0) -> dict:
    """Per runtime form and stage: the mean or the largest (summary) of measured - predicted
    over the offset models, plus `margin`; with a margin (an upper bound), `loaded` also
    covers the live heap after the first predictions."""
    bits = WORD_BITS[vm]
    memory_plan.FIGURES[bits].STAGE_OFFSETS = {runtime: {} for runtime in memory_plan.RUNTIMES}
    offsets = {}
    models = offset_models(vm)  # the same models for both runtime forms
    # the 32-bit VM measures on the heap tests/test_memory_plan_32.py gives it. MicroPython's
    # collector is conservative: a dead block stays live while some word in the heap looks like
    # a pointer to it, so a heap at other addresses can keep more (seen: 10,464 B more for the
    # 300 x 200 dense model with weights in RAM on the 448 KiB rp2350 heap)
    board = "esp32s3" if vm == "wasm32" else "rp2350"
    for runtime in memory_plan.RUNTIMES:
        errors = {}
        for index, model in enumerate(models):
            data = container.write(model)
            x = np.zeros(model.input.size, np.int8)
            plan = memory_plan.plan_container(data, board, runtime=runtime, word_bits=bits)
            for placement in ("ram", "stream"):
                measured = _stages_on_fewer_pins(data, x, board, placement, vm, runtime)
                predicted = plan.placements[placement].stages
                if margin:
                    measured["loaded"] = max(measured["loaded"], measured["predict"])
                for stage, value in predicted.items():
                    errors.setdefault(stage, []).append(measured[stage] - value)
                    if measured[stage] - value == max(errors[stage]):
                        worst = f"offset model {index} {placement} ({model.layers[0].op})"
                        print(
                            f"{runtime} {stage}: {max(errors[stage])} at {worst}", file=sys.stderr
                        )
        offsets[runtime] = {stage: round(float(summary(e))) + margin for stage, e in errors.items()}
    return offsets


OTHER_ADDRESSES = 32 * 1024  # tests/test_memory_plan_32.py's other layout: a heap this much larger


def _stages_on_fewer_pins(data, x, board, placement, vm, runtime) -> dict:
    """The load's stages on the heap layout whose peak is smaller, of the board's own heap and
    (32-bit VM) one OTHER_ADDRESSES larger: the collector is conservative, and a word of live data
    that equals a dead block's address keeps it, on one layout and not on another (seen: 1,664 B
    from the table's checks on, on one of them); tests/test_memory_plan_32.py bounds the peak on
    either layout the same way."""
    heaps = (None,) if vm != "wasm32" else (None, load_board(board).heap_bytes + OTHER_ADDRESSES)
    runs = []
    for heap in heaps:
        result = simulate(
            data,
            x,
            board=board,
            backend="python",
            weights=placement,
            vm=vm,
            heap_bytes=heap,
            **_form(runtime),
        )
        runs.append(dict(result.heap_stages))
    return min(runs, key=lambda stages: max(v for k, v in stages.items() if k != "script"))


def offset_models(vm: str):
    """The slack models; for the 32-bit upper bound also the calibration models."""
    if vm == "unix":
        return slack_models()
    return slack_models() + [model for model, _ in calibration_models()]


def slack_models():
    """Models whose smallest working heap sets SLACK: a small MLP, a conv chain with an 8 KB
    arena, and 60 KB of weights in one layer."""
    conv = _conv((25, 20, 8), 8)
    return [
        _chain((64,), [_dense(64, 64, 64), _dense(64, 32, 32), _dense(32, 10, 10)]),
        _chain((25, 20, 8), [conv, _dense(25 * 20 * 8, 4, 4)]),
        _chain((300,), [_dense(300, 200, 200)]),
    ]


def _form(runtime: str) -> dict:
    """simulate()'s arguments for a runtime form."""
    return {"precompiled": runtime != "py", "romfs": runtime == "romfs"}


def _runs(data, x, heap, placement, runtime) -> bool:
    try:
        simulate(
            data,
            x,
            board="rp2350",
            backend="python",
            weights=placement,
            heap_bytes=heap,
            **_form(runtime),
        )
    except SimulationError:
        return False
    return True


def smallest_heap(data, x, placement, runtime, start) -> int:
    """The smallest heap (to 512 bytes) that runs the model, by bisection from start."""
    low, high = start // 2, start * 3
    while high - low > 512:
        middle = (low + high) // 2
        if _runs(data, x, middle, placement, runtime):
            high = middle
        else:
            low = middle
    return high


def measure_slack() -> dict:
    """Per runtime form: the most heap, beyond memory_plan's needed heap without slack, that a
    slack model needed to run on the unix VM, plus SLACK_MARGIN (layouts vary from model to
    model), rounded up to 256 bytes."""
    memory_constants.SLACK = dict.fromkeys(memory_plan.RUNTIMES, 0)
    slack = {}
    for runtime in memory_plan.RUNTIMES:
        worst = 0
        for model in slack_models():
            data = container.write(model)
            x = np.zeros(model.input.size, np.int8)
            plan = memory_plan.plan_container(data, "rp2350", runtime=runtime, word_bits=64)
            for placement in ("ram", "stream"):
                needed = plan.placements[placement].needed
                smallest = smallest_heap(data, x, placement, runtime, needed)
                worst = max(worst, smallest - needed)
        slack[runtime] = -(-(worst + SLACK_MARGIN) // 256) * 256
    return slack


def _family_module(backend, op, modules):
    """The module that runs op with backend, from the modules the VM had imported."""
    family = OPERATORS[op].family
    if backend == "viper" and f"viper_{family}" in modules:
        return f"viper_{family}"
    return f"python_{family}"


def _vm_version(vm: str) -> str:
    if vm == "wasm32":
        with tempfile.TemporaryDirectory(prefix="micronn-measure-") as scratch:
            return _vm(vm, "import sys\nprint(sys.version)\n", Path(scratch), Path(scratch))
    done = subprocess.run(
        [find_micropython(), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
    )
    return done.stdout


HEADERS = {
    "unix": (
        "the 64-bit MicroPython unix VM",
        "GC_BLOCK = {GC_BLOCK}  # bytes per GC block on the 64-bit VM (4 machine words)",
        "mean measured - predicted",
        "heap beyond the live peak: compiler, fragmentation",
    ),
    "wasm32": (
        "the 32-bit webassembly VM",
        "GC_BLOCK = {GC_BLOCK}  # bytes per GC block on a 32-bit VM or board (4 machine words)",
        f"largest measured - predicted + {UPPER_MARGIN}: an upper bound",
        "mpy: the 32-bit qemu board's (BOARD_SLACK_MPY); py: the 64-bit VM's",
    ),
}


def render(constants, vm: str = "unix") -> str:
    stamp = _vm_version(vm).strip()
    where, block, offsets, slack = HEADERS[vm]
    lines = [
        f'"""Heap costs of the device runtime itself, measured on {where}.',
        "",
        "Written by tools/measure_memory.py (see it for how each figure is measured); run it",
        "again when firmware/micronn or the VM changes. Used by memory_plan.py.",
        f"VM: {stamp}.",
        '"""',
        "",
        block.format(**constants),
        f"IMPORT = {constants['IMPORT']!r}",
        f"SCRIPT = {constants['SCRIPT']!r}  # the VM and simulate's runner before `import "
        "micronn`: in IMPORT, not micronn's",
        f"READER = {constants['READER']!r}",
        f"TABLE = {constants['TABLE']!r}  # base, per layer (of each op)",
        f"NET = {constants['NET']!r}  # the net's own objects",
        f"PLACED_LAYER = {constants['PLACED_LAYER']!r}  # a streamed or ROM layer's runner",
        f"STAGE_OFFSETS = {constants['STAGE_OFFSETS']!r}  # {offsets}",
        f"SLACK = {constants['SLACK']!r}  # {slack}",
        f"FRAGMENTATION = {constants.get('FRAGMENTATION', 0.05)!r}  # and this share of the peak "
        "(memory_plan.heap_needed)",
        *(
            [f"LAYER_MARGIN = {LAYER_MARGIN}  # bytes per layer of an upper bound"]
            if "LAYER_MARGIN" in constants
            else []
        ),
        *(
            [f"QSTR_MARGIN = {QSTR_MARGIN}  # names per stage of an upper bound"]
            if "QSTR_MARGIN" in constants
            else []
        ),
        f"NET_MODULE = {constants['NET_MODULE']!r}  # net.py, imported once the reader is dropped",
        f"EDGE_TABLE_MODULE = {constants['EDGE_TABLE_MODULE']!r}  # a model of several edges",
        f"NET_EDGES_MODULE = {constants['NET_EDGES_MODULE']!r}  # its network's module",
        f"BANDS_MODULE = {constants['BANDS_MODULE']!r}  # a model with a banded stage",
        "OP_MODULES = {",
    ]
    for backend, table in constants["OP_MODULES"].items():
        lines.append(f"    {backend!r}: {table!r},")
    lines.append("}")
    lines.append("RULES_MODULES = {  # op: the table's rules module it imports (not in rules.py)")
    for key, value in constants["RULES_MODULES"].items():
        lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    lines.append("MODULE_DEPS = {  # kernel module: the modules it imports (each counted once)")
    for key, value in sorted(constants["MODULE_DEPS"].items()):
        lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    lines.append("MODULES = {  # (backend, runtime form, module): heap bytes of its own import")
    for key, value in sorted(constants["MODULES"].items()):
        lines.append(f"    {key!r}: {value},")
    lines.append("}")
    lines.append("PLANS = {  # (backend, op): (base, per requantization channel)")
    for key, value in sorted(constants["PLANS"].items()):
        lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    lines.append(
        f"QSTR_POOL = {constants['QSTR_POOL']!r}  # name pools: names in the first, bytes per "
        "name, bytes of a header (micronn.qstr_pools)"
    )
    lines.append(
        f"QSTRS = {constants['QSTRS']!r}  # names interned by `import micronn` (the VM's and "
        "the runner's too), by the reader's modules"
    )
    lines.append("MODULE_QSTRS = {  # (backend, runtime form, module): names its import interns")
    for key, value in sorted(constants["MODULE_QSTRS"].items()):
        lines.append(f"    {key!r}: {value},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vm", choices=tuple(OUTPUTS), default="unix", help="which VM measures")
    parser.add_argument("--write", action="store_true", help="rewrite the VM's constants module")
    parser.add_argument(
        "--c-natmod",
        type=Path,
        help="measure only the c backend's figures (64-bit VM) with this x64 _micronn natmod "
        "(make natmod ARCH=x64 MPY_DIR=...) and keep every other figure",
    )
    args = parser.parse_args()
    if args.c_natmod:
        if args.vm != "unix":
            parser.error("--c-natmod measures on the 64-bit unix VM (--vm unix)")
        text = render(with_c(current_constants("unix"), measure_c(args.c_natmod)), "unix")
    else:
        kept = c_entries(current_constants(args.vm)) if args.vm == "unix" else {}
        constants = measure(args.vm)
        text = render(with_c(constants, kept) if kept else constants, args.vm)
    if args.write:
        output = OUTPUTS[args.vm]
        output.write_text(text)
        subprocess.run([sys.executable, "-m", "ruff", "format", str(output)], check=False)
        print(f"wrote {output}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
