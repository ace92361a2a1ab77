/* The tunnel's listeners (see tunnel.c for the whole): the agent listener
 * on --tunnel-address, whose connections stay "pending" until they
 * authenticate, and per cluster two Unix sockets whose connections become
 * streams to the cluster's agent: <cluster>.sock for the member's client
 * (acting as the agent's ServiceAccount), <cluster>_connect.sock for
 * cluster connect (one caller's request per connection, its
 * Impersonate-* kept by the agent; opened only on agents that announced
 * connect streams). '_' is in no cluster name, so no cluster's socket is
 * another's.
 *
 * A connection to a cluster's socket acts as that cluster's agent, or as
 * anyone its ServiceAccount may impersonate: only this process may make
 * one. So the sockets live in a directory of mode 0700 owned by us
 * (--tunnel-socket-dir, checked, never followed through a symlink), not
 * on a loopback port that any local user could reach.
 *
 * Anyone who reaches the agent listener can open connections, so the
 * pending ones are capped, in all (--tunnel-max-pending) and per source
 * IP (--tunnel-max-pending-per-ip): past a cap a new connection is closed
 * at once and counted (fed_tunnel_refused_total{reason="too_many_pending"}).
 * When accept fails for want of descriptors or memory, the socket stays
 * readable: both listeners then rest for ACCEPT_PAUSE instead of spinning. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_internal.h"

#define ACCEPTS_PER_EVENT 64

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_io_start(loop, w->data);
}

/* accept4 failed: true when the listener must stop for now (nothing left,
 * or paused after EMFILE/ENFILE/ENOMEM/ENOBUFS), false to try again. */
static bool accept_failed(struct ev_loop *loop, ev_io *lio, ev_timer *retry, double *warned_at,
                          const char *who)
{
	if (errno == EINTR || errno == ECONNABORTED)
		return false;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return true;
	/* out of descriptors or memory: the socket stays readable, so rest
	 * instead of spinning (pending handshakes time out meanwhile) */
	if (ev_now(loop) - *warned_at > REFUSE_LOG_GAP) {
		FED_LOG_WARN(who, "tunnel: accept: %s; pausing for %.0f ms", strerror(errno),
		             ACCEPT_PAUSE * 1000);
		*warned_at = ev_now(loop);
	}
	ev_io_stop(loop, lio);
	ev_timer_set(retry, ACCEPT_PAUSE, 0.);
	ev_timer_start(loop, retry);
	return true;
}

/* ---- per-cluster Unix socket listeners ---- */

static bool serves(struct fed_tunnel_conn *c, int target)
{
	return target != FED_TUNNEL_TARGET_CONNECT ||
	       (fed_tunnel_conn_peer_features(c) & FED_TUNNEL_FEATURE_CONNECT);
}

struct fed_tunnel_conn *tunnel_pick_conn(const struct tcluster *tc, int target)
{
	struct fed_tunnel_conn *best = NULL;

	for (int i = 0; i < tc->nconns; i++)
		if (fed_tunnel_conn_ready(tc->conns[i]) && serves(tc->conns[i], target) &&
		    (!best ||
		     fed_tunnel_conn_nstreams(tc->conns[i]) < fed_tunnel_conn_nstreams(best)))
			best = tc->conns[i];
	return best;
}

/* No agent to take a connection: it is closed at once (the client fails
 * fast); for a connect socket never given to an agent that would run the
 * request as itself. */
static void refuse_local(struct tlisten *l, int fd)
{
	static struct fed_log_limit lim = FED_LOG_LIMIT(5, 60);
	struct tcluster *tc = l->tc;

	close(fd);
	if (l->target != FED_TUNNEL_TARGET_CONNECT || !tunnel_ready_conns(tc)) {
		tunnel_count_refused(tc->t, "no_agent");
		return;
	}
	tunnel_count_refused(tc->t, "connect_unsupported");
	FED_LOG_LIMITED(FED_LOG_WARN, &lim, tc->name,
	                "tunnel: cluster connect refused: no connected agent serves connect "
	                "streams (upgrade fed-agent)");
}

