/* The data-movement operators (host_tools/micronn/ops/concatenation.py, pad.py, gather.py):
 * they copy int8 codes, as TFLM's int8 kernels do. Every length is checked against the
 * parameters before the first byte moves. */
#include <string.h>

#include "common.h"

enum {
    PAD_DIM0,
    PAD_BEFORE0 = PAD_DIM0 + 4,
    PAD_AFTER0 = PAD_BEFORE0 + 4,
    PAD_VALUE = PAD_AFTER0 + 4
};

#define MAX_DIM 0xFFFF
#define MAX_STRIDE (1 << 24)
#define MAX_SIZE (1 << 29) /* of a tensor the walks read or write: every index a small int */

/* Copies the 4-D block `dims` from x to out: element i of the block is x[from + sum(i_k x
 * xs_k)] and out[to + sum(i_k x os_k)]. The callers check that every index lies inside its
 * buffer, whose size is below 2^29, so every index (one stride past the end too) fits 32 bits. */
static void copy_block(const int32_t *dims, const int8_t *x, int32_t from, const int32_t *xs,
                       int8_t *out, int32_t to, const int32_t *os) {
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < dims[0]; ++i0) {
        for (i1 = 0; i1 < dims[1]; ++i1) {
            for (i2 = 0; i2 < dims[2]; ++i2) {
                int32_t j = from + i0 * xs[0] + i1 * xs[1] + i2 * xs[2];
                int32_t k = to + i0 * os[0] + i1 * os[1] + i2 * os[2];
                for (i3 = 0; i3 < dims[3]; ++i3) {
                    out[k] = x[j];
                    j += xs[3];
                    k += os[3];
                }
            }
        }
    }
}

/* The row-major strides of dims, and their product; 0 once the product passes `limit` (dims are
 * >= 1, so 0 is never a size and a zero-length buffer never matches). */
static uint64_t row_major(const int32_t *dims, int32_t *strides, uint64_t limit) {
    uint64_t step = 1;
    int k;
    for (k = 3; k >= 0; --k) {
        strides[k] = (int32_t)step;
        step *= (uint64_t)dims[k]; /* < 2^29 x 2^18 */
        if (step > limit) {
            return 0;
        }
    }
    return step;
}

/* PAD: out is the pad value outside the input, the input's codes inside it. */
mnk_status mnk_pad(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                   int8_t *out, size_t out_len) {
    const int32_t *dims = params + PAD_DIM0;
    const int32_t *before = params + PAD_BEFORE0;
    int32_t padded[4], xs[4], os[4];
    int32_t at = 0;
    int k;
    if (param_count != MNK_PAD_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    for (k = 0; k < 4; ++k) {
        int32_t after = params[PAD_AFTER0 + k];
        if (dims[k] < 1 || dims[k] > MAX_DIM || before[k] < 0 || before[k] > MAX_DIM || after < 0 ||
            after > MAX_DIM) {
            return MNK_BAD_PARAMS;
        }
        padded[k] = dims[k] + before[k] + after;
    }
    if (!mnk_is_int8(params[PAD_VALUE])) {
        return MNK_BAD_PARAMS;
    }
    if (x_len >= MAX_SIZE || x_len == 0 || row_major(dims, xs, x_len) != x_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len >= MAX_SIZE || out_len == 0 || row_major(padded, os, out_len) != out_len) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (k = 0; k < 4; ++k) {
        at += before[k] * os[k]; /* an index of out, below 2^29 */
    }
    memset(out, params[PAD_VALUE], out_len);
    copy_block(dims, x, 0, xs, out, at, os);
    return MNK_OK;
}

/* CONCATENATION: outer rows, each inner1 codes of a then inner2 codes of b. */
mnk_status mnk_concatenation(const int32_t *params, size_t param_count, const int8_t *a,
                             size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                             size_t out_len) {
    int32_t outer, inner1, inner2, row;
    if (param_count != MNK_CONCATENATION_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    outer = params[0];
    inner1 = params[1];
    inner2 = params[2];
    if (outer < 1 || inner1 < 1 || inner2 < 1) {
        return MNK_BAD_PARAMS;
    }
    if ((uint64_t)outer * (uint64_t)inner1 != a_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    if ((uint64_t)outer * (uint64_t)inner2 != b_len) {
        return MNK_BAD_INPUT2_SIZE;
    }
    if ((uint64_t)outer * ((uint64_t)inner1 + (uint64_t)inner2) != out_len) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (row = 0; row < outer; ++row) {
        memcpy(out, a, (size_t)inner1);
        out += inner1;
        a += inner1;
        memcpy(out, b, (size_t)inner2);
        out += inner2;
        b += inner2;
    }
    return MNK_OK;
}

/* TRANSPOSE and STRIDED_SLICE: out walks 4 dims; input index offset + sum(i_k x stride_k). */
static mnk_status walk(int32_t offset, const int32_t *dims, const int32_t *strides,
                       int32_t low_stride, const int8_t *x, size_t x_len, int8_t *out,
                       size_t out_len) {
    int64_t low = offset, high = offset;
    int32_t os[4];
    int k;
    if (offset < 0 || offset >= MAX_SIZE) {
        return MNK_BAD_PARAMS;
    }
    for (k = 0; k < 4; ++k) {
        int64_t span;
        if (dims[k] < 1 || dims[k] > MAX_DIM || strides[k] <= low_stride ||
            strides[k] >= MAX_STRIDE) {
            return MNK_BAD_PARAMS;
        }
        span = (int64_t)(dims[k] - 1) * strides[k];
        if (span < 0) {
            low += span;
        } else {
            high += span;
        }
    }
    if (out_len >= MAX_SIZE || out_len == 0 || row_major(dims, os, out_len) != out_len) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (x_len >= MAX_SIZE || low < 0 || high >= (int64_t)x_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    copy_block(dims, x, offset, strides, out, 0, os);
    return MNK_OK;
}

mnk_status mnk_transpose(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                         int8_t *out, size_t out_len) {
    if (param_count != MNK_TRANSPOSE_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    return walk(0, params, params + 4, -1, x, x_len, out, out_len);
}

mnk_status mnk_strided_slice(const int32_t *params, size_t param_count, const int8_t *x,
                             size_t x_len, int8_t *out, size_t out_len) {
    if (param_count != MNK_STRIDED_SLICE_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    return walk(params[0], params + 1, params + 5, -MAX_STRIDE, x, x_len, out, out_len);
}
