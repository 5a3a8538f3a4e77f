//! Build script of the `nioxide` package (the C library).
//!
//! 1. Gives the shared library its soname, `libnioxide.so.<major>`: Cargo never sets one
//!    (rust-lang/cargo#5045), and without it programs record the unversioned name.
//! 2. Runs cbindgen over `capi/`, once per header, and writes the headers to `$OUT_DIR`,
//!    laid out as `include/` is: `nioxide/common.h` (version, errors, the handle types shared
//!    by every model), one `nioxide/<module>.h` per capi module, and the umbrella `nioxide.h`
//!    that includes them all. It never touches the committed `include/` unless
//!    `NIOXIDE_UPDATE_HEADER=1` is set; the test `tests/header.rs` fails while a committed file
//!    differs from the fresh one.
//!
//! cbindgen parses the capi sources directly (`with_src`), so it never runs `cargo
//! metadata`: the build works offline and never modifies `Cargo.lock`.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    println!("cargo:rerun-if-changed=capi");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NIOXIDE_UPDATE_HEADER");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnioxide.so.{major}");
    }

    let headers = generate_headers(&root);
    for (name, contents) in &headers {
        write_if_changed(&out_dir.join(name), contents);
    }

    if env::var("NIOXIDE_UPDATE_HEADER").as_deref() == Ok("1") {
        for (name, contents) in &headers {
            if write_if_changed(&root.join("include").join(name), contents) {
                println!("cargo:warning=include/{name} regenerated (NIOXIDE_UPDATE_HEADER=1)");
            }
        }
    }
}

/// One header of the C API: its name under `include/nioxide/`, the capi sources it is made
/// of, the headers of other modules whose types it uses, and what it opens with.
struct Header {
    name: &'static str,
    sources: &'static [&'static str],
    includes: &'static [&'static str],
    overview: &'static str,
}

