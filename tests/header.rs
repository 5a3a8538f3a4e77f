//! Checks the committed headers (`include/nioxide.h` and the parts under `include/nioxide/`):
//! each fresh (equal to what build.rs just generated) and none missing or left over, version
//! macros equal to Cargo.toml's version, and every `NX_E*` code equal to the core error table,
//! each constant's documentation starting with the table's message, and `nx_err_name` /
//! `nx_strerror` giving the table's name and message.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

use nioxide_core::ErrorKind;

/// The headers under `dir` (`nioxide.h` and `nioxide/*.h`), by their path under it.
fn headers(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    };
    found.insert("nioxide.h".to_owned(), read(&dir.join("nioxide.h")));
    let parts = dir.join("nioxide");
    for entry in std::fs::read_dir(&parts).unwrap_or_else(|e| panic!("{}: {e}", parts.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "h") {
            let name = path.file_name().unwrap().to_string_lossy();
            found.insert(format!("nioxide/{name}"), read(&path));
        }
    }
    found
}

/// The headers build.rs generated from the current `capi/` sources.
fn fresh() -> BTreeMap<String, String> {
    headers(Path::new(env!("OUT_DIR")))
}

/// The committed headers, read at run time so the test sees the files as they are now.
fn committed_headers() -> BTreeMap<String, String> {
    headers(&Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
}

/// Every committed header, one after the other (for the checks that look at all of them).
fn committed() -> String {
    committed_headers()
        .into_values()
        .collect::<Vec<_>>()
        .join("\n")
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
fn committed_headers_are_fresh() {
    let (fresh, committed) = (fresh(), committed_headers());
    let names = |headers: &BTreeMap<String, String>| headers.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&fresh),
        "include/ holds other headers than build.rs makes: regenerate them with \
         `NIOXIDE_UPDATE_HEADER=1 cargo build` and commit them (removing stale ones)"
    );
    for (name, text) in &fresh {
        let old = &committed[name];
        if old != text {
            let line = old
                .lines()
                .zip(text.lines())
                .position(|(old, new)| old != new)
                .unwrap_or_else(|| old.lines().count().min(text.lines().count()));
            panic!(
                "include/{name} is stale (first difference at line {}): regenerate it with \
                 `NIOXIDE_UPDATE_HEADER=1 cargo build` and commit it",
                line + 1
            );
        }
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
    // The pipeline's built-in user event tags (NX_EVENT_*) share the prefix but are no codes.
    let codes = |name: &&String| name.starts_with("NX_E") && !name.starts_with("NX_EVENT_");
    for name in defines.keys().filter(codes) {
        assert!(
            ErrorKind::ALL.iter().any(|kind| kind.name() == name),
            "{name} is defined in the header but is not in nioxide_core::ErrorKind"
        );
    }
}

/// The text of the doc comment right above `#define NAME` (cbindgen's `/** ... */` with one
/// ` * ` per line), its lines joined with single spaces.
fn doc_of(header: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = header.lines().collect();
    let define = lines.iter().position(|line| {
        line.strip_prefix("#define ")
            .and_then(|rest| rest.split_whitespace().next())
            == Some(name)
    })?;
    let end = define.checked_sub(1).filter(|&at| lines[at] == " */")?;
    let start = lines[..end].iter().rposition(|line| *line == "/**")?;
    let words: Vec<&str> = lines[start + 1..end]
        .iter()
        .map(|line| line.strip_prefix(" *").unwrap_or(line).trim())
        .filter(|line| !line.is_empty())
        .collect();
    Some(words.join(" "))
}

/// The sentence a constant's documentation starts with: its message, capitalised, with a full
/// stop ("end of stream" documents `NX_EOF` as "End of stream. ...").
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars.next().expect("empty message").to_uppercase();
    format!("{first}{}.", chars.as_str())
}

/// Whether `doc` starts with the sentence `first` (and does not just share its beginning).
fn starts_with_sentence(doc: &str, first: &str) -> bool {
    doc.strip_prefix(first)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

fn c_str(text: *const std::ffi::c_char) -> String {
    assert!(!text.is_null());
    // SAFETY: nx_err_name and nx_strerror return static NUL-terminated strings.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .expect("not UTF-8")
        .to_owned()
}

#[test]
fn error_docs_start_with_the_core_message() {
    let header = committed();
    let mut wrong = Vec::new();
    let documented = ErrorKind::ALL
        .iter()
        .map(|kind| (kind.name(), kind.message()))
        .chain([("NX_OK", "success")]);
    for (name, message) in documented {
        let expected = sentence(message);
        match doc_of(&header, name) {
            Some(doc) if starts_with_sentence(&doc, &expected) => {}
            Some(doc) => wrong.push(format!(
                "{name}: \"{doc}\" should start with \"{expected}\""
            )),
            None => wrong.push(format!("{name}: no doc comment above its #define")),
        }
    }
    assert!(
        wrong.is_empty(),
        "the NX_E* docs in capi/error.rs disagree with core/src/error.rs's messages:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn err_name_and_strerror_give_the_core_table() {
    use nioxide::error::{nx_err_name, nx_strerror};
    assert_eq!(c_str(nx_err_name(0)), "NX_OK");
    assert_eq!(c_str(nx_strerror(0)), "success");
    for code in -3099..=-3000 {
        let kind = ErrorKind::from_code(code);
        let name = kind.map_or("UNKNOWN", ErrorKind::name);
        let message = kind.map_or("unknown error", ErrorKind::message);
        assert_eq!(c_str(nx_err_name(code)), name, "nx_err_name({code})");
        assert_eq!(c_str(nx_strerror(code)), message, "nx_strerror({code})");
    }
    for kind in ErrorKind::ALL {
        assert_eq!(
            ErrorKind::from_code(kind.code()),
            Some(*kind),
            "{}",
            kind.name()
        );
    }
}

#[test]
fn doc_sentences_are_compared_whole() {
    let header = "/**\n * End of stream. The peer\n *\n * closed it.\n */\n#define NX_EOF -3000\n";
    let doc = doc_of(header, "NX_EOF").unwrap();
    assert_eq!(doc, "End of stream. The peer closed it.");
    assert!(starts_with_sentence(&doc, &sentence("end of stream")));
    assert!(!starts_with_sentence(&doc, &sentence("end of")));
    assert!(!starts_with_sentence(
        &doc,
        &sentence("end of stream reached")
    ));
    assert_eq!(doc_of(header, "NX_EO"), None);
    assert_eq!(doc_of("#define NX_EOF -3000\n", "NX_EOF"), None);
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
