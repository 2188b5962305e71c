/* CONV_2D with int8 weight rows, four output channels at a time (a blocked matrix product: each
   input byte is read once for four channels). For a window inside the image the input zero
   point is folded into the bias once per channel (bias - zp x sum of the row); windows that
   touch the border skip their outside taps as the reference does. */
#include "conv.h"
#include "dot.h"
#include "requant.h"

/* a window of at most this many bytes is gathered (im2col) when it touches the border or its
   kernel rows are short runs, so that the dot product runs over one contiguous run */
#define PATCH_BYTES 512
#define SHORT_RUN 16

/* acc[j] += row j . x over n items, for the `rows` rows of the block. */
static void dot_block(const int8_t *w, size_t stride, const int8_t *x, int32_t n, int32_t rows,
                      int32_t *acc) {
    int32_t j;
    if (rows == 4) {
        mnk_dot4(w, stride, x, n, acc);
        return;
    }
    for (j = 0; j < rows; ++j) {
        acc[j] = mnk_dot(w + (size_t)j * stride, x, n, acc[j]);
    }
}

/* acc[j] of a window that touches the border: its inside taps, with the zero point. */
static void border_window(const conv_plan *p, const int8_t *w, size_t stride, const int8_t *x,
                          int32_t y0, int32_t x0, int32_t rows, int32_t *acc) {
    const int32_t *g = p->g;
    int32_t in_c = g[IN_C], ky, kx, i, j;
    for (ky = 0; ky < g[K_H]; ++ky) {
        int32_t iy = y0 + ky * g[D_H];
        if (iy < 0 || iy >= g[IN_H]) {
            continue;
        }
        for (kx = 0; kx < g[K_W]; ++kx) {
            int32_t ix = x0 + kx * g[D_W];
            const int8_t *pixel = x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)in_c;
            const int8_t *tap = w + ((size_t)ky * (size_t)g[K_W] + (size_t)kx) * (size_t)in_c;
            if (ix < 0 || ix >= g[IN_W]) {
                continue;
            }
            for (j = 0; j < rows; ++j) {
                const int8_t *row = tap + (size_t)j * stride;
                int32_t s = acc[j];
                for (i = 0; i < in_c; ++i) {
                    s += (int32_t)row[i] * (pixel[i] - p->input_zp);
                }
                acc[j] = s;
            }
        }
    }
}

/* The window's input bytes in weight order; a tap outside the image holds the zero point, so that
   it adds w x zp, which the folded bias takes away again (the reference skips it). */
static void gather(const conv_plan *p, const int8_t *x, int32_t y0, int32_t x0, int8_t *patch) {
    const int32_t *g = p->g;
    int32_t in_c = g[IN_C], ky, kx, i;
    for (ky = 0; ky < g[K_H]; ++ky) {
        int32_t iy = y0 + ky * g[D_H];
        for (kx = 0; kx < g[K_W]; ++kx) {
            int32_t ix = x0 + kx * g[D_W];
            if (iy < 0 || iy >= g[IN_H] || ix < 0 || ix >= g[IN_W]) {
                for (i = 0; i < in_c; ++i) {
                    patch[i] = (int8_t)p->input_zp;
                }
            } else {
                const int8_t *pixel =
                    x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)in_c;
                for (i = 0; i < in_c; ++i) {
                    patch[i] = pixel[i];
                }
            }
            patch += in_c;
        }
    }
}

/* acc[j] of a window inside the image, zero point already folded into acc. */
static void inside_window(const conv_plan *p, const int8_t *w, size_t stride, const int8_t *x,
                          int32_t y0, int32_t x0, int32_t rows, int32_t *acc) {
    const int32_t *g = p->g;
    size_t in_c = (size_t)g[IN_C];
    size_t line = (size_t)g[K_W] * in_c; /* weights of one kernel row */
    int32_t ky, kx;
    for (ky = 0; ky < g[K_H]; ++ky) {
        size_t iy = (size_t)(y0 + ky * g[D_H]);
        const int8_t *pixel = x + (iy * (size_t)g[IN_W] + (size_t)x0) * in_c;
        const int8_t *tap = w + (size_t)ky * line;
        if (g[D_W] == 1) { /* the kernel row's taps are one run of input bytes */
            dot_block(tap, stride, pixel, (int32_t)line, rows, acc);
            continue;
        }
        for (kx = 0; kx < g[K_W]; ++kx) {
            dot_block(tap + (size_t)kx * in_c, stride, pixel + (size_t)(kx * g[D_W]) * in_c,
                      (int32_t)in_c, rows, acc);
        }
    }
}

void mnk_conv_rows(const conv_plan *p, const mnk_filter *f, const int8_t *rows, size_t stride,
                   const int8_t *x, int8_t *out, int32_t o0, int32_t count) {
    const int32_t *g = p->g;
    int32_t dot = g[K_H] * g[K_W] * g[IN_C];
    int32_t run = g[D_W] == 1 ? g[K_W] * g[IN_C] : g[IN_C];
    int gathers = dot <= PATCH_BYTES;
    int gathers_inside = gathers && g[K_H] * g[K_W] > 1 && run < SHORT_RUN;
    int8_t patch[PATCH_BYTES];
    int32_t o, oy, ox, j;
#if MNK_WIDE
    if (dot <= MNK_WIDE_TAPS) {
        mnk_conv_wide(p, f, rows, stride, x, out, o0, count);
        return;
    }
#endif
    for (o = o0; o < o0 + count; o += 4) {
        int32_t block = o0 + count - o < 4 ? o0 + count - o : 4;
        const int8_t *w = rows + (size_t)(o - o0) * stride;
        int32_t bias[4], folded[4], acc[4];
        mnk_requant rq[4];
        for (j = 0; j < block; ++j) {
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(o + j);
            bias[j] = f->bias[o + j];
            /* |zp x sum| <= 128 x 127 x dot < 2^30 (the bound), and so is the folded bias */
            folded[j] = bias[j] - p->input_zp * mnk_sum8(w + (size_t)j * stride, dot);
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (oy = 0; oy < g[OUT_H]; ++oy) {
            int32_t y0 = oy * g[S_H] - g[PAD_T];
            for (ox = 0; ox < g[OUT_W]; ++ox) {
                int32_t x0 = ox * g[S_W] - g[PAD_L];
                int8_t *y = out + ((size_t)oy * (size_t)g[OUT_W] + (size_t)ox) * (size_t)g[OUT_C];
                int inside = mnk_window_inside(p, y0, x0);
                if (gathers && (!inside || gathers_inside)) {
                    for (j = 0; j < block; ++j) {
                        acc[j] = folded[j];
                    }
                    gather(p, x, y0, x0, patch);
                    dot_block(w, stride, patch, dot, block, acc);
                } else if (inside) {
                    for (j = 0; j < block; ++j) {
                        acc[j] = folded[j];
                    }
                    inside_window(p, w, stride, x, y0, x0, block, acc);
                } else {
                    for (j = 0; j < block; ++j) {
                        acc[j] = bias[j];
                    }
                    border_window(p, w, stride, x, y0, x0, block, acc);
                }
                for (j = 0; j < block; ++j) {
                    int32_t v = mnk_requant_apply(acc[j], &rq[j]);
                    y[o + j] = mnk_store8(v, p->output_zp, p->act_min, p->act_max);
                }
            }
        }
    }
}
