"""micronn on the board: load a .mnq model and run integer inference.

    import micronn
    net = micronn.load("model.mnq")
    y = net.predict(x)          # x: int8 codes (array('b'), bytes, ...) or floats

See docs/device-api.md.
"""

from . import backends, container
from .net import Net

__version__ = "0.1.0"


def load(path, backend="auto"):
    """Read and check the model at `path` (or an open binary stream); return a Net.

    backend: "auto" (the fastest available) or a name from micronn.backends.AVAILABLE.
    Raises ValueError naming the problem for a bad file or an unknown backend.
    """
    name, kernels = backends.select(backend)
    if hasattr(path, "readinto"):
        model = container.read(path)
    else:
        with open(path, "rb") as stream:
            model = container.read(stream, path)
    return Net(model, kernels, name)
