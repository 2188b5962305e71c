"""The board's micronn.quantize / dequantize / dequantize_fixed on the real MicroPython VMs.

TensorFlow's 63 vectors, every T x mode x round mode x narrow_range x axis on a few inputs
(compared with the host's micronn.quantize / dequantize and quantize_fixed.dequantize_fixed),
and the refusals, with the same messages (tests/tfquant_cases.py):
- the python backend (tfquant_f32.py) on the 64-bit unix VM, whose floats are doubles (every
  float32 step is rounded through array('f')), and on the 32-bit webassembly VM (31-bit small
  ints);
- the C kernels (ulab_ext/kernels/tfquant.c) built for the host under ASan and UBSan and driven
  by the device package itself (tests/tfquant_c_check.py);
- the C backend on the VM: the natmod built from $MPY_DIR, or the VM of $MICRONN_MICROPYTHON
  when it has _micronn (the float32 unix build of docs/building.md runs all of this file as a
  board computes).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from c_kernels import build, sanitizer_preload
from device_package import device_module
from tfquant_cases import (
    VM_SCRIPT,
    combination_cases,
    host_result,
    normalized,
    refusal_cases,
    vector_cases,
)
from vm import run, vm_params

TESTS = Path(__file__).parent
MPY_DIR = os.environ.get("MPY_DIR")


@pytest.fixture(scope="module")
def cases():
    every = vector_cases() + combination_cases() + refusal_cases()
    return every, [host_result(case) for case in every]


def run_cases(folder, cases, backend, vm="unix", module=None):
    """All cases through the device package on a VM; its answers, one per case."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cases.jsonl").write_text("".join(json.dumps(case) + "\n" for case in cases))
    if module is not None:
        (folder / module.name).write_bytes(module.read_bytes())
    out = run(VM_SCRIPT.format(backend=backend), cwd=folder, vm=vm, heapsize="16M")
    assert out.strip().endswith(f"done {len(cases)}"), out
    lines = (folder / "answers.jsonl").read_text().splitlines()
    return [normalized(json.loads(line)) for line in lines]


