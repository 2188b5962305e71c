"""The C kernels of ulab_ext/kernels/ built as a host shared library and called through ctypes.

`build()` compiles them with gcc into a folder the caller owns (a test's tmp dir, never the
repo). `CKernels.run(layer, inputs)` feeds a host micronn.model.Layer exactly as the container
stores it: int32 params in container order, weights packed to the layer's weight bits.
"""

import ctypes
import subprocess
from pathlib import Path

import numpy as np

from micronn.model import OPS
from micronn.packing import pack

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "ulab_ext" / "kernels"
SOURCES = sorted(KERNELS.glob("*.c"))
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
STATUS_OK = 0
WHOLE_TENSOR = ctypes.c_size_t(-1).value


class KernelError(RuntimeError):
    def __init__(self, status: int, text: str):
        super().__init__(f"status {status}: {text}")
        self.status = status


class Filter(ctypes.Structure):
    _fields_ = [
        ("weights", ctypes.c_void_p),
        ("weights_bytes", ctypes.c_size_t),
        ("weights_first", ctypes.c_size_t),
        ("weight_bits", ctypes.c_int32),
        ("bias", ctypes.c_void_p),
        ("bias_count", ctypes.c_size_t),
        ("multiplier", ctypes.c_void_p),
        ("multiplier_count", ctypes.c_size_t),
        ("shift", ctypes.c_void_p),
        ("shift_count", ctypes.c_size_t),
    ]


