/* The propagation plan: one table row per branch of the sync's decisions
 * (placement, namespace gating, adoption, managed=false, orphaning,
 * deletion, members not ready or listing, held writes, records of
 * clusters that left, our own write's event awaited). The last case checks
 * that every action, planned reason, condition and finalizer change was
 * produced by some row, so a new value without a row fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/propagation_plan.h"

#define MAXM 4
#define HASH "HASH" /* in a record: the current desired hash of the cluster */

enum ty { CM, NS, CR }; /* ConfigMap, Namespace (FederatedNamespace), ClusterRole */

static const struct fed_target_type types[] = {
    {"v1", "ConfigMap", true},
    {"v1", "Namespace", false},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", false},
};

struct rec {
	const char *version, *hash, *status;
	bool deleting;
	double written_at, parked_at;
	const char *parked_hash;
};

struct ms {
	const char *name;
	enum fed_prop_member_state st;
	const char *labels, *managed, *unmanaged;
	bool ulisted;
	bool absent; /* LISTING: the member has not the namespace */
	bool has_rec;
	struct rec rec;
	/* expected */
	enum fed_prop_action a;
	const char *record; /* the status recorded, NULL: record left alone */
	const char *msg;    /* substring of the recorded message, NULL: not checked */
	bool placed, park, seen;
	double retry;
};

struct tc {
	const char *name;
	const char *fed; /* NULL: gone from the host */
	enum ty type;
	bool adopt;
	const char *fns; /* CM: NULL places the namespace on m1..m4 */
	bool no_fns;     /* CM: no FederatedNamespace at all */
	double now;
	bool held;
	struct ms m[MAXM];
	/* expected */
	enum fed_prop_cond cond;
	const char *msg; /* in the condition's message ("": none) */
	enum fed_prop_finalizer fin;
	bool write_status, remaining, listing, deleting, orphan, gone;
	double retry;
};

/* ---- objects ------------------------------------------------------------ */

#define FIN        "\"finalizers\":[\"kubefed.io/sync-controller\"]"
#define DEL        "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\""
#define ORPHAN_ANN "\"annotations\":{\"kubefed.io/orphan\":\"true\"}"
#define TPL        "\"template\":{\"data\":{\"a\":\"1\"}}"
#define FEDCM(meta, spec)                                                                          \
	"{\"apiVersion\":\"types.kubefed.io/v1beta1\",\"kind\":\"FederatedConfigMap\","            \
	"\"metadata\":{\"namespace\":\"ns1\",\"name\":\"cm\"" meta "},\"spec\":{" TPL spec "}}"
#define FEDCM_IN(ns, spec)                                                                         \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"cm\"," FIN "},\"spec\":{" TPL spec "}" \
	"}"
#define FEDNS(ns, name, spec)                                                                      \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\"," FIN "},\"spec\":{"        \
	"\"template\":{}" spec "}}"
#define FEDCR(spec) "{\"metadata\":{\"name\":\"cr\"," FIN "},\"spec\":{" TPL spec "}}"
#define ON(...)     ",\"placement\":{\"clusters\":[" __VA_ARGS__ "]}"
#define C(n)        "{\"name\":\"" n "\"}"
#define SEL(ml)     ",\"placement\":{\"clusterSelector\":{\"matchLabels\":" ml "}}"
#define FNS(...)                                                                                   \
	"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"ns1\"},\"spec\":{\"placement\":{"         \
	"\"clusters\":[" __VA_ARGS__ "]}}}"

#define COPY_RV(rv)                                                                                \
	"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"cm\",\"resourceVersion\":\"" rv           \
	"\",\"labels\":{\"kubefed.io/managed\":\"true\"}}}"
#define COPY_GEN(g)                                                                                \
	"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"cm\",\"resourceVersion\":\"99\","         \
	"\"generation\":" g ",\"labels\":{\"kubefed.io/managed\":\"true\"}}}"
#define UM_NONE "{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"cm\"}}"
#define UM_LABEL(v)                                                                                \
	"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"cm\",\"labels\":{\"kubefed.io/managed\":" \
	"\"" v "\"}}}"

