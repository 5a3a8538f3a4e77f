//! Channel options in C: `NX_OPTION_*`, named as Netty's `ChannelOption`s, with an `int64_t`
//! value each, over `nioxide_core::pipeline::ChannelOption`.
//!
//! The write buffer water marks are two options here, as in Netty 4.0
//! (`WRITE_BUFFER_LOW_WATER_MARK`, `WRITE_BUFFER_HIGH_WATER_MARK`): setting one moves the other
//! along if needed so that low ≤ high holds (a high mark below the low one lowers the low one
//! to it, and the other way round).

use std::ffi::c_int;
use std::time::Duration;

use nioxide_core::channel::SocketOption;
use nioxide_core::pipeline::{Channel, ChannelOption};

use crate::args::code;
use crate::error::NX_EINVAL;

/// `AUTO_READ` (0 or 1; default 1): read batches follow each other by themselves; off, each
/// `nx_channel_read` allows one batch. On a server channel it gates accepting.
pub const NX_OPTION_AUTO_READ: c_int = 1;
/// `WRITE_BUFFER_LOW_WATER_MARK` in bytes (default 32 KiB): an unwritable channel becomes
/// writable again below it.
pub const NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK: c_int = 2;
/// `WRITE_BUFFER_HIGH_WATER_MARK` in bytes (default 64 KiB): a channel becomes unwritable
/// above it.
pub const NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK: c_int = 3;
/// `WRITE_BUFFER_HARD_CAP` in bytes (nioxide's own; default 16 MiB, 0 = none): a write that
/// would queue more fails whole with `-ENOBUFS`.
pub const NX_OPTION_WRITE_BUFFER_HARD_CAP: c_int = 4;
/// `CONNECT_TIMEOUT_MILLIS` (default 30000; 0 = none): a connect not done by then fails with
/// `-ETIMEDOUT`.
pub const NX_OPTION_CONNECT_TIMEOUT_MILLIS: c_int = 5;
/// `ALLOW_HALF_CLOSURE` (0 or 1; default 0): at end of stream fire `NX_EVENT_INPUT_SHUTDOWN`
/// and stay open, instead of closing.
pub const NX_OPTION_ALLOW_HALF_CLOSURE: c_int = 6;
/// `TCP_NODELAY` (0 or 1; default 1 on TCP channels).
pub const NX_OPTION_TCP_NODELAY: c_int = 7;
/// `SO_REUSEADDR` (0 or 1).
pub const NX_OPTION_SO_REUSEADDR: c_int = 8;
/// `SO_REUSEPORT` (0 or 1).
pub const NX_OPTION_SO_REUSEPORT: c_int = 9;
/// `SO_RCVBUF` in bytes (Linux doubles what is set).
pub const NX_OPTION_SO_RCVBUF: c_int = 10;
/// `SO_SNDBUF` in bytes (Linux doubles what is set).
pub const NX_OPTION_SO_SNDBUF: c_int = 11;
/// `SO_KEEPALIVE` (0 or 1).
pub const NX_OPTION_SO_KEEPALIVE: c_int = 12;
/// `SO_LINGER` in seconds (negative: off).
pub const NX_OPTION_SO_LINGER: c_int = 13;
/// `SO_BACKLOG`: a server channel's listen backlog (default 1024), used at bind; set only.
pub const NX_OPTION_SO_BACKLOG: c_int = 14;

/// A boolean option's value: 0 or 1.
fn flag(value: i64) -> Result<bool, c_int> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(NX_EINVAL),
    }
}

/// A size option's value: zero or positive.
fn size(value: i64) -> Result<usize, c_int> {
    usize::try_from(value).map_err(|_| NX_EINVAL)
}

