/*
 * _micronn: the MicroPython binding of the micronn C kernels (kernels/). It only parses
 * arguments, checks buffers (typecode, length, alignment) and turns a kernel status into
 * ValueError; the maths is in kernels/. The same file builds as a user C module
 * (micropython.mk, micropython.cmake) and as a native .mpy (Makefile, MICROPY_ENABLE_DYNRUNTIME).
 *
 * Buffers: anything with the buffer protocol (bytearray, bytes for inputs, array.array,
 * memoryview, dense ulab ndarrays). int8 data: typecode 'b' or 'B' (bytearray, bytes);
 * int32 data: typecode 'i'. params is an array('i') of the layer's parameters.
 */
#ifdef MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/obj.h"
#include "py/runtime.h"
#endif

#include "kernels/micronn_kernels.h"
#include "kernels/tfquant.h"

#ifndef MP_NORETURN
#define MP_NORETURN NORETURN /* MicroPython before 1.25 */
#endif

#define BYTEARRAY_TYPECODE_VALUE 1 /* py/binary.h BYTEARRAY_TYPECODE */
#define MESSAGE_SIZE 120

typedef struct {
    const char *name;
    void *data;
    size_t len; /* items */
} buffer_arg;

static size_t append(char *text, size_t at, const char *part) {
    while (*part && at + 1 < MESSAGE_SIZE) {
        text[at++] = *part++;
    }
    text[at] = 0;
    return at;
}

static MP_NORETURN void raise_value_error(const char *name, const char *problem) {
    char text[MESSAGE_SIZE];
    size_t at = 0;
    if (name) {
        at = append(text, at, name);
        at = append(text, at, ": ");
    }
    at = append(text, at, problem);
    mp_raise_type_arg(&mp_type_ValueError, mp_obj_new_str(text, at));
}

static void check_status(mnk_status status) {
    if (status != MNK_OK) {
        raise_value_error(NULL, mnk_status_text(status));
    }
}

static void get(mp_obj_t obj, const char *name, int writable, mp_buffer_info_t *info) {
    if (!mp_get_buffer(obj, info, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ)) {
        raise_value_error(name, writable ? "must be a writable buffer (bytearray, array, "
                                           "memoryview or dense ulab ndarray)"
                                         : "must be a buffer (bytes, bytearray, array, "
                                           "memoryview or dense ulab ndarray)");
    }
}

static buffer_arg int8_arg(mp_obj_t obj, const char *name, int writable) {
    mp_buffer_info_t info;
    buffer_arg arg;
    get(obj, name, writable, &info);
    if (info.typecode != 'b' && info.typecode != 'B' && info.typecode != BYTEARRAY_TYPECODE_VALUE) {
        raise_value_error(name, "must hold bytes or int8 (typecode 'b' or 'B')");
    }
    arg.name = name;
    arg.data = info.buf;
    arg.len = info.len;
    return arg;
}

static buffer_arg int32_arg(mp_obj_t obj, const char *name) {
    mp_buffer_info_t info;
    buffer_arg arg;
    get(obj, name, 0, &info);
    if (info.typecode != 'i' && !(info.typecode == 'l' && sizeof(long) == 4)) {
        raise_value_error(name, "must hold int32 (array('i'))");
    }
    if (info.len % 4 != 0 || ((uintptr_t)info.buf & 3) != 0) {
        raise_value_error(name, "must be a whole, 4-byte aligned int32 buffer");
    }
    arg.name = name;
    arg.data = info.buf;
    arg.len = info.len / 4;
    return arg;
}

static int32_t int_arg(mp_obj_t obj) {
    return (int32_t)mp_obj_get_int(obj);
}

/* The kernel signatures of kernels/micronn_kernels.h: each binding passes its kernel. */
typedef mnk_status (*filter_kernel)(const int32_t *params, size_t param_count,
                                    const mnk_filter *filter, const int8_t *x, size_t x_len,
                                    int8_t *out, size_t out_len, int32_t begin, int32_t end);
typedef mnk_status (*window_kernel)(const int32_t *params, size_t param_count, const int8_t *x,
                                    size_t x_len, int8_t *out, size_t out_len);
