//! Compiled routes: a `[[routes]]` table turned, once per loaded state, into what the request path
//! needs and nothing else.
//!
//! [`Route::compile`] resolves each sending version's policy into an [`Action`] (with its translation
//! plan), checks that the route's mapping set fits its provider's envelope, and resolves every metric
//! label and handle: it is where every per-route series is registered at zero, so a route a reload
//! adds has the same series as one present at start. A request then looks its version up once and never reads the raw
//! [`RouteConfig`] or builds a label string.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::metrics::SharedString;
use http::Uri;

use crate::config::{ConfigError, Policy, RouteConfig, Secret, SignedUrlConfig, UnmappedAction};
use crate::ledger::quarantine::ReplayResult;
use crate::ledger::Side;
use crate::mapping::{Mappings, Plan};
use crate::metrics::{self, EventTypeLabels, RouteMetrics, RouteSeries};
use crate::outbound::fetch::FetchResult;
use crate::outbound::tls::TrustRoots;
use crate::provider::{Provider, VerifyParams};

/// What the route does with an event from one sending version.
#[derive(Debug)]
pub(crate) enum Action {
    /// `ack`: answer 200, deliver nothing.
    Ack,
    /// `reject`: answer 400 so that the sender retries later.
    Reject,
    /// `forward` in the handler's own version: deliver the received bytes, re-signed.
    Pass,
    /// `forward` from another version: translate along the plan, then deliver.
    Translate(Plan),
}

/// One sending version as the route knows it.
#[derive(Debug)]
struct SendingVersion {
    /// `None`: the version has no policy (answered 400).
    action: Option<Action>,
    /// Its `api_version` label value.
    label: SharedString,
}

/// What a route decided for a sending version: the action (none when no policy names the version)
/// and the `api_version` label its requests are counted under.
#[derive(Debug)]
pub(crate) struct Decision<'r> {
    pub action: Option<&'r Action>,
    pub api_version: SharedString,
}

/// The handler a route delivers to.
#[derive(Debug)]
pub(crate) struct Downstream {
    pub url: Uri,
    /// The API version the handler speaks.
    pub version: String,
    pub secret: Secret,
    pub timeout: Duration,
    /// The roots an `https://` handler's certificate must chain to; `None`: Mozilla's root program.
    pub trust: Option<Arc<TrustRoots>>,
}

/// A route ready to serve requests.
#[derive(Debug)]
pub(crate) struct Route {
    pub name: String,
    pub path: String,
    pub provider: Provider,
    inbound_secrets: Vec<Secret>,
    tolerance_secs: u64,
    version_param: String,
    default_version: String,
    versions: HashMap<String, SendingVersion>,
    pub unmapped: UnmappedAction,
    pub downstream: Downstream,
    pub signed_url: SignedUrlConfig,
    /// The `event_type` labels of that mapping set.
    pub event_types: Arc<EventTypeLabels>,
    pub metrics: RouteMetrics,
    /// The route's mapping set (the ledger reads identities and plans from it).
    pub mappings: Arc<Mappings>,
    pub on_translation_failure: crate::config::TranslationFailure,
}

impl Route {
    /// Compiles `routes[index]` against its mapping set: every `forward` from a version other than
    /// the handler's needs a plan, and a route that translates needs mappings written for its
    /// provider's envelope. Every problem is reported, each naming its key.
    pub fn compile(
        index: usize,
        config: &RouteConfig,
        mappings: Arc<Mappings>,
        event_types: Arc<EventTypeLabels>,
        trust: Option<Arc<TrustRoots>>,
    ) -> Result<Route, Vec<ConfigError>> {
        let mut problems = Vec::new();
        let target = &config.downstream.version;
        let versions = sending_versions(index, config, &mappings, &mut problems);
        let translates = versions
            .values()
            .any(|v| matches!(v.action, Some(Action::Translate(_))));
        if translates {
            problems.extend(envelope_mismatches(index, config, &mappings));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let metrics = RouteMetrics::register(&RouteSeries {
            route: &config.name,
            target_version: target,
            api_versions: versions.keys().map(String::as_str).collect(),
            paired_event_types: mappings.identities().event_types(target),
            fetch_results: metrics::values::<FetchResult>().collect(),
            unpaired_sides: metrics::values::<Side>().collect(),
            replay_results: metrics::values::<ReplayResult>().collect(),
        });
        Ok(Route {
            name: config.name.clone(),
            path: config.path.clone(),
            provider: config.provider,
            inbound_secrets: config.inbound_secrets.clone(),
            tolerance_secs: config.timestamp_tolerance_secs,
            version_param: config.version_param.clone(),
            default_version: config.default_version.clone(),
            versions,
            unmapped: config.unmapped,
            downstream: Downstream {
                url: config.downstream.url.clone(),
                version: target.clone(),
                secret: config.downstream.secret.clone(),
                timeout: Duration::from_millis(config.downstream.timeout_ms),
                trust,
            },
            signed_url: config.signed_url.clone(),
            event_types,
            metrics,
            mappings,
            on_translation_failure: config.on_translation_failure,
        })
    }

    /// The sending version of a request: `?<version_param>=` when present and non-empty, else the
    /// route's default.
    pub fn sending_version(&self, query: Option<&str>) -> String {
        query_param(query, &self.version_param)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.default_version.clone())
    }

