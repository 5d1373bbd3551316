/* libFuzzer target for domain_xml_parse_hostdevs(): the domain XML arkd reads back from libvirt to
 * re-derive GPU claims, which anyone with access to libvirt can define. Beyond the sanitizers,
 * checks the contract: on success every entry is a canonical PCI address and none repeats; on
 * failure the output is not touched. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "domain-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *xml = NULL;
        char **l = (char **) 0x1;
        int r;

        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = 0;

        r = domain_xml_parse_hostdevs(xml, &l);
        if (r == 0) {
                for (char **p = l; p && *p; p++) {
                        if (!pci_address_is_canonical(*p))
                                abort();
                        for (char **q = l; q < p; q++)
                                if (strcmp(*p, *q) == 0)
                                        abort();
                }
                strv_free(l);
        } else {
                if (r != -EBADMSG && r != -ENOMEM)
                        abort();
                if (l != (char **) 0x1)
                        abort();
        }
        return 0;
}
