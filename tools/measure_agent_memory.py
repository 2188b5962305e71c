"""Measure the board agent's own heap on the MicroPython VM, for micronn/agent_memory.py.

    .venv/bin/python tools/measure_agent_memory.py           # print the figures
    .venv/bin/python tools/measure_agent_memory.py --write   # rewrite them in agent_memory.py

Run it again when device_scripts/board_agent*.py or agent_code.py's launcher changes
(tests/test_agent_memory.py fails when a figure drifts by more than 10 %). Every figure is the
live heap (gc.mem_alloc() right after gc.collect()) of the unix VM with a 64 KiB heap, the agent
compiled with mpy-cross as `micronn flash` installs it:

- STARTED, SERVING: importing the core and making its Agent, then importing the model part
  (the frame buffer, which agent_memory sizes from the free heap, subtracted);
- LAUNCHER: the launcher of a `micronn run`, compiled as the board compiles a paste;
- INTERNED: a virtual board's live heap before any session and after a first `micronn ls`
  (which installs the agent); LEAK is what a second session adds (it should be 0).
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from micronn import agent_memory
from micronn.agent_code import agent_id, installed_launcher
from micronn.memory_plan import heap_bytes
from micronn.precompiled import vm_mpy_target
from micronn.remote import list_models
from micronn.runtime import build_agent, plan_runtime
from micronn.simulate import find_micropython
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import VirtualBoard

HEAP = 64 * 1024
TIMEOUT = 60
MODULE = Path(agent_memory.__file__)
LIVE = "import gc\ngc.collect()\nprint(gc.mem_alloc())\n"
AGENT_SCRIPT = """
import gc, json, sys
def live():
    gc.collect()
    return gc.mem_alloc()
launcher = open("launcher.txt").read()
base = live()
code = compile(launcher, "<stdin>", "exec")
compiled = live() - base
code = None
base = live()
import micronn_agent
agent = micronn_agent.Agent(0)
started = live() - base
agent.part("model")
serving = live() - base
print(json.dumps({"launcher": compiled, "started": started, "serving": serving,
                  "frame": agent.size}))
"""


def _agent_figures(executable: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="micronn-agent-memory-") as scratch:
        folder = Path(scratch)
        for path, data in build_agent(plan_runtime(vm_mpy_target(executable))).items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        launcher = installed_launcher(agent_id(), ("models/model.mnq", "auto"))
        (folder / "launcher.txt").write_text(launcher, encoding="utf-8")
        (folder / "measure.py").write_text(AGENT_SCRIPT, encoding="utf-8")
        done = subprocess.run(
            [executable, "-X", f"heapsize={HEAP}", "measure.py"],
            cwd=folder,
            env={"MICROPYPATH": "lib"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the VM could not measure the agent: {done.stdout}{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    frame = heap_bytes(figures.pop("frame"))
    return {
        "LAUNCHER": figures["launcher"],
        "STARTED": figures["started"] - frame,
        "SERVING": figures["serving"] - frame,
    }


def _live(port: str) -> int:
    with SerialTransport(port) as transport:
        transport.enter_raw_repl()
        live = int(transport.exec_output(LIVE, TIMEOUT))
        transport.leave_raw_repl()
    return live


def _left_behind(executable: str) -> dict:
    with VirtualBoard("esp32", micropython=executable, heap_bytes=HEAP) as board:
        _live(board.port)  # the probe's own names and globals, before anything is measured
        fresh = _live(board.port)
        list_models(board.port)
        first = _live(board.port)
        list_models(board.port)
        second = _live(board.port)
    return {"INTERNED": first - fresh, "LEAK": second - first}


def measure(micropython=None) -> dict:
    """{name: bytes} for agent_memory.py, and LEAK (what a second session leaves)."""
    executable = find_micropython(micropython)
    return {**_agent_figures(executable), **_left_behind(executable)}


def _vm_name(executable: str) -> str:
    done = subprocess.run(
        [executable, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return f"{done.stdout.strip()} (unix, 64-bit)"


def write(figures: dict, vm: str) -> None:
    text = MODULE.read_text(encoding="utf-8")
    text = re.sub(r'^VM = ".*"$', f"VM = {vm!r}".replace("'", '"'), text, flags=re.M)
    for name in ("LAUNCHER", "INTERNED", "STARTED", "SERVING"):
        text = re.sub(rf"^{name} = \d+", f"{name} = {figures[name]}", text, flags=re.M)
    MODULE.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite micronn/agent_memory.py")
    parser.add_argument("--micropython", help="the MicroPython unix executable")
    args = parser.parse_args()
    figures = measure(args.micropython)
    for name, value in figures.items():
        print(f"{name} = {value}")
    if args.write:
        write(figures, _vm_name(find_micropython(args.micropython)))
        print(f"wrote {MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