    /// What to do with an event from `version`.
    pub fn decide(&self, version: &str) -> Decision<'_> {
        match self.versions.get(version) {
            Some(known) => Decision {
                action: known.action.as_ref(),
                api_version: known.label.clone(),
            },
            None => Decision {
                action: None,
                api_version: SharedString::const_str(metrics::OTHER),
            },
        }
    }

    /// Every sending version a policy names.
    pub fn policy_versions(&self) -> impl Iterator<Item = &str> {
        self.versions
            .iter()
            .filter(|(_, v)| v.action.is_some())
            .map(|(k, _)| k.as_str())
    }

    /// How this route verifies a delivery at `now` (unix seconds).
    pub fn verify_params(&self, now: i64) -> VerifyParams<'_> {
        VerifyParams {
            provider: self.provider,
            secrets: &self.inbound_secrets,
            tolerance_secs: self.tolerance_secs,
            now,
        }
    }
}

/// The first value of query parameter `name`, percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Each sending version of `config.policy` with its action and label, plus the handler's own
/// version (a bounded label value even when no policy names it). A `forward` with no translation
/// plan is a problem, and its version is left out.
fn sending_versions(
    index: usize,
    config: &RouteConfig,
    mappings: &Mappings,
    problems: &mut Vec<ConfigError>,
) -> HashMap<String, SendingVersion> {
    let target = &config.downstream.version;
    let mut versions = HashMap::new();
    for (version, policy) in &config.policy {
        let action = match policy {
            Policy::Ack => Action::Ack,
            Policy::Reject => Action::Reject,
            Policy::Forward if version == target => Action::Pass,
            Policy::Forward => match mappings.plan(version, target) {
                Ok(plan) => Action::Translate(plan.clone()),
                Err(e) => {
                    problems.push(ConfigError::Invalid {
                        key: format!("routes[{index}].policy.{version}"),
                        message: format!("forward needs a translation: {e}"),
                    });
                    continue;
                }
            },
        };
        versions.insert(
            version.clone(),
            SendingVersion {
                action: Some(action),
                label: metrics::shared_label(version),
            },
        );
    }
    versions
        .entry(target.clone())
        .or_insert_with(|| SendingVersion {
            action: None,
            label: metrics::shared_label(target),
        });
    versions
}

