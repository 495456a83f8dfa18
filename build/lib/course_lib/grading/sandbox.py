"""The sandbox a submission's kernel runs in while it is graded.

On Linux with bubblewrap (Debian's `bubblewrap` package), each kernel gets:
- its own network namespace: its own loopback, so parallel submissions never collide on ports and
  nothing beyond loopback is reachable; the kernel talks to the grader over Unix sockets (IPC) in a
  private folder, not TCP;
- its own PID namespace: it cannot see or signal other submissions' processes, and everything it
  started dies with it;
- a read-only view of only what it needs: the system's libraries, Python, the installed packages,
  course_lib; the only writable places are its own job folder (its notebook) and a private /tmp. The
  source notebooks, solutions, hidden tests, other submissions and the gradebook are not there at all
  (the job's own gradebook copy is mounted read-only);
- resource limits (address space, file size, processes where they apply) set by `limited` below.

Where bubblewrap is missing or cannot run (macOS, Windows, a container without namespaces), grading
still works with a plain kernel, and `socket-course grade` prints a warning saying so.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

KERNEL_NAME = "socket-course-sandbox"
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for a kernel
FILE_LIMIT = 64 * 1024**2  # largest file a kernel may write
PROCESS_LIMIT = 256  # processes (where the platform applies it: not to root)
ETC_FILES = ("hosts", "services", "protocols", "nsswitch.conf", "host.conf", "resolv.conf", "passwd", "group",
             "ld.so.cache", "ld.so.conf", "localtime", "gai.conf")


@functools.cache
def bwrap_path() -> str | None:
    """bubblewrap's path if it is installed and can create the namespaces we need, else None."""
    path = shutil.which("bwrap")
    if not path or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
                                "--dev", "/dev", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def unavailable_reason() -> str:
    if not sys.platform.startswith("linux"):
        return f"sandboxing needs Linux (this is {sys.platform})"
    if not shutil.which("bwrap"):
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    return "bubblewrap cannot create namespaces here (user namespaces disabled?)"


def _python_roots() -> list[str]:
    """Folders holding the interpreter and every installed package, including editable ones."""
    import site

    roots = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for path in [*site.getsitepackages(), site.getusersitepackages()]:
        if os.path.isdir(path):
            roots.add(path)
    course_lib = Path(__file__).resolve().parents[1]
    roots.add(str(course_lib))  # course_lib itself, not the repository around it (notebooks, tests)
    return sorted(roots)


def kernel_argv(job_root: Path, ipc_dir: Path) -> list[str]:
    """The command that starts one sandboxed kernel for the job in `job_root`."""
    bwrap = bwrap_path()
    assert bwrap, "kernel_argv needs bubblewrap"
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--setenv", "HOME", "/tmp", "--setenv", "IPYTHONDIR", "/tmp/.ipython",
            "--setenv", "MPLCONFIGDIR", "/tmp"]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        argv += ["--ro-bind-try", top, top]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        argv += ["--ro-bind", root, root]
    argv += ["--bind", str(job_root), str(job_root)]
    gradebook = job_root / "gradebook.db"
    if gradebook.exists():
        argv += ["--ro-bind", str(gradebook), str(gradebook)]
    argv += ["--bind", str(ipc_dir), str(ipc_dir)]
    # ipykernel would watch for its parent by pid, which a PID namespace hides: --die-with-parent does it.
    argv += ["--unsetenv", "JPY_PARENT_PID"]
    argv += ["--", sys.executable, "-m", "course_lib.grading.sandbox", "-f", "{connection_file}"]
    return argv


def install_kernelspec(job_root: Path, ipc_dir: Path) -> Path:
    """Write a kernelspec for the sandboxed kernel; return the folder to put on JUPYTER_PATH."""
    data = job_root / ".jupyter"
    spec = data / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": kernel_argv(job_root, ipc_dir), "display_name": "socket-course (sandboxed)", "language": "python",
        # a signal to the launcher would stop at bubblewrap; a message reaches the kernel itself
        "interrupt_mode": "message",
    }))
    return data


def limited() -> None:
    """Apply the resource limits to this process (the kernel, about to start)."""
    try:
        import resource
    except ImportError:  # Windows
        return
    for name, value in (("RLIMIT_AS", MEMORY_LIMIT), ("RLIMIT_FSIZE", FILE_LIMIT), ("RLIMIT_NPROC", PROCESS_LIMIT),
                        ("RLIMIT_CORE", 0)):
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))
        except (ValueError, OSError):
            pass


if __name__ == "__main__":  # the kernel launcher inside the sandbox
    limited()
    import runpy

    sys.argv = ["ipykernel_launcher", *sys.argv[1:]]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
