"""The operators, one module each (or one per family sharing a kernel): the registry.

Each module ends with `OPERATORS = (Operator(...), ...)` (ops/operator.py): spec, checks, output
shape, accumulator bound and numpy reference. The tables everything else uses are built here
from those modules; nothing lists the operators by hand. docs/adding-an-operator.md walks
through adding one.
"""

import importlib
import pkgutil

from micronn.ops.operator import Operator


def _discover() -> dict:
    found = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for operator in getattr(module, "OPERATORS", ()):
            if operator.name in found:
                raise ValueError(f"operator {operator.name} is defined twice")
            found[operator.name] = operator
    return dict(sorted(found.items(), key=lambda item: item[1].code))


OPERATORS: dict[str, Operator] = _discover()
BY_CODE = {operator.code: operator for operator in OPERATORS.values()}
if len(BY_CODE) != len(OPERATORS):
    raise ValueError("two operators share a container code")
# operator name -> numpy reference evaluate(layer, inputs, out_shape)
KERNELS = {name: operator.evaluate for name, operator in OPERATORS.items()}
