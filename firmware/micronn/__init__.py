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
    Raises ValueError naming the problem for a bad file, an operator this runtime cannot run
    or an unknown backend.
    """
    name, kernel_for = backends.select(backend)
    if hasattr(path, "readinto"):
        source = "model"
        model = container.read(path)
    else:
        source = path
        with open(path, "rb") as stream:
            model = container.read(stream, path)
    kernels = []
    for index in range(len(model.layers)):
        op = model.layers[index].name
        kernel = kernel_for(op)
        if kernel is None:
            raise ValueError(
                f"{source}: layer {index} uses operator {op} which this runtime does not "
                f"support; {container.UPDATE}"
            )
        kernels.append(kernel)
    return Net(model, kernels, name)