static void local_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tlisten *l = w->data;
	struct tcluster *tc = l->tc;
	struct fed_error err = FED_ERROR_INIT;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct fed_tunnel_conn *c;
		struct fed_tunnel_stream *s;

		if (fd < 0) {
			if (accept_failed(loop, &l->io, &l->retry, &l->warned_at, tc->name))
				return;
			continue;
		}
		c = tunnel_pick_conn(tc, l->target);
		if (!c) {
			refuse_local(l, fd);
			continue;
		}
		if (fed_tunnel_stream_open(c, l->target, NULL, NULL, &s, &err) < 0) {
			FED_LOG_WARN(tc->name, "tunnel: %s", err.msg);
			close(fd);
			continue;
		}
		fed_metrics_inc(tc->t->m_streams, (const char *[]){tc->name});
		if (l->target == FED_TUNNEL_TARGET_CONNECT)
			fed_metrics_inc(tc->t->m_connect_streams, (const char *[]){tc->name});
		if (fed_tunnel_bridge_new(loop, s, fd, NULL, NULL, NULL, NULL, NULL, &err) < 0)
			FED_LOG_WARN(tc->name, "tunnel: %s", err.msg);
	}
}

/* ---- the socket directory ---- */

#define SOCK_SUFFIX  ".sock"
#define SOCK_DIR_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 64 - sizeof(SOCK_SUFFIX))

/* Remove what a previous run left: sockets only, never through a link. */
static void remove_stale(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > strlen(SOCK_SUFFIX) &&
		    !strcmp(de->d_name + n - strlen(SOCK_SUFFIX), SOCK_SUFFIX) &&
		    !fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISSOCK(st.st_mode))
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

