/* TensorFlow's QuantizeV2 / Dequantize, one float32 operation at a time (tfquant.h). */
#include "tfquant.h"

#define MIN_COMBINED 0
#define MIN_FIRST 1
#define SCALED 2
#define TYPES 5
#define FLT_MIN_NORMAL 0x1p-126f
#define FLT_LARGEST 0x1.fffffep127f
#define TWO_23 8388608.0f
#define TWO_31 2147483648.0f
/* a double at or past this rounds to float32 infinity */
#define FLOAT_OVERFLOW 0x1.ffffffp127

static const int32_t LOWEST[TYPES] = {-128, 0, -32768, 0, INT32_MIN};
static const int32_t HIGHEST[TYPES] = {127, 255, 32767, 65535, INT32_MAX};
static const double STEPS[TYPES] = {255.0, 255.0, 65535.0, 65535.0, 4294967295.0};

/* a denormal becomes a zero of its sign (TF runs with FTZ/DAZ) */
static float ftz(float v) {
    return (v > -FLT_MIN_NORMAL && v < FLT_MIN_NORMAL) ? v * 0.0f : v;
}

static float add(float a, float b) {
    return ftz(a + b);
}

static float sub(float a, float b) {
    return ftz(a - b);
}

static float mul(float a, float b) {
    return ftz(a * b);
}

static float divide(float a, float b) {
    return ftz(a / b);
}

static float infinity(void) {
    return FLT_LARGEST * 2.0f;
}

static float double_to_float(double v) {
    if (v != v) {
        return (float)v;
    }
    if (v >= FLOAT_OVERFLOW) {
        return infinity();
    }
    if (v <= -FLOAT_OVERFLOW) {
        return -infinity();
    }
    return ftz((float)v);
}

static float std_min(float a, float b) {
    return b < a ? b : a;
}

static float std_max(float a, float b) {
    return a < b ? b : a;
}

static float magnitude(float v) {
    return v < 0.0f ? -v : v;
}

static float clamp(float v, float low, float high) {
    return std_max(std_min(v, high), low);
}

/* |v| < 2^23 and not NaN: v has a fraction part to round */
static int has_fraction(float v) {
    return v > -TWO_23 && v < TWO_23;
}

static float round_half_away(float v) {
    int32_t n;
    float d;
    if (!has_fraction(v)) {
        return v;
    }
    n = (int32_t)v;
    d = v - (float)n;
    if (d >= 0.5f) {
        n++;
    } else if (d <= -0.5f) {
        n--;
    }
    return n ? (float)n : v * 0.0f;
}

static float round_half_even(float v) {
    int32_t n;
    float d;
    if (!has_fraction(v)) {
        return v;
    }
    n = (int32_t)v;
    d = v - (float)n;
    if (d > 0.5f || (d == 0.5f && (n & 1))) {
        n++;
    } else if (d < -0.5f || (d == -0.5f && (n & 1))) {
        n--;
    }
    return n ? (float)n : v * 0.0f;
}

/* the low bits of n as a code of the type (two's complement, without implementation-defined
 * conversions) */
static int32_t wrap(int64_t n, int32_t type) {
    static const uint32_t MASK[TYPES] = {0xFF, 0xFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF};
    uint32_t bits = (uint32_t)((uint64_t)n & MASK[type]);
    uint32_t sign = (MASK[type] >> 1) + 1;
    if (LOWEST[type] < 0 && bits >= sign) {
        return -(int32_t)(MASK[type] - bits) - 1;
    }
    return (int32_t)bits;
}

/* static_cast<int32>(v), then to the type: NaN and out-of-range give INT32_MIN's low bits */
static int32_t truncate(float v, int32_t type) {
    if (!(v >= -TWO_31 && v < TWO_31)) {
        return type == 4 ? INT32_MIN : 0;
    }
    return wrap((int64_t)v, type);
}

/* Eigen's cast of a rounded float: QInt32 is (int32)(int64)lrint(v), NaN giving 0 */
static int32_t cast_rounded(float v, int32_t type) {
    if (type != 4) {
        return truncate(v, type);
    }
    if (!(v > -0x1p63f && v < 0x1p63f)) {
        return 0;
    }
    return wrap((int64_t)v, 4);
}

