/*
 * Requantization prepared once per output channel, for the inner loops of the filter kernels.
 * Internal to the kernels (static inline).
 *
 * mnk_requant_apply gives mnk_mbqm's integers (TFLM's MultiplyByQuantizedMultiplier) for every
 * accumulator the kernels produce: mnk_check_filter guarantees |acc| x 2^left < 2^30, so the left
 * shift never wraps and SaturatingRoundingDoublingHighMul never saturates. Its rounding,
 * (ab + 2^30 or 1 - 2^30) / 2^31 truncated, equals floor((ab + 2^30) / 2^31) for every ab (the
 * form CMSIS-NN uses), which needs one 64-bit add and a shift; RoundingDivideByPOT is done in
 * 32 bits with its mask and threshold prepared here.
 */
#ifndef MICRONN_REQUANT_H
#define MICRONN_REQUANT_H

#include <stdint.h>

/* 64-bit machines (MNK_WIDE) fold both roundings into one: for right >= 1,
   floor((high + 2^(right-1) - [high < 0]) / 2^right) is RoundingDivideByPOT's value, and
   high = floor((ab + 2^30) / 2^31) with high < 0 exactly when ab < -2^30, so the result is
   floor((ab + 2^30 + (2^(right-1) - [ab < -2^30]) x 2^31) / 2^(31 + right)), computed on a value
   made positive by adding 2^62. 32-bit machines keep 32-bit shifts (no 64-bit variable shift). */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define MNK_WIDE 1

typedef struct {
    int64_t multiplier; /* x 2^left: |acc x multiplier| = |acc x 2^left| x multiplier < 2^61 */
    uint64_t round;     /* 2^62 + 2^(right-1) x 2^31 (2^30 is added first) */
    int32_t shift;      /* 31 + right, 31..62 */
    uint32_t negative;  /* 2^31 for right >= 1, else 0 */
    uint32_t offset;    /* 2^62 / 2^shift */
} mnk_requant;

/* multiplier >= 0 and shift in -31..30 (mnk_check_filter checked them). */
static inline mnk_requant mnk_requant_of(int32_t multiplier, int32_t shift) {
    mnk_requant r;
    int left = shift > 0 ? (int)shift : 0;
    int right = shift > 0 ? 0 : (int)-shift;
    r.multiplier = (int64_t)multiplier * ((int64_t)1 << left);
    r.shift = 31 + right;
    r.negative = right ? (uint32_t)1 << 31 : 0;
    r.offset = (uint32_t)((uint64_t)1 << (31 - right));
    r.round = ((uint64_t)1 << 62) + (right ? (uint64_t)1 << (30 + right) : 0);
    return r;
}

/* mnk_mbqm(acc, multiplier, shift) for |acc| x 2^left < 2^30 (|ab| < 2^61: no wrap below). */
static inline int32_t mnk_requant_apply(int32_t acc, const mnk_requant *r) {
    int64_t ab = acc * r->multiplier;
    /* bit 63 of ab + 2^30 is set where ab < -2^30; moved to bit 31 and masked by negative it is
       the 2^31 to take off, without a branch on the data (mispredicted half the time) */
    uint64_t t = (uint64_t)ab + ((uint64_t)1 << 30);
    uint64_t biased = t + r->round - ((t >> 32) & r->negative);
    return (int32_t)((int64_t)(biased >> r->shift) - (int64_t)r->offset);
}

#else
#define MNK_WIDE 0

typedef struct {
    int32_t multiplier;
    int32_t left_factor; /* 2^left */
    int32_t right;       /* 0..31 */
    int32_t mask;        /* 2^right - 1 */
    int32_t half;        /* mask / 2 */
} mnk_requant;

/* multiplier >= 0 and shift in -31..30 (mnk_check_filter checked them). */
static inline mnk_requant mnk_requant_of(int32_t multiplier, int32_t shift) {
    mnk_requant r;
    int left = shift > 0 ? (int)shift : 0;
    r.multiplier = multiplier;
    r.left_factor = (int32_t)((uint32_t)1 << left);
    r.right = shift > 0 ? 0 : -shift;
    r.mask = (int32_t)(((uint32_t)1 << r.right) - 1u);
    r.half = r.mask >> 1;
    return r;
}

/* mnk_mbqm(acc, multiplier, shift) for |acc| x 2^left < 2^30. */
static inline int32_t mnk_requant_apply(int32_t acc, const mnk_requant *r) {
    int64_t ab = (int64_t)(acc * r->left_factor) * r->multiplier; /* |ab| < 2^61 */
    /* floor((ab + 2^30) / 2^31) on a value made non-negative by adding 2^62 */
    uint64_t biased = (uint64_t)(ab + ((int64_t)1 << 30) + ((int64_t)1 << 62));
    int32_t high = (int32_t)((int64_t)(biased >> 31) - ((int64_t)1 << 31)); /* |high| < 2^30 */
    int32_t remainder = (int32_t)((uint32_t)high & (uint32_t)r->mask);
    int32_t floor = high >= 0 ? high >> r->right : ~(~high >> r->right);
    return floor + (remainder > r->half + (high < 0 ? 1 : 0) ? 1 : 0);
}
#endif

/* clamp(v + zero_point, lo, hi) for |v| < 2^30 (two selects, which compile to conditional
   moves: a branch on the data would be mispredicted often). */
static inline int8_t mnk_store8(int32_t v, int32_t zero_point, int32_t lo, int32_t hi) {
    v += zero_point;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (int8_t)v;
}

#endif
