package telemetry

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Gatherer returns the registry /metrics is served from, so that the
// console shows the same numbers; nil with metrics off.
func (t *Telemetry) Gatherer() prometheus.Gatherer {
	if t.m == nil {
		return nil
	}
	return t.m.reg
}

// WriteLogLine writes rec as the access log wrote it, through h: the same
// message, fields and time (the moment its answer's headers were ready).
// rec is one of Recent's, which keep the method and path.
func WriteLogLine(h slog.Handler, rec Record) error {
	r := slog.NewRecord(rec.Start.Add(rec.Duration), slog.LevelInfo, "request", 0)
	r.AddAttrs(appendLogAttrs(nil, &rec, rec.Method, rec.Path)...)
	return h.Handle(context.Background(), r)
}
