/*
 * SOFTMAX over the last axis with the container's exp table (docs/format-ops/add-lut-softmax.md):
 * TFLM's reference kernel from the exps on, with gemmlowp's GetReciprocal. int32 sums wrap as
 * in the C++ (through mnk_wrap32).
 */
#include "common.h"

enum { ROWS, DEPTH };

#define MAX_DEPTH 2047
#define ACCUMULATION_BITS 12
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
    clz = mnk_leading_zeros((uint32_t)total);
    scale = mnk_one_over_one_plus_x(
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
