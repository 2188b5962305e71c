/* DEPTHWISE_CONV_2D with int8 weights, four output channels at a time: the channels of one tap's
   weights are adjacent bytes, and so are the input channels they read when the depth multiplier
   is 1. For a window inside the image the input zero point is folded into the bias once per
   channel; a window that touches the border runs only its inside taps, as the reference does. */
#include "conv.h"
#include "requant.h"

/* [first, end) of the taps k with 0 <= origin + k x step < size */
static void tap_range(int32_t origin, int32_t step, int32_t taps, int32_t size, int32_t *first,
                      int32_t *end) {
    int32_t a = 0, b = taps;
    while (a < b && origin + a * step < 0) {
        ++a;
    }
    while (b > a && origin + (b - 1) * step >= size) {
        --b;
    }
    *first = a;
    *end = b;
}

void mnk_depthwise_rows(const conv_plan *p, const mnk_filter *f, const int8_t *w, const int8_t *x,
                        int8_t *out, int32_t begin, int32_t end) {
    const int32_t *g = p->g;
    size_t c = (size_t)g[OUT_C], in_c = (size_t)g[IN_C];
    size_t row = (size_t)g[IN_W] * in_c;
    int32_t taps = g[K_H] * g[K_W];
    int32_t o, oy, ox, ky, kx, j, t;
#if MNK_WIDE
    if (p->multiplier == 1 && taps <= MNK_LANE_TAPS && mnk_depthwise_wide_fits(p)) {
        mnk_depthwise_wide(p, f, w, x, out, begin, end);
        return;
    }
#endif
    for (o = begin; o < end; o += 4) {
        int32_t block = end - o < 4 ? end - o : 4;
        const int8_t *wo = w + (o - begin);
        int32_t bias[4], folded[4];
        size_t at[4];   /* input channel of each output channel, from the block's first */
        size_t lane[4]; /* its weight, from the block's first; a missing channel reads lane 0 */
        size_t channel = (size_t)(o / p->multiplier);
        mnk_requant rq[4];
        for (j = 0; j < 4; ++j) {
            int32_t k = j < block ? j : 0; /* missing channels repeat the first; not stored */
            size_t r = f->multiplier_count == 1 ? 0 : (size_t)(o + k);
            int32_t sum = 0;
            for (t = 0; t < taps; ++t) {
                sum += wo[(size_t)t * c + (size_t)k];
            }
            at[j] = (size_t)((o + k) / p->multiplier) - channel;
            lane[j] = (size_t)k;
            bias[j] = f->bias[o + k];
            folded[j] = bias[j] - p->input_zp * sum;
            rq[j] = mnk_requant_of(f->multiplier[r], f->shift[r]);
        }
        for (oy = 0; oy < g[OUT_H]; ++oy) {
            int32_t y0 = oy * g[S_H] - g[PAD_T], ky0, ky1;
            tap_range(y0, g[D_H], g[K_H], g[IN_H], &ky0, &ky1);
            for (ox = 0; ox < g[OUT_W]; ++ox) {
                int32_t x0 = ox * g[S_W] - g[PAD_L], kx0, kx1;
                int8_t *y = out + ((size_t)oy * (size_t)g[OUT_W] + (size_t)ox) * c + o;
                int inside;
                int32_t zp, a0, a1, a2, a3;
                tap_range(x0, g[D_W], g[K_W], g[IN_W], &kx0, &kx1);
                inside = ky1 - ky0 == g[K_H] && kx1 - kx0 == g[K_W];
                zp = inside ? 0 : p->input_zp;
                a0 = inside ? folded[0] : bias[0];
                a1 = inside ? folded[1] : bias[1];
                a2 = inside ? folded[2] : bias[2];
                a3 = inside ? folded[3] : bias[3];
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *line = x + (size_t)(y0 + ky * g[D_H]) * row + channel;
                    const int8_t *wt = wo + (size_t)ky * (size_t)g[K_W] * c;
                    for (kx = kx0; kx < kx1; ++kx) {
                        const int8_t *px = line + (size_t)(x0 + kx * g[D_W]) * in_c;
                        const int8_t *wk = wt + (size_t)kx * c;
                        a0 += (int32_t)wk[0] * (px[at[0]] - zp);
                        a1 += (int32_t)wk[lane[1]] * (px[at[1]] - zp);
                        a2 += (int32_t)wk[lane[2]] * (px[at[2]] - zp);
                        a3 += (int32_t)wk[lane[3]] * (px[at[3]] - zp);
                    }
                }
                y[0] =
                    mnk_store8(mnk_requant_apply(a0, &rq[0]), p->output_zp, p->act_min, p->act_max);
                if (block > 1) {
                    y[1] = mnk_store8(mnk_requant_apply(a1, &rq[1]), p->output_zp, p->act_min,
                                      p->act_max);
                }
                if (block > 2) {
                    y[2] = mnk_store8(mnk_requant_apply(a2, &rq[2]), p->output_zp, p->act_min,
                                      p->act_max);
                }
                if (block > 3) {
                    y[3] = mnk_store8(mnk_requant_apply(a3, &rq[3]), p->output_zp, p->act_min,
                                      p->act_max);
                }
            }
        }
    }
}
