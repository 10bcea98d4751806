//! Validation: every problem of a configuration, each naming its key and where the key was set
//! (`routes[0].downstream.url: … (line 12)`, `… (from environment variable HOOKSHIFT__…)`).
//!
//! [`Config::validate`] checks what the types cannot say (ranges, uniqueness, secrets resolved and of
//! their provider's form, keys that only make sense together); `KeyOrigins` remembers the line or
//! variable of every key so that each problem says where to look.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use super::types::{
    pattern_problem, Config, LedgerBackend, LedgerConfig, ReadinessConfig, RouteConfig,
    ServerConfig, TranslationFailure, MAX_READINESS_WINDOW_HOURS, MAX_WORKERS,
};

/// One configuration problem, naming the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or an override could not be applied.
    #[error("{origin}: {message}")]
    Read { origin: String, message: String },
    /// A key holds a value that is not allowed.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl Config {
    /// Every problem that does not depend on the mapping files, each naming where its key was set.
    pub fn validate(&self) -> Vec<ConfigError> {
        self.unlocated_problems()
            .into_iter()
            .map(|problem| self.origins.locate(problem))
            .collect()
    }

    pub(super) fn unlocated_problems(&self) -> Vec<ConfigError> {
        let mut problems = self.server.problems();
        if self.mappings.dir.as_os_str().is_empty() {
            problems.push(ConfigError::invalid("mappings.dir", "must not be empty"));
        }
        if self
            .schemas
            .dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            problems.push(ConfigError::invalid("schemas.dir", "must not be empty"));
        }
        problems.extend(self.ledger.problems());
        if self.routes.is_empty() {
            problems.push(ConfigError::invalid(
                "routes",
                "at least one route is required",
            ));
        }
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let key = |k: &str| format!("routes[{i}].{k}");
            problems.extend(route_identity_problems(route, &key, &mut names, &mut paths));
            problems.extend(route_secret_problems(route, &key));
            problems.extend(self.route_value_problems(i, route, &key));
        }
        problems
    }

    /// The problems of a route's other keys: handler, limits, signed URLs, failures, readiness and
    /// policy.
    fn route_value_problems(
        &self,
        i: usize,
        route: &RouteConfig,
        key: &dyn Fn(&str) -> String,
    ) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if route.downstream.ca_file.is_some() && route.downstream.url.scheme_str() != Some("https")
        {
            problems.push(ConfigError::invalid(
                key("downstream.ca_file"),
                "only applies to an https:// downstream.url",
            ));
        }
        if route.timestamp_tolerance_secs == 0 {
            problems.push(ConfigError::invalid(
                key("timestamp_tolerance_secs"),
                "must be greater than 0",
            ));
        }
        if route.version_param.is_empty() {
            problems.push(ConfigError::invalid(
                key("version_param"),
                "must not be empty",
            ));
        }
        if route.downstream.version.is_empty() {
            problems.push(ConfigError::invalid(
                key("downstream.version"),
                "must not be empty",
            ));
        }
        if route.downstream.timeout_ms == 0 {
            problems.push(ConfigError::invalid(
                key("downstream.timeout_ms"),
                "must be greater than 0",
            ));
        }
        if route.signed_url.timeout_ms == 0 {
            problems.push(ConfigError::invalid(
                key("signed_url.timeout_ms"),
                "must be greater than 0",
            ));
        }
        for (j, pattern) in route.signed_url.allow_hosts.iter().enumerate() {
            if let Some(problem) = pattern_problem(pattern) {
                problems.push(ConfigError::invalid(
                    key(&format!("signed_url.allow_hosts[{j}]")),
                    problem,
                ));
            }
        }
        if route.on_translation_failure == TranslationFailure::Quarantine
            && self.ledger.backend == LedgerBackend::Off
        {
            problems.push(ConfigError::invalid(
                key("on_translation_failure"),
                "\"quarantine\" keeps events in the ledger: [ledger] backend must not be \"off\"",
            ));
        }
        problems.extend(route.readiness.problems(&key("readiness")));
        if route.policy.is_empty() {
            problems.push(ConfigError::invalid(
                key("policy"),
                "at least one version needs a policy",
            ));
        }
        if !route.policy.contains_key(&route.default_version) {
            problems.push(ConfigError::invalid(
                key("default_version"),
                format!(
                    "{:?} has no entry in routes[{i}].policy",
                    route.default_version
                ),
            ));
        }
        problems
    }
}

/// The problems of a route's `name` and `path`: their form, and that no other route has them.
fn route_identity_problems<'a>(
    route: &'a RouteConfig,
    key: &dyn Fn(&str) -> String,
    names: &mut HashSet<&'a str>,
    paths: &mut HashSet<&'a str>,
) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if route.name.is_empty()
        || !route
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        problems.push(ConfigError::invalid(
            key("name"),
            format!("{:?} must match [a-z0-9_-]+", route.name),
        ));
    }
    if !names.insert(route.name.as_str()) {
        problems.push(ConfigError::invalid(
            key("name"),
            format!("{:?} is used by another route", route.name),
        ));
    }
    if !route.path.starts_with('/') || route.path.contains(['?', '#']) {
        problems.push(ConfigError::invalid(
            key("path"),
            format!("{:?} must start with / and hold no query", route.path),
        ));
    }
    if !paths.insert(route.path.as_str()) {
        problems.push(ConfigError::invalid(
            key("path"),
            format!("{:?} is used by another route", route.path),
        ));
    }
    problems
}

