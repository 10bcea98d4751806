//! Peak heap of translating the 20 MB workflow run (`bench/large_event.rs`), measured with DHAT:
//! parse (`json::parse`), translate 2025-04-21 -> 2026-02-09, write the outgoing body, as the proxy
//! does for a large event. The received body is allocated before the measurement starts, so the peak
//! printed is what the translation holds beyond it; the ratio with the body included is printed too.
//!
//! `cargo run --release --example bench_dhat_large` (prints one line; `dhat-heap.json` is not written).

use hookshift::mapping::{translate, Delivery, Mappings};

#[path = "large_event.rs"]
mod large_event;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mappings = Mappings::load(&root.join("mappings")).expect("mappings load");
    let plan = mappings
        .plan("2025-04-21", "2026-02-09")
        .expect("a plan up");
    let body = large_event::workflow_run(large_event::LARGE_EVENT_BYTES);
    let delivery = Delivery {
        timestamp: 1_771_000_000,
    };

    let profiler = dhat::Profiler::builder().testing().build();
    let event = hookshift::json::parse(&body).expect("parses");
    let translated = translate(plan, event, &delivery).expect("translates");
    // As the proxy does: a buffer sized like the received body, the tree dropped once written.
    let mut out = Vec::with_capacity(body.len() + 1024);
    translated.write_to(&mut out);
    drop(translated);
    let stats = dhat::HeapStats::get();
    drop(profiler);

    let size = body.len() as f64;
    println!(
        "body {} bytes, out {} bytes; peak heap beyond the body {} bytes = {:.2}x the body, \
         with the body {:.2}x; {} allocations",
        body.len(),
        out.len(),
        stats.max_bytes,
        stats.max_bytes as f64 / size,
        (stats.max_bytes as f64 + size) / size,
        stats.total_blocks
    );
}
