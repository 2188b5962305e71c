"""ROMFS images (micronn.romfs, `micronn romfs`): the real VM's vfs.VfsRom mounts what the writer
builds and reads every file back byte for byte, each file's data aligned in the image; the
runtime imported from an image runs models exactly, with their weights read in place, in less
heap than from the filesystem, and a board's heap that the runtime on the filesystem does not
load IC ResNet-8 in runs it from ROMFS."""

import json

import numpy as np
import pytest
from test_memory_plan_32 import _zoo_case
from vm import run, vm_params

from micronn import container, reference
from micronn.cli import main
from micronn.memory_plan import plan_container
from micronn.romfs import ALIGN, build_image, varuint
from micronn.simulate import SimulationError, simulate

MOUNT_AND_LIST = """
import json, uctypes, vfs
image = open("test.romfs", "rb").read()
vfs.mount(vfs.VfsRom(image), "/rom")
base = uctypes.addressof(image)
found = {}
for path in PATHS:
    with open("/rom/" + path, "rb") as f:
        view = memoryview(f)
        found[path] = [uctypes.addressof(view) - base, bytes(view).hex()]
print(json.dumps([found, sorted(__import__("os").listdir("/rom/lib"))]))
"""


def _files():
    rng = np.random.default_rng(1)
    return {
        "a.bin": b"",
        "lib/x.mpy": bytes(rng.integers(0, 256, 1).astype(np.uint8)),
        "lib/deep/y.mnq": bytes(rng.integers(0, 256, 300).astype(np.uint8)),
        "lib/z.txt": b"z" * 129,  # a two-byte length
        "models/m.mnq": bytes(rng.integers(0, 256, 70000).astype(np.uint8)),  # three bytes
    }


@pytest.mark.parametrize("vm", vm_params())
def test_the_vm_mounts_the_image_and_reads_every_file_back_aligned(vm, tmp_path):
    files = _files()
    image = build_image(files)
    assert len(image) % 2 == 0
    (tmp_path / "test.romfs").write_bytes(image)
    script = MOUNT_AND_LIST.replace("PATHS", repr(list(files)))
    found, listed = json.loads(run(script, cwd=tmp_path, vm=vm, heapsize="2M"))
    assert {path: bytes.fromhex(data) for path, (_, data) in found.items()} == files
    assert all(offset % ALIGN == 0 for offset, _ in found.values())
    assert listed == ["deep", "x.mpy", "z.txt"]


def test_varuints_are_big_endian_base_128_and_pad_with_0x80():
    assert varuint(0) == b"\x00"
    assert varuint(127) == b"\x7f"
    assert varuint(128) == b"\x81\x00"
    assert varuint(300, 4) == b"\x80\x80\x82\x2c"


@pytest.mark.parametrize("path", ["", "/abs", "a//b", "a/../b", "ü.mnq"])
def test_a_path_that_is_not_plain_and_relative_is_refused(path):
    with pytest.raises(ValueError, match="plain relative path"):
        build_image({path: b"x"})


def test_a_name_that_is_a_file_and_a_folder_is_refused():
    with pytest.raises(ValueError, match="both a file and a folder"):
        build_image({"lib": b"x", "lib/y": b"y"})


def test_micronn_romfs_writes_the_runtime_and_the_models(tmp_path, capsys):
    data = container.write(container.read(micronn_model_bytes()))
    (tmp_path / "net.mnq").write_bytes(data)
    out = tmp_path / "micronn.romfs"
    assert main(["romfs", str(out), str(tmp_path / "net.mnq"), "--board", "rp2040"]) == 0
    printed = capsys.readouterr().out
    assert "/rom/models/net.mnq" in printed and "mpremote romfs deploy" in printed
    image = out.read_bytes()
    assert image.startswith(b"\xd2\xcd\x31") and data in image
    assert b"micronn 0.1.0 mpy6.3-armv6m" in image  # the runtime's stamp, for rp2040's arch


