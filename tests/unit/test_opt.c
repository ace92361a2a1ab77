/* fed_opt: parsing, defaults declared in the table (applied before argv,
 * overridden by it, shown by --help), and the messages for bad input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fed/opt.h"

struct vals {
	const char *mode;
	int count;
	double period;
	bool follow;
	struct fed_opt_list items;
};

static int parse(struct vals *v, int argc, char **argv, struct fed_error *err)
{
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "mode", 'm', &v->mode, "MODE", "how", "direct"},
	    {FED_OPT_INT, "count", 0, &v->count, "N", "how many", "3"},
	    {FED_OPT_DOUBLE, "period", 0, &v->period, "S", "how often", "2.5"},
	    {FED_OPT_BOOL, "follow", 0, &v->follow, NULL, "keep going", "true"},
	    {FED_OPT_LIST, "item", 0, &v->items, "X", "repeatable", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {opts, NULL};
	char *args[4];
	int nargs;
	bool help;

	memset(v, 0, sizeof(*v));
	return fed_opt_parse(tables, argc, argv, args, 4, &nargs, &help, err);
}

static void defaults_apply_and_yield(void)
{
	struct vals v;
	struct fed_error err = FED_ERROR_INIT;
	char *none[] = {NULL};
	char *given[] = {"--mode",         "agent",  "--count=7", "--period", "0.5",
	                 "--follow=false", "--item", "a",         NULL};

	CHECK_INT(parse(&v, 0, none, &err), 0);
	CHECK_STR(v.mode, "direct");
	CHECK_INT(v.count, 3);
	CHECK(v.period == 2.5);
	CHECK(v.follow);
	CHECK_INT(v.items.n, 0);
	CHECK_INT(parse(&v, 8, given, &err), 0);
	CHECK_STR(v.mode, "agent");
	CHECK_INT(v.count, 7);
	CHECK(v.period == 0.5);
	CHECK(!v.follow);
	CHECK_INT(v.items.n, 1);
}

static void bad_values_name_the_option(void)
{
	struct vals v;
	struct fed_error err = FED_ERROR_INIT;
	char *bad[] = {"--count", "many", NULL};
	char *unknown[] = {"--nope", NULL};

	CHECK_INT(parse(&v, 2, bad, &err), FED_EINVAL);
	CHECK(strstr(err.msg, "--count") != NULL);
	fed_error_clear(&err);
	CHECK_INT(parse(&v, 1, unknown, &err), FED_EINVAL);
	CHECK(strstr(err.msg, "--nope") != NULL);
}

static void help_shows_defaults(void)
{
	int x = 0;
	const struct fed_opt opts[] = {
	    {FED_OPT_INT, "count", 0, &x, "N", "how many", "3"},
	    {FED_OPT_INT, "other", 0, &x, "N", "no default", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {opts, NULL};
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	fed_opt_print_help(f, tables);
	fclose(f);
	CHECK(strstr(buf, "how many (default: 3)") != NULL);
	CHECK(strstr(buf, "no default\n") != NULL);
}

/* The table docs/fedctl.md is generated from: one row an option, its
 * value, its default, and a "|" in any cell escaped. */
static void markdown_table(void)
{
	int x = 0;
	bool b = false;
	struct fed_opt_list l = {.n = 0};
	const struct fed_opt opts[] = {
	    {FED_OPT_STRING, "output", 'o', &x, "table|json", "table or json", "table"},
	    {FED_OPT_BOOL, "dry-run", 0, &b, NULL, "a|b", NULL},
	    {FED_OPT_LIST, "item", 0, &l, "X", "repeat", NULL},
	    FED_OPT_TABLE_END,
	};
	const struct fed_opt *const tables[] = {opts, NULL};
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	fed_opt_print_markdown(f, tables);
	fclose(f);
	CHECK_STR(buf, "| option | value | default | meaning |\n"
	               "| --- | --- | --- | --- |\n"
	               "| `-o`, `--output` | `table\\|json` | `table` | table or json |\n"
	               "| `--dry-run` |  |  | a\\|b |\n"
	               "| `--item` | `X` (repeatable) |  | repeat |\n");
}

int main(void)
{
	RUN(defaults_apply_and_yield);
	RUN(bad_values_name_the_option);
	RUN(help_shows_defaults);
	RUN(markdown_table);
	return CHECK_EXIT();
}
