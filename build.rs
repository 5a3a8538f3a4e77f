//! Build script of the `nioxide` package (the C library).
//!
//! 1. Gives the shared library its soname, `libnioxide.so.<major>`: Cargo never sets one
//!    (rust-lang/cargo#5045), and without it programs record the unversioned name.
//! 2. Runs cbindgen over `capi/` and writes the header to `$OUT_DIR/nioxide.h`. It never touches
//!    the committed `include/nioxide.h` unless `NIOXIDE_UPDATE_HEADER=1` is set; the test
//!    `tests/header.rs` fails while the committed copy differs from the fresh one.
//!
//! cbindgen parses `capi/lib.rs` and the modules it declares directly (`with_src`), so it never
//! runs `cargo metadata`: the build works offline and never modifies `Cargo.lock`.

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

    let header = generate_header(&root);
    write_if_changed(&out_dir.join("nioxide.h"), &header);

    if env::var("NIOXIDE_UPDATE_HEADER").as_deref() == Ok("1") {
        let committed = root.join("include").join("nioxide.h");
        if write_if_changed(&committed, &header) {
            println!("cargo:warning=include/nioxide.h regenerated (NIOXIDE_UPDATE_HEADER=1)");
        }
    }
}

/// Runs cbindgen over `capi/lib.rs` with `capi/cbindgen.toml`.
fn generate_header(root: &Path) -> Vec<u8> {
    let config = cbindgen::Config::from_file(root.join("capi").join("cbindgen.toml"))
        .unwrap_or_else(|err| panic!("capi/cbindgen.toml: {err}"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("capi").join("lib.rs"))
        .generate()
        .unwrap_or_else(|err| panic!("cbindgen could not generate nioxide.h: {err}"));
    let mut header = Vec::new();
    bindings.write(&mut header);
    header
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
