"""Generate the small int8 .tflite test fixtures and their TensorFlow Lite Micro oracle outputs.

Needs TensorFlow only when regenerating; the tests read the committed files. To regenerate:

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tflite-micro==0.dev20261023182759 \
        numpy==2.4.6
    TF_ENABLE_ONEDNN_OPTS=0 /tmp/tfvenv/bin/python tools/make_tflite_fixtures.py [OUTPUT_DIR]

Each fixture is a tiny Keras model with seeded weights, converted by TFLiteConverter with full
integer int8 quantization (representative data from a seeded RNG). Written per fixture, into
tests/data/tflite/ unless OUTPUT_DIR is given:

    NAME.tflite               the converted model
    NAME.input.npy            samples, shape (N, *input shape without batch); int8, or float32
                              for a float-in/float-out model; each is run as a batch of one
    NAME.tflm.npy             outputs of the tflite-micro Python interpreter: the oracle
    NAME.tflite_desktop.npy   outputs of the desktop interpreter (tf.lite.Interpreter); evidence
                              only, it rounds differently from TFLM
    MANIFEST.json             every fixture: its options, the operators read from the flatbuffer
                              with their builtin options, input/output parameters, and how many
                              desktop outputs differ from TFLM

A fixture marked "unsupported" in the manifest has only its .tflite: the importer must reject it.
Generation stops if TFLM strays more than MAX_STEPS_FROM_FLOAT_MODEL output steps from the float
Keras model on in-distribution samples, so that a TFLM bug never becomes an expected output.
"""

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tflite_micro.python.tflite_micro import _version as tflm_version  # noqa: E402
from tflite_micro.python.tflite_micro import runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "tests/data/tflite"
SEED = 20260
CALIBRATION_SAMPLES = 64
RANDOM_SAMPLES = 2
IN_DISTRIBUTION_SAMPLES = 2
FLOAT_EXTREME = 1000.0
SIZE_LIMIT_BYTES = 300_000
# With a dynamic batch the converter lowers dilation to SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND, on
# which TFLM computes wrong outputs; a fixed batch of one gives a dilated CONV_2D instead.
DILATED_BATCH = 1
# TFLM output vs the float Keras model on in-distribution samples, in output quantization steps:
# anything larger means the oracle itself is suspect (as for SPACE_TO_BATCH_ND), so generation
# stops.
MAX_STEPS_FROM_FLOAT_MODEL = 4

layers = tf.keras.layers


@dataclass
class Fixture:
    name: str
    input_shape: tuple
    build: Callable
    options: dict
    per_channel: bool = True
    float_io: bool = False
    calibration_std: float = 1.0
    batch_size: int | None = None
    unsupported: str = ""


def sequential(*stack):
    def build(x):
        for layer in stack:
            x = layer(x)
        return x

    return build


def residual(branch, activation=None):
    """x + branch(x), optionally followed by an activation the converter fuses into ADD."""

    def build(x):
        y = layers.Add()([x, sequential(*branch)(x)])
        return layers.Activation(activation)(y) if activation else y

    return build