int tunnel_socket_dir_open(struct controller *ctl, struct fed_error *err)
{
	const char *dir = ctl->o.tunnel_socket_dir;
	const char *base = getenv("XDG_RUNTIME_DIR");
	char tmpl[PATH_MAX];
	struct stat st;
	bool made = false;
	int fd = -1, ret;

	if (!dir) {
		/* a private directory of our own: nothing to check, nothing stale */
		if (!base || base[0] != '/' || strlen(base) > SOCK_DIR_MAX - 24)
			base = "/tmp";
		snprintf(tmpl, sizeof(tmpl), "%s/fed-controller-XXXXXX", base);
		if (!mkdtemp(tmpl))
			return fed_error_set(err, FED_EUNAVAILABLE,
			                     "cannot make a directory for the agents' sockets in "
			                     "%s: %s; choose one with --tunnel-socket-dir",
			                     base, strerror(errno));
		dir = tmpl;
		made = true;
	} else if (strlen(dir) > SOCK_DIR_MAX || dir[0] == '\0') {
		return fed_error_set(err, FED_EINVAL,
		                     "--tunnel-socket-dir %s: the path must be 1 to %zu characters "
		                     "long (Unix socket paths are short)",
		                     dir, (size_t)SOCK_DIR_MAX);
	} else if (!mkdir(dir, 0700)) {
		made = true;
	} else if (errno != EEXIST) {
		return fed_error_set(err, FED_EINVAL,
		                     "--tunnel-socket-dir %s: cannot create it: %s", dir,
		                     strerror(errno));
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		bool link = !lstat(dir, &st) && S_ISLNK(st.st_mode);

		ret = fed_error_set(err, FED_EINVAL,
		                    "--tunnel-socket-dir %s: %s; give a real directory (not a "
		                    "symbolic link) of mode 0700 owned by this user",
		                    dir, link ? "is a symbolic link" : strerror(e));
		goto out;
	}
	if (fstat(fd, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		ret = fed_error_set(
		    err, FED_EINVAL,
		    "--tunnel-socket-dir %s: owned by uid %u with mode %04o: other users could "
		    "reach member clusters through its sockets; it must be owned by uid %u "
		    "with mode 0700 (chown/chmod it, or choose another directory)",
		    dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
		goto out;
	}
	if (!(ctl->sockdir = calloc(1, sizeof(*ctl->sockdir))) ||
	    !(ctl->sockdir->path = strdup(dir))) {
		free(ctl->sockdir);
		ctl->sockdir = NULL;
		ret = fed_error_set(err, FED_ENOMEM, "out of memory");
		goto out;
	}
	remove_stale(fd);
	ctl->sockdir->fd = fd;
	ctl->sockdir->made = made;
	fd = -1; /* the sockdir's now */
	made = false;
	FED_LOG_INFO(NULL, "tunnel: agents' clusters are reached through Unix sockets in %s", dir);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (made)
		rmdir(dir);
	return ret;
}

void tunnel_socket_dir_close(struct controller *ctl)
{
	struct tunnel_sockdir *d = ctl->sockdir;

	if (!d)
		return;
	remove_stale(d->fd);
	close(d->fd);
	if (d->made && rmdir(d->path))
		FED_LOG_WARN(NULL, "tunnel: cannot remove %s: %s", d->path, strerror(errno));
	free(d->path);
	free(d);
	ctl->sockdir = NULL;
}

static void unlisten(struct tlisten *l)
{
	const char *leaf = strrchr(l->path, '/');
	struct ev_loop *loop = l->tc->t->ctl->loop;
	int dfd = l->tc->t->ctl->sockdir ? l->tc->t->ctl->sockdir->fd : -1;
	struct stat st;

	ev_io_stop(loop, &l->io);
	ev_timer_stop(loop, &l->retry);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->path[0] && leaf && dfd >= 0 && !fstatat(dfd, leaf + 1, &st, AT_SYMLINK_NOFOLLOW) &&
	    S_ISSOCK(st.st_mode))
		unlinkat(dfd, leaf + 1, 0);
	l->path[0] = '\0';
}

/* One of the cluster's listeners in the socket directory: <name><suffix>. */
static int listen_unix(struct tlisten *l, const char *suffix, struct fed_error *err)
{
	struct tcluster *tc = l->tc;
	struct controller *ctl = tc->t->ctl;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char leaf[96];
	struct stat st;

	if (!ctl->sockdir)
		return fed_error_set(err, FED_EINVAL, "no socket directory (--tunnel-socket-dir)");
	if (strchr(tc->name, '/') || tc->name[0] == '.' || strlen(tc->name) > 63)
		return fed_error_set(err, FED_EINVAL,
		                     "the cluster name cannot name a socket: use a DNS label "
		                     "(at most 63 characters of a-z, 0-9 and -)");
	snprintf(leaf, sizeof(leaf), "%s%s", tc->name, suffix);
	if ((size_t)snprintf(l->path, sizeof(l->path), "%s/%s", ctl->sockdir->path, leaf) >=
	    sizeof(l->path)) {
		l->path[0] = '\0';
		return fed_error_set(err, FED_EINVAL,
		                     "socket path %s/%s is too long for a Unix socket (at most "
		                     "%zu characters): choose a shorter --tunnel-socket-dir",
		                     ctl->sockdir->path, leaf, sizeof(l->path) - 1);
	}
	/* only a stale socket may be in the way; anything else stays */
	if (!fstatat(ctl->sockdir->fd, leaf, &st, AT_SYMLINK_NOFOLLOW) && S_ISSOCK(st.st_mode))
		unlinkat(ctl->sockdir->fd, leaf, 0);
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(ctl->sockdir->fd, leaf, 0600, 0) < 0 || listen(l->fd, 128) < 0) {
		int e = errno;

		/* a socket we bound is removed by unlisten */
		unlisten(l);
		return fed_error_set(err, FED_EUNAVAILABLE, "listener %s/%s: %s",
		                     ctl->sockdir->path, leaf, strerror(e));
	}
	ev_io_init(&l->io, local_accept, l->fd, EV_READ);
	l->io.data = l;
	ev_init(&l->retry, accept_retry_cb);
	l->retry.data = &l->io;
	ev_io_start(ctl->loop, &l->io);
	return 0;
}

static void tlisten_init(struct tlisten *l, struct tcluster *tc, int target)
{
	l->tc = tc;
	l->target = target;
	l->fd = -1;
	ev_init(&l->io, local_accept);
	ev_init(&l->retry, accept_retry_cb);
}