def build(folder: Path, sanitize: bool = True, compiler: str = "gcc") -> Path:
    """Compile the kernels into folder/libmicronn_kernels.so and return its path."""
    library = Path(folder) / "libmicronn_kernels.so"
    flags = [*WARNINGS, "-O1", "-g", "-fPIC", "-shared"]
    if sanitize:
        flags += [*SANITIZERS, "-fno-omit-frame-pointer"]
    command = [compiler, *flags, "-o", str(library), *map(str, SOURCES)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return library


FUZZER = Path(__file__).parent / "c_fuzz" / "kernel_fuzz.c"


def build_fuzzer(folder: Path, kernels: Path = KERNELS) -> Path:
    """Compile tests/c_fuzz/kernel_fuzz.c with the kernels of `kernels` under ASan and UBSan
    (every report fatal) into folder/kernel_fuzz; returns its path."""
    program = Path(folder) / "kernel_fuzz"
    flags = [*WARNINGS, "-O1", "-g", *SANITIZERS, "-fno-omit-frame-pointer", "-I", str(kernels)]
    sources = [FUZZER, *sorted(Path(kernels).glob("*.c"))]
    command = ["gcc", *flags, "-o", str(program), *map(str, sources)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return program


def sanitizer_preload(compiler: str = "gcc") -> str:
    """LD_PRELOAD value that lets a non-ASan python load the sanitized library."""
    names = ("libasan.so", "libubsan.so")
    paths = [
        subprocess.run(
            [compiler, f"-print-file-name={name}"], check=True, capture_output=True, text=True
        ).stdout.strip()
        for name in names
    ]
    return ":".join(paths)


def params_of(layer) -> np.ndarray:
    return np.array([layer.params[name] for name in OPS[layer.op].params], np.int32)


def packed_weights(layer) -> np.ndarray:
    """The weights tensor as stored: int8 bytes, or int4 / int2 packed low bits first."""
    flat = np.asarray(layer.weights, np.int8).reshape(-1)
    if layer.weight_bits == 8:
        return flat.view(np.uint8).copy()
    return np.frombuffer(pack(flat, layer.weight_bits), np.uint8).copy()


# operators whose kernel takes (params, x, out): the pools, then the later ones
WINDOW_OPS = (
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "MEAN",
    "RESIZE_NEAREST_NEIGHBOR",
    "RESIZE_BILINEAR",
    "REDUCE_MAX",
    "MEAN_AXES",
    "SUM",
)


def _ptr(array) -> int:
    return array.ctypes.data if array.size else 0


MOVERS = ("PAD", "TRANSPOSE", "STRIDED_SLICE")  # one-input data movers: (params, x, out)
BINARY_OPS = ("ADD", "MUL", "SUB", "ADD_BROADCAST", "MAXIMUM", "MINIMUM", "PRELU")


class CKernels:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.mnk_status_text.restype = ctypes.c_char_p
        self.lib.mnk_requantize.restype = ctypes.c_int32
        self.lib.mnk_requantize.argtypes = [ctypes.c_int32] * 3
        ptr, size, i32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32
        filter_args = [ptr, size, ctypes.POINTER(Filter), ptr, size, ptr, size, i32, i32]
        signatures = {
            "mnk_fully_connected": filter_args,
            "mnk_conv_2d": filter_args,
            "mnk_depthwise_conv_2d": filter_args,
            "mnk_max_pool_2d": [ptr, size, ptr, size, ptr, size],
            "mnk_average_pool_2d": [ptr, size, ptr, size, ptr, size],
            "mnk_mean": [ptr, size, ptr, size, ptr, size],
            "mnk_add": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_mul": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_sub": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_add_broadcast": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_maximum": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_minimum": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_prelu": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_lookup": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_softmax": [ptr, size, ptr, size, ptr, size, ptr, size],
            **{f"mnk_{op.lower()}": [ptr, size, ptr, size, ptr, size] for op in WINDOW_OPS[3:]},
            "mnk_concatenation": [ptr, size, ptr, size, ptr, size, ptr, size],
            "mnk_pad": [ptr, size, ptr, size, ptr, size],
            "mnk_transpose": [ptr, size, ptr, size, ptr, size],
            "mnk_strided_slice": [ptr, size, ptr, size, ptr, size],
            "mnk_log_softmax": [ptr, size, ptr, size, ptr, size, ptr, size],
        }
        for name, argtypes in signatures.items():
            function = getattr(self.lib, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_int

    def status_text(self, status: int) -> str:
        return self.lib.mnk_status_text(status).decode()

    def _check(self, status: int):
        if status != STATUS_OK:
            raise KernelError(status, self.status_text(status))

    def filter_of(self, layer, weights=None, first=0, keep=()):
        """A Filter over the layer's tensors; `keep` holds the arrays alive for the call."""
        weights = packed_weights(layer) if weights is None else weights
        bias = np.ascontiguousarray(layer.bias, np.int32)
        multiplier = np.ascontiguousarray(layer.multiplier, np.int32).reshape(-1)
        shift = np.ascontiguousarray(layer.shift, np.int32).reshape(-1)
        keep.extend([weights, bias, multiplier, shift])
        return Filter(
            _ptr(weights),
            weights.size,
            first,
            layer.weight_bits,
            _ptr(bias),
            bias.size,
            _ptr(multiplier),
            multiplier.size,
            _ptr(shift),
            shift.size,
        )

    def run(self, layer, inputs, out_size, chunks=None) -> np.ndarray:
        """Run one sample: inputs are flat int8 arrays; returns the flat int8 output.

        chunks: for FULLY_CONNECTED / convolutions, a list of channel boundaries; each chunk
        gets only its own slice of the packed weights (as a streamed chunk would arrive).
        """
        params = params_of(layer)
        out = np.zeros(out_size, np.int8)
        x = [np.ascontiguousarray(a, np.int8).reshape(-1) for a in inputs]
        op = layer.op
        if op in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"):
            self._run_filter(layer, params, x[0], out, chunks)
        elif op in WINDOW_OPS:
            function = getattr(self.lib, f"mnk_{op.lower()}")
            self._check(function(_p(params), params.size, _p(x[0]), x[0].size, _p(out), out.size))
        elif op in MOVERS:
            function = getattr(self.lib, f"mnk_{op.lower()}")
            self._check(function(_p(params), params.size, _p(x[0]), x[0].size, _p(out), out.size))
        elif op in BINARY_OPS or op == "CONCATENATION":
            a, b = x
            status = getattr(self.lib, f"mnk_{op.lower()}")(
                _p(params), params.size, _p(a), a.size, _p(b), b.size, _p(out), out.size
            )
            self._check(status)
        elif op in ("LOGISTIC", "TANH", "LOOKUP"):
            params = params[:1]  # as kernels_c passes them (LOOKUP: size only)
            table = np.ascontiguousarray(layer.table, np.int8)
            status = self.lib.mnk_lookup(
                _p(params), params.size, _p(table), table.size, _p(x[0]), x[0].size, _p(out),
                out.size,
            )  # fmt: skip
            self._check(status)
        elif op in ("SOFTMAX", "LOG_SOFTMAX"):
            table = np.ascontiguousarray(layer.exp, np.int32)
            function = self.lib.mnk_softmax if op == "SOFTMAX" else self.lib.mnk_log_softmax
            status = function(
                _p(params), params.size, _p(table), table.size, _p(x[0]), x[0].size, _p(out),
                out.size,
            )  # fmt: skip
            self._check(status)
        else:
            raise ValueError(f"no C kernel for {op}")
        return out

    def _run_filter(self, layer, params, x, out, chunks):
        function = {
            "FULLY_CONNECTED": self.lib.mnk_fully_connected,
            "CONV_2D": self.lib.mnk_conv_2d,
            "DEPTHWISE_CONV_2D": self.lib.mnk_depthwise_conv_2d,
        }[layer.op]
        channels = int(np.asarray(layer.bias).size)
        bounds = [0, channels] if chunks is None else chunks
        weights = packed_weights(layer)
        for begin, end in zip(bounds, bounds[1:], strict=False):
            if chunks is None:  # the whole tensor: the kernel finds channel 0 itself
                chunk, first = weights, WHOLE_TENSOR
            else:
                chunk, first = weight_chunk(layer, weights, begin, end)
            keep = []
            filt = self.filter_of(layer, chunk, first, keep)
            status = function(
                _p(params), params.size, ctypes.byref(filt), _p(x), x.size, _p(out), out.size,
                begin, end,
            )  # fmt: skip
            self._check(status)


def _p(array) -> ctypes.c_void_p:
    return ctypes.c_void_p(_ptr(array))


def weight_chunk(layer, packed: np.ndarray, begin: int, end: int):
    """The whole bytes that hold channels [begin, end)'s weights, and the element index of the
    chunk's first weight inside them: what a reader streaming weights would hand the kernel."""
    per_byte = 8 // layer.weight_bits
    p = layer.params
    if layer.op == "DEPTHWISE_CONV_2D":
        out_c = p["out_channels"]
        taps = p["kernel_height"] * p["kernel_width"]
        start, stop = begin, (taps - 1) * out_c + end
    else:
        per_channel = int(np.asarray(layer.weights).size) // int(np.asarray(layer.bias).size)
        start, stop = begin * per_channel, end * per_channel
    if stop <= start:
        return packed[:0].copy(), 0
    first_byte, last_byte = start // per_byte, (stop - 1) // per_byte
    return packed[first_byte : last_byte + 1].copy(), start - first_byte * per_byte
