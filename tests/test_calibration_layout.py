"""Calibration data in PyTorch's channels-first layout is read as the model's channels-last
inputs, a layout that is neither is refused, and a one-sample set is warned about."""

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from micronn import cli, convert  # noqa: E402
from micronn.calibration import CalibrationWarning  # noqa: E402

RNG = np.random.default_rng(5)


def _conv_model(tmp_path, in_shape, kernel):
    """A PyTorch-style export: channels-first input, Conv + Relu + Flatten + Gemm."""
    channels = in_shape[0]
    weights = {
        "w": RNG.normal(0, 0.5, (4, channels, *kernel)),
        "b": RNG.normal(0, 0.1, (4,)),
        "fw": RNG.normal(0, 0.3, (int(np.prod((4, *in_shape[1:]))), 3)),
        "fb": RNG.normal(0, 0.1, (3,)),
    }
    pads = [k // 2 for k in kernel] * 2
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=pads),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize(("in_shape", "kernel"), [((3, 6, 5), (3, 3)), ((2, 12), (3,))])
def test_channels_first_calibration_is_the_same_model_as_channels_last(tmp_path, in_shape, kernel):
    path = _conv_model(tmp_path, in_shape, kernel)
    nchw = RNG.normal(size=(40, *in_shape)).astype(np.float32)
    nhwc = np.moveaxis(nchw, 1, -1)
    assert convert(path, calibration=nchw) == convert(path, calibration=nhwc)
    scrambled = nchw.reshape(nhwc.shape)  # the bytes read as if they were channels-last
    assert convert(path, calibration=scrambled) != convert(path, calibration=nhwc)


def test_a_batch_in_neither_layout_is_refused_naming_both(tmp_path):
    path = _conv_model(tmp_path, (3, 6, 5), (3, 3))
    wrong = RNG.normal(size=(10, 6, 3, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"give \(N, 6, 5, 3\) \(or PyTorch's channels-first"):
        convert(path, calibration=wrong)


def test_one_calibration_sample_is_warned_about_in_one_line(tmp_path, capsys):
    path = _conv_model(tmp_path, (3, 6, 5), (3, 3))
    one = RNG.normal(size=(1, 3, 6, 5)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert(path, calibration=one)
    assert [w.category for w in caught if w.category is CalibrationWarning]
    np.save(tmp_path / "one.npy", one)
    argv = ["convert", str(path), "-o", str(tmp_path / "m.mnq"), "--calibration"]
    assert cli.main([*argv, str(tmp_path / "one.npy")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "micronn convert: warning: calibration data holds one"
    )
    np.save(tmp_path / "many.npy", RNG.normal(size=(20, 3, 6, 5)).astype(np.float32))
    assert cli.main([*argv, str(tmp_path / "many.npy")]) == 0
    assert capsys.readouterr().err == ""
