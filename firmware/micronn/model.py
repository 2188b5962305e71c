"""A checked model as the reader returns it: edges, activation tensors, layers with tensors."""

from .ops import ACTIVATIONS


def size_of(shape):
    size = 1
    for dim in shape:
        size *= dim
    return size


class Edge:
    """The network's input or output: its tensor, shape and real = scale * (q - zero_point)."""

    def __init__(self, tensor, shape, scale, zero_point):
        self.tensor = tensor
        self.shape = shape
        self.scale = scale
        self.zero_point = zero_point
        self.size = size_of(shape)


class Layer:
    """One layer record. params: int32s in container order (host micronn.ops.OPERATORS); counts:
    each tensor's element count; tensors: array('b') int8 weights or tables, bytearray packed
    int4 / int2 weights, array('i') int32 (until the blocks are read, container.py's flat tuple
    of (dtype, offset in block, nbytes) per tensor). Few attributes, each a tuple or shared: a
    model's table is in the heap beside the reader's modules, when the heap is fullest."""

    weight_bits = 8  # set on the layer only for int4 / int2 weights

    def __init__(self, name, activation, params, kinds, inputs, output, counts, tensors):
        self.name = name
        self.activation = ACTIVATIONS[activation]
        self.params = params
        self.kinds = kinds
        self.inputs = inputs
        self.output = output
        self.counts = counts
        self.tensors = tensors


class Model:
    """edges: the Edges in container order, the n_in inputs first, then the outputs.
    net: None for Net, or what makes the network instead (edge_table.net for several edges).
    labels_size: bytes of the labels section (labels.py sets labels and labels_output)."""

    net = None
    # or (first, last, rows): layers run in bands of rows (bands.py); the records' band heights
    # from container.read_table until rules.check_table stages them
    bands = None

    def __init__(self, edges, n_in, shapes, offsets, arena_size, layers):
        self.edges = edges
        self.n_in = n_in
        self.shapes = shapes
        self.sizes = [size_of(shape) for shape in shapes]
        self.offsets = offsets
        self.arena_size = arena_size
        self.layers = layers
