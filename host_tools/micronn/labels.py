"""Class names for a model's output: checked, packed into a container's labels section (version 3,
docs/format.md "Labels"), read back, and taken from where a source model keeps them.

The labels name the items of the last axis of one output (output 0 unless said otherwise): a
classifier's `(10,)` scores get 10 labels. Each is 1 to 255 bytes of UTF-8 without control
characters, so that a board and a terminal can print it as it is.
"""

import struct
import zlib
from pathlib import Path

SECTION_HEAD = struct.Struct("<BBHI")  # output, reserved, count, crc32 of the entries
MAX_LABEL_BYTES = 255
MAX_LABELS = 0xFFFF
MAX_FILE_BYTES = 4 << 20  # a labels file larger than this is not a labels file
LABELS_FILE_HELP = "one label per line, UTF-8"


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_labels(labels, output_shapes, output: int = 0, source: str = "labels") -> tuple:
    """The labels as a tuple of str, or ValueError saying what is wrong and what to do."""
    labels = tuple(str(label) for label in labels)
    if not 0 <= output < len(output_shapes):
        raise ValueError(
            f"{source}: labels for output {output}, but the model has {len(output_shapes)}"
        )
    shape = tuple(output_shapes[output])
    width = shape[-1]
    if len(labels) != width:
        raise ValueError(
            f"{source}: {len(labels)} labels for an output of shape {shape}; give {width}, one "
            f"per item of its last axis ({LABELS_FILE_HELP})"
        )
    if width > MAX_LABELS:
        raise ValueError(f"{source}: {width} labels; a container holds at most {MAX_LABELS}")
    for index, label in enumerate(labels):
        size = len(label.encode("utf-8"))
        if not 1 <= size <= MAX_LABEL_BYTES or _control(label):
            raise ValueError(
                f"{source}: label {index} ({label[:40]!r}) must be 1 to {MAX_LABEL_BYTES} bytes "
                "of UTF-8 without control characters"
            )
    return labels


def pack_section(labels, output: int = 0) -> bytes:
    """The labels section: head, entries, zero padding to a multiple of 4 bytes."""
    entries = b"".join(bytes([len(e)]) + e for e in (label.encode("utf-8") for label in labels))
    entries += bytes(-(SECTION_HEAD.size + len(entries)) % 4)
    return SECTION_HEAD.pack(output, 0, len(labels), zlib.crc32(entries)) + entries


def unpack_section(section: bytes, output_shapes) -> tuple:
    """(labels, output) from a labels section; ValueError naming what is wrong."""
    if len(section) < SECTION_HEAD.size + 4:
        raise ValueError(f"the labels section of {len(section)} bytes is too short")
    output, reserved, count, crc = SECTION_HEAD.unpack_from(section)
    if reserved or output >= len(output_shapes):
        raise ValueError(
            f"the labels section names output {output}; the model has {len(output_shapes)}"
        )
    width = tuple(output_shapes[output])[-1]
    if count != width:
        raise ValueError(
            f"the labels section holds {count} labels for an output whose last axis has {width}"
        )
    if zlib.crc32(section[SECTION_HEAD.size :]) != crc:
        raise ValueError("the labels section fails its CRC check (file corrupt)")
    labels, position = [], SECTION_HEAD.size
    for index in range(count):
        length = section[position] if position < len(section) else 0
        end = position + 1 + length
        if not length or end > len(section):
            raise ValueError(f"label {index} is empty or runs past the labels section")
        try:
            label = section[position + 1 : end].decode("utf-8")
        except UnicodeDecodeError:
            label = "\0"
        if _control(label):
            raise ValueError(f"label {index} is not printable UTF-8 text")
        labels.append(label)
        position = end
    if len(section) - position > 3 or any(section[position:]):
        raise ValueError("unexpected bytes after the last label")
    return tuple(labels), output


def read_labels_file(path) -> list:
    """A labels file: one label per line, UTF-8 (a TFLite labels.txt); blank lines at the end and
    a CR before each newline are ignored."""
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too big for a labels file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {error.start}); a labels file is {LABELS_FILE_HELP}"
        ) from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}: line {number} is empty; a labels file is {LABELS_FILE_HELP}")
    if not lines:
        raise ValueError(f"{path}: no labels; a labels file is {LABELS_FILE_HELP}")
    return lines


def labels_argument(labels, source="labels"):
    """A labels argument: None, a path to a labels file, or a sequence of names."""
    if labels is None:
        return None, source
    if isinstance(labels, (str, Path)):
        return read_labels_file(labels), str(labels)
    return list(labels), source


def sklearn_labels(estimator, width: int):
    """A classifier's classes_ as labels when they name the output's items (not for a binary
    classifier, whose one logistic output is the probability of classes_[1])."""
    classes = getattr(estimator, "classes_", None)
    if classes is None or type(estimator).__name__ != "MLPClassifier":
        return None
    names = [str(c) for c in classes]
    return names if len(names) == width else None


def apply_labels(model, labels, output: int = 0, source: str = "labels"):
    """Check the labels against the model's outputs and attach them (labels None: none)."""
    if labels is None:
        return model
    shapes = [spec.shape for spec in model.outputs]
    model.labels = check_labels(labels, shapes, output, source)
    model.labels_output = output
    return model


def top_lines(labels, codes, scale: float, zero_point: int, k: int = 3, rows: int = 10) -> list:
    """One line per sample (up to `rows`): its k most likely labels with their real values,
    e.g. "sample 0: virginica 0.77, versicolor 0.21, setosa 0.02"; codes: int8 outputs shaped
    (..., len(labels)), one sample or a batch."""
    import numpy as np

    codes = np.asarray(codes).reshape(-1, len(labels))
    k = min(k, len(labels))
    lines = []
    for row, sample in enumerate(codes[:rows]):
        order = np.argsort(-sample.astype(np.int64), kind="stable")[:k]
        picks = [f"{labels[i]} {scale * (int(sample[i]) - zero_point):.3g}" for i in order]
        lines.append(f"sample {row}: {', '.join(picks)}")
    if len(codes) > rows:
        lines.append(f"... and {len(codes) - rows} more samples")
    return lines
