"""Flash a model to one board or a fleet: runtime first (if needed), then the model.

A link failure (noise, stalls, a damaged agent) ends the session and starts a new one, which
resumes the upload from what the board verified; after SESSION_ATTEMPTS the error is raised.
A port that goes away (unplug, reset) is not retried: run the command again to resume.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from micronn import container
from micronn.runtime import RuntimeStatus, ensure_runtime
from micronn.transport import LinkError, TransportError
from micronn.transport_serial import DEFAULT_BAUD, SerialTransport

MODELS_DIR = "models"
MODEL_SUFFIX = ".mnq"
SESSION_ATTEMPTS = 3


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
    """models/NAME.mnq for a model name or file name; ValueError for anything else."""
    base = Path(name).name
    if not base.endswith(MODEL_SUFFIX):
        base += MODEL_SUFFIX
    if base in (MODEL_SUFFIX, "..") or "/" in base or "\0" in base:
        raise ValueError(f"bad model name {name!r}; use letters, digits, '-', '_' and '.'")
    return f"{MODELS_DIR}/{base}"


def read_model(path) -> bytes:
    data = Path(path).read_bytes()
    container.read(data, name=str(path))  # refuse anything that is not a valid .mnq file
    return data


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
) -> FlashReport:
    """Install the runtime if needed and upload the model to models/NAME.mnq on `port`.

    progress(label, done, total) is called as bytes are confirmed by the board. check(session),
    if given, runs first in each session and raises (ValueError) to refuse the board, e.g.
    fit.py's heap check, before anything is written to it.
    """
    data = read_model(model_path)
    board_path = board_model_path(name or Path(model_path).name)
    started = time.monotonic()
    with open_transport(port, baudrate=baudrate) as transport:
        retries = 0
        error = None
        for attempt in range(1, SESSION_ATTEMPTS + 1):
            try:
                with transport.session() as session:
                    try:
                        if check is not None:
                            check(session)
                        runtime = ensure_runtime(session, progress, force_runtime)
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


def flash_fleet(ports, model_path, *, progress=None, workers=None, **options) -> list:
    """Flash every port in parallel; one FleetResult per port, in the order given."""
    read_model(model_path)  # a bad file fails once, before any board is touched

    def one(port):
        reporter = progress and (lambda label, d, t: progress(port, label, d, t))
        try:
            return FleetResult(port, flash(port, model_path, progress=reporter, **options))
        except (TransportError, OSError, ValueError) as error:
            return FleetResult(port, error=str(error))

    with ThreadPoolExecutor(max_workers=workers or len(ports)) as pool:
        return list(pool.map(one, ports))
