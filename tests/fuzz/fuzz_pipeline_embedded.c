/* Fuzz target: a channel pipeline on an embedded channel, driven by the input.
 *
 * The pipeline is a C line framer ("framer": cuts the bytes it reads on '\n', a line within
 * one read as a slice of it, one across reads copied out of its own bounded buffer; too long
 * a line is dropped up to its '\n' and reported once as -EMSGSIZE) and a C handler ("actor")
 * that takes each line's first byte as a command: write it back, flush, keep it, pass it on,
 * fail, remove itself or the framer, replace the framer, add or remove pass-through handlers,
 * fire a user event, close the channel, schedule a task, write without a copy, ask whether the
 * channel is writable. The input is a list of operations on
 * the channel: write a chunk of the input inbound or outbound (its length is the input's own
 * next byte), read what reached either end, run tasks, move the virtual clock, write a kept
 * line in again, set the write buffer's water marks, hard cap or auto-read, finish.
 *
 * Checked: no call returns NX_EPANIC or an undocumented code, and the calls that drive the
 * channel return only the errors this pipeline can make (-EPROTO, -EMSGSIZE, NX_ECLOSED, and
 * -ENOBUFS for a write past the hard cap); the actor receives exactly the bytes the framer
 * fired; every handler gets handler_added before any event and nothing after handler_removed,
 * and its attachment is freed exactly once, after handler_removed; every scheduled task's
 * attachment is freed; the memory of every write without a copy is released exactly once; at
 * the end no byte buffer and no handle is left alive. */
#include "fuzz_common.h"

#include <errno.h>

#define MAX_LINE 96 /* the framer's longest line, its delimiter not counted */
#define MAX_KEPT 8  /* lines the actor keeps at once */
#define MAX_EXTRA 4 /* pass-through handlers at once */
#define MAX_OPS 512 /* operations per input */
#define MAX_READS 4096

/* What one input's run shares. */
static struct run {
  nx_channel_t *ch;
  nx_message_t *kept[MAX_KEPT];
  size_t n_kept;
  /* What the framer fires right now, for the actor to compare (NULL: nothing). */
  const uint8_t *firing;
  size_t firing_len;
  int live_attachments; /* handler attachments not yet freed */
  int live_tasks;       /* task attachments not yet freed */
  int live_owned;       /* bytes written without a copy, not yet released */
  int extra_names;      /* the next pass-through handler's number */
} run;

/* A handler's attachment: its life (added, removed) and the framer's line buffer. */
struct handler_state {
  int added, removed;
  int discarding;
  size_t acc_len;
  uint8_t acc[MAX_LINE];
};

static struct handler_state *state_new(void) {
  struct handler_state *s = calloc(1, sizeof(*s));
  FUZZ_CHECK(s != NULL, "out of memory");
  run.live_attachments++;
  return s;
}

static void state_free(void *p) {
  struct handler_state *s = p;
  FUZZ_CHECK(s->added && s->removed, "attachment freed before handler_removed (added %d)",
             s->added);
  run.live_attachments--;
  free(s);
}

static int on_added(nx_context_t *ctx, void *att) {
  struct handler_state *s = att;
  (void)ctx;
  FUZZ_CHECK(!s->added && !s->removed, "handler_added twice or after handler_removed");
  s->added = 1;
  return 0;
}

static int on_removed(nx_context_t *ctx, void *att) {
  struct handler_state *s = att;
  (void)ctx;
  FUZZ_CHECK(s->added && !s->removed, "handler_removed without handler_added, or twice");
  s->removed = 1;
  return 0;
}

static void check_live(const struct handler_state *s, const char *event) {
  FUZZ_CHECK(s->added && !s->removed, "%s outside handler_added..handler_removed", event);
}

static int pass_exception(nx_context_t *ctx, int error, void *att) {
  check_live(att, "exception_caught");
  FUZZ_CHECK(error < 0, "exception_caught with %d", error);
  FUZZ_CALL(nx_context_fire_exception_caught(ctx, error));
  return 0;
}

/* Fires one line (a message over `data`, `len` bytes) on from the framer. */
static void fire_line(nx_context_t *ctx, nx_message_t *line, const uint8_t *data, size_t len) {
  run.firing = data;
  run.firing_len = len;
  FUZZ_CALL(nx_context_fire_channel_read(ctx, line));
  run.firing = NULL;
  FUZZ_OK(nx_message_release(line));
}