#define R  FED_PROP_READY
#define LI FED_PROP_LISTING
#define CO FED_PROP_CONNECTING
#define NR FED_PROP_NOT_READY
#define LE FED_PROP_LEFT

#define OK_STATUS .write_status = true
#define T0        1000.0 /* "now" of most rows */

/* clang-format off */
static const struct tc cases[] = {
/* ---- placement and writes ---- */
{"create where placed by clusters, nothing where not", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true},
       {"m2", R, .ulisted = true}},
 OK_STATUS},
{"a new object gets our finalizer with its first writes", FEDCM("", ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}},
 .fin = FED_PROP_FIN_ADD, OK_STATUS},
{"unmanaged informer not listed: ask the member", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .a = FED_PROP_GET, .placed = true}}, OK_STATUS},
{"as we left it: nothing, status set back to OK", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, "CreationFailed"},
        .record = "", .placed = true, .seen = true},
       {"m2", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .placed = true, .seen = true}},
 OK_STATUS},
{"as we left it: the informer's copy is older than our write", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("4"), .has_rec = true, .rec = {"rv:5", HASH, NULL},
        .record = "", .placed = true, .seen = true},
       {"m2", R, .managed = COPY_GEN("3"), .has_rec = true, .rec = {"gen:3", HASH, ""},
        .placed = true, .seen = true}},
 OK_STATUS},
{"update: changed there, changed here, or not ours on record", FEDCM("," FIN, ON(C("m1") "," C("m2") "," C("m3") "," C("m4"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("6"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_UPDATE, .placed = true, .seen = true},
       {"m2", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", "old", ""},
        .a = FED_PROP_UPDATE, .placed = true, .seen = true},
       {"m3", R, .managed = COPY_RV("5"), .a = FED_PROP_UPDATE, .placed = true, .seen = true},
       {"m4", R, .managed = COPY_GEN("3"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_UPDATE, .placed = true, .seen = true}},
 OK_STATUS},
{"versions that do not parse are not older", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("x"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_UPDATE, .placed = true, .seen = true},
       {"m2", R, .managed = COPY_RV("4"), .has_rec = true, .rec = {"rv5", HASH, ""},
        .a = FED_PROP_UPDATE, .placed = true, .seen = true}},
 OK_STATUS},
{"adoption on: an unlabelled object is taken over", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .adopt = true, .now = T0,
 .m = {{"m1", R, .unmanaged = UM_NONE, .ulisted = true, .a = FED_PROP_ADOPT, .placed = true},
       {"m2", R, .unmanaged = UM_LABEL("true"), .ulisted = true, .a = FED_PROP_UPDATE, .placed = true}},
 OK_STATUS},
{"adoption off: AlreadyExists, parked", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .unmanaged = UM_NONE, .ulisted = true, .record = "AlreadyExists",
        .msg = "--adopt-resources=false", .placed = true, .park = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS},
{"managed=false: ManagedLabelFalse, parked, even with adoption", FEDCM("," FIN, ON(C("m1"))), CM, .adopt = true, .now = T0,
 .m = {{"m1", R, .unmanaged = UM_LABEL("false"), .ulisted = true, .record = "ManagedLabelFalse",
        .msg = "leaves it alone", .placed = true, .park = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS},
{"parked and still labelled false: left alone", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .unmanaged = UM_LABEL("false"), .ulisted = true, .has_rec = true,
        .rec = {NULL, "", "ManagedLabelFalse", .parked_at = T0 - 100, .parked_hash = HASH},
        .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS},
{"parked, label since changed to none: adopted", FEDCM("," FIN, ON(C("m1"))), CM, .adopt = true, .now = T0,
 .m = {{"m1", R, .unmanaged = UM_NONE, .ulisted = true, .has_rec = true,
        .rec = {NULL, "", "ManagedLabelFalse", .parked_at = T0 - 1, .parked_hash = HASH},
        .a = FED_PROP_ADOPT, .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS},
{"parked, unmanaged informer not listed: look again in 30 s, then ask", FEDCM("," FIN, ON(C("m1") "," C("m2") "," C("m3"))), CM, .now = T0,
 .m = {{"m1", R, .has_rec = true, .rec = {NULL, "", "AlreadyExists", .parked_at = T0 - 5, .parked_hash = HASH},
        .a = FED_PROP_WAIT, .placed = true, .retry = FED_PROP_PARKED},
       {"m2", R, .has_rec = true, .rec = {NULL, "", "AlreadyExists", .parked_at = T0 - 31, .parked_hash = HASH},
        .a = FED_PROP_GET, .placed = true},
       {"m3", R, .has_rec = true, .rec = {NULL, "", "AlreadyExists", .parked_at = T0 - 5, .parked_hash = "old"},
        .a = FED_PROP_GET, .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .retry = FED_PROP_PARKED},
{"our create's event not seen yet: wait 10 s; the earliest retry wins", FEDCM("," FIN, ON(C("m1") "," C("m2") "," C("m3") "," C("m4"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .has_rec = true, .rec = {"rv:5", HASH, "", .written_at = T0 - 2},
        .a = FED_PROP_WAIT, .placed = true, .retry = FED_PROP_AWAIT_EVENT},
       {"m2", R, .ulisted = true, .has_rec = true, .rec = {"rv:5", HASH, "", .written_at = T0 - 11},
        .a = FED_PROP_CREATE, .placed = true},
       {"m3", R, .ulisted = true, .has_rec = true, .rec = {"rv:5", "old", "", .written_at = T0 - 2},
        .a = FED_PROP_CREATE, .placed = true},
       {"m4", R, .has_rec = true, .rec = {NULL, "", "AlreadyExists", .parked_at = T0 - 5, .parked_hash = HASH},
        .a = FED_PROP_WAIT, .placed = true, .retry = FED_PROP_PARKED}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .retry = FED_PROP_AWAIT_EVENT},
{"overrides that cannot apply to one cluster: ApplyOverridesFailed there",
 FEDCM("," FIN, ON(C("m1") "," C("m2")) ",\"overrides\":[{\"clusterName\":\"m1\",\"clusterOverrides\":[{\"op\":\"remove\",\"path\":\"/apiVersion\"}]}]"), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .record = "ApplyOverridesFailed", .msg = "no apiVersion string", .placed = true},
       {"m2", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS},
{"clusterSelector: labels decide", FEDCM("," FIN, SEL("{\"region\":\"eu\"}")), CM, .now = T0,
 .m = {{"m1", R, .labels = "{\"region\":\"eu\"}", .ulisted = true, .a = FED_PROP_CREATE, .placed = true},
       {"m2", R, .labels = "{\"region\":\"us\"}", .ulisted = true},
       {"m3", R, .ulisted = true}},
 OK_STATUS},
{"clusterSelector: a label removed takes the copy off", FEDCM("," FIN, SEL("{\"region\":\"eu\"}")), CM, .now = T0,
 .m = {{"m1", R, .labels = "{}", .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_DELETE, .record = "WaitingForRemoval"}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .remaining = true},
{"cluster-scoped type: no namespace gating", FEDCR(ON(C("m1"))), CR, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}}, OK_STATUS},
/* ---- not placed any more ---- */
{"not placed: remove, unless a delete is on its way; forget what is gone", FEDCM("," FIN, ON()), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_DELETE, .record = "WaitingForRemoval"},
       {"m2", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, "WaitingForRemoval", .deleting = true}},
       {"m3", R, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET},
       {"m4", R, .managed = COPY_RV("5"), .a = FED_PROP_DELETE, .record = "WaitingForRemoval"}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .remaining = true},
{"not placed, our create's event not seen: wait for it", FEDCM("," FIN, ON()), CM, .now = T0,
 .m = {{"m1", R, .has_rec = true, .rec = {"rv:5", HASH, "", .written_at = T0 - 1},
        .a = FED_PROP_WAIT, .retry = FED_PROP_AWAIT_EVENT}},
 OK_STATUS, .remaining = true, .retry = FED_PROP_AWAIT_EVENT},
{"not placed, member unreachable: waits for it if it holds our copy", FEDCM("," FIN, ON()), CM, .now = T0,
 .m = {{"m1", NR, .has_rec = true, .rec = {"rv:5", HASH, ""},
        .record = "ClusterNotReady", .msg = "remove its copy"},
       {"m2", NR, .has_rec = true, .rec = {NULL, "", "ClusterNotReady"}, .a = FED_PROP_FORGET},
       {"m3", NR}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .remaining = true},
/* ---- members not ready, listing, held ---- */
{"placed on members not ready: ClusterNotReady; listing ones hold the status", FEDCM("," FIN, ON(C("m1") "," C("m2") "," C("m3"))), CM, .now = T0,
 .m = {{"m1", NR, .record = "ClusterNotReady", .msg = "the cluster is not ready", .placed = true},
       {"m2", LI, .record = "ClusterNotReady", .placed = true},
       {"m3", CO, .record = "ClusterNotReady", .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, .listing = true},
{"a listing member not placed that holds our copy: no status yet", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true},
       {"m2", LI, .has_rec = true, .rec = {"rv:5", HASH, ""}, .record = "ClusterNotReady"}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, .remaining = true, .listing = true},
{"a listing member not placed, nothing of ours recorded there: the status is written", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}, {"m2", LI}},
 OK_STATUS},
{"the namespace is gone from a listing member that held our copy: record forgotten, status written", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .now = T0, .no_fns = true,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_DELETE, .record = "WaitingForRemoval"},
       {"m2", LI, .absent = true, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED, .remaining = true, OK_STATUS},
{"placed on a listing member without the namespace yet: wait for it", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", LI, .absent = true, .record = "ClusterNotReady", .placed = true}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, .listing = true},
{"deleting, the namespace gone from a listing member: nothing holds the finalizer there", FEDCM("," FIN "," DEL, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", LI, .absent = true, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .fin = FED_PROP_FIN_REMOVE, .deleting = true},
{"writes held (backoff): members untouched, status still written", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0, .held = true,
 .m = {{"m1", R, .ulisted = true, .has_rec = true, .rec = {NULL, "", "CreationFailed"}, .placed = true},
       {"m2", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""}}},
 .cond = FED_PROP_COND_CHECK_CLUSTERS, OK_STATUS, .remaining = true},
{"records of clusters that left are forgotten", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true},
       {"gone", LE, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 OK_STATUS},
/* ---- what the object says ---- */
{"reserved namespace: NamespaceNotFederated, copies removed", FEDCM_IN("kube-system", ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .a = FED_PROP_DELETE, .record = "WaitingForRemoval"}},
 .cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED, .msg = "namespace kube-system is never propagated", OK_STATUS, .remaining = true},
{"the federation namespace is never propagated", FEDCM_IN("kube-federation-system", ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true}},
 .cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED, .msg = "namespace kube-federation-system is never propagated", OK_STATUS},
{"a FederatedNamespace for a reserved namespace", FEDNS("default", "default", ON(C("m1"))), NS, .now = T0,
 .m = {{"m1", R, .ulisted = true}},
 .cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED, .msg = "namespace default is never propagated", OK_STATUS},
{"a FederatedNamespace placed like any object", FEDNS("ns1", "ns1", ON(C("m1"))), NS, .now = T0,
 .m = {{"m1", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}}, OK_STATUS},
{"no FederatedNamespace: NamespaceNotFederated without a message", FEDCM("," FIN, ON(C("m1"))), CM, .no_fns = true, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_DELETE, .record = "WaitingForRemoval"}},
 .cond = FED_PROP_COND_NAMESPACE_NOT_FEDERATED, .msg = "", OK_STATUS, .remaining = true},
{"gated by where the FederatedNamespace goes", FEDCM("," FIN, ON(C("m1") "," C("m2"))), CM, .now = T0,
 .fns = FNS(C("m2")),
 .m = {{"m1", R, .ulisted = true}, {"m2", R, .ulisted = true, .a = FED_PROP_CREATE, .placed = true}},
 OK_STATUS},
{"a FederatedNamespace with a bad placement places nothing", FEDCM("," FIN, ON(C("m1"))), CM, .now = T0,
 .fns = "{\"spec\":{\"placement\":{\"clusters\":\"m1\"}}}",
 .m = {{"m1", R, .ulisted = true}}, OK_STATUS},
{"InvalidName: members untouched, even listing ones; left ones forgotten", FEDNS("ns1", "other", ON(C("m1"))), NS, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", "old", ""}},
       {"m2", LI}, {"gone", LE, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .cond = FED_PROP_COND_INVALID_NAME,
 .msg = "a FederatedNamespace must be named after its namespace: ns1/other should be ns1/ns1", OK_STATUS},
{"ApplyOverridesFailed: a bad override changes nothing", FEDCM("," FIN, ON(C("m1")) ",\"overrides\":[{\"clusterName\":\"m1\",\"clusterOverrides\":[{\"path\":\"/metadata/name\",\"value\":\"x\"}]}]"), CM, .now = T0,
 .m = {{"m1", R, .ulisted = true}},
 .cond = FED_PROP_COND_APPLY_OVERRIDES_FAILED, .msg = "/metadata/name", OK_STATUS},
{"ComputePlacementFailed: a bad selector changes nothing", FEDCM("," FIN, SEL("{\"region\":1}")), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""}}},
 .cond = FED_PROP_COND_COMPUTE_PLACEMENT_FAILED, .msg = "matchLabels", OK_STATUS},
/* ---- deletion ---- */
{"deleting: copies removed, finalizer kept meanwhile", FEDCM("," FIN "," DEL, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_DELETE, .record = "WaitingForRemoval"},
       {"m2", LI}},
 .remaining = true, .listing = true, .deleting = true},
{"deleting with kubefed.io/orphan: the managed label dropped", FEDCM("," FIN "," DEL "," ORPHAN_ANN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""},
        .a = FED_PROP_ORPHAN, .record = "WaitingForRemoval"}},
 .remaining = true, .deleting = true, .orphan = true},
{"deleting, nothing left: finalizer removed", FEDCM("," FIN "," DEL, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .has_rec = true, .rec = {NULL, "", "WaitingForRemoval"}, .a = FED_PROP_FORGET},
       {"m2", NR}, {"gone", LE, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .fin = FED_PROP_FIN_REMOVE, .deleting = true},
{"deleting: an unreachable member holding our copy keeps the finalizer", FEDCM("," FIN "," DEL, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", NR, .has_rec = true, .rec = {"rv:5", HASH, ""}, .record = "ClusterNotReady",
        .msg = "remove its copy"}},
 .remaining = true, .deleting = true},
{"deleting and orphaning: an unreachable member does not block", FEDCM("," FIN "," DEL "," ORPHAN_ANN, ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", NR, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .fin = FED_PROP_FIN_REMOVE, .deleting = true, .orphan = true},
{"deleting, writes held: the copy stays, so does the finalizer", FEDCM("," FIN "," DEL, ON(C("m1"))), CM, .now = T0, .held = true,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""}}},
 .remaining = true, .deleting = true},
{"deleting, the orphan annotation not \"true\": deleted", FEDCM("," FIN "," DEL ",\"annotations\":{\"kubefed.io/orphan\":\"yes\"}", ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .a = FED_PROP_DELETE, .record = "WaitingForRemoval"}},
 .remaining = true, .deleting = true},
{"deleting under someone else's finalizer only: nothing of ours to do", FEDCM("," DEL ",\"finalizers\":[\"x\"]", ON(C("m1"))), CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .has_rec = true, .rec = {"rv:5", HASH, ""}},
       {"gone", LE, .has_rec = true, .rec = {"rv:5", HASH, ""}}},
 .deleting = true},
{"gone from the host: leftover copies deleted where reachable", NULL, CM, .now = T0,
 .m = {{"m1", R, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_DELETE},
       {"m2", LI, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_DELETE},
       {"m3", NR, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET},
       {"m4", R, .has_rec = true, .rec = {NULL, "", "ClusterNotReady"}, .a = FED_PROP_FORGET}},
 .remaining = true, .gone = true},
{"gone from the host, a listing member without the namespace: forgotten there", NULL, CM, .now = T0,
 .m = {{"m1", LI, .absent = true, .has_rec = true, .rec = {"rv:5", HASH, ""}, .a = FED_PROP_FORGET}},
 .gone = true},
{"gone from the host, nothing of ours anywhere", NULL, CM, .now = T0, .m = {{"m1", R}}, .gone = true},
{"gone from the host, managed copies we have no record of: deleted where listed", NULL, CM, .now = T0,
 .m = {{"m1", R, .managed = COPY_RV("5"), .a = FED_PROP_DELETE},
       {"m2", LI, .managed = COPY_RV("5")},
       {"m3", NR},
       {"m4", R}},
 .remaining = true, .gone = true},
};
/* clang-format on */

