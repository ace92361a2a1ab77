/* Fuzz fedctl federate -f: any bytes are parsed as a YAML/JSON stream of
 * objects; the parse must succeed with objects that have kind and
 * metadata.name, or fail with a one-line message, and every object must
 * wrap into a Federated<Kind> whose template has no server-set fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fedctl/federate_obj.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	cJSON *objs = NULL, *o;
	int ret = fedctl_objects_parse((const char *)data, size, "fuzz", &objs, &err);

	if (ret) {
		if (ret != err.code || !err.msg[0] || strchr(err.msg, '\n') || objs)
			abort();
		return 0;
	}
	if (!cJSON_GetArraySize(objs))
		abort();
	cJSON_ArrayForEach(o, objs) {
		cJSON *f, *t;
		if (!fed_obj_name(o) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "kind")))
			abort();
		f = fedctl_federated_object(o, "types.kubefed.io/v1beta1", "FederatedX", true);
		t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "spec"),
		                                     "template");
		if (!f || strcmp(fed_obj_name(f), fed_obj_name(o)) ||
		    cJSON_GetObjectItemCaseSensitive(t, "status") ||
		    cJSON_GetObjectItemCaseSensitive(t, "kind") ||
		    cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetObjectItemCaseSensitive(t, "metadata"), "uid"))
			abort();
		cJSON_Delete(f);
	}
	cJSON_Delete(objs);
	return 0;
}
