/*
 * N-API glue for tftp_pump.c. start() opens the transfer's socket (its port is the server's
 * TID, so the OACK or DATA 1 already comes from it) and starts the transfer's thread; the
 * thread reports once, through a thread-safe function; cancel() stops it early. The thread is
 * joined on the JS thread when its report arrives (or at environment teardown), so none
 * outlives the report that ../native-transfer.ts waits for.
 *
 * One thread per transfer rather than one epoll thread for all: lock-step TFTP is a ping-pong
 * of wake-ups, and a thread blocked in recvfrom on its own socket is woken by the kernel with
 * the ACK in hand: two system calls per block (recvfrom, sendmsg), where a shared event loop
 * adds epoll_wait and puts other transfers' work in front of each ACK. Threads are bounded by
 * the server's maxTransfers (default 1000) and have small stacks (PUMP_STACK_BYTES), and
 * transfers of different clients run on different cores.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <node_api.h>

#include "tftp_pump.h"

/* The loop needs ~2 KiB of stack; 128 KiB leaves room for libc and signal-free margins. */
#define PUMP_STACK_BYTES (128 * 1024)
/* In ps -L, top -H and /proc/PID/task/TID/comm (tests count them to see none outlives close()). */
#define PUMP_THREAD_NAME "anvil-tftp-pump"

typedef struct {
  tftp_pump pump;
  pthread_t thread;
  bool joined;               /* the thread has been joined and the socket closed */
  napi_threadsafe_function report;
  napi_ref source_ref;       /* the Buffer being served, kept from the GC until the thread is joined */
  napi_ref stats_ref;
  uint8_t *first;            /* our copy of the OACK */
  int holders;               /* the JS handle and the thread-safe function each hold one */
} pump_handle;

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), "TFTP_NATIVE_ARGUMENT", #call); \
      return NULL;                                         \
    }                                                      \
  } while (0)

static void release(pump_handle *h) {
  if (--h->holders > 0) return;
  pump_destroy(&h->pump);
  free(h->first);
  free(h);
}

static void teardown_hook(void *arg);

/* Joins the (finished or cancelled) thread, then frees what only it used. JS thread only. */
static void join(napi_env env, pump_handle *h) {
  if (h->joined) return;
  pthread_join(h->thread, NULL);
  h->joined = true;
  close(h->pump.fd);
  napi_remove_env_cleanup_hook(env, teardown_hook, h);
  if (h->source_ref != NULL) napi_delete_reference(env, h->source_ref);
  if (h->stats_ref != NULL) napi_delete_reference(env, h->stats_ref);
  h->source_ref = h->stats_ref = NULL;
}

/* Environment teardown (process exit, a worker ending) with the transfer still running. */
static void teardown_hook(void *arg) {
  pump_handle *h = arg;
  pump_cancel(&h->pump, true, "server shutting down");
  pthread_join(h->thread, NULL);
  h->joined = true;
  close(h->pump.fd);
}

static void *pump_main(void *arg) {
  pump_handle *h = arg;
  pthread_setname_np(pthread_self(), PUMP_THREAD_NAME);
  pump_run(&h->pump);
  napi_threadsafe_function report = h->report;
  /* h belongs to the JS thread from here on: it may be joined and freed once this is queued. */
  napi_call_threadsafe_function(report, h, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(report, napi_tsfn_release);
  return NULL;
}

/* On the JS thread: onDone(outcome, clientCode, clientMessage, errorText). */
static void deliver(napi_env env, napi_value on_done, void *context, void *data) {
  (void)context;
  pump_handle *h = data;
  if (env == NULL) return; /* torn down: the teardown hook joins */
  join(env, h);
  const tftp_pump *p = &h->pump;
  napi_value args[4], undefined;
  napi_create_int32(env, (int32_t)p->outcome, &args[0]);
  napi_create_int32(env, p->client_code, &args[1]);
  napi_create_string_latin1(env, p->message, p->message_len, &args[2]);
  const char *why = p->error_number != 0 ? strerror(p->error_number) : "";
  napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &args[3]);
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, on_done, 4, args, NULL);
}

static void report_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  pump_handle *h = data;
  if (!h->joined) {
    teardown_hook(h);
    napi_remove_env_cleanup_hook(env, teardown_hook, h);
  }
  release(h);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
}

static bool get_property(napi_env env, napi_value object, const char *name, napi_valuetype want, napi_value *out) {
  napi_valuetype type;
  if (napi_get_named_property(env, object, name, out) != napi_ok || napi_typeof(env, *out, &type) != napi_ok) return false;
  return type == want;
}

static bool get_uint32(napi_env env, napi_value object, const char *name, uint32_t *out) {
  napi_value value;
  return get_property(env, object, name, napi_number, &value) && napi_get_value_uint32(env, value, out) == napi_ok;
}

static bool get_address(napi_env env, napi_value object, const char *name, int port, struct sockaddr_storage *out, socklen_t *len) {
  napi_value value;
  char text[128];
  size_t copied;
  if (!get_property(env, object, name, napi_string, &value)) return false;
  if (napi_get_value_string_utf8(env, value, text, sizeof text, &copied) != napi_ok || copied >= sizeof text - 1) return false;
  return pump_parse_address(text, port, out, len);
}

static napi_value fail(napi_env env, pump_handle *h, const char *code, const char *message) {
  if (h->pump.fd >= 0) close(h->pump.fd);
  pump_destroy(&h->pump);
  free(h->first);
  free(h);
  napi_throw_error(env, code, message);
  return NULL;
}

