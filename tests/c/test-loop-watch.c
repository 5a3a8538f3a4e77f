/* Watches: a socket channel and a server channel of the Selector model served by a loop
 * (level-triggered, no system call per event), a raw pipe descriptor (level-triggered by
 * re-arming), closing and freeing (also from the callback), the loop's shutdown closing
 * watched channels, and bad arguments. */
#include "loop-helpers.h"

struct seen {
  struct t_freed freed;  /* first: t_record_free(&seen) counts here */
  nx_watch_t *watch;     /* the handle the callback must get */
  int calls;
  uint32_t last_ops;
  int same_handle;       /* every call got `watch` */
  nx_socket_channel_t *read_from; /* when set, the callback drains it */
  char data[64];
  size_t got;
  int close_in_callback;
};

static void on_ready(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  struct seen *s = arg;
  s->calls++;
  s->last_ops = ready_ops;
  if (watch != s->watch)
    s->same_handle = 0;
  if (s->read_from != NULL) {
    size_t n = 0;
    if (nx_socket_channel_read(s->read_from, s->data + s->got, sizeof(s->data) - s->got, &n) ==
        0)
      s->got += n;
  }
  if (s->close_in_callback)
    nx_watch_close(watch);
}

TEST_IMPL(loop_watch_socket_channel) {
  nx_loop_t *loop;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_watch_t *watch;
  struct seen seen;
  uint32_t ops = 0;
  int i;
  memset(&seen, 0, sizeof(seen));
  seen.same_handle = 1;
  ASSERT_OK(nx_loop_new(&loop));
  t_pair(&client, &peer);
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_READ, on_ready, &seen, t_record_free,
                                         &watch));
  seen.watch = watch;
  ASSERT_OK(nx_watch_interest(watch, &ops));
  ASSERT_EQ(ops, NX_OP_READ);
  ASSERT_EQ(nx_watch_is_active(watch), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1); /* an active watch keeps the loop alive */
  ASSERT_EQ(seen.calls, 0);

  /* Data left unread is reported again at each turn, without a system call per event. */
  t_write_all(client, "hello", 5);
  t_run_until(loop, &seen.calls);
  ASSERT_EQ(seen.last_ops, NX_OP_READ);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(seen.calls, 4);
  ASSERT_EQ(t_loop_counter(loop, NX_LOOP_COUNTER_EVENTS), 4);

  /* The callback reads it: then it stops. */
  seen.read_from = peer;
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(seen.got, 5);
  ASSERT(memcmp(seen.data, "hello", 5) == 0);
  i = seen.calls;
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(seen.calls, i);

  /* Interest: write readiness at once; 0 pauses the watch. */
  ASSERT_OK(nx_watch_set_interest(watch, NX_OP_WRITE));
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(seen.last_ops, NX_OP_WRITE);
  ASSERT_OK(nx_watch_set_interest(watch, 0));
  i = seen.calls;
  t_write_all(client, "more", 4);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(seen.calls, i);
  ASSERT_EQ(nx_watch_set_interest(watch, NX_OP_ACCEPT), NX_EOPS);
  ASSERT_EQ(nx_watch_set_interest(watch, 2), NX_EINVAL);
  ASSERT(seen.same_handle);

  /* Close: the attachment is freed here, the channel stays open. */
  ASSERT_EQ(seen.freed.count, 0);
  ASSERT_OK(nx_watch_close(watch));
  ASSERT_EQ(seen.freed.count, 1);
  ASSERT(pthread_equal(seen.freed.thread, pthread_self()));
  ASSERT_OK(nx_watch_close(watch)); /* idempotent */
  ASSERT_EQ(nx_watch_is_active(watch), 0);
  ASSERT_EQ(nx_watch_set_interest(watch, NX_OP_READ), NX_ECLOSED);
  ASSERT_EQ(nx_watch_interest(watch, &ops), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_is_open(peer), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 0); /* a turn forgets the closed watch's key */
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_EQ(seen.freed.count, 1);

  /* After a turn, the channel can be watched again; the loop's shutdown closes it. */
  memset(&seen, 0, sizeof(seen));
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_READ, on_ready, &seen, t_record_free,
                                         &watch));
  ASSERT_EQ(seen.freed.count, 0);
  ASSERT_OK(nx_loop_close(loop));
  ASSERT_EQ(seen.freed.count, 1);
  ASSERT_EQ(nx_watch_is_active(watch), 0);
  ASSERT_EQ(nx_socket_channel_is_open(peer), 0);
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_watch_server_socket_channel) {
  nx_loop_t *loop;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *accepted = NULL;
  nx_watch_t *watch;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  struct seen seen;
  int rc;
  memset(&seen, 0, sizeof(seen));
  seen.same_handle = 1;
  ASSERT_OK(nx_loop_new(&loop));
  t_listen(AF_INET, &server, &addr, &len);
  /* A blocking channel cannot be watched. */
  ASSERT_EQ(nx_loop_watch_server_socket_channel(loop, server, NX_OP_ACCEPT, on_ready, &seen,
                                                NULL, &watch),
            NX_EBLOCKINGMODE);
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_EQ(nx_loop_watch_server_socket_channel(loop, server, NX_OP_READ, on_ready, &seen, NULL,
                                                &watch),
            NX_EOPS);
  ASSERT_OK(nx_loop_watch_server_socket_channel(loop, server, NX_OP_ACCEPT, on_ready, &seen,
                                                NULL, &watch));
  seen.watch = watch;
  /* Watched: it cannot be watched twice, nor registered with a selector. */
  ASSERT_EQ(nx_loop_watch_server_socket_channel(loop, server, NX_OP_ACCEPT, on_ready, &seen,
                                                NULL, &watch),
            NX_EREGISTERED);
  ASSERT_PTR_EQ(watch, seen.watch);

  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);
  t_run_until(loop, &seen.calls);
  ASSERT_EQ(seen.last_ops, NX_OP_ACCEPT);
  ASSERT(seen.same_handle);
  ASSERT_OK(nx_server_socket_channel_accept(server, &accepted));
  ASSERT_NOT_NULL(accepted);
  ASSERT_OK(nx_watch_free(watch)); /* closes it first */
  ASSERT_EQ(nx_server_socket_channel_is_open(server), 1);
  ASSERT_OK(nx_socket_channel_free(accepted));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_watch_pipe_fd) {
  nx_loop_t *loop;
  nx_watch_t *reader;
  nx_watch_t *writer;
  struct seen r;
  struct seen w;
  int fds[2];
  char byte = 'x';
  memset(&r, 0, sizeof(r));
  memset(&w, 0, sizeof(w));
  r.same_handle = w.same_handle = 1;
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_new(&loop));
  ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, &r, t_record_free, &reader));
  r.watch = reader;
  ASSERT_EQ(write(fds[1], &byte, 1), 1);
  t_run_until(loop, &r.calls);
  /* Not consumed: reported again at the next turns (level-triggered). */
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_ONCE), 1);
  ASSERT_EQ(r.calls, 3);
  ASSERT_EQ(r.last_ops, NX_OP_READ);
  /* Consumed: no more reports. */
  ASSERT_EQ(read(fds[0], &byte, 1), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(r.calls, 3);

  /* The write end is writable at once; the callback closes its own watch. */
  w.close_in_callback = 1;
  ASSERT_OK(nx_loop_watch_fd(loop, fds[1], NX_OP_WRITE, on_ready, &w, t_record_free, &writer));
  w.watch = writer;
  t_run_until(loop, &w.calls);
  ASSERT_EQ(w.last_ops, NX_OP_WRITE);
  ASSERT_EQ(w.freed.count, 1); /* after the callback that closed it, on the loop's thread */
  ASSERT_EQ(nx_watch_is_active(writer), 0);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_NOWAIT), 1);
  ASSERT_EQ(w.calls, 1);
  ASSERT(r.same_handle && w.same_handle);

  ASSERT_EQ(r.freed.count, 0);
  ASSERT_OK(nx_watch_free(reader));
  ASSERT_OK(nx_watch_free(writer));
  ASSERT_EQ(r.freed.count, 1);
  ASSERT_EQ(w.freed.count, 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  /* nioxide never closed them. */
  ASSERT_NE(fcntl(fds[0], F_GETFD), -1);
  ASSERT_NE(fcntl(fds[1], F_GETFD), -1);
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

TEST_IMPL(loop_watch_arguments) {
  nx_loop_t *loop;
  nx_watch_t *watch = NULL;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct t_freed freed = {0, 0};
  int fds[2];
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_OK(nx_loop_new(&loop));
  t_pair(&client, &peer);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, NULL, &freed, t_record_free, &watch),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, on_ready, &freed, t_record_free, NULL),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_watch_fd(loop, -1, NX_OP_READ, on_ready, &freed, t_record_free, &watch),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], NX_OP_CONNECT, on_ready, &freed, t_record_free,
                             &watch),
            NX_EOPS);
  ASSERT_EQ(nx_loop_watch_fd(loop, fds[0], 1u << 30, on_ready, &freed, t_record_free, &watch),
            NX_EINVAL);
  ASSERT_EQ(nx_loop_watch_fd(NULL, fds[0], NX_OP_READ, on_ready, &freed, t_record_free, &watch),
            NX_EINVAL);
  /* A descriptor number that is not open. */
  ASSERT_EQ(nx_loop_watch_fd(loop, 1000000, NX_OP_READ, on_ready, &freed, t_record_free,
                             &watch),
            -EBADF);
  ASSERT_EQ(nx_loop_watch_socket_channel(loop, peer, NX_OP_ACCEPT, on_ready, &freed,
                                         t_record_free, &watch),
            NX_EOPS);
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 1));
  ASSERT_EQ(nx_loop_watch_socket_channel(loop, client, NX_OP_READ, on_ready, &freed,
                                         t_record_free, &watch),
            NX_EBLOCKINGMODE);
  ASSERT_EQ(nx_loop_watch_socket_channel(loop, (nx_socket_channel_t *)loop, NX_OP_READ,
                                         on_ready, &freed, t_record_free, &watch),
            NX_EINVAL);
  ASSERT_NULL(watch);
  ASSERT_EQ(freed.count, 0); /* nothing kept, nothing freed */
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_loop_free(loop));
  close(fds[0]);
  close(fds[1]);
  return 0;
}