/* ---- the runner --------------------------------------------------------- */

static bool seen_action[FED_PROP_ACTION_COUNT], seen_reason[FED_PROP_R_COUNT],
    seen_cond[FED_PROP_COND_COUNT], seen_fin[FED_PROP_FIN_COUNT];

static cJSON *parse(const char *s)
{
	cJSON *j;

	if (!s)
		return NULL;
	if (!(j = cJSON_Parse(s))) {
		fprintf(stderr, "  bad test JSON: %s\n", s);
		abort();
	}
	return j;
}

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  FAIL [%s] %s: ", t->name, #cond);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			fails++;                                                                   \
		}                                                                                  \
	} while (0)

static int run_case(const struct tc *t)
{
	struct fed_prop_member m[MAXM];
	struct fed_prop_record rec[MAXM];
	char hash[MAXM][65];
	cJSON *js[3 * MAXM + 2] = {NULL};
	struct fed_prop_plan p;
	struct fed_error err = FED_ERROR_INIT;
	struct fed_prop_in in = {0};
	size_t n = 0, nj = 0, i;
	int fails = 0;

	in.fed = js[nj++] = parse(t->fed);
	in.fed_namespace_obj = js[nj++] =
	    parse(t->fns || t->type != CM || t->no_fns
	              ? t->fns
	              : FNS(C("m1") "," C("m2") "," C("m3") "," C("m4")));
	in.type = (struct fed_prop_type){&types[t->type], t->type == NS, "kube-federation-system",
	                                 t->adopt};
	in.now = t->now;
	in.writes_held = t->held;
	memset(m, 0, sizeof(m));
	for (n = 0; n < MAXM && t->m[n].name; n++) {
		const struct ms *s = &t->m[n];

		m[n] = (struct fed_prop_member){s->name, s->st,      NULL, NULL,
		                                NULL,    s->ulisted, NULL, s->absent};
		m[n].labels = js[nj++] = parse(s->labels);
		m[n].managed = js[nj++] = parse(s->managed);
		m[n].unmanaged = js[nj++] = parse(s->unmanaged);
		hash[n][0] = '\0';
		if (in.fed && fed_desired_hash(in.fed, &types[t->type], s->name, hash[n], &err))
			hash[n][0] = '\0';
		if (s->has_rec) {
			rec[n] = (struct fed_prop_record){
			    s->rec.version,
			    s->rec.hash && !strcmp(s->rec.hash, HASH) ? hash[n] : s->rec.hash,
			    s->rec.status,
			    s->rec.deleting,
			    s->rec.written_at,
			    s->rec.parked_at,
			    s->rec.parked_hash && !strcmp(s->rec.parked_hash, HASH)
			        ? hash[n]
			        : s->rec.parked_hash};
			m[n].rec = &rec[n];
		}
	}
	in.members = m;
	in.n = n;
	if (fed_prop_plan(&in, &p, &err)) {
		fprintf(stderr, "  FAIL [%s] plan: %s\n", t->name, err.msg);
		fails++;
		goto out;
	}
	seen_cond[p.cond] = seen_fin[p.finalizer] = true;
	EXPECT(p.n == n, "%zu clusters", p.n);
	EXPECT(p.cond == t->cond, "cond %s", fed_prop_cond_name(p.cond));
	EXPECT(!t->msg || (*t->msg ? strstr(p.message, t->msg) != NULL : !*p.message),
	       "message \"%s\"", p.message);
	EXPECT(t->msg || t->cond != FED_PROP_COND_OK || !*p.message, "message \"%s\"", p.message);
	EXPECT(p.finalizer == t->fin, "finalizer %s", fed_prop_finalizer_name(p.finalizer));
	EXPECT(p.write_status == t->write_status, "write_status %d", p.write_status);
	EXPECT(p.remaining == t->remaining, "remaining %d", p.remaining);
	EXPECT(p.listing == t->listing, "listing %d", p.listing);
	EXPECT(p.deleting == t->deleting, "deleting %d", p.deleting);
	EXPECT(p.orphan == t->orphan, "orphan %d", p.orphan);
	EXPECT(p.gone == t->gone, "gone %d", p.gone);
	EXPECT(p.retry_in == t->retry, "retry_in %g", p.retry_in);
	for (i = 0; i < p.n && i < n; i++) {
		const struct fed_prop_cluster *c = &p.clusters[i];
		const struct ms *s = &t->m[i];
		bool writes = c->action == FED_PROP_CREATE || c->action == FED_PROP_UPDATE ||
		              c->action == FED_PROP_ADOPT || c->action == FED_PROP_GET || c->park;

		seen_action[c->action] = true;
		if (c->record)
			seen_reason[c->reason] = true;
		EXPECT(!strcmp(c->name, s->name), "%s: name %s", s->name, c->name);
		EXPECT(c->action == s->a, "%s: action %s", s->name,
		       fed_prop_action_name(c->action));
		EXPECT(c->record == (s->record != NULL), "%s: record %d (%s)", s->name, c->record,
		       fed_prop_reason_name(c->reason));
		EXPECT(!s->record || !strcmp(fed_prop_reason_name(c->reason), s->record),
		       "%s: reason %s", s->name, fed_prop_reason_name(c->reason));
		EXPECT(!s->msg || strstr(c->message, s->msg), "%s: message \"%s\"", s->name,
		       c->message);
		EXPECT(c->record || !*c->message, "%s: message without a record", s->name);
		EXPECT(c->placed == s->placed, "%s: placed %d", s->name, c->placed);
		EXPECT(c->park == s->park, "%s: park %d", s->name, c->park);
		EXPECT(c->event_seen == s->seen, "%s: event_seen %d", s->name, c->event_seen);
		EXPECT(c->retry_in == s->retry, "%s: retry_in %g", s->name, c->retry_in);
		EXPECT(!writes || !strcmp(c->hash, hash[i]), "%s: hash %s", s->name, c->hash);
	}
out:
	fed_prop_plan_release(&p);
	for (i = 0; i < nj; i++)
		cJSON_Delete(js[i]);
	return fails;
}

