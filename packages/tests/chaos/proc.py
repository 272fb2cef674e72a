"""One child process of the chaos test (a node or the balancer), across its lives.

`start()` runs it again with the same argv and log file (env may change between lives); its
output goes through a pipe that a thread copies to the log, so a file size limit set on the
process (the nemesis's disk fault) never stops its logging. It is started with SIGXFSZ ignored
(kept through exec): past RLIMIT_FSIZE a write() then fails with EFBIG instead of killing it.
Every life that ends without our SIGKILL is recorded (`unexpected`): a crash is a failure.
The thing to get right: a paused (SIGSTOPped) process must be continued before it is killed or
waited for, or the run hangs.
"""
import resource
import signal
import subprocess
import threading


def _ignore_sigxfsz():
    # Inherited through exec: past RLIMIT_FSIZE a write() then fails with EFBIG (the nemesis's
    # full disk) instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class Proc:
    """One child process with a log file; knows whether it runs and whether it is paused.
    Its output goes through a pipe (copied to the log by a thread), so a file size limit set
    on the process (the disk fault) never stops its logging."""

    def __init__(self, name, argv, env, log_path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.popen = None
        self.paused = False
        self.unexpected = []  # exit statuses of lives that ended on their own

    def start(self):
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      preexec_fn=_ignore_sigxfsz)
        threading.Thread(target=self._copy_output, args=(self.popen.stdout,), daemon=True).start()
        self.paused = False

    def _copy_output(self, pipe):
        with open(self.log_path, "ab") as log:
            for line in pipe:
                log.write(line)
                log.flush()
        pipe.close()

    def limit_file_size(self, limit):
        """Sets the process's RLIMIT_FSIZE soft limit (None: unlimited); False when it is gone."""
        if not self.running():
            return False
        soft = resource.RLIM_INFINITY if limit is None else limit
        try:
            resource.prlimit(self.popen.pid, resource.RLIMIT_FSIZE, (soft, resource.RLIM_INFINITY))
            return True
        except (ProcessLookupError, PermissionError, OSError):
            return False

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        if self.running():
            self.popen.send_signal(sig)

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def kill9(self):
        if self.popen is None:
            return
        self.note_unexpected_exit()
        if self.popen is None:
            return
        self.signal(signal.SIGKILL)
        self.popen.wait()
        self.paused = False
        self.popen = None

    def note_unexpected_exit(self):
        """Records the exit status when the process ended without our SIGKILL (a crash, a
        sanitizer report, an exit on a bad state): that is a failure of the run."""
        if self.popen is not None and self.popen.poll() is not None:
            self.unexpected.append(self.popen.returncode)
            self.popen = None

    def exit_code(self):
        return None if self.popen is None else self.popen.poll()
