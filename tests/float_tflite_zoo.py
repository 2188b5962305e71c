"""The float .tflite zoo models: their inputs, and TFLM running them in float.

TFLM refuses hybrid models (float activations, int8 weights with scales), so `float_weights`
rewrites those weights as the float32 values they stand for; TFLM's float kernels then give the
float model the hybrid file describes. Inputs are public samples where the zoo has some
(`tests/data/zoo/inputs/`, their sources in its SOURCES.tsv), else random values in the model's
input range.
"""

from pathlib import Path

import numpy as np
import pytest

ZOO = Path(__file__).parent / "data" / "zoo"
NO_TFLM = (
    "tflite-micro is not installed; it is pinned in requirements.txt for Linux x86-64 (`make venv`)"
)
TOYCAR_SAMPLES = ZOO / "inputs" / "tiny__model_ToyCar_quant_fullint_float.npy"
KWS_SAMPLE = ZOO / "inputs" / "tiny__kws_ref_model.npy"
KWS_INPUT = (0.5847029089927673, 83)  # scale, zero point of the int8 kws_ref_model's input


def _inputs(model: str, count: int, seed: int) -> np.ndarray:
    """float32 inputs of the zoo model `model` (file stem), [count, *input shape]."""
    rng = np.random.default_rng(seed)
    if model.startswith("tflm__examples__hello_world"):
        return rng.uniform(0, 2 * np.pi, (count, 1)).astype(np.float32)
    if model in ("tiny__model_ToyCar_quant", "tiny__ad01_fp32"):
        samples = np.load(TOYCAR_SAMPLES)
        return samples[rng.choice(len(samples), count, replace=count > len(samples))]
    if model == "tiny__kws_ref_model_float32":
        scale, zero_point = KWS_INPUT
        sample = (np.load(KWS_SAMPLE).astype(np.float32) - zero_point) * scale
        noise = rng.normal(0, 8, (count, *sample.shape[1:]))
        low, high = (-128 - zero_point) * scale, (127 - zero_point) * scale
        return np.clip(sample + noise, low, high).astype(np.float32)
    if model.startswith("tiny__pretrainedResnet"):
        return _smooth_images(rng, count, 32, 255)
    if model == "tiny__vww_96_float":
        return _smooth_images(rng, count, 96, 1)
    raise KeyError(model)


def _smooth_images(rng, count: int, size: int, peak: float) -> np.ndarray:
    """Random images, blocks of 8x8 pixels with noise on top, in [0, peak]."""
    blocks = rng.uniform(0, 1, (count, size // 8, size // 8, 3)).repeat(8, 1).repeat(8, 2)
    noise = rng.normal(0, 0.05, blocks.shape)
    return (np.clip(blocks + noise, 0, 1) * peak).astype(np.float32)


def calibration_inputs(model: str, count: int = 32) -> np.ndarray:
    return _inputs(model, count, seed=1)


def test_inputs(model: str, count: int = 8) -> np.ndarray:
    return _inputs(model, count, seed=2)


test_inputs.__test__ = False  # a helper, not a pytest test


def _schema():
    return pytest.importorskip(
        "tflite_micro.tensorflow.lite.micro.python.schema_py_generated", reason=NO_TFLM
    )


def float_weights(data: bytes) -> bytes:
    """The .tflite with every int8 constant that has scales replaced by its float32 values."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    for tensor in model.subgraphs[0].tensors:
        buffer = model.buffers[tensor.buffer]
        quantization = tensor.quantization
        if tensor.type != schema.TensorType.INT8 or buffer.data is None or quantization is None:
            continue
        codes = np.frombuffer(bytes(bytearray(buffer.data)), np.int8).reshape(tensor.shape)
        shape = [1] * codes.ndim
        if len(quantization.scale) > 1:
            shape[quantization.quantizedDimension] = -1
        scale = np.asarray(quantization.scale, np.float64).reshape(shape)
        zero_point = np.asarray(quantization.zeroPoint, np.float64).reshape(shape)
        values = ((codes - zero_point) * scale).astype("<f4")
        buffer.data = np.frombuffer(values.tobytes(), np.uint8)
        tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
    builder = flatbuffers.Builder(len(data) * 4)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflm_float_outputs(data: bytes, inputs: np.ndarray) -> np.ndarray:
    """TFLM's float32 outputs for each input, [N, *output shape without batch]."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)
    interpreter = runtime.Interpreter.from_bytes(float_weights(data))
    outputs = []
    for sample in inputs:
        interpreter.set_input(np.asarray(sample, np.float32)[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.array(outputs)
