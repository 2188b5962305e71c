# micronn bench: time predict on every backend the board (or the VM) has. Runs on MicroPython,
# sent through the raw REPL by micronn.bench, or run on the VM by `micronn simulate --time`,
# after a first line that sets BENCH = (model path, weights placement, seconds per backend).
# Prints one JSON line per backend: [name, us per predict, peak live heap, weights, heap total]
# or [name, error]. The peak is the largest gc.mem_alloc() after each stage of micronn.load and
# after a predict, each after a collection (what micronn simulate reports).
# ruff: noqa: F821 - BENCH is set by the line before this script
import gc
import json
import time
from array import array

import micronn
from micronn import backends


def _buffers(net):
    if hasattr(net, "inputs"):  # several inputs or outputs
        xs = tuple(bytearray(e.size) for e in net.inputs)
        ys = tuple(array("b", bytes(e.size)) for e in net.outputs)
        return xs if len(xs) > 1 else xs[0], ys if len(ys) > 1 else ys[0]
    return bytearray(len(net._x)), array("b", bytes(len(net._result)))


def _time(net, x, y, seconds):
    t0 = time.ticks_us()
    net.predict(x, y)
    one = max(time.ticks_diff(time.ticks_us(), t0), 1)
    count = min(max(int(seconds * 1e6 / one), 3), 2000)
    t0 = time.ticks_us()
    for _ in range(count):
        net.predict(x, y)
    return time.ticks_diff(time.ticks_us(), t0) / count


def _bench(path, weights, seconds, name, peak):
    def probe(stage):
        used = gc.mem_alloc()
        if used > peak[0]:
            peak[0] = used

    net = micronn.load(path, name, weights, probe=probe)
    x, y = _buffers(net)
    us = _time(net, x, y, seconds)
    gc.collect()
    probe("predict")
    placed = net.weights
    net.close()
    return us, placed


def main(path, weights, seconds):
    names = list(backends.available())
    if backends._ulab_present() and "ulab" not in names:
        names.append("ulab")
    for name in names:
        gc.collect()
        peak = [gc.mem_alloc()]
        try:
            us, placed = _bench(path, weights, seconds, name, peak)
        except Exception as error:  # MemoryError, an operator this backend lacks, ...
            print(json.dumps([name, type(error).__name__ + ": " + str(error)]))
            continue
        gc.collect()
        print(json.dumps([name, us, peak[0], placed, gc.mem_alloc() + gc.mem_free()]))


main(*BENCH)
