/* fedctl internals: the command table and what commands share. */
#ifndef FEDCTL_H
#define FEDCTL_H

#include <ev.h>

#include "fed/kube.h"
#include "fed/kube_known.h"
#include "fed/opt.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct fedctl {
	/* global options, accepted by every command */
	const char *kubeconfig;
	const char *host_context;
	const char *fed_namespace;
	int verbosity;
	struct ev_loop *loop;
	struct fed_kube_client *host; /* connected on first use */
	char *context_namespace;      /* the host context's namespace, if it sets one */
	/* completion: fedctl_parse_args prints the command's options and stops */
	bool list_options;
	/* --help-markdown: fedctl_parse_args prints the command's option table
	 * as Markdown (docs/fedctl.md is generated from it) and stops */
	bool options_markdown;
};

struct fedctl_cmd {
	const char *name;
	int (*run)(struct fedctl *ctx, int argc, char **argv);
	const char *summary;
};

extern const struct fed_opt fedctl_global_opts[];
/* The command table (main.c), ending with a NULL name. */
const struct fedctl_cmd *fedctl_commands(void);
int cmd_completion(struct fedctl *ctx, int argc, char **argv);

/* What a command's parse step reads: its usage line, its examples and
 * its option table (NULL: only the global options). */
struct fedctl_spec {
	const char *usage;
	const char *examples;
	const struct fed_opt *opts;
};

/* Parse a command's options plus the global ones (each option's default
 * comes from its table). 0 with *stop false: go on with args[0..*nargs).
 * 0 with *stop true: --help (or the completion or Markdown listing) was
 * printed, exit EXIT_OK. FED_EINVAL: the usage error was printed, exit
 * EXIT_USAGE. */
int fedctl_parse_args(struct fedctl *ctx, const struct fedctl_spec *spec, int argc, char **argv,
                      char **args, int max_args, int *nargs, bool *stop);
/* opts as a Markdown table on stdout (a sentence when there are none). */
void fedctl_print_markdown(const struct fed_opt *opts);

/* Connect to the host cluster (once). */
int fedctl_host(struct fedctl *ctx, struct fed_kube_client **out, struct fed_error *err);

/* Run a GET of path on c and wait: returns the parsed answer or NULL with err. */
cJSON *fedctl_get(struct fedctl *ctx, struct fed_kube_client *c, const char *path,
                  struct fed_error *err);

/* fedctl_get and fedctl_call for the object (or collection) ref names,
 * with the path built by fed_kube_path: commands name what they touch
 * (include/fed/kube_known.h) and never write a path by hand. */
cJSON *fedctl_get_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                      struct fed_error *err);
int fedctl_call_ref(struct fedctl *ctx, struct fed_kube_client *c, const char *method,
                    const struct fed_kube_ref *ref, const char *body, const char *content_type,
                    int timeout_ms, cJSON **out, struct fed_error *err);
/* DELETE ref in the member, printing "member: WHAT deleted" (or "not
 * found": gone already is fine). */
int fedctl_member_delete(struct fedctl *ctx, struct fed_kube_client *member, const char *what,
                         const struct fed_kube_ref *ref, struct fed_error *err);
/* write() all of s, through EINTR and short writes: 0 or -1 (errno). */
int fedctl_write_all(int fd, const char *s, size_t n);
/* fedctl_call_ref with a query string (without "?", already encoded). */
int fedctl_call_query(struct fedctl *ctx, struct fed_kube_client *c, const char *method,
                      const struct fed_kube_ref *ref, const char *query, const char *body,
                      const char *content_type, int timeout_ms, cJSON **out, struct fed_error *err);
/* GET of the collection ref names with the list options o (selectors,
 * limit); *out the list. */
int fedctl_list_ref(struct fedctl *ctx, struct fed_kube_client *c, const struct fed_kube_ref *ref,
                    const struct fed_kube_list_opts *o, cJSON **out, struct fed_error *err);
/* The resource of a type known by its parts (a FederatedTypeConfig's or
 * discovery's); the strings are borrowed. */
struct fed_kube_resource fedctl_resource(const char *group, const char *version, const char *plural,
                                         bool namespaced);

/* Run the loop for s seconds (pending requests go on). */
void fedctl_sleep(struct fedctl *ctx, double s);

/* One line "error: ..." on stderr; returns EXIT_FAIL. */
int fedctl_fail(const struct fed_error *err);

int cmd_version(struct fedctl *ctx, int argc, char **argv);
int cmd_api_resources(struct fedctl *ctx, int argc, char **argv);

