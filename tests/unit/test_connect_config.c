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

int main(void)
{
	RUN(test_parse);
	RUN(test_minimal);
	RUN(test_errors);
	return CHECK_EXIT();
}
