/*
 * anvil-agent-io: what the deploy agent's busybox lacks. Built static by scripts/anvil-agent
 * (gcc -O2 -static, Debian's libzstd.a, libcrypto.a and libxxhash.a) and installed in the agent's
 * initramfs.
 *
 *   anvil-agent-io zstd-decompress            stdin to stdout
 *   anvil-agent-io write FILE [zstd]          stdin (zstd-decompressed) to FILE in 1 MiB blocks with
 *                                             O_DIRECT, then fsync; print bytes= (what was written)
 *   anvil-agent-io zstd-compress [LEVEL]      stdin to stdout (level 3 by default)
 *   anvil-agent-io post URL                   POST stdin (a small text body); print the answer's body
 *   anvil-agent-io put URL                    PUT stdin with Transfer-Encoding: chunked; print the body
 *   anvil-agent-io capture DEVICE SIZE URL [LEVEL]
 *                                             read SIZE bytes of DEVICE, checksum them (XXH64), zstd
 *                                             them and PUT the stream chunked to URL, in one process
 *                                             of two threads (reader and checksum, compressor and
 *                                             sender); print the answer's body, then capture.xxh64=,
 *                                             capture.bytes= (read) and capture.sent= (compressed
 *                                             bytes uploaded)
 *   anvil-agent-io sha256 FILE SIZE           sha256 of the first SIZE bytes of FILE (read with
 *                                             O_DIRECT: a block device is read from the disk, not
 *                                             from the page cache)
 *
 * HTTP/1.1 only, URLs http://ADDRESS[:PORT]/PATH with a numeric address (the agent resolves a
 * name before). Every request carries X-Anvil-Token: $ANVIL_TOKEN. Exit status: 0 done (HTTP
 * 2xx), 3 the server answered 403 (the deploy is over), 1 any other failure, 2 bad usage.
 * Errors are one line on stderr: "anvil-agent-io: WHAT: WHY".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <xxhash.h>
#include <zstd.h>

#define BLOCK (1 << 20)          /* bytes read from a device, written to a pipe, at a time */
#define SMALL_BODY (64 << 10)    /* the most a POST body may carry */
#define POST_TIMEOUT_S 30        /* connect, send or answer of a POST: the agent retries hello */
#define PUT_TIMEOUT_S 120        /* the same for an upload, whose answer comes after its last byte */
#define DEFAULT_LEVEL 3
#define EXIT_FORBIDDEN 3

static const char *what = "anvil-agent-io"; /* the sub-command or URL an error is about */

/* Prints "anvil-agent-io: WHAT: MESSAGE" and exits with status 1. */
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "anvil-agent-io: %s: ", what);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* Writes all n bytes, retrying short writes; -1 with errno on failure. */
static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Writes all of iov[0..n), retrying short writes; -1 with errno on failure. */
static int writev_all(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    for (; n > 0 && (size_t)w >= iov->iov_len; n--, iov++) w -= (ssize_t)iov->iov_len;
    if (n > 0) iov->iov_base = (char *)iov->iov_base + w, iov->iov_len -= (size_t)w;
  }
  return 0;
}

/* Reads until n bytes or end of file; the count read, -1 with errno on failure. */
static ssize_t read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* ---- SHA-256 ---- */

/* OpenSSL's assembly (SHA-NI or AVX2 where the CPU has them: 1.7x this file's own C code under
 * QEMU's TCG, 8x on a host with SHA-NI). Its low-level calls, deprecated in OpenSSL 3, link
 * only the SHA-256 code (+24 KB); EVP would pull in OpenSSL's providers (+3 MB, static). */
/* Writes the digest as 64 lower-case hex digits and a NUL into hex. */
static void sha256_hex(SHA256_CTX *s, char hex[65]) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, s);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) sprintf(hex + 2 * i, "%02x", digest[i]);
}

/* ---- where bytes come from and go to ---- */

/* A readable file: up to `left` bytes of it, hashed on the way when `hash` is set. */
struct source {
  int fd;
  uint64_t left;
  int bounded;           /* a file that must hold `left` bytes (not a stream read to its end) */
  int direct;            /* opened with O_DIRECT: reads must be whole aligned sectors */
  SHA256_CTX *hash;
  uint64_t bytes;        /* read so far */
};

