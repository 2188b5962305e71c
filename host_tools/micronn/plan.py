"""Post-training quantization: a FloatNetwork plus calibration data becomes an integer Model.

Weights: symmetric per-channel (or per-tensor) int8, int4 or int2. Activations: asymmetric
int8 from calibrated ranges. Biases: int32 with scale input_scale * weight_scale, then folded
with the input zero point. Multipliers and clamps as TensorFlow Lite Micro derives them.
"""

import numpy as np

from micronn import tflite_int8
from micronn.calibration import observed_range
from micronn.container import validate
from micronn.model import SMALL_INT_LIMIT, WEIGHT_LIMITS, FullyConnected, Model, TensorSpec
from micronn.network import DenseLayer, FloatNetwork

MIN_RANGE_WIDTH = 1e-6


def _activation_params(value_range: tuple) -> tuple:
    low, high = value_range
    if high - low < MIN_RANGE_WIDTH:
        high = low + MIN_RANGE_WIDTH
    return tflite_int8.choose_quantization_params(low, high)


def calibrate(network: FloatNetwork, calibration, method: str = "minmax") -> list:
    """Ranges for [input, layer 0 output, ...], preferring ranges stored in the network."""
    known = [network.input_range] + [layer.output_range for layer in network.layers]
    if all(r is not None for r in known):
        return known
    if calibration is None:
        raise ValueError(
            "this float model needs calibration data to choose activation ranges: pass "
            "--calibration X.npy (a few hundred representative inputs), or store input_range "
            "and layer{i}_output_range in the .npz"
        )
    samples = np.asarray(calibration, dtype=np.float32)
    if samples.size % network.input_size or samples.size == 0:
        raise ValueError(
            f"calibration data of shape {samples.shape} does not hold whole inputs of shape "
            f"{network.input_shape}"
        )
    outputs = network.forward_all(samples)
    return [
        given if given is not None else observed_range(values, method)
        for given, values in zip(known, outputs, strict=True)
    ]


def _bias_safe_scales(layer: DenseLayer, input_scale: float, bits: int) -> np.ndarray:
    """Smallest weight scale per channel that keeps the quantized bias inside the 31-bit bound.

    A dead neuron (weights near 0, bias not) would otherwise get a tiny weight scale and a
    bias too large for the boards' integers; widening its weight range costs it nothing.
    """
    dot = layer.weight.shape[1] * 128 * WEIGHT_LIMITS[bits]
    bias_limit = (SMALL_INT_LIMIT - 1 - 2 * dot) / 2
    if bias_limit <= 0:
        raise ValueError(
            f"a dense layer with {layer.weight.shape[1]} inputs cannot keep its accumulator "
            "inside the boards' 31-bit integers; split it into smaller layers"
        )
    return np.abs(layer.bias.astype(np.float64)) / (np.float64(input_scale) * bias_limit)


def quantize_dense(layer: DenseLayer, in_params, out_params, bits, per_channel, index):
    in_scale, in_zp = in_params
    out_scale, out_zp = out_params
    codes, weight_scales = tflite_int8.quantize_weights(
        layer.weight, bits, per_channel, _bias_safe_scales(layer, in_scale, bits)
    )
    bias = tflite_int8.quantize_bias(layer.bias, in_scale, weight_scales).astype(np.int64)
    folded = bias - in_zp * codes.astype(np.int64).sum(axis=1)
    if np.any(np.abs(folded) >= 2**31):
        raise ValueError(f"layer {index}: bias does not fit int32 after quantization")
    multipliers, shifts = tflite_int8.output_multipliers(in_scale, weight_scales, out_scale)
    act_min, act_max = tflite_int8.activation_range(layer.activation, out_scale, out_zp)
    return FullyConnected(
        weights=codes,
        bias=folded.astype(np.int32),
        multiplier=multipliers.astype(np.int32),
        shift=shifts.astype(np.int32),
        input_zero_point=in_zp,
        output_zero_point=out_zp,
        act_min=act_min,
        act_max=act_max,
        activation=layer.activation,
        weight_bits=bits,
    )


def quantize_network(
    network: FloatNetwork,
    calibration=None,
    weights: str = "int8",
    per_tensor: bool = False,
    method: str = "minmax",
) -> Model:
    bits = {"int8": 8, "int4": 4, "int2": 2}.get(weights)
    if bits is None:
        raise ValueError(f"--weights must be int8, int4 or int2, got {weights!r}")
    params = [_activation_params(r) for r in calibrate(network, calibration, method)]
    layers = [
        quantize_dense(layer, params[i], params[i + 1], bits, not per_tensor, i)
        for i, layer in enumerate(network.layers)
    ]
    out_size = network.layers[-1].weight.shape[0]
    model = Model(
        TensorSpec(tuple(network.input_shape), *params[0]),
        TensorSpec((out_size,), *params[-1]),
        layers,
    )
    validate(model)
    return model
