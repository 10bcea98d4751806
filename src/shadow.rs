//! Shadow comparison of twins: the copy hookshift translated and the copy the sender delivered in the
//! handler's version, compared field by field at the handler's version.
//!
//! The first copy of a pair is kept in the ledger as a [`Fingerprint`]: a hash tree of the event (a
//! Merkle tree over sorted object keys), not the event itself. Two fingerprints name the paths where the
//! twins differ and the JSON types found there; with `ledger.keep_values` the leaves also keep their
//! values, for debugging. The tree keeps at most [`MAX_NODES`] nodes, breadth first, so a large event
//! stays small at rest: below that, a differing subtree is named by its root path.
//!
//! Everything here is pure: the pipeline computes fingerprints and the ledger stores them.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::json::Value;

mod codec;

/// Most nodes one fingerprint keeps (the root's children first, then theirs, ...).
pub const MAX_NODES: usize = 1024;
/// Deepest segment count of a path in a [`Difference`] (deeper ones are named by their ancestor).
pub const MAX_PATH_DEPTH: usize = 8;
/// Most differing paths one pair records; the rest are counted in [`PairResult::more_paths`].
pub const MAX_PAIR_PATHS: usize = 16;
/// Longest leaf value kept with `keep_values` (longer ones are cut, marked with `…`).
pub const MAX_KEPT_VALUE: usize = 256;
/// The envelope field that differs between twins by nature (each delivery has its own).
pub const EVENT_ID_PATH: &str = "eventId";

/// The JSON type at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) | Value::RawString(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// The word reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// One node of a fingerprint: the hash of the subtree, and its children while the node budget lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    #[serde(rename = "k")]
    pub kind: Kind,
    #[serde(rename = "h")]
    pub hash: u64,
    /// Object keys (sorted) or array indexes (`"0"`, `"1"`, ...) with their nodes; empty for a leaf or
    /// for a container the budget did not reach (see [`Node::expanded`]).
    #[serde(rename = "c", default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<(String, Node)>,
    /// Whether `children` lists every child (false: only the hash is known below this node).
    #[serde(rename = "x", default, skip_serializing_if = "is_false")]
    pub expanded: bool,
    /// The leaf's JSON text, with `keep_values` only.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The hash tree of one event, as the ledger keeps it: in the compact text of [`crate::shadow::codec`]
/// (a few bytes a node beside its key), since it is written for every first copy of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub root: Node,
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&codec::encode(&self.root))
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        codec::decode(&text)
            .map(|root| Fingerprint { root })
            .map_err(serde::de::Error::custom)
    }
}

/// A fingerprint as the ledger keeps it: its text (see [`codec`]), written straight from the event
/// on the request path's side and read back into a [`Fingerprint`] only when its twin comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kept(String);

impl Kept {
    /// The kept fingerprint of an event, as [`Fingerprint::of`] would keep it.
    pub fn of(event: &Value, keep_values: bool) -> Kept {
        if node_count(event, MAX_NODES + 1) <= MAX_NODES {
            return Kept(codec::encode_event(event, keep_values));
        }
        Kept(codec::encode(&Fingerprint::of(event, keep_values).root))
    }