static void test_table(void)
{
	size_t i;
	int fails = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fails += run_case(&cases[i]);
	CHECK_INT(fails, 0);
}

/* The answer to FED_PROP_GET decides as the listed informer would. */
static void test_found(void)
{
	struct fed_prop_type on = {&types[CM], false, NULL, true},
	                     off = {&types[CM], false, NULL, false};
	struct fed_prop_cluster c = {.hash = "h"};
	cJSON *none = cJSON_Parse(UM_NONE), *f = cJSON_Parse(UM_LABEL("false")),
	      *yes = cJSON_Parse(UM_LABEL("true"));

	fed_prop_plan_found(&on, NULL, &c);
	CHECK_INT(c.action, FED_PROP_CREATE);
	CHECK(!c.record && !c.park);
	fed_prop_plan_found(&on, none, &c);
	CHECK_INT(c.action, FED_PROP_ADOPT);
	fed_prop_plan_found(&on, yes, &c);
	CHECK_INT(c.action, FED_PROP_UPDATE);
	fed_prop_plan_found(&off, none, &c);
	CHECK_INT(c.action, FED_PROP_NONE);
	CHECK(c.record && c.park);
	CHECK_STR(fed_prop_reason_name(c.reason), "AlreadyExists");
	c = (struct fed_prop_cluster){.hash = "h"};
	fed_prop_plan_found(&on, f, &c);
	CHECK_INT(c.action, FED_PROP_NONE);
	CHECK(c.record && c.park);
	CHECK_STR(fed_prop_reason_name(c.reason), "ManagedLabelFalse");
	CHECK_STR(c.hash, "h");
	cJSON_Delete(none);
	cJSON_Delete(f);
	cJSON_Delete(yes);
}

