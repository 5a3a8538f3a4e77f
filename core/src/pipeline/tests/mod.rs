//! Tests of the pipeline: the embedded channel here (no I/O), TCP and local channels in
//! their own files. Each test checks at its end that no buffer it made is still alive.

mod embedded;
mod local;
pub(crate) mod support;
mod tcp;