/* Opens the first `size` bytes of a file, with O_DIRECT where the file system allows it. */
static void source_open(struct source *src, const char *path, uint64_t size, SHA256_CTX *hash) {
  memset(src, 0, sizeof *src);
  src->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  src->direct = src->fd >= 0;
  if (src->fd < 0 && errno == EINVAL) src->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (src->fd < 0) fail("open %s: %s", path, strerror(errno));
  src->left = size;
  src->bounded = 1;
  src->hash = hash;
}

/* Fills buf (cap bytes, a multiple of 4096, 4096-aligned) as far as the source goes; 0 at its end. */
static size_t source_read(struct source *src, uint8_t *buf, size_t cap, const char *name) {
  size_t want = src->left < cap ? (size_t)src->left : cap;
  if (want == 0) return 0;
  /* O_DIRECT reads whole sectors: ask for the rounded-up length, keep what is wanted. */
  size_t ask = src->direct ? (want + 4095) & ~(size_t)4095 : want;
  ssize_t got = read_full(src->fd, buf, ask);
  if (got < 0) fail("read %s: %s", name, strerror(errno));
  if ((size_t)got > want) got = (ssize_t)want;
  if (got == 0 && src->bounded) fail("read %s: it ended after %llu bytes", name, (unsigned long long)src->bytes);
  src->left -= (uint64_t)got;
  src->bytes += (uint64_t)got;
  if (src->hash) SHA256_Update(src->hash, buf, (size_t)got);
  return (size_t)got;
}

/* Where output goes: a file descriptor, as is or framed as HTTP/1.1 chunks (RFC 9112 §7.1). */
struct sink {
  int fd;
  int chunked;
  uint64_t bytes;        /* payload bytes written */
  int error;             /* errno of the first failed write; later writes are skipped */
};

/* Writes n bytes to the sink (as one chunk when chunked); remembers the first error. */
static void sink_write(struct sink *out, const void *buf, size_t n) {
  if (n == 0 || out->error) return;
  char head[24];
  struct iovec chunk[3] = {{head, 0}, {(void *)buf, n}, {"\r\n", 2}};
  chunk[0].iov_len = (size_t)snprintf(head, sizeof head, "%zx\r\n", n);
  if (out->chunked ? writev_all(out->fd, chunk, 3) < 0 : write_all(out->fd, buf, n) < 0) out->error = errno;
  out->bytes += n;
}

/* Ends a chunked body with the last, empty chunk. */
static void sink_end(struct sink *out) {
  if (out->chunked && !out->error && write_all(out->fd, "0\r\n\r\n", 5) < 0) out->error = errno;
}

/* ---- zstd ---- */

/* Compresses the whole source into the sink at `level` (RFC 8878 frames, with a checksum). */
static void compress(struct source *src, struct sink *out, int level, const char *name) {
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  uint8_t *in_buf = aligned_alloc(4096, BLOCK);
  size_t out_cap = ZSTD_CStreamOutSize();
  uint8_t *out_buf = malloc(out_cap);
  if (!cctx || !in_buf || !out_buf) fail("out of memory");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  /* Output goes out when the buffer is full (or at the end): over zeros zstd makes a few bytes
   * per 128 KiB block, which would otherwise be as many tiny chunks and packets. */
  ZSTD_outBuffer o = {out_buf, out_cap, 0};
  for (size_t n = 1; n > 0 && !out->error;) {
    n = source_read(src, in_buf, BLOCK, name);
    ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer in = {in_buf, n, 0};
    size_t pending;
    do {
      pending = ZSTD_compressStream2(cctx, &o, &in, mode);
      if (ZSTD_isError(pending)) fail("zstd: %s", ZSTD_getErrorName(pending));
      if (o.pos == o.size || (mode == ZSTD_e_end && pending == 0)) {
        sink_write(out, out_buf, o.pos);
        o.pos = 0;
      }
    } while (!out->error && (mode == ZSTD_e_end ? pending != 0 : in.pos < in.size));
  }
  ZSTD_freeCCtx(cctx);
  free(in_buf);
  free(out_buf);
}

