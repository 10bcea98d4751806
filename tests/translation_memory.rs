//! The working memory of a translation, measured: the bytes allocated at the peak of parse →
//! translate → write, beyond the received body, for every event of `bench/events/` in every direction
//! the shipped mappings translate. The body budget reserves `budget::TRANSLATION_FACTOR` × the body's
//! length for it; this test holds the factor to the measurement.
//!
//! Its own test binary: the counting allocator below sees every allocation of the process, so nothing
//! else may run beside the measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use hookshift::mapping::{translate, Delivery, Mappings};
use hookshift::pipeline::budget::TRANSLATION_FACTOR;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old and the new block both exist while the bytes are copied.
        grew(new_size);
        let moved = System.realloc(ptr, layout, new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        moved
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated at the peak of `work`, beyond what was live when it started.
fn peak_of<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = work();
    (out, PEAK.load(Ordering::Relaxed) - before)
}

#[test]
fn translation_working_memory_is_within_the_reserved_factor() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mappings = Mappings::load(&repo.join("mappings")).expect("the shipped mappings load");
    let directions = [
        ("2025-04-21", "2026-02-09", "processor_run"),
        ("2026-02-09", "2025-04-21", "extract_run"),
    ];
    let mut measured = 0;
    let mut over = Vec::new();
    for (from, to, stem) in directions {
        let plan = mappings
            .plan(from, to)
            .expect("the shipped mappings translate");
        for size in ["5k", "100k"] {
            let file = repo.join(format!("bench/events/{stem}_{size}.json"));
            let body = std::fs::read(&file).expect("benchmark event");
            let delivery = Delivery {
                timestamp: 1_771_000_000,
            };
            // What the proxy does between the verified body and the outbound body (`Proxy::process`).
            let (out, peak) = peak_of(|| {
                let event = hookshift::json::parse(&body).expect("parses");
                let value = translate(plan, event, &delivery).expect("translates");
                value.into_json()
            });
            let ratio = peak as f64 / body.len() as f64;
            eprintln!(
                "{from} -> {to} {size}: body {} B, working memory at peak {peak} B ({ratio:.2}x), out {} B",
                body.len(),
                out.len()
            );
            if ratio > TRANSLATION_FACTOR as f64 {
                over.push(format!("{from} -> {to} {size}: {ratio:.2}x"));
            }
            measured += 1;
        }
    }
    assert_eq!(measured, 4);
    assert!(
        over.is_empty(),
        "more than the {TRANSLATION_FACTOR}x reserved: {over:?}"
    );
}