/* join / delete (fedctl/member_setup.c, cmd_join.c, delete/) */
#define FEDCTL_MEMBER_SA    "fed-member"
#define FEDCTL_MEMBER_TOKEN "fed-member-token"
#define FEDCTL_MEMBER_ROLE  "fed-controller:member"
#define FEDCTL_CONFIG_NS    "kube-system"
#define FEDCTL_CONFIGMAP    "kubefed-config"
#define FEDCTL_SECRET       "kubefed-kubeconfig"
/* Synchronous request; timeout_ms > 0 also means no retries. *out gets the
 * parsed answer (may be NULL). */
int fedctl_call(struct fedctl *ctx, struct fed_kube_client *c, const char *method, const char *path,
                const char *body, const char *content_type, int timeout_ms, cJSON **out,
                struct fed_error *err);
/* Load a context, connect and probe /version (10 s). `what` is "host" or
 * "member" for messages. */
int fedctl_connect(struct fedctl *ctx, const char *what, const char *context,
                   struct fed_rest_config *cfg, struct fed_kube_client **out,
                   struct fed_error *err);
int fedctl_check_cluster_name(const char *name, struct fed_error *err);
/* "2m", "30s", "1h30m", "0", "90" (seconds). 0 or -1. */
int fedctl_parse_duration(const char *s, double *out);
/* kubefed.yaml with the entry of name replaced/appended (entry YAML) or
 * removed (entry NULL); *out is malloc'd. */
int fedctl_federation_edit(const char *old_yaml, const char *name, const char *entry, char **out,
                           struct fed_error *err);
/* The member's objects labelled kubefed.io/managed=true, of every type a
 * FederatedTypeConfig on the host names: deleted, or with orphan only
 * unlabelled (namespaces last, and never when self: the host itself).
 * Prints a line per type. */
int fedctl_member_clean_managed(struct fedctl *ctx, struct fed_kube_client *host,
                                struct fed_kube_client *member, bool self, bool orphan,
                                bool dry_run, struct fed_error *err);
int cmd_join(struct fedctl *ctx, int argc, char **argv);
int cmd_delete(struct fedctl *ctx, int argc, char **argv);
/* rotate (fedctl/cmd_rotate.c) */
int cmd_rotate(struct fedctl *ctx, int argc, char **argv);
/* Add to the merge-patch body for the host's fed-tunnel Secret (as read:
 * secret) the next generation-<name>, "<n> revoke" when revoke (the
 * controller then closes the live connections instead of re-issuing).
 * Returns the new generation. Unconditional: a lost update between two
 * fedctl runs still leaves it above every earlier credential's. */
unsigned long long fedctl_tunnel_bump(cJSON *body, const cJSON *secret, const char *name,
                                      bool revoke);

/* list / describe (fedctl/cmd_list.c, cmd_describe.c, output.c) */
#include <time.h>
#include "fed/buf.h"
enum fedctl_output {
	FEDCTL_OUT_TABLE,
	FEDCTL_OUT_WIDE,
	FEDCTL_OUT_JSON,
	FEDCTL_OUT_YAML,
	FEDCTL_OUT_NAME
};
/* "table" (or NULL/""), "wide", "json", "yaml", "name": 0; -1 otherwise. */
int fedctl_output_parse(const char *s, enum fedctl_output *out);
/* cJSON as kubectl prints it: YAML block style, JSON with 4 spaces. */
int fedctl_yaml(struct fed_buf *out, const cJSON *v);
int fedctl_json(struct fed_buf *out, const cJSON *v);
/* STATUS of a KubeFedCluster: its connectivityStatus, or the Ready reason
 * when that is a configuration problem (InvalidConfig, ...). */
const char *fedctl_cluster_status(const cJSON *kfc);
/* CONNECT of a KubeFedCluster: its status.clusterConnect as fed-controller
 * writes it (Available, NotGranted, Disabled, AgentUnsupported), "-" when
 * absent. */
const char *fedctl_cluster_connect(const cJSON *kfc);
/* `fedctl list` output for an array of KubeFedCluster objects (objects
 * without "kind" are rows for joined clusters that have no KubeFedCluster
 * yet: shown in tables and names, left out of json/yaml). */
int fedctl_format_clusters(struct fed_buf *out, const cJSON *items, enum fedctl_output o,
                           time_t now);
/* `fedctl describe` text from {"name","namespace","entry":{"mode","disabled",
 * "error","addresses":[{"clientCIDR","serverAddress","serverURL"}]},
 * "cluster":KubeFedCluster,"resources":[{"kind","namespace","name","status",
 * "message"}],"events":[Event...]}. */
int fedctl_format_describe(struct fed_buf *out, const cJSON *d, time_t now);
struct fed_federation;
/* The Federation of kube-system/kubefed-config on the host: *out NULL (and
 * 0) when the ConfigMap does not exist. */
