/* The agent's METADATA object, parsed on the host (see fed/tunnel.h). The
 * payload comes from the member side, so every field is checked before it
 * reaches the KubeFedCluster status. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "fed/tunnel.h"

static int get_str(const cJSON *o, const char *key, char *out, size_t n, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t len;

	out[0] = '\0';
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return fed_error_set(err, FED_EINVAL, "agent metadata: %s must be a string", key);
	len = strlen(v->valuestring);
	if (len >= n)
		return fed_error_set(err, FED_EINVAL, "agent metadata: %s is longer than %zu bytes",
		                     key, n - 1);
	for (size_t i = 0; i < len; i++)
		if (v->valuestring[i] < 0x20 || v->valuestring[i] > 0x7e)
			return fed_error_set(err, FED_EINVAL,
			                     "agent metadata: %s must be printable ASCII", key);
	memcpy(out, v->valuestring, len + 1);
	return 0;
}

/* A number in [0, max], or -1 when absent. */
static int get_num(const cJSON *o, const char *key, double max, double *out, struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = -1;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > max)
		return fed_error_set(err, FED_EINVAL,
		                     "agent metadata: %s must be a number from 0 to %.0f", key,
		                     max);
	*out = v->valuedouble;
	return 0;
}

int fed_agent_metadata_parse(const char *json, size_t len, struct fed_agent_metadata *out,
                             struct fed_error *err)
{
	struct fed_agent_metadata m;
	cJSON *o = cJSON_ParseWithLength(json, len);
	double nodes, cores, cpu, mem, t;
	int rc;

	memset(&m, 0, sizeof(m));
	if (!cJSON_IsObject(o)) {
		rc = fed_error_set(err, FED_EINVAL, "agent metadata: not a JSON object");
		goto out;
	}
	if ((rc = get_str(o, "agentVersion", m.agent_version, sizeof(m.agent_version), err)) ||
	    (rc = get_str(o, "kubernetesVersion", m.kubernetes_version,
	                  sizeof(m.kubernetes_version), err)) ||
	    (rc = get_num(o, "nodes", 1e7, &nodes, err)) ||
	    (rc = get_num(o, "cores", 1e9, &cores, err)) ||
	    (rc = get_num(o, "agentCPUSeconds", 1e12, &cpu, err)) ||
	    (rc = get_num(o, "agentMemoryBytes", 1e15, &mem, err)) ||
	    (rc = get_num(o, "time", 1e11, &t, err)))
		goto out;
	m.nodes = (long long)nodes;
	m.cores = (long long)cores;
	m.cpu_seconds = cpu;
	m.memory_bytes = (long long)mem;
	m.time = (long long)t;
	*out = m;
out:
	cJSON_Delete(o);
	return rc;
}

bool fed_agent_metadata_changed(const struct fed_agent_metadata *a,
                                const struct fed_agent_metadata *b)
{
	return strcmp(a->agent_version, b->agent_version) ||
	       strcmp(a->kubernetes_version, b->kubernetes_version) || a->nodes != b->nodes ||
	       a->cores != b->cores;
}
