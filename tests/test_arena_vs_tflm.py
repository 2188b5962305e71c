"""micronn's activation arena is at least as tight as TFLM's: for every zoo model that converts,
the arena the host plans (container header, docs/format.md) is at most the head of TFLM's arena,
where TFLM's greedy memory planner lays out the same model's activations and scratch buffers
(tflm_models.arena_bytes: what the pinned tflite-micro interpreter reports)."""

import pytest
import tflm_models
import zoo_models

import micronn

BIG = {  # over 1 MiB of activations: seconds to convert
    "openmv__palm_detection_full_192.tflite",
    "tflm__third_party__xtensa__examples__pytorch_to_tflite__mobilenet_v2_quantized_1x3x224x224.tflite",
}
ARENA_OFFSET = slice(24, 28)  # the container header's arena_size field


def _cases():
    return [
        pytest.param(
            entry,
            id=entry["file"].removesuffix(".tflite"),
            marks=[pytest.mark.long] if entry["file"] in BIG else [],
        )
        for entry in zoo_models.entries("converts")
    ]


@pytest.mark.parametrize("entry", _cases())
def test_the_arena_is_no_bigger_than_tflms_greedy_plan(entry):
    path = zoo_models.model_path(entry)
    if path is None:
        pytest.skip(f"{entry['file']} is not on this machine (set $MICRONN_ZOO)")
    tflm = tflm_models.arena_bytes(path)
    ours = int.from_bytes(micronn.convert(str(path))[ARENA_OFFSET], "little")
    assert 0 < ours <= tflm["head"], f"arena {ours} B against TFLM's {tflm['head']} B"
