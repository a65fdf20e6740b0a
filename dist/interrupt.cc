#include "dist/interrupt.h"

#include <atomic>
#include <csignal>

namespace pg {
namespace {

// Lock-free, so async-signal-safe to store from the handler, and race-free to read from any thread.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal flag must be lock-free");

struct sigaction g_old_int, g_old_term;

// Async-signal-safe: records the first signal; a second SIGINT restores the default action and
// re-raises it, so a user who presses Ctrl-C twice is not kept waiting. A repeated SIGTERM is
// ignored: under Slurm + mpirun a rank gets SIGTERM from Slurm and again from its orted, and
// whoever sends SIGTERM follows it with SIGKILL anyway.
void OnSignal(int sig) {
  if (g_signal != 0 && sig == SIGINT) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}

}  // namespace

ScopedInterruptHandlers::ScopedInterruptHandlers() {
  g_signal = 0;
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads and MPI progress are not broken by EINTR
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

ScopedInterruptHandlers::~ScopedInterruptHandlers() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int InterruptSignal() { return g_signal.load(); }

std::string SignalName(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace pg
