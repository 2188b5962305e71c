"""The memory planner against the 64-bit MicroPython VM (its 64-bit figures): for the three
reference models, on the esp32 and rp2040 heaps, from .py and from .mpy, the predicted peak of
every placement that runs is within 10 % of the peak that `micronn simulate` measures
(docs/memory.md, "Peak"), and every placement that runs out of memory was predicted not to fit.
tests/test_memory_plan_32.py checks the 32-bit figures on the 32-bit VM."""

import numpy as np
import pytest
from reference_models import MODELS, banded_cnn

from micronn import container, reference
from micronn.memory_plan import plan_container
from micronn.simulate import SimulationError, simulate

BOARDS = ("esp32", "rp2040")
RUNTIMES = ("py", "mpy")
BACKENDS = ("python", "viper")  # the constants are re-measured when either changes
TOLERANCE = 0.10


@pytest.fixture(scope="module")
def containers():
    return {name: container.write(build()) for name, build in MODELS.items()}


def _input(model):
    return np.random.default_rng(4).integers(-128, 128, model.input.shape).astype(np.int8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_predicted_peaks_are_within_ten_percent_of_the_vm(
    containers, name, board, runtime, backend
):
    data = containers[name]
    model = container.read(data)
    x = _input(model)
    plan = plan_container(data, board, backend=backend, runtime=runtime, word_bits=64)
    checked = 0
    for placement in ("ram", "stream"):
        predicted = plan.placements[placement]
        try:
            result = simulate(
                data,
                x,
                board=board,
                backend=backend,
                weights=placement,
                precompiled=runtime == "mpy",
            )
        except SimulationError as error:
            assert error.vm_exception == "MemoryError", str(error)
            assert not predicted.fits, f"{placement} was predicted to fit: {predicted}"
            continue
        assert result.weights == placement and result.backend == backend
        np.testing.assert_array_equal(result.outputs, reference.run(model, x))
        error = (predicted.peak - result.peak_heap) / result.peak_heap
        assert abs(error) <= TOLERANCE, (
            f"{placement}: predicted {predicted.peak}, measured {result.peak_heap} "
            f"({100 * error:+.1f} %); stages {predicted.stages} vs {result.heap_stages}"
        )
        checked += 1
    # from .py the compiler's heap leaves nothing for these models on the esp32
    assert checked >= 1 or plan.best is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_banded_model_peaks_within_ten_percent_of_the_plan(backend):
    """micronn.bands: the plans of each band geometry and the bands' steps are in the plan."""
    data = container.write(banded_cnn())
    model = container.read(data)
    assert model.bands is not None
    x = _input(model)
    plan = plan_container(data, "rp2040", backend=backend, runtime="mpy", word_bits=64)
    for placement in ("ram", "stream"):
        result = simulate(data, x, board="rp2040", backend=backend, weights=placement)
        np.testing.assert_array_equal(result.outputs, reference.run(model, x))
        predicted = plan.placements[placement].peak
        error = (predicted - result.peak_heap) / result.peak_heap
        assert abs(error) <= TOLERANCE, f"{placement}: {predicted} vs {result.peak_heap}"


def test_the_wide_mlp_needs_stream_on_both_boards(containers):
    plan = plan_container(containers["wide_mlp"], "esp32", runtime="mpy")
    assert not plan.placements["ram"].fits
    assert plan.placements["stream"].fits
    assert plan.best == "stream"
    assert plan.placements["stream"].peak < plan.placements["ram"].peak - 150_000


def test_layer_rows_describe_weights_activations_and_chunks(containers):
    plan = plan_container(containers["speech_cnn"], "rp2040", runtime="mpy")
    ops = [row.op for row in plan.layers]
    assert ops == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    conv1, conv2, dense, softmax = plan.layers
    assert conv1.weight_bytes == 8 * 10 * 8 and conv1.movable and conv1.chunk_bytes == 640
    assert dense.weight_bytes == 4 * 4000 and dense.chunk_bytes == 4000  # one 4000-byte row
    assert softmax.weight_bytes == 0 and not softmax.movable
    assert conv2.activation_bytes == 2 * 25 * 20 * 8


def test_a_board_s_own_start_replaces_the_vm_s(containers):
    """A connected board's live heap before micronn (Board.start_bytes) stands in for the VM's
    and simulate's runner's (SCRIPT): every stage and the peak move by the difference (and a
    board's spread between runs); the needed heap, whose slack was measured over the VM's
    start, and the resident runtime, which holds neither, do not."""
    from dataclasses import replace

    from micronn.boards import load_board
    from micronn.memory_constants_32 import SCRIPT
    from micronn.memory_plan import BOARD_SPREAD

    board = load_board("rp2040")
    plain = plan_container(containers["digits_mlp"], board, runtime="mpy")
    started = plan_container(
        containers["digits_mlp"], replace(board, start_bytes=2000), runtime="mpy"
    )
    shift = 2000 + BOARD_SPREAD - SCRIPT
    for name, placed in plain.placements.items():
        moved = started.placements[name]
        assert moved.stages == {k: v + shift for k, v in placed.stages.items()}
        assert (moved.peak, moved.needed) == (placed.peak + shift, placed.needed)
    assert started.resident == plain.resident


def test_unknown_runtime_and_backend_are_refused(containers):
    with pytest.raises(ValueError, match="runtime form"):
        plan_container(containers["digits_mlp"], runtime="frozen")
    with pytest.raises(ValueError, match="backend 'gpu'"):
        plan_container(containers["digits_mlp"], backend="gpu")


@pytest.mark.parametrize("weights", ["ram", "stream", "rom"])
def test_the_planned_room_is_what_the_device_holds(containers, weights):
    """memory_plan._room_bytes mirrors the device's reserve.skim, byte for byte."""
    import io

    from device_package import device_module

    from micronn.memory_plan import MOVABLE, _room_bytes

    skim = device_module("reserve").skim
    for data in containers.values():
        model = container.read(data)
        keep = [weights == "ram" or layer.op not in MOVABLE for layer in model.layers]
        assert skim(io.BytesIO(data), weights)[0] == _room_bytes(model, keep, 64, weights)


def test_no_room_is_held_for_a_few_scalars_beside_weights_in_rom(containers):
    """A dense model whose weights and biases the python kernels read in ROMFS keeps only its
    per-tensor multipliers and shifts in RAM: reserve.skim holds no room for them (it would only
    raise the reader stage); streamed, the same model still gets its room."""
    import io

    from device_package import device_module

    skim = device_module("reserve").skim
    data = containers["digits_mlp"]
    assert skim(io.BytesIO(data), "rom")[0] == 0
    assert skim(io.BytesIO(data), "stream")[0] > 0


def _read_only_bits(path, owner=None):
    """The READ_ONLY = N of a device module (or of its class `owner`), read from its source:
    the viper modules do not import under CPython."""
    import ast

    tree = ast.parse(path.read_text())
    if owner is not None:
        tree = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner)
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "READ_ONLY":
            return node.value.value
    return 0