static int framer_read(nx_context_t *ctx, nx_message_t *msg, void *att) {
  struct handler_state *s = att;
  const uint8_t *data;
  size_t len, start = 0;
  int too_long = 0;
  check_live(s, "channel_read");
  if (FUZZ_CALL(nx_message_type(msg)) != NX_MESSAGE_BUFFER) {
    FUZZ_CALL(nx_context_fire_channel_read(ctx, msg));
    return 0;
  }
  FUZZ_OK(nx_message_bytes(msg, &data, &len));
  while (start < len) {
    const uint8_t *nl = memchr(data + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - data) : len, n = end - start;
    nx_message_t *line;
    if (s->discarding) {
      if (nl)
        s->discarding = 0;
    } else if (s->acc_len + n > MAX_LINE) {
      /* Too long: dropped up to its '\n', reported once. */
      s->acc_len = 0;
      s->discarding = nl == NULL;
      too_long = 1;
    } else if (nl && s->acc_len == 0) {
      FUZZ_OK(nx_message_slice(msg, start, n, &line));
      fire_line(ctx, line, data + start, n);
    } else {
      memcpy(s->acc + s->acc_len, data + start, n);
      s->acc_len += n;
      if (nl) {
        uint8_t copy[MAX_LINE];
        size_t copy_len = s->acc_len;
        memcpy(copy, s->acc, copy_len);
        s->acc_len = 0;
        FUZZ_OK(nx_message_new_bytes(copy, copy_len, &line));
        fire_line(ctx, line, copy, copy_len);
      }
    }
    start = nl ? end + 1 : len;
  }
  return too_long ? -EMSGSIZE : 0;
}

static const nx_channel_handler_t framer = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = on_added,
    .handler_removed = on_removed,
    .channel_read = framer_read,
    .exception_caught = pass_exception,
};

/* A pass-through handler: takes reads and writes and passes them on. */
static int extra_read(nx_context_t *ctx, nx_message_t *msg, void *att) {
  check_live(att, "channel_read");
  FUZZ_CALL(nx_context_fire_channel_read(ctx, msg));
  return 0;
}

static int extra_write(nx_context_t *ctx, nx_message_t *msg, nx_promise_t *promise, void *att) {
  check_live(att, "write");
  return FUZZ_CALL(nx_context_write(ctx, msg, promise)) < 0 ? NX_ECLOSED : 0;
}

static int extra_writability(nx_context_t *ctx, void *att) {
  check_live(att, "channel_writability_changed");
  FUZZ_CALL(nx_context_fire_channel_writability_changed(ctx));
  return 0;
}

static const nx_channel_handler_t extra = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = on_added,
    .handler_removed = on_removed,
    .channel_read = extra_read,
    .channel_writability_changed = extra_writability,
    .write = extra_write,
    .exception_caught = pass_exception,
};

static void task_run(nx_channel_t *ch, void *att) {
  (void)att;
  FUZZ_CALL(nx_channel_write_bytes(ch, "task", 4, NULL));
  FUZZ_CALL(nx_channel_flush(ch));
}

static void task_free(void *att) {
  run.live_tasks--;
  free(att);
}

/* The release of a write without a copy: exactly once per write. */
static void owned_release(void *data) {
  FUZZ_CHECK(run.live_owned > 0, "a write's memory released more often than written");
  run.live_owned--;
  free(data);
}

static void add_extra(nx_channel_t *ch, int position, const char *base) {
  char name[16];
  snprintf(name, sizeof(name), "extra%d", run.extra_names++ % MAX_EXTRA);
  struct handler_state *s = state_new();
  if (FUZZ_CALL(nx_pipeline_add(ch, position, base, name, &extra, s, state_free, NULL)) < 0) {
    /* Not added (the name is taken, or no such base): nioxide kept and freed nothing. */
    run.live_attachments--;
    free(s);
  }
}

