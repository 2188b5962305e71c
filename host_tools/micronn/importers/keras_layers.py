"""Keras layer configs + weights -> float graph nodes (micronn.graph).

Keras tensors are channels-last like micronn's. 1-D layers (Conv1D, pooling 1D) run as their
2-D forms over a (1, steps, channels) tensor.
"""

import math

import numpy as np

from micronn.float_ops import same_pads
from micronn.graph_builder import GraphBuilder

ACTIVATIONS = {
    None: None,
    "linear": None,
    "relu": "relu",
    "relu6": "relu6",
    "sigmoid": "logistic",
    "tanh": "tanh",
    "softmax": "softmax",
    "hard_swish": "hard_swish",
    "hard_silu": "hard_swish",
    "leaky_relu": "leaky_relu",
}
LEAKY_RELU_ACTIVATION_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope
LEAKY_RELU_LAYER_SLOPE = 0.3  # keras.layers.LeakyReLU's default
IDENTITY_LAYERS = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
)
SUPPORTED = (
    "InputLayer, Dense, Conv1D, Conv2D, DepthwiseConv2D, MaxPooling1D/2D, AveragePooling1D/2D, "
    "GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D, Flatten, Reshape, Add, Multiply, Subtract, "
    "Maximum, Minimum, Activation, ReLU, PReLU, LeakyReLU, Rescaling, Softmax, BatchNormalization, "
    "Dropout, Concatenate, Permute, ZeroPadding1D/2D, Cropping1D/2D"
)
# merge layers of two or more tensors -> the float op that folds them pairwise
MERGE_LAYERS = {"Add": "add", "Multiply": "mul", "Maximum": "maximum", "Minimum": "minimum"}
MULTI_INPUT = (*MERGE_LAYERS, "Subtract", "Concatenate")


# checks of the config's JSON values, where they are read ---------------------------------


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value, what: str, minimum=None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise ValueError(f"{what} must be an integer, got {_shown(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value}")
    return value


def _ints(value, count: int, what: str, minimum=None) -> tuple:
    """An integer, or a list of `count` integers (Keras writes both), as a tuple."""
    if _is_int(value) or isinstance(value, float):
        value = [value] * count
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise ValueError(f"{what} must be {count} integers, got {_shown(value)}")
    return tuple(_int(v, what, minimum) for v in value)


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {_shown(value)}")
    return float(value)


def _required(config: dict, key: str, name: str):
    if key not in config:
        raise ValueError(f"layer '{name}' has no '{key}' in its config; re-export the model")
    return config[key]


def _weight(weights, index: int, ndim, name: str, what="weights") -> np.ndarray:
    """weights[index] as float32 with `ndim` dims (None: any)."""
    if len(weights) <= index:
        raise ValueError(f"layer '{name}': its {what} are missing from the weights file")
    array = np.asarray(weights[index], np.float32)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"layer '{name}': its {what} have shape {list(array.shape)}, expected {ndim} dims"
        )
    return array


def layer_list(config) -> list:
    """The layers of a model config, each a dict with a class_name and a config dict (one of
    Keras 2's Sequential configs is the list itself)."""
    layers = config.get("layers") if isinstance(config, dict) else config
    if not isinstance(layers, list) or not all(
        isinstance(layer, dict)
        and isinstance(layer.get("class_name"), str)
        and isinstance(layer.get("config"), dict)
        and isinstance(layer["config"].get("name", ""), str)
        for layer in layers
    ):
        raise ValueError(
            "the model config is not a list of layers, each with a class_name and a config; "
            "re-export the model"
        )
    return layers


def _history(value) -> list:
    """Names of the layers feeding a Keras 3 inbound node's args (keras_history entries)."""
    found = []
    if isinstance(value, dict):
        inner = value.get("config")
        history = inner.get("keras_history") if isinstance(inner, dict) else None
        if value.get("class_name") == "__keras_tensor__" and history:
            found.append(_source(history))
        else:
            for item in value.values():
                found += _history(item)
    elif isinstance(value, list):
        for item in value:
            found += _history(item)
    return found


