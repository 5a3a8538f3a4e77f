//! nioxide-core: the pure-Rust runtime behind nioxide's C API and Python module.
//!
//! Modules follow the data flow: [`sys`] is the only place that calls libc, [`selector`] is
//! Java NIO's `Selector`, [`channel`] holds the transports, [`event_loop`] the runtime,
//! [`pipeline`] is Netty's channel pipeline on it; [`sync`] has the lock helper every layer
//! uses.
#![deny(missing_docs, missing_debug_implementations)]

pub mod channel;
pub mod error;
pub mod event_loop;
pub mod pipeline;
pub mod selector;
pub mod sync;
pub mod sys;

pub use error::{Error, ErrorKind, Result};
