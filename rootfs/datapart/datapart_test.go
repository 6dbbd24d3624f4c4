package datapart

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/google/go-cmp/cmp"
)

const mib = 1 << 20

// image writes a GPT like tools/image does: ESP, root-a, root-b, and nothing
// after them, on a file of imageSize bytes, then grows the file to diskSize as
// writing the image to a bigger disk does.
func image(t *testing.T, imageSize, diskSize int64, extra ...*gpt.Partition) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(imageSize); err != nil {
		t.Fatal(err)
	}
	tab := &gpt.Table{
		LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true,
		GUID: "4F555450-0000-4000-8000-000000000000",
		Partitions: append([]*gpt.Partition{
			{Index: 1, Start: 2048, Size: 8 * mib, Type: gpt.EFISystemPartition, Name: "ESP", GUID: "4F555450-0000-4000-8000-000000000001"},
			{Index: 2, Start: 2048 + 8*2048, Size: 8 * mib, Type: gpt.LinuxRootX86_64, Name: "root-a", GUID: "4F555450-0000-4000-8000-000000000002"},
			{Index: 3, Start: 2048 + 16*2048, Size: 8 * mib, Type: gpt.LinuxRootX86_64, Name: "root-b", GUID: "4F555450-0000-4000-8000-000000000003"},
		}, extra...),
	}
	if err := tab.Write(f, imageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(diskSize); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAddPartition(t *testing.T) {
	cases := []struct {
		name      string
		imageSize int64
		diskSize  int64
		minSize   int64
		extra     []*gpt.Partition
		want      Added
		wantErr   error
	}{
		{
			name:      "image on a bigger disk",
			imageSize: 26 * mib, diskSize: 1024 * mib, minSize: 64 * mib,
			// Partitions end at sector 51199; data starts at the next MiB and ends
			// before the 33 sectors of backup GPT.
			want: Added{Index: 4, Start: 51200, End: 1024*2048 - 34},
		},
		{
			name:      "no room",
			imageSize: 26 * mib, diskSize: 27 * mib, minSize: 64 * mib,
			wantErr: ErrNoRoom,
		},
		{
			name:      "exactly full",
			imageSize: 25*mib + 33*512, diskSize: 25*mib + 33*512, minSize: 1,
			wantErr: ErrNoRoom,
		},
		{
			name:      "already there",
			imageSize: 64 * mib, diskSize: 1024 * mib, minSize: 1,
			extra:   []*gpt.Partition{{Index: 4, Start: 51200, Size: 8 * mib, Type: gpt.LinuxFilesystem, Name: "data"}},
			wantErr: ErrExists,
		},
		{
			name:      "fills a hole in the indices",
			imageSize: 64 * mib, diskSize: 256 * mib, minSize: 1,
			extra: []*gpt.Partition{{Index: 5, Start: 51200, Size: 8 * mib, Type: gpt.LinuxFilesystem, Name: "spare"}},
			want:  Added{Index: 4, Start: 51200 + 8*2048, End: 256*2048 - 34},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := image(t, tc.imageSize, tc.diskSize, tc.extra...)
			got, err := AddPartition(f, tc.diskSize, "data", string(gpt.LinuxFilesystem), tc.minSize)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got.GUID == "" {
				t.Error("no partition GUID")
			}
			got.GUID = ""
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("AddPartition (-want +got):\n%s", d)
			}
			// Read back: a valid primary and a backup at the end of the disk.
			tab, err := gpt.Read(f, 512, 512)
			if err != nil {
				t.Fatal(err)
			}
			if tab.RecoveredFromBackup {
				t.Error("primary GPT invalid after AddPartition")
			}
			if err := tab.Verify(f, uint64(tc.diskSize)); err != nil {
				t.Errorf("Verify: %v", err)
			}
			var names []string
			for _, p := range tab.Partitions {
				names = append(names, p.Name)
			}
			if n := len(tab.Partitions); names[n-1] != "data" && names[n-2] != "data" {
				t.Errorf("partitions %v lack data", names)
			}
			// A second call finds it: first boot happens once.
			if _, err := AddPartition(f, tc.diskSize, "data", string(gpt.LinuxFilesystem), tc.minSize); !errors.Is(err, ErrExists) {
				t.Errorf("second AddPartition err = %v, want ErrExists", err)
			}
		})
	}
}

func TestAddPartitionNoGPT(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "blank.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(64 * mib)
	if _, err := AddPartition(f, 64*mib, "data", string(gpt.LinuxFilesystem), 1); err == nil {
		t.Fatal("want an error for a disk without GPT")
	}
}
