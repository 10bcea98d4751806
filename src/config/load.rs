//! Loading: the TOML file, the `HOOKSHIFT__SECTION__KEY` environment overrides laid over it, and
//! deserialization that collects every type-level problem (unknown keys, bad values, missing keys)
//! with its line instead of stopping at the first.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::types::{Config, ENV_PREFIX, ENV_SEPARATOR};
use super::validate::{ConfigError, ConfigErrors, KeyOrigins};
use crate::secret::Secret;

/// A digest of a file's bytes: what [`Config::source_digest`] holds of the configuration's text, and
/// what the reload watcher's fingerprint holds of each file.
pub fn content_digest(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

impl Config {
    /// Reads, overrides from the process environment, and validates the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let config = Config::parse(path, std::env::vars())?;
        let problems = config.validate();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// Reads the file at `path` with the overrides found in `env`.
    ///
    /// Type-level problems (unknown keys, bad values, missing keys) are all collected, each with its
    /// key and where it was set; when there are any, the [`Config::validate`] problems of the keys
    /// that were right are reported with them, so one pass names every mistake.
    pub fn parse(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError::Read {
                origin: path.display().to_string(),
                message: e.to_string(),
            }])
        })?;
        let mut config = Config::parse_str(&text, env)?;
        config.source = Some(path.to_path_buf());
        config.source_digest = Some(content_digest(text.as_bytes()));
        Ok(config)
    }

    /// Reads TOML text with the overrides found in `env`, collecting problems like [`Config::parse`].
    pub fn parse_str(
        toml: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let mut origins = KeyOrigins::from_toml(toml);
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml));
        let mut overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        overrides.sort();
        for (name, value) in overrides {
            let read_error = |message: String| {
                ConfigErrors(vec![ConfigError::Read {
                    origin: format!("environment variable {name}"),
                    message,
                }])
            };
            let key = env_key_to_path(&name).map_err(read_error)?;
            let value = env_value(&value).map_err(read_error)?;
            builder = builder
                .set_override(key.as_str(), value)
                .map_err(|e| read_error(e.to_string()))?;
            origins.set_by_env(key, name);
        }
        let raw = builder.build().map_err(|e| {
            ConfigErrors(vec![ConfigError::Read {
                origin: "config".to_owned(),
                message: without_source_excerpt(&e.to_string()),
            }])
        })?;
        let mut config = deserialize_collecting(raw.cache, &origins)?;
        for route in &mut config.routes {
            let (absent, present): (Vec<Secret>, Vec<Secret>) =
                std::mem::take(&mut route.inbound_secrets)
                    .into_iter()
                    .partition(Secret::is_absent_optional);
            route.inbound_secrets = present;
            route.skipped_secrets = absent
                .iter()
                .filter_map(|s| s.env_var().map(str::to_owned))
                .collect();
        }
        config.origins = origins;
        Ok(config)
    }
}

