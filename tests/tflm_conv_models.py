"""Small int8 .tflite models of CONV_2D, DEPTHWISE_CONV_2D, PAD, the pools and MEAN, built in
memory with any geometry and quantization, so tests can sweep them against TFLM itself.

Uses the flatbuffer object API that ships with tflite-micro (pinned in requirements.txt for
Linux x86-64); the shapes follow TFLite's ComputeOutSize.
"""

import flatbuffers
import numpy as np
from tflm_models import ACTIVATIONS, _modules

PADDING_CODES = {"same": 0, "valid": 1}


class GraphBuilder:
    """Tensors and operators of one subgraph; the first tensor added is the model input."""

    def __init__(self):
        _, self.schema = _modules()
        self.tensors, self.buffers, self.operators, self.codes = [], [], [], []

    def tensor(self, shape, dtype="INT8", data=None, scale=None, zero_point=None, axis=0):
        s = self.schema
        tensor = s.TensorT()
        tensor.name = f"t{len(self.tensors)}".encode()
        tensor.shape = np.array(shape, np.int32)
        tensor.type = getattr(s.TensorType, dtype)
        buffer = s.BufferT()
        if data is not None:
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        self.buffers.append(buffer)
        tensor.buffer = len(self.buffers)  # buffer 0 is the empty sentinel
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = np.asarray(scale, np.float32).reshape(-1)
            points = np.zeros(q.scale.size) if zero_point is None else zero_point
            q.zeroPoint = np.asarray(points, np.int64).reshape(-1)
            q.quantizedDimension = axis
            tensor.quantization = q
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def activation(self, shape, scale, zero_point):
        return self.tensor((1, *shape), scale=[scale], zero_point=[zero_point])

    def operator(self, name, inputs, outputs, options=None):
        s = self.schema
        if name not in self.codes:
            self.codes.append(name)
        op = s.OperatorT()
        op.opcodeIndex = self.codes.index(name)
        op.inputs, op.outputs = list(inputs), list(outputs)
        if options is not None:
            op.builtinOptionsType = getattr(s.BuiltinOptions, type(options).__name__[:-1])
            op.builtinOptions = options
        self.operators.append(op)

    def build(self, output) -> bytes:
        s = self.schema
        graph = s.SubGraphT()
        graph.tensors, graph.operators = self.tensors, self.operators
        graph.inputs, graph.outputs = [0], [output]
        model = s.ModelT()
        model.version = 3
        model.operatorCodes = []
        for name in self.codes:
            code = s.OperatorCodeT()
            code.builtinCode = getattr(s.BuiltinOperator, name)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.version = 1
            model.operatorCodes.append(code)
        model.subgraphs = [graph]
        model.buffers = [s.BufferT(), *self.buffers]
        builder = flatbuffers.Builder(4096)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def out_size(padding, size, kernel, stride, dilation=1):
    if padding == "same":
        return (size + stride - 1) // stride
    return (size + stride - ((kernel - 1) * dilation + 1)) // stride


def conv_model(spec) -> bytes:
    """spec: input (H, W, C), in/out (scale, zp), weights int8 (OHWI or [1, KH, KW, O]), weight
    scales, bias int32, depthwise, stride, dilation, padding, activation, pad (before conv:
    ((top, bottom), (left, right)) or None). Optional overrides for error tests: pad_amounts
    (the PAD's 4 x 2 paddings), depth_multiplier, out_hw, fused (activation code)."""
    s = _modules()[1]
    g = GraphBuilder()
    height, width, channels = spec["input"]
    source = g.activation(spec["input"], *spec["in"])
    if spec.get("pad") is not None:
        (top, bottom), (left, right) = spec["pad"]
        height, width = height + top + bottom, width + left + right
        amounts = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
        amounts = np.asarray(spec.get("pad_amounts", amounts), np.int32)
        channels += int(amounts[3].sum())
        padded = g.activation((height, width, channels), *spec["in"])
        g.operator("PAD", [source, g.tensor((4, 2), "INT32", amounts)], [padded])
        source = padded
    weights = spec["weights"]
    depthwise = spec["depthwise"]
    axis = 3 if depthwise else 0
    channels_out = weights.shape[axis]
    kh, kw = weights.shape[1:3]
    stride, dilation, padding = spec["stride"], spec["dilation"], spec["padding"]
    w = g.tensor(weights.shape, data=weights, scale=spec["weight_scales"], axis=axis)
    bias_scale = np.float32(spec["in"][0]) * np.asarray(spec["weight_scales"], np.float32)
    b = g.tensor((channels_out,), "INT32", np.asarray(spec["bias"], np.int32), bias_scale)
    out_hw = spec.get("out_hw") or (
        out_size(padding, height, kh, stride[0], dilation[0]),
        out_size(padding, width, kw, stride[1], dilation[1]),
    )
    out = g.activation((*out_hw, channels_out), *spec["out"])
    options = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
    options.padding = PADDING_CODES[padding]
    options.strideH, options.strideW = stride
    options.dilationHFactor, options.dilationWFactor = dilation
    options.fusedActivationFunction = spec.get("fused", ACTIVATIONS[spec["activation"]])
    if depthwise:
        options.depthMultiplier = spec.get("depth_multiplier", channels_out // channels)
    g.operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [source, w, b], [out], options)
    return g.build(out)


def pool_model(op, shape, quantization, filter_hw, stride, padding, activation) -> bytes:
    s = _modules()[1]
    g = GraphBuilder()
    source = g.activation(shape, *quantization)
    out_hw = [out_size(padding, shape[i], filter_hw[i], stride[i]) for i in (0, 1)]
    out = g.activation((*out_hw, shape[2]), *quantization)
    options = s.Pool2DOptionsT()
    options.padding = PADDING_CODES[padding]
    options.strideH, options.strideW = stride
    options.filterHeight, options.filterWidth = filter_hw
    options.fusedActivationFunction = ACTIVATIONS[activation]
    g.operator(op, [source], [out], options)
    return g.build(out)


def mean_model(shape, axes, quantization_in, quantization_out, keep_dims=False) -> bytes:
    """MEAN of an int8 tensor [1, *shape] over `axes` (of the batched tensor)."""
    s = _modules()[1]
    g = GraphBuilder()
    source = g.activation(shape, *quantization_in)
    full = (1, *shape)
    reduced = {a % len(full) for a in axes}
    kept = [1 if a in reduced else d for a, d in enumerate(full)] if keep_dims else None
    out_shape = kept or [d for a, d in enumerate(full) if a not in reduced]
    out = g.tensor(out_shape, scale=[quantization_out[0]], zero_point=[quantization_out[1]])
    options = s.ReducerOptionsT()
    options.keepDims = keep_dims
    g.operator(
        "MEAN", [source, g.tensor((len(axes),), "INT32", np.array(axes, np.int32))], [out], options
    )
    return g.build(out)
