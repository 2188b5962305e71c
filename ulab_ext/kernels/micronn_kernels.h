/*
 * micronn integer kernels: plain C99, no MicroPython headers, caller-provided buffers.
 *
 * Each kernel takes its operator's int32 parameters exactly as a .mnq layer record stores
 * them (docs/format.md and docs/format-ops/), checks them and every buffer length, and gives
 * the same integers as host_tools/micronn/reference.py (TensorFlow Lite Micro's int8
 * reference kernels with double-rounding requantization). A kernel never allocates and never
 * reads or writes outside the buffers it is given; a bad argument returns a status, not a crash.
 *
 * The requantizing layers (fully connected, convolutions) work on a range [begin, end) of
 * output channels, so that weights streamed from a file can be fed one chunk at a time.
 */
#ifndef MICRONN_KERNELS_H
#define MICRONN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MNK_OK = 0,
    MNK_BAD_PARAM_COUNT,  /* params does not hold the operator's parameter count */
    MNK_BAD_PARAMS,       /* a parameter breaks its rule (docs/format.md) */
    MNK_BAD_BOUND,        /* the 31-bit accumulator bound is broken */
    MNK_BAD_INPUT_SIZE,   /* x (ADD: a) length does not match the params */
    MNK_BAD_INPUT2_SIZE,  /* ADD: b length does not match the params */
    MNK_BAD_OUTPUT_SIZE,  /* out length does not match the params */
    MNK_BAD_WEIGHT_BITS,  /* weight bits not 8, 4 or 2 */
    MNK_BAD_WEIGHTS_SIZE, /* weights too short for the channel range */
    MNK_BAD_BIAS_SIZE,    /* bias count is not the channel count */
    MNK_BAD_REQUANT_SIZE, /* multiplier / shift count not 1 or the channel count, or unequal */
    MNK_BAD_REQUANT,      /* a multiplier below 0 or a shift outside -31..30 */
    MNK_BAD_CHANNELS,     /* channel range not inside 0..channels */
    MNK_BAD_TABLE,        /* a lookup or exp table of the wrong size or with a bad entry */
    MNK_BAD_RANGES,       /* tf_*: ranges or terms not one per slice, a max below its min */
    MNK_STATUS_COUNT
} mnk_status;

/* A short English description of a status, naming the argument at fault. */
const char *mnk_status_text(mnk_status status);

/*
 * The per-channel tensors of a requantizing layer. Weight element k sits at `weights`
 * (int8: byte k; int4: nibble k, low nibble first; int2: bit pair k, low bits first).
 * `weights_first` is the element index, at `weights`, of the first weight of channel `begin`:
 * pass the whole tensor with weights_first = begin x (weights per channel), or a streamed chunk
 * with the element index inside the chunk (or MNK_WHOLE_TENSOR with the whole tensor). bias,
 * multiplier and shift are indexed by absolute channel; multiplier and shift hold 1 (per-tensor) or
 * one entry per channel.
 */
/* weights_first value meaning "weights holds the whole tensor": the kernel finds channel begin. */
#define MNK_WHOLE_TENSOR ((size_t)-1)

typedef struct {
    const uint8_t *weights;
    size_t weights_bytes;
    size_t weights_first;
    int32_t weight_bits;
    const int32_t *bias;
    size_t bias_count;
    const int32_t *multiplier;
    size_t multiplier_count;
    const int32_t *shift;
    size_t shift_count;
} mnk_filter;

enum {
    MNK_FULLY_CONNECTED_PARAMS = 6,
    MNK_CONV_2D_PARAMS = 18,
    MNK_DEPTHWISE_CONV_2D_PARAMS = 19,
    MNK_POOL_PARAMS = 13,
    MNK_MEAN_PARAMS = 7,
    MNK_ADD_PARAMS = 13,
    MNK_LOOKUP_PARAMS = 1,
    MNK_SOFTMAX_PARAMS = 5,
    MNK_MUL_PARAMS = 19,
    MNK_RESIZE_NEAREST_NEIGHBOR_PARAMS = 11,
    MNK_RESIZE_BILINEAR_PARAMS = 8,
    MNK_REDUCE_MAX_PARAMS = 8,
    MNK_MEAN_AXES_PARAMS = 12, /* and SUM */
    MNK_CONCATENATION_PARAMS = 3,
    MNK_PAD_PARAMS = 13,
    MNK_TRANSPOSE_PARAMS = 8,
    MNK_STRIDED_SLICE_PARAMS = 9,
    MNK_SUB_PARAMS = 24,
    MNK_ADD_BROADCAST_PARAMS = 24,
    MNK_MAXIMUM_PARAMS = 12,
    MNK_MINIMUM_PARAMS = 12,
    MNK_PRELU_PARAMS = 19,
    MNK_TABLE_SIZE = 256,
    MNK_LOG_SOFTMAX_PARAMS = 7
};

/* out[o] for o in [begin, end); weight (o, d) is element weights_first + (o - begin) x in + d. */
mnk_status mnk_fully_connected(const int32_t *params, size_t param_count, const mnk_filter *filter,
                               const int8_t *x, size_t x_len, int8_t *out, size_t out_len,
                               int32_t begin, int32_t end);

/* Output channels [begin, end) of every pixel; weight (o, ky, kx, i) is element
 * weights_first + (o - begin) x kh x kw x in_c + (ky x kw + kx) x in_c + i (OHWI). */
