/* FULLY_CONNECTED with int8, int4 or int2 weights (docs/format.md): four output rows at a time
   against the same input (dot.h); int4 / int2 rows unpacked a segment at a time. */
#include "common.h"
#include "dot.h"
#include "requant.h"

enum { IN_FEATURES, OUT_FEATURES, INPUT_ZERO_POINT, OUTPUT_ZERO_POINT, ACT_MIN, ACT_MAX };

/* int4 / int2 rows are unpacked SEGMENT weights at a time, four rows into 4 x SEGMENT bytes */
#define SEGMENT 256

/* acc[j] = bias + row j . x for the `rows` (1..4) rows from element k on, row after row. */
static void dot_rows(const mnk_filter *f, size_t k, const int8_t *x, int32_t n, int32_t rows,
                     int32_t *acc) {
    int32_t j, at;
    if (f->weight_bits == 8) {
        const int8_t *w = (const int8_t *)f->weights + k;
        if (rows == 4) {
            mnk_dot4(w, (size_t)n, x, n, acc);
            return;
        }
        for (j = 0; j < rows; ++j) {
            acc[j] = mnk_dot(w + (size_t)j * (size_t)n, x, n, acc[j]);
        }
        return;
    }
    for (at = 0; at < n; at += SEGMENT) {
        int8_t unpacked[4 * SEGMENT];
        int32_t length = n - at < SEGMENT ? n - at : SEGMENT;
        for (j = 0; j < rows; ++j) {
            size_t first = k + (size_t)j * (size_t)n + (size_t)at;
            mnk_unpack(f->weights, f->weight_bits, first, length, unpacked + j * SEGMENT);
        }
        if (rows == 4) {
            mnk_dot4(unpacked, SEGMENT, x + at, length, acc);
            continue;
        }
        for (j = 0; j < rows; ++j) {
            acc[j] = mnk_dot(unpacked + j * SEGMENT, x + at, length, acc[j]);
        }
    }
}

mnk_status mnk_fully_connected(const int32_t *params, size_t param_count, const mnk_filter *filter,
                               const int8_t *x, size_t x_len, int8_t *out, size_t out_len,
                               int32_t begin, int32_t end) {
    int32_t in, channels, zero_point, act_min, act_max, o;
    uint64_t first = filter->weights_first;
    size_t k;
    mnk_status status;
    if (param_count != MNK_FULLY_CONNECTED_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    in = params[IN_FEATURES];
    channels = params[OUT_FEATURES];
    zero_point = params[OUTPUT_ZERO_POINT];
    act_min = params[ACT_MIN];
    act_max = params[ACT_MAX];
    if (in < 1 || channels < 1 || !mnk_is_int8(params[INPUT_ZERO_POINT]) ||
        !mnk_is_int8(zero_point) || !mnk_is_clamp(act_min, act_max)) {
        return MNK_BAD_PARAMS;
    }
    if (x_len != (size_t)in) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (size_t)channels) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (begin < 0 || begin > end || end > channels) {
        return MNK_BAD_CHANNELS;
    }
    if ((uint64_t)in * 128 >= MNK_DOT_LIMIT) {
        return MNK_BAD_BOUND;
    }
    if (filter->weights_first == MNK_WHOLE_TENSOR) {
        first = (uint64_t)begin * (uint64_t)in; /* < 2^62 */
    }
    status = mnk_check_filter(filter, first, channels, begin, end,
                              (uint64_t)in * (uint64_t)(end - begin), (uint64_t)in * 128);
    if (status != MNK_OK) {
        return status;
    }
    k = (size_t)first; /* every weight index fits a size_t (mnk_check_filter) */
    for (o = begin; o < end; o += 4) {
        int32_t rows = end - o < 4 ? end - o : 4, j;
        int32_t acc[4];
        for (j = 0; j < rows; ++j) {
            acc[j] = filter->bias[o + j];
        }
        dot_rows(filter, k, x, in, rows, acc);
        for (j = 0; j < rows; ++j) {
            size_t r = filter->multiplier_count == 1 ? 0 : (size_t)(o + j);
            mnk_requant rq = mnk_requant_of(filter->multiplier[r], filter->shift[r]);
            out[o + j] = mnk_store8(mnk_requant_apply(acc[j], &rq), zero_point, act_min, act_max);
        }
        k += (size_t)in * (size_t)rows;
    }
    return MNK_OK;
}
