/*
 * test-aio-file.c: AIO file channels: positional reads and writes (also past the end),
 * size, truncate, force, locks between two channels and two processes, close with
 * operations pending, a read-only file.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <fcntl.h>
#include <signal.h>

#include "aio-helpers.h"

/* A fresh path in the temporary directory. */
static void temp_path(char *path, size_t size) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, size, "%s/nx-aio-file-%d-%lld", dir ? dir : "/tmp", (int)getpid(),
           (long long)t_now_ms());
}

TEST_IMPL(aio_file_read_write) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *file = NULL;
  char path[256];
  char in[16];
  t_op op = {0};
  nx_promise_t *future = NULL;
  int64_t size = -1;

  temp_path(path, sizeof(path));
  ASSERT_EQ(nx_aio_file_open(group, path, 0, &file), NX_EINVAL);
  ASSERT_EQ(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_CREATE, &file), NX_EINVAL);
  ASSERT_EQ(nx_aio_file_open(group, path, NX_FILE_READ, &file), -ENOENT);
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_WRITE | NX_FILE_CREATE_NEW,
                             &file));
  /* Past the end: the gap reads as zeros. */
  ASSERT_OK(nx_aio_file_write(file, "tail", 4, 10, &op, &t_handler));
  ASSERT_EQ(t_op_result(&op), 4);
  ASSERT_OK(nx_aio_file_size(file, &size));
  ASSERT_EQ(size, 14);
  memset(&op, 0, sizeof(op));
  memset(in, 'x', sizeof(in));
  ASSERT_OK(nx_aio_file_read(file, in, sizeof(in), 0, &op, &t_handler));
  ASSERT_EQ(t_op_result(&op), 14);
  ASSERT_EQ(in[0], 0);
  ASSERT_EQ(in[9], 0);
  ASSERT(memcmp(in + 10, "tail", 4) == 0);
  /* At and past the end: NX_EOF. */
  ASSERT_OK(nx_aio_file_read_future(file, in, sizeof(in), 14, &future));
  ASSERT_EQ(t_future_result(future), NX_EOF);
  ASSERT_OK(nx_promise_free(future));
  ASSERT_OK(nx_aio_file_read_future(file, in, sizeof(in), 1000, &future));
  ASSERT_EQ(t_future_result(future), NX_EOF);
  ASSERT_OK(nx_promise_free(future));
  ASSERT_OK(nx_aio_file_write_future(file, "head", 4, 0, &future));
  ASSERT_EQ(t_future_result(future), 4);
  ASSERT_OK(nx_promise_free(future));
  /* Negative positions are refused, calling nothing. */
  memset(&op, 0, sizeof(op));
  ASSERT_EQ(nx_aio_file_read(file, in, sizeof(in), -1, &op, &t_handler), NX_EINVAL);
  ASSERT_EQ(nx_aio_file_write(file, in, 1, -5, &op, &t_handler), NX_EINVAL);
  ASSERT_EQ(nx_aio_file_truncate(file, -1), NX_EINVAL);
  /* Truncate shrinks only; force syncs. */
  ASSERT_OK(nx_aio_file_truncate(file, 100));
  ASSERT_OK(nx_aio_file_size(file, &size));
  ASSERT_EQ(size, 14);
  ASSERT_OK(nx_aio_file_truncate(file, 6));
  ASSERT_OK(nx_aio_file_size(file, &size));
  ASSERT_EQ(size, 6);
  ASSERT_OK(nx_aio_file_force(file, 0));
  ASSERT_OK(nx_aio_file_force(file, 1));
  t_sleep_ms(10);
  ASSERT_EQ(t_op_reports(&op), 0);
  ASSERT_OK(nx_aio_file_close(file));
  ASSERT_EQ(nx_aio_file_size(file, &size), NX_ECLOSED);
  ASSERT_OK(nx_aio_file_free(file));
  ASSERT_EQ(nx_aio_file_open(group, path, NX_FILE_WRITE | NX_FILE_CREATE_NEW, &file), -EEXIST);
  unlink(path);
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_file_locks_between_channels) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *one = NULL, *two = NULL;
  char path[256];
  t_op waiting = {0}, closed = {0};

  temp_path(path, sizeof(path));
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_WRITE | NX_FILE_CREATE, &one));
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_WRITE, &two));
  ASSERT_EQ(nx_aio_file_try_lock(one, 0, 0, 0), 1);
  ASSERT_EQ(nx_aio_file_try_lock(two, 0, 10, 1), 0);
  /* Another process sees the lock too. The child answers through a pipe and ends with
   * SIGKILL: nothing of the parent's threads and memory is to be checked or freed there. */
  {
    int fds[2];
    char answer = 0;
    pid_t child;
    ASSERT_OK(pipe(fds));
    child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      struct flock probe;
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      memset(&probe, 0, sizeof(probe));
      probe.l_type = F_RDLCK;
      probe.l_whence = SEEK_SET;
      answer = fd >= 0 && fcntl(fd, F_OFD_SETLK, &probe) == -1 && errno == EAGAIN ? 'y' : 'n';
      if (write(fds[1], &answer, 1) != 1)
        answer = 0;
      raise(SIGKILL);
    }
    close(fds[1]);
    ASSERT_EQ(read(fds[0], &answer, 1), 1);
    close(fds[0]);
    ASSERT_EQ(waitpid(child, NULL, 0), child);
    ASSERT_EQ(answer, 'y');
  }
  ASSERT_EQ(nx_aio_file_try_lock(one, -1, 0, 0), NX_EINVAL);
  /* A waiting lock completes once the other channel lets go. */
  ASSERT_OK(nx_aio_file_lock(two, 0, 10, 0, &waiting, &t_handler));
  t_sleep_ms(30);
  ASSERT_EQ(t_op_reports(&waiting), 0);
  ASSERT_EQ(nx_aio_file_unlock(one, 5, 5), NX_EINVAL);
  ASSERT_OK(nx_aio_file_unlock(one, 0, 0));
  ASSERT_EQ(t_op_result(&waiting), 0);
  ASSERT_EQ(nx_aio_file_try_lock(one, 0, 1, 1), 0);
  /* Close with a lock waiting: it fails once with NX_EASYNCCLOSE. */
  ASSERT_OK(nx_aio_file_lock(one, 0, 10, 0, &closed, &t_handler));
  t_sleep_ms(20);
  ASSERT_EQ(t_op_reports(&closed), 0);
  ASSERT_OK(nx_aio_file_close(one));
  ASSERT_EQ(t_op_error(&closed), NX_EASYNCCLOSE);
  t_sleep_ms(20);
  ASSERT_EQ(t_op_reports(&closed), 1);
  ASSERT_OK(nx_aio_file_unlock(two, 0, 10));
  ASSERT_OK(nx_aio_file_free(one));

  /* Futures: one that is cancelled lets go of the lock it gets later; one that completes
   * holds it until nx_aio_file_unlock. */
  {
    nx_aio_file_t *three = NULL;
    nx_promise_t *cancelled = NULL, *held = NULL;
    int64_t deadline = t_now_ms() + T_LIMIT_MS;
    int got = 0;
    ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_WRITE, &three));
    ASSERT_EQ(nx_aio_file_try_lock(two, 0, 0, 0), 1);
    ASSERT_OK(nx_aio_file_lock_future(three, 0, 0, 0, &cancelled));
    ASSERT_EQ(nx_aio_file_lock_future(three, -1, 0, 0, &held), NX_EINVAL);
    ASSERT_EQ(nx_promise_cancel(cancelled), 1);
    ASSERT_EQ(t_future_result(cancelled), NX_ECANCELLED);
    ASSERT_OK(nx_aio_file_unlock(two, 0, 0));
    /* The cancelled wait goes on until it gets the lock, then lets go of it; until then the
     * channel refuses an overlapping lock, as Java does for a pending one. */
    while (t_now_ms() < deadline) {
      got = nx_aio_file_try_lock(three, 0, 0, 1);
      if (got != NX_EOVERLAPPINGLOCK)
        break;
      t_sleep_ms(5);
    }
    ASSERT_EQ(got, 1);
    ASSERT_OK(nx_aio_file_unlock(three, 0, 0));
    ASSERT_EQ(nx_aio_file_try_lock(two, 0, 0, 0), 1);
    ASSERT_OK(nx_aio_file_lock_future(three, 0, 0, 1, &held));
    t_sleep_ms(20);
    ASSERT_EQ(nx_promise_is_done(held), 0);
    ASSERT_OK(nx_aio_file_unlock(two, 0, 0));
    ASSERT_EQ(t_future_result(held), 0);
    ASSERT_EQ(nx_aio_file_try_lock(two, 0, 0, 0), 0);
    ASSERT_OK(nx_aio_file_unlock(three, 0, 0));
    ASSERT_EQ(nx_aio_file_try_lock(two, 0, 0, 0), 1);
    ASSERT_OK(nx_promise_free(cancelled));
    ASSERT_OK(nx_promise_free(held));
    ASSERT_OK(nx_aio_file_free(three));
  }
  ASSERT_OK(nx_aio_file_free(two));
  unlink(path);
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_file_threads) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *file = NULL;
  char path[256];

  temp_path(path, sizeof(path));
  ASSERT_EQ(nx_aio_group_set_file_threads(group, 0), NX_EINVAL);
  ASSERT_OK(nx_aio_group_set_file_threads(group, 3));
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_WRITE | NX_FILE_CREATE_NEW, &file));
  /* The pool has started: its size is fixed now. */
  ASSERT_EQ(nx_aio_group_set_file_threads(group, 1), NX_EINVAL);
  ASSERT_OK(nx_aio_file_free(file));
  unlink(path);
  t_aio_group_free(group);
  return 0;
}

