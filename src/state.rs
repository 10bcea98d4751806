//! The running state: a validated configuration together with the mappings it names.
//!
//! A [`State`] is immutable. Reloads build a new one and swap it in (see [`crate::reload`]); each request
//! holds an `Arc<State>` taken when it starts, so it finishes on the configuration it began with.

use std::{collections::HashMap, path::Path, sync::Arc, time::SystemTime};

use crate::config::{Config, ConfigError, Policy, RouteConfig};
use crate::mapping::Mappings;
use crate::schema::{self, Schemas};
use crate::tls::TrustRoots;

/// A configuration and its compiled mappings, checked against each other.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub mappings: Arc<Mappings>,
    /// The CA bundles of routes that name a `downstream.ca_file`, by route name.
    pub trust: HashMap<String, Arc<TrustRoots>>,
    /// The event schemas, when the schemas folder exists: translated events are scanned against
    /// their source version's to count the unknown fields they carry. `None`: only the fields
    /// translations drop are counted.
    pub schemas: Option<Arc<Schemas>>,
    /// When this state was built.
    pub loaded_at: SystemTime,
}

/// Every problem that kept a state from being built, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct StateError {
    pub problems: Vec<String>,
}

impl State {
    /// Loads the configuration at `path` (with environment overrides) and its mappings. Blocking IO.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let config = Config::load(path).map_err(|e| StateError {
            problems: e.0.iter().map(ToString::to_string).collect(),
        })?;
        State::build(config)
    }

    /// Loads the mappings a validated configuration names and checks that every `forward` policy has a
    /// translation path. Blocking IO.
    pub fn build(config: Config) -> Result<State, StateError> {
        let dir = config.mappings_dir();
        let mappings = Mappings::load(&dir).map_err(|e| StateError {
            problems: e
                .0
                .iter()
                .map(|e| format!("mappings ({}): {e}", dir.display()))
                .collect(),
        })?;
        for old in mappings.warnings() {
            tracing::warn!(mappings = %dir.display(), "{old}");
        }
        let mut problems: Vec<String> = plan_problems(&config, &mappings)
            .iter()
            .map(ToString::to_string)
            .collect();
        let (trust, trust_problems) = load_trust(&config);
        problems.extend(trust_problems.iter().map(ToString::to_string));
        let schemas = match load_schemas(&config) {
            Ok(schemas) => schemas,
            Err(e) => {
                problems.extend(e.0.iter().map(|e| format!("schemas.dir: {e}")));
                None
            }
        };
        if !problems.is_empty() {
            return Err(StateError { problems });
        }
        Ok(State {
            config,
            mappings: Arc::new(mappings),
            trust,
            schemas: schemas.map(Arc::new),
            loaded_at: SystemTime::now(),
        })
    }

    /// The route serving a request path.
    pub fn route(&self, path: &str) -> Option<&RouteConfig> {
        self.config.route_for_path(path)
    }
}

/// The schemas folder as `check` finds it: loaded when the configuration names it (then it must
/// load) or the default folder exists. Blocking IO.
pub fn load_schemas(config: &Config) -> Result<Option<Schemas>, schema::SchemaLoadErrors> {
    let (dir, named) = config.schemas_dir();
    if named || dir.exists() {
        Schemas::load(&dir).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads every route's `downstream.ca_file`. Blocking IO.
pub fn load_trust(config: &Config) -> (HashMap<String, Arc<TrustRoots>>, Vec<ConfigError>) {
    let mut trust = HashMap::new();
    let mut problems = Vec::new();
    for (i, route) in config.routes.iter().enumerate() {
        let Some(file) = &route.downstream.ca_file else {
            continue;
        };
        match TrustRoots::from_pem_file(&config.relative_to_source(file)) {
            Ok(roots) => {
                trust.insert(route.name.clone(), Arc::new(roots));
            }
            Err(e) => problems.push(ConfigError::Invalid {
                key: format!("routes[{i}].downstream.ca_file"),
                message: e.to_string(),
            }),
        }
    }
    (trust, problems)
}

/// Every `forward` policy for a version other than the handler's needs a chain of mapping steps.
pub fn plan_problems(config: &Config, mappings: &Mappings) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    for (i, route) in config.routes.iter().enumerate() {
        for (version, policy) in &route.policy {
            if *policy == Policy::Forward && *version != route.downstream.version {
                if let Err(e) = mappings.plan(version, &route.downstream.version) {
                    problems.push(ConfigError::Invalid {
                        key: format!("routes[{i}].policy.{version}"),
                        message: format!("forward needs a translation: {e}"),
                    });
                }
            }
        }
    }
    problems
}

/// Everything `hookshift check` reports: configuration problems, mapping load errors, missing
/// translation paths, failing golden cases and golden events their version's schema refuses. Empty when all is well. Blocking IO.
pub fn check(path: &Path) -> CheckReport {
    let mut report = CheckReport::default();
    let config = match Config::parse(path, std::env::vars()) {
        Ok(config) => config,
        Err(e) => {
            report
                .problems
                .extend(e.0.iter().map(|e| format!("{}: {e}", path.display())));
            return report;
        }
    };
    report.problems.extend(
        config
            .validate()
            .iter()
            .map(|e| format!("{}: {e}", path.display())),
    );
    let dir = config.mappings_dir();
    match Mappings::load(&dir) {
        Err(e) => report.problems.extend(e.0.iter().map(ToString::to_string)),
        Ok(mappings) => {
            report
                .warnings
                .extend(mappings.warnings().iter().map(ToString::to_string));
            report.problems.extend(
                plan_problems(&config, &mappings)
                    .iter()
                    .map(|e| format!("{}: {e}", path.display())),
            );
            report.problems.extend(
                load_trust(&config)
                    .1
                    .iter()
                    .map(|e| format!("{}: {e}", path.display())),
            );
            report.problems.extend(mappings.check_golden());
            report.problems.extend(mappings.check_round_trips());
            report.problems.extend(mappings.check_identities());
            let (schemas_dir, named) = config.schemas_dir();
            if named || schemas_dir.exists() {
                match Schemas::load(&schemas_dir) {
                    Err(e) => report
                        .problems
                        .extend(e.0.iter().map(|e| format!("schemas.dir: {e}"))),
                    Ok(schemas) => {
                        report
                            .problems
                            .extend(schema::check_golden(&schemas, &mappings));
                        report.schemas_dir = Some(schemas_dir.display().to_string());
                    }
                }
            }
        }
    }
    report.routes = config.routes.len();
    report.mappings_dir = Some(dir.display().to_string());
    report
}

/// The result of [`check`].
#[derive(Debug, Default)]
pub struct CheckReport {
    /// One line per problem.
    pub problems: Vec<String>,
    /// One line per old mapping spelling that still loads, with the new spelling (not a failure).
    pub warnings: Vec<String>,
    /// How many routes the configuration declares.
    pub routes: usize,
    /// The mappings directory that was checked.
    pub mappings_dir: Option<String>,
    /// The schemas directory the golden cases were validated against, if there was one.
    pub schemas_dir: Option<String>,
}
