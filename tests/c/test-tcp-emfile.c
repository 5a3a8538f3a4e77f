/* Accept with a full descriptor table (a child process with a low RLIMIT_NOFILE): accept fails
 * with -EMFILE and the listening key's accept readiness is held back, so a select loop does
 * not spin on the waiting connection; once a descriptor is free, accept works again. The same
 * with an edge-triggered key, which must not lose the pending connections' readiness to the
 * hold-back. */
#include <fcntl.h>
#include <sys/resource.h>

#include "net-helpers.h"

#define WINDOW_MS 300
#define MAX_DUPS 256

/* The soft RLIMIT_NOFILE the kernel enforces (/proc/self/limits), or -1. Under valgrind,
 * setrlimit only changes valgrind's own view, and the kernel would still hand out descriptors. */
static long kernel_nofile_limit(void) {
  char line[256];
  long soft = -1;
  FILE *f = fopen("/proc/self/limits", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "Max open files", 14) == 0)
      soft = strtol(line + 14, NULL, 10);
  }
  fclose(f);
  return soft;
}

/* Whether the child's listening key is edge-triggered. */
static int g_edge;

static int child_accepts_under_emfile(void) {
  nx_selector_t *selector;
  nx_server_socket_channel_t *server;
  nx_socket_channel_t *client;
  nx_socket_channel_t *peer = NULL;
  nx_selection_key_t *key;
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  struct rlimit limit;
  int dups[MAX_DUPS];
  int ndups = 0;
  int selects = 0;
  int refused = 0;
  int rc;
  int64_t end;
  uint64_t waits;

  ASSERT_OK(nx_selector_open(&selector));
  t_listen(AF_INET, &server, &addr, &len);
  ASSERT_OK(nx_server_socket_channel_configure_blocking(server, 0));
  ASSERT_OK(nx_server_socket_channel_register(server, selector, NX_OP_ACCEPT, NULL, NULL, &key));
  if (g_edge)
    ASSERT_OK(nx_selection_key_set_edge_triggered(key, 1));
  ASSERT_OK(nx_socket_channel_open(&client));
  ASSERT_OK(nx_socket_channel_configure_blocking(client, 0));
  rc = nx_socket_channel_connect(client, (struct sockaddr *)&addr, len);
  ASSERT(rc == 0 || rc == -EINPROGRESS);

  /* Fill the descriptor table. */
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &limit));
  limit.rlim_cur = 64;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &limit));
  if (kernel_nofile_limit() != 64) {
    fprintf(stderr, "SKIP: the kernel does not enforce the lowered RLIMIT_NOFILE (valgrind?)\n");
    return TEST_SKIP;
  }
  while (ndups < MAX_DUPS) {
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      ASSERT_EQ(errno, EMFILE);
      break;
    }
    dups[ndups++] = fd;
  }
  ASSERT(ndups < MAX_DUPS);

  ASSERT_EQ(t_select(selector, T_LIMIT_MS), 1);
  ASSERT_EQ(nx_selection_key_is_acceptable(key), 1);
  ASSERT_EQ(nx_server_socket_channel_accept(server, &peer), -EMFILE);
  ASSERT_NULL(peer);

  /* A select loop over the same pending connection for a while: it must not spin. */
  waits = t_counter(selector, NX_COUNTER_WAITS);
  end = t_now_ms() + WINDOW_MS;
  while (t_now_ms() < end) {
    size_t count = t_select(selector, end - t_now_ms());
    selects++;
    if (count == 1 && nx_selection_key_is_acceptable(key) == 1) {
      ASSERT_EQ(nx_server_socket_channel_accept(server, &peer), -EMFILE);
      refused++;
    }
  }
  fprintf(stderr, "%d ms under EMFILE: %d selects, %d refused accepts, %" PRIu64 " waits\n",
          WINDOW_MS, selects, refused, t_counter(selector, NX_COUNTER_WAITS) - waits);
  ASSERT_LE(selects, 20);
  ASSERT_LE(t_counter(selector, NX_COUNTER_WAITS) - waits, 40);

  /* A free descriptor: the connection is accepted at the latest after the hold-back. */
  close(dups[--ndups]);
  end = t_now_ms() + T_LIMIT_MS;
  while (peer == NULL) {
    ASSERT(t_now_ms() < end);
    if (t_select(selector, 200) == 1)
      ASSERT_OK(nx_server_socket_channel_accept(server, &peer));
  }
  while (ndups > 0)
    close(dups[--ndups]);
  ASSERT_OK(nx_socket_channel_free(peer));
  ASSERT_OK(nx_socket_channel_free(client));
  ASSERT_OK(nx_server_socket_channel_free(server));
  ASSERT_OK(nx_selector_free(selector));
  return 0;
}

TEST_IMPL(tcp_accept_emfile_no_spin) {
  g_edge = 0;
  return t_in_child(child_accepts_under_emfile);
}

TEST_IMPL(tcp_accept_emfile_edge_triggered) {
  g_edge = 1;
  return t_in_child(child_accepts_under_emfile);
}
