/* The pure parts of tunnel credentials (no Secret, no key): their text
 * format and the per-cluster generation that revokes older ones.
 *
 *   fedc2.<cluster>.<generation>.<expiry>.<hmac-sha256 hex of the rest>
 *   fedc1.<cluster>.<expiry>.<hmac>   (before generations: generation 0)
 *
 * The Secret keeps generation-<cluster> = "<n>" or "<n> revoke" (absent:
 * 0). A credential of a generation below the stored one is refused;
 * "revoke" also closes the cluster's live connections instead of giving
 * them a new credential (fedctl delete and a re-join; fedctl rotate
 * writes a plain "<n>"). */
#ifndef FED_CONTROLLER_TUNNEL_CRED_H
#define FED_CONTROLLER_TUNNEL_CRED_H

#include <stdbool.h>
#include <stddef.h>

#define CRED_PREFIX    "fedc2"
#define CRED_PREFIX_V1 "fedc1"
#define CRED_MAX       400 /* bytes of a credential, more is malformed */

struct tunnel_cred {
	char cluster[254];
	unsigned long long generation;
	long long expiry; /* unix seconds */
	size_t body_len;  /* what the HMAC covers: cred[0..body_len) */
	const char *mac;  /* 64 hex digits, inside the parsed text */
};

/* The signed part of a new credential into out (NUL-terminated); its
 * length, or -1 when it does not fit. */
int tunnel_cred_body(char *out, size_t n, const char *cluster, unsigned long long gen,
                     long long expiry);
/* Split and parse cred (len bytes, not NUL-terminated); 0, or -1 when it
 * is not a credential of either format. */
int tunnel_cred_parse(const char *cred, size_t len, struct tunnel_cred *out);
/* The Secret's generation value ("<n>" or "<n> revoke"); 0, or -1 when
 * malformed (then *gen is 0). */
int tunnel_generation_parse(const char *v, unsigned long long *gen, bool *revoke);
/* Is a credential of generation gen still good against the stored one? */
bool tunnel_generation_current(unsigned long long gen, unsigned long long stored);

#endif
