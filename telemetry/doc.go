// Package telemetry is what an operator sees of each request: its request
// id, one access-log line through log/slog, and the Prometheus metrics.
//
// Every request gets a Record, filled as it goes (the gateway names the
// route, the key and the error kind; upstream calls report their status and
// duration) and emitted once, when the request is done, by the one hook
// that feeds both the metrics and the log. Label values are the names
// routes.yaml gives, never raw paths, and each route's label children are
// resolved once, when the route is mounted.
package telemetry