TEST_IMPL(aio_file_read_only_error) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *file = NULL;
  char path[256];
  t_op op = {0};
  int fd;

  temp_path(path, sizeof(path));
  fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "data", 4), 4);
  close(fd);
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ, &file));
  ASSERT_OK(nx_aio_file_write(file, "x", 1, 0, &op, &t_handler));
  ASSERT_EQ(t_op_error(&op), -EBADF);
  ASSERT_OK(nx_aio_file_free(file));
  unlink(path);
  t_aio_group_free(group);
  return 0;
}

/* A full disk reports the OS error (`/dev/full` takes no byte: ENOSPC). */
TEST_IMPL(aio_file_full_disk_error) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *file = NULL;
  t_op op = {0};

  ASSERT_OK(nx_aio_file_open(group, "/dev/full", NX_FILE_WRITE, &file));
  ASSERT_OK(nx_aio_file_write(file, "0123456789abcdef", 16, 0, &op, &t_handler));
  ASSERT_EQ(t_op_error(&op), -ENOSPC);
  ASSERT_OK(nx_aio_file_free(file));
  t_aio_group_free(group);
  return 0;
}

/* Locks on one channel whose regions overlap are refused at the call, as Java does
 * (OverlappingFileLockException); the kernel would merge them. */
TEST_IMPL(aio_file_overlapping_locks) {
  nx_aio_group_t *group = t_aio_group();
  nx_aio_file_t *file = NULL;
  nx_promise_t *future = NULL;
  char path[256];
  t_op op = {0};

  temp_path(path, sizeof(path));
  ASSERT_OK(nx_aio_file_open(group, path, NX_FILE_READ | NX_FILE_WRITE | NX_FILE_CREATE, &file));
  ASSERT_EQ(nx_aio_file_try_lock(file, 10, 10, 1), 1);
  ASSERT_EQ(nx_aio_file_try_lock(file, 15, 1, 1), NX_EOVERLAPPINGLOCK);
  ASSERT_EQ(nx_aio_file_try_lock(file, 0, 0, 0), NX_EOVERLAPPINGLOCK);
  ASSERT_EQ(nx_aio_file_lock(file, 19, 5, 0, &op, &t_handler), NX_EOVERLAPPINGLOCK);
  ASSERT_EQ(nx_aio_file_lock_future(file, 5, 6, 0, &future), NX_EOVERLAPPINGLOCK);
  ASSERT_NULL(future);
  /* Adjacent regions are free; an unlock gives the region back. */
  ASSERT_EQ(nx_aio_file_try_lock(file, 20, 5, 0), 1);
  ASSERT_OK(nx_aio_file_unlock(file, 10, 10));
  ASSERT_OK(nx_aio_file_lock(file, 12, 2, 0, &op, &t_handler));
  ASSERT_EQ(t_op_result(&op), 0);
  t_sleep_ms(10);
  ASSERT_EQ(t_op_reports(&op), 1);
  ASSERT_OK(nx_aio_file_unlock(file, 12, 2));
  ASSERT_OK(nx_aio_file_unlock(file, 20, 5));
  ASSERT_EQ(nx_aio_file_try_lock(file, 0, 0, 0), 1);
  ASSERT_OK(nx_aio_file_free(file));
  unlink(path);
  t_aio_group_free(group);
  return 0;
}
