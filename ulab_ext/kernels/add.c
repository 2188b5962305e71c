/* ADD of two int8 tensors with input rescaling (TFLM AddFunc; docs/format-ops/add-lut-softmax.md).
 */
#include "common.h"
#include "requant.h"

enum {
    SIZE,
    OFFSET1,
    OFFSET2,
    OUTPUT_OFFSET,
    LEFT_SHIFT,
    MULTIPLIER1,
    SHIFT1,
    MULTIPLIER2,
    SHIFT2,
    OUTPUT_MULTIPLIER,
    OUTPUT_SHIFT,
    ACT_MIN,
    ACT_MAX
};

static int scale_ok(int32_t multiplier, int32_t shift) {
    return mnk_requant_ok(multiplier, shift) && shift <= 0;
}

mnk_status mnk_add(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    const int32_t *p = params;
    size_t i;
    mnk_requant r1, r2, ro;
    if (param_count != MNK_ADD_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (p[SIZE] < 1 || p[OFFSET1] < -127 || p[OFFSET1] > 128 || p[OFFSET2] < -127 ||
        p[OFFSET2] > 128 || !mnk_is_int8(p[OUTPUT_OFFSET]) || p[LEFT_SHIFT] < 0 ||
        p[LEFT_SHIFT] > 20 || !scale_ok(p[MULTIPLIER1], p[SHIFT1]) ||
        !scale_ok(p[MULTIPLIER2], p[SHIFT2]) || !scale_ok(p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]) ||
        !mnk_is_clamp(p[ACT_MIN], p[ACT_MAX])) {
        return MNK_BAD_PARAMS;
    }
    if (a_len != (size_t)p[SIZE]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (b_len != (size_t)p[SIZE]) {
        return MNK_BAD_INPUT2_SIZE;
    }
    if (out_len != (size_t)p[SIZE]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    /* every shift <= 0: mnk_requant_apply holds for |value| < 2^30, and |(q + offset) x 2^20|
       <= 2^28, each multiplier is below one, so each scaled input and their sum is below 2^29 */
    r1 = mnk_requant_of(p[MULTIPLIER1], p[SHIFT1]);
    r2 = mnk_requant_of(p[MULTIPLIER2], p[SHIFT2]);
    ro = mnk_requant_of(p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]);
    for (i = 0; i < (size_t)p[SIZE]; ++i) {
        int32_t x1 = (a[i] + p[OFFSET1]) * ((int32_t)1 << p[LEFT_SHIFT]);
        int32_t x2 = (b[i] + p[OFFSET2]) * ((int32_t)1 << p[LEFT_SHIFT]);
        int32_t sum = mnk_requant_apply(x1, &r1) + mnk_requant_apply(x2, &r2);
        int32_t v = mnk_requant_apply(sum, &ro);
        out[i] = mnk_store8(v, p[OUTPUT_OFFSET], p[ACT_MIN], p[ACT_MAX]);
    }
    return MNK_OK;
}
