/* fedctl delete's decisions from what the host holds (no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/base64.h"
#include "delete.h"

void fedctl_delete_plan(const struct fed_federation *fed, const cJSON *secret, const char *name,
                        struct fedctl_delete_plan *p)
{
	size_t k;

	memset(p, 0, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "kubeconfig-%s", name);
	for (k = 0; fed && k < fed->n; k++) {
		if (!fed->clusters[k].name || strcmp(fed->clusters[k].name, name))
			continue;
		p->in_cm = true;
		if (fed->clusters[k].mode == FED_CLUSTER_AGENT)
			p->agent = true;
	}
	p->in_secret =
	    secret && cJSON_GetObjectItem(cJSON_GetObjectItem(secret, "data"), p->key) != NULL;
}

const char *fedctl_joined_as(const struct fed_federation *fed, const char *server)
{
	size_t i, k;

	for (i = 0; fed && server && i < fed->n; i++)
		for (k = 0; fed->clusters[i].name && k < fed->clusters[i].n_addrs; k++) {
			struct fed_error e = FED_ERROR_INIT;
			char *url = NULL;
			bool same =
			    !fed_server_url(fed->clusters[i].addrs[k].server_address, &url, &e) &&
			    !strcmp(url, server);
			free(url);
			if (same)
				return fed->clusters[i].name;
		}
	return NULL;
}

int fedctl_bootstrap_tokens(const cJSON *secret, const char *name, cJSON *data)
{
	const cJSON *e;
	size_t len = strlen(name);
	int n = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(secret, "data")) {
		char *v = NULL;
		size_t vlen;
		if (!e->string || strncmp(e->string, "bootstrap-", 10) || !cJSON_IsString(e))
			continue;
		/* the value is "<cluster> <token>" */
		if (!fed_base64_decode(FED_BASE64_STD, e->valuestring, strlen(e->valuestring), &v,
		                       &vlen) &&
		    vlen > len && !strncmp(v, name, len) && v[len] == ' ') {
			cJSON_AddNullToObject(data, e->string);
			n++;
		}
		free(v);
	}
	return n;
}
