/*
 * clock.h - the one source of wall-clock and monotonic time. Modules that
 * judge time take `now` as a parameter so tests can pass their own.
 */
#ifndef JWTGATE_CLOCK_H
#define JWTGATE_CLOCK_H

#include <stdint.h>

int64_t  clock_now(void);      /* wall clock, seconds since the epoch */
double   clock_now_real(void); /* wall clock with fractions */
uint64_t clock_mono_us(void);  /* monotonic, microseconds */

#endif
