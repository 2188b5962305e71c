"""The CLI verbs, one do_<verb> function each. They return the lines to print; they never print."""

from pathlib import Path

import numpy as np

from micronn import container, reference
from micronn.boards import list_boards, load_board
from micronn.convert import convert
from micronn.report import describe, format_table
from micronn.simulate import simulate


def _load_npy(path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as a .npy array ({error})") from None


def _read_container(path):
    data = Path(path).read_bytes()
    return data, container.read(data, name=str(path))


def do_convert(args) -> list:
    data = convert(
        args.model,
        output=args.output,
        calibration=args.calibration,
        weights=args.weights,
        per_tensor=args.per_tensor,
    )
    model = container.read(data, name=args.output)
    return [f"wrote {args.output}: {len(data)} bytes, {len(model.layers)} layers"]


def do_inspect(args) -> list:
    data, model = _read_container(args.model)
    return [f"{args.model}", *describe(model, len(data), load_board(args.board))]


def do_simulate(args) -> list:
    data, model = _read_container(args.model)
    x = _load_npy(args.input)
    result = simulate(data, x, board=args.board, backend=args.backend, micropython=args.micropython)
    board = load_board(args.board)
    outputs = result.outputs
    if args.dequantize:
        outputs = reference.dequantize_output(model, outputs)
    lines = [
        f"ran {args.model} on the MicroPython VM as {board.name} "
        f"(backend {result.backend}); peak heap {result.peak_heap} of {board.heap_bytes} bytes"
    ]
    if args.output:
        np.save(args.output, outputs)
        lines.append(f"wrote {args.output}: {outputs.dtype} {outputs.shape}")
    else:
        lines.append(np.array2string(outputs, threshold=200))
    return lines


def do_boards(args) -> list:
    boards = [load_board(name) for name in list_boards()]
    header = ("board", "heap B", "filesystem B", "mpy arch", "baud", "description")
    rows = [
        (
            board.name,
            str(board.heap_bytes),
            str(board.filesystem_bytes),
            board.mpy_arch,
            str(board.default_baud),
            board.description,
        )
        for board in boards
    ]
    return format_table(header, rows)
