/*
 * int8 dot products of the filter kernels: one weight row, or four rows at once against the
 * same input run (a blocked matrix product: each input byte is loaded once for four output
 * channels). Where the compiler targets the DSP extension (ARMv7E-M, __ARM_FEATURE_DSP), four
 * bytes are loaded as one word, sign-extended in pairs (SXTB16) and multiplied-accumulated two at
 * a time (SMLAD). Internal to the kernels (static inline); the caller keeps every partial sum
 * inside int32 (the 31-bit bound).
 */
#ifndef MICRONN_DOT_H
#define MICRONN_DOT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define MNK_DSP 1

static inline uint32_t mnk_load4(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4); /* one LDR: ARMv7E-M loads unaligned words */
    return v;
}

/* bytes 1 and 3 into the places of 0 and 2 (SXTB16 folds the rotation in) */
static inline uint32_t mnk_ror8(uint32_t v) {
    return (v >> 8) | (v << 24);
}
#endif

/* acc + sum_i w[i] x[i] over n items. */
static inline int32_t mnk_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc) {
    int32_t i = 0;
#ifdef MNK_DSP
    for (; i + 4 <= n; i += 4) {
        uint32_t wv = mnk_load4(w + i);
        uint32_t xv = mnk_load4(x + i);
        acc = (int32_t)__smlad(__sxtb16(wv), __sxtb16(xv), (uint32_t)acc);
        acc = (int32_t)__smlad(__sxtb16(mnk_ror8(wv)), __sxtb16(mnk_ror8(xv)), (uint32_t)acc);
    }
#endif
    for (; i < n; ++i) {
        acc += (int32_t)w[i] * x[i];
    }
    return acc;
}

/* acc[j] += sum_i w[j x stride + i] x[i] for the four rows j = 0..3. */
static inline void mnk_dot4(const int8_t *w, size_t stride, const int8_t *x, int32_t n,
                            int32_t *acc) {
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + stride;
    const int8_t *w2 = w1 + stride;
    const int8_t *w3 = w2 + stride;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i = 0;
#ifdef MNK_DSP
    for (; i + 4 <= n; i += 4) {
        uint32_t xv = mnk_load4(x + i);
        uint32_t xe = __sxtb16(xv);
        uint32_t xo = __sxtb16(mnk_ror8(xv));
        uint32_t wv = mnk_load4(w0 + i);
        a0 = (int32_t)__smlad(__sxtb16(wv), xe, (uint32_t)a0);
        a0 = (int32_t)__smlad(__sxtb16(mnk_ror8(wv)), xo, (uint32_t)a0);
        wv = mnk_load4(w1 + i);
        a1 = (int32_t)__smlad(__sxtb16(wv), xe, (uint32_t)a1);
        a1 = (int32_t)__smlad(__sxtb16(mnk_ror8(wv)), xo, (uint32_t)a1);
        wv = mnk_load4(w2 + i);
        a2 = (int32_t)__smlad(__sxtb16(wv), xe, (uint32_t)a2);
        a2 = (int32_t)__smlad(__sxtb16(mnk_ror8(wv)), xo, (uint32_t)a2);
        wv = mnk_load4(w3 + i);
        a3 = (int32_t)__smlad(__sxtb16(wv), xe, (uint32_t)a3);
        a3 = (int32_t)__smlad(__sxtb16(mnk_ror8(wv)), xo, (uint32_t)a3);
    }
#endif
    for (; i < n; ++i) {
        int32_t v = x[i];
        a0 += (int32_t)w0[i] * v;
        a1 += (int32_t)w1[i] * v;
        a2 += (int32_t)w2[i] * v;
        a3 += (int32_t)w3[i] * v;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* sum_i w[i] over n items (the input zero point's share of a dot product). */
static inline int32_t mnk_sum8(const int8_t *w, int32_t n) {
    int32_t sum = 0, i;
    for (i = 0; i < n; ++i) {
        sum += w[i];
    }
    return sum;
}

#endif