/* Output in whole BLOCKs: what a device is written with (and a pipe, in big writes). */
struct blocks {
  int fd;
  const char *name;
  uint8_t *buf;          /* BLOCK bytes, 4096-aligned (O_DIRECT needs it) */
  size_t fill;
  uint64_t bytes;        /* written so far */
};

/* Writes the filled part of the block; a direct-I/O file takes a last odd-sized one buffered. */
static void blocks_flush(struct blocks *b) {
  if (b->fill == 0) return;
  if (b->fill % 4096 != 0) fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) & ~O_DIRECT);
  if (write_all(b->fd, b->buf, b->fill) < 0) fail("write %s after %llu bytes: %s", b->name, (unsigned long long)b->bytes, strerror(errno));
  b->bytes += b->fill;
  b->fill = 0;
}

/* Copies stdin to the output: decompressed frame after frame when `zstd`, refusing a stream cut short. */
static void copy_stdin(struct blocks *b, int zstd) {
  if (!zstd) {
    ssize_t n;
    while ((n = read_full(0, b->buf, BLOCK)) > 0) {
      b->fill = (size_t)n;
      blocks_flush(b);
    }
    if (n < 0) fail("read stdin: %s", strerror(errno));
    return;
  }
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  size_t in_cap = ZSTD_DStreamInSize(), last = 0;
  uint8_t *in_buf = malloc(in_cap);
  if (!dctx || !in_buf) fail("out of memory");
  ZSTD_inBuffer in = {in_buf, 0, 0};
  /* A call that filled the block may leave output in the decoder: call again before reading. */
  for (int full = 0;;) {
    if (in.pos == in.size && !full) {
      ssize_t n = read(0, in_buf, in_cap);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("read stdin: %s", strerror(errno));
      if (n == 0) break;
      in.size = (size_t)n, in.pos = 0;
    }
    /* Decompressed straight into the block being filled: no copy. */
    ZSTD_outBuffer out = {b->buf, BLOCK, b->fill};
    size_t in_before = in.pos, ret = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(ret)) fail("zstd: %s after %llu bytes out", ZSTD_getErrorName(ret), (unsigned long long)(b->bytes + b->fill));
    /* A call that moved nothing (a frame that ended exactly at a full block) says nothing new. */
    if (in.pos != in_before || out.pos != b->fill) last = ret;
    b->fill = out.pos;
    full = b->fill == BLOCK;
    if (full) blocks_flush(b);
  }
  /* 0: the last frame is complete and flushed. */
  if (last != 0) fail("zstd: the stream ends in the middle of a frame (truncated download?)");
  ZSTD_freeDCtx(dctx);
  free(in_buf);
}

/* Writes stdin (zstd-decompressed when asked) to FILE, or to stdout when FILE is NULL. */
static int write_out(const char *path, int zstd) {
  struct blocks b = {.fd = 1, .name = "stdout", .buf = aligned_alloc(4096, BLOCK)};
  if (!b.buf) fail("out of memory");
  if (path) {
    b.name = path;
    b.fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (b.fd < 0 && errno == EINVAL) b.fd = open(path, O_WRONLY | O_CLOEXEC);
    if (b.fd < 0) fail("open %s: %s", path, strerror(errno));
  }
  copy_stdin(&b, zstd);
  blocks_flush(&b);
  if (path) {
    if (fsync(b.fd) < 0) fail("fsync %s: %s", path, strerror(errno));
    printf("bytes=%llu\n", (unsigned long long)b.bytes);
  }
  return 0;
}

/* ---- capture: a reader and the compressor, each on its own thread ---- */

/* One process, two threads over a ring of CAPTURE_SLOTS buffers: the reader fills a slot from
 * the device (O_DIRECT, CAPTURE_READ bytes a read, so the next read is in flight while the last
 * is compressed) and adds it to the checksum while it is still in the cache; the compressor (the
 * main thread, which also sends) takes the slots in order, and a slot is filled again when it is
 * done with it.
 *
 * The checksum is XXH64 (Debian's libxxhash), not SHA-256: it only has to show that what anvil
 * decompressed is what was read (anvil computes the image's SHA-256 itself, at native speed, as
 * the stream arrives, and the XXH64 too), and under QEMU's TCG SHA-256 cost 4x zstd -3 while
 * XXH64 costs a few percent of it. */
