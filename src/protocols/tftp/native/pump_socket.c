/*
 * The transfer socket and the addresses it talks to: plain BSD sockets, so the pump can
 * answer from its own port (the server's TID, RFC 1350 §4) with sendmsg and recvfrom.
 */
#define _GNU_SOURCE
#include "tftp_pump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pump_open_socket(const struct sockaddr_storage *local, socklen_t local_len, int buffer_bytes) {
  int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* A window of large blocks must not overflow the default buffers (../io.ts); the kernel caps these at its maximum. */
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
  if (bind(fd, (const struct sockaddr *)local, local_len) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

bool pump_parse_address(const char *text, int port, struct sockaddr_storage *out, socklen_t *out_len) {
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  size_t len = strlen(text);
  if (len >= sizeof host || port < 0 || port > 65535) return false;
  memcpy(host, text, len + 1);
  char *scope = strchr(host, '%'); /* fe80::1%eth0, as node:dgram gives link-local peers */
  if (scope != NULL) *scope++ = '\0';
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  if (scope == NULL && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *out_len = sizeof *v4;
    return true;
  }
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1) return false;
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons((uint16_t)port);
  if (scope != NULL) {
    unsigned index = if_nametoindex(scope);
    if (index == 0) {
      char *end;
      unsigned long number = strtoul(scope, &end, 10);
      if (end == scope || *end != '\0') return false;
      index = (unsigned)number;
    }
    v6->sin6_scope_id = index;
  }
  *out_len = sizeof *v6;
  return true;
}
