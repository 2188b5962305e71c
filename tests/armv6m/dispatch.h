/* One golden case (golden_case.h) through its kernel: shared by tests/armv6m/runner.c and the
   instruction-count benchmark (tools/bench_icount/bench.c). Include after golden_case.h. */
#ifndef MICRONN_DISPATCH_H
#define MICRONN_DISPATCH_H

#include "golden_case.h"
#include "micronn_kernels.h"

static mnk_status run_filter(const golden_case *c, const int8_t *x, int8_t *out, int32_t begin,
                             int32_t end) {
    mnk_filter f;
    size_t per_byte = (size_t)(8 / c->bits);
    size_t start = c->op == 3 ? (size_t)begin : (size_t)begin * c->per_channel;
    size_t first_byte = start / per_byte;
    f.weights = c->weights + first_byte; /* a chunk that starts anywhere, as if streamed */
    f.weights_bytes = c->weights_bytes - first_byte;
    f.weights_first = start - first_byte * per_byte;
    f.weight_bits = c->bits;
    f.bias = c->bias;
    f.bias_count = c->bias_count;
    f.multiplier = c->multiplier;
    f.multiplier_count = c->multiplier_count;
    f.shift = c->shift;
    f.shift_count = c->multiplier_count;
    if (c->op == 1) {
        return mnk_fully_connected(c->params, c->param_count, &f, x, c->in_len, out, c->out_len,
                                   begin, end);
    }
    if (c->op == 2) {
        return mnk_conv_2d(c->params, c->param_count, &f, x, c->in_len, out, c->out_len, begin,
                           end);
    }
    return mnk_depthwise_conv_2d(c->params, c->param_count, &f, x, c->in_len, out, c->out_len,
                                 begin, end);
}

static mnk_status run_case(const golden_case *c, int sample, int8_t *out) {
    const int8_t *x = c->a + (size_t)sample * c->in_len;
    const int8_t *b = c->b ? c->b + (size_t)sample * c->b_len : 0;
    size_t k;
    mnk_status status = MNK_OK;
    switch (c->op) {
    case 1:
    case 2:
    case 3:
        for (k = 0; k + 1 < c->chunk_count && status == MNK_OK; ++k) {
            status = run_filter(c, x, out, c->chunks[k], c->chunks[k + 1]);
        }
        return status;
    case 4:
        return mnk_max_pool_2d(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 5:
        return mnk_average_pool_2d(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 6:
        return mnk_mean(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 7:
        return mnk_add(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 11:
        return mnk_mul(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 40:
        return mnk_resize_nearest_neighbor(c->params, c->param_count, x, c->in_len, out,
                                           c->out_len);
    case 41:
        return mnk_resize_bilinear(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 42:
        return mnk_reduce_max(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 43:
        return mnk_mean_axes(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 44:
        return mnk_sum(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 30:
        return mnk_concatenation(c->params, c->param_count, x, c->in_len, b, c->b_len, out,
                                 c->out_len);
    case 31:
        return mnk_pad(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 32:
        return mnk_transpose(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 33:
        return mnk_strided_slice(c->params, c->param_count, x, c->in_len, out, c->out_len);
    case 13:
        return mnk_sub(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 14:
        return mnk_add_broadcast(c->params, c->param_count, x, c->in_len, b, c->b_len, out,
                                 c->out_len);
    case 15:
        return mnk_maximum(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 16:
        return mnk_minimum(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 17:
        return mnk_prelu(c->params, c->param_count, x, c->in_len, b, c->b_len, out, c->out_len);
    case 8:
    case 9:
    case 20:
        return mnk_lookup(c->params, c->param_count, c->table, MNK_TABLE_SIZE, x, c->in_len, out,
                          c->out_len);
    case 21:
        return mnk_log_softmax(c->params, c->param_count, c->exp, MNK_TABLE_SIZE, x, c->in_len, out,
                               c->out_len);
    default:
        return mnk_softmax(c->params, c->param_count, c->exp, MNK_TABLE_SIZE, x, c->in_len, out,
                           c->out_len);
    }
}

#endif