/// The problems of a route's secrets: present, resolved, and of the form its provider takes.
fn route_secret_problems(route: &RouteConfig, key: &dyn Fn(&str) -> String) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if route.inbound_secrets.is_empty() {
        problems.push(ConfigError::invalid(
            key("inbound_secrets"),
            match route.skipped_secrets.as_slice() {
                [] => "at least one secret is required".to_owned(),
                skipped => format!(
                    "at least one secret is required (optional ones not set: {})",
                    skipped.join(", ")
                ),
            },
        ));
    }
    for (j, secret) in route.inbound_secrets.iter().enumerate() {
        if let Some(problem) = secret.problem() {
            problems.push(ConfigError::invalid(
                key(&format!("inbound_secrets[{j}]")),
                problem,
            ));
        } else if let Some(problem) = route.provider.secret_problem(secret) {
            problems.push(ConfigError::invalid(
                key(&format!("inbound_secrets[{j}]")),
                problem,
            ));
        }
    }
    if route.downstream.secret.is_optional() {
        problems.push(ConfigError::invalid(
            key("downstream.secret"),
            "env?: (a secret that may be absent) is allowed only in inbound_secrets: \
             deliveries must be signed",
        ));
    } else if let Some(problem) = route.downstream.secret.problem() {
        problems.push(ConfigError::invalid(key("downstream.secret"), problem));
    } else if let Some(problem) = route.provider.secret_problem(&route.downstream.secret) {
        problems.push(ConfigError::invalid(key("downstream.secret"), problem));
    }
    problems
}

impl ServerConfig {
    /// The problems of `[server]`, each naming its key.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let s = self;
        for (key, value) in [
            ("server.max_body_bytes", s.max_body_bytes),
            ("server.header_read_timeout_ms", s.header_read_timeout_ms),
            ("server.body_read_timeout_ms", s.body_read_timeout_ms),
            ("server.idle_timeout_ms", s.idle_timeout_ms),
            ("server.max_connections", s.max_connections as u64),
        ] {
            if value == 0 {
                problems.push(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if s.workers > MAX_WORKERS {
            problems.push(ConfigError::invalid(
                "server.workers",
                format!("must be at most {MAX_WORKERS} (0: one per CPU)"),
            ));
        }
        if s.max_buffered_bytes / 2 < s.max_body_bytes {
            // Large bodies may fill only 7/8 of the budget (see `budget`): a body of the largest
            // accepted size must still fit beside another.
            problems.push(ConfigError::invalid(
                "server.max_buffered_bytes",
                "must be at least twice server.max_body_bytes",
            ));
        }
        if s.listen == s.admin_listen && s.listen.port() != 0 {
            problems.push(ConfigError::invalid(
                "server.admin_listen",
                "must differ from server.listen",
            ));
        }
        problems
    }
}

impl LedgerConfig {
    /// The problems of `[ledger]`, each naming its key.
    fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.backend == LedgerBackend::Off {
            return problems;
        }
        if self.retention_hours == 0 {
            problems.push(ConfigError::invalid(
                "ledger.retention_hours",
                "must be greater than 0",
            ));
        }
        if self.max_entries == 0 {
            problems.push(ConfigError::invalid(
                "ledger.max_entries",
                "must be greater than 0",
            ));
        }
        if self.pair_window_ms == 0 {
            problems.push(ConfigError::invalid(
                "ledger.pair_window_ms",
                "must be greater than 0",
            ));
        }
        match self.backend {
            LedgerBackend::File if self.path.as_os_str().is_empty() => {
                problems.push(ConfigError::invalid("ledger.path", "must not be empty"));
            }
            LedgerBackend::Redis => {
                if let Some(problem) = self.url.problem() {
                    problems.push(ConfigError::invalid("ledger.url", problem));
                } else if !self.url.expose().starts_with(b"redis://")
                    && !self.url.expose().starts_with(b"rediss://")
                {
                    // The URL may hold a password: say what is wrong without quoting it.
                    problems.push(ConfigError::invalid(
                        "ledger.url",
                        "must start with redis:// or rediss:// (the value is not shown: it may hold a password)",
                    ));
                }
            }
            _ => {}
        }
        problems
    }
}
impl ReadinessConfig {
    /// The problems of one route's `[routes.readiness]`, keys under `prefix` (`routes[0].readiness`).
    fn problems(&self, prefix: &str) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        for (key, ratio) in [
            ("min_match_ratio", self.min_match_ratio),
            ("max_handler_error_ratio", self.max_handler_error_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                problems.push(ConfigError::invalid(
                    format!("{prefix}.{key}"),
                    format!("{ratio} must be between 0 and 1 (0.999 is 99.9 %)"),
                ));
            }
        }
        if self.window_hours == 0 || self.window_hours > MAX_READINESS_WINDOW_HOURS {
            problems.push(ConfigError::invalid(
                format!("{prefix}.window_hours"),
                format!("must be between 1 and {MAX_READINESS_WINDOW_HOURS}"),
            ));
        }
        problems
    }
}
/// Where each key of a configuration was set: a line of the TOML file, or an environment variable.
#[derive(Clone, Default)]
pub(super) struct KeyOrigins {
    /// Key (`routes[0].downstream.url`) → 1-based line of the file.
    lines: BTreeMap<String, usize>,
    /// Key → the `HOOKSHIFT__…` variable that overrode it (and everything below it).
    env: BTreeMap<String, String>,
}

