#include "runtime/run_in_child.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include "runtime/check.h"

namespace pg {
namespace {

double MonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Child side: never returns.
[[noreturn]] void ChildMain(int fd, const std::function<void()>& check) {
  // Die quietly on a crash (the parent reports it), not through inherited handlers such as
  // Open MPI's backtrace printer.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) signal(sig, SIG_DFL);
  std::string message;
  int code = 0;
  try {
    check();
  } catch (const std::exception& e) {
    message = e.what();
    code = 1;
  } catch (...) {
    message = "unknown exception";
    code = 1;
  }
  for (size_t off = 0; off < message.size();) {
    const ssize_t n = write(fd, message.data() + off, message.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  _exit(code);
}

}  // namespace

void RunInChild(const std::string& what, const std::function<void()>& check, double timeout_s) {
  const char* off = std::getenv("PG_NO_CHILD_CHECKS");
  if (off != nullptr && std::strcmp(off, "1") == 0) return;
  int fds[2];
  PG_CHECK(pipe(fds) == 0, what << ": pipe for the isolated check failed: " << std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    PG_THROW(what << ": fork for the isolated check failed: " << std::strerror(err));
  }
  if (pid == 0) {
    close(fds[0]);
    ChildMain(fds[1], check);
  }
  close(fds[1]);
  std::string message;
  const double deadline = MonotonicSeconds() + timeout_s;
  bool timed_out = false;
  for (;;) {  // read until EOF (the child exited) or the deadline
    const double left = deadline - MonotonicSeconds();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  PG_CHECK(!timed_out, what << ": the isolated check did not finish in " << timeout_s << " s");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    PG_THROW(what << ": the check crashed (signal " << sig << ": " << strsignal(sig)
                  << ") while a third-party library read it; the file is corrupt or not what it claims to be");
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0) return;
  PG_CHECK(!message.empty(), what << ": the check ended with exit status " << code
                                  << " and no message (a sanitizer report or a crash in a third-party library?)");
  throw Error(__FILE__, __LINE__, message);
}

}  // namespace pg
