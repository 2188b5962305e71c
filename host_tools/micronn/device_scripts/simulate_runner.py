# Runs on the MicroPython VM only (started by micronn.simulate), never under CPython.
# argv: MODEL INPUT OUTPUT ROWS BACKEND. Reads ROWS int8 input rows from INPUT, writes the
# int8 output rows to OUTPUT, and ends with one line the host parses, either
#   MICRONN-RESULT {"peak_heap": N, "backend": "..."}
#   MICRONN-ERROR {"type": "ValueError", "message": "..."}
# peak_heap is the largest live heap (gc.mem_alloc() right after gc.collect()) seen after
# loading and after the first predictions: micropython.mem_peak() is no use here, because it
# never subtracts objects the GC reclaims.
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


def run(model_path, input_path, output_path, rows, backend):
    import micronn

    if backend == "auto":
        net = micronn.load(model_path)
    else:
        net = micronn.load(model_path, backend=backend)
    x = array("b", bytes(element_count(net.input_shape)))
    out = array("b", bytes(element_count(net.output_shape)))
    peak = live_heap()
    with open(input_path, "rb") as source, open(output_path, "wb") as sink:
        for row in range(rows):
            if source.readinto(x) != len(x):
                raise ValueError("input file ended early")
            net.predict(x, out)
            sink.write(out)
            if row < WATCHED_ROWS:
                peak = max(peak, live_heap())
        peak = max(peak, live_heap())
    return net.backend, peak


def main():
    model_path, input_path, output_path, rows, backend = sys.argv[1:6]
    try:
        used, peak = run(model_path, input_path, output_path, int(rows), backend)
    except Exception as error:  # every VM error is reported to the host
        report = {"type": type(error).__name__, "message": str(error)}
        print("MICRONN-ERROR " + json.dumps(report))
        sys.exit(1)
    print("MICRONN-RESULT " + json.dumps({"peak_heap": peak, "backend": used}))


main()