/* Records the ready ops it saw, then pauses the watch (on the loop's thread). */
static void on_ready_pause(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  __atomic_fetch_or((uint32_t *)arg, ready_ops, __ATOMIC_SEQ_CST);
  nx_watch_set_interest(watch, 0);
}

/* Read interest added from another thread while the loop waits is served at once for data
 * the loop saw arrive while it had no read interest (no new event will come for it). */
TEST_IMPL(loop_watch_interest_wakes_the_loop) {
  nx_loop_t *loop;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_watch_t *watch;
  uint32_t seen = 0;
  int64_t deadline;
  ASSERT_OK(nx_loop_start(&loop));
  t_pair(&client, &peer);
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_WRITE, on_ready_pause, &seen, NULL,
                                         &watch));
  t_write_all(client, "waiting", 7);
  t_sleep_ms(100); /* the loop sees the data arrive, without read interest, then waits */
  ASSERT_OK(nx_watch_set_interest(watch, NX_OP_READ));
  deadline = t_now_ms() + T_LIMIT_MS;
  while ((__atomic_load_n(&seen, __ATOMIC_SEQ_CST) & NX_OP_READ) == 0) {
    ASSERT(t_now_ms() < deadline);
    t_sleep_ms(1);
  }
  ASSERT_OK(nx_watch_close(watch));
  ASSERT_OK(nx_watch_free(watch));
  t_stop_loop(loop);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* The callback closes its watch through the handle it gets. */
