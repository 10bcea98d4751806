//! The running state: a validated configuration, the mapping sets it names (the global one and each
//! route's own, each loaded once) and its routes compiled against them (`crate::route`).
//!
//! A [`State`] is immutable. Reloads build a new one and swap it in (see [`crate::reload`]); each request
//! holds an `Arc<State>` taken when it starts, so it finishes on the configuration it began with.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use crate::config::{Config, ConfigError};
use crate::mapping::Mappings;
use crate::metrics::EventTypeLabels;
use crate::outbound::tls::TrustRoots;
use crate::route::Route;
use crate::schema::{self, Schemas};

/// A configuration, its mappings and its compiled routes, checked against each other.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    /// The global mapping set (`mappings.dir`).
    pub mappings: Arc<Mappings>,
    /// The routes, compiled, in configuration order.
    pub(crate) routes: Vec<Route>,
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

    /// Loads the mapping sets a validated configuration names and compiles its routes against them
    /// (every `forward` policy needs a translation path, every translating route mappings written for
    /// its provider). Blocking IO.
    pub fn build(config: Config) -> Result<State, StateError> {
        let sets = MappingSets::load(&config);
        for (dir, set) in &sets.loaded {
            for old in set.mappings.warnings() {
                tracing::warn!(mappings = %dir.display(), "{old}");
            }
        }
        let mut problems = sets.problems.clone();
        let (mut trust, trust_problems) = load_trust(&config);
        problems.extend(trust_problems.iter().map(ToString::to_string));
        let schemas = match load_schemas(&config) {
            Ok(schemas) => schemas,
            Err(e) => {
                problems.extend(e.0.iter().map(|e| format!("schemas.dir: {e}")));
                None
            }
        };
        let global = sets.get(&config.mappings_dir());
        let mut routes = Vec::with_capacity(config.routes.len());
        if let Some(global) = &global {
            for (i, route) in config.routes.iter().enumerate() {
                let Some(set) = sets.get(&config.route_mappings_dir(route)) else {
                    continue;
                };
                match Route::compile(
                    i,
                    route,
                    set.mappings,
                    set.event_types,
                    trust.remove(&route.name),
                ) {
                    Ok(route) => routes.push(route),
                    Err(e) => problems.extend(e.iter().map(ToString::to_string)),
                }
            }
            if problems.is_empty() {
                return Ok(State {
                    config,
                    mappings: Arc::clone(&global.mappings),
                    routes,
                    schemas: schemas.map(Arc::new),
                    loaded_at: SystemTime::now(),
                });
            }
        }
        Err(StateError { problems })
    }

    /// The route serving a request path.
    pub(crate) fn route(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.path == path)
    }
}

/// One loaded mapping set and its metric labels.
#[derive(Debug, Clone)]
struct MappingSet {
    mappings: Arc<Mappings>,
    event_types: Arc<EventTypeLabels>,
}

/// Every mapping set a configuration names (the global one and each route's own), each loaded once.
#[derive(Debug, Default)]
struct MappingSets {
    loaded: Vec<(PathBuf, MappingSet)>,
    /// Load errors, one line each, naming the folder.
    problems: Vec<String>,
}

impl MappingSets {
    fn load(config: &Config) -> MappingSets {
        let mut sets = MappingSets::default();
        for dir in config.mappings_dirs() {
            match Mappings::load(&dir) {
                Ok(mappings) => {
                    let event_types = Arc::new(EventTypeLabels::new(mappings.known_event_types()));
                    let set = MappingSet {
                        mappings: Arc::new(mappings),
                        event_types,
                    };
                    sets.loaded.push((dir, set));
                }
                Err(e) => sets.problems.extend(
                    e.0.iter()
                        .map(|e| format!("mappings ({}): {e}", dir.display())),
                ),
            }
        }
        sets
    }

    fn get(&self, dir: &Path) -> Option<MappingSet> {
        self.loaded
            .iter()
            .find(|(d, _)| d == dir)
            .map(|(_, set)| set.clone())
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
    let sets = MappingSets::load(&config);
    report.problems.extend(sets.problems.iter().cloned());
    for (i, route) in config.routes.iter().enumerate() {
        let Some(set) = sets.get(&config.route_mappings_dir(route)) else {
            continue;
        };
        if let Err(e) = Route::compile(i, route, set.mappings, set.event_types, None) {
            report
                .problems
                .extend(e.iter().map(|e| format!("{}: {e}", path.display())));
        }
    }
    report.problems.extend(
        load_trust(&config)
            .1
            .iter()
            .map(|e| format!("{}: {e}", path.display())),
    );
    let schemas = if sets.loaded.is_empty() {
        None
    } else {
        let (schemas_dir, named) = config.schemas_dir();
        if named || schemas_dir.exists() {
            match Schemas::load(&schemas_dir) {
                Err(e) => {
                    report
                        .problems
                        .extend(e.0.iter().map(|e| format!("schemas.dir: {e}")));
                    None
                }
                Ok(schemas) => {
                    report.schemas_dir = Some(schemas_dir.display().to_string());
                    Some(schemas)
                }
            }
        } else {
            None
        }
    };
    for (_, set) in &sets.loaded {
        let mappings = &set.mappings;
        report
            .warnings
            .extend(mappings.warnings().iter().map(ToString::to_string));
        report.problems.extend(mappings.check_coverage());
        report.problems.extend(mappings.check_golden());
        report.problems.extend(mappings.check_round_trips());
        report.problems.extend(mappings.check_identities());
        // The schemas describe Extend's events: a set written for another envelope has none.
        if let Some(schemas) = &schemas {
            if mappings.payload_key() == crate::mapping::DEFAULT_PAYLOAD_KEY {
                for version in mappings.versions() {
                    if !schemas.versions().any(|v| v == version) {
                        report.problems.push(format!(
                            "schemas.dir {}: no schemas for version {version} yet: write {}/{version}/ so the golden events of its steps are validated",
                            schemas.dir().display(),
                            schemas.dir().display()
                        ));
                    }
                }
                report
                    .problems
                    .extend(schema::check_golden(schemas, mappings));
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
