/* The measurement behind `copy::LEAD` (crates/dataplane/src/copy.rs): how fast glibc's memcpy
 * copies 16 KiB depending on where the destination sits relative to the source modulo 4 KiB.
 *
 *   cc -O2 bench/memcpy-aliasing.c -o /tmp/memcpy-aliasing && /tmp/memcpy-aliasing
 *
 * On this project's AMD EPYC machines (glibc 2.36, `rep movsb` for copies of this size), a
 * destination 1 to about 64 bytes *ahead* of its source runs at 2-20 GB/s, against 40-100 GB/s
 * for every other placement: each load waits on a store that only looks like it overlaps
 * (4K aliasing). rustls copies a record's plaintext 5 bytes (and an HTTP/2 frame header, 9
 * more) into a buffer that, like ours, starts on a 4 KiB boundary: that is the slow case.
 * Each run takes well under a second; nothing here touches the network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const size_t len = 16384;
    const int rounds = 20000;
    const int offsets[] = {-64, -8, 0, 1, 5, 8, 14, 32, 48, 63, 64, 96, 128, 1024, 2048, 4090};
    char *src = aligned_alloc(4096, 1 << 20), *dst = aligned_alloc(4096, 1 << 20);
    if (!src || !dst) return 1;
    memset(src, 1, 1 << 20);
    memset(dst, 2, 1 << 20);
    printf("16 KiB memcpy, destination minus source (mod 4 KiB) -> GB/s\n");
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        char *s = src + 4096, *d = dst + 4096 + offsets[k];
        double t0 = now();
        for (int i = 0; i < rounds; i++) {
            memcpy(d, s, len);
            __asm__ volatile("" : : "r"(d) : "memory"); /* keep every copy */
        }
        double secs = now() - t0;
        printf("%6d  %6.1f\n", offsets[k], (double)len * rounds / secs / 1e9);
    }
    return 0;
}