typedef mnk_status (*binary_kernel)(const int32_t *params, size_t param_count, const int8_t *a,
                                    size_t a_len, const int8_t *b, size_t b_len, int8_t *out,
                                    size_t out_len);

/* (params, bits, weights, bias, multiplier, shift, x, out[, begin, end[, first]]) */
static mp_obj_t run_filter(size_t n_args, const mp_obj_t *args, filter_kernel kernel) {
    buffer_arg params = int32_arg(args[0], "params");
    int32_t bits = int_arg(args[1]);
    buffer_arg weights = int8_arg(args[2], "weights", 0);
    buffer_arg bias = int32_arg(args[3], "bias");
    buffer_arg multiplier = int32_arg(args[4], "multiplier");
    buffer_arg shift = int32_arg(args[5], "shift");
    buffer_arg x = int8_arg(args[6], "x", 0);
    buffer_arg out = int8_arg(args[7], "out", 1);
    int32_t begin = n_args > 8 ? int_arg(args[8]) : 0;
    int32_t end = n_args > 9 ? int_arg(args[9]) : (int32_t)bias.len;
    mnk_filter filter;
    mnk_status status;
    if (bits != 8 && bits != 4 && bits != 2) {
        raise_value_error("bits", "must be 8, 4 or 2");
    }
    filter.weights = (const uint8_t *)weights.data;
    filter.weights_bytes = weights.len;
    filter.weights_first = MNK_WHOLE_TENSOR;
    if (n_args > 10) {
        mp_int_t first = mp_obj_get_int(args[10]);
        if (first < 0) {
            raise_value_error("first", "must be >= 0");
        }
        filter.weights_first = (size_t)first;
    }
    filter.weight_bits = bits;
    filter.bias = (const int32_t *)bias.data;
    filter.bias_count = bias.len;
    filter.multiplier = (const int32_t *)multiplier.data;
    filter.multiplier_count = multiplier.len;
    filter.shift = (const int32_t *)shift.data;
    filter.shift_count = shift.len;
    status = kernel((const int32_t *)params.data, params.len, &filter, (const int8_t *)x.data,
                    x.len, (int8_t *)out.data, out.len, begin, end);
    check_status(status);
    return mp_const_none;
}

static mp_obj_t fully_connected(size_t n_args, const mp_obj_t *args) {
    return run_filter(n_args, args, mnk_fully_connected);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_obj, 8, 11, fully_connected);

static mp_obj_t conv_2d(size_t n_args, const mp_obj_t *args) {
    return run_filter(n_args, args, mnk_conv_2d);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv_2d_obj, 8, 11, conv_2d);

static mp_obj_t depthwise_conv_2d(size_t n_args, const mp_obj_t *args) {
    return run_filter(n_args, args, mnk_depthwise_conv_2d);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_conv_2d_obj, 8, 11, depthwise_conv_2d);

/* (params, x, out) */
static mp_obj_t run_window(mp_obj_t params_in, mp_obj_t x_in, mp_obj_t out_in,
                           window_kernel kernel) {
    buffer_arg params = int32_arg(params_in, "params");
    buffer_arg x = int8_arg(x_in, "x", 0);
    buffer_arg out = int8_arg(out_in, "out", 1);
    check_status(kernel((const int32_t *)params.data, params.len, (const int8_t *)x.data, x.len,
                        (int8_t *)out.data, out.len));
    return mp_const_none;
}

static mp_obj_t max_pool_2d(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_max_pool_2d);
}
static MP_DEFINE_CONST_FUN_OBJ_3(max_pool_2d_obj, max_pool_2d);

static mp_obj_t average_pool_2d(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_average_pool_2d);
}
static MP_DEFINE_CONST_FUN_OBJ_3(average_pool_2d_obj, average_pool_2d);

static mp_obj_t mean(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_mean);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mean_obj, mean);

static mp_obj_t resize_nearest_neighbor(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_resize_nearest_neighbor);
}
static MP_DEFINE_CONST_FUN_OBJ_3(resize_nearest_neighbor_obj, resize_nearest_neighbor);

