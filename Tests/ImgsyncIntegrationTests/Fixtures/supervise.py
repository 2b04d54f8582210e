"""Runs a command that dies with this supervisor, which dies with the test process (our parent).

Usage: supervise.py LOGFILE -- COMMAND ARGS...
The child gets PR_SET_PDEATHSIG(SIGKILL), so killing the supervisor (SIGKILL included) kills it.
"""
import ctypes, os, signal, subprocess, sys, time

libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


log = open(sys.argv[1], "ab")
child = subprocess.Popen(sys.argv[3:], stdout=log, stderr=log, preexec_fn=die_with_parent)
parent = os.getppid()
while child.poll() is None:
    if os.getppid() != parent:
        child.kill()
        break
    time.sleep(0.3)
sys.exit(0)
