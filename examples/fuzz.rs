//! A bounded mutation fuzzer on stable Rust (`cargo fuzz` needs nightly).
//!
//! ```text
//! cargo run --release --example fuzz -- <target|all> [--seconds N] [--iterations N] [--seed N]
//! targets: signature, json, config, mapping, translate (and selftest, which must fail)
//! ```
//!
//! Seeds come from the repository (config.toml, the mapping files, the golden events, signature header
//! samples). Each iteration mutates a corpus entry (bit flips, interesting bytes, deletions,
//! duplications, dictionary tokens, splices, deep nesting) and runs the target under `catch_unwind`.
//! There is no coverage instrumentation; as a cheap substitute an input joins the corpus when it makes
//! the target answer something it has not answered before (a new error kind). A panic is a failure:
//! the input is written to `fuzz/artifacts/<target>/` and the exit code is 1. So is an input that takes
//! longer than a second.
//!
//! `scripts/fuzz.sh` runs every target for a while, then the property tests with many cases.

use std::{
    collections::HashSet,
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::OnceLock,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hookshift::config::{Config, Secret};
use hookshift::mapping::{translate, Delivery, Mappings};
use hookshift::provider::{self, Provider, VerifyParams};
use http::{HeaderMap, HeaderValue};

const TARGETS: &[&str] = &["signature", "json", "config", "mapping", "translate"];

#[path = "../tests/shared/mapping_files.rs"]
mod mapping_files;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ------------------------------------------------------------------------------------------ rng

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

// ------------------------------------------------------------------------------------------ targets

const DELIVERY: Delivery = Delivery {
    timestamp: 1_771_000_000,
};

fn shipped_mappings() -> &'static Mappings {
    static M: OnceLock<Mappings> = OnceLock::new();
    M.get_or_init(|| Mappings::load(&repo().join("mappings")).expect("the shipped mappings load"))
}

fn mapping_files() -> &'static Vec<(PathBuf, String)> {
    static F: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    F.get_or_init(|| mapping_files::read(&repo().join("mappings")))
}

/// The answer class of one run: what the target said, coarsely (feeds the corpus).
type Outcome = String;

fn class(result: Result<impl Sized, impl std::fmt::Display>) -> Outcome {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            let text = e.to_string();
            // The reason (the last `: ` segment, keys and files before it) without the positions and
            // values that make every message unique.
            let reason = text
                .lines()
                .next()
                .unwrap_or("")
                .rsplit(": ")
                .next()
                .unwrap_or("");
            reason
                .split(|c: char| c.is_ascii_digit() || c == '"' || c == '`' || c == '\'')
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect()
        }
    }
}

