#!/usr/bin/env bash
# Regenerate the bundled Opal mode sounds from scratch.
#
# Everything is synthesised locally with sox (synth effect), espeak-ng
# (spoken mode announcement) and opusenc (Ogg Opus encoding), so the output
# contains no third-party recordings and can be freely redistributed
# (see README.md in this directory: CC0 / public domain).
#
# Requirements (Debian): sox libsox-fmt-all espeak-ng opus-tools
#
# Output (written next to this script):
#   0-chime.opus    ~3 s   Ogg Opus, 48 kHz mono   "Mode zero" + rising chime
#   1-pluck.opus    ~10 s  Ogg Opus, 48 kHz mono   "Mode one"  + plucked melody
#   2-drone.opus    ~80 s  Ogg Opus, 48 kHz mono   "Mode two"  + ambient chord pad
#   3-beat.flac     ~10 s  FLAC 44.1 kHz 16-bit mono "Mode three" + drum beat
#   4-siren.wav     ~8 s   WAV PCM 16 kHz 16-bit mono "Mode four" + siren sweep
#
# The output is deterministic: sox runs in repeatable mode (-R, fixed seeds for
# pluck/noise/dither) and opusenc gets a fixed stream serial number.
set -euo pipefail

export LC_ALL=C   # awk/printf decimal points, stable sorting
ASSETS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in sox espeak-ng opusenc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make-sounds.sh: '$tool' not found (apt-get install sox libsox-fmt-all espeak-ng opus-tools)" >&2
        exit 1
    fi
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/opal-sounds.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# sox wrapper: repeatable mode, no progress display, warnings only.
SOX=(sox -R -V2 --no-show-progress)
# Intermediate files: 32-bit so mixing/scaling does not lose precision.
INT=(-b 32 -e signed-integer)
PEAK_DB=-3   # final peak level (dBFS)

# voice RATE OUT TEXT...: espeak-ng announcement, leading/trailing silence
# trimmed, resampled to RATE, mono, peak-normalised to -1 dBFS.
voice() {
    local rate="$1" out="$2"; shift 2
    espeak-ng -v en -s 150 -p 45 -a 180 -w "$TMP/espeak-raw.wav" "$*"
    "${SOX[@]}" "$TMP/espeak-raw.wav" "${INT[@]}" -r "$rate" -c 1 "$out" \
        silence 1 0.005 0.5% reverse silence 1 0.005 0.5% reverse \
        pad 0.02 0 gain -6 rate -v "$rate" gain -n -1
}

# duration FILE: length in seconds.
duration() { soxi -D "$1"; }

# silence RATE LEN OUT
silence_file() {
    "${SOX[@]}" -r "$1" -n "${INT[@]}" -r "$1" -c 1 "$3" trim 0 "$2"
}

# mix_at OUT FILE1 OFFSET1 FILE2 OFFSET2 ...: mix several mono files, each
# delayed by its offset (seconds), and normalise the sum to -1 dBFS.
# (sox -m scales each input by 1/n, so the sum never clips; the 32-bit
# intermediates keep the precision and gain -n restores the level.)
mix_at() {
    local out="$1"; shift
    local inputs=() n=0
    while [ "$#" -gt 0 ]; do
        local f="$1" off="$2"; shift 2
        local p="$TMP/mixin-$n.wav"
        "${SOX[@]}" "$f" "${INT[@]}" "$p" pad "$off" 0
        inputs+=("$p")
        n=$((n + 1))
    done
    if [ "$n" -eq 1 ]; then
        "${SOX[@]}" "${inputs[0]}" "${INT[@]}" "$out" gain -n -1
    else
        "${SOX[@]}" -m "${inputs[@]}" "${INT[@]}" "$out" gain -n -1
    fi
    rm -f "$TMP"/mixin-*.wav
}

# encode_opus IN.wav OUT.opus TITLE: 48 kHz mono -> Ogg Opus, 20 ms frames.
encode_opus() {
    opusenc --quiet --bitrate 32 --framesize 20 --downmix-mono --serial 1 \
        --title "$3" --artist "Opal (synthesised, CC0)" \
        "$1" "$2"
}

