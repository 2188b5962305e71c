"""float32 numpy kernels for the float graph (micronn.graph): the model before quantization.

Every kernel takes arrays with a leading batch axis; images are NHWC. Window geometry is
(stride_h, stride_w), (dilation_h, dilation_w) and pads (top, left, bottom, right).
"""

import numpy as np


def check_window(kernel: int, stride: int, dilation: int) -> None:
    if min(kernel, stride, dilation) < 1:
        raise ValueError(
            f"a window of size {kernel}, stride {stride} and dilation {dilation}: each must be "
            "at least 1"
        )


def window_output(size: int, kernel: int, stride: int, dilation: int, before: int, after: int):
    """Output length of a window sliding over `size` padded values."""
    check_window(kernel, stride, dilation)
    effective = (kernel - 1) * dilation + 1
    return (size + before + after - effective) // stride + 1


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1, lower=False) -> tuple:
    """TensorFlow's SAME padding (before, after): ceil(size / stride) outputs, the odd pad
    after the data (before it with lower=True, ONNX's SAME_LOWER)."""
    check_window(kernel, stride, dilation)
    effective = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max(0, (out - 1) * stride + effective - size)
    small, large = total // 2, total - total // 2
    return (large, small) if lower else (small, large)


def _taps(x, kernel, stride, dilation, out_h, out_w):
    """(ky, kx, view) for every tap of the window: view[n, oy, ox, c] = x_padded[...]."""
    sh, sw = stride
    dh, dw = dilation
    for ky in range(kernel[0]):
        for kx in range(kernel[1]):
            y0, x0 = ky * dh, kx * dw
            yield (
                ky,
                kx,
                x[:, y0 : y0 + sh * (out_h - 1) + 1 : sh, x0 : x0 + sw * (out_w - 1) + 1 : sw],
            )


def _pad(x, pads, value=0.0):
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _out_size(x, kernel, stride, dilation, pads):
    top, left, bottom, right = pads
    out_h = window_output(x.shape[1], kernel[0], stride[0], dilation[0], top, bottom)
    out_w = window_output(x.shape[2], kernel[1], stride[1], dilation[1], left, right)
    return out_h, out_w


def activation(y, name: str):
    if name in ("relu", "relu6"):
        y = np.maximum(y, np.float32(0))
    if name == "relu6":
        y = np.minimum(y, np.float32(6))
    return y.astype(np.float32, copy=False)


def hard_swish(x):
    """x * relu6(x + 3) / 6, as TFLite's float HardSwish."""
    x = np.asarray(x, np.float32)
    three, six = np.float32(3), np.float32(6)
    return (x * np.minimum(six, np.maximum(np.float32(0), x + three)) / six).astype(np.float32)


def leaky_relu(x, alpha):
    x = np.asarray(x, np.float32)
    return np.where(x > 0, x, x * np.float32(alpha)).astype(np.float32)


def clip(x, low, high):
    x = np.asarray(x, np.float32)
    if low is not None:
        x = np.maximum(x, np.float32(low))
    if high is not None:
        x = np.minimum(x, np.float32(high))
    return x.astype(np.float32)


def relu_x(x, negative_slope, threshold, max_value):
    """Keras ReLU: x above the threshold, negative_slope * (x - threshold) below, at most
    max_value."""
    x = np.asarray(x, np.float32)
    y = np.where(x >= threshold, x, np.float32(negative_slope) * (x - np.float32(threshold)))
    if max_value is not None:
        y = np.minimum(y, np.float32(max_value))
    return y.astype(np.float32)


