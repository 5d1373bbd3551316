/* libFuzzer target for domain_xml_parse_metadata(): the metadata element arkd reads back from
 * every domain on the hypervisor, which anyone with access to libvirt can write. Beyond the
 * sanitizers, checks the parser's contract: on success both outputs are set and valid, on failure
 * neither is touched. See README.md for building and running. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "domain-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const char *id) {
        if (strlen(id) != 36)
                abort();
        for (size_t i = 0; i < 36; i++) {
                char c = id[i];
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *xml = NULL;
        char *tenant = NULL, *id = NULL;
        int r;

        /* The parser takes a C string, as virDomainGetMetadata() returns it. */
        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = 0;

        r = domain_xml_parse_metadata(xml, &tenant, &id);
        if (r < 0) {
                if (r != -EBADMSG && r != -ENOMEM)
                        abort();
                if (tenant || id)
                        abort();
                return 0;
        }
        if (!tenant || !id || !ark_name_is_valid(tenant))
                abort();
        check_id(id);
        free(tenant);
        free(id);
        return 0;
}
