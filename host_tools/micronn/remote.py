"""Operations on a connected board besides flashing: run a model, describe the board, list
and remove models. Inputs and outputs travel as framed binary, never as printed text.

Each takes `stop`, a threading.Event: once set, the session ends at the next frame boundary
and Interrupted is raised (see interrupt.py)."""

from dataclasses import dataclass, replace

import numpy as np

from micronn.flash import MODEL_SUFFIX, MODELS_DIR, board_model_path
from micronn.inputs import input_codes
from micronn.model import TensorSpec
from micronn.runtime import ENOENT, ROM_STAMP_PATH, decode_mpy, installed_stamp
from micronn.session import BoardInfo, ModelInfo
from micronn.transport import NOT_OUR_AGENT, BoardError, ProtocolError
from micronn.transport_serial import DEFAULT_BAUD, SerialTransport


@dataclass(frozen=True)
class RunResult:
    outputs: np.ndarray  # int8 codes, [rows, *output_shape] (or output_shape for one sample)
    model: ModelInfo
    board_path: str


@dataclass(frozen=True)
class BoardReport:
    info: BoardInfo
    models: list  # session.Entry for each .mnq in models/, then in the ROMFS image's models/
    rom_runtime: str = ""  # the stamp of the runtime in the board's ROMFS image, if any

    @property
    def mpy_text(self) -> str:
        target = decode_mpy(self.info.mpy)
        if target is None:
            return "unknown"
        return f"v{target.version}.{target.sub_version} {target.arch or 'bytecode only'}"


def _open(port, baudrate, open_transport, stop):
    transport = (open_transport or SerialTransport)(port, baudrate=baudrate)
    transport.stop = stop
    return transport


ROM_MODELS_DIR = "/rom/models"  # the models of a ROMFS image (micronn romfs), read-only


def _listed(session, folder: str) -> list:
    try:
        entries = session.listdir(folder)
    except BoardError as error:
        if error.errno == ENOENT:
            return []
        raise
    return [e for e in entries if not e.is_dir and e.name.endswith(MODEL_SUFFIX)]


def _models(session) -> list:
    """The models in models/, then those of the board's ROMFS image (in_rom)."""
    rom = [replace(e, in_rom=True) for e in _listed(session, ROM_MODELS_DIR)]
    return _listed(session, MODELS_DIR) + rom


def _path(entry) -> str:
    return f"{ROM_MODELS_DIR if entry.in_rom else MODELS_DIR}/{entry.name}"


def _only_model(session) -> str:
    """The path of the one model on the board (ValueError if there are none or several)."""
    models = _models(session)
    if len(models) == 1:
        return _path(models[0])
    if not models:
        raise ValueError("no model on the board; flash one with `micronn flash MODEL.mnq`")
    names = ", ".join(e.name + (" (ROMFS)" if e.in_rom else "") for e in models)
    raise ValueError(f"several models on the board ({names}); choose with --model")


def _named_model(session, name: str) -> str:
    """models/NAME.mnq, or the ROMFS image's NAME.mnq when only the image has it."""
    path = board_model_path(name)
    wanted = path.rsplit("/", 1)[1]
    places = {e.in_rom for e in _models(session) if e.name == wanted}
    return f"{ROM_MODELS_DIR}/{wanted}" if places == {True} else path


def _input_rows(model: ModelInfo, x) -> tuple:
    """int8 rows [n, input_size] and whether x was one sample: the rules of simulate."""
    spec = TensorSpec(tuple(model.input_shape), float(model.input_scale), model.input_zero_point)
    return input_codes([spec], x)


def run(
    port, x, *, model=None, backend="auto", baudrate=DEFAULT_BAUD, open_transport=None, stop=None
):
    """Run the board's model on x (int8 codes or floats); outputs as simulate() gives them."""
    with _open(port, baudrate, open_transport, stop) as transport:
        if model is not None:
            board_model_path(model)  # a bad name fails here, before any session
        with transport.session() as session:
            path = _only_model(session) if model is None else _named_model(session, model)
        with transport.session(model=(path, backend)) as session:
            info = session.load(path, backend)
            rows, single = _input_rows(info, x)
            in_size, out_size = rows.shape[1], int(np.prod(info.output_shape))
            frame = session.hello.frame_size
            if out_size > frame:
                raise ValueError(
                    f"one output row ({out_size} B) exceeds the board's frame of {frame} B"
                )
            outputs = bytearray()
            if in_size > frame:  # each row in parts, into the model's input, then run
                for row in rows:
                    session.stage_input(row.tobytes())
                    outputs += _checked(session.predict(b""), 1, out_size)
            per_frame = min(frame // in_size, frame // out_size)
            for start in range(0, len(rows) if per_frame else 0, max(per_frame, 1)):
                batch = rows[start : start + per_frame]
                outputs += _checked(session.predict(batch.tobytes()), len(batch), out_size)
    result = np.frombuffer(bytes(outputs), dtype=np.int8).reshape((-1, *info.output_shape))
    return RunResult(result[0].copy() if single else result.copy(), info, path)


def _checked(reply, rows: int, out_size: int):
    if len(reply) != rows * out_size:
        raise ProtocolError(
            f"the board returned {len(reply)} output bytes for {rows} rows of {out_size}: "
            f"{NOT_OUR_AGENT}"
        )
    return reply


def describe(port, *, baudrate=DEFAULT_BAUD, open_transport=None, stop=None) -> BoardReport:
    with _open(port, baudrate, open_transport, stop) as transport:
        with transport.session() as session:
            rom = installed_stamp(session, ROM_STAMP_PATH)
            return BoardReport(session.info(), _models(session), rom)


def list_models(port, *, baudrate=DEFAULT_BAUD, open_transport=None, stop=None) -> list:
    with _open(port, baudrate, open_transport, stop) as transport:
        with transport.session() as session:
            return _models(session)


def remove_model(port, name, *, baudrate=DEFAULT_BAUD, open_transport=None, stop=None) -> str:
    path = board_model_path(name)
    with _open(port, baudrate, open_transport, stop) as transport:
        with transport.session() as session:
            if _named_model(session, name).startswith(ROM_MODELS_DIR):
                raise ValueError(
                    f"{name} is in the board's ROMFS image, which is read-only; deploy an image "
                    "without it (micronn romfs, mpremote romfs deploy)"
                )
            session.remove(path)
    return path
