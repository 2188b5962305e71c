"""Stages run in bands of rows (micronn.bands, docs/format.md "Bands"): the same integers as
whole layers on every backend, a smaller arena on the zoo's image models, the host's and the
device's band arithmetic equal, and both readers refusing a stage that breaks a rule."""

import io
import struct

import numpy as np
import pytest
from backend_vm import run_backends
from conv_factory import random_chain, random_inputs
from device_package import device_module
from mnq_patches import layout, with_crcs
from reference_models import banded_cnn
from vm import vm_params
from zoo_models import ZOO

import micronn
from micronn import bands, container, reference
from micronn.arena import plan_arena
from micronn.cli import main
from micronn.simulate import simulate

# TFLM's arena head (its greedy planner's activations) for the zoo's two image models
ZOO_STAGES = {
    "tflm__models__person_detect": 55296,
    "tiny__vww_96_int8": 73728,
}


def _stages(model):
    """Every Bands the model's layers allow, with two band heights each."""
    found = []
    for first in range(len(model.layers)):
        for last in range(first + 1, len(model.layers)):
            if bands.chain_problem(model, first, last) is not None:
                break
            height = model.layers[last].params["out_height"]
            for rows in sorted({1, max(1, height // 2), height - 1}):
                stage = bands.Bands(first, last, rows)
                if rows < height and bands.problem(model, stage) is None:
                    found.append(stage)
    return found


def _banded_models(seed, count):
    """Random chains of convolutions and pools, each written with one of its stages."""
    rng = np.random.default_rng(seed)
    models, inputs = [], []
    while len(models) < count:
        model = random_chain(rng, length=int(rng.integers(2, 5)))
        stages = _stages(model)
        if not stages:
            continue
        model.bands = stages[int(rng.integers(len(stages)))]
        models.append(model)
        inputs.append(random_inputs(rng, model.input.shape, 3))
    return models, inputs


def test_random_stages_are_found():
    models, _ = _banded_models(1, 12)
    assert {model.layers[model.bands.last].op for model in models} > {"CONV_2D"}
    assert any(model.bands.rows > 1 for model in models)


@pytest.mark.parametrize("weights", ["ram", "stream"])
def test_banded_stages_give_the_reference_integers_on_every_backend(weights, tmp_path):
    models, inputs = _banded_models(7, 10)
    for model in models:
        read = container.read(container.write(model))
        assert read.bands == model.bands
    available, _, _ = run_backends(
        models, inputs, tmp_path, ("python", "viper", "c", "ulab"), options={"weights": weights}
    )  # c and ulab where the VM offers them (MICRONN_MICROPYTHON, docs/building.md)
    assert {"python", "viper"} <= set(available)


@pytest.mark.parametrize("name", sorted(ZOO_STAGES))
def test_image_models_get_a_stage_and_an_arena_below_tflm(name):
    model = container.read(micronn.convert(str(ZOO / f"{name}.tflite")))
    model.bands = "auto"
    assert container.read(container.write(model)).bands == bands.choose(model) is not None
    whole = plan_arena(model)[1]
    banded = plan_arena(model, bands.choose(model))[1]
    assert banded < whole
    assert banded < 0.8 * ZOO_STAGES[name]


def test_the_device_reads_the_bands_the_host_wrote():
    models, _ = _banded_models(3, 8)
    reader = device_module("container")
    device_bands = device_module("bands")
    for model in models:
        data = container.write(model)
        device = reader.read(io.BytesIO(data))
        assert device.bands == (model.bands.first, model.bands.last, model.bands.rows)
        host_rows = bands.band_rows(model, model.bands)
        assert [[tuple(r) for r in rows] for rows in device_bands.schedule(device)] == host_rows
        assert device_bands.slot_sizes(device) == bands.slot_sizes(model, model.bands)


def _reject(data, *messages):
    """Both readers refuse `data` with a message holding one of `messages`."""
    with pytest.raises(container.ContainerError) as host:
        container.read(data)
    with pytest.raises(ValueError) as device:
        device_module("container").read(io.BytesIO(data))
    for error in (host, device):
        assert any(m in str(error.value) for m in messages), str(error.value)


def _banded_file():
    models, _ = _banded_models(5, 1)
    return models[0], container.write(models[0])


def _set_height(data, index, rows):
    data = bytearray(data)
    struct.pack_into("<H", data, layout(data)[index]["record"] + 10, rows)
    return with_crcs(data)


def test_readers_refuse_band_heights_without_the_flag():
    model, data = _banded_file()
    data = bytearray(data)
    struct.pack_into("<H", data, 6, 0)
    _reject(with_crcs(data), "reserved")


def test_readers_refuse_unequal_or_broken_runs():
    model, data = _banded_file()
    _reject(_set_height(data, model.bands.last, model.bands.rows + 1), "band", "BANDS")
    _reject(_set_height(data, model.bands.first, 0), "band", "BANDS")


def test_readers_refuse_a_band_as_tall_as_the_stage():
    model, data = _banded_file()
    height = model.layers[model.bands.last].params["out_height"]
    for index in range(model.bands.first, model.bands.last + 1):
        data = _set_height(data, index, height)
    _reject(data, "rows")


def test_the_writer_refuses_a_stage_through_a_layer_that_is_not_a_window():
    rng = np.random.default_rng(9)
    model = random_chain(rng)
    while model.layers[-1].op != "MEAN":
        model = random_chain(rng)
    model.bands = bands.Bands(0, len(model.layers) - 1, 1)
    with pytest.raises(container.ContainerError, match="not a window layer"):
        container.write(model)


def test_convert_bands_an_image_model_unless_told_not_to(tmp_path, capsys):
    source = str(ZOO / "tflm__models__person_detect.tflite")
    banded, whole = tmp_path / "banded.mnq", tmp_path / "whole.mnq"
    assert main(["convert", source, "-o", str(banded)]) == 0
    said = capsys.readouterr().out
    assert "run in bands of" in said and "instead of 55296 B" in said, said
    assert main(["convert", source, "-o", str(whole), "--no-bands"]) == 0
    assert "run in bands" not in capsys.readouterr().out
    banded_model = container.read(banded.read_bytes())
    assert banded_model.bands == bands.choose(container.read(whole.read_bytes()))
    assert container.read(whole.read_bytes()).bands is None
    assert main(["inspect", str(banded), "--board", "rp2040"]) == 0
    assert "activation bytes:   36864" in capsys.readouterr().out
    assert plan_arena(banded_model, banded_model.bands)[1] < plan_arena(banded_model)[1]
    with pytest.raises(ValueError, match="bands must be"):
        micronn.convert(source, bands="on")


@pytest.mark.parametrize("vm_name", vm_params(("wasm32",)))
def test_banded_stages_with_ulab_on_the_32_bit_vm_give_the_reference_integers(vm_name):
    models, inputs = _banded_models(11, 3)
    models.append(banded_cnn())
    inputs.append(random_inputs(np.random.default_rng(2), models[-1].input.shape, 2))
    for model, x in zip(models, inputs, strict=True):
        data = container.write(model)
        assert container.read(data).bands is not None
        result = simulate(data, x, board="rp2040", backend="ulab", vm=vm_name)
        assert result.backend == "ulab"
        np.testing.assert_array_equal(result.outputs, reference.run(container.read(data), x))
