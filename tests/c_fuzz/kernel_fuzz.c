/*
 * Fuzzes the argument checks of every kernel of ulab_ext/kernels/micronn_kernels.h with values
 * near the integer limits (tests/test_c_fuzz.py runs it on the host under ASan and UBSan and on
 * Cortex-M0+ under QEMU, where size_t is 32 bits).
 *
 * Each call starts from plausible parameters (small shapes the kernel accepts), replaces a few
 * of them with boundary values (0, +-1, 2^15, 2^16, 2^31 - 1, INT32_MIN, INT32_MAX / k ...) and
 * hands buffers of exactly the lengths it claims: the lengths the parameters need, one too few
 * or too many, that need modulo 2^32 (what a wrapped product would accept), half, 0, or small.
 * The oracle: a call that returns MNK_OK had lengths that suit its parameters in exact
 * arithmetic (computed here in saturating 64 bits); the sanitizers (or, on the board, guard
 * bytes and UBSan traps) check that no call reads or writes outside its buffers or meets
 * undefined behaviour. Deterministic: a seed and a call count give the same calls anywhere.
 *
 *     kernel_fuzz SEED COUNT [random-only]   (or built with -DFUZZ_SEED=.. -DFUZZ_COUNT=..)
 *
 * Prints one summary line; exits 1 after the first failure, which it names.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micronn_kernels.h"

#ifndef FUZZ_MAX_ALLOC
#define FUZZ_MAX_ALLOC (1 << 17) /* the largest buffer one call gets */
#endif
#define WORK_LIMIT ((uint64_t)1 << 22) /* an accepted call doing more inner steps is skipped */
#define SATURATED ((uint64_t)1 << 62)  /* "more than any buffer": sizes saturate here */
#define GUARD 16
#define GUARD_BYTE 0xA5
#define MAX_PARAMS 32

/* ------------------------------------------------------------------ deterministic choices */

static uint64_t state;

static uint64_t next(void) { /* splitmix64 */
    uint64_t z = (state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int32_t below(int32_t n) {
    return (int32_t)(next() % (uint64_t)n);
}

static int32_t between(int32_t lo, int32_t hi) {
    return (int32_t)((int64_t)lo + (int64_t)(next() % (uint64_t)((int64_t)hi - lo + 1)));
}

static int chance(int percent) {
    return below(100) < percent;
}

/* clang-format off */
static const int32_t EDGES[] = {
    0, 1, -1, 2, 3, 4, 7, 8, 14, 15, 16, 20, 21, 22, 23, 30, 31, 32, -31, -32, -64, -65, 127, 128,
    -127, -128, -129, 255, 256, 1023, 1024, 2047, 2048, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x10000,
    0x10001, -0x10000, 0x3FFFFF, 0x400000, 0x7FFFFF, 0x800000, 0xFFFFFF, 0x1000000, 0x1FFFFFFF,
    0x20000000, 0x3FFFFFFF, 0x40000000, 0x7FFFFFFE, 0x7FFFFFFF, INT32_MIN, -0x7FFFFFFF,
    0x7FFFFFFF / 2, 0x7FFFFFFF / 3, 0x7FFFFFFF / 4, 0x7FFFFFFF / 127, 0x7FFFFFFF / 128,
    0x7FFFFFFF / 255, 0x7FFFFFFF / 256, 0x7FFFFFFF / 1024, 0x7FFFFFFF / 0xFFFF,
};
/* clang-format on */

/* Dims whose product is 2^32 + a little (what a 32-bit size_t product wraps to) or 2^64. */
static const int32_t WRAPS[][4] = {
    {0x8000, 0x8000, 4, 1},      {33025, 65026, 2, 1},
    {1277, 40522, 83, 1},        {0x8000, 0x8000, 0x8000, 0x8000},
    {0xFFFF, 0xFFFF, 0xFFFF, 1}, {0x10000, 0x10000, 0x10000, 0x10000}};

static int32_t edge(void) {
    int32_t v = EDGES[below((int32_t)(sizeof EDGES / sizeof EDGES[0]))];
    if (chance(20)) {
        return (int32_t)(uint32_t)((uint32_t)v + (uint32_t)between(-2, 2)); /* wraps, defined */
    }
    return v;
}

/* ------------------------------------------------------------------ sizes, saturating */

static uint64_t times(uint64_t a, uint64_t b) {
    if (a >= SATURATED || b >= SATURATED || (b != 0 && a > SATURATED / b)) {
        return SATURATED;
    }
    return a * b;
}

static uint64_t plus(uint64_t a, uint64_t b) {
    return a >= SATURATED || b >= SATURATED - a ? SATURATED : a + b;
}

/* What lengths suit the params: exact, or at least `x` / `b` when x_least / b_least. */
typedef struct {
    int valid; /* 0: no lengths suit these params (a dim below 1, a negative stride ...) */
    uint64_t x, b, out;
    int x_least, b_least;
} need;

static need no_need(void) {
    need n;
    memset(&n, 0, sizeof n);
    return n;
}

/* The product of `count` dims; sets n->valid to 0 when one is below 1. */
static uint64_t product(const int32_t *dims, int count, need *n) {
    uint64_t total = 1;
    int k;
    for (k = 0; k < count; ++k) {
        if (dims[k] < 1) {
            n->valid = 0;
            return 0;
        }
        total = times(total, (uint64_t)dims[k]);
    }
    return total;
}

/* ------------------------------------------------------------------ operators */

enum { FILTER, WINDOW, BINARY, TABLE8, TABLE32 };

typedef mnk_status (*filter_fn)(const int32_t *, size_t, const mnk_filter *, const int8_t *, size_t,
                                int8_t *, size_t, int32_t, int32_t);
typedef mnk_status (*window_fn)(const int32_t *, size_t, const int8_t *, size_t, int8_t *, size_t);
typedef mnk_status (*binary_fn)(const int32_t *, size_t, const int8_t *, size_t, const int8_t *,
                                size_t, int8_t *, size_t);
typedef mnk_status (*table8_fn)(const int32_t *, size_t, const int8_t *, size_t, const int8_t *,
                                size_t, int8_t *, size_t);
typedef mnk_status (*table32_fn)(const int32_t *, size_t, const int32_t *, size_t, const int8_t *,
                                 size_t, int8_t *, size_t);

typedef struct {
    const char *name;
    int kind;
    size_t param_count;
    void (*plausible)(int32_t *p);      /* parameters the kernel accepts, mostly */
    need (*lengths)(const int32_t *p);  /* x, b (BINARY) and out lengths they need */
    uint64_t (*work)(const int32_t *p); /* inner steps of an accepted call, roughly */
    filter_fn filter;
    window_fn window;
    binary_fn binary;
    table8_fn table8;
    table32_fn table32;
} op_spec;

static void clamp_pair(int32_t *p) { /* act_min, act_max */
    p[0] = chance(50) ? -128 : between(-128, 0);
    p[1] = chance(50) ? 127 : between(p[0], 127);
}

static int32_t multiplier(void) {
    return between(0x40000000, 0x7FFFFFFF);
}

/* FULLY_CONNECTED: in, out, input zp, output zp, act_min, act_max */
static void fc_plausible(int32_t *p) {
    p[0] = between(1, 24);
    p[1] = between(1, 8);
    p[2] = between(-128, 127);
    p[3] = between(-128, 127);
    clamp_pair(p + 4);
}

static need fc_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = product(p, 1, &n);
    n.out = product(p + 1, 1, &n);
    return n;
}

/* CONV_2D, DEPTHWISE_CONV_2D: the 14 geometry params, [multiplier], zps, clamp */
static void conv_geometry(int32_t *p) {
    int i;
    for (i = 0; i < 6; ++i) {
        p[i] = between(1, i % 3 == 2 ? 4 : 6);
    }
    for (i = 6; i < 12; ++i) {
        p[i] = between(1, i < 8 ? 3 : 2);
    }
    p[12] = between(0, p[6] - 1);
    p[13] = between(0, p[7] - 1);
}

static void conv_plausible(int32_t *p) {
    conv_geometry(p);
    p[14] = between(-128, 127);
    p[15] = between(-128, 127);
    clamp_pair(p + 16);
}

static void depthwise_plausible(int32_t *p) {
    conv_geometry(p);
    p[14] = between(1, 2);
    p[5] = p[2] * p[14];
    p[15] = between(-128, 127);
    p[16] = between(-128, 127);
    clamp_pair(p + 17);
}

static need conv_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = product(p, 3, &n);
    n.out = product(p + 3, 3, &n);
    product(p + 6, 6, &n); /* kernel, strides and dilations are >= 1 too */
    return n;
}

