//go:build !linux

package redistest

import "os/exec"

// setParentDeathSignal has no portable equivalent outside Linux: there a
// test binary that dies without cleanup leaves its redis-server running.
func setParentDeathSignal(*exec.Cmd) {}
