/* Writes to a reset peer never raise SIGPIPE, gathering writes included: checked in a child
 * process whose SIGPIPE is at its default disposition (which would kill it). */
#include <signal.h>
#include <sys/uio.h>

#include "net-helpers.h"

/* Writes to `channel` until an error; returns it. */
static int write_until_error(nx_socket_channel_t *channel, int vectored) {
  char chunk[1024];
  struct iovec iov[2];
  size_t n;
  int rc = 0;
  int i;
  memset(chunk, 'z', sizeof(chunk));
  iov[0].iov_base = chunk;
  iov[0].iov_len = 512;
  iov[1].iov_base = chunk + 512;
  iov[1].iov_len = 512;
  for (i = 0; i < 10000 && rc == 0; i++) {
    rc = vectored ? nx_socket_channel_writev(channel, iov, 2, &n)
                  : nx_socket_channel_write(channel, chunk, sizeof(chunk), &n);
    if (rc == 0 && n == 0)
      t_poll(t_socket_fd(channel), POLLOUT, 100);
  }
  return rc;
}

static int child_writes_to_reset_peer(void) {
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer;
  nx_socket_channel_t *client2;
  nx_socket_channel_t *peer2;
  sigset_t set;
  int rc;
  signal(SIGPIPE, SIG_DFL);
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigprocmask(SIG_UNBLOCK, &set, NULL);

  /* The peer closes with SO_LINGER 0: a reset. */
  t_pair(&client, &peer);
  t_pair(&client2, &peer2);
  ASSERT_OK(nx_socket_channel_set_option(peer, NX_SO_LINGER, 0));
  ASSERT_OK(nx_socket_channel_set_option(peer2, NX_SO_LINGER, 0));
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(peer2));
  t_poll(t_socket_fd(client), POLLIN, T_LIMIT_MS);
  t_poll(t_socket_fd(client2), POLLIN, T_LIMIT_MS);

  rc = write_until_error(client, 0);
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  rc = write_until_error(client, 0); /* again, after the error was reported */
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  rc = write_until_error(client2, 1); /* gathering writes: sendmsg with MSG_NOSIGNAL */
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  rc = write_until_error(client2, 1);
  ASSERT(rc == -EPIPE || rc == -ECONNRESET);
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_socket_channel_free(client2));
  return 0;
}

TEST_IMPL(tcp_reset_peer_no_sigpipe) {
  ASSERT_OK(t_in_child(child_writes_to_reset_peer));
  return 0;
}
