#!/usr/bin/python3
"""Helper for the interop test's killed-client case: connects as one device,
switches to the given mode, presses Play, prints STREAMING once audio flows,
then waits to be killed.

usage: device_child.py TARGET DEVICE_ID MODE
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opal_client as oc  # noqa: E402


def main():
    target, device_id, mode = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c = oc.OpalClient(target, device_id)
    if not c.wait_sets(1, 10):
        print("NO-SET %r" % (c.ended,), flush=True)
        return 1
    for _ in range(mode):
        if not c.press(oc.MODE):
            print("MODE-NACK", flush=True)
            return 1
    if not c.press(oc.PLAY):
        print("PLAY-NACK", flush=True)
        return 1
    if not c.wait_for(lambda: len(c.packets) >= 10, 10):
        print("NO-AUDIO %r" % (c.ended,), flush=True)
        return 1
    print("STREAMING %d packets" % len(c.packets), flush=True)
    time.sleep(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
