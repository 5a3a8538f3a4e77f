//! The only module that calls libc: descriptors, sockets, files, options, waits, the poll
//! backend and fork detection.
//!
//! Contract for a backend (see [`backend`]): register a descriptor once for read and write
//! readiness, deliver edges as [`backend::event_bits`], wake a waiting thread from any other
//! thread, count its system calls, and never touch the epoll set from a forked child.
pub mod backend;
pub mod fd;
pub mod file;
pub mod fork;
pub mod socket;
pub mod stderr;
pub mod thread;
pub mod wait;
