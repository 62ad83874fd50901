//go:build !linux

package redistags_test

import "os/exec"

// setParentDeathSignal does nothing where the kernel offers no parent-death
// signal: the test's cleanup still stops the server.
func setParentDeathSignal(*exec.Cmd) {}
