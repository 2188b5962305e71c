/*
 * CONV_2D with int8 weight rows on 64-bit machines: three output pixels per multiply. The three
 * pixels' windows are gathered once into one int64 patch, v0 + v1 x 2^21 + v2 x 2^42 per tap with
 * v the input minus its zero point (0 for a tap outside the image, which the reference skips), so
 * that w x patch[i] adds w x v_k to lane k of a 64-bit sum. One product is below 128 x 255 in
 * size, so MNK_LANE_TAPS (32) of them stay inside a lane's 21 bits; every MNK_LANE_TAPS taps
 * the lanes go into int32 sums (each inside 2^30 by the 31-bit bound) and the 64-bit sum starts
 * again. A sum starts at MNK_LANE_BIAS (2^20 in every lane), so that every lane is in 0 .. 2^21 - 1
 * and reads out with a shift and a mask: exact integers, a third of the multiplies.
 */
#include "conv.h"
#include "requant.h"

#if MNK_WIDE

#define WIDE_CHUNK 32 /* output channels whose bias and requantization are prepared at once */

/* The windows of output pixels px .. px + lanes - 1 in weight order, packed three to an int64;
   a tap outside the image, or of a missing pixel, reads `outside` (zero points). */
static void gather_wide(const conv_plan *p, const int8_t *x, int32_t px, int32_t lanes,
                        const int8_t *outside, int64_t *patch) {
    const int32_t *g = p->g;
    int32_t in_c = g[IN_C], ky, kx, i, k;
    int32_t y0[MNK_LANES], x0[MNK_LANES];
    int64_t zps = (int64_t)p->input_zp * (1 + ((int64_t)1 << 21) + ((int64_t)1 << 42));
    for (k = 0; k < MNK_LANES; ++k) {
        y0[k] = ((px + k) / g[OUT_W]) * g[S_H] - g[PAD_T];
        x0[k] = ((px + k) % g[OUT_W]) * g[S_W] - g[PAD_L];
    }
    for (ky = 0; ky < g[K_H]; ++ky) {
        for (kx = 0; kx < g[K_W]; ++kx) {
            const int8_t *v[MNK_LANES];
            for (k = 0; k < MNK_LANES; ++k) {
                int32_t iy = y0[k] + ky * g[D_H], ix = x0[k] + kx * g[D_W];
                int inside = k < lanes && iy >= 0 && iy < g[IN_H] && ix >= 0 && ix < g[IN_W];
                v[k] = inside ? x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)in_c
                              : outside;
            }
            for (i = 0; i < in_c; ++i) {
                patch[i] =
                    v[0][i] + v[1][i] * ((int64_t)1 << 21) + v[2][i] * ((int64_t)1 << 42) - zps;
            }
            patch += in_c;
        }
    }
}

/* [first, end) of the patch entries some pixel px .. px + lanes - 1 reads inside the image: the
   kernel rows above and below every one of them hold only zeros (the pixels of a row share
   their outside kernel rows). */
static void live_taps(const conv_plan *p, int32_t px, int32_t lanes, int32_t *first, int32_t *end) {
    const int32_t *g = p->g;
    int32_t line = g[K_W] * g[IN_C], ky0 = g[K_H], ky1 = 0, k;
    for (k = 0; k < lanes; ++k) {
        int32_t y0 = ((px + k) / g[OUT_W]) * g[S_H] - g[PAD_T], a = 0, b = g[K_H];
        while (a < b && y0 + a * g[D_H] < 0) {
            ++a;
        }
        while (b > a && y0 + (b - 1) * g[D_H] >= g[IN_H]) {
            --b;
        }
        ky0 = a < ky0 ? a : ky0;
        ky1 = b > ky1 ? b : ky1;
    }
    if (ky0 >= ky1) {
        ky0 = ky1 = 0;
    }
    *first = ky0 * line;
    *end = ky1 * line;
}

/* sums[3 j + k] += lane k of the biased 64-bit sum a. */
static void add_lanes(uint64_t a, int32_t *sums) {
    sums[0] += (int32_t)(a & MNK_LANE_MASK) - MNK_LANE_HALF;
    sums[1] += (int32_t)((a >> MNK_LANE_BITS) & MNK_LANE_MASK) - MNK_LANE_HALF;
    sums[2] += (int32_t)(a >> (2 * MNK_LANE_BITS)) - MNK_LANE_HALF;
}