def _source(entry) -> tuple:
    """(layer name, node index, tensor index) of a Keras history or inbound entry."""
    if not isinstance(entry, (list, tuple)) or len(entry) < 3 or not isinstance(entry[0], str):
        raise ValueError(f"an inbound node names {_shown(entry)}, not (layer, node, tensor)")
    return entry[0], entry[1], entry[2]


def _inbound(layer: dict) -> list:
    """[(layer name, node index, tensor index)] feeding a Functional layer."""
    nodes = layer.get("inbound_nodes", [])
    if not nodes:
        return []
    if not isinstance(nodes, list):
        raise ValueError(f"layer '{layer['config'].get('name')}' has inbound nodes {_shown(nodes)}")
    if len(nodes) > 1:
        raise ValueError(
            f"layer '{layer['config'].get('name')}' is called {len(nodes)} times (a shared "
            "layer); micronn imports graphs where each layer is used once"
        )
    node = nodes[0]
    if isinstance(node, dict):
        return _history(node.get("args", [])) + _history(node.get("kwargs", {}))
    if not isinstance(node, list):
        raise ValueError(
            f"layer '{layer['config'].get('name')}' has an inbound node {_shown(node)}"
        )
    return [_source(entry) for entry in node]


def _endpoints(value) -> list:
    if not isinstance(value, list):
        raise ValueError(f"the model's input or output layers are {_shown(value)}, not a list")
    if value and isinstance(value[0], str):
        return [_source(value)]
    return [_source(v) for v in value]


def _static_shape(batch_shape, name) -> tuple:
    if not isinstance(batch_shape, list) or not all(d is None or _is_int(d) for d in batch_shape):
        raise ValueError(f"input '{name}' has the shape {_shown(batch_shape)}, not a list of sizes")
    dims = list(batch_shape)[1:]
    if not dims or any(d is None for d in dims):
        raise ValueError(
            f"input '{name}' has shape {[None] + dims}: micronn needs a static input shape "
            "apart from the batch axis; build the model with keras.Input(shape=(...)) fixed"
        )
    return tuple(int(d) for d in dims)


def _input_shape(layer: dict) -> tuple:
    config = layer["config"]
    for key in ("batch_shape", "batch_input_shape"):
        if config.get(key) is not None:
            return _static_shape(config[key], config.get("name", "input"))
    build_config = layer.get("build_config")
    build = build_config.get("input_shape") if isinstance(build_config, dict) else None
    if build is not None:
        return _static_shape(build, config.get("name", "input"))
    raise ValueError(
        "the model does not record its input shape; build it with keras.Input(shape=(...))"
    )


