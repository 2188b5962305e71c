"""MicroPython's viper emitter, emulated in CPython as it behaves on a 32-bit board, with every
integer checked.

On a board a viper int is a 32-bit machine word that wraps silently; the unix VM's words are
64-bit, so an overflow there would go unseen. load_package() imports firmware/micronn under
another name with a stand-in `micropython` module whose `viper` decorator runs each function's
own code (same file, same lines) under the board's rules:

- every `int` argument, and every value computed from one, is a test_device_int31.Small: an int
  whose arithmetic fails the test as soon as a result leaves [-2**30, 2**30 - 1]. That is
  stricter than a 32-bit word, and it is the design rule of the viper kernels (their values
  are the python kernels' own, plus 16-bit halves);
- ptr8 / ptr16 loads are unsigned, ptr32 loads are SIGNED (a 32-bit board; the VM gives
  unsigned, which the VM tests cover); stores keep the low 8 / 16 / 32 bits; an index outside
  the buffer fails (a board would read or write past it);
- uint(ptr) + n and ptrN(address) are pointer arithmetic on the same buffer;
- a value returned as `int` must be a small int (a board would allocate a long int).
"""

import builtins
import importlib
import importlib.util
import inspect
import sys
import types

from device_package import FIRMWARE
from test_device_int31 import Small

NAME = "micronn_viper32"


class Address:
    """uint(ptr): a byte address inside one buffer."""

    def __init__(self, raw, offset):
        self.raw = raw
        self.offset = offset

    def __add__(self, other):
        return Address(self.raw, self.offset + int(other))

    __radd__ = __add__

    def _offset_in(self, other):
        if not isinstance(other, Address) or other.raw is not self.raw:
            raise TypeError("viper addresses compared across buffers")
        return other.offset

    def __lt__(self, other):
        return self.offset < self._offset_in(other)


class Pointer:
    width = 1
    signed = False

    def __init__(self, target):
        if isinstance(target, Address):
            self.raw, self.offset = target.raw, target.offset
        elif isinstance(target, Pointer):
            self.raw, self.offset = target.raw, target.offset
        else:
            self.raw, self.offset = memoryview(target).cast("B"), 0

    def _at(self, index):
        start = self.offset + int(index) * self.width
        if int(index) < 0 or start < 0 or start + self.width > len(self.raw):
            raise IndexError(f"viper {type(self).__name__}[{int(index)}] is outside its buffer")
        return start

    def __getitem__(self, index):
        start = self._at(index)
        value = int.from_bytes(self.raw[start : start + self.width], "little", signed=self.signed)
        return Small(value)

    def __setitem__(self, index, value):
        start = self._at(index)
        bits = 8 * self.width
        self.raw[start : start + self.width] = (int(value) & ((1 << bits) - 1)).to_bytes(
            self.width, "little"
        )


class Ptr8(Pointer):
    width = 1


class Ptr16(Pointer):
    width = 2


class Ptr32(Pointer):
    width = 4
    signed = True  # a 32-bit board: the loaded word is a signed int


def _uint(value):
    if isinstance(value, Pointer):
        return Address(value.raw, value.offset)
    return Small(int(value))


def _int(value):
    return Small(int(value))


def _range(*bounds):
    return (Small(v) for v in builtins.range(*(int(b) for b in bounds)))


VIPER_NAMES = {"ptr8": Ptr8, "ptr16": Ptr16, "ptr32": Ptr32, "uint": _uint}


def _convert(value, annotation):
    if annotation is int:
        return Small(int(value))
    if isinstance(annotation, type) and issubclass(annotation, Pointer):
        return annotation(value)
    return value


def viper(function):
    """Run `function` as viper would on a 32-bit board (see the module docstring)."""
    signature = inspect.signature(function)
    annotations = [p.annotation for p in signature.parameters.values()]
    emulated = []

    def call(*args):
        if not emulated:  # the module is complete by the first call: take its globals then
            namespace = dict(function.__globals__, int=_int, range=_range, **VIPER_NAMES)
            emulated.append(types.FunctionType(function.__code__, namespace, function.__name__))
        converted = [_convert(a, t) for a, t in zip(args, annotations, strict=True)]
        result = emulated[0](*converted)
        if signature.return_annotation is int:
            return int(Small(int(result)))
        return result

    call.emulated_viper = True
    return call


def _stand_in_micropython():
    module = types.ModuleType("micropython")
    module.viper = viper
    module.native = lambda function: function
    module.const = lambda value: value
    return module


def load_package():
    """firmware/micronn as the package `micronn_viper32`, its viper code emulated."""
    if NAME in sys.modules:
        return sys.modules[NAME]
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = _stand_in_micropython()
    for name, value in VIPER_NAMES.items():  # annotations are evaluated at def time
        setattr(builtins, name, value)
    try:
        spec = importlib.util.spec_from_file_location(
            NAME, FIRMWARE / "__init__.py", submodule_search_locations=[str(FIRMWARE)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = package
        spec.loader.exec_module(package)
        for path in sorted(FIRMWARE.glob("viper_*.py")):
            importlib.import_module(f"{NAME}.{path.stem}")
    finally:
        for name in VIPER_NAMES:
            delattr(builtins, name)
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return package