/// Core's option for a C option number and value; `marks` are the (low, high) water marks
/// in force, which a water mark option keeps ordered.
///
/// Errors: `NX_EINVAL` for an unknown number or a value out of range.
pub(crate) fn option(
    number: c_int,
    value: i64,
    marks: (usize, usize),
) -> Result<ChannelOption, c_int> {
    let (low, high) = marks;
    Ok(match number {
        NX_OPTION_AUTO_READ => ChannelOption::AutoRead(flag(value)?),
        NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK => {
            let low = size(value)?;
            ChannelOption::WriteBufferWaterMark {
                low,
                high: high.max(low),
            }
        }
        NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK => {
            let high = size(value)?;
            ChannelOption::WriteBufferWaterMark {
                low: low.min(high),
                high,
            }
        }
        NX_OPTION_WRITE_BUFFER_HARD_CAP => ChannelOption::WriteBufferHardCap(size(value)?),
        NX_OPTION_CONNECT_TIMEOUT_MILLIS => {
            ChannelOption::ConnectTimeout(Duration::from_millis(size(value)? as u64))
        }
        NX_OPTION_ALLOW_HALF_CLOSURE => ChannelOption::AllowHalfClosure(flag(value)?),
        NX_OPTION_TCP_NODELAY => ChannelOption::TcpNoDelay(flag(value)?),
        NX_OPTION_SO_REUSEADDR => ChannelOption::SoReuseAddr(flag(value)?),
        NX_OPTION_SO_REUSEPORT => ChannelOption::SoReusePort(flag(value)?),
        NX_OPTION_SO_RCVBUF => ChannelOption::SoRcvBuf(size(value)?),
        NX_OPTION_SO_SNDBUF => ChannelOption::SoSndBuf(size(value)?),
        NX_OPTION_SO_KEEPALIVE => ChannelOption::SoKeepAlive(flag(value)?),
        NX_OPTION_SO_LINGER => {
            ChannelOption::SoLinger(u64::try_from(value).ok().map(Duration::from_secs))
        }
        NX_OPTION_SO_BACKLOG => {
            ChannelOption::SoBacklog(i32::try_from(value).map_err(|_| NX_EINVAL)?)
        }
        _ => return Err(NX_EINVAL),
    })
}

/// The value of option `number` on `channel`.
///
/// Errors: `NX_EINVAL` (unknown, or set-only: `NX_OPTION_SO_BACKLOG`), `NX_ENOOPT`
/// (a socket option on a channel without a socket), OS errors.
pub(crate) fn value(channel: &Channel, number: c_int) -> Result<i64, c_int> {
    let socket = |opt| channel.socket_option(opt).map_err(code);
    let (low, high) = channel.water_marks();
    Ok(match number {
        NX_OPTION_AUTO_READ => i64::from(channel.is_auto_read()),
        NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK => low as i64,
        NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK => high as i64,
        NX_OPTION_WRITE_BUFFER_HARD_CAP => channel.write_buffer_hard_cap() as i64,
        NX_OPTION_CONNECT_TIMEOUT_MILLIS => channel
            .connect_timeout()
            .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        NX_OPTION_ALLOW_HALF_CLOSURE => i64::from(channel.allows_half_closure()),
        NX_OPTION_TCP_NODELAY => socket(SocketOption::TcpNoDelay)?,
        NX_OPTION_SO_REUSEADDR => socket(SocketOption::ReuseAddr)?,
        NX_OPTION_SO_REUSEPORT => socket(SocketOption::ReusePort)?,
        NX_OPTION_SO_RCVBUF => socket(SocketOption::RcvBuf)?,
        NX_OPTION_SO_SNDBUF => socket(SocketOption::SndBuf)?,
        NX_OPTION_SO_KEEPALIVE => socket(SocketOption::KeepAlive)?,
        NX_OPTION_SO_LINGER => socket(SocketOption::Linger)?,
        _ => return Err(NX_EINVAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_marks_stay_ordered() {
        let marks = (32, 64);
        assert_eq!(
            option(NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK, 16, marks),
            Ok(ChannelOption::WriteBufferWaterMark { low: 16, high: 16 })
        );
        assert_eq!(
            option(NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK, 100, marks),
            Ok(ChannelOption::WriteBufferWaterMark {
                low: 100,
                high: 100
            })
        );
        assert_eq!(option(NX_OPTION_AUTO_READ, 2, marks), Err(NX_EINVAL));
        assert_eq!(option(99, 0, marks), Err(NX_EINVAL));
    }
}
