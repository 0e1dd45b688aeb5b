"""A sandbox per grading kernel: Bubblewrap namespaces, a clean environment, and limits.

Each kernel the grader starts (the judge's and each student's) runs under `bwrap` (Debian's
`bubblewrap`) in its own user, PID, network, IPC and UTS namespaces: it sees only its own
processes, has no network, and sees the Python environment read-only, a private copy of
`lessonlib` read-only, its own socket folder, a fresh `/tmp` and `/dev/shm` of bounded size
and a read-only `/dev`, nothing else of the machine (not the instructor notebooks, the
submissions, the output folder, other kernels' sockets, or the grader's environment
variables). A watchdog outside the sandbox kills it when it passes its memory, process, thread
or disk limits; when the kernel ends, the PID namespace ends with it, and every process
started inside is gone. The watchdog polls (every 0.2 s, and after each cell): it is not a
cgroup, so it does not see memory in unmapped shared-memory files, and does not limit CPU
time beyond the grader's time limits.

Without Bubblewrap, `available()` says why, and the grader refuses to run unless told
`--no-sandbox`; the kernels then run as ordinary processes, under the same watchdog.
"""

import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading

from jupyter_client.manager import AsyncKernelManager


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one grading kernel may use. The defaults fit a lesson in fast mode on a CPU."""

    memory_mb: int = 4096  # memory of all its processes together (proportional set size)
    processes: int = 64  # processes at once
    threads: int = 1024  # threads of all its processes together
    file_size_mb: int = 256  # largest file it may write
    tmp_mb: int = 512  # its /tmp, a memory-backed file system
    output_kb: int = 1024  # printed output kept per notebook run; the rest is dropped

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"`{field.name}` must be a positive integer. Received: {field.name}={value!r}"
                )


# /etc files a Python process needs (the loader's cache, fonts, time zone); nothing else.
_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "fonts",
    "localtime",
    "mime.types",
)
_HOME = "/tmp/home"
WORKDIR = "/tmp/work"


def _python_paths(hidden):
    """Folders of the Python environment to show read-only: the interpreter's prefixes and
    the package folders on `sys.path` (not the script's or the working folder), except any
    that holds a `hidden` path."""
    paths = {pathlib.Path(sys.prefix), pathlib.Path(sys.base_prefix), pathlib.Path(sys.exec_prefix)}
    for entry in sys.path:
        if (
            entry
            and os.path.isabs(entry)
            and os.path.exists(entry)
            and pathlib.Path(entry).name in ("site-packages", "dist-packages")
        ):
            paths.add(pathlib.Path(entry))
    paths = {path.resolve() for path in paths} | paths
    shown = []
    for path in sorted(paths):
        if any(path == secret or path in secret.parents for secret in hidden):
            continue
        shown.append(path)
    return shown


def bwrap_command(argv, env, *, limits, writable=(), readable=(), overlays=(), hidden=()):
    """The `bwrap` command line that runs `argv` in a sandbox.

    Args:
        argv: the command to run inside.
        env: the whole environment inside (nothing else is passed on).
        limits: a `Limits` (the size of /tmp; the rest is the watchdog's).
        writable: host folders shown read-write at the same path.
        readable: host files or folders shown read-only at the same path.
        overlays: `(host path, path inside)` pairs shown read-only, over whatever the
            environment shows there (the private copy of `lessonlib`).
        hidden: paths that must not be shown (the Python environment's folders that hold
            one are left out).
    """
    command = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--size",
        str(limits.tmp_mb * 2**20),
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(min(limits.tmp_mb, 64) * 2**20),
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = pathlib.Path("/", name)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for name in _ETC:
        if pathlib.Path("/etc", name).exists():
            command += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for path in _python_paths([pathlib.Path(path).resolve() for path in hidden]):
        command += ["--ro-bind", str(path), str(path)]
    for path in readable:
        command += ["--ro-bind", str(path), str(path)]
    for host, inside in overlays:
        command += ["--ro-bind", str(host), str(inside)]
    for path in writable:
        command += ["--bind", str(path), str(path)]
    command += ["--dir", _HOME, "--dir", WORKDIR, "--chdir", WORKDIR, "--remount-ro", "/"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return (
        ["prlimit", f"--fsize={limits.file_size_mb * 2**20}", "--core=0", "--nofile=4096", "--"]
        + command
        + ["--"]
        + list(argv)
    )


def kernel_environment(home=_HOME, tmp="/tmp", extra=None):
    """The environment inside a grading kernel: fast mode, the grader's Keras backend, and
    nothing else of the grader's (no tokens, paths or settings leak in)."""
    env = {
        "PATH": os.pathsep.join(
            [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LESSONLIB_FAST": "1",
        "USER": "student",
        "LOGNAME": "student",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        env["KERAS_BACKEND"] = backend
    env.update(extra or {})
    return env


_AVAILABLE = None


def available():
    """`(True, "")` if Bubblewrap runs here, else `(False, why)`. Tried once per process."""
    global _AVAILABLE
    if _AVAILABLE is None:
        if shutil.which("bwrap") is None or shutil.which("prlimit") is None:
            _AVAILABLE = (
                False,
                "`bwrap` (Bubblewrap) or `prlimit` is not installed; on "
                "Debian or Ubuntu: apt-get install -y bubblewrap",
            )
        else:
            command = bwrap_command(
                [sys.executable, "-c", "import numpy"], kernel_environment(), limits=Limits()
            )
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=60)
                ok = result.returncode == 0
                why = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
            except (OSError, subprocess.TimeoutExpired) as error:
                ok, why = False, str(error)
            _AVAILABLE = (
                (True, "") if ok else (False, f"`bwrap` cannot start a sandbox here: {why}")
            )
    return _AVAILABLE


def _process_table():
    """{pid: (parent pid, threads)} for every process, read from /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
            table[int(entry.name)] = (int(fields[1]), int(fields[17]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def tree(pid, table=None):
    """`pid` and all its descendants."""
    table = _process_table() if table is None else table
    children = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def _memory_bytes(pids):
    """Proportional set size of the processes together: shared pages count once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
                for line in file:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            pass
    return total


def _folder_bytes(folder, limit_entries=10_000):
    total, count = 0, 0
    for root, folders, files in os.walk(folder, followlinks=False):
        for name in files + folders:
            count += 1
            if count > limit_entries:
                return float("inf")
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


class Watchdog(threading.Thread):
    """Kills a sandbox that passes its memory, process, thread or disk limits.

    It measures the process tree under `pid`; to kill, it kills `pid` alone when
    `kill_tree` is False (Bubblewrap: its PID namespace then ends, and every process in it),
    else every process of the tree.
    """

    def __init__(self, pid, limits, folders=(), kill_tree=False, interval=0.2):
        super().__init__(daemon=True)
        self.pid, self.limits, self.folders, self.interval = pid, limits, folders, interval
        self.kill_tree = kill_tree
        self.reason = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        while not self._stop.wait(self.interval):
            if self.check() or not os.path.exists(f"/proc/{self.pid}"):
                return

    def check(self):
        """Measure once; kill and return the reason if a limit is passed."""
        with self._lock:
            if self.reason is not None:
                return self.reason
            try:
                table = _process_table()
            except OSError:
                return None
            pids = tree(self.pid, table)
            threads = sum(table.get(pid, (0, 0))[1] for pid in pids)
            reason = None
            if len(pids) > self.limits.processes + 2:  # + bwrap and its reaper
                reason = f"it started more than {self.limits.processes} processes"
            elif threads > self.limits.threads + 2:
                reason = f"it started more than {self.limits.threads} threads"
            elif _memory_bytes(pids) > self.limits.memory_mb * 2**20:
                reason = f"it used more than {self.limits.memory_mb} MB of memory"
            elif any(_folder_bytes(folder) > self.limits.tmp_mb * 2**20 for folder in self.folders):
                reason = f"it wrote more than {self.limits.tmp_mb} MB of files"
            if reason:
                self.reason = reason
                for pid in reversed(pids) if self.kill_tree else [self.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            return reason

    def stop(self):
        self._stop.set()


class SandboxedKernelManager(AsyncKernelManager):
    """A Jupyter kernel manager (asynchronous, as nbclient wants) that starts its kernel in a
    sandbox (or bare, if `sandbox` is False) with a clean environment, under a `Watchdog`.

    Set `sandbox_options` (the keyword arguments of `bwrap_command` but `env`) and `limits`
    before starting it; `watchdog.reason` says why the watchdog killed the kernel, if it did.
    """

    sandbox = True
    sandbox_options = {}
    limits = Limits()
    watchdog = None
    kernel_env = None

    def format_kernel_cmd(self, extra_arguments=None):
        # This interpreter's ipykernel, whatever kernel specs the machine has.
        argv = [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            os.path.realpath(self.connection_file),
        ] + list(extra_arguments or [])
        if not self.sandbox:
            return argv
        return bwrap_command(
            argv,
            self.kernel_env or kernel_environment(),
            limits=self.limits,
            **self.sandbox_options,
        )

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.kernel_env is not None:
            kw["env"] = dict(self.kernel_env)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if process is not None:
            folders = self.sandbox_options.get("writable", ()) if self.sandbox else ()
            self.watchdog = Watchdog(process.pid, self.limits, folders, kill_tree=not self.sandbox)
            self.watchdog.start()

    async def _async_shutdown_kernel(self, now=False, restart=False):
        try:
            await super()._async_shutdown_kernel(now=now, restart=restart)
        finally:
            if self.watchdog is not None:
                self.watchdog.stop()
