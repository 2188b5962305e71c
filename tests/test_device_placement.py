"""Weight placement on the MicroPython VM: ram, stream and rom give the reference's integers,
allocate nothing per predict, and "auto" picks the placement that fits."""

import json
import os
import subprocess

import mnq_patches as patch
import numpy as np
import pytest
from conv_factory import random_conv
from model_factory import random_dense_layer
from mpremote.romfs import VfsRomWriter
from vm import run

from micronn import container, reference
from micronn.model import Model, TensorSpec
from micronn.precompiled import precompiled_package
from micronn.simulate import find_micropython

# (placement, chunk_bytes): chunk 1 streams one output channel (or the few that end on a byte
# boundary) at a time, 5 a few, 4096 whole small layers.
PLACEMENTS = [("ram", 4096), ("stream", 1), ("stream", 5), ("stream", 4096), ("rom", 4096)]
BACKENDS = ("python", "auto")  # auto: the fastest kernels on the VM (viper), run_rows included

SCRIPT = """
import json
import micropython
import vfs
from array import array
import micronn

vfs.mount(vfs.VfsRom(open("models.rom", "rb").read()), "/rom")
cases = json.loads(open("cases.json").read())
for name, rows, placement, chunk, backend in cases:
    path = ("/rom/" if placement == "rom" else "") + name + ".mnq"
    net = micronn.load(path, backend=backend, weights=placement, chunk_bytes=chunk)
    x = array("b", bytes(len(net._x)))
    out = array("b", bytes(len(net._result)))
    results = []
    errors = []
    with open(name + ".x", "rb") as f:
        for row in range(rows):
            f.readinto(x)
            net.predict(x, out)  # the first call may allocate (warm-up)
            micropython.heap_lock()
            try:
                net.predict(x, out)
            except MemoryError as error:
                errors.append(str(error))
            finally:
                micropython.heap_unlock()
            results.append(list(out))
    net.close()
    print(json.dumps([name, placement, chunk, net.backend, net.weights, results, errors]))
"""


def _dense_model(rng, bits, per_channel):
    """Odd widths, so that packed rows start in the middle of a byte."""
    layers = [
        random_dense_layer(rng, 37, 23, bits, per_channel, "relu"),
        random_dense_layer(rng, 23, 7, bits, not per_channel, "none"),
    ]
    return Model(TensorSpec((37,), 0.1, 3), TensorSpec((7,), 0.2, -1), layers)


def _conv_model(rng, bits):
    """CONV_2D (streamable) -> DEPTHWISE_CONV_2D (always in RAM) -> CONV_2D."""
    shape = (7, 6, 3)
    layers = []
    for depthwise in (False, True, False):
        layer, _ = random_conv(rng, depthwise=depthwise, bits=bits, input_shape=shape)
        layers.append(layer)
        p = layer.params
        shape = (p["out_height"], p["out_width"], p["out_channels"])
    first = layers[0].params
    in_shape = (first["in_height"], first["in_width"], first["in_channels"])
    return Model(TensorSpec(in_shape, 0.5, 0), TensorSpec(shape, 0.25, 0), layers)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(61)
    found = {}
    for bits in (8, 4, 2):
        for per_channel in (False, True):
            found[f"dense{bits}{'c' if per_channel else 't'}"] = _dense_model(
                rng, bits, per_channel
            )
        found[f"conv{bits}"] = _conv_model(rng, bits)
    return found


