/* fed_proxy_parse_url as RFC 3986 and curl read a proxy URL (finding 9 of
 * the security audit): the userinfo runs to the LAST '@' of the authority,
 * user and password are percent-decoded, the host is never taken from the
 * password, and no error quotes any part of the password. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "check.h"
#include "fed/tunnel_proxy.h"

/* the "user:password" behind p->basic_auth, "" when there is none */
static const char *auth_of(const struct fed_proxy *p)
{
	static char plain[512];
	int n;

	if (!p->basic_auth)
		return "";
	n = EVP_DecodeBlock((unsigned char *)plain, (const unsigned char *)p->basic_auth,
	                    (int)strlen(p->basic_auth));
	if (n < 0 || n >= (int)sizeof(plain))
		return "(bad base64)";
	/* EVP_DecodeBlock counts the padding's zero bytes */
	plain[n] = '\0';
	return plain;
}

static void test_last_at(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_proxy p;

	CHECK_INT(fed_proxy_parse_url("http://proxyuser:S3cr@t-Pa55@127.0.0.1:3128", &p, &err), 0);
	CHECK_STR(p.host, "127.0.0.1");
	CHECK_STR(p.port, "3128");
	CHECK_STR(auth_of(&p), "proxyuser:S3cr@t-Pa55");
	CHECK(!p.tls);
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("https://a@b:c@d@proxy.corp", &p, &err), 0);
	CHECK_STR(p.host, "proxy.corp");
	CHECK_STR(p.port, "443");
	CHECK_STR(auth_of(&p), "a@b:c@d");
	fed_proxy_release(&p);
	/* the authority ends at the first '/', '?' or '#': an '@' after it is
	 * path, not userinfo */
	CHECK_INT(fed_proxy_parse_url("http://u:p@h:1/path@x", &p, &err), 0);
	CHECK_STR(p.host, "h");
	CHECK_STR(p.port, "1");
	CHECK_STR(auth_of(&p), "u:p");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("http://h:8080?q=u@x", &p, &err), 0);
	CHECK_STR(p.host, "h");
	CHECK(p.basic_auth == NULL);
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("http://h#frag@x", &p, &err), 0);
	CHECK_STR(p.host, "h");
	CHECK_STR(p.port, "80");
	fed_proxy_release(&p);
}

static void test_percent_decoding(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_proxy p;

	CHECK_INT(fed_proxy_parse_url("http://u:p%40ss@h:1", &p, &err), 0);
	CHECK_STR(auth_of(&p), "u:p@ss");
	CHECK_STR(p.host, "h");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("http://us%65r%3a:pa%3As%25%2f@h:1", &p, &err), FED_EINVAL);
	CHECK_HAS(err.msg, "user");
	CHECK_INT(fed_proxy_parse_url("http://%41dmin:%2F%3a%25%20x@h:1", &p, &err), 0);
	CHECK_STR(auth_of(&p), "Admin:/:% x");
	fed_proxy_release(&p);
	/* a user without a password: Basic "user:" as curl sends it */
	CHECK_INT(fed_proxy_parse_url("http://bob@h:1", &p, &err), 0);
	CHECK_STR(auth_of(&p), "bob:");
	fed_proxy_release(&p);
}

static void test_ipv6(void)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_proxy p;

	CHECK_INT(fed_proxy_parse_url("http://[::1]:3128", &p, &err), 0);
	CHECK_STR(p.host, "::1");
	CHECK_STR(p.port, "3128");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("http://u:p@ss@[fd00::1]/", &p, &err), 0);
	CHECK_STR(p.host, "fd00::1");
	CHECK_STR(p.port, "80");
	CHECK_STR(auth_of(&p), "u:p@ss");
	fed_proxy_release(&p);
	CHECK_INT(fed_proxy_parse_url("https://[::1]", &p, &err), 0);
	CHECK_STR(p.port, "443");
	fed_proxy_release(&p);
}

/* each refused with EINVAL, the message naming what is wrong, and no
 * fragment of the password "S3cr@t-Pa55" (or its pieces) in it */
static void test_malformed(void)
{
	static const struct {
		const char *url, *says;
	} bad[] = {
	    {"http://proxyuser:S3cr%4@t-Pa55@127.0.0.1:3128", "password"},
	    {"http://proxyuser:S3cr%zz@t-Pa55@127.0.0.1:3128", "password"},
	    {"http://proxyuser:S3cr@t-Pa55%@127.0.0.1:3128", "password"},
	    {"http://proxyuser:S3cr%00t-Pa55@127.0.0.1:3128", "NUL"},
	    {"http://proxy%0user:S3cr@t-Pa55@127.0.0.1:3128", "user"},
	    {"http://:S3cr@t-Pa55@127.0.0.1:3128", "no user"},
	    {"http://proxyuser:S3cr@t-Pa55@127.0.0.1:x3128", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@127.0.0.1:", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@127.0.0.1:99999", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@:3128", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@[::1", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@[::1]x:1", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@[not-v6]:1", "host or port"},
	    {"http://proxyuser:S3cr@t-Pa55@h:1:2", "host or port"},
	    {"http://proxyuser:S3cr t-Pa55@h:1", "space"},
	    {"http://proxyuser:S3cr\nt-Pa55@h:1", "control"},
	    {"socks5://proxyuser:S3cr@t-Pa55@h:1", "unsupported scheme socks5://"},
	    {"proxyuser:S3cr@t-Pa55@h/y://z", "malformed"},
	};
	static const char *const fragments[] = {"S3cr", "t-Pa55", "Pa55", "3cr@"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fed_error err = FED_ERROR_INIT;
		struct fed_proxy p;

		if (fed_proxy_parse_url(bad[i].url, &p, &err) != FED_EINVAL) {
			fprintf(stderr, "  accepted: case %zu\n", i);
			CHECK(0);
		}
		CHECK_HAS(err.msg, bad[i].says);
		for (size_t f = 0; f < sizeof(fragments) / sizeof(fragments[0]); f++)
			if (strstr(err.msg, fragments[f])) {
				fprintf(stderr, "  case %zu: the error quotes the password: %s\n",
				        i, err.msg);
				CHECK(0);
			}
		CHECK(p.host == NULL && p.basic_auth == NULL);
	}
}

int main(void)
{
	RUN(test_last_at);
	RUN(test_percent_decoding);
	RUN(test_ipv6);
	RUN(test_malformed);
	return CHECK_EXIT();
}
