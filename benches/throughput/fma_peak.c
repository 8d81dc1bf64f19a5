/* One core's double-precision FMA peak: 12 independent chains of 4-wide fused multiply-adds
 * (enough to hide the FMA latency on both FMA ports of current x86 cores), best of 5 runs.
 * Prints "<GFLOP/s> GFLOP/s".
 *
 *     cc -O2 -mavx2 -mfma fma_peak.c -o fma_peak && ./fma_peak [ITERATIONS]
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12 /* c0 .. c11 below */

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 100000000L;
    /* c = c * a + b with a just below 1 stays finite and normal however long it runs; the
     * values come from argc so that the compiler cannot fold the loop. */
    __m256d a = _mm256_set1_pd(1.0 - 1e-9 * argc), b = _mm256_set1_pd(1e-3 * argc);
    double best = 0, sink = 0;
    for (int run = 0; run < 5; run++) {
        /* Twelve named accumulators rather than an array, so that they stay in registers. */
        __m256d c0 = _mm256_set1_pd(0), c1 = _mm256_set1_pd(1), c2 = _mm256_set1_pd(2),
                c3 = _mm256_set1_pd(3), c4 = _mm256_set1_pd(4), c5 = _mm256_set1_pd(5),
                c6 = _mm256_set1_pd(6), c7 = _mm256_set1_pd(7), c8 = _mm256_set1_pd(8),
                c9 = _mm256_set1_pd(9), c10 = _mm256_set1_pd(10), c11 = _mm256_set1_pd(11);
        double start = seconds();
        for (long i = 0; i < iterations; i++) {
            c0 = _mm256_fmadd_pd(c0, a, b);
            c1 = _mm256_fmadd_pd(c1, a, b);
            c2 = _mm256_fmadd_pd(c2, a, b);
            c3 = _mm256_fmadd_pd(c3, a, b);
            c4 = _mm256_fmadd_pd(c4, a, b);
            c5 = _mm256_fmadd_pd(c5, a, b);
            c6 = _mm256_fmadd_pd(c6, a, b);
            c7 = _mm256_fmadd_pd(c7, a, b);
            c8 = _mm256_fmadd_pd(c8, a, b);
            c9 = _mm256_fmadd_pd(c9, a, b);
            c10 = _mm256_fmadd_pd(c10, a, b);
            c11 = _mm256_fmadd_pd(c11, a, b);
        }
        double elapsed = seconds() - start;
        /* 4 lanes, 2 flops (a multiply and an add) per lane and FMA. */
        double gflops = 8.0 * CHAINS * iterations / elapsed / 1e9;
        if (gflops > best)
            best = gflops;
        __m256d sum = _mm256_add_pd(
            _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(c0, c1), _mm256_add_pd(c2, c3)),
                          _mm256_add_pd(_mm256_add_pd(c4, c5), _mm256_add_pd(c6, c7))),
            _mm256_add_pd(_mm256_add_pd(c8, c9), _mm256_add_pd(c10, c11)));
        double lanes[4];
        _mm256_storeu_pd(lanes, sum);
        sink += lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
    /* Printing the sums keeps every chain live. */
    fprintf(stderr, "checksum %g\n", sink);
    printf("%.2f GFLOP/s\n", best);
    return 0;
}
