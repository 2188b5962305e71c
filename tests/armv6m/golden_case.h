/* One kernel call of a golden or benchmark header: the arrays the kernel reads, the expected
   outputs and how many samples; written by tests/c_golden.py and tools/bench_icount. */
#ifndef MICRONN_GOLDEN_CASE_H
#define MICRONN_GOLDEN_CASE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int op;
    const int32_t *params;
    size_t param_count;
    const uint8_t *weights;
    size_t weights_bytes;
    int32_t bits;
    size_t per_channel;
    const int32_t *bias;
    size_t bias_count;
    const int32_t *multiplier;
    size_t multiplier_count;
    const int32_t *shift;
    const int8_t *table;
    const int32_t *exp;
    const int32_t *chunks;
    size_t chunk_count;
    const int8_t *a;
    const int8_t *b;
    size_t in_len;
    size_t b_len;
    const int8_t *expected;
    size_t out_len;
    int samples;
} golden_case;

#endif
