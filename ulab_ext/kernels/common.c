/* Status texts and the checks every kernel family shares. */
#include "common.h"

const char *mnk_status_text(mnk_status status) {
    switch (status) {
    case MNK_OK:
        return "ok";
    case MNK_BAD_PARAM_COUNT:
        return "params: wrong number of parameters for this operator";
    case MNK_BAD_PARAMS:
        return "params: a parameter breaks its operator's rule (docs/format.md)";
    case MNK_BAD_BOUND:
        return "params: the 31-bit accumulator bound is broken (bias, sizes or shift too large)";
    case MNK_BAD_INPUT_SIZE:
        return "x (ADD: a): length does not match the params";
    case MNK_BAD_INPUT2_SIZE:
        return "b: length does not match the params";
    case MNK_BAD_OUTPUT_SIZE:
        return "out: length does not match the params";
    case MNK_BAD_WEIGHT_BITS:
        return "bits: weights must be 8, 4 or 2 bits";
    case MNK_BAD_WEIGHTS_SIZE:
        return "weights: too short for the channel range";
    case MNK_BAD_BIAS_SIZE:
        return "bias: needs one entry per output channel";
    case MNK_BAD_REQUANT_SIZE:
        return "multiplier, shift: need 1 or one entry per output channel, the same count";
    case MNK_BAD_REQUANT:
        return "multiplier, shift: a multiplier below 0 or a shift outside -31..30";
    case MNK_BAD_CHANNELS:
        return "begin, end: need 0 <= begin <= end <= output channels";
    case MNK_BAD_TABLE:
        return "table, exp: need 256 entries; SOFTMAX's exp none negative";
    case MNK_BAD_RANGES:
        return "mins, maxs, terms: need one per slice (terms: three), each max >= its min";
    default:
        return "unknown status";
    }
}

int32_t mnk_requantize(int32_t acc, int32_t multiplier, int32_t shift) {
    return mnk_requant_ok(multiplier, shift) ? mnk_mbqm(acc, multiplier, shift) : 0;
}

int mnk_is_int8(int32_t v) {
    return v >= -128 && v <= 127;
}

int mnk_is_clamp(int32_t act_min, int32_t act_max) {
    return mnk_is_int8(act_min) && mnk_is_int8(act_max) && act_min <= act_max;
}

int mnk_requant_ok(int32_t multiplier, int32_t shift) {
    return multiplier >= 0 && shift >= -31 && shift <= 30;
}

mnk_status mnk_check_filter(const mnk_filter *filter, uint64_t first, int32_t channels,
                            int32_t begin, int32_t end, uint64_t weight_elements,
                            uint64_t dot_bound) {
    size_t c;
    size_t per_byte;
    uint64_t capacity; /* elements the weights hold, at most SIZE_MAX */
    int32_t wmax;
    if (filter->weight_bits != 8 && filter->weight_bits != 4 && filter->weight_bits != 2) {
        return MNK_BAD_WEIGHT_BITS;
    }
    if (begin < 0 || begin > end || end > channels) {
        return MNK_BAD_CHANNELS;
    }
    if (filter->bias_count != (size_t)channels) {
        return MNK_BAD_BIAS_SIZE;
    }
    if (filter->multiplier_count != filter->shift_count ||
        (filter->multiplier_count != 1 && filter->multiplier_count != (size_t)channels)) {
        return MNK_BAD_REQUANT_SIZE;
    }
    per_byte = (size_t)(8 / filter->weight_bits);
    capacity = filter->weights_bytes > SIZE_MAX / per_byte
                   ? (uint64_t)SIZE_MAX
                   : (uint64_t)(filter->weights_bytes * per_byte);
    if (weight_elements > 0 && filter->weights == NULL) {
        return MNK_BAD_WEIGHTS_SIZE;
    }
    if (first > capacity || weight_elements > capacity - first) { /* first + n wraps no more */
        return MNK_BAD_WEIGHTS_SIZE;
    }
    wmax = filter->weight_bits == 8 ? 127 : (filter->weight_bits == 4 ? 7 : 1);
    for (c = 0; c < filter->multiplier_count; ++c) {
        if (!mnk_requant_ok(filter->multiplier[c], filter->shift[c])) {
            return MNK_BAD_REQUANT;
        }
    }
    for (c = 0; c < (size_t)channels; ++c) {
        size_t r = filter->multiplier_count == 1 ? 0 : c;
        int32_t shift = filter->shift[r];
        int64_t bias = filter->bias[c];
        uint64_t bound = (uint64_t)(bias < 0 ? -bias : bias) + dot_bound * (uint64_t)wmax;
        if (bound >= ((uint64_t)1 << 30)) {
            return MNK_BAD_BOUND;
        }
        if (shift > 0) {
            bound <<= shift; /* < 2^60 */
        }
        if (bound >= ((uint64_t)1 << 30)) {
            return MNK_BAD_BOUND;
        }
    }
    return MNK_OK;
}