/* MAX_POOL_2D, AVERAGE_POOL_2D: in_h, in_w, c, out_h, out_w, f_h, f_w, s_h, s_w, pad_t, pad_l,
 * clamp */
static void pool_plausible(int32_t *p) {
    int k;
    p[2] = between(1, 4);
    for (k = 0; k < 2; ++k) {
        int32_t in = between(1, 8), f = between(1, 3), s = between(1, 2), pad = between(0, f - 1);
        p[k] = in;
        p[5 + k] = f;
        p[7 + k] = s;
        p[9 + k] = pad;
        p[3 + k] = between(1, (in + pad - 1) / s + 1);
    }
    clamp_pair(p + 11);
}

static need pool_lengths(const int32_t *p) {
    need n = no_need();
    int32_t out[3];
    n.valid = 1;
    n.x = product(p, 3, &n);
    out[0] = p[3];
    out[1] = p[4];
    out[2] = p[2];
    n.out = product(out, 3, &n);
    return n;
}

/* v as a count of steps: at least 1 */
static uint64_t steps(int32_t v) {
    return v < 1 ? 1 : (uint64_t)v;
}

static uint64_t pool_work(const int32_t *p) {
    uint64_t window = times(steps(p[5] < p[0] ? p[5] : p[0]), steps(p[6] < p[1] ? p[6] : p[1]));
    return times(times(times(steps(p[3]), steps(p[4])), steps(p[2])), window);
}

/* MEAN: in_h, in_w, c, input zp, output zp, multiplier, shift */
static void mean_plausible(int32_t *p) {
    p[0] = between(1, 8);
    p[1] = between(1, 8);
    p[2] = between(1, 4);
    p[3] = between(-128, 127);
    p[4] = between(-128, 127);
    p[5] = multiplier();
    p[6] = between(-12, 0);
}

static need mean_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = product(p, 3, &n);
    n.out = product(p + 2, 1, &n);
    return n;
}

/* ADD: size, offset1, offset2, output offset, left shift, m1, s1, m2, s2, om, os, clamp */
static void add_scales(int32_t *p) {
    p[0] = between(-127, 128);
    p[1] = between(-127, 128);
    p[2] = between(-128, 127);
    p[3] = 20;
    p[4] = multiplier();
    p[5] = between(-8, 0);
    p[6] = multiplier();
    p[7] = between(-8, 0);
    p[8] = multiplier();
    p[9] = between(-20, 0);
    clamp_pair(p + 10);
}

static void add_plausible(int32_t *p) {
    p[0] = between(1, 64);
    add_scales(p + 1);
}

static need add_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = n.b = n.out = product(p, 1, &n);
    return n;
}

/* The geometry of MUL and the broadcast family: 4 dims, 4 strides of a, 4 strides of b; each
 * input is row-major over its own dims, broadcast (stride 0) where its dim is 1. */
static void geometry_plausible(int32_t *p) {
    int32_t step1 = 1, step2 = 1;
    int k;
    for (k = 3; k >= 0; --k) {
        p[k] = between(1, 4);
        p[4 + k] = chance(70) ? step1 : 0;
        p[8 + k] = chance(70) ? step2 : 0;
        step1 *= p[4 + k] ? p[k] : 1;
        step2 *= p[8 + k] ? p[k] : 1;
    }
}

