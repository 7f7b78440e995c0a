package extension

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/osqdetect/osqdetect/extension/store"
)

// FaultKillInCommitEnv names a fault-injection point for crash tests only:
// "N" kills the process with SIGKILL inside its Nth store commit, after the
// commit's writes are staged and before bbolt writes them out; "N:DELAY"
// (a Go duration) sends the SIGKILL DELAY after that point, so that it
// lands while bbolt is writing and syncing pages. Unset in production.
const FaultKillInCommitEnv = "OSQDETECT_FAULT_KILL_IN_COMMIT"

// installFaults arms the fault points named in the environment.
func installFaults(st *store.Store) error {
	spec := os.Getenv(FaultKillInCommitEnv)
	if spec == "" {
		return nil
	}
	nText, delayText, _ := strings.Cut(spec, ":")
	n, err := strconv.ParseInt(nText, 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("%s=%q: want N or N:DELAY with N >= 1", FaultKillInCommitEnv, spec)
	}
	var delay time.Duration
	if delayText != "" {
		if delay, err = time.ParseDuration(delayText); err != nil || delay < 0 {
			return fmt.Errorf("%s=%q: bad delay", FaultKillInCommitEnv, spec)
		}
	}
	var commits atomic.Int64
	kill := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	st.SetCommitHook(func() {
		if commits.Add(1) != n {
			return
		}
		if delay == 0 {
			kill()
			select {} // the signal is on its way
		}
		time.AfterFunc(delay, kill)
	})
	return nil
}
