#include "sounds/sound_library.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sounds/ogg_opus_reader.h"
#include "sounds/pcm_encoder.h"
#include "sounds/sound_repacketize.h"

/* The mode a file name claims ("3-beat.flac" -> 3), or -1 if it claims none. */
static int mode_of(const char *name) {
  if (!isdigit((unsigned char)name[0])) return -1;
  char *end;
  long mode = strtol(name, &end, 10);
  if (*end != '-' || mode > 1000) return -1;
  return (int)mode;
}

static bool is_ogg_opus(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (strcasecmp(dot, ".opus") == 0 || strcasecmp(dot, ".ogg") == 0);
}

static int load_one(sound *s, const char *dir, const char *name, char *err,
                    size_t err_len) {
  char path[4096], reason[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int rc = is_ogg_opus(name) ? ogg_opus_read(path, s, reason, sizeof reason)
                             : pcm_file_encode(path, s, reason, sizeof reason);
  if (rc == 0 && s->count == 0) {
    snprintf(reason, sizeof reason, "no audio");
    rc = -1;
  }
  if (rc != 0) {
    snprintf(err, err_len, "sound file %s: %s", path, reason);
    return -1;
  }
  sound_fit(s); /* kept for the server's life */
  s->name = strdup(name);
  if (!s->name) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  return 0;
}

/* Records which file claims which mode; rejects two claims on one mode. */
static int claim(char *names[], int mode, const char *name, const char *dir,
                 char *err, size_t err_len) {
  if (mode >= SOUND_LIBRARY_MAX_MODES) {
    snprintf(err, err_len,
             "assets folder %s: %s is for mode %d, but at most %d modes are "
             "supported (modes 0-%d: the LEDs tell that many apart)",
             dir, name, mode, SOUND_LIBRARY_MAX_MODES, SOUND_LIBRARY_MAX_MODES - 1);
    return -1;
  }
  if (names[mode]) {
    snprintf(err, err_len, "assets folder %s: both %s and %s claim mode %d", dir,
             names[mode], name, mode);
    return -1;
  }
  names[mode] = strdup(name);
  if (!names[mode]) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  return 0;
}

static int scan(const char *dir, char *names[], char *err, size_t err_len) {
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, err_len, "assets folder %s: %s", dir, strerror(errno));
    return -1;
  }
  int rc = 0;
  struct dirent *entry;
  while (rc == 0 && (entry = readdir(d)) != NULL) {
    int mode = mode_of(entry->d_name);
    if (mode >= 0) rc = claim(names, mode, entry->d_name, dir, err, err_len);
  }
  closedir(d);
  return rc;
}

/* Modes must run 0, 1, 2, ... with no gap. */
static int count_modes(char *names[], const char *dir, unsigned *count, char *err,
                       size_t err_len) {
  unsigned n = 0;
  while (n < SOUND_LIBRARY_MAX_MODES && names[n]) n++;
  for (unsigned m = n + 1; m < SOUND_LIBRARY_MAX_MODES; m++) {
    if (names[m]) {
      snprintf(err, err_len, "assets folder %s: %s is for mode %u, but mode %u has no sound",
               dir, names[m], m, n);
      return -1;
    }
  }
  if (n == 0) {
    snprintf(err, err_len,
             "assets folder %s: no mode sounds (expected files named "
             "0-name.opus, 1-name.wav, ...)",
             dir);
    return -1;
  }
  *count = n;
  return 0;
}

int sound_library_load(sound_library *lib, const char *dir, char *err,
                       size_t err_len) {
  memset(lib, 0, sizeof *lib);
  char *names[SOUND_LIBRARY_MAX_MODES] = {0};
  unsigned count = 0;
  int rc = scan(dir, names, err, err_len);
  if (rc == 0) rc = count_modes(names, dir, &count, err, err_len);
  for (unsigned m = 0; rc == 0 && m < count; m++)
    rc = load_one(&lib->sounds[m], dir, names[m], err, err_len);
  for (unsigned m = 0; m < SOUND_LIBRARY_MAX_MODES; m++) free(names[m]);
  lib->mode_count = count;
  if (rc != 0) sound_library_clear(lib);
  return rc;
}

int sound_library_add_larger_packets(sound_library *lib, unsigned max_ms, char *err,
                                     size_t err_len) {
  char reason[256];
  for (unsigned m = 0; m < lib->mode_count; m++) {
    sound *s = &lib->sounds[m];
    if (sound_add_larger_packets(s, max_ms, reason, sizeof reason) != 0) {
      snprintf(err, err_len, "sound %s: larger packets: %s", s->name, reason);
      return -1;
    }
  }
  return 0;
}

size_t sound_library_bytes(const sound_library *lib) {
  size_t n = 0;
  for (unsigned m = 0; m < lib->mode_count; m++) n += sound_bytes(&lib->sounds[m]);
  return n;
}

void sound_library_clear(sound_library *lib) {
  for (unsigned m = 0; m < SOUND_LIBRARY_MAX_MODES; m++) sound_clear(&lib->sounds[m]);
  lib->mode_count = 0;
}
