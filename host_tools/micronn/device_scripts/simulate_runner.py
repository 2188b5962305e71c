# Runs on the MicroPython VM only (started by micronn.simulate), never under CPython.
# argv: MODEL INPUT OUTPUT ROWS BACKEND WEIGHTS [IN_SIZES OUT_SIZES]. Reads ROWS int8 input rows
# from INPUT, writes the int8 output rows to OUTPUT, and ends with one line the host parses, either
#   MICRONN-RESULT {"backend": "...", "weights": "...", "stages": {"import": N, ...}}
#   MICRONN-ERROR {"type": "ValueError", "message": "..."}
# stages: the live heap (gc.mem_alloc() right after gc.collect()) after `import micronn`, at the
# end of each stage of micronn.load ("table", "blocks": the reader's modules still loaded;
# "network"), once load has returned ("loaded") and the largest after the first predictions
# ("predict"); the host's peak is the largest of them (docs/memory.md). micropython.mem_peak()
# is no use here: it never subtracts objects the GC reclaims (it is the running total of every
# m_malloc minus the explicit m_free calls).
# A model with several inputs or outputs: IN_SIZES / OUT_SIZES are the item counts of its inputs
# and outputs, comma-separated; a row is the inputs' codes one after the other (the outputs' too),
# and predict takes a tuple of buffers for a side with several edges.
import gc
import json
import sys
from array import array

WATCHED_ROWS = 2  # rows after which the live heap is sampled (warm-up, then steady state)


def element_count(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def live_heap():
    """Bytes of heap in use by live objects (after a full collection)."""
    gc.collect()
    return gc.mem_alloc()


def run(model_path, input_path, output_path, rows, backend, weights, edges=None):
    import micronn

    stages = {"import": live_heap()}

    def probe(stage):
        stages[stage] = live_heap()

    net = micronn.load(model_path, backend=backend, weights=weights, probe=probe)
    if edges is not None:
        return run_edges(net, input_path, output_path, rows, stages, *edges)
    x = array("b", bytes(element_count(net.input_shape)))
    out = array("b", bytes(element_count(net.output_shape)))
    stages["loaded"] = live_heap()
    predicted = 0
    with open(input_path, "rb") as source, open(output_path, "wb") as sink:
        for row in range(rows):
            if source.readinto(x) != len(x):
                raise ValueError("input file ended early")
            net.predict(x, out)
            sink.write(out)
            if row < WATCHED_ROWS:
                predicted = max(predicted, live_heap())
        stages["predict"] = max(predicted, live_heap())
    return net.backend, net.weights, stages


def run_edges(net, input_path, output_path, rows, stages, in_sizes, out_sizes):
    """run() for a model with several inputs or outputs."""
    xs = [array("b", bytes(size)) for size in in_sizes]
    ys = [array("b", bytes(size)) for size in out_sizes]
    x = xs[0] if len(xs) == 1 else tuple(xs)
    out = ys[0] if len(ys) == 1 else tuple(ys)
    stages["loaded"] = live_heap()
    predicted = 0
    with open(input_path, "rb") as source, open(output_path, "wb") as sink:
        for row in range(rows):
            for buffer in xs:
                if source.readinto(buffer) != len(buffer):
                    raise ValueError("input file ended early")
            net.predict(x, out)
            for buffer in ys:
                sink.write(buffer)
            if row < WATCHED_ROWS:
                predicted = max(predicted, live_heap())
        stages["predict"] = max(predicted, live_heap())
    return net.backend, net.weights, stages


def sizes(text):
    return [int(item) for item in text.split(",")]


def main():
    model_path, input_path, output_path, rows, backend = sys.argv[1:6]
    weights = sys.argv[6]
    edges = (sizes(sys.argv[7]), sizes(sys.argv[8])) if len(sys.argv) > 8 else None
    try:
        used, placed, stages = run(
            model_path, input_path, output_path, int(rows), backend, weights, edges
        )
    except Exception as error:  # every VM error is reported to the host
        report = {"type": type(error).__name__, "message": str(error)}
        print("MICRONN-ERROR " + json.dumps(report))
        sys.exit(1)
    result = {"backend": used, "weights": placed, "stages": stages}
    print("MICRONN-RESULT " + json.dumps(result))


main()
