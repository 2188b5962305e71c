/*
 * TensorFlow's QuantizeV2 / Dequantize (tf.quantization.quantize / dequantize) in float32, and
 * dequantize to Q-format int32: the C kernels of the board's micronn.quantize, dequantize and
 * dequantize_fixed (firmware/micronn/tfquant.py checks the arguments in TF's words first).
 * The same float32 steps as firmware/micronn/tfquant_f32.py and the host's micronn.quantize,
 * each rounded to float32 with denormals flushed to zero (TF's FTZ); compile without FMA
 * contraction of float expressions (the default of -std=c99 and of the ports' builds).
 *
 * Tensors are flat, viewed as [pre, slices, post] (params); slice s has the range mins[s],
 * maxs[s]. Code buffers hold type `type`: 0 int8, 1 uint8, 2 int16, 3 uint16, 4 int32.
 */
#ifndef MICRONN_TFQUANT_H
#define MICRONN_TFQUANT_H

#include "micronn_kernels.h"

/* params: type, mode (0 MIN_COMBINED, 1 MIN_FIRST, 2 SCALED), half_to_even, narrow_range, pre,
 * slices, post. x: pre * slices * post floats; out: as many codes. mins, maxs: one per slice,
 * replaced by the ranges used (output_min, output_max). */
mnk_status mnk_tf_quantize(const int32_t *params, size_t param_count, float ensure_minimum_range,
                           const float *x, size_t x_len, float *mins, float *maxs,
                           size_t ranges_len, void *out, size_t out_len);

/* params: type, mode, bfloat16 (round each result to bfloat16), narrow_range, pre, slices,
 * post. */
mnk_status mnk_tf_dequantize(const int32_t *params, size_t param_count, const void *q, size_t q_len,
                             const float *mins, const float *maxs, size_t ranges_len, float *out,
                             size_t out_len);

/* params: type, pre, slices, post. terms: (A, B, S) per slice, out[i] = (A + c * B) >> S
 * saturated to int32 (tfquant_fixed.py makes them); |A| + 2^32 |B| < 2^62, 1 <= S <= 62. */
mnk_status mnk_tf_dequantize_fixed(const int32_t *params, size_t param_count, const int64_t *terms,
                                   size_t terms_len, const void *q, size_t q_len, int32_t *out,
                                   size_t out_len);

#endif
