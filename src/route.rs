//! Compiled routes: a `[[routes]]` table turned, once per loaded state, into what the request path
//! needs and nothing else.
//!
//! [`Route::compile`] resolves each sending version's policy into an [`Action`] (with its translation
//! plan), checks that the route's mapping set fits its provider's envelope, and resolves every metric
//! label and handle. A request then looks its version up once and never reads the raw
//! [`RouteConfig`] or builds a label string.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::metrics::SharedString;
use http::Uri;

use crate::config::{ConfigError, Policy, RouteConfig, Secret, SignedUrlConfig, UnmappedAction};
use crate::http::tls::TrustRoots;
use crate::mapping::{Mappings, Plan};
use crate::metrics::{self, EventTypeLabels, RouteMetrics};
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
        // The handler's version is a bounded label value even when no policy names it.
        versions
            .entry(target.clone())
            .or_insert_with(|| SendingVersion {
                action: None,
                label: metrics::shared_label(target),
            });
        let translates = versions
            .values()
            .any(|v| matches!(v.action, Some(Action::Translate(_))));
        let payload_key = config.provider.payload_key();
        if translates && mappings.payload_key() != payload_key {
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
        if !problems.is_empty() {
            return Err(problems);
        }
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
            metrics: RouteMetrics::new(&config.name, target),
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

#[cfg(test)]
mod tests {
    use super::*;

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
