"""Every converted zoo model on the MicroPython VM, precompiled to .mpy as `micronn flash`
installs it: each backend the VM offers (python and viper; c and ulab on a hand-built VM)
equals the reference on 3 inputs. The small ones also run with ulab on the 32-bit webassembly
VM's ulab build (its python backend: tests/test_memory_plan_32.py).

The small models run on the Pico's heap in `make test`; the bigger ones run on the ESP32-S3's
PSRAM heap under the `long` marker (`make test-long`); the 4 MB PyTorch mobilenet_v2 (about 45 s
an inference with the python backend) only where $MICRONN_ZOO or ../shared/zoo holds it.
(person_detect, banded, also runs on the Pico's heap with its weights streamed: on the 32-bit
qemu board, docs/flashing.md; the VM here has 64-bit objects.)
"""

import numpy as np
import pytest
import vm
import zoo_models
from vm import vm_params

import micronn
from micronn import container, reference
from micronn.simulate import simulate

SAMPLES = 3
MOBILENET = (
    "tflm__third_party__xtensa__examples__pytorch_to_tflite__mobilenet_v2_quantized_1x3x224x224"
)
SMALL = {  # on rp2040
    "arduino__magic_wand_model_data",
    "arduino__micro_features_model",
    "arduino__model",
    "openmv__force_int_quant",
    "tflm__examples__hello_world__models__hello_world_int8",
    "tflm__examples__micro_speech__models__micro_speech_quantized",
    "tiny__kws_ref_model",
    "tiny__ad01_int8",
    "tiny__model_ToyCar_quant_fullint",
}
BIG = {  # on esp32s3: over the Pico's heap, or its viper working set (resnet)
    "openmv__blazeface_front_128",
    "openmv__face_landmarks_192",
    "openmv__fomo_face_detection",
    "openmv__palm_detection_full_192",
    MOBILENET,
    "tflm__examples__memory_footprint__models__simple_add_model",
    "openmv__yolo_lc_192",
    "tflm__models__person_detect",
    "tiny__pretrainedResnet_large_int8",
    "tiny__pretrainedResnet_quant",
    "tiny__str_ww_ref_model",
    "tiny__vww_96_int8",
}
# bigger than the board they run on: palm_detection's arena alone is 864 KiB (no board profile
# holds it), face_landmarks' viper working set passes the ESP32-S3's 2 MiB; the VM is given room
HEAP_BYTES = {
    "openmv__palm_detection_full_192": 8 << 20,
    "openmv__face_landmarks_192": 4 << 20,
    MOBILENET: 16 << 20,
}
BACKENDS = ("python", "viper", "c", "ulab")


@pytest.fixture(scope="module")
def offered_backends():
    return vm.run("import micronn.backends as b\nprint(' '.join(b.AVAILABLE))").split()


def _entries(names):
    chosen = [
        e for e in zoo_models.entries("converts") if e["file"].removesuffix(".tflite") in names
    ]
    assert len(chosen) == len(names), "a device-test model is no longer listed as converts"
    return chosen


def cases(names, board, marks=()):
    return [
        pytest.param(entry, board, backend, marks=marks, id=f"{entry['file'][:-7]}-{backend}")
        for entry in _entries(names)
        for backend in BACKENDS
    ]


def inputs(model, entry):
    """Up to SAMPLES stored sample inputs (quantized when float), then random codes; one array
    per input for a model with several."""
    if len(model.inputs) > 1:
        rng = np.random.default_rng(0)
        return tuple(
            rng.integers(-128, 128, (SAMPLES, *spec.shape), dtype=np.int8) for spec in model.inputs
        )
    codes = np.zeros((0, *model.input.shape), np.int8)
    if "inputs" in entry:
        samples = np.load(zoo_models.ZOO / entry["inputs"])[:SAMPLES]
        if samples.dtype != np.int8:
            samples = reference.quantize_input(model, samples)
        codes = samples.reshape(len(samples), *model.input.shape)
    rng = np.random.default_rng(0)
    extra = rng.integers(-128, 128, (SAMPLES - len(codes), *model.input.shape), dtype=np.int8)
    return np.concatenate([codes, extra])


@pytest.mark.parametrize(
    ("entry", "board", "backend"),
    cases(SMALL, "rp2040") + cases(BIG, "esp32s3", marks=pytest.mark.long),
)
def test_zoo_model_on_the_vm_equals_the_reference(entry, board, backend, offered_backends):
    if backend not in offered_backends:
        pytest.skip(f"this VM has no {backend} backend (docs/building.md builds one that has)")
    check_zoo_model(entry, board, backend)


@pytest.mark.parametrize("vm_name", vm_params(("wasm32",)))
@pytest.mark.parametrize("entry", _entries(SMALL), ids=lambda e: e["file"][:-7])
def test_zoo_model_with_ulab_on_the_32_bit_vm_equals_the_reference(entry, vm_name):
    check_zoo_model(entry, "rp2040", "ulab", vm_name)


def check_zoo_model(entry, board, backend, vm_name="unix"):
    path = zoo_models.model_path(entry)
    if path is None:
        pytest.skip("an external zoo model: set MICRONN_ZOO to the folder that holds it")
    data = micronn.convert(str(path))
    model = container.read(data)
    x = inputs(model, entry)
    heap = HEAP_BYTES.get(entry["file"].removesuffix(".tflite"))
    result = simulate(
        data, x, board=board, backend=backend, precompiled=True, heap_bytes=heap, vm=vm_name
    )
    assert result.backend == backend
    expected = reference.run(model, x)
    if isinstance(expected, tuple):  # several outputs
        assert len(result.outputs) == len(expected)
        for got, want in zip(result.outputs, expected, strict=True):
            np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_array_equal(result.outputs, expected)
