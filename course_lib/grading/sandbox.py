"""The sandbox a submission's kernel runs in while it is graded.

On Linux with bubblewrap (Debian's `bubblewrap` package), each kernel gets:
- its own network namespace (its own loopback: parallel submissions never collide on ports, nothing
  beyond loopback is reachable) and its own PID namespace (it cannot see or signal other processes, and
  everything it started dies with it); it talks to the grader over Unix sockets (IPC);
- a read-only view of only what it needs: the system's libraries, Python, the installed packages and
  course_lib. The job's folder (submission, gradebook, autograded notebook, feedback), the source
  notebooks and everything else of the grader are not there at all;
- writable places that nothing outside ever reads: its working folder and /tmp are size-limited tmpfs
  that vanish with it; the IPC folder holds only its sockets and is deleted, without following links,
  after the job;
- a minimal environment (`--clearenv`), and, when grading runs as root, a user id of its own (so the
  process limit applies, and the kernel owns nothing of the grader's);
- limits per job: total memory and process count in a cgroup of its own where the system lets us make
  one (cgroup v1 or v2), and resource limits per process (address space, file size, processes) always.

The kernelspec, JUPYTER_PATH and the job's settings live in a folder only the grader can read, so the
unsandboxed grader never loads anything a kernel could have written.

Where bubblewrap is missing or cannot run (macOS, Windows, a container without namespaces), grading
still works with a plain kernel, and `socket-course grade` prints a warning saying so.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "socket-course-sandbox"
MEMORY_LIMIT = 2 * 1024**3  # bytes: a kernel's address space, and a whole job's memory in its cgroup
FILE_LIMIT = 64 * 1024**2  # largest file a kernel may write
TMPFS_SIZE = 64 * 1024**2  # the kernel's /tmp and its working folder, each
PROCESS_LIMIT = 256  # processes and threads of one job
UID_BASE = 200_000  # private user ids for kernels when grading runs as root: UID_BASE + the worker's pid
ETC_FILES = ("hosts", "services", "protocols", "nsswitch.conf", "host.conf", "resolv.conf", "passwd", "group",
             "ld.so.cache", "ld.so.conf", "localtime", "gai.conf")
KERNEL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "IPYTHONDIR": "/tmp/.ipython",
              "MPLCONFIGDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
PASSED_ENV = ("SOCKET_COURSE_TIME_SCALE",)  # the instructor's own settings a kernel may see
# launch.py needs nothing beyond the standard library: run as a file, without site (-S) it starts in a
# fraction of the time (no .pth files, no editable-install finder), twice per kernel when run as root
LAUNCHER = (sys.executable, "-I", "-S", str(Path(__file__).resolve().with_name("launch.py")))


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


@functools.cache
def tmpfs_size_supported() -> bool:
    """bubblewrap 0.7 and later can cap a tmpfs (--size); older ones cannot."""
    bwrap = bwrap_path()
    if not bwrap:
        return False
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--size", "1048576", "--tmpfs", "/tmp", "true"],
                           capture_output=True, timeout=20)
    return probe.returncode == 0


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


def kernel_argv(workdir: Path, ipc_dir: Path, uid: int | None = None, judge_dir: Path | None = None) -> list[str]:
    """bubblewrap's command line for one kernel whose working folder is `workdir` (a path, never mounted).

    With `uid`, bubblewrap runs as the grader (root) so that it can mount what only root may read, and
    the launcher inside the sandbox drops to `uid` before the kernel starts; without, every capability is
    dropped at once.
    """
    bwrap = bwrap_path()
    assert bwrap, "kernel_argv needs bubblewrap"
    size = ["--size", str(TMPFS_SIZE)] if tmpfs_size_supported() else []
    # as root with a private user: no user namespace (the user would not be mapped in it), caps kept for
    # the launcher inside to drop; otherwise every namespace, and no capability at all
    unshare = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
               if uid is not None else ["--unshare-all", "--cap-drop", "ALL"])
    argv = [bwrap, *unshare, "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev", *size, "--perms", "1777", "--tmpfs", "/tmp", "--clearenv"]
    env = dict(KERNEL_ENV, **{k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    for key, value in env.items():
        argv += ["--setenv", key, value]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        argv += ["--ro-bind-try", top, top]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for root in _python_roots():
        argv += ["--ro-bind", root, root]
    argv += [*size, "--perms", "1777", "--tmpfs", str(workdir), "--bind", str(ipc_dir), str(ipc_dir),
             "--chdir", str(workdir)]
    if judge_dir is not None:  # the judge's socket (course_lib.judge): connectable, never writable
        argv += ["--ro-bind", str(judge_dir), str(judge_dir)]
    # folders bubblewrap makes on the way to a mount are private to root: let the kernel's user pass
    mounts = [Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/tmp", "/proc", "/dev",
                                *_python_roots(), *(f"/etc/{name}" for name in ETC_FILES))] + [workdir, ipc_dir]
    mounts += [judge_dir] if judge_dir is not None else []
    between = {parent for m in mounts for parent in m.parents
               if parent != Path("/") and not any(parent == o or o in parent.parents for o in mounts)}
    for folder in sorted(between, key=lambda p: len(p.parts)):
        argv += ["--chmod", "0755", str(folder)]
    if uid is not None:
        return [*argv, "--", *LAUNCHER, "--inner", str(uid)]
    return [*argv, "--", sys.executable, "-m", "ipykernel_launcher"]


def _cgroup_dirs(name: str) -> list[tuple[Path, dict[str, int]]]:
    """Where to make this job's cgroups, with the limits to write: v1 memory and pids, or v2 unified."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    own = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path.lstrip("/")
    base = Path("/sys/fs/cgroup")
    if "memory" in own and "pids" in own:  # v1
        return [(base / "memory" / own["memory"] / name, {"memory.limit_in_bytes": MEMORY_LIMIT}),
                (base / "pids" / own["pids"] / name, {"pids.max": PROCESS_LIMIT})]
    unified = base / own.get("", "")
    try:
        enabled = (unified / "cgroup.subtree_control").read_text().split()
    except OSError:
        return []
    if {"memory", "pids"} <= set(enabled):
        return [(unified / name, {"memory.max": MEMORY_LIMIT, "pids.max": PROCESS_LIMIT})]
    return []


