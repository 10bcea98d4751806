//! One memory budget for every request body held in memory, and the early answers that protect it.
//!
//! A body must be read whole before its MAC can be checked, so the check cannot bound what an
//! unauthenticated client makes hookshift buffer: this budget does. [`BodyBudget`] counts the bytes of
//! every buffered body (`server.max_buffered_bytes`); a request takes a [`BudgetPermit`] for its body
//! before reading it (the declared `Content-Length` up front, a chunked body as its buffer grows) and
//! the permit releases the bytes when it drops, which the proxy arranges to be when the bytes are gone.
//! A request that does not fit is answered 503 (`overloaded`, with `Retry-After`) so the sender retries
//! later, instead of the process growing until the OOM killer takes every request in flight with it.
//!
//! One budget alone would let a few clients sending bodies of the largest accepted size fill it and
//! shed every signed event behind them. So a request holding more than a sixteenth of the budget
//! ([`LARGE_SHARE`]) may only fill it to seven eighths ([`HEADROOM_SHARE`]): the last eighth is left to
//! small bodies, which is what webhook events are (a few KB to a few hundred KB). Small bodies can still
//! fill it, from many connections ([`crate::server`] caps them at `server.max_connections`).
//!
//! Translation needs working memory besides the body (the tree and the new body): it is reserved on the
//! same permit as [`TRANSLATION_FACTOR`] × the body's length before the tree is built.
//!
//! A refusal sent while the client is still sending its body would be lost if the connection were
//! closed at once: the kernel answers the unread bytes with a reset and the client sees a broken pipe
//! instead of the answer. [`linger`] reads and discards a bounded amount for a bounded time after such
//! an answer (as nginx's lingering close does), so ordinary clients read the 413/401/503. A client that
//! asked for `100-continue` is answered before it sends the body, which is then never read.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use std::time::Duration;

use bytes::Bytes;
use http::{header, request::Parts, HeaderMap, Version};
use http_body_util::BodyExt;
use hyper::body::Body;
use metrics::gauge;

use crate::metrics::{ShedReason, BUFFERED_BODY_BYTES};

/// Working memory of a translation, as a multiple of the body's length, reserved on top of the body.
///
/// Measured by `tests/translation_memory.rs` (bytes allocated at the peak of parse, translate and
/// write, beyond the body, on the benchmark events of both directions): 3.6–4.0× for 5 KB events,
/// 3.9–4.0× for 100 KB ones (DHAT: 3.85× for a 20 MB workflow run). The peak is the translated tree
/// (the writer frees it as the text grows). 5 covers them with a margin; that test fails if
/// translation outgrows it.
pub const TRANSLATION_FACTOR: u64 = 5;

/// At most this much of a refused request's body is read and discarded after the answer.
pub const LINGER_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// A refused request's body is drained for at most this long after the answer.
pub const LINGER_MAX_TIME: Duration = Duration::from_secs(5);
/// Draining stops when the client sends nothing for this long (it is waiting for the answer).
pub const LINGER_IDLE: Duration = Duration::from_millis(500);

/// A permit holding more than `limit / LARGE_SHARE` bytes is large: it may not use the headroom.
pub const LARGE_SHARE: u64 = 16;
/// `limit / HEADROOM_SHARE` bytes of the budget are left to small permits.
pub const HEADROOM_SHARE: u64 = 8;

/// Smallest buffer a chunked body starts with (most events arrive in one or two frames).
const FIRST_CHUNKED_BUFFER: usize = 16 * 1024;

/// Bytes of request bodies held in memory, against a limit shared by every request of a listener.
#[derive(Debug)]
pub struct BodyBudget {
    limit: AtomicU64,
    held: AtomicU64,
}

impl BodyBudget {
    /// A budget of `limit` bytes, nothing held.
    pub fn new(limit: u64) -> Arc<BodyBudget> {
        gauge!(BUFFERED_BODY_BYTES).increment(0.0);
        Arc::new(BodyBudget {
            limit: AtomicU64::new(limit),
            held: AtomicU64::new(0),
        })
    }

