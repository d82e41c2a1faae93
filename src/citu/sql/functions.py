"""The PostgreSQL built-in functions the SQL guard lets a query call, by their real names.

Only functions without side effects that neither read the server's files, settings or
catalogs, nor open connections, take locks, sleep or run SQL text of their own. Anything not
listed is refused by name; a deployment adds names with ``CITU_SQL_EXTRA_FUNCTIONS``.
"""

from __future__ import annotations

AGGREGATE = {
    "avg", "count", "sum", "min", "max", "bool_and", "bool_or", "every",
    "bit_and", "bit_or", "bit_xor", "array_agg", "string_agg",
    "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
    "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
    "corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count",
    "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy",
    "percentile_cont", "percentile_disc", "mode", "grouping",
}  # fmt: skip

WINDOW = {
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
    "lag", "lead", "first_value", "last_value", "nth_value",
}  # fmt: skip

MATH = {
    "abs", "cbrt", "ceil", "ceiling", "degrees", "div", "exp", "floor", "gcd", "lcm",
    "ln", "log", "log10", "mod", "pi", "power", "radians", "round", "scale", "sign",
    "sqrt", "trunc", "width_bucket", "random", "min_scale", "trim_scale",
    "acos", "asin", "atan", "atan2", "cos", "cot", "sin", "tan", "sinh", "cosh", "tanh",
}  # fmt: skip

STRING = {
    "ascii", "bit_length", "btrim", "char_length", "character_length", "chr", "concat",
    "concat_ws", "format", "initcap", "left", "length", "lower", "lpad", "ltrim", "md5",
    "octet_length", "quote_ident", "quote_literal", "quote_nullable", "regexp_count",
    "regexp_instr", "regexp_like", "regexp_match", "regexp_matches", "regexp_replace",
    "regexp_split_to_array", "regexp_split_to_table", "regexp_substr", "repeat", "replace",
    "reverse", "right", "rpad", "rtrim", "split_part", "starts_with", "strpos", "substr",
    "to_hex", "translate", "upper", "encode", "decode", "sha224", "sha256", "sha384",
    "sha512", "string_to_array", "string_to_table", "array_to_string",
}  # fmt: skip

DATE_TIME = {
    "age", "clock_timestamp", "date_bin", "date_part", "date_trunc", "isfinite",
    "justify_days", "justify_hours", "justify_interval", "make_date", "make_interval",
    "make_time", "make_timestamp", "make_timestamptz", "now", "statement_timestamp",
    "transaction_timestamp", "timezone", "to_char", "to_date", "to_number", "to_timestamp",
}  # fmt: skip

JSON = {
    "to_json", "to_jsonb", "array_to_json", "row_to_json", "json_build_array",
    "jsonb_build_array", "json_build_object", "jsonb_build_object", "json_object",
    "jsonb_object", "json_array_elements", "jsonb_array_elements",
    "json_array_elements_text", "jsonb_array_elements_text", "json_array_length",
    "jsonb_array_length", "json_each", "jsonb_each", "json_each_text", "jsonb_each_text",
    "json_extract_path", "jsonb_extract_path", "json_extract_path_text",
    "jsonb_extract_path_text", "json_object_keys", "jsonb_object_keys", "json_typeof",
    "jsonb_typeof", "json_strip_nulls", "jsonb_strip_nulls", "jsonb_pretty", "jsonb_set",
    "jsonb_insert", "jsonb_path_exists", "jsonb_path_match", "jsonb_path_query",
    "jsonb_path_query_array", "jsonb_path_query_first",
}  # fmt: skip

ARRAY = {
    "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower",
    "array_ndims", "array_position", "array_positions", "array_prepend", "array_remove",
    "array_replace", "array_upper", "cardinality", "unnest", "generate_series",
    "generate_subscripts",
}  # fmt: skip

# ``row`` and ``array`` are the ROW(...) and ARRAY(subquery) constructors.
CONDITIONAL = {
    "coalesce", "nullif", "greatest", "least", "num_nonnulls", "num_nulls", "row", "array",
}  # fmt: skip

ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    AGGREGATE | WINDOW | MATH | STRING | DATE_TIME | JSON | ARRAY | CONDITIONAL
)

# Allowed names that are grammar, not functions in pg_catalog (no pg_proc row): they cannot be
# schema-qualified and no user function can stand in for them. Every other allowed call is
# regenerated as ``pg_catalog.<name>(...)``, so an overload planted in another schema of the
# search_path (an exact argument-type match wins over a built-in) is never called.
GRAMMAR_CONSTRUCTS: frozenset[str] = frozenset(
    {"array", "coalesce", "greatest", "grouping", "least", "nullif", "row"}
)

# Functions whose result size is set by an argument, not by their input: one call can make a
# database backend allocate hundreds of megabytes whatever work_mem says, and the allocation
# cannot be interrupted by statement_timeout. Name -> index of the size argument (array_fill:
# the dimensions array; format: the width in its format string, checked on its own).
SIZE_ARGUMENT: dict[str, int] = {"repeat": 1, "lpad": 1, "rpad": 1, "array_fill": 1}

# Aggregates that concatenate their input: a size-amplifying call inside one multiplies its
# size by the number of rows.
CONCATENATING_AGGREGATES: frozenset[str] = frozenset(
    {"string_agg", "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg"}
)
