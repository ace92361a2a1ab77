/* HTTPS_PROXY as fed_proxy_parse_url reads it: arbitrary bytes from the
 * agent's environment. A parsed proxy must have a host with no userinfo
 * in it, a port of 1-65535, and (with a user) a Basic credential that
 * decodes to "user:..." without NUL; a refusal must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "fed/tunnel_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fed_error err = FED_ERROR_INIT;
	struct fed_proxy p;
	char *url = strndup((const char *)data, size);

	if (!url)
		return 0;
	if (fed_proxy_parse_url(url, &p, &err) == 0) {
		long port = strtol(p.port, NULL, 10);

		if (!*p.host || strpbrk(p.host, "@/?# \r\n") || port < 1 || port > 65535 ||
		    strspn(p.port, "0123456789") != strlen(p.port))
			abort();
		if (!p.basic_auth != !p.user)
			abort();
		if (p.basic_auth) {
			size_t bl = strlen(p.basic_auth), ul = strlen(p.user);
			unsigned char *plain = malloc(bl + 1);
			int n = plain
			            ? EVP_DecodeBlock(plain, (unsigned char *)p.basic_auth, (int)bl)
			            : -1;

			/* n counts the zero bytes of the padding */
			if (n < (int)ul + 1 || memcmp(plain, p.user, ul) || plain[ul] != ':' ||
			    memchr(plain, '\0',
			           (size_t)n - (bl && p.basic_auth[bl - 1] == '=') -
			               (bl > 1 && p.basic_auth[bl - 2] == '=')))
				abort();
			free(plain);
		}
		fed_proxy_release(&p);
	} else if (!err.msg[0] || p.host || p.basic_auth) {
		abort();
	}
	free(url);
	return 0;
}
