//! Stage `policy`: the sending version a request names (`?<version_param>=`, else the route's default)
//! and what the route's policy does with events from it: forward (pass or translate), ack, reject, or
//! nothing configured (400). Read from the request line alone, before any body byte: every answer,
//! a refusal of the body too, is then counted under the version's bounded label.

use ::metrics::SharedString;

use crate::route::{Action, Route};

/// The policy one event goes on under.
pub(super) struct Policy<'r> {
    /// The sending version, as the request named it.
    pub version: String,
    /// Its compiled action (`None`: no policy names the version).
    pub action: Option<&'r Action>,
    /// The bounded `api_version` label of the version.
    pub label: SharedString,
}

impl<'r> Policy<'r> {
    /// The policy of a request to `route` with this query string.
    pub fn of_request(route: &'r Route, query: Option<&str>) -> Policy<'r> {
        let version = route.sending_version(query);
        let decision = route.decide(&version);
        Policy {
            version,
            action: decision.action,
            label: decision.api_version,
        }
    }

    /// The policy of an event accepted for delivery earlier (a quarantined one): `action` says how it
    /// reaches the handler's version, whatever the route's policy says of `version` today.
    pub fn forward(route: &Route, version: &str, action: &'r Action) -> Policy<'r> {
        Policy {
            version: version.to_owned(),
            action: Some(action),
            label: route.decide(version).api_version,
        }
    }
}