/// A TOML parse error without the excerpt of the file it quotes (`7 | secret = "wss_…`): the quoted
/// line may hold a secret. Keeps the position and the reason.
pub(super) fn without_source_excerpt(message: &str) -> String {
    let excerpt = |line: &str| {
        line.split_once('|').is_some_and(|(gutter, _)| {
            gutter.trim().is_empty() || gutter.trim().bytes().all(|b| b.is_ascii_digit())
        })
    };
    message
        .lines()
        .filter(|line| !excerpt(line))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

/// Most type-level problems reported for one file: past that, the file is far from a configuration.
const MAX_TYPE_PROBLEMS: usize = 50;

/// A required key's stand-in while the rest of the file is checked, after its own value was
/// reported: any value of the right type. Array indexes are written `[0]`.
fn stand_in(key: &str) -> Option<config::Value> {
    let text = match key {
        "server" => {
            return Some(config::Value::from(
                config::Map::<String, config::Value>::new(),
            ))
        }
        "server.listen" | "server.admin_listen" => "127.0.0.1:0",
        "mappings.dir" => "mappings",
        "routes" => return Some(config::Value::from(Vec::<config::Value>::new())),
        "routes[0].name" => "route",
        "routes[0].path" => "/",
        "routes[0].default_version" | "routes[0].downstream.version" => "v",
        "routes[0].downstream.url" => "http://127.0.0.1/",
        "routes[0].downstream.secret" => "stand-in",
        "routes[0].inbound_secrets" => {
            return Some(config::Value::from(vec![config::Value::from("stand-in")]))
        }
        "routes[0].policy" => {
            let mut policy = config::Map::new();
            policy.insert("v".to_owned(), config::Value::from("ack"));
            return Some(config::Value::from(policy));
        }
        "routes[0].downstream" => {
            let mut downstream = config::Map::new();
            for field in ["url", "version", "secret"] {
                downstream.insert(
                    field.to_owned(),
                    stand_in(&format!("routes[0].downstream.{field}"))?,
                );
            }
            return Some(config::Value::from(downstream));
        }
        _ => return None,
    };
    Some(config::Value::from(text))
}

/// `routes[3].downstream.url` → `routes[0].downstream.url`.
fn with_first_indexes(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut in_index = false;
    for c in key.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[0");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// One step of a key path, as serde_path_to_error reports it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps_of(path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    path.iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

fn key_of(steps: &[Step]) -> String {
    let mut key = String::new();
    for step in steps {
        match step {
            Step::Key(k) => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
            }
            Step::Index(i) => key.push_str(&format!("[{i}]")),
        }
    }
    key
}

/// The value at `steps` below `root`, if there is one.
fn value_at<'a>(root: &'a mut config::Value, steps: &[Step]) -> Option<&'a mut config::Value> {
    let mut node = root;
    for step in steps {
        node = match (&mut node.kind, step) {
            (config::ValueKind::Table(table), Step::Key(key)) => table.get_mut(key)?,
            (config::ValueKind::Array(items), Step::Index(i)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The field a serde message is about: `` unknown field `urll`, expected … `` → `urll`.
fn quoted_field<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// Deserializes `tree` into a [`Config`], collecting every type-level problem instead of stopping at
/// the first: each bad key is reported, then removed (or replaced by a stand-in when it is required),
/// and deserialization starts over, until it succeeds or a problem cannot be stepped over.
fn deserialize_collecting(
    mut tree: config::Value,
    origins: &KeyOrigins,
) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();
    // Keys replaced by stand-ins: their values are not the file's, so checks of them are not reported.
    let mut replaced: Vec<String> = Vec::new();
    loop {
        let error = match serde_path_to_error::deserialize::<_, Config>(tree.clone()) {
            Ok(config) if problems.is_empty() => return Ok(config),
            Ok(config) => {
                problems.extend(
                    config
                        .unlocated_problems()
                        .into_iter()
                        .filter(|p| match p {
                            ConfigError::Invalid { key, .. } => !replaced.iter().any(|r| {
                                key == r
                                    || key.starts_with(&format!("{r}."))
                                    || key.starts_with(&format!("{r}["))
                            }),
                            ConfigError::Read { .. } => true,
                        })
                        .map(|p| origins.locate(p)),
                );
                return Err(ConfigErrors(problems));
            }
            Err(error) => error,
        };
        let key = error.path().to_string();
        let steps = steps_of(error.path());
        let message = error.into_inner().to_string();
        // Reported here unless it cannot be understood (then it is reported as serde says, below).
        let mut reported = false;
        let stepped_over = steps.and_then(|steps| {
            let (problem, fix) = type_problem(&steps, &message, &replaced)?;
            if let Some((problem, at)) = problem {
                problems.push(origins.locate_at(problem, &at));
            }
            reported = true;
            match fix {
                Fix::Remove(at) => {
                    let (field, parent) = at.split_last()?;
                    let parent = value_at(&mut tree, parent)?;
                    match (&mut parent.kind, field) {
                        (config::ValueKind::Table(table), Step::Key(k)) => {
                            table.remove(k).map(|_| ())
                        }
                        _ => None,
                    }
                }
                Fix::StandIn(at) => {
                    let at_key = key_of(&at);
                    if replaced.contains(&at_key) {
                        // Its stand-in was refused too: stepping over it again would loop.
                        return None;
                    }
                    let value = stand_in(&with_first_indexes(&at_key))?;
                    let (field, parent) = at.split_last()?;
                    let parent = value_at(&mut tree, parent)?;
                    match (&mut parent.kind, field) {
                        (config::ValueKind::Table(table), Step::Key(k)) => {
                            table.insert(k.clone(), value);
                        }
                        (config::ValueKind::Array(items), Step::Index(i)) if *i < items.len() => {
                            items[*i] = value;
                        }
                        _ => return None,
                    }
                    replaced.push(at_key);
                    Some(())
                }
            }
        });
        if !reported {
            problems.push(origins.locate(ConfigError::invalid(
                if key == "." {
                    "config".to_owned()
                } else {
                    key.clone()
                },
                redacted_message(&key, message),
            )));
        }
        if stepped_over.is_none() || problems.len() >= MAX_TYPE_PROBLEMS {
            return Err(ConfigErrors(problems));
        }
    }
}

/// How to step over a type-level problem.
enum Fix {
    /// Remove the key (unknown, or optional with a bad value).
    Remove(Vec<Step>),
    /// Put a stand-in in its place (required).
    StandIn(Vec<Step>),
}

/// The problem to report for a serde error at `steps` (none when it follows from a stand-in), and how
/// to go on.
fn type_problem(
    steps: &[Step],
    message: &str,
    replaced: &[String],
) -> Option<(Option<(ConfigError, String)>, Fix)> {
    let key = key_of(steps);
    let shown = if key.is_empty() {
        "config".to_owned()
    } else {
        key.clone()
    };
    if let Some(field) = quoted_field(message, "unknown field `") {
        // The path already ends at the unknown key; report it at its table.
        let mut at = steps.to_vec();
        if at.last() != Some(&Step::Key(field.to_owned())) {
            at.push(Step::Key(field.to_owned()));
        }
        let shown = match key_of(&at[..at.len() - 1]) {
            parent if parent.is_empty() => "config".to_owned(),
            parent => parent,
        };
        let problem = ConfigError::invalid(shown, message.to_owned());
        return Some((Some((problem, key_of(&at))), Fix::Remove(at)));
    }
    if let Some(field) = quoted_field(message, "missing field `") {
        let mut at = steps.to_vec();
        at.push(Step::Key(field.to_owned()));
        let problem = ConfigError::invalid(shown, message.to_owned());
        let already = replaced.contains(&key_of(&at));
        return Some(((!already).then_some((problem, key)), Fix::StandIn(at)));
    }
    let problem = (
        ConfigError::invalid(shown, redacted_message(&key, message.to_owned())),
        key.clone(),
    );
    let fix = if stand_in(&with_first_indexes(&key)).is_some()
        || matches!(steps.last(), Some(Step::Index(_)))
    {
        Fix::StandIn(steps.to_vec())
    } else {
        Fix::Remove(steps.to_vec())
    };
    Some((Some(problem), fix))
}

/// serde's message for a bad value, unless the key holds secrets: serde quotes the value
/// (`invalid type: string "wss_…"`).
fn redacted_message(key: &str, message: String) -> String {
    match secret_key_expectation(key) {
        Some(expected) => {
            format!("must be {expected} (the value is not shown: it may be a secret)")
        }
        None => message,
    }
}
/// What a key that holds secrets must be, for error messages that must not quote its value.
fn secret_key_expectation(key: &str) -> Option<&'static str> {
    if key.contains("inbound_secrets") {
        Some("a list of strings")
    } else if key.contains("downstream.secret") || key == "ledger.url" {
        Some("a string")
    } else {
        None
    }
}

/// `HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL` → `routes[0].downstream.url`.
pub(super) fn env_key_to_path(name: &str) -> Result<String, String> {
    let rest = &name[ENV_PREFIX.len()..];
    let mut path = String::new();
    for segment in rest.split(ENV_SEPARATOR) {
        if segment.is_empty() {
            return Err("empty key segment".to_owned());
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "key segment {segment:?} may hold only letters, digits, _ and -"
            ));
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) && !path.is_empty() {
            path.push('[');
            path.push_str(segment);
            path.push(']');
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment.to_ascii_lowercase());
        }
    }
    Ok(path)
}

/// An override value: a JSON list when it starts with `[`, else the text itself (typed at deserialization).
fn env_value(text: &str) -> Result<config::Value, String> {
    if !text.trim_start().starts_with('[') {
        return Ok(config::Value::from(text));
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("value starting with [ must be a JSON list: {e}"))?;
    let values = items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Ok(config::Value::from(s)),
            serde_json::Value::Number(n) => Ok(config::Value::from(n.to_string())),
            serde_json::Value::Bool(b) => Ok(config::Value::from(b)),
            other => Err(format!(
                "list items must be strings, numbers or booleans, not {other}"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(config::Value::from(values))
}
