/* Watch streams: arbitrary bytes split into lines and decoded as events. */
#include <stdint.h>
#include <string.h>

#include "kube_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct fed_error err = FED_ERROR_INIT;
		enum fed_watch_type t;
		cJSON *ev = NULL;

		if (fed_watch_decode(p, n, &t, &ev, &err) == 0) {
			const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
			fed_obj_name(obj);
			fed_obj_resource_version(obj);
		}
		cJSON_Delete(ev);
		p += n + 1;
	}
	return 0;
}
