"""Installing the device package without `micronn flash`: mip on the MicroPython VM from the
repository's package.json (served over loopback HTTP) loads and runs a model exactly as the
reference; the committed package.json and firmware/manifest.py are what the file list of
firmware/micronn generates; export-runtime writes .py or the board's .mpy and a manifest."""

import functools
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from serial_helpers import model_bytes

from micronn import container, reference
from micronn.cli import main
from micronn.runtime_export import MANIFEST, package_json_text, package_sources
from micronn.simulate import find_micropython

ROOT = Path(__file__).resolve().parents[1]


def test_package_json_and_manifest_are_current():
    stale = "stale: run `make package-json` after adding or removing a firmware/micronn file"
    assert (ROOT / "package.json").read_text() == package_json_text(), stale
    assert (ROOT / "firmware" / "manifest.py").read_text() == MANIFEST, stale
    listed = [target for target, _ in json.loads(package_json_text())["urls"]]
    assert listed == [f"micronn/{p.name}" for p in sorted((ROOT / "firmware/micronn").glob("*.py"))]


@pytest.fixture
def http_root():
    """An HTTP server on loopback serving the repository, in a thread."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


MIP_SCRIPT = """
import mip
mip.install("{url}/package.json", target="lib")
import micronn
print(micronn.__file__)
from array import array
net = micronn.load("m.mnq")
x = open("x.bin", "rb").read()
n = len(net._x)
out = array("b", bytes(len(net._result)))
ys = bytearray()
for r in range(len(x) // n):
    net.predict(x[r * n:(r + 1) * n], out)
    ys.extend(bytes(out))
open("y.bin", "wb").write(ys)
"""


def test_mip_installs_the_runtime_on_the_vm_which_runs_a_model(http_root, tmp_path):
    data = model_bytes(tmp_path, (12, 16, 5), seed=9)
    (tmp_path / "m.mnq").write_bytes(data)
    x = np.random.default_rng(1).integers(-128, 128, (7, 12), dtype=np.int8)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    (tmp_path / "run.py").write_text(MIP_SCRIPT.format(url=http_root))
    done = subprocess.run(
        [find_micropython(), "-X", "heapsize=512K", "run.py"],
        cwd=tmp_path,
        env=dict(os.environ, MICROPYPATH=".frozen:lib"),  # only what mip installed
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lib/micronn/__init__.py" in done.stdout
    installed = sorted(p.name for p in (tmp_path / "lib" / "micronn").iterdir())
    assert installed == [p.name for p in package_sources()]
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), np.int8).reshape(7, 5)
    np.testing.assert_array_equal(got, reference.run(container.read(data), x))


def test_export_runtime_writes_sources_or_the_boards_mpy(tmp_path, capsys):
    assert main(["export-runtime", str(tmp_path / "py")]) == 0
    sources = sorted(p.name for p in (tmp_path / "py" / "micronn").iterdir())
    assert sources == [p.name for p in package_sources()]
    assert (tmp_path / "py" / "manifest.py").read_text() == MANIFEST
    assert main(["export-runtime", str(tmp_path / "mpy"), "--board", "pico"]) == 0
    assert f"({len(sources)} .mpy)" in capsys.readouterr().out
    compiled = sorted((tmp_path / "mpy" / "micronn").iterdir())
    assert len(compiled) == len(sources) and all(p.suffix == ".mpy" for p in compiled)
    viper = (tmp_path / "mpy" / "micronn" / "viper_dense.mpy").read_bytes()
    assert viper[:2] == b"M\x06" and viper[2] >> 2 == 4  # armv6m (MP_NATIVE_ARCH_ARMV6M)


def test_the_manifest_freezes_the_package_beside_it():
    calls = []
    namespace = {
        "include": lambda path: calls.append(("include", path)),
        "package": lambda name, **options: calls.append(("package", name)),
    }
    exec(MANIFEST, namespace)  # noqa: S102 - the manifest is our own text
    assert calls == [("include", "$(PORT_DIR)/boards/manifest.py"), ("package", "micronn")]


def test_docs_lists_and_prints_the_pages(capsys):
    assert main(["docs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert {"format", "device-api", "boards/rp2040"} <= set(listed)
    assert main(["docs", "format"]) == 0
    assert "## Labels" in capsys.readouterr().out
    assert main(["docs", "nope"]) == 1
    assert "the pages are: " in capsys.readouterr().err
