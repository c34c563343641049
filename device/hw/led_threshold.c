#include "hw/led_threshold.h"

unsigned led_intensity(uint32_t rgba) {
  unsigned r = (rgba >> 24) & 0xFF, g = (rgba >> 16) & 0xFF, b = (rgba >> 8) & 0xFF;
  unsigned a = rgba & 0xFF;
  unsigned brightest = r > g ? r : g;
  if (b > brightest) brightest = b;
  return (a * brightest + 127) / 255;
}

bool led_is_on(uint32_t rgba, unsigned threshold) { return led_intensity(rgba) > threshold; }
