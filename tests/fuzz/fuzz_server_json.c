/* JSON from API servers: discovery documents, list answers and the
 * object helpers must survive any input. */
#include <stdint.h>
#include <stdlib.h>

#include "fed/discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_discovery *d = calloc(1, sizeof(*d));
	struct fed_error err = FED_ERROR_INIT;
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
	const cJSON *it;

	if (d && doc && fed_discovery_parse(d, doc, &err) == 0) {
		fed_discovery_find(d, "deploy");
		fed_discovery_find(d, "widgets.v1.e2e.fed.io");
		fed_discovery_find_kind(d, "apps", NULL, "Deployment");
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items")) {
		fed_obj_name(it);
		fed_obj_namespace(it);
		fed_obj_resource_version(it);
		fed_obj_str(it, "metadata.labels.app");
	}
	fed_obj_str(doc, "metadata.continue");
	fed_discovery_free(d);
	cJSON_Delete(doc);
	return 0;
}
