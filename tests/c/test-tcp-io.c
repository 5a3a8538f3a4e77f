/* Reading and writing: plain, scattering and gathering (on the stack and past it), would-block
 * as count 0, half-close seen as NX_EOF, blocking writes of everything. */
#include <sys/uio.h>

#include "net-helpers.h"

TEST_IMPL(tcp_read_write) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  char buf[16];
  size_t n = 99;
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_read(peer, buf, sizeof(buf), &n));
  ASSERT_EQ(n, 0); /* would block */
  ASSERT_OK(nx_socket_channel_write(client, "hello", 5, &n));
  ASSERT_EQ(n, 5);
  t_read_exact(peer, buf, 5);
  ASSERT(memcmp(buf, "hello", 5) == 0);
  /* Empty buffers: nothing moves, and an empty read is not end of stream. */
  ASSERT_OK(nx_socket_channel_write(client, NULL, 0, &n));
  ASSERT_EQ(n, 0);
  ASSERT_OK(nx_socket_channel_read(peer, NULL, 0, &n));
  ASSERT_EQ(n, 0);
  ASSERT_EQ(nx_socket_channel_read(peer, NULL, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_read(peer, buf, 1, NULL), NX_EINVAL);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* Writes `count` 3-byte buffers with writev and reads them back with readv into as many. */
static void vectored_round_trip(nx_socket_channel_t *from, nx_socket_channel_t *to, int count) {
  char out[20][3];
  char in[20][3];
  struct iovec wiov[20];
  struct iovec riov[20];
  size_t n = 0;
  size_t total = 0;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  int i;
  for (i = 0; i < count; i++) {
    memset(out[i], 'a' + i, 3);
    memset(in[i], 0, 3);
    wiov[i].iov_base = out[i];
    wiov[i].iov_len = 3;
    riov[i].iov_base = in[i];
    riov[i].iov_len = 3;
  }
  ASSERT_OK(nx_socket_channel_writev(from, wiov, count, &n));
  ASSERT_EQ(n, 3 * (size_t)count);
  while (total < 3 * (size_t)count) {
    /* Reads into the buffers from where the last read stopped (whole buffers here). */
    ASSERT_OK(nx_socket_channel_readv(to, riov + total / 3, count - (int)(total / 3), &n));
    ASSERT_EQ(n % 3, 0);
    total += n;
    if (n == 0) {
      ASSERT(t_now_ms() < deadline);
      t_poll(t_socket_fd(to), POLLIN, 100);
    }
  }
  ASSERT(memcmp(in, out, 3 * (size_t)count) == 0);
}

TEST_IMPL(tcp_readv_writev) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct iovec iov[2];
  char buf[4] = "buf";
  size_t n = 5;
  t_pair(&client, &peer);
  vectored_round_trip(client, peer, 1);
  vectored_round_trip(client, peer, 3);
  vectored_round_trip(peer, client, 16); /* the most converted on the stack */
  vectored_round_trip(peer, client, 20); /* past it */
  ASSERT_OK(nx_socket_channel_writev(client, NULL, 0, &n));
  ASSERT_EQ(n, 0);
  ASSERT_EQ(nx_socket_channel_writev(client, NULL, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_writev(client, iov, -1, &n), NX_EINVAL);
  iov[0].iov_base = NULL;
  iov[0].iov_len = 1;
  ASSERT_EQ(nx_socket_channel_writev(client, iov, 1, &n), NX_EINVAL);
  ASSERT_EQ(nx_socket_channel_readv(client, iov, 1, &n), NX_EINVAL);
  /* A NULL base with length 0 is an empty buffer. */
  iov[0].iov_len = 0;
  iov[1].iov_base = buf;
  iov[1].iov_len = sizeof(buf);
  ASSERT_OK(nx_socket_channel_writev(client, iov, 2, &n));
  ASSERT_EQ(n, sizeof(buf));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* Reads until end of stream; returns the bytes read before it. */
static size_t read_to_eof(nx_socket_channel_t *channel, char *buf, size_t cap) {
  size_t got = 0;
  size_t n;
  int rc;
  int64_t deadline = t_now_ms() + T_LIMIT_MS;
  while ((rc = nx_socket_channel_read(channel, buf + got, cap - got, &n)) == 0) {
    got += n;
    if (n == 0) {
      ASSERT(t_now_ms() < deadline);
      t_poll(t_socket_fd(channel), POLLIN, 100);
    }
  }
  ASSERT_EQ(rc, NX_EOF);
  return got;
}

TEST_IMPL(tcp_half_close) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct iovec iov;
  char buf[16];
  size_t n = 42;
  t_pair(&client, &peer);
  t_write_all(client, "last", 4);
  ASSERT_OK(nx_socket_channel_shutdown_output(client));
  ASSERT_OK(nx_socket_channel_shutdown_output(client)); /* idempotent */
  ASSERT_EQ(nx_socket_channel_write(client, "x", 1, &n), NX_ESHUTDOWN);
  ASSERT_EQ(n, 42);
  /* The peer reads what was sent, then end of stream, every time. */
  ASSERT_EQ(read_to_eof(peer, buf, sizeof(buf)), 4);
  ASSERT(memcmp(buf, "last", 4) == 0);
  ASSERT_EQ(nx_socket_channel_read(peer, buf, sizeof(buf), &n), NX_EOF);
  iov.iov_base = buf;
  iov.iov_len = sizeof(buf);
  ASSERT_EQ(nx_socket_channel_readv(peer, &iov, 1, &n), NX_EOF);
  ASSERT_EQ(n, 42);
  /* The other direction still works. */
  t_write_all(peer, "back", 4);
  t_read_exact(client, buf, 4);
  ASSERT(memcmp(buf, "back", 4) == 0);
  /* shutdown_input: reads see end of stream at once. */
  ASSERT_OK(nx_socket_channel_shutdown_input(client));
  ASSERT_EQ(nx_socket_channel_read(client, buf, sizeof(buf), &n), NX_EOF);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

struct transfer {
  nx_socket_channel_t *channel;
  unsigned char *data;
  size_t size;
  size_t done;
  int rc;
};

/* Blocking reads until `size` bytes arrived (each read returns what is there, at least 1). */
static void *read_everything(void *arg) {
  struct transfer *t = arg;
  size_t n;
  while (t->done < t->size) {
    t->rc = nx_socket_channel_read(t->channel, t->data + t->done, t->size - t->done, &n);
    if (t->rc != 0)
      break;
    t->done += n;
  }
  return NULL;
}

/* One blocking write of everything. */
static void *write_everything(void *arg) {
  struct transfer *t = arg;
  t->rc = nx_socket_channel_write(t->channel, t->data, t->size, &t->done);
  return NULL;
}

TEST_IMPL(tcp_blocking_write_all) {
  enum { SIZE = 4 << 20 };
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  struct transfer w;
  struct transfer r;
  pthread_t writer;
  pthread_t reader;
  size_t i;
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_set_option(client, NX_SO_SNDBUF, 16384));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 1));
  ASSERT_OK(nx_socket_channel_configure_blocking(peer, 1));
  memset(&w, 0, sizeof(w));
  memset(&r, 0, sizeof(r));
  w.channel = client;
  w.size = r.size = SIZE;
  r.channel = peer;
  w.data = malloc(SIZE);
  r.data = malloc(SIZE);
  ASSERT_NOT_NULL(w.data);
  ASSERT_NOT_NULL(r.data);
  for (i = 0; i < SIZE; i++)
    w.data[i] = (unsigned char)(i * 7 + i / 4096);
  /* Blocking calls run on joined threads (see net-helpers.h). */
  ASSERT_OK(pthread_create(&reader, NULL, read_everything, &r));
  ASSERT_OK(pthread_create(&writer, NULL, write_everything, &w));
  ASSERT_OK(pthread_join(writer, NULL));
  ASSERT_OK(pthread_join(reader, NULL));
  ASSERT_OK(w.rc);
  ASSERT_EQ(w.done, SIZE); /* blocking mode writes everything */
  ASSERT_OK(r.rc);
  ASSERT_EQ(r.done, SIZE);
  ASSERT(memcmp(w.data, r.data, SIZE) == 0);
  free(w.data);
  free(r.data);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* A reset by the peer (SO_LINGER 0, then close) is reported by every later read, as Java
 * does, never as an end of stream. */
