"""Run a job's command with its dataset folders read-only:
``python readonly_exec.py --ro PATH [--ro PATH ...] -- COMMAND...``.

Standard library only: engines copy it next to their in-job supervisors (the shared
filesystem), so compute nodes need no aidc install. File modes (0444 files, 0555 folders)
already stop a job that runs as another user than the files' owner; they stop nothing
running as root. So where the command runs as root and may make a mount namespace, each
PATH is bind-mounted read-only onto itself in a private mount namespace of the job's own
and CAP_SYS_ADMIN is dropped from its bounding set, so that the job cannot remount it.
Elsewhere the command is simply exec'd (the modes, and the checksum of every later read,
are the guard). Either way the command replaces this process: same pid, same process group.
"""

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, CAP_SYS_ADMIN = 24, 21


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def read_only_namespace(paths: "list[str]") -> None:
    """Make ``paths`` read-only for this process and its children (root only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]  # fmt: skip
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    # Private first: a bind mount must not propagate back to the node's own namespace.
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for p in paths:
        b = os.fsencode(p)
        _check(libc.mount(b, b, None, MS_BIND | MS_REC, None), f"bind {p}")
        _check(libc.mount(None, b, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), f"ro {p}")
    _check(libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0), "drop CAP_SYS_ADMIN")


def main(args: "list[str]") -> None:
    paths: list[str] = []
    while args and args[0] == "--ro":
        paths.append(args[1])
        args = args[2:]
    if not args or args[0] != "--":
        sys.exit("usage: readonly_exec.py --ro PATH ... -- COMMAND...")
    command = args[1:]
    if paths and os.geteuid() == 0:
        try:
            read_only_namespace(paths)
        except OSError as e:
            print(f"[aidc] datasets are read-only by file mode only: {e}", file=sys.stderr)
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print(f"[aidc] cannot start {command[0]!r}: {e.strerror}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
