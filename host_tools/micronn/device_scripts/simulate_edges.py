# Runs on the MicroPython VM only, imported by simulate_runner.py for a model with several inputs
# or outputs. argv[7] and argv[8] are the item counts of its inputs and of its outputs,
# comma-separated. A row of the input file is the inputs' codes one after the other, a row of the
# output file the outputs'; predict takes a tuple of buffers for a side with several edges.
import sys


def sizes(text):
    return [int(item) for item in text.split(",")]


def run_edges(net, input_path, output_path, rows, stages, live_heap, watched_rows):
    """simulate_runner.run() for a model with several inputs or outputs (a generator, as
    live_heap is)."""
    xs = [bytearray(size) for size in sizes(sys.argv[7])]  # no temporary (simulate_runner.py)
    ys = [bytearray(size) for size in sizes(sys.argv[8])]
    x = xs[0] if len(xs) == 1 else tuple(xs)
    out = ys[0] if len(ys) == 1 else tuple(ys)
    stages["loaded"] = yield from live_heap()
    predicted = 0
    with open(input_path, "rb") as source, open(output_path, "wb") as sink:
        for row in range(rows):
            for buffer in xs:
                if source.readinto(buffer) != len(buffer):
                    raise ValueError("input file ended early")
            net.predict(x, out)
            for buffer in ys:
                sink.write(buffer)
            if row < watched_rows:
                predicted = max(predicted, (yield from live_heap()))
        stages["predict"] = max(predicted, (yield from live_heap()))
    return net.backend, net.weights, stages