_JAIL: Jail | None = None


def _kernel_manager_base():
    from jupyter_client import AsyncKernelManager

    return AsyncKernelManager


class JailedKernelManager(_kernel_manager_base()):  # type: ignore[misc]
    """jupyter_client's kernel manager, handing the jail's IPC folder back to the kernel's user first.

    A notebook's kernel makes its sockets in the IPC folder, which is then sealed (Jail.seal); the next
    notebook of the same assignment starts a kernel of its own, which must be able to make its sockets.
    When the kernel is gone, the worker gives back its place to run cells (procs.gate_release), if the
    judge's Execute step (course_lib/judge/execute.py) has not already, when the cells and the judge were done.
    """

    async def _async_pre_start_kernel(self, **kw):
        if _JAIL is not None:
            _JAIL.unseal()
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if not restart:
                from .procs import gate_release

                gate_release()

    cleanup_resources = _async_cleanup_resources  # AsyncKernelManager binds its own by value


@dataclass
class Jail:
    """One job's sandbox: its kernelspec, IPC folder, private user and cgroups; `close()` removes them all."""

    workdir: Path
    ipc_dir: Path
    spec_dir: Path
    uid: int | None = None
    cgroups: list[Path] = field(default_factory=list)
    judge_dir: Path | None = None  # where the judge listens: mounted read-only in the jail

    @classmethod
    def create(cls, workdir: Path) -> Jail:
        # named after the worker, so that the parent can clean up after a worker it had to kill
        ipc_dir = Path(tempfile.mkdtemp(prefix=f"sc-{os.getpid()}-", dir="/tmp"))  # short: socket paths are limited
        spec_dir = Path(tempfile.mkdtemp(prefix=f"sc-spec-{os.getpid()}-"))  # mode 700, never mounted
        jail = cls(workdir.resolve(), ipc_dir, spec_dir)
        try:
            jail.judge_dir = Path(tempfile.mkdtemp(prefix=f"sc-{os.getpid()}-judge-", dir="/tmp"))
            if os.geteuid() == 0:
                jail.uid = UID_BASE + os.getpid()
                os.chown(ipc_dir, jail.uid, jail.uid)
                os.chmod(jail.judge_dir, 0o755)  # the kernel's user may connect to a socket in it
            jail._make_cgroups()
            jail._write_spec()
        except BaseException:
            jail.close()
            raise
        return jail

    def _make_cgroups(self) -> None:
        made = []
        for folder, limits in _cgroup_dirs(f"socket-course-{os.getpid()}"):
            try:
                folder.mkdir()
                made.append(folder)
                for key, value in limits.items():
                    (folder / key).write_text(str(value))
            except OSError:  # not ours to make here: rlimits still apply
                for done in reversed(made):
                    with contextlib.suppress(OSError):
                        done.rmdir()
                return
        self.cgroups = made

    def _write_spec(self) -> None:
        settings = {"argv": kernel_argv(self.workdir, self.ipc_dir, self.uid, self.judge_dir), "uid": self.uid,
                    "cgroups": [str(c) for c in self.cgroups], "memory": MEMORY_LIMIT, "file_size": FILE_LIMIT,
                    "processes": PROCESS_LIMIT}
        (self.spec_dir / "job.json").write_text(json.dumps(settings))
        spec = self.spec_dir / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [*LAUNCHER, str(self.spec_dir / "job.json"),
                     "{connection_file}"],
            "display_name": "socket-course (sandboxed)", "language": "python",
            # a signal to the launcher would stop at bubblewrap; a message reaches the kernel itself
            "interrupt_mode": "message",
        }))

    def config(self):
        """nbgrader configuration that starts the job's kernel in this jail, talking over IPC."""
        from traitlets.config import Config

        os.environ["JUPYTER_PATH"] = str(self.spec_dir)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(self.ipc_dir)
        config = Config()
        config.Execute.kernel_name = KERNEL_NAME
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(self.ipc_dir / "k")
        config.KernelManager.connection_file = str(self.ipc_dir / "kernel.json")
        config.Execute.on_notebook_start = self.ready
        # the kernel served its one notebook: end it at once. A graceful shutdown interrupts it first
        # (jupyter_client), and an interrupted ipykernel now and then waits out the 2.5 s until SIGTERM
        config.Execute.shutdown_kernel = "immediate"
        config.Execute.kernel_manager_class = "course_lib.grading.sandbox.JailedKernelManager"
        global _JAIL
        _JAIL = self  # a worker grades one job: its kernel managers unseal this jail before each start
        return config

    def ready(self, **_) -> None:
        """The kernel is up: seal the IPC folder, then wait for a place to run the cells (procs.gate_acquire).

        Where the grader runs more workers than places (grade.py), the next submissions' kernels start in
        their own jails while others run their cells; each kernel serves one notebook and is then ended.
        """
        from .procs import gate_acquire

        self.seal()
        gate_acquire()

    def seal(self, **_) -> None:
        """Once the kernel has made its sockets, take back the IPC folder: it can write no file outside."""
        if self.uid is not None:
            os.chown(self.ipc_dir, 0, 0)
            os.chmod(self.ipc_dir, 0o755)

    def unseal(self, **_) -> None:
        if self.uid is not None:
            os.chown(self.ipc_dir, self.uid, self.uid)
            os.chmod(self.ipc_dir, 0o700)

    def close(self) -> None:
        """End every process left in the job's cgroups, remove them and the job's folders."""
        _remove(self.cgroups, [self.ipc_dir, self.spec_dir, *([self.judge_dir] if self.judge_dir else [])])


