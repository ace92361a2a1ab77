/* Cluster connect: the front proxy from extension-apiserver-authentication
 * (lib/connect_config.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/connect.h"

#define CA "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static int parse(const char *json, struct fed_connect_front_proxy *fp, struct fed_error *err)
{
	cJSON *cm = cJSON_Parse(json);
	int ret = fed_connect_front_proxy_parse(cm, fp, err);

	cJSON_Delete(cm);
	return ret;
}

/* As kube-apiserver v1.36 writes it (local-clusters' flags). */
static void test_parse(void)
{
	struct fed_connect_front_proxy fp;
	struct fed_error err = FED_ERROR_INIT;
	int ret = parse(
	    "{\"data\":{\"client-ca-file\":\"x\","
	    "\"requestheader-allowed-names\":\"[\\\"front-proxy-client\\\"]\","
	    "\"requestheader-client-ca-file\":\""
	    "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
	    "\","
	    "\"requestheader-extra-headers-prefix\":\"[\\\"X-Remote-Extra-\\\"]\","
	    "\"requestheader-group-headers\":\"[\\\"X-Remote-Group\\\"]\","
	    "\"requestheader-username-headers\":\"[\\\"X-Remote-User\\\",\\\"X-Other\\\"]\"}}",
	    &fp, &err);

	if (ret)
		fed_connect_front_proxy_release(&fp);
	CHECK_INT(ret, 0);
	CHECK_STR(fp.ca_pem, CA);
	CHECK_INT(fp.nallowed_names, 1);
	CHECK(fed_connect_front_proxy_allowed(&fp, "front-proxy-client"));
	CHECK(!fed_connect_front_proxy_allowed(&fp, "kube-apiserver"));
	CHECK(!fed_connect_front_proxy_allowed(&fp, NULL));
	CHECK_INT(fp.names.nuser, 2);
	CHECK_STR(fp.names.user[1], "X-Other");
	CHECK_STR(fp.names.group[0], "X-Remote-Group");
	CHECK_STR(fp.names.extra_prefix[0], "X-Remote-Extra-");
	fed_connect_front_proxy_release(&fp);
	fed_connect_front_proxy_release(&fp);
}

/* No allowed names: any certificate of the CA (kube's rule); no header
 * lists: the connect functions fall back to kube's defaults. */
static void test_minimal(void)
{
	struct fed_connect_front_proxy fp;
	struct fed_error err = FED_ERROR_INIT;
	int ret = parse("{\"data\":{\"requestheader-client-ca-file\":\""
	                "-----BEGIN CERTIFICATE-----\\n"
	                "\"}}",
	                &fp, &err);

	if (ret)
		fed_connect_front_proxy_release(&fp);
	CHECK_INT(ret, 0);
	CHECK(fed_connect_front_proxy_allowed(&fp, "anything"));
	CHECK_INT(fp.names.nuser + fp.names.ngroup + fp.names.nextra_prefix, 0);
	fed_connect_front_proxy_release(&fp);
}

static void test_errors(void)
{
	static const struct {
		const char *json;
		int code;
		const char *says;
	} cases[] = {
	    {"{}", FED_ENOTFOUND, "--requestheader-client-ca-file"},
	    {"{\"data\":{\"client-ca-file\":\""
	     "-----BEGIN CERTIFICATE-----"
	     "\"}}",
	     FED_ENOTFOUND, "requestheader-client-ca-file"},
	    {"{\"data\":{\"requestheader-client-ca-file\":\"not a pem\"}}", FED_ENOTFOUND, "CA"},
	    {"{\"data\":{\"requestheader-client-ca-file\":\"-----BEGIN CERTIFICATE-----\","
	     "\"requestheader-username-headers\":\"X-Remote-User\"}}",
	     FED_EINVAL, "requestheader-username-headers"},
	    {"{\"data\":{\"requestheader-client-ca-file\":\"-----BEGIN CERTIFICATE-----\","
	     "\"requestheader-group-headers\":\"[1]\"}}",
	     FED_EINVAL, "requestheader-group-headers"},
	    {"{\"data\":{\"requestheader-client-ca-file\":\"-----BEGIN CERTIFICATE-----\","
	     "\"requestheader-allowed-names\":\"[\\\"\\\"]\"}}",
	     FED_EINVAL, "requestheader-allowed-names"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fed_connect_front_proxy fp;
		struct fed_error err = FED_ERROR_INIT;
		int ret = parse(cases[i].json, &fp, &err);

		fed_connect_front_proxy_release(&fp);
		CHECK_INT(ret, cases[i].code);
		CHECK_HAS(err.msg, cases[i].says);
	}
}

/* Each discovery document is JSON of the kind kubectl expects. */
static void test_discovery(void)
{
	static const struct {
		const char *path, *kind;
	} docs[] = {
	    {"/apis", "APIGroupList"},
	    {"/apis/", "APIGroupList"},
	    {"/apis/proxy.fed.kubefed.io", "APIGroup"},
	    {"/apis/proxy.fed.kubefed.io/v1alpha1", "APIResourceList"},
	    {"/apis/proxy.fed.kubefed.io/v1alpha1/", "APIResourceList"},
	};
	static const char *const none[] = {"/", "/api", "/apis/proxy.fed.kubefed.io/v1",
	                                   "/apis/proxy.fed.kubefed.io/v1alpha1/clusters",
	                                   "/apis/apps"};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct fed_buf out = FED_BUF_INIT;
		cJSON *j;
		int ret = fed_connect_discovery(docs[i].path, strlen(docs[i].path), &out);

		j = cJSON_Parse(fed_buf_str(&out));
		fed_buf_release(&out);
		CHECK_INT(ret, 1);
		CHECK(j);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), docs[i].kind);
		if (!strcmp(docs[i].kind, "APIResourceList")) {
			cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "resources"), 1);
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(r, "name")),
			          "clusters/proxy");
		} else if (!strcmp(docs[i].kind, "APIGroup")) {
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")),
			          "proxy.fed.kubefed.io");
		}
		cJSON_Delete(j);
	}
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		struct fed_buf out = FED_BUF_INIT;

		CHECK_INT(fed_connect_discovery(none[i], strlen(none[i]), &out), 0);
		CHECK_INT(out.len, 0);
		fed_buf_release(&out);
	}
}

int main(void)
{
	RUN(test_discovery);
	RUN(test_parse);
	RUN(test_minimal);
	RUN(test_errors);
	return CHECK_EXIT();
}
