/* RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of an int8 (H, W, C) image (TFLM
 * reference_ops::ResizeNearestNeighbor and ResizeBilinearInteger;
 * host_tools/micronn/ops/resize.py). Nearest: the source row of output row y is TFLM's float32
 * position (y + offset) x scale, computed exactly in integers from the scale's mantissa and
 * exponent. Bilinear: TFLM's positions in 1/1024 pixel and four weights in 1/2^20. */
#include "common.h"

enum {
    IN_H,
    IN_W,
    CHANNELS,
    OUT_H,
    OUT_W,
    H_MANTISSA,
    H_EXPONENT,
    W_MANTISSA,
    W_EXPONENT,
    ALIGN_CORNERS,
    HALF_PIXEL_CENTERS
};

#define MAX_DIM 0x8000
#define MANTISSA_BITS 24
#define MIN_EXPONENT (-64)
#define MAX_RIGHT_SHIFT 42 /* value >> 42 and (value + 2^41) >> 42 are 0 for value < 2^41 */

static int image_ok(const int32_t *p) {
    int i;
    for (i = IN_H; i <= OUT_W; ++i) {
        if (p[i] < 1 || p[i] > MAX_DIM) {
            return 0;
        }
    }
    return 1;
}

static int scale_ok(int32_t mantissa, int32_t exponent) {
    return (mantissa == 0 || (mantissa >> 23) == 1) && exponent >= MIN_EXPONENT && exponent <= 0;
}

/* (2y + h) x mantissa x 2^(exponent - 1) rounded to 24 bits (half to even) as the float32
 * product is, then floored (half away from zero with align_corners) and clamped to size - 1.
 * value < 2^17 x 2^24; a right shift of 41 bits or more (down to 65) leaves 0. */
static int32_t nearest_index(int32_t y, int32_t size, int32_t mantissa, int32_t exponent,
                             int32_t align_corners, int32_t half_pixel_centers) {
    uint64_t value = (uint64_t)(2 * y + half_pixel_centers) * (uint64_t)mantissa;
    int32_t shift = exponent - 1;
    int32_t drop = 0;
    uint64_t pick;
    while ((value >> (MANTISSA_BITS + drop)) != 0) {
        ++drop;
    }
    if (drop > 0) {
        uint64_t kept = value >> drop;
        uint64_t rest = value - (kept << drop);
        uint64_t half = (uint64_t)1 << (drop - 1);
        if (rest > half || (rest == half && (kept & 1))) {
            ++kept;
        }
        value = kept;
        shift += drop;
    }
    if (shift >= 0) {
        pick = value << shift; /* value < 2^25, shift <= 17 */
    } else if (shift <= -MAX_RIGHT_SHIFT) {
        pick = 0; /* a shift by 64 or more is undefined in C */
    } else if (align_corners) {
        pick = (value + ((uint64_t)1 << (-shift - 1))) >> -shift;
    } else {
        pick = value >> -shift;
    }
    return pick < (uint64_t)size ? (int32_t)pick : size - 1;
}

mnk_status mnk_resize_nearest_neighbor(const int32_t *params, size_t param_count, const int8_t *x,
                                       size_t x_len, int8_t *out, size_t out_len) {
    const int32_t *p = params;
    int32_t oy, ox, channels;
    int8_t *at = out;
    if (param_count != MNK_RESIZE_NEAREST_NEIGHBOR_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (!image_ok(p) || !scale_ok(p[H_MANTISSA], p[H_EXPONENT]) ||
        !scale_ok(p[W_MANTISSA], p[W_EXPONENT]) || (p[ALIGN_CORNERS] & ~1) != 0 ||
        (p[HALF_PIXEL_CENTERS] & ~1) != 0) {
        return MNK_BAD_PARAMS;
    }
    channels = p[CHANNELS];
    if (x_len != (uint64_t)p[IN_H] * (uint64_t)p[IN_W] * (uint64_t)channels) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (uint64_t)p[OUT_H] * (uint64_t)p[OUT_W] * (uint64_t)channels) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (oy = 0; oy < p[OUT_H]; ++oy) {
        int32_t y = nearest_index(oy, p[IN_H], p[H_MANTISSA], p[H_EXPONENT], p[ALIGN_CORNERS],
                                  p[HALF_PIXEL_CENTERS]);
        const int8_t *row = x + (size_t)y * (size_t)p[IN_W] * (size_t)channels;
        for (ox = 0; ox < p[OUT_W]; ++ox) {
            int32_t xx = nearest_index(ox, p[IN_W], p[W_MANTISSA], p[W_EXPONENT], p[ALIGN_CORNERS],
                                       p[HALF_PIXEL_CENTERS]);
            const int8_t *pixel = row + (size_t)xx * (size_t)channels;
            int32_t c;
            for (c = 0; c < channels; ++c) { /* a loop, not memcpy: natmods link no libc */
                *at++ = pixel[c];
            }
        }
    }
    return MNK_OK;
}

