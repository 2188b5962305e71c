/*
 * DEPTHWISE_CONV_2D with int8 weights and depth multiplier 1 on 64-bit machines: three output
 * rows per multiply, in the 21-bit lanes of conv_wide.c. For a band of three output rows and
 * each kernel row ky, the three input rows they read are packed once per column and channel,
 * v0 + v1 x 2^21 + v2 x 2^42 with v the input minus its zero point (0 for a row outside the image
 * or a missing output row, as the reference skips the tap); every output column of the band then
 * reads its taps' packed values, each packed value serving up to kernel-width columns. Windows
 * of at most MNK_LANE_TAPS taps.
 */
#include "conv.h"

#if MNK_WIDE

#define DW_CHUNK 16   /* channels at a time, at most */
#define DW_PACKED 512 /* packed values: kernel rows x input width x channels of a chunk */

int mnk_depthwise_wide_fits(const conv_plan *p) {
    return p->g[K_H] * p->g[IN_W] <= DW_PACKED;
}

/* packed[(ky x in_w + col) x n + j]: channel c0 + j of the band's rows at kernel row ky; a row
   outside the image, or of a missing output row, reads `outside` (zero points) at every column. */
static void pack_band(const conv_plan *p, const int8_t *x, int32_t oy, int32_t lanes, int32_t c0,
                      int32_t n, const int8_t *outside, int64_t *packed) {
    const int32_t *g = p->g;
    int64_t zps = (int64_t)p->input_zp * (1 + ((int64_t)1 << 21) + ((int64_t)1 << 42));
    int32_t ky, k, col, j;
    for (ky = 0; ky < g[K_H]; ++ky) {
        const int8_t *v[MNK_LANES];
        size_t step[MNK_LANES];
        for (k = 0; k < MNK_LANES; ++k) {
            int32_t iy = (oy + k) * g[S_H] - g[PAD_T] + ky * g[D_H];
            int inside = k < lanes && iy >= 0 && iy < g[IN_H];
            v[k] =
                inside ? x + (size_t)iy * (size_t)g[IN_W] * (size_t)g[IN_C] + (size_t)c0 : outside;
            step[k] = inside ? (size_t)g[IN_C] : 0;
        }
        for (col = 0; col < g[IN_W]; ++col, packed += n) {
            for (j = 0; j < n; ++j) {
                packed[j] =
                    v[0][j] + v[1][j] * ((int64_t)1 << 21) + v[2][j] * ((int64_t)1 << 42) - zps;
            }
            for (k = 0; k < MNK_LANES; ++k) {
                v[k] += step[k];
            }
        }
    }
}

void mnk_depthwise_wide(const conv_plan *p, const mnk_filter *f, const int8_t *w, const int8_t *x,
                        int8_t *out, int32_t begin, int32_t end) {
    const int32_t *g = p->g;
    size_t c = (size_t)g[OUT_C];
    int32_t out_zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t chunk = DW_PACKED / (g[K_H] * g[IN_W]);
    int64_t packed[DW_PACKED];
    int32_t bias[DW_CHUNK];
    mnk_requant rq[DW_CHUNK];
    uint64_t acc[DW_CHUNK];
    int8_t outside[DW_CHUNK];
    int32_t c0, n, oy, ox, ky, kx, k, j;
    chunk = chunk < DW_CHUNK ? chunk : DW_CHUNK;
    for (j = 0; j < DW_CHUNK; ++j) {
        outside[j] = (int8_t)p->input_zp;
    }
    for (c0 = begin; c0 < end; c0 += n) {
        const int8_t *wc = w + (c0 - begin);
        n = end - c0 < chunk ? end - c0 : chunk;
        for (j = 0; j < n; ++j) {
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(c0 + j);
            bias[j] = f->bias[c0 + j];
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (oy = 0; oy < g[OUT_H]; oy += MNK_LANES) {
            int32_t lanes = g[OUT_H] - oy < MNK_LANES ? g[OUT_H] - oy : MNK_LANES;
            pack_band(p, x, oy, lanes, c0, n, outside, packed);
            for (ox = 0; ox < g[OUT_W]; ++ox) {
                for (j = 0; j < n; ++j) {
                    acc[j] = MNK_LANE_BIAS;
                }
                for (ky = 0; ky < g[K_H]; ++ky) {
                    for (kx = 0; kx < g[K_W]; ++kx) {
                        int32_t col = ox * g[S_W] - g[PAD_L] + kx * g[D_W];
                        const int8_t *wk = wc + (size_t)(ky * g[K_W] + kx) * c;
                        const int64_t *v;
                        if (col < 0 || col >= g[IN_W]) {
                            continue; /* outside the image: the reference skips the tap */
                        }
                        v = packed + ((size_t)ky * (size_t)g[IN_W] + (size_t)col) * (size_t)n;
                        for (j = 0; j < n; ++j) {
                            acc[j] += (uint64_t)(int64_t)wk[j] * (uint64_t)v[j];
                        }
                    }
                }
                for (j = 0; j < n; ++j) {
                    int8_t *y =
                        out + ((size_t)oy * (size_t)g[OUT_W] + (size_t)ox) * c + (size_t)(c0 + j);
                    for (k = 0; k < lanes; ++k, y += (size_t)g[OUT_W] * c) {
                        int32_t sum = (int32_t)((acc[j] >> (MNK_LANE_BITS * k)) & MNK_LANE_MASK) -
                                      MNK_LANE_HALF;
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
