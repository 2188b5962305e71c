"""Reading HDF5 (Keras weights) from files that may be damaged, in a child process.

libhdf5 trusts the file: one inserted chunk in a 155 KB legacy .h5 makes it spin forever
reading an attribute, and a damaged dataspace makes h5py allocate gigabytes of fill values; no
Python code can interrupt it. So `isolated` runs the reading in a forked child with a time and
an address-space limit, and the primitives below check what the file declares (dtypes, shapes
against the bytes stored, links to other files) before h5py reads it. Where fork is missing
(Windows) the reading runs in this process, with the checks only.
"""

import contextlib
import io
import math
import multiprocessing
import os
import warnings

import numpy as np

from micronn.arrays import DEFLATE_MAX_RATIO
from micronn.messages import one_line

TIMEOUT_SECONDS = 20.0  # a healthy weights file reads in milliseconds
TIMEOUT_PER_MIB = 1.0
MEMORY_LIMIT = 1 << 30  # what the child may allocate beyond its size at the fork
MEMORY_PER_FILE_BYTE = 4
MAX_NAMES = 100_000  # entries of one weight_names attribute
ADVICE = "re-export the model with model.save('model.keras')"
# what h5py raises for a damaged file: it maps libhdf5's error classes to these (OverflowError:
# its file-object driver asked to read at an offset past any file)
H5_ERRORS = (
    OSError,
    RuntimeError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    OverflowError,
)


class HDF5FileError(ValueError):
    """The HDF5 file cannot be read; the message names it and the fix."""


def h5py_module():
    try:
        import h5py
    except ImportError:
        raise ValueError("reading Keras models needs the h5py package: pip install h5py") from None
    return h5py


@contextlib.contextmanager
def h5_errors(where: str):
    """h5py's exceptions inside the block as one HDF5FileError naming the file."""
    try:
        yield
    except HDF5FileError:
        raise
    except H5_ERRORS as error:
        raise HDF5FileError(
            f"{where}: cannot read as HDF5 ({type(error).__name__}: {one_line(error)}); "
            f"the file is damaged: {ADVICE}"
        ) from None


def open_file(source, where: str):
    """An h5py.File of a path or of bytes (a .keras file's model.weights.h5)."""
    h5py = h5py_module()
    with h5_errors(where):
        handle = source if isinstance(source, (str, os.PathLike)) else io.BytesIO(source)
        return h5py.File(handle, "r")


def file_size(source) -> int:
    return os.path.getsize(source) if isinstance(source, (str, os.PathLike)) else len(source)


def child(group, name: str, where: str, kind: str, optional: bool = False):
    """group[name] when it is an object of `kind` ("group" or "dataset") in this file; None
    for another kind of object when `optional`."""
    h5py = h5py_module()
    with h5_errors(where):
        if name not in group:
            raise HDF5FileError(f"{where}: '{one_line(name)}' is missing; {ADVICE}")
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise HDF5FileError(
                f"{where}: '{one_line(name)}' links to another file; micronn reads one file"
            )
        item = group[name]
    wanted = h5py.Group if kind == "group" else h5py.Dataset
    if not isinstance(item, wanted):
        if optional:
            return None
        raise HDF5FileError(f"{where}: '{one_line(name)}' is not a {kind}; {ADVICE}")
    return item


def names(group, where: str) -> list:
    with h5_errors(where):
        return list(group)


def has_attribute(obj, name: str, where: str) -> bool:
    with h5_errors(where):
        return name in obj.attrs


def attribute(obj, name: str, where: str, size: int):
    """A string or numeric attribute, after checking its declared size."""
    h5py = h5py_module()
    label = f"{where}: attribute '{name}'"
    with h5_errors(where):
        attr = obj.attrs.get_id(name)
        dtype, points = attr.dtype, attr.get_space().get_simple_extent_npoints()
        stored = _attribute_storage(attr)
        text = h5py.check_string_dtype(dtype) is not None
        if not text and dtype.kind not in "biuf":
            raise HDF5FileError(f"{label} holds {dtype} values; {ADVICE}")
        if points > MAX_NAMES or stored > size:
            raise HDF5FileError(f"{label} declares {points} values; the file is damaged: {ADVICE}")
        return obj.attrs[name]


