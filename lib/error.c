#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fed/error.h"
#include "fed/log.h"

int fed_error_set(struct fed_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	err->http_status = 0;
	err->reason[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	fed_log_redact(err->msg);
	return code;
}

int fed_error_wrap(struct fed_error *err, const char *fmt, ...)
{
	char prefix[FED_ERROR_MSG_MAX];
	char old[FED_ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return FED_ERR;
	if (!err->code)
		err->code = FED_ERR;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* truncation is fine: the message is for people */
	{
		size_t n = strlen(prefix);
		if (n > sizeof(err->msg) - 3)
			n = sizeof(err->msg) - 3;
		memcpy(err->msg, prefix, n);
		memcpy(err->msg + n, ": ", 2);
		snprintf(err->msg + n + 2, sizeof(err->msg) - n - 2, "%.*s",
		         (int)(sizeof(err->msg) - n - 3), old);
	}
	fed_log_redact(err->msg);
	return err->code;
}

void fed_error_clear(struct fed_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->http_status = 0;
	err->reason[0] = '\0';
	err->msg[0] = '\0';
}

const char *fed_err_name(int code)
{
	switch (code) {
	case FED_OK:
		return "OK";
	case FED_ENOMEM:
		return "OutOfMemory";
	case FED_EINVAL:
		return "BadInput";
	case FED_ENOTFOUND:
		return "NotFound";
	case FED_ECONFLICT:
		return "Conflict";
	case FED_EEXISTS:
		return "AlreadyExists";
	case FED_EGONE:
		return "Gone";
	case FED_EUNAUTHORIZED:
		return "Unauthorized";
	case FED_EFORBIDDEN:
		return "Forbidden";
	case FED_EUNAVAILABLE:
		return "Unavailable";
	case FED_EINVALID:
		return "Invalid";
	case FED_ETIMEOUT:
		return "Timeout";
	case FED_ETLS:
		return "TLSError";
	case FED_ECANCELED:
		return "Canceled";
	default:
		return "Error";
	}
}

const char *fed_quote(char *buf, size_t n, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, limit;

	if (n < 8) {
		if (n)
			buf[0] = '\0';
		return buf;
	}
	if (!s) {
		snprintf(buf, n, "(null)");
		return buf;
	}
	/* room for the longest escape, "...", the closing quote and NUL */
	limit = n - 12;
	if (limit > FED_QUOTE_MAX)
		limit = FED_QUOTE_MAX;
	buf[o++] = '"';
	for (; *s && o < limit; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'u';
			buf[o++] = '0';
			buf[o++] = '0';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (*s) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
