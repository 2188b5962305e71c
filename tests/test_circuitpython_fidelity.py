"""The device suite's core checks on the VM the way CircuitPython runs the package.

CircuitPython has no native emitter: compiling `@micropython.viper` there is a SyntaxError
("invalid micropython decorator"), and all its code is bytecode. The VM gets the same two
conditions: `-X emit=bytecode`, and a copy of firmware/micronn whose viper decorators name a
decorator this compiler does not know either, so that the real compiler rejects every viper
module with that SyntaxError. (emit=bytecode alone would still compile explicit viper
decorators.) The existing equivalence tests then run unchanged through this VM: "auto" must
pick python (c on a VM with _micronn; never ulab, which most CircuitPython builds have and whose
predict allocates), and it must give the reference's integers, allocation-free.
"""

import importlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import test_device_equivalence
import test_device_graph
import vm
from backend_vm import run_backends
from test_viper_backend import SUPPORTED, _fixture

from micronn import container
from micronn.simulate import find_micropython

VIPER_DECORATOR = "@micropython.viper"
UNKNOWN_DECORATOR = "@micropython.viper_needs_a_native_emitter"
FLAGS = ("-X", "emit=bytecode")


@pytest.fixture(scope="module")
def package_root(tmp_path_factory) -> Path:
    """A copy of the device package in which no viper module compiles."""
    root = tmp_path_factory.mktemp("circuitpython")
    shutil.copytree(vm.FIRMWARE / "micronn", root / "micronn")
    hidden = 0
    for path in (root / "micronn").glob("*.py"):
        text = path.read_text()
        if VIPER_DECORATOR in text:
            path.write_text(text.replace(VIPER_DECORATOR, UNKNOWN_DECORATOR))
            hidden += 1
    assert hidden >= 6, "expected the viper_* modules in firmware/micronn"
    return root


