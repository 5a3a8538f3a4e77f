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

/* test-handle-live.c */
TEST_ENTRY(handle_live_by_type)

/* test-selector-basics.c */
TEST_ENTRY(selector_open_close_free)
TEST_ENTRY(selector_close_releases_descriptors)
TEST_ENTRY(selector_next_ready)
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
TEST_ENTRY(selector_fork_while_selecting)

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
TEST_ENTRY(selection_key_interest_or_and)
TEST_ENTRY(selection_key_interest_or_and_atomic)
TEST_ENTRY(selection_key_accessors)

/* test-selector-register.c */
TEST_ENTRY(selector_register_blocking_channel)
TEST_ENTRY(selector_register_unsupported_ops)
TEST_ENTRY(selector_register_unknown_bits)
TEST_ENTRY(selector_register_closed)
TEST_ENTRY(selector_register_elsewhere)
TEST_ENTRY(selector_register_without_a_handle_left)
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
TEST_ENTRY(selector_exact_read_drains)
TEST_ENTRY(selector_fd_readiness_as_documented)
TEST_ENTRY(selector_edge_triggered)
TEST_ENTRY(selector_registered_before_connect_or_bind)

/* test-tcp-adopt.c */
TEST_ENTRY(tcp_adopt_connected)
TEST_ENTRY(tcp_adopt_listener)
TEST_ENTRY(tcp_adopt_unconnected)
TEST_ENTRY(tcp_adopt_bad_descriptors)
TEST_ENTRY(tcp_adopt_without_a_handle_left)
TEST_ENTRY(tcp_detach)
TEST_ENTRY(tcp_detach_registered)
TEST_ENTRY(tcp_detach_wakes_blocked_read)
TEST_ENTRY(tcp_detach_after_close_still_closes)
TEST_ENTRY(tcp_adopt_bound_not_listening)

/* test-tcp-address.c */
TEST_ENTRY(tcp_ipv6_loopback)
TEST_ENTRY(tcp_ipv4_on_dual_stack)
TEST_ENTRY(tcp_address_errors)
TEST_ENTRY(tcp_bind_twice_already_bound)

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
TEST_ENTRY(tcp_accept_emfile_edge_triggered)

/* test-tcp-handles.c */
TEST_ENTRY(tcp_handle_null)
TEST_ENTRY(tcp_handle_wrong_type)
TEST_ENTRY(tcp_handle_after_free)
TEST_ENTRY(tcp_handle_after_close)

/* test-tcp-io.c */
TEST_ENTRY(tcp_read_write)
TEST_ENTRY(tcp_reset_is_sticky)
TEST_ENTRY(tcp_readv_writev)
TEST_ENTRY(tcp_half_close)
TEST_ENTRY(tcp_shutdown_state)
TEST_ENTRY(tcp_blocking_write_all)

/* test-tcp-options.c */
TEST_ENTRY(tcp_options_socket)
TEST_ENTRY(tcp_options_keepalive)
TEST_ENTRY(tcp_options_server)
TEST_ENTRY(tcp_options_supported)

/* test-tcp-sigpipe.c */
TEST_ENTRY(tcp_reset_peer_no_sigpipe)

/* test-loop-attachments.c */
TEST_ENTRY(loop_attachment_freed_once)
TEST_ENTRY(loop_attachment_kept_when_no_handle_is_left)

/* test-loop-embed.c */
TEST_ENTRY(loop_embed_backend_fd)
TEST_ENTRY(loop_embed_raw_fd_left_unread)

/* test-loop-fork.c */
TEST_ENTRY(loop_fork_child)

/* test-loop-handles.c */
TEST_ENTRY(loop_handle_null)
TEST_ENTRY(loop_handle_wrong_type)
TEST_ENTRY(loop_handle_after_free)

/* test-loop-run.c */
TEST_ENTRY(loop_run_modes)
TEST_ENTRY(loop_run_once_not_alive)
TEST_ENTRY(loop_run_stop_before_run)
TEST_ENTRY(loop_run_stop_from_task)
TEST_ENTRY(loop_run_ref_unref)
TEST_ENTRY(loop_run_reentrant_or_library_driven)
TEST_ENTRY(loop_run_owner_thread)
TEST_ENTRY(loop_run_clock_and_counters)

/* test-loop-tasks.c */
TEST_ENTRY(loop_task_order)
TEST_ENTRY(loop_task_requeued_runs_next_turn)
TEST_ENTRY(loop_task_failure)
TEST_ENTRY(loop_task_error_report_never_raises_sigpipe)
TEST_ENTRY(loop_task_panic)
TEST_ENTRY(loop_task_closes_own_loop)
TEST_ENTRY(loop_task_stops_own_loop)
TEST_ENTRY(loop_task_frees_own_loop)

/* test-loop-storm.c */
TEST_ENTRY(loop_cross_thread_storm)
TEST_ENTRY(loop_stream_then_blocks)

