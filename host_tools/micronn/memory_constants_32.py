"""Heap costs of the device runtime itself, measured on the 32-bit webassembly VM.

Written by tools/measure_memory.py (see it for how each figure is measured); run it
again when firmware/micronn or the VM changes. Used by memory_plan.py.
VM: 3.4.0; MicroPython v1.29.0-6.gc763859f35 on 2026-08-25.
"""

GC_BLOCK = 16  # bytes per GC block on a 32-bit VM or board (4 machine words)
IMPORT = {"py": 48352, "mpy": 15648}
READER = {
    "py": {"reader": 0, "table": 0, "blocks": 0, "residue": 0},
    "mpy": {"reader": 13952, "blocks": 16816, "residue": 5136, "table": 22880},
}
TABLE = (-349, 617)  # base, per layer
NET = -729  # the net's own objects
PLACED_LAYER = 144  # a streamed or ROM layer's runner
STAGE_OFFSETS = {
    "py": {
        "import": 0,
        "reader": 176,
        "table": 1140,
        "blocks": 1700,
        "network": 2169,
        "loaded": 5597,
    },
    "mpy": {
        "import": 0,
        "reader": 2688,
        "table": 436,
        "blocks": 1812,
        "network": 3640,
        "loaded": 4669,
    },
}  # largest measured - predicted: an upper bound
SLACK = {
    "py": 54784,
    "mpy": 9984,
}  # the 64-bit VM's (this VM grows its heap instead of running out)
FRAGMENTATION = 0.05  # and this share of the peak (memory_plan.heap_needed)
EDGE_TABLE_MODULE = {"py": 1104, "mpy": 704}  # a model of several edges
NET_EDGES_MODULE = {"py": 4656, "mpy": 3808}  # its network's module
OP_MODULES = {
    "python": {
        "FULLY_CONNECTED": "python_dense",
        "CONV_2D": "python_conv",
        "DEPTHWISE_CONV_2D": "python_conv",
        "MAX_POOL_2D": "python_pool",
        "AVERAGE_POOL_2D": "python_pool",
        "MEAN": "python_pool",
        "ADD": "python_add",
        "LOGISTIC": "python_lut",
        "TANH": "python_lut",
        "SOFTMAX": "python_softmax",
    },
}
MODULE_DEPS = {  # kernel module: the modules it imports (each counted once)
    "python_add": ("fixedpoint",),
    "python_conv": ("fixedpoint", "window"),
    "python_dense": ("fixedpoint",),
    "python_lut": (),
    "python_pool": ("fixedpoint", "window"),
    "python_softmax": ("fixedpoint", "reciprocal"),
}
MODULES = {  # (backend, runtime form, module): heap bytes of its own import
    ("python", "mpy", "fixedpoint"): 1024,
    ("python", "mpy", "python_add"): 496,
    ("python", "mpy", "python_conv"): 1504,
    ("python", "mpy", "python_dense"): 1024,
    ("python", "mpy", "python_lut"): 432,
    ("python", "mpy", "python_pool"): 1312,
    ("python", "mpy", "python_softmax"): 1248,
    ("python", "mpy", "reciprocal"): 720,
    ("python", "mpy", "window"): 384,
    ("python", "py", "fixedpoint"): 1536,
    ("python", "py", "python_add"): 944,
    ("python", "py", "python_conv"): 1936,
    ("python", "py", "python_dense"): 1248,
    ("python", "py", "python_lut"): 528,
    ("python", "py", "python_pool"): 1760,
    ("python", "py", "python_softmax"): 2224,
    ("python", "py", "reciprocal"): 1680,
    ("python", "py", "window"): 448,
}
PLANS = {  # (backend, op): (base, per requantization channel)
    ("python", "ADD"): (353, 0),
    ("python", "AVERAGE_POOL_2D"): (193, 0),
    ("python", "CONV_2D"): (448, 2),
    ("python", "DEPTHWISE_CONV_2D"): (456, 2),
    ("python", "FULLY_CONNECTED"): (276, 2),
    ("python", "LOGISTIC"): (65, 0),
    ("python", "MAX_POOL_2D"): (193, 0),
    ("python", "MEAN"): (353, 0),
    ("python", "SOFTMAX"): (1409, 0),
    ("python", "TANH"): (65, 0),
}
