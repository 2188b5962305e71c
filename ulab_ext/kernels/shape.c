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
