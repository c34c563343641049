#define _DEFAULT_SOURCE /* TIOCGWINSZ */

#include "term/term_frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FRAME_CAP 32768
#define DEFAULT_WIDTH 80
#define DEFAULT_HEIGHT 24

bool term_frame_init(term_frame *f, int out_fd, const term_style *style) {
  *f = (term_frame){.out_fd = out_fd, .style = *style};
  f->frame = malloc(FRAME_CAP);
  f->last_frame = malloc(FRAME_CAP);
  if (!f->frame || !f->last_frame) {
    term_frame_free(f);
    return false;
  }
  return true;
}

void term_frame_free(term_frame *f) {
  free(f->frame);
  free(f->last_frame);
  f->frame = f->last_frame = NULL;
}

bool term_write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if (poll(&p, 1, 1000) <= 0) return false; /* stalled: drop the rest of this frame */
    } else if (n < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

bool term_frame_measure(term_frame *f) {
  struct winsize ws;
  int width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT;
  if (ioctl(f->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    width = ws.ws_col;
    height = ws.ws_row;
  }
  bool full = width != f->width || height != f->height || f->garbled;
  f->width = width;
  f->height = height;
  return full;
}

void term_frame_show(term_frame *f, const term_screen *screen, bool full) {
  size_t len = term_render_screen(f->frame, FRAME_CAP, screen, &f->style, f->width, f->height);
  if (len == 0) return;
  if (!full && len == f->last_len && memcmp(f->frame, f->last_frame, len) == 0) return;
  bool ok = true;
  if (full) ok = term_write_all(f->out_fd, "\x1B[2J", 4);
  if (ok) ok = term_write_all(f->out_fd, f->frame, len);
  f->garbled = !ok;
  memcpy(f->last_frame, f->frame, len);
  f->last_len = len;
}
