//! Java NIO selector.
