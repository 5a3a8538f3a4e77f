/*
 * test-list.h: every C test, one TEST_ENTRY(name) line each (an X-macro list, as libuv's
 * test/test-list.h). No include guard: runner.c includes it twice.
 *
 * To add a test: write TEST_IMPL(name) in tests/c/test-<area>-<what>.c and add its line
 * here, grouped by file. CMake finds the .c files by their name (test-*.c), registers each
 * entry as its own ctest test `name` (`ctest -R name`, or `nx_run_tests name`), labels it
 * "c;<area>" from the file name (test-selector-*.c: "c;selector"; test-error.c,
 * test-version.c, test-panic.c: "c;core"), and fails the configure step if a TEST_IMPL is
 * missing from this list.
 */

/* test-error.c */
TEST_ENTRY(error_names)
TEST_ENTRY(error_strerror)
TEST_ENTRY(error_os_codes)
TEST_ENTRY(error_unknown_codes)
TEST_ENTRY(error_tables_thread_safe)

/* test-version.c */
TEST_ENTRY(version_macros)
TEST_ENTRY(version_functions)

/* test-panic.c */
TEST_ENTRY(panic_returns_epanic)
TEST_ENTRY(panic_in_threads)

/* test-selector-basics.c */
TEST_ENTRY(selector_open_close_free)
TEST_ENTRY(selector_select_timeout)
TEST_ENTRY(selector_select_now)
TEST_ENTRY(selector_wakeup_before_select)
TEST_ENTRY(selector_select_now_clears_wakeup)
TEST_ENTRY(selector_wakeup_from_thread)
TEST_ENTRY(selector_fd_and_counters)

/* test-selector-echo.c */
TEST_ENTRY(selector_steady_echo)

/* test-selector-fork.c */
TEST_ENTRY(selector_fork_child)

/* test-selector-handles.c */
TEST_ENTRY(selector_handle_null)
TEST_ENTRY(selector_handle_wrong_type)
TEST_ENTRY(selector_handle_after_free)
TEST_ENTRY(selector_handle_after_close)

/* test-selector-keys.c */
TEST_ENTRY(selection_key_same_handle)
TEST_ENTRY(selection_key_attach)
TEST_ENTRY(selection_key_attachment_freed_once)
TEST_ENTRY(selection_key_cancelled)
TEST_ENTRY(selection_key_interest_change)
TEST_ENTRY(selection_key_accessors)

/* test-selector-register.c */
TEST_ENTRY(selector_register_blocking_channel)
TEST_ENTRY(selector_register_unsupported_ops)
TEST_ENTRY(selector_register_unknown_bits)
TEST_ENTRY(selector_register_closed)
TEST_ENTRY(selector_register_elsewhere)
TEST_ENTRY(selector_reregister_updates)

/* test-selector-threads.c */
TEST_ENTRY(selector_thread_register_during_select)
TEST_ENTRY(selector_thread_interest_during_select)
TEST_ENTRY(selector_thread_cancel_during_select)
TEST_ENTRY(selector_thread_close_during_select)
TEST_ENTRY(selector_thread_free_during_select)
TEST_ENTRY(selector_thread_channel_close_during_select)

/* test-selector-trigger.c */
TEST_ENTRY(selector_level_triggered)
TEST_ENTRY(selector_edge_triggered)

/* test-tcp-address.c */
TEST_ENTRY(tcp_ipv6_loopback)
TEST_ENTRY(tcp_ipv4_on_dual_stack)
TEST_ENTRY(tcp_address_errors)

/* test-tcp-blocking.c */
TEST_ENTRY(tcp_blocking_accept_closed)
TEST_ENTRY(tcp_blocking_read_closed)
TEST_ENTRY(tcp_blocking_read_freed)
TEST_ENTRY(tcp_blocking_read_data)

/* test-tcp-connect.c */
TEST_ENTRY(tcp_connect_nonblocking)
TEST_ENTRY(tcp_connect_refused)
TEST_ENTRY(tcp_accept_none_waiting)
TEST_ENTRY(tcp_unconnected_errors)

/* test-tcp-emfile.c */
TEST_ENTRY(tcp_accept_emfile_no_spin)

/* test-tcp-handles.c */
TEST_ENTRY(tcp_handle_null)
TEST_ENTRY(tcp_handle_wrong_type)
TEST_ENTRY(tcp_handle_after_free)
TEST_ENTRY(tcp_handle_after_close)

/* test-tcp-io.c */
TEST_ENTRY(tcp_read_write)
TEST_ENTRY(tcp_readv_writev)
TEST_ENTRY(tcp_half_close)
TEST_ENTRY(tcp_blocking_write_all)

/* test-tcp-options.c */
TEST_ENTRY(tcp_options_socket)
TEST_ENTRY(tcp_options_server)
TEST_ENTRY(tcp_options_supported)

/* test-tcp-sigpipe.c */
TEST_ENTRY(tcp_reset_peer_no_sigpipe)
