"""Reference integer kernels, one module per operator family (TFLM int8 reference semantics).

Each module's `evaluate(layer, inputs, out_shape)` takes int8 arrays shaped [batch, *shape]
and returns the int8 output [batch, *out_shape]. KERNELS maps operator names to them.
"""

from micronn.ops import add, conv, fully_connected, lookup, mean, pooling, softmax

KERNELS = {
    "FULLY_CONNECTED": fully_connected.evaluate,
    "CONV_2D": conv.evaluate_conv2d,
    "DEPTHWISE_CONV_2D": conv.evaluate_depthwise,
    "MAX_POOL_2D": pooling.evaluate_max,
    "AVERAGE_POOL_2D": pooling.evaluate_average,
    "MEAN": mean.evaluate,
    "ADD": add.evaluate,
    "LOGISTIC": lookup.evaluate,
    "TANH": lookup.evaluate,
    "SOFTMAX": softmax.evaluate,
}
