//! Configuration: the TOML file, `HOOKSHIFT__SECTION__KEY` environment overrides, secrets and validation.
//!
//! [`Config::load`] reads the file with the `config` crate, lays every `HOOKSHIFT__…` environment variable
//! over it (`HOOKSHIFT__SERVER__MAX_BODY_BYTES=1024`, `HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL=…`; a value
//! starting with `[` is read as a JSON list), deserializes with unknown keys refused, and validates.
//! Every error names the key it is about (`routes[0].downstream.url: …`).
//!
//! Secrets are given inline or as `env:VAR_NAME`, resolved at load; [`Secret`] never prints its value.

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{de, Deserialize, Deserializer};

use crate::provider::Provider;

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "HOOKSHIFT__";
/// Separator between key segments in those variables.
pub const ENV_SEPARATOR: &str = "__";
/// Schemas folder used when `schemas.dir` is not set (beside the config file).
pub const DEFAULT_SCHEMAS_DIR: &str = "schemas";

/// The whole configuration of one hookshift process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub mappings: MappingsConfig,
    #[serde(default)]
    pub schemas: SchemasConfig,
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Where the configuration was read from (for reloads and relative paths).
    #[serde(skip)]
    source: Option<PathBuf>,
    /// A digest of the exact text read from `source` ([`crate::reload::content_digest`]; not the text,
    /// which may hold inline secrets): the reload watcher's baseline is this, not what the file holds
    /// by the time the server starts (a change in between would otherwise never be applied).
    #[serde(skip)]
    source_digest: Option<u64>,
    /// Where each key was set (file line or environment variable), for error messages.
    #[serde(skip)]
    origins: KeyOrigins,
}

/// `[server]`: listeners, limits and timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Webhook listener. Not reloadable.
    pub listen: SocketAddr,
    /// Admin listener (`/metrics`, `/healthz`, `/readyz`). Not reloadable.
    pub admin_listen: SocketAddr,
    /// Largest accepted request body; larger ones get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Bytes of request bodies (and translation working memory) held at once by all requests of the
    /// listener; a request that does not fit is answered 503 with `Retry-After`.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: u64,
    /// How long a client may take to send the request head.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send the request body.
    #[serde(default = "default_body_read_timeout_ms")]
    pub body_read_timeout_ms: u64,
    /// How long in-flight requests may run after SIGTERM/SIGINT.
    #[serde(default = "default_shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
    /// How often the config file and mappings directory are checked for changes; 0 disables polling.
    #[serde(default = "default_reload_poll_ms")]
    pub reload_poll_ms: u64,
    /// A connection with no request in flight for this long is closed (HTTP/1 keep-alive and HTTP/2).
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Most connections served at once per listener (across all workers); further ones wait in the
    /// kernel's accept queue (one per worker accepted, unread, for the next free slot).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Threads serving the webhook listener, each with its own single-threaded runtime, listener
    /// socket and handler connections, so that a request stays on the thread that read it. 0 or
    /// absent: one per CPU. Not reloadable.
    #[serde(default)]
    pub workers: usize,
    /// `hookshift serve` binds the webhook listener with `SO_REUSEPORT` and gives each worker a socket
    /// of its own (the kernel spreads connections over them); false: one socket whose accept queue
    /// every worker polls. Not reloadable.
    #[serde(default = "default_reuse_port")]
    pub reuse_port: bool,
    /// `text` or `json`. Not reloadable.
    #[serde(default)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[mappings]`: where the mapping files live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingsConfig {
    /// Relative paths are resolved against the config file's directory.
    pub dir: PathBuf,
}

impl Default for MappingsConfig {
    fn default() -> Self {
        MappingsConfig {
            dir: PathBuf::from("mappings"),
        }
    }
}

/// `[schemas]`: the JSON Schemas of every event type (`VERSION/EVENT_TYPE.json`) that `hookshift check`
/// holds the golden cases to, and that `serve` scans translated events against (in the background) to
/// count the unknown fields they carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemasConfig {
    /// Relative paths are resolved against the config file's directory. Unset: `schemas` beside the
    /// config file, skipped by `check` and `serve` when absent (an installation may ship without it).
    pub dir: Option<PathBuf>,
    /// Translated events waiting for the background carried-field scan (and `observe` output check);
    /// when full, both are skipped (and counted). 0 turns the scan off and runs the output check on
    /// the request path.
    #[serde(default = "default_scan_queue")]
    pub scan_queue: usize,
    /// Whether translated events are validated against the target version's schema before delivery
    /// (see [`crate::output_check`]).
    #[serde(default)]
    pub validate_output: ValidateOutput,
}

/// `schemas.validate_output`: what a translated event that breaks its target version's schema becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum ValidateOutput {
    /// Count it (`hookshift_invalid_output_total`) and deliver it.
    #[default]
    Observe,
    /// Refuse it as `translation_failed` (422), like a mapping that failed.
    Enforce,
    /// Do not validate.
    Off,
}

impl TryFrom<String> for ValidateOutput {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[
                ("observe", ValidateOutput::Observe),
                ("enforce", ValidateOutput::Enforce),
                ("off", ValidateOutput::Off),
            ],
        )
    }
}

/// Default of `schemas.scan_queue`.
pub const DEFAULT_SCAN_QUEUE: usize = 64;

fn default_scan_queue() -> usize {
    DEFAULT_SCAN_QUEUE
}

impl Default for SchemasConfig {
    fn default() -> Self {
        SchemasConfig {
            dir: None,
            scan_queue: DEFAULT_SCAN_QUEUE,
            validate_output: ValidateOutput::default(),
        }
    }
}