/* test-loop-timers.c */
TEST_ENTRY(loop_timer_order_never_early)
TEST_ENTRY(loop_timer_cancel_before_fire)
TEST_ENTRY(loop_timer_cancel_after_fire)
TEST_ENTRY(loop_timer_fixed_rate)
TEST_ENTRY(loop_timer_fixed_delay)
TEST_ENTRY(loop_timer_periodic_failure)
TEST_ENTRY(loop_timer_fixed_rate_backlog)
TEST_ENTRY(loop_timer_arguments)

/* test-loop-shutdown.c */
TEST_ENTRY(loop_shutdown_drains_queued_work)
TEST_ENTRY(loop_shutdown_quiet_period)
TEST_ENTRY(loop_shutdown_deadline)
TEST_ENTRY(loop_shutdown_now_drops_queued_work)
TEST_ENTRY(loop_rejected_after_shutdown)
TEST_ENTRY(loop_close_caller_driven)
TEST_ENTRY(loop_await_on_own_thread)
TEST_ENTRY(loop_rejected_text_covers_a_terminated_loop)

/* test-loop-watch.c */
TEST_ENTRY(loop_watch_socket_channel)
TEST_ENTRY(loop_watch_channel_closed_in_callback)
TEST_ENTRY(loop_watch_channel_closed_elsewhere)
TEST_ENTRY(loop_watch_closed_then_loop_closed_keeps_channel)
TEST_ENTRY(loop_watch_server_socket_channel)
TEST_ENTRY(loop_watch_pipe_fd)
TEST_ENTRY(loop_watch_arguments)
TEST_ENTRY(loop_watch_interest_wakes_the_loop)
TEST_ENTRY(loop_watch_ready_at_once_gets_a_working_handle)

/* test-timer-basics.c */
TEST_ENTRY(timer_order_never_early)
TEST_ENTRY(timer_huge_timeout_exact)
TEST_ENTRY(timer_restart_and_due_in)
TEST_ENTRY(timer_stop_before_fire)
TEST_ENTRY(timer_repeat_stops_from_its_callback)
TEST_ENTRY(timer_restart_from_its_callback)
TEST_ENTRY(timer_again_and_set_repeat)
TEST_ENTRY(timer_ref_unref)

/* test-loop-owned.c */
TEST_ENTRY(loop_owned_fast_path_on_the_running_thread)
TEST_ENTRY(loop_owned_free_from_another_thread_during_its_callback)
TEST_ENTRY(loop_owned_objects_freed_after_their_loop)
TEST_ENTRY(loop_owned_frees_racing_the_loop_and_its_termination)
TEST_ENTRY(loop_owned_fork_inside_a_callback)

/* test-timer-lifecycle.c */
TEST_ENTRY(timer_close_and_free)
TEST_ENTRY(timer_close_or_free_from_its_callback)
TEST_ENTRY(timer_attachment_freed_once)
TEST_ENTRY(timer_handle_misuse)
TEST_ENTRY(timer_other_threads_and_shutdown)
TEST_ENTRY(timer_stop_from_another_thread_prevents_the_next_expiry)
TEST_ENTRY(timer_fork_child)

/* test-promise-complete.c */
TEST_ENTRY(promise_complete_once)
TEST_ENTRY(promise_failure_and_cancel)
TEST_ENTRY(promise_submit_value)
TEST_ENTRY(promise_futures_only_nioxide_completes)
TEST_ENTRY(promise_running_and_uncancellable)

/* test-promise-listeners.c */
TEST_ENTRY(promise_listener_order_and_late)
TEST_ENTRY(promise_long_chain_without_loop)
TEST_ENTRY(promise_listener_on_loop_thread)
TEST_ENTRY(promise_listener_without_executor)
TEST_ENTRY(promise_listener_frees_promise)
TEST_ENTRY(promise_listener_never_runs)
TEST_ENTRY(promise_listener_order_across_completion)
TEST_ENTRY(promise_listener_of_a_timer_cancelled_by_shutdown_now)

/* test-promise-wait.c */
TEST_ENTRY(promise_wait_timeout)
TEST_ENTRY(promise_wait_on_loop_thread)

/* test-group-loops.c */
TEST_ENTRY(group_next_round_robin)
TEST_ENTRY(group_execute_submit_schedule)
TEST_ENTRY(group_shutdown_gracefully)
TEST_ENTRY(group_free_from_own_thread)

/* test-pipeline-embedded.c */
TEST_ENTRY(pipeline_embedded_event_order)
TEST_ENTRY(pipeline_embedded_echo)
TEST_ENTRY(pipeline_embedded_exception_routing)
TEST_ENTRY(pipeline_embedded_removed_handler_failure)
TEST_ENTRY(pipeline_embedded_changes_during_events)
TEST_ENTRY(pipeline_embedded_virtual_time)
TEST_ENTRY(pipeline_embedded_loop_virtual_time)
TEST_ENTRY(pipeline_embedded_messages)
TEST_ENTRY(pipeline_embedded_user_events)
TEST_ENTRY(pipeline_embedded_attachment_free)
TEST_ENTRY(pipeline_embedded_outbound_handler)

