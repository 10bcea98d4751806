//! A real `redis-server` for the ledger tests, started on a free port and stopped when dropped, and a
//! store of either backend.
//!
//! Without `redis-server` on the PATH the Redis cases fail under CI (`CI=true`: `.ci/run` installs it)
//! and are skipped with a message elsewhere.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookshift::config::LedgerBackend;
use hookshift::ledger::{redis::RedisStore, sqlite::SqliteStore, Ledger, Store};

/// A `redis-server` child process listening on 127.0.0.1 at a free port, with no persistence.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts one, or `None` (outside CI) when `redis-server` is not installed.
    pub fn start(dir: &Path) -> Option<RedisServer> {
        let port = free_port();
        let spawned = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("redis-server is needed by the ledger tests in CI: {e}")
            }
            Err(e) => {
                eprintln!("skipping a Redis ledger case: redis-server cannot start ({e})");
                return None;
            }
        };
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A ledger backend under test, with whatever keeps it alive.
pub struct Backend {
    pub kind: LedgerBackend,
    pub dir: tempfile::TempDir,
    pub redis: Option<RedisServer>,
}

impl Backend {
    /// A fresh backend of `kind`, or `None` when Redis is wanted but absent (outside CI).
    pub fn new(kind: LedgerBackend) -> Option<Backend> {
        let dir = tempfile::tempdir().unwrap();
        let redis = match kind {
            LedgerBackend::Redis => Some(RedisServer::start(dir.path())?),
            _ => None,
        };
        Some(Backend { kind, dir, redis })
    }

    /// A new store over this backend (several stores share it, like replicas or restarts; a ledger file
    /// is held by one store at a time).
    pub fn store(&self) -> Store {
        match self.kind {
            LedgerBackend::Redis => Store::Redis(Box::new(
                RedisStore::new(self.redis.as_ref().unwrap().url().as_bytes()).unwrap(),
            )),
            _ => {
                Store::Sqlite(SqliteStore::open(&self.dir.path().join("hookshift.ledger")).unwrap())
            }
        }
    }

    /// The `[ledger]` table of a hookshift configuration on this backend.
    pub fn ledger_toml(&self) -> String {
        match &self.redis {
            Some(redis) => format!("[ledger]\nbackend = \"redis\"\nurl = {:?}\n", redis.url()),
            None => format!(
                "[ledger]\nbackend = \"file\"\npath = {:?}\n",
                self.dir
                    .path()
                    .join("hookshift.ledger")
                    .display()
                    .to_string()
            ),
        }
    }

    /// A ledger over a new store.
    pub fn ledger(&self, retention_ms: u64, max_entries: u64) -> Ledger {
        Ledger::with_store(self.store(), self.kind, retention_ms, max_entries, false)
    }

    /// A second replica beside `first`: a ledger over a new store on Redis. A ledger file is written
    /// by one server, whose requests race within it: `first` itself.
    pub fn replica(&self, first: &Arc<Ledger>, retention_ms: u64, max_entries: u64) -> Arc<Ledger> {
        match self.kind {
            LedgerBackend::Redis => Arc::new(self.ledger(retention_ms, max_entries)),
            _ => Arc::clone(first),
        }
    }
}

/// Runs `$body` once per backend: `mod $name { file, redis }` test functions taking a [`Backend`].
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn file() {
                let backend =
                    Backend::new(hookshift::config::LedgerBackend::File).expect("file backend");
                ($body)(backend).await;
            }

            #[tokio::test]
            async fn redis() {
                if let Some(backend) = Backend::new(hookshift::config::LedgerBackend::Redis) {
                    ($body)(backend).await;
                }
            }
        }
    };
}
pub(crate) use both_backends;