struct tcluster *tunnel_cluster_get(struct tunnel *t, const char *name, bool create)
{
	struct tcluster *tc = fed_map_get(&t->clusters, name);
	struct fed_error err = FED_ERROR_INIT;
	int max = t->ctl->o.tunnel_max_agents;

	if (tc || !create)
		return tc;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tlisten_init(&tc->api, tc, FED_TUNNEL_TARGET_KUBE_APISERVER);
	tlisten_init(&tc->connect, tc, FED_TUNNEL_TARGET_CONNECT);
	tc->name = strdup(name);
	tc->conns = calloc((size_t)max, sizeof(*tc->conns));
	tc->issued = calloc((size_t)max, sizeof(*tc->issued));
	if (!tc->name || !tc->conns || !tc->issued)
		goto out;
	tc->t = t;
	if (listen_unix(&tc->api, ".sock", &err) < 0) {
		FED_LOG_ERR(name, "tunnel: %s", err.msg);
		goto out;
	}
	/* without it the member still works; only cluster connect is off */
	if (listen_unix(&tc->connect, "_connect.sock", &err) < 0)
		FED_LOG_ERR(name, "tunnel: cluster connect is off for this cluster: %s", err.msg);
	/* the socket decides where; the URL only gives Host and paths */
	snprintf(tc->url, sizeof(tc->url), "http://localhost");
	fed_map_put(&t->clusters, name, tc, NULL);
	return tc;
out: /* failed */
	if (tc->t)
		unlisten(&tc->api);
	free(tc->conns);
	free(tc->issued);
	free(tc->name);
	free(tc);
	return NULL;
}

void tunnel_cluster_free(void *p)
{
	struct tcluster *tc = p;

	if (!tc)
		return;
	for (int i = 0; i < tc->nconns; i++)
		fed_tunnel_conn_free(tc->conns[i]);
	unlisten(&tc->api);
	unlisten(&tc->connect);
	free(tc->conns);
	free(tc->issued);
	free(tc->metadata);
	free(tc->name);
	free(tc);
}

/* ---- the agent listener ---- */

void tunnel_pending_drop(struct tunnel *t, struct fed_tunnel_conn *c)
{
	for (struct pending **pp = &t->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->conn == c) {
			struct pending *p = *pp;

			*pp = p->next;
			free(p);
			t->npending--;
			return;
		}
	}
}

static int pending_from(const struct tunnel *t, const char *addr)
{
	int n = 0;

	for (const struct pending *p = t->pending; p; p = p->next)
		n += !strcmp(p->addr, addr);
	return n;
}

/* Over a pending cap: close fd at once; log once per REFUSE_LOG_GAP. */
static void refuse_pending(struct tunnel *t, int fd, const char *addr, int from_addr)
{
	double now = ev_now(t->ctl->loop);

	close(fd);
	tunnel_count_refused(t, "too_many_pending");
	t->refused_quiet++;
	if (now - t->refuse_logged_at < REFUSE_LOG_GAP && t->refuse_logged_at > 0)
		return;
	FED_LOG_WARN(NULL,
	             "tunnel: refusing connections: %d handshakes pending (--tunnel-max-pending "
	             "%d), %d from %s (--tunnel-max-pending-per-ip %d); %lu refused since the "
	             "last such message",
	             t->npending, t->ctl->o.tunnel_max_pending, from_addr, addr,
	             t->ctl->o.tunnel_max_pending_per_ip, t->refused_quiet);
	t->refuse_logged_at = now;
	t->refused_quiet = 0;
}

static void peer_name(const struct sockaddr_storage *ss, char *addr, size_t addr_len, char *name,
                      size_t name_len)
{
	int port = 0;

	snprintf(addr, addr_len, "?");
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)addr_len);
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)addr_len);
		port = ntohs(in6->sin6_port);
	}
	snprintf(name, name_len, "%s:%d", addr, port);
}

