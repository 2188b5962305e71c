# Runs on the MicroPython VM only (started by micronn.simulate), never under CPython.
# argv: MODEL INPUT OUTPUT ROWS BACKEND WEIGHTS. Reads ROWS int8 input rows from INPUT, writes
# the int8 output rows to OUTPUT, and ends with one line the host parses, either
#   MICRONN-RESULT {"backend": "...", "weights": "...", "stages": {"import": N, ...}}
#   MICRONN-ERROR {"type": "ValueError", "message": "..."}
# stages: the live heap (gc.mem_alloc() right after gc.collect()) before ("script") and after
# `import micronn`, at the end of each stage of micronn.load ("table", "blocks": the reader's
# modules still loaded; "network"), once load has returned ("loaded") and the largest after the
# first predictions ("predict"); the host's peak is the largest of them (docs/memory.md). The run is
# a generator that yields where it measures: on the webassembly port gc.collect() only collects once
# control is back at the top level, so wasm_vm.mjs resumes it from there (TOP_LEVEL_STEP); the unix
# port runs it through at once. There the stages inside micronn.load come from micronn.loading
# (load() one stage at a time, imported only for this).
# Where the VM has micropython.qstr_info, each stage also prints "MICRONN-QSTRS STAGE" and the
# VM's qstr line after it: the count of names interned, whose pools the planner counts
# (micronn.qstr_pools).
# micropython.mem_peak() is no use here: it never subtracts objects the GC reclaims (it is the
# running total of every m_malloc minus the explicit m_free calls).
# A model with several inputs or outputs gets two more arguments, IN_SIZES OUT_SIZES (item counts,
# comma-separated); simulate_edges.py, beside this script, then runs it (compiled only then: the
# VM compiles this script in the heap it measures).
import gc
import json
import sys

import micropython

WATCHED_ROWS = 2  # rows after which the live heap is sampled (warm-up, then steady state)
TOP_LEVEL = sys.platform == "webassembly"  # its collections wait for the top level


def element_count(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


QSTR_INFO = getattr(micropython, "qstr_info", None)
HELPER = [0]  # bytes of the measuring's own modules (micronn.loading), not a board's


def mark(stages, stage, value):
    stages[stage] = value
    if QSTR_INFO is not None:
        print("MICRONN-QSTRS", stage)
        QSTR_INFO()


def live():
    gc.collect()
    return gc.mem_alloc() - HELPER[0]


def live_heap():
    """Bytes of heap in use by live objects (after a full collection): `yield from live_heap()`."""
    gc.collect()
    if TOP_LEVEL:
        yield  # wasm_vm.mjs resumes the run once the port has collected
    return gc.mem_alloc() - HELPER[0]


def load_stages(model_path, backend, weights, stages):
    """micronn.load, the live heap at the end of each stage in `stages`; on the webassembly port
    through micronn.loading, load() one stage at a time (its import is not counted)."""
    import micronn

    if not TOP_LEVEL:
        return micronn.load(model_path, backend, weights, probe=lambda s: mark(stages, s, live()))
    base = yield from live_heap()
    from micronn.loading import loading

    HELPER[0] = (yield from live_heap()) - base
    steps = loading(model_path, backend=backend, weights=weights)
    while True:
        try:
            stage = next(steps)
        except StopIteration as done:
            return done.value
        mark(stages, stage, (yield from live_heap()))


def run(model_path, input_path, output_path, rows, backend, weights):
    stages = {}
    mark(stages, "script", (yield from live_heap()))  # the VM and this script, before micronn
    import micronn  # noqa: F401

    mark(stages, "import", (yield from live_heap()))
    net = yield from load_stages(model_path, backend, weights, stages)
    if len(sys.argv) > 8:
        from simulate_edges import run_edges

        return (
            yield from run_edges(
                net, input_path, output_path, rows, stages, live_heap, WATCHED_ROWS
            )
        )
    # the rows go straight into the net's input tensor; out is a bytearray made without a
    # temporary bytes: the generator's frame would keep that alive in a stale stack slot, and
    # the stages would count it
    x = net.input
    out = bytearray(element_count(net.output_shape))
    mark(stages, "loaded", (yield from live_heap()))
    predicted = 0
    with open(input_path, "rb") as source, open(output_path, "wb") as sink:
        for row in range(rows):
            if source.readinto(x) != len(x):
                raise ValueError("input file ended early")
            net.predict(x, out)
            sink.write(out)
            if row < WATCHED_ROWS:
                predicted = max(predicted, (yield from live_heap()))
        stages["predict"] = max(predicted, (yield from live_heap()))
    return net.backend, net.weights, stages


def main():
    model_path, input_path, output_path, rows, backend = sys.argv[1:6]
    weights = sys.argv[6]
    try:
        used, placed, stages = yield from run(
            model_path, input_path, output_path, int(rows), backend, weights
        )
    except Exception as error:  # every VM error is reported to the host
        report = {"type": type(error).__name__, "message": str(error)}
        print("MICRONN-ERROR " + json.dumps(report))
        sys.exit(1)
    result = {"backend": used, "weights": placed, "stages": stages}
    print("MICRONN-RESULT " + json.dumps(result))


STEPS = main()
if TOP_LEVEL:
    TOP_LEVEL_STEP = STEPS.send
else:
    for _ in STEPS:
        pass
