"""`micronn` command line: a table of verbs, and the only place that prints an error."""

import argparse
import sys
import warnings

from micronn import __version__, commands
from micronn.board_text import printable
from micronn.boards import DEFAULT_BOARD
from micronn.calibration import CalibrationWarning
from micronn.cli_progress import FlashProgress
from micronn.memory_plan import RUNTIMES, planned_backends
from micronn.messages import one_line
from micronn.simulate import BACKENDS, WEIGHTS, SimulationError
from micronn.transport import TransportError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a program stopped by Ctrl-C
RESUME_ADVICE = "; run the same command again to resume"  # after Ctrl-C in flash


def _add_convert(sub):
    parser = sub.add_parser("convert", help="convert a trained model to a .mnq container")
    parser.add_argument(
        "model",
        help="trained model file: .tflite (int8 or float), .keras / .h5, .onnx, or an .npz "
        "dense stack (docs/npz.md)",
    )
    parser.add_argument("-o", "--output", required=True, help="where to write the .mnq file")
    parser.add_argument(
        "--calibration", help=".npy of representative float inputs (float models only)"
    )
    parser.add_argument(
        "--weights", choices=("int8", "int4", "int2"), default="int8", help="weight precision"
    )
    parser.add_argument(
        "--labels",
        metavar="FILE",
        help="class names of the output's last axis, one per line (stored in the container; "
        "net.labels on the board)",
    )
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="one weight scale per layer (default: per channel)",
    )
    parser.add_argument(
        "--no-bands",
        action="store_true",
        help="run every layer whole (default: the first convolutions of an image model run in "
        "bands of rows when that saves heap, for a few %% more work; docs/memory.md)",
    )


def _add_inspect(sub):
    parser = sub.add_parser("inspect", help="layers, sizes and estimated RAM of a .mnq file")
    parser.add_argument("model", help=".mnq file")
    parser.add_argument(
        "--board",
        default=DEFAULT_BOARD,
        help="board profile to compare against (micronn boards; aliases such as pico)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="mpy",
        help="the device package as micronn flash installs it (mpy), as .py source, or in a "
        "ROMFS image with the model (romfs: micronn romfs)",
    )
    parser.add_argument(
        "--backend",
        choices=planned_backends(),
        default="python",
        help="the kernels whose memory to plan for (each backend's figure is listed too)",
    )