    /// The fingerprint it holds; an error when the text is not one (a ledger edited by hand).
    pub fn read(&self) -> Result<Fingerprint, String> {
        codec::decode(&self.0).map(|root| Fingerprint { root })
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How many nodes `value`'s tree has, counting no further than `limit`.
fn node_count(value: &Value, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        count += 1;
        if count >= limit {
            return count;
        }
        match value {
            Value::Object(map) => stack.extend(map.iter().map(|(_, v)| v)),
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    count
}

impl Fingerprint {
    /// The fingerprint of an event: every node hashed, at most [`MAX_NODES`] kept (breadth first),
    /// leaf values kept only when `keep_values`.
    pub fn of(event: &Value, keep_values: bool) -> Fingerprint {
        let mut root = full_tree(event, keep_values);
        prune(&mut root, MAX_NODES);
        Fingerprint { root }
    }

    /// How many nodes it keeps (the root included).
    pub fn node_count(&self) -> usize {
        fn count(node: &Node) -> usize {
            1 + node.children.iter().map(|(_, c)| count(c)).sum::<usize>()
        }
        count(&self.root)
    }
}

fn full_tree(value: &Value, keep_values: bool) -> Node {
    let kind = Kind::of(value);
    // Not a cryptographic hash: twins come from one verified sender, and a 64-bit FNV hash spread by
    // splitmix tells their subtrees apart at a fraction of SHA-256's cost.
    let mut hash = fnv(FNV_OFFSET, &[kind as u8]);
    let (children, leaf_text) = match value {
        Value::Object(map) => {
            let mut children: Vec<(String, Node)> = map
                .iter()
                .map(|(k, v)| (k.to_string(), full_tree(v, keep_values)))
                .collect();
            // Key order carries no meaning in JSON: a translation may emit another order.
            children.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, child) in &children {
                hash = fnv(hash, &(key.len() as u64).to_le_bytes());
                hash = fnv(hash, key.as_bytes());
                hash = fnv(hash, &child.hash.to_le_bytes());
            }
            (children, None)
        }
        Value::Array(items) => {
            let children: Vec<(String, Node)> = items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), full_tree(v, keep_values)))
                .collect();
            for (_, child) in &children {
                hash = fnv(hash, &child.hash.to_le_bytes());
            }
            (children, None)
        }
        leaf => {
            let text = leaf.to_vec();
            hash = fnv(hash, &text);
            (Vec::new(), Some(text))
        }
    };
    let expanded = matches!(kind, Kind::Object | Kind::Array);
    Node {
        kind,
        hash: mix(hash),
        children,
        expanded,
        value: leaf_text
            .filter(|_| keep_values)
            .map(|text| cut(&String::from_utf8_lossy(&text))),
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_KEPT_VALUE {
        return text.to_owned();
    }
    let mut end = MAX_KEPT_VALUE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Keeps at most `budget` nodes, nearest the root first; a container whose children do not all fit
/// keeps none of them (it is then known by its hash only).
fn prune(root: &mut Node, budget: usize) {
    let mut left = budget.saturating_sub(1);
    let mut queue: VecDeque<&mut Node> = VecDeque::new();
    queue.push_back(root);
    while let Some(node) = queue.pop_front() {
        if node.children.len() > left {
            node.children = Vec::new();
            node.expanded = false;
            continue;
        }
        left -= node.children.len();
        for (_, child) in node.children.iter_mut() {
            queue.push_back(child);
        }
    }
    // Containers still queued were reached within the budget with their children: nothing to do.
}

/// One path where twins differ, with the JSON type on each side (`None`: absent there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// From the event root, array indexes as `[*]` (`payload.files[*].name`), at most
    /// [`MAX_PATH_DEPTH`] segments.
    pub path: String,
    pub native: Option<Kind>,
    pub translated: Option<Kind>,
    /// The values on each side, when both fingerprints kept them (`keep_values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translated_value: Option<String>,
}

/// Every path where `native` (the copy sent in the handler's version) and `translated` (hookshift's
/// translation of its twin) differ, deduplicated by label path, sorted. `eventId` is left out.
pub fn differences(native: &Fingerprint, translated: &Fingerprint) -> Vec<Difference> {
    let mut found = BTreeMap::new();
    walk(
        &mut Vec::new(),
        Some(&native.root),
        Some(&translated.root),
        &mut found,
    );
    found.remove(EVENT_ID_PATH);
    found.into_values().collect()
}

#[derive(Clone)]
enum Segment<'a> {
    Key(&'a str),
    Index,
}

fn render(segments: &[Segment<'_>]) -> String {
    let mut out = String::new();
    for segment in segments.iter().take(MAX_PATH_DEPTH) {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index => out.push_str("[*]"),
        }
    }
    out
}

