"""Choose the kernel module that runs the layers.

A backend is a module with `prepare(layer, row) -> params` (load time) and
`fully_connected(params, x, y)` (predict time, allocation-free). Every backend gives exactly
the same integers; "auto" takes the fastest one this board can run.
"""

# In order of preference for "auto".
AVAILABLE = ("python",)


def _import(name):
    if name == "python":
        from . import kernels_python

        return kernels_python
    return None


def select(name):
    """Return (backend name, kernel module) for a name from AVAILABLE, or "auto"."""
    names = AVAILABLE if name == "auto" else (name,)
    for candidate in names:
        module = _import(candidate)
        if module is not None:
            return candidate, module
    choices = ", ".join(AVAILABLE)
    raise ValueError(f"unknown backend {name!r}; available on this board: auto, {choices}")
