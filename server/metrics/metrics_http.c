#include "metrics/metrics_http.h"

#include <errno.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_args.h"
#include "metrics/prom_text.h"

/* Scrapers are few; a client that opens more, or sits idle, is not let
 * hold the thread. */
#define METRICS_HTTP_MAX_CLIENTS 32
#define METRICS_HTTP_TIMEOUT_S 10

struct metrics_http {
  struct MHD_Daemon *daemon;
  int fd;
  int port;
  char host[256];
  metrics_page_sources src;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
  enum MHD_Result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text) {
  char *body = strdup(text);
  if (!body) return MHD_NO;
  return reply(conn, status, "text/plain; charset=utf-8", body, strlen(body));
}

/* MHD_AccessHandlerCallback: requests without a body, answered at once. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version, (void)upload_data, (void)con_cls;
  const metrics_http *h = cls;
  if (*upload_data_size) return MHD_NO; /* a body to /metrics: not ours to read */
  if (strcmp(url, "/metrics") != 0) return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n");
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
  size_t len;
  char *page = metrics_page_write(&h->src, &len);
  if (!page) return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
  return reply(conn, MHD_HTTP_OK, PROM_TEXT_CONTENT_TYPE, page, len);
}

/* A listening socket on the first address `host` resolves to; -1 with a
 * line in `err`. Bound here rather than by libmicrohttpd so that a port
 * in use is named as such. */
static int listen_on(metrics_http *h, const char *address, int port, char *err, size_t err_len) {
  char port_text[8];
  snprintf(port_text, sizeof port_text, "%d", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *list;
  int gai = getaddrinfo(h->host, port_text, &hints, &list);
  if (gai != 0) {
    snprintf(err, err_len, "--metrics %s: cannot resolve %s (%s)", address, h->host,
             gai_strerror(gai));
    return -1;
  }
  int fd = socket(list->ai_family, list->ai_socktype | SOCK_CLOEXEC, list->ai_protocol);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, list->ai_addr, list->ai_addrlen) != 0 || listen(fd, 64) != 0) {
    snprintf(err, err_len, "--metrics %s: cannot listen there: %s", address, strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(list);
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

metrics_http *metrics_http_start(const char *address, const metrics_page_sources *src, char *err,
                                 size_t err_len) {
  metrics_http *h = calloc(1, sizeof *h);
  if (!h) {
    snprintf(err, err_len, "--metrics %s: out of memory", address);
    return NULL;
  }
  h->src = *src;
  const char *why = cli_split_host_port(address, h->host, sizeof h->host, &h->port);
  if (why) {
    snprintf(err, err_len, "--metrics %s: %s", address, why);
    free(h);
    return NULL;
  }
  if ((h->fd = listen_on(h, address, h->port, err, err_len)) < 0) {
    free(h);
    return NULL;
  }
  h->port = bound_port(h->fd);
  h->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, 0, NULL, NULL, on_request, h,
      MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)METRICS_HTTP_MAX_CLIENTS, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)METRICS_HTTP_TIMEOUT_S, MHD_OPTION_END);
  if (!h->daemon) {
    snprintf(err, err_len, "--metrics %s: cannot start the HTTP server (libmicrohttpd)", address);
    close(h->fd);
    free(h);
    return NULL;
  }
  return h;
}

int metrics_http_port(const metrics_http *h) { return h->port; }

void metrics_http_bound(const metrics_http *h, char *out, size_t len) {
  bool v6 = strchr(h->host, ':') != NULL;
  snprintf(out, len, v6 ? "[%s]:%d" : "%s:%d", h->host, h->port);
}

void metrics_http_stop(metrics_http *h) {
  if (!h) return;
  /* Quiescing hands the listening socket back (MHD_USE_ITC makes that
   * possible with its own thread), so it is closed once, here. */
  MHD_socket fd = MHD_quiesce_daemon(h->daemon);
  MHD_stop_daemon(h->daemon);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  free(h);
}
