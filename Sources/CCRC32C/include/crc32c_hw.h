#ifndef METRO_CRC32C_HW_H
#define METRO_CRC32C_HW_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (x86-64 SSE4.2); checked at run time.
int metro_crc32c_hw_available(void);

/// Continues a running CRC-32C with the CPU's instruction; same convention as the
/// Swift `CRC32C.update` (start with 0). Only call when `metro_crc32c_hw_available()`.
uint32_t metro_crc32c_hw_update(uint32_t crc, const void *data, size_t count);

#endif
