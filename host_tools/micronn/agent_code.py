"""The board agent's code as the board gets it, and the short programs that start it.

The agent is three MicroPython modules (device_scripts/board_agent*.py): the core (frames,
HELLO, BYE) and two parts it imports when first needed, the files part and the model part, so a
session that runs a model never holds the file code in the heap, nor a flash the model code.
Each module is installed in lib/ as .mpy with the runtime (runtime.py) or, on a board without
them, by agent_install.py; the launcher pasted to start it is a few hundred bytes. Every module
carries AGENT_ID, the CRC-32 of `pasted_source()`, and the agent's first reply says it: the host
refuses any other value. Where nothing can be installed, `pasted_source()` (all three in one
program, ~12 KB) is pasted and exec'd whole, as a big board can take.
"""

import functools
import io
import tokenize
import zlib

from micronn import framing
from micronn.resources import device_script

CORE = "micronn_agent"
PARTS = ("files", "model")  # lib/micronn_agent_<part>
SCRIPTS = {
    CORE: "board_agent.py",
    CORE + "_files": "board_agent_files.py",
    CORE + "_model": "board_agent_model.py",
}
IDLE_MS = 8000  # the agent stops after this long without a valid request


def minify(source: str) -> str:
    """Python source without comments or blank lines, indented one space per level.

    Only for the agent, which has no multi-line strings and indents by 4 spaces.
    """
    cuts = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            cuts[token.start[0]] = token.start[1]
    lines = []
    for number, line in enumerate(source.splitlines(), 1):
        line = line[: cuts.get(number, len(line))].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        lines.append(" " * (indent // 4) + line.lstrip(" "))
    return "\n".join(lines) + "\n"


def source_crc(source: str) -> int:
    return zlib.crc32(source.encode("utf-8")) & 0xFFFFFFFF


@functools.cache
def _bodies() -> dict:
    """module name -> its minified code, without the frame constants."""
    bodies = {}
    for module, script in SCRIPTS.items():
        bodies[module] = minify(device_script(script).read_text(encoding="utf-8"))
    bodies[CORE] = f"_IDLE_MS=const({IDLE_MS})\n" + bodies[CORE]
    return bodies


@functools.cache
def pasted_source() -> str:
    """The whole agent as one program: the frame constants, the core, then its parts."""
    return framing.agent_prelude() + "".join(_bodies().values())


def agent_id() -> int:
    """What the agent's HELLO must carry: the CRC-32 of the pasted program."""
    return source_crc(pasted_source())


def module_sources() -> dict:
    """module name -> source of each installed module (parts first, the core last: the core's
    AGENT_ID is what the launcher checks, so it is written once its parts are in place)."""
    prelude = framing.agent_prelude()
    tag = f"AGENT_ID={agent_id()}\n"
    bodies = _bodies()
    ordered = [CORE + "_" + part for part in PARTS] + [CORE]
    return {module: prelude + bodies[module] + tag for module in ordered}


def paste_launcher(source: str) -> str:
    """Code to paste: runs `source` and hands it the CRC-32 of what arrived, which the host
    checks in the agent's first reply, so a damaged paste is never trusted."""
    return (
        "import binascii\n"
        f"_s={source!r}\n"
        "_g={}\n"
        "try:\n"
        " exec(_s,_g)\n"
        " _g['main'](binascii.crc32(_s))\n"
        "finally:\n"
        " del _s,_g\n"
    )


def installed_launcher(expected_id: int, model=None) -> str:
    """Code to paste: runs the installed agent if it and its parts are this version, else ends
    at once (the host then installs them); either way the board forgets the modules the program
    imported. `model`, a (path, backend) pair, is loaded first, while the agent is not in the
    heap: a model's load is when the heap is fullest, and the agent then only has to fit beside
    the loaded net. Its net (or the exception its load raised) goes to the agent's LOAD. A load
    that runs out of heap is tried again with weights='stream' (and, for backend 'auto', then
    with the python backend, whose kernels are smallest), its modules forgotten. For 'auto', a
    board whose heap is under fit.viper_least_heap() (what the memory plan gives the smallest
    model with viper and the agent) goes straight to python: a viper load that runs out of heap
    leaves its names interned across the heap, and the python load after it then finds no run
    of bytes long enough.

    While the program runs, the GC collects every 1/32 of the heap allocated (gc.threshold, put
    back at the end): imports and loads then leave their objects, and the names they intern, in
    one piece at the heap's start instead of scattered between garbage."""
    preload = ""
    if model is not None:
        from micronn.fit import viper_least_heap

        path, backend = model
        first = repr(backend)
        tries = "(_b,'auto'),(_b,'stream')"
        if backend == "auto":  # the fastest backend that fits: python's kernels take less heap
            first = f"'python' if _s<{viper_least_heap()} else 'auto'"
            tries += ",('python','stream')"
        # A load that runs out of heap leaves modules and names behind: forget the modules,
        # keep the names (interned once, they no longer cut up the heap), and try the next.
        preload = (
            f"_h={(path, backend)!r}\n"
            f"_b={first}\n"
            f"for _w in ({tries}):\n"
            " try:\n"
            "  _p=_h+(__import__('micronn').load(_h[0],*_w),)\n"
            "  break\n"
            " except MemoryError as e:\n"
            "  _p=_h+(e,)\n"
            "  for _k in list(sys.modules):\n"
            "   if _k not in _m:\n"
            "    del sys.modules[_k]\n"
            " except Exception as e:\n"
            "  _p=_h+(e,)\n"
            "  break\n"
        )
    return (
        "import sys,gc\n"
        "_s=gc.mem_free()+gc.mem_alloc()\n"
        "try:\n"
        " _t=gc.threshold()\n"
        " gc.threshold(_s>>5)\n"
        "except AttributeError:\n"
        " _t=0\n"
        "_m=list(sys.modules)\n"
        "_p=None\n"
        f"{preload}"
        "try:\n"
        f" import {CORE} as _a\n"
        f" if _a.ready({expected_id}):\n"
        f"  _a.main({expected_id},_p)\n"
        "except ImportError:\n"
        " pass\n"
        "finally:\n"
        " if _p and hasattr(_p[2],'close'):\n"
        "  _p[2].close()\n"
        " for _k in list(sys.modules):\n"
        "  if _k not in _m:\n"
        "   del sys.modules[_k]\n"
        " if _t:\n"
        "  gc.threshold(_t)\n"
        " _a=_p=_m=_k=_w=_t=_h=_b=_s=0\n"
    )
