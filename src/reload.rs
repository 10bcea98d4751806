//! Hot reload: the swappable holder of the running [`State`], and the task that rebuilds it on SIGHUP or
//! when the config file or mappings directory change.
//!
//! Changes are detected by hashing the *content* of the config file and of every file under the mappings
//! directory (following symlinks, skipping Kubernetes' `..data`-style internals), so a ConfigMap's atomic
//! symlink swap is seen like any edit. A new state that fails to build is refused: its problems are
//! logged, `hookshift_config_reloads_total{result="failure"}` is counted, and the running state stays.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::content_digest;
use crate::metrics;
use crate::state::{State, StateError};

/// The running state, swapped whole on reload.
#[derive(Debug)]
pub struct Shared {
    current: ArcSwap<State>,
    config_path: Option<PathBuf>,
    draining: AtomicBool,
    /// Marked changed each time a reload swaps in a new state.
    swapped: watch::Sender<()>,
}

impl Shared {
    /// Holds `state`; reloads re-read the file it was loaded from.
    pub fn new(state: State) -> Shared {
        let config_path = state.config.source().map(Path::to_path_buf);
        Shared {
            current: ArcSwap::from_pointee(state),
            config_path,
            draining: AtomicBool::new(false),
            swapped: watch::Sender::new(()),
        }
    }

    /// Sees a change each time a reload swaps in a new state (for what copies parts of it, such as
    /// the server's limits).
    pub fn swaps(&self) -> watch::Receiver<()> {
        self.swapped.subscribe()
    }

    /// A snapshot of the running state; hold it for the whole request.
    pub fn load(&self) -> Arc<State> {
        self.current.load_full()
    }

    /// The config file reloads read, if the state came from one.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// Marks the process as shutting down (`/readyz` answers 503).
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Rebuilds the state from the config file and swaps it in; on failure the running state stays.
    /// Records the attempt in the reload metrics and logs it. Blocking IO.
    pub fn reload(&self, trigger: &str) -> Result<(), StateError> {
        let Some(path) = self.config_path.as_deref() else {
            return Err(StateError {
                problems: vec!["the configuration was not read from a file".to_owned()],
            });
        };
        match State::load(path) {
            Ok(state) => {
                let old = self.current.load();
                if old.config.server.listen != state.config.server.listen
                    || old.config.server.admin_listen != state.config.server.admin_listen
                {
                    tracing::warn!("server.listen / server.admin_listen changed: listeners are not reloadable, restart to apply");
                }
                if old.config.server.workers != state.config.server.workers
                    || old.config.server.reuse_port != state.config.server.reuse_port
                {
                    tracing::warn!(
                        "server.workers / server.reuse_port changed: not reloadable, restart to apply"
                    );
                }
                if old.config.server.log_format != state.config.server.log_format {
                    tracing::warn!("server.log_format changed: not reloadable, restart to apply");
                }
                let routes = state.config.routes.len();
                // A route added by the reload registered its series when it was compiled.
                metrics::record_reload(true, unix_seconds(state.loaded_at));
                self.current.store(Arc::new(state));
                self.swapped.send_replace(());
                tracing::info!(trigger, routes, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                metrics::record_reload(false, 0.0);
                for problem in &e.problems {
                    tracing::error!(trigger, problem = %problem, "invalid configuration");
                }
                tracing::error!(
                    trigger,
                    problems = e.problems.len(),
                    "configuration reload refused; the running configuration stays"
                );
                Err(e)
            }
        }
    }
}

/// Unix seconds of a point in time, as a metric value.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Watches for SIGHUP and for changes of the config file and mappings directory until `stop` turns true.
///
/// `baseline` is the [`fingerprint`] taken when the running state was built (before its mappings were
/// read); `None` takes it now, and a change made since the state was built is then not seen until the
/// next one.
pub async fn watch(shared: Arc<Shared>, mut stop: watch::Receiver<bool>, baseline: Option<u64>) {
    let Some(config_path) = shared.config_path().map(Path::to_path_buf) else {
        return;
    };
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload on file change only");
            None
        }
    };
    let mut last = match baseline {
        Some(fingerprint) => fingerprint,
        None => fingerprint_now(&shared, &config_path).await,
    };
    loop {
        let poll_ms = shared.load().config.server.reload_poll_ms;
        let tick = async {
            if poll_ms == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_millis(poll_ms)).await
            }
        };
        #[cfg(unix)]
        let hup = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup = std::future::pending::<Option<()>>();

        let trigger = tokio::select! {
            _ = stop.changed() => return,
            _ = hup => "sighup",
            _ = tick => {
                let now = fingerprint_now(&shared, &config_path).await;
                if now == last {
                    continue;
                }
                "file change"
            }
        };
        // Take the fingerprint before reading, so a change made during the reload triggers another one.
        last = fingerprint_now(&shared, &config_path).await;
        let shared = Arc::clone(&shared);
        let outcome = tokio::task::spawn_blocking(move || shared.reload(trigger)).await;
        if let Err(e) = outcome {
            tracing::error!(error = %e, "reload task failed");
        }
    }
}