/* test-pipeline-echo.c */
TEST_ENTRY(pipeline_echo_tcp)
TEST_ENTRY(pipeline_echo_tcp_auto_read_off)
TEST_ENTRY(pipeline_echo_tcp_ipv6)
TEST_ENTRY(pipeline_echo_local)
TEST_ENTRY(pipeline_echo_local_auto_read_off)
TEST_ENTRY(pipeline_writes_from_threads_keep_order)

/* test-pipeline-errors.c */
TEST_ENTRY(pipeline_connect_refused)
TEST_ENTRY(pipeline_connect_timeout)
TEST_ENTRY(pipeline_peer_reset_fails_each_write_once)
TEST_ENTRY(pipeline_writability_per_crossing_and_hard_cap)
TEST_ENTRY(pipeline_half_closure_allowed)
TEST_ENTRY(pipeline_half_closure_not_allowed)
TEST_ENTRY(pipeline_close_inside_every_event)
TEST_ENTRY(pipeline_close_in_write_listener)
TEST_ENTRY(pipeline_group_shutdown_with_live_channels)
TEST_ENTRY(pipeline_group_shutdown_delivers_queued_writes)
TEST_ENTRY(pipeline_group_shutdown_deadline_counts_flushed_bytes)

/* test-pipeline-handles.c */
TEST_ENTRY(pipeline_handles_accepted_and_retained)
TEST_ENTRY(pipeline_handles_misuse)
TEST_ENTRY(pipeline_handles_fast_path_on_loop)
TEST_ENTRY(pipeline_lent_messages_nested_deep)
TEST_ENTRY(pipeline_handler_size_inside_a_field)
TEST_ENTRY(pipeline_context_outlived_is_closed)
TEST_ENTRY(pipeline_channel_event_loop)
TEST_ENTRY(pipeline_unhandled_exception_counted_by_its_loop)

/* test-codec-idle.c */
TEST_ENTRY(codec_idle_events_on_virtual_time)
TEST_ENTRY(codec_idle_observe_output)
TEST_ENTRY(codec_idle_read_timeout_closes_once)
TEST_ENTRY(codec_idle_write_timeout_closes_once)
TEST_ENTRY(codec_idle_handler_ownership)
TEST_ENTRY(codec_idle_tcp_reader_idle_then_read_timeout)

/* test-codec-frames.c */
TEST_ENTRY(codec_line_fragments_and_batches)
TEST_ENTRY(codec_line_maximum_and_too_long)
TEST_ENTRY(codec_line_ten_mib_bounded)
TEST_ENTRY(codec_delimiter_frames)
TEST_ENTRY(codec_length_field_frames)
TEST_ENTRY(codec_length_field_too_long_and_corrupted)
TEST_ENTRY(codec_fixed_length_and_partial_end)
TEST_ENTRY(codec_length_field_prepender)
TEST_ENTRY(codec_bad_configurations)

/* test-codec-custom.c */
TEST_ENTRY(codec_string_messages)
TEST_ENTRY(codec_string_malformed_utf8)
TEST_ENTRY(codec_custom_decoder)
TEST_ENTRY(codec_custom_decoder_removed_in_decode)
TEST_ENTRY(codec_custom_decoder_frames)
TEST_ENTRY(codec_custom_table_errors)
TEST_ENTRY(codec_custom_encoder)
TEST_ENTRY(codec_tcp_line_server)

/* test-aio-socket.c */
TEST_ENTRY(aio_handlers_accept_connect_read_write)
TEST_ENTRY(aio_futures_accept_connect_read_write)
TEST_ENTRY(aio_connect_refused)
TEST_ENTRY(aio_connect_timeout)
TEST_ENTRY(aio_pending_errors_at_the_call)
TEST_ENTRY(aio_read_timeout)
TEST_ENTRY(aio_write_timeout)
TEST_ENTRY(aio_future_cancel)
TEST_ENTRY(aio_socket_options)
TEST_ENTRY(aio_accept_future_untaken)
TEST_ENTRY(aio_handler_calls_take_the_fast_path)
TEST_ENTRY(aio_open_family)

/* test-aio-echo.c */
TEST_ENTRY(aio_echo_1mib_scatter_gather)
TEST_ENTRY(aio_reset_with_writes_queued)
TEST_ENTRY(aio_write_queue_cap)
TEST_ENTRY(aio_echo_syscall_budget)

/* test-aio-group.c */
TEST_ENTRY(aio_group_close_and_shutdown_in_handler)
TEST_ENTRY(aio_group_shutdown_now_with_pending)
TEST_ENTRY(aio_group_shutdown_waits_for_channels)
TEST_ENTRY(aio_group_borrowed_loops)

/* test-aio-file.c */
TEST_ENTRY(aio_file_read_write)
TEST_ENTRY(aio_file_locks_between_channels)
TEST_ENTRY(aio_file_threads)
TEST_ENTRY(aio_file_read_only_error)

/* test-pipeline-local.c */
TEST_ENTRY(pipeline_local_backpressure)
TEST_ENTRY(pipeline_local_server_auto_read_gates_accepting)
TEST_ENTRY(aio_file_full_disk_error)
TEST_ENTRY(aio_file_overlapping_locks)
