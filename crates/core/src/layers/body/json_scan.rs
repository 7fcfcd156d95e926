//! A streaming, allocation-bounded JSON validator: it reads a body in the
//! chunks it arrives in, checks RFC 8259 syntax strictly and the route's
//! shape limits, and never builds a tree.
//!
//! ```
//! use warden_core::layers::body::json_scan::{JsonLimits, JsonRefusal, Scanner};
//!
//! let mut scanner = Scanner::new(JsonLimits::STRICT);
//! // Chunks split anywhere: inside a key, an escape, a UTF-8 character.
//! scanner.feed(br#"{"na"#).unwrap();
//! scanner.feed(b"me\":\"caf\xc3").unwrap();
//! scanner.feed(b"\xa9 \\u00").unwrap();
//! scanner.feed(br#"e9"}"#).unwrap();
//! assert_eq!(scanner.finish(), Ok(()));
//!
//! let mut deep = Scanner::new(JsonLimits::STRICT);
//! assert_eq!(deep.feed(&[b'['; 11]), Err(JsonRefusal::Depth));
//! assert_eq!(JsonRefusal::Depth.limit(), "depth");
//! ```
//!
//! Memory is the scanner itself plus one small frame per open container:
//! O(`max_depth`), reserved once in [`Scanner::new`]. Each byte is looked at
//! once, in O(1), so time is linear in the body. The verdict depends only on
//! the bytes, never on where the chunks split: the first refusal is the one
//! at the earliest byte, and after it every call returns it again.
//!
//! Strict means: UTF-8 only (no overlong forms, no surrogates, nothing past
//! U+10FFFF; no byte-order mark), escapes only those of RFC 8259, `\u`
//! surrogates only as a high-low pair (a lone one is refused, as I-JSON,
//! RFC 7493, requires), control characters only escaped, numbers by the
//! grammar (no leading zeros, `+`, `.5`, `1.`, `NaN`), literals spelled in
//! full, no trailing commas, one value with only space, tab, CR and LF
//! around it.
//!
//! What is counted:
//! - **depth**: containers open at once (`[]` is depth 1, a lone scalar 0).
//! - **array_items**: values in one array.
//! - **string_chars**: characters of one string, keys included, counted
//!   decoded (a `\u` escape, or a surrogate pair, or a 4-byte UTF-8
//!   character is one).
//! - **object_keys**: keys of one object (duplicates counted each time).
//! - **total_keys**: keys in the whole document.
//! - **nul**: with `refuse_nul`, an escaped `\u0000` in a string or a raw
//!   NUL byte anywhere (without it, a raw NUL is malformed, as RFC 8259 says).

/// The limits one scanner enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Containers open at once; 1..=[`MAX_DEPTH`].
    pub max_depth: u32,
    /// Values in one array.
    pub max_array_items: u64,
    /// Characters in one string (keys included).
    pub max_string_chars: u64,
    /// Keys in one object.
    pub max_object_keys: u64,
    /// Keys in the whole document; `None`: no limit.
    pub max_total_keys: Option<u64>,
    /// Refuse `\u0000` and raw NUL bytes.
    pub refuse_nul: bool,
}

/// The largest `max_depth`: the scanner reserves one frame per level.
pub const MAX_DEPTH: u32 = 512;

impl JsonLimits {
    /// Seed 004's numbers: depth 10, arrays of 1000 items, strings of
    /// 10 000 characters, objects of 100 keys, no NUL; no total.
    pub const STRICT: JsonLimits = JsonLimits {
        max_depth: 10,
        max_array_items: 1000,
        max_string_chars: 10_000,
        max_object_keys: 100,
        max_total_keys: None,
        refuse_nul: true,
    };
}