/// The module headers, in the order the umbrella includes them (data-flow order).
const HEADERS: &[Header] = &[
    Header {
        name: "common",
        sources: &[
            "version.rs",
            "error.rs",
            "panic.rs",
            "handle.rs",
            "types.rs",
        ],
        includes: &[],
        overview: "What every part of the C API shares: the version (NX_VERSION_*), the error codes \
            (NX_OK, NX_E*, nx_strerror, nx_err_name), the leak audit (nx_live_handles), the opaque \
            handle types (nx_*_t) and nx_free_cb, the function every call that keeps a pointer of \
            yours past the call takes to free it.",
    },
    Header {
        name: "selector",
        sources: &["selector.rs"],
        includes: &[],
        overview: "Java NIO's Selector: register non-blocking channels with interest ops (NX_OP_*) and \
            an attachment, select, walk the selected keys, do the I/O yourself. A selector is yours \
            from nx_selector_open until nx_selector_free; a selection key belongs to its selector \
            (never free it): cancelled, it is invalid at once, and its handle is gone \
            (NX_EBADHANDLE) from the next select on.",
    },
    Header {
        name: "event_loop",
        sources: &["event_loop/mod.rs"],
        includes: &[],
        overview: "Event loops (libuv's uv_loop_t, Netty's EventLoop): driven by you with nx_loop_run, \
            or by a thread nioxide starts (nx_loop_start); tasks, scheduled tasks with their \
            futures, shutdown in phases. A loop is yours until nx_loop_free. Callbacks run on the \
            loop's thread, never inside the call that queued them.",
    },
    Header {
        name: "group",
        sources: &["event_loop/group.rs"],
        includes: &["event_loop"],
        overview: "Event loop groups (Netty's EventLoopGroup): N loops on N threads, next() round-robin, \
            shutdown and termination across them. The group owns its loops' handles.",
    },
    Header {
        name: "promise",
        sources: &["event_loop/promise.rs"],
        includes: &[],
        overview: "Promises and futures (Netty's Promise): completed once, with a value, a failure or a \
            cancel; listeners run on the promise's loop on a later turn. A promise handle is yours \
            until nx_promise_free.",
    },
    Header {
        name: "watch",
        sources: &["event_loop/watch.rs"],
        includes: &[],
        overview: "Readiness watches (libuv's uv_poll_t): a channel of the Selector model, or a \
            descriptor you own, served by a loop; the callback runs on the loop's thread while it is \
            ready (level-triggered). A watch is yours until nx_watch_free; it ends when closed, when \
            its channel closes, or at the loop's shutdown. A watch belongs to its loop: calls from \
            the thread running that loop are checked with loads alone; nx_watch_free from any \
            thread invalidates the handle at once, and the loop drops what is left at the end of \
            its turn.",
    },
    Header {
        name: "timer",
        sources: &["event_loop/timer.rs"],
        includes: &[],
        overview: "Reusable timers (libuv's uv_timer_t): made once on a loop, then started and stopped \
            as often as needed, never firing early. A timer is yours until nx_timer_free. A timer \
            belongs to its loop: calls from the thread running that loop are checked with loads \
            alone; nx_timer_free from any thread invalidates the handle at once, and the loop \
            drops what is left at the end of its turn.",
    },
    Header {
        name: "channel",
        sources: &["channel/mod.rs"],
        includes: &[],
        overview: "What every channel shares: the socket option numbers.",
    },
    Header {
        name: "tcp",
        sources: &["channel/tcp.rs"],
        includes: &["channel"],
        overview: "TCP channels (Java's SocketChannel and ServerSocketChannel): blocking or non-blocking, \
            for the Selector model and for watches; adopted from a descriptor made elsewhere or \
            handed over. A channel is yours until nx_*_channel_free; closing it also cancels its \
            key.",
    },
    Header {
        name: "pipeline",
        // Not pipeline/mod.rs: cbindgen would follow its `mod` lines and read every file twice.
        sources: &[
            "pipeline/config.rs",
            "pipeline/message.rs",
            "pipeline/handler.rs",
            "pipeline/context.rs",
            "pipeline/list.rs",
            "pipeline/channel.rs",
        ],
        includes: &[],
        overview: "The channel pipeline (Netty's model): channels on event loops, each with an ordered \
            list of named handlers; inbound events flow head to tail, outbound operations tail to \
            head. A handler is a table of optional C callbacks (nx_channel_handler_t: NULL passes \
            the event on) that nioxide copies when it is added. Handlers run on their channel's loop \
            thread, and calls between handlers run inline (a write from a read callback reaches the \
            next handler inside the call: the one exception to 'no callback inside the call that \
            started it'; promise listeners and writability events still come later). Context \
            handles (nx_context_t) belong to nioxide; messages (nx_message_t) and promises given to \
            a callback are lent until it returns (nx_message_retain keeps one). A channel made by a \
            bootstrap is yours until nx_channel_free; an accepted one's handle is nioxide's until \
            the channel is torn down, unless you retain it. Channels and contexts belong to their \
            loop: calls from that loop's thread are checked with loads alone.",
    },
    Header {
        name: "bootstrap",
        sources: &["pipeline/bootstrap.rs"],
        includes: &[],
        overview: "Bootstraps (Netty's ServerBootstrap and Bootstrap): groups, channel kind, options \
            (NX_OPTION_*) and initializers, then bind or connect; each returns the new channel (yours \
            until nx_channel_free) and the future of the operation. The child initializer runs for \
            each accepted channel on its loop, on several loops at once.",
    },
    Header {
        name: "embedded",
        sources: &["pipeline/embedded.rs"],
        includes: &["bootstrap"],
        overview: "Embedded channels (Netty's EmbeddedChannel): a pipeline with no I/O for testing C \
            handlers, driven by the thread that made it: write messages inbound or outbound, read \
            what came out, run pending tasks, advance a virtual clock; an exception that reached the \
            tail is returned by the next call.",
    },
    Header {
        name: "codec",
        // codec/mod.rs declares each codec's module: cbindgen reads them through it.
        sources: &["pipeline/codec/mod.rs"],
        includes: &[],
        overview: "Handlers nioxide ships for pipelines (Netty's codec and timeout handlers): each \
            nx_codec_* constructor checks its configuration (NX_EINVAL, nothing made, for a bad \
            one) and returns a built-in handler (nx_handler_t), yours until \
            nx_pipeline_add_handler adds it (then the pipeline's) or nx_handler_free frees it. \
            A built-in handler runs inside nioxide: its events never call into C, except the \
            decode and encode callbacks of your own codecs (nx_decoder_t, nx_encoder_t). \
            Framing decoders: line, delimiter, length field (and its prepender), fixed length; \
            strings (NX_MESSAGE_STRING, UTF-8, not NUL-terminated); errors in the stream reach \
            exception_caught as NX_ETOOLONG, NX_ECORRUPTED and NX_EMALFORMED. Idle events reach \
            user_event_triggered as the reserved tags NX_EVENT_[FIRST_]READER_IDLE, \
            _WRITER_IDLE and _ALL_IDLE.",
    },
    Header {
        name: "aio",
        // aio/mod.rs declares the group, server, socket and file modules: cbindgen reads them
        // through it.
        sources: &["aio/mod.rs"],
        includes: &["channel"],
        overview: "Completion-handler AIO (Java NIO.2's model): start an operation with the memory it \
            borrows, an attachment and a handler {completed, failed}; the group's loop does the I/O \
            and calls exactly one of the two, once, on the channel's loop thread, never inside the \
            call that started it (a call that returns an error calls nothing and keeps nothing). \
            Memory is borrowed until the handler starts (or the future completes). nioxide never \
            frees an operation's attachment: its handler runs on every path (close, timeout, \
            cancel, shutdown), so it frees it or passes it on. Groups (nx_aio_group_t) own or \
            borrow the loop threads; listeners (nx_aio_server_socket_t), connections \
            (nx_aio_socket_t, with write_all, a capped write queue) and files (nx_aio_file_t, on a \
            small pool of blocking threads) belong to their loop and are yours until their free. \
            Each operation has a future variant returning an nx_promise_t; nx_aio_result reads its \
            result.",
    },
];

