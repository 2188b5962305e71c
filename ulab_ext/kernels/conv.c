/* CONV_2D and DEPTHWISE_CONV_2D (docs/format-ops/conv-pool.md): taps outside the image skipped.
   The params and buffers are checked here; int8 CONV_2D (and int4 / int2 rows unpacked a block
   of channels at a time) runs in conv_rows.c, int8 DEPTHWISE_CONV_2D in depthwise.c, and every
   other case in the general loop below. */
#include "conv.h"
#include "requant.h"

/* int4 / int2 CONV_2D rows are unpacked into this many bytes of stack, four channels at a time */
#define UNPACK_BYTES 1024

#define MAX_DIM 65535
#define SPAN ((int64_t)1 << 30)

static mnk_status read_params(const int32_t *params, size_t param_count, int depthwise,
                              conv_plan *p) {
    int i;
    size_t tail = depthwise ? 15 : 14;
    if (param_count != (depthwise ? MNK_DEPTHWISE_CONV_2D_PARAMS : MNK_CONV_2D_PARAMS)) {
        return MNK_BAD_PARAM_COUNT;
    }
    for (i = 0; i < GEOMETRY_COUNT; ++i) {
        p->g[i] = params[i];
        if (p->g[i] < (i >= PAD_T ? 0 : 1) || p->g[i] > MAX_DIM) {
            return MNK_BAD_PARAMS;
        }
    }
    p->depthwise = depthwise;
    p->multiplier = depthwise ? params[14] : 1;
    p->input_zp = params[tail];
    p->output_zp = params[tail + 1];
    p->act_min = params[tail + 2];
    p->act_max = params[tail + 3];
    if (!mnk_is_int8(p->input_zp) || !mnk_is_int8(p->output_zp) ||
        !mnk_is_clamp(p->act_min, p->act_max)) {
        return MNK_BAD_PARAMS;
    }
    /* (k - 1) x d + 1 reaches 2^32 - 2^17 + 1: 64 bits */
    if (p->g[PAD_T] >= (int64_t)(p->g[K_H] - 1) * p->g[D_H] + 1 ||
        p->g[PAD_L] >= (int64_t)(p->g[K_W] - 1) * p->g[D_W] + 1) {
        return MNK_BAD_PARAMS;
    }
    /* every window coordinate, in or out of the image, fits easily in an int32 */
    if ((int64_t)(p->g[OUT_H] - 1) * p->g[S_H] + (int64_t)(p->g[K_H] - 1) * p->g[D_H] > SPAN ||
        (int64_t)(p->g[OUT_W] - 1) * p->g[S_W] + (int64_t)(p->g[K_W] - 1) * p->g[D_W] > SPAN) {
        return MNK_BAD_PARAMS;
    }
    if (depthwise && (p->multiplier < 1 || (int64_t)p->g[IN_C] * p->multiplier != p->g[OUT_C])) {
        return MNK_BAD_PARAMS;
    }
    return MNK_OK;
}

/* The general loop: acc + the window's inside taps of one output (channel `channel` of the input
   for DEPTHWISE_CONV_2D), weights read one element at a time. */
static int32_t accumulate(const conv_plan *p, const mnk_filter *f, const int8_t *x, size_t w0,
                          int32_t channel, int32_t oy, int32_t ox, int32_t acc) {
    const int32_t *g = p->g;
    int32_t ky, kx, i;
    int32_t y0 = oy * g[S_H] - g[PAD_T];
    int32_t x0 = ox * g[S_W] - g[PAD_L];
    for (ky = 0; ky < g[K_H]; ++ky) {
        int32_t iy = y0 + ky * g[D_H];
        if (iy < 0 || iy >= g[IN_H]) {
            continue;
        }
        for (kx = 0; kx < g[K_W]; ++kx) {
            int32_t ix = x0 + kx * g[D_W];
            const int8_t *pixel;
            size_t tap = (size_t)ky * (size_t)g[K_W] + (size_t)kx;
            if (ix < 0 || ix >= g[IN_W]) {
                continue;
            }
            pixel = x + ((size_t)iy * (size_t)g[IN_W] + (size_t)ix) * (size_t)g[IN_C];
            if (p->depthwise) {
                size_t k = w0 + tap * (size_t)g[OUT_C];
                acc += mnk_weight(f->weights, f->weight_bits, k) * (pixel[channel] - p->input_zp);
            } else {
                size_t k = w0 + tap * (size_t)g[IN_C];
                for (i = 0; i < g[IN_C]; ++i) {
                    acc += mnk_weight(f->weights, f->weight_bits, k + (size_t)i) *
                           (pixel[i] - p->input_zp);
                }
            }
        }
    }
    return acc;
}

