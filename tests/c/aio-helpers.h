/*
 * aio-helpers.h: what the AIO tests share: a recording completion handler, bounded waits for
 * handlers that run on the group's threads, and connected pairs of AIO channels.
 */
#ifndef NX_AIO_HELPERS_H
#define NX_AIO_HELPERS_H

#include "net-helpers.h"

/* What one operation's handler saw: how often each function ran, and with what. */
typedef struct {
  int completed;
  int failed;
  int64_t result;
  int error;
} t_op;

static void t_op_completed(int64_t result, void *attachment) {
  t_op *op = attachment;
  __atomic_store_n(&op->result, result, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&op->completed, 1, __ATOMIC_SEQ_CST);
}

static void t_op_failed(int error, void *attachment) {
  t_op *op = attachment;
  __atomic_store_n(&op->error, error, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&op->failed, 1, __ATOMIC_SEQ_CST);
}

static const nx_completion_handler_t t_handler = {t_op_completed, t_op_failed};

/* How many times the operation reported (completed + failed). */
static inline int t_op_reports(t_op *op) {
  return t_load(&op->completed) + t_load(&op->failed);
}

/* Waits until the operation reported, up to T_LIMIT_MS; fails the test otherwise. */
static inline void t_op_wait(t_op *op) {
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while (t_op_reports(op) == 0) {
    if (t_now_ms() > deadline)
      nx_test_fail(__FILE__, __LINE__, "an AIO operation never reported");
    t_sleep_ms(1);
  }
}

/* Waits for the operation to complete and returns its result. */
static inline int64_t t_op_result(t_op *op) {
  t_op_wait(op);
  ASSERT_EQ(t_load(&op->failed), 0);
  ASSERT_EQ(t_load(&op->completed), 1);
  return op->result;
}

/* Waits for the operation to fail and returns its error. */
static inline int t_op_error(t_op *op) {
  t_op_wait(op);
  ASSERT_EQ(t_load(&op->completed), 0);
  ASSERT_EQ(t_load(&op->failed), 1);
  return op->error;
}

/* Waits for a future and returns its result (or error, negative) through nx_aio_result. */
static inline int64_t t_future_result(nx_promise_t *future) {
  int64_t result = 0;
  int rc;
  ASSERT_OK(nx_promise_wait(future, T_LIMIT_MS));
  rc = nx_aio_result(future, &result);
  return rc == 0 ? result : rc;
}

/* A listener on loopback port 0 in `group`; its address goes to *addr / *len. */
static inline nx_aio_server_socket_t *t_aio_listen(nx_aio_group_t *group, int backlog,
                                                   struct sockaddr_storage *addr,
                                                   socklen_t *len) {
  nx_aio_server_socket_t *server = NULL;
  struct sockaddr_storage bind_addr;
  socklen_t bind_len = t_loopback(AF_INET, 0, &bind_addr);
  ASSERT_OK(nx_aio_server_socket_open(group, &server));
  ASSERT_OK(nx_aio_server_socket_bind(server, (struct sockaddr *)&bind_addr, bind_len, backlog));
  ASSERT_OK(nx_aio_server_socket_local_address(server, addr, len));
  ASSERT_NE(t_port(addr), 0);
  return server;
}

/* A connected pair of AIO channels: *client (in `group`) connected to *peer (accepted in
 * `peer_group`). */
static inline void t_aio_pair_in(nx_aio_group_t *group, nx_aio_group_t *peer_group,
                                 nx_aio_socket_t **client, nx_aio_socket_t **peer) {
  struct sockaddr_storage addr;
  socklen_t len;
  nx_promise_t *accepted = NULL;
  nx_promise_t *connected = NULL;
  nx_aio_server_socket_t *server = t_aio_listen(peer_group, 16, &addr, &len);
  ASSERT_OK(nx_aio_server_socket_accept_future(server, &accepted));
  ASSERT_OK(nx_aio_socket_open(group, client));
  ASSERT_OK(nx_aio_socket_connect_future(*client, (struct sockaddr *)&addr, len, T_LIMIT_MS,
                                         &connected));
  ASSERT_EQ(t_future_result(connected), 0);
  ASSERT_OK(nx_promise_wait(accepted, T_LIMIT_MS));
  ASSERT_OK(nx_aio_server_socket_accept_take(accepted, peer));
  ASSERT_OK(nx_promise_free(accepted));
  ASSERT_OK(nx_promise_free(connected));
  ASSERT_OK(nx_aio_server_socket_free(server));
}

/* A connected pair of AIO channels in `group`: *client connected to *peer (accepted). */
static inline void t_aio_pair(nx_aio_group_t *group, nx_aio_socket_t **client,
                              nx_aio_socket_t **peer) {
  t_aio_pair_in(group, group, client, peer);
}

/* A one-thread group. */
static inline nx_aio_group_t *t_aio_group(void) {
  nx_aio_group_t *group = NULL;
  ASSERT_OK(nx_aio_group_new(1, &group));
  return group;
}

/* Frees the group after waiting for its termination (joining its threads). */
static inline void t_aio_group_free(nx_aio_group_t *group) {
  ASSERT_OK(nx_aio_group_shutdown_now(group));
  ASSERT_OK(nx_aio_group_await_termination(group, T_LIMIT_MS));
  ASSERT_OK(nx_aio_group_free(group));
}

/* Fills `buf` with pseudo-random bytes from `seed` (xorshift). */
static inline void t_random_bytes(unsigned char *buf, size_t len, uint32_t seed) {
  uint32_t x = seed ? seed : 1;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (unsigned char)x;
  }
}

#endif /* NX_AIO_HELPERS_H */
