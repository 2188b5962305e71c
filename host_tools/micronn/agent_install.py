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
from micronn.board_text import one_line
from micronn.runtime import build_agent, decode_mpy, plan_runtime
from micronn.transport import BoardCodeError, LinkError

PIECE = 512  # file bytes per paste
FILE_ATTEMPTS = 3  # writes of one file whose CRC came back wrong before the link is blamed
PROGRAM_ATTEMPTS = 3  # sends of a program that raised as damaged code does
EXEC_TIMEOUT = 5.0  # seconds for one short program (a flash write of one piece on a slow board)
PROBE = "import sys\nprint(getattr(sys.implementation,'_mpy',0))\n"
SETUP = (
    "import os,sys,binascii as _b\n"
    "_r='' if sys.platform=='linux' else '/'\n"
    "try:\n os.mkdir(_r+'lib')\nexcept OSError:\n pass\n"
)
FORGET = "try:\n _f.close()\nexcept Exception:\n pass\n_b=_r=_f=_d=_c=_t=0\n"  # the names go


@dataclass(frozen=True)
class InstallReport:
    files: int
    bytes: int  # bytes of the files written
    pasted: int  # bytes of code pasted, every program included
    largest_paste: int


def _number(text: str, what: str) -> int:
    words = text.split()
    if len(words) != 1 or not words[0].isdigit():
        raise LinkError(
            f"the board answered {one_line(text)[:40]!r} where the {what} should be; check the "
            "cable and the port, and run the command again"
        )
    return int(words[0])


def _damaged(error: BoardCodeError) -> bool:
    """A program that raised for a reason the line explains (a changed character made bad
    base64 or bad code), not one the board has (no room, a read-only filesystem)."""
    return error.errno == 0 and "MemoryError" not in str(error)


class _Pastes:
    """exec_output that counts what it pastes."""

    def __init__(self, transport):
        self.transport = transport
        self.total = 0
        self.largest = 0

    def run(self, code: str) -> str:
        """What `code` printed; sent again if it arrived damaged (each program may run twice:
        a piece written twice fails the file's CRC, and the file is written again)."""
        for attempt in range(PROGRAM_ATTEMPTS):
            at_prompt = self.total > 0  # each program ends at the prompt, read by exec_output
            self.total += len(code)
            self.largest = max(self.largest, len(code))
            try:
                return self.transport.exec_output(code, EXEC_TIMEOUT, at_prompt)
            except BoardCodeError as error:
                if not _damaged(error) or attempt == PROGRAM_ATTEMPTS - 1:
                    raise


CHECK = (
    "_f.close()\n_f=open(_t+'.part','rb')\n_c=0\nwhile 1:\n _d=_f.read(256)\n"
    " if not _d:break\n _c=_b.crc32(_d,_c)\n_f.close()\nprint(_c)\n"
)
RENAME = (
    "try:\n os.rename(_t+'.part',_t)\nexcept OSError:\n os.remove(_t)\n os.rename(_t+'.part',_t)\n"
)
CLOSE = "try:\n _f.close()\nexcept Exception:\n pass\n"


def _attempt(pastes, path: str, data: bytes) -> bool:
    """Write lib/`path` once; True if every piece and the whole file came back intact."""
    pastes.run(f"_t=_r+{path!r}\n_f=open(_t+'.part','wb')\n")
    for start in range(0, len(data), PIECE):
        piece = data[start : start + PIECE]
        text = base64.b64encode(piece).decode("ascii")
        code = f"_d=_b.a2b_base64('{text}')\n_f.write(_d)\nprint(_b.crc32(_d))\n"
        if _number(pastes.run(code), "CRC of a piece") != framing.crc32(piece):
            return False
    return _number(pastes.run(CHECK), "CRC of a file") == framing.crc32(data)


def _write(pastes, path: str, data: bytes) -> None:
    """Write `data` to lib/`path` through PATH.part, each piece and the whole file checked,
    then rename it into place; a file that arrives damaged is written again."""
    for _ in range(FILE_ATTEMPTS):
        try:
            intact = _attempt(pastes, path, data)
        except BoardCodeError as error:
            if not _damaged(error):
                raise
            intact = False
        if intact:
            pastes.run(RENAME)
            return
        pastes.run(CLOSE)
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