/* The last element `strides` reach over dims, or -1 when a stride is negative. */
static int64_t reach(const int32_t *dims, const int32_t *strides, need *n) {
    uint64_t last = 0;
    int k;
    for (k = 0; k < 4; ++k) {
        if (dims[k] < 1 || strides[k] < 0) {
            n->valid = 0;
            return -1;
        }
        last = plus(last, times((uint64_t)(dims[k] - 1), (uint64_t)strides[k]));
    }
    return (int64_t)last;
}

static need geometry_lengths(const int32_t *p) {
    need n = no_need();
    int64_t r1, r2;
    n.valid = 1;
    n.out = product(p, 4, &n);
    r1 = reach(p, p + 4, &n);
    r2 = reach(p, p + 8, &n);
    n.x = plus((uint64_t)(r1 < 0 ? 0 : r1), 1);
    n.b = plus((uint64_t)(r2 < 0 ? 0 : r2), 1);
    n.x_least = n.b_least = 1;
    return n;
}

/* MUL: geometry, zp1, zp2, output zp, multiplier, shift, clamp */
static void mul_plausible(int32_t *p) {
    geometry_plausible(p);
    p[12] = between(-128, 127);
    p[13] = between(-128, 127);
    p[14] = between(-128, 127);
    p[15] = multiplier();
    p[16] = between(-20, 0);
    clamp_pair(p + 17);
}

static void sub_plausible(int32_t *p) { /* SUB, ADD_BROADCAST: geometry, ADD's params */
    geometry_plausible(p);
    add_scales(p + 12);
}

static void extreme_plausible(int32_t *p) { /* MAXIMUM, MINIMUM */
    geometry_plausible(p);
}

/* PRELU: geometry, input offset, alpha offset, output offset, identity m / s, alpha m / s */
static void prelu_plausible(int32_t *p) {
    geometry_plausible(p);
    p[12] = between(-127, 128);
    p[13] = between(-127, 128);
    p[14] = between(-128, 127);
    p[15] = multiplier();
    p[16] = between(-10, 2);
    p[17] = multiplier();
    p[18] = between(-16, 0);
}

/* LOGISTIC, TANH: size */
static void lookup_plausible(int32_t *p) {
    p[0] = between(1, 64);
}

static need lookup_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = n.out = product(p, 1, &n);
    return n;
}

/* SOFTMAX: rows, depth, and three params the C kernel does not read */
static void softmax_plausible(int32_t *p) {
    p[0] = between(1, 4);
    p[1] = between(1, 16);
    p[2] = multiplier();
    p[3] = between(0, 31);
    p[4] = between(-4096, 0);
}

static need softmax_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    n.x = n.out = product(p, 2, &n);
    return n;
}

/* LOG_SOFTMAX: rows, depth, input multiplier, input left shift, reverse divisor, reverse shift,
 * diff_min */
static void log_softmax_plausible(int32_t *p) {
    p[0] = between(1, 4);
    p[1] = between(1, 16);
    p[2] = multiplier();
    p[3] = between(1, 31);
    p[4] = multiplier();
    p[5] = between(0, 31);
    p[6] = -((31 << 26) >> p[3]);
}

/* RESIZE_NEAREST_NEIGHBOR: 5 sizes, h mantissa / exponent, w mantissa / exponent, align,
 * half pixel */
static void resize_sizes(int32_t *p) {
    int i;
    for (i = 0; i < 5; ++i) {
        p[i] = between(1, i == 2 ? 3 : 8);
    }
}

static void nearest_plausible(int32_t *p) {
    resize_sizes(p);
    p[5] = chance(5) ? 0 : between(0x800000, 0xFFFFFF);
    p[6] = between(-3, 0);
    p[7] = chance(5) ? 0 : between(0x800000, 0xFFFFFF);
    p[8] = between(-3, 0);
    p[9] = between(0, 1);
    p[10] = between(0, 1);
}

/* RESIZE_BILINEAR: 5 sizes, height and width scale in 1/1024, half pixel */
static void bilinear_plausible(int32_t *p) {
    resize_sizes(p);
    p[5] = between(0, 1024 * p[0] / p[3] + 1);
    p[6] = between(0, 1024 * p[1] / p[4] + 1);
    p[7] = between(0, 1);
}

static need resize_lengths(const int32_t *p) {
    need n = no_need();
    int32_t out[3];
    n.valid = 1;
    n.x = product(p, 3, &n);
    out[0] = p[3];
    out[1] = p[4];
    out[2] = p[2];
    n.out = product(out, 3, &n);
    return n;
}

/* REDUCE_MAX: dims, flags; MEAN_AXES, SUM: then input zp, output zp, multiplier, shift */
static void reduce_plausible(int32_t *p) {
    int k;
    for (k = 0; k < 4; ++k) {
        p[k] = between(1, 5);
        p[4 + k] = between(0, 1);
    }
}

static void mean_axes_plausible(int32_t *p) {
    reduce_plausible(p);
    p[8] = between(-128, 127);
    p[9] = between(-128, 127);
    p[10] = multiplier();
    p[11] = between(-12, 0);
}

static need reduce_lengths(const int32_t *p) {
    need n = no_need();
    uint64_t outputs = 1;
    int k;
    n.valid = 1;
    n.x = product(p, 4, &n);
    for (k = 0; k < 4; ++k) {
        if (p[4 + k] != 0 && p[4 + k] != 1) {
            n.valid = 0;
        } else if (p[4 + k] == 0 && p[k] > 0) {
            outputs = times(outputs, (uint64_t)p[k]);
        }
    }
    n.out = outputs;
    return n;
}

/* CONCATENATION: outer, inner1, inner2 */
static void concatenation_plausible(int32_t *p) {
    p[0] = between(1, 6);
    p[1] = between(1, 8);
    p[2] = between(1, 8);
}

static need concatenation_lengths(const int32_t *p) {
    need n = no_need();
    n.valid = 1;
    product(p, 3, &n);
    if (n.valid) {
        n.x = times((uint64_t)p[0], (uint64_t)p[1]);
        n.b = times((uint64_t)p[0], (uint64_t)p[2]);
        n.out = times((uint64_t)p[0], (uint64_t)p[1] + (uint64_t)p[2]);
    }
    return n;
}

