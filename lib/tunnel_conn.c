/* One tunnel connection: TLS on a non-blocking socket driven by one ev_io,
 * frames in and out, the handshake (HELLO, AUTH, AUTH_OK), heartbeats and
 * the streams. See fed/tunnel_conn.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "fed/log.h"
#include "fed/tunnel_conn.h"
#include "tunnel_conn_internal.h"

void fed_tunnel_conn_wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void destroy(struct fed_tunnel_conn *c)
{
	struct fed_tunnel_stream *s, *next;

	for (s = c->streams; s; s = next) {
		next = s->next;
		free(s);
	}
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->closer);
	ev_timer_stop(c->loop, &c->resume);
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_free(c->outer); /* after the inner one, whose BIO points at it */
	if (c->fd >= 0)
		close(c->fd);
	fed_tunnel_proto_release(&c->proto);
	fed_buf_release(&c->in); /* both sensitive: wiped */
	fed_buf_release(&c->out);
	fed_tunnel_conn_wipe_free(c->secret);
	fed_tunnel_conn_wipe_free(c->credential);
	free(c->cluster);
	free(c);
}

void fed_tunnel_conn_free(struct fed_tunnel_conn *c)
{
	if (!c)
		return;
	c->st = ST_DEAD;
	/* the streams' owners (bridges) must learn that they are gone */
	c->depth++;
	while (c->streams) {
		struct fed_tunnel_stream *s = c->streams;

		fed_tunnel_conn_unlink_stream(c, s);
		if (s->cb && s->cb->reset)
			s->cb->reset(s, FED_TUNNEL_RST_CONN_LOST, s->ud);
		free(s);
	}
	c->depth--;
	if (c->depth > 0) {
		c->freed = true;
		c->st = ST_DEAD;
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
		ev_timer_stop(c->loop, &c->closer);
		ev_timer_stop(c->loop, &c->resume);
		return;
	}
	destroy(c);
}

/* Every loop entry point brackets its work with enter/leave so that a
 * callback freeing the connection is safe. Returns true if c is gone. */
void fed_tunnel_conn_enter(struct fed_tunnel_conn *c)
{
	c->depth++;
}

bool fed_tunnel_conn_leave(struct fed_tunnel_conn *c)
{
	if (--c->depth == 0 && c->freed) {
		destroy(c);
		return true;
	}
	return false;
}

/* Reading stops while the peer has not taken what we owe it: replies to
 * a peer that sends and never reads would otherwise grow without bound. */
bool fed_tunnel_conn_may_read(const struct fed_tunnel_conn *c)
{
	return c->st != ST_DEAD && !c->closing && !c->auth_pending &&
	       c->out.len < c->opts.max_queued;
}

void fed_tunnel_conn_update_io(struct fed_tunnel_conn *c)
{
	int ev = 0;

	if (c->st == ST_DEAD)
		return;
	/* while a resume is due, it reads; the socket need not wake us */
	if ((fed_tunnel_conn_may_read(c) && !ev_is_active(&c->resume)) || c->write_wants_read)
		ev |= EV_READ;
	if (c->out.len || c->want_write)
		ev |= EV_WRITE;
	if (!ev) {
		ev_io_stop(c->loop, &c->io);
		return;
	}
	if ((c->io.events & (EV_READ | EV_WRITE)) != ev || !ev_is_active(&c->io)) {
		ev_io_stop(c->loop, &c->io);
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(c->loop, &c->io);
	}
}

void fed_tunnel_conn_queue_frame(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream,
                                 const void *p, size_t n)
{
	if (c->st == ST_DEAD)
		return;
	if (fed_tunnel_frame_encode(&c->out, type, stream, p, n) < 0) {
		fed_tunnel_conn_die(c, "out of memory queueing a frame");
		return;
	}
	fed_tunnel_conn_update_io(c);
}

void fed_tunnel_conn_queue_u32(struct fed_tunnel_conn *c, uint8_t type, uint32_t stream, uint32_t v)
{
	uint8_t b[4];

	fed_tunnel_put_u32(b, v);
	fed_tunnel_conn_queue_frame(c, type, stream, b, 4);
}

void fed_tunnel_conn_unlink_stream(struct fed_tunnel_conn *c, struct fed_tunnel_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	fed_tunnel_proto_consumed(&c->proto, NULL, (uint32_t)s->unconsumed);
	fed_tunnel_proto_forget(&c->proto, s->id);
}

/* Reset every stream (callbacks run), then report the connection closed. */
void fed_tunnel_conn_die(struct fed_tunnel_conn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (c->st == ST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* We sent GOAWAY and were about to close: the peer hanging up first
	 * (it read the GOAWAY) is the same ending, not a read error. */
	if (ev_is_active(&c->closer) && strcmp(why, "closed after GOAWAY"))
		snprintf(why, sizeof(why), "closed after GOAWAY");
	c->st = ST_DEAD;
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->closer);
	ev_timer_stop(c->loop, &c->resume);
	fed_tunnel_conn_enter(c);
	while (c->streams && !c->freed) {
		struct fed_tunnel_stream *s = c->streams;

		fed_tunnel_conn_unlink_stream(c, s);
		if (s->cb && s->cb->reset)
			s->cb->reset(s, FED_TUNNEL_RST_CONN_LOST, s->ud);
		free(s);
	}
	if (!c->freed && c->cb->closed)
		c->cb->closed(c, why, c->ud);
	fed_tunnel_conn_leave(c);
}

