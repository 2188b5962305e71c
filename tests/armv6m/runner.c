/* Runs the golden cases of golden.h (written by tests/test_c_armv6m.py) through the kernels and
   prints one line per family and a summary through semihosting. */
#include <stdio.h>
#include <string.h>

#include "golden_case.h"
#include "golden.h"
#include "dispatch.h"

#define GUARD 8
#define GUARD_BYTE 0x5A

static int8_t out_buffer[GOLDEN_MAX_OUT + GUARD];

int main(void) {
    size_t i;
    int s, runs = 0, failures = 0;
    for (i = 0; i < GOLDEN_CASE_COUNT; ++i) {
        const golden_case *c = &golden_cases[i];
        for (s = 0; s < c->samples; ++s) {
            const int8_t *want = c->expected + (size_t)s * c->out_len;
            mnk_status status;
            memset(out_buffer, GUARD_BYTE, sizeof out_buffer);
            status = run_case(c, s, out_buffer);
            ++runs;
            if (status != MNK_OK) {
                printf("FAIL case %u sample %d op %d: %s\n", (unsigned)i, s, c->op,
                       mnk_status_text(status));
                ++failures;
            } else if (memcmp(out_buffer, want, c->out_len) != 0) {
                printf("FAIL case %u sample %d op %d: output differs\n", (unsigned)i, s, c->op);
                ++failures;
            } else if (out_buffer[c->out_len] != GUARD_BYTE) {
                printf("FAIL case %u sample %d op %d: wrote past out\n", (unsigned)i, s, c->op);
                ++failures;
            }
        }
    }
    printf("armv6m: %d runs of %u cases, %d failures\n", runs, (unsigned)GOLDEN_CASE_COUNT,
           failures);
    return failures ? 1 : 0;
}
