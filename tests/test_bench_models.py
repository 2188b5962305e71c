"""tools/bench_models.py: the markdown tables, the PNG chart and the .tflite sizes it writes
(no VM run)."""

import re
import struct
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import bench_backends  # noqa: E402
import bench_models  # noqa: E402
import model_tflite  # noqa: E402
import numpy as np  # noqa: E402
import png_chart  # noqa: E402

from micronn import container  # noqa: E402
from micronn.model import Model, TensorSpec  # noqa: E402
from micronn.ops.pooling import prepare_pool  # noqa: E402

ROWS = [
    (
        "wide",
        {
            "times": {"python": 1000.0, "viper": 50.0},
            "weights": 2000,
            "peaks": {"ram": 3000, "stream": 1000},
            "container": 2100,
            "tflite": "2,300",
        },
    )
]


def test_memory_table_gives_peaks_as_multiples_of_weight_bytes():
    table = bench_models.memory_table(ROWS)
    assert "| wide | 2,000 | 3,000 (1.50×) | 1,000 (0.50×) | 2,100 | 2,300 |" in table


def test_report_has_the_speed_ratio_and_chart_groups():
    assert "| wide | viper | 50 | 20.0 |" in bench_models.report(ROWS)
    assert bench_models.ratios(ROWS) == [[1.0, 20.0]]


def test_png_has_the_chart_size_and_a_bar_of_the_first_colour():
    data = png_chart.bar_chart_png([[1.0, 20.0]], bar=10, gap=5, height=100, margin=2)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (2 * 2 + 2 * 10, 100 + 2 * 2)
    length = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + length])
    stride = 1 + 3 * width
    bottom = raw[(height - 3) * stride + 1 :][: 3 * width]  # last bar row, above the margin
    assert bottom[6:9] == bytes(png_chart.COLOURS[0])  # x = margin
    assert bottom[:3] == bytes(png_chart.WHITE)


def test_empty_chart_is_refused():
    with pytest.raises(ValueError, match="nothing to chart"):
        png_chart.bar_chart_png([])


@pytest.mark.parametrize("name", list(bench_backends.MODELS))
def test_every_reference_model_has_a_tflite_size(name, tmp_path):
    model = container.read(bench_backends.MODELS[name](tmp_path).read_bytes())
    x = np.random.default_rng(0).integers(-128, 128, (2, *model.input.shape)).astype(np.int8)
    size = model_tflite.tflite_bytes(model, x)
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", size), size  # no "n/a", no "imports as a different"
    assert int(size.replace(",", "")) > model.layers[0].weights.nbytes


def test_a_model_without_a_tflite_writer_says_n_a():
    pool = prepare_pool(
        "MAX_POOL_2D",
        input_shape=(4, 4, 1),
        filter_size=(2, 2),
        stride=(2, 2),
        padding="valid",
        scale=0.1,
        zero_point=0,
    )
    model = Model(TensorSpec((4, 4, 1), 0.1, 0), TensorSpec((2, 2, 1), 0.1, 0), [pool])
    x = np.zeros((1, 4, 4, 1), np.int8)
    assert model_tflite.tflite_bytes(model, x) == "n/a: no .tflite writer here for MAX_POOL_2D"