static mp_obj_t resize_bilinear(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_resize_bilinear);
}
static MP_DEFINE_CONST_FUN_OBJ_3(resize_bilinear_obj, resize_bilinear);

static mp_obj_t reduce_max(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_reduce_max);
}
static MP_DEFINE_CONST_FUN_OBJ_3(reduce_max_obj, reduce_max);

static mp_obj_t mean_axes(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_mean_axes);
}
static MP_DEFINE_CONST_FUN_OBJ_3(mean_axes_obj, mean_axes);

static mp_obj_t sum(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_sum);
}
static MP_DEFINE_CONST_FUN_OBJ_3(sum_obj, sum);

/* (params, a, b, out) */
static mp_obj_t run_binary(const mp_obj_t *args, binary_kernel kernel) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg a = int8_arg(args[1], "a", 0);
    buffer_arg b = int8_arg(args[2], "b", 0);
    buffer_arg out = int8_arg(args[3], "out", 1);
    check_status(kernel((const int32_t *)params.data, params.len, (const int8_t *)a.data, a.len,
                        (const int8_t *)b.data, b.len, (int8_t *)out.data, out.len));
    return mp_const_none;
}

static mp_obj_t add(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_add);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(add_obj, 4, 4, add);

static mp_obj_t mul(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_mul);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mul_obj, 4, 4, mul);

static mp_obj_t concatenation(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_concatenation);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(concatenation_obj, 4, 4, concatenation);

static mp_obj_t pad(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_pad);
}
static MP_DEFINE_CONST_FUN_OBJ_3(pad_obj, pad);

static mp_obj_t transpose(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_transpose);
}
static MP_DEFINE_CONST_FUN_OBJ_3(transpose_obj, transpose);

static mp_obj_t strided_slice(mp_obj_t params, mp_obj_t x, mp_obj_t out) {
    return run_window(params, x, out, mnk_strided_slice);
}
static MP_DEFINE_CONST_FUN_OBJ_3(strided_slice_obj, strided_slice);

