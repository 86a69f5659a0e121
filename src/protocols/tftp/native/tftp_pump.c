/*
 * One TFTP read transfer's DATA/ACK phase as a blocking loop: send a window (RFC 7440;
 * windowsize 1 is RFC 1350 lock-step), wait in recvfrom for the ACK, repeat. The same
 * state machine as ../transfer.ts, which stays the reference: same duplicate-ACK rule,
 * same retransmission deadline, same ERROR packets, same counters.
 *
 * Waiting costs no system call of its own: SO_RCVTIMEO bounds the recvfrom by what is
 * left before the retransmission deadline, and pump_cancel wakes it with shutdown(), so a
 * block is one recvfrom and one sendmsg.
 *
 * Lock-step is a ping-pong of wake-ups, and waking a thread whose CPU has gone idle costs
 * far more than the TFTP work (on a 2-vCPU VM, ~20 µs of an interrupt and a halt exit per
 * block against ~2.5 µs of work). So after a send, a pump busy-polls for the answer for up
 * to busy_poll_us before it sleeps (receive()), but only while polling keeps a CPU from
 * idling: it yields on each turn, and stops as soon as a yield runs another task (the
 * client on the same CPU, or anyone: that CPU will not idle anyway). It backs off after a
 * miss, so a slow client (a PXE ROM across a switch) or a busy CPU costs a poll only now
 * and then, and only max_pollers pumps poll at a time.
 */
#define _GNU_SOURCE
#include "tftp_pump.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Opcodes and error codes, RFC 1350 §5 and its appendix (OACK: RFC 2347); ../constants.ts. */
enum { OP_RRQ = 1, OP_WRQ = 2, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };
enum { ERROR_NOT_DEFINED = 0, ERROR_UNKNOWN_TID = 5 };

/* File bytes per pread: ../block-reader.ts's DEFAULT_CHUNK_BYTES, for the same reasons. */
#define CHUNK_BYTES (64 * 1024)
/* Largest datagram read from a client: an ACK is 4 bytes; an ERROR's text past this is cut. */
#define RECEIVE_BYTES 1024
/* After a busy-poll that missed, sleep through 1, 2, 4, ... up to this many waits before polling again. */
#define MAX_POLL_BACKOFF 256
/* A sched_yield that took longer ran another task: alone on its CPU it returns in well under 1 µs. */
#define YIELD_RAN_OTHERS_NS 5000

/* Pumps busy-polling now, and how many may: one CPU is always left to everything else. */
static atomic_int pollers;
static atomic_int max_pollers;

typedef enum { NEGOTIATING, SENDING } pump_state;

/*
 * The transfer's position. Block numbers are absolute (the wire's 16 bits wrap past 65535,
 * these do not): acked is the highest block acknowledged, sent the highest sent.
 */
typedef struct {
  pump_state state;
  uint64_t acked, sent;
  uint32_t retries;
} progress;

/* What a datagram or a timeout did to the transfer. */
typedef enum { MOVED, IGNORED, ENDED } effect;

static int64_t monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void count(tftp_pump *p, enum pump_stat stat, double by) {
  double value = p->counts[stat] + by;
  p->counts[stat] = value;
  /* One writer; JS reads whole doubles (an aligned 8-byte store is single-copy atomic). */
  __atomic_store(&p->stats[stat], &value, __ATOMIC_RELAXED);
}

static void set_receive_timeout(tftp_pump *p, uint32_t ms) {
  if (p->rcvtimeo_ms == ms) return;
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
  if (setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0) p->rcvtimeo_ms = ms;
}

/* After a send: the deadline moves to a full timeout from now (../transfer.ts #armTimer). */
static void arm(tftp_pump *p) {
  p->sent_ns = monotonic_ns();
  p->deadline_ns = p->sent_ns + (int64_t)p->timeout_ms * 1000000;
  set_receive_timeout(p, p->timeout_ms);
}

static bool take_poller(void) {
  int now = atomic_load_explicit(&pollers, memory_order_relaxed);
  while (now < atomic_load_explicit(&max_pollers, memory_order_relaxed)) {
    if (atomic_compare_exchange_weak_explicit(&pollers, &now, now + 1, memory_order_relaxed, memory_order_relaxed)) return true;
  }
  return false;
}

