"""Runs a command and kills it when the test process (our parent) goes away or on SIGTERM.

Usage: supervise.py LOGFILE -- COMMAND ARGS...
"""
import os, signal, subprocess, sys, time

log = open(sys.argv[1], "ab")
child = subprocess.Popen(sys.argv[3:], stdout=log, stderr=log)
parent = os.getppid()


def stop(*_):
    child.kill()
    child.wait()
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while child.poll() is None:
    if os.getppid() != parent:
        stop()
    time.sleep(0.3)
sys.exit(child.returncode)