    /// Changes the limit (a reload); bytes already held stay held.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The current limit.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// A permit for `bytes`, or `None` when they do not fit.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<BudgetPermit> {
        let mut permit = BudgetPermit {
            budget: Arc::clone(self),
            bytes: 0,
        };
        permit.try_grow(bytes).then_some(permit)
    }

    /// Takes `bytes` more for a permit that will then hold `permit_total`.
    fn try_take(&self, bytes: u64, permit_total: u64) -> bool {
        if bytes == 0 {
            return true;
        }
        let mut limit = self.limit();
        if permit_total > limit / LARGE_SHARE {
            limit -= limit / HEADROOM_SHARE;
        }
        let taken = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|&total| total <= limit)
            })
            .is_ok();
        if taken {
            gauge!(BUFFERED_BODY_BYTES).increment(bytes as f64);
        }
        taken
    }

    fn give_back(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.held.fetch_sub(bytes, Ordering::AcqRel);
        gauge!(BUFFERED_BODY_BYTES).decrement(bytes as f64);
    }
}

/// Bytes one request holds in a [`BodyBudget`]; given back when dropped.
#[derive(Debug)]
pub struct BudgetPermit {
    budget: Arc<BodyBudget>,
    bytes: u64,
}

impl BudgetPermit {
    /// Bytes held by this permit.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Holds `more` bytes too, if they fit (else holds what it held).
    pub fn try_grow(&mut self, more: u64) -> bool {
        let grown = self.budget.try_take(more, self.bytes.saturating_add(more));
        if grown {
            self.bytes += more;
        }
        grown
    }

    /// Holds only `bytes` from now on, when that is less than what it holds.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
        }
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Declared or sent more than `server.max_body_bytes`.
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    /// The budget could not hold it.
    #[error("the budget for buffered request bodies is exhausted")]
    OverBudget(ShedReason),
    /// Not received within `server.body_read_timeout_ms`.
    #[error("request body was not received within {ms} ms")]
    Timeout { ms: u64 },
    /// The body broke off or was malformed (e.g. a bad chunk).
    #[error("{0}")]
    Broken(String),
}

/// The body's declared `Content-Length`, if it has a valid one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Reads the whole body into one buffer accounted on `permit`, which must already hold the declared
/// length when there is one; a chunked body's buffer is reserved on it as it grows. Refuses more than
/// `limit` bytes, a body the budget cannot hold and a body slower than `timeout_ms`.
///
/// Takes the body by reference so that the caller can still [`linger`] on it after a refusal.
pub async fn read_body<B>(
    body: &mut B,
    declared: Option<u64>,
    limit: u64,
    timeout_ms: u64,
    permit: &mut BudgetPermit,
) -> Result<Bytes, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let read = collect(body, declared, limit, permit);
    match tokio::time::timeout(Duration::from_millis(timeout_ms), read).await {
        Err(_) => Err(ReadError::Timeout { ms: timeout_ms }),
        Ok(result) => result,
    }
}