def test_micronn_romfs_refuses_a_damaged_model_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "bad.mnq").write_bytes(b"MNQ1 not a model")
    out = tmp_path / "micronn.romfs"
    assert main(["romfs", str(out), str(tmp_path / "bad.mnq")]) != 0
    error = capsys.readouterr().err.strip()
    assert error.startswith("micronn romfs: error:") and "\n" not in error
    assert not out.exists()


def micronn_model_bytes():
    from reference_models import MODELS

    return container.write(MODELS["digits_mlp"]())


@pytest.mark.parametrize("vm", vm_params(("wasm32",)))
def test_ad_from_romfs_is_exact_and_takes_less_heap_than_from_the_filesystem(vm):
    """MLPerf Tiny AD on the 32-bit VM, python backend: the runtime from ROMFS with the weights
    in place gives the reference's integers; its package's import takes at least 3.5 KB less
    heap than the .mpy files on a filesystem (about 4.4 KB against 8.4 KB), its peak is at least
    15 KB lower than theirs with streamed weights (18,432 B against 37,856 B), and while it runs it
    holds under 17 KB (15,728 B: its 6.7 KB of int32 biases stay in flash too)."""
    data, x = _zoo_case("tiny__ad01_int8")
    expected = reference.run(container.read(data), x)
    rom = simulate(data, x, board="rp2040", backend="python", weights="rom", vm=vm, romfs=True)
    files = simulate(data, x, board="rp2040", backend="python", weights="stream", vm=vm)
    np.testing.assert_array_equal(rom.outputs, expected)
    assert rom.weights == "rom"

    def own(result, stage=None):
        value = result.peak_heap if stage is None else result.heap_stages[stage]
        return value - result.heap_stages["script"]

    assert own(rom, "import") + 3500 < own(files, "import")
    assert own(rom) + 15000 < own(files)
    assert own(rom, "loaded") < 17000


HEAP_64 = 120 * 1024  # the 64-bit VM's: ResNet-8 needs 130.0 KB from files, 109.6 KB from ROMFS


def test_resnet8_runs_from_romfs_in_a_heap_where_the_filesystem_runtime_does_not():
    """IC ResNet-8 (MLPerf Tiny): on the 64-bit VM with a 120 KiB heap the .mpy runtime on the
    filesystem runs out even with streamed weights; from ROMFS, with its weights in place, it
    loads and its outputs equal the reference. On the ESP32 profile (32-bit figures) the
    planner fits it from ROMFS only."""
    data, x = _zoo_case("tiny__pretrainedResnet_quant")
    with pytest.raises(SimulationError, match="out of memory"):
        simulate(data, x, board="esp32", backend="python", weights="stream", heap_bytes=HEAP_64)
    result = simulate(
        data, x, board="esp32", backend="python", weights="rom", romfs=True, heap_bytes=HEAP_64
    )
    np.testing.assert_array_equal(result.outputs, reference.run(container.read(data), x))
    assert plan_container(data, "esp32", backend="python", runtime="mpy").best is None
    assert plan_container(data, "esp32", backend="python", runtime="romfs").best == "rom"


LOAD_FROM_IMAGE = """
import json
from array import array
import micronn
net = micronn.load("/rom/models/m.mnq")
x = array("b", bytes.fromhex(HEX))
out = array("b", bytes(len(net._result)))
net.predict(x, out)
print(json.dumps([micronn.__file__, net.backend, net.weights, list(out)]))
"""


def test_an_image_without_the_optional_backends_runs_its_models_with_python_kernels(tmp_path):
    """`micronn romfs --backends python`: no viper_* or ulab_* module in the image (about 32 KB
    less, so the runtime and a KWS-sized model fit the ESP32's 128 KiB ROMFS partition); the
    unix VM, which runs viper, then loads with python kernels, exactly."""
    from micronn.precompiled import vm_mpy_target
    from micronn.romfs_vm import MOUNT, script_on_romfs
    from micronn.runtime_export import romfs_files
    from micronn.simulate import find_micropython

    data = micronn_model_bytes()
    model = container.read(data)
    x = np.random.default_rng(3).integers(-128, 128, (1, *model.input.shape)).astype(np.int8)
    target = vm_mpy_target(find_micropython())
    whole = romfs_files(target, {"m": data})
    lean = romfs_files(target, {"m": data}, backends=())
    assert any("/viper_" in path for path in whole)
    assert not any("/viper_" in path or "/ulab_" in path for path in lean)
    assert sum(map(len, whole.values())) - sum(map(len, lean.values())) > 20_000
    script = tmp_path / "load.py"
    script.write_text(LOAD_FROM_IMAGE.replace("HEX", repr(x.tobytes().hex())))
    mounted = script_on_romfs(tmp_path, script, build_image(lean))
    assert MOUNT.splitlines()[0] in mounted.read_text()
    where, backend, weights, out = json.loads(run(mounted.read_text(), cwd=tmp_path, heapsize="4M"))
    assert where.startswith("/rom/lib/micronn")
    assert (backend, weights) == ("python", "ram")
    assert out == reference.run(model, x)[0].tolist()


