#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fed/opt.h"

static const struct fed_opt *find(const struct fed_opt *const *tables, const char *name, size_t len,
                                  char short_name)
{
	const struct fed_opt *const *t;
	const struct fed_opt *o;

	for (t = tables; *t; t++)
		for (o = *t; o->type != FED_OPT_END; o++) {
			if (short_name && o->short_name == short_name)
				return o;
			if (!short_name && strlen(o->name) == len && !strncmp(o->name, name, len))
				return o;
		}
	return NULL;
}

static int set_value(const struct fed_opt *o, const char *val, struct fed_error *err)
{
	char *end;

	switch (o->type) {
	case FED_OPT_BOOL:
		if (!val || !strcmp(val, "true"))
			*(bool *)o->value = true;
		else if (!strcmp(val, "false"))
			*(bool *)o->value = false;
		else
			return fed_error_set(err, FED_EINVAL,
			                     "--%s takes true or false, not \"%s\"", o->name, val);
		return 0;
	case FED_OPT_STRING:
		*(const char **)o->value = val;
		return 0;
	case FED_OPT_INT: {
		long v;
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < -2147483647L || v > 2147483647L)
			return fed_error_set(err, FED_EINVAL,
			                     "--%s takes a whole number, not \"%s\"", o->name, val);
		*(int *)o->value = (int)v;
		return 0;
	}
	case FED_OPT_DOUBLE: {
		double v;
		errno = 0;
		v = strtod(val, &end);
		if (errno || *end || end == val)
			return fed_error_set(err, FED_EINVAL, "--%s takes a number, not \"%s\"",
			                     o->name, val);
		*(double *)o->value = v;
		return 0;
	}
	case FED_OPT_LIST: {
		struct fed_opt_list *l = o->value;
		if (l->n >= (int)(sizeof(l->items) / sizeof(l->items[0])))
			return fed_error_set(err, FED_EINVAL, "--%s given too many times", o->name);
		l->items[l->n++] = val;
		return 0;
	}
	default:
		return fed_error_set(err, FED_EINVAL, "--%s: bad option table", o->name);
	}
}

static int apply_defaults(const struct fed_opt *const *tables, struct fed_error *err)
{
	const struct fed_opt *const *t;
	const struct fed_opt *o;

	for (t = tables; *t; t++)
		for (o = *t; o->type != FED_OPT_END; o++)
			if (o->def && o->type != FED_OPT_LIST && set_value(o, o->def, err))
				return err ? err->code : FED_EINVAL;
	return 0;
}

int fed_opt_parse(const struct fed_opt *const *tables, int argc, char **argv, char **args,
                  int max_args, int *nargs, bool *help, struct fed_error *err)
{
	bool only_args = false;
	int i;

	*nargs = 0;
	*help = false;
	if (apply_defaults(tables, err))
		return err ? err->code : FED_EINVAL;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct fed_opt *o;
		const char *val = NULL;
		char label[64];

		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (*nargs >= max_args)
				return fed_error_set(err, FED_EINVAL, "unexpected argument \"%s\"",
				                     a);
			args[(*nargs)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*help = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			o = find(tables, a + 2, len, 0);
			if (eq)
				val = eq + 1;
			snprintf(label, sizeof(label), "--%.*s", (int)len, a + 2);
		} else {
			o = a[2] == '\0' ? find(tables, NULL, 0, a[1]) : NULL;
			if (!o && a[2] != '\0')
				o = find(tables, NULL, 0, a[1]), val = a + 2; /* -v2 */
			snprintf(label, sizeof(label), "-%c", a[1]);
		}
		if (!o)
			return fed_error_set(err, FED_EINVAL, "unknown option %s (see --help)",
			                     label);
		if (o->type != FED_OPT_BOOL && !val) {
			if (i + 1 >= argc)
				return fed_error_set(err, FED_EINVAL, "%s needs a value (%s)",
				                     label,
				                     o->value_name ? o->value_name : "VALUE");
			val = argv[++i];
		}
		if (set_value(o, val, err))
			return err ? err->code : FED_EINVAL;
	}
	return 0;
}

void fed_opt_print_help(FILE *f, const struct fed_opt *const *tables)
{
	const struct fed_opt *const *t;
	const struct fed_opt *o;

	for (t = tables; *t; t++)
		for (o = *t; o->type != FED_OPT_END; o++) {
			char left[96];
			if (o->short_name)
				snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name,
				         o->name, o->value_name ? " " : "",
				         o->value_name ? o->value_name : "");
			else
				snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				         o->value_name ? " " : "",
				         o->value_name ? o->value_name : "");
			if (o->def && *o->def)
				fprintf(f, "  %-36s %s (default: %s)\n", left, o->help, o->def);
			else
				fprintf(f, "  %-36s %s\n", left, o->help);
		}
}

/* A table cell: "|" would end it. */
static void md_cell(FILE *f, const char *s)
{
	for (; s && *s; s++)
		if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s, f);
}

static const char *md_value(const struct fed_opt *o)
{
	switch (o->type) {
	case FED_OPT_BOOL:
		return "";
	default:
		return o->value_name ? o->value_name : "VALUE";
	}
}

void fed_opt_print_markdown(FILE *f, const struct fed_opt *const *tables)
{
	const struct fed_opt *const *t;
	const struct fed_opt *o;

	fprintf(f, "| option | value | default | meaning |\n| --- | --- | --- | --- |\n");
	for (t = tables; *t; t++)
		for (o = *t; o->type != FED_OPT_END; o++) {
			fprintf(f, "| ");
			if (o->short_name)
				fprintf(f, "`-%c`, ", o->short_name);
			fprintf(f, "`--%s` | ", o->name);
			if (*md_value(o)) {
				fputc('`', f);
				md_cell(f, md_value(o));
				fputc('`', f);
			}
			if (o->type == FED_OPT_LIST)
				fprintf(f, " (repeatable)");
			fprintf(f, " | ");
			if (o->def && *o->def) {
				fputc('`', f);
				md_cell(f, o->def);
				fputc('`', f);
			}
			fprintf(f, " | ");
			md_cell(f, o->help);
			fprintf(f, " |\n");
		}
}