def assert_same(cases, answers, expected, skip=()):
    assert len(answers) == len(cases)
    wrong = [
        (case.get("name", case["op"]), case["T"], case["kw"], answer, want)
        for case, answer, want in zip(cases, answers, expected, strict=True)
        if answer != want and not any(case.get(flag) for flag in skip)
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, first: {wrong[:3]}"


def test_the_cases_cover_every_combination_and_the_vectors(cases):
    every, expected = cases
    vectors = [case for case in every if "tf" in case]
    assert len(vectors) == 63
    # the host itself gives TF's results for the vectors
    assert [expected[every.index(case)] for case in vectors] == [case["tf"] for case in vectors]
    combos = {
        (c["T"], c["kw"].get("mode"), c["kw"].get("round_mode"), c["kw"].get("axis"))
        for c in every
        if c["op"] == "quantize"
    }
    assert len(combos) >= 5 * 3 * 2 * 4
    refused = sum("error" in answer for answer in expected)
    computed = sum("error" not in answer for answer in expected)
    assert refused > 60 and computed > 400, (refused, computed)


WASM_MAX_VALUES = 4096  # the 32-bit VM is slow: it leaves out the four all-16-bit-codes vectors


@pytest.mark.parametrize("vm", vm_params())
def test_python_backend_matches_tf_and_the_host(tmp_path, cases, vm):
    every, expected = cases
    if vm == "wasm32":
        kept = [i for i, case in enumerate(every) if len(case.get("q", ())) <= WASM_MAX_VALUES]
        assert len(every) - len(kept) == 4
        every, expected = [every[i] for i in kept], [expected[i] for i in kept]
    answers = run_cases(tmp_path, every, "python", vm=vm)
    vectors = [i for i, case in enumerate(every) if "tf" in case]
    assert [answers[i] for i in vectors] == [every[i]["tf"] for i in vectors]
    assert_same(every, answers, expected)


def test_import_micronn_does_not_import_tfquant(tmp_path):
    script = """
import sys
import micronn
print(sorted(m for m in sys.modules if m.startswith("micronn.tf")))
micronn.dequantize(bytes([0, 255]), 0.0, 1.0)
print(sorted(m for m in sys.modules if m.startswith("micronn.tf")))
print(micronn.quantize is micronn.tfquant.quantize)
"""
    before, after, direct = run(script, cwd=tmp_path).split("\n")[:3]
    assert before == "[]" and "'micronn.tfquant'" in after and direct == "True"


@pytest.mark.parametrize("T", ["b", "B", "h", "H"])
def test_fixed_point_kernel_reads_only_small_ints_per_code(T):
    """What the python kernel adds and compares per code (its tables) are board small ints
    when every code of T dequantizes into [-2**30, 2**30 - 1]; the tables give the formula."""
    fixed = device_module("tfquant_fixed")
    f32 = device_module("tfquant_f32")
    low, high, bits = f32.LIMITS[T]
    rng = np.random.default_rng(bits - low)
    small = range(-(2**30), 2**30)
    for mode in ("MIN_COMBINED", "MIN_FIRST", "SCALED"):
        for _ in range(6):
            lo, hi = sorted(np.float32(rng.uniform(-50, 50, 2)).tolist())
            offset, scale, half = f32.affine(lo, hi, T, mode, False)
            largest = max(abs(offset) + (abs(low) + abs(half) + high) * abs(scale), 1e-30)
            frac_bits = max(0, min(31, int(np.floor(np.log2(2**29 / largest)))))
            a, b, shift = fixed.terms(offset, scale, half, frac_bits, 0)
            every = [(a + c * b) >> shift for c in range(low, high + 1)]
            assert all(y in small for y in every)
            if bits == 8:
                continue
            top, bottom, rank_h, rank_l = fixed._byte_tables(a, b, shift, low)
            assert all(v in small for v in top + bottom)
            assert max(rank_h) < 512 and max(rank_l) < 512
            for u in rng.integers(0, high - low + 1, 200).tolist():
                h, lo_byte = u >> 8, u & 255
                y = top[h] + bottom[lo_byte] + (rank_h[h] >= rank_l[lo_byte])
                assert y == every[u]


@pytest.fixture(scope="module")
def sanitized_library(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tfquant-c"), sanitize=True)


def test_c_kernels_under_sanitizers_match_tf_and_the_host(tmp_path, cases, sanitized_library):
    every, expected = cases
    (tmp_path / "cases.json").write_text(json.dumps(every))
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    env = dict(
        os.environ,
        LD_PRELOAD=sanitizer_preload(),
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    )
    command = [sys.executable, str(TESTS / "tfquant_c_check.py"), str(sanitized_library)]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "runtime error" not in done.stderr
    assert f"{len(every)} cases match" in done.stdout, done.stdout
    assert "malformed calls refused" in done.stdout, done.stdout


def _vm_has_c_kernels(tmp_path):
    tmp_path.mkdir()
    script = "import micronn.tfquant as t\nprint(t.BACKEND)\n"
    return run(script, cwd=tmp_path).strip() == "c"


def test_c_backend_on_this_vm(tmp_path, cases):
    if not _vm_has_c_kernels(tmp_path / "probe"):
        pytest.skip(
            "this VM has no _micronn with tf_quantize; set MICRONN_MICROPYTHON to a unix port "
            "built with ulab_ext (docs/building.md), or MPY_DIR for the natmod test"
        )
    every, expected = cases
    assert_same(every, run_cases(tmp_path, every, "c"), expected, skip=("python_only",))


@pytest.mark.skipif(not MPY_DIR, reason="set MPY_DIR to a MicroPython checkout to build the natmod")
def test_c_natmod_on_the_vm(tmp_path, cases):
    from test_c_backend_vm import build_natmod, natmod_tools_missing

    if natmod_tools_missing():
        pytest.skip(natmod_tools_missing())
    module = build_natmod(tmp_path / "build")
    every, expected = cases
    answers = run_cases(tmp_path / "run", every, "c", module=module)
    assert_same(every, answers, expected, skip=("python_only",))