static int32_t read_code(const void *q, int32_t type, size_t i) {
    switch (type) {
    case 0:
        return ((const int8_t *)q)[i];
    case 1:
        return ((const uint8_t *)q)[i];
    case 2:
        return ((const int16_t *)q)[i];
    case 3:
        return ((const uint16_t *)q)[i];
    default:
        return ((const int32_t *)q)[i];
    }
}

static void write_code(void *out, int32_t type, size_t i, int32_t v) {
    switch (type) {
    case 0:
        ((int8_t *)out)[i] = (int8_t)v;
        break;
    case 1:
        ((uint8_t *)out)[i] = (uint8_t)v;
        break;
    case 2:
        ((int16_t *)out)[i] = (int16_t)v;
        break;
    case 3:
        ((uint16_t *)out)[i] = (uint16_t)v;
        break;
    default:
        ((int32_t *)out)[i] = v;
        break;
    }
}

typedef struct {
    int32_t type, mode, flag, narrow;
    size_t pre, slices, post, count;
} layout;

static mnk_status read_layout(const int32_t *params, size_t param_count, layout *shape) {
    size_t i;
    if (param_count != 7) {
        return MNK_BAD_PARAM_COUNT;
    }
    for (i = 0; i < 7; i++) {
        if (params[i] < 0) {
            return MNK_BAD_PARAMS;
        }
    }
    shape->type = params[0];
    shape->mode = params[1];
    shape->flag = params[2];
    shape->narrow = params[3];
    shape->pre = (size_t)params[4];
    shape->slices = (size_t)params[5];
    shape->post = (size_t)params[6];
    if (shape->type >= TYPES || shape->mode > SCALED || shape->flag > 1 || shape->narrow > 1) {
        return MNK_BAD_PARAMS;
    }
    if (shape->slices == 0 || (shape->mode == MIN_FIRST && shape->slices != 1)) {
        return MNK_BAD_PARAMS;
    }
    /* the count fits: each factor < 2^31, checked against SIZE_MAX step by step */
    if (shape->pre && shape->slices > (size_t)-1 / shape->pre) {
        return MNK_BAD_PARAMS;
    }
    shape->count = shape->pre * shape->slices;
    if (shape->post && shape->count > (size_t)-1 / shape->post) {
        return MNK_BAD_PARAMS;
    }
    shape->count *= shape->post;
    return MNK_OK;
}

static float lowest(int32_t type) {
    return type == 4 ? -TWO_31 : (float)LOWEST[type];
}

static float highest(int32_t type) {
    return type == 4 ? TWO_31 : (float)HIGHEST[type];
}

static float min_out(int32_t type, int32_t narrow) {
    return type == 4 ? -TWO_31 : (float)(LOWEST[type] + narrow);
}

/* float32(double(steps) / double(width)) */
static float steps_over(float width, int32_t type) {
    return double_to_float(STEPS[type] / (double)width);
}

/* the quantize constants of one slice: the range used, and scale / offset / clamp bounds */
typedef struct {
    float min_r, max_r, scale, offset, lower, upper;
} slice_plan;

static slice_plan plan_quantize(const layout *shape, float in_min, float in_max, float epsilon) {
    slice_plan plan;
    int32_t type = shape->type;
    float largest = std_max(1.0f, std_max(magnitude(in_min), magnitude(in_max)));
    float eps = mul(largest, epsilon);
    plan.min_r = std_min(0.0f, in_min);
    plan.max_r = std_max(0.0f, std_max(in_max, add(plan.min_r, eps)));
    plan.offset = 0.0f;
    plan.lower = 0.0f;
    plan.upper = 0.0f;
    if (shape->mode == SCALED) {
        float low = min_out(type, shape->narrow), high = highest(type);
        float from_min = mul(low, plan.min_r) > 0.0f ? divide(low, plan.min_r) : FLT_LARGEST;
        float from_max = mul(high, plan.max_r) > 0.0f ? divide(high, plan.max_r) : FLT_LARGEST;
        plan.scale = std_min(from_min, from_max);
        plan.min_r = divide(low, plan.scale);
        plan.max_r = divide(high, plan.scale);
    } else if (shape->mode == MIN_COMBINED) {
        plan.scale = steps_over(sub(plan.max_r, plan.min_r), type);
        plan.offset = LOWEST[type] < 0 ? -lowest(type) : 0.0f; /* half_range */
    } else {
        plan.scale =
            plan.max_r == plan.min_r ? 0.0f : steps_over(sub(plan.max_r, plan.min_r), type);
        plan.offset = sub(round_half_away(mul(plan.min_r, plan.scale)), lowest(type));
        plan.lower = lowest(type);
        plan.upper = type == 4 ? 2147483520.0f : (float)HIGHEST[type];
    }
    return plan;
}

