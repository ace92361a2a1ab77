/* fed-controller: renewal of direct members' bound ServiceAccount tokens
 * (member_token.c). */
#ifndef FED_CONTROLLER_MEMBER_TOKEN_H
#define FED_CONTROLLER_MEMBER_TOKEN_H

#include <stddef.h>

struct controller;
struct fed_kube_client;
struct member_token;

/* The member's client was (re)built from kubeconfig: when its user is a
 * bound ServiceAccount token (a JWT with iat and exp) of a direct member,
 * renew it at --member-token-renew-fraction of its lifetime through client
 * and write the new kubeconfig into the Secret. Anything else (client
 * certificates, static tokens, agent members) is left alone (*pt NULL).
 * The state comes from the token alone, so a restart picks it up. */
void member_token_track(struct member_token **pt, struct controller *ctl, const char *cluster,
                        const char *mode, const char *kubeconfig, struct fed_kube_client *client);
/* Before the client goes: cancel what is in flight (the state stays for
 * the next track). NULL allowed. */
void member_token_stop(struct member_token *t);
void member_token_free(struct member_token *t);
/* A probe got 401: append to msg what to do (names fedctl join CLUSTER). */
void member_token_unauthorized_hint(const struct member_token *t, const char *cluster, char *msg,
                                    size_t n);

#endif
