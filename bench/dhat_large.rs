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
    let tree = dhat::HeapStats::get();
    let translated = translate(plan, event, &delivery).expect("translates");
    let after_translate = dhat::HeapStats::get();
    // As the proxy does: the tree consumed while written, the text in a buffer of its exact length.
    let out = translated.into_json();
    let stats = dhat::HeapStats::get();
    drop(profiler);

    let size = body.len() as f64;
    let x = |bytes: usize| bytes as f64 / size;
    println!(
        "body {} bytes, out {} bytes ({:.2}x); heap beyond the body: tree after parse {:.2}x (peak \
         while parsing {:.2}x), after translating {:.2}x (peak {:.2}x), after writing {:.2}x (output \
         buffer capacity {:.2}x); peak {} bytes = {:.2}x the body, {:.2}x with the body; {} allocations",
        body.len(),
        out.len(),
        x(out.len()),
        x(tree.curr_bytes),
        x(tree.max_bytes),
        x(after_translate.curr_bytes),
        x(after_translate.max_bytes),
        x(stats.curr_bytes),
        x(out.capacity()),
        stats.max_bytes,
        x(stats.max_bytes),
        x(stats.max_bytes) + 1.0,
        stats.total_blocks
    );
}
