/*
 * gemmlowp's fixed-point primitives on int32 values with 64-bit intermediates, written with
 * only defined C99 behaviour: no signed overflow, no right shift of a negative number.
 * Internal to the kernels (static inline).
 */
#ifndef MICRONN_FIXEDPOINT_H
#define MICRONN_FIXEDPOINT_H

#include <stdint.h>

#define MNK_INT32_MIN (-2147483647 - 1)
#define MNK_INT32_MAX 2147483647

/* v modulo 2^32 as a two's-complement int32 (what int32 arithmetic wraps to). */
static inline int32_t mnk_wrap32(int64_t v) {
    uint32_t u = (uint32_t)(uint64_t)v;
    if (u >= 0x80000000u) {
        return -(int32_t)(~u) - 1;
    }
    return (int32_t)u;
}

/* floor(v / 2^e) for 0 <= e <= 62 (an arithmetic right shift). */
static inline int64_t mnk_floor_shift(int64_t v, int e) {
    if (v >= 0) {
        return v >> e;
    }
    return -((-(v + 1)) >> e) - 1;
}

/* SaturatingRoundingDoublingHighMul: (a b + (2^30 or 1 - 2^30)) / 2^31, truncated. */
static inline int32_t mnk_srdhm(int32_t a, int32_t b) {
    int64_t ab;
    int64_t total;
    if (a == MNK_INT32_MIN && b == MNK_INT32_MIN) {
        return MNK_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    total = ab + (ab >= 0 ? (int64_t)1 << 30 : 1 - ((int64_t)1 << 30));
    if (total >= 0) {
        return (int32_t)(total >> 31);
    }
    return (int32_t)(-((-total) >> 31));
}

/* RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero; 0 <= e <= 31. */
static inline int32_t mnk_rdbpot(int32_t x, int e) {
    int64_t mask = ((int64_t)1 << e) - 1;
    int64_t remainder = (int64_t)((uint32_t)x & (uint32_t)mask);
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(mnk_floor_shift(x, e) + (remainder > threshold ? 1 : 0));
}

/* MultiplyByQuantizedMultiplier with shift in -31..30, multiplier >= 0. */
static inline int32_t mnk_mbqm(int32_t acc, int32_t multiplier, int32_t shift) {
    int left = shift > 0 ? (int)shift : 0;
    int right = shift > 0 ? 0 : (int)-shift;
    int32_t shifted = mnk_wrap32((int64_t)acc * ((int64_t)1 << left));
    return mnk_rdbpot(mnk_srdhm(shifted, multiplier), right);
}

/* clamp(v + zero_point, lo, hi) as an int8. */
static inline int8_t mnk_clamp_offset(int32_t v, int32_t zero_point, int32_t lo, int32_t hi) {
    int64_t out = (int64_t)v + zero_point;
    if (out < lo) {
        out = lo;
    } else if (out > hi) {
        out = hi;
    }
    return (int8_t)out;
}

#endif
