/* REDUCE_MAX, MEAN_AXES and SUM over any of 4 dims (TFLM reference_ops::ReduceGeneric and
 * QuantizedMeanOrSum; host_tools/micronn/ops/reduce.py). The dims fold into at most two kept
 * and two reduced (extent, stride) groups; each output walks its reduced groups. */
#include "common.h"

enum { DIM0, FLAG0 = DIM0 + 4, INPUT_ZERO_POINT = FLAG0 + 4, OUTPUT_ZERO_POINT, MULTIPLIER, SHIFT };

#define MAX_DIM 0xFFFF
#define MAX_COUNT (((int64_t)1 << 22) - 1)
#define SMALL_INT_LIMIT ((int64_t)1 << 30)

typedef struct {
    size_t extent[2];
    size_t stride[2];
} groups;

/* Checks dims, flags and the tensor sizes; fills the kept and reduced groups and the count. */
static mnk_status fold(const int32_t *p, size_t x_len, size_t out_len, groups *kept,
                       groups *reduced, int64_t *count) {
    size_t strides[4];
    size_t stride = 1;
    uint64_t total = 1, outputs = 1;
    int k, last = -1;
    groups *g[2];
    int used[2] = {0, 0};
    g[0] = kept;
    g[1] = reduced;
    for (k = 0; k < 4; ++k) {
        if (p[DIM0 + k] < 1 || p[DIM0 + k] > MAX_DIM || (p[FLAG0 + k] & ~1) != 0) {
            return MNK_BAD_PARAMS;
        }
    }
    for (k = 3; k >= 0; --k) {
        strides[k] = stride;
        stride *= (size_t)p[DIM0 + k];
    }
    *count = 1;
    for (k = 0; k < 2; ++k) {
        kept->extent[k] = reduced->extent[k] = 1;
        kept->stride[k] = reduced->stride[k] = 0;
    }
    for (k = 0; k < 4; ++k) {
        int32_t dim = p[DIM0 + k];
        int flag = p[FLAG0 + k];
        total *= (uint64_t)dim;
        if (flag) {
            *count *= dim;
        } else {
            outputs *= (uint64_t)dim;
        }
        if (dim == 1) {
            continue;
        }
        if (last == flag) { /* the previous group grows; its stride is this dim's */
            g[flag]->extent[used[flag] - 1] *= (size_t)dim;
            g[flag]->stride[used[flag] - 1] = strides[k];
        } else {
            g[flag]->extent[used[flag]] = (size_t)dim; /* at most two groups of each role */
            g[flag]->stride[used[flag]] = strides[k];
            ++used[flag];
        }
        last = flag;
    }
    if (*count > MAX_COUNT) {
        return MNK_BAD_PARAMS;
    }
    if (x_len != total) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != outputs) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    return MNK_OK;
}

static mnk_status reduce(const int32_t *p, size_t param_count, size_t want_params, int op,
                         const int8_t *x, size_t x_len, int8_t *out, size_t out_len) {
    groups kept, reduced;
    int64_t count;
    size_t i0, i1, j0, j1;
    mnk_status status;
    if (param_count != want_params) {
        return MNK_BAD_PARAM_COUNT;
    }
    status = fold(p, x_len, out_len, &kept, &reduced, &count);
    if (status != MNK_OK) {
        return status;
    }
    if (op != 0) {
        int32_t left = p[SHIFT] > 0 ? p[SHIFT] : 0;
        int multiplier_ok = op == 2 ? mnk_requant_ok(p[MULTIPLIER], p[SHIFT])
                                    : p[MULTIPLIER] >= 0 && p[SHIFT] >= -31 && p[SHIFT] <= 30;
        if (!mnk_is_int8(p[INPUT_ZERO_POINT]) || !mnk_is_int8(p[OUTPUT_ZERO_POINT]) ||
            !multiplier_ok || left > 30 || (count * 255 << left) >= SMALL_INT_LIMIT) {
            return MNK_BAD_PARAMS;
        }
    }
    for (i0 = 0; i0 < kept.extent[0]; ++i0) {
        for (i1 = 0; i1 < kept.extent[1]; ++i1) {
            size_t base = i0 * kept.stride[0] + i1 * kept.stride[1];
            int32_t acc = op == 0 ? -128 : -p[INPUT_ZERO_POINT] * (int32_t)count;
            for (j0 = 0; j0 < reduced.extent[0]; ++j0) {
                /* an index, not a pointer stepped past the end of x (undefined in C) */
                size_t at = base + j0 * reduced.stride[0];
                for (j1 = 0; j1 < reduced.extent[1]; ++j1) {
                    if (op == 0) {
                        acc = x[at] > acc ? x[at] : acc;
                    } else {
                        acc += x[at]; /* |acc| <= 255 x count < 2^30 */
                    }
                    at += reduced.stride[1];
                }
            }
            if (op == 0) {
                *out++ = (int8_t)acc;
            } else {
                *out++ = mnk_clamp_offset(mnk_mbqm(acc, p[MULTIPLIER], p[SHIFT]),
                                          p[OUTPUT_ZERO_POINT], -128, 127);
            }
        }
    }
    return MNK_OK;
}

mnk_status mnk_reduce_max(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                          int8_t *out, size_t out_len) {
    return reduce(params, param_count, MNK_REDUCE_MAX_PARAMS, 0, x, x_len, out, out_len);
}

mnk_status mnk_mean_axes(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                         int8_t *out, size_t out_len) {
    return reduce(params, param_count, MNK_MEAN_AXES_PARAMS, 1, x, x_len, out, out_len);
}

mnk_status mnk_sum(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                   int8_t *out, size_t out_len) {
    return reduce(params, param_count, MNK_MEAN_AXES_PARAMS, 2, x, x_len, out, out_len);
}
