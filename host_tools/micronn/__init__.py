"""micronn host tools: quantize, convert and simulate networks for MicroPython boards."""

__version__ = "0.1.0"

from micronn.convert import convert, convert_graph, convert_sklearn  # noqa: E402
from micronn.quantize import dequantize, quantize  # noqa: E402

__all__ = [
    "convert",
    "convert_graph",
    "convert_sklearn",
    "dequantize",
    "quantize",
    "__version__",
]
