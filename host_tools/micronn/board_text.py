"""Text from a board made safe to print: no terminal escape sequences, no control characters.

A board's output (error messages, names, firmware strings) is shown to the user, never
interpreted; a broken or hostile board must not be able to move the cursor, retitle the
terminal or hide text. ANSI CSI and OSC/DCS sequences are removed; other control characters
(all but newline and tab) and bidirectional overrides become '?'.
"""

import re

_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: cursor, colour, erase ...
    r"|(?:\x1b[\]P^_X]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"  # OSC, DCS...
    r"|\x1b[ -/]*[0-~]?"  # other escapes (and a lone ESC)
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without escape sequences; other control characters replaced by '?'."""
    return _CONTROLS.sub("?", _SEQUENCES.sub("", text))


def one_line(text: str) -> str:
    """printable(text) on one line (for an error message)."""
    return " ".join(printable(text).split())


def decode(data: bytes) -> str:
    """Bytes from the board as printable text."""
    return printable(bytes(data).decode("utf-8", "replace"))
