"""Start a sandboxed kernel: `python -m autograder.grader.launch --root|--user -- BWRAP_ARGS -- COMMAND`.

Run as a normal user, this just runs bubblewrap, which makes the kernel's user namespace
itself (`--unshare-user --disable-userns`). Run as root, bubblewrap alone would leave the
kernel the host's uid 0 inside a namespace, for which the kernel ignores process limits;
so the launcher makes the user namespace: uid 0 in it is root (bubblewrap needs it to set
the sandbox up), uid 65534 in it is the host's unprivileged 65534, new user namespaces are
disabled in it, and the command (setpriv, see sandbox.kernel_argv) drops to 65534 with
every capability gone before the kernel starts. The launcher stays as the kernel's parent:
when it dies, everything in the sandbox dies with it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
NOBODY = 65534


def _fail(message: str) -> None:
    print(f"sandbox launcher: {message}", file=sys.stderr)
    sys.exit(70)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in ("--root", "--user") or argv[1] != "--" or "--" not in argv[2:]:
        _fail("usage: launch --root|--user -- BWRAP_ARGS -- COMMAND")
    bwrap = argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # the grading worker dies: so does the kernel
    if os.getppid() == 1:
        sys.exit(70)                              # it died before we could say so
    if argv[0] == "--user":      # bubblewrap makes the user namespace itself
        os.execvp(bwrap[0], bwrap)
    os.setgroups([])
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if libc.unshare(CLONE_NEWUSER) != 0:
            os.write(2, b"sandbox launcher: cannot create a user namespace\n")
            os._exit(71)
        os.write(ready_w, b"1")
        if os.read(go_r, 1) != b"1":
            os._exit(72)
        try:   # no user namespaces below this one: the sandbox cannot undo it (no caps)
            with open("/proc/sys/user/max_user_namespaces", "w") as f:
                f.write("0")
        except OSError:
            os.write(2, b"sandbox launcher: cannot disable nested user namespaces\n")
            os._exit(73)
        os.execvp(bwrap[0], bwrap)
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) != b"1":
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status) or 71)
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"0 0 1\n{NOBODY} {NOBODY} 1\n")
    except OSError as err:
        os.kill(pid, signal.SIGKILL)
        _fail(f"cannot map the sandbox's users: {err}")
    os.write(go_w, b"1")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
