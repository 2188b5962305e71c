/* FULLY_CONNECTED with int8, int4 or int2 weights, unpacked on the fly (docs/format.md). */
#include "common.h"

enum { IN_FEATURES, OUT_FEATURES, INPUT_ZERO_POINT, OUTPUT_ZERO_POINT, ACT_MIN, ACT_MAX };

/* bias + sum_d W[d] x[d] over a row starting at element k; |each partial sum| < 2^31. */
static int32_t dot(const uint8_t *w, int32_t bits, size_t k, const int8_t *x, int32_t n,
                   int32_t acc) {
    int32_t d;
    if (bits == 8) {
        const int8_t *row = (const int8_t *)w + k;
        for (d = 0; d < n; ++d) {
            acc += (int32_t)row[d] * x[d];
        }
    } else if (bits == 4) {
        for (d = 0; d < n; ++d, ++k) {
            uint8_t byte = w[k >> 1];
            int32_t nibble = (k & 1) ? (byte >> 4) : (byte & 0xF);
            acc += ((nibble ^ 8) - 8) * x[d];
        }
    } else {
        for (d = 0; d < n; ++d, ++k) {
            int32_t pair = (w[k >> 2] >> ((k & 3) << 1)) & 3;
            acc += ((pair ^ 2) - 2) * x[d];
        }
    }
    return acc;
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
    for (o = begin; o < end; ++o) {
        size_t r = filter->multiplier_count == 1 ? 0 : (size_t)o;
        int32_t acc = dot(filter->weights, filter->weight_bits, k, x, in, filter->bias[o]);
        int32_t v = mnk_mbqm(acc, filter->multiplier[r], filter->shift[r]);
        out[o] = mnk_clamp_offset(v, zero_point, act_min, act_max);
        k += (size_t)in;
    }
    return MNK_OK;
}