/* sums[3 j + k] = row j . lane k of patch over n taps for the `rows` (1..4) rows w + j x stride. */
static void dot_wide(const int8_t *w, size_t stride, const int64_t *patch, int32_t n, int32_t rows,
                     int32_t *sums) {
    const int8_t *w0 = w;
    const int8_t *w1 = rows > 1 ? w0 + stride : w0; /* a missing row repeats row 0, unread */
    const int8_t *w2 = rows > 2 ? w1 + stride : w0;
    const int8_t *w3 = rows > 3 ? w2 + stride : w0;
    int32_t i = 0, j;
    for (j = 0; j < 4 * MNK_LANES; ++j) {
        sums[j] = 0;
    }
    while (i < n) {
        int32_t end = n - i < MNK_LANE_TAPS ? n : i + MNK_LANE_TAPS;
        uint64_t a0 = MNK_LANE_BIAS, a1 = MNK_LANE_BIAS, a2 = MNK_LANE_BIAS, a3 = MNK_LANE_BIAS;
        for (; i + 2 <= end; i += 2) { /* two taps a turn: half the loop's own instructions */
            uint64_t v = (uint64_t)patch[i], u = (uint64_t)patch[i + 1];
            /* modulo 2^64, the true sums, which stay in 0 .. 2^63 */
            a0 += (uint64_t)(int64_t)w0[i] * v + (uint64_t)(int64_t)w0[i + 1] * u;
            a1 += (uint64_t)(int64_t)w1[i] * v + (uint64_t)(int64_t)w1[i + 1] * u;
            a2 += (uint64_t)(int64_t)w2[i] * v + (uint64_t)(int64_t)w2[i + 1] * u;
            a3 += (uint64_t)(int64_t)w3[i] * v + (uint64_t)(int64_t)w3[i + 1] * u;
        }
        if (i < end) {
            uint64_t v = (uint64_t)patch[i];
            a0 += (uint64_t)(int64_t)w0[i] * v;
            a1 += (uint64_t)(int64_t)w1[i] * v;
            a2 += (uint64_t)(int64_t)w2[i] * v;
            a3 += (uint64_t)(int64_t)w3[i] * v;
            ++i;
        }
        add_lanes(a0, sums);
        add_lanes(a1, sums + MNK_LANES);
        add_lanes(a2, sums + 2 * MNK_LANES);
        add_lanes(a3, sums + 3 * MNK_LANES);
    }
}

void mnk_conv_wide(const conv_plan *p, const mnk_filter *f, const int8_t *rows, size_t stride,
                   const int8_t *x, int8_t *out, int32_t o0, int32_t count) {
    const int32_t *g = p->g;
    int32_t pixels = g[OUT_H] * g[OUT_W];
    size_t out_c = (size_t)g[OUT_C];
    int64_t patch[MNK_WIDE_TAPS];
    int32_t bias[WIDE_CHUNK];
    mnk_requant rq[WIDE_CHUNK];
    int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int8_t outside[MNK_WIDE_TAPS]; /* an input pixel of zero points: in_c <= dot */
    int32_t c0, o, px, j, k;
    for (j = 0; j < g[IN_C]; ++j) {
        outside[j] = (int8_t)p->input_zp;
    }
    for (c0 = o0; c0 < o0 + count; c0 += WIDE_CHUNK) {
        int32_t n = o0 + count - c0 < WIDE_CHUNK ? o0 + count - c0 : WIDE_CHUNK;
        for (j = 0; j < n; ++j) {
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(c0 + j);
            bias[j] = f->bias[c0 + j];
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (px = 0; px < pixels; px += MNK_LANES) {
            int32_t lanes = pixels - px < MNK_LANES ? pixels - px : MNK_LANES;
            int32_t first, end;
            gather_wide(p, x, px, lanes, outside, patch);
            live_taps(p, px, lanes, &first, &end);
            for (o = c0; o < c0 + n; o += 4) {
                int32_t block = c0 + n - o < 4 ? c0 + n - o : 4;
                int32_t sums[4 * MNK_LANES];
                const int8_t *w = rows + (size_t)(o - o0) * stride + first;
                dot_wide(w, stride, patch + first, end - first, block, sums);
                for (j = 0; j < block; ++j) {
                    int32_t at = o - c0 + j;
                    int8_t *y = out + (size_t)px * out_c + (size_t)(o + j);
                    for (k = 0; k < lanes; ++k, y += out_c) {
                        int32_t v = mnk_requant_apply(bias[at] + sums[MNK_LANES * j + k], &rq[at]);
                        *y = mnk_store8(v, zp, lo, hi);
                    }
                }
            }
        }
    }
}

#else
typedef int mnk_conv_wide_unused; /* a translation unit declares something */
#endif