fn walk<'a>(
    at: &mut Vec<Segment<'a>>,
    native: Option<&'a Node>,
    translated: Option<&'a Node>,
    found: &mut BTreeMap<String, Difference>,
) {
    let (n, t) = match (native, translated) {
        (Some(n), Some(t)) if n.hash == t.hash => return,
        (Some(n), Some(t)) => (n, t),
        (n, t) => {
            record(at, n, t, found);
            return;
        }
    };
    let comparable = n.kind == t.kind && n.expanded && t.expanded && at.len() < MAX_PATH_DEPTH;
    if !comparable {
        record(at, Some(n), Some(t), found);
        return;
    }
    match n.kind {
        Kind::Object => {
            let mut keys: Vec<&'a str> = n
                .children
                .iter()
                .chain(t.children.iter())
                .map(|(k, _)| k.as_str())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                at.push(Segment::Key(key));
                walk(at, child(n, key), child(t, key), found);
                at.pop();
            }
        }
        Kind::Array => {
            let len = n.children.len().max(t.children.len());
            for i in 0..len {
                at.push(Segment::Index);
                walk(
                    at,
                    n.children.get(i).map(|(_, c)| c),
                    t.children.get(i).map(|(_, c)| c),
                    found,
                );
                at.pop();
            }
        }
        _ => record(at, Some(n), Some(t), found),
    }
}

fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.children
        .binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .map(|i| &node.children[i].1)
}