def test_the_planned_views_are_what_the_device_leaves_in_rom():
    """memory_plan.IN_PLACE is the device's placement.IN_PLACE through each backend's kernels'
    READ_ONLY bits (a MOVABLE layer's weights too, where its kernel may take a view); reserve.skim's
    codes name the same ops."""
    from device_package import FIRMWARE, device_module

    from micronn.memory_plan import IN_PLACE, SKIMMED_IN_PLACE

    placement, ops = device_module("placement"), device_module("ops")
    codes = device_module("reserve").IN_PLACE_CODES
    names = ("weights", "bias")
    for backend in ("python", "viper", "c"):
        for op, bits in placement.IN_PLACE.items():
            if backend == "c":
                read_only = _read_only_bits(FIRMWARE / "kernels_c.py", "Filter")
            else:
                family = ops.family_of(op)
                path = FIRMWARE / f"{backend}_{family}.py"
                read_only = _read_only_bits(
                    path if path.exists() else FIRMWARE / f"python_{family}.py"
                )
            bits &= read_only
            viewed = tuple(name for k, name in enumerate(names) if bits >> k & 1)
            assert IN_PLACE[backend].get(op, ()) == viewed, (backend, op)
    assert {ops.by_code(code)[0]: bits for code, bits in codes.items()} == (placement.IN_PLACE)
    assert {
        op: tuple(n for k, n in enumerate(names) if b >> k & 1)
        for op, b in placement.IN_PLACE.items()
    } == {op: tuple(n for n in names if n in v) for op, v in SKIMMED_IN_PLACE.items()}
