package app_test

import (
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/app"
	"image/png"
)

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.00 kB"}, {669_000_000, "669 MB"},
		{4_370_000_000, "4.37 GB"}, {42_500_000_000, "42.5 GB"}, {312_000_000_000, "312 GB"},
	} {
		if got := app.FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		units    uint64
		decimals int
		want     string
	}{
		{2_483_150_000, 9, "2.48315"}, {1, 9, "0.000000001"}, {0, 9, "0"},
		{1_000_000_000, 9, "1"}, {12_500_000, 6, "12.5"}, {42, 0, "42"},
	} {
		if got := app.FormatAmount(tc.units, tc.decimals); got != tc.want {
			t.Errorf("FormatAmount(%d, %d) = %q, want %q", tc.units, tc.decimals, got, tc.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in       string
		decimals int
		want     uint64
		err      string
	}{
		{"0.5", 9, 500_000_000, ""},
		{"1", 9, 1_000_000_000, ""},
		{".25", 6, 250_000, ""},
		{"2,5", 6, 2_500_000, ""},
		{"0.000000001", 9, 1, ""},
		{"1.50000", 2, 150, ""},
		{"18446744073.709551615", 9, 18446744073709551615, ""},
		{"18446744073.709551616", 9, 0, "not a number"},
		{"", 9, 0, "enter an amount"},
		{"0", 9, 0, "more than zero"},
		{"-1", 9, 0, "not a number"},
		{"1e3", 9, 0, "not a number"},
		{"1.2.3", 9, 0, "not a number"},
		{"0.0000000001", 9, 0, "too many decimals"},
	} {
		got, err := app.ParseAmount(tc.in, tc.decimals)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAmount(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAmount(%q, %d) = %d, %v; want %d", tc.in, tc.decimals, got, err, tc.want)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk", true},
		{"11111111111111111111111111111111", true}, // the system program: 32 zero bytes
		{"So11111111111111111111111111111111111111112", true},
		{"1111111111111111111111111111111", false}, // 31 zero bytes

		{"HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqkk", false},
		{"0Agk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk", false}, // 0 is not base58
		{"", false},
	} {
		if err := app.CheckAddress(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckAddress(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"}, {4 * time.Minute, "4 min ago"}, {3 * time.Hour, "3 h ago"},
		{27 * time.Hour, "yesterday"}, {72 * time.Hour, "17 Nov"},
	} {
		if got := app.Ago(now, now.Add(-tc.d)); got != tc.want {
			t.Errorf("Ago(-%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestCheckClock(t *testing.T) {
	for in, ok := range map[string]bool{"22:00": true, "07:30": true, "23:59": true, "9:00": false, "24:00": false, "12:60": false, "noon": false} {
		if err := app.CheckClock(in); (err == nil) != ok {
			t.Errorf("CheckClock(%q) = %v", in, err)
		}
	}
}

// TestQRCode checks the address QR code's structure (size for its
// version, finder patterns, quiet zone) and, where zbarimg is installed,
// that a real QR reader decodes it back.
func TestQRCode(t *testing.T) {
	const text = "solana:7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
	img, err := app.QRImage(text)
	if err != nil {
		t.Fatal(err)
	}
	// 51 bytes at level M need version 4: 33 modules, plus 4 quiet on each side.
	if got := img.Bounds(); got != image.Rect(0, 0, 41, 41) {
		t.Fatalf("bounds %v, want 41x41", got)
	}
	black := func(x, y int) bool { return img.GrayAt(x, y).Y == 0 }
	for _, c := range []image.Point{{4, 4}, {4 + 33 - 7, 4}, {4, 4 + 33 - 7}} {
		for i := range 7 { // the finder's outer ring is black, its next ring white
			for _, p := range []image.Point{{i, 0}, {i, 6}, {0, i}, {6, i}} {
				if !black(c.X+p.X, c.Y+p.Y) {
					t.Fatalf("finder at %v: module %v is white", c, p)
				}
			}
			if i >= 1 && i <= 5 && black(c.X+i, c.Y+1) {
				t.Fatalf("finder at %v: inner ring is black at %d", c, i)
			}
		}
		if !black(c.X+3, c.Y+3) {
			t.Fatalf("finder at %v: centre is white", c)
		}
	}
	for i := range 41 {
		for _, p := range []image.Point{{i, 0}, {i, 3}, {0, i}, {40, i}} {
			if black(p.X, p.Y) {
				t.Fatalf("quiet zone has a black module at %v", p)
			}
		}
	}

	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatal("zbarimg is not installed (apt-get install zbar-tools)")
		}
		t.Log("zbarimg not installed (apt-get install zbar-tools): decode check skipped")
		return
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	big := image.NewGray(image.Rect(0, 0, 41*8, 41*8))
	for y := range 41 * 8 {
		for x := range 41 * 8 {
			big.SetGray(x, y, img.GrayAt(x/8, y/8))
		}
	}
	if err := png.Encode(f, big); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != text {
		t.Errorf("zbarimg read %q, want %q", got, text)
	}
}