#define CAPTURE_READ (4 << 20)
#define CAPTURE_SLOTS 4

struct ring {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct source *src;
  const char *name;
  uint8_t *buf[CAPTURE_SLOTS];
  size_t len[CAPTURE_SLOTS];
  uint64_t filled;       /* slots the reader has filled (and checksummed) */
  uint64_t compressed;   /* slots the compressor is done with */
  int ended;             /* the reader filled its last slot (or was told to stop) */
  int stop;              /* the compressor gave up: read no more */
  XXH64_state_t *sum;
};

/* Waits for slot i; its length, or 0 when the reader ended before it. */
static size_t ring_wait(struct ring *r, uint64_t i) {
  pthread_mutex_lock(&r->lock);
  while (r->filled <= i && !r->ended) pthread_cond_wait(&r->changed, &r->lock);
  size_t n = r->filled > i ? r->len[i % CAPTURE_SLOTS] : 0;
  pthread_mutex_unlock(&r->lock);
  return n;
}

/* Marks slot i done in *counter and wakes the others. */
static void ring_done(struct ring *r, uint64_t *counter) {
  pthread_mutex_lock(&r->lock);
  (*counter)++;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

/* Reader thread: fills free slots in order until the source ends (a read error is fatal). */
static void *ring_reader(void *arg) {
  struct ring *r = arg;
  for (uint64_t i = 0;; i++) {
    pthread_mutex_lock(&r->lock);
    while (!r->stop && i - r->compressed >= CAPTURE_SLOTS) pthread_cond_wait(&r->changed, &r->lock);
    int stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    uint8_t *buf = r->buf[i % CAPTURE_SLOTS];
    size_t n = stop ? 0 : source_read(r->src, buf, CAPTURE_READ, r->name);
    if (n > 0) XXH64_update(r->sum, buf, n);
    pthread_mutex_lock(&r->lock);
    if (n > 0) r->len[i % CAPTURE_SLOTS] = n, r->filled++;
    else r->ended = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
    if (n == 0) return NULL;
  }
}

/* Compresses the first `size` bytes of the device into the sink at `level`, adding them to the
 * checksum `sum` on the way; returns the bytes read. */
static uint64_t capture_stream(const char *path, uint64_t size, XXH64_state_t *sum, struct sink *out, int level) {
  struct source src;
  source_open(&src, path, size, NULL);
  struct ring r = {.src = &src, .name = path, .sum = sum};
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.changed, NULL);
  for (int i = 0; i < CAPTURE_SLOTS; i++)
    if (!(r.buf[i] = aligned_alloc(4096, CAPTURE_READ))) fail("out of memory");
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  /* The sink is written when this is full: few, large chunks and sends. */
  size_t out_cap = BLOCK;
  uint8_t *out_buf = malloc(out_cap);
  if (!cctx || !out_buf) fail("out of memory");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  pthread_t reader;
  if (pthread_create(&reader, NULL, ring_reader, &r) != 0) fail("cannot start a thread");
  ZSTD_outBuffer o = {out_buf, out_cap, 0};
  for (uint64_t i = 0; !out->error; i++) {
    size_t n = ring_wait(&r, i);
    ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer in = {r.buf[i % CAPTURE_SLOTS], n, 0};
    size_t pending;
    do {
      pending = ZSTD_compressStream2(cctx, &o, &in, mode);
      if (ZSTD_isError(pending)) fail("zstd: %s", ZSTD_getErrorName(pending));
      if (o.pos == o.size || (mode == ZSTD_e_end && pending == 0)) {
        sink_write(out, out_buf, o.pos);
        o.pos = 0;
      }
    } while (!out->error && (mode == ZSTD_e_end ? pending != 0 : in.pos < in.size));
    if (n == 0) break;
    ring_done(&r, &r.compressed);
  }
  /* A failed send stops the reader; the checksum then covers what was read. */
  pthread_mutex_lock(&r.lock);
  r.stop = 1;
  pthread_cond_broadcast(&r.changed);
  pthread_mutex_unlock(&r.lock);
  pthread_join(reader, NULL);
  ZSTD_freeCCtx(cctx);
  free(out_buf);
  for (int i = 0; i < CAPTURE_SLOTS; i++) free(r.buf[i]);
  return src.bytes;
}

