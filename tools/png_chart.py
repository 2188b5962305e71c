"""A grouped bar chart as PNG bytes, written with zlib alone (no plotting library)."""

import struct
import zlib

COLOURS = ((66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188))
GREY = (150, 150, 150)
WHITE = (255, 255, 255)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png(pixels) -> bytes:
    """RGB rows (lists of (r, g, b)) -> PNG bytes."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for pixel in row for c in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def bar_chart_png(groups, bar=24, gap=40, height=240, margin=10) -> bytes:
    """groups: lists of non-negative values, one bar each; heights scale to the largest value;
    a grey line marks 1.0 (the python backend)."""
    if not groups or not any(groups):
        raise ValueError("nothing to chart: give at least one group with one value")
    top = max(max(g) for g in groups if g)
    width = margin * 2 + sum(len(g) * bar for g in groups) + gap * (len(groups) - 1)
    pixels = [[WHITE] * width for _ in range(height + 2 * margin)]
    base = margin + height
    x = margin
    for group in groups:
        for i, value in enumerate(group):
            rows = max(1, round(height * value / top))
            for y in range(base - rows, base):
                pixels[y][x : x + bar - 2] = [COLOURS[i % len(COLOURS)]] * (bar - 2)
            x += bar
        x += gap
    one = base - round(height * 1.0 / top)
    pixels[max(margin, one)] = [GREY] * width
    return png(pixels)