class KerasGraph:
    def __init__(self, config: dict, weights: dict):
        self.config = config
        self.weights = weights
        self.builder = None

    def build(self):
        kind = self.config.get("class_name")
        config = self.config.get("config", {})
        if not isinstance(config, (dict, list)) or (
            kind != "Sequential" and isinstance(config, list)
        ):
            raise ValueError(f"the model config is {_shown(config)}; re-export the model")
        if kind == "Sequential":
            return self._sequential(config)
        if kind in ("Functional", "Model"):
            return self._functional(config)
        raise ValueError(
            f"model class {kind!r} is not supported; save a Sequential or Functional model"
        )

    def _sequential(self, config):
        layers = layer_list(config)
        if not layers:
            raise ValueError("the Sequential model has no layers")
        first = layers[0]
        self.builder = GraphBuilder(_input_shape(first))
        tensor = self.builder.input
        for layer in layers:
            if layer["class_name"] != "InputLayer":
                tensor = self._layer(layer, [tensor])
        return self.builder.build(tensor)

    def _functional(self, config):
        inputs = _endpoints(config.get("input_layers", []))
        outputs = _endpoints(config.get("output_layers", []))
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"the model has {len(inputs)} inputs and {len(outputs)} outputs; micronn "
                "imports models with one input and one output"
            )
        layers = layer_list(config)
        by_name = {layer["config"].get("name"): layer for layer in layers}
        if inputs[0][0] not in by_name or outputs[0][0] not in by_name:
            raise ValueError(
                f"the model's input or output layer ({inputs[0][0]!r}, {outputs[0][0]!r}) is "
                "not among its layers; re-export the model"
            )
        self.builder = GraphBuilder(_input_shape(by_name[inputs[0][0]]))
        tensors = {inputs[0][0]: self.builder.input}
        for layer in layers:
            name = layer["config"].get("name")
            if name in tensors:
                continue
            sources = _inbound(layer)
            missing = [s[0] for s in sources if s[0] not in tensors]
            if missing or not sources:
                raise ValueError(
                    f"layer '{name}' reads {missing or 'nothing'} before it is computed; "
                    "micronn imports Functional graphs whose layers are listed in order"
                )
            tensors[name] = self._layer(layer, [tensors[s[0]] for s in sources])
        if outputs[0][0] not in tensors:
            raise ValueError(f"the output layer '{outputs[0][0]}' is never computed")
        return self.builder.build(tensors[outputs[0][0]])

    # one Keras layer -------------------------------------------------------------------

    def _layer(self, layer: dict, inputs: list) -> int:
        kind, config = layer["class_name"], layer["config"]
        name = str(config.get("name", kind))
        if config.get("data_format", "channels_last") not in ("channels_last", None):
            raise ValueError(f"layer '{name}' ({kind}) uses channels_first; use channels_last")
        if kind in IDENTITY_LAYERS:
            return inputs[0]
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise ValueError(
                f"layer '{name}' ({kind}) is not supported; micronn imports {SUPPORTED}. "
                "Replace it, or convert the model to an int8 .tflite with TensorFlow's converter"
            )
        if kind not in MULTI_INPUT and len(inputs) != 1:
            raise ValueError(f"layer '{name}' ({kind}) takes one input, got {len(inputs)}")
        return handler(config, inputs, name, self.weights.get(name, []))

    def _activate(self, tensor, activation, name):
        if isinstance(activation, dict):
            inner = activation.get("config")
            inner = inner if isinstance(inner, dict) else {}
            activation = inner.get("name", activation.get("class_name"))
        if not (activation is None or isinstance(activation, str)) or activation not in ACTIVATIONS:
            raise ValueError(
                f"layer '{name}': activation {activation!r} is not supported; micronn supports "
                "relu, relu6, sigmoid, tanh, softmax, hard_swish (hard_silu), leaky_relu and linear"
            )
        kind = ACTIVATIONS[activation]
        if kind in ("relu", "relu6"):
            return self.builder.activation(tensor, kind, name)
        if kind == "leaky_relu":
            return self.builder.unary(kind, tensor, name, alpha=LEAKY_RELU_ACTIVATION_SLOPE)
        if kind is not None:
            return self.builder.unary(kind, tensor, name)
        return tensor

    def _row_image(self, tensor, name):
        """A (steps, channels) tensor as the (1, steps, channels) image 1-D layers run on."""
        shape = self.builder.shape(tensor)
        if len(shape) == 2:
            return self.builder.reshape(tensor, (1, *shape), name)
        if len(shape) == 3 and shape[0] == 1:
            return tensor
        raise ValueError(f"layer '{name}' needs a (steps, channels) input, got shape {shape}")

    def _pads(self, tensor, config, kernel, stride, dilation, name) -> tuple:
        padding = config.get("padding", "valid")
        shape = self.builder.shape(tensor)
        if len(shape) != 3:
            raise ValueError(f"layer '{name}' needs a (height, width, channels) input, got {shape}")
        height, width = shape[:2]
        for value, what in ((kernel, "kernel size"), (stride, "strides"), (dilation, "dilation")):
            _ints(value, 2, f"layer '{name}': {what}", minimum=1)
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            top, bottom = same_pads(height, kernel[0], stride[0], dilation[0])
            left, right = same_pads(width, kernel[1], stride[1], dilation[1])
            return (top, left, bottom, right)
        if padding == "causal":
            return (0, (kernel[1] - 1) * dilation[1], 0, 0)
        raise ValueError(f"layer '{name}': padding {padding!r} is not supported")

    @staticmethod
    def _bias(config, weights, channels, name):
        if config.get("use_bias", True):
            return _weight(weights, 1, 1, name, "bias")
        return np.zeros(channels, np.float32)

    @staticmethod
    def _kernel(weights, name, ndim=None):
        return _weight(weights, 0, ndim, name)

    def _Dense(self, config, inputs, name, weights):  # noqa: N802 - Keras class names
        shape = self.builder.shape(inputs[0])
        if len(shape) != 1:
            raise ValueError(
                f"layer '{name}' (Dense) receives shape {shape}; Keras applies it per position, "
                "micronn only to vectors: add a Flatten or a global pooling layer before it"
            )
        kernel = self._kernel(weights, name, ndim=2)
        bias = self._bias(config, weights, kernel.shape[1], name)
        out = self.builder.dense(inputs[0], kernel.T, bias, name=name)
        return self._activate(out, config.get("activation"), name)

    def _conv(self, config, tensor, kernel_ohwi, stride, dilation, name, weights):
        if config.get("groups", 1) not in (1, None):
            raise ValueError(f"layer '{name}': grouped convolutions are not supported")
        pads = self._pads(tensor, config, kernel_ohwi.shape[1:3], stride, dilation, name)
        bias = self._bias(config, weights, kernel_ohwi.shape[0], name)
        out = self.builder.conv2d(tensor, kernel_ohwi, bias, stride, dilation, pads, name=name)
        return self._activate(out, config.get("activation"), name)

    @staticmethod
    def _geometry(config, name, count) -> tuple:
        """(strides, dilation_rate) of a convolution config, `count` integers each."""
        stride = _ints(config.get("strides", 1), count, f"layer '{name}': strides", 1)
        dilation = _ints(config.get("dilation_rate", 1), count, f"layer '{name}': dilation", 1)
        return stride, dilation

    def _Conv2D(self, config, inputs, name, weights):  # noqa: N802
        kernel = self._kernel(weights, name, ndim=4).transpose(3, 0, 1, 2)
        stride, dilation = self._geometry(config, name, 2)
        return self._conv(config, inputs[0], kernel, stride, dilation, name, weights)

    def _Conv1D(self, config, inputs, name, weights):  # noqa: N802
        tensor = self._row_image(inputs[0], name)
        kernel = self._kernel(weights, name, ndim=3).transpose(2, 0, 1)[:, None]
        stride, dilation = self._geometry(config, name, 1)
        return self._conv(config, tensor, kernel, (1, *stride), (1, *dilation), name, weights)

    def _DepthwiseConv2D(self, config, inputs, name, weights):  # noqa: N802
        kernel = self._kernel(weights, name, ndim=4)
        kh, kw, channels, multiplier = kernel.shape
        stride, dilation = self._geometry(config, name, 2)
        pads = self._pads(inputs[0], config, (kh, kw), stride, dilation, name)
        bias = self._bias(config, weights, channels * multiplier, name)
        out = self.builder.depthwise_conv2d(
            inputs[0],
            kernel.reshape(kh, kw, channels * multiplier),
            bias,
            multiplier,
            stride,
            dilation,
            pads,
            name=name,
        )
        return self._activate(out, config.get("activation"), name)

    def _pool(self, op, config, tensor, size, stride, name):
        pads = self._pads(tensor, config, size, stride, (1, 1), name)
        return self.builder.pool(op, tensor, size, stride, pads, name=name)

    def _pool2d(self, op, config, inputs, name):
        size = _ints(_required(config, "pool_size", name), 2, f"layer '{name}': pool_size", 1)
        stride = _ints(config.get("strides") or size, 2, f"layer '{name}': strides", 1)
        return self._pool(op, config, inputs[0], size, stride, name)

    def _pool1d(self, op, config, inputs, name):
        tensor = self._row_image(inputs[0], name)
        size = _ints(_required(config, "pool_size", name), 1, f"layer '{name}': pool_size", 1)
        stride = _ints(config.get("strides") or size, 1, f"layer '{name}': strides", 1)
        return self._pool(op, config, tensor, (1, *size), (1, *stride), name)

    def _MaxPooling2D(self, config, inputs, name, weights):  # noqa: N802
        return self._pool2d("max_pool", config, inputs, name)

    def _AveragePooling2D(self, config, inputs, name, weights):  # noqa: N802
        return self._pool2d("avg_pool", config, inputs, name)

    def _MaxPooling1D(self, config, inputs, name, weights):  # noqa: N802
        return self._pool1d("max_pool", config, inputs, name)

    def _AveragePooling1D(self, config, inputs, name, weights):  # noqa: N802
        return self._pool1d("avg_pool", config, inputs, name)

    def _global(self, op, config, tensor, name):
        if len(self.builder.shape(tensor)) != 3:
            raise ValueError(
                f"layer '{name}' needs a (height, width, channels) input, got "
                f"{self.builder.shape(tensor)}"
            )
        channels = self.builder.shape(tensor)[-1]
        if op == "mean":
            out = self.builder.mean(tensor, name)
        else:
            size = self.builder.shape(tensor)[:2]
            pooled = self.builder.pool("max_pool", tensor, size, size, name=name)
            out = self.builder.reshape(pooled, (channels,), name)
        if config.get("keepdims"):
            rank = len(self.builder.shape(tensor))
            out = self.builder.reshape(out, (1,) * (rank - 1) + (channels,), name)
        return out

    def _GlobalAveragePooling2D(self, config, inputs, name, weights):  # noqa: N802
        return self._global("mean", config, inputs[0], name)

    def _GlobalAveragePooling1D(self, config, inputs, name, weights):  # noqa: N802
        return self._global("mean", config, self._row_image(inputs[0], name), name)

    def _GlobalMaxPooling2D(self, config, inputs, name, weights):  # noqa: N802
        return self._global("max", config, inputs[0], name)

    def _GlobalMaxPooling1D(self, config, inputs, name, weights):  # noqa: N802
        return self._global("max", config, self._row_image(inputs[0], name), name)

    def _UpSampling2D(self, config, inputs, name, weights):  # noqa: N802
        """Keras repeats rows and columns (nearest: TFLite's RESIZE_NEAREST_NEIGHBOR without
        align_corners or half pixels) or calls tf.image.resize (bilinear: half_pixel_centers)."""
        shape = self.builder.shape(inputs[0])
        if len(shape) != 3:
            raise ValueError(f"layer '{name}' (UpSampling2D) needs an image input, got {shape}")
        height, width, _ = shape
        size_h, size_w = _ints(config.get("size", (2, 2)), 2, f"layer '{name}': size", 1)
        interpolation = config.get("interpolation", "nearest")
        if not isinstance(interpolation, str) or interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"layer '{name}' (UpSampling2D) interpolates '{interpolation}'; micronn resizes "
                "with 'nearest' or 'bilinear'"
            )
        size = (height * size_h, width * size_w)
        half = interpolation == "bilinear"
        return self.builder.resize(inputs[0], size, interpolation, False, half, name)

    def _Flatten(self, config, inputs, name, weights):  # noqa: N802
        size = int(np.prod(self.builder.shape(inputs[0])))
        return self.builder.reshape(inputs[0], (size,), name)

    def _Reshape(self, config, inputs, name, weights):  # noqa: N802
        target = _required(config, "target_shape", name)
        if not isinstance(target, list) or not target:
            raise ValueError(f"layer '{name}' (Reshape): target_shape {_shown(target)}")
        target = [_int(d, f"layer '{name}': target_shape") for d in target]
        if target.count(-1) == 1:
            known = math.prod(d for d in target if d != -1)
            size = math.prod(self.builder.shape(inputs[0]))
            if known < 1 or size % known:
                raise ValueError(f"layer '{name}' cannot reshape {size} values to {target}")
            target[target.index(-1)] = size // known
        return self.builder.reshape(inputs[0], target, name)

    def _merge(self, kind, inputs, name):
        if len(inputs) < 2:
            raise ValueError(f"layer '{name}' ({kind}) needs at least two inputs")
        total = inputs[0]
        for other in inputs[1:]:
            total = self.builder.binary(MERGE_LAYERS[kind], total, other, name=name)
        return total

    def _Concatenate(self, config, inputs, name, weights):  # noqa: N802
        if len(inputs) < 2:
            raise ValueError(f"layer '{name}' (Concatenate) needs at least two inputs")
        rank = len(self.builder.shape(inputs[0]))
        axis = _int(config.get("axis", -1), f"layer '{name}': axis")
        if axis == 0 or not -rank <= axis <= rank:
            raise ValueError(
                f"layer '{name}' (Concatenate) joins axis {axis}; micronn runs batch 1"
            )
        return self.builder.concat(inputs, axis - 1 if axis > 0 else axis, name)

    def _Permute(self, config, inputs, name, weights):  # noqa: N802
        dims = _required(config, "dims", name)
        rank = len(self.builder.shape(inputs[0]))
        perm = [d - 1 for d in _ints(dims, rank, f"layer '{name}': dims", 1)]  # Keras counts
        return self.builder.transpose(inputs[0], perm, name)  # from 1, after the batch

    def _spatial_amounts(self, config, key, tensor, name, spatial):
        """((before, after) per spatial axis) of a ZeroPadding / Cropping config."""
        value = _required(config, key, name)
        what = f"layer '{name}': {key}"
        if _is_int(value):
            value = [value] * spatial
        if not isinstance(value, list) or len(value) != spatial:
            raise ValueError(f"{what} must give {spatial} amounts, got {_shown(value)}")
        amounts = [_ints(v, 2, what, 0) for v in value]
        if len(self.builder.shape(tensor)) != spatial + 1:
            raise ValueError(
                f"layer '{name}' needs a {spatial + 1}-D input, got {self.builder.shape(tensor)}"
            )
        return amounts

    def _zero_padding(self, config, inputs, name, spatial):
        amounts = self._spatial_amounts(config, "padding", inputs[0], name, spatial)
        return self.builder.pad(inputs[0], [*amounts, (0, 0)], 0.0, name)

    def _ZeroPadding2D(self, config, inputs, name, weights):  # noqa: N802
        return self._zero_padding(config, inputs, name, 2)

    def _ZeroPadding1D(self, config, inputs, name, weights):  # noqa: N802
        return self._zero_padding(config, inputs, name, 1)

    def _cropping(self, config, inputs, name, spatial):
        amounts = self._spatial_amounts(config, "cropping", inputs[0], name, spatial)
        shape = self.builder.shape(inputs[0])
        walk = [(a, d - a - b, 1) for d, (a, b) in zip(shape, amounts, strict=False)]
        if any(count < 1 for _, count, _ in walk):
            raise ValueError(f"layer '{name}' crops {amounts} from {shape}: nothing is left")
        return self.builder.slice(inputs[0], [*walk, (0, shape[-1], 1)], name)

    def _Cropping2D(self, config, inputs, name, weights):  # noqa: N802
        return self._cropping(config, inputs, name, 2)

    def _Cropping1D(self, config, inputs, name, weights):  # noqa: N802
        return self._cropping(config, inputs, name, 1)

    def _Add(self, config, inputs, name, weights):  # noqa: N802
        return self._merge("Add", inputs, name)

    def _Multiply(self, config, inputs, name, weights):  # noqa: N802
        return self._merge("Multiply", inputs, name)

    def _Maximum(self, config, inputs, name, weights):  # noqa: N802
        return self._merge("Maximum", inputs, name)

    def _Minimum(self, config, inputs, name, weights):  # noqa: N802
        return self._merge("Minimum", inputs, name)

    def _Subtract(self, config, inputs, name, weights):  # noqa: N802
        if len(inputs) != 2:
            raise ValueError(f"layer '{name}' (Subtract) takes two inputs, got {len(inputs)}")
        return self.builder.binary("sub", inputs[0], inputs[1], name=name)

    def _PReLU(self, config, inputs, name, weights):  # noqa: N802
        """alpha has the input's shape with 1 along the shared axes (Keras' PReLU weight)."""
        alpha = self._kernel(weights, name)
        shape = self.builder.shape(inputs[0])
        if alpha.size == 1:
            alpha = alpha.reshape(1)
        elif alpha.ndim > len(shape):
            raise ValueError(
                f"layer '{name}' (PReLU): alpha of shape {alpha.shape} for input shape {shape}"
            )
        constant = self.builder.constant(alpha, f"{name}/alpha")
        return self.builder.binary("prelu", inputs[0], constant, name=name)

    def _Activation(self, config, inputs, name, weights):  # noqa: N802
        return self._activate(inputs[0], config.get("activation"), name)

    def _ReLU(self, config, inputs, name, weights):  # noqa: N802
        slope = _number(config.get("negative_slope") or 0.0, f"layer '{name}': negative_slope")
        threshold = _number(config.get("threshold") or 0.0, f"layer '{name}': threshold")
        max_value = config.get("max_value")
        max_value = None if max_value is None else _number(max_value, f"layer '{name}': max_value")
        if not slope and not threshold and max_value in (None, 6.0):
            kind = "relu" if max_value is None else "relu6"
            return self.builder.activation(inputs[0], kind, name)
        return self.builder.unary(
            "relu_x",
            inputs[0],
            name,
            negative_slope=slope,
            threshold=threshold,
            max_value=max_value,
        )

    def _LeakyReLU(self, config, inputs, name, weights):  # noqa: N802
        # Keras 3 calls the slope negative_slope, Keras 2 alpha
        slope = config.get("negative_slope", config.get("alpha", LEAKY_RELU_LAYER_SLOPE))
        slope = _number(slope, f"layer '{name}': negative_slope")
        return self.builder.unary("leaky_relu", inputs[0], name, alpha=slope)

    def _Rescaling(self, config, inputs, name, weights):  # noqa: N802
        scale, offset = config.get("scale", 1.0), config.get("offset", 0.0)
        if not isinstance(scale, list) and not isinstance(offset, list):
            scale = _number(scale, f"layer '{name}': scale")
            offset = _number(offset, f"layer '{name}': offset")
            return self.builder.rescaling(inputs[0], scale, offset, name)
        channels = self.builder.shape(inputs[0])[-1]
        scale, offset = (
            self._per_channel(value, channels, f"layer '{name}': {what}")
            for value, what in ((scale, "scale"), (offset, "offset"))
        )
        return self.builder.scale_shift(inputs[0], scale, offset, name)

    @staticmethod
    def _per_channel(value, channels, what) -> np.ndarray:
        values = value if isinstance(value, list) else [value]
        values = np.asarray([_number(v, what) for v in values], np.float32)
        if values.size not in (1, channels):
            raise ValueError(f"{what} has {values.size} values for {channels} channels")
        return np.broadcast_to(values, (channels,))

    def _Softmax(self, config, inputs, name, weights):  # noqa: N802
        rank = len(self.builder.shape(inputs[0]))
        if config.get("axis", -1) not in (-1, rank):
            raise ValueError(f"layer '{name}' (Softmax): only the last axis is supported")
        return self.builder.unary("softmax", inputs[0], name)

    def _BatchNormalization(self, config, inputs, name, weights):  # noqa: N802
        rank = len(self.builder.shape(inputs[0]))
        axis = config.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, rank):
            raise ValueError(f"layer '{name}' (BatchNormalization): only the last axis")
        arrays = list(weights)
        expected = 2 + bool(config.get("scale", True)) + bool(config.get("center", True))
        if len(arrays) != expected:
            raise ValueError(f"layer '{name}' (BatchNormalization): unexpected weights")
        gamma = arrays.pop(0) if config.get("scale", True) else 1.0
        beta = arrays.pop(0) if config.get("center", True) else 0.0
        mean, variance = (np.asarray(a, np.float64) for a in arrays)
        epsilon = _number(config.get("epsilon", 1e-3), f"layer '{name}': epsilon")
        channels = self.builder.shape(inputs[0])[-1]
        parts = [np.asarray(gamma, np.float64), np.asarray(beta, np.float64), mean, variance]
        if any(part.size not in (1, channels) for part in parts):
            raise ValueError(
                f"layer '{name}' (BatchNormalization): its weights do not hold one value per "
                f"channel ({channels})"
            )
        gamma, beta, mean, variance = (part.reshape(-1) for part in parts)
        with np.errstate(all="ignore"):  # a negative variance: NaN, refused by scale_shift
            scale = gamma / np.sqrt(variance + epsilon)
            shift = beta - mean * scale
        scale, shift = np.broadcast_to(scale, channels), np.broadcast_to(shift, channels)
        return self.builder.scale_shift(inputs[0], scale, shift, name)
