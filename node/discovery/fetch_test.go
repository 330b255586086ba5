package discovery

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hearth-p2p/hearth/node/p2p"
	"github.com/hearth-p2p/hearth/node/p2p/p2ptest"
)

func TestReadFetchResponse(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 100)
	ok := binary.AppendUvarint([]byte{statusOK}, uint64(len(payload)))
	ok = append(ok, payload...)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error // nil with want == nil: any error
	}{
		{"ok", ok, payload, nil},
		{"not found", []byte{statusNotFound}, nil, ErrNoAnnouncement},
		{"bad version", []byte{statusBadVer}, nil, nil},
		{"unknown status", []byte{9}, nil, ErrMalformed},
		{"empty", nil, nil, io.EOF},
		{"zero length", []byte{statusOK, 0}, nil, ErrMalformed},
		{"too long", binary.AppendUvarint([]byte{statusOK}, MaxWireSize+1), nil, ErrMalformed},
		{"truncated body", ok[:len(ok)-1], nil, io.ErrUnexpectedEOF},
		{"truncated varint", []byte{statusOK, 0x80}, nil, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFetchResponse(bytes.NewReader(tt.in))
			if tt.want != nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("got %d bytes, %v", len(got), err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestFetchProtocol(t *testing.T) {
	provider := startNode(t, testConfig(), nil)
	asker := p2ptest.NewHost(t, nil)
	p2ptest.Connect(t, asker, provider.host)
	model := shardOf(2, 6).ModelHash

	if _, err := requestAnnouncement(t.Context(), asker.Raw(), provider.host.ID(), model); !errors.Is(err, ErrNoAnnouncement) {
		t.Fatalf("before Announce: err = %v, want ErrNoAnnouncement", err)
	}
	if err := provider.svc.Announce(t.Context(), shardOf(2, 6)); err != nil {
		t.Fatal(err)
	}
	raw, err := requestAnnouncement(t.Context(), asker.Raw(), provider.host.ID(), model)
	if err != nil {
		t.Fatal(err)
	}
	a, err := DecodeAnnouncement(raw, time.Now())
	if err != nil || a.PeerID != provider.host.ID() || a.From != 2 || a.To != 6 || len(a.Addrs) == 0 {
		t.Fatalf("fetched %+v, %v", a, err)
	}

	// A request in a future protocol version gets a clear refusal.
	s, err := asker.Raw().NewStream(t.Context(), provider.host.ID(), p2p.AnnounceProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(append([]byte{fetchVersion + 1}, model[:]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := readFetchResponse(s); err == nil || errors.Is(err, ErrNoAnnouncement) {
		t.Fatalf("future version: err = %v, want a version refusal", err)
	}
	// A truncated request is reset, not answered.
	s2, err := asker.Raw().NewStream(t.Context(), provider.host.ID(), p2p.AnnounceProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Write([]byte{fetchVersion, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := s2.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(s2); err == nil {
		t.Fatal("truncated request got a clean response")
	}
}

func FuzzReadFetchResponse(f *testing.F) {
	f.Add([]byte{statusOK, 3, 1, 2, 3})
	f.Add([]byte{statusNotFound})
	f.Add([]byte{statusOK, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := readFetchResponse(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(raw) == 0 || len(raw) > MaxWireSize || data[0] != statusOK {
			t.Fatalf("accepted %d bytes with status %d", len(raw), data[0])
		}
	})
}
