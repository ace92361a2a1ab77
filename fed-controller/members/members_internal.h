/* What the files of members/ share; the rest of fed-controller uses
 * members.h. */
#ifndef FED_CONTROLLER_MEMBERS_INTERNAL_H
#define FED_CONTROLLER_MEMBERS_INTERNAL_H

#include "members.h"

struct members {
	struct fed_informer *config;   /* the Federation ConfigMap */
	struct fed_informer *secret;   /* the kubeconfig Secret */
	struct fed_informer *clusters; /* KubeFedClusters we manage */
	struct fed_map map;            /* name -> struct member * */
	char **client_ips;             /* our own addresses, for CIDR matching */
	size_t n_client_ips;
	ev_timer resync; /* debounces config changes */
	char config_error[FED_ERROR_MSG_MAX + 128];
	char *config_rv; /* ConfigMap resourceVersion whose problems were reported */
	bool known;      /* the Federation config was read once: members are real */
};

/* members_sync.c: re-read config and Secret and converge members (debounced). */
void members_schedule_sync(struct controller *ctl);

#endif
