/* Internals of the kube client shared by kube_*.c. */
#ifndef FED_KUBE_INTERNAL_H
#define FED_KUBE_INTERNAL_H

#include <curl/curl.h>
#include <ev.h>

#include "fed/buf.h"
#include "fed/kube.h"

struct fed_kube_call {
	struct fed_kube_client *client;
	struct fed_kube_call *next, *prev; /* client's list: queued or active */
	CURL *easy;
	struct curl_slist *headers;
	char *method;
	char *url;
	char *body;
	size_t body_len;
	char *content_type;
	char *accept;
	int timeout_ms;
	int max_retries;
	int attempt;
	bool streaming;
	bool exempt;  /* streaming or asked for: not bounded by max_inflight */
	bool active;  /* handed to curl */
	bool queued;  /* waiting for a rate-limit token or an inflight slot */
	bool delayed; /* waiting for its retry timer */
	bool canceled;
	bool auth_retried; /* one retry after a 401 with a refreshed exec credential */
	unsigned long seq; /* when it was queued (client's seq): who waited for a plugin */
	unsigned exec_gen; /* the exec credential it was sent with */
	bool probe;        /* bounded by the probe cap, not the response cap */
	bool too_large;    /* the body passed its cap: aborted, not retried */
	bool reaping;      /* canceled inside a curl callback, freed right after it */
	struct fed_kube_call *reap_next; /* the client's list of calls to reap */
	fed_kube_cb cb;
	fed_kube_data_cb on_data;
	void *ud;
	struct fed_buf resp;
	double retry_after;
	char errbuf[CURL_ERROR_SIZE];
	ev_timer retry_timer;
};

struct fed_kube_client {
	struct ev_loop *loop;
	char *name;
	struct fed_rest_config cfg;
	/* URL pieces: the host in URLs is tls_server_name when set, and
	 * CONNECT_TO sends the connection to the real address. */
	char *base_url;
	struct curl_slist *connect_to;
	CURLM *multi;
	ev_timer multi_timer;
	/* token bucket */
	double tokens;
	ev_tstamp tokens_at;
	ev_timer queue_timer;
	int max_inflight;
	int inflight;
	struct fed_kube_call *queue_head, *queue_tail;
	struct fed_kube_call *active; /* doubly linked */
	struct fed_kube_call *delayed;
	/* credentials that change */
	char *file_token;
	ev_tstamp file_token_checked;
	long file_token_mtime;
	struct fed_exec_credential exec_cred;
	bool have_exec_cred;
	unsigned exec_gen; /* bumped with each new exec credential */
	/* the exec plugin running (kube_exec.c), NULL when none */
	struct fed_exec_run *exec_run;
	ev_io exec_io;
	ev_child exec_child;
	ev_timer exec_deadline, exec_poll;
	bool exec_eof, exec_exited;
	int exec_status;
	struct fed_error exec_err;
	unsigned long seq; /* calls queued so far */
	struct fed_kube_client_stats stats;
	/* the flag names point into these copies */
	struct fed_kube_limits limits;
	char max_response_flag[64], max_probe_flag[64];
};

void fed_kube_call_free(struct fed_kube_call *call);

/* kube_client.c: the client's lists (queued, active, delayed) and its
 * curl multi handle, for kube_call.c and kube_easy.c. */
/* True once fed_kube_client_free was called from inside one of the
 * client's callbacks: nothing more is started or reported. */
bool fed_kube_client_closing(struct fed_kube_client *c);
/* Take the call off whichever list it is on and stop its retry timer. */
void fed_kube_call_unlink(struct fed_kube_call *call);
/* Put an unlinked call on the delayed list; after delay seconds it is
 * queued again. */
void fed_kube_call_delay(struct fed_kube_call *call, double delay);
/* Start queued calls while the rate limit and the in-flight bound allow. */
void fed_kube_pump(struct fed_kube_client *c);

/* Callbacks that may end in fed_kube_client_free run between these; the
 * client is freed at the end (true then) if it was asked to be. */
void fed_kube_dispatch_begin(struct fed_kube_client *c);
bool fed_kube_dispatch_end(struct fed_kube_client *c);

/* kube_exec.c: the exec credential plugin, asynchronously. */
/* True when calls may start: no plugin, or a credential not about to
 * expire. Otherwise starts the plugin (once) and the calls wait. */
bool fed_kube_exec_ready(struct fed_kube_client *c);
bool fed_kube_exec_fresh(const struct fed_kube_client *c);
/* Stop a plugin run (client free). */
void fed_kube_exec_stop(struct fed_kube_client *c);

/* The cap on the call's buffered body (kube_client.c). */
size_t fed_kube_call_max_body(const struct fed_kube_call *call);

/* kube_easy.c: a fresh easy handle for the call's next attempt, with the
 * current credentials (a token file re-read, an exec plugin run). */
int fed_kube_call_setup(struct fed_kube_call *call, struct fed_error *err);

/* kube_call.c: completion. */
/* Unlink the call, run its callback (unless canceled or closing), free it. */
void fed_kube_call_finish(struct fed_kube_call *call, struct fed_kube_response *resp);
/* Complete (or retry) the calls curl has finished, then pump. */
void fed_kube_check_multi_info(struct fed_kube_client *c);

/* Decode one watch line. 0: *event is the whole event (caller frees), its
 * "object" the object; 1: an unknown event type to skip; <0: an ERROR event
 * (FED_EGONE for 410) or a malformed line, err set. */
int fed_watch_decode(const char *line, size_t n, enum fed_watch_type *type, cJSON **event,
                     struct fed_error *err);

#endif