async fn collect<B>(
    body: &mut B,
    declared: Option<u64>,
    limit: u64,
    permit: &mut BudgetPermit,
) -> Result<Bytes, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || ReadError::TooLarge { limit };
    // The common case, a body in one frame, is kept as received (no copy).
    let mut first: Option<Bytes> = None;
    let mut buffer: Vec<u8> = Vec::new();
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Broken(e.into().to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not part of the signed bytes
        };
        received += data.len() as u64;
        if received > limit {
            return Err(too_large());
        }
        if first.is_none() && buffer.is_empty() {
            if declared.is_none() && !permit.try_grow(data.len() as u64) {
                return Err(ReadError::OverBudget(ShedReason::StreamedBody));
            }
            first = Some(data);
            continue;
        }
        let needed = received as usize;
        if buffer.capacity() < needed {
            // A declared body was reserved whole up front; a chunked one doubles, reserved as it goes.
            let target = match declared {
                Some(length) => (length as usize).max(needed),
                None => needed
                    .max(buffer.capacity() * 2)
                    .max(FIRST_CHUNKED_BUFFER)
                    .min(limit as usize),
            };
            if declared.is_none() || target as u64 > permit.bytes() {
                let more = (target - buffer.capacity()) as u64;
                if !permit.try_grow(more) {
                    return Err(ReadError::OverBudget(ShedReason::StreamedBody));
                }
            }
            // Exactly what was reserved on the permit (`reserve` might take more).
            buffer.reserve_exact(target - buffer.len());
        }
        if let Some(first) = first.take() {
            buffer.extend_from_slice(&first);
            if declared.is_none() {
                // The first frame's own bytes are gone now that they are copied.
                let copied = first.len() as u64;
                permit.shrink_to(permit.bytes().saturating_sub(copied));
            }
        }
        buffer.extend_from_slice(&data);
    }
    if let Some(only) = first {
        return Ok(only);
    }
    if buffer.capacity() > buffer.len() {
        // A chunked body's buffer grew by doubling: give the slack back, to the allocator and to the
        // budget, before the body is held through verification and delivery.
        buffer.shrink_to_fit();
        permit.shrink_to(buffer.capacity() as u64);
    }
    Ok(Bytes::from(buffer))
}

/// Whether the rest of a refused request's body should be drained before the connection closes.
///
/// Only over HTTP/1 (HTTP/2 ends one stream, not the connection), only when the client did not ask
/// for `100-continue` (it waits for the answer before sending), and only while body bytes remain.
pub fn should_linger<B: Body>(parts: &Parts, body: &B) -> bool {
    let continues = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    parts.version <= Version::HTTP_11 && !continues && !body.is_end_stream()
}

/// Reads and discards what is left of a refused request's body, in the background, for at most
/// [`LINGER_MAX_TIME`] and [`LINGER_MAX_BYTES`], stopping when the client pauses for [`LINGER_IDLE`]:
/// the connection then closes (or is reused, when the body ended) after the answer was read.
pub fn linger<B>(body: B)
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut body = body;
        let drain = async {
            let mut discarded: u64 = 0;
            while discarded < LINGER_MAX_BYTES {
                match tokio::time::timeout(LINGER_IDLE, body.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            discarded += data.len() as u64;
                        }
                    }
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_MAX_TIME, drain).await;
    });
}

