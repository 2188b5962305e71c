"""Error messages as the CLI prints them: one line of printable text.

Messages quote what files contain (layer, node and tensor names, third-party parser errors);
a damaged or hostile file can put newlines or terminal escape sequences there.
"""

import unicodedata

THIRD_PARTY_CHARS = 160  # a quoted parser message is cut to this


def one_line(text, limit: int | None = THIRD_PARTY_CHARS) -> str:
    """`text` on one line: whitespace runs become one space, other control characters are
    escaped (\\x1b), and the result is cut to `limit` characters."""
    shown = []
    for char in " ".join(str(text).split()):
        if unicodedata.category(char)[0] == "C":
            shown.append(char.encode("unicode_escape").decode("ascii"))
        else:
            shown.append(char)
    text = "".join(shown)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def one_line_error(error: ValueError) -> ValueError:
    """The error itself when its message is one printable line, else one of its type (or a
    ValueError) carrying the message on one line."""
    text = str(error)
    clean = one_line(text, limit=None)
    if clean == text and text:
        return error
    try:
        return type(error)(clean or type(error).__name__)
    except TypeError:  # a subclass with other arguments (UnicodeDecodeError)
        return ValueError(clean or type(error).__name__)
