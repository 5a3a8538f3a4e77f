//! Checks the committed `include/nioxide.h`: fresh (equal to what build.rs just generated),
//! version macros equal to Cargo.toml's version, and every `NX_E*` code equal to the core
//! error table.

use std::collections::BTreeMap;
use std::path::Path;

use nioxide_core::ErrorKind;

/// The header build.rs generated from the current `capi/` sources.
const FRESH: &str = include_str!(concat!(env!("OUT_DIR"), "/nioxide.h"));

/// The committed header, read at run time so the test sees the file as it is now.
fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/nioxide.h");
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The object-like macros of a header: `#define NAME VALUE`.
fn defines(header: &str) -> BTreeMap<String, String> {
    header
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .filter_map(|rest| {
            let (name, value) = rest.split_once(char::is_whitespace)?;
            Some((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Evaluates an integer macro: literals, other macros, parentheses, unary minus, `<<`, `|`.
fn eval(defines: &BTreeMap<String, String>, name: &str) -> i64 {
    let text = defines
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not defined"));
    let tokens = tokenize(text);
    let mut parser = Parser {
        defines,
        tokens: &tokens,
        at: 0,
    };
    let value = parser.or();
    assert_eq!(parser.at, tokens.len(), "{name}: cannot evaluate `{text}`");
    value
}

fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else if c == '<' {
            chars.next();
            assert_eq!(chars.next(), Some('<'), "only << is supported in `{text}`");
            tokens.push("<<".into());
        } else {
            tokens.push(c.to_string());
            chars.next();
        }
    }
    tokens
}

/// A recursive-descent evaluator over [`tokenize`]'s tokens.
struct Parser<'a> {
    defines: &'a BTreeMap<String, String>,
    tokens: &'a [String],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> &str {
        self.at += 1;
        &self.tokens[self.at - 1]
    }

    fn or(&mut self) -> i64 {
        let mut value = self.shift();
        while self.peek() == Some("|") {
            self.next();
            value |= self.shift();
        }
        value
    }

    fn shift(&mut self) -> i64 {
        let mut value = self.unary();
        while self.peek() == Some("<<") {
            self.next();
            value <<= self.unary();
        }
        value
    }

    fn unary(&mut self) -> i64 {
        match self.next().to_owned().as_str() {
            "-" => -self.unary(),
            "(" => {
                let value = self.or();
                assert_eq!(self.next(), ")");
                value
            }
            word if word.starts_with("0x") => i64::from_str_radix(&word[2..], 16).unwrap(),
            word if word.starts_with(|c: char| c.is_ascii_digit()) => word.parse().unwrap(),
            word => eval(self.defines, word),
        }
    }
}

#[test]
fn committed_header_is_fresh() {
    let committed = committed();
    if committed != FRESH {
        let line = committed
            .lines()
            .zip(FRESH.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| committed.lines().count().min(FRESH.lines().count()));
        panic!(
            "include/nioxide.h is stale (first difference at line {}): regenerate it with \
             `NIOXIDE_UPDATE_HEADER=1 cargo build` and commit it",
            line + 1
        );
    }
}

#[test]
fn version_macros_match_cargo_toml() {
    let defines = defines(&committed());
    let part = |name: &str| -> i64 { name.parse().unwrap() };
    let major = part(env!("CARGO_PKG_VERSION_MAJOR"));
    let minor = part(env!("CARGO_PKG_VERSION_MINOR"));
    let patch = part(env!("CARGO_PKG_VERSION_PATCH"));
    assert_eq!(eval(&defines, "NX_VERSION_MAJOR"), major);
    assert_eq!(eval(&defines, "NX_VERSION_MINOR"), minor);
    assert_eq!(eval(&defines, "NX_VERSION_PATCH"), patch);
    // The combined number, with each part in its own byte (rustls-ffi once ORed the minor
    // number in where the patch belongs).
    let hex = eval(&defines, "NX_VERSION_HEX");
    assert_eq!(hex, (major << 16) | (minor << 8) | patch);
    assert_eq!(hex, i64::from(nioxide::version::nx_version()));
}

#[test]
fn error_macros_match_the_core_table() {
    let defines = defines(&committed());
    assert_eq!(eval(&defines, "NX_OK"), 0);
    for kind in ErrorKind::ALL {
        assert_eq!(
            eval(&defines, kind.name()),
            i64::from(kind.code()),
            "{}",
            kind.name()
        );
    }
    for name in defines.keys().filter(|name| name.starts_with("NX_E")) {
        assert!(
            ErrorKind::ALL.iter().any(|kind| kind.name() == name),
            "{name} is defined in the header but is not in nioxide_core::ErrorKind"
        );
    }
}

#[test]
fn evaluator_handles_the_header_forms() {
    let mut defines = BTreeMap::new();
    defines.insert("A".to_owned(), "2".to_owned());
    defines.insert("B".to_owned(), "((A << 16) | (3 << 8)) | 0x01".to_owned());
    defines.insert("C".to_owned(), "-3000".to_owned());
    assert_eq!(eval(&defines, "B"), 0x020301);
    assert_eq!(eval(&defines, "C"), -3000);
}
