/* The data-movement operators (host_tools/micronn/ops/concatenation.py, pad.py, gather.py):
 * they copy int8 codes, as TFLM's int8 kernels do. Every length is checked against the
 * parameters before the first byte moves. */
#include <string.h>

#include "common.h"

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

enum {
    PAD_DIM0,
    PAD_BEFORE0 = PAD_DIM0 + 4,
    PAD_AFTER0 = PAD_BEFORE0 + 4,
    PAD_VALUE = PAD_AFTER0 + 4
};

#define MAX_DIM 0xFFFF

/* PAD: out is the pad value outside the input, the input's codes inside it. */
mnk_status mnk_pad(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                   int8_t *out, size_t out_len) {
    const int32_t *dims = params + PAD_DIM0;
    const int32_t *before = params + PAD_BEFORE0;
    const int32_t *after = params + PAD_AFTER0;
    uint64_t in_size = 1, padded_size = 1;
    size_t o1, o2, o3;
    int32_t i0, i1, i2;
    int k;
    if (param_count != MNK_PAD_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    for (k = 0; k < 4; ++k) {
        if (dims[k] < 1 || dims[k] > MAX_DIM || before[k] < 0 || before[k] > MAX_DIM ||
            after[k] < 0 || after[k] > MAX_DIM) {
            return MNK_BAD_PARAMS;
        }
    }
    if (!mnk_is_int8(params[PAD_VALUE])) {
        return MNK_BAD_PARAMS;
    }
    for (k = 0; k < 4; ++k) { /* each factor < 2^18: the products fit once sizes are checked */
        in_size *= (uint64_t)dims[k];
        padded_size *= (uint64_t)dims[k] + (uint64_t)before[k] + (uint64_t)after[k];
        if (in_size > x_len) {
            return MNK_BAD_INPUT_SIZE;
        }
        if (padded_size > out_len) {
            return MNK_BAD_OUTPUT_SIZE;
        }
    }
    if (in_size != x_len) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (padded_size != out_len) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    o1 = (size_t)dims[1] + (size_t)before[1] + (size_t)after[1];
    o2 = (size_t)dims[2] + (size_t)before[2] + (size_t)after[2];
    o3 = (size_t)dims[3] + (size_t)before[3] + (size_t)after[3];
    memset(out, params[PAD_VALUE], out_len);
    for (i0 = 0; i0 < dims[0]; ++i0) {
        for (i1 = 0; i1 < dims[1]; ++i1) {
            for (i2 = 0; i2 < dims[2]; ++i2) {
                size_t at = (((size_t)(i0 + before[0]) * o1 + (size_t)(i1 + before[1])) * o2 +
                             (size_t)(i2 + before[2])) *
                                o3 +
                            (size_t)before[3];
                memcpy(out + at, x, (size_t)dims[3]);
                x += dims[3];
            }
        }
    }
    return MNK_OK;
}
