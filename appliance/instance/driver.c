/* The table of instance drivers, and what arkd asks of all of them at once. */

#include <errno.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "driver.h"
#include "instance.h"
#include "manager.h"

static const InstanceDriver *const drivers[] = {
        &vm_driver,
#if IS_ENABLED(CONFIG_CONTAINERS)
        &container_driver,
#endif
};

const InstanceDriver *instance_driver_find(const char *type) {
        if (!type)
                return NULL;
        for (size_t k = 0; k < ELEMENTSOF(drivers); k++)
                if (streq(drivers[k]->type, type))
                        return drivers[k];
        return NULL;
}

char *instance_driver_types(void) {
        StrBuf b = {};

        for (size_t k = 0; k < ELEMENTSOF(drivers); k++)
                strbuf_printf(&b, "%s'%s'", k > 0 ? ", " : "", drivers[k]->type);
        return strbuf_steal(&b);
}

int instance_drivers_setup(Manager *m) {
        int r;

        for (size_t k = 0; k < ELEMENTSOF(drivers); k++) {
                r = drivers[k]->setup(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

void instance_drivers_teardown(Manager *m) {
        for (size_t k = ELEMENTSOF(drivers); k > 0; k--)
                drivers[k - 1]->teardown(m);
}

/* Whether the manager has instances of the driver's type. */
static bool has_instances(Manager *m, const InstanceDriver *d) {
        LIST_FOREACH(instances, i, m->instances)
                if (streq_ptr(i->type, d->type))
                        return true;
        return false;
}

int instance_drivers_reconcile(Manager *m, sd_bus_error *error) {
        int r;

        for (size_t k = 0; k < ELEMENTSOF(drivers); k++) {
                /* A backend this host cannot have (no container runtime) fails nothing while no
                 * instance needs it; the VM driver's hypervisor is always asked for. */
                if (k > 0 && !drivers[k]->connected(m) && !has_instances(m, drivers[k]))
                        continue;
                r = drivers[k]->require(m, error);
                if (r < 0)
                        return r;
                r = drivers[k]->reconcile(m);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Reconciliation failed: %m");
        }
        return 0;
}
