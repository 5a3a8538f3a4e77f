//! A descriptor the user owns, watched for readiness (libuv's `uv_poll_t`): the channel kind
//! whose I/O nioxide never does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{ChannelCore, Family, KindState};
use crate::sys::backend;
use crate::sys::fd::GuardedFd;
use crate::{ErrorKind, Result};

/// A descriptor the user owns, watched for readiness like libuv's `uv_poll_t`: nioxide never
/// reads, writes or closes it, so it cannot see readiness being consumed; its key is re-armed
/// (`EPOLL_CTL_MOD`) after each report instead, which keeps it level-triggered. Closing the
/// `FdChannel` only stops nioxide from using the descriptor.
#[derive(Clone, Debug)]
pub struct FdChannel {
    pub(crate) core: Arc<ChannelCore>,
}

impl FdChannel {
    /// The ops a raw descriptor can be watched for: read and write.
    pub const VALID_OPS: u32 = crate::selector::OP_READ | crate::selector::OP_WRITE;

    /// Wraps `fd` (borrowed: the caller keeps it open while it is watched and closes it
    /// after closing this channel). The channel starts in non-blocking mode.
    ///
    /// # Errors
    /// `InvalidArgument` for a negative descriptor.
    pub fn new(fd: std::os::fd::RawFd) -> Result<FdChannel> {
        if fd < 0 {
            return Err(ErrorKind::InvalidArgument.into());
        }
        let core = ChannelCore::with_fd(GuardedFd::borrowed(fd), KindState::Fd, Family::V4);
        core.blocking.store(false, Ordering::Release);
        Ok(FdChannel {
            core: Arc::new(core),
        })
    }

    /// The descriptor.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.core.fd.raw()
    }

    /// Stops watching: cancels the key; the descriptor stays open (the user owns it).
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether the channel is open.
    pub fn is_open(&self) -> bool {
        self.core.is_open()
    }
}

/// The ops a raw descriptor's readiness makes ready: read (also at hang-up) and write.
pub(crate) fn ready_ops(flags: u32) -> u32 {
    let mut ops = 0;
    if flags & (backend::READABLE | backend::READ_CLOSED) != 0 {
        ops |= crate::selector::OP_READ;
    }
    if flags & backend::WRITABLE != 0 {
        ops |= crate::selector::OP_WRITE;
    }
    ops
}
