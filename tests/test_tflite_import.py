""".tflite import: every committed fixture gives TFLM's integers exactly, and bad models fail
with a message that names the problem.

A fixture whose operators have no builder yet is a strict xfail naming the missing operators:
it must fail to import, and it becomes an ordinary test the moment its builder registers.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from tflite_builder import Op, T, build_tflite, dense_float, dense_int8

from micronn import container, reference
from micronn.cli import main
from micronn.convert import convert_to_model
from micronn.importers.tflite import import_tflite, load_tflite, supported_operators
from micronn.importers.tflite.weights import QuantizedWeights, requantize_weights

FIXTURES = Path(__file__).parent / "data" / "tflite"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
ENTRIES = {entry["name"]: entry for entry in MANIFEST["fixtures"]}
SUPPORTED = supported_operators()
REJECTED = {  # fixtures micronn refuses on purpose, and the words the refusal must contain
    "reshape_only": "only reshapes its input",
    "unsupported_dilated_conv_dynamic_batch": (
        r"SPACE_TO_BATCH_ND \(operator 0, .*\) is not supported: .*fixed batch size of 1"
    ),
}
ON_THE_VM = [
    "fc_per_channel_relu6",
    "fc_per_tensor_relu",
    "fc_no_bias",
    "fc_flatten_relu",
    "mlp_relu_relu6",
    "reshape_dense",
    "float_io_dense",
    "conv_s2_same_relu6_d1_7x7",
    "dw_m2_s2_valid_relu6",
    "maxpool_3x3_s2_same",
    "avgpool_3x3_s2_same",
    "gap2d",
    "add_residual_conv",
    "dense_sigmoid",
    "dense_tanh",
    "dense_softmax",
    "conv1d_s1_same_relu_d1",
    "sensor_conv1d_tanh_gap_sigmoid",
    "digits_cnn_mini",
    "float_io_conv_softmax",
]


def _fixture(name):
    entry = ENTRIES[name]
    missing = sorted(set(entry["ops"]) - SUPPORTED)
    marks = ()
    if missing:
        reason = f"no importer builder yet for {', '.join(missing)}"
        marks = pytest.mark.xfail(reason=reason, raises=ValueError, strict=True)
    return pytest.param(name, id=name, marks=marks)


ORACLE = [_fixture(name) for name in ENTRIES if name not in REJECTED]


def _path(name, suffix=".tflite") -> Path:
    return FIXTURES / f"{name}{suffix}"


def _reference_outputs(model, samples) -> np.ndarray:
    """Reference outputs for stored samples: int8 codes, or floats quantized and dequantized
    at the edges as the float-I/O model's QUANTIZE and DEQUANTIZE do."""
    floats = samples.dtype != np.int8
    codes = reference.quantize_input(model, samples) if floats else samples
    outputs = reference.run(model, codes.reshape(len(codes), *model.input.shape))
    return reference.dequantize_output(model, outputs) if floats else outputs


@pytest.mark.parametrize("name", ORACLE)
def test_reference_gives_the_tflm_outputs_exactly(name):
    model = load_tflite(_path(name))
    expected = np.load(_path(name, ".tflm.npy"))
    outputs = _reference_outputs(model, np.load(_path(name, ".input.npy")))
    assert outputs.dtype == expected.dtype
    np.testing.assert_array_equal(outputs.reshape(expected.shape), expected)


@pytest.mark.parametrize("name", ORACLE)
def test_the_container_keeps_the_imported_model(name):
    model = load_tflite(_path(name))
    again = container.read(container.write(model))
    samples = np.load(_path(name, ".input.npy"))
    np.testing.assert_array_equal(
        _reference_outputs(again, samples), _reference_outputs(model, samples)
    )


@pytest.mark.parametrize("name", [_fixture(name) for name in ON_THE_VM])
def test_micronn_simulate_gives_the_tflm_outputs(name, tmp_path, capsys):
    mnq, out = tmp_path / f"{name}.mnq", tmp_path / "out.npy"
    assert main(["convert", str(_path(name)), "-o", str(mnq)]) == 0
    model = container.read(mnq.read_bytes())
    samples = np.load(_path(name, ".input.npy"))
    np.save(tmp_path / "in.npy", samples.reshape(len(samples), *model.input.shape))
    floats = ["--dequantize"] if samples.dtype != np.int8 else []
    args = ["simulate", str(mnq), "--input", str(tmp_path / "in.npy"), "--output", str(out)]
    assert main([*args, "--board", "esp32s3", *floats]) == 0, capsys.readouterr().err
    expected = np.load(_path(name, ".tflm.npy"))
    outputs = np.load(out)
    assert outputs.dtype == expected.dtype
    np.testing.assert_array_equal(outputs.reshape(expected.shape), expected)


