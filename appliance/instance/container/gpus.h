#pragma once

/* A container's GPUs as device edits (CDI, lib/shared/cdi.h), for the container driver.
 *
 * arkd describes every GPU it hands to containers in CDI specs it writes itself from its
 * inventory, one per vendor: <CDIDirectory>/ark-nvidia.json (kind nvidia.com/gpu) and
 * ark-ascend.json (huawei.com/npu), a device per GPU named after its PCI address with '-' for ':'
 * ("0000-3a-00.0"). Other tools on the host may read them; arkd itself builds a container's edits
 * from the inventory at each start (the nodes' numbers read again then), so a stale or altered
 * file on disk never reaches a container.
 *
 * What a device is: an NVIDIA GPU is its /dev/nvidiaN (N: the driver's "Device Minor" in
 * /proc/driver/nvidia/gpus/<address>/information) with the driver's nvidiactl and nvidia-uvm nodes,
 * NVIDIA_VISIBLE_DEVICES its UUID (the same file's "GPU UUID"); an Ascend NPU is /dev/davinciN
 * (N: its place among the host's Ascend NPUs in PCI order, as the driver numbers them) with
 * davinci_manager, devmm_svm and hisi_hdc, ASCEND_VISIBLE_DEVICES N. Device nodes are looked up
 * under [Containers] DeviceRoot= (/dev; tests point it at mknod'ed nodes), the driver's files under
 * SysfsRoot=. */

#include <stddef.h>

#include "shared/cdi.h"

typedef struct Instance Instance;
typedef struct Manager Manager;

/* The CDI edits of the GPUs instance i holds (i->gpus), or of its partition (partitions.h's
 * device; NULL: none); neither: empty edits. For
 * oci_spec_add_cdi(), which checks each node against the host's again. 0, or <0 with a sentence in
 * *ret_error: -ENOENT for a missing node or driver file, -ENODEV for a node of the wrong kind,
 * -EINVAL for GPUs of two vendors or one Ark cannot give to containers. */
int container_gpu_edits(Manager *m, const Instance *i, const CdiPartition *partition, CdiEdits *ret,
                        char **ret_error);

/* Writes the CDI specs of the host's GPUs that containers can get (those bound to their vendor's
 * driver) to [Containers] CDIDirectory=, removing a vendor's file when it has none. A GPU whose
 * nodes are missing is left out, and said so in the log. 0 or <0 (the directory unwritable). */
int container_cdi_refresh(Manager *m);