/// `[ledger]`: the one piece of state hookshift keeps (twin pairing, shadow comparison); see
/// [`crate::ledger`]. Not reloadable: a reload keeps the ledger the process started with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    #[serde(default)]
    pub backend: LedgerBackend,
    /// File backend: the store file, relative to the config file's directory; created `0600`.
    #[serde(default = "default_ledger_path")]
    pub path: PathBuf,
    /// Redis backend: `redis://[user:password@]host:port[/db]` (or `rediss://`), inline or `env:VAR`.
    #[serde(default = "default_ledger_url")]
    pub url: Secret,
    /// Entries older than this are removed (a twin that has not come by then is counted unpaired).
    #[serde(default = "default_retention_hours")]
    pub retention_hours: u64,
    /// Most entries kept; past it the oldest go first (counted).
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
    /// Keep the values of the first copy's leaves, not only their hashes, so that a report can show
    /// both sides of a mismatched path. Payload data at rest: for debugging only.
    #[serde(default)]
    pub keep_values: bool,
    /// Most bytes of events held in quarantine (`routes.on_translation_failure = "quarantine"`); when
    /// full, a failing event is answered 422 again (counted).
    #[serde(default = "default_max_quarantine_bytes")]
    pub max_quarantine_bytes: u64,
    /// Copies from two endpoints are taken for twins (one event) only when their first arrivals are
    /// at most this far apart; a sender sends one event to its endpoints at about the same moment.
    /// Events about one run further apart (a run processed again, a delivery sent again from the
    /// sender's dashboard) are told apart by it even with the same content.
    #[serde(default = "default_pair_window_ms")]
    pub pair_window_ms: u64,
}

/// `routes.on_translation_failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum TranslationFailure {
    /// Answer 422: the sender retries, then gives up.
    #[default]
    Reject,
    /// Keep the verified event in the ledger and answer 202 `quarantined`; `hookshift quarantine
    /// replay` delivers it once the mapping is fixed.
    Quarantine,
}

impl TryFrom<String> for TranslationFailure {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[
                ("reject", TranslationFailure::Reject),
                ("quarantine", TranslationFailure::Quarantine),
            ],
        )
    }
}

fn default_max_quarantine_bytes() -> u64 {
    256 * 1024 * 1024
}

/// Where the ledger lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LedgerBackend {
    /// One local file (an embedded transactional store); survives restarts, one process.
    #[default]
    File,
    /// A Redis server shared by replicas.
    Redis,
    /// No ledger: no pairing, no comparison.
    Off,
}

impl LedgerBackend {
    /// The word the configuration uses, also the `backend` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerBackend::File => "file",
            LedgerBackend::Redis => "redis",
            LedgerBackend::Off => "off",
        }
    }
}

impl TryFrom<String> for LedgerBackend {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[
                ("file", LedgerBackend::File),
                ("redis", LedgerBackend::Redis),
                ("off", LedgerBackend::Off),
            ],
        )
    }
}

/// Default of `ledger.path`.
pub const DEFAULT_LEDGER_PATH: &str = "hookshift.ledger";
/// Default of `ledger.url`.
pub const DEFAULT_LEDGER_URL: &str = "env:HOOKSHIFT_REDIS_URL";

fn default_ledger_path() -> PathBuf {
    PathBuf::from(DEFAULT_LEDGER_PATH)
}
fn default_ledger_url() -> Secret {
    Secret::from_spec(DEFAULT_LEDGER_URL)
}
fn default_retention_hours() -> u64 {
    72
}
fn default_max_entries() -> u64 {
    1_000_000
}
fn default_pair_window_ms() -> u64 {
    300_000
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            backend: LedgerBackend::default(),
            path: default_ledger_path(),
            url: default_ledger_url(),
            retention_hours: default_retention_hours(),
            max_entries: default_max_entries(),
            keep_values: false,
            max_quarantine_bytes: default_max_quarantine_bytes(),
            pair_window_ms: default_pair_window_ms(),
        }
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
                } else if !self.url.value.starts_with("redis://")
                    && !self.url.value.starts_with("rediss://")
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

/// `[[routes]]`: one webhook endpoint, its sender and its handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Label in metrics and logs: `[a-z0-9_-]+`, unique.
    pub name: String,
    /// Request path, unique, starting with `/`.
    pub path: String,
    #[serde(default)]
    pub provider: Provider,
    /// Any one of them verifies an inbound delivery (rotation).
    pub inbound_secrets: Vec<Secret>,
    #[serde(default = "default_tolerance")]
    pub timestamp_tolerance_secs: u64,
    /// Query parameter naming the sending endpoint's API version.
    #[serde(default = "default_version_param")]
    pub version_param: String,
    /// Sending version when the query parameter is absent.
    pub default_version: String,
    pub downstream: DownstreamConfig,
    /// What to do with events per sending version.
    pub policy: BTreeMap<String, Policy>,
    /// What to do with an event type that no mapping covers.
    #[serde(default)]
    pub unmapped: UnmappedAction,
    /// What to do with an event a mapping fails on (or `schemas.validate_output = "enforce"` refuses).
    #[serde(default)]
    pub on_translation_failure: TranslationFailure,
    /// How payloads delivered as a signed download URL are fetched.
    #[serde(default)]
    pub signed_url: SignedUrlConfig,
    /// The mapping set this route translates with (resolved like `mappings.dir`); unset: the global
    /// `mappings.dir`. A route of another provider than the global set's names its own.
    #[serde(default)]
    pub mappings: Option<PathBuf>,
    /// The thresholds of `hookshift status`'s verdict for the next migration stage.
    #[serde(default)]
    pub readiness: ReadinessConfig,
    /// The variables of `env?:` entries of `inbound_secrets` that were unset or empty at load, and so
    /// left out of the list.
    #[serde(skip)]
    pub skipped_secrets: Vec<String>,
}

/// `[routes.readiness]`: when `hookshift status` (and `GET /status`) call a route ready for its next
/// migration stage. Every count is over the last `window_hours` hourly buckets of the ledger's history.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessConfig {
    /// Fewest twin pairs compared before stage 1/2 may move on (default 1000).
    #[serde(default = "default_min_pairs")]
    pub min_pairs: u64,
    /// Lowest share of matched pairs, 0 to 1 (default 0.999: 99.9 %).
    #[serde(default = "default_min_match_ratio")]
    pub min_match_ratio: f64,
    /// Highest share of the handler's answers that are not 2xx (or no answer), 0 to 1 (default 0.01).
    #[serde(default = "default_max_handler_error_ratio")]
    pub max_handler_error_ratio: f64,
    /// The window the verdict reads, in hours (default 24).
    #[serde(default = "default_readiness_window_hours")]
    pub window_hours: u64,
}