/// Signature input: `provider byte | timestamp header \0 signature header \0 body` for Extend, the
/// first segment as the whole `X-Plextera-Signature` for Plextera, and `webhook-signature \0
/// webhook-id \0 body` (at a fixed `webhook-timestamp`) for Standard Webhooks.
fn run_signature(input: &[u8]) -> Outcome {
    let secrets = [
        Secret::inline("wss_fuzz"),
        Secret::inline("wss_fuzz_2"),
        Secret::inline("whsec_ZnV6ei1zZWNyZXQta2V5"),
    ];
    let (provider, rest) = match input.split_first() {
        Some((b, rest)) if b % 3 == 0 => (Provider::Extend, rest),
        Some((b, rest)) if b % 3 == 1 => (Provider::Plextera, rest),
        Some((_, rest)) => (Provider::Standard, rest),
        None => (Provider::Extend, input),
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let first = parts.next().unwrap_or_default();
    let second = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    match provider {
        Provider::Extend => {
            if let Ok(v) = HeaderValue::from_bytes(first) {
                headers.insert(provider::EXTEND_TIMESTAMP_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_bytes(second) {
                headers.insert(provider::EXTEND_SIGNATURE_HEADER, v);
            }
        }
        Provider::Plextera => {
            if let Ok(v) = HeaderValue::from_bytes(first) {
                headers.insert(provider::PLEXTERA_SIGNATURE_HEADER, v);
            }
        }
        Provider::Standard => {
            use hookshift::provider::standard;
            if let Ok(v) = HeaderValue::from_bytes(first) {
                headers.insert(standard::SIGNATURE_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_bytes(second) {
                headers.insert(standard::ID_HEADER, v);
            }
            headers.insert(
                standard::TIMESTAMP_HEADER,
                HeaderValue::from_static("1700000000"),
            );
        }
    }
    let params = VerifyParams {
        provider,
        secrets: &secrets,
        tolerance_secs: 300,
        now: 1_700_000_000,
    };
    let result = provider::verify(params, &headers, Bytes::copy_from_slice(body));
    // Nothing here is signed with the secrets: a success would be a forgery.
    assert!(result.is_err(), "verified without the secret: {headers:?}");
    class(result)
}

fn run_json(input: &[u8]) -> Outcome {
    let parsed = hookshift::json::parse(input);
    // `scan` (the fast path for bodies forwarded as received) must accept exactly what `parse` accepts,
    // with the same error, and read the same envelope.
    let scanned = hookshift::json::scan(input);
    match (&parsed, &scanned) {
        (Ok(value), Ok(envelope)) => {
            let object = value.as_object();
            assert_eq!(envelope.is_object, object.is_some(), "scan: is_object");
            let string = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            assert_eq!(envelope.event_type, string("eventType"), "scan: eventType");
            assert_eq!(envelope.event_id, string("eventId"), "scan: eventId");
            assert_eq!(envelope.type_member, string("type"), "scan: type");
            let shape = |key: &str| value.get(key).map(hookshift::json::Shape::of);
            assert_eq!(envelope.payload, shape("payload"), "scan: payload shape");
            assert_eq!(envelope.data, shape("data"), "scan: data shape");
        }
        (Err(p), Err(s)) => assert_eq!(
            p.to_string(),
            s.to_string(),
            "scan and parse disagree on the error"
        ),
        _ => panic!(
            "scan and parse disagree: parse {:?}, scan {:?}",
            parsed.is_ok(),
            scanned.is_ok()
        ),
    }
    if let Ok(value) = &parsed {
        // Recognising a signed-URL payload takes any value.
        if let Some(payload) = value.get("payload") {
            let _ = hookshift::provider::extend::detect(payload);
        }
        // Writing it back reads back the same (strings with lone surrogate escapes included, which
        // serde_json cannot hold), and serde_json reads what is written.
        let text = value.to_vec();
        assert_eq!(
            &hookshift::json::parse(&text).unwrap(),
            value,
            "round trip changed the value"
        );
        assert!(serde_json::to_vec(value).is_ok());
    }
    class(parsed)
}

fn run_config(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    match Config::parse_str(&text, Vec::<(String, String)>::new()) {
        Ok(config) => {
            let problems = config.validate();
            let _ = format!("{config:?}");
            if problems.is_empty() {
                "valid".to_owned()
            } else {
                class(Err::<(), _>(&problems[0]))
            }
        }
        Err(e) => class(Err::<(), _>(e)),
    }
}

fn run_mapping(input: &[u8]) -> Outcome {
    // The first byte picks the shipped file the rest replaces.
    let files = mapping_files();
    let Some((pick, text)) = input.split_first() else {
        return "empty".to_owned();
    };
    let index = *pick as usize % files.len();
    let dir = tempfile::tempdir().unwrap();
    for (i, (relative, original)) in files.iter().enumerate() {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            if i == index {
                text
            } else {
                original.as_bytes()
            },
        )
        .unwrap();
    }
    match Mappings::load(dir.path()) {
        Ok(mappings) => {
            for case in shipped_mappings().golden_cases() {
                if let (Ok(plan), Ok(event)) =
                    (mappings.plan(&case.from, &case.to), case.read_input())
                {
                    let _ = translate(plan, event, &DELIVERY);
                }
            }
            "loaded".to_owned()
        }
        Err(e) => class(Err::<(), _>(e)),
    }
}

fn run_translate(input: &[u8]) -> Outcome {
    let Ok(event) = hookshift::json::parse(input) else {
        return "not json".to_owned();
    };
    let mappings = shipped_mappings();
    let versions: Vec<&str> = mappings.versions().into_iter().collect();
    let mut outcome = String::new();
    for from in &versions {
        for to in &versions {
            if let Ok(plan) = mappings.plan(from, to) {
                let result = translate(plan, event.clone(), &DELIVERY);
                if let Ok(out) = &result {
                    // What comes out serializes and reads back under the same strict rules.
                    let text = serde_json::to_vec(out).unwrap();
                    assert!(
                        hookshift::json::parse(&text).is_ok(),
                        "translated event is not strict JSON"
                    );
                }
                outcome.push_str(&class(result));
                outcome.push('|');
            }
        }
    }
    outcome
}

fn runner(target: &str) -> fn(&[u8]) -> Outcome {
    match target {
        "signature" => run_signature,
        "json" => run_json,
        "config" => run_config,
        "mapping" => run_mapping,
        "translate" => run_translate,
        // Panics on purpose: `scripts/fuzz.sh` checks that the harness reports it.
        "selftest" => |input| {
            assert!(!input.contains(&b'}'), "selftest: found a closing brace");
            "ok".to_owned()
        },
        other => panic!("unknown target {other:?}; one of {TARGETS:?} or all"),
    }
}

// ------------------------------------------------------------------------------------------ seeds

fn golden_inputs() -> Vec<Vec<u8>> {
    shipped_mappings()
        .golden_cases()
        .iter()
        .filter_map(|c| std::fs::read(&c.input).ok())
        .collect()
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    // Well-formed, but made with a secret the target does not hold: a success is a forgery.
    let sig = provider::extend_signature(b"wss_not_configured", "1700000000", b"{}");
    match target {
        "signature" => vec![
            format!("\x001700000000\0{sig}\0{{}}").into_bytes(),
            format!("\x01t=1700000000,v1={sig},v0=abc\0\0{{}}").into_bytes(),
            format!("\x01t=1700000000, v1={sig}, v1={sig}").into_bytes(),
            b"\x00\0\0".to_vec(),
        ],
        "selftest" => vec![b"{\"a\":1".to_vec()],
        "json" | "translate" => {
            let mut seeds = golden_inputs();
            seeds.push(br#"{"eventId":"e","eventType":"x.y","payload":{"n":12345678901234567890.5e+3,"s":"\u00e9"}}"#.to_vec());
            seeds
        }
        "config" => vec![std::fs::read(repo().join("config.toml")).unwrap()],
        "mapping" => mapping_files()
            .iter()
            .enumerate()
            .map(|(i, (_, text))| [&[i as u8][..], text.as_bytes()].concat())
            .collect(),
        _ => Vec::new(),
    }
}

fn dictionary(target: &str) -> &'static [&'static str] {
    match target {
        "signature" => &[
            "t=",
            "v1=",
            ",",
            "=",
            " ",
            "\0",
            "00",
            "ff",
            "-1",
            "99999999999999999999",
            "\t",
            "v0=",
        ],
        "json" | "translate" => &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\u0000",
            "\\ud800",
            "null",
            "true",
            "1e400",
            "-0",
            "18446744073709551616",
            "\"eventType\"",
            "\"payload\"",
            "\"type\"",
            "\"EXTRACT\"",
            "\"output\"",
            "\"processor_run.processed\"",
            "\"workflow_run.completed\"",
            "\"extract_run.processed\"",
            "[]",
            "{}",
        ],
        _ => &[
            "=",
            "\n",
            "[",
            "]",
            "{",
            "}",
            "\"",
            "'''",
            "\"\"\"",
            "#",
            ",",
            "0",
            "-1",
            "1e400",
            "true",
            "[[rule]]",
            "[transforms.x]",
            "ops = [",
            "{ drop = \"a\" }",
            "{ rename = \"a\", to = \"b\" }",
            "when = { type = \"X\" }",
            "events = { \"a.b\" = \"c.d\" }",
            "\"env:UNSET\"",
            "[[routes]]",
            "[routes.policy]",
            "\"forward\"",
        ],
    }
}

// ------------------------------------------------------------------------------------------ mutation

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&str]) {
    const INTERESTING: &[u8] = b"\0\xff\x7f\x80\"{}[],:\\=\n\r\t 0-.e";
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(10) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                input.drain(at..at + n);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let chunk = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, chunk);
            }
            4 | 5 => {
                let token = dict[rng.below(dict.len())].as_bytes();
                let to = rng.below(len + 1);
                input.splice(to..to, token.iter().copied());
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - from).min(256));
                    let to = rng.below(len + 1);
                    input.splice(to..to, other[from..from + n].iter().copied());
                }
            }
            7 if len > 0 => input.truncate(rng.below(len)),
            8 => {
                // Deep nesting.
                let open = [b"[".as_slice(), b"{\"a\":", b"[{\"x\":"][rng.below(3)];
                let n = 1 + rng.below(200);
                let to = rng.below(len + 1);
                let deep: Vec<u8> = open.iter().copied().cycle().take(open.len() * n).collect();
                input.splice(to..to, deep);
            }
            _ if len > 0 => {
                let at = rng.below(len);
                input[at] = rng.next() as u8;
            }
            _ => input.push(rng.next() as u8),
        }
    }
    input.truncate(256 * 1024);
}

