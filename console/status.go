package console

import (
	"errors"
	"io/fs"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/migrate"
)

// staleAfter is how long a running migration's status may go without an
// update (it writes one every second) before the console calls it stale.
const staleAfter = 10 * time.Second

func (c *Console) migration(f *fiber.Ctx) error {
	ans := migrationStatus{Configured: c.o.MigrateStatus != "", File: c.o.MigrateStatus}
	if !ans.Configured {
		return f.JSON(ans)
	}
	st, err := migrate.ReadStatus(c.o.MigrateStatus)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f.JSON(ans)
	case err != nil:
		ans.Error = err.Error()
		return f.JSON(ans)
	}
	ans.Found, ans.Status = true, &st
	if st.State == migrate.StateRunning {
		ans.Stale = c.o.Now().Sub(st.Updated) > staleAfter
		ans.Running = !ans.Stale
	}
	return f.JSON(ans)
}

// mirrorAnswer is GET /api/mirror.
type mirrorAnswer struct {
	Configured bool   `json:"configured"`
	URL        string `json:"url,omitempty"`
	Mode       string `json:"mode,omitempty"`
	// QueueDepth counts acknowledged writes waiting for the mirror;
	// OldestSeconds is how long the oldest has waited.
	QueueDepth    int               `json:"queue_depth"`
	OldestSeconds float64           `json:"oldest_seconds"`
	Applied       uint64            `json:"applied"`
	Retries       uint64            `json:"retries"`
	Dropped       uint64            `json:"dropped"`
	Compared      map[string]uint64 `json:"compared"`
	Diffs         map[string]uint64 `json:"diffs"`
	ShadowSkipped uint64            `json:"shadow_skipped"`
}

func (c *Console) mirror(f *fiber.Ctx) error {
	if c.o.Mirror == nil {
		return f.JSON(mirrorAnswer{})
	}
	st := c.o.Mirror.Stats()
	return f.JSON(mirrorAnswer{Configured: true, URL: c.o.MirrorURL, Mode: c.o.MirrorMode, QueueDepth: st.QueueDepth,
		OldestSeconds: st.QueueOldest.Seconds(), Applied: st.Applied, Retries: st.Retries, Dropped: st.Dropped,
		Compared: st.Compared, Diffs: st.Diffs, ShadowSkipped: st.ShadowSkipped})
}
