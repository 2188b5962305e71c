/* Vector table and reset handler for a bare Cortex-M0+ under QEMU (mps2-an385), semihosting. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void initialise_monitor_handles(void);
extern int main(void);
extern void exit(int status);

/* Semihosting SYS_EXIT with ADP_Stopped_RunTimeErrorUnknown: QEMU exits with status 1. */
static void semihosting_fail(const char *message) {
    register uint32_t op __asm__("r0") = 0x04; /* SYS_WRITE0 */
    register const char *arg __asm__("r1") = message;
    __asm__ volatile("bkpt 0xAB" : "+r"(op) : "r"(arg) : "memory");
    op = 0x18; /* SYS_EXIT */
    arg = (const char *)0x20023;
    __asm__ volatile("bkpt 0xAB" : "+r"(op) : "r"(arg) : "memory");
    for (;;) {
    }
}

/* newlib's exit() runs the C++ fini array, which ends in _fini; there is nothing to do. */
void _init(void) {
}

void _fini(void) {
}

__attribute__((weak)) void hard_fault_handler(void) {
    semihosting_fail("HARDFAULT (unaligned access or bad address)\n");
}

void default_handler(void) {
    semihosting_fail("unexpected exception\n");
}

void reset_handler(void) {
    uint32_t *src = &_sidata;
    uint32_t *dst;
    for (dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    initialise_monitor_handles();
    exit(main());
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_estack),
    reset_handler,
    default_handler,    /* NMI */
    hard_fault_handler, /* HardFault */
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    default_handler, /* SVCall */
    0,
    0,
    default_handler, /* PendSV */
    default_handler, /* SysTick */
};