def rescaling(x, scale, offset):
    return (np.asarray(x, np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)


def dense(x, weight, bias):
    """weight [out, in]; x is flattened per sample."""
    flat = x.reshape(x.shape[0], -1)
    return flat @ weight.T + bias


def conv2d(x, weight, bias, stride, dilation, pads):
    """weight OHWI [out, kh, kw, in]."""
    out_h, out_w = _out_size(x, weight.shape[1:3], stride, dilation, pads)
    padded = _pad(x, pads)
    out = np.zeros((x.shape[0], out_h, out_w, weight.shape[0]), np.float32)
    for ky, kx, view in _taps(padded, weight.shape[1:3], stride, dilation, out_h, out_w):
        out += view @ weight[:, ky, kx, :].T
    return out + bias


def depthwise_conv2d(x, weight, bias, depth_multiplier, stride, dilation, pads):
    """weight [kh, kw, in * depth_multiplier]; output channel o reads input channel o // m."""
    out_h, out_w = _out_size(x, weight.shape[:2], stride, dilation, pads)
    padded = _pad(x, pads)
    out = np.zeros((x.shape[0], out_h, out_w, weight.shape[2]), np.float32)
    for ky, kx, view in _taps(padded, weight.shape[:2], stride, dilation, out_h, out_w):
        out += np.repeat(view, depth_multiplier, axis=-1) * weight[ky, kx]
    return out + bias


def max_pool(x, size, stride, pads):
    out_h, out_w = _out_size(x, size, stride, (1, 1), pads)
    padded = _pad(x, pads, -np.inf)
    out = np.full((x.shape[0], out_h, out_w, x.shape[3]), -np.inf, np.float32)
    for _, _, view in _taps(padded, size, stride, (1, 1), out_h, out_w):
        np.maximum(out, view, out=out)
    return out


def avg_pool(x, size, stride, pads):
    """Averages over the window's values inside the input (padding is not counted)."""
    out_h, out_w = _out_size(x, size, stride, (1, 1), pads)
    padded = _pad(x, pads)
    inside = _pad(np.ones((1, *x.shape[1:3], 1), np.float32), pads)
    total = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), np.float32)
    count = np.zeros((1, out_h, out_w, 1), np.float32)
    taps = zip(
        _taps(padded, size, stride, (1, 1), out_h, out_w),
        _taps(inside, size, stride, (1, 1), out_h, out_w),
        strict=True,
    )
    for (_, _, view), (_, _, ones) in taps:
        total += view
        count += ones
    return total / count


def mean(x):
    """Average over every axis but the batch and the last (channels)."""
    return x.mean(axis=tuple(range(1, x.ndim - 1)), dtype=np.float32)


def resize(x, size, mode, align_corners, half_pixel_centers):
    """TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (float kernels) of [batch, H, W, C]."""
    from micronn.ops.resize import tflm_nearest_index

    in_h, in_w = x.shape[1:3]
    out_h, out_w = size
    if mode == "nearest":
        rows = tflm_nearest_index(np.arange(out_h), in_h, out_h, align_corners, half_pixel_centers)
        cols = tflm_nearest_index(np.arange(out_w), in_w, out_w, align_corners, half_pixel_centers)
        return x[:, rows][:, :, cols]
    y, y0, y1 = _bilinear_axis(in_h, out_h, align_corners, half_pixel_centers)
    c, c0, c1 = _bilinear_axis(in_w, out_w, align_corners, half_pixel_centers)
    fy = (y - y0)[None, :, None, None]
    fx = (c - c0)[None, None, :, None]
    top = x[:, y0][:, :, c0] * (1 - fx) + x[:, y0][:, :, c1] * fx
    bottom = x[:, y1][:, :, c0] * (1 - fx) + x[:, y1][:, :, c1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _bilinear_axis(in_size, out_size, align_corners, half_pixel_centers):
    """TFLM ComputeInterpolationValues in float32: (position, floor, ceil) per output."""
    scale = np.float32(in_size) / np.float32(out_size)
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    value = np.arange(out_size, dtype=np.float32)
    if half_pixel_centers:
        value = (value + np.float32(0.5)) * scale - np.float32(0.5)
    else:
        value = value * scale
    low = np.maximum(np.floor(value).astype(np.int64), 0)
    high = np.minimum(np.ceil(value).astype(np.int64), in_size - 1)
    return value, low, high


def add(a, b):
    return a + b


def logistic(x):
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def tanh(x):
    return np.tanh(x)


def softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted.astype(np.float64))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
