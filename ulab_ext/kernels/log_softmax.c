/*
 * LOG_SOFTMAX over the last axis with the container's exp table (docs/format.md, "21
 * LOG_SOFTMAX"): TFLM's LogSoftmaxQuantized from the exps on, with TFLite's
 * log_x_for_x_greater_than_or_equal_to_1<5> (kernels/internal/common.h). The kernel reads the
 * exp table only; the diff and limit tables serve the 31-bit python kernel. int32 sums wrap as
 * in the C++ (through mnk_wrap32).
 */
#include "common.h"

enum { ROWS, DEPTH, INPUT_MULTIPLIER, INPUT_LEFT_SHIFT, REVERSE_DIVISOR, REVERSE_SHIFT, DIFF_MIN };

#define MAX_DEPTH 2047
#define ACCUMULATION_BITS 12
#define LOG_2 1488522236
#define SQRT_SQRT_HALF 1805811301
#define SQRT_HALF 1518500250
#define ONE_QUARTER 536870912
#define ALPHA_N 117049297
#define ALPHA_D 127690142
#define ALPHA_I 1057819769
#define ALPHA_F 638450708

static int32_t saturate(int64_t v) {
    return v > MNK_INT32_MAX ? MNK_INT32_MAX : v < MNK_INT32_MIN ? MNK_INT32_MIN : (int32_t)v;
}

/* log_x_for_x_greater_than_or_equal_to_1_impl<5, 12>(total).raw() */
static int32_t log_q5(int32_t total) {
    const int32_t quarter = ONE_QUARTER >> 6; /* Rescale<6>(1/4) */
    int headroom_a = mnk_leading_zeros((uint32_t)total), headroom_b;
    int32_t r_a = mnk_times_pot(mnk_srdhm(mnk_times_pot(total, headroom_a - 1), SQRT_HALF), 1);
    int32_t pow_a = saturate((int64_t)mnk_times_pot(12 - headroom_a, 25) + quarter);
    int32_t z_b = mnk_srdhm(total, SQRT_HALF), r_b, pow_b, r, power, p, q, common_sq, num;
    int32_t inner, denominator, scaled, sum;
    headroom_b = mnk_leading_zeros((uint32_t)z_b) - 1;
    r_b = mnk_times_pot(total, headroom_b);
    pow_b = saturate((int64_t)mnk_times_pot(12 - headroom_b, 25) - quarter);
    r = r_a < r_b ? r_a : r_b;
    power = pow_a > pow_b ? pow_a : pow_b;
    p = mnk_rounding_half_sum(r, SQRT_SQRT_HALF);
    q = mnk_wrap32((int64_t)r - SQRT_SQRT_HALF);
    q = mnk_wrap32((int64_t)q + q);
    common_sq = mnk_srdhm(q, q);
    num = mnk_wrap32((int64_t)mnk_srdhm(q, r) + mnk_srdhm(mnk_srdhm(q, common_sq), ALPHA_N));
    inner = mnk_wrap32(mnk_wrap32((int64_t)ALPHA_I + q) + (int64_t)mnk_srdhm(ALPHA_D, common_sq));
    denominator = mnk_wrap32((int64_t)mnk_srdhm(p, inner) + mnk_srdhm(ALPHA_F, q));
    scaled = mnk_rdbpot(num, 6);
    sum = mnk_wrap32((int64_t)mnk_srdhm(power, LOG_2) +
                     mnk_srdhm(scaled, mnk_one_over_one_plus_x(denominator)));
    return mnk_times_pot(sum, 1);
}

static void log_softmax_row(const int32_t *params, const int32_t *exps, const int8_t *x,
                            int8_t *out) {
    int32_t c, depth = params[DEPTH], top = x[0], total = 0, log_value, limit, adjusted;
    for (c = 1; c < depth; ++c) {
        if (x[c] > top) {
            top = x[c];
        }
    }
    for (c = 0; c < depth; ++c) {
        total = mnk_wrap32((int64_t)total + mnk_rdbpot(exps[top - x[c]], ACCUMULATION_BITS));
    }
    log_value = log_q5(total);
    limit = mnk_rdbpot(
        mnk_srdhm(mnk_wrap32((int64_t)log_value + MNK_INT32_MIN), params[REVERSE_DIVISOR]),
        (int)params[REVERSE_SHIFT]);
    adjusted = params[DIFF_MIN] - 1 > limit ? params[DIFF_MIN] - 1 : limit;
    for (c = 0; c < depth; ++c) {
        int32_t diff = x[c] - top;
        if (diff > adjusted) {
            /* diff >= diff_min: |diff| x 2^left_shift <= 31 x 2^26 */
            int32_t scaled = mnk_srdhm((int32_t)(diff * ((int64_t)1 << params[INPUT_LEFT_SHIFT])),
                                       params[INPUT_MULTIPLIER]);
            int32_t v = mnk_rdbpot(mnk_wrap32((int64_t)scaled - log_value), 31 - 5 - 4);
            out[c] = mnk_clamp_offset(v, 127, -128, 127);
        } else {
            out[c] = -128;
        }
    }
}

mnk_status mnk_log_softmax(const int32_t *params, size_t param_count, const int32_t *exp_table,
                           size_t exp_len, const int8_t *x, size_t x_len, int8_t *out,
                           size_t out_len) {
    int32_t r;
    size_t i;
    if (param_count != MNK_LOG_SOFTMAX_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (params[ROWS] < 1 || params[DEPTH] < 1 || params[DEPTH] > MAX_DEPTH ||
        params[INPUT_MULTIPLIER] < (1 << 30) || params[INPUT_LEFT_SHIFT] < 1 ||
        params[INPUT_LEFT_SHIFT] > 31 || params[REVERSE_DIVISOR] < (1 << 30) ||
        params[REVERSE_SHIFT] < 0 || params[REVERSE_SHIFT] > 31 ||
        params[DIFF_MIN] != -((31 << 26) >> params[INPUT_LEFT_SHIFT])) {
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
        log_softmax_row(params, exp_table, x + start, out + start);
    }
    return MNK_OK;
}