/* TLS in TLS: the tunnel's SSL reads and writes through a BIO_f_ssl on
 * the proxy's session. That BIO passes the outer session's WANT_READ and
 * WANT_WRITE up as retries, so the inner SSL reports them as usual and the
 * one ev_io on the socket drives both. */
static bool set_outer_bio(struct fed_tunnel_conn *c)
{
	BIO *b = BIO_new(BIO_f_ssl());

	if (!b)
		return false;
	SSL_set_mode(c->outer, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	BIO_set_ssl(b, c->outer, BIO_NOCLOSE); /* c->outer is freed in destroy() */
	SSL_set_bio(c->ssl, b, b);
	return true;
}

/* The options with their defaults filled in; the proxy session (outer)
 * becomes the connection's. */
static void set_opts(struct fed_tunnel_conn *c, const struct fed_tunnel_conn_opts *opts)
{
	if (opts)
		c->opts = *opts;
	if (c->opts.heartbeat <= 0)
		c->opts.heartbeat = 10;
	if (c->opts.missed <= 0)
		c->opts.missed = 3;
	if (c->opts.handshake_timeout <= 0)
		c->opts.handshake_timeout = 10;
	if (c->opts.max_queued == 0)
		c->opts.max_queued = FED_TUNNEL_DEFAULT_MAX_QUEUED;
	if (c->opts.ping_rate <= 0)
		c->opts.ping_rate = FED_TUNNEL_DEFAULT_PING_RATE;
	if (c->opts.refused_rate == 0)
		c->opts.refused_rate = FED_TUNNEL_DEFAULT_REFUSED_RATE;
	c->ping_tokens = 2 * c->opts.ping_rate;
	c->refused_tokens = 2 * c->opts.refused_rate;
	c->ping_at = c->refused_at = ev_now(c->loop);
	snprintf(c->name, sizeof(c->name), "%s", c->opts.name ? c->opts.name : "peer");
	c->opts.name = c->name;
	c->outer = c->opts.outer;
	c->opts.outer = NULL;
}

static int conn_new(struct ev_loop *loop, int fd, SSL_CTX *ctx, bool is_host,
                    const struct fed_tunnel_conn_opts *opts, const struct fed_tunnel_conn_cb *cb,
                    void *ud, struct fed_tunnel_conn **out, struct fed_error *err)
{
	struct fed_tunnel_conn *c = calloc(1, sizeof(*c));
	double interval;

	*out = NULL;
	if (!c) {
		SSL_free(opts ? opts->outer : NULL);
		close(fd);
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	c->loop = loop;
	c->fd = fd;
	c->is_host = is_host;
	c->cb = cb;
	c->ud = ud;
	set_opts(c, opts);
	fed_tunnel_proto_init(&c->proto, is_host);
	/* AUTH, AUTH_OK and CREDENTIAL pass through them */
	fed_buf_set_sensitive(&c->in);
	fed_buf_set_sensitive(&c->out);
	/* frames are small and latency matters: no Nagle (it meets delayed
	 * ACKs for 40 ms stalls); a non-TCP socket just ignores it */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	/* no ctx: a plain socket, for tests and the fuzzer only */
	if (ctx) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl || (c->outer ? !set_outer_bio(c) : !SSL_set_fd(c->ssl, fd))) {
			destroy(c);
			return fed_error_set(err, FED_ETLS, "tunnel: cannot set up TLS");
		}
		SSL_set_mode(c->ssl,
		             SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (is_host)
			SSL_set_accept_state(c->ssl);
		else
			SSL_set_connect_state(c->ssl);
	}
	c->started = c->last_rx = ev_now(loop);
	ev_io_init(&c->io, fed_tunnel_conn_io_cb, fd, EV_READ | EV_WRITE);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	/* check liveness a few times per interval; PING once per interval */
	interval = c->opts.heartbeat;
	if (interval > c->opts.handshake_timeout)
		interval = c->opts.handshake_timeout;
	ev_timer_init(&c->timer, fed_tunnel_conn_timer_cb, interval, interval);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	ev_timer_init(&c->closer, fed_tunnel_conn_closer_cb, 0., 0.);
	c->closer.data = c;
	ev_timer_init(&c->resume, fed_tunnel_conn_resume_cb, 0., 0.);
	c->resume.data = c;
	*out = c;
	return 0;
}

const char *fed_tunnel_conn_check_limits(double max_queued, double ping_rate, double refused_rate)
{
	/* written so that NaN fails too */
	if (!(max_queued >= 65536 && max_queued <= 1e10))
		return "--tunnel-max-queued-bytes must be at least 65536";
	if (!(ping_rate > 0 && refused_rate > 0))
		return "--tunnel-ping-rate and --tunnel-refused-rate must be > 0";
	return NULL;
}

int fed_tunnel_conn_accept(struct ev_loop *loop, int fd, SSL_CTX *ctx,
                           const struct fed_tunnel_conn_opts *opts,
                           const struct fed_tunnel_conn_cb *cb, void *ud,
                           struct fed_tunnel_conn **out, struct fed_error *err)
{
	return conn_new(loop, fd, ctx, true, opts, cb, ud, out, err);
}

int fed_tunnel_conn_connect(struct ev_loop *loop, int fd, SSL_CTX *ctx, const char *verify_host,
                            int auth_kind, const char *secret,
                            const struct fed_tunnel_conn_opts *opts,
                            const struct fed_tunnel_conn_cb *cb, void *ud,
                            struct fed_tunnel_conn **out, struct fed_error *err)
{
	struct fed_tunnel_conn *c;
	X509_VERIFY_PARAM *vp;
	int rc = conn_new(loop, fd, ctx, false, opts, cb, ud, &c, err);

	if (rc < 0)
		return rc;
	c->auth_kind = auth_kind;
	c->secret = strdup(secret ? secret : "");
	vp = SSL_get0_param(c->ssl);
	/* an IP literal is matched against IP SANs, a name against DNS SANs */
	if (!c->secret || !verify_host ||
	    (!X509_VERIFY_PARAM_set1_ip_asc(vp, verify_host) &&
	     (!X509_VERIFY_PARAM_set1_host(vp, verify_host, 0) ||
	      !SSL_set_tlsext_host_name(c->ssl, verify_host)))) {
		destroy(c);
		return fed_error_set(err, FED_EINVAL, "tunnel: cannot verify host name");
	}
	*out = c;
	return 0;
}

int fed_tunnel_conn_plain(struct ev_loop *loop, int fd, bool is_host, int auth_kind,
                          const char *secret, const struct fed_tunnel_conn_opts *opts,
                          const struct fed_tunnel_conn_cb *cb, void *ud,
                          struct fed_tunnel_conn **out, struct fed_error *err)
{
	int rc = conn_new(loop, fd, NULL, is_host, opts, cb, ud, out, err);

	if (rc < 0 || is_host)
		return rc;
	(*out)->auth_kind = auth_kind;
	(*out)->secret = strdup(secret ? secret : "");
	if (!(*out)->secret) {
		destroy(*out);
		*out = NULL;
		return fed_error_set(err, FED_ENOMEM, "tunnel: out of memory");
	}
	return 0;
}

struct fed_tunnel_proto *fed_tunnel_conn_proto(struct fed_tunnel_conn *c)
{
	return &c->proto;
}

void fed_tunnel_conn_shutdown(struct fed_tunnel_conn *c, uint32_t code, const char *reason)
{
	uint8_t g[4 + 64];
	size_t n = reason ? strlen(reason) : 0;

	if (!c || c->st == ST_DEAD)
		return;
	if (n > 64)
		n = 64;
	fed_tunnel_put_u32(g, code);
	if (n)
		memcpy(g + 4, reason, n);
	if (c->st == ST_READY || c->st == ST_HELLO)
		fed_tunnel_conn_queue_frame(c, FED_TUNNEL_GOAWAY, 0, g, 4 + n);
	c->closing = true;
	ev_timer_start(c->loop, &c->closer);
	fed_tunnel_conn_update_io(c);
}

int fed_tunnel_conn_send_metadata(struct fed_tunnel_conn *c, const char *json, size_t len)
{
	if (c->st != ST_READY)
		return FED_EUNAVAILABLE;
	if (len < 2 || len > FED_TUNNEL_MAX_FRAME)
		return FED_EINVAL;
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_METADATA, 0, json, len);
	return 0;
}

int fed_tunnel_conn_send_credential(struct fed_tunnel_conn *c, const char *cred)
{
	size_t n = cred ? strlen(cred) : 0;

	if (!c->is_host || c->st != ST_READY)
		return FED_EUNAVAILABLE;
	if (n == 0 || n > FED_TUNNEL_MAX_FRAME)
		return FED_EINVAL;
	fed_tunnel_conn_queue_frame(c, FED_TUNNEL_CREDENTIAL, 0, cred, n);
	return 0;
}

bool fed_tunnel_conn_ready(const struct fed_tunnel_conn *c)
{
	return c && c->st == ST_READY;
}

const char *fed_tunnel_conn_cluster(const struct fed_tunnel_conn *c)
{
	return c->cluster;
}

size_t fed_tunnel_conn_nstreams(const struct fed_tunnel_conn *c)
{
	return c->proto.nstreams;
}

const char *fed_tunnel_conn_name(const struct fed_tunnel_conn *c)
{
	return c->name;
}

unsigned fed_tunnel_conn_peer_features(const struct fed_tunnel_conn *c)
{
	return c->peer_features;
}