def run_package(script, folder, runtime, heapsize="512K"):
    """vm.run, or the same with the device package precompiled (load() then drops its reader
    between loads: docs/memory.md)."""
    if runtime == "py":
        return run(script, cwd=folder, heapsize=heapsize)
    (folder / "_script.py").write_text(script)
    executable = find_micropython()
    done = subprocess.run(
        [executable, "-X", f"heapsize={heapsize}", "_script.py"],
        cwd=folder,
        env=dict(os.environ, MICROPYPATH=str(precompiled_package(executable))),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module", params=["py", "mpy"])
def vm_results(models, tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("placement")
    rng = np.random.default_rng(5)
    rom = VfsRomWriter()
    inputs = {}
    for name, model in models.items():
        data = container.write(model)
        (folder / f"{name}.mnq").write_bytes(data)
        rom.mkfile(f"{name}.mnq", data)
        x = rng.integers(-128, 128, size=(3, model.input.size)).astype(np.int8)
        x[0] = -128
        (folder / f"{name}.x").write_bytes(x.tobytes())
        inputs[name] = x
    (folder / "models.rom").write_bytes(rom.finalise())
    cases = [
        (name, 3, p, chunk, backend)
        for name in models
        for p, chunk in PLACEMENTS
        for backend in BACKENDS
    ]
    (folder / "cases.json").write_text(json.dumps(cases))
    stdout = run_package(SCRIPT, folder, request.param)
    return inputs, [json.loads(line) for line in stdout.splitlines()]


def test_every_placement_gives_the_reference_integers(models, vm_results):
    inputs, results = vm_results
    assert len(results) == len(models) * len(PLACEMENTS) * len(BACKENDS)
    for name, placement, chunk, backend, used, outputs, errors in results:
        model = models[name]
        case = f"{name} {placement} chunk {chunk} backend {backend}"
        assert used == placement, case
        assert errors == [], f"{case} allocated: {errors}"
        expected = reference.run(model, inputs[name].reshape(-1, *model.input.shape))
        got = np.array(outputs, np.int8).reshape(expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=case)


AUTO_SCRIPT = """
import gc
import os
import vfs

image = bytearray(os.stat("models.rom")[6])
with open("models.rom", "rb") as f:
    f.readinto(image)
vfs.mount(vfs.VfsRom(image), "/rom")
import micronn

for path in ("small.mnq", "big.mnq", "/rom/big.mnq"):
    net = micronn.load(path, backend="python")
    print(path, net.weights)
    net.close()
    net = None
    gc.collect()
"""


def test_auto_keeps_weights_in_ram_when_they_fit_and_streams_them_when_not(tmp_path):
    rng = np.random.default_rng(8)
    small = Model(
        TensorSpec((16,), 0.1, 0),
        TensorSpec((4,), 0.1, 0),
        [random_dense_layer(rng, 16, 4, 8, True, "none")],
    )
    big = Model(
        TensorSpec((600,), 0.1, 0),
        TensorSpec((100,), 0.1, 0),
        [random_dense_layer(rng, 600, 100, 8, True, "none")],  # 60 KB of weights
    )
    rom = VfsRomWriter()
    for name, model in (("small", small), ("big", big)):
        data = container.write(model)
        (tmp_path / f"{name}.mnq").write_bytes(data)
        rom.mkfile(f"{name}.mnq", data)
    (tmp_path / "models.rom").write_bytes(rom.finalise())
    # the VM holds the 60 KB ROMFS image in its heap as well (a board maps it from flash)
    lines = run(AUTO_SCRIPT, cwd=tmp_path, heapsize="180K").split("\n")
    assert lines[:3] == ["small.mnq ram", "big.mnq stream", "/rom/big.mnq rom"]
    lines = run(AUTO_SCRIPT, cwd=tmp_path, heapsize="400K").split("\n")
    assert lines[:3] == ["small.mnq ram", "big.mnq ram", "/rom/big.mnq ram"]


ERROR_SCRIPT = """
import micronn

for path, placement in {cases}:
    try:
        micronn.load(path, weights=placement, chunk_bytes=8)
        print("loaded")
    except ValueError as error:
        print("ValueError:", error)
"""


def _error_lines(tmp_path, files, cases, runtime):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    script = ERROR_SCRIPT.format(cases=cases)
    return run_package(script, tmp_path, runtime, heapsize="256K").strip().split("\n")


@pytest.mark.parametrize("runtime", ["py", "mpy"])
def test_weights_left_in_the_file_are_checked_as_they_pass(models, tmp_path, runtime):
    good = container.write(models["dense8t"])
    packed = container.write(models["dense4t"])
    minus_128 = patch.with_crcs(_patched(good, patch.put("<b", patch.element(0, 0, 30, 1), -128)))
    stray = patch.with_crcs(_patched(packed, _stray_bits))
    flipped = _patched(good, patch.add("<b", patch.element(0, 0, 300, 1), 1))  # CRC now wrong
    files = {"minus.mnq": minus_128, "stray.mnq": stray, "flip.mnq": flipped}
    cases = [(name, "stream") for name in files] + [("minus.mnq", "ram")]
    lines = _error_lines(tmp_path, files, cases, runtime)
    assert len(lines) == 4
    assert "weights outside" in lines[0]
    assert "weights outside" in lines[1] or "stray bits" in lines[1]
    assert "fails its CRC check" in lines[2]
    assert "weights outside" in lines[3]


ROM_ERROR_SCRIPT = (
    """
import vfs
vfs.mount(vfs.VfsRom(open("bad.rom", "rb").read()), "/rom")
"""
    + ERROR_SCRIPT
)


@pytest.mark.parametrize("runtime", ["py", "mpy"])
def test_tensors_read_in_place_from_romfs_are_checked_too(models, tmp_path, runtime):
    """weights="rom" leaves biases and depthwise weights in the file as views: the reader checks
    them as it passes them, as it checks the streamed weights (a bias beyond the 31-bit bound,
    a flipped bias byte, a depthwise weight of -128)."""
    dense = container.write(models["dense8c"])
    conv = container.write(models["conv8"])
    big_bias = patch.with_crcs(
        _patched(dense, patch.put("<i", patch.element(0, 1, 3), (1 << 30) - 1))
    )
    flipped = _patched(dense, patch.add("<b", patch.element(0, 1, 2), 1))  # the CRC now wrong
    minus_128 = patch.with_crcs(_patched(conv, patch.put("<b", patch.element(1, 0, 5, 1), -128)))
    files = {"bias.mnq": big_bias, "flip.mnq": flipped, "dw.mnq": minus_128, "good.mnq": conv}
    rom = VfsRomWriter()
    for name, data in files.items():
        rom.mkfile(name, data)
    (tmp_path / "bad.rom").write_bytes(rom.finalise())
    script = ROM_ERROR_SCRIPT.format(cases=[("/rom/" + name, "rom") for name in files])
    lines = run_package(script, tmp_path, runtime, heapsize="256K").strip().split("\n")
    assert len(lines) == 4
    assert "layer 0 (FULLY_CONNECTED)" in lines[0] and "overflow 31-bit" in lines[0]
    assert "fails its CRC check" in lines[1]
    assert "layer 1 (DEPTHWISE_CONV_2D)" in lines[2] and "weights outside" in lines[2]
    assert lines[3] == "loaded"


@pytest.mark.parametrize("runtime", ["py", "mpy"])
def test_unknown_placements_and_rom_without_romfs_are_refused(models, tmp_path, runtime):
    files = {"m.mnq": container.write(models["dense8t"])}
    cases = [("m.mnq", "flash"), ("m.mnq", "rom"), ("m.mnq", "flash")]
    lines = _error_lines(tmp_path, files, cases, runtime)
    assert lines[0].startswith("ValueError: unknown weights placement 'flash'")
    assert "ROMFS" in lines[1] and "weights='stream'" in lines[1]
    assert lines[2] == lines[0]  # after a failed load the next one starts afresh


def _patched(data, change):
    data = bytearray(data)
    change(data)
    return bytes(data)


def _stray_bits(data):
    """Set the unused high nibble after the last int4 weight of layer 0 (37 x 23 is odd)."""
    layer = patch.layout(data)[0]
    weights_at = layer["tensors"][0]["at"]
    last = weights_at + (37 * 23) // 2
    data[last] |= 0x70


def test_stream_takes_a_smaller_scratch_where_the_heap_has_no_run_for_it(monkeypatch, tmp_path):
    """A heap in pieces (caused here by refusing every buffer above 1000 bytes, which a board
    cannot be made to do on cue) gets fewer channels a read, down to one channel's weights:
    the same integers."""
    from device_package import device_module, import_device_package
    from reference_models import wide_mlp

    package, placement = import_device_package(), device_module("placement")
    model = wide_mlp()
    (tmp_path / "wide.mnq").write_bytes(container.write(model))
    asked = []
    real = placement.unfilled

    def refusing(typecode, count):
        asked.append(count)
        if count > 1000:
            raise MemoryError("memory allocation failed")
        return real(typecode, count)

    monkeypatch.setattr(placement, "unfilled", refusing)
    net = package.load(str(tmp_path / "wide.mnq"), backend="python", weights="stream")
    assert asked[1:] == [3920, 2048, 1024, 784]  # the check buffer first; 784: one channel
    monkeypatch.setattr(placement, "unfilled", real)
    x = np.random.default_rng(2).integers(-128, 128, (2, 784)).astype(np.int8)
    for row, want in zip(x, reference.run(model, x), strict=True):
        np.testing.assert_array_equal(np.array(net.predict(row.tobytes()), np.int8), want)
    net.close()


def test_load_collects_often_and_gives_the_threshold_back(models, tmp_path):
    """load() sets gc.threshold while the reader's imports come and go, then restores it."""
    name = next(iter(models))
    (tmp_path / "m.mnq").write_bytes(container.write(models[name]))
    script = """
import gc
import micronn
gc.threshold(12288)
net = micronn.load("m.mnq")
print(gc.threshold())
gc.threshold(-1)
net = micronn.load("m.mnq")
print(gc.threshold())
"""
    assert run(script, cwd=tmp_path).split() == ["12288", "-1"]
