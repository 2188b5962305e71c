"""Run models on the MicroPython VM with chosen kernel backends and check every one exactly.

One VM process per call: each model is loaded once per backend, its rows go through predict
(bytes, array, memoryview, list; with and without `out`), the outputs must equal
reference.run's, and two more predicts after warm-up must allocate nothing under
micropython.heap_lock(). The VM also reports which module runs each layer.
"""

import json

import numpy as np
import vm

from micronn import container, reference

# MicroPython: modules(net, finder) names what runs each layer of net: its kernel module
# (python_dense, viper_conv, ...), or "_micronn.<function>" for a layer the c backend runs in C.
KERNEL_NAMES = """
from micronn import backends, ops
try:
    import _micronn
except ImportError:
    _micronn = None


def c_function(plan):
    if _micronn is None or type(plan) is not tuple or not plan:
        return None
    for name in dir(_micronn):
        function = getattr(_micronn, name)
        if callable(function) and plan[0] is function:
            return name
    return None


def modules(net, finder):
    names = []
    for step in net._plan:
        function = c_function(step[1])
        if function is not None:
            names.append("_micronn." + function)
            continue
        for module in set(finder(entry[1]) for entry in ops.entries()):
            if module is not None and step[0] is module.run:
                names.append(module.__name__.split(".")[-1])
                break
        else:
            names.append("?")
    return names
"""

BACKENDS_SCRIPT = (
    vm.PREDICT_HELPERS
    + KERNEL_NAMES
    + """


wanted = {backends!r}
print(json.dumps(["available", list(backends.AVAILABLE)]))
for index in range({count}):
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    for backend in wanted:
        if backend not in backends.AVAILABLE:
            continue
        net = micronn.load("m%d.mnq" % index, backend=backend, **{options!r})
        n = len(net._x)
        outputs = bytearray()
        for r in range(len(rows) // n):
            y = predict(net, rows[r * n:(r + 1) * n], r % 4)
            outputs.extend(bytes(y) if type(y) is bytearray else bytes(array("b", y)))
        with open("y%d-%s.bin" % (index, backend), "wb") as f:
            f.write(outputs)
        locked = allocation_free(net, rows[:n])
        finder = backends.select(backend)[1]
        placed = getattr(net, "weights", "ram")
        print(json.dumps([index, backend, net.backend, locked, modules(net, finder), placed]))
        net = None
"""
)


# ulab 6.12 allocates in every dot and in-place operator (docs/ulab.md): its predict cannot run
# under heap_lock. Should that change, the check below fails and the docs must say so.
ALLOCATING_BACKENDS = ("ulab",)


def run_backends(
    models, inputs, folder, backends=("viper",), runner=None, heapsize="2M", options=None
):
    """Check every model with every backend of `backends` that the VM offers; `options` are
    more keyword arguments of micronn.load (e.g. the weight placement). Predict must allocate
    nothing under heap_lock, except with ALLOCATING_BACKENDS, which must allocate in some model.

    Returns (available backends on the VM, {(index, backend): [module per layer, or
    "_micronn.<function>" for a layer run in C]}, {(index, backend): the net's weight placement}).
    """
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    script = BACKENDS_SCRIPT.format(
        backends=tuple(backends), count=len(models), options=dict(options or {})
    )
    lines = [
        json.loads(line)
        for line in (runner or vm.run)(script, cwd=folder, heapsize=heapsize).splitlines()
    ]
    assert lines[0][0] == "available", lines[0]
    available = lines[0][1]
    modules, placements = {}, {}
    allocating = {}  # backend -> per model: did predict allocate (models without ulab layers
    # run python kernels only and do not)
    for index, backend, used, locked, names, placed in lines[1:]:
        placements[(index, backend)] = placed
        assert used == backend, (index, backend, used)
        if backend in ALLOCATING_BACKENDS:
            allocating.setdefault(backend, []).append(not locked)
        else:
            assert locked, f"model {index}, backend {backend}: predict allocated under heap_lock"
        modules[(index, backend)] = names
        model, x = models[index], inputs[index]
        got = np.frombuffer((folder / f"y{index}-{backend}.bin").read_bytes(), np.int8)
        expected = reference.run(model, x)
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"model {index}, backend {backend}"
        )
    ran = {backend for _, backend in modules}
    assert ran == set(backends) & set(available), (ran, available)
    assert len(modules) == len(models) * len(ran)
    for backend, allocated in allocating.items():
        assert any(allocated), f"{backend} never allocated under heap_lock; update docs/ulab.md"
    return available, modules, placements