static int actor_read(nx_context_t *ctx, nx_message_t *msg, void *att) {
  const uint8_t *data;
  size_t len;
  nx_message_t *m;
  char name[16];
  check_live(att, "channel_read");
  if (FUZZ_CALL(nx_message_type(msg)) != NX_MESSAGE_BUFFER)
    return 0; /* a kept user message written in again: dropped */
  FUZZ_OK(nx_message_bytes(msg, &data, &len));
  if (run.firing != NULL) {
    FUZZ_CHECK(len == run.firing_len && memcmp(data, run.firing, len) == 0,
               "the actor got %zu bytes, the framer fired %zu other ones", len, run.firing_len);
    run.firing = NULL;
  }
  uint8_t arg = len > 1 ? data[1] : 0;
  switch (len ? data[0] : 0) {
  case 'w':
    FUZZ_CALL(nx_context_write(ctx, msg, NULL));
    break;
  case 'W':
    FUZZ_CALL(nx_context_write_and_flush(ctx, msg, NULL));
    break;
  case 'o':
    FUZZ_CALL(nx_context_write_bytes(ctx, data + 1, len - 1, NULL));
    break;
  case 'O': { /* the line's rest written without a copy: released exactly once */
    uint8_t *copy = malloc(len > 1 ? len - 1 : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    if (len > 1)
      memcpy(copy, data + 1, len - 1);
    run.live_owned++;
    if (FUZZ_CALL(nx_context_write_owned(ctx, copy, len > 1 ? len - 1 : 0, owned_release,
                                         NULL)) < 0) {
      /* refused: nioxide kept nothing and will call nothing */
      run.live_owned--;
      free(copy);
    }
    break;
  }
  case 'f':
    FUZZ_CALL(nx_context_flush(ctx));
    break;
  case 'v': {
    int writable = FUZZ_CALL(nx_channel_is_writable(run.ch));
    FUZZ_CHECK(writable == 0 || writable == 1 || writable == NX_ECLOSED || writable == NX_EINVAL,
               "nx_channel_is_writable returned %d", writable);
    break;
  }
  case 'k':
    if (run.n_kept < MAX_KEPT) {
      FUZZ_OK(nx_message_retain(msg, &m));
      run.kept[run.n_kept++] = m;
    }
    break;
  case 'p':
    FUZZ_CALL(nx_context_fire_channel_read(ctx, msg));
    break;
  case 'e':
    return -EPROTO;
  case 'x':
    FUZZ_CALL(nx_context_remove(ctx));
    break;
  case 'X':
    FUZZ_CALL(nx_pipeline_remove(run.ch, "framer"));
    break;
  case 'R': {
    struct handler_state *s = state_new();
    if (FUZZ_CALL(nx_pipeline_replace(run.ch, "framer", "framer", &framer, s, state_free,
                                      NULL)) < 0) {
      run.live_attachments--;
      free(s);
    }
    break;
  }
  case 'a':
    add_extra(run.ch, arg & 1 ? NX_PIPELINE_FIRST : NX_PIPELINE_LAST, NULL);
    break;
  case 'b':
    add_extra(run.ch, arg & 1 ? NX_PIPELINE_BEFORE : NX_PIPELINE_AFTER,
              arg & 2 ? "actor" : "framer");
    break;
  case 'd':
    snprintf(name, sizeof(name), "extra%d", arg % MAX_EXTRA);
    FUZZ_CALL(nx_pipeline_remove(run.ch, name));
    break;
  case 'u':
    FUZZ_OK(nx_message_new_user(arg, NULL, NULL, &m));
    FUZZ_CALL(nx_context_fire_user_event(ctx, m));
    if (run.n_kept < MAX_KEPT && (arg & 1))
      run.kept[run.n_kept++] = m;
    else
      FUZZ_OK(nx_message_release(m));
    break;
  case 'c':
    FUZZ_CALL(nx_context_close(ctx, NULL));
    break;
  case 's': {
    void *task_att = malloc(1);
    FUZZ_CHECK(task_att != NULL, "out of memory");
    run.live_tasks++;
    if (FUZZ_CALL(nx_channel_schedule(run.ch, arg, task_run, task_att, task_free, NULL)) < 0) {
      run.live_tasks--;
      free(task_att);
    }
    break;
  }
  default:
    break; /* dropped: released when this returns */
  }
  return 0;
}

static int actor_complete(nx_context_t *ctx, void *att) {
  check_live(att, "channel_read_complete");
  FUZZ_CALL(nx_context_flush(ctx));
  return 0;
}

static const nx_channel_handler_t actor = {
    .size = sizeof(nx_channel_handler_t),
    .handler_added = on_added,
    .handler_removed = on_removed,
    .channel_read = actor_read,
    .channel_read_complete = actor_complete,
    .exception_caught = pass_exception,
};

static int init(nx_channel_t *ch, void *unused) {
  (void)unused;
  struct handler_state *f = state_new(), *a = state_new();
  FUZZ_OK(nx_pipeline_add_last(ch, "framer", &framer, f, state_free, NULL));
  FUZZ_OK(nx_pipeline_add_last(ch, "actor", &actor, a, state_free, NULL));
  return 0;
}

/* A call that drives the channel: its code is 0 or 1, or an error this pipeline can make (a
 * write past the hard cap fails with -ENOBUFS, which fires the exception event). */
static void check_drive(int rc, const char *call) {
  fuzz_rc(rc, call);
  FUZZ_CHECK(rc >= 0 || rc == -EPROTO || rc == -EMSGSIZE || rc == NX_ECLOSED || rc == -ENOBUFS,
             "%s returned %s", call, nx_err_name(rc));
}

/* Reads and releases every message waiting at one end, checking that each is readable. */
static void drain(int outbound) {
  nx_message_t *m;
  for (int i = 0; i < MAX_READS; i++) {
    int rc = outbound ? FUZZ_CALL(nx_embedded_channel_read_outbound(run.ch, &m))
                      : FUZZ_CALL(nx_embedded_channel_read_inbound(run.ch, &m));
    FUZZ_CHECK(rc == 0 || rc == 1, "reading a message returned %s", nx_err_name(rc));
    if (rc == 0)
      return;
    int type = FUZZ_CALL(nx_message_type(m));
    if (type == NX_MESSAGE_BUFFER) {
      const uint8_t *data;
      size_t len;
      FUZZ_OK(nx_message_bytes(m, &data, &len));
      if (len)
        FUZZ_CHECK(data != NULL, "a buffer of %zu bytes at NULL", len);
    } else {
      FUZZ_CHECK(type == NX_MESSAGE_USER, "a message of type %d at the %s end", type,
                 outbound ? "head" : "tail");
    }
    FUZZ_OK(nx_message_release(m));
  }
  FUZZ_CHECK(0, "more than %d messages waiting", MAX_READS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_input in = {data, size, 0};
  struct fuzz_leaks leaks = fuzz_leaks_start();
  const uint8_t *chunk;
  size_t len;
  nx_message_t *m;
  memset(&run, 0, sizeof(run));
  FUZZ_OK(nx_embedded_channel_new(init, NULL, &run.ch));
  for (int op = 0; op < MAX_OPS && !fuzz_done(&in); op++) {
    uint8_t code = fuzz_byte(&in);
    switch (code % 16) {
    case 0: case 1: case 2: case 3: case 4: /* the common case: bytes in */
      chunk = fuzz_chunk(&in, 2 * MAX_LINE, &len);
      FUZZ_OK(nx_message_new_bytes(chunk, len, &m));
      check_drive(nx_embedded_channel_write_inbound(run.ch, m), "write_inbound");
      FUZZ_OK(nx_message_release(m));
      break;
    case 5:
      chunk = fuzz_chunk(&in, MAX_LINE, &len);
      FUZZ_OK(nx_message_new_bytes(chunk, len, &m));
      check_drive(nx_embedded_channel_write_outbound(run.ch, m), "write_outbound");
      FUZZ_OK(nx_message_release(m));
      break;
    case 6: case 7:
      drain(0);
      break;
    case 8:
      drain(1);
      break;
    case 9:
      check_drive(nx_embedded_channel_run_pending_tasks(run.ch), "run_pending_tasks");
      break;
    case 10:
      check_drive(nx_embedded_channel_advance_time(run.ch, fuzz_byte(&in)), "advance_time");
      break;
    case 11: /* a kept message goes in again, then is let go */
      if (run.n_kept > 0) {
        m = run.kept[--run.n_kept];
        check_drive(nx_embedded_channel_write_inbound(run.ch, m), "write_inbound (kept)");
        FUZZ_OK(nx_message_release(m));
      }
      break;
    case 12:
      check_drive(nx_embedded_channel_check_exception(run.ch), "check_exception");
      break;
    case 13:
      if (code & 0x80)
        check_drive(nx_embedded_channel_finish(run.ch), "finish");
      break;
    case 14: { /* the write buffer's water marks and hard cap, in small numbers of bytes */
      static const int options[] = {NX_OPTION_WRITE_BUFFER_LOW_WATER_MARK,
                                    NX_OPTION_WRITE_BUFFER_HIGH_WATER_MARK,
                                    NX_OPTION_WRITE_BUFFER_HARD_CAP, NX_OPTION_AUTO_READ};
      int option = options[(code >> 4) % 4];
      int64_t value = (int64_t)fuzz_byte(&in) * 8, got;
      int rc = FUZZ_CALL(nx_channel_set_option(run.ch, option, value));
      FUZZ_CHECK(rc >= 0 || rc == NX_EINVAL || rc == NX_ECLOSED,
                 "setting option %d to %lld returned %s", option, (long long)value,
                 nx_err_name(rc));
      rc = FUZZ_CALL(nx_channel_option(run.ch, option, &got));
      FUZZ_CHECK(rc < 0 || got >= 0, "option %d reads %lld", option, (long long)got);
      break;
    }
    default:
      break;
    }
  }
  /* Freeing closes the channel, runs what is pending and releases what was left. */
  FUZZ_OK(nx_channel_free(run.ch));
  while (run.n_kept > 0)
    FUZZ_OK(nx_message_release(run.kept[--run.n_kept]));
  FUZZ_CHECK(run.live_attachments == 0, "%d handler attachments not freed",
             run.live_attachments);
  FUZZ_CHECK(run.live_tasks == 0, "%d task attachments not freed", run.live_tasks);
  FUZZ_CHECK(run.live_owned == 0, "%d writes without a copy never released", run.live_owned);
  fuzz_leaks_check(leaks);
  return 0;
}