TEST_IMPL(tcp_reset_is_sticky) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  char buf[8];
  struct iovec iov = {buf, sizeof(buf)};
  size_t n = 0;
  int i;
  t_pair(&client, &peer);
  ASSERT_OK(nx_socket_channel_set_option(peer, NX_SO_LINGER, 0));
  ASSERT_OK(nx_socket_channel_close(peer));
  ASSERT(t_poll(t_socket_fd(client), POLLIN, T_LIMIT_MS) != 0);
  for (i = 0; i < 3; i++)
    ASSERT_EQ(nx_socket_channel_read(client, buf, sizeof(buf), &n), -ECONNRESET);
  ASSERT_EQ(nx_socket_channel_readv(client, &iov, 1, &n), -ECONNRESET);
  /* Blocking mode too. */
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 1));
  ASSERT_EQ(nx_socket_channel_read(client, buf, sizeof(buf), &n), -ECONNRESET);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}

/* is_input_shutdown / is_output_shutdown follow the shutdowns; a closed channel answers
 * NX_ECLOSED. */
TEST_IMPL(tcp_shutdown_state) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  t_pair(&client, &peer);
  ASSERT_EQ(nx_socket_channel_is_input_shutdown(client), 0);
  ASSERT_EQ(nx_socket_channel_is_output_shutdown(client), 0);
  ASSERT_OK(nx_socket_channel_shutdown_output(client));
  ASSERT_EQ(nx_socket_channel_is_input_shutdown(client), 0);
  ASSERT_EQ(nx_socket_channel_is_output_shutdown(client), 1);
  ASSERT_OK(nx_socket_channel_shutdown_input(client));
  ASSERT_EQ(nx_socket_channel_is_input_shutdown(client), 1);
  ASSERT_EQ(nx_socket_channel_is_output_shutdown(peer), 0);
  ASSERT_EQ(nx_socket_channel_is_input_shutdown(NULL), NX_EINVAL);
  ASSERT_OK(nx_socket_channel_close(client));
  ASSERT_EQ(nx_socket_channel_is_input_shutdown(client), NX_ECLOSED);
  ASSERT_EQ(nx_socket_channel_is_output_shutdown(client), NX_ECLOSED);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_EQ(nx_socket_channel_is_output_shutdown(client), NX_EBADHANDLE);
  ASSERT_OK(nx_socket_channel_free(peer));
  return 0;
}
