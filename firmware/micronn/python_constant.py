"""CONSTANT: copy the layer's int8 tensor into its activation (a constant operand of an
element-wise operator; a few values, so an item loop, which allocates nothing anywhere)."""


def prepare(op, params, tensors):
    return tensors[0]


def run(plan, a, b, out):
    for i in range(len(plan)):
        out[i] = plan[i]
