//! The Redis backend, shared by replicas: one string key per entry (`hookshift:ledger:e:<hash>`) and one
//! sorted set of them by creation time (`hookshift:ledger:age`), for retention and `max_entries`.
//!
//! [`RedisStore::update`] reads the entry, lets the caller decide, and writes with a compare-and-set
//! script (the write happens only if the entry is still what was read; an absent entry is created
//! with `SET … NX PX`), retrying when another replica changed it in between. Scripts touch keys they
//! compute, so this needs a standalone Redis (or one behind Sentinel), not Redis Cluster.
//!
//! Every command has a deadline ([`COMMAND_TIMEOUT`]): an unreachable Redis costs a request at most
//! that long, and the connection is retried in the background by the connection manager.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Script, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::{Change, Entry, LedgerError, Updated};

/// Deadline of one Redis command (and of one connection attempt).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// Most read-decide-write rounds of one update before giving up (only under heavy contention on one entry).
const MAX_ATTEMPTS: usize = 32;
/// Most entries one sweep removes.
const SWEEP_BATCH: usize = 10_000;
/// Entries fetched per MGET when listing.
const LIST_CHUNK: usize = 500;
/// Keys expire this long after retention as a backstop: the sweep removes them first and counts them.
const EXPIRY_SLACK_MS: u64 = 3_600_000;
/// After a failed connection attempt, the next one waits this long (operations fail fast meanwhile).
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

const PREFIX: &str = "hookshift:ledger:e:";
const AGE: &str = "hookshift:ledger:age";

/// KEYS[1] entry, KEYS[2] age set; ARGV: expected body ("" = absent), new body, created_ms, px,
/// member, max_entries, entry key prefix. Returns -1 when the entry is not what was read, else the
/// bodies of the entries evicted past max_entries.
const CAS: &str = r#"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return -1 end
  if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[4]) then return -1 end
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
else
  if current ~= ARGV[1] then return -1 end
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
  return {}
end
local evicted = {}
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if over > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #oldest, 2 do
    local key = ARGV[7] .. oldest[i]
    local body = redis.call('GET', key)
    if body then
      table.insert(evicted, body)
      redis.call('DEL', key)
    end
  end
end
return evicted
"#;

/// KEYS[1] age set; ARGV: before_ms, limit, entry key prefix. Removes the entries created before
/// before_ms and returns their bodies; atomic, so of two replicas sweeping only one gets each entry.
const SWEEP: &str = r#"
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local removed = {}
for _, member in ipairs(members) do
  redis.call('ZREM', KEYS[1], member)
  local key = ARGV[3] .. member
  local body = redis.call('GET', key)
  if body then
    table.insert(removed, body)
    redis.call('DEL', key)
  end
end
return removed
"#;

const QUARANTINE_PREFIX: &str = "hookshift:ledger:q:";
const QUARANTINE_INDEX: &str = "hookshift:ledger:qidx";
const QUARANTINE_BYTES: &str = "hookshift:ledger:qbytes";
/// Hash of quarantine replay counts, a field per route and result.
const REPLAYS: &str = "hookshift:ledger:replays";

/// KEYS[1] item hash, KEYS[2] index, KEYS[3] byte count; ARGV: meta, body, received_ms, id, max
/// bytes. Returns "exists", "full" or "stored".
const QUARANTINE_PUT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local held = tonumber(redis.call('GET', KEYS[3]) or '0')
if held + string.len(ARGV[2]) > tonumber(ARGV[5]) then return 'full' end
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'body', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('INCRBY', KEYS[3], string.len(ARGV[2]))
return 'stored'
"#;

/// KEYS[1] item hash, KEYS[2] index, KEYS[3] byte count; ARGV: id. Returns 1 when removed.
const QUARANTINE_REMOVE: &str = r#"
local body = redis.call('HGET', KEYS[1], 'body')
if not body then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], string.len(body))
return 1
"#;

/// The Redis backend.
pub struct RedisStore {
    client: ::redis::Client,
    connection: Mutex<Connection>,
    cas: Script,
    sweep: Script,
    written: std::sync::Mutex<Written>,
}

/// Most entries [`Written`] remembers.
const MAX_WRITTEN: usize = 4096;