void mnk_unpack(const uint8_t *w, int32_t bits, size_t k, int32_t n, int8_t *out) {
    int32_t i = 0;
    size_t per_byte = (size_t)(8 / bits);
    const uint8_t *byte;
    for (; i < n && (k + (size_t)i) % per_byte != 0; ++i) { /* to a byte boundary */
        out[i] = (int8_t)mnk_weight(w, bits, k + (size_t)i);
    }
    byte = w + (k + (size_t)i) / per_byte;
    if (bits == 4) {
        for (; i + 2 <= n; i += 2, ++byte) {
            out[i] = (int8_t)(((*byte & 0xF) ^ 8) - 8);
            out[i + 1] = (int8_t)(((*byte >> 4) ^ 8) - 8);
        }
    } else if (bits == 2) {
        for (; i + 4 <= n; i += 4, ++byte) {
            out[i] = (int8_t)(((*byte & 3) ^ 2) - 2);
            out[i + 1] = (int8_t)((((*byte >> 2) & 3) ^ 2) - 2);
            out[i + 2] = (int8_t)((((*byte >> 4) & 3) ^ 2) - 2);
            out[i + 3] = (int8_t)(((*byte >> 6) ^ 2) - 2);
        }
    }
    for (; i < n; ++i) {
        out[i] = (int8_t)mnk_weight(w, bits, k + (size_t)i);
    }
}

/* The gemmlowp helpers SOFTMAX and LOG_SOFTMAX share (common.h). */
#define FORTY_EIGHT_SEVENTEENTHS 1515870810
#define MINUS_THIRTY_TWO_SEVENTEENTHS (-1010580540)
#define ONE_Q2 (1 << 29)

int32_t mnk_times_pot(int32_t x, int exponent) {
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return MNK_INT32_MAX;
    }
    if (x < -threshold) {
        return MNK_INT32_MIN;
    }
    return (int32_t)((int64_t)x * ((int64_t)1 << exponent));
}

int32_t mnk_rounding_half_sum(int32_t a, int32_t b) {
    int64_t sum = (int64_t)a + b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

int32_t mnk_one_over_one_plus_x(int32_t a) {
    int i;
    int32_t half_denominator = mnk_rounding_half_sum(a, MNK_INT32_MAX);
    int32_t x = mnk_wrap32((int64_t)FORTY_EIGHT_SEVENTEENTHS +
                           mnk_srdhm(half_denominator, MINUS_THIRTY_TWO_SEVENTEENTHS));
    for (i = 0; i < 3; ++i) {
        int32_t product = mnk_srdhm(half_denominator, x);
        int32_t one_minus = mnk_wrap32((int64_t)ONE_Q2 - product);
        x = mnk_wrap32((int64_t)x + mnk_times_pot(mnk_srdhm(x, one_minus), 2));
    }
    return mnk_times_pot(x, 1);
}

int mnk_leading_zeros(uint32_t v) {
    int n = 0;
    if (v == 0) {
        return 32;
    }
    while (!(v & 0x80000000u)) {
        v <<= 1;
        ++n;
    }
    return n;
}
