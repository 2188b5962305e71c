"""The operators this runtime reads, by container code (docs/format.md, "Operators").

code: (name, parameter count, tensor kinds, input count). A tensor kind is "w" for weights
(int8, int4 or int2), "i" for int32 and "b" for int8. The parameter and tensor order is the
host's micronn.model.OPS; tests/test_device_ops.py keeps the two tables equal.
"""

OPS = {
    1: ("FULLY_CONNECTED", 6, "wiii", 1),
    2: ("CONV_2D", 18, "wiii", 1),
    3: ("DEPTHWISE_CONV_2D", 19, "wiii", 1),
    4: ("MAX_POOL_2D", 13, "", 1),
    5: ("AVERAGE_POOL_2D", 13, "", 1),
    6: ("MEAN", 7, "", 1),
    7: ("ADD", 13, "", 2),
    8: ("LOGISTIC", 1, "b", 1),
    9: ("TANH", 1, "b", 1),
    10: ("SOFTMAX", 5, "i", 1),
}

ACTIVATIONS = ("none", "relu", "relu6")
