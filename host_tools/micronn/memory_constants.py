"""Heap costs of the device runtime itself, measured on the MicroPython VM.

Written by tools/measure_memory.py (see it for how each figure is measured); run it
again when firmware/micronn or the VM changes. Used by memory_plan.py.
VM: 3.4.0; MicroPython 9458e3a23f on 2026-07-05.
"""

GC_BLOCK = 32  # bytes per GC block on the 64-bit VM (4 machine words)
IMPORT = {"py": 51200, "mpy": 20128}
READER = {
    "py": {"reader": 0, "table": 0, "blocks": 0, "residue": 0},
    "mpy": {"reader": 16576, "blocks": 21056, "residue": 6880, "table": 28960},
}
TABLE = (1500, 1005)  # base, per layer
NET = 892  # the net's own objects
PLACED_LAYER = 288  # a streamed or ROM layer's runner
STAGE_OFFSETS = {
    "py": {
        "import": -16,
        "reader": 400,
        "table": -230,
        "blocks": -966,
        "network": -27,
        "loaded": 827,
    },
    "mpy": {
        "import": 0,
        "reader": 3605,
        "table": -2059,
        "blocks": 1178,
        "network": 2117,
        "loaded": -165,
    },
}  # mean measured - predicted
SLACK = {"py": 49664, "mpy": 10240}  # heap beyond the live peak: compiler, fragmentation
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
    ("python", "mpy", "kernels_lut"): 640,
    ("python", "mpy", "kernels_pool"): 3680,
    ("python", "mpy", "kernels_softmax"): 4224,
    ("python", "py", "kernels_add"): 2304,
    ("python", "py", "kernels_conv"): 3552,
    ("python", "py", "kernels_dense"): 2752,
    ("python", "py", "kernels_lut"): 640,
    ("python", "py", "kernels_pool"): 3680,
    ("python", "py", "kernels_softmax"): 4128,
    ("viper", "mpy", "viper_add"): 2976,
    ("viper", "mpy", "viper_conv"): 4128,
    ("viper", "mpy", "viper_dense"): 3136,
    ("viper", "mpy", "viper_lut"): 1120,
    ("viper", "mpy", "viper_pool"): 4032,
    ("viper", "mpy", "viper_softmax"): 4864,
    ("viper", "py", "viper_add"): 3008,
    ("viper", "py", "viper_conv"): 4160,
    ("viper", "py", "viper_dense"): 3040,
    ("viper", "py", "viper_lut"): 1056,
    ("viper", "py", "viper_pool"): 4224,
    ("viper", "py", "viper_softmax"): 4896,
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