/// Sheds a request the budget could not hold: counted per route and reason, answered 503 with
/// `Retry-After` (the sender retries once memory is free).
pub(crate) fn shed(route: &crate::route::Route, reason: ShedReason) -> super::error::ProxyError {
    route.metrics.shed(reason);
    super::error::ProxyError::Overloaded(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    /// A body of the given frames, then its end.
    struct Frames(VecDeque<Bytes>);

    impl Frames {
        fn of(frames: &[&[u8]]) -> Frames {
            Frames(frames.iter().map(|f| Bytes::copy_from_slice(f)).collect())
        }
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
        }
        fn is_end_stream(&self) -> bool {
            self.0.is_empty()
        }
    }

    #[test]
    fn permits_hold_and_give_back() {
        let budget = BodyBudget::new(1600);
        let mut a = budget.try_reserve(1000).unwrap();
        let b = budget.try_reserve(400).unwrap();
        assert!(budget.try_reserve(100).is_some());
        let c: Vec<BudgetPermit> = (0..2).map(|_| budget.try_reserve(100).unwrap()).collect();
        assert_eq!(budget.held(), 1600);
        assert!(budget.try_reserve(1).is_none());
        assert_eq!(a.bytes(), 1000);
        a.shrink_to(10);
        assert_eq!(budget.held(), 610);
        assert!(a.try_grow(90));
        drop((a, b, c));
        assert_eq!(budget.held(), 0);
        // A lower limit (a reload) applies to new reservations only.
        let big = budget.try_reserve(1400).unwrap();
        budget.set_limit(800);
        assert!(budget.try_reserve(1).is_none());
        drop(big);
        assert!(budget.try_reserve(700).is_some());
    }

    /// Large bodies fill the budget to 7/8 only; small ones (at most 1/16 each) can use the rest.
    #[test]
    fn the_last_eighth_is_left_to_small_bodies() {
        let budget = BodyBudget::new(1600);
        let large: Vec<BudgetPermit> = (0..4).map(|_| budget.try_reserve(350).unwrap()).collect();
        assert_eq!(budget.held(), 1400);
        assert!(budget.try_reserve(101).is_none(), "large: past 7/8");
        let small: Vec<BudgetPermit> = (0..2).map(|_| budget.try_reserve(100).unwrap()).collect();
        assert_eq!(budget.held(), 1600);
        drop(small);
        // A small permit growing large (a chunked body) meets the same ceiling.
        let mut growing = budget.try_reserve(100).unwrap();
        assert!(!growing.try_grow(1));
        assert_eq!(growing.bytes(), 100);
        drop((large, growing));
        assert_eq!(budget.held(), 0);
    }

    #[tokio::test]
    async fn a_declared_body_uses_its_reservation() {
        let budget = BodyBudget::new(1_000);
        let mut permit = budget.try_reserve(6).unwrap();
        let mut body = Frames::of(&[b"abc", b"def"]);
        let bytes = read_body(&mut body, Some(6), 100, 1_000, &mut permit)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(permit.bytes(), 6);
        assert_eq!(budget.held(), 6);
        drop(permit);
        assert_eq!(budget.held(), 0);
    }

    #[tokio::test]
    async fn a_chunked_body_is_reserved_as_it_grows() {
        let budget = BodyBudget::new(1 << 20);
        let mut permit = budget.try_reserve(0).unwrap();
        let one = [b'x'; 10_000];
        let mut body = Frames::of(&[&one, &one, &one]);
        let bytes = read_body(&mut body, None, 1 << 20, 1_000, &mut permit)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 30_000);
        // 10 KB, then 20 KB (≥ 16 KB first buffer), then doubled to 40 KB, the first frame released;
        // the slack is given back at the end.
        assert_eq!(permit.bytes(), 30_000);
        assert_eq!(budget.held(), 30_000);

        // One frame is kept as it came, its length held.
        let mut permit = budget.try_reserve(0).unwrap();
        let mut body = Frames::of(&[b"{}"]);
        let bytes = read_body(&mut body, None, 100, 1_000, &mut permit)
            .await
            .unwrap();
        assert_eq!((&bytes[..], permit.bytes()), (&b"{}"[..], 2));
    }

    #[tokio::test]
    async fn a_chunked_body_crossing_the_budget_is_refused() {
        let budget = BodyBudget::new(25_000);
        let mut permit = budget.try_reserve(0).unwrap();
        let one = [b'x'; 10_000];
        let mut body = Frames::of(&[&one, &one, &one]);
        let refused = read_body(&mut body, None, 1 << 20, 1_000, &mut permit).await;
        assert!(
            matches!(
                refused,
                Err(ReadError::OverBudget(ShedReason::StreamedBody))
            ),
            "{refused:?}"
        );
        // What was read is given back with the permit; the rest is left for `linger`.
        drop(permit);
        assert_eq!(budget.held(), 0);
        assert!(!body.is_end_stream());
    }

    #[tokio::test]
    async fn more_than_the_limit_is_too_large() {
        let budget = BodyBudget::new(1 << 20);
        let mut permit = budget.try_reserve(0).unwrap();
        let mut body = Frames::of(&[b"abc", b"def"]);
        let refused = read_body(&mut body, None, 5, 1_000, &mut permit).await;
        assert!(matches!(refused, Err(ReadError::TooLarge { limit: 5 })));
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        struct Silent;
        impl Body for Silent {
            type Data = Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
                Poll::Pending
            }
        }
        let budget = BodyBudget::new(100);
        let mut permit = budget.try_reserve(10).unwrap();
        let refused = read_body(&mut Silent, Some(10), 100, 20, &mut permit).await;
        assert!(matches!(refused, Err(ReadError::Timeout { ms: 20 })));
    }
}