/*
 * start({ clientAddress, clientPort, localAddress, firstPacket?, content? | fd?, blockSize,
 *         windowSize, timeoutMs, maxRetries, busyPollMicroseconds, socketBufferBytes,
 *         stats: Float64Array, onDone })
 * returns a handle for cancel(). Throws, having sent nothing, if the socket or thread cannot be had.
 */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value options, value, on_done, stats, content = NULL;
  CHECK(env, napi_get_cb_info(env, info, &argc, &options, NULL, NULL));
  pump_handle *h = calloc(1, sizeof *h);
  if (h == NULL) {
    napi_throw_error(env, "TFTP_NATIVE_RESOURCES", "out of memory");
    return NULL;
  }
  tftp_pump *p = &h->pump;
  p->fd = -1;
  p->file_fd = -1;
  uint32_t client_port, buffer_bytes;
  struct sockaddr_storage local;
  socklen_t local_len;
  bool ok = get_uint32(env, options, "clientPort", &client_port) &&
            get_address(env, options, "clientAddress", (int)client_port, &p->peer, &p->peer_len) &&
            get_address(env, options, "localAddress", 0, &local, &local_len) && local.ss_family == p->peer.ss_family &&
            get_uint32(env, options, "blockSize", &p->block_size) && p->block_size > 0 &&
            get_uint32(env, options, "windowSize", &p->window_size) && p->window_size > 0 &&
            get_uint32(env, options, "timeoutMs", &p->timeout_ms) && p->timeout_ms > 0 &&
            get_uint32(env, options, "maxRetries", &p->max_retries) &&
            get_uint32(env, options, "busyPollMicroseconds", &p->busy_poll_us) &&
            get_uint32(env, options, "socketBufferBytes", &buffer_bytes) &&
            get_property(env, options, "onDone", napi_function, &on_done) &&
            get_property(env, options, "stats", napi_object, &stats);
  if (!ok) return fail(env, h, "TFTP_NATIVE_ARGUMENT", "start(): bad or missing option");

  napi_typedarray_type stats_type;
  size_t stats_length;
  void *stats_data;
  if (napi_get_typedarray_info(env, stats, &stats_type, &stats_length, &stats_data, NULL, NULL) != napi_ok ||
      stats_type != napi_float64_array || stats_length < STAT_COUNT) {
    return fail(env, h, "TFTP_NATIVE_ARGUMENT", "start(): stats must be a Float64Array of STAT_COUNT slots");
  }
  p->stats = stats_data;

  bool is_buffer = false;
  if (get_property(env, options, "firstPacket", napi_object, &value) && napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer) {
    void *data;
    size_t len;
    napi_get_buffer_info(env, value, &data, &len);
    h->first = malloc(len > 0 ? len : 1);
    if (h->first == NULL) return fail(env, h, "TFTP_NATIVE_RESOURCES", "out of memory");
    memcpy(h->first, data, len);
    p->first = h->first;
    p->first_len = len;
  }
  if (get_property(env, options, "content", napi_object, &content) && napi_is_buffer(env, content, &is_buffer) == napi_ok && is_buffer) {
    void *data;
    napi_get_buffer_info(env, content, &data, &p->content_len);
    p->content = data;
  } else {
    content = NULL;
    int32_t fd;
    if (!get_property(env, options, "fd", napi_number, &value) || napi_get_value_int32(env, value, &fd) != napi_ok || fd < 0) {
      return fail(env, h, "TFTP_NATIVE_ARGUMENT", "start(): needs content (a Buffer) or fd");
    }
    p->file_fd = fd;
  }
  if (!pump_init(p)) return fail(env, h, "TFTP_NATIVE_RESOURCES", "out of memory");
  p->fd = pump_open_socket(&local, local_len, (int)buffer_bytes);
  if (p->fd < 0) return fail(env, h, "TFTP_NATIVE_SOCKET", strerror(errno));

  napi_value name;
  napi_create_string_utf8(env, "anvil:tftp-pump", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, on_done, NULL, name, 0, 1, h, report_finalize, NULL, deliver, &h->report) != napi_ok) {
    return fail(env, h, "TFTP_NATIVE_RESOURCES", "cannot create the completion callback");
  }
  /* From here h has two holders, the thread-safe function and the JS handle: each releases it once. */
  h->holders = 2;
  napi_value handle;
  napi_create_external(env, h, handle_finalize, NULL, &handle);
  if (content != NULL) napi_create_reference(env, content, 1, &h->source_ref);
  napi_create_reference(env, stats, 1, &h->stats_ref);

  /* Signals are the JS thread's business: the pump's thread blocks them all. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, PUMP_STACK_BYTES);
  int error = pthread_create(&h->thread, &attr, pump_main, h);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (error != 0) {
    h->joined = true; /* no thread: the finalizers only free */
    close(p->fd);
    if (h->source_ref != NULL) napi_delete_reference(env, h->source_ref);
    napi_delete_reference(env, h->stats_ref);
    napi_release_threadsafe_function(h->report, napi_tsfn_abort);
    napi_throw_error(env, "TFTP_NATIVE_RESOURCES", strerror(error));
    return NULL;
  }
  napi_add_env_cleanup_hook(env, teardown_hook, h);
  return handle;
}

/* cancel(handle, message?): with a message, the client gets it in an ERROR; without, nothing. */
static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype type;
  pump_handle *h;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(env, napi_get_value_external(env, argv[0], (void **)&h));
  if (h->joined) return NULL;
  char message[PUMP_MESSAGE_BYTES];
  bool notify = argc > 1 && napi_typeof(env, argv[1], &type) == napi_ok && type == napi_string;
  if (notify) napi_get_value_string_latin1(env, argv[1], message, sizeof message, NULL);
  pump_cancel(&h->pump, notify, notify ? message : NULL);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
  napi_set_named_property(env, exports, "start", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}
