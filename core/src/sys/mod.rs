//! The only module that calls libc: descriptors, sockets, options, waits and fork detection.
pub mod fork;
