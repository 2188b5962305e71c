/* Internal to the convolution kernels: the geometry read from a layer's params (conv.c) and the
   fast paths that conv.c dispatches to (conv_rows.c, depthwise.c). */
#ifndef MICRONN_CONV_H
#define MICRONN_CONV_H

#include "common.h"
#include "requant.h"

enum {
    IN_H,
    IN_W,
    IN_C,
    OUT_H,
    OUT_W,
    OUT_C,
    K_H,
    K_W,
    S_H,
    S_W,
    D_H,
    D_W,
    PAD_T,
    PAD_L,
    GEOMETRY_COUNT
};

typedef struct {
    int32_t g[GEOMETRY_COUNT];
    int32_t multiplier; /* depthwise only */
    int32_t input_zp, output_zp, act_min, act_max;
    int depthwise;
} conv_plan;

/* 1 when every tap of the window starting at (y0, x0) lies inside the image. */
static inline int mnk_window_inside(const conv_plan *p, int32_t y0, int32_t x0) {
    const int32_t *g = p->g;
    return y0 >= 0 && x0 >= 0 && y0 + (g[K_H] - 1) * g[D_H] < g[IN_H] &&
           x0 + (g[K_W] - 1) * g[D_W] < g[IN_W];
}

/* CONV_2D output channels [o0, o0 + count) from int8 weight rows: channel o0 + j's weights
   (OHWI, kh x kw x in_c of them) start at rows + j x stride. */
void mnk_conv_rows(const conv_plan *p, const mnk_filter *f, const int8_t *rows, size_t stride,
                   const int8_t *x, int8_t *out, int32_t o0, int32_t count);

/* 64-bit machines multiply three output pixels at once in the 21-bit lanes of one int64
   (conv_wide.c, depthwise_wide.c): CONV_2D windows of at most MNK_WIDE_TAPS taps, depthwise
   windows of at most MNK_LANE_TAPS (the taps a lane holds) with depth multiplier 1 whose kernel
   rows of the input fit its buffer (mnk_depthwise_wide_fits). */
#if MNK_WIDE
#define MNK_WIDE_TAPS 256
#define MNK_LANES 3
#define MNK_LANE_BITS 21
#define MNK_LANE_TAPS 32 /* 32 x 128 x 255 < 2^20 */
#define MNK_LANE_MASK (((uint64_t)1 << MNK_LANE_BITS) - 1)
#define MNK_LANE_HALF ((int32_t)1 << (MNK_LANE_BITS - 1))
/* a sum's start: 2^20 in every lane, so that each lane is in 0 .. 2^21 - 1 */
#define MNK_LANE_BIAS (((uint64_t)1 << 20) + ((uint64_t)1 << 41) + ((uint64_t)1 << 62))
void mnk_conv_wide(const conv_plan *p, const mnk_filter *f, const int8_t *rows, size_t stride,
                   const int8_t *x, int8_t *out, int32_t o0, int32_t count);
int mnk_depthwise_wide_fits(const conv_plan *p);
void mnk_depthwise_wide(const conv_plan *p, const mnk_filter *f, const int8_t *w, const int8_t *x,
                        int8_t *out, int32_t begin, int32_t end);
#endif

/* DEPTHWISE_CONV_2D with int8 weights, output channels [begin, end):
   weight (tap, o) at w[tap x out_c + o - begin]. */
void mnk_depthwise_rows(const conv_plan *p, const mnk_filter *f, const int8_t *w, const int8_t *x,
                        int8_t *out, int32_t begin, int32_t end);

#endif
