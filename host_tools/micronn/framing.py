"""Frames: how requests and replies travel between the host and the board agent.

Every frame, in both directions, is a 12-byte header and a payload (all little-endian):

    offset  size  field
    0       2     sync      0xA7 0x4D
    2       1     kind      request or reply kind (below)
    3       1     seq       request number modulo 256; a reply repeats its request's seq
    4       2     length    payload bytes, at most the agreed frame size
    6       2     hcrc      low 16 bits of CRC-32 of bytes 2..5 (kind, seq, length)
    8       4     pcrc      CRC-32 of the payload
    12      ...   payload

The header check lets a reader reject a corrupted length before waiting for a payload that
will never come. The board agent (device_scripts/board_agent.py) gets these constants from
`agent_prelude()`, so both sides always agree.
"""

import struct
import zlib
from dataclasses import dataclass

SYNC = b"\xa7\x4d"
HEADER = struct.Struct("<2sBBHHI")
HEADER_SIZE = HEADER.size  # 12
MAX_PAYLOAD = 4096  # no frame is ever larger; the agent announces the size it can take
MIN_PAYLOAD = 256  # the smallest frame size an agent may announce (on the smallest heaps)

# Requests (host -> board)
HELLO = 0x01  # -> agent facts
OPEN = 0x02  # size, flags, hash, path -> verified length of a temporary file to resume
START = 0x05  # offset (0 or the resumable length) -> verified length
DATA = 0x06  # offset + bytes -> verified length
COMMIT = 0x07  # -> whole-file hash checked, file renamed into place
REMOVE = 0x08  # path
LIST = 0x09  # directory -> entries
READ = 0x0A  # path -> contents (small files only)
INFO = 0x0B  # -> board facts
LOAD = 0x0C  # model path, backend -> model input/output description
PREDICT = 0x0D  # input rows -> output rows
MKDIR = 0x0E  # path, with parents
BYE = 0x0F  # -> the agent stops after replying
ABORT = 0x10  # the agent stops without replying
INPUT = 0x11  # offset + bytes of one input row, written into the model's input (a row that
#               no frame can carry); PREDICT with no payload then runs that row

# Replies (board -> host)
REPLY = 0x80  # OR-ed with the request kind: success
NAK = 0x7E  # the request frame arrived corrupted: send it again
ERROR = 0x7F  # the request failed on the board: errno (i16) + message

# OPEN flags
OPEN_SWAP = 0x01  # replace by rename-aside even if rename could replace (what the agent does
#                   on filesystems whose rename refuses an existing target)

# Hash kinds in HELLO and OPEN
HASH_SHA256 = 1
HASH_CRC32 = 2

# HELLO reply flags
HELLO_KBD_INTR_OFF = 0x01  # Ctrl-C is disabled while the agent runs: all byte values pass
HELLO_SHA256 = 0x02
HELLO_POLL = 0x04


def crc32(data, value=0) -> int:
    return zlib.crc32(data, value) & 0xFFFFFFFF


def header_crc(kind: int, seq: int, length: int) -> int:
    return crc32(struct.pack("<BBH", kind, seq, length)) & 0xFFFF


def encode(kind: int, seq: int, payload=b"") -> bytes:
    """One frame; payload is any bytes-like object of at most MAX_PAYLOAD bytes."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    seq &= 0xFF
    head = HEADER.pack(
        SYNC, kind, seq, len(payload), header_crc(kind, seq, len(payload)), crc32(payload)
    )
    return head + payload


@dataclass(frozen=True)
class Frame:
    kind: int
    seq: int
    payload: bytes


class FrameReader:
    """Finds whole, intact frames in a byte stream; everything else is kept as board text.

    feed() bytes as they arrive, then take frames with next_frame(). Bytes that are not part
    of an intact frame (REPL output, noise, corrupted frames) go to `text`; they are shown to
    the user, never interpreted.
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD, text_limit: int = 4096):
        self._buffer = bytearray()
        self._max_payload = max_payload
        self._text_limit = text_limit
        self.text = bytearray()
        self.rejected = 0  # frames whose header or payload check failed

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take_text(self) -> bytes:
        text = bytes(self.text)
        self.text.clear()
        return text

    def _skip(self, count: int) -> None:
        self.text += self._buffer[:count]
        del self.text[: max(0, len(self.text) - self._text_limit)]
        del self._buffer[:count]

    def next_frame(self):
        """The next intact frame, or None until more bytes are fed."""
        buffer = self._buffer
        while True:
            start = buffer.find(SYNC)
            if start < 0:
                keep = 1 if buffer[-1:] == SYNC[:1] else 0
                self._skip(len(buffer) - keep)
                return None
            self._skip(start)
            if len(buffer) < HEADER_SIZE:
                return None
            _, kind, seq, length, hcrc, pcrc = HEADER.unpack_from(buffer)
            if length > self._max_payload or hcrc != header_crc(kind, seq, length):
                self.rejected += 1
                self._skip(1)
                continue
            end = HEADER_SIZE + length
            if len(buffer) < end:
                return None
            payload = bytes(buffer[HEADER_SIZE:end])
            if crc32(payload) != pcrc:
                self.rejected += 1
                self._skip(1)
                continue
            del buffer[:end]
            return Frame(kind, seq, payload)


def agent_prelude() -> str:
    """The frame constants as MicroPython source, put in front of each part of the board agent:
    `_NAME=const(value)`, which the compiler folds into the code (no global, no heap)."""
    names = (
        "HEADER_SIZE HELLO OPEN START DATA COMMIT REMOVE LIST READ INFO LOAD PREDICT MKDIR "
        "BYE ABORT INPUT REPLY NAK ERROR OPEN_SWAP HASH_SHA256 HASH_CRC32 HELLO_KBD_INTR_OFF "
        "HELLO_SHA256 HELLO_POLL MAX_PAYLOAD MIN_PAYLOAD"
    ).split()
    values = [("SYNC0", SYNC[0]), ("SYNC1", SYNC[1])] + [(name, globals()[name]) for name in names]
    lines = ["from micropython import const"]
    lines += [f"_{name}=const({value})" for name, value in values]
    return "\n".join(lines) + "\n"
