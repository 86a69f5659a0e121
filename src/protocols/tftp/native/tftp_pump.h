/*
 * The DATA/ACK phase of one TFTP read transfer (RFC 1350, windowsize RFC 7440), as a
 * blocking loop on a thread of its own: no N-API here, see binding.c for the glue.
 * The TypeScript server (../transfer.ts) is the reference this loop must match.
 */
#ifndef ANVIL_TFTP_PUMP_H
#define ANVIL_TFTP_PUMP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* How a transfer ended; ../native-pump.ts maps these numbers to a TransferOutcome. */
enum pump_outcome {
  PUMP_COMPLETED = 0,
  PUMP_TIMEOUT = 1,
  PUMP_CLIENT_ERROR = 2,
  PUMP_READ_ERROR = 3,
  PUMP_SOCKET_ERROR = 4,
  PUMP_ABORTED = 5,
  PUMP_SUPERSEDED = 6,
};

/* Live counters, in a Float64Array JS reads while the transfer runs (../native-pump.ts, STAT). */
enum pump_stat {
  STAT_DATA_PACKETS = 0,
  STAT_BYTES = 1,
  STAT_RETRANSMISSIONS = 2,
  STAT_DUPLICATE_ACKS = 3,
  STAT_ERRORS_SENT = 4,
  STAT_MALFORMED = 5,
  STAT_STRAY = 6,
  STAT_COUNT = 7,
};

enum pump_cancel { CANCEL_NONE = 0, CANCEL_ABORT = 1, CANCEL_SUPERSEDE = 2 };

/* Longest ERROR message the pump sends or reports (the rest is cut). */
#define PUMP_MESSAGE_BYTES 256

typedef struct tftp_pump {
  /* Set before the thread starts, then read-only. */
  int fd;                            /* the transfer's socket: its port is the server's TID */
  struct sockaddr_storage peer;      /* the client's TID */
  socklen_t peer_len;
  const uint8_t *first;              /* OACK to send first, or NULL to start with DATA 1 */
  size_t first_len;
  const uint8_t *content;            /* the file in memory (a Buffer JS keeps alive), or NULL */
  size_t content_len;
  int file_fd;                       /* else a file to pread, open in JS until the pump is joined */
  uint32_t block_size, window_size, timeout_ms, max_retries;
  uint32_t busy_poll_us;             /* how long after a send to poll for the answer before sleeping; 0 never */
  double *stats;                     /* STAT_COUNT slots, written only by the pump's thread */

  /* Set by pump_cancel on the JS thread. */
  atomic_int cancel;
  char cancel_message[PUMP_MESSAGE_BYTES];

  /* The pump's thread only. */
  double counts[STAT_COUNT];
  uint8_t *chunk;                    /* file bytes of chunk_index, when file_fd is read */
  uint64_t chunk_index;
  size_t chunk_bytes;
  bool chunk_valid;
  uint32_t chunk_blocks;
  uint64_t last_block;               /* the final block (shorter than block_size), 0 until known */
  uint32_t rcvtimeo_ms;              /* SO_RCVTIMEO as set on fd now */
  int64_t sent_ns;                   /* CLOCK_MONOTONIC: when packets were last sent */
  int64_t deadline_ns;               /* when they are due again */
  uint32_t poll_backoff;             /* waits to sleep through after a busy-poll that missed; doubles per miss */
  uint32_t poll_skip;                /* of which this many are left */

  /* The result, written by the thread before it reports. */
  enum pump_outcome outcome;
  int client_code;                   /* PUMP_CLIENT_ERROR: the code in the client's ERROR */
  int error_number;                  /* PUMP_READ_ERROR, PUMP_SOCKET_ERROR: errno */
  char message[PUMP_MESSAGE_BYTES];  /* PUMP_CLIENT_ERROR: its text (latin1, as sent) */
  size_t message_len;
} tftp_pump;

/*
 * Creates the transfer socket, bound to `local` port 0, with send and receive buffers of
 * `buffer_bytes`. Returns the fd, or -1 with errno set.
 */
int pump_open_socket(const struct sockaddr_storage *local, socklen_t local_len, int buffer_bytes);

/* Parses an IPv4 or IPv6 address (with an optional %scope) and a port. False if it is not one. */
bool pump_parse_address(const char *text, int port, struct sockaddr_storage *out, socklen_t *out_len);

/* Prepares the loop's own state; false (errno ENOMEM) if its chunk buffer cannot be had. */
bool pump_init(tftp_pump *p);

/* Runs the transfer to its end, on the pump's own thread; the outcome is then in p. */
void pump_run(tftp_pump *p);

/* From any thread: stops the loop, with an ERROR to the client (notify) or silently. */
void pump_cancel(tftp_pump *p, bool notify, const char *message);

/* Frees what pump_init took. The socket and the file are the caller's. */
void pump_destroy(tftp_pump *p);

#endif