/* (params, table, x, out): LOGISTIC and TANH */
static mp_obj_t lookup(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg table = int8_arg(args[1], "table", 0);
    buffer_arg x = int8_arg(args[2], "x", 0);
    buffer_arg out = int8_arg(args[3], "out", 1);
    (void)n_args;
    check_status(mnk_lookup((const int32_t *)params.data, params.len, (const int8_t *)table.data,
                            table.len, (const int8_t *)x.data, x.len, (int8_t *)out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lookup_obj, 4, 4, lookup);

/* (params, exp, x, out) */
static mp_obj_t softmax(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg exps = int32_arg(args[1], "exp");
    buffer_arg x = int8_arg(args[2], "x", 0);
    buffer_arg out = int8_arg(args[3], "out", 1);
    (void)n_args;
    check_status(mnk_softmax((const int32_t *)params.data, params.len, (const int32_t *)exps.data,
                             exps.len, (const int8_t *)x.data, x.len, (int8_t *)out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(softmax_obj, 4, 4, softmax);

/* (params, exp, x, out) */
static mp_obj_t log_softmax(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg exps = int32_arg(args[1], "exp");
    buffer_arg x = int8_arg(args[2], "x", 0);
    buffer_arg out = int8_arg(args[3], "out", 1);
    (void)n_args;
    check_status(mnk_log_softmax((const int32_t *)params.data, params.len,
                                 (const int32_t *)exps.data, exps.len, (const int8_t *)x.data,
                                 x.len, (int8_t *)out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(log_softmax_obj, 4, 4, log_softmax);
static mp_obj_t sub(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_sub);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(sub_obj, 4, 4, sub);

static mp_obj_t add_broadcast(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_add_broadcast);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(add_broadcast_obj, 4, 4, add_broadcast);

static mp_obj_t maximum(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_maximum);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(maximum_obj, 4, 4, maximum);

static mp_obj_t minimum(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_minimum);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(minimum_obj, 4, 4, minimum);

static mp_obj_t prelu(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return run_binary(args, mnk_prelu);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(prelu_obj, 4, 4, prelu);

/* TensorFlow's quantize / dequantize (kernels/tfquant.h), for firmware/micronn/tfquant.py. */

static const char TF_TYPECODES[] = "bBhHi";

static buffer_arg typed_arg(mp_obj_t obj, const char *name, int writable, char typecode,
                            size_t size, const char *problem) {
    mp_buffer_info_t info;
    buffer_arg arg;
    get(obj, name, writable, &info);
    if (info.typecode != typecode &&
        !(typecode == 'B' && info.typecode == BYTEARRAY_TYPECODE_VALUE) &&
        !(typecode == 'i' && info.typecode == 'l' && sizeof(long) == 4)) {
        raise_value_error(name, problem);
    }
    if (info.len % size != 0 || ((uintptr_t)info.buf & (size - 1)) != 0) {
        raise_value_error(name, "must be a whole, aligned buffer of its type");
    }
    arg.name = name;
    arg.data = info.buf;
    arg.len = info.len / size;
    return arg;
}

static buffer_arg float_arg(mp_obj_t obj, const char *name, int writable) {
    return typed_arg(obj, name, writable, 'f', 4, "must hold float32 (array('f'))");
}

/* the code buffer of type params[0]: its typecode must be the type's */
static buffer_arg code_arg(mp_obj_t obj, const char *name, int writable, const buffer_arg *p) {
    static const size_t SIZES[] = {1, 1, 2, 2, 4};
    int32_t type = p->len ? ((const int32_t *)p->data)[0] : -1;
    if (type < 0 || type > 4) {
        raise_value_error("params", mnk_status_text(MNK_BAD_PARAMS));
    }
    return typed_arg(obj, name, writable, TF_TYPECODES[type], SIZES[type],
                     "must be an array of T's typecode ('b', 'B', 'h', 'H' or 'i')");
}

/* (params, ensure_minimum_range, x, mins, maxs, out) */
static mp_obj_t tf_quantize(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    float epsilon = (float)mp_obj_get_float(args[1]);
    buffer_arg x = float_arg(args[2], "x", 0);
    buffer_arg mins = float_arg(args[3], "mins", 1);
    buffer_arg maxs = float_arg(args[4], "maxs", 1);
    buffer_arg out = code_arg(args[5], "out", 1, &params);
    (void)n_args;
    if (mins.len != maxs.len) {
        raise_value_error(NULL, mnk_status_text(MNK_BAD_RANGES));
    }
    check_status(mnk_tf_quantize((const int32_t *)params.data, params.len, epsilon,
                                 (const float *)x.data, x.len, (float *)mins.data,
                                 (float *)maxs.data, mins.len, out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tf_quantize_obj, 6, 6, tf_quantize);

/* (params, q, mins, maxs, out) */
static mp_obj_t tf_dequantize(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg q = code_arg(args[1], "q", 0, &params);
    buffer_arg mins = float_arg(args[2], "mins", 0);
    buffer_arg maxs = float_arg(args[3], "maxs", 0);
    buffer_arg out = float_arg(args[4], "out", 1);
    (void)n_args;
    if (mins.len != maxs.len) {
        raise_value_error(NULL, mnk_status_text(MNK_BAD_RANGES));
    }
    check_status(mnk_tf_dequantize((const int32_t *)params.data, params.len, q.data, q.len,
                                   (const float *)mins.data, (const float *)maxs.data, mins.len,
                                   (float *)out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tf_dequantize_obj, 5, 5, tf_dequantize);

/* (params, terms, q, out): terms an array('q') of (A, B, S) per slice */
static mp_obj_t tf_dequantize_fixed(size_t n_args, const mp_obj_t *args) {
    buffer_arg params = int32_arg(args[0], "params");
    buffer_arg terms = typed_arg(args[1], "terms", 0, 'q', 8, "must hold int64 (array('q'))");
    buffer_arg q = code_arg(args[2], "q", 0, &params);
    buffer_arg out = typed_arg(args[3], "out", 1, 'i', 4, "must hold int32 (array('i'))");
    (void)n_args;
    check_status(mnk_tf_dequantize_fixed((const int32_t *)params.data, params.len,
                                         (const int64_t *)terms.data, terms.len, q.data, q.len,
                                         (int32_t *)out.data, out.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tf_dequantize_fixed_obj, 4, 4, tf_dequantize_fixed);

#define MICRONN_ABI_VERSION 1

#ifdef MICROPY_ENABLE_DYNRUNTIME

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_ABI_VERSION, MP_OBJ_NEW_SMALL_INT(MICRONN_ABI_VERSION));
    mp_store_global(MP_QSTR_fully_connected, MP_OBJ_FROM_PTR(&fully_connected_obj));
    mp_store_global(MP_QSTR_conv_2d, MP_OBJ_FROM_PTR(&conv_2d_obj));
    mp_store_global(MP_QSTR_depthwise_conv_2d, MP_OBJ_FROM_PTR(&depthwise_conv_2d_obj));
    mp_store_global(MP_QSTR_max_pool_2d, MP_OBJ_FROM_PTR(&max_pool_2d_obj));
    mp_store_global(MP_QSTR_average_pool_2d, MP_OBJ_FROM_PTR(&average_pool_2d_obj));
    mp_store_global(MP_QSTR_mean, MP_OBJ_FROM_PTR(&mean_obj));
    mp_store_global(MP_QSTR_add, MP_OBJ_FROM_PTR(&add_obj));
    mp_store_global(MP_QSTR_mul, MP_OBJ_FROM_PTR(&mul_obj));
    mp_store_global(MP_QSTR_lookup, MP_OBJ_FROM_PTR(&lookup_obj));
    mp_store_global(MP_QSTR_softmax, MP_OBJ_FROM_PTR(&softmax_obj));
    mp_store_global(MP_QSTR_resize_nearest_neighbor, MP_OBJ_FROM_PTR(&resize_nearest_neighbor_obj));
    mp_store_global(MP_QSTR_resize_bilinear, MP_OBJ_FROM_PTR(&resize_bilinear_obj));
    mp_store_global(MP_QSTR_reduce_max, MP_OBJ_FROM_PTR(&reduce_max_obj));
    mp_store_global(MP_QSTR_mean_axes, MP_OBJ_FROM_PTR(&mean_axes_obj));
    mp_store_global(MP_QSTR_sum, MP_OBJ_FROM_PTR(&sum_obj));
    mp_store_global(MP_QSTR_concatenation, MP_OBJ_FROM_PTR(&concatenation_obj));
    mp_store_global(MP_QSTR_pad, MP_OBJ_FROM_PTR(&pad_obj));
    mp_store_global(MP_QSTR_transpose, MP_OBJ_FROM_PTR(&transpose_obj));
    mp_store_global(MP_QSTR_strided_slice, MP_OBJ_FROM_PTR(&strided_slice_obj));
    mp_store_global(MP_QSTR_log_softmax, MP_OBJ_FROM_PTR(&log_softmax_obj));
    mp_store_global(MP_QSTR_sub, MP_OBJ_FROM_PTR(&sub_obj));
    mp_store_global(MP_QSTR_add_broadcast, MP_OBJ_FROM_PTR(&add_broadcast_obj));
    mp_store_global(MP_QSTR_maximum, MP_OBJ_FROM_PTR(&maximum_obj));
    mp_store_global(MP_QSTR_minimum, MP_OBJ_FROM_PTR(&minimum_obj));
    mp_store_global(MP_QSTR_prelu, MP_OBJ_FROM_PTR(&prelu_obj));
    mp_store_global(MP_QSTR_tf_quantize, MP_OBJ_FROM_PTR(&tf_quantize_obj));
    mp_store_global(MP_QSTR_tf_dequantize, MP_OBJ_FROM_PTR(&tf_dequantize_obj));
    mp_store_global(MP_QSTR_tf_dequantize_fixed, MP_OBJ_FROM_PTR(&tf_dequantize_fixed_obj));
    MP_DYNRUNTIME_INIT_EXIT
}

#else

static const mp_rom_map_elem_t micronn_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__micronn)},
    {MP_ROM_QSTR(MP_QSTR_ABI_VERSION), MP_ROM_INT(MICRONN_ABI_VERSION)},
    {MP_ROM_QSTR(MP_QSTR_fully_connected), MP_ROM_PTR(&fully_connected_obj)},
    {MP_ROM_QSTR(MP_QSTR_conv_2d), MP_ROM_PTR(&conv_2d_obj)},
    {MP_ROM_QSTR(MP_QSTR_depthwise_conv_2d), MP_ROM_PTR(&depthwise_conv_2d_obj)},
    {MP_ROM_QSTR(MP_QSTR_max_pool_2d), MP_ROM_PTR(&max_pool_2d_obj)},
    {MP_ROM_QSTR(MP_QSTR_average_pool_2d), MP_ROM_PTR(&average_pool_2d_obj)},
    {MP_ROM_QSTR(MP_QSTR_mean), MP_ROM_PTR(&mean_obj)},
    {MP_ROM_QSTR(MP_QSTR_add), MP_ROM_PTR(&add_obj)},
    {MP_ROM_QSTR(MP_QSTR_mul), MP_ROM_PTR(&mul_obj)},
    {MP_ROM_QSTR(MP_QSTR_lookup), MP_ROM_PTR(&lookup_obj)},
    {MP_ROM_QSTR(MP_QSTR_softmax), MP_ROM_PTR(&softmax_obj)},
    {MP_ROM_QSTR(MP_QSTR_resize_nearest_neighbor), MP_ROM_PTR(&resize_nearest_neighbor_obj)},
    {MP_ROM_QSTR(MP_QSTR_resize_bilinear), MP_ROM_PTR(&resize_bilinear_obj)},
    {MP_ROM_QSTR(MP_QSTR_reduce_max), MP_ROM_PTR(&reduce_max_obj)},
    {MP_ROM_QSTR(MP_QSTR_mean_axes), MP_ROM_PTR(&mean_axes_obj)},
    {MP_ROM_QSTR(MP_QSTR_sum), MP_ROM_PTR(&sum_obj)},
    {MP_ROM_QSTR(MP_QSTR_concatenation), MP_ROM_PTR(&concatenation_obj)},
    {MP_ROM_QSTR(MP_QSTR_pad), MP_ROM_PTR(&pad_obj)},
    {MP_ROM_QSTR(MP_QSTR_transpose), MP_ROM_PTR(&transpose_obj)},
    {MP_ROM_QSTR(MP_QSTR_strided_slice), MP_ROM_PTR(&strided_slice_obj)},
    {MP_ROM_QSTR(MP_QSTR_log_softmax), MP_ROM_PTR(&log_softmax_obj)},
    {MP_ROM_QSTR(MP_QSTR_sub), MP_ROM_PTR(&sub_obj)},
    {MP_ROM_QSTR(MP_QSTR_add_broadcast), MP_ROM_PTR(&add_broadcast_obj)},
    {MP_ROM_QSTR(MP_QSTR_maximum), MP_ROM_PTR(&maximum_obj)},
    {MP_ROM_QSTR(MP_QSTR_minimum), MP_ROM_PTR(&minimum_obj)},
    {MP_ROM_QSTR(MP_QSTR_prelu), MP_ROM_PTR(&prelu_obj)},
    {MP_ROM_QSTR(MP_QSTR_tf_quantize), MP_ROM_PTR(&tf_quantize_obj)},
    {MP_ROM_QSTR(MP_QSTR_tf_dequantize), MP_ROM_PTR(&tf_dequantize_obj)},
    {MP_ROM_QSTR(MP_QSTR_tf_dequantize_fixed), MP_ROM_PTR(&tf_dequantize_fixed_obj)},
};
static MP_DEFINE_CONST_DICT(micronn_globals, micronn_globals_table);

const mp_obj_module_t micronn_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&micronn_globals,
};

MP_REGISTER_MODULE(MP_QSTR__micronn, micronn_user_cmodule);

#endif
