//! The byte cursor both fast paths walk a body with: [`super::read`] (builds the tree) and the
//! scanner behind [`super::scan`] (checks without one). Grammar pieces live here once.

use super::value::number_len;
use super::MAX_DEPTH;

pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
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
    /// `None` when it would nest to [`MAX_DEPTH`] (the serde path decides those).
    pub(crate) fn open(&mut self, depth: usize, close: u8) -> Option<bool> {
        if depth + 1 >= MAX_DEPTH {
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
    /// it), checking every escape. `None` for invalid escapes, lone surrogates, control characters.
    pub(crate) fn skip_string(&mut self) -> Option<usize> {
        let mut i = self.at + 1;
        loop {
            i = skip_plain(self.bytes, i);
            match *self.bytes.get(i)? {
                b'"' => {
                    self.at = i + 1;
                    return Some(i);
                }
                b'\\' => i += escape(self.bytes, i)?.1,
                _ => return None,
            }
        }
    }
}

/// The character an escape at `bytes[i] == b'\\'` stands for, and the escape's length. `None` for
/// invalid escapes and lone surrogates (the serde path words the error).
pub(crate) fn escape(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    Some(match *bytes.get(i + 1)? {
        b'"' => ('"', 2),
        b'\\' => ('\\', 2),
        b'/' => ('/', 2),
        b'b' => ('\u{8}', 2),
        b'f' => ('\u{c}', 2),
        b'n' => ('\n', 2),
        b'r' => ('\r', 2),
        b't' => ('\t', 2),
        b'u' => {
            let unit = hex4(bytes, i + 2)?;
            match unit {
                0xD800..=0xDBFF => {
                    if bytes.get(i + 6..i + 8)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(bytes, i + 8)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code)?, 12)
                }
                0xDC00..=0xDFFF => return None,
                _ => (char::from_u32(unit)?, 6),
            }
        }
        _ => return None,
    })
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
