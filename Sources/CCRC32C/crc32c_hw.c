// CRC-32C with the SSE4.2 `crc32` instruction: the journal checksums every record
// on the broker's loop thread, and the table-driven Swift version cost ~8% of that
// thread's own (non-libzmq, non-kernel) time. Swift cannot emit this instruction,
// so these few lines are C. The software version in MetroProtocol stays the
// reference (tests compare the two) and the fallback on other CPUs.
#include "crc32c_hw.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = _mm_crc32_u8(c32, *p);
        p++;
        n--;
    }
    return c32;
}

int metro_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

uint32_t metro_crc32c_hw_update(uint32_t crc, const void *data, size_t count) {
    return ~crc32c_sse42(~crc, (const unsigned char *)data, count);
}

#else

int metro_crc32c_hw_available(void) { return 0; }

uint32_t metro_crc32c_hw_update(uint32_t crc, const void *data, size_t count) {
    (void)data;
    (void)count;
    return crc;
}

#endif
