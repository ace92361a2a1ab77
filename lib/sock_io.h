/* One read or write on a non-blocking socket, plain or TLS, with the
 * outcome told apart the way an event loop needs it: bytes, would block,
 * TLS needing the other direction, EOF, error. Shared by the tunnel's
 * bridge and fed_splice, which keep their own flags from it. */
#ifndef FED_SOCK_IO_H
#define FED_SOCK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

enum fed_sock_io {
	FED_SOCK_ERROR = -2,
	FED_SOCK_EOF = -1, /* also TLS EOF without close_notify, as before */
	FED_SOCK_AGAIN = 0,
	FED_SOCK_DATA = 1,
	FED_SOCK_TLS_WANTS_READ = 2,  /* would block until the socket is readable */
	FED_SOCK_TLS_WANTS_WRITE = 3, /* would block until the socket is writable */
};

/* Read up to n bytes into buf (*got set); ssl NULL for a plain socket. */
int fed_sock_read(int fd, SSL *ssl, void *buf, size_t n, size_t *got);
/* Write up to n bytes of buf (*put set); a TLS write takes at most 1 MiB. */
int fed_sock_write(int fd, SSL *ssl, const void *buf, size_t n, size_t *put);
/* An outcome above as a loop pumps it: 1 bytes, 0 would block, -1 EOF,
 * -2 error; *wants_read / *wants_write (NULL: not kept) say whether TLS
 * waits for the socket to be readable / writable. */
int fed_sock_step(int rc, bool *wants_read, bool *wants_write);

#endif
