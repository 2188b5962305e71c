"""Seed files of every input format, and a loop that feeds their mutants to the library.

A case passes when the entry point returns, or raises ValueError (or a subclass) or OSError
with a one-line message. Anything else (another exception type, an empty or multi-line
message, an allocation past the memory limit) is a failure; its file is saved for
reproduction. tests/test_fuzz_files.py runs it; tools can too (python tests/file_fuzz.py).
"""

import io
import json
import random
import resource
import sys
import time
import traceback
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from file_mutations import mutate

from micronn.calibration import CalibrationWarning

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).parent / "data"
FAILURES = ROOT / "build" / "fuzz-failures"
# the tflite seeds: small models covering every importer family, and real models
TFLITE_SEEDS = (
    "tflite/add_residual_conv.tflite",
    "tflite/avgpool_3x3_s2_same.tflite",
    "tflite/conv1d_s1_causal_none_d1.tflite",
    "tflite/conv_s2_same_relu6_d1_7x7.tflite",
    "tflite/dw_m2_s1_same_none.tflite",
    "tflite/fc_per_channel_relu.tflite",
    "tflite/gap2d_keepdims.tflite",
    "tflite/maxpool_2x2_s2_valid.tflite",
    "tflite/reshape_dense.tflite",
    "tflite/softmax_only.tflite",
    "tflite/float_io_conv_softmax.tflite",
    "tflite/sensor_conv1d_tanh_gap_sigmoid.tflite",
    "zoo/arduino__model.tflite",
    "zoo/tflm__examples__hello_world__models__hello_world_float.tflite",
    "zoo/tflm__examples__memory_footprint__models__simple_add_model.tflite",
)
# an allocation past this (address space above the harness's own) is a failure
MEMORY_HEADROOM = 1 << 30
CALIBRATION_SAMPLES = 4
# a mutant that sends libhdf5 into a loop costs this much; the library's own limit is longer
HDF5_TIMEOUT = 3.0


@dataclass
class Seed:
    name: str
    suffix: str
    data: bytes
    calibration: np.ndarray | None = None  # float inputs for a float model


@dataclass
class Report:
    suffix: str
    cases: int = 0
    accepted: int = 0  # the mutant still converted (or read)
    refused: int = 0  # ValueError / OSError, one line
    failures: list = field(default_factory=list)  # (file, problem)
    seconds: float = 0.0
    slowest: float = 0.0


# ------------------------------------------------------------------ seeds


def _calibration(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (CALIBRATION_SAMPLES, *shape)).astype(np.float32)


def _tflite_seeds() -> list:
    from micronn.importers.tflite import read_tflite
    from micronn.importers.tflite.float_graph import is_float_model

    seeds = []
    for relative in TFLITE_SEEDS:
        data = (DATA / relative).read_bytes()
        graph = read_tflite(data, relative)
        calibration = None
        if is_float_model(graph):
            calibration = _calibration(graph.tensors[graph.inputs[0]].shape[1:])
        seeds.append(Seed(Path(relative).name, ".tflite", data, calibration))
    return seeds


def _keras_weights(groups: dict) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, arrays in groups.items():
            group = handle.create_group(f"layers/{key}/vars")
            for index, array in enumerate(arrays):
                group.create_dataset(str(index), data=np.asarray(array, np.float32))
    return buffer.getvalue()


def _layer(kind, name, sources, **config):
    inbound = [[[source, 0, 0, {}] for source in sources]] if sources else []
    return {"class_name": kind, "config": {"name": name, **config}, "inbound_nodes": inbound}