def fixtures():
    conv = layers.Conv2D
    dw = layers.DepthwiseConv2D
    fx = []

    def add(name, shape, stack, options, **kwargs):
        fx.append(Fixture(name, shape, stack, options, **kwargs))

    # FULLY_CONNECTED
    for act in ("none", "relu", "relu6"):
        keras_act = None if act == "none" else act
        add(
            f"fc_per_channel_{act}",
            (8,),
            sequential(layers.Dense(6, activation=keras_act)),
            {"weights": "per-channel", "activation": act},
            calibration_std=4.0 if act == "relu6" else 1.0,
        )
        add(
            f"fc_per_tensor_{act}",
            (8,),
            sequential(layers.Dense(6, activation=keras_act)),
            {"weights": "per-tensor", "activation": act},
            per_channel=False,
            calibration_std=4.0 if act == "relu6" else 1.0,
        )
    add(
        "fc_no_bias",
        (8,),
        sequential(layers.Dense(5, use_bias=False)),
        {"weights": "per-channel", "bias": False},
    )
    add(
        "fc_flatten_relu",
        (4, 3, 2),
        sequential(layers.Flatten(), layers.Dense(5, activation="relu")),
        {"weights": "per-channel", "activation": "relu", "flatten": True, "batch": "dynamic"},
    )
    add(
        "fc_flatten_fixed_batch",
        (4, 3, 2),
        sequential(layers.Flatten(), layers.Dense(5)),
        {"weights": "per-channel", "flatten": True, "batch": "fixed 1"},
        batch_size=1,
    )
    add(
        "mlp_relu_relu6",
        (10,),
        sequential(
            layers.Dense(12, activation="relu"),
            layers.Dense(8, activation="relu6"),
            layers.Dense(4),
        ),
        {"weights": "per-channel", "activation": "relu, relu6, none"},
        calibration_std=3.0,
    )

    # CONV_2D
    for stride, padding, act, dilation, shape in (
        (1, "same", None, 1, (6, 6, 2)),
        (1, "valid", "relu", 1, (6, 6, 2)),
        (2, "same", "relu6", 1, (7, 7, 2)),
        (2, "valid", None, 1, (7, 7, 2)),
        (2, "same", None, 1, (8, 8, 2)),
        (1, "same", "relu", 2, (7, 7, 2)),
        (1, "valid", None, 2, (7, 7, 2)),
    ):
        act_name = act or "none"
        add(
            f"conv_s{stride}_{padding}_{act_name}_d{dilation}_{shape[0]}x{shape[1]}",
            shape,
            sequential(
                conv(4, 3, strides=stride, padding=padding, dilation_rate=dilation, activation=act)
            ),
            {
                "weights": "per-channel",
                "stride": stride,
                "padding": padding.upper(),
                "dilation": dilation,
                "activation": act_name,
                "batch": "fixed 1" if dilation > 1 else "dynamic",
            },
            calibration_std=3.0 if act == "relu6" else 1.0,
            batch_size=DILATED_BATCH if dilation > 1 else None,
        )
    add(
        "conv_per_tensor_same_relu",
        (6, 6, 2),
        sequential(conv(3, 3, padding="same", activation="relu")),
        {"weights": "per-tensor", "stride": 1, "padding": "SAME", "activation": "relu"},
        per_channel=False,
    )
    add(
        "conv_kernel3x2_stride2x1_same",
        (7, 5, 1),
        sequential(conv(3, (3, 2), strides=(2, 1), padding="same")),
        {"weights": "per-channel", "kernel": [3, 2], "stride": [2, 1], "padding": "SAME"},
    )
    add(
        "conv_1x1",
        (4, 4, 3),
        sequential(conv(5, 1)),
        {"weights": "per-channel", "kernel": 1, "padding": "VALID"},
    )

    # DEPTHWISE_CONV_2D
    for mult, stride, padding, act, shape in (
        (1, 1, "same", "relu", (6, 6, 3)),
        (1, 1, "valid", None, (6, 6, 3)),
        (2, 1, "same", None, (6, 6, 2)),
        (2, 2, "valid", "relu6", (7, 7, 2)),
        (1, 2, "same", None, (7, 7, 3)),
    ):
        act_name = act or "none"
        add(
            f"dw_m{mult}_s{stride}_{padding}_{act_name}",
            shape,
            sequential(
                dw(3, strides=stride, padding=padding, depth_multiplier=mult, activation=act)
            ),
            {
                "weights": "per-channel",
                "depth_multiplier": mult,
                "stride": stride,
                "padding": padding.upper(),
                "activation": act_name,
            },
            calibration_std=3.0 if act == "relu6" else 1.0,
        )
    add(
        "dw_m1_dilation2_same",
        (7, 7, 2),
        sequential(dw(3, padding="same", dilation_rate=2)),
        {"depth_multiplier": 1, "padding": "SAME", "dilation": 2, "batch": "fixed 1"},
        batch_size=DILATED_BATCH,
    )

    # MAX_POOL_2D, AVERAGE_POOL_2D
    for kind, pool in (("maxpool", layers.MaxPooling2D), ("avgpool", layers.AveragePooling2D)):
        for size, stride, padding, shape in (
            (2, 2, "valid", (6, 6, 2)),
            (3, 2, "same", (7, 7, 2)),
            (3, 1, "same", (5, 5, 2)),
        ):
            add(
                f"{kind}_{size}x{size}_s{stride}_{padding}",
                shape,
                sequential(pool(size, strides=stride, padding=padding)),
                {"pool": size, "stride": stride, "padding": padding.upper()},
            )
    add(
        "conv_maxpool",
        (6, 6, 1),
        sequential(conv(3, 3, padding="same", activation="relu"), layers.MaxPooling2D(2)),
        {"note": "pool after a conv, so its input parameters are not the model input's"},
    )

    # MEAN
    add("gap2d", (4, 4, 3), sequential(layers.GlobalAveragePooling2D()), {"axes": [1, 2]})
    add(
        "gap2d_keepdims",
        (3, 5, 2),
        sequential(layers.GlobalAveragePooling2D(keepdims=True)),
        {"axes": [1, 2], "keepdims": True},
    )
    add(
        "conv_gap2d",
        (5, 5, 2),
        sequential(conv(4, 3, activation="relu"), layers.GlobalAveragePooling2D()),
        {"axes": [1, 2], "note": "MEAN input and output scales differ"},
    )
    add("gap1d", (10, 3), sequential(layers.GlobalAveragePooling1D()), {"axes": [1]})

    # ADD
    add(
        "add_residual_conv",
        (5, 5, 3),
        residual([conv(3, 3, padding="same")]),
        {"note": "x + conv(x): two input scales"},
        calibration_std=1.0,
    )
    add(
        "add_residual_dense_relu",
        (6,),
        residual([layers.Dense(6)], activation="relu"),
        {"activation": "relu", "note": "x + dense(x), relu fused into ADD"},
    )

    # RESHAPE
    add(
        "reshape_dense",
        (12,),
        sequential(layers.Dense(12), layers.Reshape((3, 4))),
        {"target_shape": [3, 4]},
    )
    add("reshape_only", (2, 6), sequential(layers.Reshape((3, 4))), {"target_shape": [3, 4]})

    # LOGISTIC, TANH, SOFTMAX
    for act in ("sigmoid", "tanh"):
        add(f"{act}_only", (16,), sequential(layers.Activation(act)), {}, calibration_std=4.0)
        add(f"dense_{act}", (6,), sequential(layers.Dense(8, activation=act)), {})
    add("softmax_only", (10,), sequential(layers.Softmax()), {}, calibration_std=3.0)
    add("softmax_narrow_input", (6,), sequential(layers.Softmax()), {}, calibration_std=0.2)
    add("dense_softmax", (8,), sequential(layers.Dense(10), layers.Softmax()), {})

    # QUANTIZE / DEQUANTIZE at float edges
    add(
        "float_io_dense",
        (6,),
        sequential(layers.Dense(4, activation="relu")),
        {"io": "float32"},
        float_io=True,
    )
    add(
        "float_io_conv_softmax",
        (4, 4, 1),
        sequential(conv(2, 3), layers.Flatten(), layers.Dense(3), layers.Softmax()),
        {"io": "float32"},
        float_io=True,
    )

    # Conv1D (CONV_2D between EXPAND_DIMS and SQUEEZE)
    for stride, padding, act, dilation in (
        (1, "same", "relu", 1),
        (2, "valid", None, 1),
        (1, "same", None, 2),
        (1, "causal", None, 1),
    ):
        act_name = act or "none"
        add(
            f"conv1d_s{stride}_{padding}_{act_name}_d{dilation}",
            (12, 2),
            sequential(
                layers.Conv1D(
                    3, 3, strides=stride, padding=padding, dilation_rate=dilation, activation=act
                )
            ),
            {
                "stride": stride,
                "padding": padding.upper(),
                "dilation": dilation,
                "activation": act_name,
                "batch": "fixed 1" if dilation > 1 else "dynamic",
            },
            batch_size=DILATED_BATCH if dilation > 1 else None,
        )

    # small whole networks
    add(
        "sensor_conv1d_tanh_gap_sigmoid",
        (16, 3),
        sequential(
            layers.Conv1D(4, 3, padding="same", activation="tanh"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ),
        {"note": "issue 3's 1-D sensor shape"},
    )
    add(
        "digits_cnn_mini",
        (8, 8, 1),
        sequential(
            conv(4, 3, padding="same", activation="relu"),
            dw(3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10),
            layers.Softmax(),
        ),
        {"note": "issue 3's digits CNN shape, tiny"},
    )

    # Rejected by the importer: no oracle outputs are stored for it.
    add(
        "unsupported_dilated_conv_dynamic_batch",
        (6, 6, 1),
        sequential(conv(2, 3, dilation_rate=2)),
        {"dilation": 2, "batch": "dynamic"},
        unsupported=(
            "with a dynamic batch the converter writes a dilated Conv2D as SPACE_TO_BATCH_ND, "
            "CONV_2D, BATCH_TO_SPACE_ND, ADD and stores batch 1 for the space-to-batch tensors "
            "(really 4); TFLM trusts the stored shapes and its outputs are wrong by up to 230 "
            "codes. Re-export the model with a fixed batch size of 1 to get a dilated CONV_2D"
        ),
    )
    return fx


def build_model(fixture):
    inputs = tf.keras.Input(fixture.input_shape, batch_size=fixture.batch_size)
    model = tf.keras.Model(inputs, fixture.build(inputs))
    set_seeded_weights(model, np.random.default_rng(SEED + sum(map(ord, fixture.name))))
    return model


def set_seeded_weights(model, rng):
    """Nonzero biases (a zero bias is dropped by the converter) and a spread of channel scales."""
    for layer in model.layers:
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if len(shape) == 1:
                values = rng.uniform(-0.5, 0.5, shape)
            else:
                depthwise = isinstance(layer, layers.DepthwiseConv2D)
                channel_shape = shape[-2:] if depthwise else shape[-1:]
                fan_in = int(np.prod(shape[:-2] if depthwise else shape[:-1]))
                channel_gain = np.exp(rng.uniform(np.log(0.25), np.log(2.0), channel_shape))
                values = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / fan_in) * channel_gain
            variable.assign(values.astype(np.float32))


