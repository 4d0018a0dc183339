#ifndef RWKV_CRC32C_H
#define RWKV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes, continuing from `crc`
/// (pass 0 to start). Uses the SSE4.2 `crc32` instruction when the CPU has it (checked at run time),
/// else a slicing-by-8 table. crc32c(0, "123456789", 9) == 0xE3069283.
uint32_t rwkv_crc32c(uint32_t crc, const void *data, size_t length);

/// The table implementation alone (what CPUs without SSE4.2 run; tests compare the two).
uint32_t rwkv_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the SSE4.2 instruction path is the one in use.
int rwkv_crc32c_hardware(void);

#endif