def bytecode_runner(root: Path):
    """vm.run's twin: -X emit=bytecode and the package copy without viper."""
    failure = vm.VMError  # `vm` below is run's keyword, as vm.run's

    def run(script, *, cwd=None, heapsize=vm.DEFAULT_HEAP, timeout=vm.TIMEOUT_SECONDS, vm="unix"):
        assert vm == "unix", "the bytecode-only runner is a unix VM"
        with tempfile.TemporaryDirectory(prefix="micronn-cp-") as scratch:
            folder = Path(cwd or scratch)
            path = folder / "_vm_script.py"
            path.write_text(script)
            done = subprocess.run(
                [find_micropython(), *FLAGS, "-X", f"heapsize={heapsize}", str(path)],
                cwd=folder,
                env=dict(os.environ, MICROPYPATH=f".frozen:{root}"),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        if done.returncode != 0:
            raise failure(
                f"MicroPython exited with status {done.returncode}\n"
                f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
            )
        return done.stdout

    return run


TRACEBACK_SCRIPT = """import sys
def f():
    raise ValueError("where")
try:
    f()
except ValueError as e:
    sys.print_exception(e)
"""


def test_emit_bytecode_is_a_vm_flag_that_takes_effect(tmp_path):
    """Bytecode records line numbers for tracebacks; native code does not."""
    script = tmp_path / "where.py"
    script.write_text(TRACEBACK_SCRIPT)
    outputs = {}
    for emitter in ("bytecode", "native"):
        done = subprocess.run(
            [find_micropython(), "-X", f"emit={emitter}", str(script)],
            capture_output=True,
            text=True,
            check=True,
        )
        outputs[emitter] = done.stdout
    assert "line 3, in f" in outputs["bytecode"]
    assert "line 3, in f" not in outputs["native"]


PROBE_SCRIPT = """
import micronn
from micronn import backends
print(",".join(backends.available()))
try:
    import micronn.viper_requant
    print("viper compiled")
except SyntaxError as error:
    print("SyntaxError", error)
net = micronn.load("m.mnq")
print(net.backend)
try:
    micronn.load("m.mnq", backend="viper")
except ValueError as error:
    print(error)
if "ulab" in backends.available():
    print(micronn.load("m.mnq", backend="ulab").backend)
"""


def auto_choice(available) -> str:
    """What "auto" must pick: the first allocation-free backend (c, viper, python), never ulab."""
    return next(name for name in available if name != "ulab")


def test_viper_is_absent_without_error(package_root, tmp_path):
    model, _ = _fixture("dense_softmax", "int8")
    (tmp_path / "m.mnq").write_bytes(container.write(model))
    lines = bytecode_runner(package_root)(PROBE_SCRIPT, cwd=tmp_path).splitlines()
    available = lines[0].split(",")
    assert "viper" not in available and available[-1] == "python"
    assert lines[1] == "SyntaxError invalid micropython decorator"
    assert lines[2] == auto_choice(available) == ("c" if "c" in available else "python")
    assert "native emitter" in lines[3] and "use 'auto' or 'python'" in lines[3]
    assert lines[4:] == (["ulab"] if "ulab" in available else [])  # ulab when asked for


def test_auto_never_picks_ulab_on_a_vm_with_ulab(tmp_path):
    """MicroPython with ulab (and viper): auto takes c or viper, never ulab; on CircuitPython
    with ulab (above, the bytecode-only VM) it takes python."""
    model, _ = _fixture("dense_softmax", "int8")
    (tmp_path / "m.mnq").write_bytes(container.write(model))
    lines = vm.run(PROBE_SCRIPT, cwd=tmp_path).splitlines()
    available = lines[0].split(",")
    if "ulab" not in available:
        pytest.skip(
            "this VM has no ulab: set MICRONN_MICROPYTHON to a unix port built with ulab "
            "(docs/building.md, 'A unix port with ulab only')"
        )
    assert lines[2] == auto_choice(available) != "ulab"
    assert lines[-1] == "ulab"


# The existing device tests, run unchanged through the bytecode-only VM: (module, test, args).
CORE_CHECKS = [
    *[
        ("test_device_equivalence", "test_device_matches_reference", {"batch": batch})
        for batch in range(test_device_equivalence.BATCHES)
    ],
    *[
        ("test_device_conv", "test_random_layers_on_the_device_match_the_reference", {"seed": s})
        for s in (11, 12)
    ],
    ("test_device_conv", "test_layers_on_the_31_bit_bound_match_the_reference", {}),
    ("test_device_conv", "test_fixtures_of_these_operators_match_tflm_on_the_device", {}),
    *[
        (
            "test_device_graph",
            "test_graphs_on_the_device_match_the_reference",
            {"batch": batch, "vm": "unix"},
        )
        for batch in range(test_device_graph.BATCHES)
    ],
    ("test_device_misc", "test_random_layers_and_graphs_match_the_reference", {}),
    ("test_device_misc", "test_the_fixtures_of_these_operators_match_tflm", {}),
    ("test_device_predict", "test_float_edges_match_the_reference", {"vm": "unix"}),
    (
        "test_device_predict",
        "test_bad_arguments_raise_value_errors_that_say_what_is_expected",
        {"vm": "unix"},
    ),
]


@pytest.mark.parametrize(
    ("module_name", "test_name", "args"),
    CORE_CHECKS,
    ids=[
        f"{m.removeprefix('test_device_')}-{t.removeprefix('test_')[:40]}"
        for m, t, _ in CORE_CHECKS
    ],
)
def test_core_device_checks(module_name, test_name, args, package_root, tmp_path, monkeypatch):
    module = importlib.import_module(module_name)
    runner = bytecode_runner(package_root)
    calls = []

    def counted(script, **options):
        calls.append(script)
        return runner(script, **options)

    monkeypatch.setattr(vm, "run", counted)  # vm.run_models calls it
    if hasattr(module, "run"):
        monkeypatch.setattr(module, "run", counted)
    getattr(module, test_name)(tmp_path=tmp_path, **args)
    assert calls, "the test did not run the VM through the bytecode-only runner"


def test_every_fixture_and_operator_allocation_free_with_python(package_root, tmp_path):
    """Every converted .tflite fixture on the python backend: exact and heap-locked."""
    pairs = [_fixture(name, "int8") for name in SUPPORTED]
    runner = bytecode_runner(package_root)
    available, modules, _ = run_backends(
        [p[0] for p in pairs], [p[1] for p in pairs], tmp_path, ("python",), runner=runner
    )
    assert "viper" not in available
    assert all(name.startswith("python_") for names in modules.values() for name in names)
