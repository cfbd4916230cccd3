package main

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
)

// iconSize is what Claude Desktop recommends; the drawing is laid out on a
// 128-unit grid and scaled.
const iconSize = 512

// drawIcon draws the bundle's icon: a white cloud over three stacked
// storage disks, on an orange rounded square.
func drawIcon() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, iconSize, iconSize))
	orange := color.NRGBA{0xF3, 0x80, 0x20, 0xFF}
	white := color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	dark := color.NRGBA{0xB8, 0x5A, 0x0C, 0xFF}
	const unit = iconSize / 128.0
	in := func(x, y, cx, cy, r float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
	between := func(v, lo, hi float64) bool { return v >= lo && v <= hi }
	const corner = 24
	for py := range iconSize {
		for px := range iconSize {
			x, y := (float64(px)+0.5)/unit, (float64(py)+0.5)/unit
			// The rounded square: inside unless in a corner's cut.
			cx, cy := min(max(x, corner), 128-corner), min(max(y, corner), 128-corner)
			if !in(x, y, cx, cy, corner) {
				continue
			}
			c := orange
			switch {
			case in(x, y, 46, 54, 18), in(x, y, 70, 44, 24), in(x, y, 90, 58, 14), // the cloud's puffs
				between(y, 54, 72) && between(x, 30, 98): // and its flat base
				c = white
			case between(x, 34, 94) && (between(y, 80, 88) || between(y, 92, 100) || between(y, 104, 112)): // the disks
				c = white
				if between(x, 84, 88) {
					c = dark // each disk's light
				}
			}
			img.SetNRGBA(px, py, c)
		}
	}
	return img
}

func encodeIcon() ([]byte, error) {
	var b bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, drawIcon())
	return b.Bytes(), err
}

func runIcon(args []string) error {
	fs := flag.NewFlagSet("icon", flag.ContinueOnError)
	out := fs.String("out", "packaging/icon.png", "where to write it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := encodeIcon()
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}