def _attribute_storage(attr) -> int:
    try:
        return attr.get_storage_size()
    except RuntimeError:  # h5py raises for the 0 an empty attribute stores
        return 0


def text_list(value, label: str) -> list:
    """A weight_names-like attribute value as a list of str."""
    values = np.asarray(value)
    if values.size == 0:
        return []
    items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.flat]
    if not all(isinstance(v, str) for v in items):
        raise HDF5FileError(f"{label} must list names (strings); {ADVICE}")
    return items


def array(dataset, where: str, size: int) -> np.ndarray:
    """A numeric dataset's values, refusing one that declares more bytes than it stores."""
    label = f"{where}: dataset '{one_line(dataset.name)}'"
    with h5_errors(where):
        dtype, shape = dataset.dtype, dataset.shape
        if dtype.kind not in "biuf" or shape is None:
            raise HDF5FileError(f"{label} holds {dtype} values; Keras weights are numbers")
        if dataset.external or dataset.is_virtual:
            raise HDF5FileError(f"{label} keeps its data in another file; {ADVICE}")
        needed = math.prod(shape) * dtype.itemsize
        stored = dataset.id.get_storage_size()
        ratio = DEFLATE_MAX_RATIO if dataset._filters else 1
        if stored > size or needed > ratio * stored:
            raise HDF5FileError(
                f"{label} declares {needed} bytes of shape {shape} but the file stores "
                f"{stored}; the file is damaged: {ADVICE}"
            )
        return np.asarray(dataset[()])


# ------------------------------------------------------------------ the child process


def _run_child(connection, function, args, memory: int) -> None:
    import resource  # POSIX only, as fork is

    try:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if memory and (hard == resource.RLIM_INFINITY or memory < hard):
            resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
        try:
            outcome = ("ok", function(*args))
        except BaseException as error:  # handed to the parent, which raises it
            outcome = ("error", error)
        try:
            connection.send(outcome)
        except Exception as error:  # an exception that does not pickle
            connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        os._exit(0)  # no flushing of streams another thread of the parent may have held


def _address_space() -> int:
    """This process's virtual size (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def isolated(function, args: tuple, where: str, size: int):
    """function(*args) in a forked child, killed after its time limit; its exceptions are
    raised here. Without fork, it runs in this process; without /proc, with no memory limit."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return function(*args)
    h5py_module()  # imported once here, not in every child
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    current = _address_space()
    memory = current + MEMORY_LIMIT + MEMORY_PER_FILE_BYTE * size if current else 0
    process = context.Process(target=_run_child, args=(sender, function, args, memory))
    with warnings.catch_warnings():
        # Python 3.12+ warns that a fork of a threaded process may deadlock; the child touches
        # no lock another thread could hold (it ends with os._exit, without flushing)
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        process.start()
    sender.close()
    timeout = TIMEOUT_SECONDS + TIMEOUT_PER_MIB * size / (1 << 20)
    try:
        if not receiver.poll(timeout):
            raise HDF5FileError(
                f"{where}: the HDF5 library did not finish reading it in {timeout:.0f} s (a "
                f"damaged file makes it loop); {ADVICE}"
            )
        try:
            status, value = receiver.recv()
        except (EOFError, OSError):
            process.join()
            raise HDF5FileError(
                f"{where}: the HDF5 library crashed reading it (exit status "
                f"{process.exitcode}); the file is damaged: {ADVICE}"
            ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if status == "error":
        if isinstance(value, MemoryError):
            raise HDF5FileError(
                f"{where}: reading it needs more memory than its size can explain; the file is "
                f"damaged: {ADVICE}"
            )
        raise value
    return value
