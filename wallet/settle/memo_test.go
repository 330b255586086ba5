package settle

import (
	"errors"
	"strings"
	"testing"
)

func TestMemoRoundTrip(t *testing.T) {
	ds := [][32]byte{{1}, {2, 3}, {31: 0xff}}
	m, err := FormatMemo(ds)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m, "hearth:v1:01000000") || strings.Count(m, ",") != 2 {
		t.Fatalf("memo %q", m)
	}
	back, err := ParseMemo(m)
	if err != nil || len(back) != 3 || back[0] != ds[0] || back[2] != ds[2] {
		t.Fatalf("parse: %v, %v", back, err)
	}
	full := make([][32]byte, MaxDigestsPerMemo)
	for i := range full {
		full[i][0] = byte(i)
	}
	m, err = FormatMemo(full)
	if err != nil || len(m) > 566 {
		t.Fatalf("full memo %d bytes, %v", len(m), err)
	}
	if _, err := FormatMemo(append(full, [32]byte{99})); !errors.Is(err, ErrBadMemo) {
		t.Fatalf("too many digests: %v", err)
	}
	if _, err := FormatMemo(nil); !errors.Is(err, ErrBadMemo) {
		t.Fatalf("no digests: %v", err)
	}
}

func TestParseMemoRejects(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tc := range []string{
		"",
		"hello",
		"hearth:v2:" + h,
		"hearth:v1:",
		"hearth:v1:" + h + ",",
		"hearth:v1:" + strings.ToUpper(h),
		"hearth:v1:" + h[:62],
		"hearth:v1:" + h + "00",
		"hearth:v1:" + strings.Repeat("zz", 32),
		"hearth:v1:" + h + "," + h,
		"hearth:v1: " + h,
		"hearth:v1:" + strings.Repeat(h+",", MaxDigestsPerMemo) + h,
	} {
		if _, err := ParseMemo(tc); !errors.Is(err, ErrBadMemo) {
			t.Errorf("%q: err = %v", tc, err)
		}
	}
}

func FuzzParseMemo(f *testing.F) {
	m, _ := FormatMemo([][32]byte{{1}, {2}})
	f.Add(m)
	f.Add("hearth:v1:")
	f.Add("hearth:v1:" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseMemo(s)
		if err != nil {
			return
		}
		again, err := FormatMemo(ds)
		if err != nil || again != s {
			t.Fatalf("accepted %q but formats back as %q (%v)", s, again, err)
		}
	})
}
