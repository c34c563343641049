/* PortAudio's own libraries, ALSA and JACK, made to behave in our
 * process: their device-probing noise goes to the debug log instead of
 * stderr, and ALSA's plugins stay loaded until exit so LeakSanitizer does
 * not blame us for what their constructors keep. Internal to
 * audio_out_portaudio.c. */
#ifndef OPAL_PORTAUDIO_LIBS_H
#define OPAL_PORTAUDIO_LIBS_H

/* Routes ALSA's and JACK's own error printing to the debug log.
 * Idempotent; safe to call before Pa_Initialize. */
void pa_out_quiet_libraries(void);

/* Keeps every ALSA plugin loaded now mapped until exit. Call after
 * anything that may have loaded some (Pa_Initialize, opening a stream)
 * and before Pa_Terminate. */
void pa_out_pin_alsa_plugins(void);

#endif