/// Longest `routes.readiness.window_hours`: the history the page charts and keeps at least.
pub const MAX_READINESS_WINDOW_HOURS: u64 = 24 * 30;

fn default_min_pairs() -> u64 {
    1_000
}
fn default_min_match_ratio() -> f64 {
    0.999
}
fn default_max_handler_error_ratio() -> f64 {
    0.01
}
fn default_readiness_window_hours() -> u64 {
    24
}

impl Default for ReadinessConfig {
    fn default() -> Self {
        ReadinessConfig {
            min_pairs: default_min_pairs(),
            min_match_ratio: default_min_match_ratio(),
            max_handler_error_ratio: default_max_handler_error_ratio(),
            window_hours: default_readiness_window_hours(),
        }
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

/// `[routes.signed_url]`: payloads the sender delivers as a signed download URL, fetched when the
/// event must be translated (see [`crate::outbound::fetch`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedUrlConfig {
    /// Fetch and translate them; when false, such an event that needs translating is answered 502.
    #[serde(default = "default_true")]
    pub resolve: bool,
    /// Empty: any `https://` host whose addresses are all public. Else only these hosts (exact, or
    /// `*.suffix`), over `http://` or `https://`, at any address.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Deadline of one fetch, redirects and body included.
    #[serde(default = "default_signed_url_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for SignedUrlConfig {
    fn default() -> Self {
        SignedUrlConfig {
            resolve: true,
            allow_hosts: Vec::new(),
            timeout_ms: default_signed_url_timeout_ms(),
        }
    }
}

/// `[routes.downstream]`: the handler hookshift delivers to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamConfig {
    /// `http://host:port/path` or `https://host:port/path`.
    #[serde(deserialize_with = "de_http_uri")]
    pub url: http::Uri,
    /// PEM bundle of the CAs an `https://` handler's certificate must chain to, instead of Mozilla's
    /// root program (for handlers behind a private CA). Relative to the config file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The API version the handler speaks.
    pub version: String,
    /// Secret the forwarded deliveries are signed with.
    pub secret: Secret,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// The stage policy for events from one sending version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Policy {
    /// Translate when needed, re-sign and deliver.
    Forward,
    /// Answer 200 and deliver nothing.
    Ack,
    /// Answer 400 (the sender retries later) and deliver nothing.
    Reject,
}

/// What to do with an event that no mapping covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum UnmappedAction {
    /// Answer 200 and deliver nothing.
    #[default]
    Ack,
    /// Deliver the event unchanged (re-signed).
    Forward,
    /// Answer 400 so the sender retries.
    Reject,
}

/// Reads one of a fixed set of words, naming the allowed ones when the text is none of them.
fn choice<T: Copy>(text: &str, choices: &[(&str, T)]) -> Result<T, String> {
    choices
        .iter()
        .find(|(word, _)| *word == text)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let words: Vec<String> = choices
                .iter()
                .map(|(word, _)| format!("{word:?}"))
                .collect();
            format!("{text:?} is not one of {}", words.join(", "))
        })
}

impl Policy {
    /// The word the configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Forward => "forward",
            Policy::Ack => "ack",
            Policy::Reject => "reject",
        }
    }
}

impl TryFrom<String> for Policy {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[
                ("forward", Policy::Forward),
                ("ack", Policy::Ack),
                ("reject", Policy::Reject),
            ],
        )
    }
}

impl TryFrom<String> for UnmappedAction {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[
                ("ack", UnmappedAction::Ack),
                ("forward", UnmappedAction::Forward),
                ("reject", UnmappedAction::Reject),
            ],
        )
    }
}

impl TryFrom<String> for LogFormat {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        choice(
            &text,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        )
    }
}

fn default_max_body_bytes() -> u64 {
    26_214_400
}
fn default_max_buffered_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_header_read_timeout_ms() -> u64 {
    10_000
}
fn default_body_read_timeout_ms() -> u64 {
    30_000
}
fn default_shutdown_grace_ms() -> u64 {
    30_000
}
fn default_idle_timeout_ms() -> u64 {
    60_000
}
fn default_max_connections() -> usize {
    4_096
}

fn default_reuse_port() -> bool {
    true
}

/// Most `server.workers`: far beyond any machine's cores, small enough that a typo cannot start a
/// thread flood.
pub const MAX_WORKERS: usize = 1_024;

impl ServerConfig {
    /// The number of webhook workers to start: `server.workers`, or one per CPU when it is 0.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}
fn default_reload_poll_ms() -> u64 {
    1_000
}
fn default_tolerance() -> u64 {
    300
}
fn default_version_param() -> String {
    "api_version".to_owned()
}
fn default_timeout_ms() -> u64 {
    25_000
}
fn default_true() -> bool {
    true
}
fn default_signed_url_timeout_ms() -> u64 {
    10_000
}

fn de_http_uri<'de, D: Deserializer<'de>>(d: D) -> Result<http::Uri, D::Error> {
    let text = String::deserialize(d)?;
    let uri: http::Uri = text
        .parse()
        .map_err(|e| de::Error::custom(format!("invalid URL {text:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(de::Error::custom(format!(
            "URL {text:?} must start with http:// or https://"
        )));
    }
    if uri.authority().is_none() {
        return Err(de::Error::custom(format!("URL {text:?} has no host")));
    }
    Ok(uri)
}

/// A secret given inline, as `env:VAR_NAME`, or as `env?:VAR_NAME` (an `inbound_secrets` entry that may
/// be absent: unset or empty, the entry is skipped). Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Secret {
    value: String,
    /// `Some(VAR_NAME)` when read from the environment.
    env_var: Option<String>,
    /// Set when the variable was not set at load; [`Config::validate`] reports it.
    missing: bool,
    /// Written `env?:`: absence is not an error where optional secrets are allowed.
    optional: bool,
}

impl Secret {
    /// An inline secret.
    pub fn inline(value: impl Into<String>) -> Secret {
        Secret {
            value: value.into(),
            env_var: None,
            missing: false,
            optional: false,
        }
    }