static void tunnel_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel *t = w->data;
	const struct controller_opts *o = &t->ctl->o;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct fed_error err = FED_ERROR_INIT;
		struct fed_tunnel_conn_opts co = {
		    .heartbeat = o->tunnel_heartbeat,
		    .max_queued = (size_t)o->tunnel_max_queued,
		    .ping_rate = o->tunnel_ping_rate,
		    .refused_rate = o->tunnel_refused_rate,
		};
		char addr[48], name[80];
		struct fed_tunnel_conn *c;
		struct pending *p;
		int fd, from_addr;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(t->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (accept_failed(loop, &t->lio, &t->accept_retry, &t->accept_warned_at,
			                  NULL))
				return;
			continue;
		}
		peer_name(&ss, addr, sizeof(addr), name, sizeof(name));
		from_addr = pending_from(t, addr);
		if (t->npending >= o->tunnel_max_pending ||
		    from_addr >= o->tunnel_max_pending_per_ip) {
			refuse_pending(t, fd, addr, from_addr);
			continue;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			close(fd); /* untracked, it would escape the caps */
			continue;
		}
		co.name = name;
		if (fed_tunnel_conn_accept(loop, fd, t->ctx, &co, &tunnel_conn_cb, t, &c, &err) <
		    0) {
			FED_LOG_WARN(NULL, "tunnel: %s", err.msg);
			free(p);
			continue;
		}
		p->conn = c;
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->next = t->pending;
		t->pending = p;
		t->npending++;
	}
}

static int listen_on(const char *address, int *out, struct fed_error *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon = strrchr(address, ':');
	char host[64] = "";
	int fd, one = 1;
	long port;

	if (!colon || (size_t)(colon - address) >= sizeof(host))
		return fed_error_set(err, FED_EINVAL, "--tunnel-address %s: use [IP]:PORT",
		                     address);
	memcpy(host, address, (size_t)(colon - address));
	port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port > 65535 || (host[0] && inet_pton(AF_INET, host, &sa.sin_addr) != 1))
		return fed_error_set(err, FED_EINVAL, "--tunnel-address %s: use [IPv4]:PORT",
		                     address);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return fed_error_set(err, FED_EUNAVAILABLE, "--tunnel-address %s: %s", address,
		                     strerror(e));
	}
	*out = fd;
	return 0;
}

int tunnel_listen_start(struct tunnel *t, struct fed_error *err)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int rc = listen_on(t->ctl->o.tunnel_address, &t->lfd, err);

	if (rc < 0)
		return rc;
	ev_io_init(&t->lio, tunnel_accept, t->lfd, EV_READ);
	t->lio.data = t;
	ev_init(&t->accept_retry, accept_retry_cb);
	t->accept_retry.data = &t->lio;
	ev_io_start(t->ctl->loop, &t->lio);
	getsockname(t->lfd, (struct sockaddr *)&sa, &len);
	FED_LOG_INFO(NULL, "tunnel: serving fed-agents on %s (port %d)", t->ctl->o.tunnel_address,
	             ntohs(sa.sin_port));
	return 0;
}

void tunnel_listen_stop(struct tunnel *t)
{
	struct ev_loop *loop = t->ctl->loop;

	while (t->pending) {
		struct pending *p = t->pending;

		t->pending = p->next;
		fed_tunnel_conn_free(p->conn);
		free(p);
	}
	t->npending = 0;
	if (t->lfd >= 0) {
		ev_io_stop(loop, &t->lio);
		ev_timer_stop(loop, &t->accept_retry);
		close(t->lfd);
		t->lfd = -1;
	}
}

const char *tunnel_member_url(struct controller *ctl, const char *cluster)
{
	struct tcluster *tc = ctl->tunnel ? fed_map_get(&ctl->tunnel->clusters, cluster) : NULL;

	return tc ? tc->url : NULL;
}

const char *tunnel_member_socket(struct controller *ctl, const char *cluster)
{
	struct tcluster *tc = ctl->tunnel ? fed_map_get(&ctl->tunnel->clusters, cluster) : NULL;

	return tc && tc->api.path[0] ? tc->api.path : NULL;
}

const char *tunnel_member_connect_socket(struct controller *ctl, const char *cluster)
{
	struct tcluster *tc = ctl->tunnel ? fed_map_get(&ctl->tunnel->clusters, cluster) : NULL;

	if (!tc || !tc->connect.path[0] || !tunnel_pick_conn(tc, FED_TUNNEL_TARGET_CONNECT))
		return NULL;
	return tc->connect.path;
}