impl fmt::Debug for KeyOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyOrigins({} lines, {} overrides)",
            self.lines.len(),
            self.env.len()
        )
    }
}

impl KeyOrigins {
    /// The line of every key, table header and list item of `text` (none when it is not TOML: then
    /// the parser reports the line itself).
    pub(super) fn from_toml(text: &str) -> KeyOrigins {
        let mut origins = KeyOrigins::default();
        if let Ok(document) = toml_edit::ImDocument::parse(text) {
            let starts = line_starts(text);
            let line = |span: Option<std::ops::Range<usize>>| {
                span.map(|span| starts.partition_point(|&start| start <= span.start))
            };
            origins.walk_table(document.as_table(), "", &line);
        }
        origins
    }

    fn record(&mut self, key: String, line: Option<usize>) {
        if let Some(line) = line {
            self.lines.entry(key).or_insert(line);
        }
    }

    fn walk_table(
        &mut self,
        table: &toml_edit::Table,
        prefix: &str,
        line: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<usize>,
    ) {
        for (name, item) in table.iter() {
            let key = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            };
            let key_line = table.key(name).and_then(|k| line(k.span()));
            self.record(key.clone(), key_line.or_else(|| line(item.span())));
            self.walk_item(item, &key, line);
        }
    }

    fn walk_item(
        &mut self,
        item: &toml_edit::Item,
        key: &str,
        line: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<usize>,
    ) {
        match item {
            toml_edit::Item::Table(table) => {
                self.record(key.to_owned(), line(table.span()));
                self.walk_table(table, key, line);
            }
            toml_edit::Item::ArrayOfTables(tables) => {
                for (i, table) in tables.iter().enumerate() {
                    let at = format!("{key}[{i}]");
                    self.record(at.clone(), line(table.span()));
                    self.walk_table(table, &at, line);
                }
            }
            toml_edit::Item::Value(value) => self.walk_value(value, key, line),
            toml_edit::Item::None => {}
        }
    }

    fn walk_value(
        &mut self,
        value: &toml_edit::Value,
        key: &str,
        line: &dyn Fn(Option<std::ops::Range<usize>>) -> Option<usize>,
    ) {
        match value {
            toml_edit::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{key}[{i}]");
                    self.record(at.clone(), line(item.span()));
                    self.walk_value(item, &at, line);
                }
            }
            toml_edit::Value::InlineTable(table) => {
                for (name, item) in table.iter() {
                    let at = format!("{key}.{name}");
                    self.record(at.clone(), line(item.span()));
                    self.walk_value(item, &at, line);
                }
            }
            _ => {}
        }
    }

    pub(super) fn set_by_env(&mut self, key: String, variable: String) {
        self.env.insert(key, variable);
    }

    /// Where `key` was set: the override of it or of a key above it, else the file line of it or of
    /// the nearest key above it that the file has.
    fn origin(&self, key: &str) -> Option<String> {
        let above = key_prefixes(key);
        if let Some(variable) = above.iter().find_map(|k| self.env.get(*k)) {
            return Some(format!("from environment variable {variable}"));
        }
        above
            .iter()
            .find_map(|k| self.lines.get(*k))
            .map(|line| format!("line {line}"))
    }

    /// `problem` with where its key was set appended to its message.
    pub(super) fn locate(&self, problem: ConfigError) -> ConfigError {
        match &problem {
            ConfigError::Invalid { key, .. } => {
                let key = key.clone();
                self.locate_at(problem, &key)
            }
            ConfigError::Read { .. } => problem,
        }
    }

    /// `problem` with where `at` was set appended to its message.
    pub(super) fn locate_at(&self, problem: ConfigError, at: &str) -> ConfigError {
        match problem {
            ConfigError::Invalid { key, message } => match self.origin(at) {
                Some(origin) => ConfigError::Invalid {
                    message: format!("{message} ({origin})"),
                    key,
                },
                None => ConfigError::Invalid { key, message },
            },
            read => read,
        }
    }
}

/// `routes[0].downstream.url`, `routes[0].downstream`, `routes[0]`, `routes`: longest first.
fn key_prefixes(key: &str) -> Vec<&str> {
    let mut prefixes = vec![key];
    for (i, c) in key.char_indices().rev() {
        if c == '.' || c == '[' {
            prefixes.push(&key[..i]);
        }
    }
    prefixes
}

/// Byte offsets where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}
