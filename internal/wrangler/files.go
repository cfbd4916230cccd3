package wrangler

import (
	"log/slog"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/miniflare"
)

// MiniflareBindings are p's bindings as the persisted state keys them: the
// ids and names wrangler dev uses (DevID, DevName), titled and named as the
// backend lists them.
func MiniflareBindings(p *Project) miniflare.Bindings {
	var b miniflare.Bindings
	for _, k := range p.KV {
		b.KV = append(b.KV, miniflare.Namespace{ID: k.DevID(), Title: k.Binding})
	}
	for _, r := range p.R2 {
		b.R2 = append(b.R2, miniflare.Bucket{Name: r.DevName()})
	}
	for _, d := range p.D1 {
		b.D1 = append(b.D1, miniflare.Database{ID: d.DevID(), Name: databaseOf(d).Name})
	}
	return b
}

// OpenFiles is the FilesOpener of the persisted Miniflare state (the files
// path, used while dev does not run); log gets what the store does on its
// own.
func OpenFiles(log *slog.Logger) FilesOpener {
	return func(persistDir string, p *Project, devURL string) (Files, error) {
		s, err := miniflare.Open(persistDir, MiniflareBindings(p), miniflare.Options{ExplorerURL: devURL, Logger: log})
		if err != nil {
			return nil, err // not s: a nil *Store in a Files would not be nil
		}
		return s, nil
	}
}
