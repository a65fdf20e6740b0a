#!/usr/bin/env bash
# Test wrapper for one rank (PALIGEMMA=rank_status.sh in slurm_caption.sh): runs $PG_REAL_BIN
# with the arguments, its stderr in rank-R.err (R = the MPI rank) and how it ended appended to rank-R.status:
# "exit N" or "signal N". Under mpirun in Slurm the ranks' output passes through Open MPI's
# daemons and mpirun, which stop relaying it when they are signalled; these files do not depend
# on them. Perl (Debian essential) tells an exit from a death by a signal, which bash cannot.
# The wrapper ignores SIGTERM, so a signal sent to the task's pid alone (an orted's delayed
# SIGTERM, 10 s after Slurm's under caption.sbatch) does not reach the rank; Slurm's own
# SIGTERM reaches every process of the job, the rank included.
r="${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-x}}}"
trap '' INT TERM  # this wrapper outlives its rank; the rank itself restores the default actions
exec perl -e '
  my ($status_file, $err_file, @cmd) = @ARGV;
  my $pid = fork();
  if ($pid == 0) {
    $SIG{TERM} = "DEFAULT"; $SIG{INT} = "DEFAULT";
    open(STDERR, ">>", $err_file) or die "cannot open $err_file: $!";
    exec(@cmd) or die "cannot run $cmd[0]: $!";
  }
  waitpid($pid, 0);
  my $how = ($? & 127) ? "signal " . ($? & 127) : "exit " . ($? >> 8);
  open(my $f, ">>", $status_file) or die "cannot write $status_file: $!";
  print $f "$how\n";
  exit(($? & 127) ? 128 + ($? & 127) : $? >> 8);
' "rank-$r.status" "rank-$r.err" "$PG_REAL_BIN" "$@"