# ---------------------------------------------------------------------------
# Mode 0: "Mode zero" + bright rising arpeggio chime (short, ~3 s)
# ---------------------------------------------------------------------------
make_mode0() {
    local r=48000
    voice "$r" "$TMP/v0.wav" "Mode zero"
    # Bell-ish note: fundamental + octave + twelfth, fast attack, decaying tail.
    local args=() i=0 f
    for f in 523.25 659.26 783.99 1046.50 1318.51 1567.98; do
        local f2 f3
        f2=$(awk -v f="$f" 'BEGIN{printf "%.2f", f*2}')
        f3=$(awk -v f="$f" 'BEGIN{printf "%.2f", f*3}')
        "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 3 "$TMP/n0-$i.raw.wav" \
            synth 1.3 sine "$f" sine "$f2" sine "$f3"
        "${SOX[@]}" "$TMP/n0-$i.raw.wav" "${INT[@]}" "$TMP/n0-$i.wav" \
            remix 1v0.55,2v0.25,3v0.1 fade q 0.004 1.3 1.25 fade t 0 1.3 1.3
        args+=("$TMP/n0-$i.wav" "$(awk -v i="$i" 'BEGIN{printf "%.3f", i*0.11}')")
        i=$((i + 1))
    done
    mix_at "$TMP/m0.wav" "${args[@]}"
    silence_file "$r" 0.08 "$TMP/gap0.wav"
    "${SOX[@]}" "$TMP/v0.wav" "$TMP/gap0.wav" "$TMP/m0.wav" -b 16 "$TMP/mode0.wav" \
        gain -n "$PEAK_DB"
    encode_opus "$TMP/mode0.wav" "$ASSETS_DIR/0-chime.opus" "Opal mode 0: chime"
}

# ---------------------------------------------------------------------------
# Mode 1: "Mode one" + plucked melody (~10 s)
# ---------------------------------------------------------------------------
make_mode1() {
    local r=48000
    voice "$r" "$TMP/v1.wav" "Mode one"
    # Note names (sox scientific notation) and start times in beats.
    # 0.42 s per beat (~143 bpm), a small pentatonic tune in G major.
    local beat=0.42
    local melody=(
        "G3 0"   "D4 1"   "G4 2"   "B4 3"
        "A4 4"   "G4 5"   "E4 6"   "D4 7"
        "E4 8"   "G4 9"   "A4 10"  "D5 11"
        "B4 12"  "A4 13"  "G4 14"  "G3 14"
        "D4 15"  "B4 16"  "G4 16"  "D4 16"  "G3 16"
    )
    local args=() i=0 item note pos
    for item in "${melody[@]}"; do
        read -r note pos <<<"$item"
        "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 1 "$TMP/n1-$i.wav" \
            synth 1.6 pluck "$note" fade t 0 1.6 0.6 gain -3
        args+=("$TMP/n1-$i.wav" "$(awk -v p="$pos" -v b="$beat" 'BEGIN{printf "%.3f", p*b}')")
        i=$((i + 1))
    done
    mix_at "$TMP/m1.wav" "${args[@]}"
    silence_file "$r" 0.15 "$TMP/gap1.wav"
    "${SOX[@]}" "$TMP/v1.wav" "$TMP/gap1.wav" "$TMP/m1.wav" -b 16 "$TMP/mode1.wav" \
        gain -n "$PEAK_DB"
    encode_opus "$TMP/mode1.wav" "$ASSETS_DIR/1-pluck.opus" "Opal mode 1: pluck"
}

