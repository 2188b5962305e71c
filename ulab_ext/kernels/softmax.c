/*
 * SOFTMAX over the last axis with the container's exp table (docs/format-ops/add-lut-softmax.md):
 * TFLM's reference kernel from the exps on, with gemmlowp's GetReciprocal. int32 sums wrap as
 * in the C++ (through mnk_wrap32).
 */
#include "common.h"

enum { ROWS, DEPTH };

#define MAX_DEPTH 2047
#define ACCUMULATION_BITS 12
#define FORTY_EIGHT_SEVENTEENTHS 1515870810
#define MINUS_THIRTY_TWO_SEVENTEENTHS (-1010580540)
#define ONE_Q2 (1 << 29)

/* SaturatingRoundingMultiplyByPOT for exponent >= 0. */
static int32_t times_pot(int32_t x, int exponent) {
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return MNK_INT32_MAX;
    }
    if (x < -threshold) {
        return MNK_INT32_MIN;
    }
    return (int32_t)((int64_t)x * ((int64_t)1 << exponent));
}

static int32_t rounding_half_sum(int32_t a, int32_t b) {
    int64_t sum = (int64_t)a + b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out. */
static int32_t one_over_one_plus_x(int32_t a) {
    int i;
    int32_t half_denominator = rounding_half_sum(a, MNK_INT32_MAX);
    int32_t x = mnk_wrap32((int64_t)FORTY_EIGHT_SEVENTEENTHS +
                           mnk_srdhm(half_denominator, MINUS_THIRTY_TWO_SEVENTEENTHS));
    for (i = 0; i < 3; ++i) {
        int32_t product = mnk_srdhm(half_denominator, x);
        int32_t one_minus = mnk_wrap32((int64_t)ONE_Q2 - product);
        x = mnk_wrap32((int64_t)x + times_pot(mnk_srdhm(x, one_minus), 2));
    }
    return times_pot(x, 1);
}

static int leading_zeros(uint32_t v) {
    int n = 0;
    if (v == 0) {
        return 32;
    }
    while (!(v & 0x80000000u)) {
        v <<= 1;
        ++n;
    }
    return n;
}

static void softmax_row(const int32_t *exps, const int8_t *x, int8_t *out, int32_t depth) {
    int32_t c, top = x[0], total = 0, scale, exponent;
    int clz;
    for (c = 1; c < depth; ++c) {
        if (x[c] > top) {
            top = x[c];
        }
    }
    for (c = 0; c < depth; ++c) {
        total += mnk_rdbpot(exps[top - x[c]], ACCUMULATION_BITS); /* each term <= 2^19 */
    }
    clz = leading_zeros((uint32_t)total);
    scale = one_over_one_plus_x(
        mnk_wrap32((int64_t)(uint32_t)((uint64_t)(uint32_t)total << clz) - ((int64_t)1 << 31)));
    exponent = (ACCUMULATION_BITS - clz) + 31 - 8;
    for (c = 0; c < depth; ++c) {
        int32_t v = 0;
        if (exponent <= 31) {
            v = mnk_rdbpot(mnk_srdhm(scale, exps[top - x[c]]), exponent);
        }
        out[c] = mnk_clamp_offset(v, -128, -128, 127);
    }
}

mnk_status mnk_softmax(const int32_t *params, size_t param_count, const int32_t *exp_table,
                       size_t exp_len, const int8_t *x, size_t x_len, int8_t *out, size_t out_len) {
    int32_t r;
    size_t i;
    if (param_count != MNK_SOFTMAX_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (params[ROWS] < 1 || params[DEPTH] < 1 || params[DEPTH] > MAX_DEPTH) {
        return MNK_BAD_PARAMS;
    }
    if (exp_len != MNK_TABLE_SIZE) {
        return MNK_BAD_TABLE;
    }
    for (i = 0; i < exp_len; ++i) {
        if (exp_table[i] < 0) {
            return MNK_BAD_TABLE;
        }
    }
    if (x_len != (uint64_t)params[ROWS] * (uint64_t)params[DEPTH]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != x_len) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (r = 0; r < params[ROWS]; ++r) {
        size_t start = (size_t)r * (size_t)params[DEPTH];
        softmax_row(exp_table, x + start, out + start, params[DEPTH]);
    }
    return MNK_OK;
}
