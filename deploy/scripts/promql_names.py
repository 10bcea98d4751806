"""Small PromQL and Prometheus-text-format helpers (standard library only).

extract(expr) returns the metric names, the label matchers per metric and the grouping labels
(by / without / on / ignoring / group_left / group_right) used by a PromQL expression. It is a
tokenizer, not a full parser, but it knows every PromQL keyword, function and aggregation, so each
remaining bare identifier is a metric name.

parse_exposition(text) reads a Prometheus text exposition into {metric name: set of label names}
and {metric name: {label: set of values}}.
"""
import re

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_sum", "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln", "log2", "log10",
    "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc",
    "sqrt", "time", "timestamp", "vector", "year", "avg_over_time", "min_over_time", "max_over_time",
    "sum_over_time", "count_over_time", "quantile_over_time", "stddev_over_time", "stdvar_over_time",
    "last_over_time", "present_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh",
    "sin", "sinh", "tan", "tanh", "deg", "rad", "pi", "sort_by_label", "sort_by_label_desc",
    # Grafana helpers allowed in variable queries
    "label_values", "label_names", "metrics", "query_result",
}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
OPERATOR_WORDS = {"and", "or", "unless", "bool", "offset", "atan2"}
NUMBER_WORDS = {"inf", "nan"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<dur>\[[^\]]*\])
  | (?P<num>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:ms|s|m|h|d|w|y)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>(){},@])
""", re.X)

# Grafana's global variables and this dashboard's template variables, replaced before parsing.
GRAFANA_VARS = {
    "$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${__rate_interval}": "5m",
    "${__range}": "1h", "$__range_s": "3600",
}


def substitute(expr, variables=None):
    """Replaces Grafana variables: the built-in intervals by durations, the others from `variables`."""
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    for k, v in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace("${%s}" % k, v).replace("$" + k, v)
    if "$" in expr:
        raise ValueError(f"unknown Grafana variable in {expr!r}")
    return expr


def tokenize(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot tokenize {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(kind)))
    return out


def unquote(s):
    if s[0] == "`":
        return s[1:-1]
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def extract(expr):
    """-> (metrics: {name: [(label, op, value)]}, grouping_labels: set, matcher_labels_without_metric: list)."""
    toks = tokenize(expr)
    metrics = {}
    grouping = set()
    loose = []  # matchers of a bare {...} selector (no metric name)
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and val in GROUPING and nxt == ("op", "("):
            j = i + 2
            while toks[j] != ("op", ")"):
                if toks[j][0] == "ident":
                    grouping.add(toks[j][1])
                j += 1
            i = j + 1
            continue
        if kind == "ident" and (val in FUNCTIONS or val in AGGREGATIONS) and nxt == ("op", "("):
            i += 1
            continue
        if kind == "ident" and val in AGGREGATIONS and nxt in (("ident", "by"), ("ident", "without")):
            i += 1
            continue
        if kind == "ident" and (val in OPERATOR_WORDS or val in GROUPING or val.lower() in NUMBER_WORDS):
            i += 1
            continue
        if kind == "ident" or (kind == "op" and val == "{"):
            name = val if kind == "ident" else None
            j = i + 1 if kind == "ident" else i
            matchers = []
            if j < len(toks) and toks[j] == ("op", "{"):
                j += 1
                while toks[j] != ("op", "}"):
                    if toks[j] == ("op", ","):
                        j += 1
                        continue
                    lab, op, value = toks[j][1], toks[j + 1][1], unquote(toks[j + 2][1])
                    matchers.append((lab, op, value))
                    j += 3
                j += 1
            if name is None:
                for lab, op, value in matchers:
                    if lab == "__name__" and op == "=":
                        name = value
                if name is None:
                    loose.extend(matchers)
            if name is not None:
                metrics.setdefault(name, []).extend(m for m in matchers if m[0] != "__name__")
            i = j
            continue
        i += 1
    return metrics, grouping, loose


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """-> (labels: {metric: set(label names)}, values: {metric: {label: set(values)}}, types: {family: type})."""
    labels, values, types = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(None, 3)
            types[fam] = typ.strip()
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"bad exposition line: {line!r}")
        name = m.group(1)
        labels.setdefault(name, set())
        values.setdefault(name, {})
        for lab, v in _LABEL.findall(m.group(3) or ""):
            labels[name].add(lab)
            values[name].setdefault(lab, set()).add(re.sub(r"\\(.)", r"\1", v))
    return labels, values, types
