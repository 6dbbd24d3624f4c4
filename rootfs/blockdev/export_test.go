package blockdev

import "testing"

// FakeSys points the package at a fake sysfs and /dev for one test.
func FakeSys(t *testing.T, sys, dev string) {
	oldSys, oldDev := sysClassBlock, devDir
	sysClassBlock, devDir = sys, dev
	t.Cleanup(func() { sysClassBlock, devDir = oldSys, oldDev })
}
