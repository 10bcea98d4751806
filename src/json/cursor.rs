//! The byte cursor both fast paths walk a body with: [`super::read`] (builds the tree) and the
//! scanner behind [`super::scan`] (checks without one). Grammar pieces live here once.

use super::value::number_len;
use super::MAX_DEPTH;

pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
    /// Why the walk stopped, when it stopped short of the end.
    pub(crate) refusal: Refusal,
}

/// Why a fast path refused a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not valid JSON (or a repeated key): the serde path words the error.
    Invalid,
    /// An array or object would nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// An object key holds a lone surrogate escape, at this byte offset.
    SurrogateKey(usize),
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            bytes,
            at: 0,
            refusal: Refusal::Invalid,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    pub(crate) fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Steps into the object or array at the cursor, with `depth` containers around it:
    /// `Some(true)` when it closes at once (`close` consumed), `Some(false)` when members follow,
    /// `None` when it would nest deeper than [`MAX_DEPTH`] (recorded as [`Refusal::TooDeep`]).
    pub(crate) fn open(&mut self, depth: usize, close: u8) -> Option<bool> {
        if depth >= MAX_DEPTH {
            self.refusal = Refusal::TooDeep;
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Some(true);
        }
        Some(false)
    }

    /// After a member or element: `true` on `,` (another follows), `false` on `close`.
    pub(crate) fn next_member(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        let byte = self.peek()?;
        self.at += 1;
        match byte {
            b',' => Some(true),
            b if b == close => Some(false),
            _ => None,
        }
    }

    /// The `:` after an object key, with the whitespace around it.
    pub(crate) fn colon(&mut self) -> Option<()> {
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        Some(())
    }

    /// `true`, `false` or `null` (whichever `word` is) at the cursor.
    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.bytes[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(())
    }

    /// A number at the cursor; returns where it starts (it ends at the cursor).
    pub(crate) fn number(&mut self) -> Option<usize> {
        let start = self.at;
        self.at += number_len(&self.bytes[start..])?;
        Some(start)
    }

    /// Walks a string at its opening quote to its closing quote (returned; the cursor is left after
    /// it), checking every escape. `None` for invalid escapes and control characters; lone surrogate
    /// escapes are valid JSON text.
    pub(crate) fn skip_string(&mut self) -> Option<usize> {
        let end = string_end(self.bytes, self.at + 1)?;
        self.at = end + 1;
        Some(end)
    }
}

/// The index of the closing quote of the string whose text starts at `i`, every escape checked.
/// `None` for invalid escapes and control characters.
pub(crate) fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = skip_plain(bytes, i);
        match *bytes.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += escape(bytes, i)?.1,
            _ => return None,
        }
    }
}

/// The character an escape at `bytes[i] == b'\\'` stands for (`None` for a lone surrogate: a
/// `\uD800`-`\uDFFF` escape that is not half of a pair, which no Rust string can hold), and the
/// escape's length. `None` for invalid escapes (the serde path words the error).
#[inline]
pub(crate) fn escape(bytes: &[u8], i: usize) -> Option<(Option<char>, usize)> {
    let simple = |c: char| Some((Some(c), 2));
    match *bytes.get(i + 1)? {
        b'"' => simple('"'),
        b'\\' => simple('\\'),
        b'/' => simple('/'),
        b'b' => simple('\u{8}'),
        b'f' => simple('\u{c}'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'u' => {
            let unit = hex4(bytes, i + 2)?;
            Some(match unit {
                0xD800..=0xDBFF => {
                    let low = match bytes.get(i + 6..i + 8) {
                        Some(b"\\u") => hex4(bytes, i + 8),
                        _ => None,
                    };
                    match low {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            (char::from_u32(code), 12)
                        }
                        _ => (None, 6),
                    }
                }
                0xDC00..=0xDFFF => (None, 6),
                _ => (Some(char::from_u32(unit)?), 6),
            })
        }
        _ => None,
    }
}

/// The text of the checked string `bytes[start..end]` (between its quotes) with its escapes decoded;
/// `None` when it holds a lone surrogate escape.
pub(crate) fn decoded(bytes: &[u8], start: usize, end: usize) -> Option<String> {
    let text = &bytes[start..end];
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            let (c, len) = escape(text, i)?;
            out.extend_from_slice(c?.encode_utf8(&mut [0; 4]).as_bytes());
            i += len;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `bytes` with every lone surrogate escape (`\ud800`) turned into `\ufffd`, the same length: what
/// serde_json (which refuses lone surrogates) reads to word the error of a body the fast paths
/// refused, at the same line and column.
pub(crate) fn mask_lone_surrogates(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut masked: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let len = match escape(bytes, i) {
                    Some((None, len)) => {
                        let out = masked.get_or_insert_with(|| bytes.to_vec());
                        out[i + 2..i + 6].copy_from_slice(b"fffd");
                        len
                    }
                    Some((Some(_), len)) => len,
                    None => 2,
                };
                i += len;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    masked.map_or(std::borrow::Cow::Borrowed(bytes), std::borrow::Cow::Owned)
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)?
        .iter()
        .try_fold(0u32, |n, &b| Some(n * 16 + char::from(b).to_digit(16)?))
}

/// Objects with at most this many keys are checked for repeats pair by pair (most event objects;
/// mostly settled by length alone); bigger ones are sorted, so a huge object costs n log n, not n².
const PAIRWISE_KEYS: usize = 12;

/// A key that `items` (an object's members, in order) hold twice, if any.
pub(crate) fn repeated_key<'k, T>(
    items: &'k [T],
    key: impl Fn(&'k T) -> &'k [u8],
) -> Option<&'k [u8]> {
    if items.len() <= PAIRWISE_KEYS {
        return items.iter().enumerate().find_map(|(i, item)| {
            let k = key(item);
            items[..i].iter().any(|other| key(other) == k).then_some(k)
        });
    }
    let mut keys: Vec<&[u8]> = items.iter().map(key).collect();
    keys.sort_unstable();
    keys.windows(2)
        .find(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
}

/// Whether any byte of `word` is `"`, `\\` or below 0x20 (exact: no byte is missed; a byte after a
/// hit may be reported too, which only sends the caller to its byte-by-byte path).
pub(crate) fn needs_a_look(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control != 0
}

/// The index of the first byte at or after `i` that is `"`, `\\` or a control character, or of a
/// byte within the last eight: plain string bytes are skipped eight at a time.
pub(crate) fn skip_plain(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        if needs_a_look(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}