static mnk_status convolve(const int32_t *params, size_t param_count, int depthwise,
                           const mnk_filter *filter, const int8_t *x, size_t x_len, int8_t *out,
                           size_t out_len, int32_t begin, int32_t end) {
    conv_plan p;
    const mnk_filter *f = filter;
    uint64_t first = filter->weights_first;
    const int32_t *g = p.g;
    uint64_t taps, dot, elements;
    int32_t o, oy, ox;
    mnk_status status = read_params(params, param_count, depthwise, &p);
    if (status != MNK_OK) {
        return status;
    }
    if (x_len != (uint64_t)g[IN_H] * (uint64_t)g[IN_W] * (uint64_t)g[IN_C]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (uint64_t)g[OUT_H] * (uint64_t)g[OUT_W] * (uint64_t)g[OUT_C]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (begin < 0 || begin > end || end > g[OUT_C]) {
        return MNK_BAD_CHANNELS;
    }
    taps = (uint64_t)g[K_H] * (uint64_t)g[K_W];
    dot = taps * (depthwise ? 1 : (uint64_t)g[IN_C]);
    if (dot * 255 >= MNK_DOT_LIMIT) {
        return MNK_BAD_BOUND;
    }
    if (filter->weights_first == MNK_WHOLE_TENSOR) {
        first = depthwise ? (uint64_t)begin : (uint64_t)begin * dot; /* < 2^46 */
    }
    if (depthwise) {
        elements = begin == end ? 0 : (taps - 1) * (uint64_t)g[OUT_C] + (uint64_t)(end - begin);
    } else {
        elements = dot * (uint64_t)(end - begin);
    }
    status = mnk_check_filter(f, first, g[OUT_C], begin, end, elements, dot * 255);
    if (status != MNK_OK) {
        return status;
    }
    if (!depthwise && f->weight_bits == 8) {
        mnk_conv_rows(&p, f, (const int8_t *)f->weights + (size_t)first, (size_t)dot, x, out, begin,
                      end - begin);
        return MNK_OK;
    }
    if (depthwise && f->weight_bits == 8) {
        mnk_depthwise_rows(&p, f, (const int8_t *)f->weights + (size_t)first, x, out, begin, end);
        return MNK_OK;
    }
    if (!depthwise && dot * 4 <= UNPACK_BYTES) {
        int8_t rows[UNPACK_BYTES];
        for (o = begin; o < end; o += 4) {
            int32_t block = end - o < 4 ? end - o : 4, j;
            for (j = 0; j < block; ++j) {
                size_t k = (size_t)first + (size_t)(o - begin + j) * (size_t)dot;
                mnk_unpack(f->weights, f->weight_bits, k, (int32_t)dot, rows + (size_t)j * dot);
            }
            mnk_conv_rows(&p, f, rows, (size_t)dot, x, out, o, block);
        }
        return MNK_OK;
    }
    for (o = begin; o < end; ++o) {
        size_t r = f->multiplier_count == 1 ? 0 : (size_t)o;
        mnk_requant rq = mnk_requant_of(f->multiplier[r], f->shift[r]);
        /* every weight index fits a size_t (mnk_check_filter) */
        size_t w0 = (size_t)first + (size_t)(o - begin) * (depthwise ? 1 : (size_t)dot);
        int8_t *y = out + o;
        int32_t channel = depthwise ? o / p.multiplier : 0;
        for (oy = 0; oy < g[OUT_H]; ++oy) {
            for (ox = 0; ox < g[OUT_W]; ++ox) {
                int32_t acc = accumulate(&p, f, x, w0, channel, oy, ox, f->bias[o]);
                *y = mnk_store8(mnk_requant_apply(acc, &rq), p.output_zp, p.act_min, p.act_max);
                y += g[OUT_C];
            }
        }
    }
    return MNK_OK;
}

mnk_status mnk_conv_2d(const int32_t *params, size_t param_count, const mnk_filter *filter,
                       const int8_t *x, size_t x_len, int8_t *out, size_t out_len, int32_t begin,
                       int32_t end) {
    return convolve(params, param_count, 0, filter, x, x_len, out, out_len, begin, end);
}

mnk_status mnk_depthwise_conv_2d(const int32_t *params, size_t param_count,
                                 const mnk_filter *filter, const int8_t *x, size_t x_len,
                                 int8_t *out, size_t out_len, int32_t begin, int32_t end) {
    return convolve(params, param_count, 1, filter, x, x_len, out, out_len, begin, end);
}