fn record(
    at: &[Segment<'_>],
    native: Option<&Node>,
    translated: Option<&Node>,
    found: &mut BTreeMap<String, Difference>,
) {
    let path = render(at);
    found.entry(path.clone()).or_insert_with(|| Difference {
        path,
        native: native.map(|n| n.kind),
        translated: translated.map(|n| n.kind),
        native_value: native.and_then(|n| n.value.clone()),
        translated_value: translated.and_then(|n| n.value.clone()),
    });
}

/// Path patterns of differences the mapping expects: what the sending version cannot carry, so the
/// translation had to synthesise it (delivery-time defaults, placeholders). They are the lossy paths
/// of the way back (`[rule.lossy]` of the opposite step: `payload.createdAt`,
/// `payload.output.metadata.*.citations[*].fileId`): `*` stands for any key, `[*]` for any index,
/// and a pattern covers everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected(Vec<String>);

impl Expected {
    /// From the lossy path patterns of the way back.
    pub fn new(patterns: impl IntoIterator<Item = String>) -> Expected {
        let mut patterns: Vec<String> = patterns.into_iter().collect();
        patterns.sort_unstable();
        patterns.dedup();
        Expected(patterns)
    }

    /// Whether a difference at `path` (as [`Difference::path`] names it) is expected.
    pub fn covers(&self, path: &str) -> bool {
        let path = split(path);
        self.0.iter().any(|pattern| {
            let pattern = split(pattern);
            pattern.len() <= path.len()
                && pattern
                    .iter()
                    .zip(&path)
                    .all(|(p, s)| p == s || (*p == "*" && *s != "[*]"))
        })
    }

    /// The patterns.
    pub fn patterns(&self) -> &[String] {
        &self.0
    }
}

/// `payload.files[*].name` → `["payload", "files", "[*]", "name"]`.
fn split(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        while let Some(at) = rest.find('[') {
            if at > 0 {
                out.push(&rest[..at]);
            }
            let end = rest[at..].find(']').map_or(rest.len(), |e| at + e + 1);
            out.push("[*]");
            rest = &rest[end..];
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// What the comparison of one pair found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairResult {
    /// No difference outside the expected ones and `eventId`.
    pub matched: bool,
    /// The unexpected differences (at most [`MAX_PAIR_PATHS`]).
    pub mismatched: Vec<Difference>,
    /// How many further unexpected differences were not recorded.
    #[serde(default)]
    pub more_paths: usize,
    /// How many differences the mapping expected.
    pub expected: usize,
    /// The event id of the copy sent in the handler's version.
    pub native_event_id: String,
    /// The event id of the copy hookshift translated.
    pub translated_event_id: String,
    /// The version the translated copy was sent in.
    pub translated_from: String,
}

/// Compares twins: `native` sent in the handler's version, `translated` hookshift's translation of the
/// other, `expected` the differences the mapping synthesises.
pub fn compare(
    native: &Fingerprint,
    translated: &Fingerprint,
    expected: &Expected,
    native_event_id: &str,
    translated_event_id: &str,
    translated_from: &str,
) -> PairResult {
    let (expected_differences, mut mismatched): (Vec<Difference>, Vec<Difference>) =
        differences(native, translated)
            .into_iter()
            .partition(|d| expected.covers(&d.path));
    let more_paths = mismatched.len().saturating_sub(MAX_PAIR_PATHS);
    mismatched.truncate(MAX_PAIR_PATHS);
    PairResult {
        matched: mismatched.is_empty(),
        mismatched,
        more_paths,
        expected: expected_differences.len(),
        native_event_id: native_event_id.to_owned(),
        translated_event_id: translated_event_id.to_owned(),
        translated_from: translated_from.to_owned(),
    }
}

/// The pairing digest of a copy at the handler's version: a stable 64-bit hash of every leaf (its
/// path, JSON type and exact text) outside `eventId` and the paths `expected` covers (what a
/// translation synthesises), independent of key order; empty objects and arrays add nothing. Twins whose translation matches have the same
/// digest; the ledger pairs occurrences by it (see [`crate::ledger::once`]). Much cheaper than a
/// [`Fingerprint`]: no tree is built, no SHA-256.
pub fn pair_digest(event: &Value, expected: &Expected) -> u64 {
    let patterns: Vec<Vec<&str>> = expected.0.iter().map(|p| split(p)).collect();
    let active: Vec<usize> = (0..patterns.len()).collect();
    let mut sum = 0u64;
    if let Value::Object(map) = event {
        for (key, value) in map.iter() {
            if key.as_str() != EVENT_ID_PATH {
                digest_member(
                    value,
                    key.as_str(),
                    fnv(FNV_OFFSET, key.as_bytes()),
                    0,
                    &patterns,
                    &active,
                    &mut sum,
                );
            }
        }
    } else {
        digest_node(event, FNV_OFFSET, 0, &patterns, &active, &mut sum);
    }
    sum
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// splitmix64's finaliser: spreads a leaf's FNV hash before the leaves are summed.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One member (`segment` of its parent at `depth`): skipped when a pattern covers it.
fn digest_member(
    value: &Value,
    segment: &str,
    path_hash: u64,
    depth: usize,
    patterns: &[Vec<&str>],
    active: &[usize],
    sum: &mut u64,
) {
    let mut next = Vec::new();
    for &i in active {
        let pattern = &patterns[i];
        let Some(p) = pattern.get(depth) else {
            continue;
        };
        if *p == segment || (*p == "*" && segment != "[*]") {
            if pattern.len() == depth + 1 {
                return;
            }
            next.push(i);
        }
    }
    digest_node(value, path_hash, depth + 1, patterns, &next, sum);
}

fn digest_node(
    value: &Value,
    path_hash: u64,
    depth: usize,
    patterns: &[Vec<&str>],
    active: &[usize],
    sum: &mut u64,
) {
    match value {
        // An empty container adds nothing: a copy whose members the expected paths all cover must
        // digest like its twin, which may hold the container empty or not at all.
        Value::Object(map) => {
            for (key, child) in map.iter() {
                let hash = fnv(fnv(path_hash, b"."), key.as_bytes());
                digest_member(child, key.as_str(), hash, depth, patterns, active, sum);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let hash = fnv(fnv(path_hash, b"["), &(index as u64).to_le_bytes());
                digest_member(child, "[*]", hash, depth, patterns, active, sum);
            }
        }
        leaf => {
            let hash = fnv(path_hash, &[Kind::of(leaf) as u8]);
            let hash = match leaf {
                Value::Bool(b) => fnv(hash, &[u8::from(*b)]),
                Value::Number(n) => fnv(hash, n.as_str().as_bytes()),
                Value::String(s) => fnv(hash, s.as_bytes()),
                _ => hash,
            };
            *sum = sum.wrapping_add(mix(hash));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn fp(text: &str) -> Fingerprint {
        Fingerprint::of(&json(text), false)
    }

    #[test]
    fn key_order_does_not_matter_and_values_do() {
        let a = fp(r#"{"eventId":"e1","payload":{"id":"x","n":1}}"#);
        let b = fp(r#"{"payload":{"n":1,"id":"x"},"eventId":"e1"}"#);
        assert_eq!(a.root.hash, b.root.hash);
        let c = fp(r#"{"payload":{"n":2,"id":"x"},"eventId":"e1"}"#);
        assert_ne!(a.root.hash, c.root.hash);
    }

    #[test]
    fn names_differing_paths_with_their_types_and_skips_the_event_id() {
        let native = fp(
            r#"{"eventId":"e1","eventType":"t","payload":{"id":"x","files":[{"name":"a"},{"name":"b"}],"usage":null,"extra":1}}"#,
        );
        let translated = fp(
            r#"{"eventId":"e2","eventType":"t","payload":{"id":"x","files":[{"name":"a"},{"name":"c"}],"usage":{"credits":1}}}"#,
        );
        let found = differences(&native, &translated);
        let summary: Vec<(String, Option<Kind>, Option<Kind>)> = found
            .iter()
            .map(|d| (d.path.clone(), d.native, d.translated))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("payload.extra".into(), Some(Kind::Number), None),
                (
                    "payload.files[*].name".into(),
                    Some(Kind::String),
                    Some(Kind::String)
                ),
                ("payload.usage".into(), Some(Kind::Null), Some(Kind::Object)),
            ]
        );
    }

    #[test]
    fn expected_patterns_cover_their_subtree_with_wildcards() {
        let expected = Expected::new([
            "payload.createdAt".to_owned(),
            "payload.output.metadata.*.citations[*].fileId".to_owned(),
            "payload.extractorVersion".to_owned(),
        ]);
        assert!(expected.covers("payload.createdAt"));
        assert!(expected.covers("payload.output.metadata.total.citations[*].fileId"));
        assert!(expected.covers("payload.extractorVersion.version"));
        assert!(!expected.covers("payload.output.metadata.total.citations[*].page"));
        assert!(!expected.covers("payload"));
        assert!(!expected.covers("payload.updatedAt"));
    }

    #[test]
    fn compare_counts_expected_differences_apart() {
        let native =
            fp(r#"{"eventId":"n","payload":{"id":"x","createdAt":"2026-01-01","status":"OK"}}"#);
        let translated =
            fp(r#"{"eventId":"t","payload":{"id":"x","createdAt":"2026-02-13","status":"OK"}}"#);
        let expected = Expected::new(["payload.createdAt".to_owned()]);
        let result = compare(&native, &translated, &expected, "n", "t", "2025-04-21");
        assert!(result.matched);
        assert_eq!(result.expected, 1);
        let translated =
            fp(r#"{"eventId":"t","payload":{"id":"x","createdAt":"2026-02-13","status":"BAD"}}"#);
        let result = compare(&native, &translated, &expected, "n", "t", "2025-04-21");
        assert!(!result.matched);
        assert_eq!(result.mismatched.len(), 1);
        assert_eq!(result.mismatched[0].path, "payload.status");
    }

    #[test]
    fn a_large_event_keeps_a_bounded_tree_and_still_names_the_differing_subtree() {
        let items: Vec<String> = (0..5000).map(|i| format!(r#"{{"v":{i}}}"#)).collect();
        let big = format!(
            r#"{{"payload":{{"id":"x","items":[{}]}}}}"#,
            items.join(",")
        );
        let mut changed = items.clone();
        changed[4321] = r#"{"v":-1}"#.to_owned();
        let big2 = format!(
            r#"{{"payload":{{"id":"x","items":[{}]}}}}"#,
            changed.join(",")
        );
        let a = fp(&big);
        let b = fp(&big2);
        assert!(a.node_count() <= MAX_NODES);
        let stored = serde_json::to_vec(&a).unwrap();
        assert!(stored.len() < 64 * 1024, "{} bytes at rest", stored.len());
        let found = differences(&a, &b);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "payload.items");
    }

    #[test]
    fn values_are_kept_only_when_asked() {
        let event = json(r#"{"payload":{"name":"secret-ish"}}"#);
        let plain = serde_json::to_string(&Fingerprint::of(&event, false)).unwrap();
        assert!(!plain.contains("secret-ish"));
        let kept = Fingerprint::of(&event, true);
        let other = Fingerprint::of(&json(r#"{"payload":{"name":"other"}}"#), true);
        let found = differences(&kept, &other);
        assert_eq!(found[0].native_value.as_deref(), Some("\"secret-ish\""));
        assert_eq!(found[0].translated_value.as_deref(), Some("\"other\""));
    }

    #[test]
    fn fingerprints_survive_the_ledger_encoding() {
        let a = Fingerprint::of(&json(r#"{"a":[1,{"b":null}],"c":true}"#), true);
        let back: Fingerprint = serde_json::from_slice(&serde_json::to_vec(&a).unwrap()).unwrap();
        assert_eq!(a, back);
    }
}
