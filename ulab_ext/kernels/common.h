/* Internal to the kernels: the checks every family shares and weight unpacking. */
#ifndef MICRONN_COMMON_H
#define MICRONN_COMMON_H

#include "fixedpoint.h"
#include "micronn_kernels.h"

/* dot_bound larger than this already breaks the 31-bit bound (keeps products in 64 bits). */
#define MNK_DOT_LIMIT ((uint64_t)1 << 38)

int mnk_is_int8(int32_t v);
int mnk_is_clamp(int32_t act_min, int32_t act_max);
int mnk_requant_ok(int32_t multiplier, int32_t shift);

/*
 * Checks bits, the channel range, tensor counts, multipliers, shifts, that the weights hold
 * weight_elements elements from element `first` on (so that every element index from first to
 * first + weight_elements fits a size_t), and the 31-bit bound
 * (|bias| + dot_bound x wmax) x 2^left < 2^30 for every channel. dot_bound < MNK_DOT_LIMIT.
 */
mnk_status mnk_check_filter(const mnk_filter *filter, uint64_t first, int32_t channels,
                            int32_t begin, int32_t end, uint64_t weight_elements,
                            uint64_t dot_bound);

/* Weight element k of a packed stream of `bits`-bit two's-complement values. */
static inline int32_t mnk_weight(const uint8_t *w, int32_t bits, size_t k) {
    if (bits == 8) {
        return (int32_t)(int8_t)w[k];
    }
    if (bits == 4) {
        uint8_t byte = w[k >> 1];
        int32_t nibble = (k & 1) ? (byte >> 4) : (byte & 0xF);
        return (nibble ^ 8) - 8;
    }
    return (((w[k >> 2] >> ((k & 3) << 1)) & 3) ^ 2) - 2;
}

/* Elements k .. k + n - 1 of a packed `bits`-bit stream as int8, a byte at a time. */
void mnk_unpack(const uint8_t *w, int32_t bits, size_t k, int32_t n, int8_t *out);

/* TFLite's SaturatingRoundingMultiplyByPOTParam for exponent >= 0 (saturating x * 2^e). */
int32_t mnk_times_pot(int32_t x, int exponent);
/* gemmlowp RoundingHalfSum: (a + b) / 2 rounded away from zero. */
int32_t mnk_rounding_half_sum(int32_t a, int32_t b);
/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out. */
int32_t mnk_one_over_one_plus_x(int32_t a);
/* CountLeadingZeros of a uint32 (32 for 0). */
int mnk_leading_zeros(uint32_t v);

#endif
