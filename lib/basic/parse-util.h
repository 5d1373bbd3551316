#pragma once

/* Parsers for user-supplied values. libc only; nothing here logs. All return 0 or a negative
 * errno (-EINVAL malformed, -ERANGE out of range) and write the result only on success. */

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* "512", "512M", "4G", "1.5T", "100KiB": binary units (K = 1024). A bare number is bytes. */
int parse_size(const char *s, uint64_t *ret);
int parse_u64(const char *s, uint64_t *ret);
int parse_u32(const char *s, uint32_t *ret);
int parse_int(const char *s, int *ret);
/* yes/no, true/false, on/off, 1/0. */
int parse_boolean(const char *s, bool *ret);

/* Ark object names (tenants, instances): 1-63 characters of [a-z0-9-], starting with a letter and
 * not ending with '-'. */
#define ARK_NAME_MAX 63
bool ark_name_is_valid(const char *s);
/* One sentence saying why s is not a valid name, for error messages. Static string. */
const char *ark_name_invalid_reason(const char *s);

/* "0000:3b:00.0": a PCI address as the kernel names devices (lowercase hex, function 0-7). */
bool pci_address_is_canonical(const char *s);

/* "80 GiB", "512 MiB", "1.5 TiB": human size. Writes into buf (at least 16 bytes). */
const char *format_bytes(char *buf, size_t l, uint64_t bytes);
