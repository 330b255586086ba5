package bridge

import (
	"context"

	"github.com/hearth-p2p/hearth/app"
	"github.com/hearth-p2p/hearth/node/runtime"
)

// Catalog implements app.ModelsBackend.
func (b *Backend) Catalog(ctx context.Context) ([]app.CatalogEntry, error) {
	cs, err := b.d.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.CatalogEntry, len(cs))
	for i, c := range cs {
		out[i] = app.CatalogEntry{ID: c.ID, Name: c.Name, Quant: c.Quant, Params: c.Params, SizeBytes: c.SizeBytes,
			RAMBytes: c.RAMBytes, Fit: fit(c.Fit), License: c.License, Description: c.Description, Installed: c.Installed}
	}
	return out, nil
}

func fit(f runtime.Fit) app.Fit {
	switch f {
	case runtime.FitYes:
		return app.FitYes
	case runtime.FitTight:
		return app.FitTight
	}
	return app.FitNo
}

// Installed implements app.ModelsBackend.
func (b *Backend) Installed(ctx context.Context) (app.InstalledModels, error) {
	im, err := b.d.Installed(ctx)
	if err != nil {
		return app.InstalledModels{}, err
	}
	out := app.InstalledModels{Dir: im.Dir, UsedBytes: im.UsedBytes, FreeBytes: im.FreeBytes}
	for _, m := range im.Models {
		out.Models = append(out.Models, installed(m))
	}
	return out, nil
}

func installed(m runtime.InstalledModel) app.InstalledModel {
	return app.InstalledModel{ID: m.ID, Name: m.Name, Path: m.Path, SizeBytes: m.SizeBytes}
}

// Downloads implements app.ModelsBackend.
func (b *Backend) Downloads(ctx context.Context) ([]app.Download, error) {
	ds, err := b.d.Downloads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]app.Download, len(ds))
	for i, d := range ds {
		out[i] = download(d)
	}
	return out, nil
}

// download maps a download; a queued one shows as running with no bytes
// yet (the GUI has no queued state).
func download(d runtime.Download) app.Download {
	states := map[runtime.DownloadState]app.DownloadState{
		runtime.DownloadQueued: app.DownloadRunning, runtime.DownloadRunning: app.DownloadRunning,
		runtime.DownloadPaused: app.DownloadPaused, runtime.DownloadDone: app.DownloadDone,
		runtime.DownloadFailed: app.DownloadFailed, runtime.DownloadCancelled: app.DownloadCancelled,
	}
	return app.Download{ID: d.ID, Name: d.Name, State: states[d.State], Done: d.Done, Total: d.Total,
		BytesPerSec: d.BytesPerSec, Err: d.Err}
}

// Pull implements app.ModelsBackend.
func (b *Backend) Pull(ctx context.Context, id string) error { return b.d.Pull(ctx, id) }

// PauseDownload implements app.ModelsBackend; it returns at once.
func (b *Backend) PauseDownload(id string) error { return b.d.PauseDownload(id) }

// ResumeDownload implements app.ModelsBackend.
func (b *Backend) ResumeDownload(ctx context.Context, id string) error {
	return b.d.ResumeDownload(ctx, id)
}

// CancelDownload implements app.ModelsBackend; it returns at once.
func (b *Backend) CancelDownload(id string) error { return b.d.CancelDownload(id) }

// Import implements app.ModelsBackend.
func (b *Backend) Import(ctx context.Context, path string) (app.InstalledModel, error) {
	m, err := b.d.Import(ctx, path)
	if err != nil {
		return app.InstalledModel{}, err
	}
	return installed(m), nil
}

// Remove implements app.ModelsBackend.
func (b *Backend) Remove(ctx context.Context, id string) error { return b.d.Remove(ctx, id) }

// Network implements app.NetworkBackend.
func (b *Backend) Network(ctx context.Context) (app.NetworkState, error) {
	ns, err := b.d.Network(ctx)
	if err != nil {
		return app.NetworkState{}, err
	}
	n := ns.Node
	out := app.NetworkState{Node: app.NodeInfo{Online: n.Online, PeerID: n.PeerID, Addrs: n.Addrs,
		Reachability: n.Reachability, NAT: n.NAT, Relay: n.Relay, Lending: n.Lending}}
	for _, s := range ns.Shards {
		out.Shards = append(out.Shards, app.ServedShard{Model: s.Model, From: s.From, To: s.To, Sessions: s.Sessions,
			TokensPerSec: s.TokensPerSec, Price: s.Price})
	}
	for _, p := range ns.Peers {
		out.Peers = append(out.Peers, app.PeerUse{PeerID: p.PeerID, Model: p.Model, From: p.From, To: p.To,
			LatencyMs: p.LatencyMs, Trusted: p.Trusted})
	}
	for _, s := range ns.Sessions {
		out.Sessions = append(out.Sessions, app.SessionEarning{Session: s.Session, Peer: s.Peer, Model: s.Model,
			Started: s.Started, Units: s.Units, Amount: s.Amount})
	}
	for _, s := range ns.Samples {
		out.Samples = append(out.Samples, sample(s))
	}
	return out, nil
}

func sample(s runtime.NetSample) app.NetSample {
	return app.NetSample{At: s.At, InBps: s.InBps, OutBps: s.OutBps, LatencyMs: s.LatencyMs}
}