async fn fingerprint_now(shared: &Shared, config_path: &Path) -> u64 {
    let mappings_dirs = shared.load().config.mappings_dirs();
    let config_path = config_path.to_path_buf();
    tokio::task::spawn_blocking(move || fingerprint_all(&config_path, &mappings_dirs))
        .await
        .unwrap_or_default()
}

/// A hash of the content of the config file and of every file under the mappings directory.
pub fn fingerprint(config_path: &Path, mappings_dir: &Path) -> u64 {
    fingerprint_all(
        config_path,
        std::slice::from_ref(&mappings_dir.to_path_buf()),
    )
}

/// [`fingerprint`] over several mapping folders: the global one and each route's own
/// ([`crate::config::Config::mappings_dirs`]).
pub fn fingerprint_all(config_path: &Path, mappings_dirs: &[std::path::PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_file(&mut hasher, config_path);
    for dir in mappings_dirs {
        hash_dir(&mut hasher, dir, 0);
    }
    hasher.finish()
}

/// [`fingerprint_all`] with the config file's content as it was parsed (its [`content_digest`])
/// instead of as it is now: the baseline of a server whose configuration was read before it started.
pub fn fingerprint_parsed(
    config_path: &Path,
    config_digest: u64,
    mappings_dirs: &[std::path::PathBuf],
) -> u64 {
    let mut hasher = DefaultHasher::new();
    config_path.hash(&mut hasher);
    config_digest.hash(&mut hasher);
    for dir in mappings_dirs {
        hash_dir(&mut hasher, dir, 0);
    }
    hasher.finish()
}

fn hash_file(hasher: &mut DefaultHasher, path: &Path) {
    path.hash(hasher);
    match std::fs::read(path) {
        Ok(bytes) => content_digest(&bytes).hash(hasher),
        Err(e) => e.kind().hash(hasher),
    }
}

/// The folder of a mapping step that holds its golden cases.
const GOLDEN_DIR: &str = "golden";

fn hash_dir(hasher: &mut DefaultHasher, dir: &Path, depth: usize) {
    const MAX_DEPTH: usize = 8;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            dir.hash(hasher);
            e.kind().hash(hasher);
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with(".."))
        // Golden cases are read by `hookshift check`, never by a running server: hashing them on
        // every poll cost megabytes of reads for nothing.
        .filter(|entry| entry.file_name() != GOLDEN_DIR)
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    for path in paths {
        // `metadata` follows symlinks, as reading does.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() && depth < MAX_DEPTH => hash_dir(hasher, &path, depth + 1),
            Ok(meta) if meta.is_dir() => path.hash(hasher),
            _ => hash_file(hasher, &path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parsed_text_is_the_baseline_and_golden_cases_are_not_watched() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.toml");
        std::fs::write(&config, "a = 1").unwrap();
        let mappings = root.path().join("mappings");
        std::fs::create_dir_all(mappings.join("step/golden")).unwrap();
        std::fs::write(mappings.join("step/rules.toml"), "x").unwrap();
        let dirs = [mappings.clone()];
        let now = fingerprint_all(&config, &dirs);
        assert_eq!(
            fingerprint_parsed(&config, content_digest(b"a = 1"), &dirs),
            now
        );
        // Parsed before the file changed: the watcher sees a change to reload.
        assert_ne!(
            fingerprint_parsed(&config, content_digest(b"a = 0"), &dirs),
            now
        );
        std::fs::write(mappings.join("step/golden/case.input.json"), "{}").unwrap();
        assert_eq!(fingerprint_all(&config, &dirs), now);
    }

    #[test]
    fn fingerprint_follows_content_and_symlink_swaps() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("config.toml");
        std::fs::write(&config, "a = 1").unwrap();
        let mappings = root.path().join("mappings");
        std::fs::create_dir_all(mappings.join("step")).unwrap();
        std::fs::write(mappings.join("step/rules.toml"), "x").unwrap();
        let first = fingerprint(&config, &mappings);
        assert_eq!(first, fingerprint(&config, &mappings));

        std::fs::write(mappings.join("step/rules.toml"), "y").unwrap();
        let second = fingerprint(&config, &mappings);
        assert_ne!(first, second);

        std::fs::write(&config, "a = 2").unwrap();
        assert_ne!(second, fingerprint(&config, &mappings));

        // A Kubernetes-style mount: config.toml -> ..data/config.toml, ..data -> ..v1, swapped to ..v2.
        let mount = root.path().join("mount");
        std::fs::create_dir_all(mount.join("..v1")).unwrap();
        std::fs::create_dir_all(mount.join("..v2")).unwrap();
        std::fs::write(mount.join("..v1/config.toml"), "v = 1").unwrap();
        std::fs::write(mount.join("..v2/config.toml"), "v = 2").unwrap();
        std::os::unix::fs::symlink("..v1", mount.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/config.toml", mount.join("config.toml")).unwrap();
        let linked = mount.join("config.toml");
        let before = fingerprint(&linked, &mappings);
        std::fs::remove_file(mount.join("..data")).unwrap();
        std::os::unix::fs::symlink("..v2", mount.join("..data")).unwrap();
        assert_ne!(before, fingerprint(&linked, &mappings));
    }
}
