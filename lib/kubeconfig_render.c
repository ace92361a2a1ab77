/* A fed_rest_config back to a self-contained, single-context kubeconfig. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fed/base64.h"
#include "fed/buf.h"
#include "fed/kubeconfig.h"
#include "kubeconfig_internal.h"

/* Every string is emitted double-quoted: names and values can then hold
 * anything (": ", "#", leading "*", "true") without changing meaning.
 * YAML folds line breaks inside quotes, Unicode ones (NEL, LS, PS)
 * included, so those are escaped too. */
static int quoted(struct fed_buf *b, const char *s, size_t len)
{
	size_t i;
	int ret = fed_buf_puts(b, "\"");

	for (i = 0; !ret && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			ret = fed_buf_printf(b, "\\%c", c);
		else if (c == '\n')
			ret = fed_buf_puts(b, "\\n");
		else if (c == '\t')
			ret = fed_buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			ret = fed_buf_printf(b, "\\x%02x", c);
		else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0x85 && ++i)
			ret = fed_buf_puts(b, "\\N");
		else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
		         ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
			ret = fed_buf_puts(b, (unsigned char)s[(i += 2)] == 0xa8 ? "\\L" : "\\P");
		else
			ret = fed_buf_append(b, &s[i], 1);
	}
	return ret ? ret : fed_buf_puts(b, "\"");
}

static int field(struct fed_buf *b, const char *indent, const char *key, const char *val)
{
	int ret;

	if (!val)
		return 0;
	if ((ret = fed_buf_printf(b, "%s%s: ", indent, key)) || (ret = quoted(b, val, strlen(val))))
		return ret;
	return fed_buf_puts(b, "\n");
}

static int data_field(struct fed_buf *b, const char *indent, const char *key, const char *data,
                      size_t len)
{
	int ret;

	if (!data)
		return 0;
	if ((ret = fed_buf_printf(b, "%s%s: ", indent, key)) ||
	    (ret = fed_base64_encode(FED_BASE64_STD, b, data, len)))
		return ret;
	return fed_buf_puts(b, "\n");
}

