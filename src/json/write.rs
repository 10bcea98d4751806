//! Compact JSON text of a [`Value`], byte for byte what `serde_json::to_vec` writes.

use super::value::{Map, Value};

/// Appends the compact JSON text of `value` to `out`.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.as_str().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

fn write_object(out: &mut Vec<u8>, map: &Map) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

/// A JSON string: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00xx`, all
/// else (non-ASCII included) as is, which is serde_json's choice.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    let mut i = 0;
    loop {
        i = super::cursor::skip_plain(bytes, i);
        let Some(&byte) = bytes.get(i) else { break };
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\x08' => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\x0c' => b"\\f",
            b'\r' => b"\\r",
            _ => &[],
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        plain_from = i;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(text: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_strings_as_serde_json_does() {
        let every_low_byte: String = (0u8..0x80).map(char::from).collect();
        for text in [
            "",
            "plain",
            "quote \" and backslash \\ and slash /",
            "tab\tnewline\nreturn\rfeed\u{c}back\u{8}",
            "é 日本 🎉 \u{7f}",
            every_low_byte.as_str(),
            "a long run of plain text before the \"quote\" at the end",
        ] {
            assert_eq!(ours(text), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(text in ".*") {
            proptest::prop_assert_eq!(ours(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
