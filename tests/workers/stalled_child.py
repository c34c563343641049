#!/usr/bin/python3
"""A device in a process of its own, for tests/workers/test_workers.py: the
test stops it (SIGSTOP) so that its connection is half dead, and resumes it
later to see how its calls ended.

Connects as DEVICE_ID, presses Mode until the LEDs show MODE, presses Play,
prints "READY mode=MODE" once audio flows, then waits for its three calls to
end and prints "ENDED status=CODE event=CODE audio=CODE" (codes by name).

usage: stalled_child.py TARGET DEVICE_ID MODE
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interop"))
import opal_client as oc  # noqa: E402

CALLS = ("status", "event", "audio")


def main():
    target, device_id, mode = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c = oc.OpalClient(target, device_id)
    if not c.wait_sets(1, 10):
        print("NO-SET %r" % (c.ended,), flush=True)
        return 1
    for _ in range(len(oc.MODE_MARKS)):
        if oc.pattern_state(c.leds) == ("idle", mode):
            break
        n = len(c.sets)
        if not c.press(oc.MODE):
            print("MODE-NACK", flush=True)
            return 1
        c.wait_for(lambda: len(c.sets) > n, 5)
    if oc.pattern_state(c.leds) != ("idle", mode):
        print("NO-MODE %s" % oc.describe_pattern(c.leds), flush=True)
        return 1
    if not c.press(oc.PLAY):
        print("PLAY-NACK", flush=True)
        return 1
    if not c.wait_for(lambda: len(c.packets) >= 5, 10):
        print("NO-AUDIO %r" % (c.ended,), flush=True)
        return 1
    print("READY mode=%d" % mode, flush=True)
    ends = c.wait_ended(list(CALLS), 600)
    print("ENDED " + " ".join("%s=%s" % (k, ends[k].code.name if ends[k] and ends[k].code else None)
                              for k in CALLS), flush=True)
    time.sleep(600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