static int render_exec(struct fed_buf *b, const struct fed_exec_config *ec)
{
	const char *in = "      ";
	size_t i;
	int ret;

	if ((ret = fed_buf_puts(b, "    exec:\n")) ||
	    (ret = field(b, in, "apiVersion", ec->api_version)) ||
	    (ret = field(b, in, "command", ec->command)) ||
	    (ret = fed_buf_puts(b, "      args: [")))
		return ret;
	for (i = 0; ec->args && ec->args[i]; i++)
		if ((ret = fed_buf_puts(b, i ? ", " : "")) ||
		    (ret = quoted(b, ec->args[i], strlen(ec->args[i]))))
			return ret;
	if ((ret = fed_buf_puts(b, "]\n      env:")))
		return ret;
	if (!ec->env || !ec->env[0])
		ret = fed_buf_puts(b, " []");
	for (i = 0; !ret && ec->env && ec->env[i]; i++) {
		const char *eq = strchr(ec->env[i], '=');
		size_t n = eq ? (size_t)(eq - ec->env[i]) : strlen(ec->env[i]);
		if ((ret = fed_buf_puts(b, "\n      - name: ")) ||
		    (ret = quoted(b, ec->env[i], n)) ||
		    (ret = fed_buf_puts(b, "\n        value: ")))
			return ret;
		ret = quoted(b, eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
	}
	if (ret || (ret = fed_buf_puts(b, "\n")) ||
	    (ret = field(b, in, "installHint", ec->install_hint)) ||
	    (ret = fed_buf_printf(b, "      provideClusterInfo: %s\n",
	                          ec->provide_cluster_info ? "true" : "false")) ||
	    (ret = field(b, in, "interactiveMode", ec->interactive_mode)))
		return ret;
	return 0;
}

int fed_kubeconfig_render(const struct fed_rest_config *cfg, const char *context_name,
                          char **out_yaml, struct fed_error *err)
{
	struct fed_buf b = FED_BUF_INIT;
	const char *ctx, *cluster, *user;
	bool anonymous;
	int ret;

	*out_yaml = NULL;
	ctx = context_name && *context_name   ? context_name
	      : cfg->context && *cfg->context ? cfg->context
	                                      : "default";
	cluster = cfg->cluster && *cfg->cluster ? cfg->cluster : ctx;
	user = cfg->user && *cfg->user ? cfg->user : ctx;
	if (!cfg->server) {
		ret = fed_error_set(err, FED_EINVAL,
		                    "render kubeconfig for context \"%s\": no "
		                    "server",
		                    ctx);
		goto out;
	}
	if ((ret = fed_buf_puts(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: ")) ||
	    (ret = quoted(&b, cluster, strlen(cluster))) ||
	    (ret = fed_buf_puts(&b, "\n  cluster:\n")) ||
	    (ret = field(&b, "    ", "server", cfg->server)) ||
	    (ret =
	         data_field(&b, "    ", "certificate-authority-data", cfg->ca_pem, cfg->ca_len)) ||
	    (ret = field(&b, "    ", "tls-server-name", cfg->tls_server_name)) ||
	    (ret = field(&b, "    ", "proxy-url", cfg->proxy_url)) ||
	    (cfg->insecure_skip_tls_verify &&
	     (ret = fed_buf_puts(&b, "    insecure-skip-tls-verify: true\n"))))
		goto oom;
	/* no user at all (anonymous) stays that way; a named user with no
	 * credential is kept as an empty entry */
	anonymous = !cfg->user && !cfg->cert_pem && !cfg->key_pem && !cfg->token &&
	            !cfg->token_file && !cfg->exec;
	if (anonymous)
		ret = fed_buf_puts(&b, "users: []\n");
	else if ((ret = fed_buf_puts(&b, "users:\n- name: ")) ||
	         (ret = quoted(&b, user, strlen(user))) || (ret = fed_buf_puts(&b, "\n  user:")))
		goto oom;
	if (!anonymous && !cfg->cert_pem && !cfg->key_pem && !cfg->token && !cfg->token_file &&
	    !cfg->exec)
		ret = fed_buf_puts(&b, " {}");
	if (ret || (!anonymous && (ret = fed_buf_puts(&b, "\n"))) ||
	    (ret =
	         data_field(&b, "    ", "client-certificate-data", cfg->cert_pem, cfg->cert_len)) ||
	    (ret = data_field(&b, "    ", "client-key-data", cfg->key_pem, cfg->key_len)) ||
	    (ret = field(&b, "    ", "token", cfg->token)) ||
	    (ret = field(&b, "    ", "tokenFile", cfg->token_file)) ||
	    (cfg->exec && (ret = render_exec(&b, cfg->exec))))
		goto oom;
	if ((ret = fed_buf_puts(&b, "contexts:\n- name: ")) ||
	    (ret = quoted(&b, ctx, strlen(ctx))) || (ret = fed_buf_puts(&b, "\n  context:\n")) ||
	    (ret = field(&b, "    ", "cluster", cluster)) ||
	    (!anonymous && (ret = field(&b, "    ", "user", user))) ||
	    (ret = field(&b, "    ", "namespace", cfg->namespace)) ||
	    (ret = fed_buf_puts(&b, "current-context: ")) || (ret = quoted(&b, ctx, strlen(ctx))) ||
	    (ret = fed_buf_puts(&b, "\npreferences: {}\n")))
		goto oom;
	*out_yaml = fed_buf_detach(&b);
	if (!*out_yaml)
		goto oom;
	ret = 0;
	goto out;
oom:
	ret = fed_error_set(err, FED_ENOMEM, "out of memory");
out:
	fed_buf_release(&b);
	return fed_kubeconfig_oneline(err, ret);
}
