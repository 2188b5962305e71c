"""A uint8 .tflite edge behind a QUANTIZE that only shifts the zero point by 128 imports as the
int8 edge (int8 = uint8 - 128, exactly as TFLM's QUANTIZE); any other uint8 QUANTIZE is
refused. TFLM runs the .tflite with the uint8 codes themselves."""

from pathlib import Path

import numpy as np
import pytest
import tflm_models
from tflm_conv_models import GraphBuilder

from micronn import container, reference
from micronn.cli import main
from micronn.importers.tflite import import_tflite, load_tflite
from micronn.report import edge_notes

YOLO = Path(__file__).parent / "data" / "zoo" / "openmv__yolo_lc_192.tflite"  # SOURCES.tsv


def _tflm(model_bytes: bytes, samples) -> np.ndarray:
    runtime, _ = tflm_models._modules()
    interpreter = runtime.Interpreter.from_bytes(model_bytes)
    outputs = []
    for x in samples:
        interpreter.set_input(x[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


def _dense(g, source, out_zero_point=-7):
    weights = np.random.default_rng(2).integers(-127, 128, size=(5, 6)).astype(np.int8)
    w = g.tensor(weights.shape, data=weights, scale=[0.01])
    b = g.tensor((5,), "INT32", np.arange(5, dtype=np.int32) * 300, [np.float32(0.02 * 0.01)])
    out = g.activation((5,), 0.03, out_zero_point)
    g.operator("FULLY_CONNECTED", [source, w, b], [out], g.schema.FullyConnectedOptionsT())
    return out


def _uint8_input_model(int8_scale=0.02, int8_zero_point=-118):
    g = GraphBuilder()
    source = g.tensor((1, 6), "UINT8", scale=[0.02], zero_point=[10])
    quantized = g.activation((6,), int8_scale, int8_zero_point)
    g.operator("QUANTIZE", [source], [quantized])
    return g.build(_dense(g, quantized))


def _uint8_output_model(uint8_zero_point=121):
    g = GraphBuilder()
    source = g.activation((6,), 0.02, -3)
    dense = _dense(g, source)
    out = g.tensor((1, 5), "UINT8", scale=[0.03], zero_point=[uint8_zero_point])
    g.operator("QUANTIZE", [dense], [out])
    return g.build(out)


# palm_detection_full_192's QUANTIZE: a scale one float32 step away, so m = 2^31 - 255, s = 0
NEXT_SCALE = float(np.nextafter(np.float32(0.02), np.float32(1)))


@pytest.mark.parametrize("int8_scale", [0.02, NEXT_SCALE], ids=["same-scale", "next-scale"])
def test_a_uint8_input_is_the_int8_input_minus_128(int8_scale):
    model_bytes = _uint8_input_model(int8_scale)
    model = import_tflite(model_bytes, "uint8_in.tflite")
    assert (model.input.source_dtype, model.input.zero_point) == ("uint8", -118)
    samples = np.random.default_rng(4).integers(0, 256, size=(8, 6)).astype(np.uint8)
    samples[:2] = [[0] * 6, [255] * 6]
    codes = reference.quantize_input(model, samples)
    np.testing.assert_array_equal(codes, samples.astype(np.int16) - 128)
    np.testing.assert_array_equal(reference.run(model, codes), _tflm(model_bytes, samples))
    assert "subtract 128" in edge_notes(model)[0]


def test_a_uint8_output_is_the_int8_output_plus_128():
    model_bytes = _uint8_output_model()
    model = import_tflite(model_bytes, "uint8_out.tflite")
    assert (model.output.source_dtype, model.output.zero_point) == ("uint8", -7)
    samples = np.random.default_rng(6).integers(-128, 128, size=(8, 6)).astype(np.int8)
    expected = _tflm(model_bytes, samples)
    assert expected.dtype == np.uint8
    np.testing.assert_array_equal(reference.run(model, samples).astype(np.int16) + 128, expected)
    assert "add 128" in edge_notes(model)[0]


@pytest.mark.parametrize(
    ("model_bytes", "words"),
    [
        (_uint8_input_model(int8_scale=0.04), ["QUANTIZE (operator 0", "to scale 0.04"]),
        (_uint8_input_model(int8_zero_point=-100), ["zero point 10 to", "zero point -100"]),
        (_uint8_output_model(uint8_zero_point=0), ["model's uint8 output", "exactly 128"]),
    ],
    ids=["input-rescaled", "input-zero-point", "output-zero-point"],
)
def test_a_uint8_quantize_that_is_not_a_shift_is_refused(model_bytes, words):
    with pytest.raises(ValueError) as error:
        import_tflite(model_bytes, "bad.tflite")
    for word in words:
        assert word in str(error.value), str(error.value)
    assert "tf.int8" in str(error.value)


def test_yolo_lc_with_its_uint8_input_matches_tflm():
    model = load_tflite(YOLO)
    assert model.input.source_dtype == "uint8"
    samples = np.random.default_rng(8).integers(0, 256, size=(2, 192, 192, 3)).astype(np.uint8)
    expected = _tflm(YOLO.read_bytes(), samples)  # float32: the model ends in a DEQUANTIZE
    got = reference.run(model, (samples.astype(np.int16) - 128).astype(np.int8))
    np.testing.assert_array_equal(reference.dequantize_output(model, got), expected)


def test_convert_says_to_subtract_128(tmp_path, capsys):
    model_path = tmp_path / "uint8_in.tflite"
    model_path.write_bytes(_uint8_input_model())
    assert main(["convert", str(model_path), "-o", str(tmp_path / "m.mnq")]) == 0
    out = capsys.readouterr().out
    assert "the .tflite input is uint8" in out and "subtract 128" in out
    assert container.read((tmp_path / "m.mnq").read_bytes()).input.zero_point == -118
