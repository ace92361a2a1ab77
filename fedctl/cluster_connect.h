/* fedctl's part of cluster connect (docs/cluster-connect.md). Pure: the
 * member RBAC that lets fed impersonate callers there (connect_rbac.c,
 * used by join in both modes and by delete). */
#ifndef FEDCTL_CLUSTER_CONNECT_H
#define FEDCTL_CLUSTER_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "fed/error.h"

/* The ClusterRole and its ClusterRoleBinding in the member (one name). */
#define FEDCTL_CONNECT_ROLE "fed-cluster-connect"

/* --cluster-connect of join: given, =false, or not given. */
enum fedctl_connect_choice {
	FEDCTL_CONNECT_KEEP = 0, /* leave whatever the member has */
	FEDCTL_CONNECT_GRANT,
	FEDCTL_CONNECT_REVOKE,
};

/* ClusterRole FEDCTL_CONNECT_ROLE (labels managed-by fedctl and
 * app.kubernetes.io/name label_name): impersonate on users and groups
 * (core) and on every resource of authentication.k8s.io (userextras/KEY,
 * uids), nothing else. Never serviceaccounts. */
cJSON *fedctl_connect_role(const char *label_name);
/* Its ClusterRoleBinding to the ServiceAccount sa_ns/sa. */
cJSON *fedctl_connect_binding(const char *label_name, const char *sa, const char *sa_ns);

#endif
