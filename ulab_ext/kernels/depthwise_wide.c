/*
 * DEPTHWISE_CONV_2D with int8 weights and depth multiplier 1 on 64-bit machines: three output
 * pixels of a row per multiply, in the 21-bit lanes of conv_wide.c. For every tap the three
 * pixels' inputs of one channel are packed into one int64, v0 + v1 x 2^21 + v2 x 2^42 with v the
 * input minus its zero point; a pixel whose tap lies outside the image reads a row of zero
 * points, so that its v is 0 (the reference skips the tap). Windows of at most MNK_LANE_TAPS taps.
 */
#include "conv.h"

#if MNK_WIDE

#define DW_CHUNK 16 /* channels at a time */
#define LANE_BITS 21
#define LANE_MASK (((uint64_t)1 << LANE_BITS) - 1)
#define LANE_HALF ((int32_t)1 << (LANE_BITS - 1))
#define LANE_BIAS (((uint64_t)1 << 20) + ((uint64_t)1 << 41) + ((uint64_t)1 << 62))

/* The input of channels c0.. at (iy, ix), or `outside` (zero points) for a tap off the image. */
static const int8_t *tap_input(const conv_plan *p, const int8_t *x, int32_t iy, int32_t ix,
                               int32_t c0, const int8_t *outside) {
    const int32_t *g = p->g;
    if (iy < 0 || iy >= g[IN_H] || ix < 0 || ix >= g[IN_W]) {
        return outside;
    }
    return x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)g[IN_C] + (size_t)c0;
}

void mnk_depthwise_wide(const conv_plan *p, const mnk_filter *f, const int8_t *w, const int8_t *x,
                        int8_t *out, int32_t begin, int32_t end) {
    const int32_t *g = p->g;
    size_t c = (size_t)g[OUT_C];
    int32_t zp = p->input_zp, out_zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    /* the zero points of three lanes, taken off each packed value at once */
    int64_t zps = (int64_t)zp * (1 + ((int64_t)1 << 21) + ((int64_t)1 << 42));
    int8_t outside[DW_CHUNK];
    int32_t bias[DW_CHUNK];
    mnk_requant rq[DW_CHUNK];
    uint64_t acc[DW_CHUNK];
    int32_t c0, n, oy, ox, ky, kx, k, j;
    for (j = 0; j < DW_CHUNK; ++j) {
        outside[j] = (int8_t)zp;
    }
    for (c0 = begin; c0 < end; c0 += n) {
        const int8_t *wc = w + (c0 - begin);
        n = end - c0 < DW_CHUNK ? end - c0 : DW_CHUNK;
        for (j = 0; j < n; ++j) {
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(c0 + j);
            bias[j] = f->bias[c0 + j];
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (oy = 0; oy < g[OUT_H]; ++oy) {
            int32_t y0 = oy * g[S_H] - g[PAD_T];
            for (ox = 0; ox < g[OUT_W]; ox += 3) {
                int32_t lanes = g[OUT_W] - ox < 3 ? g[OUT_W] - ox : 3;
                for (j = 0; j < n; ++j) {
                    acc[j] = LANE_BIAS;
                }
                for (ky = 0; ky < g[K_H]; ++ky) {
                    int32_t iy = y0 + ky * g[D_H];
                    for (kx = 0; kx < g[K_W]; ++kx) {
                        const int8_t *wk = wc + (size_t)(ky * g[K_W] + kx) * c;
                        const int8_t *v[3];
                        for (k = 0; k < 3; ++k) {
                            int32_t ix = (ox + k) * g[S_W] - g[PAD_L] + kx * g[D_W];
                            v[k] = k < lanes ? tap_input(p, x, iy, ix, c0, outside) : outside;
                        }
                        for (j = 0; j < n; ++j) {
                            int64_t packed = v[0][j] + v[1][j] * ((int64_t)1 << 21) +
                                             v[2][j] * ((int64_t)1 << 42) - zps;
                            acc[j] += (uint64_t)(int64_t)wk[j] * (uint64_t)packed;
                        }
                    }
                }
                for (j = 0; j < n; ++j) {
                    int8_t *y =
                        out + ((size_t)oy * (size_t)g[OUT_W] + (size_t)ox) * c + (size_t)(c0 + j);
                    for (k = 0; k < lanes; ++k, y += c) {
                        int32_t sum =
                            (int32_t)((acc[j] >> (LANE_BITS * k)) & LANE_MASK) - LANE_HALF;
                        *y = mnk_store8(mnk_requant_apply(bias[j] + sum, &rq[j]), out_zp, lo, hi);
                    }
                }
            }
        }
    }
}

#else
typedef int mnk_depthwise_wide_unused; /* a translation unit declares something */
#endif