def _remove(cgroups: list[Path], folders: list[Path]) -> None:
    for cgroup in cgroups:
        with contextlib.suppress(OSError, ValueError):
            for pid in (cgroup / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
    for cgroup in cgroups:
        for _ in range(100):  # the kernel frees a cgroup a moment after its last process is reaped
            try:
                cgroup.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                import time

                time.sleep(0.02)  # noqa: TID251 - sleep-ok: polling the kernel's own bookkeeping, bounded
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)  # rmtree never follows links out of the folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _worker_pid(name: str, prefix: str) -> int | None:
    """The worker pid in a jail's name: sc-<pid>-..., sc-spec-<pid>-..., socket-course-<pid>."""
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() and (rest == head or rest[len(head)] == "-") else None


def sweep_stale() -> list[int]:
    """Remove the jails of workers that are gone without cleaning up (their grader was killed outright,
    with no chance to run `clean_after`); return those workers' pids.

    Only this user's folders and cgroups count, and only those of a pid that no longer exists: a live
    grader's jails (another run at the same time) are never touched. Links are never followed.
    """
    found: set[int] = set()
    me = os.getuid()
    for folder, prefix in ((Path("/tmp"), "sc-"), (Path(tempfile.gettempdir()), "sc-spec-")):
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                pid = _worker_pid(entry.name, prefix)
                if pid is not None and entry.is_dir(follow_symlinks=False) and \
                        entry.stat(follow_symlinks=False).st_uid == me:
                    found.add(pid)
    for folder, _ in _cgroup_dirs("probe"):
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder.parent):
                pid = _worker_pid(entry.name, "socket-course-")
                if pid is not None:
                    found.add(pid)
    stale = sorted(pid for pid in found if pid != os.getpid() and not _alive(pid))
    for pid in stale:
        clean_after(pid)
    return stale


def clean_after(worker_pid: int) -> None:
    """Remove what the jails of a worker left behind (a worker stopped at its budget cannot clean up)."""
    cgroups = [folder for folder, _ in _cgroup_dirs(f"socket-course-{worker_pid}") if folder.exists()]
    folders = [*Path("/tmp").glob(f"sc-{worker_pid}-*"), *Path(tempfile.gettempdir()).glob(f"sc-spec-{worker_pid}-*")]
    if cgroups or folders:
        _remove(cgroups, folders)
