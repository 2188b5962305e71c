"""`micronn` command line: a table of verbs, and the only place that prints an error."""

import argparse
import sys

from micronn import __version__, commands
from micronn.boards import DEFAULT_BOARD
from micronn.simulate import BACKENDS, SimulationError

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _add_convert(sub):
    parser = sub.add_parser("convert", help="convert a trained model to a .mnq container")
    parser.add_argument("model", help="trained model file (.npz dense stack, see docs/npz.md)")
    parser.add_argument("-o", "--output", required=True, help="where to write the .mnq file")
    parser.add_argument("--calibration", help=".npy of representative float inputs")
    parser.add_argument("--weights", choices=("int8", "int4", "int2"), default="int8")
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="one weight scale per layer (default: per channel)",
    )


def _add_inspect(sub):
    parser = sub.add_parser("inspect", help="layers, sizes and estimated RAM of a .mnq file")
    parser.add_argument("model", help=".mnq file")
    parser.add_argument("--board", default=DEFAULT_BOARD, help="board profile to compare against")


def _add_simulate(sub):
    parser = sub.add_parser("simulate", help="run a .mnq file on the MicroPython VM")
    parser.add_argument("model", help=".mnq file")
    parser.add_argument("--input", required=True, help=".npy of int8 codes or float inputs")
    parser.add_argument("--output", help="write outputs to this .npy (default: print them)")
    parser.add_argument("--board", default=DEFAULT_BOARD, help="board profile: heap size")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--dequantize", action="store_true", help="write float outputs")
    parser.add_argument("--micropython", help="path of the MicroPython unix executable")


def _add_boards(sub):
    sub.add_parser("boards", help="list the board profiles")


VERBS = {
    "convert": (_add_convert, commands.do_convert),
    "inspect": (_add_inspect, commands.do_inspect),
    "simulate": (_add_simulate, commands.do_simulate),
    "boards": (_add_boards, commands.do_boards),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="micronn", description="Quantized neural networks for MicroPython boards."
    )
    parser.add_argument("--version", action="version", version=f"micronn {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for add_parser, _ in VERBS.values():
        add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # exits with EXIT_USAGE on bad usage
    _, run = VERBS[args.verb]
    try:
        lines = run(args)
    except FileNotFoundError as error:
        print(
            f"micronn {args.verb}: error: {error.filename or error}: file not found",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except (ValueError, OSError, SimulationError) as error:
        print(f"micronn {args.verb}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