    /// Parses `env:VAR_NAME` or `env?:VAR_NAME` (resolved now) or an inline value.
    pub fn from_spec(spec: &str) -> Secret {
        let (var, optional) = match (spec.strip_prefix("env:"), spec.strip_prefix("env?:")) {
            (Some(var), _) => (var, false),
            (None, Some(var)) => (var, true),
            (None, None) => return Secret::inline(spec),
        };
        let (value, missing) = match std::env::var(var) {
            Ok(value) => (value, false),
            Err(_) => (String::new(), true),
        };
        Secret {
            value,
            env_var: Some(var.to_owned()),
            missing,
            optional,
        }
    }

    /// Written `env?:VAR_NAME`.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// An `env?:` secret whose variable is unset or empty: its list entry is skipped.
    pub fn is_absent_optional(&self) -> bool {
        self.optional && self.value.is_empty()
    }

    /// The secret's bytes (UTF-8 of the configured text), the HMAC key.
    pub fn expose(&self) -> &[u8] {
        self.value.as_bytes()
    }

    /// Why this secret cannot be used (unset or empty variable, empty value), naming no value.
    pub fn problem(&self) -> Option<String> {
        match (&self.env_var, self.missing) {
            (Some(var), true) => Some(format!("environment variable {var} is not set")),
            (Some(var), false) if self.value.is_empty() => {
                Some(format!("environment variable {var} is empty"))
            }
            (None, _) if self.value.is_empty() => Some("secret is empty".to_owned()),
            _ => None,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.env_var {
            Some(var) if self.is_absent_optional() => write!(f, "Secret(env?:{var}, absent)"),
            Some(var) if self.optional => write!(f, "Secret(env?:{var}, ***)"),
            Some(var) => write!(f, "Secret(env:{var}, ***)"),
            None => f.write_str("Secret(***)"),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(d)?;
        Ok(Secret::from_spec(&spec))
    }
}

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
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
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
        config.source_digest = Some(crate::reload::content_digest(text.as_bytes()));
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
            route.skipped_secrets = absent.into_iter().filter_map(|s| s.env_var).collect();
        }
        config.origins = origins;
        Ok(config)
    }

    /// The file this configuration was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The digest of the text this configuration was parsed from, when it was read from
    /// [`Config::source`].
    pub fn source_digest(&self) -> Option<u64> {
        self.source_digest
    }

    /// The mappings directory, relative paths resolved against the config file's directory.
    pub fn mappings_dir(&self) -> PathBuf {
        self.relative_to_source(&self.mappings.dir)
    }

    /// Every mapping folder the configuration names, each once: the global one first, then the routes'
    /// own.
    pub fn mappings_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.mappings_dir()];
        for route in &self.routes {
            let dir = self.route_mappings_dir(route);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// The mapping set `route` translates with: its own `mappings`, else [`Config::mappings_dir`].
    pub fn route_mappings_dir(&self, route: &RouteConfig) -> PathBuf {
        match &route.mappings {
            Some(dir) => self.relative_to_source(dir),
            None => self.mappings_dir(),
        }
    }

    /// The schemas directory, resolved like [`Config::mappings_dir`], and whether the configuration
    /// names it (then it must exist) or it is the default `schemas`.
    pub fn schemas_dir(&self) -> (PathBuf, bool) {
        match &self.schemas.dir {
            Some(dir) => (self.relative_to_source(dir), true),
            None => (
                self.relative_to_source(Path::new(DEFAULT_SCHEMAS_DIR)),
                false,
            ),
        }
    }

    /// The file backend's store, `ledger.path` resolved against the config file's directory.
    pub fn ledger_path(&self) -> PathBuf {
        self.relative_to_source(&self.ledger.path)
    }

    /// A path from the configuration, resolved against the configuration file's directory.
    pub fn relative_to_source(&self, path: &Path) -> PathBuf {
        match self.source.as_deref().and_then(Path::parent) {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_owned(),
        }
    }

    /// The route serving `path`, if any.
    pub fn route_for_path(&self, path: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.path == path)
    }

    /// Every problem that does not depend on the mapping files, each naming where its key was set.
    pub fn validate(&self) -> Vec<ConfigError> {
        self.unlocated_problems()
            .into_iter()
            .map(|problem| self.origins.locate(problem))
            .collect()
    }

    fn unlocated_problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let s = &self.server;
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
            if route.downstream.ca_file.is_some()
                && route.downstream.url.scheme_str() != Some("https")
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
                if let Some(problem) = crate::outbound::fetch::pattern_problem(pattern) {
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
        }
        problems
    }
}

