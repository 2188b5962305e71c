"""The agent's first install on a board that lacks it (or holds another version), in a small heap.

Pasting the whole agent (~12 KB of source, compiled on the board) needs more heap than a 64 KiB
board has free. Instead, short programs in the raw REPL write its modules (compiled on the host
for the board's .mpy version, runtime.build_agent) to lib/: each file in pieces of PIECE bytes,
base64 in a string literal of about 700 characters, each piece's CRC-32 printed back and
compared; then the whole file is read back on the board and its CRC-32 compared, and only then
renamed over lib/NAME (atomic on littlefs and POSIX; where rename refuses an existing target, the
old file is removed first). The core is written last: the launcher checks its version first.
Nothing the board prints is evaluated: the host only reads decimal numbers from it.
"""

import base64
from dataclasses import dataclass

from micronn import framing
from micronn.runtime import build_agent, decode_mpy, plan_runtime
from micronn.transport import BoardCodeError, LinkError, ProtocolError

PIECE = 512  # file bytes per paste
FILE_ATTEMPTS = 3  # writes of one file whose CRC came back wrong before the link is blamed
EXEC_TIMEOUT = 5.0  # seconds for one short program (a flash write of one piece on a slow board)
PROBE = "import sys\nprint(getattr(sys.implementation,'_mpy',0))\n"
SETUP = (
    "import os,sys,binascii as _b\n"
    "_r='' if sys.platform=='linux' else '/'\n"
    "try:\n os.mkdir(_r+'lib')\nexcept OSError:\n pass\n"
)
FORGET = "try:\n _f.close()\nexcept Exception:\n pass\n_b=_r=_f=_d=_c=_t=0\n"


@dataclass(frozen=True)
class InstallReport:
    files: int
    bytes: int  # bytes of the files written
    pasted: int  # bytes of code pasted, every program included
    largest_paste: int


def _number(text: str, what: str) -> int:
    words = text.split()
    if len(words) != 1 or not words[0].isdigit():
        raise ProtocolError(
            f"the board answered {text[:40]!r} where the {what} should be; press its reset "
            "button and run the command again"
        )
    return int(words[0])


class _Pastes:
    """exec_output that counts what it pastes."""

    def __init__(self, transport):
        self.transport = transport
        self.total = 0
        self.largest = 0

    def run(self, code: str) -> str:
        at_prompt = self.total > 0  # each program ends at the prompt, read by exec_output
        self.total += len(code)
        self.largest = max(self.largest, len(code))
        return self.transport.exec_output(code, EXEC_TIMEOUT, at_prompt)


def _write(pastes, path: str, data: bytes) -> None:
    """Write `data` to lib/`path` through PATH.part, each piece and the whole file checked."""
    name = repr(path)
    for _ in range(FILE_ATTEMPTS):
        pastes.run(f"_t=_r+{name}\n_f=open(_t+'.part','wb')\n")
        intact = True
        for start in range(0, len(data), PIECE):
            piece = data[start : start + PIECE]
            text = base64.b64encode(piece).decode("ascii")
            code = f"_d=_b.a2b_base64('{text}')\n_f.write(_d)\nprint(_b.crc32(_d))\n"
            if _number(pastes.run(code), "CRC of a piece") != framing.crc32(piece):
                intact = False
                break
        check = (
            "_f.close()\n_f=open(_t+'.part','rb')\n_c=0\nwhile 1:\n _d=_f.read(256)\n"
            " if not _d:break\n _c=_b.crc32(_d,_c)\n_f.close()\nprint(_c)\n"
        )
        if intact and _number(pastes.run(check), "CRC of a file") == framing.crc32(data):
            pastes.run(
                "try:\n os.rename(_t+'.part',_t)\nexcept OSError:\n os.remove(_t)\n"
                " os.rename(_t+'.part',_t)\n"
            )
            return
        pastes.run("_f.close()\n")
    raise LinkError(
        f"{path} arrived damaged {FILE_ATTEMPTS} times on the board; check the cable, try a "
        "lower baud rate, and run the command again"
    )


def _shadowing(path: str) -> str:
    """The other form of the same module, which must go: a stale .py is imported before .mpy."""
    stem, _, suffix = path.rpartition(".")
    return f"{stem}.py" if suffix == "mpy" else f"{stem}.mpy"


def install_agent(transport) -> InstallReport:
    """Write the agent's modules for this board to its lib/ (the transport in the raw REPL).

    BoardCodeError (a TransportError) if the board refuses (read-only or full filesystem, no
    memory); LinkError if pieces keep arriving damaged."""
    pastes = _Pastes(transport)
    target = decode_mpy(_number(pastes.run(PROBE), "board's .mpy version"))
    files = build_agent(plan_runtime(target))
    pastes.run(SETUP)
    try:
        for path, data in files.items():
            gone = repr(_shadowing(path))
            pastes.run(f"try:\n os.remove(_r+{gone})\nexcept OSError:\n pass\n")
            _write(pastes, path, data)
    except BoardCodeError:
        pastes.run(FORGET)  # the board is at its prompt: close the file, free the names
        raise
    pastes.run(FORGET)
    return InstallReport(len(files), sum(map(len, files.values())), pastes.total, pastes.largest)
