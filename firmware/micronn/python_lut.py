"""LOGISTIC, TANH and REQUANTIZE: one table lookup per value (the host ran TFLM's algorithm for
every code).

The table is indexed by the input code's uint8 bit pattern, as TFLite's LUTLookup does.
"""


def prepare(op, params, tensors):
    table = tensors[0]
    if len(table) != 256:
        raise ValueError(f"{op.name} needs a 256-entry table; re-convert the model")
    return (params[0], table)


def run(plan, a, b, out):
    size, table = plan
    for i in range(size):
        out[i] = table[a[i] & 0xFF]
