"""Heap costs of the device runtime itself, measured on the MicroPython VM.

Written by tools/measure_memory.py (see it for how each figure is measured); run it
again when firmware/micronn or the VM changes. Used by memory_plan.py.
VM: 3.4.0; MicroPython 9458e3a23f on 2026-07-05.
"""

GC_BLOCK = 32  # bytes per GC block on the 64-bit VM (4 machine words)
IMPORT = {"py": 52896, "mpy": 21888}
READER = {
    "py": {"reader": 0, "table": 0, "blocks": 0, "residue": 0},
    "mpy": {"reader": 20160, "blocks": 20928, "residue": 6752, "table": 28832},
}
TABLE = (1500, 1005)  # base, per layer
NET = 988  # the net's own objects
PLACED_LAYER = 288  # a streamed or ROM layer's runner
STAGE_OFFSETS = {
    "py": {
        "import": -64,
        "reader": 352,
        "table": -278,
        "blocks": -902,
        "network": 48,
        "loaded": 901,
    },
    "mpy": {
        "import": 32,
        "reader": 107,
        "table": -1846,
        "blocks": 1370,
        "network": 2309,
        "loaded": 27,
    },
}  # mean measured - predicted
SLACK = {"py": 55040, "mpy": 9984}  # heap beyond the live peak: compiler, fragmentation
FRAGMENTATION = 0.05  # and this share of the peak (memory_plan.heap_needed)
OP_MODULES = {
    "python": {
        "FULLY_CONNECTED": "kernels_dense",
        "CONV_2D": "kernels_conv",
        "DEPTHWISE_CONV_2D": "kernels_conv",
        "MAX_POOL_2D": "kernels_pool",
        "AVERAGE_POOL_2D": "kernels_pool",
        "MEAN": "kernels_pool",
        "ADD": "kernels_add",
        "LOGISTIC": "kernels_lut",
        "TANH": "kernels_lut",
        "SOFTMAX": "kernels_softmax",
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
    ("python", "mpy", "kernels_add"): 2176,
    ("python", "mpy", "kernels_conv"): 3520,
    ("python", "mpy", "kernels_dense"): 2784,
    ("python", "mpy", "kernels_lut"): 576,
    ("python", "mpy", "kernels_pool"): 3680,
    ("python", "mpy", "kernels_softmax"): 4160,
    ("python", "py", "kernels_add"): 2144,
    ("python", "py", "kernels_conv"): 3488,
    ("python", "py", "kernels_dense"): 2688,
    ("python", "py", "kernels_lut"): 608,
    ("python", "py", "kernels_pool"): 3584,
    ("python", "py", "kernels_softmax"): 3968,
    ("viper", "mpy", "viper_add"): 2880,
    ("viper", "mpy", "viper_conv"): 4384,
    ("viper", "mpy", "viper_dense"): 3104,
    ("viper", "mpy", "viper_lut"): 1056,
    ("viper", "mpy", "viper_pool"): 4000,
    ("viper", "mpy", "viper_softmax"): 4928,
    ("viper", "py", "viper_add"): 3008,
    ("viper", "py", "viper_conv"): 4192,
    ("viper", "py", "viper_dense"): 3072,
    ("viper", "py", "viper_lut"): 1056,
    ("viper", "py", "viper_pool"): 4128,
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
    ("viper", "ADD"): (382, 0),
    ("viper", "AVERAGE_POOL_2D"): (190, 0),
    ("viper", "CONV_2D"): (778, 25),
    ("viper", "DEPTHWISE_CONV_2D"): (794, 25),
    ("viper", "FULLY_CONNECTED"): (227, 28),
    ("viper", "LOGISTIC"): (190, 0),
    ("viper", "MAX_POOL_2D"): (190, 0),
    ("viper", "MEAN"): (478, 0),
    ("viper", "SOFTMAX"): (1598, 0),
    ("viper", "TANH"): (190, 0),
}
