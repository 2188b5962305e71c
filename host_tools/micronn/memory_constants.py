"""Heap costs of the device runtime itself, measured on the MicroPython VM.

Written by tools/measure_memory.py (see it for how each figure is measured); run it
again when firmware/micronn or the VM changes. Used by memory_plan.py.
VM: 3.4.0; MicroPython 9458e3a23f on 2026-07-05.
"""

GC_BLOCK = 32  # bytes per GC block on the 64-bit VM (4 machine words)
IMPORT = {"py": 52992, "mpy": 21888}
READER = {
    "py": {"reader": 0, "table": 0, "blocks": 0, "residue": 0},
    "mpy": {"reader": 20160, "blocks": 20928, "residue": 6752, "table": 28832},
}
TABLE = (1500, 1005)  # base, per layer
NET = 988  # the net's own objects
PLACED_LAYER = 288  # a streamed or ROM layer's runner
STAGE_OFFSETS = {
    "py": {
        "import": -32,
        "reader": 384,
        "table": -246,
        "blocks": -822,
        "network": 128,
        "loaded": 981,
    },
    "mpy": {
        "import": 0,
        "reader": 75,
        "table": -1878,
        "blocks": 1338,
        "network": 2277,
        "loaded": -5,
    },
}  # mean measured - predicted
SLACK = {"py": 54784, "mpy": 9984}  # heap beyond the live peak: compiler, fragmentation
FRAGMENTATION = 0.05  # and this share of the peak (memory_plan.heap_needed)
EDGE_TABLE_MODULE = {"py": 896, "mpy": 1472}  # edge_table.py: a model of several inputs/outputs
NET_EDGES_MODULE = {"py": 5152, "mpy": 5120}  # net_edges.py: its network
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
    "viper": {
        "FULLY_CONNECTED": "viper_dense",
        "CONV_2D": "viper_conv",
        "DEPTHWISE_CONV_2D": "viper_conv",
        "MAX_POOL_2D": "viper_pool",
        "AVERAGE_POOL_2D": "viper_pool",
        "MEAN": "viper_pool",
        "ADD": "viper_add",
        "LOGISTIC": "viper_lut",
        "TANH": "viper_lut",
        "SOFTMAX": "viper_softmax",
    },
}
MODULES = {  # (backend, runtime form, module): heap bytes of its import
    ("python", "mpy", "python_add"): 2176,
    ("python", "mpy", "python_conv"): 3520,
    ("python", "mpy", "python_dense"): 2784,
    ("python", "mpy", "python_lut"): 576,
    ("python", "mpy", "python_pool"): 3680,
    ("python", "mpy", "python_softmax"): 4160,
    ("python", "py", "python_add"): 2080,
    ("python", "py", "python_conv"): 3456,
    ("python", "py", "python_dense"): 2688,
    ("python", "py", "python_lut"): 544,
    ("python", "py", "python_pool"): 3552,
    ("python", "py", "python_softmax"): 3808,
    ("viper", "mpy", "viper_add"): 2848,
    ("viper", "mpy", "viper_conv"): 4352,
    ("viper", "mpy", "viper_dense"): 3072,
    ("viper", "mpy", "viper_lut"): 1056,
    ("viper", "mpy", "viper_pool"): 3968,
    ("viper", "mpy", "viper_softmax"): 4928,
    ("viper", "py", "viper_add"): 2816,
    ("viper", "py", "viper_conv"): 4320,
    ("viper", "py", "viper_dense"): 3040,
    ("viper", "py", "viper_lut"): 992,
    ("viper", "py", "viper_pool"): 4032,
    ("viper", "py", "viper_softmax"): 4736,
}
PLANS = {  # (backend, op): (base, per requantization channel)
    ("python", "ADD"): (724, 0),
    ("python", "AVERAGE_POOL_2D"): (404, 0),
    ("python", "CONV_2D"): (922, 3),
    ("python", "DEPTHWISE_CONV_2D"): (938, 3),
    ("python", "FULLY_CONNECTED"): (538, 4),
    ("python", "LOGISTIC"): (148, 0),
    ("python", "MAX_POOL_2D"): (404, 0),
    ("python", "MEAN"): (724, 0),
    ("python", "SOFTMAX"): (1556, 0),
    ("python", "TANH"): (148, 0),
    ("viper", "ADD"): (310, 0),
    ("viper", "AVERAGE_POOL_2D"): (182, 0),
    ("viper", "CONV_2D"): (781, -2),
    ("viper", "DEPTHWISE_CONV_2D"): (797, -2),
    ("viper", "FULLY_CONNECTED"): (223, 2),
    ("viper", "LOGISTIC"): (182, 0),
    ("viper", "MAX_POOL_2D"): (182, 0),
    ("viper", "MEAN"): (438, 0),
    ("viper", "SOFTMAX"): (1590, 0),
    ("viper", "TANH"): (182, 0),
}