struct early {
  int calls;
  int close_rc;
};

static void close_from_callback(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  struct early *e = arg;
  (void)ready_ops;
  __atomic_store_n(&e->close_rc, nx_watch_close(watch), __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&e->calls, 1, __ATOMIC_SEQ_CST);
}

/* A descriptor ready before nx_loop_watch_fd returns, on a library loop: the callback must
 * not run while its own handle does not work yet (it could not close itself). */
TEST_IMPL(loop_watch_ready_at_once_gets_a_working_handle) {
  nx_loop_t *loop;
  nx_watch_t *watch;
  struct early e;
  int64_t deadline;
  int fds[2], round;
  ASSERT_OK(nx_loop_start(&loop));
  ASSERT_OK(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  for (round = 0; round < 50; round++) {
    memset(&e, 0, sizeof(e));
    e.close_rc = 1;
    ASSERT_OK(nx_loop_watch_fd(loop, fds[0], NX_OP_READ, close_from_callback, &e, NULL, &watch));
    t_wait_for(&e.calls, 1);
    ASSERT_EQ(__atomic_load_n(&e.close_rc, __ATOMIC_SEQ_CST), 0);
    deadline = t_now_ms() + T_LIMIT_MS;
    while (nx_watch_is_active(watch) == 1) {
      ASSERT(t_now_ms() < deadline);
      t_sleep_ms(1);
    }
    ASSERT_EQ(e.calls, 1); /* closed by its first call */
    ASSERT_OK(nx_watch_free(watch));
  }
  t_stop_loop(loop);
  close(fds[0]);
  close(fds[1]);
  return 0;
}

/* The everyday "end of stream: close" pattern: the callback closes the watched channel. */
struct closing {
  struct t_freed freed; /* first: t_record_free(&closing) counts here */
  nx_socket_channel_t *channel;
  int calls;
};

static void close_on_eof(nx_watch_t *watch, uint32_t ready_ops, void *arg) {
  struct closing *c = arg;
  char buf[16];
  size_t n = 0;
  (void)watch;
  (void)ready_ops;
  c->calls++;
  if (nx_socket_channel_read(c->channel, buf, sizeof buf, &n) == NX_EOF)
    ASSERT_OK(nx_socket_channel_close(c->channel));
}

TEST_IMPL(loop_watch_channel_closed_in_callback) {
  nx_loop_t *loop;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_watch_t *watch;
  struct closing c;
  int64_t start;
  memset(&c, 0, sizeof c);
  ASSERT_OK(nx_loop_new(&loop));
  t_pair(&client, &peer);
  c.channel = peer;
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_READ, close_on_eof, &c, t_record_free,
                                         &watch));
  ASSERT_OK(nx_socket_channel_close(client));
  start = t_now_ms();
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0); /* returns: the watch ended */
  ASSERT_LT(t_now_ms() - start, T_LIMIT_MS);
  ASSERT_EQ(c.calls, 1);
  ASSERT_EQ(nx_watch_is_active(watch), 0);
  ASSERT_EQ(nx_loop_is_alive(loop), 0);
  ASSERT_EQ(c.freed.count, 1); /* the attachment is freed when the channel closes */
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_EQ(c.freed.count, 1); /* once */
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_watch_channel_closed_elsewhere) {
  nx_loop_t *loop;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_watch_t *watch;
  struct closing c;
  memset(&c, 0, sizeof c);
  ASSERT_OK(nx_loop_new(&loop));
  t_pair(&client, &peer);
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_READ, close_on_eof, &c, t_record_free,
                                         &watch));
  ASSERT_EQ(nx_loop_is_alive(loop), 1);
  ASSERT_OK(nx_socket_channel_close(peer));
  ASSERT_EQ(nx_watch_is_active(watch), 0);
  ASSERT_EQ(nx_loop_is_alive(loop), 0);
  ASSERT_EQ(c.freed.count, 1);
  ASSERT_EQ(nx_loop_run(loop, NX_RUN_DEFAULT), 0);
  ASSERT_EQ(c.calls, 0);
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_EQ(c.freed.count, 1);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}

TEST_IMPL(loop_watch_closed_then_loop_closed_keeps_channel) {
  nx_loop_t *loop;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_watch_t *watch;
  struct closing c;
  char buf[8];
  memset(&c, 0, sizeof c);
  ASSERT_OK(nx_loop_new(&loop));
  t_pair(&client, &peer);
  ASSERT_OK(nx_loop_watch_socket_channel(loop, peer, NX_OP_READ, close_on_eof, &c, NULL, &watch));
  ASSERT_OK(nx_watch_close(watch));
  ASSERT_OK(nx_loop_close(loop)); /* before another turn */
  ASSERT_EQ(nx_socket_channel_is_open(peer), 1);
  t_write_all(client, "alive", 5);
  t_read_exact(peer, buf, 5);
  ASSERT(memcmp(buf, "alive", 5) == 0);
  ASSERT_OK(nx_watch_free(watch));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_loop_free(loop));
  return 0;
}
