"""The memory planner for backend "c" (docs/memory.md, "The c backend").

- With MPY_DIR (tests/test_c_backend_vm.py's natmod tools): on the 64-bit VM with the x64
  _micronn natmod, the planned peak of every placement that runs is within 10 % of the measured
  one, and what runs out of memory was planned not to fit; the .mpy of `make natmod` for
  ARMv6-M, ARMv7-M (the natmod of an armv7em board, a Thumb-2 one without FPU) and ARMv7E-M
  with FPU is no bigger than the planner's NATMOD_HEAP_BYTES for that arch.
- Always: `micronn inspect --board` lists each planned backend, and on an rp2040 the plan counts
  the native code the port keeps in the heap (the natmod for c, the viper modules' code for
  viper, with their objects as measured on a board that keeps code in the heap, the viper probe
  for all) where the esp32 (code copied to IRAM) does not.
"""

import shutil

import numpy as np
import pytest
from reference_models import MODELS
from test_c_backend_vm import build_natmod, natmod_tools_missing

from micronn import container, memory_constants, reference
from micronn.cli import main
from micronn.memory_constants_board import VIPER_OBJECTS
from micronn.memory_plan import (
    NATMOD_BUILD_ARCH,
    NATMOD_HEAP_BYTES,
    plan_container,
    planned_backends,
)
from micronn.native_sizes import VIPER_MPY_BYTES
from micronn.simulate import SimulationError, simulate

TOLERANCE = 0.10
needs_natmod = pytest.mark.skipif(bool(natmod_tools_missing()), reason=natmod_tools_missing())


@pytest.fixture(scope="module")
def natmod(tmp_path_factory):
    return build_natmod(tmp_path_factory.mktemp("natmod"))


@needs_natmod
@pytest.mark.parametrize("board", ["esp32", "rp2040"])
@pytest.mark.parametrize("name", list(MODELS))
def test_the_c_plan_is_within_ten_percent_of_the_vm(natmod, name, board):
    data = container.write(MODELS[name]())
    model = container.read(data)
    x = np.random.default_rng(4).integers(-128, 128, model.input.shape).astype(np.int8)
    plan = plan_container(data, board, backend="c", runtime="mpy", word_bits=64)
    ran = 0
    for placement in ("ram", "stream"):
        predicted = plan.placements[placement]
        try:
            result = simulate(data, x, board=board, backend="c", weights=placement, natmod=natmod)
        except SimulationError as error:
            assert error.vm_exception == "MemoryError", str(error)
            assert not predicted.fits, f"{placement} was predicted to fit: {predicted}"
            continue
        assert (result.backend, result.weights) == ("c", placement)
        np.testing.assert_array_equal(result.outputs, reference.run(model, x))
        error = (predicted.peak - result.peak_heap) / result.peak_heap
        assert abs(error) <= TOLERANCE, (placement, predicted.stages, result.heap_stages)
        ran += 1
    assert ran >= 1


@needs_natmod
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
@pytest.mark.parametrize("arch", sorted(NATMOD_HEAP_BYTES))
def test_the_planned_natmod_heap_covers_the_built_natmod(tmp_path, arch):
    size = build_natmod(tmp_path, NATMOD_BUILD_ARCH.get(arch, arch)).stat().st_size
    assert size <= NATMOD_HEAP_BYTES[arch], (
        f"the {arch} natmod is {size} B: raise memory_plan.NATMOD_HEAP_BYTES[{arch!r}]"
    )


def test_inspect_lists_each_backend_and_counts_the_natmod_where_it_stays(tmp_path, capsys):
    data = container.write(MODELS["digits_mlp"]())
    (tmp_path / "m.mnq").write_bytes(data)
    assert main(["inspect", str(tmp_path / "m.mnq"), "--board", "rp2040"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("each backend on rp2040:") :].splitlines()[2:]
    assert [line.split()[0] for line in table] == list(planned_backends())
    assert planned_backends()[:3] == ("python", "viper", "c")
    probe = VIPER_MPY_BYTES["armv6m"]["viper_probe"]  # import micronn loads it on every backend
    viper_modules = ("viper_dense", "viper_requant")
    viper_dense = sum(VIPER_MPY_BYTES["armv6m"][name] for name in viper_modules)
    # where the code stays in the heap, a viper module's objects beside it are the board's
    # measured ones (memory_constants_board), elsewhere the 64-bit VM's
    objects = sum(
        VIPER_OBJECTS[name] - memory_constants.MODULES["viper", "mpy", name]
        for name in viper_modules
    )
    native = {
        "python": probe,
        "viper": probe + viper_dense + objects,
        "c": probe + NATMOD_HEAP_BYTES["armv6m"],
    }
    for backend, code in native.items():
        rp2040 = plan_container(data, "rp2040", backend=backend)
        esp32 = plan_container(data, "esp32", backend=backend)  # the same heap figures
        assert rp2040.resident - esp32.resident == code, backend
        for name, placed in rp2040.placements.items():
            assert placed.peak - esp32.placements[name].peak == code, (backend, name)