def test_inspect_shows_each_layers_operator_shapes_and_bytes(tmp_path, capsys):
    name = "digits_cnn_mini"
    if missing := set(ENTRIES[name]["ops"]) - SUPPORTED:
        pytest.xfail(f"no importer builder yet for {', '.join(sorted(missing))}")
    mnq = tmp_path / "digits.mnq"
    assert main(["convert", str(_path(name)), "-o", str(mnq)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(mnq)]) == 0
    table = capsys.readouterr().out.splitlines()
    header = next(line for line in table if line.startswith("#"))
    assert (
        header.split() == "# op activation shapes weights weight B params B activations B".split()
    )
    rows = {line.split()[1]: line.split() for line in table if line[:1].isdigit()}
    # conv: 4 filters of 3x3x1 int8 weights; reads 8x8x1, writes 8x8x4 -> 64 + 256 activation bytes
    assert rows["CONV_2D"][2:7] == ["relu", "8x8x1", "->", "8x8x4", "int8"]
    assert rows["CONV_2D"][8] == "36" and rows["CONV_2D"][-1] == "320"
    assert rows["MAX_POOL_2D"][3:6] == ["8x8x4", "->", "4x4x4"] and rows["MAX_POOL_2D"][7] == "0"
    assert rows["FULLY_CONNECTED"][3:6] == ["4x4x4", "->", "10"]
    assert rows["FULLY_CONNECTED"][8] == "640"


def test_the_manifest_fixtures_are_all_covered():
    assert set(REJECTED) | {p.values[0] for p in ORACLE} == set(ENTRIES)
    assert set(ON_THE_VM) <= set(ENTRIES)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_fixtures_micronn_refuses_say_why(name):
    with pytest.raises(ValueError, match=REJECTED[name]):
        load_tflite(_path(name))


def test_a_dense_model_written_here_imports_with_its_parameters():
    model = import_tflite(dense_int8(in_features=4, out_features=3), "dense.tflite")
    (layer,) = model.layers
    assert (layer.op, layer.in_features, layer.out_features) == ("FULLY_CONNECTED", 4, 3)
    assert (model.input.zero_point, model.output.zero_point) == (-3, 4)
    assert model.input.scale == pytest.approx(0.02) and model.output.scale == pytest.approx(0.05)
    assert tuple(model.input.shape) == (4,) and tuple(model.output.shape) == (3,)


def test_weights_reshaped_by_the_converter_are_folded_at_import():
    weights = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    tensors = [
        T("x", (1, 4), scale=(0.02,), zero_point=(-3,)),
        T("w/flat", (12,), data=weights.reshape(-1), scale=(0.01,)),
        T("w/shape", (2,), "INT32", np.array([3, 4], np.int32)),
        T("w", (3, 4), scale=(0.01,)),
        T("y", (1, 3), scale=(0.05,), zero_point=(4,)),
    ]
    operators = [Op("RESHAPE", (1, 2), (3,)), Op("FULLY_CONNECTED", (0, 3, -1), (4,))]
    model = import_tflite(build_tflite(tensors, operators, (0,), (4,)), "reshaped.tflite")
    (layer,) = model.layers
    np.testing.assert_array_equal(layer.weights, weights)
    np.testing.assert_array_equal(layer.bias, 3 * weights.astype(np.int32).sum(axis=1))


def test_an_unsupported_operator_is_named_with_its_output():
    with pytest.raises(
        ValueError, match=r"EXP \(operator 1, output 'extra/out'\) is not supported"
    ):
        import_tflite(dense_int8(extra_op="EXP"), "exp.tflite")


def test_a_dynamic_shape_is_refused():
    data = dense_int8(input_signature=(-1, -1))
    with pytest.raises(ValueError, match=r"tensor 'x' has shape \[-1, -1\]: dynamic shapes"):
        import_tflite(data, "dynamic.tflite")


def test_a_fixed_batch_above_one_is_refused():
    with pytest.raises(ValueError, match="tensor 'x' has batch size 2; .*batch size 1"):
        import_tflite(dense_int8(batch=2), "batch2.tflite")