int fedctl_load_federation(struct fedctl *ctx, struct fed_kube_client *host,
                           struct fed_federation **out, struct fed_error *err);
int cmd_list(struct fedctl *ctx, int argc, char **argv);
int cmd_describe(struct fedctl *ctx, int argc, char **argv);
/* kubeconfig (fedctl/cmd_kubeconfig.c; cluster_connect.h) */
int cmd_kubeconfig(struct fedctl *ctx, int argc, char **argv);

/* scale (fedctl/scale/) */
struct fedctl_workload_kind {
	const char *kind;   /* FederatedDeployment */
	const char *plural; /* federateddeployments (types.kubefed.io/v1beta1) */
	const char *target; /* Deployment */
};
/* The scalable federated kinds, ending with a NULL kind. */
const struct fedctl_workload_kind *fedctl_workload_kinds(void);
/* "deployment", "deploy", "fdeploy", "FederatedDeployment",
 * "federateddeployments.types.kubefed.io", ... (any case); NULL if none. */
const struct fedctl_workload_kind *fedctl_workload_kind(const char *s);
/* Replicas the federated object asks of cluster: its /spec/replicas
 * override, else spec.template.spec.replicas, else 1 (the default). */
long long fedctl_replicas_for(const cJSON *fed_obj, const char *cluster);
/* Set the cluster's /spec/replicas override to n (replacing one that is
 * there, adding the cluster's entry when missing; other overrides stay). */
int fedctl_replicas_set(cJSON *fed_obj, const char *cluster, long long n, struct fed_error *err);
/* total over n clusters: total/n each, the remainder one each to the first. */
void fedctl_spread(long long total, size_t n, long long *out);
struct fedctl_scale_row {
	const char *ns, *kind, *name, *cluster, *via;
	long long before, after;
};
/* NAMESPACE WORKLOAD CLUSTER VIA REPLICAS ("1 -> 3") table. */
int fedctl_format_scale(struct fed_buf *out, const struct fedctl_scale_row *rows, size_t n);
int cmd_scale(struct fedctl *ctx, int argc, char **argv);

/* enable / disable (fedctl/enable/) */
struct fed_discovery;
/* Discovery of c, waited for (60 s); *out is freed with fed_discovery_free. */
int fedctl_discover(struct fedctl *ctx, struct fed_kube_client *c, struct fed_discovery **out,
                    struct fed_error *err);

struct fedctl_type {
	char *group; /* "" for core */
	char *version, *kind, *plural;
	bool namespaced;
	char **short_names; /* NULL-terminated, or NULL */
};
/* The type the host serves under name ("configmaps", "deploy",
 * "widgets.example.com", ...), by discovery. */
int fedctl_discover_type(struct fedctl *ctx, struct fed_kube_client *c, const char *name,
                         struct fedctl_type *out, struct fed_error *err);
void fedctl_type_release(struct fedctl_type *t);
int cmd_enable(struct fedctl *ctx, int argc, char **argv);

/* federate (fedctl/federate/cmd_federate.c, federate_obj.c) */
/* The objects of a YAML or JSON stream (several documents, Lists
 * flattened): *out an array of objects, each with kind and metadata.name. */
int fedctl_objects_parse(const char *data, size_t len, const char *source, cJSON **out,
                         struct fed_error *err);
struct fy_node;
/* A YAML node tree as cJSON (aliases refused, nesting bounded: NULL with
 * *why). With raw, plain scalars keep their text as cJSON raw items
 * (kubeconfig edits: written back unchanged); without, YAML 1.2's core
 * schema types them. */
cJSON *fedctl_yaml_json(struct fy_node *n, bool raw, const char **why);
/* Drop what the API server sets: status, metadata uid, resourceVersion,
 * creationTimestamp, managedFields, generation, selfLink, deletion*,
 * ownerReferences, finalizers, generateName, the last-applied and
 * revision annotations, a Service's clusterIP(s), a Namespace's
 * kubernetes.io/metadata.name label and spec (its finalizers). */
void fedctl_strip_server_fields(cJSON *o);
/* The Federated<Kind> kubefedctl writes for obj: template = obj stripped
 * (and without apiVersion, kind, name, namespace), placement
 * {clusters: []}; a Namespace's lives in itself. New object. */
cJSON *fedctl_federated_object(const cJSON *obj, const char *fed_api_version, const char *fed_kind,
                               bool namespaced);
int cmd_federate(struct fedctl *ctx, int argc, char **argv);
int cmd_disable(struct fedctl *ctx, int argc, char **argv);

#endif
