//! The C API of nioxide (`nx_*`), a thin layer over `nioxide-core`.
#![deny(missing_docs, missing_debug_implementations)]
