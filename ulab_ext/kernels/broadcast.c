/* The element-wise operators of two int8 tensors with broadcasting after MUL (mul.c): SUB and
 * ADD_BROADCAST (TFLM BroadcastQuantSubSlow / BroadcastAdd4DSlow: the ADD rescaling), MAXIMUM and
 * MINIMUM (raw codes), PRELU (BroadcastPrelu4DSlow); host_tools/micronn/ops/sub.py,
 * add_broadcast.py, maximum_minimum.py, prelu.py. Every record starts with the geometry: the 4
 * output dims, then 4 strides per input (0 where it is broadcast). */
#include "common.h"

enum { DIM0, STRIDE1_0 = DIM0 + 4, STRIDE2_0 = STRIDE1_0 + 4, GEOMETRY_PARAMS = STRIDE2_0 + 4 };

/* SUB and ADD_BROADCAST, after the geometry */
enum {
    OFFSET1 = GEOMETRY_PARAMS,
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

/* PRELU, after the geometry */
enum {
    INPUT_OFFSET = GEOMETRY_PARAMS,
    ALPHA_OFFSET,
    PRELU_OUTPUT_OFFSET,
    IDENTITY_MULTIPLIER,
    IDENTITY_SHIFT,
    ALPHA_MULTIPLIER,
    ALPHA_SHIFT
};

#define MAX_DIM 0xFFFF
#define MAX_STRIDE (1 << 24)
#define MAX_IDENTITY_SHIFT 22 /* 255 x 2^22 < 2^30 */
#define MAX_ALPHA_SHIFT 14    /* 255 x 255 x 2^14 < 2^30 */

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

/* The geometry's checks against the buffer lengths. */
static mnk_status check_geometry(const int32_t *p, size_t a_len, size_t b_len, size_t out_len) {
    int64_t reach1 = reach(p + DIM0, p + STRIDE1_0);
    int64_t reach2 = reach(p + DIM0, p + STRIDE2_0);
    if (reach1 < 0 || reach2 < 0) {
        return MNK_BAD_PARAMS;
    }
    if ((uint64_t)reach1 >= a_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    if ((uint64_t)reach2 >= b_len) {
        return MNK_BAD_INPUT2_SIZE;
    }
    if (out_len != (uint64_t)p[DIM0] * (uint64_t)p[DIM0 + 1] * (uint64_t)p[DIM0 + 2] *
                       (uint64_t)p[DIM0 + 3]) { /* < 2^64: on 32 bits a size_t product wraps */
        return MNK_BAD_OUTPUT_SIZE;
    }
    return MNK_OK;
}

/* out[i] of one pair of codes: the operator's arithmetic on x = a[j1], y = b[j2]. */
typedef int8_t (*element_fn)(const int32_t *p, int32_t x, int32_t y);

/* Checks the geometry against the buffer lengths, then walks the output in order. */
static mnk_status walk(const int32_t *p, element_fn element, const int8_t *a, size_t a_len,
                       const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    const int32_t *dims = p + DIM0;
    const int32_t *s1 = p + STRIDE1_0;
    const int32_t *s2 = p + STRIDE2_0;
    int32_t i0, i1, i2, i3;
    size_t i = 0;
    mnk_status status = check_geometry(p, a_len, b_len, out_len);
    if (status != MNK_OK) {
        return status;
    }
    for (i0 = 0; i0 < dims[0]; ++i0) {
        for (i1 = 0; i1 < dims[1]; ++i1) {
            for (i2 = 0; i2 < dims[2]; ++i2) {
                size_t j1 = (size_t)i0 * s1[0] + (size_t)i1 * s1[1] + (size_t)i2 * s1[2];
                size_t j2 = (size_t)i0 * s2[0] + (size_t)i1 * s2[1] + (size_t)i2 * s2[2];
                for (i3 = 0; i3 < dims[3]; ++i3) {
                    out[i++] = element(p, a[j1], b[j2]);
                    j1 += (size_t)s1[3];
                    j2 += (size_t)s2[3];
                }
            }
        }
    }
    return MNK_OK;
}

static int below_one(int32_t multiplier, int32_t shift) {
    return mnk_requant_ok(multiplier, shift) && shift <= 0;
}

static int is_offset(int32_t offset) {
    return offset >= -127 && offset <= 128;
}

/* |(q + offset) x 2^20| <= 255 x 2^20 and each multiplier is below one */
static int8_t rescale(const int32_t *p, int32_t x, int32_t y, int subtract) {
    int32_t x1 =
        mnk_requantize((x + p[OFFSET1]) * ((int32_t)1 << p[LEFT_SHIFT]), p[MULTIPLIER1], p[SHIFT1]);
    int32_t x2 =
        mnk_requantize((y + p[OFFSET2]) * ((int32_t)1 << p[LEFT_SHIFT]), p[MULTIPLIER2], p[SHIFT2]);
    int32_t v = mnk_requantize(subtract ? x1 - x2 : x1 + x2, p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]);
    return mnk_clamp_offset(v, p[OUTPUT_OFFSET], p[ACT_MIN], p[ACT_MAX]);
}

static int8_t add_element(const int32_t *p, int32_t x, int32_t y) {
    return rescale(p, x, y, 0);
}

static int8_t sub_element(const int32_t *p, int32_t x, int32_t y) {
    return rescale(p, x, y, 1);
}

static mnk_status rescaled(element_fn element, const int32_t *p, size_t param_count,
                           const int8_t *a, size_t a_len, const int8_t *b, size_t b_len,
                           int8_t *out, size_t out_len) {
    if (param_count != MNK_SUB_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (!is_offset(p[OFFSET1]) || !is_offset(p[OFFSET2]) || !mnk_is_int8(p[OUTPUT_OFFSET]) ||
        p[LEFT_SHIFT] < 0 || p[LEFT_SHIFT] > 20 || !below_one(p[MULTIPLIER1], p[SHIFT1]) ||
        !below_one(p[MULTIPLIER2], p[SHIFT2]) ||
        !below_one(p[OUTPUT_MULTIPLIER], p[OUTPUT_SHIFT]) ||
        !mnk_is_clamp(p[ACT_MIN], p[ACT_MAX])) {
        return MNK_BAD_PARAMS;
    }
    return walk(p, element, a, a_len, b, b_len, out, out_len);
}

mnk_status mnk_sub(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    return rescaled(sub_element, params, param_count, a, a_len, b, b_len, out, out_len);
}

mnk_status mnk_add_broadcast(const int32_t *params, size_t param_count, const int8_t *a,
                             size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                             size_t out_len) {
    return rescaled(add_element, params, param_count, a, a_len, b, b_len, out, out_len);
}

static int8_t maximum_element(const int32_t *p, int32_t x, int32_t y) {
    (void)p;
    return (int8_t)(x > y ? x : y);
}

static int8_t minimum_element(const int32_t *p, int32_t x, int32_t y) {
    (void)p;
    return (int8_t)(x < y ? x : y);
}

static mnk_status extreme(element_fn element, const int32_t *p, size_t param_count, const int8_t *a,
                          size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                          size_t out_len) {
    if (param_count != MNK_MAXIMUM_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    return walk(p, element, a, a_len, b, b_len, out, out_len);
}

mnk_status mnk_maximum(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                       const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    return extreme(maximum_element, params, param_count, a, a_len, b, b_len, out, out_len);
}

mnk_status mnk_minimum(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                       const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    return extreme(minimum_element, params, param_count, a, a_len, b, b_len, out, out_len);
}

static int8_t prelu_element(const int32_t *p, int32_t x, int32_t y) {
    int32_t v = x + p[INPUT_OFFSET];
    if (v >= 0) {
        v = mnk_requantize(v, p[IDENTITY_MULTIPLIER], p[IDENTITY_SHIFT]);
    } else {
        v = mnk_requantize(v * (y + p[ALPHA_OFFSET]), p[ALPHA_MULTIPLIER], p[ALPHA_SHIFT]);
    }
    return mnk_clamp_offset(v, p[PRELU_OUTPUT_OFFSET], -128, 127);
}

mnk_status mnk_prelu(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                     const int8_t *b, size_t b_len, int8_t *out, size_t out_len) {
    const int32_t *p = params;
    if (param_count != MNK_PRELU_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (!is_offset(p[INPUT_OFFSET]) || !is_offset(p[ALPHA_OFFSET]) ||
        !mnk_is_int8(p[PRELU_OUTPUT_OFFSET]) ||
        !mnk_requant_ok(p[IDENTITY_MULTIPLIER], p[IDENTITY_SHIFT]) ||
        p[IDENTITY_SHIFT] > MAX_IDENTITY_SHIFT ||
        !mnk_requant_ok(p[ALPHA_MULTIPLIER], p[ALPHA_SHIFT]) || p[ALPHA_SHIFT] > MAX_ALPHA_SHIFT) {
        return MNK_BAD_PARAMS;
    }
    return walk(p, prelu_element, a, a_len, b, b_len, out, out_len);
}