/* ---- HTTP/1.1 (RFC 9112) ---- */

/* errno as text; a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO) said plainly. */
static const char *net_error(int e) {
  return e == EAGAIN || e == EINPROGRESS ? "timed out" : strerror(e);
}

struct url {
  char host[256];        /* as written in the URL, for the Host header */
  char addr[64];         /* without IPv6 brackets, for connect() */
  char port[8];
  const char *path;
};

/* Splits http://HOST[:PORT]/PATH; fails on anything else. */
static void parse_url(const char *text, struct url *u) {
  if (strncmp(text, "http://", 7) != 0) fail("not an http:// URL");
  const char *host = text + 7, *slash = strchr(host, '/');
  u->path = slash ? slash : "/";
  size_t len = slash ? (size_t)(slash - host) : strlen(host);
  if (len == 0 || len >= sizeof u->host) fail("bad host in URL");
  memcpy(u->host, host, len);
  u->host[len] = 0;
  const char *end = u->host + len, *colon;
  if (u->host[0] == '[') {
    const char *close = strchr(u->host, ']');
    if (!close) fail("bad IPv6 address in URL");
    colon = close[1] == ':' ? close + 1 : NULL;
    snprintf(u->addr, sizeof u->addr, "%.*s", (int)(close - u->host - 1), u->host + 1);
  } else {
    colon = strchr(u->host, ':');
    snprintf(u->addr, sizeof u->addr, "%.*s", (int)((colon ? colon : end) - u->host), u->host);
  }
  snprintf(u->port, sizeof u->port, "%s", colon ? colon + 1 : "80");
}

