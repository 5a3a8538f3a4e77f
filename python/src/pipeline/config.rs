//! Channel options by Netty's `ChannelOption` names (`"AUTO_READ"`, `"SO_BACKLOG"`, ...; the
//! constants of `nioxide.ChannelOption`), with Python values: booleans, integers, a
//! `(low, high)` tuple for `WRITE_BUFFER_WATER_MARK`, milliseconds for
//! `CONNECT_TIMEOUT_MILLIS`, seconds or `None` for `SO_LINGER`.

use std::time::Duration;

use nioxide_core::channel::SocketOption;
use nioxide_core::pipeline::{Channel, ChannelOption};
use pyo3::prelude::*;

use crate::error::{invalid, to_pyerr};

/// The option names, as core names them.
pub(crate) const NAMES: [&str; 13] = [
    "AUTO_READ",
    "WRITE_BUFFER_WATER_MARK",
    "WRITE_BUFFER_HARD_CAP",
    "CONNECT_TIMEOUT_MILLIS",
    "ALLOW_HALF_CLOSURE",
    "TCP_NODELAY",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_RCVBUF",
    "SO_SNDBUF",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_BACKLOG",
];

fn unknown(name: &str) -> PyErr {
    invalid(format!(
        "unknown channel option {name:?} (one of nioxide.ChannelOption's names)"
    ))
}

/// Core's option `name` with `value`.
pub(crate) fn option(name: &str, value: &Bound<'_, PyAny>) -> PyResult<ChannelOption> {
    let flag = || value.extract::<bool>();
    let size = || value.extract::<usize>();
    Ok(match name {
        "AUTO_READ" => ChannelOption::AutoRead(flag()?),
        "WRITE_BUFFER_WATER_MARK" => {
            let (low, high) = value.extract::<(usize, usize)>()?;
            ChannelOption::WriteBufferWaterMark { low, high }
        }
        "WRITE_BUFFER_HARD_CAP" => ChannelOption::WriteBufferHardCap(size()?),
        "CONNECT_TIMEOUT_MILLIS" => {
            ChannelOption::ConnectTimeout(Duration::from_millis(value.extract::<u64>()?))
        }
        "ALLOW_HALF_CLOSURE" => ChannelOption::AllowHalfClosure(flag()?),
        "TCP_NODELAY" => ChannelOption::TcpNoDelay(flag()?),
        "SO_REUSEADDR" => ChannelOption::SoReuseAddr(flag()?),
        "SO_REUSEPORT" => ChannelOption::SoReusePort(flag()?),
        "SO_RCVBUF" => ChannelOption::SoRcvBuf(size()?),
        "SO_SNDBUF" => ChannelOption::SoSndBuf(size()?),
        "SO_KEEPALIVE" => ChannelOption::SoKeepAlive(flag()?),
        "SO_LINGER" => {
            ChannelOption::SoLinger(value.extract::<Option<u64>>()?.map(Duration::from_secs))
        }
        "SO_BACKLOG" => ChannelOption::SoBacklog(value.extract::<i32>()?),
        other => return Err(unknown(other)),
    })
}

/// The socket option behind an option name, for reading it back.
fn socket_option(name: &str) -> Option<SocketOption> {
    Some(match name {
        "TCP_NODELAY" => SocketOption::TcpNoDelay,
        "SO_REUSEADDR" => SocketOption::ReuseAddr,
        "SO_REUSEPORT" => SocketOption::ReusePort,
        "SO_RCVBUF" => SocketOption::RcvBuf,
        "SO_SNDBUF" => SocketOption::SndBuf,
        "SO_KEEPALIVE" => SocketOption::KeepAlive,
        "SO_LINGER" => SocketOption::Linger,
        _ => return None,
    })
}

/// The current value of option `name` on `channel`.
pub(crate) fn get<'py>(
    py: Python<'py>,
    channel: &Channel,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let any = |v: Bound<'py, PyAny>| Ok(v);
    match name {
        "AUTO_READ" => any(channel
            .is_auto_read()
            .into_pyobject(py)?
            .to_owned()
            .into_any()),
        "WRITE_BUFFER_WATER_MARK" => any(channel.water_marks().into_pyobject(py)?.into_any()),
        "WRITE_BUFFER_HARD_CAP" => any(channel
            .write_buffer_hard_cap()
            .into_pyobject(py)?
            .into_any()),
        "CONNECT_TIMEOUT_MILLIS" => {
            let ms = channel
                .connect_timeout()
                .map_or(0, |d| d.as_millis() as u64);
            any(ms.into_pyobject(py)?.into_any())
        }
        "ALLOW_HALF_CLOSURE" => any(channel
            .allows_half_closure()
            .into_pyobject(py)?
            .to_owned()
            .into_any()),
        other => {
            let Some(opt) = socket_option(other) else {
                if NAMES.contains(&other) {
                    return Err(to_pyerr(nioxide_core::ErrorKind::UnsupportedOption.into()));
                }
                return Err(unknown(other));
            };
            let value = channel.socket_option(opt).map_err(to_pyerr)?;
            match opt {
                SocketOption::RcvBuf | SocketOption::SndBuf => {
                    any(value.into_pyobject(py)?.into_any())
                }
                SocketOption::Linger => {
                    let linger = (value >= 0).then_some(value);
                    any(linger.into_pyobject(py)?.into_any())
                }
                _ => any((value != 0).into_pyobject(py)?.to_owned().into_any()),
            }
        }
    }
}