/// The bodies this process wrote last, by entry key. An update takes the remembered body (or, for a
/// key it does not remember, no entry) as what the entry holds, without reading it, and its
/// compare-and-set checks the guess: a claim of a new event and the delivery mark after it each
/// cost one round trip instead of two. A wrong guess (another replica wrote the entry) costs the
/// read it would have made anyway.
#[derive(Default)]
struct Written {
    bodies: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
}

impl Written {
    fn guess(&self, key: &str) -> Option<Vec<u8>> {
        self.bodies.get(key).cloned()
    }

    fn remember(&mut self, key: &str, body: Vec<u8>) {
        if self.bodies.insert(key.to_owned(), body).is_none() {
            self.order.push_back(key.to_owned());
            if self.order.len() > MAX_WRITTEN {
                if let Some(oldest) = self.order.pop_front() {
                    self.bodies.remove(&oldest);
                }
            }
        }
    }

    fn forget(&mut self, key: &str) {
        // Its place in `order` stays; popping it later removes nothing or a newer body, which a
        // wrong guess only costs a read.
        self.bodies.remove(key);
    }
}

enum Connection {
    None { retry_at: Option<Instant> },
    Ready(Box<ConnectionManager>),
}

pub(super) fn redis_error(e: ::redis::RedisError) -> LedgerError {
    // RedisError's text names the command and the server's answer, never the URL.
    LedgerError::Redis(e.to_string())
}

