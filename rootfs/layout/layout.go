// Package layout names the paths inside an Outpost image, so the image builder
// (tools/image) and the init (rootfs/pid1) agree on them, and defines the
// manifest the builder writes for the init.
//
// In: nothing; constants and the Manifest type. Out: paths in the initramfs,
// the root squashfs, the ESP and the data partition, and Manifest's JSON
// encoding at /etc/outpost/manifest.json (initramfs and root alike).
package layout

import (
	"encoding/json"
	"fmt"
	"time"
)

// In the initramfs and the root.
const (
	Init         = "/bin/init"
	ManifestPath = "/etc/outpost/manifest.json"
	// InitrdMarker exists only in the initramfs: the init is in stage 1.
	InitrdMarker = "/etc/outpost/initrd"
	NewRoot      = "/newroot"
)

// In the root squashfs.
const (
	Outpostd        = "/bin/outpostd"
	OutpostdDefault = "/etc/outpost/outpostd.yaml" // copied to the data partition on first boot
	DataTemplate    = "/lib/outpost/data.ext4"
	Fsck            = "/sbin/e2fsck.static" // Debian's e2fsck-static: checks the data partition
	CACerts         = "/etc/ssl/certs/ca-certificates.crt"
	ZoneInfo        = "/usr/share/zoneinfo.zip" // Go's $GOROOT/lib/time/zoneinfo.zip; services get ZONEINFO
	ResolvConf      = "/run/resolv.conf"        // /etc/resolv.conf links here
	StatusFile      = "/run/outpost/boot.json"
	DataMount       = "/data"
	ESPMount        = "/boot/efi"
)

// On the data partition, relative to DataMount.
const (
	DataOutpost  = "outpost"               // the init's own state
	BootsLog     = "outpost/boots.log"     // one line per boot: survives reboots
	OutpostdConf = "outpost/outpostd.yaml" // outpostd -config
	NetworkConf  = "outpost/network.json"  // optional static network (rootfs/netup.Static)
	OutpostdData = "outpostd"              // outpostd's data_dir
	// LogsDir holds init.log and <service>.log for each service (rotated to
	// .log.1 at 1 MiB, rootfs/supervise.FileLog); outpostd gets it as
	// OUTPOST_LOG_DIR and serves it at /api/v1/logs.
	LogsDir = "outpost/logs"
	InitLog = "init.log" // in LogsDir: the init's own lines, this boot's and earlier ones
)

// On the ESP, relative to its root.
const (
	LoaderConf  = "loader/loader.conf"
	EntriesDir  = "loader/entries"
	DataCreated = "outpost/data-created" // marker: a data partition was made once
)

// SlotDir is where a slot's kernel and initrd live on the ESP ("outpost/a").
func SlotDir(slot string) string { return "outpost/" + slot }

// EntryName is a slot's boot loader entry with systemd-boot boot counting:
// "outpost-a+3.conf" (tries 3); tries < 0 means no counter ("outpost-a.conf").
func EntryName(slot string, tries int) string {
	if tries < 0 {
		return "outpost-" + slot + ".conf"
	}
	return fmt.Sprintf("outpost-%s+%d.conf", slot, tries)
}

// Manifest is what the builder tells the init about the image.
type Manifest struct {
	Board     string    `json:"board"`
	Version   string    `json:"version"`
	BuildTime time.Time `json:"build_time"` // SOURCE_DATE_EPOCH: the clock never goes below it
	Kernel    string    `json:"kernel"`     // uname -r
	// Modules are paths (absolute, in the initramfs) loaded in this order.
	Modules []string `json:"modules,omitempty"`
	// DataMinSize is the smallest data partition the init creates.
	DataMinSize int64  `json:"data_min_size"`
	DataType    string `json:"data_type"` // GPT type GUID of the data partition
}

// Marshal encodes m (indented, trailing newline).
func (m *Manifest) Marshal() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// ParseManifest decodes a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("layout: manifest: %w", err)
	}
	if m.Board == "" || m.BuildTime.IsZero() {
		return nil, fmt.Errorf("layout: manifest: board and build_time are required")
	}
	return &m, nil
}
