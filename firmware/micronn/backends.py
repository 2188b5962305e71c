"""Find the kernel module that runs each operator.

A kernel module serves one operator family and exposes
    prepare(op, params, tensors) -> plan    load time; may allocate and precompute
    run(plan, a, b, out)                    predict time; allocates nothing
op is the container.Layer (op.name, op.weight_bits, op.activation), params its int32
parameters in container order, tensors its tensors in container order (array('b') int8,
bytearray packed int4 / int2 weights, array('i') int32). a, b and out are memoryviews ('b')
onto the arena; b is None for one-input operators. Every backend gives exactly the same
integers; "auto" takes the fastest one this board can run, except ulab (NOT_AUTO).
"""

import sys

_PACKAGE = __name__.split(".")[0]


def _module(module_name):
    """The package's module module_name, or None when this board's micronn lacks it."""
    try:
        package = __import__(_PACKAGE + "." + module_name)
    except ImportError as error:
        if module_name not in str(error):
            raise  # the module exists but something it imports does not
        return None
    return getattr(package, module_name)


def _family_kernel(prefix, op_name):
    """The module prefix_<family> of op_name's kernel family (ops.py), else python_<family>;
    None for an unknown op or a board whose micronn has neither."""
    from .ops import family_of  # the op table, dropped with the reader once a model is loaded

    family = family_of(op_name)
    if family is None:
        return None
    kernel = _module(prefix + family) if prefix != "python_" else None
    return kernel if kernel is not None else _module("python_" + family)


def python_kernel(op_name):
    """The module that runs op_name, or None if this board's micronn has none."""
    return _family_kernel("python_", op_name)


def viper_kernel(op_name):
    """The viper module of op_name's family; the python module where there is none, or where
    the viper module lists the operators it runs (OPS) without op_name."""
    kernel = _family_kernel("viper_", op_name)
    runs = getattr(kernel, "OPS", None)
    return kernel if runs is None or op_name in runs else python_kernel(op_name)


def _drop(module):
    """Let the GC take a precompiled module that `import micronn` only probed (a .py module
    stays: compiling it again would cost more heap than keeping it)."""
    if not getattr(module, "__file__", ".py").endswith(".py"):
        name = module.__name__
        sys.modules.pop(name, None)
        package = sys.modules.get(_PACKAGE)
        if package is not None and hasattr(package, name.split(".")[-1]):
            delattr(package, name.split(".")[-1])


def _viper_present():
    """True when this firmware runs viper code (see viper_probe.py): a tiny module, so that
    `import micronn` stays cheap; the kernels are compiled by load() when a model needs them."""
    try:
        probe = __import__(_PACKAGE + ".viper_probe").viper_probe
    except (SyntaxError, ImportError, ValueError):
        return False
    return probe.works() == 1


def _ulab_present():
    """True when ulab's numpy (with dot) imports: the ulab backend runs FULLY_CONNECTED with it."""
    try:
        from ulab import numpy
    except ImportError:
        return False
    return hasattr(numpy, "dot") and hasattr(numpy, "frombuffer")


def ulab_kernel(op_name):
    """The ulab module of op_name's family (dense, conv, softmax); every other operator runs
    with its python module."""
    return _family_kernel("ulab_", op_name)


# The _micronn calling convention kernels_c.py speaks (ulab_ext/micronn_binding.c)
C_ABI_VERSION = 1


def _c_module_present():
    """True when the _micronn C module (ulab_ext/) imports and speaks kernels_c's convention;
    a loaded .mpy is let go again. kernels_c itself is imported only when a model loads with
    the c backend: compiling it from source here would cost `import micronn` heap on every
    board with _micronn."""
    try:
        import _micronn
    except ImportError:
        return False
    speaks = getattr(_micronn, "ABI_VERSION", None) == C_ABI_VERSION
    # kernels_c imports it again when a model loads with c; until then its native code (25-35
    # KB on a board that keeps native code in its heap) would cost every backend
    sys.modules.pop("_micronn", None)
    return speaks


def c_kernel(op_name):
    """The kernels_c object (prepare / run) that runs op_name through _micronn; the python
    module for an operator _micronn has no kernel for."""
    kernel = __import__(_PACKAGE + ".kernels_c").kernels_c.kernel(op_name)
    return kernel if kernel is not None else python_kernel(op_name)


def _always():
    return True


# name, probe, kernel finder, what to do when the probe fails; in order of preference for "auto"
BACKENDS = (
    (
        "c",
        _c_module_present,
        c_kernel,
        "backend 'c' needs the _micronn C module: build it into the firmware or copy "
        "_micronn.mpy to the board (docs/building.md)",
    ),
    (
        "viper",
        _viper_present,
        viper_kernel,
        "backend 'viper' needs MicroPython's native emitter, which this firmware lacks "
        "(CircuitPython has none); use 'auto' or 'python'",
    ),
    (
        "ulab",
        _ulab_present,
        ulab_kernel,
        "backend 'ulab' needs firmware with ulab (CircuitPython, OpenMV or a custom build); "
        "use 'auto' or 'python'",
    ),
    ("python", _always, python_kernel, ""),
)

# "auto" never picks these: ulab's predict allocates (ndarray temporaries), and the default
# keeps the promise that predict allocates nothing. They run when asked for by name.
NOT_AUTO = ("ulab",)

# The backends this board can run, fastest first (see available()).
AVAILABLE = tuple(entry[0] for entry in BACKENDS if entry[1]())


def available():
    """The backends this board can run, fastest first; AVAILABLE is updated to match.

    Only "c" can appear after `import micronn`: a _micronn.mpy copied to the board is found
    without a soft reset (one failed import while it is absent). The others are firmware."""
    global AVAILABLE
    if AVAILABLE[0] != "c" and _c_module_present():
        AVAILABLE = ("c",) + AVAILABLE
    return AVAILABLE


def _auto_choice(offered):
    """The fastest of offered that "auto" may pick (python always may)."""
    for name in offered:
        if name not in NOT_AUTO:
            return name


def select(name):
    """Return (backend name, kernel finder) for a name from available(), or "auto" (the
    fastest one outside NOT_AUTO).

    The finder maps an operator name to its kernel module, or to None when it has none.
    """
    offered = available()
    if name == "auto":
        name = _auto_choice(offered)
    for backend, _, finder, advice in BACKENDS:
        if backend == name:
            if name not in offered:
                raise ValueError(advice)
            return name, finder
    choices = ", ".join(offered)
    raise ValueError(f"unknown backend {name!r}; available on this board: auto, {choices}")