static void test_bad_input(void)
{
	struct fed_prop_member m[2] = {{.name = "m1", .state = R}, {.name = "m1", .state = R}};
	struct fed_prop_in in = {.type = {&types[CM]}, .members = m, .n = 2};
	struct fed_prop_plan p;
	struct fed_error err = FED_ERROR_INIT;

	CHECK_INT(fed_prop_plan(&in, &p, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "members[0] and members[1]");
	CHECK(!p.clusters && !p.n);
	m[1].name = "";
	CHECK_INT(fed_prop_plan(&in, &p, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "members[1]: no name");
	in.type.target = NULL;
	CHECK_INT(fed_prop_plan(&in, &p, &err), FED_EINVAL);
	in = (struct fed_prop_in){.type = {&types[CM]}, .n = 1};
	CHECK_INT(fed_prop_plan(&in, &p, &err), FED_EINVAL);
	/* no members at all is fine */
	in.n = 0;
	CHECK_INT(fed_prop_plan(&in, &p, &err), 0);
	CHECK(p.gone && !p.n);
	fed_prop_plan_release(&p);
	fed_prop_plan_release(NULL);
}

static void test_names(void)
{
	size_t i;

	CHECK_STR(fed_prop_reason_name(FED_PROP_R_OK), "");
	CHECK_STR(fed_prop_reason_name(FED_PROP_R_CLUSTER_NOT_READY), "ClusterNotReady");
	CHECK_STR(fed_prop_reason_name(FED_PROP_R_RETRIEVAL_FAILED), "RetrievalFailed");
	CHECK_STR(fed_prop_reason_name(FED_PROP_R_COUNT), "?");
	CHECK_STR(fed_prop_cond_name(FED_PROP_COND_OK), "");
	CHECK_STR(fed_prop_cond_name(FED_PROP_COND_CHECK_CLUSTERS), "CheckClusters");
	CHECK_STR(fed_prop_cond_name(FED_PROP_COND_COMPUTE_PLACEMENT_FAILED),
	          "ComputePlacementFailed");
	CHECK_STR(fed_prop_cond_name(FED_PROP_COND_COUNT), "?");
	CHECK_STR(fed_prop_action_name(FED_PROP_ORPHAN), "Orphan");
	CHECK_STR(fed_prop_action_name(FED_PROP_ACTION_COUNT), "?");
	CHECK_STR(fed_prop_finalizer_name(FED_PROP_FIN_REMOVE), "Remove");
	CHECK_STR(fed_prop_finalizer_name(FED_PROP_FIN_COUNT), "?");
	for (i = 0; i < FED_PROP_R_COUNT; i++)
		CHECK_INT(fed_prop_reason_parse(fed_prop_reason_name((enum fed_prop_reason)i)), i);
	CHECK_INT(fed_prop_reason_parse("Nonsense"), FED_PROP_R_COUNT);
	CHECK_INT(fed_prop_reason_parse(NULL), FED_PROP_R_COUNT);
}

/* Every value the plan can produce was produced by some row above. */
static void test_every_value_reached(void)
{
	size_t i;

	for (i = 0; i < FED_PROP_ACTION_COUNT; i++) {
		if (!seen_action[i])
			fprintf(stderr, "  action %s never planned\n", fed_prop_action_name(i));
		CHECK(seen_action[i]);
	}
	for (i = 0; i < FED_PROP_R_PLANNED_COUNT; i++) {
		if (!seen_reason[i])
			fprintf(stderr, "  reason \"%s\" never recorded\n",
			        fed_prop_reason_name(i));
		CHECK(seen_reason[i]);
	}
	for (i = 0; i < FED_PROP_COND_COUNT; i++) {
		if (!seen_cond[i])
			fprintf(stderr, "  condition \"%s\" never planned\n",
			        fed_prop_cond_name(i));
		CHECK(seen_cond[i]);
	}
	for (i = 0; i < FED_PROP_FIN_COUNT; i++)
		CHECK(seen_fin[i]);
}

int main(void)
{
	RUN(test_table);
	RUN(test_found);
	RUN(test_bad_input);
	RUN(test_names);
	RUN(test_every_value_reached);
	return CHECK_EXIT();
}
