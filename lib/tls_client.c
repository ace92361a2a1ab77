/* TLS client contexts and sessions from PEM in memory (fed/tls.h). */
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fed/tls.h"

static int load_cas(SSL_CTX *ctx, const char *pem, size_t len)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	int n = 0;

	for (X509 *x; bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); n++) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

static int use_cert(SSL_CTX *ctx, const char *cert, size_t cert_len, const char *key,
                    size_t key_len)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)cert_len);
	BIO *kb = BIO_new_mem_buf(key, (int)key_len);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int ok = x && k && SSL_CTX_use_certificate(ctx, x) == 1 &&
	         SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;

	/* the chain after the leaf, if any */
	for (X509 *extra; ok && cb && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL));)
		if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1)
			X509_free(extra);
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int fed_tls_client_ctx(const char *ca, size_t ca_len, const char *cert, size_t cert_len,
                       const char *key, size_t key_len, const char *what, SSL_CTX **out,
                       struct fed_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ret = 0;

	*out = NULL;
	if (!ctx)
		return fed_error_set(err, FED_ENOMEM, "%s: cannot create a TLS context", what);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* one HTTP/1.1 byte stream per connection */
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
	if (ca ? load_cas(ctx, ca, ca_len) == 0 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ret = fed_error_set(err, FED_ETLS, "%s: no usable CA certificate", what);
		goto out;
	}
	if ((cert != NULL) != (key != NULL) ||
	    (cert && use_cert(ctx, cert, cert_len, key, key_len))) {
		ret = fed_error_set(err, FED_ETLS, "%s: bad client certificate or key", what);
		goto out;
	}
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return ret;
}

int fed_tls_client_ssl(SSL_CTX *ctx, int fd, const char *name, SSL **out, struct fed_error *err)
{
	SSL *ssl = SSL_new(ctx);
	X509_VERIFY_PARAM *vp = ssl ? SSL_get0_param(ssl) : NULL;
	int ret = 0;

	*out = NULL;
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		ret = fed_error_set(err, FED_ENOMEM, "cannot create a TLS session");
		goto out;
	}
	/* an IP address is checked as one (no SNI); a name as a host name */
	if (!X509_VERIFY_PARAM_set1_ip_asc(vp, name)) {
		ERR_clear_error();
		if (!X509_VERIFY_PARAM_set1_host(vp, name, 0) ||
		    !SSL_set_tlsext_host_name(ssl, name)) {
			ret = fed_error_set(err, FED_ETLS, "bad server name %s", name);
			goto out;
		}
	}
	SSL_set_connect_state(ssl);
	*out = ssl;
	ssl = NULL;
out:
	SSL_free(ssl);
	return ret;
}
