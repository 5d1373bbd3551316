#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

int parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *e;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &e, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*e)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_u64(s, &v);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_int(const char *s, int *ret) {
        long v;
        char *e;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &e, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (*e || isspace((unsigned char) s[0]))
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                { "", 0 },    { "B", 0 },    { "K", 10 },   { "KiB", 10 }, { "KB", 10 },
                { "M", 20 },  { "MiB", 20 }, { "MB", 20 },  { "G", 30 },   { "GiB", 30 },
                { "GB", 30 }, { "T", 40 },   { "TiB", 40 }, { "TB", 40 },
        };
        unsigned long long whole;
        uint64_t frac_num = 0, frac_den = 1;
        const char *p;
        char *e;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        whole = strtoull(s, &e, 10);
        if (errno == ERANGE)
                return -ERANGE;
        p = e;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                while (isdigit((unsigned char) *p)) {
                        if (frac_den < 1000000000ULL) {
                                frac_num = frac_num * 10 + (uint64_t) (*p - '0');
                                frac_den *= 10;
                        }
                        p++;
                }
        }
        while (*p == ' ')
                p++;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                unsigned shift = units[i].shift;
                uint64_t v, f;

                if (strcasecmp(p, units[i].suffix) != 0)
                        continue;
                if (shift == 0 && frac_num != 0)
                        return -EINVAL; /* fractional bytes */
                if (whole > (UINT64_MAX >> shift))
                        return -ERANGE;
                v = (uint64_t) whole << shift;
                f = (uint64_t) (((__uint128_t) frac_num << shift) / frac_den);
                if (v > UINT64_MAX - f)
                        return -ERANGE;
                *ret = v + f;
                return 0;
        }
        return -EINVAL;
}

bool ark_name_is_valid(const char *s) {
        return ark_name_invalid_reason(s) == NULL;
}

const char *ark_name_invalid_reason(const char *s) {
        size_t l;

        if (isempty(s))
                return "a name may not be empty";
        l = strlen(s);
        if (l > ARK_NAME_MAX)
                return "a name may be at most 63 characters long";
        if (!(s[0] >= 'a' && s[0] <= 'z'))
                return "a name must start with a lowercase letter";
        for (size_t i = 0; i < l; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return "a name may contain only lowercase letters, digits and '-'";
        if (s[l - 1] == '-')
                return "a name may not end with '-'";
        return NULL;
}

const char *format_bytes(char *buf, size_t l, uint64_t bytes) {
        static const char *const suffix[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        size_t i = 0;
        uint64_t unit = 1;

        while (i + 1 < ELEMENTSOF(suffix) && bytes / unit >= 1024) {
                unit <<= 10;
                i++;
        }
        /* One decimal rounds 1023.95 and above up to "1024.0": show those in the next unit. */
        if (bytes % unit != 0 && i + 1 < ELEMENTSOF(suffix) && (double) bytes / (double) unit >= 1023.95) {
                unit <<= 10;
                i++;
        }
        if (bytes % unit == 0)
                snprintf(buf, l, "%llu %s", (unsigned long long) (bytes / unit), suffix[i]);
        else
                snprintf(buf, l, "%.1f %s", (double) bytes / (double) unit, suffix[i]);
        return buf;
}

bool pci_address_is_canonical(const char *s) {
        if (!s || strlen(s) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.' || s[11] < '0' ||
            s[11] > '7')
                return false;
        for (size_t k = 0; k < 10; k++)
                if (k != 4 && k != 7 && !((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
                        return false;
        /* Slots are 0x00-0x1f. */
        return s[8] <= '1';
}