/* Connects to the URL's numeric address; connect, send and receive give up after timeout_s. */
static int http_connect(const struct url *u, int timeout_s) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  int port = atoi(u->port);
  if (inet_pton(AF_INET, u->addr, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET, v4->sin_port = htons(port), len = sizeof *v4;
  } else if (inet_pton(AF_INET6, u->addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6, v6->sin6_port = htons(port), len = sizeof *v6;
  } else {
    fail("'%s' is not a numeric address (the agent resolves names first)", u->addr);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s", strerror(errno));
  struct timeval tv = {timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* Linux applies it to connect() too */
  if (connect(fd, (struct sockaddr *)&ss, len) < 0) fail("connect %s: %s", u->host, net_error(errno));
  return fd;
}

/* Sends the request line and headers; body framing is either a length or chunked. */
static void http_head(int fd, const char *method, const struct url *u, const char *framing) {
  const char *token = getenv("ANVIL_TOKEN");
  char head[4096];
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: anvil-agent-io\r\nX-Anvil-Token: %s\r\n"
                   "Content-Type: %s\r\n%s\r\nConnection: close\r\n\r\n",
                   method, u->path, u->host, token ? token : "", strcmp(method, "POST") == 0 ? "text/plain" : "application/zstd", framing);
  if (n >= (int)sizeof head) fail("URL too long");
  if (write_all(fd, head, (size_t)n) < 0) fail("send: %s", net_error(errno));
}

/* A buffered reader of the answer. */
struct reader {
  int fd;
  char buf[16384];
  size_t pos, len;
};

/* One byte of the answer, or -1 at its end (a read error is fatal). */
static int reader_byte(struct reader *r) {
  if (r->pos == r->len) {
    ssize_t n;
    do n = read(r->fd, r->buf, sizeof r->buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail("reading the answer: %s", net_error(errno));
    if (n == 0) return -1;
    r->pos = 0, r->len = (size_t)n;
  }
  return (unsigned char)r->buf[r->pos++];
}

/* One line of the answer without its CRLF; 0 at the end of the stream. */
static int reader_line(struct reader *r, char *line, size_t cap) {
  size_t n = 0;
  int c;
  while ((c = reader_byte(r)) >= 0 && c != '\n')
    if (n + 1 < cap) line[n++] = (char)c;
  if (n > 0 && line[n - 1] == '\r') n--;
  line[n] = 0;
  return c >= 0 || n > 0;
}

/* Copies n bytes of the answer (all of it when n is -1) to stdout; keeps its first line in `first`. */
static void reader_copy(struct reader *r, long long n, char *first, size_t cap) {
  size_t kept = strlen(first);
  int in_first = kept == 0;
  for (int c; n != 0 && (c = reader_byte(r)) >= 0; n -= n > 0) {
    putchar(c);
    if (c == '\n') in_first = 0;
    else if (in_first && kept + 1 < cap) first[kept++] = (char)c, first[kept] = 0;
  }
}

/* Reads the status line, headers and body; prints the body; returns the exit status for it. */
static int http_answer(int fd, const char *sent_error) {
  struct reader r = {.fd = fd};
  char line[4096], first[256] = "";
  if (!reader_line(&r, line, sizeof line)) {
    if (sent_error) fail("send: %s", sent_error);
    fail("the server closed the connection without an answer");
  }
  int status = 0;
  if (sscanf(line, "HTTP/1.%*d %d", &status) != 1) fail("not an HTTP answer: %.80s", line);
  const char *reason = strchr(line + 9, ' ');
  char status_line[128];
  snprintf(status_line, sizeof status_line, "HTTP %d%s", status, reason ? reason : "");
  long long length = -1;
  int chunked = 0;
  while (reader_line(&r, line, sizeof line) && line[0]) {
    if (strncasecmp(line, "Content-Length:", 15) == 0) length = atoll(line + 15);
    if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strcasestr(line, "chunked")) chunked = 1;
  }
  if (chunked) {
    while (reader_line(&r, line, sizeof line)) {
      long long size = strtoll(line, NULL, 16);
      if (size <= 0) break;
      reader_copy(&r, size, first, sizeof first);
      reader_line(&r, line, sizeof line);
    }
  } else {
    reader_copy(&r, length, first, sizeof first);
  }
  fflush(stdout);
  if (status >= 200 && status < 300) return 0;
  fprintf(stderr, "anvil-agent-io: %s: %s%s%s\n", what, status_line, first[0] ? ": " : "", first);
  return status == 403 ? EXIT_FORBIDDEN : 1;
}

/* POSTs stdin (at most SMALL_BODY bytes) to the URL. */
static int http_post(const char *text) {
  struct url u;
  parse_url(text, &u);
  static char body[SMALL_BODY];
  ssize_t n = read_full(0, body, sizeof body);
  if (n < 0) fail("read stdin: %s", strerror(errno));
  char framing[64];
  snprintf(framing, sizeof framing, "Content-Length: %zd", n);
  int fd = http_connect(&u, POST_TIMEOUT_S);
  http_head(fd, "POST", &u, framing);
  const char *err = write_all(fd, body, (size_t)n) < 0 ? net_error(errno) : NULL;
  return http_answer(fd, err);
}

/* PUTs a source chunked to the URL, compressed at `level` or as it is when level is 0. */
static int http_put(const char *text, struct source *src, int level, const char *name, uint64_t *sent) {
  struct url u;
  parse_url(text, &u);
  int fd = http_connect(&u, PUT_TIMEOUT_S);
  http_head(fd, "PUT", &u, "Transfer-Encoding: chunked");
  struct sink out = {.fd = fd, .chunked = 1};
  if (level > 0) {
    compress(src, &out, level, name);
  } else {
    uint8_t *buf = aligned_alloc(4096, BLOCK);
    if (!buf) fail("out of memory");
    for (size_t n; !out.error && (n = source_read(src, buf, BLOCK, name)) > 0;) sink_write(&out, buf, n);
    free(buf);
  }
  sink_end(&out);
  *sent = out.bytes;
  /* A server that answered early (403) and closed makes the send fail: its answer says why. */
  return http_answer(fd, out.error ? net_error(out.error) : NULL);
}

/* PUTs the first `size` bytes of the device chunked to the URL, zstd at `level`, checksumming them. */
static int http_capture(const char *text, const char *path, uint64_t size, XXH64_state_t *sum, int level, uint64_t *bytes, uint64_t *sent) {
  struct url u;
  parse_url(text, &u);
  int fd = http_connect(&u, PUT_TIMEOUT_S);
  http_head(fd, "PUT", &u, "Transfer-Encoding: chunked");
  struct sink out = {.fd = fd, .chunked = 1};
  *bytes = capture_stream(path, size, sum, &out, level);
  sink_end(&out);
  *sent = out.bytes;
  return http_answer(fd, out.error ? net_error(out.error) : NULL);
}

/* Parses a byte count argument. */
static uint64_t parse_size(const char *text) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end || end == text) fail("'%s' is not a byte count", text);
  return v;
}

