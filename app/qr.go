package app

import (
	"fmt"
	"image"
	"image/color"

	"rsc.io/qr"
)

// qrQuiet is the quiet zone around a QR code, in modules (the standard
// asks for four).
const qrQuiet = 4

// qrImage encodes text as a QR code (error correction level M) with one
// pixel per module and a white quiet zone; draw it with pixel scaling.
func qrImage(text string) (*image.Gray, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	n := code.Size + 2*qrQuiet
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			c := color.Gray{Y: 0xFF}
			if code.Black(x-qrQuiet, y-qrQuiet) {
				c.Y = 0
			}
			img.SetGray(x, y, c)
		}
	}
	return img, nil
}

// solanaPayURI is what the address QR code holds: a Solana Pay transfer
// request that wallets open with the recipient filled in.
func solanaPayURI(address string) string { return "solana:" + address }