# ---------------------------------------------------------------------------
# Mode 2: "Mode two" + long calm chord pad with slow tremolo (~80 s)
# The pad starts under the end of the announcement and never goes quiet,
# so there is no silent 1-second window anywhere.
# ---------------------------------------------------------------------------
make_mode2() {
    local r=48000
    voice "$r" "$TMP/v2.wav" "Mode two"
    # Four chords, each 21.5 s long, starting every 19.5 s (2 s cross-fades).
    # Each note is a pair of slightly detuned sines, giving a slow beating.
    local chords=(
        "110.00 164.81 220.00 261.63 329.63 493.88"   # Am(add9)
        "87.31 130.81 174.61 220.00 261.63 329.63"    # Fmaj7
        "130.81 196.00 261.63 329.63 392.00 493.88"   # Cmaj7
        "98.00 146.83 196.00 246.94 293.66 440.00"    # G(add9)
    )
    local seg=21.5 step=19.5 xf=2
    local args=() i=0 chord
    for chord in "${chords[@]}"; do
        local synth_args=() nch=0 f
        for f in $chord; do
            synth_args+=(sine "$f" sine "$(awk -v f="$f" 'BEGIN{printf "%.3f", f*1.004}')")
            nch=$((nch + 2))
        done
        local fin=$xf fout=$xf
        [ "$i" -eq 0 ] && fin=0.6
        [ "$i" -eq $((${#chords[@]} - 1)) ] && fout=0.8
        "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c "$nch" "$TMP/c2-$i.raw.wav" \
            synth "$seg" "${synth_args[@]}"
        "${SOX[@]}" "$TMP/c2-$i.raw.wav" "${INT[@]}" "$TMP/c2-$i.wav" \
            remix - lowpass 1800 fade h "$fin" "$seg" "$fout"
        rm -f "$TMP/c2-$i.raw.wav"
        args+=("$TMP/c2-$i.wav" "$(awk -v i="$i" -v s="$step" 'BEGIN{printf "%.3f", i*s}')")
        i=$((i + 1))
    done
    mix_at "$TMP/pad2.wav" "${args[@]}"
    # Slow tremolo (0.2 Hz, 35 % depth) and a little room.
    "${SOX[@]}" "$TMP/pad2.wav" "${INT[@]}" "$TMP/pad2t.wav" \
        tremolo 0.2 35 reverb 40 50 80 gain -n -1
    # Pad enters 0.3 s before the voice ends; voice sits on top, pad 6 dB below it.
    local vlen padoff
    vlen=$(duration "$TMP/v2.wav")
    padoff=$(awk -v v="$vlen" 'BEGIN{o=v-0.3; if(o<0)o=0; printf "%.3f", o}')
    "${SOX[@]}" "$TMP/pad2t.wav" "${INT[@]}" "$TMP/pad2d.wav" pad "$padoff" 0
    "${SOX[@]}" "$TMP/v2.wav" "${INT[@]}" "$TMP/v2p.wav" pad 0 1
    "${SOX[@]}" -m -v 0.6 "$TMP/v2p.wav" -v 0.3 "$TMP/pad2d.wav" -b 16 "$TMP/mode2.wav" \
        gain -n "$PEAK_DB"
    encode_opus "$TMP/mode2.wav" "$ASSETS_DIR/2-drone.opus" "Opal mode 2: ambient drone"
}

# ---------------------------------------------------------------------------
# Mode 3: "Mode three" + rhythmic drum beat (~10 s), FLAC 44.1 kHz 16-bit
# ---------------------------------------------------------------------------
make_mode3() {
    local r=44100
    voice "$r" "$TMP/v3.wav" "Mode three"
    # Drum voices.
    "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 1 "$TMP/kick.wav" \
        synth 0.3 sine 160:42 fade q 0.002 0.3 0.28 fade t 0 0.3 0.3 gain -n -1
    "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 2 "$TMP/snare.raw.wav" \
        synth 0.2 whitenoise sine 190
    "${SOX[@]}" "$TMP/snare.raw.wav" "${INT[@]}" "$TMP/snare.wav" \
        remix 1v0.5,2v0.4 highpass 250 lowpass 6000 \
        fade t 0.001 0.2 0.19 fade t 0 0.2 0.2 gain -n -3
    "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 1 "$TMP/hat.wav" \
        synth 0.06 whitenoise gain -6 highpass 7000 fade t 0.001 0.06 0.058 gain -n -10
    "${SOX[@]}" -r "$r" -n "${INT[@]}" -r "$r" -c 1 "$TMP/openhat.wav" \
        synth 0.25 whitenoise gain -6 highpass 6000 fade t 0.001 0.25 0.24 gain -n -11
    # 2 bars of 16 sixteenth steps at 110 bpm, repeated; K=kick S=snare
    # h=closed hat o=open hat.
    local stepdur
    stepdur=$(awk 'BEGIN{printf "%.5f", 60/110/4}')
    local pattern=(
        "K h" "" "h" "" "S h" "" "h" "K"  "K h" "" "K h" "" "S h" "" "h" "o"
        "K h" "" "h" "" "S h" "" "h" "K"  "" "K h" "K h" "" "S h" "S" "S h" "S o"
    )
    local bars=2 args=() b s hit
    for b in $(seq 0 $((bars - 1))); do
        for s in "${!pattern[@]}"; do
            local t
            t=$(awk -v b="$b" -v s="$s" -v d="$stepdur" -v n="${#pattern[@]}" \
                'BEGIN{printf "%.4f", (b*n + s)*d}')
            for hit in ${pattern[$s]}; do
                case "$hit" in
                    K) args+=("$TMP/kick.wav" "$t") ;;
                    S) args+=("$TMP/snare.wav" "$t") ;;
                    h) args+=("$TMP/hat.wav" "$t") ;;
                    o) args+=("$TMP/openhat.wav" "$t") ;;
                esac
            done
        done
    done
    # Final downbeat.
    args+=("$TMP/kick.wav" "$(awk -v d="$stepdur" -v n="${#pattern[@]}" -v b="$bars" 'BEGIN{printf "%.4f", b*n*d}')")
    args+=("$TMP/openhat.wav" "$(awk -v d="$stepdur" -v n="${#pattern[@]}" -v b="$bars" 'BEGIN{printf "%.4f", b*n*d}')")
    mix_at "$TMP/m3.wav" "${args[@]}"
    silence_file "$r" 0.12 "$TMP/gap3.wav"
    "${SOX[@]}" "$TMP/v3.wav" "$TMP/gap3.wav" "$TMP/m3.wav" \
        -r "$r" -c 1 -b 16 "$TMP/mode3.flac" pad 0 0.2 gain -n "$PEAK_DB"
    cp "$TMP/mode3.flac" "$ASSETS_DIR/3-beat.flac"
}

# ---------------------------------------------------------------------------
# Mode 4: "Mode four" + wailing siren (~8 s), WAV 16 kHz 16-bit
# ---------------------------------------------------------------------------
make_mode4() {
    local r=16000
    voice "$r" "$TMP/v4.wav" "Mode four"
    # Wailing siren: the frequency glides smoothly between 700 and 1400 Hz
    # (raised-cosine sweep, 1.8 s period, 4 periods) with a 2nd harmonic.
    # The phase is integrated sample by sample (awk writes sox's .dat text
    # format), so the tone is continuous and click-free.
    local siren_len=7.2
    awk -v sr="$r" -v len="$siren_len" -v period=1.8 'BEGIN {
        pi = atan2(0, -1); n = int(len * sr + 0.5); ph = 0
        printf "; Sample Rate %d\n; Channels 1\n", sr
        for (i = 0; i < n; i++) {
            t = i / sr
            f = 1050 - 350 * cos(2 * pi * t / period)
            printf "%.6f %.6f\n", t, 0.65 * sin(2 * pi * ph) + 0.25 * sin(4 * pi * ph)
            ph += f / sr; ph -= int(ph)
        }
    }' >"$TMP/siren.dat"
    "${SOX[@]}" "$TMP/siren.dat" "${INT[@]}" "$TMP/m4.wav" fade t 0.05 "$siren_len" 0.3
    silence_file "$r" 0.15 "$TMP/gap4.wav"
    "${SOX[@]}" "$TMP/v4.wav" "$TMP/gap4.wav" "$TMP/m4.wav" \
        -r "$r" -c 1 -b 16 -e signed-integer "$TMP/mode4.wav" gain -n "$PEAK_DB"
    cp "$TMP/mode4.wav" "$ASSETS_DIR/4-siren.wav"
}

# Remove previously generated mode sounds (only the ones this script owns).
rm -f "$ASSETS_DIR"/0-chime.opus "$ASSETS_DIR"/1-pluck.opus \
      "$ASSETS_DIR"/2-drone.opus "$ASSETS_DIR"/3-beat.flac "$ASSETS_DIR"/4-siren.wav

make_mode0
make_mode1
make_mode2
make_mode3
make_mode4

echo "make-sounds.sh: generated in $ASSETS_DIR:"
for f in 0-chime.opus 1-pluck.opus 2-drone.opus 3-beat.flac 4-siren.wav; do
    printf '  %-14s %8s bytes\n' "$f" "$(wc -c <"$ASSETS_DIR/$f")"
done