/// Where a translating route's mapping set was written for another provider's envelope: a
/// different payload member or event-type member would make every translation miss.
fn envelope_mismatches(
    index: usize,
    config: &RouteConfig,
    mappings: &Mappings,
) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    let payload_key = config.provider.payload_key();
    if mappings.payload_key() != payload_key {
        problems.push(ConfigError::Invalid {
            key: format!("routes[{index}].mappings"),
            message: format!(
                "the mappings in {} rewrite the envelope member `{}`, but {} events carry their \
                 payload in `{payload_key}`: name a mapping set written for {} (mappings = \"DIR\")",
                mappings.dir().display(),
                mappings.payload_key(),
                config.provider.as_str(),
                config.provider.as_str(),
            ),
        });
    }
    let event_type_key = config.provider.event_type_key();
    if mappings.event_type_key() != event_type_key {
        problems.push(ConfigError::Invalid {
            key: format!("routes[{index}].mappings"),
            message: format!(
                "the mappings in {} read the event type from `{}`, but {} events name it in \
                 `{event_type_key}`: name a mapping set written for {} (mappings = \"DIR\")",
                mappings.dir().display(),
                mappings.event_type_key(),
                config.provider.as_str(),
                config.provider.as_str(),
            ),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const ROUTE: &str = r#"
[server]
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9464"

[mappings]
dir = "mappings"

[[routes]]
name = "compiled"
path = "/hooks/compiled"
inbound_secrets = ["wss_in"]
default_version = "2025-04-21"
[routes.downstream]
url = "http://127.0.0.1:3000/webhooks"
version = "2026-02-09"
secret = "wss_out"
[routes.policy]
"2025-04-21" = "forward"
"2026-02-09" = "forward"
"2024-01-01" = "reject"
"2023-01-01" = "ack"
"#;

    fn mappings(relative: &str) -> Arc<Mappings> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        Arc::new(Mappings::load(&dir).unwrap())
    }

    fn compile(toml: &str, mappings: Arc<Mappings>) -> Result<Route, Vec<ConfigError>> {
        let config = Config::parse_str(toml, Vec::new()).unwrap();
        let labels = Arc::new(EventTypeLabels::new(mappings.known_event_types()));
        Route::compile(0, &config.routes[0], mappings, labels, None)
    }

    #[test]
    fn each_sending_version_gets_its_action_and_label_once() {
        let route = compile(ROUTE, mappings("mappings")).unwrap();
        let action = |version: &str| route.decide(version).action;
        assert!(
            matches!(action("2025-04-21"), Some(Action::Translate(plan)) if plan.to() == "2026-02-09")
        );
        assert!(matches!(action("2026-02-09"), Some(Action::Pass)));
        assert!(matches!(action("2024-01-01"), Some(Action::Reject)));
        assert!(matches!(action("2023-01-01"), Some(Action::Ack)));
        assert!(action("1999-01-01").is_none());
        // Versions the configuration names are their own label; any other is `other`.
        assert_eq!(&*route.decide("2024-01-01").api_version, "2024-01-01");
        assert_eq!(&*route.decide("1999-01-01").api_version, metrics::OTHER);
        assert_eq!(route.sending_version(None), "2025-04-21");
        assert_eq!(
            route.sending_version(Some("api_version=2026-02-09")),
            "2026-02-09"
        );
        assert_eq!(route.sending_version(Some("api_version=")), "2025-04-21");
    }

    #[test]
    fn the_handlers_version_without_policy_is_a_known_label_but_no_action() {
        let toml = ROUTE.replace("\"2026-02-09\" = \"forward\"\n", "");
        let route = compile(&toml, mappings("mappings")).unwrap();
        let decision = route.decide("2026-02-09");
        assert!(decision.action.is_none());
        assert_eq!(&*decision.api_version, "2026-02-09");
    }

    #[test]
    fn forward_without_a_plan_and_mappings_of_another_envelope_are_refused() {
        let no_plan = ROUTE.replace(
            "\"2024-01-01\" = \"reject\"",
            "\"2024-01-01\" = \"forward\"",
        );
        let problems = compile(&no_plan, mappings("mappings")).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .to_string()
                .contains("routes[0].policy.2024-01-01"),
            "{problems:?}"
        );

        let plextera = ROUTE.replace(
            "inbound_secrets",
            "provider = \"plextera\"\ninbound_secrets",
        );
        let problems = compile(&plextera, mappings("mappings")).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = problems[0].to_string();
        assert!(problem.contains("routes[0].mappings"), "{problem}");
        assert!(
            problem.contains("rewrite the envelope member `payload`"),
            "{problem}"
        );

        // The Plextera set fits a Plextera route.
        let plextera_set = plextera
            .replace("2025-04-21", "v1")
            .replace("2026-02-09", "v2")
            .replace(
                "\"2024-01-01\" = \"reject\"\n\"2023-01-01\" = \"ack\"\n",
                "",
            );
        let route = compile(&plextera_set, mappings("tests/mappings-plextera")).unwrap();
        assert!(matches!(
            route.decide("v1").action,
            Some(Action::Translate(_))
        ));
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("api_version=2026-02-09"), "api_version").as_deref(),
            Some("2026-02-09")
        );
        assert_eq!(
            query_param(Some("a=1&api_version=x%2Dy&api_version=z"), "api_version").as_deref(),
            Some("x-y")
        );
        assert_eq!(query_param(Some("a=1"), "api_version"), None);
        assert_eq!(query_param(None, "api_version"), None);
        assert_eq!(
            query_param(Some("api_version"), "api_version").as_deref(),
            Some("")
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }
}
