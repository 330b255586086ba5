//go:build windows

package gguf

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

func mmapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_READONLY, uint32(size>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, err
	}
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	if err != nil {
		windows.CloseHandle(h)
		return nil, nil, err
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(addr)), int(size))
	return data, func() error {
		err := windows.UnmapViewOfFile(addr)
		if cerr := windows.CloseHandle(h); err == nil {
			err = cerr
		}
		return err
	}, nil
}
