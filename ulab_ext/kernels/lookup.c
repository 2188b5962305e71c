/* LOGISTIC and TANH: a 256-entry table indexed by the code's uint8 bit pattern (LUTLookup). */
#include "common.h"

mnk_status mnk_lookup(const int32_t *params, size_t param_count, const int8_t *table,
                      size_t table_len, const int8_t *x, size_t x_len, int8_t *out,
                      size_t out_len) {
    size_t i;
    if (param_count != MNK_LOOKUP_PARAMS) {
        return MNK_BAD_PARAM_COUNT;
    }
    if (params[0] < 1) {
        return MNK_BAD_PARAMS;
    }
    if (table_len != MNK_TABLE_SIZE) {
        return MNK_BAD_TABLE;
    }
    if (x_len != (size_t)params[0]) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != (size_t)params[0]) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    for (i = 0; i < x_len; ++i) {
        out[i] = table[(uint8_t)x[i]];
    }
    return MNK_OK;
}
