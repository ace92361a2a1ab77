/* TLS contexts for the tunnel from PEM held in memory. */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "fed/tunnel_conn.h"

const char *fed_tunnel_tls_error(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	if (!e)
		return "TLS error";
	ERR_error_string_n(e, buf, n);
	return buf;
}

static SSL_CTX *base_ctx(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	return ctx;
}

int fed_tunnel_tls_server_ctx(const char *cert_pem, const char *key_pem, SSL_CTX **out,
                              struct fed_error *err)
{
	SSL_CTX *ctx = base_ctx(TLS_server_method());
	BIO *bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char eb[160];
	int rc = FED_ETLS;

	*out = NULL;
	if (!ctx || !cert_pem || !key_pem) {
		fed_error_set(err, FED_ETLS, "tunnel TLS: no certificate or key");
		goto out;
	}
	bio = BIO_new_mem_buf(cert_pem, -1);
	cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (!cert || SSL_CTX_use_certificate(ctx, cert) != 1) {
		fed_error_set(err, FED_ETLS, "tunnel TLS: bad server certificate: %s",
		              fed_tunnel_tls_error(eb, sizeof(eb)));
		goto out;
	}
	/* the rest of the chain, if any */
	for (X509 *x; (x = PEM_read_bio_X509(bio, NULL, NULL, NULL));)
		if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1)
			X509_free(x);
	ERR_clear_error();
	BIO_free(bio);
	bio = BIO_new_mem_buf(key_pem, -1);
	key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		fed_error_set(err, FED_ETLS,
		              "tunnel TLS: bad server key or it does not match the certificate");
		ERR_clear_error();
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	BIO_free(bio);
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return rc;
}

int fed_tunnel_tls_client_ctx(const char *ca_pem, SSL_CTX **out, struct fed_error *err)
{
	SSL_CTX *ctx = base_ctx(TLS_client_method());
	X509_STORE *store;
	BIO *bio = NULL;
	int n = 0, rc = FED_ETLS;
	char eb[160];

	*out = NULL;
	if (!ctx || !ca_pem) {
		fed_error_set(err, FED_ETLS, "tunnel TLS: no host CA to pin");
		goto out;
	}
	/* only the pinned CA: never the system store */
	store = SSL_CTX_get_cert_store(ctx);
	bio = BIO_new_mem_buf(ca_pem, -1);
	for (X509 *x; bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); n++) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
	}
	ERR_clear_error();
	if (n == 0) {
		fed_error_set(err, FED_ETLS, "tunnel TLS: the host CA holds no PEM certificate: %s",
		              fed_tunnel_tls_error(eb, sizeof(eb)));
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return rc;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static char *bio_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	s = n > 0 ? strndup(data, (size_t)n) : NULL;
	return s;
}

int fed_tunnel_tls_selfsigned(const char *cn, const char *sans, int days, char **cert_pem,
                              char **key_pem, struct fed_error *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int rc = FED_ETLS;

	*cert_pem = *key_pem = NULL;
	if (!key || !x || !cb || !kb || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) || !X509_set_pubkey(x, key) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    (sans && *sans && !add_ext(x, NID_subject_alt_name, sans)) ||
	    !X509_sign(x, key, EVP_sha256()) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		goto fail;
	*cert_pem = bio_string(cb);
	*key_pem = bio_string(kb);
	if (!*cert_pem || !*key_pem) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	fed_error_set(err, FED_ETLS, "tunnel TLS: cannot create a certificate for %s (SANs %s)", cn,
	              sans ? sans : "none");
	ERR_clear_error();
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(cb);
	if (kb) {
		char *d;
		long n = BIO_get_mem_data(kb, &d);

		if (n > 0)
			OPENSSL_cleanse(d, (size_t)n);
	}
	BIO_free(kb);
	return rc;
}
