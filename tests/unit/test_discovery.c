/* Aggregated discovery parsing and kubectl-style name resolution. */
#include <stdlib.h>

#include "check.h"
#include "fed/discovery.h"

static const char *core_doc =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"items\":["
    "{\"metadata\":{\"creationTimestamp\":null},\"versions\":[{\"version\":\"v1\",\"resources\":["
    "{\"resource\":\"configmaps\",\"responseKind\":{\"group\":\"\",\"version\":\"\",\"kind\":"
    "\"ConfigMap\"},\"scope\":\"Namespaced\",\"singularResource\":\"configmap\",\"verbs\":"
    "[\"create\",\"get\",\"list\",\"watch\"],\"shortNames\":[\"cm\"]},"
    "{\"resource\":\"events\",\"responseKind\":{\"kind\":\"Event\"},\"scope\":\"Namespaced\","
    "\"singularResource\":\"event\",\"verbs\":[\"list\"],\"shortNames\":[\"ev\"]},"
    "{\"resource\":\"namespaces\",\"responseKind\":{\"kind\":\"Namespace\"},\"scope\":\"Cluster\","
    "\"singularResource\":\"namespace\",\"verbs\":[\"get\"],\"shortNames\":[\"ns\"],"
    "\"subresources\":[{\"subresource\":\"status\"}]}]}]}]}";

static const char *apis_doc =
    "{\"kind\":\"APIGroupDiscoveryList\",\"apiVersion\":\"apidiscovery.k8s.io/v2\",\"items\":["
    "{\"metadata\":{\"name\":\"apps\"},\"versions\":[{\"version\":\"v1\",\"resources\":["
    "{\"resource\":\"deployments\",\"responseKind\":{\"kind\":\"Deployment\"},\"scope\":"
    "\"Namespaced\",\"singularResource\":\"deployment\",\"verbs\":[\"get\"],\"shortNames\":"
    "[\"deploy\"]}]}]},"
    "{\"metadata\":{\"name\":\"events.k8s.io\"},\"versions\":[{\"version\":\"v1\",\"resources\":["
    "{\"resource\":\"events\",\"responseKind\":{\"kind\":\"Event\"},\"scope\":\"Namespaced\","
    "\"singularResource\":\"event\",\"verbs\":[\"list\"],\"shortNames\":[\"ev\"]}]}]},"
    "{\"metadata\":{\"name\":\"e2e.fed.io\"},\"versions\":["
    "{\"version\":\"v2\",\"resources\":[{\"resource\":\"widgets\",\"responseKind\":{\"kind\":"
    "\"Widget\"},\"scope\":\"Namespaced\",\"singularResource\":\"widget\",\"verbs\":[]}]},"
    "{\"version\":\"v1\",\"resources\":[{\"resource\":\"widgets\",\"responseKind\":{\"kind\":"
    "\"Widget\"},\"scope\":\"Namespaced\",\"singularResource\":\"widget\",\"verbs\":[]}]}]}]}";

static struct fed_discovery *load(void)
{
	struct fed_discovery *d = calloc(1, sizeof(*d));
	struct fed_error err = FED_ERROR_INIT;
	cJSON *a = cJSON_Parse(core_doc), *b = cJSON_Parse(apis_doc);

	if (fed_discovery_parse(d, a, &err) || fed_discovery_parse(d, b, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		fed_discovery_free(d);
		d = NULL;
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
	return d;
}

static void test_find(void)
{
	struct fed_discovery *d = load();
	const struct fed_api_resource *a;

	CHECK(d != NULL);
	CHECK_INT(d->n, 7);
	a = fed_discovery_find(d, "cm");
	CHECK(a && !strcmp(a->r.resource, "configmaps") && a->r.namespaced);
	CHECK(!strcmp(a->verbs[3], "watch") && a->verbs[4] == NULL);
	CHECK(fed_discovery_find(d, "configmap") == a);
	CHECK(fed_discovery_find(d, "ConfigMap") == a);
	CHECK(fed_discovery_find(d, "configmaps") == a);
	a = fed_discovery_find(d, "ns");
	CHECK(a && !a->r.namespaced);
	/* a bare name found in core and in a group: core wins, as kubectl */
	a = fed_discovery_find(d, "events");
	CHECK(a && !strcmp(a->r.group, ""));
	a = fed_discovery_find(d, "events.events.k8s.io");
	CHECK(a && !strcmp(a->r.group, "events.k8s.io"));
	a = fed_discovery_find(d, "deploy");
	CHECK(a && !strcmp(a->r.group, "apps"));
	a = fed_discovery_find(d, "deployments.v1.apps");
	CHECK(a && !strcmp(a->r.version, "v1"));
	/* the first listed version is the preferred one */
	a = fed_discovery_find(d, "widgets");
	CHECK(a && !strcmp(a->r.version, "v2") && a->preferred);
	a = fed_discovery_find(d, "widgets.v1.e2e.fed.io");
	CHECK(a && !strcmp(a->r.version, "v1") && !a->preferred);
	a = fed_discovery_find_kind(d, "e2e.fed.io", NULL, "Widget");
	CHECK(a && !strcmp(a->r.version, "v2"));
	CHECK(fed_discovery_find_kind(d, "apps", "v1", "Deployment") != NULL);
	CHECK(fed_discovery_find(d, "gadgets") == NULL);
	CHECK(fed_discovery_find(d, "deployments.nope") == NULL);
	fed_discovery_free(d);
}

static void test_not_aggregated(void)
{
	struct fed_discovery *d = calloc(1, sizeof(*d));
	struct fed_error err = FED_ERROR_INIT;
	cJSON *doc = cJSON_Parse("{\"kind\":\"APIGroupList\",\"groups\":[]}");

	CHECK(fed_discovery_parse(d, doc, &err) != 0);
	CHECK_HAS(err.msg, "aggregated discovery");
	cJSON_Delete(doc);
	fed_discovery_free(d);
}

int main(void)
{
	RUN(test_find);
	RUN(test_not_aggregated);
	return CHECK_EXIT();
}
