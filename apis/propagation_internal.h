/* Helpers shared by the propagation files (apis/placement.c, overrides.c,
 * object_for_cluster.c, json_canon.c); not part of the public API. */
#ifndef FED_PROPAGATION_INTERNAL_H
#define FED_PROPAGATION_INTERNAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

/* fed_json_patch_apply() with the op array named `where` in messages
 * ("ops", "spec.overrides[2].clusterOverrides"). */
int fed_prop_patch_apply(cJSON *doc, const cJSON *ops, const char *where, struct fed_error *err);

/* Index in spec.overrides of the first entry for `cluster`, or -1. */
int fed_prop_overrides_index(const cJSON *overrides, const char *cluster);

#endif