def test_a_dynamic_batch_alone_is_fine():
    model = import_tflite(dense_int8(input_signature=(-1, 4)), "batch.tflite")
    assert tuple(model.input.shape) == (4,)


def test_a_float_only_model_says_to_quantize_or_calibrate():
    with pytest.raises(ValueError, match="float32: .*full-integer quantization.*--calibration"):
        import_tflite(dense_float(), "float.tflite")


def test_a_float_tflite_with_calibration_is_quantized_by_micronn(tmp_path):
    path = tmp_path / "float.tflite"
    path.write_bytes(dense_float())
    model = convert_to_model(path, calibration=np.linspace(-1, 1, 16, dtype=np.float32))
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED"]


def test_an_unsupported_fused_activation_is_refused():
    with pytest.raises(ValueError, match="fused activation RELU_N1_TO_1"):
        import_tflite(dense_int8(fused_activation=2), "relu1.tflite")


def test_an_int8_requantize_inside_the_model_is_a_requantize_layer():
    """(tests/test_ops_requantize.py sweeps scales and zero points against TFLM)"""
    data = dense_int8(extra_op="QUANTIZE", extra_inputs=(3,), extra_output=(0.07, 1))
    model = import_tflite(data, "requantize.tflite")
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED", "REQUANTIZE"]


def test_an_int8_quantize_that_changes_nothing_is_folded():
    data = dense_int8(extra_op="QUANTIZE", extra_inputs=(3,), extra_output=(0.05, 4))
    assert len(import_tflite(data, "same.tflite").layers) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a flatbuffer at all",
        _path("digits_cnn_mini").read_bytes()[:600],
        _path("fc_no_bias").read_bytes()[:40],
    ],
    ids=["empty", "text", "truncated", "header only"],
)
def test_a_corrupt_flatbuffer_is_refused(data):
    with pytest.raises(ValueError, match="corrupt .tflite|not a .tflite"):
        import_tflite(data, "broken.tflite")


def test_flipped_bytes_never_escape_as_other_errors():
    original = _path("fc_flatten_relu").read_bytes()
    rng = np.random.default_rng(7)
    for _ in range(60):
        data = bytearray(original)
        for position in rng.integers(8, len(data), 3):
            data[position] = rng.integers(0, 256)
        try:
            import_tflite(bytes(data), "flipped.tflite")
        except ValueError:
            pass


def test_convert_refuses_float_options_for_a_tflite():
    path = _path("fc_per_channel_none")
    with pytest.raises(ValueError, match="--calibration does not apply"):
        convert_to_model(path, calibration=np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="drop --per-tensor"):
        convert_to_model(path, per_tensor=True)


@pytest.mark.parametrize(("weights", "limit", "correlation"), [("int4", 7, 0.98), ("int2", 1, 0.8)])
def test_int4_and_int2_weights_requantize_the_tflite_weights(weights, limit, correlation):
    """Not bit-exact with TFLM any more (it runs the int8 weights), but close to it."""
    name = "fc_per_channel_none"
    model = convert_to_model(_path(name), weights=weights)
    again = container.read(container.write(model))
    (layer,) = again.layers
    assert layer.weight_bits == int(weights[3:]) and np.abs(layer.weights).max() == limit
    outputs = _reference_outputs(again, np.load(_path(name, ".input.npy"))).reshape(-1)
    expected = np.load(_path(name, ".tflm.npy")).reshape(-1)
    assert np.corrcoef(outputs.astype(float), expected.astype(float))[0, 1] > correlation


def test_requantized_weights_keep_each_channel_and_its_bias():
    codes = np.array([[127, -64, 0], [10, -5, 2]], np.int8)
    weights = QuantizedWeights(codes, np.array([0.01, 0.2], np.float32), 0, np.array([100, -7]), 8)
    assert requantize_weights(weights, 8) is weights
    four = requantize_weights(weights, 4)
    np.testing.assert_array_equal(four.codes, [[7, -4, 0], [7, -4, 1]])
    np.testing.assert_allclose(four.scales, [0.01 * 127 / 7, 0.2 * 10 / 7], rtol=1e-6)
    np.testing.assert_array_equal(four.bias, [6, -5])  # 100 * 7/127 = 5.5, -7 * 7/10 = -4.9
    assert four.bits == 4
