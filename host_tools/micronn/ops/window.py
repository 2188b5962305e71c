"""Sliding-window geometry shared by CONV_2D, DEPTHWISE_CONV_2D and the pools.

Output sizes and padding follow TensorFlow Lite's ComputePaddingHeightWidth
(tensorflow/lite/kernels/padding.h): SAME pads total = max(0, (out - 1) * stride + effective
window - in) and puts floor(total / 2) before the image (the odd one after it). Only the padding
before the image matters to the kernels: taps outside the image are skipped.
"""

import numpy as np

PADDINGS = ("same", "valid")
GATHER_BUDGET = 2**23  # int64 elements of gathered windows per chunk (64 MB)


def effective_size(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def output_size(padding: str, in_size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """TFLite ComputeOutSize: ceil(in / stride) for SAME, else the windows that fit."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if in_size < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ValueError(
            f"window needs sizes >= 1 (input {in_size}, kernel {kernel}, stride {stride}, "
            f"dilation {dilation})"
        )
    if padding == "same":
        return (in_size + stride - 1) // stride
    size = (in_size + stride - effective_size(kernel, dilation)) // stride
    if size < 1:
        raise ValueError(
            f"a VALID window of {effective_size(kernel, dilation)} (kernel {kernel}, dilation "
            f"{dilation}) does not fit an input of {in_size}; use SAME padding or a smaller kernel"
        )
    return size


def padding_before(in_size: int, kernel: int, stride: int, dilation: int, out_size: int) -> int:
    """TFLite ComputePaddingWithOffset: the padding before the image (top or left)."""
    total = (out_size - 1) * stride + effective_size(kernel, dilation) - in_size
    return max(total, 0) // 2


def geometry(in_hw, kernel_hw, stride_hw, dilation_hw, padding: str) -> dict:
    """out_height/out_width and pad_top/pad_left for a window over an (H, W) image."""
    out, pad = [], []
    for size, kernel, stride, dilation in zip(
        in_hw, kernel_hw, stride_hw, dilation_hw, strict=True
    ):
        out.append(output_size(padding, size, kernel, stride, dilation))
        pad.append(padding_before(size, kernel, stride, dilation, out[-1]))
    return {"out_height": out[0], "out_width": out[1], "pad_top": pad[0], "pad_left": pad[1]}


def tap_indices(out_size, stride, pad, kernel, dilation) -> np.ndarray:
    """[out, kernel] input coordinates out * stride - pad + k * dilation (may leave the image)."""
    return (
        np.arange(out_size)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation
    ).astype(np.int64)


def windows(x, fill, out_hw, stride_hw, pad_hw, kernel_hw, dilation_hw):
    """Gather every window of x [batch, H, W, C] into [batch, OH, OW, KH, KW, C].

    Taps outside the image read `fill`. Also returns the [OH, OW, KH, KW] mask of in-image taps.
    """
    _, height, width, _ = x.shape
    rows = tap_indices(out_hw[0], stride_hw[0], pad_hw[0], kernel_hw[0], dilation_hw[0])
    cols = tap_indices(out_hw[1], stride_hw[1], pad_hw[1], kernel_hw[1], dilation_hw[1])
    row_ok = (rows >= 0) & (rows < height)
    col_ok = (cols >= 0) & (cols < width)
    padded = np.concatenate([x, np.full_like(x[:, :1], fill)], axis=1)
    padded = np.concatenate([padded, np.full_like(padded[:, :, :1], fill)], axis=2)
    r = np.where(row_ok, rows, height)[:, None, :, None]  # out-of-image taps read the fill row
    c = np.where(col_ok, cols, width)[None, :, None, :]
    gathered = padded[:, r, c, :]
    inside = row_ok[:, None, :, None] & col_ok[None, :, None, :]
    return gathered, inside


def in_chunks(evaluate, x, out_hw, kernel_hw, channels):
    """evaluate(x[chunk]) over batch chunks whose gathered windows fit GATHER_BUDGET."""
    per_sample = out_hw[0] * out_hw[1] * kernel_hw[0] * kernel_hw[1] * channels
    step = max(1, GATHER_BUDGET // max(per_sample, 1))
    if x.shape[0] <= step:
        return evaluate(x)
    return np.concatenate([evaluate(x[i : i + step]) for i in range(0, x.shape[0], step)])