static bool would_block(ssize_t n) {
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The next datagram, or -1 with errno (EAGAIN: SO_RCVTIMEO expired). Busy-polls first unless
 * a recent poll missed (see the top of this file). */
static ssize_t receive(tftp_pump *p, uint8_t *in, size_t size, struct sockaddr_storage *from, socklen_t *from_len) {
  if (p->busy_poll_us > 0 && p->poll_skip > 0) {
    p->poll_skip--;
  } else if (p->busy_poll_us > 0 && take_poller()) {
    int64_t until = p->sent_ns + (int64_t)p->busy_poll_us * 1000;
    bool shared = false;
    int turns = 0;
    ssize_t n;
    for (;; turns++) {
      *from_len = sizeof *from;
      n = recvfrom(p->fd, in, size, MSG_DONTWAIT, (struct sockaddr *)from, from_len);
      if (!would_block(n) || shared || atomic_load_explicit(&p->cancel, memory_order_relaxed) != CANCEL_NONE) break;
      int64_t before = monotonic_ns();
      if (before >= until) break;
      sched_yield(); /* a client on this CPU runs now, not after the poll */
      /* Another task ran: this CPU will not go idle while we sleep, so polling saves nothing.
       * One more look (the task may have been the client), then sleep and back off. */
      shared = monotonic_ns() - before > YIELD_RAN_OTHERS_NS;
    }
    atomic_fetch_sub_explicit(&pollers, 1, memory_order_relaxed);
    if (!would_block(n) && !shared) {
      if (turns > 0) p->poll_backoff = 0; /* polling caught it; at the first look it was there anyway */
      return n;
    }
    p->poll_backoff = p->poll_backoff == 0 ? 1 : p->poll_backoff >= MAX_POLL_BACKOFF ? MAX_POLL_BACKOFF : p->poll_backoff * 2;
    p->poll_skip = p->poll_backoff;
    if (!would_block(n)) return n;
  }
  *from_len = sizeof *from;
  return recvfrom(p->fd, in, size, 0, (struct sockaddr *)from, from_len);
}

static bool send_datagram(tftp_pump *p, const struct sockaddr_storage *to, socklen_t to_len, struct iovec *iov, size_t iovcnt) {
  struct msghdr msg = { .msg_name = (void *)to, .msg_namelen = to_len, .msg_iov = iov, .msg_iovlen = iovcnt };
  for (;;) {
    if (sendmsg(p->fd, &msg, 0) >= 0) return true;
    /* A datagram the kernel had no room for is lost like any other: retransmission covers it. */
    if (errno == ENOBUFS || errno == EAGAIN) return true;
    if (errno != EINTR) break;
  }
  p->error_number = errno;
  return false;
}

static void send_error(tftp_pump *p, const struct sockaddr_storage *to, socklen_t to_len, int code, const char *text) {
  uint8_t packet[4 + PUMP_MESSAGE_BYTES + 1];
  size_t len = strnlen(text, PUMP_MESSAGE_BYTES);
  packet[0] = 0;
  packet[1] = OP_ERROR;
  packet[2] = (uint8_t)(code >> 8);
  packet[3] = (uint8_t)code;
  memcpy(packet + 4, text, len);
  packet[4 + len] = 0;
  struct iovec iov = { packet, 5 + len };
  send_datagram(p, to, to_len, &iov, 1); /* the transfer ends either way */
  count(p, STAT_ERRORS_SENT, 1);
}

static effect fail_socket(tftp_pump *p) {
  p->outcome = PUMP_SOCKET_ERROR;
  return ENDED;
}

/* Reads chunk `index` of the file; the first short read marks the final block. */
static bool load_chunk(tftp_pump *p, uint64_t index) {
  size_t want = (size_t)p->chunk_blocks * p->block_size;
  off_t base = (off_t)(index * want);
  size_t got = 0;
  p->chunk_valid = false;
  while (got < want) {
    ssize_t n = pread(p->file_fd, p->chunk + got, want - got, base + (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      p->error_number = errno;
      return false;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  p->chunk_index = index;
  p->chunk_bytes = got;
  p->chunk_valid = true;
  /* The final block is the first shorter than blksize, possibly empty (RFC 1350 §6). */
  if (got < want && p->last_block == 0) p->last_block = index * p->chunk_blocks + got / p->block_size + 1;
  return true;
}

/* Block n's payload: in the Buffer, or in the chunk holding it (read now if it is not the current one). */
static bool payload(tftp_pump *p, uint64_t n, const uint8_t **data, size_t *len) {
  size_t avail;
  if (p->content != NULL) {
    uint64_t offset = (n - 1) * p->block_size;
    if (offset > p->content_len) offset = p->content_len;
    *data = p->content + offset;
    avail = p->content_len - (size_t)offset;
  } else {
    uint64_t index = (n - 1) / p->chunk_blocks;
    if ((!p->chunk_valid || p->chunk_index != index) && !load_chunk(p, index)) return false;
    size_t at = (size_t)(n - 1 - index * p->chunk_blocks) * p->block_size;
    *data = p->chunk + at;
    avail = at >= p->chunk_bytes ? 0 : p->chunk_bytes - at;
  }
  *len = avail < p->block_size ? avail : p->block_size;
  return true;
}

/* Sends the blocks after g->sent up to the end of the window that follows g->acked. */
static effect send_window(tftp_pump *p, progress *g) {
  uint64_t limit = g->acked + p->window_size;
  while (g->sent < limit) {
    uint64_t n = g->sent + 1;
    const uint8_t *data;
    size_t len;
    if (p->last_block != 0 && n > p->last_block) break;
    if (!payload(p, n, &data, &len)) {
      send_error(p, &p->peer, p->peer_len, ERROR_NOT_DEFINED, "read error on the server");
      p->outcome = PUMP_READ_ERROR;
      return ENDED;
    }
    if (p->last_block != 0 && n > p->last_block) break; /* the file shrank under us */
    uint8_t header[4] = { 0, OP_DATA, (uint8_t)(n >> 8), (uint8_t)n }; /* block numbers wrap to 0 after 65535 */
    struct iovec iov[2] = { { header, 4 }, { (void *)data, len } };
    if (!send_datagram(p, &p->peer, p->peer_len, iov, len > 0 ? 2 : 1)) return fail_socket(p);
    g->sent = n;
    count(p, STAT_DATA_PACKETS, 1);
    count(p, STAT_BYTES, (double)len);
  }
  arm(p);
  return MOVED;
}

static effect send_first(tftp_pump *p) {
  struct iovec iov = { (void *)p->first, p->first_len };
  if (!send_datagram(p, &p->peer, p->peer_len, &iov, 1)) return fail_socket(p);
  arm(p);
  return MOVED;
}

static effect on_ack(tftp_pump *p, progress *g, uint16_t block) {
  if (g->state == NEGOTIATING) {
    if (block != 0) return IGNORED;
    g->state = SENDING;
    g->retries = 0;
    return send_window(p, g);
  }
  uint64_t distance = (uint16_t)(block - (uint16_t)g->acked);
  if (distance == 0 || distance > g->sent - g->acked) {
    /* Already acknowledged (or never sent): answering it would double the traffic for the
     * rest of the transfer, the Sorcerer's Apprentice bug. Only a timeout retransmits. */
    count(p, STAT_DUPLICATE_ACKS, 1);
    return IGNORED;
  }
  g->acked += distance;
  g->retries = 0;
  if (g->acked == p->last_block) {
    p->outcome = PUMP_COMPLETED;
    return ENDED;
  }
  /* RFC 7440 §4: an ACK inside the window means the blocks after it were lost; resend from there. */
  g->sent = g->acked;
  return send_window(p, g);
}

/* A datagram from the client's TID. Decoding follows ../codec.ts where it matters: what ends
 * or moves the transfer (ACK, ERROR) and what is merely dropped. */
static effect on_datagram(tftp_pump *p, progress *g, const uint8_t *in, size_t n) {
  unsigned opcode = n >= 2 ? (unsigned)(in[0] << 8 | in[1]) : 0;
  switch (opcode) {
  case OP_ACK:
    if (n < 4) break; /* trailing bytes after the block number are ignored, as in the codec */
    return on_ack(p, g, (uint16_t)(in[2] << 8 | in[3]));
  case OP_ERROR: {
    if (n < 4) break;
    /* The client gave up (or refused our options, error 8): RFC 1350 says no reply to an ERROR. */
    const uint8_t *end = memchr(in + 4, 0, n - 4);
    size_t len = end != NULL ? (size_t)(end - (in + 4)) : n - 4;
    if (len > sizeof p->message) len = sizeof p->message;
    memcpy(p->message, in + 4, len);
    p->message_len = len;
    p->client_code = in[2] << 8 | in[3];
    p->outcome = PUMP_CLIENT_ERROR;
    return ENDED;
  }
  case OP_DATA:
    if (n < 4) break;
    count(p, STAT_STRAY, 1);
    return IGNORED;
  case OP_RRQ:
  case OP_WRQ:
  case OP_OACK:
    /* No place on a read transfer's TID, whether or not the body would decode. */
    count(p, STAT_STRAY, 1);
    return IGNORED;
  default:
    break;
  }
  count(p, STAT_MALFORMED, 1);
  return IGNORED;
}

/* RFC 1350 §4: a packet from another TID gets ERROR 5 and leaves the transfer alone. An ERROR
 * is not answered, so two confused peers cannot bounce errors between them. */
static void on_stranger(tftp_pump *p, const struct sockaddr_storage *from, socklen_t from_len, const uint8_t *in, size_t n) {
  count(p, STAT_STRAY, 1);
  if (n >= 2 && in[0] == 0 && in[1] == OP_ERROR) return;
  send_error(p, from, from_len, ERROR_UNKNOWN_TID, "Unknown transfer ID");
}

static effect on_timeout(tftp_pump *p, progress *g) {
  if (g->retries >= p->max_retries) {
    /* The client has vanished: give up cleanly (RFC 1350 §2: "timeout ... terminates"). */
    send_error(p, &p->peer, p->peer_len, ERROR_NOT_DEFINED, "transfer timed out");
    p->outcome = PUMP_TIMEOUT;
    return ENDED;
  }
  g->retries++;
  count(p, STAT_RETRANSMISSIONS, 1);
  if (g->state == NEGOTIATING) return send_first(p);
  g->sent = g->acked;
  return send_window(p, g);
}

/* After a datagram that moved nothing, the deadline still stands: retransmit if it has
 * passed, else wait only what is left of it (rounded up, so a timeout means it passed). */
static effect check_deadline(tftp_pump *p, progress *g) {
  int64_t left = p->deadline_ns - monotonic_ns();
  if (left <= 0) return on_timeout(p, g);
  set_receive_timeout(p, (uint32_t)((left + 999999) / 1000000));
  return IGNORED;
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static void on_cancel(tftp_pump *p, int cancel) {
  if (cancel == CANCEL_ABORT) {
    send_error(p, &p->peer, p->peer_len, ERROR_NOT_DEFINED, p->cancel_message);
    p->outcome = PUMP_ABORTED;
  } else {
    p->outcome = PUMP_SUPERSEDED;
  }
}

void pump_run(tftp_pump *p) {
  progress g = { .state = p->first != NULL ? NEGOTIATING : SENDING };
  effect e = g.state == NEGOTIATING ? send_first(p) : send_window(p, &g);
  uint8_t in[RECEIVE_BYTES];
  while (e != ENDED) {
    struct sockaddr_storage from;
    socklen_t from_len;
    ssize_t n = receive(p, in, sizeof in, &from, &from_len);
    int cancel = atomic_load_explicit(&p->cancel, memory_order_acquire);
    if (cancel != CANCEL_NONE) {
      on_cancel(p, cancel);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        p->error_number = errno;
        e = fail_socket(p);
        break;
      }
      /* SO_RCVTIMEO never ends before the deadline (see check_deadline), so it has passed. */
      e = on_timeout(p, &g);
      continue;
    }
    if (!same_endpoint(&from, &p->peer)) {
      on_stranger(p, &from, from_len, in, (size_t)n);
      e = IGNORED;
    } else {
      e = on_datagram(p, &g, in, (size_t)n);
    }
    if (e == IGNORED) e = check_deadline(p, &g);
  }
}

void pump_cancel(tftp_pump *p, bool notify, const char *message) {
  if (atomic_load_explicit(&p->cancel, memory_order_relaxed) != CANCEL_NONE) return; /* only the JS thread cancels */
  snprintf(p->cancel_message, sizeof p->cancel_message, "%s", message != NULL ? message : "");
  atomic_store_explicit(&p->cancel, notify ? CANCEL_ABORT : CANCEL_SUPERSEDE, memory_order_release);
  /* Wakes a blocked recvfrom, which returns 0 at once from now on; sends still work. On an
   * unconnected UDP socket Linux answers ENOTCONN but shuts the receiving side all the same. */
  shutdown(p->fd, SHUT_RD);
}

bool pump_init(tftp_pump *p) {
  if (atomic_load_explicit(&max_pollers, memory_order_relaxed) == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    atomic_store_explicit(&max_pollers, cpus > 2 ? (int)cpus - 1 : 1, memory_order_relaxed); /* workers racing here agree */
  }
  p->chunk_blocks = p->block_size >= CHUNK_BYTES ? 1 : CHUNK_BYTES / p->block_size;
  if (p->content != NULL) {
    p->last_block = p->content_len / p->block_size + 1;
    return true;
  }
  p->chunk = malloc((size_t)p->chunk_blocks * p->block_size);
  return p->chunk != NULL;
}

void pump_destroy(tftp_pump *p) {
  free(p->chunk);
  p->chunk = NULL;
}