static int32_t quantize_one(const layout *shape, const slice_plan *plan, float v) {
    int32_t type = shape->type;
    v = ftz(v);
    if (shape->mode == SCALED) {
        float scaled = mul(clamp(v, plan->min_r, plan->max_r), plan->scale);
        return cast_rounded(shape->flag ? round_half_even(scaled) : round_half_away(scaled), type);
    }
    if (shape->mode == MIN_FIRST) {
        v = sub(round_half_away(mul(v, plan->scale)), plan->offset);
        return truncate(clamp(v, plan->lower, plan->upper), type);
    }
    v = mul(sub(clamp(v, plan->min_r, plan->max_r), plan->min_r), plan->scale);
    if (LOWEST[type] < 0) {
        return cast_rounded(round_half_away(sub(v, plan->offset)), type);
    }
    return truncate(add(v, 0.5f), type);
}

mnk_status mnk_tf_quantize(const int32_t *params, size_t param_count, float ensure_minimum_range,
                           const float *x, size_t x_len, float *mins, float *maxs,
                           size_t ranges_len, void *out, size_t out_len) {
    layout shape;
    size_t s, p, i;
    mnk_status status = read_layout(params, param_count, &shape);
    if (status != MNK_OK) {
        return status;
    }
    if (shape.flag && shape.mode != SCALED) {
        return MNK_BAD_PARAMS;
    }
    if (x_len != shape.count) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != shape.count) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (ranges_len != shape.slices) {
        return MNK_BAD_RANGES;
    }
    for (s = 0; s < shape.slices; s++) {
        if (ftz(maxs[s]) < ftz(mins[s])) {
            return MNK_BAD_RANGES;
        }
    }
    for (s = 0; s < shape.slices; s++) {
        slice_plan plan = plan_quantize(&shape, ftz(mins[s]), ftz(maxs[s]), ensure_minimum_range);
        mins[s] = plan.min_r;
        maxs[s] = plan.max_r;
        for (p = 0; p < shape.pre; p++) {
            size_t start = (p * shape.slices + s) * shape.post;
            for (i = start; i < start + shape.post; i++) {
                write_code(out, shape.type, i, quantize_one(&shape, &plan, x[i]));
            }
        }
    }
    return MNK_OK;
}

/* float32(c) of an int32 code, rounded once */
static float code_float(int32_t c) {
    return (float)c;
}

static float to_bfloat16(float v) {
    /* through the bits: round to nearest even at bit 16, NaN kept a NaN */
    union {
        float f;
        uint32_t u;
    } bits;
    if (v != v) {
        return v;
    }
    bits.f = v;
    bits.u = (uint32_t)((((uint64_t)bits.u + 0x7FFFu + ((bits.u >> 16) & 1u)) >> 16) << 16);
    return bits.f;
}

/* dequantize's constants of one slice: y = ((c + half) * scale) + offset (MIN_COMBINED) or
 * offset + c * scale */
static void plan_dequantize(const layout *shape, float min_r, float max_r, float *offset,
                            float *scale, float *half) {
    int32_t type = shape->type;
    float low = lowest(type), high = highest(type);
    *offset = 0.0f;
    *half = 0.0f;
    if (shape->mode == MIN_COMBINED) {
        if (LOWEST[type] < 0) {
            *half = divide(add(sub(high, low), 1.0f), 2.0f);
        }
        *scale = divide(sub(max_r, min_r), sub(high, low));
        *offset = min_r;
    } else if (shape->mode == MIN_FIRST) {
        float snapped, rounded_min;
        *scale = double_to_float((double)sub(max_r, min_r) / STEPS[type]);
        snapped = mul(round_half_away(divide(min_r, *scale)), *scale);
        rounded_min = max_r == min_r ? min_r : snapped;
        *offset = sub(rounded_min, mul(low, *scale));
    } else if (LOWEST[type] == 0) {
        *scale = divide(max_r, high);
    } else {
        *scale = std_max(divide(min_r, min_out(type, shape->narrow)), divide(max_r, high));
    }
}