def functional_keras() -> bytes:
    """A small Functional .keras: convolution, padding, cropping, merges, pooling, dense."""
    rng = np.random.default_rng(3)
    conv = {"kernel_size": [3, 3], "strides": [1, 1], "dilation_rate": [1, 1]}
    layers = [
        _layer("InputLayer", "input_layer", (), batch_shape=[None, 6, 6, 2]),
        _layer(
            "Conv2D", "c", ["input_layer"], filters=3, padding="same", activation="relu", **conv
        ),
        _layer("ZeroPadding2D", "zp", ["c"], padding=[[1, 0], [0, 1]]),
        _layer("Cropping2D", "crop", ["zp"], cropping=[[1, 0], [0, 1]]),
        _layer("Add", "add", ["c", "crop"]),
        _layer("Concatenate", "cat", ["add", "input_layer"], axis=-1),
        _layer("MaxPooling2D", "pool", ["cat"], pool_size=[2, 2], strides=[2, 2], padding="valid"),
        _layer("DepthwiseConv2D", "dw", ["pool"], depth_multiplier=1, padding="same", **conv),
        _layer("BatchNormalization", "bn", ["dw"], axis=-1, epsilon=1e-3),
        _layer("GlobalAveragePooling2D", "gap", ["bn"]),
        _layer("Dense", "d", ["gap"], units=4, activation="softmax"),
    ]
    weights = {
        "conv2d": [rng.normal(size=(3, 3, 2, 3)), rng.normal(size=3)],
        "depthwise_conv2d": [rng.normal(size=(3, 3, 5, 1)), rng.normal(size=5)],
        "batch_normalization": [np.ones(5), np.zeros(5), np.zeros(5), np.ones(5)],
        "dense": [rng.normal(size=(5, 4)), rng.normal(size=4)],
    }
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": layers,
            "input_layers": [["input_layer", 0, 0]],
            "output_layers": [["d", 0, 0]],
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", _keras_weights(weights))
    return buffer.getvalue()


def _keras_seeds() -> list:
    return [
        Seed("functional.keras", ".keras", functional_keras(), _calibration((6, 6, 2))),
        Seed(
            "sensor_1d.keras",
            ".keras",
            (EXAMPLES / "sensor_1d" / "sensor_1d.keras").read_bytes(),
            np.load(EXAMPLES / "sensor_1d" / "expected.npz")["inputs"][:CALIBRATION_SAMPLES],
        ),
        Seed(
            "digits_cnn.keras",
            ".keras",
            (EXAMPLES / "keras_digits_cnn" / "digits_cnn.keras").read_bytes(),
            _calibration((8, 8, 1)),
        ),
    ]


def _h5_seeds() -> list:
    data = (EXAMPLES / "keras_digits_cnn" / "digits_cnn.h5").read_bytes()
    return [Seed("digits_cnn.h5", ".h5", data, _calibration((8, 8, 1)))]


