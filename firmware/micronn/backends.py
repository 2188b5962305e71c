"""Find the kernel module that runs each operator.

A kernel module serves one operator family and exposes
    prepare(op, params, tensors) -> plan    load time; may allocate and precompute
    run(plan, a, b, out)                    predict time; allocates nothing
op is the container.Layer (op.name, op.weight_bits, op.activation), params its int32
parameters in container order, tensors its tensors in container order (array('b') int8,
bytearray packed int4 / int2 weights, array('i') int32). a, b and out are memoryviews ('b')
onto the arena; b is None for one-input operators. Every backend gives exactly the same
integers; "auto" takes the fastest one this board can run.
"""

# In order of preference for "auto".
AVAILABLE = ("python",)

# Operator name -> module of this package that runs it with the "python" backend.
KERNEL_MODULES = {
    "FULLY_CONNECTED": "kernels_dense",
    "CONV_2D": "kernels_conv",
    "DEPTHWISE_CONV_2D": "kernels_conv",
    "MAX_POOL_2D": "kernels_pool",
    "AVERAGE_POOL_2D": "kernels_pool",
    "MEAN": "kernels_pool",
    "ADD": "kernels_add",
    "LOGISTIC": "kernels_lut",
    "TANH": "kernels_lut",
    "SOFTMAX": "kernels_softmax",
}

_PACKAGE = __name__.split(".")[0]


def python_kernel(op_name):
    """The module that runs op_name, or None if this board's micronn has none."""
    module_name = KERNEL_MODULES.get(op_name)
    if module_name is None:
        return None
    try:
        package = __import__(_PACKAGE + "." + module_name)
    except ImportError as error:
        if module_name not in str(error):
            raise  # the module exists but something it imports does not
        return None
    return getattr(package, module_name)


def select(name):
    """Return (backend name, kernel finder) for a name from AVAILABLE, or "auto".

    The finder maps an operator name to its kernel module, or to None when it has none.
    """
    if name == "auto" or name == "python":
        return "python", python_kernel
    choices = ", ".join(AVAILABLE)
    raise ValueError(f"unknown backend {name!r}; available on this board: auto, {choices}")