def test_micronn_romfs_says_whether_the_image_fits_the_boards_partition(tmp_path, capsys):
    (tmp_path / "net.mnq").write_bytes(micronn_model_bytes())
    out = tmp_path / "micronn.romfs"
    model = str(tmp_path / "net.mnq")
    assert main(["romfs", str(out), model, "--board", "esp32", "--backends", "python"]) == 0
    assert "fits esp32's ROMFS partition" in capsys.readouterr().out
    assert main(["romfs", str(out), model, "--board", "rp2040"]) == 0
    assert "has no ROMFS partition" in capsys.readouterr().out
    from reference_models import wide_mlp

    (tmp_path / "wide.mnq").write_bytes(container.write(wide_mlp()))  # 200 KB
    assert main(["romfs", str(out), str(tmp_path / "wide.mnq"), "--board", "esp32"]) == 0
    assert "larger than esp32's ROMFS partition of 131072 B" in capsys.readouterr().out
    assert main(["romfs", str(out), "--board", "esp32", "--backends", "python,gpu"]) != 0
    assert "unknown backend(s) gpu" in capsys.readouterr().err


TWO_IMAGES = """
import gc, json, vfs
from array import array
import micronn
for name in ("aligned", "shifted"):
    vfs.mount(vfs.VfsRom(open(name + ".romfs", "rb").read()), "/" + name)
x = array("b", bytes.fromhex(HEX))
found = []
for name in ("aligned", "aligned", "shifted"):  # the first load imports the kernels
    gc.collect()
    before = gc.mem_alloc()
    net = micronn.load("/" + name + "/m.mnq", backend="python", weights="rom")
    out = array("b", bytes(len(net._result)))
    net.predict(x, out)
    gc.collect()
    found.append([net.weights, gc.mem_alloc() - before, list(out)])
    net.close()
    net = out = None
print(json.dumps(found))
"""


def test_int32_tensors_that_are_not_4_byte_aligned_in_flash_are_read_into_ram(tmp_path):
    """An image whose model file starts off a 4-byte boundary (another writer than micronn
    romfs may do that): the biases cannot be int32 views there, so the reader keeps them
    in RAM (about their 424 bytes more heap than from an aligned image); the outputs are the
    reference's either way."""
    import micronn.romfs as romfs

    data = micronn_model_bytes()
    model = container.read(data)
    x = np.random.default_rng(5).integers(-128, 128, (1, *model.input.shape)).astype(np.int8)
    (tmp_path / "aligned.romfs").write_bytes(build_image({"m.mnq": data}))
    saved = romfs.ALIGN
    romfs.ALIGN = 1  # no padding: the file's data starts right after its record's header
    try:
        shifted = build_image({"m.mnq": data})
    finally:
        romfs.ALIGN = saved
    assert shifted.find(data) % 4 != 0
    (tmp_path / "shifted.romfs").write_bytes(shifted)
    script = TWO_IMAGES.replace("HEX", repr(x.tobytes().hex()))
    _, aligned, shifted_run = json.loads(run(script, cwd=tmp_path, heapsize="4M"))
    expected = reference.run(model, x)[0].tolist()
    assert aligned[0] == shifted_run[0] == "rom"
    assert aligned[2] == shifted_run[2] == expected
    assert shifted_run[1] - aligned[1] >= 300
