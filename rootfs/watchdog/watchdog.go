// Package watchdog feeds the hardware watchdog, so a hung box resets itself.
//
// In: the watchdog device (/dev/watchdog, present when the board's driver
// module, e.g. i6300esb or iTCO_wdt, found hardware) and a timeout. Out: a
// keep-alive every third of the timeout for as long as the init's main loop
// runs, and Info (driver identity, timeout, whether the last reset came from
// the watchdog) for the status file. A board without a watchdog is not an
// error: Open returns ErrAbsent and the init says so.
//
// # Usage
//
//	d, err := watchdog.Open(watchdog.Device, 30*time.Second)
//	if errors.Is(err, watchdog.ErrAbsent) { log.Warn("no hardware watchdog") }
//	go d.Run(ctx)
//	defer d.Close(true) // disarm on a clean poweroff
package watchdog

import "errors"

// Device is the usual watchdog device node.
var Device = "/dev/watchdog"

// ErrAbsent means the board has no watchdog device.
var ErrAbsent = errors.New("watchdog: no watchdog device")

// Info describes the watchdog.
type Info struct {
	Present bool   `json:"present"`
	Driver  string `json:"driver,omitempty"`
	Timeout int    `json:"timeout_s,omitempty"`
	// LastResetByWatchdog is set when the driver says the previous reset was
	// the watchdog firing (WDIOF_CARDRESET).
	LastResetByWatchdog bool   `json:"last_reset_by_watchdog,omitempty"`
	Problem             string `json:"problem,omitempty"`
}
