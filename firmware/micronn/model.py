"""A checked model as the reader returns it: edges, activation tensors, layers with tensors."""

import struct

from .ops import ACTIVATIONS

RECORD_HEAD = 24  # bytes of a layer record's head (docs/format.md)
NO_TENSOR = 0xFFFF
DTYPE_BITS = (0, 8, 32, 4, 2)  # by container dtype code


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


class Layers:
    """The checked layer records as the file holds them, a Layer made each time one is asked
    for: the table costs its own bytes, not an object per field (it is in the heap beside the
    reader's modules, when the heap is fullest). heads: RECORD_HEAD bytes a layer; bodies: the
    records' params and tensor descriptors end to end, layer i's from starts[i]; names, kinds:
    each layer's operator and its tensors' kinds (shared strings). A layer's tensors are its
    descriptors until its block is read (container_blocks.py keeps its arrays), and again once
    `layers[i] = None` gives them to its plan."""

    def __init__(self, heads, bodies, starts, names, kinds):
        self.heads = heads
        self.bodies = bodies
        self.starts = starts
        self.names = names
        self.kinds = kinds
        self.tensors = [None] * len(names)

    def __len__(self):
        return len(self.names)

    def __getitem__(self, index):
        if index < 0 or index >= len(self.names):
            raise IndexError("layer index out of range")
        code, activation, n_params, n_tensors, in0, in1, out = struct.unpack_from(
            "<BBBBHHH", self.heads, RECORD_HEAD * index
        )
        at = self.starts[index]
        params = struct.unpack_from("<" + "i" * n_params, self.bodies, at)
        at += 4 * n_params
        kinds = self.kinds[index]
        counts = []
        descriptors = []
        weight_bits = 8
        for t in range(n_tensors):
            dtype, offset, count = struct.unpack_from("<B3xII", self.bodies, at + 12 * t)
            bits = DTYPE_BITS[dtype]
            if kinds[t] == "w":
                weight_bits = bits
            counts.append(count)
            descriptors += (dtype, offset, (count * bits + 7) // 8)
        inputs = () if in0 == NO_TENSOR else (in0,) if in1 == NO_TENSOR else (in0, in1)
        tensors = self.tensors[index]
        layer = Layer(
            self.names[index],
            activation,
            params,
            kinds,
            inputs,
            out,
            tuple(counts),
            tuple(descriptors) if tensors is None else tensors,
        )
        if weight_bits != 8:
            layer.weight_bits = weight_bits
        return layer

    def __setitem__(self, index, layer):
        """`layers[i] = None`: layer i's plan is made, its arrays are the plan's alone."""
        self.tensors[index] = None if layer is None else layer.tensors


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
