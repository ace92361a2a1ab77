/* Kubernetes Events, so that `kubectl describe` shows users what the
 * controller thinks of their ConfigMap and clusters. Callers emit on a
 * change (a new ConfigMap version, a state transition), never per sync or
 * per probe, so a broken config cannot flood the host apiserver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller.h"
#include "fed/log.h"

static void event_done(struct fed_kube_response *resp, void *ud)
{
	if (resp->err.code)
		FED_LOG_DEBUG(NULL, "writing event: %s", resp->err.msg);
}

void controller_event(struct controller *ctl, const struct controller_event_target *t, bool warning,
                      const char *reason, const char *message)
{
	static const struct fed_kube_resource r_event = {"", "v1", "events", true};
	static unsigned long seq;
	struct fed_kube_ref ref = {&r_event, t->namespace, NULL, NULL};
	struct fed_kube_write_opts wo = {FED_MANAGER, false, false};
	struct fed_error err = FED_ERROR_INIT;
	char name[300], now[32];
	cJSON *ev = NULL, *obj, *src;
	struct tm tm;
	time_t t_now = time(NULL);

	if (!ctl->started)
		return;
	gmtime_r(&t_now, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* client-go's naming: object name, then a unique suffix */
	snprintf(name, sizeof(name), "%.200s.%lx%04lx", t->name, (unsigned long)t_now,
	         ++seq & 0xffff);
	ev = cJSON_CreateObject();
	obj = cJSON_AddObjectToObject(ev, "metadata");
	cJSON_AddStringToObject(obj, "name", name);
	cJSON_AddStringToObject(obj, "namespace", t->namespace);
	obj = cJSON_AddObjectToObject(ev, "involvedObject");
	cJSON_AddStringToObject(obj, "apiVersion", t->api_version);
	cJSON_AddStringToObject(obj, "kind", t->kind);
	cJSON_AddStringToObject(obj, "namespace", t->namespace);
	cJSON_AddStringToObject(obj, "name", t->name);
	if (t->uid)
		cJSON_AddStringToObject(obj, "uid", t->uid);
	cJSON_AddStringToObject(ev, "type", warning ? "Warning" : "Normal");
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", message);
	src = cJSON_AddObjectToObject(ev, "source");
	cJSON_AddStringToObject(src, "component", FED_MANAGER);
	cJSON_AddStringToObject(ev, "reportingComponent", FED_MANAGER);
	cJSON_AddStringToObject(ev, "firstTimestamp", now);
	cJSON_AddStringToObject(ev, "lastTimestamp", now);
	cJSON_AddNumberToObject(ev, "count", 1);
	if (fed_kube_create(ctl->host, &ref, ev, &wo, event_done, NULL, NULL, &err))
		FED_LOG_DEBUG(NULL, "writing event: %s", err.msg);
	cJSON_Delete(ev);
}