def convert(model, fixture):
    rng = np.random.default_rng(SEED)
    shape = (1, *fixture.input_shape)

    def representative_dataset():
        for _ in range(CALIBRATION_SAMPLES):
            yield [(rng.standard_normal(shape) * fixture.calibration_std).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not fixture.float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not fixture.per_channel:
        converter._experimental_disable_per_channel = True
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def make_samples(fixture, scale, zero_point):
    """Int8 extremes, the float zero, random codes, and quantized in-distribution samples.

    A float-input model gets the float equivalents: zero, huge values that clamp, values half a
    step between codes, and random and in-distribution floats.
    """
    rng = np.random.default_rng(SEED + 1)
    shape = fixture.input_shape
    size = int(np.prod(shape))
    alternating = np.where(np.arange(size) % 2 == 0, -1.0, 1.0).reshape(shape)
    normal = rng.standard_normal((IN_DISTRIBUTION_SAMPLES, *shape)) * fixture.calibration_std
    if fixture.float_io:
        half_steps = (np.arange(size) - size // 2 + 0.5 - zero_point) * scale
        samples = [
            np.zeros(shape),
            np.full(shape, -FLOAT_EXTREME),
            np.full(shape, FLOAT_EXTREME),
            alternating * FLOAT_EXTREME,
            half_steps.reshape(shape),
            *rng.uniform(-4, 4, (RANDOM_SAMPLES, *shape)),
            *normal,
        ]
        return np.stack(samples).astype(np.float32)
    in_distribution = np.clip(np.round(normal / scale) + zero_point, -128, 127)
    samples = [
        np.full(shape, zero_point),
        np.full(shape, -128),
        np.full(shape, 127),
        np.where(alternating < 0, -128, 127),
        *rng.integers(-128, 128, (RANDOM_SAMPLES, *shape)),
        *in_distribution,
    ]
    return np.stack(samples).astype(np.int8)


def run_tflm(model_bytes, samples):
    interpreter = runtime.Interpreter.from_bytes(model_bytes)
    outputs = []
    for sample in samples:
        interpreter.set_input(sample[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


def run_desktop(model_bytes, samples, resolver=None):
    kwargs = {} if resolver is None else {"experimental_op_resolver_type": resolver}
    interpreter = tf.lite.Interpreter(model_content=model_bytes, **kwargs)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in samples:
        interpreter.set_tensor(input_index, sample[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(outputs)


OPERATOR_NAMES = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}
ACTIVATION_NAMES = {
    value: name
    for name, value in vars(schema.ActivationFunctionType).items()
    if not name.startswith("_")
}
WEIGHTED_OPERATORS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
PADDING_NAMES = {
    value: name for name, value in vars(schema.Padding).items() if not name.startswith("_")
}


def describe_operators(model_bytes):
    """Each operator of subgraph 0 in execution order, with its builtin options as written."""
    model = read_model(model_bytes)
    subgraph = model.subgraphs[0]
    described = []
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        entry = {"op": OPERATOR_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]}
        entry.update(describe_options(op.builtinOptions))
        if entry["op"] in WEIGHTED_OPERATORS:
            weights = subgraph.tensors[op.inputs[1]]
            entry["weight_scales"] = len(weights.quantization.scale)
            entry["bias"] = bool(len(op.inputs) > 2 and op.inputs[2] >= 0)
        described.append(entry)
    return described


def describe_options(options):
    if options is None:
        return {}
    described = {}
    for key, value in vars(options).items():
        if value is None:
            continue
        if key == "fusedActivationFunction":
            value = ACTIVATION_NAMES[value]
        elif key == "padding":
            value = PADDING_NAMES[value]
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        described[key] = value
    return described


def input_quantization(model_bytes):
    """(scale, zero_point) of the int8 input, or of the QUANTIZE output for a float input."""
    subgraph = read_model(model_bytes).subgraphs[0]
    index = subgraph.inputs[0]
    tensor = subgraph.tensors[index]
    if tensor.type == schema.TensorType.FLOAT32:
        consumer = next(op for op in subgraph.operators if index in op.inputs)
        tensor = subgraph.tensors[consumer.outputs[0]]
    return float(tensor.quantization.scale[0]), int(tensor.quantization.zeroPoint[0])


def output_quantization(model_bytes):
    """(scale, zero_point) of the int8 output, or of the DEQUANTIZE input for a float output."""
    subgraph = read_model(model_bytes).subgraphs[0]
    index = subgraph.outputs[0]
    tensor = subgraph.tensors[index]
    if tensor.type == schema.TensorType.FLOAT32:
        producer = next(op for op in subgraph.operators if index in op.outputs)
        tensor = subgraph.tensors[producer.inputs[0]]
    return float(tensor.quantization.scale[0]), int(tensor.quantization.zeroPoint[0])


def read_model(model_bytes):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))


def tensor_parameters(details):
    quantization = details["quantization_parameters"]
    described = {"shape": details["shape"].tolist(), "dtype": np.dtype(details["dtype"]).name}
    if len(quantization["scales"]):
        described["scale"] = float(quantization["scales"][0])
        described["zero_point"] = int(quantization["zero_points"][0])
    return described


def differences(outputs, reference):
    diff = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    return {"count": int(np.count_nonzero(diff)), "max_abs": float(diff.max(initial=0))}


def generate(fixture, output_dir):
    model = build_model(fixture)
    model_bytes = convert(model, fixture)
    (output_dir / f"{fixture.name}.tflite").write_bytes(model_bytes)
    entry = {
        "name": fixture.name,
        "options": fixture.options,
        "ops": [operator["op"] for operator in describe_operators(model_bytes)],
        "operators": describe_operators(model_bytes),
        "tflite_bytes": len(model_bytes),
    }
    if fixture.unsupported:
        return {**entry, "unsupported": fixture.unsupported}
    tflm = runtime.Interpreter.from_bytes(model_bytes)
    input_scale, input_zero_point = input_quantization(model_bytes)
    samples = make_samples(fixture, input_scale, input_zero_point)
    oracle = run_tflm(model_bytes, samples)
    steps_from_float = float_model_gap(model, fixture, samples, oracle, model_bytes)
    if steps_from_float > MAX_STEPS_FROM_FLOAT_MODEL:
        raise SystemExit(
            f"{fixture.name}: TFLM is {steps_from_float} steps from the float model; not an oracle"
        )
    desktop = run_desktop(model_bytes, samples)
    resolvers = tf.lite.experimental.OpResolverType
    desktop_differs = {
        "default (XNNPACK), saved": differences(desktop, oracle),
        "BUILTIN_WITHOUT_DEFAULT_DELEGATES": differences(
            run_desktop(model_bytes, samples, resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES), oracle
        ),
        "BUILTIN_REF": differences(
            run_desktop(model_bytes, samples, resolvers.BUILTIN_REF), oracle
        ),
    }
    np.save(output_dir / f"{fixture.name}.input.npy", samples)
    np.save(output_dir / f"{fixture.name}.tflm.npy", oracle)
    np.save(output_dir / f"{fixture.name}.tflite_desktop.npy", desktop)
    return {
        **entry,
        "input": tensor_parameters(tflm.get_input_details(0)),
        "output": tensor_parameters(tflm.get_output_details(0)),
        "samples": len(samples),
        "outputs_per_model": int(oracle.size),
        "tflm_max_steps_from_float_model": steps_from_float,
        "desktop_differs_from_tflm": desktop_differs,
    }


def float_model_gap(model, fixture, samples, oracle, model_bytes):
    """Largest distance, in output quantization steps, between TFLM and the float Keras model.

    Only the in-distribution samples count: extreme inputs push hidden activations past their
    calibrated ranges, where int8 saturates and the float model does not.
    """
    samples = samples[-IN_DISTRIBUTION_SAMPLES:]
    oracle = oracle[-IN_DISTRIBUTION_SAMPLES:]
    input_scale, input_zero_point = input_quantization(model_bytes)
    output_scale, output_zero_point = output_quantization(model_bytes)
    if fixture.float_io:
        float_inputs = samples
        oracle_steps = oracle / output_scale
    else:
        float_inputs = (samples.astype(np.float32) - input_zero_point) * input_scale
        oracle_steps = oracle.astype(np.float64) - output_zero_point
    expected = model.predict(float_inputs, verbose=0) / output_scale
    int8_codes = np.clip(np.round(expected), -128 - output_zero_point, 127 - output_zero_point)
    return float(np.abs(oracle_steps - int8_codes).max())


def manifest_text(manifest):
    """Indented JSON with one line per fixture, so that a regenerated fixture is a one-line diff."""
    header = json.dumps({k: v for k, v in manifest.items() if k != "fixtures"}, indent=1)
    fixtures_text = ",\n".join("  " + json.dumps(entry) for entry in manifest["fixtures"])
    return header[:-2] + ',\n "fixtures": [\n' + fixtures_text + "\n ]\n}\n"


def main(argv):
    output_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    output_dir.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(SEED)
    entries = [generate(fixture, output_dir) for fixture in fixtures()]
    manifest = {
        "generator": "tools/make_tflite_fixtures.py",
        "tensorflow": tf.__version__,
        "tflite_micro": tflm_version.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "layout": "input.npy (N, *input shape without batch); each sample run as a batch of one",
        "fixtures": entries,
    }
    (output_dir / "MANIFEST.json").write_text(manifest_text(manifest))
    total = sum(path.stat().st_size for path in output_dir.iterdir())
    for entry in entries:
        if "unsupported" in entry:
            print(f"{entry['name']:38} {entry['tflite_bytes']:5d} B  unsupported")
            continue
        counts = "/".join(str(d["count"]) for d in entry["desktop_differs_from_tflm"].values())
        print(
            f"{entry['name']:38} {entry['tflite_bytes']:5d} B  "
            f"float gap {entry['tflm_max_steps_from_float_model']:1.0f}  "
            f"desktop!=tflm {counts:>8} of {entry['outputs_per_model']:<4d}  "
            + " ".join(entry["ops"])
        )
    print(f"{len(entries)} fixtures, {total} bytes in {output_dir}")
    if total > SIZE_LIMIT_BYTES:
        raise SystemExit(f"fixtures take {total} bytes, more than {SIZE_LIMIT_BYTES}: shrink them")


if __name__ == "__main__":
    main(sys.argv)