/* PAD: dims, before, after, value */
static void pad_plausible(int32_t *p) {
    int k;
    for (k = 0; k < 4; ++k) {
        p[k] = between(1, 4);
        p[4 + k] = between(0, 2);
        p[8 + k] = between(0, 2);
    }
    p[12] = between(-128, 127);
}

static need pad_lengths(const int32_t *p) {
    need n = no_need();
    uint64_t out = 1;
    int k;
    n.valid = 1;
    n.x = product(p, 4, &n);
    for (k = 0; k < 4; ++k) {
        if (p[4 + k] < 0 || p[8 + k] < 0) {
            n.valid = 0;
        } else {
            out = times(out, plus(plus((uint64_t)(p[k] > 0 ? p[k] : 0), (uint64_t)p[4 + k]),
                                  (uint64_t)p[8 + k]));
        }
    }
    n.out = out;
    return n;
}

/* TRANSPOSE: 4 output dims, 4 input strides >= 0 */
static void transpose_plausible(int32_t *p) {
    int32_t step = 1;
    int k, order[4] = {0, 1, 2, 3};
    for (k = 3; k > 0; --k) { /* a random permutation of row-major strides */
        int j = below(k + 1), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    for (k = 0; k < 4; ++k) {
        p[k] = between(1, 4);
    }
    for (k = 3; k >= 0; --k) {
        p[4 + order[k]] = step;
        step *= p[order[k]];
    }
}

static need walk_lengths(int32_t offset, const int32_t *dims, const int32_t *strides,
                         int signed_strides) {
    need n = no_need();
    uint64_t high = (uint64_t)(offset < 0 ? 0 : offset), low = high;
    int k;
    n.valid = offset >= 0;
    n.out = product(dims, 4, &n);
    for (k = 0; k < 4 && n.valid; ++k) {
        uint64_t span = times((uint64_t)(dims[k] - 1),
                              (uint64_t)(strides[k] < 0 ? -(int64_t)strides[k] : strides[k]));
        if (strides[k] >= 0) {
            high = plus(high, span);
        } else if (!signed_strides || span > low) {
            n.valid = 0;
        } else {
            low -= span;
        }
    }
    n.x = plus(high, 1);
    n.x_least = 1;
    return n;
}

static need transpose_lengths(const int32_t *p) {
    return walk_lengths(0, p, p + 4, 0);
}

/* STRIDED_SLICE: offset, 4 output dims, 4 input strides of any sign */
static void strided_slice_plausible(int32_t *p) {
    int k;
    p[0] = 0;
    for (k = 0; k < 4; ++k) {
        p[1 + k] = between(1, 4);
        p[5 + k] = between(-6, 6);
        if (p[5 + k] < 0) {
            p[0] += (p[1 + k] - 1) * -p[5 + k];
        }
    }
}

static need strided_slice_lengths(const int32_t *p) {
    return walk_lengths(p[0], p + 1, p + 5, 1);
}

/* per output channel */
static uint64_t conv_work(const int32_t *p) {
    uint64_t pixels = times(steps(p[3]), steps(p[4]));
    return times(pixels, times(times(steps(p[6]), steps(p[7])), steps(p[2])));
}

static uint64_t fc_work(const int32_t *p) {
    return steps(p[0]);
}

static const op_spec OPS[] = {
    {"FULLY_CONNECTED", FILTER, MNK_FULLY_CONNECTED_PARAMS, fc_plausible, fc_lengths, fc_work,
     mnk_fully_connected, 0, 0, 0, 0},
    {"CONV_2D", FILTER, MNK_CONV_2D_PARAMS, conv_plausible, conv_lengths, conv_work, mnk_conv_2d, 0,
     0, 0, 0},
    {"DEPTHWISE_CONV_2D", FILTER, MNK_DEPTHWISE_CONV_2D_PARAMS, depthwise_plausible, conv_lengths,
     conv_work, mnk_depthwise_conv_2d, 0, 0, 0, 0},
    {"MAX_POOL_2D", WINDOW, MNK_POOL_PARAMS, pool_plausible, pool_lengths, pool_work, 0,
     mnk_max_pool_2d, 0, 0, 0},
    {"AVERAGE_POOL_2D", WINDOW, MNK_POOL_PARAMS, pool_plausible, pool_lengths, pool_work, 0,
     mnk_average_pool_2d, 0, 0, 0},
    {"MEAN", WINDOW, MNK_MEAN_PARAMS, mean_plausible, mean_lengths, 0, 0, mnk_mean, 0, 0, 0},
    {"RESIZE_NEAREST_NEIGHBOR", WINDOW, MNK_RESIZE_NEAREST_NEIGHBOR_PARAMS, nearest_plausible,
     resize_lengths, 0, 0, mnk_resize_nearest_neighbor, 0, 0, 0},
    {"RESIZE_BILINEAR", WINDOW, MNK_RESIZE_BILINEAR_PARAMS, bilinear_plausible, resize_lengths, 0,
     0, mnk_resize_bilinear, 0, 0, 0},
    {"REDUCE_MAX", WINDOW, MNK_REDUCE_MAX_PARAMS, reduce_plausible, reduce_lengths, 0, 0,
     mnk_reduce_max, 0, 0, 0},
    {"MEAN_AXES", WINDOW, MNK_MEAN_AXES_PARAMS, mean_axes_plausible, reduce_lengths, 0, 0,
     mnk_mean_axes, 0, 0, 0},
    {"SUM", WINDOW, MNK_MEAN_AXES_PARAMS, mean_axes_plausible, reduce_lengths, 0, 0, mnk_sum, 0, 0,
     0},
    {"PAD", WINDOW, MNK_PAD_PARAMS, pad_plausible, pad_lengths, 0, 0, mnk_pad, 0, 0, 0},
    {"TRANSPOSE", WINDOW, MNK_TRANSPOSE_PARAMS, transpose_plausible, transpose_lengths, 0, 0,
     mnk_transpose, 0, 0, 0},
    {"STRIDED_SLICE", WINDOW, MNK_STRIDED_SLICE_PARAMS, strided_slice_plausible,
     strided_slice_lengths, 0, 0, mnk_strided_slice, 0, 0, 0},
    {"ADD", BINARY, MNK_ADD_PARAMS, add_plausible, add_lengths, 0, 0, 0, mnk_add, 0, 0},
    {"MUL", BINARY, MNK_MUL_PARAMS, mul_plausible, geometry_lengths, 0, 0, 0, mnk_mul, 0, 0},
    {"SUB", BINARY, MNK_SUB_PARAMS, sub_plausible, geometry_lengths, 0, 0, 0, mnk_sub, 0, 0},
    {"ADD_BROADCAST", BINARY, MNK_ADD_BROADCAST_PARAMS, sub_plausible, geometry_lengths, 0, 0, 0,
     mnk_add_broadcast, 0, 0},
    {"MAXIMUM", BINARY, MNK_MAXIMUM_PARAMS, extreme_plausible, geometry_lengths, 0, 0, 0,
     mnk_maximum, 0, 0},
    {"MINIMUM", BINARY, MNK_MINIMUM_PARAMS, extreme_plausible, geometry_lengths, 0, 0, 0,
     mnk_minimum, 0, 0},
    {"PRELU", BINARY, MNK_PRELU_PARAMS, prelu_plausible, geometry_lengths, 0, 0, 0, mnk_prelu, 0,
     0},
    {"CONCATENATION", BINARY, MNK_CONCATENATION_PARAMS, concatenation_plausible,
     concatenation_lengths, 0, 0, 0, mnk_concatenation, 0, 0},
    {"LOOKUP", TABLE8, MNK_LOOKUP_PARAMS, lookup_plausible, lookup_lengths, 0, 0, 0, 0, mnk_lookup,
     0},
    {"SOFTMAX", TABLE32, MNK_SOFTMAX_PARAMS, softmax_plausible, softmax_lengths, 0, 0, 0, 0, 0,
     mnk_softmax},
    {"LOG_SOFTMAX", TABLE32, MNK_LOG_SOFTMAX_PARAMS, log_softmax_plausible, softmax_lengths, 0, 0,
     0, 0, 0, mnk_log_softmax},
};
#define OP_COUNT ((int32_t)(sizeof OPS / sizeof OPS[0]))

/* ------------------------------------------------------------------ buffers of exact length */

typedef struct {
    uint8_t *block;
    void *data; /* NULL when len is 0 */
    size_t len; /* bytes */
} buffer;

static buffer new_buffer(size_t len) {
    buffer b;
    b.len = len;
    b.block = NULL;
    b.data = NULL;
    if (len == 0) {
        return b;
    }
#ifdef FUZZ_GUARDS /* no ASan on the board: guard bytes around each buffer catch stray writes */
    b.block = (uint8_t *)malloc(len + 2 * GUARD);
    if (b.block != NULL) {
        memset(b.block, GUARD_BYTE, GUARD);
        memset(b.block + GUARD + len, GUARD_BYTE, GUARD);
    }
    b.data = b.block + GUARD;
#else /* exact: ASan's red zone starts at data + len */
    b.block = (uint8_t *)malloc(len);
    b.data = b.block;
#endif
    if (b.block == NULL) {
        printf("kernel_fuzz: out of memory for %lu bytes\n", (unsigned long)len);
        exit(2);
    }
    return b;
}

static void fill(buffer *b) {
    size_t i;
    uint64_t bits = 0;
    for (i = 0; i < b->len; ++i) {
        if (i % 8 == 0) {
            bits = next();
        }
        ((uint8_t *)b->data)[i] = (uint8_t)(bits >> (8 * (i % 8)));
    }
}

static int intact(const buffer *b) {
#ifdef FUZZ_GUARDS
    size_t i;
    for (i = 0; b->block != NULL && i < GUARD; ++i) {
        if (b->block[i] != GUARD_BYTE || b->block[GUARD + b->len + i] != GUARD_BYTE) {
            return 0;
        }
    }
#else
    (void)b;
#endif
    return 1;
}

/* int32 entries in [lo, hi], each near the limits instead with `edges` percent chance. */
static buffer int32_buffer(size_t count, int32_t lo, int32_t hi, int edges) {
    buffer b = new_buffer(count * 4);
    size_t i;
    for (i = 0; i < count; ++i) {
        int32_t v = chance(edges) ? edge() : between(lo, hi);
        memcpy((uint8_t *)b.data + 4 * i, &v, 4);
    }
    return b;
}

/* A length for a buffer whose params want `want` bytes: mostly that, else one off, wrapped
 * modulo 2^32 (what an overflowing product would accept), half, empty or small. */
static size_t pick_length(uint64_t want) {
    uint64_t len;
    int32_t r = below(27);
    if (want >> 32 != 0 && chance(30)) {
        len = want & 0xFFFFFFFFu; /* the product a 32-bit size_t would hold */
    } else if (r < 11 || r >= 20) {
        len = want;
    } else if (r == 11) {
        len = want - 1;
    } else if (r == 12) {
        len = want + 1;
    } else if (r < 15) {
        len = (want & 0xFFFFFFFFu) + (uint64_t)(int64_t)between(-1, 1);
    } else if (r == 15) {
        len = want / 2;
    } else if (r == 16) {
        len = 0;
    } else {
        len = (uint64_t)between(1, 40);
    }
    if (len > FUZZ_MAX_ALLOC) {
        len = (uint64_t)between(0, 40);
    }
    return (size_t)len;
}

/* A count of int32 entries: mostly `want`, else as pick_length. */
static size_t pick_count(int64_t want) {
    if (want >= 0 && want <= FUZZ_MAX_ALLOC / 4 && chance(85)) {
        return (size_t)want;
    }
    return pick_length(want < 0 ? 0 : (uint64_t)want) % (FUZZ_MAX_ALLOC / 4);
}

static int length_ok(size_t len, uint64_t want, int least) {
    return least ? (uint64_t)len >= want : (uint64_t)len == want;
}

/* ------------------------------------------------------------------ one call */

static char failure[160];
static uint64_t accepted, skipped;

/* The arguments of the call under way, printed when it fails. */
static struct {
    int32_t p[MAX_PARAMS];
    size_t count, x, b, out, weights_bytes, first, bias, multipliers, shifts;
    int32_t bits, begin, end;
} last;

static void fail(const op_spec *op, const char *what) {
    if (!failure[0]) {
        snprintf(failure, sizeof failure, "%s %s", op->name, what);
    }
}

static void print_last(void) {
    size_t k;
    printf("  params (%lu):", (unsigned long)last.count);
    for (k = 0; k < last.count && k < MAX_PARAMS; ++k) {
        printf(" %ld", (long)last.p[k]);
    }
    printf("\n  lengths x %lu b %lu out %lu; filter bits %ld begin %ld end %ld first %lu "
           "weights %lu bias %lu multipliers %lu shifts %lu\n",
           (unsigned long)last.x, (unsigned long)last.b, (unsigned long)last.out, (long)last.bits,
           (long)last.begin, (long)last.end, (unsigned long)last.first,
           (unsigned long)last.weights_bytes, (unsigned long)last.bias,
           (unsigned long)last.multipliers, (unsigned long)last.shifts);
}

static size_t edge_size(void) {
    switch (below(6)) {
    case 0:
        return (size_t)-1 - (size_t)below(4); /* next to MNK_WHOLE_TENSOR */
    case 1:
        return (size_t)0xFFFFFFFFu - (size_t)below(4);
    case 2:
        return (size_t)0x80000000u + (size_t)(int64_t)between(-2, 2);
    case 3:
        return (size_t)((uint32_t)edge() & 0x7FFFFFFFu);
    default:
        return (size_t)below(64);
    }
}

/* The filter tensors of a requantizing layer, the channel range and the call. Returns whether
 * the arguments suit the params (so that MNK_OK is allowed); sets *status. */
static int call_filter(const op_spec *op, const int32_t *p, const buffer *params, size_t count,
                       need n, const buffer *x, const buffer *out, mnk_status *status) {
    static const int32_t BITS[] = {8, 4, 2};
    int depthwise = op->filter == mnk_depthwise_conv_2d;
    int fc = op->filter == mnk_fully_connected;
    int32_t channels = fc ? p[1] : p[5];
    int32_t bits = chance(95) ? BITS[below(3)] : edge();
    int bits_ok = bits == 8 || bits == 4 || bits == 2;
    uint64_t per_byte = bits_ok ? (uint64_t)(8 / bits) : 1;
    uint64_t taps = fc ? 1 : times(steps(p[6]), steps(p[7]));
    uint64_t dot = fc ? steps(p[0]) : times(taps, depthwise ? 1 : steps(p[2]));
    uint64_t start = 0, elements = 0, want;
    int32_t begin, end;
    int ok;
    mnk_filter f;
    buffer weights, bias, multipliers, shifts;
    if (chance(75) && channels >= 0) {
        begin = between(0, channels);
        end = between(begin, channels);
    } else {
        begin = chance(50) ? edge() : between(-2, 8);
        end = chance(50) ? edge() : between(-2, 8);
    }
    if (begin >= 0 && end > begin) {
        elements = depthwise ? plus(times(taps - 1, steps(channels)), (uint64_t)(end - begin))
                             : times(dot, (uint64_t)(end - begin));
    }
    f.weights_first = chance(50)   ? MNK_WHOLE_TENSOR
                      : chance(85) ? (size_t)below((int32_t)per_byte)
                                   : edge_size();
    if (f.weights_first == MNK_WHOLE_TENSOR) { /* the kernel finds channel begin */
        if (begin > 0) {
            start = depthwise ? (uint64_t)begin : times((uint64_t)begin, dot);
        }
        want = times(depthwise ? taps : dot, steps(channels));
    } else { /* a chunk: its first weight is element `first` */
        start = (uint64_t)f.weights_first;
        want = plus(start, elements);
    }
    weights = new_buffer(pick_length(want / per_byte + (want % per_byte != 0)));
    fill(&weights);
    bias = int32_buffer(pick_count(channels), -4000, 4000, 5);
    multipliers = int32_buffer(chance(40) ? 1 : pick_count(channels), 0x40000000, 0x7FFFFFFF, 5);
    shifts = int32_buffer(chance(95) ? multipliers.len / 4 : pick_count(channels), -12, 2, 5);
    f.weights = (const uint8_t *)weights.data;
    f.weights_bytes = weights.len;
    f.weight_bits = bits;
    f.bias = (const int32_t *)bias.data;
    f.bias_count = bias.len / 4;
    f.multiplier = (const int32_t *)multipliers.data;
    f.multiplier_count = multipliers.len / 4;
    f.shift = (const int32_t *)shifts.data;
    f.shift_count = shifts.len / 4;
    last.bits = bits;
    last.begin = begin;
    last.end = end;
    last.first = f.weights_first;
    last.weights_bytes = f.weights_bytes;
    last.bias = f.bias_count;
    last.multipliers = f.multiplier_count;
    last.shifts = f.shift_count;
    ok = n.valid && count == op->param_count && length_ok(x->len, n.x, 0) &&
         length_ok(out->len, n.out, 0) && 0 <= begin && begin <= end && end <= channels &&
         bits_ok && f.bias_count == (size_t)channels && f.multiplier_count == f.shift_count &&
         (f.multiplier_count == 1 || f.multiplier_count == (size_t)channels) &&
         plus(start, elements) <= times((uint64_t)weights.len, per_byte);
    if (ok && times(op->work(p), (uint64_t)(end - begin)) > WORK_LIMIT) {
        ++skipped;
        *status = MNK_BAD_PARAMS;
    } else {
        *status = op->filter((const int32_t *)params->data, count, &f, (const int8_t *)x->data,
                             x->len, (int8_t *)out->data, out->len, begin, end);
    }
    if (!intact(&weights) || !intact(&bias) || !intact(&multipliers) || !intact(&shifts)) {
        fail(op, "wrote into its filter tensors");
    }
    free(weights.block);
    free(bias.block);
    free(multipliers.block);
    free(shifts.block);
    return ok;
}

/* The table of LOGISTIC / TANH (int8) or the exp table of SOFTMAX / LOG_SOFTMAX (int32). */
static buffer new_table(int wide) {
    size_t entries = chance(90) ? MNK_TABLE_SIZE : (size_t)(MNK_TABLE_SIZE + between(-2, 2));
    buffer t;
    if (!wide) {
        t = new_buffer(entries);
        fill(&t);
    } else if (chance(5)) {
        t = int32_buffer(entries, 0, 0, 0); /* every exp 0: a sum of 0 */
    } else {
        t = int32_buffer(entries, chance(50) ? 0 : 0x7FFF0000, 0x7FFFFFFF, chance(10) ? 2 : 0);
    }
    return t;
}

static mnk_status call(const op_spec *op, const int32_t *p, const buffer *params, size_t count,
                       const buffer *x, const buffer *b, const buffer *out, const buffer *table) {
    const int32_t *q = (const int32_t *)params->data;
    const int8_t *xd = (const int8_t *)x->data;
    int8_t *od = (int8_t *)out->data;
    (void)p;
    switch (op->kind) {
    case WINDOW:
        return op->window(q, count, xd, x->len, od, out->len);
    case BINARY:
        return op->binary(q, count, xd, x->len, (const int8_t *)b->data, b->len, od, out->len);
    case TABLE8:
        return op->table8(q, count, (const int8_t *)table->data, table->len, xd, x->len, od,
                          out->len);
    default:
        return op->table32(q, count, (const int32_t *)table->data, table->len / 4, xd, x->len, od,
                           out->len);
    }
}

/* One call of `op` with mutated params and picked lengths; returns 1 when it was accepted. */
static int fuzz_one(const op_spec *op) {
    int32_t p[MAX_PARAMS];
    size_t count = op->param_count;
    buffer params, x, b, out, table;
    need n;
    int k, changes = chance(30) ? 0 : between(1, 3), ok;
    mnk_status status;
    memset(p, 0, sizeof p);
    op->plausible(p);
    for (k = 0; k < changes; ++k) {
        p[below((int32_t)op->param_count)] = chance(80) ? edge() : (int32_t)(uint32_t)next();
    }
    if (chance(8)) { /* dims, most of them first in the params, that multiply past 2^32 */
        const int32_t *wrap = WRAPS[below((int32_t)(sizeof WRAPS / sizeof WRAPS[0]))];
        int32_t at = chance(50) ? 0 : below(op->param_count < 6 ? (int32_t)op->param_count : 6);
        for (k = 0; k < 4 && at + k < (int32_t)op->param_count; ++k) {
            p[at + k] = wrap[(k + at) % 4];
        }
        if (op->lengths == geometry_lengths && chance(50)) { /* both inputs scalars */
            memset(p + 4, 0, 8 * sizeof p[0]);
        }
    }
    if (chance(4)) {
        count = (size_t)between(0, MAX_PARAMS);
    }
    params = new_buffer(count * 4);
    if (count > 0) {
        memcpy(params.data, p, count * 4);
    }
    n = op->lengths(p);
    x = new_buffer(pick_length(n.x));
    b = new_buffer(op->kind == BINARY ? pick_length(n.b) : 0);
    out = new_buffer(pick_length(n.out)); /* left as malloc gave it: only written */
    table = new_buffer(0);
    fill(&x);
    fill(&b);
    memcpy(last.p, p, sizeof last.p);
    last.count = count;
    last.x = x.len;
    last.b = b.len;
    last.out = out.len;
    if (op->kind == FILTER) {
        ok = call_filter(op, p, &params, count, n, &x, &out, &status);
    } else {
        if (op->kind == TABLE8 || op->kind == TABLE32) {
            table = new_table(op->kind == TABLE32);
        }
        ok = n.valid && count == op->param_count && length_ok(x.len, n.x, n.x_least) &&
             length_ok(out.len, n.out, 0) &&
             (op->kind != BINARY || length_ok(b.len, n.b, n.b_least)) &&
             (op->kind < TABLE8 || table.len == MNK_TABLE_SIZE * (op->kind == TABLE32 ? 4 : 1));
        if (ok && op->work != NULL && op->work(p) > WORK_LIMIT) {
            ++skipped;
            status = MNK_BAD_PARAMS;
        } else {
            status = call(op, p, &params, count, &x, &b, &out, &table);
        }
    }
    if (status == MNK_OK && !ok) {
        fail(op, "returned MNK_OK for lengths that do not suit its params (a wrapped size?)");
    }
    if ((unsigned)status >= (unsigned)MNK_STATUS_COUNT) {
        fail(op, "returned an unknown status");
    }
    if (!intact(&params) || !intact(&x) || !intact(&b) || !intact(&out) || !intact(&table)) {
        fail(op, "wrote outside its output buffer");
    }
    free(params.block);
    free(x.block);
    free(b.block);
    free(out.block);
    free(table.block);
    return status == MNK_OK;
}

/* ------------------------------------------------------------------ the checks */

static void requantize_and_texts(void) {
    int32_t k;
    for (k = 0; k < 256; ++k) {
        int32_t acc = chance(50) ? edge() : (int32_t)(uint32_t)next();
        int32_t m = chance(50) ? edge() : multiplier();
        int32_t shift = chance(50) ? edge() : between(-31, 30);
        int32_t v = mnk_requantize(acc, m, shift); /* UBSan watches the arithmetic */
        if ((m < 0 || shift < -31 || shift > 30) && v != 0) {
            snprintf(failure, sizeof failure, "mnk_requantize(%ld, %ld, %ld) is not 0", (long)acc,
                     (long)m, (long)shift);
        }
    }
    for (k = -1; k <= MNK_STATUS_COUNT; ++k) {
        if (mnk_status_text((mnk_status)k) == NULL) {
            snprintf(failure, sizeof failure, "mnk_status_text(%d) is NULL", (int)k);
        }
    }
}

/* The overflows found when these checks were written, replayed first on every run. */
static void regressions(void) {
    static const int8_t x[8] = {1, -2, 3, -4, 5, -6, 7, -8};
    static int8_t out[8];
    static const uint8_t weights[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int32_t bias[2] = {0, 0}, mult[1] = {0x40000000}, shift[1] = {0};
    /* FULLY_CONNECTED 4 -> 2 from element 2^64 - 4 (or 2^32 - 4): first + 8 wrapped to 4 */
    static const int32_t fc[6] = {4, 2, 0, 0, -128, 127};
    /* CONV_2D with a 65535-tap kernel dilated 65535 times: (k - 1) x d + 1 overflowed int32 */
    static const int32_t conv[18] = {1, 1,      1, 1, 1, 1, 0xFFFF, 1,    1,
                                     1, 0xFFFF, 1, 0, 0, 0, 0,      -128, 127};
    /* MUL over 33025 x 65026 x 2 x 1 = 2^32 + 4 outputs: a size_t product of 4 on 32 bits */
    static const int32_t mul[19] = {33025, 65026, 2, 1, 0, 0,          0, 0,    0,  0,
                                    0,     0,     0, 0, 0, 0x40000000, 0, -128, 127};
    /* RESIZE_NEAREST_NEIGHBOR with a scale of 2^-64: a right shift by 65 */
    static const int32_t nearest[11] = {2, 2, 2, 2, 2, 0x800000, -64, 0x800000, -64, 1, 0};
    mnk_filter f = {weights, 8, (size_t)-5, 8, bias, 2, mult, 1, shift, 1};
    const op_spec *op = &OPS[0];
    if (mnk_fully_connected(fc, 6, &f, x, 4, out, 2, 0, 2) == MNK_OK) {
        fail(op, "accepted weights_first = SIZE_MAX - 4 (first + elements wraps)");
    }
    f.weights_first = (size_t)0xFFFFFFFCu;
    if (mnk_fully_connected(fc, 6, &f, x, 4, out, 2, 0, 2) == MNK_OK) {
        fail(op, "accepted weights_first = 2^32 - 4");
    }
    f.weights_first = MNK_WHOLE_TENSOR;
    f.bias_count = 1;
    if (mnk_conv_2d(conv, 18, &f, x, 1, out, 1, 0, 1) == MNK_OK) {
        fail(&OPS[1], "accepted a 65535-tap kernel dilated 65535 times on a 1 x 1 image");
    }
    if (mnk_mul(mul, 19, x, 1, x, 1, out, 4) == MNK_OK) {
        fail(&OPS[15], "accepted 2^32 + 4 outputs in a 4-byte buffer");
    }
    if (mnk_sub((const int32_t[24]){33025,      65026, 2,          1, 0,          0, 0,    0,
                                    0,          0,     0,          0, 0,          0, 0,    20,
                                    0x40000000, 0,     0x40000000, 0, 0x40000000, 0, -128, 127},
                24, x, 1, x, 1, out, 4) == MNK_OK) {
        fail(&OPS[16], "accepted 2^32 + 4 outputs in a 4-byte buffer");
    }
    if (mnk_resize_nearest_neighbor(nearest, 11, x, 8, out, 8) != MNK_OK) {
        fail(&OPS[6], "refused a scale of 2^-64");
    }
}

static uint64_t current_call;
static const op_spec *current_op;

/* random_only: skip the replayed regressions (to show that the random calls find them too). */
static int fuzz(uint64_t seed, uint64_t count, int random_only) {
    int32_t filters = 0;
    while (OPS[filters].kind == FILTER) {
        ++filters;
    }
    state = seed;
    if (!random_only) {
        regressions();
        requantize_and_texts();
    }
    for (current_call = 0; current_call < count && !failure[0]; ++current_call) {
        /* the requantizing layers have the most arguments: 40 % of the calls */
        current_op = &OPS[chance(40) ? below(filters) : between(filters, OP_COUNT - 1)];
        accepted += (uint64_t)fuzz_one(current_op);
        if (failure[0]) {
            printf("FAIL call %lu (seed %lu): %s\n", (unsigned long)current_call,
                   (unsigned long)seed, failure);
            print_last();
            return 1;
        }
    }
    if (failure[0]) {
        printf("FAIL (seed %lu): %s\n", (unsigned long)seed, failure);
        return 1;
    }
    printf("kernel_fuzz: %lu calls of %d kernels (seed %lu): %lu accepted, %lu skipped as slow, "
           "0 failures\n",
           (unsigned long)count, (int)OP_COUNT, (unsigned long)seed, (unsigned long)accepted,
           (unsigned long)skipped);
    return 0;
}

#ifdef FUZZ_COUNT
/* Bare metal (tests/armv6m/startup.c): a UBSan trap (-fsanitize-undefined-trap-on-error) or a
 * bad address ends in this HardFault handler, which replaces startup.c's weak one. */
void hard_fault_handler(void) {
    printf("FAIL call %lu: %s trapped (undefined behaviour or a bad address)\n",
           (unsigned long)current_call, current_op ? current_op->name : "a replayed regression");
    print_last();
    exit(1);
}

#ifndef FUZZ_RANDOM_ONLY
#define FUZZ_RANDOM_ONLY 0
#endif

int main(void) { /* no arguments on bare metal */
    return fuzz(FUZZ_SEED, FUZZ_COUNT, FUZZ_RANDOM_ONLY);
}
#else
int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "random-only") != 0)) {
        printf("usage: kernel_fuzz SEED COUNT [random-only]\n");
        return 2;
    }
    return fuzz(strtoull(argv[1], NULL, 10), strtoull(argv[2], NULL, 10), argc == 4);
}
#endif