mnk_status mnk_conv_2d(const int32_t *params, size_t param_count, const mnk_filter *filter,
                       const int8_t *x, size_t x_len, int8_t *out, size_t out_len, int32_t begin,
                       int32_t end);

/* Output channels [begin, end); weight (ky, kx, o) is element
 * weights_first + (ky x kw + kx) x out_c + (o - begin) (the [1, H, W, C x M] layout). */
mnk_status mnk_depthwise_conv_2d(const int32_t *params, size_t param_count,
                                 const mnk_filter *filter, const int8_t *x, size_t x_len,
                                 int8_t *out, size_t out_len, int32_t begin, int32_t end);

mnk_status mnk_max_pool_2d(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                           int8_t *out, size_t out_len);

mnk_status mnk_average_pool_2d(const int32_t *params, size_t param_count, const int8_t *x,
                               size_t x_len, int8_t *out, size_t out_len);

mnk_status mnk_mean(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                    int8_t *out, size_t out_len);

mnk_status mnk_add(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len);

/* MUL with broadcasting: out holds the product of the 4 output dims; a and b are read through
 * their strides (params: dims, strides of a, strides of b, zero points, multiplier, shift, clamp).
 */
mnk_status mnk_mul(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len);

/* LOGISTIC and TANH: out[i] = table[(uint8_t)x[i]]. */
mnk_status mnk_lookup(const int32_t *params, size_t param_count, const int8_t *table,
                      size_t table_len, const int8_t *x, size_t x_len, int8_t *out, size_t out_len);

mnk_status mnk_softmax(const int32_t *params, size_t param_count, const int32_t *exp_table,
                       size_t exp_len, const int8_t *x, size_t x_len, int8_t *out, size_t out_len);

/* RESIZE_NEAREST_NEIGHBOR: x is (in_h, in_w, c), out (out_h, out_w, c); params: the five sizes,
 * the float32 height and width scales as (mantissa, exponent), align_corners, half_pixel_centers.
 */
mnk_status mnk_resize_nearest_neighbor(const int32_t *params, size_t param_count, const int8_t *x,
                                       size_t x_len, int8_t *out, size_t out_len);

/* RESIZE_BILINEAR (TFLM's integer path): params: the five sizes, height_scale and width_scale in
 * 1/1024 pixel, half_pixel_centers. */
mnk_status mnk_resize_bilinear(const int32_t *params, size_t param_count, const int8_t *x,
                               size_t x_len, int8_t *out, size_t out_len);

/* REDUCE_MAX, MEAN_AXES and SUM: params dim0..3, reduce0..3 (0/1), and for MEAN_AXES and SUM
 * input_zero_point, output_zero_point, multiplier, shift; out holds the kept dims' product. */
mnk_status mnk_reduce_max(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                          int8_t *out, size_t out_len);
mnk_status mnk_mean_axes(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                         int8_t *out, size_t out_len);
mnk_status mnk_sum(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                   int8_t *out, size_t out_len);
/* SUB and ADD with broadcasting (ADD's rescaling; params: dims, strides of a, strides of b, then
 * ADD's parameters), MAXIMUM and MINIMUM (dims, strides: raw codes), PRELU (dims, strides; b is
 * the alpha tensor), laid out as mnk_mul's. */
mnk_status mnk_sub(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                   const int8_t *b, size_t b_len, int8_t *out, size_t out_len);
mnk_status mnk_add_broadcast(const int32_t *params, size_t param_count, const int8_t *a,
                             size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                             size_t out_len);
mnk_status mnk_maximum(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                       const int8_t *b, size_t b_len, int8_t *out, size_t out_len);
mnk_status mnk_minimum(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                       const int8_t *b, size_t b_len, int8_t *out, size_t out_len);
mnk_status mnk_prelu(const int32_t *params, size_t param_count, const int8_t *a, size_t a_len,
                     const int8_t *b, size_t b_len, int8_t *out, size_t out_len);

/* CONCATENATION: outer rows of inner1 codes of a, then inner2 codes of b (params: outer, inner1,
 * inner2). */
mnk_status mnk_concatenation(const int32_t *params, size_t param_count, const int8_t *a,
                             size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                             size_t out_len);

/* PAD: the 4 dims of x, the amounts before and after each dim, the pad value. */
mnk_status mnk_pad(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                   int8_t *out, size_t out_len);

/* TRANSPOSE (params: 4 output dims, 4 input strides >= 0) and STRIDED_SLICE (params: offset,
 * 4 output dims, 4 input strides of any sign): out[i0, i1, i2, i3] = x[offset + sum(i_k x
 * stride_k)]. */
mnk_status mnk_transpose(const int32_t *params, size_t param_count, const int8_t *x, size_t x_len,
                         int8_t *out, size_t out_len);
mnk_status mnk_strided_slice(const int32_t *params, size_t param_count, const int8_t *x,
                             size_t x_len, int8_t *out, size_t out_len);

/* LOG_SOFTMAX: the exp table is the container's first tensor (the others serve python). */
mnk_status mnk_log_softmax(const int32_t *params, size_t param_count, const int32_t *exp_table,
                           size_t exp_len, const int8_t *x, size_t x_len, int8_t *out,
                           size_t out_len);

/* TFLM's MultiplyByQuantizedMultiplier (double rounding) of one int32 accumulator; multiplier
 * >= 0 and shift in -31..30 (as every kernel checks), else 0. */
int32_t mnk_requantize(int32_t acc, int32_t multiplier, int32_t shift);

#endif