enum { B_H_SCALE = OUT_W + 1, B_W_SCALE, B_HALF_PIXEL_CENTERS };

#define ONE 1024
#define SMALL_INT_LIMIT ((int64_t)1 << 30)

/* TFLM's ComputeInterpolationValuesInteger: C division truncates toward zero. */
static void position(int32_t value, int32_t scale, int32_t half_pixel_centers, int32_t size,
                     int32_t *scaled, int32_t *low, int32_t *high) {
    int32_t s = value * scale + (half_pixel_centers ? scale / 2 - ONE / 2 : 0);
    int32_t l = s / ONE;
    int32_t h = (s + ONE - 1) / ONE;
    *scaled = s;
    *low = l > 0 ? l : 0;
    *high = h < size - 1 ? h : size - 1;
}

static int axis_ok(int32_t in_size, int32_t out_size, int32_t scale, int32_t half) {
    int64_t last;
    if (scale < 0 || scale > MAX_DIM * ONE || (int64_t)out_size * scale >= SMALL_INT_LIMIT) {
        return 0;
    }
    last = (int64_t)(out_size - 1) * scale + (half ? scale / 2 - ONE / 2 : 0);
    return last <= 0 || last / ONE <= in_size - 1;
}

mnk_status mnk_resize_bilinear(const int32_t *params, size_t param_count, const int8_t *x,
                               size_t x_len, int8_t *out, size_t out_len) {
    const int32_t *p = params;
    int32_t oy, ox, c, channels;
    size_t row_step;
    int8_t *at = out;
    if (param_count != MNK_RESIZE_BILINEAR_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (!image_ok(p) || (p[B_HALF_PIXEL_CENTERS] & ~1) != 0 ||
        !axis_ok(p[IN_H], p[OUT_H], p[B_H_SCALE], p[B_HALF_PIXEL_CENTERS]) ||
        !axis_ok(p[IN_W], p[OUT_W], p[B_W_SCALE], p[B_HALF_PIXEL_CENTERS])) {
        return MNK_BAD_PARAMS;
    }
    channels = p[CHANNELS];
    if (x_len != (uint64_t)p[IN_H] * (uint64_t)p[IN_W] * (uint64_t)channels) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (uint64_t)p[OUT_H] * (uint64_t)p[OUT_W] * (uint64_t)channels) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    row_step = (size_t)p[IN_W] * (size_t)channels;
    for (oy = 0; oy < p[OUT_H]; ++oy) {
        int32_t ys, y0, y1, fy;
        position(oy, p[B_H_SCALE], p[B_HALF_PIXEL_CENTERS], p[IN_H], &ys, &y0, &y1);
        fy = ys - ONE * y0; /* in (-512, 1024): |fy| + |ONE - fy| < 2048 */
        for (ox = 0; ox < p[OUT_W]; ++ox) {
            int32_t xs, x0, x1, fx;
            const int8_t *r0, *r1;
            int32_t w00, w10, w01, w11;
            position(ox, p[B_W_SCALE], p[B_HALF_PIXEL_CENTERS], p[IN_W], &xs, &x0, &x1);
            fx = xs - ONE * x0;
            w00 = (ONE - fy) * (ONE - fx);
            w10 = fy * (ONE - fx);
            w01 = (ONE - fy) * fx;
            w11 = fy * fx;
            r0 = x + (size_t)y0 * row_step;
            r1 = x + (size_t)y1 * row_step;
            for (c = 0; c < channels; ++c) {
                /* |total| <= 128 x 2047^2 < 2^30 */
                int32_t total =
                    r0[(size_t)x0 * channels + c] * w00 + r1[(size_t)x0 * channels + c] * w10 +
                    r0[(size_t)x1 * channels + c] * w01 + r1[(size_t)x1 * channels + c] * w11;
                int32_t round = total > 0 ? (1 << 19) : -(1 << 19);
                *at++ = (int8_t)((total + round) / (1 << 20));
            }
        }
    }
    return MNK_OK;
}
