"""Reading .npy and .npz files that may be damaged or hostile, with bounded memory.

numpy.load allocates whatever an .npy header declares before it reads a byte of data: a 200-byte
file can ask for 16 GiB. Here the header's shape and dtype are checked against the bytes the file
(or the zip member) holds first, and a zip member may not claim to expand more than deflate can
expand anything. Every problem is a one-line ValueError that says how to fix the file.
"""

import contextlib
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from micronn.messages import one_line

NUMBERS = "biuf"  # bool, int, uint, float: what micronn computes with
TEXT = "US"
DEFLATE_MAX_RATIO = 1032  # deflate never expands data more than this (zlib's tech notes)
ZIP_SLACK = 4096  # bytes a member may hold beyond the ratio (headers of tiny members)
SAVE_ADVICE = "save it again with numpy.save"
SAVEZ_ADVICE = "save it again with numpy.savez"
# what numpy and zipfile raise on a damaged header or stream (tokenize: numpy's Python 2 header
# filter; struct: a short length field)
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    SyntaxError,
    EOFError,
    OverflowError,
    RecursionError,
    struct.error,
    tokenize.TokenError,
)
ZIP_ERRORS = (
    *_PARSE_ERRORS,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,  # an unknown compression method
    RuntimeError,  # an encrypted member
    OSError,
)


class ArrayFileError(ValueError):
    """An .npy or .npz file that cannot be read (the message names the file and the fix)."""


@contextlib.contextmanager
def _python2_headers_quietly():
    """numpy reads an .npy header written by Python 2 (or damaged to look like one) with a
    UserWarning to save the file again; the file is read all the same, and the CLI prints
    nothing but its one line."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Reading `.npy` or `.npz` file required", UserWarning)
        yield


def _kinds(text: bool) -> str:
    return NUMBERS + TEXT if text else NUMBERS


def _read_header(fp, where: str, advice: str, text: bool):
    """(shape, fortran_order, dtype, data bytes) of the .npy header at fp's position."""
    try:
        with _python2_headers_quietly():
            version = npy_format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"format version {version} is unknown")
    except _PARSE_ERRORS as error:
        raise ArrayFileError(
            f"{where}: not a valid .npy array ({one_line(error)}); {advice}"
        ) from None
    if any(d < 0 for d in shape):
        raise ArrayFileError(f"{where}: its header declares the shape {shape}; {advice}")
    if dtype.hasobject or dtype.kind not in _kinds(text) or dtype.itemsize == 0:
        wanted = "numbers or text" if text else "numbers (bool, int or float)"
        raise ArrayFileError(f"{where}: holds {dtype} values; micronn reads {wanted}")
    return shape, fortran, dtype, math.prod(shape) * dtype.itemsize


def _short(where, shape, dtype, needed, present, advice) -> ArrayFileError:
    return ArrayFileError(
        f"{where}: its header declares {dtype} values of shape {tuple(shape)} ({needed} bytes) "
        f"but only {present} bytes follow it (a truncated or damaged file); {advice}"
    )


def load_npy(path, text: bool = False) -> np.ndarray:
    """The array of an .npy file; numbers only unless `text`. OSError if it cannot be opened."""
    where = str(path)
    with open(path, "rb") as fp:
        size = os.fstat(fp.fileno()).st_size
        if fp.read(4) == b"PK\x03\x04":
            raise ArrayFileError(f"{where}: is an .npz archive; give one array as an .npy file")
        fp.seek(0)
        shape, _, dtype, needed = _read_header(fp, where, SAVE_ADVICE, text)
        present = size - fp.tell()
        if needed > present:
            raise _short(where, shape, dtype, needed, present, SAVE_ADVICE)
        fp.seek(0)
        try:
            with _python2_headers_quietly():
                return npy_format.read_array(fp, allow_pickle=False)
        except _PARSE_ERRORS as error:
            raise ArrayFileError(
                f"{where}: cannot read its data ({one_line(error)}); {SAVE_ADVICE}"
            ) from None


def _check_members(infos, archive_size: int, where: str) -> None:
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise ArrayFileError(f"{where}: holds two members of one name; {SAVEZ_ADVICE}")
    for info in infos:
        member = f"{where}: member '{one_line(info.filename)}'"
        if not info.filename.endswith(".npy"):
            raise ArrayFileError(f"{member} is not an .npy array; {SAVEZ_ADVICE}")
        if info.flag_bits & 0x1:
            raise ArrayFileError(f"{member} is encrypted; {SAVEZ_ADVICE}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArrayFileError(
                f"{member} is compressed with method {info.compress_type}; micronn reads "
                "archives of numpy.savez and numpy.savez_compressed"
            )
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
        if info.file_size > ratio * info.compress_size + ZIP_SLACK:
            raise ArrayFileError(
                f"{member} claims {info.file_size} bytes from {info.compress_size} compressed "
                f"ones, more than its compression can give (a damaged archive); {SAVEZ_ADVICE}"
            )
    if sum(info.compress_size for info in infos) > archive_size:
        raise ArrayFileError(
            f"{where}: its members claim more bytes than the archive holds (a damaged "
            f"archive); {SAVEZ_ADVICE}"
        )


def member_bytes(archive, name: str, where: str, advice: str) -> bytes:
    """The bytes of one member of an open zip archive, refusing one that claims to expand
    more than its compression can (a zip bomb or a damaged directory)."""
    try:
        info = archive.getinfo(name)
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
        if info.file_size > ratio * info.compress_size + ZIP_SLACK:
            raise ArrayFileError(
                f"{where}: member '{one_line(name)}' claims {info.file_size} bytes from "
                f"{info.compress_size} compressed ones (a damaged archive); {advice}"
            )
        return archive.read(info)
    except ArrayFileError:
        raise
    except ZIP_ERRORS as error:
        raise ArrayFileError(
            f"{where}: cannot read its member '{one_line(name)}' ({one_line(error)}); {advice}"
        ) from None


def _read_member(archive, info, where: str, text: bool) -> np.ndarray:
    with archive.open(info) as fp:
        shape, _, dtype, needed = _read_header(fp, where, SAVEZ_ADVICE, text)
        present = info.file_size - fp.tell()
        if needed > present:
            raise _short(where, shape, dtype, needed, present, SAVEZ_ADVICE)
    with archive.open(info) as fp, _python2_headers_quietly():
        return npy_format.read_array(fp, allow_pickle=False)


def load_npz(path, text: bool = False) -> dict:
    """{name: array} of an .npz archive (names without '.npy'), every member read and
    checked; numbers only unless `text`. OSError if it cannot be opened."""
    where = str(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        try:
            with zipfile.ZipFile(raw) as archive:
                infos = archive.infolist()
                _check_members(infos, size, where)
                arrays = {}
                for info in infos:
                    member = f"{where}: member '{one_line(info.filename)}'"
                    arrays[info.filename[: -len(".npy")]] = _read_member(
                        archive, info, member, text
                    )
                return arrays
        except ArrayFileError:
            raise
        except ZIP_ERRORS as error:
            raise ArrayFileError(
                f"{where}: not a valid .npz archive ({one_line(error)}); {SAVEZ_ADVICE}"
            ) from None