async fn timed<T>(
    work: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, LedgerError> {
    timed_within(COMMAND_TIMEOUT, work).await
}

/// Runs a Redis command with a deadline; its error or the deadline as a [`LedgerError`].
pub(super) async fn timed_within<T>(
    deadline: Duration,
    work: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, LedgerError> {
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result.map_err(redis_error),
        Err(_) => Err(LedgerError::Timeout {
            ms: deadline.as_millis() as u64,
        }),
    }
}

/// The member (and key suffix) of an entry: a hash of its key text, so keys stay short whatever the
/// identity holds.
fn member(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

impl RedisStore {
    /// A store for the server at `url` (`redis://…`); connects on first use.
    pub fn new(url: &[u8]) -> Result<RedisStore, LedgerError> {
        let url = std::str::from_utf8(url)
            .map_err(|_| LedgerError::Redis("ledger.url is not UTF-8".into()))?;
        // The parse error would quote the URL (and its password): say only that it is malformed.
        let client = ::redis::Client::open(url)
            .map_err(|_| LedgerError::Redis("ledger.url is not a valid Redis URL".into()))?;
        Ok(RedisStore {
            client,
            connection: Mutex::new(Connection::None { retry_at: None }),
            cas: Script::new(CAS),
            sweep: Script::new(SWEEP),
            written: Default::default(),
        })
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<ConnectionManager, LedgerError> {
        let mut slot = self.connection.lock().await;
        match &*slot {
            Connection::Ready(manager) => return Ok((**manager).clone()),
            Connection::None { retry_at: Some(at) } if Instant::now() < *at => {
                return Err(LedgerError::Redis("not connected (retrying)".into()));
            }
            Connection::None { .. } => {}
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(1_000);
        let attempt = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match attempt {
            Ok(Ok(manager)) => {
                *slot = Connection::Ready(Box::new(manager.clone()));
                Ok(manager)
            }
            Ok(Err(e)) => {
                *slot = Connection::None {
                    retry_at: Some(Instant::now() + RECONNECT_BACKOFF),
                };
                Err(redis_error(e))
            }
            Err(_) => {
                *slot = Connection::None {
                    retry_at: Some(Instant::now() + RECONNECT_BACKOFF),
                };
                Err(LedgerError::Timeout {
                    ms: (COMMAND_TIMEOUT * 2).as_millis() as u64,
                })
            }
        }
    }

    /// See [`super::Store::update`].
    pub async fn update<R, F>(
        &self,
        key: &str,
        mut decide: F,
        max_entries: u64,
        retention_ms: u64,
    ) -> Result<Updated<R>, LedgerError>
    where
        R: Send + 'static,
        F: FnMut(Option<Entry>) -> (Change, R) + Send + 'static,
    {
        let mut connection = self.connection().await?;
        let member = member(key);
        let redis_key = format!("{PREFIX}{member}");
        let px = retention_ms.saturating_add(EXPIRY_SLACK_MS);
        let mut guess = Some(self.written().guess(&redis_key));
        for _ in 0..MAX_ATTEMPTS {
            let guessed = guess.is_some();
            let current: Option<Vec<u8>> = match guess.take() {
                Some(guess) => guess,
                None => {
                    timed(
                        ::redis::cmd("GET")
                            .arg(&redis_key)
                            .query_async(&mut connection),
                    )
                    .await?
                }
            };
            let entry = current
                .as_deref()
                .map(serde_json::from_slice::<Entry>)
                .transpose()?;
            let (change, value) = decide(entry);
            let Change::Put(entry) = change else {
                // Only a write checks a guess: a decision to leave the entry rests on a read.
                if guessed {
                    continue;
                }
                return Ok(Updated {
                    value,
                    evicted: Vec::new(),
                });
            };
            let body = serde_json::to_vec(&entry)?;
            let mut invocation = self.cas.key(&redis_key);
            invocation
                .key(AGE)
                .arg(current.as_deref().unwrap_or_default())
                .arg(&body)
                .arg(entry.created_ms)
                .arg(px)
                .arg(&member)
                .arg(max_entries)
                .arg(PREFIX);
            let answer: Value = timed(invocation.invoke_async(&mut connection)).await?;
            match answer {
                Value::Int(-1) => {
                    self.written().forget(&redis_key);
                    continue;
                }
                Value::Array(items) => {
                    self.written().remember(&redis_key, body);
                    return Ok(Updated {
                        value,
                        evicted: decode_bodies(items),
                    });
                }
                other => {
                    return Err(LedgerError::Redis(format!(
                        "unexpected script answer {other:?}"
                    )))
                }
            }
        }
        Err(LedgerError::Contended {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// See [`super::Store::sweep`].
    pub async fn sweep(&self, before_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.sweep.key(AGE);
        invocation.arg(before_ms).arg(SWEEP_BATCH).arg(PREFIX);
        let answer: Value = timed(invocation.invoke_async(&mut connection)).await?;
        match answer {
            Value::Array(items) => Ok(decode_bodies(items)),
            other => Err(LedgerError::Redis(format!(
                "unexpected script answer {other:?}"
            ))),
        }
    }

    /// See [`super::Store::entries_since`].
    pub async fn entries_since(&self, since_ms: u64) -> Result<Vec<Entry>, LedgerError> {
        let mut connection = self.connection().await?;
        let members: Vec<String> = timed(
            ::redis::cmd("ZRANGEBYSCORE")
                .arg(AGE)
                .arg(since_ms)
                .arg("+inf")
                .query_async(&mut connection),
        )
        .await?;
        let mut entries = Vec::with_capacity(members.len());
        for chunk in members.chunks(LIST_CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|m| format!("{PREFIX}{m}")).collect();
            let bodies: Vec<Option<Vec<u8>>> =
                timed(::redis::cmd("MGET").arg(&keys).query_async(&mut connection)).await?;
            for body in bodies.into_iter().flatten() {
                entries.push(serde_json::from_slice(&body)?);
            }
        }
        Ok(entries)
    }

    /// See [`super::Store::len`].
    pub async fn entry_count(&self) -> Result<u64, LedgerError> {
        let mut connection = self.connection().await?;
        timed(::redis::cmd("ZCARD").arg(AGE).query_async(&mut connection)).await
    }

    /// See [`super::Store::get`].
    pub async fn get(&self, key: &str) -> Result<Option<Entry>, LedgerError> {
        let mut connection = self.connection().await?;
        let body: Option<Vec<u8>> = timed(
            ::redis::cmd("GET")
                .arg(format!("{PREFIX}{}", member(key)))
                .query_async(&mut connection),
        )
        .await?;
        Ok(body.map(|b| serde_json::from_slice(&b)).transpose()?)
    }
}

impl RedisStore {
    /// See [`super::Store::quarantine_put`].
    pub async fn quarantine_put(
        &self,
        item: &super::quarantine::Quarantined,
        body: &[u8],
        max_bytes: u64,
    ) -> Result<super::quarantine::Stored, LedgerError> {
        use super::quarantine::Stored;
        let mut connection = self.connection().await?;
        let script = Script::new(QUARANTINE_PUT);
        let mut invocation = script.key(format!("{QUARANTINE_PREFIX}{}", item.id));
        invocation
            .key(QUARANTINE_INDEX)
            .key(QUARANTINE_BYTES)
            .arg(serde_json::to_vec(item)?)
            .arg(body)
            .arg(item.received_ms)
            .arg(&item.id)
            .arg(max_bytes);
        let answer: String = timed(invocation.invoke_async(&mut connection)).await?;
        Ok(match answer.as_str() {
            "exists" => Stored::Exists,
            "full" => Stored::Full,
            _ => Stored::New,
        })
    }

    /// See [`super::Store::quarantine_list`].
    pub async fn quarantine_list(
        &self,
    ) -> Result<Vec<super::quarantine::Quarantined>, LedgerError> {
        let mut connection = self.connection().await?;
        let ids: Vec<String> = timed(
            ::redis::cmd("ZRANGE")
                .arg(QUARANTINE_INDEX)
                .arg(0)
                .arg(-1)
                .query_async(&mut connection),
        )
        .await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let meta: Option<Vec<u8>> = timed(
                ::redis::cmd("HGET")
                    .arg(format!("{QUARANTINE_PREFIX}{id}"))
                    .arg("meta")
                    .query_async(&mut connection),
            )
            .await?;
            if let Some(meta) = meta {
                items.push(serde_json::from_slice(&meta)?);
            }
        }
        Ok(items)
    }

    /// See [`super::Store::quarantine_body`].
    pub async fn quarantine_body(&self, id: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        let mut connection = self.connection().await?;
        timed(
            ::redis::cmd("HGET")
                .arg(format!("{QUARANTINE_PREFIX}{id}"))
                .arg("body")
                .query_async(&mut connection),
        )
        .await
    }

    /// See [`super::Store::quarantine_remove`].
    pub async fn quarantine_remove(&self, id: &str) -> Result<bool, LedgerError> {
        let mut connection = self.connection().await?;
        let script = Script::new(QUARANTINE_REMOVE);
        let mut invocation = script.key(format!("{QUARANTINE_PREFIX}{id}"));
        invocation
            .key(QUARANTINE_INDEX)
            .key(QUARANTINE_BYTES)
            .arg(id);
        let removed: i64 = timed(invocation.invoke_async(&mut connection)).await?;
        Ok(removed == 1)
    }

    /// See [`super::Store::count_replay`].
    pub async fn count_replay(&self, field: &str) -> Result<(), LedgerError> {
        let mut connection = self.connection().await?;
        let _: i64 = timed(
            ::redis::cmd("HINCRBY")
                .arg(REPLAYS)
                .arg(field)
                .arg(1)
                .query_async(&mut connection),
        )
        .await?;
        Ok(())
    }

    /// See [`super::Store::replay_counts`].
    pub async fn replay_counts(&self) -> Result<Vec<(String, u64)>, LedgerError> {
        let mut connection = self.connection().await?;
        let counts: Vec<(String, i64)> = timed(
            ::redis::cmd("HGETALL")
                .arg(REPLAYS)
                .query_async(&mut connection),
        )
        .await?;
        Ok(counts
            .into_iter()
            .map(|(field, count)| (field, count.max(0) as u64))
            .collect())
    }

    /// See [`super::Store::quarantine_size`].
    pub async fn quarantine_size(&self) -> Result<(u64, u64), LedgerError> {
        let mut connection = self.connection().await?;
        let count: u64 = timed(
            ::redis::cmd("ZCARD")
                .arg(QUARANTINE_INDEX)
                .query_async(&mut connection),
        )
        .await?;
        let bytes: Option<i64> = timed(
            ::redis::cmd("GET")
                .arg(QUARANTINE_BYTES)
                .query_async(&mut connection),
        )
        .await?;
        Ok((count, bytes.unwrap_or(0).max(0) as u64))
    }
}

fn decode_bodies(items: Vec<Value>) -> Vec<Entry> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::BulkString(body) => serde_json::from_slice(&body).ok(),
            _ => None,
        })
        .collect()
}
