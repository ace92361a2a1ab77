/* Plain or TLS reads and writes on non-blocking sockets (sock_io.h). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>

#include "sock_io.h"

int fed_sock_read(int fd, SSL *ssl, void *buf, size_t n, size_t *got)
{
	*got = 0;
	if (ssl) {
		int rc;

		ERR_clear_error();
		rc = SSL_read(ssl, buf, (int)n);
		if (rc > 0) {
			*got = (size_t)rc;
			return FED_SOCK_DATA;
		}
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			return FED_SOCK_TLS_WANTS_READ;
		case SSL_ERROR_WANT_WRITE:
			return FED_SOCK_TLS_WANTS_WRITE;
		case SSL_ERROR_ZERO_RETURN:
			return FED_SOCK_EOF;
		case SSL_ERROR_SYSCALL:
			return rc == 0 ? FED_SOCK_EOF : FED_SOCK_ERROR;
		default:
			return FED_SOCK_ERROR;
		}
	} else {
		ssize_t rc = read(fd, buf, n);

		if (rc > 0) {
			*got = (size_t)rc;
			return FED_SOCK_DATA;
		}
		if (rc == 0)
			return FED_SOCK_EOF;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? FED_SOCK_AGAIN
		                                                                 : FED_SOCK_ERROR;
	}
}

int fed_sock_write(int fd, SSL *ssl, const void *buf, size_t n, size_t *put)
{
	*put = 0;
	if (ssl) {
		int rc;

		ERR_clear_error();
		rc = SSL_write(ssl, buf, n > 1 << 20 ? 1 << 20 : (int)n);
		if (rc > 0) {
			*put = (size_t)rc;
			return FED_SOCK_DATA;
		}
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_WRITE:
			return FED_SOCK_TLS_WANTS_WRITE;
		case SSL_ERROR_WANT_READ:
			return FED_SOCK_TLS_WANTS_READ;
		default:
			return FED_SOCK_ERROR;
		}
	} else {
		ssize_t rc = send(fd, buf, n, MSG_NOSIGNAL);

		if (rc >= 0) {
			*put = (size_t)rc;
			return FED_SOCK_DATA;
		}
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? FED_SOCK_AGAIN
		                                                                 : FED_SOCK_ERROR;
	}
}

int fed_sock_step(int rc, bool *wants_read, bool *wants_write)
{
	if (wants_read)
		*wants_read = rc == FED_SOCK_TLS_WANTS_READ;
	if (wants_write)
		*wants_write = rc == FED_SOCK_TLS_WANTS_WRITE;
	switch (rc) {
	case FED_SOCK_DATA:
		return 1;
	case FED_SOCK_AGAIN:
	case FED_SOCK_TLS_WANTS_READ:
	case FED_SOCK_TLS_WANTS_WRITE:
		return 0;
	default:
		return rc < 0 ? rc : FED_SOCK_ERROR;
	}
}