/* Parses a zstd level argument (1..19), the default when absent. */
static int parse_level(const char *text) {
  int level = text ? atoi(text) : DEFAULT_LEVEL;
  if (level < 1 || level > ZSTD_maxCLevel()) fail("'%s' is not a zstd level (1..%d)", text, ZSTD_maxCLevel());
  return level;
}

static int usage(void) {
  fputs("usage: anvil-agent-io zstd-decompress | zstd-compress [LEVEL] | write FILE [zstd] | post URL | put URL |\n"
        "       capture DEVICE SIZE URL [LEVEL] | sha256 FILE SIZE\n",
        stderr);
  return 2;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN); /* a closed pipe or socket is an error return, reported as such */
  if (argc < 2) return usage();
  const char *cmd = argv[1];
  what = cmd;
  if (strcmp(cmd, "zstd-decompress") == 0 && argc == 2) return write_out(NULL, 1);
  if (strcmp(cmd, "write") == 0 && (argc == 3 || (argc == 4 && strcmp(argv[3], "zstd") == 0))) return write_out(argv[2], argc == 4);
  if (strcmp(cmd, "zstd-compress") == 0 && argc <= 3) {
    struct source src = {.fd = 0, .left = UINT64_MAX};
    struct sink out = {.fd = 1};
    compress(&src, &out, parse_level(argv[2]), "stdin");
    if (out.error) fail("write stdout: %s", strerror(out.error));
    return 0;
  }
  if (strcmp(cmd, "post") == 0 && argc == 3) {
    what = argv[2];
    return http_post(argv[2]);
  }
  if (strcmp(cmd, "put") == 0 && argc == 3) {
    struct source src = {.fd = 0, .left = UINT64_MAX};
    uint64_t sent;
    what = argv[2];
    return http_put(argv[2], &src, 0, "stdin", &sent);
  }
  if (strcmp(cmd, "capture") == 0 && (argc == 5 || argc == 6)) {
    uint64_t size = parse_size(argv[3]), bytes = 0, sent = 0;
    int level = parse_level(argv[5]);
    XXH64_state_t *sum = XXH64_createState();
    if (!sum || XXH64_reset(sum, 0) != XXH_OK) fail("out of memory");
    what = argv[4];
    /* The answer's body is printed as it comes; the agent's own figures follow it. */
    int status = http_capture(argv[4], argv[2], size, sum, level, &bytes, &sent);
    /* 16 hex digits, most significant first: what xxhsum prints (XXH64's canonical form). */
    printf("capture.xxh64=%016llx\ncapture.bytes=%llu\ncapture.sent=%llu\n", (unsigned long long)XXH64_digest(sum), (unsigned long long)bytes,
           (unsigned long long)sent);
    return status;
  }
  if (strcmp(cmd, "sha256") == 0 && argc == 4) {
    SHA256_CTX hash;
    struct source src;
    SHA256_Init(&hash);
    source_open(&src, argv[2], parse_size(argv[3]), &hash);
    uint8_t *buf = aligned_alloc(4096, BLOCK);
    if (!buf) fail("out of memory");
    while (source_read(&src, buf, BLOCK, argv[2]) > 0) {
    }
    char hex[65];
    sha256_hex(&hash, hex);
    printf("%s\n", hex);
    return 0;
  }
  return usage();
}