// ------------------------------------------------------------------------------------------ driver

struct Options {
    seconds: u64,
    iterations: u64,
    seed: u64,
}

fn save(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = repo().join("fuzz").join("artifacts").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{kind}-{hash:016x}"));
    std::fs::write(&path, input).unwrap();
    path
}

/// Fuzzes one target; the number of failures.
fn fuzz(target: &str, options: &Options) -> usize {
    let run = runner(target);
    let dict = dictionary(target);
    let mut corpus = seeds(target);
    let mut seen: HashSet<Outcome> = HashSet::new();
    for seed in &corpus {
        match panic::catch_unwind(AssertUnwindSafe(|| run(seed))) {
            Ok(outcome) => {
                seen.insert(outcome);
            }
            Err(_) => {
                eprintln!("{target}: a seed panics");
                return 1;
            }
        }
    }
    let mut rng = Rng(options.seed.max(1) ^ (target.len() as u64 * 0x9E37_79B9));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let (mut iterations, mut failures, mut slowest) = (0u64, 0usize, Duration::ZERO);
    // Stop at the third failure: one is enough to act on, a few show whether it is the same.
    while iterations < options.iterations && Instant::now() < deadline && failures < 3 {
        iterations += 1;
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut input, &corpus, dict);
        let t0 = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| run(&input)));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        match result {
            Ok(outcome) => {
                if took > Duration::from_secs(1) {
                    failures += 1;
                    eprintln!(
                        "{target}: an input took {took:?}: {}",
                        save(target, "slow", &input).display()
                    );
                }
                if seen.insert(outcome) && corpus.len() < 4096 {
                    corpus.push(input);
                }
            }
            Err(payload) => {
                failures += 1;
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                eprintln!(
                    "{target}: PANIC {message}\n  input: {}",
                    save(target, "crash", &input).display()
                );
            }
        }
    }
    println!(
        "{target}: {iterations} inputs in {:.1} s, {} answer kinds, corpus {}, slowest {:.1} ms, {failures} failure(s)",
        started.elapsed().as_secs_f64(),
        seen.len(),
        corpus.len(),
        slowest.as_secs_f64() * 1000.0
    );
    failures
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut target = String::from("all");
    let mut options = Options {
        seconds: 30,
        iterations: u64::MAX,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = value("--seconds"),
            "--iterations" => options.iterations = value("--iterations"),
            "--seed" => options.seed = value("--seed"),
            "-h" | "--help" => {
                println!(
                    "usage: fuzz <{}|all> [--seconds N] [--iterations N] [--seed N]",
                    TARGETS.join("|")
                );
                return;
            }
            other => target = other.to_owned(),
        }
    }
    // Panics are expected to be caught and reported once, with their input.
    panic::set_hook(Box::new(|_| {}));
    println!("seed {}", options.seed);
    let targets: Vec<&str> = if target == "all" {
        TARGETS.to_vec()
    } else {
        vec![target.as_str()]
    };
    let failures: usize = targets.iter().map(|t| fuzz(t, &options)).sum();
    if failures > 0 {
        eprintln!(
            "{failures} failure(s); inputs under {}",
            Path::new("fuzz/artifacts").display()
        );
        std::process::exit(1);
    }
}
