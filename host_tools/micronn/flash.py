"""Flash a model to one board or a fleet: runtime first (if needed), then the model.

A link failure (noise, stalls, a damaged agent) ends the session and starts a new one, which
resumes the upload from what the board verified; after SESSION_ATTEMPTS the error is raised.
A port that goes away (unplug, reset) is not retried: run the command again to resume.
Ctrl-C stops every board between two frames (interrupt.py); the next flash resumes.
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path

from micronn import container
from micronn.interrupt import run_interruptibly
from micronn.runtime import RuntimeStatus, ensure_runtime
from micronn.transport import LinkError, TransportError
from micronn.transport_serial import DEFAULT_BAUD, SerialTransport

MODELS_DIR = "models"
MODEL_SUFFIX = ".mnq"
SESSION_ATTEMPTS = 3
MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
MODEL_NAME_RULE = (
    "a model's name on the board is letters, digits, '-', '_' and '.' (not first), with or "
    "without .mnq, and no folder (the board keeps models in models/)"
)
# Files micronn convert reads, by their first bytes or their suffix: flash takes only .mnq.
TRAINED_MAGIC = ((4, b"TFL3", ".tflite"), (0, b"\x89HDF\r\n\x1a\n", ".h5"))
TRAINED_SUFFIXES = (".tflite", ".onnx", ".keras", ".h5", ".hdf5", ".npz")
ZIP_MAGIC = b"PK\x03\x04"  # .keras and .npz are zip archives
NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class FlashReport:
    port: str
    board_path: str
    size: int
    seconds: float
    bytes_written: int  # every byte the host wrote to the port, retries included
    runtime: RuntimeStatus
    resumed_from: int
    retries: int  # frames sent again
    sessions: int  # agent sessions used (1 unless the link failed)


def board_model_path(name: str) -> str:
    """models/NAME.mnq for NAME or NAME.mnq; ValueError for any name it would have to change."""
    base = name[: -len(MODEL_SUFFIX)] if name.endswith(MODEL_SUFFIX) else name
    if not MODEL_NAME.fullmatch(base):
        raise ValueError(f"cannot use {name!r} as a model name: {MODEL_NAME_RULE}")
    return f"{MODELS_DIR}/{base}{MODEL_SUFFIX}"


def _trained_model_kind(data: bytes, path: Path) -> str:
    """'.tflite', '.onnx', ... when `data` is a file for micronn convert, else ''."""
    for offset, magic, kind in TRAINED_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind
    suffix = path.suffix.lower()
    if suffix in TRAINED_SUFFIXES:
        return suffix
    if data.startswith(ZIP_MAGIC):
        return ".keras or .npz"
    return ""


def read_model(path) -> bytes:
    """The bytes of a valid .mnq file (ValueError for anything else, with what to do)."""
    path = Path(path)
    data = path.read_bytes()
    try:
        container.read(data, name=str(path))
    except container.ContainerError:
        kind = _trained_model_kind(data, path)
        if kind:
            raise ValueError(
                f"{path}: this is a {kind} file; convert it first: micronn convert {path} "
                f"-o {path.with_suffix(MODEL_SUFFIX)}"
            ) from None
        if data.startswith(NPY_MAGIC):
            raise ValueError(
                f"{path}: this is a .npy array, not a model; give it to `micronn run --input`"
            ) from None
        raise
    return data


def default_model_path(model_path) -> str:
    """models/NAME.mnq from the model file's name, or ValueError saying to choose --name."""
    name = Path(model_path).name
    try:
        return board_model_path(name)
    except ValueError:
        raise ValueError(
            f"the file name {name!r} cannot be a model's name on the board; choose one with "
            f"--name ({MODEL_NAME_RULE})"
        ) from None


def flash(
    port: str,
    model_path,
    *,
    name=None,
    baudrate=DEFAULT_BAUD,
    progress=None,
    open_transport=SerialTransport,
    force_runtime=False,
    check=None,
    stop=None,
    expect=None,
) -> FlashReport:
    """Install the runtime if needed and upload the model to models/NAME.mnq on `port`.

    progress(label, done, total) is called as bytes are confirmed by the board. check(session),
    if given, runs first in each session and raises (ValueError) to refuse the board, e.g.
    fit.py's heap check, before anything is written to it. Once the threading.Event `stop`
    is set, the session ends at the next frame boundary and Interrupted is raised.
    expect({path: bytes}), if given, is told every file the flash will upload as soon as it is
    known (the model at once, the runtime's files once it is found stale), for one overall
    progress bar; it may be told a file again (a session that is started again).
    """
    data = read_model(model_path)
    board_path = default_model_path(model_path) if name is None else board_model_path(name)
    if expect:
        expect({board_path: len(data)})
    started = time.monotonic()
    with open_transport(port, baudrate=baudrate) as transport:
        transport.stop = stop
        retries = 0
        error = None
        for attempt in range(1, SESSION_ATTEMPTS + 1):
            try:
                with transport.session() as session:
                    try:
                        if check is not None:
                            check(session)
                        runtime = ensure_runtime(session, progress, force_runtime, expect)
                        session.mkdir(MODELS_DIR)
                        result = session.upload(
                            board_path,
                            data,
                            progress and (lambda d, t: progress(board_path, d, t)),
                        )
                    finally:
                        retries += session.retries
                return FlashReport(
                    port=port,
                    board_path=board_path,
                    size=len(data),
                    seconds=time.monotonic() - started,
                    bytes_written=transport.bytes_written,
                    runtime=runtime,
                    resumed_from=result.resumed_from,
                    retries=retries,
                    sessions=attempt,
                )
            except LinkError as failure:
                error = failure
        raise error


@dataclass(frozen=True)
class FleetResult:
    port: str
    report: FlashReport = None
    error: str = ""


def flash_fleet(ports, model_path, *, progress=None, **options) -> list:
    """Flash every port in parallel; one FleetResult per port, in the order given.

    Ctrl-C (KeyboardInterrupt in the calling thread) stops every board at once and is raised
    again once their sessions have ended (interrupt.run_interruptibly).
    """
    read_model(model_path)  # a bad file fails once, before any board is touched
    if options.get("name") is None:
        default_model_path(model_path)
    else:
        board_model_path(options["name"])

    def one(port, stop):
        reporter = progress and (lambda label, d, t: progress(port, label, d, t))
        expect = getattr(progress, "expect", None)
        told = expect and (lambda files: expect(port, files))
        try:
            report = flash(port, model_path, progress=reporter, stop=stop, expect=told, **options)
            return FleetResult(port, report)
        except (TransportError, OSError, ValueError) as error:
            return FleetResult(port, error=str(error))

    return run_interruptibly([lambda stop, port=port: one(port, stop) for port in ports])