/// Why a body was refused: a limit by name, or malformed JSON. Carries no
/// part of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonRefusal {
    /// Nested deeper than `max_depth`.
    Depth,
    /// An array with more than `max_array_items` values.
    ArrayItems,
    /// A string (or key) longer than `max_string_chars`.
    StringChars,
    /// An object with more than `max_object_keys` keys.
    ObjectKeys,
    /// More than `max_total_keys` keys in the document.
    TotalKeys,
    /// A NUL, escaped or raw, with `refuse_nul`.
    Nul,
    /// Not JSON (RFC 8259), or cut short.
    Malformed,
}

impl JsonRefusal {
    /// The limit's name, as the policy and the logs say it (`malformed`
    /// for a syntax error).
    pub fn limit(&self) -> &'static str {
        match self {
            JsonRefusal::Depth => "depth",
            JsonRefusal::ArrayItems => "array_items",
            JsonRefusal::StringChars => "string_chars",
            JsonRefusal::ObjectKeys => "object_keys",
            JsonRefusal::TotalKeys => "total_keys",
            JsonRefusal::Nul => "nul",
            JsonRefusal::Malformed => "malformed",
        }
    }
}

/// One open container.
#[derive(Debug, Clone, Copy)]
struct Frame {
    object: bool,
    /// Items of an array, keys of an object.
    count: u64,
}

/// Where in a number the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    /// After `-`: a digit must follow.
    Minus,
    /// A leading `0`: no more integer digits.
    Zero,
    /// Integer digits.
    Int,
    /// After `.`: a digit must follow.
    Dot,
    /// Fraction digits.
    Frac,
    /// After `e`: a sign or a digit.
    E,
    /// After the exponent's sign: a digit.
    ESign,
    /// Exponent digits.
    Exp,
}

impl Num {
    /// Whether the number may end here.
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }
}

