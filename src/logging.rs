//! Log setup: `tracing-subscriber` in text or JSON lines on standard error, filtered by `RUST_LOG`
//! (default `info`).

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::sync::Arc;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (or one after another subscriber) changes nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(standard_error())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// Standard error as a file of its own, written without `std::io::Stderr`'s process-wide lock.
///
/// Each log line is formatted whole and handed to one `write(2)`: the kernel keeps a line whole
/// (pipes: lines under 4 KiB, ours are far shorter; files and terminals always). The lock added
/// nothing but waiting: with one line per request, two workers logging at once parked on it, a
/// futex round trip per request (README "Performance").
fn standard_error() -> Arc<std::fs::File> {
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Arc::new(std::fs::File::from(fd)),
        // No descriptor to duplicate (closed stderr): writes then fail, as with `Stderr`, and
        // tracing drops the line.
        Err(_) => Arc::new(
            std::fs::File::open("/dev/null").expect("/dev/null opens when stderr is closed"),
        ),
    }
}