/// Generates every header: `(path under include/, contents)`, the umbrella last.
fn generate_headers(root: &Path) -> Vec<(String, Vec<u8>)> {
    let capi = root.join("capi");
    let base = cbindgen::Config::from_file(capi.join("cbindgen.toml"))
        .unwrap_or_else(|err| panic!("capi/cbindgen.toml: {err}"));
    // cbindgen also reads the modules a source declares (event_loop/mod.rs declares group.rs,
    // ...): each header leaves out what another header's sources declare.
    let owned: Vec<Vec<String>> = HEADERS
        .iter()
        .map(|header| {
            header
                .sources
                .iter()
                .flat_map(|source| declared(&capi.join(source), ALL_ITEMS))
                .collect()
        })
        .collect();
    let mut headers = Vec::new();
    for (index, header) in HEADERS.iter().enumerate() {
        let mut config = base.clone();
        config.export.exclude = owned
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .flat_map(|(_, items)| items.iter().cloned())
            .collect();
        let upper = header.name.to_uppercase();
        config.include_guard = Some(format!("NIOXIDE_{upper}_H"));
        config.header = Some(format!(
            "/*\n * nioxide/{}.h, a part of nioxide.h\n *\n * {}\n *\n * Include <nioxide.h>: it \
             includes every part of the API, in order.\n */",
            header.name,
            wrap(header.overview, 94).join("\n * ")
        ));
        if header.name == "common" {
            // Its types are used by the other parts, not by its own functions: named here, or
            // cbindgen would leave them out.
            config.export.include = declared(&capi.join("types.rs"), TYPES);
        } else {
            config.sys_includes = Vec::new();
            config.includes = std::iter::once("common")
                .chain(header.includes.iter().copied())
                .map(|name| format!("{name}.h"))
                .collect();
        }
        let mut builder = cbindgen::Builder::new().with_config(config);
        for source in header.sources {
            builder = builder.with_src(capi.join(source));
        }
        let bindings = builder.generate().unwrap_or_else(|err| {
            panic!(
                "cbindgen could not generate nioxide/{}.h: {err}",
                header.name
            )
        });
        let mut contents = Vec::new();
        bindings.write(&mut contents);
        headers.push((format!("nioxide/{}.h", header.name), contents));
    }
    headers.push(("nioxide.h".to_owned(), umbrella(&base)));
    headers
}

/// The declarations that export a function, a type or a constant to C.
const ALL_ITEMS: &[&str] = &[
    "pub extern \"C\" fn ",
    "pub const ",
    "pub type ",
    "pub struct ",
];
/// The C types.
const TYPES: &[&str] = &["pub type ", "pub struct "];

/// The names of what `source` exports to C (`nx_*` or `NX_*`) with one of the `kinds` of
/// declaration ([`ALL_ITEMS`], [`TYPES`]).
fn declared(source: &Path, kinds: &[&str]) -> Vec<String> {
    let text =
        std::fs::read_to_string(source).unwrap_or_else(|err| panic!("{}: {err}", source.display()));
    text.lines()
        .filter_map(|line| {
            let rest = kinds.iter().find_map(|kind| line.strip_prefix(kind))?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (name.starts_with("nx_") || name.starts_with("NX_")).then_some(name)
        })
        .collect()
}

/// The umbrella header: the conventions (`header` in capi/cbindgen.toml) and an include of
/// every module header.
fn umbrella(base: &cbindgen::Config) -> Vec<u8> {
    let mut text = String::new();
    text.push_str(base.header.as_deref().unwrap_or_default());
    text.push_str("\n\n");
    text.push_str(base.autogen_warning.as_deref().unwrap_or_default());
    text.push_str("\n\n#ifndef NIOXIDE_H\n#define NIOXIDE_H\n\n");
    for header in HEADERS {
        text.push_str(&format!("#include \"nioxide/{}.h\"\n", header.name));
    }
    text.push_str("\n#endif /* NIOXIDE_H */\n");
    text.into_bytes()
}

/// `text` (its words) in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// Writes `contents` to `path` unless it already holds them; returns whether it wrote.
fn write_if_changed(path: &Path, contents: &[u8]) -> bool {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return false;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    }
    std::fs::write(path, contents).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    true
}
