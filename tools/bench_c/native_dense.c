/* The 256 x 256 FULLY_CONNECTED kernel called natively, for tools/bench_c.py: prints the
   microseconds per call (the floor the _micronn binding is compared against). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "micronn_kernels.h"

#define N 256
#define CALLS 2000

static uint8_t weights[N * N];
static int32_t bias[N];
static int8_t x[N], out[N];

int main(void) {
    int32_t params[6] = {N, N, 0, 0, -128, 127};
    int32_t multiplier = 1 << 30, shift = -8;
    mnk_filter f = {weights, sizeof weights, MNK_WHOLE_TENSOR, 8, bias, N, &multiplier, 1, &shift, 1};
    struct timespec start, stop;
    int i;
    for (i = 0; i < N * N; ++i) {
        weights[i] = (uint8_t)((i * 37) % 255 - 127);
    }
    for (i = 0; i < N; ++i) {
        x[i] = (int8_t)((i * 11) % 256 - 128);
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < CALLS; ++i) {
        if (mnk_fully_connected(params, 6, &f, x, N, out, N, 0, N) != MNK_OK) {
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &stop);
    printf("%.3f\n", ((stop.tv_sec - start.tv_sec) * 1e9 + (stop.tv_nsec - start.tv_nsec)) /
                         1e3 / CALLS);
    return 0;
}
