/* Sounds in progress: starting, ending and pacing them into a device's
 * audio call. Every playing device is on the server's `playing` list and is
 * pumped on each loop tick and after each completed send. */
#ifndef OPAL_PLAYBACK_H
#define OPAL_PLAYBACK_H

#include "devices/device.h"
#include "server.h"

/* Starts the device's current mode's sound from its first packet. */
void playback_start(device *d);

/* Ends the sound in progress: its next packet goes out as is_end, ahead of
 * anything else, and nothing more of it. `reason` is for the log. */
void playback_end(device *d, const char *reason);

/* The audio call went away: forget the sound, nothing more can be sent. */
void playback_abandon(device *d, const char *reason);

/* Sends what is due on the device's audio call, if the call is free. */
void playback_pump(device *d);

/* Pumps every playing device; called on each loop tick. */
void playback_tick(opal_server *s);

#endif
