/* MAX_POOL_2D, AVERAGE_POOL_2D and MEAN (docs/format-ops/conv-pool.md). */
#include "common.h"

enum { IN_H, IN_W, CHANNELS, OUT_H, OUT_W, F_H, F_W, S_H, S_W, PAD_T, PAD_L, ACT_MIN, ACT_MAX };

#define MAX_DIM 65535
#define MAX_WINDOW ((int64_t)1 << 22)

static mnk_status check_pool(const int32_t *p, size_t param_count, size_t x_len, size_t out_len) {
    int i;
    if (param_count != MNK_POOL_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    for (i = IN_H; i <= PAD_L; ++i) {
        if (p[i] < (i >= PAD_T ? 0 : 1) || p[i] > MAX_DIM) {
            return MNK_BAD_PARAMS;
        }
    }
    if (!mnk_is_clamp(p[ACT_MIN], p[ACT_MAX]) || (int64_t)p[F_H] * p[F_W] >= MAX_WINDOW) {
        return MNK_BAD_PARAMS;
    }
    /* every window starts inside the image and holds at least one tap */
    if (p[PAD_T] >= p[F_H] || p[PAD_L] >= p[F_W] ||
        (int64_t)(p[OUT_H] - 1) * p[S_H] - p[PAD_T] >= p[IN_H] ||
        (int64_t)(p[OUT_W] - 1) * p[S_W] - p[PAD_L] >= p[IN_W]) {
        return MNK_BAD_PARAMS;
    }
    if (x_len != (uint64_t)p[IN_H] * (uint64_t)p[IN_W] * (uint64_t)p[CHANNELS]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (uint64_t)p[OUT_H] * (uint64_t)p[OUT_W] * (uint64_t)p[CHANNELS]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    return MNK_OK;
}

/* The in-image part [first, end) of the window that starts at `start` (may be negative). */
static void clip(int32_t start, int32_t size, int32_t limit, int32_t *first, int32_t *end) {
    *first = start < 0 ? 0 : start;
    *end = start + size > limit ? limit : start + size;
}

/* A window's totals, POOL_CHUNK channels at a time: channels innermost, so that every tap reads
   a run of adjacent bytes. */
#define POOL_CHUNK 64

static void pool_window(const int32_t *p, int average, const int8_t *x, int32_t y0, int32_t y1,
                        int32_t x0, int32_t x1, int8_t *out) {
    int32_t channels = p[CHANNELS], count = (y1 - y0) * (x1 - x0), half = count / 2;
    int32_t c0, n, c, y, xx;
    int32_t total[POOL_CHUNK];
    for (c0 = 0; c0 < channels; c0 += n) {
        n = channels - c0 < POOL_CHUNK ? channels - c0 : POOL_CHUNK;
        for (c = 0; c < n; ++c) {
            total[c] = average ? 0 : -128;
        }
        for (y = y0; y < y1; ++y) {
            for (xx = x0; xx < x1; ++xx) {
                const int8_t *v =
                    x + ((size_t)y * (size_t)p[IN_W] + (size_t)xx) * (size_t)channels + c0;
                if (average) {
                    for (c = 0; c < n; ++c) {
                        total[c] += v[c];
                    }
                } else {
                    for (c = 0; c < n; ++c) {
                        total[c] = v[c] > total[c] ? v[c] : total[c];
                    }
                }
            }
        }
        for (c = 0; c < n; ++c) {
            int32_t t = total[c];
            if (average) {
                t = t > 0 ? (t + half) / count : -((-t + half) / count);
            }
            out[c0 + c] = mnk_clamp_offset(t, 0, p[ACT_MIN], p[ACT_MAX]);
        }
    }
}

static mnk_status pool(const int32_t *p, size_t param_count, int average, const int8_t *x,
                       size_t x_len, int8_t *out, size_t out_len) {
    int32_t oy, ox, y0, y1, x0, x1;
    mnk_status status = check_pool(p, param_count, x_len, out_len);
    if (status != MNK_OK) {
        return status;
    }
    /* params holds MNK_POOL_PARAMS entries (check_pool) */
    for (oy = 0; oy < p[OUT_H]; ++oy) {
        clip(oy * p[S_H] - p[PAD_T], p[F_H], p[IN_H], &y0, &y1);
        for (ox = 0; ox < p[OUT_W]; ++ox) {
            clip(ox * p[S_W] - p[PAD_L], p[F_W], p[IN_W], &x0, &x1);
            pool_window(p, average, x, y0, y1, x0, x1, out);
            out += p[CHANNELS];
        }
    }
    return MNK_OK;
}

mnk_status mnk_max_pool_2d(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                           int8_t *out, size_t out_len) {
    return pool(params, param_count, 0, x, x_len, out, out_len);
}

mnk_status mnk_average_pool_2d(const int32_t *params, size_t param_count, const int8_t *x,
                               size_t x_len, int8_t *out, size_t out_len) {
    return pool(params, param_count, 1, x, x_len, out, out_len);
}

enum { M_IN_H, M_IN_W, M_CHANNELS, M_INPUT_ZP, M_OUTPUT_ZP, M_MULTIPLIER, M_SHIFT };

mnk_status mnk_mean(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                    int8_t *out, size_t out_len) {
    int64_t count;
    int32_t c, shift;
    size_t i;
    if (param_count != MNK_MEAN_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    count = (int64_t)params[M_IN_H] * params[M_IN_W];
    shift = params[M_SHIFT];
    if (params[M_IN_H] < 1 || params[M_IN_W] < 1 || params[M_CHANNELS] < 1 || count >= MAX_WINDOW ||
        !mnk_is_int8(params[M_INPUT_ZP]) || !mnk_is_int8(params[M_OUTPUT_ZP]) ||
        !mnk_requant_ok(params[M_MULTIPLIER], shift)) {
        return MNK_BAD_PARAMS;
    }
    if (((count * 255) << (shift > 0 ? shift : 0)) >= ((int64_t)1 << 30)) {
        return MNK_BAD_BOUND;
    }
    if (x_len != (uint64_t)count * (uint64_t)params[M_CHANNELS]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (size_t)params[M_CHANNELS]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (c = 0; c < params[M_CHANNELS]; ++c) {
        int32_t total = -params[M_INPUT_ZP] * (int32_t)count;
        size_t at = (size_t)c;
        for (i = 0; i < (size_t)count; ++i, at += (size_t)params[M_CHANNELS]) {
            total += x[at];
        }
        out[c] = mnk_clamp_offset(mnk_mbqm(total, params[M_MULTIPLIER], shift), params[M_OUTPUT_ZP],
                                  -128, 127);
    }
    return MNK_OK;
}