mnk_status mnk_tf_dequantize(const int32_t *params, size_t param_count, const void *q, size_t q_len,
                             const float *mins, const float *maxs, size_t ranges_len, float *out,
                             size_t out_len) {
    layout shape;
    size_t s, p, i;
    int wraps;
    mnk_status status = read_layout(params, param_count, &shape);
    if (status != MNK_OK) {
        return status;
    }
    if (shape.flag && shape.mode != MIN_COMBINED) {
        return MNK_BAD_PARAMS;
    }
    if (q_len != shape.count) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != shape.count) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (ranges_len != shape.slices) {
        return MNK_BAD_RANGES;
    }
    /* TF casts QInt32 -> int through float per tensor in SCALED: codes near 2^31 wrap */
    wraps = shape.type == 4 && shape.mode == SCALED && shape.slices == 1;
    for (s = 0; s < shape.slices; s++) {
        float offset, scale, half;
        plan_dequantize(&shape, ftz(mins[s]), ftz(maxs[s]), &offset, &scale, &half);
        for (p = 0; p < shape.pre; p++) {
            size_t start = (p * shape.slices + s) * shape.post;
            for (i = start; i < start + shape.post; i++) {
                float c = code_float(read_code(q, shape.type, i));
                float y;
                if (wraps && c >= TWO_31) {
                    c = -TWO_31;
                }
                if (shape.mode == MIN_COMBINED) {
                    y = add(mul(add(c, half), scale), offset);
                } else if (shape.mode == MIN_FIRST) {
                    y = add(offset, mul(c, scale));
                } else {
                    y = mul(c, scale);
                }
                out[i] = shape.flag ? to_bfloat16(y) : y;
            }
        }
    }
    return MNK_OK;
}

/* floor(n / 2^shift) for |n| < 2^63, 1 <= shift <= 62, without shifting a negative value */
static int64_t floor_shift(int64_t n, int32_t shift) {
    if (n >= 0) {
        return n >> shift;
    }
    return -(int64_t)((uint64_t)(-(n + 1)) >> shift) - 1;
}

mnk_status mnk_tf_dequantize_fixed(const int32_t *params, size_t param_count, const int64_t *terms,
                                   size_t terms_len, const void *q, size_t q_len, int32_t *out,
                                   size_t out_len) {
    layout shape;
    int32_t full[7];
    size_t s, p, i;
    mnk_status status;
    if (param_count != 4) {
        return MNK_BAD_PARAM_COUNT;
    }
    full[0] = params[0];
    full[1] = MIN_COMBINED;
    full[2] = 0;
    full[3] = 0;
    full[4] = params[1];
    full[5] = params[2];
    full[6] = params[3];
    status = read_layout(full, 7, &shape);
    if (status != MNK_OK) {
        return status;
    }
    if (q_len != shape.count) {
        return MNK_BAD_INPUT_SIZE;
    }
    if (out_len != shape.count) {
        return MNK_BAD_OUTPUT_SIZE;
    }
    if (shape.slices > terms_len / 3 || terms_len != 3 * shape.slices) {
        return MNK_BAD_RANGES;
    }
    for (s = 0; s < shape.slices; s++) {
        int64_t a = terms[3 * s], b = terms[3 * s + 1], shift = terms[3 * s + 2];
        const int64_t limit = (int64_t)1 << 62;
        if (shift < 1 || shift > 62 || a <= -limit || a >= limit || b <= -(limit >> 32) ||
            b >= (limit >> 32)) {
            return MNK_BAD_RANGES;
        }
        if ((a < 0 ? -a : a) + ((b < 0 ? -b : b) << 32) >= limit) {
            return MNK_BAD_RANGES;
        }
    }
    for (s = 0; s < shape.slices; s++) {
        int64_t a = terms[3 * s], b = terms[3 * s + 1];
        int32_t shift = (int32_t)terms[3 * s + 2];
        for (p = 0; p < shape.pre; p++) {
            size_t start = (p * shape.slices + s) * shape.post;
            for (i = start; i < start + shape.post; i++) {
                int64_t y = floor_shift(a + (int64_t)read_code(q, shape.type, i) * b, shift);
                out[i] = y < INT32_MIN ? INT32_MIN : y > INT32_MAX ? INT32_MAX : (int32_t)y;
            }
        }
    }
    return MNK_OK;
}
