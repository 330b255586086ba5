package assets

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/png"
	"testing"
)

func TestIcons(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		size int
	}{
		{"hearth-256.png", Icon256, 256},
		{"hearth-512.png", Icon512, 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b != image.Rect(0, 0, tc.size, tc.size) {
				t.Fatalf("bounds %v, want %dx%d", b, tc.size, tc.size)
			}
			// Transparent corners (rounded square), opaque flame centre.
			if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
				t.Errorf("corner alpha %d, want transparent", a)
			}
			r, g, _, a := img.At(tc.size/2, tc.size*3/5).RGBA()
			if a != 0xffff || r < 0xc000 || g < 0x8000 {
				t.Errorf("centre pixel r=%x g=%x a=%x, want an opaque flame yellow", r, g, a)
			}
		})
	}
}

func TestIconSVGIsXML(t *testing.T) {
	var root struct {
		XMLName xml.Name
		ViewBox string `xml:"viewBox,attr"`
	}
	if err := xml.Unmarshal(IconSVG, &root); err != nil {
		t.Fatal(err)
	}
	if root.XMLName.Local != "svg" || root.ViewBox != "0 0 512 512" {
		t.Errorf("root %s viewBox %q", root.XMLName.Local, root.ViewBox)
	}
}
