/* Instructions per kernel call under qemu-system-arm -icount (tools/bench_icount): each case of
   bench.h (one layer of a model, with the reference's input) runs once between two reads of the
   MPS2 FPGA counter, and its output is compared with the reference's. Prints one line per case
   and one for an empty interval (the cost of the reads themselves) through semihosting. */
#include <stdio.h>
#include <string.h>

#include "golden_case.h"
#include "bench.h"
#include "dispatch.h"

/* MPS2 FPGAIO COUNTER (AN385 and AN386): counts the 25 MHz system clock of guest time. */
#define FPGA_COUNTER (*(volatile uint32_t *)0x40028018u)
#define BARRIER() __asm__ volatile("" ::: "memory")

static int8_t out_buffer[GOLDEN_MAX_OUT];

int main(void) {
    size_t i;
    int failures = 0;
    uint32_t start, ticks;
    BARRIER();
    start = FPGA_COUNTER;
    BARRIER();
    ticks = FPGA_COUNTER - start;
    printf("empty ticks %lu\n", (unsigned long)ticks);
    for (i = 0; i < GOLDEN_CASE_COUNT; ++i) {
        const golden_case *c = &golden_cases[i];
        mnk_status status;
        int same;
        BARRIER();
        start = FPGA_COUNTER;
        BARRIER();
        status = run_case(c, 0, out_buffer);
        BARRIER();
        ticks = FPGA_COUNTER - start;
        BARRIER();
        same = status == MNK_OK && memcmp(out_buffer, c->expected, c->out_len) == 0;
        failures += !same;
        printf("case %u ticks %lu %s\n", (unsigned)i, (unsigned long)ticks,
               status != MNK_OK ? mnk_status_text(status) : (same ? "ok" : "differs"));
    }
    printf("bench: %u cases, %d failures\n", (unsigned)GOLDEN_CASE_COUNT, failures);
    return failures ? 1 : 0;
}