def _add_simulate(sub):
    parser = sub.add_parser("simulate", help="run a .mnq file on the MicroPython VM")
    parser.add_argument("model", help=".mnq file")
    parser.add_argument(
        "--input",
        required=True,
        help=".npy of int8 codes or float inputs; .npz with input0, input1, ... for several",
    )
    parser.add_argument(
        "--output",
        help="write outputs to this .npy, or .npz (output0, output1, ...) (default: print them)",
    )
    parser.add_argument(
        "--board", default=DEFAULT_BOARD, help="board profile: heap size (micronn boards)"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="kernels to run (auto: the fastest the board has, never ulab)",
    )
    parser.add_argument(
        "--weights", choices=WEIGHTS, default="auto", help="where the weights live (docs/memory.md)"
    )
    runtime = parser.add_mutually_exclusive_group()
    runtime.add_argument(
        "--source",
        action="store_true",
        help="run the device package's .py sources, compiled on the VM at the cost of heap "
        "(default: the .mpy files that micronn flash installs)",
    )
    runtime.add_argument("--mpy", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument("--dequantize", action="store_true", help="write float outputs")
    parser.add_argument(
        "--time",
        action="store_true",
        help="also time predict on every backend the VM has (us per inference, peak heap)",
    )
    parser.add_argument("--micropython", help="path of the MicroPython unix executable")


def _add_boards(sub):
    sub.add_parser("boards", help="list the board profiles")


PORT_DEFAULT = " (default: the one board connected, see micronn devs)"


def _add_port(parser, several=False):
    if several:
        parser.add_argument(
            "--port",
            action="append",
            help="serial port or socket:// / rfc2217:// URL; repeat to flash boards in "
            "parallel" + PORT_DEFAULT,
        )
    else:
        parser.add_argument(
            "--port", help="serial port or socket:// / rfc2217:// URL" + PORT_DEFAULT
        )
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (UART boards)")


def _add_bench(sub):
    parser = sub.add_parser(
        "bench",
        help="flash a model and time it on the board: us per inference per backend, peak heap",
    )
    parser.add_argument("model", help=".mnq file")
    _add_port(parser)
    parser.add_argument("--name", help="name on the board (default: the file's name)")
    parser.add_argument(
        "--weights", choices=WEIGHTS, default="auto", help="where the weights live (docs/memory.md)"
    )


def _add_export_runtime(sub):
    parser = sub.add_parser(
        "export-runtime",
        help="write the device package to a folder (.py, or .mpy for a board) with a manifest.py",
    )
    parser.add_argument("folder", help="where to write micronn/ and manifest.py")
    parser.add_argument(
        "--board", help="compile .mpy files for this board's arch (default: .py sources)"
    )
    parser.add_argument("--source", action="store_true", help="write .py sources even with --board")


def _add_romfs(sub):
    parser = sub.add_parser(
        "romfs",
        help="write a ROMFS image of the runtime and models, for mpremote romfs deploy",
    )
    parser.add_argument("image", help="the image file to write, e.g. micronn.romfs")
    parser.add_argument("models", nargs="*", help=".mnq files to put in /rom/models/")
    parser.add_argument(
        "--board", default=DEFAULT_BOARD, help="compile the runtime for this board's arch"
    )
    parser.add_argument(
        "--backends",
        default="viper,ulab",
        help="the optional backends whose kernels go in, comma-separated (default viper,ulab; "
        "python's always do): --backends python leaves both out, about 32 KB less image",
    )


def _add_docs(sub):
    parser = sub.add_parser("docs", help="list the documentation pages, or print one")
    parser.add_argument(
        "page", nargs="?", help="a page's name, e.g. format, device-api, boards/rp2040"
    )


def _add_devs(sub):
    sub.add_parser(
        "devs", help="list the serial ports that may be MicroPython boards (and virtual boards)"
    )


def _add_flash(sub):
    parser = sub.add_parser("flash", help="install the runtime if needed and upload a model")
    parser.add_argument("model", help=".mnq file")
    _add_port(parser, several=True)
    parser.add_argument("--name", help="name on the board (default: the file's name)")
    parser.add_argument(
        "--force-runtime", action="store_true", help="reinstall the runtime even if current"
    )
    parser.add_argument(
        "--board", help="board profile: refuse the model before connecting if it cannot fit"
    )
    parser.add_argument(
        "--force", action="store_true", help="flash even if the model cannot fit the heap"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr (errors only)"
    )


def _add_run(sub):
    parser = sub.add_parser("run", help="run the board's model on inputs from a .npy file")
    _add_port(parser)
    parser.add_argument("--input", required=True, help=".npy of int8 codes or float inputs")
    parser.add_argument("--output", help="write outputs to this .npy (default: print them)")
    parser.add_argument("--model", help="model name on the board (default: the only one)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="kernels to run (auto: the fastest the board has, never ulab)",
    )


def _add_info(sub):
    _add_port(sub.add_parser("info", help="board, firmware, memory, runtime and models"))


def _add_ls(sub):
    _add_port(sub.add_parser("ls", help="list the models on a board"))


def _add_rm(sub):
    parser = sub.add_parser("rm", help="remove models from a board")
    parser.add_argument("names", nargs="+", help="model names (see micronn ls)")
    _add_port(parser)


def _add_virtual_board(sub):
    parser = sub.add_parser(
        "virtual-board", help="run the MicroPython VM on a pty as a board; prints the port"
    )
    parser.add_argument(
        "--board", default=DEFAULT_BOARD, help="board profile: heap size (micronn boards)"
    )
    parser.add_argument("--folder", help="the board's files (default: a temporary folder)")
    parser.add_argument("--baud", type=int, help="pace the line like a UART at this baud rate")
    parser.add_argument("--micropython", help="path of the MicroPython unix executable")


def _flash(args):
    progress = FlashProgress(fleet=len(args.port) > 1, quiet=args.quiet)
    try:
        return commands.do_flash(args, progress=progress)
    finally:
        progress.end_line()


def _virtual_board(args):
    def announce(lines):
        for line in lines:
            print(line, flush=True)

    return commands.do_virtual_board(args, announce)


VERBS = {
    "convert": (_add_convert, commands.do_convert),
    "inspect": (_add_inspect, commands.do_inspect),
    "simulate": (_add_simulate, commands.do_simulate),
    "boards": (_add_boards, commands.do_boards),
    "flash": (_add_flash, _flash),
    "run": (_add_run, commands.do_run),
    "info": (_add_info, commands.do_info),
    "ls": (_add_ls, commands.do_ls),
    "rm": (_add_rm, commands.do_rm),
    "virtual-board": (_add_virtual_board, _virtual_board),
    "devs": (_add_devs, commands.do_devs),
    "bench": (_add_bench, commands.do_bench),
    "export-runtime": (_add_export_runtime, commands.do_export_runtime),
    "romfs": (_add_romfs, commands.do_romfs),
    "docs": (_add_docs, commands.do_docs),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="micronn",
        description="Quantized neural networks for MicroPython boards.",
        epilog="micronn docs lists the documentation; micronn VERB --help describes a verb.",
    )
    parser.add_argument("--version", action="version", version=f"micronn {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for add_parser, _ in VERBS.values():
        add_parser(sub)
    return parser


def _print_warnings(verb: str, caught) -> None:
    """micronn's own warnings, one line each; others (numpy's casts) are not for users."""
    for warning in caught:
        if issubclass(warning.category, CalibrationWarning):
            print(f"micronn {verb}: warning: {one_line(warning.message)}", file=sys.stderr)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # exits with EXIT_USAGE on bad usage
    _, run = VERBS[args.verb]
    try:
        commands.default_port(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CalibrationWarning)
            try:
                lines = run(args)
            finally:
                _print_warnings(args.verb, caught)
    except KeyboardInterrupt:  # Ctrl-C; board sessions have ended (micronn.interrupt)
        advice = RESUME_ADVICE if args.verb == "flash" else ""
        print(f"micronn {args.verb}: interrupted{advice}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FileNotFoundError as error:
        print(
            f"micronn {args.verb}: error: {error.filename or error}: file not found",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except (ValueError, OSError, SimulationError, TransportError) as error:
        print(f"micronn {args.verb}: error: {printable(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:  # a bug: one line instead of a traceback (tests see the type)
        print(
            f"micronn {args.verb}: internal error: {type(error).__name__}: {one_line(error)}; "
            "please report it with the file that caused it",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        for line in lines:
            print(line)
    except BrokenPipeError:  # `micronn docs format | head`: the reader has what it wanted
        sys.stdout = None  # nothing more to flush at exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
