// Graceful SIGINT / SIGTERM for long jobs (the caption job; Slurm preemption sends SIGTERM).
//
// While a ScopedInterruptHandlers lives, the first SIGINT or SIGTERM only records the signal
// (InterruptSignal() returns it); the job polls it at a safe point, makes its group agree
// (a max-reduction, so one signalled rank stops the group), keeps what is finished and throws
// Interrupted on every rank. RunMpiMain (dist/run_main.h) catches it, finalizes MPI and exits
// with 128 + signal (130 for SIGINT, 143 for SIGTERM). A second SIGINT takes the default action
// at once (the process dies), for a user who does not want to wait; a repeated SIGTERM (Slurm's
// and mpirun's orted's both reach a rank) is ignored.
#pragma once

#include <stdexcept>
#include <string>

namespace pg {

class ScopedInterruptHandlers {
 public:
  ScopedInterruptHandlers();   // installs the handlers and clears any earlier signal
  ~ScopedInterruptHandlers();  // restores the previous handlers
  ScopedInterruptHandlers(const ScopedInterruptHandlers&) = delete;
  ScopedInterruptHandlers& operator=(const ScopedInterruptHandlers&) = delete;
};

// The first SIGINT/SIGTERM received under ScopedInterruptHandlers, or 0.
int InterruptSignal();

// "SIGINT", "SIGTERM", or "signal N".
std::string SignalName(int signal);

// Thrown on every rank of the world (after the ranks agreed) when a job stops on a signal.
// what(): the message already printed by the job.
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int signal, const std::string& message) : std::runtime_error(message), signal_(signal) {}
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

}  // namespace pg