/// Inside a string: escapes and UTF-8 sequences in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    Plain,
    /// After `\`.
    Backslash,
    /// `\u` and `n` hex digits of `value`; `high` is the pending high
    /// surrogate when these are a low one's.
    Hex {
        n: u8,
        value: u16,
        high: Option<u16>,
    },
    /// After a high surrogate: `\` must follow.
    AfterHigh {
        high: u16,
    },
    /// After a high surrogate and `\`: `u` must follow.
    AfterHighBackslash {
        high: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A value must come (the start, after `:`, after `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    AfterValue,
    /// The top-level value is complete: whitespace only.
    Done,
    /// The rest of `true`, `false` or `null`.
    Literal {
        rest: &'static [u8],
    },
    Number(Num),
    String {
        key: bool,
        chars: u64,
        esc: Esc,
        /// Continuation bytes still due, and the range the next one must be in.
        need: u8,
        lo: u8,
        hi: u8,
    },
}

/// The streaming validator: [`feed`](Scanner::feed) the body's chunks in
/// order, then [`finish`](Scanner::finish).
#[derive(Debug, Clone)]
pub struct Scanner {
    limits: JsonLimits,
    stack: Vec<Frame>,
    mode: Mode,
    total_keys: u64,
    failed: Option<JsonRefusal>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn hex(b: u8) -> Option<u16> {
    (b as char).to_digit(16).map(|d| d as u16)
}

impl Scanner {
    /// A scanner for one body. Its only allocation is here: one frame per
    /// level up to `max_depth` (capped at [`MAX_DEPTH`]).
    pub fn new(limits: JsonLimits) -> Scanner {
        let depth = limits.max_depth.min(MAX_DEPTH) as usize;
        Scanner {
            limits: JsonLimits {
                max_depth: depth as u32,
                ..limits
            },
            stack: Vec::with_capacity(depth),
            mode: Mode::Value,
            total_keys: 0,
            failed: None,
        }
    }

    /// The next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), JsonRefusal> {
        if let Some(refusal) = self.failed {
            return Err(refusal);
        }
        for &b in chunk {
            if let Err(refusal) = self.byte(b) {
                self.failed = Some(refusal);
                return Err(refusal);
            }
        }
        Ok(())
    }

    /// The end of the body: refused unless exactly one complete value was read.
    pub fn finish(&mut self) -> Result<(), JsonRefusal> {
        if let Some(refusal) = self.failed {
            return Err(refusal);
        }
        let verdict = match self.mode {
            Mode::Done => Ok(()),
            Mode::Number(n) if n.complete() && self.stack.is_empty() => Ok(()),
            _ => Err(JsonRefusal::Malformed),
        };
        if let Err(refusal) = verdict {
            self.failed = Some(refusal);
        }
        verdict
    }

    fn byte(&mut self, b: u8) -> Result<(), JsonRefusal> {
        if b == 0 {
            return Err(if self.limits.refuse_nul {
                JsonRefusal::Nul
            } else {
                JsonRefusal::Malformed
            });
        }
        match self.mode {
            Mode::String { .. } => self.string_byte(b),
            Mode::Literal { rest } => {
                if rest.first() != Some(&b) {
                    return Err(JsonRefusal::Malformed);
                }
                if rest.len() == 1 {
                    self.value_done();
                } else {
                    self.mode = Mode::Literal { rest: &rest[1..] };
                }
                Ok(())
            }
            Mode::Number(n) => {
                let next = match (n, b) {
                    (Num::Minus, b'0') => Some(Num::Zero),
                    (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                    (Num::Int, b'0'..=b'9') => Some(Num::Int),
                    (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                    (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                    (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                    (Num::E, b'+' | b'-') => Some(Num::ESign),
                    (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                    _ => None,
                };
                match next {
                    Some(next) => {
                        self.mode = Mode::Number(next);
                        Ok(())
                    }
                    None if n.complete() => {
                        // The byte after a number belongs to what follows it.
                        self.value_done();
                        self.byte(b)
                    }
                    None => Err(JsonRefusal::Malformed),
                }
            }
            _ if is_space(b) => Ok(()),
            Mode::Value => self.value_start(b),
            Mode::ArrayFirst if b == b']' => self.close(false),
            Mode::ArrayFirst => self.value_start(b),
            Mode::ObjectFirst if b == b'}' => self.close(true),
            Mode::ObjectFirst | Mode::Key if b == b'"' => self.key_start(),
            Mode::Colon if b == b':' => {
                self.mode = Mode::Value;
                Ok(())
            }
            Mode::AfterValue => match (self.stack.last().map(|f| f.object), b) {
                (Some(false), b',') => {
                    self.mode = Mode::Value;
                    Ok(())
                }
                (Some(true), b',') => {
                    self.mode = Mode::Key;
                    Ok(())
                }
                (Some(false), b']') => self.close(false),
                (Some(true), b'}') => self.close(true),
                _ => Err(JsonRefusal::Malformed),
            },
            _ => Err(JsonRefusal::Malformed),
        }
    }

    /// The first byte of a value, where one is due.
    fn value_start(&mut self, b: u8) -> Result<(), JsonRefusal> {
        // Check the byte before counting it as an item.
        if !matches!(
            b,
            b'{' | b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9'
        ) {
            return Err(JsonRefusal::Malformed);
        }
        if let Some(frame) = self.stack.last_mut()
            && !frame.object
        {
            frame.count += 1;
            if frame.count > self.limits.max_array_items {
                return Err(JsonRefusal::ArrayItems);
            }
        }
        self.mode = match b {
            b'{' | b'[' => return self.open(b == b'{'),
            b'"' => Mode::String {
                key: false,
                chars: 0,
                esc: Esc::Plain,
                need: 0,
                lo: 0,
                hi: 0,
            },
            b't' => Mode::Literal { rest: b"rue" },
            b'f' => Mode::Literal { rest: b"alse" },
            b'n' => Mode::Literal { rest: b"ull" },
            b'-' => Mode::Number(Num::Minus),
            b'0' => Mode::Number(Num::Zero),
            _ => Mode::Number(Num::Int),
        };
        Ok(())
    }

    fn open(&mut self, object: bool) -> Result<(), JsonRefusal> {
        if self.stack.len() >= self.limits.max_depth as usize {
            return Err(JsonRefusal::Depth);
        }
        self.stack.push(Frame { object, count: 0 });
        self.mode = if object {
            Mode::ObjectFirst
        } else {
            Mode::ArrayFirst
        };
        Ok(())
    }

    fn close(&mut self, object: bool) -> Result<(), JsonRefusal> {
        match self.stack.pop() {
            Some(frame) if frame.object == object => {
                self.value_done();
                Ok(())
            }
            _ => Err(JsonRefusal::Malformed),
        }
    }

    fn key_start(&mut self) -> Result<(), JsonRefusal> {
        if let Some(frame) = self.stack.last_mut() {
            frame.count += 1;
            if frame.count > self.limits.max_object_keys {
                return Err(JsonRefusal::ObjectKeys);
            }
        }
        self.total_keys += 1;
        if self
            .limits
            .max_total_keys
            .is_some_and(|max| self.total_keys > max)
        {
            return Err(JsonRefusal::TotalKeys);
        }
        self.mode = Mode::String {
            key: true,
            chars: 0,
            esc: Esc::Plain,
            need: 0,
            lo: 0,
            hi: 0,
        };
        Ok(())
    }

    /// A value ended: what may follow depends on where it was.
    fn value_done(&mut self) {
        self.mode = if self.stack.is_empty() {
            Mode::Done
        } else {
            Mode::AfterValue
        };
    }

    fn string_byte(&mut self, b: u8) -> Result<(), JsonRefusal> {
        let Mode::String {
            key,
            mut chars,
            mut esc,
            mut need,
            mut lo,
            mut hi,
        } = self.mode
        else {
            unreachable!("called in a string only");
        };
        let max_chars = self.limits.max_string_chars;
        let count = |chars: &mut u64| {
            *chars += 1;
            if *chars > max_chars {
                Err(JsonRefusal::StringChars)
            } else {
                Ok(())
            }
        };
        if need > 0 {
            if !(lo..=hi).contains(&b) {
                return Err(JsonRefusal::Malformed);
            }
            need -= 1;
            (lo, hi) = (0x80, 0xbf);
        } else {
            match esc {
                Esc::Plain => match b {
                    b'"' => {
                        if key {
                            self.mode = Mode::Colon;
                        } else {
                            self.value_done();
                        }
                        return Ok(());
                    }
                    b'\\' => esc = Esc::Backslash,
                    0x00..=0x1f => return Err(JsonRefusal::Malformed),
                    0x20..=0x7f => count(&mut chars)?,
                    _ => {
                        // A UTF-8 lead byte and the range of the byte after
                        // it (Unicode table 3-7: no overlongs, no surrogates,
                        // nothing past U+10FFFF).
                        (need, lo, hi) = match b {
                            0xc2..=0xdf => (1, 0x80, 0xbf),
                            0xe0 => (2, 0xa0, 0xbf),
                            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf),
                            0xed => (2, 0x80, 0x9f),
                            0xf0 => (3, 0x90, 0xbf),
                            0xf1..=0xf3 => (3, 0x80, 0xbf),
                            0xf4 => (3, 0x80, 0x8f),
                            _ => return Err(JsonRefusal::Malformed),
                        };
                        count(&mut chars)?;
                    }
                },
                Esc::Backslash => match b {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        count(&mut chars)?;
                        esc = Esc::Plain;
                    }
                    b'u' => {
                        esc = Esc::Hex {
                            n: 0,
                            value: 0,
                            high: None,
                        }
                    }
                    _ => return Err(JsonRefusal::Malformed),
                },
                Esc::Hex { n, value, high } => {
                    let digit = hex(b).ok_or(JsonRefusal::Malformed)?;
                    let value = value << 4 | digit;
                    esc = if n < 3 {
                        Esc::Hex {
                            n: n + 1,
                            value,
                            high,
                        }
                    } else {
                        match (high, value) {
                            (Some(_), 0xdc00..=0xdfff) => {
                                count(&mut chars)?;
                                Esc::Plain
                            }
                            (Some(_), _) | (None, 0xdc00..=0xdfff) => {
                                return Err(JsonRefusal::Malformed);
                            }
                            (None, 0xd800..=0xdbff) => Esc::AfterHigh { high: value },
                            (None, 0) if self.limits.refuse_nul => return Err(JsonRefusal::Nul),
                            (None, _) => {
                                count(&mut chars)?;
                                Esc::Plain
                            }
                        }
                    };
                }
                Esc::AfterHigh { high } if b == b'\\' => esc = Esc::AfterHighBackslash { high },
                Esc::AfterHighBackslash { high } if b == b'u' => {
                    esc = Esc::Hex {
                        n: 0,
                        value: 0,
                        high: Some(high),
                    }
                }
                Esc::AfterHigh { .. } | Esc::AfterHighBackslash { .. } => {
                    return Err(JsonRefusal::Malformed);
                }
            }
        }
        self.mode = Mode::String {
            key,
            chars,
            esc,
            need,
            lo,
            hi,
        };
        Ok(())
    }
}

/// The verdict on a whole document fed at once.
pub fn scan(limits: JsonLimits, document: &[u8]) -> Result<(), JsonRefusal> {
    let mut scanner = Scanner::new(limits);
    scanner.feed(document)?;
    scanner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOSE: JsonLimits = JsonLimits {
        max_depth: MAX_DEPTH,
        max_array_items: u64::MAX,
        max_string_chars: u64::MAX,
        max_object_keys: u64::MAX,
        max_total_keys: None,
        refuse_nul: false,
    };

    fn strict(doc: &[u8]) -> Result<(), JsonRefusal> {
        scan(JsonLimits::STRICT, doc)
    }

    fn loose(doc: &[u8]) -> Result<(), JsonRefusal> {
        scan(LOOSE, doc)
    }

    /// The verdict with the document fed in two pieces at every split point,
    /// and one byte at a time, is the verdict on the whole.
    fn assert_split_invariant(limits: JsonLimits, doc: &[u8]) -> Result<(), JsonRefusal> {
        let whole = scan(limits, doc);
        for at in 0..=doc.len() {
            let mut s = Scanner::new(limits);
            let verdict = s
                .feed(&doc[..at])
                .and_then(|()| s.feed(&doc[at..]))
                .and_then(|()| s.finish());
            assert_eq!(
                verdict,
                whole,
                "split at {at} of {:?}",
                String::from_utf8_lossy(doc)
            );
        }
        let mut s = Scanner::new(limits);
        let verdict = doc
            .iter()
            .try_for_each(|b| s.feed(std::slice::from_ref(b)))
            .and_then(|()| s.finish());
        assert_eq!(
            verdict,
            whole,
            "byte by byte: {:?}",
            String::from_utf8_lossy(doc)
        );
        whole
    }

    #[test]
    fn valid_documents() {
        for doc in [
            "0",
            "-0",
            "-0.0e+0",
            "1E-7",
            "123.456e789",
            "true",
            "false",
            "null",
            r#""""#,
            " \t\r\n[ ] \n",
            "{}",
            r#"{"a":1,"b":[true,false,null,{"c":"d"}],"e":{}}"#,
            r#"["\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"]"#,
            "[\"caf\u{e9} \u{20ac} \u{1f600}\"]",
            "[1,2.5,-3e2,4E+1,0.0]",
        ] {
            assert_eq!(loose(doc.as_bytes()), Ok(()), "{doc}");
            assert_eq!(assert_split_invariant(LOOSE, doc.as_bytes()), Ok(()));
        }
    }

    #[test]
    fn malformed_documents() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"[",
            b"]",
            b"{",
            b"[1,]",
            b"[,1]",
            b"{\"a\":1,}",
            b"{,}",
            b"{\"a\"}",
            b"{\"a\" 1}",
            b"{\"a\":}",
            b"{1:2}",
            b"{'a':1}",
            b"[1 2]",
            b"1 2",
            b"[] []",
            b"[}",
            b"{]",
            b"01",
            b"-",
            b"-a",
            b"+1",
            b".5",
            b"1.",
            b"1.e5",
            b"1e",
            b"1e+",
            b"0x10",
            b"NaN",
            b"Infinity",
            b"tru",
            b"truex",
            b"nul",
            b"True",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\u12g4\"",
            b"\"\\ud83d\"",
            b"\"\\ud83dx\"",
            b"\"\\ud83d\\n\"",
            b"\"\\ud83d\\ud83d\"",
            b"\"\\ude00\"",
            b"\"tab\there\"",
            b"\"line\nbreak\"",
            b"\"\xc3\"",
            b"\"\xc3(\"",
            b"\"\xc0\xaf\"",
            b"\"\xe0\x80\xaf\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xf4\x90\x80\x80\"",
            b"\"\xf5\x80\x80\x80\"",
            b"\"\xff\"",
            b"\"\x80\"",
            b"\xef\xbb\xbf{}",
            b"[1]\x0c",
            b"/* c */ 1",
            b"[1] x",
        ];
        for doc in cases {
            assert_eq!(
                loose(doc),
                Err(JsonRefusal::Malformed),
                "{:?}",
                String::from_utf8_lossy(doc)
            );
            let _ = assert_split_invariant(LOOSE, doc);
        }
    }

    #[test]
    fn depth_at_its_edge() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(strict(nest(10).as_bytes()), Ok(()));
        assert_eq!(strict(nest(11).as_bytes()), Err(JsonRefusal::Depth));
        let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert_eq!(strict(objects(10).as_bytes()), Ok(()));
        assert_eq!(strict(objects(11).as_bytes()), Err(JsonRefusal::Depth));
        // Refused at the opening bracket, before the rest arrives.
        let mut s = Scanner::new(JsonLimits::STRICT);
        assert_eq!(s.feed(&[b'['; 11]), Err(JsonRefusal::Depth));
        assert_eq!(s.feed(b"]"), Err(JsonRefusal::Depth));
        assert_eq!(s.finish(), Err(JsonRefusal::Depth));
        // The frames are reserved once: no growth past max_depth.
        let s = Scanner::new(JsonLimits::STRICT);
        assert!(s.stack.capacity() >= 10 && s.stack.capacity() < 64);
        let limits = JsonLimits {
            max_depth: u32::MAX,
            ..LOOSE
        };
        assert_eq!(Scanner::new(limits).stack.capacity(), MAX_DEPTH as usize);
        let deep = nest(MAX_DEPTH as usize + 1);
        assert_eq!(scan(limits, deep.as_bytes()), Err(JsonRefusal::Depth));
    }

    #[test]
    fn array_items_at_the_edge() {
        let array = |n: usize| format!("[{}]", vec!["0"; n].join(","));
        assert_eq!(strict(array(1000).as_bytes()), Ok(()));
        assert_eq!(strict(array(1001).as_bytes()), Err(JsonRefusal::ArrayItems));
        // Per array, not per document; nested containers count as items.
        let two = format!("[{},{}]", array(1000), array(1000));
        assert_eq!(strict(two.as_bytes()), Ok(()));
        let containers = format!("[{}]", vec!["{}"; 1001].join(","));
        assert_eq!(strict(containers.as_bytes()), Err(JsonRefusal::ArrayItems));
        let zero = JsonLimits {
            max_array_items: 0,
            ..JsonLimits::STRICT
        };
        assert_eq!(scan(zero, b"[]"), Ok(()));
        assert_eq!(scan(zero, b"[1]"), Err(JsonRefusal::ArrayItems));
    }

    #[test]
    fn string_chars_at_the_edge() {
        let string = |unit: &str, n: usize| format!("[\"{}\"]", unit.repeat(n));
        for unit in [
            "a",
            "\u{e9}",
            "\u{20ac}",
            "\u{1f600}",
            "\\n",
            "\\u00e9",
            "\\ud83d\\ude00",
        ] {
            assert_eq!(strict(string(unit, 10_000).as_bytes()), Ok(()), "{unit}");
            assert_eq!(
                strict(string(unit, 10_001).as_bytes()),
                Err(JsonRefusal::StringChars),
                "{unit}"
            );
        }
        // Keys count too.
        let key = |n: usize| format!("{{\"{}\":1}}", "k".repeat(n));
        assert_eq!(strict(key(10_000).as_bytes()), Ok(()));
        assert_eq!(
            strict(key(10_001).as_bytes()),
            Err(JsonRefusal::StringChars)
        );
        // Per string.
        let many = format!(
            "[{}]",
            vec![format!("\"{}\"", "x".repeat(10_000)); 3].join(",")
        );
        assert_eq!(strict(many.as_bytes()), Ok(()));
    }

    #[test]
    fn object_keys_at_the_edge() {
        let object = |n: usize| {
            format!(
                "{{{}}}",
                (0..n)
                    .map(|i| format!("\"k{i}\":{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        assert_eq!(strict(object(100).as_bytes()), Ok(()));
        assert_eq!(strict(object(101).as_bytes()), Err(JsonRefusal::ObjectKeys));
        // Duplicates count each time.
        let dup = format!("{{{}}}", vec!["\"a\":1"; 101].join(","));
        assert_eq!(strict(dup.as_bytes()), Err(JsonRefusal::ObjectKeys));
    }

    #[test]
    fn total_keys_at_the_edge() {
        let limits = JsonLimits {
            max_total_keys: Some(5),
            ..JsonLimits::STRICT
        };
        assert_eq!(
            scan(limits, br#"[{"a":1,"b":2},{"c":{"d":1,"e":2}}]"#),
            Ok(())
        );
        assert_eq!(
            scan(limits, br#"[{"a":1,"b":2},{"c":{"d":1,"e":2}},{"f":0}]"#),
            Err(JsonRefusal::TotalKeys)
        );
        // Unlimited in the strict preset.
        let wide = format!("[{}]", vec![r#"{"a":1}"#; 1000].join(","));
        assert_eq!(strict(wide.as_bytes()), Ok(()));
    }

    #[test]
    fn nul_escaped_or_raw() {
        assert_eq!(strict(br#"["a\u0000b"]"#), Err(JsonRefusal::Nul));
        assert_eq!(strict(br#"{"\u0000":1}"#), Err(JsonRefusal::Nul));
        assert_eq!(strict(b"[\"a\0b\"]"), Err(JsonRefusal::Nul));
        assert_eq!(strict(b"[1]\0"), Err(JsonRefusal::Nul));
        // Other escapes of low code points are not NUL.
        assert_eq!(strict(br#"["\u0001\u0100\u1000"]"#), Ok(()));
        // Without refuse_nul, an escaped NUL is JSON and a raw one is not.
        assert_eq!(loose(br#"["a\u0000b"]"#), Ok(()));
        assert_eq!(loose(b"[\"a\0b\"]"), Err(JsonRefusal::Malformed));
    }

    #[test]
    fn the_first_refusal_wins_and_sticks() {
        // Depth comes before the malformed byte after it.
        assert_eq!(
            strict(format!("{}x", "[".repeat(11)).as_bytes()),
            Err(JsonRefusal::Depth)
        );
        // Malformed before the limit.
        assert_eq!(
            strict(format!("[x{}", "[".repeat(11)).as_bytes()),
            Err(JsonRefusal::Malformed)
        );
        let mut s = Scanner::new(JsonLimits::STRICT);
        assert_eq!(s.feed(b"[1,,"), Err(JsonRefusal::Malformed));
        assert_eq!(s.feed(b"2]"), Err(JsonRefusal::Malformed));
        assert_eq!(s.finish(), Err(JsonRefusal::Malformed));
    }

    #[test]
    fn every_split_gives_the_same_verdict() {
        let docs: Vec<Vec<u8>> = vec![
            br#"{"name":"caf\u00e9","tags":["a","b"],"n":-12.5e+3,"ok":true,"none":null}"#.to_vec(),
            "[\"\u{1f600}\u{e9}\\ud83d\\ude00\", 0, {\"\u{20ac}\":[[]]}]"
                .as_bytes()
                .to_vec(),
            b"[\"\\ud83d\\u0041\"]".to_vec(),
            b"[\"a\\u0000\"]".to_vec(),
            b"\"\xf0\x9f\x98\x80\xf0\x9f\x98\"".to_vec(),
            b"123".to_vec(),
            b"12 ".to_vec(),
            b"[[[[[[[[[[[1]]]]]]]]]]]".to_vec(),
            format!("[\"{}\"]", "\u{e9}".repeat(10_001)).into_bytes()[..60].to_vec(),
        ];
        for doc in &docs {
            let _ = assert_split_invariant(JsonLimits::STRICT, doc);
            let _ = assert_split_invariant(LOOSE, doc);
        }
        // Splits inside a long string near its limit.
        let tight = JsonLimits {
            max_string_chars: 3,
            ..JsonLimits::STRICT
        };
        for doc in [
            "[\"\u{1f600}\u{e9}\\u00e9\"]",
            "[\"\u{1f600}\u{e9}\\u00e9x\"]",
        ] {
            let _ = assert_split_invariant(tight, doc.as_bytes());
        }
        assert_eq!(
            scan(tight, "[\"\u{1f600}\u{e9}\\u00e9\"]".as_bytes()),
            Ok(())
        );
        assert_eq!(
            scan(tight, "[\"\u{1f600}\u{e9}\\u00e9x\"]".as_bytes()),
            Err(JsonRefusal::StringChars)
        );
    }

    #[test]
    fn big_inputs_stream_in_linear_time() {
        // 8 MiB of numbers and strings, in 64 KiB chunks, with room enough.
        let item = br#"{"id":123456,"name":"warden \u00e9\u20ac","v":[1.5e3,true,null]},"#;
        let mut doc = b"[".to_vec();
        while doc.len() < 8 << 20 {
            doc.extend_from_slice(item);
        }
        doc.extend_from_slice(b"0]");
        let limits = JsonLimits {
            max_array_items: u64::MAX,
            ..JsonLimits::STRICT
        };
        let started = std::time::Instant::now();
        let mut s = Scanner::new(limits);
        for chunk in doc.chunks(64 * 1024) {
            s.feed(chunk).unwrap();
        }
        assert_eq!(s.finish(), Ok(()));
        // Generous: a debug build on a busy machine.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        // A 4 MiB string is counted, not stored.
        let mut long = b"\"".to_vec();
        long.resize(4 << 20, b'a');
        long.push(b'"');
        assert_eq!(loose(&long), Ok(()));
        assert_eq!(strict(&long), Err(JsonRefusal::StringChars));
    }

    #[test]
    fn refusals_name_their_limit() {
        let names: Vec<&str> = [
            JsonRefusal::Depth,
            JsonRefusal::ArrayItems,
            JsonRefusal::StringChars,
            JsonRefusal::ObjectKeys,
            JsonRefusal::TotalKeys,
            JsonRefusal::Nul,
            JsonRefusal::Malformed,
        ]
        .iter()
        .map(JsonRefusal::limit)
        .collect();
        assert_eq!(
            names,
            [
                "depth",
                "array_items",
                "string_chars",
                "object_keys",
                "total_keys",
                "nul",
                "malformed"
            ]
        );
    }
}
