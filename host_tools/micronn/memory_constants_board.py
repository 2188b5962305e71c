"""Heap costs measured on a 32-bit board that keeps native code in its GC heap (the qemu
board of docs/flashing.md, 'Testing on a board': MPS2-AN385, Cortex-M3, .mpy arch
armv7em), the runtime precompiled as micronn flash installs it. Written by
tools/board_memory.py --modules --viper-arch armv6m --write; run it again when a viper
module changes (docs/memory.md, 'On a board').

VIPER_OBJECTS: per viper kernel module, the heap of its own import (over `import
micronn`, the op table and the modules it imports, as tools/measure_memory.py measures
MODULES) minus its .mpy bytes for that arch (native_sizes.py): what it keeps beside its
code; the largest over the archs measured (the board runs armv6m code too) and the
repeats, + 128 B (measurements of one module, a soft reset apart, differed
by up to 128 B).
On a board of an arch in memory_plan.HEAP_NATIVE_ARCHS a viper module costs its .mpy
bytes for that arch plus this."""

MEASURED_ARCHS = ("armv7em", "armv6m")
VIPER_OBJECTS = {
    "viper_add": 327,
    "viper_broadcast": 329,
    "viper_conv": 492,
    "viper_dense": 279,
    "viper_lut": 404,
    "viper_pool": 353,
    "viper_reduce": 319,
    "viper_requant": 319,
    "viper_resize": 329,
    "viper_softmax": 447,
}
