//! History in Redis, shared by replicas: per route and hour three hashes,
//!
//! - `hookshift:history:c:<route>:<hour>`: counter name → value (`HINCRBY`);
//! - `hookshift:history:p:<route>:<hour>`: mismatched path → pairs (`HINCRBY`);
//! - `hookshift:history:x:<route>:<hour>`: mismatched path → the first pair's event ids (`HSETNX`);
//!
//! each expiring `keep_hours` after its hour. Paths are added by a script ([`ADD_PATHS`]) that keeps at
//! most [`MAX_STORED_PATHS`] per hour whatever the replicas add. A flush is one pipeline (`MULTI`), so a replica's counts
//! of one flush land together; route names hold no `:` (`[a-z0-9_-]+`).

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

use super::{PathTally, Tally, MAX_STORED_PATHS, OTHER_PATHS};
use crate::ledger::LedgerError;

/// Deadline of one round trip (and of one connection attempt).
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Hours read per pipeline.
const READ_CHUNK: usize = 64;
/// Separates the two event ids of an example.
const ID_SEPARATOR: char = '\u{1f}';
/// Adds mismatched paths to an hour: `KEYS` its pairs and examples hashes, `ARGV` the bound, the
/// other-paths field, the expiry, then (path, pairs, example) triples. A path the hour does not hold
/// yet counts under the other-paths field once the hour holds the bound.
const ADD_PATHS: &str = r"
local bound, other, expire_at = tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i = 4, #ARGV, 3 do
  local path = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], path) == 0 then
    local held = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], other)
    if held >= bound then path = other end
  end
  redis.call('HINCRBY', KEYS[1], path, ARGV[i + 1])
  redis.call('HSETNX', KEYS[2], path, ARGV[i + 2])
end
redis.call('EXPIREAT', KEYS[1], expire_at)
redis.call('EXPIREAT', KEYS[2], expire_at)
return 0
";

/// The history keys of a Redis ledger.
pub struct RedisHistory {
    client: ::redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
}

fn key(kind: char, route: &str, hour: u64) -> String {
    format!("hookshift:history:{kind}:{route}:{hour}")
}

async fn timed<T>(
    work: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, LedgerError> {
    crate::ledger::redis::timed_within(COMMAND_TIMEOUT, work).await
}

impl RedisHistory {
    /// History for the server at `url` (`redis://…`); connects on first use.
    pub fn new(url: &[u8]) -> Result<RedisHistory, LedgerError> {
        let url = std::str::from_utf8(url)
            .map_err(|_| LedgerError::Redis("ledger.url is not UTF-8".into()))?;
        // The parse error would quote the URL (and its password): say only that it is malformed.
        let client = ::redis::Client::open(url)
            .map_err(|_| LedgerError::Redis("ledger.url is not a valid Redis URL".into()))?;
        Ok(RedisHistory {
            client,
            connection: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, LedgerError> {
        let mut slot = self.connection.lock().await;
        if let Some(manager) = &*slot {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(1);
        let manager = timed(ConnectionManager::new_with_config(
            self.client.clone(),
            config,
        ))
        .await?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// Adds `tally`, in one transaction.
    pub async fn add(&self, tally: &Tally, keep_hours: u64) -> Result<(), LedgerError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for (route, hours) in &tally.routes {
            for (hour, bucket) in hours {
                let expire_at = (hour + keep_hours + 1) * 3_600;
                if !bucket.counts.is_empty() {
                    let counts = key('c', route, *hour);
                    for (name, value) in &bucket.counts {
                        pipe.hincr(&counts, name, *value).ignore();
                    }
                    pipe.expire_at(&counts, expire_at as i64).ignore();
                }
                if !bucket.paths.is_empty() {
                    // One script per hour: the bound holds whatever other replicas add meanwhile.
                    let command = pipe
                        .cmd("EVAL")
                        .arg(ADD_PATHS)
                        .arg(2)
                        .arg(key('p', route, *hour))
                        .arg(key('x', route, *hour))
                        .arg(MAX_STORED_PATHS)
                        .arg(OTHER_PATHS)
                        .arg(expire_at);
                    for (path, t) in &bucket.paths {
                        let ids = format!(
                            "{}{ID_SEPARATOR}{}",
                            t.native_event_id, t.translated_event_id
                        );
                        command.arg(path).arg(t.pairs).arg(ids);
                    }
                    command.ignore();
                }
            }
        }
        let mut connection = self.connection().await?;
        timed(pipe.query_async::<()>(&mut connection)).await
    }

    /// The buckets of `routes` from `from_hour` to `to_hour`.
    pub async fn read(
        &self,
        routes: &[String],
        from_hour: u64,
        to_hour: u64,
    ) -> Result<Tally, LedgerError> {
        let mut connection = self.connection().await?;
        let mut tally = Tally::default();
        let wanted: Vec<(&String, u64)> = routes
            .iter()
            .flat_map(|route| (from_hour..=to_hour).map(move |hour| (route, hour)))
            .collect();
        for chunk in wanted.chunks(READ_CHUNK) {
            let mut pipe = ::redis::pipe();
            for (route, hour) in chunk {
                pipe.hgetall(key('c', route, *hour));
                pipe.hgetall(key('p', route, *hour));
                pipe.hgetall(key('x', route, *hour));
            }
            type Hash = Vec<(String, String)>;
            let answers: Vec<Hash> = timed(pipe.query_async(&mut connection)).await?;
            for ((route, hour), three) in chunk.iter().zip(answers.chunks(3)) {
                let [counts, paths, examples] = three else {
                    continue;
                };
                for (name, value) in counts {
                    tally.count(route, *hour, name.clone(), value.parse().unwrap_or(0));
                }
                for (path, pairs) in paths {
                    let ids = examples
                        .iter()
                        .find(|(p, _)| p == path)
                        .map(|(_, ids)| ids.as_str())
                        .unwrap_or_default();
                    let (native, translated) = ids.split_once(ID_SEPARATOR).unwrap_or((ids, ""));
                    tally.bucket(route, *hour).paths.insert(
                        path.clone(),
                        PathTally {
                            pairs: pairs.parse().unwrap_or(0),
                            native_event_id: native.to_owned(),
                            translated_event_id: translated.to_owned(),
                        },
                    );
                }
            }
        }
        Ok(tally)
    }
}
