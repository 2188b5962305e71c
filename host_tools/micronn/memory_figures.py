"""Which measured figures plan a backend on a word size (memory_plan.figures).

memory_constants.py is measured on the 64-bit unix VM (python, viper, c), memory_constants_32.py
on the 32-bit webassembly VM, which runs only the python backend. For viper and c on 32 bits the
plan takes the 32-bit figures for all that the backends share (the package, the reader, the
table, the net's objects, and the python modules their kernels import: fixedpoint, window,
python_softmax, ...) and the 64-bit figures for what only that backend has: its kernel modules
(viper_*, kernels_c, the natmod's objects) and its prepared plans. Those are the same objects
with 8-byte words in 32-byte GC blocks, so an upper bound of their size on a 32-bit board. The
native code itself, which no VM figure holds, is memory_plan.native_heap_bytes. On a board that
keeps native code in its heap, a precompiled viper module's objects beside its code are those
measured on such a board (memory_constants_board.VIPER_OBJECTS). Checked on the 32-bit qemu
board (tests/test_board.py, docs/memory.md "On a board").
"""

from types import SimpleNamespace

from micronn import memory_constants, memory_constants_32
from micronn.memory_constants_board import VIPER_OBJECTS

# the runtime forms (memory_plan.RUNTIMES) of .mpy files, on the filesystem or in a ROMFS image:
# load() imports the reader when it needs it and then drops it
PRECOMPILED = ("mpy", "romfs")

FIGURES = {64: memory_constants, 32: memory_constants_32}  # word bits -> measured constants


def _merged(shared, own, backend: str, code_in_heap: bool) -> SimpleNamespace:
    """`shared`'s figures, with `backend`'s kernel modules, their imports and plans from `own`:
    a module `shared` measured for python (the same module, imported by the backend's kernels)
    keeps its `shared` figure; with `code_in_heap`, a precompiled viper module's the board's."""
    names = {name: getattr(shared, name) for name in dir(shared) if name.isupper()}
    modules = dict(shared.MODULES)
    for (kind, runtime, module), size in own.MODULES.items():
        if kind == backend:
            modules[kind, runtime, module] = shared.MODULES.get(("python", runtime, module), size)
    if code_in_heap and backend == "viper":
        for runtime in PRECOMPILED:  # native code is copied to RAM from a ROMFS .mpy too
            modules.update({("viper", runtime, n): size for n, size in VIPER_OBJECTS.items()})
    plans = {key: value for key, value in own.PLANS.items() if key[0] == backend}
    counted = dict(getattr(shared, "MODULE_QSTRS", {}))  # names are the same on any word size
    for key, count in getattr(own, "MODULE_QSTRS", {}).items():
        if key[0] == backend:
            counted.setdefault(key, count)
    names.update(
        MODULE_QSTRS=counted,
        OP_MODULES={**shared.OP_MODULES, backend: own.OP_MODULES[backend]},
        MODULES=modules,
        MODULE_DEPS={**shared.MODULE_DEPS, **own.MODULE_DEPS},
        PLANS={**shared.PLANS, **plans},
    )
    return SimpleNamespace(**names)


def figures(word_bits: int, backend: str = "python", code_in_heap: bool = False):
    """The measured constants for a VM or board of `word_bits`, for `backend`; on 32 bits a
    backend the 32-bit VM lacks gets the 32-bit figures with its own parts from the 64-bit VM.
    code_in_heap: the board keeps native code in its GC heap (memory_plan.HEAP_NATIVE_ARCHS)."""
    if word_bits not in FIGURES:
        raise ValueError(f"no memory figures for {word_bits}-bit words; measured: 64, 32")
    chosen = FIGURES[word_bits]
    if backend in chosen.OP_MODULES or backend not in memory_constants.OP_MODULES:
        return chosen
    # made afresh each time: tools/measure_memory.py edits the figures it re-measures
    return _merged(chosen, memory_constants, backend, code_in_heap)
