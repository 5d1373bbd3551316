#pragma once

/* Cleanup helpers for libarchive's objects: _cleanup_(archive_read_freep) and friends. Header only;
 * whoever includes it links libarchive. */

#include <archive.h>
#include <archive_entry.h>

#include "basic/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive, archive_read_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive, archive_write_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry, archive_entry_free);
