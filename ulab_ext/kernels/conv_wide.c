/*
 * CONV_2D with int8 weight rows on 64-bit machines: two output pixels per multiply. The two
 * pixels' windows are gathered once into one int64 patch, v0 + v1 x 2^32 per tap, so that
 * w x patch[i] adds w x v0 to the low half and w x v1 to the high half of a 64-bit sum. Both
 * halves stay inside int32 (the 31-bit bound: |bias| + taps x 255 x 127 < 2^30 bounds
 * w x (v - zp) summed), so the low half is the sum modulo 2^32 read as signed and the high half
 * what remains: exact integers, half the multiplies and adds. The zero point is taken off each
 * gathered input, and a tap outside the image holds 0, as the reference skips it.
 */
#include "conv.h"
#include "requant.h"

#if MNK_WIDE

#define WIDE_CHUNK 32 /* output channels whose bias and requantization are prepared at once */

/* patch[i] += (v_i - zp) x scale over the window of output pixel `pixel` (weight order). */
static void gather_wide(const conv_plan *p, const int8_t *x, int32_t pixel, int64_t scale,
                        int64_t *patch) {
    const int32_t *g = p->g;
    int32_t in_c = g[IN_C], zp = p->input_zp, ky, kx, i;
    int32_t y0 = (pixel / g[OUT_W]) * g[S_H] - g[PAD_T];
    int32_t x0 = (pixel % g[OUT_W]) * g[S_W] - g[PAD_L];
    for (ky = 0; ky < g[K_H]; ++ky) {
        int32_t iy = y0 + ky * g[D_H];
        int row_inside = iy >= 0 && iy < g[IN_H];
        for (kx = 0; kx < g[K_W]; ++kx) {
            int32_t ix = x0 + kx * g[D_W];
            if (row_inside && ix >= 0 && ix < g[IN_W]) { /* a tap outside adds nothing */
                const int8_t *v = x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)in_c;
                for (i = 0; i < in_c; ++i) {
                    patch[i] += (v[i] - zp) * scale;
                }
            }
            patch += in_c;
        }
    }
}

/* acc[j] = row j . patch over n taps for the `rows` (1..4) rows w + j x stride. */
static void dot_wide(const int8_t *w, size_t stride, const int64_t *patch, int32_t n, int32_t rows,
                     int64_t *acc) {
    const int8_t *w0 = w;
    const int8_t *w1 = rows > 1 ? w0 + stride : w0; /* a missing row repeats row 0, unread */
    const int8_t *w2 = rows > 2 ? w1 + stride : w0;
    const int8_t *w3 = rows > 3 ? w2 + stride : w0;
    int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t i;
    for (i = 0; i + 2 <= n; i += 2) { /* two taps a turn: half the loop's own instructions */
        int64_t v = patch[i], u = patch[i + 1];
        a0 += w0[i] * v + w0[i + 1] * u;
        a1 += w1[i] * v + w1[i + 1] * u;
        a2 += w2[i] * v + w2[i + 1] * u;
        a3 += w3[i] * v + w3[i + 1] * u;
    }
    if (i < n) {
        int64_t v = patch[i];
        a0 += w0[i] * v;
        a1 += w1[i] * v;
        a2 += w2[i] * v;
        a3 += w3[i] * v;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void mnk_conv_wide(const conv_plan *p, const mnk_filter *f, const int8_t *rows, size_t stride,
                   const int8_t *x, int8_t *out, int32_t o0, int32_t count) {
    const int32_t *g = p->g;
    int32_t dot = g[K_H] * g[K_W] * g[IN_C];
    int32_t pixels = g[OUT_H] * g[OUT_W];
    size_t out_c = (size_t)g[OUT_C];
    int64_t patch[MNK_WIDE_TAPS];
    int32_t bias[WIDE_CHUNK];
    mnk_requant rq[WIDE_CHUNK];
    int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t c0, o, px, i, j;
    for (c0 = o0; c0 < o0 + count; c0 += WIDE_CHUNK) {
        int32_t n = o0 + count - c0 < WIDE_CHUNK ? o0 + count - c0 : WIDE_CHUNK;
        for (j = 0; j < n; ++j) {
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(c0 + j);
            bias[j] = f->bias[c0 + j];
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (px = 0; px < pixels; px += 2) {
            int pair = px + 1 < pixels;
            int8_t *y0 = out + (size_t)px * out_c;
            int8_t *y1 = y0 + out_c;
            for (i = 0; i < dot; ++i) {
                patch[i] = 0;
            }
            gather_wide(p, x, px, 1, patch);
            if (pair) {
                gather_wide(p, x, px + 1, (int64_t)1 << 32, patch);
            }
            for (o = c0; o < c0 + n; o += 4) {
                int32_t block = c0 + n - o < 4 ? c0 + n - o : 4;
                int64_t acc[4];
                dot_wide(rows + (size_t)(o - o0) * stride, stride, patch, dot, block, acc);
                for (j = 0; j < block; ++j) {
                    int32_t low = mnk_wrap32(acc[j]);
                    int32_t high = mnk_wrap32((int64_t)((uint64_t)(acc[j] - low) >> 32));
                    int32_t k = o - c0 + j;
                    y0[o + j] = mnk_store8(mnk_requant_apply(bias[k] + low, &rq[k]), zp, lo, hi);
                    if (pair) {
                        y1[o + j] =
                            mnk_store8(mnk_requant_apply(bias[k] + high, &rq[k]), zp, lo, hi);
                    }
                }
            }
        }
    }
}

#else
typedef int mnk_conv_wide_unused; /* a translation unit declares something */
#endif
