//! The configuration's types: every table and key of the file, their defaults, and the words an
//! enumerated key accepts. Loading is in `load`, the checks the types cannot express in `validate`.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use serde::{de, Deserialize, Deserializer};

use super::validate::KeyOrigins;
use crate::secret::Secret;

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
    pub(super) source: Option<PathBuf>,
    /// A digest of the exact text read from `source` ([`content_digest`](super::content_digest); not
    /// the text, which may hold inline secrets): the reload watcher's baseline is this, not what the
    /// file holds by the time the server starts (a change in between would otherwise never be
    /// applied).
    #[serde(skip)]
    pub(super) source_digest: Option<u64>,
    /// Where each key was set (file line or environment variable), for error messages.
    #[serde(skip)]
    pub(super) origins: KeyOrigins,
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
    /// (see [`crate::pipeline::output_check`]).
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

/// The sender of a route's webhooks (`routes.provider`), used both to verify inbound and to sign
/// outbound deliveries. What each one's webhooks look like is [`crate::provider`]'s; the configuration
/// knows its name and the form of its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Provider {
    /// extend.ai: `x-extend-request-timestamp` + `x-extend-request-signature`.
    #[default]
    Extend,
    /// Plextera: `X-Plextera-Signature: t=…,v1=…`.
    Plextera,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…` (or `svix-*`).
    Standard,
}

impl TryFrom<String> for Provider {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "extend" => Ok(Provider::Extend),
            "plextera" => Ok(Provider::Plextera),
            "standard" => Ok(Provider::Standard),
            _ => Err(format!(
                "{text:?} is not one of \"extend\", \"plextera\", \"standard\""
            )),
        }
    }
}

impl Provider {
    /// The provider's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Extend => "extend",
            Provider::Plextera => "plextera",
            Provider::Standard => "standard",
        }
    }

    /// Why a configured secret cannot sign or verify this provider's deliveries, naming no part of it.
    pub fn secret_problem(self, secret: &Secret) -> Option<&'static str> {
        match self {
            Provider::Extend | Provider::Plextera => None,
            Provider::Standard => crate::secret::standard_secret_problem(secret.expose()),
        }
    }
}

// Host patterns of `routes.signed_url.allow_hosts`: what one may be, and what it matches.

/// Whether `host` matches one of `patterns`: exactly (case-insensitive, a final `.` ignored), or
/// `*.suffix` for any name below `suffix` (not `suffix` itself).
pub fn host_allowed(patterns: &[String], host: &str) -> bool {
    let host = normalize_host(host);
    patterns.iter().any(|pattern| {
        let pattern = normalize_host(pattern);
        match pattern.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => host == pattern,
        }
    })
}

fn normalize_host(host: &str) -> String {
    let host = host.trim_end_matches('.');
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Why an `allow_hosts` entry is not a host pattern, if it is not.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    let name = normalize_host(pattern);
    let name = name.strip_prefix("*.").unwrap_or(&name);
    if name.parse::<IpAddr>().is_ok() {
        return (pattern.starts_with("*."))
            .then(|| format!("{pattern:?}: a wildcard needs a name"));
    }
    let labels_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    (!labels_ok).then(|| {
        format!("{pattern:?} must be a host name, an IP address or \"*.\" followed by a name (no scheme, port or path)")
    })
}

impl Config {
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
}
