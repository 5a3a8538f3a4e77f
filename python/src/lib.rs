//! nioxide's Python module, `nioxide._nioxide`: the classes of the pure-Python package
//! `nioxide` (python/pysrc/nioxide), as thin pyo3 wrappers over nioxide-core.
//!
//! One file or folder per core module ([`selector`], [`channel`], [`event_loop`],
//! [`pipeline`], [`aio`]); [`error`] maps
//! core's errors to the exception classes of `nioxide/exceptions.py`; [`gil`] is the one helper every call that may
//! block goes through; [`binding`] keeps one Python object per core object. The Python-side
//! documentation lives in the stub, `nioxide/_nioxide.pyi`.
#![deny(missing_docs, missing_debug_implementations)]

mod aio;
mod binding;
mod channel;
mod error;
mod event_loop;
mod gil;
mod live;
mod pipeline;
mod selector;

use pyo3::prelude::*;
use pyo3::types::IntoPyDict;

/// The extension module. `gil_used = true`: the module has not been audited for
/// free-threaded Python (abi3 wheels do not load there anyway).
#[pymodule(gil_used = true)]
#[pyo3(name = "_nioxide")]
fn nioxide_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("OP_READ", nioxide_core::selector::OP_READ)?;
    m.add("OP_WRITE", nioxide_core::selector::OP_WRITE)?;
    m.add("OP_CONNECT", nioxide_core::selector::OP_CONNECT)?;
    m.add("OP_ACCEPT", nioxide_core::selector::OP_ACCEPT)?;
    for (name, number, _) in channel::OPTIONS {
        m.add(*name, *number)?;
    }
    m.add_class::<selector::Selector>()?;
    m.add_class::<selector::SelectionKey>()?;
    m.add_class::<channel::tcp::ServerSocketChannel>()?;
    m.add_class::<channel::tcp::SocketChannel>()?;
    m.add("RUN_DEFAULT", event_loop::RUN_DEFAULT)?;
    m.add("RUN_ONCE", event_loop::RUN_ONCE)?;
    m.add("RUN_NOWAIT", event_loop::RUN_NOWAIT)?;
    m.add_class::<event_loop::EventLoop>()?;
    m.add_class::<event_loop::group::EventLoopGroup>()?;
    m.add_class::<event_loop::promise::Future>()?;
    m.add_class::<event_loop::promise::ScheduledFuture>()?;
    m.add_class::<event_loop::watch::Watch>()?;
    m.add_class::<event_loop::timer::Timer>()?;
    m.add_class::<aio::group::AsynchronousChannelGroup>()?;
    m.add_class::<aio::server::AsynchronousServerSocketChannel>()?;
    m.add_class::<aio::socket::AsynchronousSocketChannel>()?;
    m.add_class::<aio::file::AsynchronousFileChannel>()?;
    m.add_class::<aio::file::FileLock>()?;
    pipeline::register(m)?;
    m.add_function(wrap_pyfunction!(live::live_objects, m)?)?;

    gil::init_main_thread(py)?;
    // Objects created before a fork fail with ForkedError in the child (core's
    // pthread_atfork handler); this hook tells the GIL helper which thread is main there.
    let os = py.import("os")?;
    for hook in [
        wrap_pyfunction!(gil::after_fork_in_child, m)?,
        wrap_pyfunction!(event_loop::forget_loops_after_fork, m)?,
    ] {
        let kwargs = [("after_in_child", hook)].into_py_dict(py)?;
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    // Library-driven loops are shut down and joined before the interpreter finalizes.
    let at_exit = wrap_pyfunction!(event_loop::shutdown_at_exit, m)?;
    py.import("atexit")?.call_method1("register", (at_exit,))?;
    Ok(())
}