def movers_onnx() -> bytes:
    """A small ONNX graph of the data movers and element-wise nodes."""
    from onnx import TensorProto, helper, numpy_helper

    def ints(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("Slice", ["p", "starts", "ends", "axes"], ["s"], name="slice"),
        helper.make_node("Concat", ["s", "x"], ["c"], name="concat", axis=1),
        helper.make_node("Transpose", ["c"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["t"], ["u"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["u", "w", "b"], ["v"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["v", "k"], ["m"], name="mul"),
        helper.make_node(
            "Resize",
            ["m", "", "scales"],
            ["r"],
            name="up",
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        ),  # fmt: skip
        helper.make_node("AveragePool", ["r"], ["a"], name="pool", kernel_shape=[2, 2]),
        helper.make_node("ReduceMean", ["a"], ["g"], name="mean", axes=[2, 3], keepdims=0),
        helper.make_node("Reshape", ["g", "shape"], ["f"], name="reshape"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    initializers = [
        ints("pads", [0, 1, 1, 0, 0, 0, 0, 0]),
        ints("starts", [1, 0]),
        ints("ends", [5, 100]),
        ints("axes", [2, 3]),
        numpy_helper.from_array(rng.normal(size=(3, 5, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b"),
        numpy_helper.from_array(np.float32([[[0.5]]]), "k"),
        numpy_helper.from_array(np.float32([1, 1, 2, 2]), "scales"),
        ints("shape", [0, -1]),
        numpy_helper.from_array(rng.normal(size=(2, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(size=2).astype(np.float32), "b2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def _onnx_seeds() -> list:
    torch = EXAMPLES / "torch_onnx_digits"
    return [
        Seed("movers.onnx", ".onnx", movers_onnx(), _calibration((4, 5, 2))),
        Seed("digits_torch.onnx", ".onnx", (torch / "digits_torch.onnx").read_bytes(),
             _calibration((8, 8, 1))),
    ]  # fmt: skip


def npz_stack() -> bytes:
    rng = np.random.default_rng(6)
    arrays = {
        "input_shape": np.array([6]),
        "input_range": np.array([-1.0, 1.0]),
        "layer0_weight": rng.normal(size=(5, 6)).astype(np.float32),
        "layer0_bias": rng.normal(size=5).astype(np.float32),
        "layer0_activation": np.array("relu"),
        "layer1_weight": rng.normal(size=(3, 5)).astype(np.float32),
        "layer1_bias": rng.normal(size=3).astype(np.float32),
        "layer1_output_range": np.array([-4.0, 4.0]),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npz_seeds() -> list:
    return [Seed("stack.npz", ".npz", npz_stack(), _calibration((6,)))]


def _npy_seeds() -> list:
    """Calibration files: the mutant is the --calibration of a good .npz model."""
    seeds = []
    for array in (_calibration((6,)), _calibration((6,)).astype(np.float64)[:, None, :]):
        buffer = io.BytesIO()
        np.save(buffer, array)
        seeds.append(Seed(f"calibration_{array.dtype}.npy", ".npy", buffer.getvalue()))
    return seeds


def _mnq_seeds() -> list:
    from micronn import convert_graph
    from micronn.importers.npz import load_npz

    seeds = []
    for source in _npz_seeds():
        path = FAILURES.parent / "fuzz-seed.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.data)
        data = convert_graph(load_npz(path), calibration=source.calibration)
        seeds.append(Seed("stack.mnq", ".mnq", data))
    tflite = (DATA / "tflite" / "add_residual_conv.tflite").read_bytes()
    from micronn import container
    from micronn.importers.tflite import import_tflite

    seeds.append(Seed("add_residual_conv.mnq", ".mnq", container.write(import_tflite(tflite))))
    return seeds


SEEDS = {
    ".tflite": _tflite_seeds,
    ".keras": _keras_seeds,
    ".h5": _h5_seeds,
    ".onnx": _onnx_seeds,
    ".npz": _npz_seeds,
    ".npy": _npy_seeds,
    ".mnq": _mnq_seeds,
}


def seeds(suffix: str) -> list:
    return SEEDS[suffix]()


# ------------------------------------------------------------------ running one case


def _target(seed: Seed, path: Path, data: bytes):
    """The call a user makes with this file."""
    from micronn import container, convert

    if seed.suffix == ".mnq":
        return lambda: container.read(data, name=path.name)
    if seed.suffix == ".npy":
        model = path.with_name("calibrated.npz")
        if not model.exists():
            model.write_bytes(npz_stack())
        return lambda: convert(model, calibration=str(path))
    return lambda: convert(path, calibration=seed.calibration)


def _with_crcs(data: bytes) -> bytes:
    from mnq_patches import with_crcs

    try:
        return with_crcs(data)
    except Exception:  # the mutation broke the layout that with_crcs walks: keep the bytes
        return data


def mutant(seed: Seed, rng) -> bytes:
    data = mutate(seed.suffix, seed.data, rng)
    if seed.suffix == ".mnq" and rng.random() < 0.7:
        data = _with_crcs(data)  # past the CRC checks, to the rules behind them
    return data


def problem_of(call) -> str | None:
    """None when the call returns or raises a documented error with a one-line message, and
    warns of nothing but micronn's own one-line warnings (any other warning is two more lines
    on the CLI's stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _outcome(call)
    caught = [w for w in caught if not issubclass(w.category, CalibrationWarning)]
    if caught and outcome in (None, "refused"):
        first = caught[0]
        where = f"{Path(first.filename).name}:{first.lineno}"
        return f"{first.category.__name__} at {where}: {str(first.message)[:200]}"
    return outcome


def _outcome(call) -> str | None:
    try:
        call()
    except (ValueError, OSError) as error:
        message = str(error)
        if not message.strip() or "\n" in message:
            lines = len(message.splitlines())
            return f"{type(error).__name__} of {lines} lines at {_where(error)}: {message[:200]!r}"
        return "refused"
    except Exception as error:  # what the test is looking for
        return f"{type(error).__name__} at {_where(error)}: {str(error)[:200]}"
    return None


def _where(error) -> str:
    """The innermost frame in micronn's own code (else the innermost frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "micronn" in f.filename and "tests" not in f.filename]
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"


class _AddressSpaceLimit:
    """Make an allocation of more than MEMORY_HEADROOM fail with MemoryError (Linux)."""

    def __enter__(self):
        self.saved = resource.getrlimit(resource.RLIMIT_AS)
        status = Path("/proc/self/status")
        if not status.exists():
            return self
        size = next(
            int(line.split()[1]) * 1024
            for line in status.read_text().splitlines()
            if line.startswith("VmSize:")
        )
        resource.setrlimit(resource.RLIMIT_AS, (size + MEMORY_HEADROOM, self.saved[1]))
        return self

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_AS, self.saved)


def fuzz(
    suffix: str, count: int, seed: int, workdir: Path, save_to: Path = FAILURES, judge=None
) -> Report:
    """`count` mutants of the format's seeds (round robin), from random.Random(seed), each
    judged by `judge(call)` (default: problem_of, under an address-space limit)."""
    from micronn.importers import hdf5

    rng = random.Random(seed)
    sources = seeds(suffix)
    report = Report(suffix)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    library_timeout, hdf5.TIMEOUT_SECONDS = hdf5.TIMEOUT_SECONDS, HDF5_TIMEOUT
    try:
        with _AddressSpaceLimit():
            for case in range(count):
                source = sources[case % len(sources)]
                data = mutant(source, rng)
                path = workdir / f"case{suffix}"
                path.write_bytes(data)
                began = time.perf_counter()
                outcome = (judge or problem_of)(_target(source, path, data))
                report.slowest = max(report.slowest, time.perf_counter() - began)
                report.cases += 1
                if outcome is None:
                    report.accepted += 1
                elif outcome == "refused":
                    report.refused += 1
                else:
                    save_to.mkdir(parents=True, exist_ok=True)
                    saved = save_to / f"{Path(source.name).stem}-seed{seed}-case{case}{suffix}"
                    saved.write_bytes(data)
                    report.failures.append((str(saved), outcome))
    finally:
        hdf5.TIMEOUT_SECONDS = library_timeout
    report.seconds = time.perf_counter() - started
    return report


def summary(report: Report) -> str:
    return (
        f"{report.suffix}: {report.cases} files, {report.accepted} accepted, {report.refused} "
        f"refused, {len(report.failures)} failures in {report.seconds:.1f} s "
        f"(slowest {report.slowest:.2f} s)"
    )


if __name__ == "__main__":  # python tests/file_fuzz.py [COUNT] [SEED] [SUFFIX...]
    import tempfile
    from collections import Counter

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng_seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for suffix in sys.argv[3:] or SEEDS:
        with tempfile.TemporaryDirectory() as folder:
            result = fuzz(suffix, count, rng_seed, Path(folder))
        print(summary(result))
        kinds = Counter(problem.split(": ")[0] for _, problem in result.failures)
        for kind, n in kinds.most_common():
            print(f"    {n:5d} {kind}")