/// A TOML parse error without the excerpt of the file it quotes (`7 | secret = "wss_…`): the quoted
/// line may hold a secret. Keeps the position and the reason.
fn without_source_excerpt(message: &str) -> String {
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

/// Where each key of a configuration was set: a line of the TOML file, or an environment variable.
#[derive(Clone, Default)]
struct KeyOrigins {
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
    fn from_toml(text: &str) -> KeyOrigins {
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

    fn set_by_env(&mut self, key: String, variable: String) {
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
    fn locate(&self, problem: ConfigError) -> ConfigError {
        match &problem {
            ConfigError::Invalid { key, .. } => {
                let key = key.clone();
                self.locate_at(problem, &key)
            }
            ConfigError::Read { .. } => problem,
        }
    }

    /// `problem` with where `at` was set appended to its message.
    fn locate_at(&self, problem: ConfigError, at: &str) -> ConfigError {
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
fn env_key_to_path(name: &str) -> Result<String, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
[server]
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9464"

[mappings]
dir = "mappings"

[[routes]]
name = "extend"
path = "/webhooks/extend"
inbound_secrets = ["wss_in"]
default_version = "2025-04-21"
[routes.downstream]
url = "http://127.0.0.1:3000/webhooks"
version = "2026-02-09"
secret = "wss_out"
[routes.policy]
"2025-04-21" = "forward"
"2026-02-09" = "ack"
"#;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    fn errors_of(toml: &str, env: Vec<(String, String)>) -> Vec<String> {
        match Config::parse_str(toml, env) {
            Ok(c) => c.validate().iter().map(ToString::to_string).collect(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn valid_config_with_defaults() {
        let c = Config::parse_str(VALID, no_env()).unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.server.max_body_bytes, 26_214_400);
        assert_eq!(c.server.max_buffered_bytes, 256 * 1024 * 1024);
        let r = &c.routes[0];
        assert_eq!(r.provider, Provider::Extend);
        assert_eq!(r.timestamp_tolerance_secs, 300);
        assert_eq!(r.version_param, "api_version");
        assert_eq!(r.unmapped, UnmappedAction::Ack);
        assert_eq!(r.downstream.timeout_ms, 25_000);
        assert_eq!(r.policy["2025-04-21"], Policy::Forward);
        assert_eq!(r.policy["2026-02-09"], Policy::Ack);
        assert_eq!(r.downstream.url, "http://127.0.0.1:3000/webhooks");
        assert_eq!(c.route_for_path("/webhooks/extend").unwrap().name, "extend");
    }

    #[test]
    fn standard_webhooks_secrets_must_be_whsec_base64_and_errors_name_the_line() {
        let standard = VALID
            .replace(
                "path = \"/webhooks/extend\"",
                "path = \"/webhooks/extend\"\nprovider = \"standard\"",
            )
            .replace("secret = \"wss_out\"", "secret = \"whsec_!!notbase64\"");
        let errs = errors_of(&standard, no_env());
        assert_eq!(
            errs,
            vec![
                "routes[0].inbound_secrets[0]: a Standard Webhooks secret starts with whsec_ \
                 (whsec_<base64 key>) (line 13)",
                "routes[0].downstream.secret: the part after whsec_ must be the base64 of a \
                 non-empty key (line 18)",
            ],
        );
        for error in &errs {
            assert!(
                !error.contains("notbase64") && !error.contains("wss_in"),
                "{error}"
            );
        }
        let good = standard
            .replace(
                "[\"wss_in\"]",
                "[\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]",
            )
            .replace("whsec_!!notbase64", "whsec_c2VjcmV0LWtleQ==");
        assert_eq!(errors_of(&good, no_env()), Vec::<String>::new());
        let c = Config::parse_str(&good, no_env()).unwrap();
        assert_eq!(c.routes[0].provider, Provider::Standard);
    }

    #[test]
    fn unknown_keys_are_named() {
        let errs = errors_of(
            &VALID.replace("secret = \"wss_out\"", "secret = \"wss_out\"\nurll = 1"),
            no_env(),
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("routes[0].downstream") && errs[0].contains("urll"),
            "{errs:?}"
        );

        let errs = errors_of(
            &VALID.replace("[server]", "[server]\nlisten_addr = 1"),
            no_env(),
        );
        assert!(
            errs[0].contains("server") && errs[0].contains("listen_addr"),
            "{errs:?}"
        );

        let errs = errors_of(&format!("{VALID}\n[extra]\na = 1\n"), no_env());
        assert!(errs[0].contains("extra"), "{errs:?}");
    }

    #[test]
    fn bad_values_are_named() {
        let errs = errors_of(&VALID.replace("= \"forward\"", "= \"forwrd\""), no_env());
        assert!(
            errs[0].starts_with("routes[0].policy.2025-04-21: ") && errs[0].contains("forwrd"),
            "{errs:?}"
        );

        let errs = errors_of(
            &VALID.replace("http://127.0.0.1:3000/webhooks", "ftp://example.com/"),
            no_env(),
        );
        assert!(
            errs[0].starts_with("routes[0].downstream.url: ") && errs[0].contains("https://"),
            "{errs:?}"
        );
        assert!(errors_of(
            &VALID.replace("http://127.0.0.1:3000/webhooks", "https://example.com/"),
            no_env()
        )
        .is_empty());

        let errs = errors_of(
            &VALID.replace(
                "url = \"http://127.0.0.1:3000/webhooks\"",
                "url = \"http://127.0.0.1:3000/webhooks\"\nca_file = \"ca.pem\"",
            ),
            no_env(),
        );
        assert_eq!(
            errs,
            ["routes[0].downstream.ca_file: only applies to an https:// downstream.url (line 16)"]
        );

        let errs = errors_of(&VALID.replace("127.0.0.1:8080", "nowhere"), no_env());
        assert!(errs[0].starts_with("server.listen: "), "{errs:?}");

        let errs = errors_of(
            &VALID.replace(
                "default_version = \"2025-04-21\"",
                "default_version = \"2024-01-01\"",
            ),
            no_env(),
        );
        assert_eq!(
            errs,
            vec!["routes[0].default_version: \"2024-01-01\" has no entry in routes[0].policy (line 13)"]
        );

        let errs = errors_of(
            &VALID.replace("name = \"extend\"", "name = \"Extend Route\""),
            no_env(),
        );
        assert!(errs[0].starts_with("routes[0].name: "), "{errs:?}");

        let errs = errors_of(
            &VALID.replace("inbound_secrets = [\"wss_in\"]", "inbound_secrets = []"),
            no_env(),
        );
        assert_eq!(
            errs,
            vec!["routes[0].inbound_secrets: at least one secret is required (line 12)"]
        );
    }

    #[test]
    fn signed_url_keys_default_and_are_validated() {
        let c = Config::parse_str(VALID, no_env()).unwrap();
        let signed = &c.routes[0].signed_url;
        assert!(signed.resolve);
        assert!(signed.allow_hosts.is_empty());
        assert_eq!(signed.timeout_ms, 10_000);

        let with = |table: &str| format!("{VALID}[routes.signed_url]\n{table}\n");
        let c = Config::parse_str(
            &with("resolve = false\nallow_hosts = [\"*.s3.amazonaws.com\", \"127.0.0.1\"]\ntimeout_ms = 500"),
            no_env(),
        )
        .unwrap();
        assert!(c.validate().is_empty());
        assert!(!c.routes[0].signed_url.resolve);
        assert_eq!(c.routes[0].signed_url.allow_hosts.len(), 2);

        let errs = errors_of(&with("timeout_ms = 0"), no_env());
        assert_eq!(
            errs,
            ["routes[0].signed_url.timeout_ms: must be greater than 0 (line 22)"]
        );
        let errs = errors_of(
            &with("allow_hosts = [\"ok.example\", \"https://bad.example/\"]"),
            no_env(),
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("routes[0].signed_url.allow_hosts[1]: "),
            "{errs:?}"
        );
        let errs = errors_of(&with("allow_host = []"), no_env());
        assert!(
            errs[0].contains("routes[0].signed_url") && errs[0].contains("allow_host"),
            "{errs:?}"
        );
        let env = vec![(
            "HOOKSHIFT__ROUTES__0__SIGNED_URL__ALLOW_HOSTS".to_owned(),
            "[\"payloads.example.com\"]".to_owned(),
        )];
        let c = Config::parse_str(VALID, env).unwrap();
        assert_eq!(c.routes[0].signed_url.allow_hosts, ["payloads.example.com"]);
    }

    #[test]
    fn missing_keys_are_named() {
        let errs = errors_of(&VALID.replace("version = \"2026-02-09\"\n", ""), no_env());
        assert!(
            errs[0].starts_with("routes[0].downstream: ") && errs[0].contains("`version`"),
            "{errs:?}"
        );
    }

    #[test]
    fn the_body_budget_holds_two_largest_bodies() {
        let errs = errors_of(
            &VALID.replace(
                "[server]",
                "[server]\nmax_body_bytes = 2048\nmax_buffered_bytes = 4095",
            ),
            no_env(),
        );
        assert_eq!(
            errs,
            ["server.max_buffered_bytes: must be at least twice server.max_body_bytes (line 4)"]
        );
        let c = Config::parse_str(
            &VALID.replace("[server]", "[server]\nmax_buffered_bytes = 52428800"),
            no_env(),
        )
        .unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.server.max_buffered_bytes, 52_428_800);
    }

    #[test]
    fn every_validation_problem_is_reported() {
        let two_routes = format!(
            "{VALID}\n{}",
            &VALID[VALID.find("[[routes]]").unwrap()..].replace("wss_in", "")
        );
        let errs = errors_of(
            &two_routes.replace("[server]", "[server]\nmax_body_bytes = 0"),
            no_env(),
        );
        assert!(
            errs.contains(&"server.max_body_bytes: must be greater than 0 (line 3)".to_owned()),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"routes[1].name: \"extend\" is used by another route (line 24)".to_owned()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"routes[1].path: \"/webhooks/extend\" is used by another route (line 25)"
                    .to_owned()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"routes[1].inbound_secrets[0]: secret is empty (line 26)".to_owned()),
            "{errs:?}"
        );
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn env_overrides_any_key() {
        let env = vec![
            (
                "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
                "1024".to_owned(),
            ),
            (
                "HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL".to_owned(),
                "http://10.0.0.1:9/h".to_owned(),
            ),
            (
                "HOOKSHIFT__ROUTES__0__POLICY__2026-02-09".to_owned(),
                "reject".to_owned(),
            ),
            (
                "HOOKSHIFT__ROUTES__0__INBOUND_SECRETS".to_owned(),
                r#"["wss_a","wss_b"]"#.to_owned(),
            ),
            ("OTHER__SERVER__MAX_BODY_BYTES".to_owned(), "5".to_owned()),
        ];
        let c = Config::parse_str(VALID, env).unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(c.server.max_body_bytes, 1024);
        assert_eq!(c.routes[0].downstream.url, "http://10.0.0.1:9/h");
        assert_eq!(c.routes[0].policy["2026-02-09"], Policy::Reject);
        assert_eq!(c.routes[0].inbound_secrets.len(), 2);
        assert_eq!(c.routes[0].inbound_secrets[1].expose(), b"wss_b");

        let bad = vec![(
            "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
            "lots".to_owned(),
        )];
        let errs = errors_of(VALID, bad);
        assert!(errs[0].starts_with("server.max_body_bytes: "), "{errs:?}");

        let unknown = vec![("HOOKSHIFT__SERVER__COLOUR".to_owned(), "red".to_owned())];
        let errs = errors_of(VALID, unknown);
        assert!(errs[0].contains("colour"), "{errs:?}");
    }

    #[test]
    fn env_secrets_resolve_and_missing_ones_are_named() {
        // Unique names: tests share the process environment.
        std::env::set_var("HOOKSHIFT_TEST_CONFIG_SECRET_A", "wss_from_env");
        let toml = VALID
            .replace(
                "inbound_secrets = [\"wss_in\"]",
                "inbound_secrets = [\"env:HOOKSHIFT_TEST_CONFIG_SECRET_A\"]",
            )
            .replace(
                "secret = \"wss_out\"",
                "secret = \"env:HOOKSHIFT_TEST_CONFIG_SECRET_UNSET\"",
            );
        let c = Config::parse_str(&toml, no_env()).unwrap();
        assert_eq!(c.routes[0].inbound_secrets[0].expose(), b"wss_from_env");
        let errs: Vec<String> = c.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec!["routes[0].downstream.secret: environment variable HOOKSHIFT_TEST_CONFIG_SECRET_UNSET is not set (line 17)"]
        );
    }

    #[test]
    fn every_type_problem_is_reported_with_its_line() {
        // Three mistakes of three kinds: an unknown key, a bad enum value, a bad URL.
        let toml = VALID
            .replace("[server]\n", "[server]\nlisten_addr = 1\n")
            .replace(
                "\"2026-02-09\" = \"ack\"",
                "\"2026-02-09\" = \"acknowledge\"",
            )
            .replace("http://127.0.0.1:3000/webhooks", "ftp://handler/webhooks");
        let mut errs = errors_of(&toml, no_env());
        errs.sort();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "routes[0].downstream.url: URL \"ftp://handler/webhooks\" must start with"
            ) && errs[0].ends_with("(line 16)"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("routes[0].policy.2026-02-09: \"acknowledge\" is not one of")
                && errs[1].ends_with("(line 21)"),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with("server: unknown field `listen_addr`")
                && errs[2].ends_with("(line 3)"),
            "{errs:?}"
        );
    }

    #[test]
    fn missing_keys_and_bad_required_values_do_not_hide_the_rest() {
        // A required key missing, a required key of the wrong type, and a value problem found by
        // validation: all three, and nothing about the stand-ins put in their place.
        let toml = VALID
            .replace("version = \"2026-02-09\"\n", "")
            .replace("path = \"/webhooks/extend\"", "path = [7]")
            .replace("[server]\n", "[server]\nmax_body_bytes = 0\n");
        let mut errs = errors_of(&toml, no_env());
        errs.sort();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with("routes[0].downstream: missing field `version`"),
            "{errs:?}"
        );
        assert!(errs[0].ends_with("(line 15)"), "{errs:?}");
        assert!(
            errs[1].starts_with("routes[0].path: invalid type"),
            "{errs:?}"
        );
        assert_eq!(
            errs[2],
            "server.max_body_bytes: must be greater than 0 (line 3)"
        );
        // A bad secret is named, never quoted, and does not stop the check either.
        let errs = errors_of(
            &VALID
                .replace("[\"wss_in\"]", "\"wss_in_not_a_list\"")
                .replace("[server]\n", "[server]\ncolour = 1\n"),
            no_env(),
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|e| !e.contains("wss_")), "{errs:?}");
    }

    #[test]
    fn wrong_shapes_end_with_one_problem_each() {
        let cases = [
            ("[server]", "server = 1\n[unused]", "server: "),
            (
                "[mappings]\ndir = \"mappings\"",
                "[mappings]\ndir = [1]",
                "mappings.dir: ",
            ),
            (
                "[routes.downstream]",
                "[routes.downstreams]",
                "routes[0]: unknown field `downstreams`",
            ),
        ];
        for (from, to, first) in cases {
            let errs = errors_of(&VALID.replace(from, to), no_env());
            assert!(errs.iter().any(|e| e.starts_with(first)), "{to}: {errs:?}");
            assert!(errs.len() <= 4, "{to}: {errs:?}");
        }
        let errs = errors_of("routes = \"x\"\n[server]\nlisten = 5\n", no_env());
        assert!(!errs.is_empty() && errs.len() <= 4, "{errs:?}");
    }

    #[test]
    fn problems_of_overridden_keys_name_the_variable() {
        let env = vec![(
            "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
            "0".to_owned(),
        )];
        let errs = errors_of(VALID, env);
        assert_eq!(
            errs,
            ["server.max_body_bytes: must be greater than 0 (from environment variable HOOKSHIFT__SERVER__MAX_BODY_BYTES)"]
        );
    }

    #[test]
    fn optional_env_secrets_are_skipped_when_absent() {
        std::env::set_var("HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET", "wss_new_endpoint");
        std::env::set_var("HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY", "");
        let toml = VALID.replace(
            "inbound_secrets = [\"wss_in\"]",
            "inbound_secrets = [\"wss_in\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET\"]",
        );
        let c = Config::parse_str(&toml, no_env()).unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let secrets: Vec<&[u8]> = c.routes[0]
            .inbound_secrets
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(secrets, [&b"wss_in"[..], b"wss_new_endpoint"]);
        assert_eq!(
            c.routes[0].skipped_secrets,
            [
                "HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET",
                "HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY"
            ]
        );

        // Only absent ones: the route would accept nothing.
        let toml = VALID.replace(
            "inbound_secrets = [\"wss_in\"]",
            "inbound_secrets = [\"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET\"]",
        );
        assert_eq!(
            errors_of(&toml, no_env()),
            ["routes[0].inbound_secrets: at least one secret is required (optional ones not set: HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET) (line 12)"]
        );
        // The handler's secret signs every delivery: it cannot be optional.
        let toml = VALID.replace(
            "secret = \"wss_out\"",
            "secret = \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET\"",
        );
        let errs = errors_of(&toml, no_env());
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("routes[0].downstream.secret: env?: "),
            "{errs:?}"
        );
        // The same through the environment override the Kubernetes Deployment uses.
        let env = vec![(
            "HOOKSHIFT__ROUTES__0__INBOUND_SECRETS".to_owned(),
            r#"["wss_in","env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET"]"#.to_owned(),
        )];
        let c = Config::parse_str(VALID, env).unwrap();
        assert_eq!(c.routes[0].inbound_secrets.len(), 1);
        assert_eq!(
            format!(
                "{:?}",
                Secret::from_spec("env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET")
            ),
            "Secret(env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET, absent)"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Config::parse_str(VALID, no_env()).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("wss_in") && !debug.contains("wss_out"),
            "{debug}"
        );
        assert!(debug.contains("Secret(***)"));
        assert_eq!(Secret::inline("wss_x").to_string(), "***");
        std::env::set_var("HOOKSHIFT_TEST_CONFIG_SECRET_B", "wss_hidden");
        let from_env = Secret::from_spec("env:HOOKSHIFT_TEST_CONFIG_SECRET_B");
        assert_eq!(
            format!("{from_env:?}"),
            "Secret(env:HOOKSHIFT_TEST_CONFIG_SECRET_B, ***)"
        );
        assert_eq!(from_env.expose(), b"wss_hidden");
    }

    #[test]
    fn errors_never_quote_secrets() {
        let cases = [
            VALID.replace("[\"wss_in\"]", "[\"wss_in_unterminated\n"),
            VALID.replace("secret = \"wss_out\"", "secret = \"wss_out_trailing\" junk"),
            VALID.replace("[\"wss_in\"]", "\"wss_in_not_a_list\""),
            VALID.replace("secret = \"wss_out\"", "secret = [\"wss_out_in_a_list\"]"),
            VALID.replace(
                "secret = \"wss_out\"",
                "secret = { v = \"wss_out_in_a_table\" }",
            ),
        ];
        for toml in &cases {
            let errs = errors_of(toml, no_env());
            assert!(!errs.is_empty(), "{toml}");
            for err in &errs {
                assert!(!err.contains("wss_"), "{err}");
            }
        }
        let errs = errors_of(&cases[0], no_env());
        assert!(errs[0].contains("line 12"), "{errs:?}");
        let errs = errors_of(&cases[2], no_env());
        assert_eq!(
            errs,
            vec!["routes[0].inbound_secrets: must be a list of strings (the value is not shown: it may be a secret) (line 12)"]
        );
        assert_eq!(
            without_source_excerpt("TOML parse error at line 3, column 9\n  |\n3 | a = \"x\n  |         ^\ninvalid basic string\n"),
            "TOML parse error at line 3, column 9: invalid basic string"
        );
    }

    #[test]
    fn schemas_dir_defaults_beside_the_config_file_and_may_be_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, VALID).unwrap();
        let c = Config::parse(&path, no_env()).unwrap();
        assert_eq!(c.schemas_dir(), (dir.path().join("schemas"), false));
        assert_eq!(c.schemas.scan_queue, DEFAULT_SCAN_QUEUE);
        std::fs::write(&path, format!("{VALID}\n[schemas]\nscan_queue = 0\n")).unwrap();
        assert_eq!(
            Config::parse(&path, no_env()).unwrap().schemas.scan_queue,
            0
        );
        std::fs::write(&path, format!("{VALID}\n[schemas]\ndir = \"/srv/s\"\n")).unwrap();
        let c = Config::parse(&path, no_env()).unwrap();
        assert_eq!(c.schemas_dir(), (PathBuf::from("/srv/s"), true));
        std::fs::write(&path, format!("{VALID}\n[schemas]\ndir = \"\"\n")).unwrap();
        let c = Config::parse(&path, no_env()).unwrap();
        assert!(c
            .validate()
            .iter()
            .any(|e| e.to_string().contains("schemas.dir")));
    }

    #[test]
    fn mappings_dir_is_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookshift.toml");
        std::fs::write(&path, VALID).unwrap();
        let c = Config::parse(&path, no_env()).unwrap();
        assert_eq!(c.mappings_dir(), dir.path().join("mappings"));
        assert_eq!(c.source(), Some(path.as_path()));
    }

    #[test]
    fn env_key_paths() {
        assert_eq!(
            env_key_to_path("HOOKSHIFT__SERVER__LISTEN").unwrap(),
            "server.listen"
        );
        assert_eq!(
            env_key_to_path("HOOKSHIFT__ROUTES__1__DOWNSTREAM__SECRET").unwrap(),
            "routes[1].downstream.secret"
        );
        assert!(env_key_to_path("HOOKSHIFT__SERVER____LISTEN").is_err());
        assert!(env_key_to_path("HOOKSHIFT__SERVER__A.B").is_err());
    }

    #[test]
    fn workers_default_to_one_per_cpu_and_are_bounded() {
        let c = Config::parse_str(VALID, no_env()).unwrap();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!((c.server.workers, c.server.worker_count()), (0, cpus));
        let c = Config::parse_str(
            &VALID.replace("[server]", "[server]\nworkers = 3"),
            no_env(),
        )
        .unwrap();
        assert_eq!(c.server.worker_count(), 3);
        assert!(c.server.reuse_port, "SO_REUSEPORT by default");
        let errs = errors_of(
            &VALID.replace("[server]", "[server]\nworkers = 5000"),
            no_env(),
        );
        assert_eq!(
            errs,
            ["server.workers: must be at most 1024 (0: one per CPU) (line 3)"],
            "{errs:?}"
        );
    }

    #[test]
    fn ledger_defaults_to_a_file_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookshift.toml");
        std::fs::write(&path, VALID).unwrap();
        let c = Config::parse(&path, no_env()).unwrap();
        assert_eq!(c.ledger.backend, LedgerBackend::File);
        assert_eq!(c.ledger_path(), dir.path().join("hookshift.ledger"));
        assert_eq!(c.ledger.retention_hours, 72);
        assert_eq!(c.ledger.max_entries, 1_000_000);
        assert!(!c.ledger.keep_values);
    }

    #[test]
    fn readiness_defaults_and_bad_values_with_their_lines() {
        let c = Config::parse_str(VALID, no_env()).unwrap();
        assert_eq!(c.routes[0].readiness, ReadinessConfig::default());
        assert_eq!(c.routes[0].readiness.min_pairs, 1_000);
        let text = format!(
            "{VALID}[routes.readiness]\nmin_pairs = 10\nmin_match_ratio = 99.9\nwindow_hours = 0\n"
        );
        let line_of = |key: &str| text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        let errs = errors_of(&text, no_env());
        assert_eq!(
            errs,
            vec![
                format!(
                    "routes[0].readiness.min_match_ratio: 99.9 must be between 0 and 1 (0.999 is 99.9 %) (line {})",
                    line_of("min_match_ratio")
                ),
                format!(
                    "routes[0].readiness.window_hours: must be between 1 and 720 (line {})",
                    line_of("window_hours")
                ),
            ]
        );
    }

    #[test]
    fn ledger_keys_are_checked_and_named() {
        let with = |ledger: &str| format!("{VALID}\n[ledger]\n{ledger}\n");
        let errs = errors_of(&with("backend = \"sqlite\""), no_env());
        assert!(errs[0].starts_with("ledger.backend:"), "{errs:?}");
        let errs = errors_of(&with("retention = 1"), no_env());
        assert!(errs[0].contains("retention"), "{errs:?}");
        let errs = errors_of(&with("retention_hours = 0\nmax_entries = 0"), no_env());
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ledger.retention_hours:")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.starts_with("ledger.max_entries:")),
            "{errs:?}"
        );
        // Off: nothing else is checked.
        assert!(errors_of(&with("backend = \"off\"\nmax_entries = 0"), no_env()).is_empty());
    }

    #[test]
    fn a_redis_ledger_needs_its_url_and_never_shows_it() {
        let toml = format!(
            "{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"env:HOOKSHIFT_TEST_LEDGER_URL\"\n"
        );
        let errs = errors_of(&toml, no_env());
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "ledger.url: environment variable HOOKSHIFT_TEST_LEDGER_URL is not set"
            ),
            "{errs:?}"
        );
        let toml =
            format!("{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"http://user:pw-123@host\"\n");
        let errs = errors_of(&toml, no_env());
        assert!(
            errs[0].starts_with("ledger.url: must start with redis://"),
            "{errs:?}"
        );
        assert!(!errs[0].contains("pw-123"), "{errs:?}");
        let toml =
            format!("{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379/\"\n");
        assert!(errors_of(&toml, no_env()).is_empty());
    }
}
