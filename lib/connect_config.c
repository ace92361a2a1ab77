/* Cluster connect: the front proxy as the host's apiserver describes it in
 * kube-system/extension-apiserver-authentication (fed/connect.h). */
#include <stdlib.h>
#include <string.h>

#include "fed/connect.h"

static const char *const keys[3] = {
    "requestheader-username-headers",
    "requestheader-group-headers",
    "requestheader-extra-headers-prefix",
};

/* A JSON array of strings, itself a string value of data[key]; a missing
 * key is an empty list. */
static int string_list(const cJSON *data, const char *key, char ***out, size_t *n,
                       struct fed_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key), *e;
	cJSON *arr = NULL;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !(arr = cJSON_Parse(v->valuestring)) || !cJSON_IsArray(arr)) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "extension-apiserver-authentication: %s is not a JSON list of "
		                    "strings",
		                    key);
		goto out;
	}
	if (!(*out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out)))) {
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e) || !*e->valuestring) {
			ret = fed_error_set(
			    err, FED_EINVAL,
			    "extension-apiserver-authentication: %s holds a value that "
			    "is not a name",
			    key);
			goto out;
		}
		if (!((*out)[*n] = strdup(e->valuestring))) {
			ret = fed_error_set(err, FED_ENOMEM, "out of memory");
			goto out;
		}
		(*n)++;
	}
out:
	cJSON_Delete(arr);
	return ret;
}

int fed_connect_front_proxy_parse(const cJSON *configmap, struct fed_connect_front_proxy *out,
                                  struct fed_error *err)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(configmap, "data"), *ca;
	int ret;

	memset(out, 0, sizeof(*out));
	ca = cJSON_GetObjectItemCaseSensitive(data, "requestheader-client-ca-file");
	if (!cJSON_IsString(ca) || !strstr(ca->valuestring, "-----BEGIN CERTIFICATE-----"))
		return fed_error_set(
		    err, FED_ENOTFOUND,
		    "the host's apiserver names no front-proxy CA "
		    "(requestheader-client-ca-file in "
		    "kube-system/extension-apiserver-authentication): start it with "
		    "--requestheader-client-ca-file and --proxy-client-cert-file");
	if (!(out->ca_pem = strdup(ca->valuestring)))
		return fed_error_set(err, FED_ENOMEM, "out of memory");
	ret = string_list(data, "requestheader-allowed-names", &out->allowed_names,
	                  &out->nallowed_names, err);
	for (int i = 0; i < 3 && !ret; i++)
		ret = string_list(data, keys[i], &out->headers[i], &out->nheaders[i], err);
	if (ret)
		return ret;
	out->names.user = (const char *const *)out->headers[0];
	out->names.nuser = out->nheaders[0];
	out->names.group = (const char *const *)out->headers[1];
	out->names.ngroup = out->nheaders[1];
	out->names.extra_prefix = (const char *const *)out->headers[2];
	out->names.nextra_prefix = out->nheaders[2];
	return 0;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void fed_connect_front_proxy_release(struct fed_connect_front_proxy *fp)
{
	if (!fp)
		return;
	free(fp->ca_pem);
	free_list(fp->allowed_names, fp->nallowed_names);
	for (int i = 0; i < 3; i++)
		free_list(fp->headers[i], fp->nheaders[i]);
	memset(fp, 0, sizeof(*fp));
}

bool fed_connect_front_proxy_allowed(const struct fed_connect_front_proxy *fp, const char *cn)
{
	if (!fp->nallowed_names) /* kube's rule: any certificate the CA signed */
		return true;
	for (size_t i = 0; i < fp->nallowed_names; i++)
		if (cn && !strcmp(cn, fp->allowed_names[i]))
			return true;
	return false;
}

int fed_connect_discovery(const char *path, size_t len, struct fed_buf *out)
{
#define GV FED_CONNECT_GROUP "/" FED_CONNECT_VERSION
/* the group's fields, without braces: APIGroup adds kind and apiVersion */
#define GROUP_FIELDS                                                                               \
	"\"name\":\"" FED_CONNECT_GROUP "\",\"versions\":[{\"groupVersion\":\"" GV                 \
	"\",\"version\":\"" FED_CONNECT_VERSION                                                    \
	"\"}],\"preferredVersion\":{\"groupVersion\":\"" GV                                        \
	"\",\"version\":\"" FED_CONNECT_VERSION "\"}"
	static const struct {
		const char *path, *doc;
	} docs[] = {
	    {"/apis",
	     "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[{" GROUP_FIELDS "}]}"},
	    {"/apis/" FED_CONNECT_GROUP,
	     "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\"," GROUP_FIELDS "}"},
	    {"/apis/" GV,
	     "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"" GV "\","
	     "\"resources\":[{\"name\":\"clusters\",\"singularName\":\"cluster\","
	     "\"namespaced\":false,\"kind\":\"Cluster\",\"verbs\":[]},"
	     "{\"name\":\"clusters/proxy\",\"singularName\":\"\",\"namespaced\":false,"
	     "\"kind\":\"ClusterProxyOptions\",\"verbs\":[\"create\",\"delete\",\"get\",\"patch\","
	     "\"update\"]}]}"},
	};
#undef GROUP_FIELDS
#undef GV

	while (len > 1 && path[len - 1] == '/')
		len--;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		if (strlen(docs[i].path) == len && !memcmp(path, docs[i].path, len))
			return fed_buf_append(out, docs[i].doc, strlen(docs[i].doc)) < 0
			           ? FED_ENOMEM
			           : 1;
	return 0;
}
