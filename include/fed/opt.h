/* Command-line options declared once in a table that drives parsing and
 * --help (git's parse-options, libgit2's cli_opt_spec). */
#ifndef FED_OPT_H
#define FED_OPT_H

#include <stdbool.h>
#include <stdio.h>

#include "fed/error.h"

enum fed_opt_type {
	FED_OPT_END = 0,
	FED_OPT_BOOL,   /* bool *; --name, --name=true|false */
	FED_OPT_STRING, /* const char **; --name VALUE, --name=VALUE */
	FED_OPT_INT,    /* int *; decimal */
	FED_OPT_DOUBLE, /* double * */
	FED_OPT_LIST,   /* struct fed_opt_list *; repeatable */
};

struct fed_opt_list {
	const char *items[32];
	int n;
};

struct fed_opt {
	enum fed_opt_type type;
	const char *name; /* long name without "--" */
	char short_name;  /* 0 for none */
	void *value;
	const char *value_name; /* shown in help: --name VALUE */
	const char *help;
	/* The default, declared here once: fed_opt_parse sets value from it
	 * (as if given) before reading argv, and --help shows it. NULL: the
	 * variable keeps what it holds (a LIST never has one). */
	const char *def;
};

/* an initializer, which clang-format 14 would lay out as a block */
/* clang-format off */
#define FED_OPT_TABLE_END {FED_OPT_END, NULL, 0, NULL, NULL, NULL, NULL}
/* clang-format on */

/* Parse argv[0..argc) against one or more NULL-terminated lists of tables.
 * Each option's def is applied first (an invalid def is FED_EINVAL).
 * Positional arguments are collected into args (*nargs, at most max_args).
 * "--" ends option parsing. Stops with FED_EINVAL naming the option and
 * what is wrong. "-h"/"--help" sets *help. */
int fed_opt_parse(const struct fed_opt *const *tables, int argc, char **argv, char **args,
                  int max_args, int *nargs, bool *help, struct fed_error *err);

/* Print the options of the tables, aligned, each with its default. */
void fed_opt_print_help(FILE *f, const struct fed_opt *const *tables);

/* The same as a Markdown table (option, value, default, meaning), for
 * generated documentation. */
void fed_opt_print_markdown(FILE *f, const struct fed_opt *const *tables);

#endif
