/* MUL of two int8 tensors with broadcasting (TFLM MulElementwise / BroadcastMul6DSlow;
 * host_tools/micronn/ops/mul.py). The output is walked as 4 dims; each input advances by its
 * own stride per dim, 0 where it is broadcast. */
#include "common.h"

enum {
    DIM0,
    STRIDE1_0 = DIM0 + 4,
    STRIDE2_0 = STRIDE1_0 + 4,
    ZERO_POINT1 = STRIDE2_0 + 4,
    ZERO_POINT2,
    OUTPUT_ZERO_POINT,
    OUTPUT_MULTIPLIER,
    OUTPUT_SHIFT,
    ACT_MIN,
    ACT_MAX
};

#define MAX_DIM 0xFFFF
#define MAX_STRIDE (1 << 24)
#define MAX_LEFT_SHIFT 14 /* 255 x 255 x 2^14 < 2^30 */

/* The last element the strides reach, or -1 when a dim or stride is out of range. */
static int64_t reach(const int32_t *dims, const int32_t *strides) {
    int64_t last = 0;
    int k;
    for (k = 0; k < 4; ++k) {
        if (dims[k] < 1 || dims[k] > MAX_DIM || strides[k] < 0 || strides[k] >= MAX_STRIDE) {
            return -1;
        }
        last += (int64_t)(dims[k] - 1) * strides[k];
    }
    return last;
}

mnk_status mnk_mul(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    const int32_t *p = params;
    const int32_t *dims = p + DIM0;
    const int32_t *s1 = p + STRIDE1_0;
    const int32_t *s2 = p + STRIDE2_0;
    int64_t reach1, reach2;
    int32_t i0, i1, i2, i3;
    size_t i = 0;
    if (param_count != MNK_MUL_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    reach1 = reach(dims, s1);
    reach2 = reach(dims, s2);
    if (reach1 < 0 || reach2 < 0 || !mnk_is_int8(p[ZERO_POINT1]) || !mnk_is_int8(p[ZERO_POINT2]) ||
        !mnk_is_int8(p[OUTPUT_ZERO_POINT]) ||
        !mnk_requant_ok(p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]) ||
        p[OUTPUT_SHIFT] > MAX_LEFT_SHIFT || !mnk_is_clamp(p[ACT_MIN], p[ACT_MAX])) {
        return MNK_BAD_PARAMS;
    }
    if ((uint64_t)reach1 >= a_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    if ((uint64_t)reach2 >= b_len) {
        return MNK_BAD_INPUT2_SIZE;
    }
    if (out_len != (uint64_t)dims[0] * (uint64_t)dims[1] * (uint64_t)dims[2] * (uint64_t)dims[3]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (i0 = 0; i0 < dims[0]; ++i0) {
        for (i1 = 0; i1 < dims[1]; ++i1) {
            for (i2 = 0; i2 < dims[2]; ++i2) {
                size_t j1 = (size_t)i0 * s1[0] + (size_t)i1 * s1[1] + (size_t)i2 * s1[2];
                size_t j2 = (size_t)i0 * s2[0] + (size_t)i1 * s2[1] + (size_t)i2 * s2[2];
                for (i3 = 0; i3 < dims[3]; ++i3) {
                    int32_t product = (a[j1] - p[ZERO_POINT1]) * (b[j2] - p[ZERO_POINT2]);
                    int32_t v = mnk_mbqm(product, p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]);
                    out[i++] = mnk_clamp_offset(v, p[OUTPUT_ZERO_POINT], p[ACT_MIN], p[ACT_MAX]);
                    j1 += (size_t)s1[3];
                    j2 += (size_t)s2[3];
                }
            }
        }
    }
    return MNK_OK;
}
